//! Properties of `clawchaos-proxy`: byte streams of any length and write-chunking come out of
//! every toxic that must not alter data (latency with jitter, bandwidth, slicer, slow_close,
//! and chains of them) intact and in order, in both directions, including when toxics are
//! added and removed while the data flows.
//!
//! Each case sends the data through the proxy to an echo server and back, so it crosses the
//! upstream chain and then the downstream chain, and checks the echo byte for byte up to EOF.
//! Either end may be a slow reader behind small socket buffers, so that the proxy holds data
//! (and its fast path's ring buffer wraps) while toxics come and go.

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clawchaos_proxy::{ProxyServer, ProxyServerConfig};
use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::runtime::Runtime;

/// One runtime, proxy server and pair of echo servers shared by every case.
struct Fixture {
    runtime: Runtime,
    api: String,
    http: reqwest::Client,
    /// Echoes as fast as it can.
    echo: SocketAddr,
    /// Echoes 4 KiB per millisecond through small socket buffers: back-pressure upstream.
    slow_echo: SocketAddr,
    _server: ProxyServer,
}

/// A socket with small kernel buffers, so that a slow peer pushes back quickly.
fn small_socket() -> TcpSocket {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(SMALL_BUFFER)
        .expect("SO_RCVBUF");
    socket
        .set_send_buffer_size(SMALL_BUFFER)
        .expect("SO_SNDBUF");
    socket
}

const SMALL_BUFFER: u32 = 8 * 1024;

/// Spawns an echo server; a slow one reads 4 KiB at a time with a pause after each read.
async fn spawn_echo(slow: bool) -> SocketAddr {
    let socket = if slow {
        small_socket()
    } else {
        TcpSocket::new_v4().expect("socket")
    };
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("echo bind");
    let listener = socket.listen(64).expect("echo listen");
    let addr = listener.local_addr().expect("echo addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = socket.split();
                if slow {
                    let mut buf = vec![0; 4096];
                    loop {
                        match read.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if write.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                } else {
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                }
                let _ = write.shutdown().await;
            });
        }
    });
    addr
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (server, echo, slow_echo) = runtime.block_on(async {
        let server = ProxyServer::start(ProxyServerConfig {
            api_addr: "127.0.0.1:0".parse().expect("addr"),
            seed: Some(99),
        })
        .await
        .expect("proxy server");
        (server, spawn_echo(false).await, spawn_echo(true).await)
    });
    Fixture {
        api: server.url(),
        http: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("http client"),
        echo,
        slow_echo,
        runtime,
        _server: server,
    }
});

/// How fast the two ends of a case consume data.
#[derive(Debug, Clone, Copy)]
struct Peers {
    /// The echo server reads slowly through small buffers.
    slow_server: bool,
    /// The client reads slowly through small buffers.
    slow_client: bool,
}

fn peers() -> impl Strategy<Value = Peers> {
    (any::<bool>(), any::<bool>()).prop_map(|(slow_server, slow_client)| Peers {
        slow_server,
        slow_client,
    })
}

static NEXT_PROXY: AtomicUsize = AtomicUsize::new(0);

/// Deterministic, non-repeating-looking bytes (so reordering or loss cannot go unnoticed).
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

