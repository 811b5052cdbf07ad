//! The JSON bodies of the Toxiproxy 2.x HTTP API, as this server reads and writes them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A proxy as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyJson {
    /// Unique name.
    pub name: String,
    /// The address the proxy listens on (the real bound address once it has listened).
    pub listen: String,
    /// The `host:port` it forwards to.
    pub upstream: String,
    /// Whether it accepts connections.
    pub enabled: bool,
    /// Its toxics, upstream ones first.
    pub toxics: Vec<ToxicJson>,
}

/// A toxic as the API shows it (field order as Toxiproxy writes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToxicJson {
    /// Type-specific attributes.
    pub attributes: Value,
    /// Unique name within its proxy.
    pub name: String,
    /// Toxic type, e.g. `latency`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `upstream` (client to server) or `downstream` (server to client).
    pub stream: String,
    /// Probability, per connection, that the toxic applies.
    pub toxicity: f32,
}

/// The body of `GET /version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionJson {
    /// The server's version.
    pub version: String,
}

/// The body of an error answer, as Toxiproxy writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorJson {
    /// What went wrong.
    pub error: String,
    /// The HTTP status, repeated.
    pub status: u16,
}

/// The body of a `POST /populate` answer; on failure it also carries the error fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulateJson {
    /// What went wrong part-way, if anything.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorJson>,
    /// The proxies created, updated or left as they were, in request order.
    pub proxies: Vec<ProxyJson>,
}

/// Proxy fields a request may send (create, update, populate); all optional on the wire.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ProxyInput {
    pub(crate) name: Option<String>,
    pub(crate) listen: Option<String>,
    pub(crate) upstream: Option<String>,
    pub(crate) enabled: Option<bool>,
}

/// The body of `POST /populate`: Toxiproxy's bare array, or `{"proxies": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum PopulateInput {
    /// `[{...}, ...]`
    List(Vec<ProxyInput>),
    /// `{"proxies": [{...}, ...]}`
    Wrapped {
        /// The proxies.
        proxies: Vec<ProxyInput>,
    },
}

impl PopulateInput {
    /// The proxies, whichever form was sent.
    pub(crate) fn into_proxies(self) -> Vec<ProxyInput> {
        match self {
            PopulateInput::List(proxies) | PopulateInput::Wrapped { proxies } => proxies,
        }
    }
}

/// Toxic fields a create request may send.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ToxicInput {
    pub(crate) name: Option<String>,
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) stream: Option<String>,
    pub(crate) toxicity: Option<f32>,
    pub(crate) attributes: Option<Value>,
}

/// Toxic fields an update request may change (Toxiproxy ignores name, type and stream).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ToxicPatch {
    pub(crate) toxicity: Option<f32>,
    pub(crate) attributes: Option<Value>,
}
