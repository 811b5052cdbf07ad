//! Scenario files: plain types, parsed and validated before anything starts.
//!
//! A scenario is data first and behaviour second: [`load`] turns a TOML file into a
//! [`Scenario`] (or into every problem found, with file, line and column), and only then does
//! the runner act on it. The format is documented in `docs/scenarios.md`.

mod diag;
mod files;
mod parse;
mod reader;
pub mod version;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use diag::{Diagnostic, ScenarioError};
pub use files::{discover, load, parse_str};
pub use parse::faults::{
    BrokerFault, FaultKind, LinkFault, LlmFault, NetworkFault, ProcessFault, Stream, TokenFault,
    fault_kinds, kind_named as fault_kind,
};
pub use parse::services::SERVICE_KINDS;
pub use reader::Spanned;

/// One scenario: a topology, the probes that watch it, the faults and what must follow them.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name used in reports and as the test name (defaults to the file stem).
    pub name: String,
    /// One line saying what the scenario proves.
    pub description: String,
    /// The file it came from.
    pub source: PathBuf,
    /// Seed for everything randomised in the run (proxy toxicity, jitter).
    pub seed: u64,
    /// Run-wide settings.
    pub settings: Settings,
    /// Services, by name.
    pub services: BTreeMap<String, ServiceSpec>,
    /// Proxied links, by name.
    pub links: BTreeMap<String, LinkSpec>,
    /// Probes, by name.
    pub probes: BTreeMap<String, ProbeSpec>,
    /// What must hold before the first fault and again after the last heal.
    pub steady_state: SteadyState,
    /// Faults, in file order.
    pub faults: Vec<FaultSpec>,
    /// Expectations, in file order.
    pub expectations: Vec<Expectation>,
    /// The task ledger, when the topology carries a broker.
    pub ledger: Option<LedgerSpec>,
    /// Which test tier runs it: every change (`ci`) or only the release regression.
    pub tier: Tier,
    /// The upstream defect this scenario reproduces (`[known_defect]`): its expectations are
    /// judged accordingly (see [`KnownDefect`]).
    pub known_defect: Option<KnownDefect>,
    /// The backends it cannot run on, each with the reason (`[unsupported]`, e.g.
    /// `containers = "..."`): a run there is reported as skipped, with the reason.
    pub unsupported: BTreeMap<String, String>,
    /// The OpenClaw releases it runs on, each (`openclaw = ["2026.7.1", "2026.9.6"]`); empty:
    /// the command's (`--openclaw`), else the one installed.
    pub openclaw: Vec<version::Version>,
}

/// A defect of a real component that the scenario reproduces (`[known_defect]`). The
/// expectations on its `probes` failing is then the expected verdict (reported as `XFAIL`,
/// not a failure); all of them passing is flagged (`XPASS`, a failure: the defect is gone, so
/// the mark must go too). Every other expectation is judged as usual.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDefect {
    /// One line: what the component does wrong.
    pub summary: String,
    /// Where it is written up: a file of `docs/` or an upstream issue's address.
    pub report: String,
    /// The probes whose expectations fail while the defect lasts.
    pub probes: Vec<String>,
    /// The OpenClaw releases it is expected on (`versions = "<2026.8.0"`); on others the
    /// scenario is judged as any other. None: every release.
    pub versions: Option<version::VersionRange>,
}

impl KnownDefect {
    /// Whether the defect is expected of a run whose OpenClaw reported `version_line` (its
    /// `--version`, "OpenClaw 2026.9.6"): always without `versions`, and when the version is
    /// not known (the defect's expectations are then judged as the file says).
    pub fn expected_on(&self, version_line: Option<&str>) -> bool {
        let (Some(range), Some(version)) = (
            &self.versions,
            version_line.and_then(version::Version::find_in),
        ) else {
            return true;
        };
        range.contains(&version)
    }
}

