//! The proxy's cost, side by side with a direct loopback connection in one run:
//! bulk throughput, 64-byte round trip, and how precisely a 100 ms latency toxic is applied.
//!
//! Goals (for this benchmark, not for tests): proxied throughput >= 0.8x direct, p50 round-trip
//! overhead <= 25 us, a 100 ms latency toxic within +1 ms at p99 on an idle machine. The
//! percentile summary is printed at the end, after criterion's own figures.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use clawchaos_proxy::{ProxyServer, ProxyServerConfig};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const BULK: usize = 64 * 1024 * 1024;
const PING: usize = 64;

/// A sink: reads until EOF, then answers one byte. Returns its address.
fn sink_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind sink");
    let addr = listener.local_addr().expect("sink addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = vec![0u8; 256 * 1024];
                while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                let _ = stream.write_all(b"k");
            });
        }
    });
    addr
}

/// An echo server. Returns its address.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo");
    let addr = listener.local_addr().expect("echo addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let _ = stream.set_nodelay(true);
                let mut buf = [0u8; 64 * 1024];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// The proxy server and a blocking HTTP helper for its API.
struct Proxy {
    server: Option<ProxyServer>,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Proxy {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let server = runtime
            .block_on(ProxyServer::start(ProxyServerConfig {
                api_addr: "127.0.0.1:0".parse().expect("addr"),
                seed: Some(1),
            }))
            .expect("proxy server");
        Self {
            server: Some(server),
            runtime,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self) -> String {
        self.server.as_ref().map(|s| s.url()).unwrap_or_default()
    }

    fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let url = format!("{}{path}", self.url());
        self.runtime.block_on(async {
            let response = self
                .http
                .post(&url)
                .json(&body)
                .send()
                .await
                .expect("api call");
            assert!(
                response.status().is_success(),
                "{url}: {}",
                response.status()
            );
            response.json().await.expect("json")
        })
    }

    fn delete(&self, path: &str) {
        let url = format!("{}{path}", self.url());
        self.runtime.block_on(async {
            let response = self.http.delete(&url).send().await.expect("api call");
            assert!(
                response.status().is_success(),
                "{url}: {}",
                response.status()
            );
        });
    }

    /// Creates a proxy in front of `upstream`; returns its listen address.
    fn proxy_to(&self, name: &str, upstream: SocketAddr) -> SocketAddr {
        let proxy = self.post(
            "/proxies",
            serde_json::json!({"name": name, "listen": "127.0.0.1:0", "upstream": upstream.to_string()}),
        );
        proxy["listen"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("listen address")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

fn bulk_transfer(addr: SocketAddr, chunk: &[u8]) -> Duration {
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut sent = 0;
    while sent < BULK {
        stream.write_all(chunk).expect("write");
        sent += chunk.len();
    }
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let mut ack = [0u8; 1];
    stream.read_exact(&mut ack).expect("ack");
    start.elapsed()
}

fn round_trips(addr: SocketAddr, n: usize) -> Vec<Duration> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let ping = [7u8; PING];
    let mut pong = [0u8; PING];
    // Warm the connection first.
    for _ in 0..10 {
        stream.write_all(&ping).expect("write");
        stream.read_exact(&mut pong).expect("read");
    }
    (0..n)
        .map(|_| {
            let start = Instant::now();
            stream.write_all(&ping).expect("write");
            stream.read_exact(&mut pong).expect("read");
            start.elapsed()
        })
        .collect()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn benches(c: &mut Criterion) {
    let proxy = Proxy::start();
    let sink = sink_server();
    let echo = echo_server();
    let sink_proxied = proxy.proxy_to("sink", sink);
    let echo_proxied = proxy.proxy_to("echo", echo);
    let chunk = vec![0x5au8; 128 * 1024];

    let mut group = c.benchmark_group("throughput_64MiB");
    group.throughput(Throughput::Bytes(BULK as u64));
    group.sample_size(10);
    for (name, addr) in [("direct", sink), ("proxied", sink_proxied)] {
        group.bench_with_input(BenchmarkId::from_parameter(name), &addr, |b, addr| {
            b.iter_custom(|iters| (0..iters).map(|_| bulk_transfer(*addr, &chunk)).sum());
        });
    }
    group.finish();

    let mut group = c.benchmark_group("round_trip_64B");
    for (name, addr) in [("direct", echo), ("proxied", echo_proxied)] {
        group.bench_with_input(BenchmarkId::from_parameter(name), &addr, |b, addr| {
            b.iter_custom(|iters| round_trips(*addr, iters as usize).into_iter().sum());
        });
    }
    group.finish();

    // Percentiles, side by side in this run.
    let mut direct = round_trips(echo, 20_000);
    let mut proxied = round_trips(echo_proxied, 20_000);
    let (d50, d99) = (percentile(&mut direct, 0.5), percentile(&mut direct, 0.99));
    let (p50, p99) = (
        percentile(&mut proxied, 0.5),
        percentile(&mut proxied, 0.99),
    );
    let transfer = |addr| {
        let mut runs: Vec<Duration> = (0..5).map(|_| bulk_transfer(addr, &chunk)).collect();
        percentile(&mut runs, 0.5)
    };
    let (td, tp) = (transfer(sink), transfer(sink_proxied));
    let gib = |d: Duration| BULK as f64 / d.as_secs_f64() / (1u64 << 30) as f64;

    proxy.post(
        "/proxies/echo/toxics",
        serde_json::json!({"name": "lat", "type": "latency", "stream": "downstream", "attributes": {"latency": 100}}),
    );
    let mut latency = round_trips(echo_proxied, 50);
    proxy.delete("/proxies/echo/toxics/lat");
    let target = Duration::from_millis(100);
    let (l50, l99) = (
        percentile(&mut latency, 0.5),
        percentile(&mut latency, 0.99),
    );

    println!("\n== proxy overhead, side by side (this run) ==");
    println!(
        "throughput 64 MiB: direct {:.2} GiB/s, proxied {:.2} GiB/s = {:.2}x direct (goal >= 0.8x)",
        gib(td),
        gib(tp),
        td.as_secs_f64() / tp.as_secs_f64()
    );
    println!(
        "round trip 64 B: direct p50 {:.1} us p99 {:.1} us; proxied p50 {:.1} us p99 {:.1} us; p50 overhead {:+.1} us (goal <= 25 us)",
        d50.as_secs_f64() * 1e6,
        d99.as_secs_f64() * 1e6,
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        (p50.as_secs_f64() - d50.as_secs_f64()) * 1e6
    );
    println!(
        "latency toxic 100 ms: p50 {:+.3} ms, p99 {:+.3} ms over the target (goal: p99 within +1 ms)",
        (l50.as_secs_f64() - target.as_secs_f64()) * 1e3,
        (l99.as_secs_f64() - target.as_secs_f64()) * 1e3
    );
}

criterion_group!(proxy_overhead, benches);
criterion_main!(proxy_overhead);
