//! Conformance of `clawchaos-proxy` with Toxiproxy 2.x: every endpoint and status code over raw
//! HTTP, and every toxic in both directions over real loopback sockets.
//!
//! Timing assertions are deliberately loose (the suite runs on a busy 2-core machine): each one
//! only separates "delayed by the toxic" from "not delayed", with a wide gap between the two.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clawchaos_proxy::{ProxyServer, ProxyServerConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Fails the test if `future` takes longer than `secs` seconds.
async fn within<T>(secs: u64, what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {secs}s: {what}"),
    }
}

/// A raw HTTP client for one server.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(server: &ProxyServer) -> Api {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("http client");
        Api {
            base: server.url(),
            http,
        }
    }

    /// Sends a request; returns the status and the body as JSON (`Null` when empty).
    async fn call(&self, method: Method, path: &str, body: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = within(10, path, request.send())
            .await
            .expect("http request");
        let status = response.status();
        let text = response.text().await.expect("response body");
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
        };
        (status, value)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(&body.to_string())).await
    }

    async fn post_raw(&self, path: &str, body: &str) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(&body.to_string()))
            .await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates an enabled proxy on a free loopback port; returns its real listen address.
    async fn create_proxy(&self, name: &str, upstream: SocketAddr) -> SocketAddr {
        let (status, body) = self
            .post(
                "/proxies",
                json!({"name": name, "listen": "127.0.0.1:0", "upstream": upstream.to_string()}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        listen_of(&body)
    }

    /// Adds a toxic, asserting Toxiproxy's 200.
    async fn add_toxic(&self, proxy: &str, toxic: Value) -> Value {
        let (status, body) = self.post(&format!("/proxies/{proxy}/toxics"), toxic).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn remove_toxic(&self, proxy: &str, toxic: &str) {
        let (status, body) = self
            .delete(&format!("/proxies/{proxy}/toxics/{toxic}"))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
}

fn listen_of(proxy: &Value) -> SocketAddr {
    proxy["listen"]
        .as_str()
        .and_then(|listen| listen.parse().ok())
        .unwrap_or_else(|| panic!("no listen address in {proxy}"))
}

async fn start_server() -> (ProxyServer, Api) {
    let server = ProxyServer::start(ProxyServerConfig {
        api_addr: "127.0.0.1:0".parse().expect("addr"),
        seed: Some(1),
    })
    .await
    .expect("proxy server starts");
    let api = Api::new(&server);
    (server, api)
}

/// An upstream whose connections the test drives by hand.
struct Upstream {
    listener: TcpListener,
}

impl Upstream {
    async fn bind() -> Upstream {
        Upstream {
            listener: TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind upstream"),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("upstream addr")
    }

    async fn accept(&self) -> TcpStream {
        let (stream, _) = within(5, "upstream accept", self.listener.accept())
            .await
            .expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        stream
    }
}

/// Connects a client through the proxy; returns (client side, server side).
async fn pair(proxy: SocketAddr, upstream: &Upstream) -> (TcpStream, TcpStream) {
    let client = within(5, "connect to proxy", TcpStream::connect(proxy))
        .await
        .expect("connect to proxy");
    client.set_nodelay(true).expect("nodelay");
    let server = upstream.accept().await;
    (client, server)
}

/// Spawns an echo server (echoes until EOF, then shuts down its write side).
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
    let addr = listener.local_addr().expect("echo addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = socket.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
                let _ = write.shutdown().await;
            });
        }
    });
    addr
}

/// Writes `data` on `from` and times how long until all of it is read on `to`.
async fn one_way(from: &mut TcpStream, to: &mut TcpStream, data: &[u8]) -> Duration {
    let start = Instant::now();
    from.write_all(data).await.expect("write");
    let mut buf = vec![0; data.len()];
    within(10, "one-way read", to.read_exact(&mut buf))
        .await
        .expect("read");
    assert_eq!(buf, data);
    start.elapsed()
}

/// Reads whatever arrives within `wait`; `None` if nothing did.
async fn read_within(stream: &mut TcpStream, wait: Duration) -> Option<std::io::Result<Vec<u8>>> {
    let mut buf = vec![0; 64 * 1024];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Err(_) => None,
        Ok(Ok(n)) => Some(Ok(buf[..n].to_vec())),
        Ok(Err(err)) => Some(Err(err)),
    }
}

