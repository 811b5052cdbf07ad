use super::*;
use std::collections::HashMap;

const GOOD: &str = "\
messaging:
  broker: rabbitmq            # rabbitmq | kafka
  url: amqp://127.0.0.1:5672/%2f
  tasks: openclaw_tasks
  results: openclaw_results
  heartbeat: 5s
  prefetch: 4
  token:
    url: http://127.0.0.1:7000/token
    refresh_before: 10s
    leeway: 30s
gateway:
  url: http://127.0.0.1:18789
  token: clawchaos-gateway-token
  model: openclaw
  timeout: 60s
  attempts: 3
bridge:
  health_listen: 127.0.0.1:8080
  ack: after_publish
";

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_yaml(text, Path::new("bridge.yaml"), &no_env)
}

fn parse_with(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_yaml(text, Path::new("bridge.yaml"), &move |k| {
        map.get(k).cloned()
    })
}

fn position(e: &ConfigError) -> (usize, usize) {
    match &e.origin {
        Origin::File {
            position: Some(p), ..
        } => (p.line, p.column),
        other => panic!("expected a file position, got {other:?} for {e}"),
    }
}

#[test]
fn parses_the_documented_example() {
    let c = parse(GOOD).expect("good config");
    assert_eq!(c.messaging.broker, BrokerKind::Rabbitmq);
    assert_eq!(c.messaging.url, "amqp://127.0.0.1:5672/%2f");
    assert_eq!(c.messaging.heartbeat, Duration::from_secs(5));
    assert_eq!(c.messaging.prefetch, 4);
    assert_eq!(c.messaging.token.refresh_before, Duration::from_secs(10));
    assert_eq!(c.messaging.token.leeway, Duration::from_secs(30));
    match &c.messaging.token.source {
        TokenSource::Service { url, refresh_url } => {
            assert_eq!(url.as_str(), "http://127.0.0.1:7000/token");
            assert_eq!(refresh_url.as_str(), "http://127.0.0.1:7000/refresh");
        }
        other => panic!("expected the token service, got {other:?}"),
    }
    assert_eq!(c.gateway.url.as_str(), "http://127.0.0.1:18789/");
    assert_eq!(c.gateway.token.expose(), "clawchaos-gateway-token");
    assert_eq!(c.gateway.attempts, 3);
    assert_eq!(c.bridge.health_listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.bridge.ack, AckMode::AfterPublish);
}

#[test]
fn defaults_fill_a_minimal_file() {
    let c = parse(
        "messaging:\n  broker: kafka\n  url: 127.0.0.1:9092\ngateway:\n  url: http://127.0.0.1:1\n  token: t0ken\n",
    )
    .expect("minimal config");
    assert_eq!(c.messaging.tasks, "openclaw.tasks");
    assert_eq!(c.messaging.results, "openclaw.results");
    assert_eq!(c.messaging.token.source, TokenSource::None);
    assert_eq!(c.gateway.model, "openclaw");
    assert_eq!(c.gateway.timeout, Duration::from_secs(60));
    assert_eq!(c.bridge.ack, AckMode::AfterPublish);
    assert_eq!(c.bridge.health_listen.to_string(), DEFAULT_HEALTH_LISTEN);
}

#[test]
fn unknown_key_names_line_and_column() {
    let text = GOOD.replace("  prefetch: 4", "  prefetch: 4\n  prefech: 4");
    let e = parse(&text).unwrap_err();
    assert_eq!(position(&e), (8, 3), "{e}");
    assert!(e.message.contains("unknown field `prefech`"), "{e}");
    assert!(e.to_string().starts_with("bridge.yaml:8:3: "), "{e}");
    assert!(
        !e.message.contains(" at line "),
        "location only in front: {e}"
    );
}

#[test]
fn bad_duration_names_line_and_column() {
    let text = GOOD.replace("heartbeat: 5s", "heartbeat: 5 parsecs");
    let e = parse(&text).unwrap_err();
    assert_eq!(position(&e), (6, 14), "{e}");
    assert!(e.message.contains("expected a duration"), "{e}");
    let e = parse(&GOOD.replace("leeway: 30s", "leeway: 30")).unwrap_err();
    assert_eq!(position(&e), (11, 13), "{e}");
}

#[test]
fn bad_enum_and_type_name_line_and_column() {
    let e = parse(&GOOD.replace("broker: rabbitmq", "broker: rabbit")).unwrap_err();
    assert_eq!(position(&e).0, 2, "{e}");
    assert!(e.message.contains("rabbitmq"), "{e}");
    let e = parse(&GOOD.replace("prefetch: 4", "prefetch: many")).unwrap_err();
    assert_eq!(position(&e).0, 7, "{e}");
    let e = parse(&GOOD.replace("ack: after_publish", "ack: whenever")).unwrap_err();
    assert_eq!(position(&e).0, 20, "{e}");
}

