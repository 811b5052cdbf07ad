//! Toxics: one trait, one registry by type name, one module per toxic.
//!
//! A [`Toxic`] is a validated configuration shared by every connection of a proxy. On each
//! link (one direction of one connection) it starts a [`ToxicState`]: a stage of the link's
//! chain. Items (chunks, then an end) are pushed into a stage in order and pulled out of it
//! when due, so a stage never needs a task or a channel of its own and the link can move,
//! add or remove stages without losing or reordering data.

mod bandwidth;
mod latency;
mod limit_data;
mod queue;
mod reset_peer;
mod slicer;
mod slow_close;
mod timeout;

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::stream::Item;

pub(crate) use queue::Queue;

/// What a stage sees when it handles an item: the current time and the link's random source.
pub(crate) struct Cx<'a> {
    /// The time the link took for this round.
    pub(crate) now: Instant,
    /// The link's seeded random source (toxicity, jitter, slice sizes).
    pub(crate) rng: &'a mut SmallRng,
}

/// What a stage answers when the link asks it for its next item.
#[derive(Debug)]
pub(crate) enum Pull {
    /// This item is due now.
    Ready(Item),
    /// The next item is due at this time.
    At(Instant),
    /// Nothing is due until more input arrives (or ever).
    Idle,
}

/// A toxic's validated configuration, shared by every connection of a proxy.
pub(crate) trait Toxic: Send + Sync + fmt::Debug + 'static {
    /// The attributes as the API shows them.
    fn attributes(&self) -> Value;
    /// Starts this toxic on one link.
    fn start(&self, cx: &mut Cx<'_>) -> Box<dyn ToxicState>;
    /// Whether removing the toxic closes the connection (Toxiproxy's `timeout` does).
    fn closes_on_remove(&self) -> bool {
        false
    }
    /// Lets a running stage downcast new attributes of its own type.
    fn as_any(&self) -> &dyn Any;
}

/// A toxic running on one link: a stage that items pass through in order.
pub(crate) trait ToxicState: Send {
    /// Accepts the next item from the stage before it.
    fn push(&mut self, item: Item, cx: &mut Cx<'_>);
    /// Hands on the next item if it is due, or says when it will be.
    fn pull(&mut self, cx: &mut Cx<'_>) -> Pull;
    /// Takes new attributes of the same toxic type, keeping what the stage holds.
    fn update(&mut self, toxic: &dyn Toxic, cx: &mut Cx<'_>);
    /// Gives back, in order, every item still held (the toxic is being removed).
    fn drain(self: Box<Self>) -> Vec<Item>;
    /// Payload bytes held, for the link's back-pressure.
    fn held_bytes(&self) -> usize;
}

/// Why a toxic could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BuildError {
    /// No toxic of this type is registered.
    UnknownType,
    /// The attributes do not fit the type.
    BadAttributes(String),
}

/// Builds one toxic type from its JSON attributes.
type Build = fn(&Value) -> Result<Arc<dyn Toxic>, String>;

/// Every toxic type, by the name the API uses.
const REGISTRY: &[(&str, Build)] = &[
    ("latency", latency::build),
    ("bandwidth", bandwidth::build),
    ("slow_close", slow_close::build),
    ("timeout", timeout::build),
    ("reset_peer", reset_peer::build),
    ("slicer", slicer::build),
    ("limit_data", limit_data::build),
];

/// Looks a type name up in the registry, returning its canonical `'static` name.
pub(crate) fn lookup(type_name: &str) -> Option<&'static str> {
    REGISTRY
        .iter()
        .find(|(name, _)| *name == type_name)
        .map(|(name, _)| *name)
}

/// Builds a toxic of a registered type from its attributes (`null` means all defaults).
pub(crate) fn build(type_name: &str, attributes: &Value) -> Result<Arc<dyn Toxic>, BuildError> {
    let (_, build) = REGISTRY
        .iter()
        .find(|(name, _)| *name == type_name)
        .ok_or(BuildError::UnknownType)?;
    build(attributes).map_err(BuildError::BadAttributes)
}

/// Decodes attributes into a toxic's config; missing fields take their defaults.
fn parse_attributes<T: DeserializeOwned>(attributes: &Value) -> Result<T, String> {
    let value = match attributes {
        Value::Null => Value::Object(serde_json::Map::new()),
        other => other.clone(),
    };
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        format!("attributes.{path}: {}", err.into_inner())
    })
}

/// Serializes a toxic's config as its API attributes.
fn to_attributes<T: serde::Serialize>(config: &T) -> Value {
    serde_json::to_value(config).unwrap_or(Value::Null)
}

