//! One proxy's toxics: an ordered chain per direction, published to every open link.
//!
//! Each change replaces the direction's chain with a new immutable snapshot and sends it on
//! that direction's watch channel; links compare snapshots by toxic id and version, so a link
//! that missed intermediate changes still converges on the right chain for its own direction.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;
use tokio::sync::watch;

use crate::error::ApiError;
use crate::model::{ToxicInput, ToxicJson, ToxicPatch};
use crate::stream::Direction;
use crate::toxics::{self, BuildError, Toxic};

/// One toxic as configured on a proxy; immutable, replaced by a new version on update.
#[derive(Debug)]
pub(crate) struct ToxicEntry {
    /// Unique within the proxy for its whole life (a re-added name gets a new id).
    pub(crate) id: u64,
    /// Bumped on every update.
    pub(crate) version: u64,
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) direction: Direction,
    pub(crate) toxicity: f32,
    pub(crate) toxic: Arc<dyn Toxic>,
}

impl ToxicEntry {
    /// The API view.
    pub(crate) fn to_json(&self) -> ToxicJson {
        ToxicJson {
            attributes: self.toxic.attributes(),
            name: self.name.clone(),
            kind: self.kind.to_owned(),
            stream: self.direction.as_str().to_owned(),
            toxicity: self.toxicity,
        }
    }
}

/// A snapshot of one direction's chain, in order.
pub(crate) type Chain = Arc<[Arc<ToxicEntry>]>;

/// The toxics of one proxy.
pub(crate) struct ToxicCollection {
    chains: Mutex<[Vec<Arc<ToxicEntry>>; 2]>,
    watchers: [watch::Sender<Chain>; 2],
    next_id: AtomicU64,
}

impl Default for ToxicCollection {
    fn default() -> Self {
        let empty = || watch::Sender::new(Chain::from(Vec::new()));
        ToxicCollection {
            chains: Mutex::new([Vec::new(), Vec::new()]),
            watchers: [empty(), empty()],
            next_id: AtomicU64::new(1),
        }
    }
}

fn check_toxicity(toxicity: f32) -> Result<f32, ApiError> {
    if (0.0..=1.0).contains(&toxicity) {
        Ok(toxicity)
    } else {
        Err(ApiError::invalid_toxicity())
    }
}

fn build(kind: &str, attributes: &Value) -> Result<Arc<dyn Toxic>, ApiError> {
    toxics::build(kind, attributes).map_err(|err| match err {
        BuildError::UnknownType => ApiError::invalid_toxic_type(),
        BuildError::BadAttributes(detail) => ApiError::bad_body(detail),
    })
}

impl ToxicCollection {
    fn lock(&self) -> MutexGuard<'_, [Vec<Arc<ToxicEntry>>; 2]> {
        self.chains.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A receiver of one direction's chain, for a new link.
    pub(crate) fn subscribe(&self, direction: Direction) -> watch::Receiver<Chain> {
        self.watchers[direction.index()].subscribe()
    }

    fn publish(&self, chains: &[Vec<Arc<ToxicEntry>>; 2], direction: Direction) {
        let chain: Chain = chains[direction.index()].clone().into();
        self.watchers[direction.index()].send_replace(chain);
    }

    fn find(chains: &[Vec<Arc<ToxicEntry>>; 2], name: &str) -> Option<(Direction, usize)> {
        Direction::ALL.into_iter().find_map(|direction| {
            chains[direction.index()]
                .iter()
                .position(|entry| entry.name == name)
                .map(|pos| (direction, pos))
        })
    }

    /// Every toxic, upstream ones first, each direction in chain order.
    pub(crate) fn list(&self) -> Vec<ToxicJson> {
        let chains = self.lock();
        chains
            .iter()
            .flatten()
            .map(|entry| entry.to_json())
            .collect()
    }

    /// One toxic by name.
    pub(crate) fn get(&self, name: &str) -> Result<ToxicJson, ApiError> {
        let chains = self.lock();
        Self::find(&chains, name)
            .map(|(direction, pos)| chains[direction.index()][pos].to_json())
            .ok_or_else(ApiError::toxic_not_found)
    }

    /// Adds a toxic at the end of its direction's chain (defaults as in Toxiproxy).
    pub(crate) fn add(&self, input: ToxicInput) -> Result<ToxicJson, ApiError> {
        let stream = input.stream.unwrap_or_else(|| "downstream".to_owned());
        let direction = Direction::parse(&stream).ok_or_else(ApiError::invalid_stream)?;
        let requested_kind = input.kind.unwrap_or_default();
        let kind = toxics::lookup(&requested_kind).ok_or_else(ApiError::invalid_toxic_type)?;
        let toxicity = check_toxicity(input.toxicity.unwrap_or(1.0))?;
        let name = input
            .name
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| format!("{kind}_{}", direction.as_str()));
        let name = crate::api::usable_name("name", name)?;

