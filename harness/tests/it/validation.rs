//! Scenario validation: every bad input is reported with its file, line and column, and what
//! was expected; a valid file parses into the plain types.

use std::path::Path;
use std::time::Duration;

use clawchaos::scenario::{
    BrokerKind, Diagnostic, ExpectKind, FaultAction, LinkFault, ServiceKind, Stream, parse_str,
};

/// A small valid scenario: one link, a probe, a fault and an expectation about it.
pub(crate) const VALID: &str = r#"
name = "ok"

[services.llm]
kind = "mock_llm"

[links.llm]
to = "llm"

[probes.fast]
kind = "http"
link = "llm"
path = "/v1/models"
status = 200

[steady_state]
probes = ["fast"]

[[faults]]
name = "slow"
kind = "latency"
link = "llm"
latency = "250ms"
at = "1s"
duration = "2s"

[[expect]]
kind = "detect"
fault = "slow"
probe = "fast"
within = "3s"
"#;

/// The problems found in `text`, which must be rejected.
pub(crate) fn problems(text: &str) -> Vec<Diagnostic> {
    match parse_str(Path::new("bad.toml"), text) {
        Ok(_) => panic!("expected the scenario to be rejected"),
        Err(e) => e.diagnostics().to_vec(),
    }
}

/// The one problem in `text`, checked for position and message.
fn one_problem(text: &str, line: usize, column: usize, needle: &str) {
    let found = problems(text);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one problem, got: {found:#?}"
    );
    let d = &found[0];
    assert_eq!((d.line, d.column), (line, column), "position of: {d}");
    assert!(
        d.message.contains(needle),
        "message {:?} lacks {needle:?}",
        d.message
    );
    assert_eq!(d.file, Path::new("bad.toml"));
}

#[test]
fn a_valid_scenario_parses_into_plain_types() {
    let s = parse_str(Path::new("ok.toml"), VALID).expect("valid");
    assert_eq!(s.name, "ok");
    assert_eq!(s.faults.len(), 1);
    let f = &s.faults[0];
    assert_eq!(f.start.at, Duration::from_secs(1));
    assert_eq!(f.duration, Some(Duration::from_secs(2)));
    assert_eq!(
        f.action,
        FaultAction::Link {
            link: "llm".into(),
            stream: Stream::Downstream,
            toxicity: 1.0,
            fault: LinkFault::Latency {
                latency: Duration::from_millis(250),
                jitter: Duration::ZERO,
            },
        }
    );
    assert_eq!(
        s.expectations[0].kind,
        ExpectKind::Detect {
            fault: "slow".into(),
            within: Duration::from_secs(3),
            not_before: None,
        }
    );
}

#[test]
fn unknown_top_level_key() {
    let text = VALID.replace("name = \"ok\"", "name = \"ok\"\nfaultz = 1");
    one_problem(&text, 3, 1, "unknown key `faultz`");
}

#[test]
fn unknown_key_in_a_fault_names_the_allowed_keys() {
    let text = VALID.replace("latency = \"250ms\"", "latency = \"250ms\"\nlatncy = 3");
    let line = text
        .lines()
        .position(|l| l.starts_with("latncy"))
        .expect("line")
        + 1;
    one_problem(
        &text,
        line,
        1,
        "expected one of: name, kind, at, after, duration, link, stream, toxicity, latency, jitter",
    );
}

#[test]
fn bad_duration() {
    let text = VALID.replace("latency = \"250ms\"", "latency = \"quarter second\"");
    let line = text
        .lines()
        .position(|l| l.starts_with("latency"))
        .expect("line")
        + 1;
    one_problem(&text, line, 11, "must be a duration like \"250ms\"");
}

#[test]
fn duration_given_as_a_number() {
    let text = VALID.replace("within = \"3s\"", "within = 3");
    let line = text
        .lines()
        .position(|l| l.starts_with("within"))
        .expect("line")
        + 1;
    one_problem(&text, line, 10, "found integer 3");
}

