//! The proxy's HTTP API under bad input: every request a client can send gets a 2xx, a 400
//! (invalid), 404, 405, 409 (conflict) or 413 in one JSON shape `{"error", "status"}` whose
//! message names the field at fault, and never a 500. First the cases users ran into, then a
//! property over generated requests.

use std::sync::LazyLock;

use clawchaos_proxy::{ProxyServer, ProxyServerConfig};
use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

/// One runtime and proxy server shared by every test.
struct Fixture {
    runtime: Runtime,
    api: String,
    http: reqwest::Client,
    _server: ProxyServer,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(async {
        ProxyServer::start(ProxyServerConfig {
            api_addr: "127.0.0.1:0".parse().expect("addr"),
            seed: Some(5),
        })
        .await
        .expect("proxy server")
    });
    Fixture {
        api: server.url(),
        http: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("http client"),
        runtime,
        _server: server,
    }
});

/// An answer: its status and its body, as JSON when it parses.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
    json: Option<Value>,
}

impl Answer {
    /// Checks the one error shape: JSON with `error` (a message) and `status` (the same code).
    fn assert_error_shape(&self) {
        let json = self.json.as_ref().unwrap_or_else(|| {
            panic!(
                "{} with a body that is not JSON: {:?}",
                self.status, self.body
            )
        });
        assert_eq!(json["status"], self.status, "{json}");
        assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "no message: {json}"
        );
    }

    fn error(&self) -> &str {
        self.json
            .as_ref()
            .and_then(|j| j["error"].as_str())
            .unwrap_or("")
    }

    /// `status`, in the error shape, with a message containing `needle`.
    fn assert_refused(&self, status: u16, needle: &str) {
        assert_eq!(self.status, status, "{self:?}");
        self.assert_error_shape();
        assert!(
            self.error().contains(needle),
            "{:?} lacks {needle:?}",
            self.error()
        );
    }
}

fn send(method: &str, path: &str, body: Option<Vec<u8>>) -> Answer {
    send_as(method, path, body, None)
}

fn send_as(method: &str, path: &str, body: Option<Vec<u8>>, agent: Option<&str>) -> Answer {
    let fixture = &*FIXTURE;
    fixture.runtime.block_on(async {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = fixture
            .http
            .request(method, format!("{}{}", fixture.api, path))
            // A refused body (413) is left unread and its connection closed: no reuse.
            .header("connection", "close");
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        if let Some(agent) = agent {
            request = request.header("user-agent", agent);
        }
        let response = request.send().await.expect("api call");
        let status = response.status().as_u16();
        let body = response.text().await.expect("body");
        let json = serde_json::from_str(&body).ok();
        Answer { status, body, json }
    })
}

/// `POST path` with a body of `length` bytes, written on a thread of its own that ignores a
/// broken pipe: the server answers and closes once it has seen too much, while the body is
/// still being written. (Through reqwest the write's broken pipe hid the answer, once in CI.)
fn post_oversized(path: &str, length: usize) -> Answer {
    use std::io::{Read as _, Write as _};
    let addr = FIXTURE.api.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect to the API");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("read timeout");
    let mut writer = stream.try_clone().expect("a second handle");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\nconnection: close\r\n\r\n"
    );
    let sending = std::thread::spawn(move || {
        let _ = writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(&vec![b'a'; length]));
    });
    let mut raw = Vec::new();
    // Up to the server's close; what it wrote before closing arrives before its reset.
    let _ = stream.read_to_end(&mut raw);
    let _ = sending.join();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    Answer {
        status,
        body: body.to_string(),
        json: serde_json::from_str(body).ok(),
    }
}

fn post(path: &str, body: Value) -> Answer {
    send("POST", path, Some(body.to_string().into_bytes()))
}

/// A proxy named `name` (removed first if a test made it before).
fn proxy(name: &str) {
    send("DELETE", &format!("/proxies/{name}"), None);
    let made = post(
        "/proxies",
        json!({"name": name, "upstream": "127.0.0.1:9", "listen": "127.0.0.1:0"}),
    );
    assert_eq!(made.status, 201, "{made:?}");
}