        let mut chains = self.lock();
        if Self::find(&chains, &name).is_some() {
            return Err(ApiError::toxic_exists());
        }
        let toxic = build(kind, &input.attributes.unwrap_or(Value::Null))?;
        let entry = Arc::new(ToxicEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            version: 0,
            name,
            kind,
            direction,
            toxicity,
            toxic,
        });
        let json = entry.to_json();
        chains[direction.index()].push(entry);
        self.publish(&chains, direction);
        tracing::info!(toxic = %json.name, kind, stream = direction.as_str(), "added toxic");
        Ok(json)
    }

    /// Changes a toxic's attributes (merged into the current ones) and toxicity.
    pub(crate) fn update(&self, name: &str, patch: ToxicPatch) -> Result<ToxicJson, ApiError> {
        let mut chains = self.lock();
        let (direction, pos) = Self::find(&chains, name).ok_or_else(ApiError::toxic_not_found)?;
        let current = Arc::clone(&chains[direction.index()][pos]);
        let toxicity = check_toxicity(patch.toxicity.unwrap_or(current.toxicity))?;
        let mut attributes = current.toxic.attributes();
        match (patch.attributes, &mut attributes) {
            (None | Some(Value::Null), _) => {}
            (Some(Value::Object(changes)), Value::Object(fields)) => fields.extend(changes),
            (Some(other), _) => {
                return Err(ApiError::bad_body(format!(
                    "attributes must be an object, not {other}"
                )));
            }
        }
        let toxic = build(current.kind, &attributes)?;
        let entry = Arc::new(ToxicEntry {
            id: current.id,
            version: current.version + 1,
            name: current.name.clone(),
            kind: current.kind,
            direction,
            toxicity,
            toxic,
        });
        let json = entry.to_json();
        chains[direction.index()][pos] = entry;
        self.publish(&chains, direction);
        tracing::info!(toxic = name, "updated toxic");
        Ok(json)
    }

    /// Removes a toxic; open links drop its stage (a `timeout` closes their connection).
    pub(crate) fn remove(&self, name: &str) -> Result<(), ApiError> {
        let mut chains = self.lock();
        let (direction, pos) = Self::find(&chains, name).ok_or_else(ApiError::toxic_not_found)?;
        chains[direction.index()].remove(pos);
        self.publish(&chains, direction);
        tracing::info!(toxic = name, "removed toxic");
        Ok(())
    }

    /// Removes every toxic.
    pub(crate) fn reset(&self) {
        let mut chains = self.lock();
        for direction in Direction::ALL {
            if !chains[direction.index()].is_empty() {
                chains[direction.index()].clear();
                self.publish(&chains, direction);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use serde_json::json;

    fn input(value: Value) -> ToxicInput {
        serde_json::from_value(value).expect("toxic input")
    }

    #[test]
    fn defaults_match_toxiproxy() {
        let toxics = ToxicCollection::default();
        let json = toxics
            .add(input(
                json!({"type": "latency", "attributes": {"latency": 5}}),
            ))
            .expect("add");
        assert_eq!(json.name, "latency_downstream");
        assert_eq!(json.stream, "downstream");
        assert_eq!(json.toxicity, 1.0);
        assert_eq!(json.attributes, json!({"latency": 5, "jitter": 0}));
    }

    #[test]
    fn names_are_unique_across_directions() {
        let toxics = ToxicCollection::default();
        toxics
            .add(input(json!({"name": "x", "type": "latency"})))
            .expect("first");
        let err = toxics
            .add(input(
                json!({"name": "x", "type": "timeout", "stream": "upstream"}),
            ))
            .unwrap_err();
        assert_eq!(err.status, StatusCode::CONFLICT);
    }

    #[test]
    fn invalid_input_is_rejected_with_400() {
        let toxics = ToxicCollection::default();
        for body in [
            json!({"type": "nope"}),
            json!({}),
            json!({"type": "latency", "stream": "sideways"}),
            json!({"type": "latency", "toxicity": 1.5}),
            json!({"type": "latency", "toxicity": -0.1}),
            json!({"type": "latency", "attributes": {"latency": "x"}}),
        ] {
            let err = toxics.add(input(body.clone())).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
        }
    }

    #[test]
    fn changes_are_published_to_the_right_direction_only() {
        let toxics = ToxicCollection::default();
        let mut up = toxics.subscribe(Direction::Upstream);
        let mut down = toxics.subscribe(Direction::Downstream);
        toxics
            .add(input(json!({"type": "latency", "stream": "upstream"})))
            .expect("add");
        assert!(up.has_changed().expect("open"));
        assert!(!down.has_changed().expect("open"));
        assert_eq!(up.borrow_and_update().len(), 1);
        toxics.remove("latency_upstream").expect("remove");
        assert!(up.borrow_and_update().is_empty());
        assert!(!down.has_changed().expect("open"));
        assert!(down.borrow_and_update().is_empty());
    }

    #[test]
    fn update_merges_attributes_and_bumps_the_version() {
        let toxics = ToxicCollection::default();
        let down = toxics.subscribe(Direction::Downstream);
        toxics
            .add(input(
                json!({"type": "latency", "attributes": {"latency": 5, "jitter": 2}}),
            ))
            .expect("add");
        let json = toxics
            .update(
                "latency_downstream",
                serde_json::from_value(json!({"attributes": {"latency": 9}, "toxicity": 0.5}))
                    .expect("patch"),
            )
            .expect("update");
        assert_eq!(json.attributes, json!({"latency": 9, "jitter": 2}));
        assert_eq!(json.toxicity, 0.5);
        assert_eq!(down.borrow()[0].version, 1);
        let err = toxics.update("missing", ToxicPatch::default()).unwrap_err();
        assert_eq!(err.status, StatusCode::NOT_FOUND);
    }
}