/// `at + duration`, or `None` (never) when that is beyond what an `Instant` can hold.
pub(crate) fn after(at: Instant, duration: Duration) -> Option<Instant> {
    at.checked_add(duration)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for driving a stage by hand in unit tests.

    use super::*;
    use crate::stream::{Chunk, End};
    use bytes::Bytes;
    use rand::SeedableRng;

    /// A stage under test with a fixed clock origin and seeded randomness.
    pub(crate) struct Harness {
        pub(crate) t0: Instant,
        pub(crate) rng: SmallRng,
        pub(crate) state: Box<dyn ToxicState>,
    }

    impl Harness {
        pub(crate) fn new(type_name: &str, attributes: Value) -> Harness {
            let toxic = build(type_name, &attributes).expect("valid toxic");
            let t0 = Instant::now();
            let mut rng = SmallRng::seed_from_u64(7);
            let state = toxic.start(&mut Cx {
                now: t0,
                rng: &mut rng,
            });
            Harness { t0, rng, state }
        }

        pub(crate) fn at(&self, ms: u64) -> Instant {
            self.t0 + Duration::from_millis(ms)
        }

        pub(crate) fn push_data(&mut self, ms: u64, data: &'static [u8]) {
            let now = self.at(ms);
            let chunk = Chunk {
                data: Bytes::from_static(data),
                at: now,
            };
            self.state.push(
                Item::Data(chunk),
                &mut Cx {
                    now,
                    rng: &mut self.rng,
                },
            );
        }

        pub(crate) fn push_end(&mut self, ms: u64, end: End) {
            let now = self.at(ms);
            self.state.push(
                Item::End(end),
                &mut Cx {
                    now,
                    rng: &mut self.rng,
                },
            );
        }

        pub(crate) fn pull_at(&mut self, now: Instant) -> Pull {
            self.state.pull(&mut Cx {
                now,
                rng: &mut self.rng,
            })
        }

        pub(crate) fn pull(&mut self, ms: u64) -> Pull {
            self.pull_at(self.at(ms))
        }

        /// Pulls everything due at `ms` as (bytes or end marker).
        pub(crate) fn pull_all(&mut self, ms: u64) -> Vec<Item> {
            let mut out = Vec::new();
            while let Pull::Ready(item) = self.pull(ms) {
                out.push(item);
            }
            out
        }
    }

    pub(crate) fn bytes_of(items: &[Item]) -> Vec<u8> {
        items
            .iter()
            .filter_map(|item| match item {
                Item::Data(chunk) => Some(chunk.data.to_vec()),
                Item::End(_) => None,
            })
            .flatten()
            .collect()
    }

    pub(crate) fn ends_of(items: &[Item]) -> Vec<End> {
        items
            .iter()
            .filter_map(|item| match item {
                Item::End(end) => Some(*end),
                Item::Data(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registry_knows_every_toxiproxy_type() {
        for name in [
            "latency",
            "bandwidth",
            "slow_close",
            "timeout",
            "reset_peer",
            "slicer",
            "limit_data",
        ] {
            assert_eq!(lookup(name), Some(name));
            // Every type builds from its defaults but bandwidth, whose default rate (0) would
            // stall the link instead of capping it.
            let built = build(name, &Value::Null);
            assert_eq!(built.is_ok(), name != "bandwidth", "{name} with defaults");
        }
        assert_eq!(lookup("noop"), None);
        assert_eq!(
            build("nope", &Value::Null).unwrap_err(),
            BuildError::UnknownType
        );
    }

    #[test]
    fn bad_attributes_are_rejected() {
        for (name, attributes) in [
            ("latency", json!({"latency": "slow"})),
            ("latency", json!({"latency": -5})),
            ("bandwidth", json!({"rate": 1.5})),
            ("slicer", json!({"average_size": [1]})),
            ("limit_data", json!(7)),
        ] {
            assert!(
                matches!(build(name, &attributes), Err(BuildError::BadAttributes(_))),
                "{name} {attributes}"
            );
        }
    }

    #[test]
    fn attributes_round_trip_with_defaults() {
        let toxic = build("latency", &json!({"latency": 10})).expect("latency");
        assert_eq!(toxic.attributes(), json!({"latency": 10, "jitter": 0}));
        let toxic = build("slicer", &json!({})).expect("slicer");
        assert_eq!(
            toxic.attributes(),
            json!({"average_size": 0, "size_variation": 0, "delay": 0})
        );
    }
}