#[test]
fn names_that_do_not_round_trip_through_the_url_are_refused() {
    for name in ["a/b", "..", ".", "a b", "x?y", "ü", "a#b"] {
        let answer = post("/proxies", json!({"name": name, "upstream": "127.0.0.1:9"}));
        answer.assert_refused(400, "is not usable in a URL path");
    }
    let long = "n".repeat(100_000);
    post("/proxies", json!({"name": long, "upstream": "127.0.0.1:9"}))
        .assert_refused(400, "1 to 128");
    // The longest name allowed can be created, read back and deleted.
    let longest = "n".repeat(128);
    proxy(&longest);
    assert_eq!(
        send("GET", &format!("/proxies/{longest}"), None).status,
        200
    );
    assert_eq!(
        send("DELETE", &format!("/proxies/{longest}"), None).status,
        204
    );
    // Toxic names follow the same rule.
    proxy("named-toxics");
    post(
        "/proxies/named-toxics/toxics",
        json!({"name": "../up", "type": "latency", "attributes": {"latency": 1}}),
    )
    .assert_refused(400, "is not usable in a URL path");
}

#[test]
fn a_listen_port_out_of_range_is_invalid_and_one_in_use_a_conflict() {
    post(
        "/proxies",
        json!({"name": "far", "upstream": "127.0.0.1:9", "listen": "127.0.0.1:99999"}),
    )
    .assert_refused(400, "no port from 0 to 65535");
    post(
        "/proxies",
        json!({"name": "nowhere", "upstream": "127.0.0.1:9", "listen": "no-port"}),
    )
    .assert_refused(400, "is not host:port");
    let api = FIXTURE.api.trim_start_matches("http://").to_owned();
    post(
        "/proxies",
        json!({"name": "squatter", "upstream": "127.0.0.1:9", "listen": api}),
    )
    .assert_refused(409, "in use");
    // An address that is not this host's is the client's mistake, not the server's.
    post(
        "/proxies",
        json!({"name": "elsewhere", "upstream": "127.0.0.1:9", "listen": "192.0.2.1:5000"}),
    )
    .assert_refused(400, "listen tcp 192.0.2.1:5000");
}

#[test]
fn a_bad_field_is_named_in_the_message() {
    post(
        "/proxies",
        json!({"name": "typed", "upstream": "127.0.0.1:9", "enabled": "yes"}),
    )
    .assert_refused(400, "enabled: invalid type");
    proxy("fields");
    post(
        "/proxies/fields/toxics",
        json!({"type": "latency", "attributes": {"latency": -500}}),
    )
    .assert_refused(400, "attributes.latency: invalid value: integer `-500`");
    post(
        "/proxies/fields/toxics",
        json!({"type": "latency", "toxicity": "high"}),
    )
    .assert_refused(400, "toxicity: invalid type");
}

#[test]
fn a_bandwidth_of_zero_is_refused_rather_than_stalling_the_link() {
    proxy("zero-rate");
    post(
        "/proxies/zero-rate/toxics",
        json!({"type": "bandwidth", "attributes": {"rate": 0}}),
    )
    .assert_refused(400, "attributes.rate: must be at least 1");
    let capped = post(
        "/proxies/zero-rate/toxics",
        json!({"type": "bandwidth", "attributes": {"rate": 1}}),
    );
    assert_eq!(capped.status, 200, "{capped:?}");
}

#[test]
fn every_error_the_routes_do_not_write_has_the_same_json_shape() {
    post_oversized("/proxies", 5 * 1024 * 1024).assert_refused(413, "length limit");
    send("GET", "/no/such/path", None).assert_refused(404, "no such endpoint");
    let wrong_method = send("PUT", "/proxies", Some(b"{}".to_vec()));
    wrong_method.assert_refused(405, "method not allowed");
    send_as("GET", "/version", None, Some("Mozilla/5.0")).assert_refused(403, "User agent");
    send("POST", "/proxies", Some(b"{not json".to_vec())).assert_refused(400, "bad request body");
    send("GET", "/proxies/missing", None).assert_refused(404, "proxy not found");
}

// The property: generated requests, from well-formed to nonsense, never answer 5xx, and
// every error has the one shape.

/// A name: usable, or one of the kinds users got wrong.
fn name() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[a-z][a-z0-9_-]{0,12}",
        1 => Just(String::new()),
        1 => Just("..".to_owned()),
        1 => "[ -~]{0,20}",
        1 => "\\PC{0,8}",
        1 => (120usize..140).prop_map(|n| "n".repeat(n)),
    ]
    .boxed()
}

/// A JSON value of any type, for fields that expect one in particular.
fn any_json() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,24}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
    ]
    .boxed()
}

/// A listen address: any free port, out of range, the API's own (in use), not an address,
/// or not this host's. No fixed port below 65536: the test must not take a real service's.
fn listen() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => Just(json!("127.0.0.1:0")),
        1 => (65_536u32..200_000).prop_map(|port| json!(format!("127.0.0.1:{port}"))),
        2 => Just(json!(FIXTURE.api.trim_start_matches("http://"))),
        1 => "[ -~]{0,20}".prop_map(Value::from),
        1 => Just(json!("192.0.2.1:0")),
        1 => any_json(),
    ]
    .boxed()
}