/// Which of the two test tiers a scenario belongs to (`tier = "ci"` in its file).
///
/// `cargo test --features chaos` (and so CI) runs the `ci` tier; the release regression
/// (`scripts/chaos`, or `cargo test --features chaos -- --include-ignored`) runs both.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Run on every change: the cheapest scenarios that together cover every fault kind,
    /// service kind and scenario folder (see `clawchaos::tier`).
    Ci,
    /// Run before a release, with everything else (the default).
    #[default]
    Release,
}

impl Tier {
    /// The tier's name as written in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Ci => "ci",
            Tier::Release => "release",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The harness's task ledger: it publishes tasks with ids at a set rate to the broker's task
/// queue and collects the results, so lost, doubled and overdue tasks are counted, not
/// assumed. At the end it stops publishing and waits for the outstanding tasks; nothing lost
/// and nothing doubled are then checked as invariants of every run.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerSpec {
    /// The rabbitmq or tansu service it talks to (directly, never through a link).
    pub broker: String,
    /// Tasks published per second.
    pub rate: f64,
    /// Each task must be done or explicitly failed this long after it was published; past
    /// that it is overdue.
    pub budget: Duration,
    /// The prompt every task carries.
    pub prompt: String,
    /// Tasks are padded to at least this many bytes (a large task makes a bandwidth limit
    /// on the broker link bite); 0 leaves them as small as they are.
    pub task_bytes: usize,
    /// Time allowed, at the end, for the outstanding tasks to complete.
    pub settle: Duration,
}

/// Conditions on the ledger's counts. Every one given must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerCheck {
    /// At least this many tasks overdue now.
    pub min_overdue: Option<usize>,
    /// At most this many tasks overdue now.
    pub max_overdue: Option<usize>,
    /// At most this many results for a task that already had one.
    pub max_duplicates: Option<usize>,
    /// At most this many tasks published and not yet done or failed: the consumers keep up
    /// (a steady state that requires it starts faults on a drained queue, not a backlog).
    pub max_outstanding: Option<usize>,
    /// At least this many results (done or failed) so far.
    pub min_results: Option<usize>,
    /// Some result arrived within this long (the tasks are flowing).
    pub results_within: Option<Duration>,
    /// No result for this long (the tasks have stopped flowing).
    pub no_results_for: Option<Duration>,
    /// At least this many results with status "failed".
    pub min_failed: Option<usize>,
    /// `results_within`, `min_results` and `no_results_for` count only results that came
    /// after the latest injection or heal.
    pub since_last_event: bool,
}

/// Run-wide settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Pause between two evaluations of the same probe.
    pub poll_interval: Duration,
    /// Hard cap on the whole run, set-up included.
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(100),
            timeout: Duration::from_secs(120),
        }
    }
}

/// A service in the topology.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// Its name, unique in the scenario.
    pub name: String,
    /// What it is.
    pub kind: ServiceKind,
}

/// The kinds of service a topology can hold.
#[derive(Debug, Clone)]
pub enum ServiceKind {
    /// The OpenAI-compatible mock LLM.
    MockLlm {
        /// Models it serves.
        models: Vec<String>,
        /// The assistant's reply text.
        reply: String,
    },
    /// The real OpenClaw gateway (npm `openclaw`), with a config written from the scenario.
    OpenClaw(Box<OpenClawSpec>),
    /// A private RabbitMQ node (Debian's `rabbitmq-server`) for this run: its own node name,
    /// ports, epmd and data folder; JWTs from `tokens` are its credential (OAuth 2 plugin),
    /// beside the internal `guest` user the harness itself uses.
    RabbitMq {
        /// The token service whose key verifies JWTs.
        tokens: Option<String>,
    },
    /// A Tansu broker (Kafka protocol) for this run, on sqlite storage in the run folder, with
    /// the task and result topics created. It advertises the address of the one link to it
    /// (so clients that bootstrap through the link stay on it); the harness's own clients
    /// reach it directly.
    Tansu {
        /// SASL/SCRAM-SHA-256 required: the bridge and the harness get users of their own.
        scram: bool,
    },
    /// The JWT issuer the bridge gets its broker credential from (in-process).
    TokenService {
        /// `hs256` or `rs256`.
        algorithm: String,
        /// Lifetime of the tokens it mints.
        ttl: Duration,
        /// Its clock's offset from the real one, in seconds (an issuer whose clock is wrong).
        clock_offset_secs: i64,
    },
    /// `claw-bridge`, the queue worker under test: tasks from the broker through the gateway,
    /// results back to the broker.
    Bridge(Box<BridgeSpec>),
    /// Any local program. `{host}`, `{port}`, `{run_dir}` and `{service_dir}` in its command
    /// and environment are replaced by the address it must listen on, the port the harness
    /// allocated and the run's folders.
    Process {
        /// Program and arguments.
        command: Vec<String>,
        /// Extra environment.
        env: Vec<(String, String)>,
        /// A probe that must hold before the service counts as started (default: its port
        /// accepts TCP connections).
        ready: Option<String>,
        /// How long readiness may take.
        ready_within: Duration,
    },
}