#[test]
fn non_loopback_is_refused_with_position() {
    let e = parse(&GOOD.replace("amqp://127.0.0.1", "amqp://10.1.2.3")).unwrap_err();
    assert_eq!(position(&e), (3, 8), "{e}");
    assert!(e.message.contains("loopback"), "{e}");
    let e = parse(&GOOD.replace("http://127.0.0.1:18789", "http://example.com:18789")).unwrap_err();
    assert_eq!(position(&e), (13, 8), "{e}");
    let e = parse(&GOOD.replace("http://127.0.0.1:7000", "http://192.168.0.1:7000")).unwrap_err();
    assert_eq!(position(&e), (9, 10), "{e}");
    let e = parse(&GOOD.replace("health_listen: 127.0.0.1", "health_listen: 0.0.0.0")).unwrap_err();
    assert_eq!(position(&e), (19, 18), "{e}");
}

#[test]
fn env_beats_the_file() {
    let c = parse_with(
        GOOD,
        &[
            ("OPENCLAW_MESSAGING_URL", "amqp://u:p@127.0.0.1:5999/%2f"),
            ("OPENCLAW_GATEWAY_URL", "http://127.0.0.1:4000"),
            ("OPENCLAW_GATEWAY_TOKEN", "from-env"),
            ("CLAW_BRIDGE_HEALTH_LISTEN", "127.0.0.1:9999"),
            (
                "OPENCLAW_MESSAGING_TOKEN_URL",
                "http://127.0.0.1:7100/v1/token",
            ),
        ],
    )
    .expect("env config");
    assert_eq!(c.messaging.url, "amqp://u:p@127.0.0.1:5999/%2f");
    assert_eq!(c.gateway.url.as_str(), "http://127.0.0.1:4000/");
    assert_eq!(c.gateway.token.expose(), "from-env");
    assert_eq!(c.bridge.health_listen.port(), 9999);
    match &c.messaging.token.source {
        TokenSource::Service { url, refresh_url } => {
            assert_eq!(url.as_str(), "http://127.0.0.1:7100/v1/token");
            assert_eq!(refresh_url.as_str(), "http://127.0.0.1:7100/v1/refresh");
        }
        other => panic!("expected the token service, got {other:?}"),
    }
}

#[test]
fn static_token_beats_the_token_service() {
    let c = parse_with(GOOD, &[("OPENCLAW_MESSAGING_TOKEN", "eyJ.static.jwt")]).unwrap();
    assert_eq!(
        c.messaging.token.source,
        TokenSource::Static(Secret::new("eyJ.static.jwt"))
    );
}

#[test]
fn env_broker_switch_changes_defaults_and_url_rules() {
    let e = parse_with(GOOD, &[("OPENCLAW_MESSAGING_BROKER", "kafka")]).unwrap_err();
    // The file's amqp URL is not bootstrap servers.
    assert_eq!(position(&e).0, 3, "{e}");
    let c = parse_with(
        GOOD.replace("  tasks: openclaw_tasks\n  results: openclaw_results\n", "")
            .as_str(),
        &[
            ("OPENCLAW_MESSAGING_BROKER", "kafka"),
            ("OPENCLAW_MESSAGING_URL", "127.0.0.1:9092"),
        ],
    )
    .unwrap();
    assert_eq!(c.messaging.broker, BrokerKind::Kafka);
    assert_eq!(c.messaging.tasks, "openclaw.tasks");
    let e = parse_with(GOOD, &[("OPENCLAW_MESSAGING_BROKER", "nats")]).unwrap_err();
    assert_eq!(e.origin, Origin::Env("OPENCLAW_MESSAGING_BROKER"));
}

#[test]
fn bad_env_value_names_the_variable() {
    let e = parse_with(GOOD, &[("OPENCLAW_GATEWAY_URL", "http://10.0.0.7:1")]).unwrap_err();
    assert_eq!(e.origin, Origin::Env("OPENCLAW_GATEWAY_URL"));
    assert!(e.to_string().starts_with("OPENCLAW_GATEWAY_URL: "), "{e}");
    assert!(e.message.contains("loopback"));
}

#[test]
fn missing_required_values_point_at_the_section() {
    let e = parse(
        "messaging:\n  broker: rabbitmq\ngateway:\n  url: http://127.0.0.1:1\n  token: x1234\n",
    )
    .unwrap_err();
    assert_eq!(position(&e), (1, 1), "{e}");
    assert!(e.message.contains("OPENCLAW_MESSAGING_URL"), "{e}");
    let e = parse("").unwrap_err();
    assert_eq!(position(&e), (1, 1), "{e}");
}

#[test]
fn sasl_is_kafka_only() {
    let text = GOOD.replace(
        "  prefetch: 4\n",
        "  prefetch: 4\n  sasl: {mechanism: SCRAM-SHA-256, username: u, password: p}\n",
    );
    let e = parse(&text).unwrap_err();
    assert_eq!(position(&e).0, 8, "{e}");
    let text = text
        .replace("broker: rabbitmq", "broker: kafka")
        .replace("amqp://127.0.0.1:5672/%2f", "127.0.0.1:9092");
    let c = parse(&text).unwrap();
    let sasl = c.messaging.sasl.expect("sasl");
    assert_eq!(sasl.mechanism, "SCRAM-SHA-256");
    assert_eq!(sasl.password.expose(), "p");
}

#[test]
fn debug_output_hides_secrets() {
    let c = parse_with(GOOD, &[("OPENCLAW_MESSAGING_TOKEN", "eyJstatic.jwt.value")]).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("clawchaos-gateway-token"), "{debug}");
    assert!(!debug.contains("eyJstatic"), "{debug}");
}
