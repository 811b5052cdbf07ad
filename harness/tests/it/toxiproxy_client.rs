//! The typed Toxiproxy client against the embedded proxy: every call, and every unexpected
//! status surfaced as an error carrying that status.

use std::collections::BTreeMap;

use clawchaos::clients::toxiproxy::{Proxy, ProxyUpdate, Toxic, ToxiproxyClient};
use clawchaos_proxy::{ProxyServer, ProxyServerConfig};

async fn server() -> (ProxyServer, ToxiproxyClient) {
    let server = ProxyServer::start(ProxyServerConfig {
        api_addr: "127.0.0.1:0".parse().expect("addr"),
        seed: Some(1),
    })
    .await
    .expect("proxy server");
    let client = ToxiproxyClient::new(server.url());
    (server, client)
}

fn latency(name: &str, ms: u64) -> Toxic {
    Toxic {
        name: name.into(),
        kind: "latency".into(),
        stream: "downstream".into(),
        toxicity: 1.0,
        attributes: BTreeMap::from([("latency".into(), serde_json::json!(ms))]),
    }
}

#[tokio::test]
async fn every_call_round_trips() {
    let (server, client) = server().await;
    assert!(!client.version().await.expect("version").is_empty());

    let created = client
        .create_proxy("llm", "127.0.0.1:0", "127.0.0.1:9")
        .await
        .expect("create");
    assert_eq!(created.name, "llm");
    assert!(
        !created.listen.ends_with(":0"),
        "the real port is reported: {}",
        created.listen
    );
    assert!(created.enabled);

    let listed = client.proxies().await.expect("list");
    assert_eq!(listed.keys().collect::<Vec<_>>(), ["llm"]);
    assert_eq!(
        client.proxy("llm").await.expect("get").upstream,
        "127.0.0.1:9"
    );

    let disabled = client.set_enabled("llm", false).await.expect("disable");
    assert!(!disabled.enabled);
    let moved = client
        .update_proxy(
            "llm",
            &ProxyUpdate {
                upstream: Some("127.0.0.1:10".into()),
                ..ProxyUpdate::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(moved.upstream, "127.0.0.1:10");

    let added = client
        .add_toxic("llm", &latency("slow", 100))
        .await
        .expect("add toxic");
    assert_eq!(added.kind, "latency");
    assert_eq!(added.attributes["latency"], 100);
    assert_eq!(client.toxics("llm").await.expect("toxics").len(), 1);
    let updated = client
        .update_toxic(
            "llm",
            "slow",
            Some(0.5),
            BTreeMap::from([("latency".into(), serde_json::json!(200))]),
        )
        .await
        .expect("update toxic");
    assert_eq!(updated.attributes["latency"], 200);
    assert_eq!(updated.toxicity, 0.5);
    assert_eq!(
        client
            .toxic("llm", "slow")
            .await
            .expect("get toxic")
            .toxicity,
        0.5
    );

    client.reset().await.expect("reset");
    let after_reset = client.proxy("llm").await.expect("get");
    assert!(after_reset.enabled, "reset re-enables proxies");
    assert!(after_reset.toxics.is_empty(), "reset removes toxics");

    let populated = client
        .populate(&[Proxy {
            name: "gateway".into(),
            listen: "127.0.0.1:0".into(),
            upstream: "127.0.0.1:11".into(),
            enabled: true,
            toxics: vec![],
        }])
        .await
        .expect("populate");
    assert_eq!(populated.len(), 1);

    client
        .add_toxic("llm", &latency("gone", 1))
        .await
        .expect("add");
    client
        .remove_toxic("llm", "gone")
        .await
        .expect("remove toxic");
    client.delete_proxy("llm").await.expect("delete");
    client.delete_proxy("gateway").await.expect("delete");
    assert!(client.proxies().await.expect("list").is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn unexpected_statuses_are_errors_with_the_status() {
    let (server, client) = server().await;
    client
        .create_proxy("llm", "127.0.0.1:0", "127.0.0.1:9")
        .await
        .expect("create");

    let duplicate = client
        .create_proxy("llm", "127.0.0.1:0", "127.0.0.1:9")
        .await;
    assert_eq!(duplicate.expect_err("duplicate").status(), Some(409));
    let missing = client.proxy("nope").await;
    assert_eq!(missing.expect_err("unknown").status(), Some(404));
    client
        .add_toxic("llm", &latency("slow", 10))
        .await
        .expect("add");
    let twice = client.add_toxic("llm", &latency("slow", 10)).await;
    assert_eq!(twice.expect_err("duplicate toxic").status(), Some(409));
    let mut bad = latency("bad", 10);
    bad.kind = "no_such_toxic".into();
    let bad = client.add_toxic("llm", &bad).await;
    let err = bad.expect_err("bad toxic");
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("add toxic bad to llm"), "{err}");
    let gone = client.remove_toxic("llm", "never").await;
    assert_eq!(gone.expect_err("unknown toxic").status(), Some(404));
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let client = ToxiproxyClient::new(format!("http://127.0.0.1:{port}"));
    let err = client.proxies().await.expect_err("nothing listens");
    assert_eq!(err.status(), None);
    assert!(err.to_string().contains("request to"), "{err}");
}