impl ServiceKind {
    /// The kind's name as written in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            ServiceKind::MockLlm { .. } => "mock_llm",
            ServiceKind::OpenClaw(_) => "openclaw",
            ServiceKind::Process { .. } => "process",
            ServiceKind::RabbitMq { .. } => "rabbitmq",
            ServiceKind::Tansu { .. } => "tansu",
            ServiceKind::TokenService { .. } => "token_service",
            ServiceKind::Bridge(_) => "bridge",
        }
    }

    /// What must run (or exist, for a link) before this service can start.
    pub fn needs(&self) -> Vec<Target> {
        match self {
            ServiceKind::OpenClaw(oc) => oc.provider.iter().cloned().collect(),
            ServiceKind::RabbitMq { tokens } => {
                tokens.iter().cloned().map(Target::Service).collect()
            }
            ServiceKind::Bridge(b) => {
                let mut needs = vec![b.broker.clone(), b.gateway.clone()];
                needs.extend(b.tokens.clone());
                needs
            }
            _ => Vec::new(),
        }
    }
}

/// The bridge's settings in a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeSpec {
    /// The broker (a rabbitmq or tansu service, or a link to one).
    pub broker: Target,
    /// What that broker is (resolved through the link, if any).
    pub broker_kind: BrokerKind,
    /// The gateway (an openclaw service, or a link to one).
    pub gateway: Target,
    /// The token service (or a link to one); without it the bridge logs in as `guest`.
    pub tokens: Option<Target>,
    /// Acknowledge tasks before their result is published: deliberately wrong, to show that
    /// the ledger catches the loss.
    pub ack_before_publish: bool,
    /// AMQP heartbeat: how soon a silent (partitioned) connection is noticed.
    pub heartbeat: Duration,
    /// Refresh the token this long before it expires.
    pub refresh_before: Duration,
    /// Clock difference to the issuer the bridge tolerates.
    pub leeway: Duration,
    /// Gateway tries per task before a "failed" result.
    pub attempts: u32,
    /// Time allowed for one gateway call.
    pub gateway_timeout: Duration,
    /// Time allowed to become healthy.
    pub ready_within: Duration,
    /// Whether a `clock_skew` fault targets it (it then runs under libfaketime).
    pub clock_skew: bool,
}

/// The kind of broker a bridge talks to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BrokerKind {
    /// RabbitMQ (AMQP 0-9-1).
    #[default]
    RabbitMq,
    /// Tansu (Kafka protocol).
    Kafka {
        /// The tansu service.
        service: String,
        /// Whether it requires SASL/SCRAM.
        scram: bool,
    },
}

/// How the gateway is told its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortSource {
    /// `--port N` on the command line (the default).
    #[default]
    Flag,
    /// `OPENCLAW_GATEWAY_PORT=N`; the config file names a different port, so the run shows
    /// which one wins.
    Env,
    /// Only `gateway.port` in the config file.
    Config,
}