#[test]
fn unknown_fault_kind() {
    let text = VALID.replace("kind = \"latency\"", "kind = \"latenzy\"");
    let line = text
        .lines()
        .position(|l| l == "kind = \"latenzy\"")
        .expect("line")
        + 1;
    one_problem(
        &text,
        line,
        8,
        "unknown fault kind \"latenzy\" in [[faults]]; expected one of: latency,",
    );
}

#[test]
fn reference_to_a_service_that_does_not_exist() {
    let text = VALID.replace("to = \"llm\"", "to = \"lml\"");
    one_problem(
        &text,
        8,
        6,
        "no service named \"lml\"; services in this scenario: llm",
    );
}

#[test]
fn reference_to_a_probe_that_does_not_exist() {
    let text = VALID.replace("probe = \"fast\"", "probe = \"quick\"");
    let line = text
        .lines()
        .position(|l| l == "probe = \"quick\"")
        .expect("line")
        + 1;
    one_problem(
        &text,
        line,
        9,
        "no probe named \"quick\"; probes in this scenario: fast",
    );
}

#[test]
fn reference_to_a_fault_that_does_not_exist() {
    let text = VALID.replace("fault = \"slow\"", "fault = \"slower\"");
    let line = text
        .lines()
        .position(|l| l == "fault = \"slower\"")
        .expect("line")
        + 1;
    one_problem(
        &text,
        line,
        9,
        "no fault named \"slower\"; faults in this scenario: slow",
    );
}

#[test]
fn link_fault_on_a_link_that_does_not_exist() {
    let text = VALID.replace("link = \"llm\"\nlatency", "link = \"gateway\"\nlatency");
    let line = text
        .lines()
        .position(|l| l == "link = \"gateway\"")
        .expect("line")
        + 1;
    one_problem(&text, line, 8, "no link named \"gateway\"");
}

#[test]
fn missing_required_key() {
    let text = VALID.replace("within = \"3s\"\n", "");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains("missing `within`"),
        "{}",
        found[0]
    );
}

#[test]
fn broken_toml_syntax_has_a_position() {
    let text = VALID.replace("[links.llm]", "[links.llm");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].line, 7, "{}", found[0]);
    assert!(
        found[0].message.starts_with("not valid TOML"),
        "{}",
        found[0]
    );
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let text = VALID
        .replace("to = \"llm\"", "to = \"nope\"")
        .replace("within = \"3s\"", "within = \"soon\"")
        .replace("kind = \"http\"", "kind = \"http\"\ncolour = \"red\"");
    let found = problems(&text);
    assert_eq!(found.len(), 3, "{found:#?}");
    let lines: Vec<usize> = found.iter().map(|d| d.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}

#[test]
fn a_diagnostic_prints_file_line_column_and_a_caret() {
    let text = VALID.replace("to = \"llm\"", "to = \"lml\"");
    let shown = problems(&text)[0].to_string();
    assert!(
        shown.starts_with("bad.toml:8:6: no service named"),
        "{shown}"
    );
    assert!(
        shown.contains("    | to = \"lml\"\n    |      ^"),
        "{shown}"
    );
}

#[test]
fn duplicate_fault_names() {
    let extra = "\n[[faults]]\nname = \"slow\"\nkind = \"link_down\"\nlink = \"llm\"\n";
    let text = format!("{VALID}{extra}");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0]
            .message
            .contains("used twice (first at line 20, column 8"),
        "{}",
        found[0]
    );
}

#[test]
fn llm_fault_needs_a_mock_llm_and_a_known_status() {
    let extra =
        "\n[[faults]]\nname = \"teapot\"\nkind = \"llm_error\"\nservice = \"llm\"\nstatus = 418\n";
    let text = format!("{VALID}{extra}");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0]
            .message
            .contains("`status` 418 is not one the mock LLM knows"),
        "{}",
        found[0]
    );
}

#[test]
fn every_shipped_scenario_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files = clawchaos::scenario::discover(&[root]).expect("scenarios folder");
    assert!(!files.is_empty());
    for file in files {
        if let Err(e) = clawchaos::scenario::load(&file) {
            panic!("{e}");
        }
    }
}