/// Reads until EOF or an error; returns the bytes and whether it ended cleanly.
async fn read_until_closed(stream: &mut TcpStream, secs: u64) -> (Vec<u8>, std::io::Result<()>) {
    let mut all = Vec::new();
    let result = within(secs, "connection closes", async {
        let mut buf = vec![0; 64 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(err) => return Err(err),
            }
        }
    })
    .await;
    (all, result)
}

const SHORT: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------------------------------------
// HTTP API
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_is_json() {
    let (server, api) = start_server().await;
    let response = api
        .http
        .get(format!("{}/version", api.base))
        .send()
        .await
        .expect("GET /version");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.expect("json");
    let version = body["version"].as_str().expect("version string");
    assert!(version.starts_with("2."), "{version}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_endpoints_and_status_codes() {
    let (server, api) = start_server().await;
    let upstream = echo_server().await;

    // Create: 201 with the real bound address.
    let (status, created) = api
        .post(
            "/proxies",
            json!({"name": "db", "listen": "127.0.0.1:0", "upstream": upstream.to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "db");
    assert_eq!(created["upstream"], upstream.to_string());
    assert_eq!(created["enabled"], true);
    assert_eq!(created["toxics"], json!([]));
    let listen = listen_of(&created);
    assert_ne!(listen.port(), 0, "listen reports the bound port");

    // Duplicate name: 409; missing fields and bad bodies: 400.
    let (status, body) = api
        .post(
            "/proxies",
            json!({"name": "db", "upstream": upstream.to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["status"], 409);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("already exists"))
    );
    let (status, body) = api
        .post("/proxies", json!({"upstream": upstream.to_string()}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["status"], 400);
    let (status, _) = api.post("/proxies", json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api.post_raw("/proxies", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api.post_raw("/proxies", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api
        .post("/proxies", json!({"name": 5, "upstream": "x:1"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Read: 200 map and 200 object; unknown: 404 with Toxiproxy's error body.
    let (status, all) = api.get("/proxies").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["db"], created);
    let (status, shown) = api.get("/proxies/db").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, created);
    let (status, body) = api.get("/proxies/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "proxy not found", "status": 404}));
    let (status, _) = api.patch("/proxies/nope", json!({"enabled": false})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.post_raw("/proxies/db", "[").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The proxy works.
    let mut client = TcpStream::connect(listen).await.expect("connect");
    client.write_all(b"hi").await.expect("write");
    let mut buf = [0; 2];
    within(5, "echo", client.read_exact(&mut buf))
        .await
        .expect("echo");
    assert_eq!(&buf, b"hi");

    // Update with PATCH and with (deprecated) POST: 200.
    let (status, body) = api.patch("/proxies/db", json!({"enabled": false})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["enabled"], false);
    let (status, body) = api.post("/proxies/db", json!({"enabled": true})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["enabled"], true);
    assert_eq!(listen_of(&body), listen, "re-enabled on the same address");

    // Delete: 204, then 404.
    let (status, body) = api.delete("/proxies/db").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, _) = api.delete("/proxies/db").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.get("/proxies/db").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        TcpStream::connect(listen).await.is_err(),
        "a deleted proxy no longer listens"
    );
    let (_, all) = api.get("/proxies").await;
    assert_eq!(all, json!({}));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxic_endpoints_and_status_codes() {
    let (server, api) = start_server().await;
    let upstream = echo_server().await;
    api.create_proxy("svc", upstream).await;
    api.create_proxy("other", upstream).await;

    // Create with defaults: 200, name <type>_<stream>, downstream, toxicity 1.
    let toxic = api
        .add_toxic(
            "svc",
            json!({"type": "latency", "attributes": {"latency": 10}}),
        )
        .await;
    assert_eq!(
        toxic,
        json!({"attributes": {"latency": 10, "jitter": 0}, "name": "latency_downstream",
               "type": "latency", "stream": "downstream", "toxicity": 1.0})
    );
    let up = api
        .add_toxic(
            "svc",
            json!({"name": "slow_up", "type": "bandwidth", "stream": "upstream", "toxicity": 0.5,
                   "attributes": {"rate": 100}}),
        )
        .await;
    assert_eq!(up["stream"], "upstream");
    assert_eq!(up["toxicity"], 0.5);

    // List: upstream toxics first; the proxy shows them too.
    let (status, list) = api.get("/proxies/svc/toxics").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["slow_up", "latency_downstream"]);
    let (_, proxy) = api.get("/proxies/svc").await;
    assert_eq!(proxy["toxics"], list);

    // Show and update (PATCH and POST); attributes merge, toxicity changes.
    let (status, shown) = api.get("/proxies/svc/toxics/latency_downstream").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, toxic);
    let (status, updated) = api
        .patch(
            "/proxies/svc/toxics/latency_downstream",
            json!({"attributes": {"jitter": 3}, "toxicity": 0.25}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["attributes"], json!({"latency": 10, "jitter": 3}));
    assert_eq!(updated["toxicity"], 0.25);
    let (status, _) = api
        .post(
            "/proxies/svc/toxics/slow_up",
            json!({"attributes": {"rate": 7}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, shown) = api.get("/proxies/svc/toxics/slow_up").await;
    assert_eq!(shown["attributes"]["rate"], 7);

    // 409: the same name again, in either direction; another proxy may reuse it.
    let (status, body) = api
        .post(
            "/proxies/svc/toxics",
            json!({"name": "slow_up", "type": "latency", "stream": "downstream"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["status"], 409);
    let (status, _) = api
        .post("/proxies/svc/toxics", json!({"type": "latency"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    api.add_toxic("other", json!({"name": "slow_up", "type": "latency"}))
        .await;

    // 400: unknown type, bad stream, toxicity outside 0..1, bad attributes, bad body.
    for bad in [
        json!({"type": "earthquake"}),
        json!({"name": "t"}),
        json!({"type": "latency", "name": "a", "stream": "sideways"}),
        json!({"type": "latency", "name": "b", "toxicity": 1.5}),
        json!({"type": "latency", "name": "c", "toxicity": -0.5}),
        json!({"type": "latency", "name": "d", "attributes": {"latency": "long"}}),
        json!({"type": "latency", "name": "e", "attributes": {"latency": -1}}),
        json!({"type": "slicer", "name": "f", "attributes": 12}),
    ] {
        let (status, body) = api.post("/proxies/svc/toxics", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {body}");
        assert_eq!(body["status"], 400, "{body}");
    }
    let (status, _) = api.post_raw("/proxies/svc/toxics", "nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api
        .patch("/proxies/svc/toxics/slow_up", json!({"toxicity": 2}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api
        .patch(
            "/proxies/svc/toxics/slow_up",
            json!({"attributes": {"rate": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // 404: unknown proxy or toxic, on every toxic route.
    let (status, _) = api.get("/proxies/nope/toxics").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .post("/proxies/nope/toxics", json!({"type": "latency"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = api.get("/proxies/svc/toxics/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "toxic not found", "status": 404}));
    let (status, _) = api.patch("/proxies/svc/toxics/nope", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.delete("/proxies/svc/toxics/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.delete("/proxies/nope/toxics/slow_up").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Delete: 204, then gone; the name is free again.
    api.remove_toxic("svc", "slow_up").await;
    let (status, _) = api.get("/proxies/svc/toxics/slow_up").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    api.add_toxic("svc", json!({"name": "slow_up", "type": "timeout"}))
        .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_are_refused() {
    let (server, api) = start_server().await;
    let response = api
        .http
        .get(format!("{}/proxies", api.base))
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64)")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn populate_creates_updates_and_validates() {
    let (server, api) = start_server().await;
    let first = echo_server().await;
    let second = echo_server().await;

    // Toxiproxy's bare array.
    let (status, body) = api
        .post(
            "/populate",
            json!([
                {"name": "a", "listen": "127.0.0.1:0", "upstream": first.to_string()},
                {"name": "b", "listen": "127.0.0.1:0", "upstream": first.to_string(), "enabled": false}
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let proxies = body["proxies"].as_array().expect("proxies array");
    assert_eq!(proxies.len(), 2);
    assert_eq!(proxies[0]["name"], "a");
    assert_eq!(proxies[0]["enabled"], true);
    assert_eq!(proxies[1]["enabled"], false);
    let a_listen = listen_of(&proxies[0]);
    api.add_toxic("a", json!({"type": "latency"})).await;

    // The wrapped form: "a" unchanged keeps its listener and toxics, "b" changes upstream.
    let (status, body) = api
        .post(
            "/populate",
            json!({"proxies": [
                {"name": "a", "listen": a_listen.to_string(), "upstream": first.to_string()},
                {"name": "b", "listen": "127.0.0.1:0", "upstream": second.to_string()},
                {"name": "c", "upstream": second.to_string()}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let proxies = body["proxies"].as_array().expect("proxies array");
    assert_eq!(proxies.len(), 3);
    assert_eq!(listen_of(&proxies[0]), a_listen);
    assert_eq!(proxies[0]["toxics"].as_array().map(Vec::len), Some(1));
    assert_eq!(proxies[1]["upstream"], second.to_string());
    assert_eq!(proxies[1]["enabled"], true);
    assert_eq!(proxies[2]["name"], "c");
    let (_, all) = api.get("/proxies").await;
    assert_eq!(all.as_object().map(|m| m.len()), Some(3));

    // Validation happens before anything is created.
    let (status, body) = api
        .post(
            "/populate",
            json!([{"name": "d", "upstream": "127.0.0.1:1"}, {"name": "e"}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = api.get("/proxies/d").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.post_raw("/populate", "{\"proxies\": 3}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A proxy whose address is taken: 409 (Toxiproxy answers 500), with the proxies handled
    // before it.
    let taken = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let taken_addr = taken.local_addr().expect("addr");
    let (status, body) = api
        .post(
            "/populate",
            json!([
                {"name": "f", "listen": "127.0.0.1:0", "upstream": first.to_string()},
                {"name": "g", "listen": taken_addr.to_string(), "upstream": first.to_string()}
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["status"], 409);
    assert!(body["error"].is_string(), "{body}");
    let names: Vec<&str> = body["proxies"]
        .as_array()
        .expect("proxies array")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["f"]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_removes_toxics_and_reenables_proxies() {
    let (server, api) = start_server().await;
    let upstream = echo_server().await;
    let listen = api.create_proxy("r", upstream).await;
    api.add_toxic(
        "r",
        json!({"type": "timeout", "attributes": {"timeout": 0}}),
    )
    .await;
    api.add_toxic("r", json!({"type": "latency", "stream": "upstream"}))
        .await;
    let (status, _) = api.patch("/proxies/r", json!({"enabled": false})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(TcpStream::connect(listen).await.is_err(), "disabled");

    let (status, body) = api.post_raw("/reset", "").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, proxy) = api.get("/proxies/r").await;
    assert_eq!(proxy["enabled"], true);
    assert_eq!(proxy["toxics"], json!([]));
    assert_eq!(listen_of(&proxy), listen);

    let mut client = TcpStream::connect(listen).await.expect("re-enabled");
    client.write_all(b"back").await.expect("write");
    let mut buf = [0; 4];
    within(5, "echo after reset", client.read_exact(&mut buf))
        .await
        .expect("echo");
    assert_eq!(&buf, b"back");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_upstream_and_listen_redirects_new_connections() {
    let (server, api) = start_server().await;
    let old = Upstream::bind().await;
    let new = Upstream::bind().await;
    let listen = api.create_proxy("u", old.addr()).await;

    let (status, body) = api
        .patch("/proxies/u", json!({"upstream": new.addr().to_string()}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        listen_of(&body),
        listen,
        "same listen address after restart"
    );
    let (mut client, mut server_side) = pair(listen, &new).await;
    one_way(&mut client, &mut server_side, b"to the new upstream").await;

    let (status, body) = api
        .patch("/proxies/u", json!({"listen": "127.0.0.1:0"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let moved = listen_of(&body);
    assert_ne!(moved, listen);
    assert!(
        TcpStream::connect(listen).await.is_err(),
        "old address closed"
    );
    let (mut client, mut server_side) = pair(moved, &new).await;
    one_way(&mut client, &mut server_side, b"moved").await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Connections and toxics
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_closes_listener_and_open_connections() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("d", upstream.addr()).await;
    let (mut client, mut server_side) = pair(listen, &upstream).await;
    one_way(&mut client, &mut server_side, b"alive").await;

    let (status, body) = api.patch("/proxies/d", json!({"enabled": false})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (data, _) = read_until_closed(&mut client, 5).await;
    assert!(data.is_empty());
    let (data, _) = read_until_closed(&mut server_side, 5).await;
    assert!(data.is_empty());
    assert!(TcpStream::connect(listen).await.is_err(), "listener closed");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_passes_through() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("h", upstream.addr()).await;
    let (mut client, mut server_side) = pair(listen, &upstream).await;

    client.write_all(b"request").await.expect("write");
    client.shutdown().await.expect("client half-close");
    // The server sees the request, then EOF, and can still answer.
    let (request, result) = read_until_closed(&mut server_side, 5).await;
    result.expect("clean EOF at the server");
    assert_eq!(request, b"request");
    server_side
        .write_all(b"reply after your EOF")
        .await
        .expect("server writes after EOF");
    server_side.shutdown().await.expect("server closes");
    let (reply, result) = read_until_closed(&mut client, 5).await;
    result.expect("clean EOF at the client");
    assert_eq!(reply, b"reply after your EOF");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_applies_per_direction() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("l", upstream.addr()).await;
    api.add_toxic(
        "l",
        json!({"name": "down", "type": "latency", "attributes": {"latency": 300, "jitter": 20}}),
    )
    .await;
    api.add_toxic(
        "l",
        json!({"name": "up", "type": "latency", "stream": "upstream", "attributes": {"latency": 600}}),
    )
    .await;
    let (mut client, mut server_side) = pair(listen, &upstream).await;
    let up = one_way(&mut client, &mut server_side, b"ping").await;
    let down = one_way(&mut server_side, &mut client, b"pong").await;
    assert!(
        up >= Duration::from_millis(590) && up < Duration::from_millis(1500),
        "{up:?}"
    );
    assert!(
        down >= Duration::from_millis(275) && down < Duration::from_millis(550),
        "{down:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_pipelined() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("p", upstream.addr()).await;
    api.add_toxic(
        "p",
        json!({"type": "latency", "attributes": {"latency": 10}}),
    )
    .await;
    let (mut client, mut server_side) = pair(listen, &upstream).await;

    const TOTAL: usize = 16 * 1024 * 1024;
    // Taken before the writer starts: a chunk sent before `start` could otherwise arrive
    // "early" (seen in CI: 8.7 ms after a `start` taken once the writer was already writing).
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        let block = vec![0x5a; 64 * 1024];
        for _ in 0..TOTAL / block.len() {
            server_side.write_all(&block).await.expect("write");
        }
        server_side
    });
    let mut buf = vec![0; 64 * 1024];
    let mut received = 0;
    let mut first_byte = None;
    within(30, "pipelined transfer", async {
        while received < TOTAL {
            let n = client.read(&mut buf).await.expect("read");
            assert!(n > 0, "early EOF");
            first_byte.get_or_insert_with(|| start.elapsed());
            received += n;
        }
    })
    .await;
    let elapsed = start.elapsed();
    let _server_side = writer.await.expect("writer");
    let first_byte = first_byte.unwrap_or_default();
    assert!(
        first_byte >= Duration::from_millis(9),
        "first byte after {first_byte:?}"
    );
    // One chunk per round trip would cap this at 64 KiB / 10 ms = 6.4 MiB/s.
    let mib_per_s = TOTAL as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64();
    assert!(
        mib_per_s > 20.0,
        "{mib_per_s:.1} MiB/s through a 10 ms latency toxic"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxic_changes_on_an_open_connection_hit_the_right_direction() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("seq", upstream.addr()).await;
    let (mut client, mut server_side) = pair(listen, &upstream).await;
    let delayed = Duration::from_millis(290);
    let prompt = Duration::from_millis(150);
    let latency = |stream: &str| json!({"name": "lat", "type": "latency", "stream": stream, "attributes": {"latency": 300}});

    // (toxic to add or None, expect upstream delayed, expect downstream delayed)
    let steps = [
        (Some("downstream"), false, true),
        (None, false, false),
        (Some("upstream"), true, false),
        (None, false, false),
        (Some("downstream"), false, true),
    ];
    for (round, (add, up_delayed, down_delayed)) in steps.into_iter().enumerate() {
        match add {
            Some(stream) => {
                api.add_toxic("seq", latency(stream)).await;
            }
            None => api.remove_toxic("seq", "lat").await,
        }
        let up = one_way(
            &mut client,
            &mut server_side,
            format!("up{round}").as_bytes(),
        )
        .await;
        let down = one_way(
            &mut server_side,
            &mut client,
            format!("down{round}").as_bytes(),
        )
        .await;
        let check = |took: Duration, slow: bool| if slow { took >= delayed } else { took < prompt };
        assert!(
            check(up, up_delayed) && check(down, down_delayed),
            "round {round} ({add:?}): upstream {up:?}, downstream {down:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_toxic_neither_loses_nor_reorders_data() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("keep", upstream.addr()).await;
    let (mut client, mut server_side) = pair(listen, &upstream).await;
    api.add_toxic(
        "keep",
        json!({"type": "latency", "attributes": {"latency": 30000}}),
    )
    .await;
    server_side.write_all(b"held-1,").await.expect("write");
    server_side.write_all(b"held-2,").await.expect("write");
    assert!(
        read_within(&mut client, SHORT).await.is_none(),
        "latency holds"
    );
    let removed_at = Instant::now();
    api.remove_toxic("keep", "latency_downstream").await;
    server_side.write_all(b"after").await.expect("write");
    let mut buf = vec![0; 19];
    within(5, "flushed data", client.read_exact(&mut buf))
        .await
        .expect("read");
    assert_eq!(buf, b"held-1,held-2,after");
    assert!(removed_at.elapsed() < Duration::from_secs(2));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_timeout_toxic_closes_the_connection() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("t", upstream.addr()).await;
    let (mut client, mut server_side) = pair(listen, &upstream).await;
    one_way(&mut client, &mut server_side, b"before").await;
    api.add_toxic(
        "t",
        json!({"type": "timeout", "attributes": {"timeout": 0}}),
    )
    .await;
    server_side.write_all(b"swallowed").await.expect("write");
    assert!(
        read_within(&mut client, SHORT).await.is_none(),
        "blackholed"
    );

    api.remove_toxic("t", "timeout_downstream").await;
    let (data, _) = read_until_closed(&mut client, 5).await;
    assert!(data.is_empty(), "the timeout dropped the data: {data:?}");
    let (data, _) = read_until_closed(&mut server_side, 5).await;
    assert!(data.is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_zero_is_a_one_way_blackhole_downstream() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("bh", upstream.addr()).await;
    api.add_toxic(
        "bh",
        json!({"type": "timeout", "stream": "downstream", "attributes": {"timeout": 0}}),
    )
    .await;
    let (mut client, mut server_side) = pair(listen, &upstream).await;
    one_way(&mut client, &mut server_side, b"client bytes arrive").await;
    server_side
        .write_all(b"server bytes vanish")
        .await
        .expect("write");
    assert!(read_within(&mut client, SHORT).await.is_none());
    one_way(&mut client, &mut server_side, b"still open").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_zero_is_a_one_way_blackhole_upstream() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("bh", upstream.addr()).await;
    api.add_toxic(
        "bh",
        json!({"type": "timeout", "stream": "upstream", "attributes": {"timeout": 0}}),
    )
    .await;
    let (mut client, mut server_side) = pair(listen, &upstream).await;
    client
        .write_all(b"client bytes vanish")
        .await
        .expect("write");
    assert!(read_within(&mut server_side, SHORT).await.is_none());
    one_way(&mut server_side, &mut client, b"server bytes arrive").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_closes_after_its_delay_in_both_directions() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("to", upstream.addr()).await;
    for stream in ["downstream", "upstream"] {
        let name = format!("timeout_{stream}");
        api.add_toxic(
            "to",
            json!({"type": "timeout", "stream": stream, "attributes": {"timeout": 250}}),
        )
        .await;
        let (mut client, mut server_side) = pair(listen, &upstream).await;
        let start = Instant::now();
        if stream == "downstream" {
            server_side.write_all(b"lost").await.expect("write");
        } else {
            client.write_all(b"lost").await.expect("write");
        }
        let (to_client, _) = read_until_closed(&mut client, 5).await;
        let closed_after = start.elapsed();
        let (to_server, _) = read_until_closed(&mut server_side, 5).await;
        assert!(
            closed_after >= Duration::from_millis(200),
            "{stream}: {closed_after:?}"
        );
        assert!(
            to_client.is_empty() && to_server.is_empty(),
            "{stream}: data dropped"
        );
        api.remove_toxic("to", &name).await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_limits_each_direction() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("bw", upstream.addr()).await;
    let payload = vec![0xab; 50_000];
    for stream in ["downstream", "upstream"] {
        // 250 KB/s: 50 KB take 200 ms.
        api.add_toxic(
            "bw",
            json!({"name": "bw", "type": "bandwidth", "stream": stream, "attributes": {"rate": 250}}),
        )
        .await;
        let (mut client, mut server_side) = pair(listen, &upstream).await;
        let up = one_way(&mut client, &mut server_side, &payload).await;
        let down = one_way(&mut server_side, &mut client, &payload).await;
        let (limited, free) = if stream == "downstream" {
            (down, up)
        } else {
            (up, down)
        };
        assert!(
            limited >= Duration::from_millis(180),
            "{stream} limited: {limited:?}"
        );
        assert!(
            free < Duration::from_millis(120),
            "{stream} other direction: {free:?}"
        );
        api.remove_toxic("bw", "bw").await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_close_delays_the_close_in_each_direction() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("sc", upstream.addr()).await;
    for stream in ["downstream", "upstream"] {
        api.add_toxic(
            "sc",
            json!({"name": "sc", "type": "slow_close", "stream": stream, "attributes": {"delay": 300}}),
        )
        .await;
        let (mut client, mut server_side) = pair(listen, &upstream).await;
        let (sender, receiver) = if stream == "downstream" {
            (&mut server_side, &mut client)
        } else {
            (&mut client, &mut server_side)
        };
        let start = Instant::now();
        sender.write_all(b"goodbye").await.expect("write");
        sender.shutdown().await.expect("close");
        let mut buf = [0; 7];
        within(5, "data before close", receiver.read_exact(&mut buf))
            .await
            .expect("read");
        assert!(
            start.elapsed() < Duration::from_millis(150),
            "{stream}: data is not delayed"
        );
        let (rest, result) = read_until_closed(receiver, 5).await;
        result.expect("clean close");
        assert!(rest.is_empty());
        let closed_after = start.elapsed();
        assert!(
            closed_after >= Duration::from_millis(290),
            "{stream}: {closed_after:?}"
        );
        api.remove_toxic("sc", "sc").await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_peer_resets_in_each_direction() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("rp", upstream.addr()).await;
    for stream in ["downstream", "upstream"] {
        api.add_toxic(
            "rp",
            json!({"name": "rp", "type": "reset_peer", "stream": stream, "attributes": {"timeout": 100}}),
        )
        .await;
        let (mut client, mut server_side) = pair(listen, &upstream).await;
        let start = Instant::now();
        if stream == "downstream" {
            server_side.write_all(b"trigger").await.expect("write");
        } else {
            client.write_all(b"trigger").await.expect("write");
        }
        let (data, result) = read_until_closed(&mut client, 5).await;
        assert!(data.is_empty(), "{stream}: data dropped");
        let err = result.expect_err("client sees a reset");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{stream}");
        assert!(
            start.elapsed() >= Duration::from_millis(90),
            "{stream}: {:?}",
            start.elapsed()
        );
        let (_, result) = read_until_closed(&mut server_side, 5).await;
        let err = result.expect_err("server sees a reset");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{stream}");
        api.remove_toxic("rp", "rp").await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slicer_cuts_data_into_small_pieces_in_each_direction() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("sl", upstream.addr()).await;
    let payload: Vec<u8> = (0..400u32).map(|i| (i % 251) as u8).collect();
    for stream in ["downstream", "upstream"] {
        api.add_toxic(
            "sl",
            json!({"name": "sl", "type": "slicer", "stream": stream,
                   "attributes": {"average_size": 10, "size_variation": 5, "delay": 3000}}),
        )
        .await;
        let (mut client, mut server_side) = pair(listen, &upstream).await;
        let (sender, receiver) = if stream == "downstream" {
            (&mut server_side, &mut client)
        } else {
            (&mut client, &mut server_side)
        };
        sender.write_all(&payload).await.expect("write");
        let mut received = Vec::new();
        let mut reads = 0;
        let mut buf = [0; 4096];
        within(10, "sliced data", async {
            while received.len() < payload.len() {
                let n = receiver.read(&mut buf).await.expect("read");
                assert!(n > 0, "early EOF");
                assert!(n <= 15 * 4, "{stream}: a read of {n} bytes is not sliced");
                received.extend_from_slice(&buf[..n]);
                reads += 1;
            }
        })
        .await;
        assert_eq!(received, payload, "{stream}: data intact");
        // About 40 pieces 3 ms apart; even a slow reader sees many separate reads.
        assert!(reads >= 10, "{stream}: only {reads} reads");
        api.remove_toxic("sl", "sl").await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_data_passes_the_limit_then_closes_in_each_direction() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("ld", upstream.addr()).await;
    for stream in ["downstream", "upstream"] {
        api.add_toxic(
            "ld",
            json!({"name": "ld", "type": "limit_data", "stream": stream, "attributes": {"bytes": 100}}),
        )
        .await;
        let (mut client, mut server_side) = pair(listen, &upstream).await;
        let (sender, receiver) = if stream == "downstream" {
            (&mut server_side, &mut client)
        } else {
            (&mut client, &mut server_side)
        };
        let _ = sender.write_all(&[7; 300]).await;
        let (data, _) = read_until_closed(receiver, 5).await;
        assert_eq!(data, vec![7; 100], "{stream}");
        api.remove_toxic("ld", "ld").await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxicity_zero_never_applies_and_one_always_does() {
    let (server, api) = start_server().await;
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("tx", upstream.addr()).await;
    api.add_toxic(
        "tx",
        json!({"type": "latency", "toxicity": 0.0, "attributes": {"latency": 400}}),
    )
    .await;
    for _ in 0..3 {
        let (mut client, mut server_side) = pair(listen, &upstream).await;
        let took = one_way(&mut server_side, &mut client, b"x").await;
        assert!(
            took < Duration::from_millis(200),
            "toxicity 0 applied: {took:?}"
        );
    }
    let (status, _) = api
        .patch(
            "/proxies/tx/toxics/latency_downstream",
            json!({"toxicity": 1.0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..3 {
        let (mut client, mut server_side) = pair(listen, &upstream).await;
        let took = one_way(&mut server_side, &mut client, b"x").await;
        assert!(
            took >= Duration::from_millis(390),
            "toxicity 1 skipped: {took:?}"
        );
    }
    server.shutdown().await;
}

/// Which of `count` successive connections a toxicity-0.5 latency toxic delays.
async fn toxicity_pattern(seed: u64, count: usize) -> Vec<bool> {
    let server = ProxyServer::start(ProxyServerConfig {
        api_addr: "127.0.0.1:0".parse().expect("addr"),
        seed: Some(seed),
    })
    .await
    .expect("server");
    let api = Api::new(&server);
    let upstream = Upstream::bind().await;
    let listen = api.create_proxy("seeded", upstream.addr()).await;
    api.add_toxic(
        "seeded",
        json!({"type": "latency", "toxicity": 0.5, "attributes": {"latency": 150}}),
    )
    .await;
    let mut pattern = Vec::new();
    for _ in 0..count {
        let (mut client, mut server_side) = pair(listen, &upstream).await;
        let took = one_way(&mut server_side, &mut client, b"?").await;
        pattern.push(took >= Duration::from_millis(140));
    }
    server.shutdown().await;
    pattern
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_makes_toxicity_reproducible() {
    let first = toxicity_pattern(42, 10).await;
    let second = toxicity_pattern(42, 10).await;
    assert_eq!(first, second);
    assert!(first.contains(&true) && first.contains(&false), "{first:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_drop_stop_every_listener_and_connection() {
    for by_drop in [false, true] {
        let (server, api) = start_server().await;
        let upstream = Upstream::bind().await;
        let listen = api.create_proxy("s", upstream.addr()).await;
        let api_addr = server.api_addr();
        let (mut client, mut server_side) = pair(listen, &upstream).await;
        one_way(&mut client, &mut server_side, b"open").await;
        if by_drop {
            drop(server);
        } else {
            server.shutdown().await;
        }
        let (data, _) = read_until_closed(&mut client, 5).await;
        assert!(data.is_empty());
        within(5, "proxy listener closes", async {
            while TcpStream::connect(listen).await.is_ok() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        within(5, "API listener closes", async {
            while TcpStream::connect(api_addr).await.is_ok() {
                tokio::task::yield_now().await;
            }
        })
        .await;
    }
}