/// The OpenClaw gateway's settings in a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenClawSpec {
    /// Where the provider (a mock LLM) is reached: straight or through a link's proxy.
    pub provider: Option<Target>,
    /// Model ids the provider declares; the first is the primary model.
    pub models: Vec<String>,
    /// Fallback model ids (`agents.defaults.model.fallbacks`).
    pub fallbacks: Vec<String>,
    /// `models.providers.mock.timeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// `gateway.bind`: loopback, lan, tailnet, auto or custom.
    pub bind: String,
    /// The gateway's auth token (`gateway.auth.token`).
    pub token: String,
    /// The provider API key the gateway sends.
    pub api_key: String,
    /// `gateway.controlUi.allowedOrigins`.
    pub allowed_origins: Vec<String>,
    /// A fixed port instead of a free one the harness picks.
    pub port: Option<u16>,
    /// How the port is passed.
    pub port_from: PortSource,
    /// Run as this (unprivileged) user.
    pub user: Option<String>,
    /// Extra environment (`{port}` substituted).
    pub env: Vec<(String, String)>,
    /// How long `/readyz` may take to answer 200.
    pub ready_within: Duration,
    /// Whether to wait for `/readyz` at all (not when the scenario expects a failed start).
    pub wait_ready: bool,
    /// Raw config overrides, deep-merged last.
    pub config: serde_json::Value,
    /// The user's own `openclaw.json` (`config_file`), read when the scenario is: the base
    /// the harness's settings are merged over.
    pub config_file: Option<UserConfig>,
}

/// A user's own gateway config (`config_file = "path/to/openclaw.json"`).
#[derive(Debug, Clone, PartialEq)]
pub struct UserConfig {
    /// The file, as found from the scenario's folder.
    pub path: std::path::PathBuf,
    /// Its content.
    pub value: serde_json::Value,
}

impl Default for OpenClawSpec {
    fn default() -> Self {
        Self {
            provider: None,
            models: vec!["mock-model".to_string()],
            fallbacks: Vec::new(),
            timeout_seconds: None,
            bind: "loopback".to_string(),
            token: "clawchaos-gateway-token".to_string(),
            api_key: "sk-clawchaos-test".to_string(),
            allowed_origins: Vec::new(),
            port: None,
            port_from: PortSource::Flag,
            user: None,
            env: Vec::new(),
            ready_within: Duration::from_secs(120),
            wait_ready: true,
            config: serde_json::Value::Object(serde_json::Map::new()),
            config_file: None,
        }
    }
}

impl OpenClawSpec {
    /// The primary model id.
    pub fn primary_model(&self) -> &str {
        self.models.first().map_or("mock-model", String::as_str)
    }
}

/// A link: a fault-injecting proxy in front of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSpec {
    /// Its name, unique in the scenario; also the proxy's name.
    pub name: String,
    /// The service the proxy forwards to.
    pub to: String,
}

/// Where a probe sends its traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Straight to the service.
    Service(String),
    /// Through the link's proxy.
    Link(String),
}

/// A named condition the runner evaluates over and over.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    /// Its name, unique in the scenario.
    pub name: String,
    /// What it checks.
    pub kind: ProbeKind,
    /// Pause between two evaluations, if not the run's `poll_interval` (e.g. for probes that
    /// drive a whole gateway turn each time).
    pub interval: Option<Duration>,
    /// Poll it for the whole run, not only while a check needs it: for probes whose requests
    /// are the traffic the scenario needs (turns that meet the fault).
    pub always: bool,
}

/// How an HTTP request may fail, as a probe expects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Any failure to get a response.
    Any,
    /// No complete response within the probe's timeout.
    Timeout,
    /// The connection was refused.
    Refused,
    /// The connection was reset or closed before a response.
    Reset,
}

impl ErrorClass {
    /// Names as written in scenario files.
    pub const NAMES: [&'static str; 4] = ["any", "timeout", "refused", "reset"];

    /// Parses a name from [`Self::NAMES`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "any" => Some(Self::Any),
            "timeout" => Some(Self::Timeout),
            "refused" => Some(Self::Refused),
            "reset" => Some(Self::Reset),
            _ => None,
        }
    }

    /// The name as written in scenario files.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// What a probe checks. Every condition given must hold for the probe to be true.