/// A gateway topology that only checks its steady state; tests append to its last table.
const GATEWAY: &str = r#"
smoke = true

[services.llm]
kind = "mock_llm"

[services.web]
kind = "process"
command = ["true"]

[probes.up]
kind = "tcp"
service = "llm"

[steady_state]
probes = ["up"]

[services.gateway]
kind = "openclaw"
provider = { service = "llm" }
"#;

#[test]
fn an_openclaw_service_parses_with_its_settings() {
    let text = format!(
        "{GATEWAY}fallbacks = [\"mock-fallback\"]\ntimeout_seconds = 10\nport_from = \"env\"\nconfig = {{ gateway = {{ bind = \"lan\" }} }}\n"
    );
    let s = parse_str(Path::new("gw.toml"), &text).expect("valid");
    let clawchaos::scenario::ServiceKind::OpenClaw(oc) = &s.services["gateway"].kind else {
        panic!("not an openclaw service");
    };
    assert_eq!(oc.fallbacks, ["mock-fallback"]);
    assert_eq!(oc.timeout_seconds, Some(10));
    assert_eq!(oc.port_from, clawchaos::scenario::PortSource::Env);
    assert_eq!(oc.config["gateway"]["bind"], "lan");
}

#[test]
fn a_gateway_provider_must_be_a_mock_llm() {
    let text = GATEWAY.replace(
        "provider = { service = \"llm\" }",
        "provider = { service = \"web\" }",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains("must be a mock_llm service"),
        "{}",
        found[0]
    );
}

#[test]
fn privileged_port_needs_an_unprivileged_user() {
    let text = format!(
        "{GATEWAY}\n[[faults]]\nname = \"low\"\nkind = \"privileged_port\"\nservice = \"gateway\"\n"
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0]
            .message
            .contains("needs an openclaw service with a `user`"),
        "{}",
        found[0]
    );
}

#[test]
fn before_start_faults_take_no_start_time() {
    let text = format!(
        "{GATEWAY}\n[[faults]]\nname = \"taken\"\nkind = \"squat_port\"\nservice = \"gateway\"\nat = \"1s\"\n"
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains("before the topology starts"),
        "{}",
        found[0]
    );
}

#[test]
fn a_log_pattern_with_placeholders_is_checked_for_syntax() {
    let ok = format!(
        "{GATEWAY}\n[probes.p]\nkind = \"log\"\nservice = \"gateway\"\nregex = 'Port {{port:gateway}} is in use'\n"
    );
    parse_str(Path::new("ok.toml"), &ok).expect("placeholders are fine");
    let bad = format!(
        "{GATEWAY}\n[probes.p]\nkind = \"log\"\nservice = \"gateway\"\nregex = 'Port ({{port:gateway}}'\n"
    );
    let found = problems(&bad);
    assert!(
        found[0].message.contains("does not compile"),
        "{}",
        found[0]
    );
}

const DASHBOARD: &str = r#"
name = "dash"

[services.gateway]
kind = "openclaw"
token = "secret-token"
allowed_origins = ["http://dashboard.test"]

[probes.accepted]
kind = "gateway_connect"
service = "gateway"
origin = "http://dashboard.test"
outcome = "accepted"

[[faults]]
name = "allowlist"
kind = "openclaw_config"
service = "gateway"
set = { gateway = { controlUi = { allowedOrigins = ["https://other.test"] } } }
at = "1s"

[probes.up]
kind = "tcp"
service = "gateway"

[[expect]]
kind = "invariant"
probe = "up"
"#;