/// A proxy body with each field present, absent, or of any type.
fn proxy_body() -> BoxedStrategy<Value> {
    (
        prop::option::weighted(
            0.9,
            prop_oneof![4 => name().prop_map(Value::from), 1 => any_json()],
        ),
        prop::option::weighted(
            0.9,
            prop_oneof![4 => Just(json!("127.0.0.1:9")), 1 => any_json()],
        ),
        prop::option::of(listen()),
        prop::option::of(any_json()),
    )
        .prop_map(|(name, upstream, listen, enabled)| {
            let mut body = serde_json::Map::new();
            for (key, value) in [
                ("name", name),
                ("upstream", upstream),
                ("listen", listen),
                ("enabled", enabled),
            ] {
                if let Some(value) = value {
                    body.insert(key.to_owned(), value);
                }
            }
            Value::Object(body)
        })
        .boxed()
}

/// A toxic body with a known or unknown type and attributes of any shape.
fn toxic_body() -> BoxedStrategy<Value> {
    let kind = prop_oneof![
        Just("latency"),
        Just("bandwidth"),
        Just("slow_close"),
        Just("timeout"),
        Just("reset_peer"),
        Just("slicer"),
        Just("limit_data"),
        Just("explode"),
    ];
    let attribute = prop_oneof![
        Just("latency"),
        Just("jitter"),
        Just("rate"),
        Just("delay"),
        Just("timeout"),
        Just("average_size"),
        Just("size_variation"),
        Just("bytes"),
    ];
    (
        kind,
        prop::option::of(name()),
        prop::option::of(prop_oneof![Just(json!("upstream")), any_json()]),
        prop::option::of(prop_oneof![
            (0.0f64..=1.0).prop_map(Value::from),
            any_json()
        ]),
        prop::collection::btree_map(attribute, any_json(), 0..4),
    )
        .prop_map(|(kind, name, stream, toxicity, attributes)| {
            let mut body = json!({"type": kind, "attributes": attributes});
            if let Some(name) = name {
                body["name"] = json!(name);
            }
            if let Some(stream) = stream {
                body["stream"] = stream;
            }
            if let Some(toxicity) = toxicity {
                body["toxicity"] = toxicity;
            }
            body
        })
        .boxed()
}

/// One request: mostly the calls a client makes (create, populate, add or change a toxic,
/// update a proxy) with generated bodies, and a share of any method on any path.
fn request() -> BoxedStrategy<(&'static str, String, Option<Value>)> {
    let method = prop_oneof![
        Just("GET"),
        Just("POST"),
        Just("PATCH"),
        Just("DELETE"),
        Just("PUT"),
    ];
    let path = prop_oneof![
        Just("/proxies".to_owned()),
        Just("/populate".to_owned()),
        Just("/reset".to_owned()),
        name().prop_map(|n| format!("/proxies/{}", urlencode(&n))),
        (name(), name()).prop_map(|(p, t)| format!(
            "/proxies/{}/toxics/{}",
            urlencode(&p),
            urlencode(&t)
        )),
        name().prop_map(|n| format!("/proxies/{}/toxics", urlencode(&n))),
    ];
    let body = prop_oneof![
        Just(None),
        proxy_body().prop_map(Some),
        toxic_body().prop_map(Some),
        any_json().prop_map(Some),
    ];
    prop_oneof![
        3 => proxy_body().prop_map(|b| ("POST", "/proxies".to_owned(), Some(b))),
        2 => prop::collection::vec(proxy_body(), 1..3)
            .prop_map(|v| ("POST", "/populate".to_owned(), Some(Value::from(v)))),
        3 => toxic_body().prop_map(|b| ("POST", "/proxies/pp/toxics".to_owned(), Some(b))),
        1 => toxic_body().prop_map(|b| ("POST", "/proxies/pp/toxics/latency_downstream".to_owned(), Some(b))),
        2 => proxy_body().prop_map(|b| ("POST", "/proxies/pp".to_owned(), Some(b))),
        3 => (method, path, body),
    ]
    .boxed()
}

/// Percent-encodes everything but unreserved characters, as a client library would.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_request_answers_a_server_error((method, path, body) in request()) {
        // A proxy the toxic requests can land on.
        if send("GET", "/proxies/pp", None).status == 404 {
            post("/proxies", json!({"name": "pp", "upstream": "127.0.0.1:9"}));
        }
        let answer = send(method, &path, body.map(|b| b.to_string().into_bytes()));
        prop_assert!(answer.status < 500, "{method} {path}: {answer:?}");
        if answer.status >= 400 {
            answer.assert_error_shape();
        }
    }
}