#[derive(Debug, Clone)]
pub enum ProbeKind {
    /// An HTTP request.
    Http {
        /// Where it goes.
        target: Target,
        /// Which loopback address: 127.0.0.1 (default) or ::1, on the target's port.
        family: Family,
        /// HTTP method.
        method: String,
        /// Path and query.
        path: String,
        /// Request body, sent as JSON content.
        body: Option<String>,
        /// Request headers.
        headers: Vec<(String, String)>,
        /// Time allowed for the whole response.
        timeout: Duration,
        /// The conditions on the outcome.
        check: HttpCheck,
    },
    /// A TCP connect.
    Tcp {
        /// Where it connects.
        target: Target,
        /// Which loopback address: 127.0.0.1 (default) or ::1, on the target's port.
        family: Family,
        /// Time allowed for the connect.
        timeout: Duration,
        /// True when the connect succeeds (default) or, with `false`, when it fails.
        connects: bool,
    },
    /// A regular expression over a service's captured output (stdout and stderr).
    Log {
        /// The service.
        service: String,
        /// The pattern; `{port:SERVICE}`, `{pid:SERVICE}` and `{squatter_pid}` are replaced
        /// by their values when it is evaluated.
        regex: String,
        /// Matching lines needed.
        min_count: usize,
        /// At most this many matching lines (`0`: the pattern must never appear).
        max_count: Option<usize>,
        /// Count only lines printed since the latest injection or heal.
        since_last_event: bool,
    },
    /// The service's process has exited.
    Exited {
        /// The service.
        service: String,
        /// The exit code required, if any.
        code: Option<i32>,
        /// Only an exit that is a failure holds: a code other than 0, or a signal
        /// (`failed = true`).
        failed: bool,
    },
    /// The mock LLM's request journal.
    LlmJournal {
        /// The mock LLM service.
        service: String,
        /// The conditions on the journal.
        check: JournalCheck,
    },
    /// The task ledger's counts.
    Ledger {
        /// The conditions.
        check: LedgerCheck,
    },
    /// OpenClaw's WebSocket handshake as a browser client makes it: `Origin` header, the
    /// server's `connect.challenge`, a `connect` request signed with a device identity and
    /// carrying the gateway token; then the gateway's answer.
    GatewayConnect {
        /// Where it connects.
        target: Target,
        /// Which loopback address: 127.0.0.1 (default) or ::1, on the target's port.
        family: Family,
        /// The WebSocket path.
        path: String,
        /// The `Origin` header, if any.
        origin: Option<String>,
        /// The gateway token sent in `connect`.
        token: String,
        /// `client.id` and `client.mode` in `connect` (default: the Control UI's).
        client: (String, String),
        /// The outcome required.
        outcome: ConnectOutcome,
        /// A pattern the refusal's message (or close reason) must match.
        error: Option<regex::Regex>,
        /// Time allowed for the whole handshake.
        timeout: Duration,
        /// How far the probe's clock is off the gateway's, in seconds (negative: behind): the
        /// device signature's `signedAt` is the challenge's time plus this (`clock_offset`).
        clock_offset_secs: i64,
    },
    /// The service's own command-line tool (for OpenClaw: `openclaw ARGS`), pointed at the
    /// running instance.
    Cli {
        /// The service.
        service: String,
        /// The link it reaches the service's gateway through (`OPENCLAW_GATEWAY_URL` set to
        /// the link's address), instead of straight.
        via: Option<String>,
        /// Arguments.
        args: Vec<String>,
        /// Time allowed.
        timeout: Duration,
        /// The exit code required.
        exit_code: Option<i32>,
        /// A JSON pointer into stdout and the value it must have.
        json: Option<(String, serde_json::Value)>,
        /// A pattern stdout and stderr must match.
        output: Option<regex::Regex>,
    },
}