#[test]
fn a_gateway_connect_probe_takes_the_gateway_s_token_and_a_config_fault_its_patch() {
    let scenario = parse_str(Path::new("dash.toml"), DASHBOARD).expect("valid");
    let probe = scenario.probes.get("accepted").expect("probe");
    match &probe.kind {
        clawchaos::scenario::ProbeKind::GatewayConnect {
            token,
            origin,
            client,
            ..
        } => {
            assert_eq!(token, "secret-token");
            assert_eq!(origin.as_deref(), Some("http://dashboard.test"));
            assert_eq!(client.0, "openclaw-control-ui");
        }
        other => panic!("not a gateway_connect probe: {other:?}"),
    }
    match &scenario.faults[0].action {
        FaultAction::Config {
            service,
            patch,
            restart,
        } => {
            assert_eq!(service, "gateway");
            assert!(!restart, "the gateway hot-reloads its config");
            assert_eq!(
                patch["gateway"]["controlUi"]["allowedOrigins"][0],
                "https://other.test"
            );
        }
        other => panic!("not a config fault: {other:?}"),
    }
}

#[test]
fn a_gateway_connect_probe_needs_an_outcome_and_a_refusal_pattern_only_when_refused() {
    let text = DASHBOARD.replace("outcome = \"accepted\"", "outcome = \"maybe\"");
    one_problem(&text, 13, 11, "expected one of: accepted, refused");
    let text = DASHBOARD.replace(
        "outcome = \"accepted\"",
        "outcome = \"accepted\"\nerror = \"origin\"",
    );
    one_problem(&text, 14, 9, "refusal");
}

#[test]
fn a_config_fault_needs_an_openclaw_service_and_a_table() {
    let text = DASHBOARD.replace(
        "[[faults]]",
        "[services.llm]\nkind = \"mock_llm\"\n\n[[faults]]",
    );
    let text = text.replace(
        "kind = \"openclaw_config\"\nservice = \"gateway\"",
        "kind = \"openclaw_config\"\nservice = \"llm\"",
    );
    one_problem(&text, 21, 11, "needs an openclaw service");
    let text = DASHBOARD.replace(
        "set = { gateway = { controlUi = { allowedOrigins = [\"https://other.test\"] } } }",
        "set = 3",
    );
    one_problem(&text, 19, 7, "table");
}

#[test]
fn a_ledger_probe_needs_a_ledger_and_the_ledger_a_rabbitmq_broker() {
    let text = VALID.replace(
        "[steady_state]",
        "[probes.flowing]\nkind = \"ledger\"\nresults_within = \"5s\"\n\n[steady_state]",
    );
    one_problem(&text, 16, 9, "has no [ledger]");
    let text = format!("{text}\n[ledger]\nbroker = \"llm\"\n");
    one_problem(&text, 38, 10, "is not a rabbitmq or tansu service");
}

const KAFKA: &str = r#"
name = "kafka"

[services.llm]
kind = "mock_llm"

[services.gateway]
kind = "openclaw"
provider = { service = "llm" }

[services.broker]
kind = "tansu"

[links.kafka]
to = "broker"

[services.bridge]
kind = "bridge"
broker = { link = "kafka" }
gateway = { service = "gateway" }

[[faults]]
name = "wrong-password"
kind = "bridge_config"
service = "bridge"
set = { messaging = { sasl = { password = "wrong" } } }
at = "1s"

[probes.up]
kind = "tcp"
service = "broker"

[[expect]]
kind = "invariant"
probe = "up"
"#;

#[test]
fn a_bridge_on_a_tansu_link_knows_its_broker_speaks_kafka() {
    let scenario = parse_str(Path::new("kafka.toml"), KAFKA).expect("valid");
    match &scenario.services["bridge"].kind {
        ServiceKind::Bridge(bridge) => assert_eq!(
            bridge.broker_kind,
            BrokerKind::Kafka {
                service: "broker".into(),
                scram: false
            }
        ),
        other => panic!("not a bridge: {other:?}"),
    }
    match &scenario.faults[0].action {
        FaultAction::Config {
            service, restart, ..
        } => assert_eq!((service.as_str(), *restart), ("bridge", true)),
        other => panic!("not a config fault: {other:?}"),
    }
}

