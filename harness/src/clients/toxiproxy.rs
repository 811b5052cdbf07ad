//! A typed async client for the Toxiproxy HTTP API.
//!
//! It speaks to the harness's own proxy (`clawchaos-proxy`) and, unchanged, to a real
//! Toxiproxy server (set `TOXIPROXY_URL`). Every call checks the HTTP status it gets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ClientError, decode, send};

/// A proxy as the API describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proxy {
    /// Unique name.
    pub name: String,
    /// Listen address (`host:port`); the server reports the real port when `:0` was asked.
    pub listen: String,
    /// Upstream address (`host:port`).
    pub upstream: String,
    /// Whether it accepts connections.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Its toxics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub toxics: Vec<Toxic>,
}

fn yes() -> bool {
    true
}

/// A toxic as the API describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Toxic {
    /// Unique name within its proxy.
    pub name: String,
    /// The toxic type: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data.
    #[serde(rename = "type")]
    pub kind: String,
    /// `upstream` or `downstream`.
    pub stream: String,
    /// Probability per connection, 0..=1.
    pub toxicity: f64,
    /// Type-specific attributes.
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// Fields to change on a proxy; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProxyUpdate {
    /// New listen address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// New upstream address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// Enable or disable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Deserialize)]
struct Version {
    version: String,
}

#[derive(Serialize, Deserialize)]
struct Populated {
    proxies: Vec<Proxy>,
}

/// A client for one Toxiproxy API endpoint.
#[derive(Debug, Clone)]
pub struct ToxiproxyClient {
    base: String,
    http: reqwest::Client,
}

impl ToxiproxyClient {
    /// A client for the API at `base_url`, e.g. `http://127.0.0.1:8474`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base: base_url.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// A client for `TOXIPROXY_URL`, if it is set.
    pub fn from_env() -> Option<Self> {
        std::env::var("TOXIPROXY_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .map(Self::new)
    }

    /// The API's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /version`: the server's version string.
    pub async fn version(&self) -> Result<String, ClientError> {
        let url = self.url("/version");
        let body = send("version", self.http.get(&url), &[200]).await?;
        // Toxiproxy before 2.6 answered plain text; later versions answer JSON.
        match serde_json::from_slice::<Version>(&body) {
            Ok(v) => Ok(v.version),
            Err(_) => Ok(String::from_utf8_lossy(&body).trim().to_string()),
        }
    }

    /// `GET /proxies`.
    pub async fn proxies(&self) -> Result<BTreeMap<String, Proxy>, ClientError> {
        let url = self.url("/proxies");
        let body = send("list proxies", self.http.get(&url), &[200]).await?;
        decode("list proxies", &url, &body)
    }

    /// `POST /proxies`: creates a proxy (201).
    pub async fn create_proxy(
        &self,
        name: &str,
        listen: &str,
        upstream: &str,
    ) -> Result<Proxy, ClientError> {
        let url = self.url("/proxies");
        let what = format!("create proxy {name}");
        let body = serde_json::json!({"name": name, "listen": listen, "upstream": upstream, "enabled": true});
        let body = send(&what, self.http.post(&url).json(&body), &[201]).await?;
        decode(&what, &url, &body)
    }

    /// `GET /proxies/{name}`.
    pub async fn proxy(&self, name: &str) -> Result<Proxy, ClientError> {
        let url = self.url(&format!("/proxies/{name}"));
        let what = format!("get proxy {name}");
        let body = send(&what, self.http.get(&url), &[200]).await?;
        decode(&what, &url, &body)
    }

    /// `POST /proxies/{name}`: changes listen, upstream or enabled.
    pub async fn update_proxy(
        &self,
        name: &str,
        update: &ProxyUpdate,
    ) -> Result<Proxy, ClientError> {
        let url = self.url(&format!("/proxies/{name}"));
        let what = format!("update proxy {name}");
        let body = send(&what, self.http.post(&url).json(update), &[200]).await?;
        decode(&what, &url, &body)
    }

    /// Enables or disables a proxy (disabled: connection refused, open connections closed).
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<Proxy, ClientError> {
        self.update_proxy(
            name,
            &ProxyUpdate {
                enabled: Some(enabled),
                ..ProxyUpdate::default()
            },
        )
        .await
    }

    /// `DELETE /proxies/{name}` (204).
    pub async fn delete_proxy(&self, name: &str) -> Result<(), ClientError> {
        let url = self.url(&format!("/proxies/{name}"));
        send(
            &format!("delete proxy {name}"),
            self.http.delete(&url),
            &[204],
        )
        .await?;
        Ok(())
    }

    /// `POST /populate`: creates or replaces the given proxies.
    pub async fn populate(&self, proxies: &[Proxy]) -> Result<Vec<Proxy>, ClientError> {
        let url = self.url("/populate");
        let body = Populated {
            proxies: proxies.to_vec(),
        };
        let body = send("populate", self.http.post(&url).json(&body), &[200, 201]).await?;
        let populated: Populated = decode("populate", &url, &body)?;
        Ok(populated.proxies)
    }

    /// `POST /reset`: removes every toxic and re-enables every proxy.
    pub async fn reset(&self) -> Result<(), ClientError> {
        let url = self.url("/reset");
        send("reset", self.http.post(&url), &[204]).await?;
        Ok(())
    }

    /// `GET /proxies/{name}/toxics`.
    pub async fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>, ClientError> {
        let url = self.url(&format!("/proxies/{proxy}/toxics"));
        let what = format!("list toxics of {proxy}");
        let body = send(&what, self.http.get(&url), &[200]).await?;
        decode(&what, &url, &body)
    }

    /// `POST /proxies/{name}/toxics`: adds a toxic.
    pub async fn add_toxic(&self, proxy: &str, toxic: &Toxic) -> Result<Toxic, ClientError> {
        let url = self.url(&format!("/proxies/{proxy}/toxics"));
        let what = format!("add toxic {} to {proxy}", toxic.name);
        let body = send(&what, self.http.post(&url).json(toxic), &[200, 201]).await?;
        decode(&what, &url, &body)
    }

    /// `PATCH /proxies/{name}/toxics/{toxic}`: changes a toxic's toxicity or attributes.
    pub async fn update_toxic(
        &self,
        proxy: &str,
        name: &str,
        toxicity: Option<f64>,
        attributes: BTreeMap<String, serde_json::Value>,
    ) -> Result<Toxic, ClientError> {
        let url = self.url(&format!("/proxies/{proxy}/toxics/{name}"));
        let what = format!("update toxic {name} on {proxy}");
        let mut body = serde_json::json!({ "attributes": attributes });
        if let Some(t) = toxicity {
            body["toxicity"] = serde_json::json!(t);
        }
        let body = send(&what, self.http.patch(&url).json(&body), &[200]).await?;
        decode(&what, &url, &body)
    }

    /// `GET /proxies/{name}/toxics/{toxic}`.
    pub async fn toxic(&self, proxy: &str, name: &str) -> Result<Toxic, ClientError> {
        let url = self.url(&format!("/proxies/{proxy}/toxics/{name}"));
        let what = format!("get toxic {name} of {proxy}");
        let body = send(&what, self.http.get(&url), &[200]).await?;
        decode(&what, &url, &body)
    }

    /// `DELETE /proxies/{name}/toxics/{toxic}` (204).
    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<(), ClientError> {
        let url = self.url(&format!("/proxies/{proxy}/toxics/{name}"));
        send(
            &format!("remove toxic {name} from {proxy}"),
            self.http.delete(&url),
            &[204],
        )
        .await?;
        Ok(())
    }
}