impl ProbeKind {
    /// The kind's name as written in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            ProbeKind::Http { .. } => "http",
            ProbeKind::Tcp { .. } => "tcp",
            ProbeKind::Log { .. } => "log",
            ProbeKind::Exited { .. } => "exited",
            ProbeKind::LlmJournal { .. } => "llm_journal",
            ProbeKind::Ledger { .. } => "ledger",
            ProbeKind::GatewayConnect { .. } => "gateway_connect",
            ProbeKind::Cli { .. } => "cli",
        }
    }
}

/// Conditions on an HTTP outcome.
#[derive(Debug, Clone, Default)]
pub struct HttpCheck {
    /// The status code required.
    pub status: Option<u16>,
    /// The request must fail in this way.
    pub error: Option<ErrorClass>,
    /// The response (or failure) must take longer than this.
    pub slower_than: Option<Duration>,
    /// The response must arrive sooner than this.
    pub faster_than: Option<Duration>,
    /// A JSON pointer into the body and the value it must have.
    pub json: Option<(String, serde_json::Value)>,
    /// A substring the body must contain.
    pub body_contains: Option<String>,
}

/// How a gateway WebSocket handshake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// `hello-ok`.
    Accepted,
    /// An error answer to `connect`, or the socket closed before any answer.
    Refused,
}

/// Conditions on the mock LLM's request journal.
#[derive(Debug, Clone, Default)]
pub struct JournalCheck {
    /// Count only requests to this path (default `/v1/chat/completions`).
    pub path: String,
    /// At least this many requests.
    pub min_requests: Option<usize>,
    /// At most this many requests.
    pub max_requests: Option<usize>,
    /// Consecutive requests at least this far apart.
    pub min_spacing: Option<Duration>,
    /// Count only requests for this model.
    pub model: Option<String>,
    /// Count only requests whose outcome starts with this (`ok`, `error:429`, `stall`, ...).
    pub outcome: Option<String>,
    /// Count only requests that arrived after the most recent injection or heal.
    pub since_last_event: bool,
    /// No counted request arrived during this last stretch of time.
    pub quiet_for: Option<Duration>,
    /// Some counted request arrived during this last stretch of time.
    pub active_within: Option<Duration>,
}

/// The probes that define "healthy".
#[derive(Debug, Clone, PartialEq)]
pub struct SteadyState {
    /// Probe names; all must be true.
    pub probes: Vec<String>,
    /// How long they may take to become true, before the first fault and after the last heal.
    pub within: Duration,
}

/// When a fault starts.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultStart {
    /// Delay after steady state is reached (and after `after` holds, if given).
    pub at: Duration,
    /// A probe that must hold first.
    pub after: Option<String>,
}

/// The address family a squatter holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// 127.0.0.1.
    Ipv4,
    /// ::1 only.
    Ipv6,
}

/// What a port squatter does with a connection (`answers` of `squat_port`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SquatterAnswer {
    /// Nothing: it holds the port and never accepts (`"nothing"`, the default).
    #[default]
    Nothing,
    /// An HTTP server of another application: `404 Not Found` to every request (`"404"`).
    NotFound,
    /// An HTTP server of another application: `200 OK` with its own HTML page (`"200"`).
    Foreign,
    /// That `200 OK` page, one byte a second (`"drip"`).
    Drip,
}