#[test]
fn a_tansu_broker_takes_one_link_and_none_with_scram() {
    let text = KAFKA.replace(
        "[services.bridge]",
        "[links.second]\nto = \"broker\"\n\n[services.bridge]",
    );
    one_problem(&text, 17, 1, "only one link may lead to \"broker\"");
    let text = KAFKA.replace("kind = \"tansu\"", "kind = \"tansu\"\nscram = true");
    one_problem(&text, 15, 1, "Tansu's relay, which does not carry SASL");
}

#[test]
fn a_bridge_config_fault_needs_a_bridge() {
    let text = KAFKA.replace("service = \"bridge\"\nset", "service = \"gateway\"\nset");
    one_problem(&text, 25, 11, "`bridge_config` needs a bridge service");
}

#[test]
fn a_renamed_fault_kind_still_reads_under_its_old_name_and_reports_the_new_one() {
    let text = r#"
[services.tokens]
kind = "token_service"

[services.broker]
kind = "rabbitmq"
tokens = "tokens"

[probes.up]
kind = "tcp"
service = "broker"

[steady_state]
probes = ["up"]

[[faults]]
name = "limit"
kind = "broker_connection_limit"
service = "broker"
max_connections = 0

[[expect]]
kind = "invariant"
probe = "up"
"#;
    let scenario = parse_str(Path::new("old-name.toml"), text).expect("the old name still works");
    assert_eq!(scenario.faults[0].kind, "rabbitmq_connection_limit");
    assert!(matches!(
        scenario.faults[0].action,
        FaultAction::Broker { .. }
    ));
}

#[test]
fn a_fault_at_the_ip_layer_says_the_process_backend_cannot_run_it() {
    let fault = r#"
[[faults]]
name = "gone"
kind = "ip_drop"
service = "llm"
peer = { link = "llm" }
stream = "upstream"
at = "1s"
duration = "2s"
"#;
    let text = VALID.replace("[[faults]]", &format!("{fault}\n[[faults]]"));
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0]
            .message
            .contains("say so with `[unsupported]` `process = \"...\"`"),
        "{}",
        found[0].message
    );
    let declared = text.replacen(
        "[[faults]]",
        "[unsupported]\nprocess = \"no pods here\"\n\n[[faults]]",
        1,
    );
    let scenario = clawchaos::scenario::parse_str(Path::new("ok.toml"), &declared)
        .unwrap_or_else(|e| panic!("{:#?}", e.diagnostics()));
    let action = &scenario.faults[0].action;
    assert!(
        matches!(
            action,
            FaultAction::Network {
                fault: clawchaos::scenario::NetworkFault::Drop {
                    stream: Stream::Upstream,
                    ..
                },
                ..
            }
        ),
        "{action:?}"
    );
}

#[test]
fn an_ip_drop_needs_a_known_peer_and_a_direction() {
    let fault = r#"
[unsupported]
process = "no pods here"

[[faults]]
name = "gone"
kind = "ip_drop"
service = "llm"
peer = { service = "nowhere" }
at = "1s"
duration = "2s"
"#;
    let text = VALID.replace("[[faults]]", &format!("{fault}\n[[faults]]"));
    let found = problems(&text);
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("which the scenario does not declare")),
        "{messages:?}"
    );
}

/// `VALID` with a known defect on its `fast` probe, `versions` and `services` as given.
fn with_known_defect(versions: &str, services: &str) -> String {
    VALID.replace(
        "[services.llm]",
        &format!(
            "[known_defect]\nsummary = \"slow\"\nreport = \"docs/x.md\"\nprobes = [\"fast\"]\nversions = \"{versions}\"\n\n{services}[services.llm]"
        ),
    )
}

