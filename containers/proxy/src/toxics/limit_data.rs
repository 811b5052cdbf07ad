//! `limit_data`: passes the first `bytes` bytes, then closes the connection.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Cx, Pull, Toxic, ToxicState, parse_attributes, to_attributes};
use crate::stream::{End, Item};

/// Attributes of the `limit_data` toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct LimitData {
    /// Bytes to pass before closing.
    pub(crate) bytes: u64,
}

/// Builds a `limit_data` toxic from its attributes.
pub(super) fn build(attributes: &Value) -> Result<Arc<dyn Toxic>, String> {
    Ok(Arc::new(parse_attributes::<LimitData>(attributes)?))
}

impl Toxic for LimitData {
    fn attributes(&self) -> Value {
        to_attributes(self)
    }

    fn start(&self, _cx: &mut Cx<'_>) -> Box<dyn ToxicState> {
        Box::new(LimitDataState {
            config: self.clone(),
            passed: 0,
            out: VecDeque::new(),
            out_bytes: 0,
            closed: false,
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A running `limit_data` stage; the count survives attribute updates, as in Toxiproxy.
struct LimitDataState {
    config: LimitData,
    passed: u64,
    out: VecDeque<Item>,
    out_bytes: usize,
    closed: bool,
}

impl ToxicState for LimitDataState {
    fn push(&mut self, item: Item, _cx: &mut Cx<'_>) {
        if self.closed {
            return;
        }
        match item {
            Item::Data(mut chunk) => {
                let remaining = self.config.bytes.saturating_sub(self.passed);
                let keep = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(chunk.data.len());
                chunk.data.truncate(keep);
                if keep > 0 {
                    self.passed += keep as u64;
                    self.out_bytes += keep;
                    self.out.push_back(Item::Data(chunk));
                }
                if self.passed >= self.config.bytes {
                    self.out.push_back(Item::End(End::Close));
                    self.closed = true;
                }
            }
            end @ Item::End(_) => {
                self.out.push_back(end);
                self.closed = true;
            }
        }
    }

    fn pull(&mut self, _cx: &mut Cx<'_>) -> Pull {
        match self.out.pop_front() {
            Some(item) => {
                self.out_bytes -= item.len();
                Pull::Ready(item)
            }
            None => Pull::Idle,
        }
    }

    fn update(&mut self, toxic: &dyn Toxic, _cx: &mut Cx<'_>) {
        if let Some(config) = toxic.as_any().downcast_ref::<LimitData>() {
            self.config = config.clone();
        }
    }

    fn drain(self: Box<Self>) -> Vec<Item> {
        self.out.into_iter().collect()
    }

    fn held_bytes(&self) -> usize {
        self.out_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Harness, bytes_of, ends_of};
    use super::*;
    use serde_json::json;

    #[test]
    fn passes_exactly_the_limit_then_closes() {
        let mut h = Harness::new("limit_data", json!({"bytes": 5}));
        h.push_data(0, b"abc");
        h.push_data(0, b"defg");
        h.push_data(0, b"never");
        let out = h.pull_all(0);
        assert_eq!(bytes_of(&out), b"abcde");
        assert_eq!(ends_of(&out), vec![End::Close]);
    }

    #[test]
    fn an_eof_before_the_limit_passes_through() {
        let mut h = Harness::new("limit_data", json!({"bytes": 100}));
        h.push_data(0, b"abc");
        h.push_end(0, End::Eof);
        let out = h.pull_all(0);
        assert_eq!(bytes_of(&out), b"abc");
        assert_eq!(ends_of(&out), vec![End::Eof]);
    }
}