impl SquatterAnswer {
    /// The names `answers` takes, in the order of the variants.
    pub const NAMES: [&'static str; 4] = ["nothing", "404", "200", "drip"];
}

/// What a fault does and where.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// On a link's proxy.
    Link {
        /// The link.
        link: String,
        /// Direction (ignored by `link_down`).
        stream: Stream,
        /// Probability per connection, 0..=1.
        toxicity: f64,
        /// The toxic.
        fault: LinkFault,
    },
    /// On a mock LLM.
    Llm {
        /// The mock LLM service.
        service: String,
        /// Only for requests for this model.
        model: Option<String>,
        /// Only for the next N requests.
        times: Option<u32>,
        /// The behaviour.
        fault: LlmFault,
    },
    /// On a process service.
    Process {
        /// The service.
        service: String,
        /// The fault.
        fault: ProcessFault,
    },
    /// Another process holds the service's port before the service starts (it is injected
    /// before the topology starts); the heal frees the port and starts the service again.
    SquatPort {
        /// The service whose port is taken.
        service: String,
        /// Which loopback address the squatter holds.
        family: Family,
        /// Take the port the config file names rather than the one the service listens on
        /// (they differ when the port comes from the environment); the heal then only frees
        /// it, since the service never needed it.
        config_port: bool,
        /// What the squatter answers a connection with.
        answers: SquatterAnswer,
    },
    /// On the token service.
    Tokens {
        /// The token_service service.
        service: String,
        /// What it does.
        fault: TokenFault,
    },
    /// The service's wall clock is shifted (libfaketime; bridges only); the heal sets it
    /// right.
    ClockSkew {
        /// The bridge.
        service: String,
        /// Seconds ahead (negative: behind).
        offset_secs: i64,
    },
    /// At the IP layer of a service's host (the containers backend).
    Network {
        /// The service.
        service: String,
        /// The fault.
        fault: NetworkFault,
    },
    /// On a RabbitMQ node, through `rabbitmqctl`.
    Broker {
        /// The rabbitmq service.
        service: String,
        /// What it does.
        fault: BrokerFault,
    },
    /// A change to a service's config file: the gateway's, which it hot-reloads (e.g. an
    /// allowed-origins list that no longer names the dashboard's origin), or the bridge's,
    /// which is restarted to read it (a deploy with a wrong secret). The heal writes the
    /// original back (and restarts the bridge again).
    Config {
        /// The openclaw or bridge service.
        service: String,
        /// Merged into the config (tables key by key, anything else replaces).
        patch: serde_json::Value,
        /// Restart the service after each write (it does not reload its config by itself).
        restart: bool,
    },
    /// The service is given a privileged port (below 1024) to listen on, and runs as an
    /// unprivileged user (its `user`); the heal moves it to a port above 1024 and starts it
    /// again.
    PrivilegedPort {
        /// The service.
        service: String,
    },
}

/// One fault on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpec {
    /// Its name, unique in the scenario.
    pub name: String,
    /// The kind as written.
    pub kind: String,
    /// What it does.
    pub action: FaultAction,
    /// When it starts.
    pub start: FaultStart,
    /// How long it lasts before the heal; `None` heals only at the end of the run.
    pub duration: Option<Duration>,
}

impl FaultSpec {
    /// Whether it is in place before the topology starts, as its kind's registry row says.
    pub fn before_start(&self) -> bool {
        fault_kind(&self.kind).is_some_and(|k| k.before_start)
    }
}

/// What an expectation requires.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectKind {
    /// The probe turns true within `within` after the fault is injected.
    Detect {
        /// The fault.
        fault: String,
        /// The budget.
        within: Duration,
        /// Detection sooner than this is wrong too (e.g. a timeout that must fire at its
        /// configured bound, not before).
        not_before: Option<Duration>,
    },
    /// The probe turns true within `within` after the fault is healed.
    Recover {
        /// The fault.
        fault: String,
        /// The budget.
        within: Duration,
    },
    /// The probe holds at every evaluation from steady state to the end of the run.
    Invariant,
}

/// One expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// A readable name, e.g. `detect slow-llm by llm_slow within 3s`.
    pub name: String,
    /// The probe it watches.
    pub probe: String,
    /// What it requires.
    pub kind: ExpectKind,
}

impl Expectation {
    /// The fault this expectation is about, if any.
    pub fn fault(&self) -> Option<&str> {
        match &self.kind {
            ExpectKind::Detect { fault, .. } | ExpectKind::Recover { fault, .. } => Some(fault),
            ExpectKind::Invariant => None,
        }
    }
}