#[test]
fn a_known_defect_s_versions_are_a_range_of_openclaw_releases() {
    let gateway = "[services.gateway]\nkind = \"openclaw\"\nprovider = { service = \"llm\" }\n\n";
    let s = parse_str(
        Path::new("ok.toml"),
        &with_known_defect(">=2026.3.13, <2026.8.0", gateway),
    )
    .expect("valid");
    let defect = s.known_defect.expect("a known defect");
    assert!(defect.expected_on(Some("OpenClaw 2026.7.1")));
    assert!(!defect.expected_on(Some("OpenClaw 2026.9.6")));
    assert!(
        defect.expected_on(None),
        "an unknown release is judged as the file says"
    );

    let text = with_known_defect("<2026.8", gateway);
    let line = text
        .lines()
        .position(|l| l.starts_with("versions"))
        .expect("line")
        + 1;
    one_problem(&text, line, 12, "expected e.g. \"<2026.8.0\"");
    one_problem(
        &with_known_defect("<2026.8.0", ""),
        line,
        12,
        "this scenario has no openclaw service",
    );
}

/// `VALID` with `openclaw = [..]` at the top, and a gateway when `gateway` says so.
fn with_releases(releases: &str, gateway: bool) -> String {
    let services = if gateway {
        "[services.gateway]\nkind = \"openclaw\"\nprovider = { service = \"llm\" }\n\n"
    } else {
        ""
    };
    VALID
        .replace(
            "name = \"ok\"\n",
            &format!("name = \"ok\"\nopenclaw = {releases}\n"),
        )
        .replace("[services.llm]", &format!("{services}[services.llm]"))
}