async fn call(method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::StatusCode {
    let fixture = &*FIXTURE;
    let mut request = fixture
        .http
        .request(method, format!("{}{}", fixture.api, path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("api call").status()
}

/// A toxic change made while data flows: after `after_ms`, add or remove `toxic`.
#[derive(Debug, Clone)]
struct Change {
    after_ms: u64,
    toxic: Value,
}

/// Creates a proxy with `toxics`, echoes `data` written in `chunks`-sized writes through it
/// (applying `changes` meanwhile) and returns what came back before EOF.
async fn echo_through(
    toxics: &[Value],
    changes: &[Change],
    data: &[u8],
    chunks: &[usize],
    peers: Peers,
) -> Vec<u8> {
    let fixture = &*FIXTURE;
    let upstream = if peers.slow_server {
        fixture.slow_echo
    } else {
        fixture.echo
    };
    let name = format!("p{}", NEXT_PROXY.fetch_add(1, Ordering::Relaxed));
    let created = fixture
        .http
        .post(format!("{}/proxies", fixture.api))
        .json(&json!({"name": name, "listen": "127.0.0.1:0", "upstream": upstream.to_string()}))
        .send()
        .await
        .expect("create proxy");
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let proxy: Value = created.json().await.expect("proxy json");
    let listen: SocketAddr = proxy["listen"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("listen");
    for toxic in toxics {
        let status = call(
            reqwest::Method::POST,
            &format!("/proxies/{name}/toxics"),
            Some(toxic.clone()),
        )
        .await;
        assert_eq!(status, reqwest::StatusCode::OK, "{toxic}");
    }

    let client = if peers.slow_client {
        small_socket()
    } else {
        TcpSocket::new_v4().expect("socket")
    };
    let client = client.connect(listen).await.expect("connect");
    let (mut read, mut write) = client.into_split();
    let to_send = data.to_vec();
    let sizes = chunks.to_vec();
    let pace = !changes.is_empty();
    let writer = tokio::spawn(async move {
        let mut sent = 0;
        let mut next = sizes.iter().cycle();
        while sent < to_send.len() {
            let size = next.next().copied().unwrap_or(1).max(1);
            let end = (sent + size).min(to_send.len());
            write.write_all(&to_send[sent..end]).await.expect("write");
            sent = end;
            if pace {
                // Spread the data over time so toxic changes land while it flows.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        write.shutdown().await.expect("half-close");
    });
    let churn_name = name.clone();
    let churn_plan = changes.to_vec();
    let churn = tokio::spawn(async move {
        let mut present: Vec<String> = Vec::new();
        for change in churn_plan {
            tokio::time::sleep(Duration::from_millis(change.after_ms)).await;
            let toxic_name = change.toxic["name"].as_str().unwrap_or_default().to_owned();
            if let Some(pos) = present.iter().position(|n| *n == toxic_name) {
                present.remove(pos);
                call(
                    reqwest::Method::DELETE,
                    &format!("/proxies/{churn_name}/toxics/{toxic_name}"),
                    None,
                )
                .await;
            } else {
                present.push(toxic_name);
                call(
                    reqwest::Method::POST,
                    &format!("/proxies/{churn_name}/toxics"),
                    Some(change.toxic),
                )
                .await;
            }
        }
    });
    let mut received = Vec::with_capacity(data.len());
    let read_all = async {
        let mut buf = vec![0; if peers.slow_client { 4096 } else { 64 * 1024 }];
        loop {
            let n = read.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            received.extend_from_slice(&buf[..n]);
            if peers.slow_client {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read_all)
        .await
        .expect("echo within 20 s")
        .expect("read");
    writer.await.expect("writer");
    churn.await.expect("churn");
    call(reqwest::Method::DELETE, &format!("/proxies/{name}"), None).await;
    received
}

fn run(
    toxics: Vec<Value>,
    changes: Vec<Change>,
    data: &[u8],
    chunks: &[usize],
    peers: Peers,
) -> Vec<u8> {
    FIXTURE
        .runtime
        .block_on(echo_through(&toxics, &changes, data, chunks, peers))
}

fn stream() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("upstream"), Just("downstream")]
}

fn latency() -> impl Strategy<Value = Value> {
    (stream(), 0u64..=5, 0u64..=5, 0.0f32..=1.0).prop_map(|(stream, latency, jitter, toxicity)| {
        json!({"type": "latency", "stream": stream, "toxicity": toxicity,
               "attributes": {"latency": latency, "jitter": jitter}})
    })
}

fn bandwidth() -> impl Strategy<Value = Value> {
    // At least 20 MB/s so 256 KiB takes at most ~13 ms.
    (stream(), 20_000u64..=500_000).prop_map(|(stream, rate)| {
        json!({"type": "bandwidth", "stream": stream, "attributes": {"rate": rate}})
    })
}

fn slicer() -> impl Strategy<Value = Value> {
    (stream(), 16usize..=4096, 0usize..=100, 0u64..=20).prop_map(
        |(stream, average, variation_pct, delay)| {
            json!({"type": "slicer", "stream": stream, "attributes": {
                "average_size": average,
                "size_variation": average * variation_pct / 100,
                "delay": delay}})
        },
    )
}

fn slow_close() -> impl Strategy<Value = Value> {
    (stream(), 0u64..=20).prop_map(|(stream, delay)| {
        json!({"type": "slow_close", "stream": stream, "attributes": {"delay": delay}})
    })
}

/// Slower toxics for the churn property, so that they hold data when they are removed.
fn churn_toxic() -> impl Strategy<Value = Value> {
    prop_oneof![
        (stream(), 1u64..=20, 0u64..=10).prop_map(|(stream, latency, jitter)| {
            json!({"type": "latency", "stream": stream,
                   "attributes": {"latency": latency, "jitter": jitter}})
        }),
        (stream(), 2_000u64..=50_000).prop_map(|(stream, rate)| {
            json!({"type": "bandwidth", "stream": stream, "attributes": {"rate": rate}})
        }),
        (stream(), 1024usize..=4096, 100u64..=1000).prop_map(|(stream, average, delay)| {
            json!({"type": "slicer", "stream": stream, "attributes": {
                "average_size": average, "size_variation": average / 2, "delay": delay}})
        }),
        slow_close(),
    ]
}

/// Gives each toxic a unique name (a toxic per type and stream may repeat in a chain).
fn named(toxics: Vec<Value>) -> Vec<Value> {
    toxics
        .into_iter()
        .enumerate()
        .map(|(i, mut toxic)| {
            toxic["name"] = json!(format!("t{i}"));
            toxic
        })
        .collect()
}

/// Data (length up to 256 KiB, content from a seed) and write sizes.
fn data_and_chunks() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    (
        0usize..=256 * 1024,
        any::<u64>(),
        prop::collection::vec(1usize..=32 * 1024, 1..8),
    )
        .prop_map(|(len, seed, chunks)| (payload(len, seed), chunks))
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn latency_with_jitter_keeps_data_intact(
        (data, chunks) in data_and_chunks(),
        peers in peers(),
        toxics in prop::collection::vec(latency(), 1..=2),
    ) {
        let echoed = run(named(toxics), Vec::new(), &data, &chunks, peers);
        prop_assert!(echoed == data, "echoed {} of {} bytes, first difference at {:?}",
            echoed.len(), data.len(), echoed.iter().zip(&data).position(|(a, b)| a != b));
    }

    #[test]
    fn bandwidth_keeps_data_intact(
        (data, chunks) in data_and_chunks(),
        peers in peers(),
        toxics in prop::collection::vec(bandwidth(), 1..=2),
    ) {
        let echoed = run(named(toxics), Vec::new(), &data, &chunks, peers);
        prop_assert!(echoed == data, "echoed {} of {} bytes", echoed.len(), data.len());
    }

    #[test]
    fn slicer_keeps_data_intact(
        (data, chunks) in data_and_chunks(),
        peers in peers(),
        toxics in prop::collection::vec(slicer(), 1..=2),
    ) {
        let echoed = run(named(toxics), Vec::new(), &data, &chunks, peers);
        prop_assert!(echoed == data, "echoed {} of {} bytes", echoed.len(), data.len());
    }

    #[test]
    fn slow_close_keeps_data_intact(
        (data, chunks) in data_and_chunks(),
        peers in peers(),
        toxics in prop::collection::vec(slow_close(), 1..=2),
    ) {
        let echoed = run(named(toxics), Vec::new(), &data, &chunks, peers);
        prop_assert!(echoed == data, "echoed {} of {} bytes", echoed.len(), data.len());
    }

    #[test]
    fn chains_of_toxics_keep_data_intact(
        (data, chunks) in data_and_chunks(),
        peers in peers(),
        toxics in prop::collection::vec(
            prop_oneof![latency(), bandwidth(), slicer(), slow_close()], 2..=5),
    ) {
        let echoed = run(named(toxics), Vec::new(), &data, &chunks, peers);
        prop_assert!(echoed == data, "echoed {} of {} bytes", echoed.len(), data.len());
    }
}

proptest! {
    #![proptest_config(config(16))]

    #[test]
    fn adding_and_removing_toxics_mid_stream_keeps_data_intact(
        (data, chunks) in data_and_chunks(),
        peers in peers(),
        plan in prop::collection::vec(
            (0u64..=4, 0usize..3, churn_toxic()),
            1..=8),
    ) {
        // Three toxic names; a change to a name that is present removes it, else adds it.
        let changes = plan
            .into_iter()
            .map(|(after_ms, slot, mut toxic)| {
                toxic["name"] = json!(format!("churn{slot}"));
                Change { after_ms, toxic }
            })
            .collect();
        let echoed = run(Vec::new(), changes, &data, &chunks, peers);
        prop_assert!(echoed == data, "echoed {} of {} bytes, first difference at {:?}",
            echoed.len(), data.len(), echoed.iter().zip(&data).position(|(a, b)| a != b));
    }
}