#[test]
fn a_scenario_pins_the_openclaw_releases_it_runs_on() {
    let s = parse_str(
        Path::new("ok.toml"),
        &with_releases(r#"["2026.7.1", "2026.9.6"]"#, true),
    )
    .expect("valid");
    let releases: Vec<String> = s.openclaw.iter().map(ToString::to_string).collect();
    assert_eq!(releases, ["2026.7.1", "2026.9.6"]);

    let line = 3;
    one_problem(
        &with_releases(r#"["2026.7.1", "2026.7"]"#, true),
        line,
        25,
        "`2026.7` is not an OpenClaw release",
    );
    one_problem(
        &with_releases(r#"["2026.7.1", "2026.7.1"]"#, true),
        line,
        25,
        "2026.7.1 is listed twice",
    );
    one_problem(
        &with_releases(r#"["2026.7.1"]"#, false),
        line,
        13,
        "this scenario has no openclaw service",
    );
}

#[test]
fn an_exited_probe_takes_a_code_or_failed_not_both() {
    let probe = "[probes.down]\nkind = \"exited\"\nservice = \"llm\"\n";
    let text = VALID.replace(
        "[steady_state]",
        &format!("{probe}code = 1\nfailed = true\n\n[steady_state]"),
    );
    let line = text
        .lines()
        .position(|l| l.starts_with("failed"))
        .expect("line")
        + 1;
    one_problem(&text, line, 10, "not both");
    let failed_only = VALID.replace(
        "[steady_state]",
        &format!("{probe}failed = true\n\n[steady_state]"),
    );
    parse_str(Path::new("ok.toml"), &failed_only).expect("failed alone is valid");
}

/// A scenario beside an `openclaw.json` holding `config`, with a gateway that names it.
fn with_config_file(dir: &Path, config: &str) -> (std::path::PathBuf, String) {
    std::fs::write(dir.join("openclaw.json"), config).expect("config file");
    let text = VALID.replace(
        "[services.llm]",
        "[services.gateway]\nkind = \"openclaw\"\nprovider = { service = \"llm\" }\nconfig_file = \"openclaw.json\"\n\n[services.llm]",
    );
    (dir.join("s.toml"), text)
}

#[test]
fn a_user_s_own_config_file_is_read_from_the_scenario_s_folder_and_checked() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (file, text) = with_config_file(tmp.path(), r#"{"session": {"idleMinutes": 5}}"#);
    let s = parse_str(&file, &text).expect("valid");
    let gateway = match &s.services["gateway"].kind {
        clawchaos::scenario::ServiceKind::OpenClaw(spec) => spec.clone(),
        other => panic!("not a gateway: {other:?}"),
    };
    let user = gateway.config_file.expect("read");
    assert_eq!(user.value["session"]["idleMinutes"], 5);

    let problem = |config: &str| {
        let (file, text) = with_config_file(tmp.path(), config);
        let found = match parse_str(&file, &text) {
            Ok(_) => panic!("{config} accepted"),
            Err(clawchaos::scenario::ScenarioError::Invalid(problems)) => problems,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(found.len(), 1, "{found:#?}");
        let line = text
            .lines()
            .position(|l| l.starts_with("config_file"))
            .expect("line")
            + 1;
        assert_eq!((found[0].line, found[0].column), (line, 15));
        found[0].message.clone()
    };
    let owned = problem(
        r#"{"gateway": {"port": 18789, "auth": {"token": "x"}}, "agents": {"defaults": {"model": "openai/gpt"}}}"#,
    );
    assert!(
        owned.contains("`gateway.port` (the scenario's `port` or `port_from`), `gateway.auth` (the scenario's `token`)")
            && owned.contains("`agents.defaults.model` (the scenario's `models` and `fallbacks`)"),
        "{owned}"
    );
    let broken = problem("{\"gateway\": {\n  \"bind\": }\n}");
    assert!(
        broken.contains("openclaw.json:2:11: not a JSON object of OpenClaw settings"),
        "{broken}"
    );
    assert!(problem("[1, 2]").contains("not a JSON object"));
    std::fs::remove_file(tmp.path().join("openclaw.json")).expect("removed");
    let missing = parse_str(&file, &text).expect_err("no file");
    assert!(
        missing.to_string().contains("cannot read the config file"),
        "{missing}"
    );
}

#[test]
fn a_cli_probe_reaches_its_gateway_only_through_a_link_to_it() {
    let cli = |link: &str| {
        VALID
            .replace(
                "[services.llm]",
                "[services.gateway]\nkind = \"openclaw\"\nprovider = { service = \"llm\" }\n\n[links.gw]\nto = \"gateway\"\n\n[services.llm]",
            )
            .replace(
                "[steady_state]",
                &format!(
                    "[probes.status]\nkind = \"cli\"\nservice = \"gateway\"\nlink = \"{link}\"\nargs = [\"health\"]\n\n[steady_state]"
                ),
            )
    };
    let s = parse_str(Path::new("ok.toml"), &cli("gw")).expect("valid");
    assert!(matches!(
        &s.probes["status"].kind,
        clawchaos::scenario::ProbeKind::Cli { via: Some(link), .. } if link == "gw"
    ));
    let text = cli("llm");
    // The probe's `link`, two lines under its kind.
    let line = text
        .lines()
        .position(|l| l == "kind = \"cli\"")
        .expect("line")
        + 3;
    one_problem(&text, line, 8, "link \"llm\" leads to llm, not to gateway");
}

#[test]
fn a_gateway_connect_probe_can_sign_with_a_clock_off_the_gateway_s() {
    let with_offset = |offset: &str| {
        VALID
            .replace(
                "[services.llm]",
                "[services.gateway]\nkind = \"openclaw\"\nprovider = { service = \"llm\" }\n\n[services.llm]",
            )
            .replace(
                "[steady_state]",
                &format!(
                    "[probes.connect]\nkind = \"gateway_connect\"\nservice = \"gateway\"\noutcome = \"refused\"\n{offset}\n[steady_state]"
                ),
            )
    };
    let offset_of = |text: &str| match &parse_str(Path::new("ok.toml"), text).expect("valid").probes
        ["connect"]
        .kind
    {
        clawchaos::scenario::ProbeKind::GatewayConnect {
            clock_offset_secs, ..
        } => *clock_offset_secs,
        other => panic!("not a gateway_connect probe: {other:?}"),
    };
    assert_eq!(offset_of(&with_offset("clock_offset = \"-5m\"\n")), -300);
    assert_eq!(offset_of(&with_offset("clock_offset = \"+2m 30s\"\n")), 150);
    assert_eq!(
        offset_of(&with_offset("")),
        0,
        "the gateway's own time by default"
    );
}
