//! A private Tansu broker (Kafka protocol) per run: sqlite storage in the run folder (durable,
//! so a broker restart loses nothing, and the only engine with SCRAM users), loopback only.
//!
//! Tansu advertises one address in its metadata, and Kafka clients follow it. When a link
//! (a proxy) leads to the broker, the broker advertises the link's address, so a client that
//! bootstraps through the link stays on it. The harness's own clients (readiness, topics, the
//! ledger) must not cross that faulted link: they go through a `tansu proxy` relay in the
//! broker's process group, which forwards to the broker and advertises itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::SeedableRng as _;
use rand::distr::{Alphanumeric, SampleString as _};
use rand::rngs::SmallRng;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer as _, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use serde::{Deserialize, Serialize};

use crate::backend::ports::binary_from_env;
use crate::backend::{
    BackendError, BoxFuture, Plan, Program, Ready, Recipe, Run, Service, StartContext,
};
use crate::services::shell_command;

/// The pinned Tansu version `scripts/provision-tansu` builds.
pub const PINNED_TANSU: &str = "0.6.0";
/// The topic the bridge consumes tasks from.
pub const TASKS: &str = "openclaw.tasks";
/// The topic the bridge produces results to.
pub const RESULTS: &str = "openclaw.results";
/// Partitions of each topic.
pub const PARTITIONS: i32 = 3;
/// The SASL mechanism of SCRAM brokers.
pub const MECHANISM: &str = "SCRAM-SHA-256";
/// The user the harness's own clients log in as.
pub const ADMIN_USER: &str = "clawchaos";
/// The user the bridge logs in as.
pub const BRIDGE_USER: &str = "claw-bridge";
/// Where a SCRAM broker's users and passwords are kept, in its folder of the run.
const CREDENTIALS_FILE: &str = "scram-users.json";

/// A SASL/SCRAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password (made per run).
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Users {
    admin: Credentials,
    bridge: Credentials,
}

/// A Tansu broker; with `scram`, it requires SASL/SCRAM and the bridge and the harness get
/// users of their own.
pub struct BrokerRecipe {
    /// Whether SCRAM is required.
    pub scram: bool,
}

impl Recipe for BrokerRecipe {
    fn plan(&self, name: &str, context: &StartContext) -> Result<Plan, BackendError> {
        prepare(
            name,
            self.scram,
            context.advertised.get(name).copied(),
            context,
        )
    }

    fn ready(&self) -> Ready {
        Ready::Check {
            what: "a Kafka metadata answer",
            within: READY_WITHIN,
            check: std::sync::Arc::new(kafka_metadata),
        }
    }
}

/// The `tansu` binary: `CLAWCHAOS_TANSU_BIN`, else where `scripts/provision-tansu` builds it.
pub fn locate_binary() -> Result<PathBuf, String> {
    if let Some(chosen) = binary_from_env("CLAWCHAOS_TANSU_BIN") {
        return chosen;
    }
    let path = crate::services::openclaw::install::default_cache()
        .join(format!("tansu-{PINNED_TANSU}"))
        .join("bin")
        .join("tansu");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "tansu is not installed at {}: run scripts/provision-tansu (scripts/setup does), or set CLAWCHAOS_TANSU_BIN",
            path.display()
        ))
    }
}

/// Writes the broker's folder (and, with `scram`, its users) and says how to start it: the
/// relay (if any), then the broker, in one process group; the harness's own clients connect to
/// the plan's `control` address. `advertised` is the address of the link that leads to it.
fn prepare(
    service: &str,
    scram: bool,
    advertised: Option<SocketAddr>,
    context: &StartContext,
) -> Result<Plan, BackendError> {
    let tansu = context
        .host
        .program(Program::Tansu)
        .map_err(|e| BackendError::setup(service, e))?;
    let dir = context.service_dir(service)?;
    let port = context.port_for(service)?;
    // It listens on its host's listening address, and is reached (and says it is) at the
    // address others know its host by.
    let listen = SocketAddr::new(context.host.listen_ip(), port);
    let own = SocketAddr::new(context.host.address_of(service), port);
    let url = |addr: SocketAddr| format!("tcp://{addr}");
    let (version, image) = (tansu.version, tansu.image);
    let tansu = shell_command(&tansu.command);
    let mut script = String::from("set -e\n");
    let access = match advertised {
        Some(advertised) if advertised != own => {
            let relay_port = context.free_port()?;
            let relay = SocketAddr::new(own.ip(), relay_port);
            script.push_str(&format!(
                "{tansu} proxy --listener-url {l} --advertised-listener-url {r} --origin-url {o} &\n",
                l = url(SocketAddr::new(listen.ip(), relay_port)),
                r = url(relay),
                o = url(own),
            ));
            relay
        }
        _ => own,
    };
    let broker = |advertise: SocketAddr, auth: bool| {
        format!(
            "{tansu} broker --listener-url {} --advertised-listener-url {} --storage-engine sqlite://tansu.db{}",
            url(listen),
            url(advertise),
            if auth { " --authentication" } else { "" }
        )
    };
    if scram {
        let users = Users {
            admin: new_user(ADMIN_USER),
            bridge: new_user(BRIDGE_USER),
        };
        let file = dir.join(CREDENTIALS_FILE);
        let text =
            serde_json::to_vec_pretty(&users).map_err(|e| BackendError::setup(service, e))?;
        std::fs::write(&file, text)?;
        // Users are made through a running broker: start it without authentication, add them
        // (retrying until it listens), stop it, and start it for real. Once per run folder: a
        // restarted broker keeps them in its sqlite file.
        let create = |user: &Credentials| {
            format!(
                "{tansu} user create {} {} --broker {} --mechanism scram256",
                user.username,
                user.password,
                url(own)
            )
        };
        script.push_str(&format!(
            "if [ ! -f users.done ]; then\n  \
               {} >setup-broker.log 2>&1 & setup=$!\n  \
               n=0\n  \
               until {} >/dev/null 2>&1; do\n    \
                 n=$((n+1)); if [ $n -ge 200 ]; then echo 'cannot create the SCRAM users:' >&2; cat setup-broker.log >&2; exit 1; fi\n    \
                 sleep 0.05\n  \
               done\n  \
               {} >/dev/null\n  \
               kill $setup; wait $setup || true\n  \
               touch users.done\n\
             fi\n",
            broker(own, false),
            create(&users.admin),
            create(&users.bridge),
        ));
    }
    script.push_str(&format!(
        "exec {}\n",
        broker(advertised.unwrap_or(own), scram)
    ));
    let command = vec!["sh".to_string(), "-c".to_string(), script];
    // The group coordinator at info: its expiries explain a stranded consumer.
    let env = vec![(
        "RUST_LOG".to_string(),
        "warn,tansu_broker::coordinator::group=info".to_string(),
    )];
    let launch = context.launch(service, command, env, dir);
    Ok(Plan {
        version,
        image,
        control: Some(access),
        ..Plan::new(Run::Process { launch, port })
    })
}

fn new_user(name: &str) -> Credentials {
    Credentials {
        username: name.to_string(),
        password: Alphanumeric.sample_string(&mut SmallRng::from_os_rng(), 24),
    }
}

/// How long a Tansu broker may take to answer metadata and take its topics (well under a
/// second here; SCRAM set-up starts it twice).
const READY_WITHIN: Duration = Duration::from_secs(30);

/// Ready when the Kafka API answers a metadata request through its relay, logged in; this
/// also creates the task and result topics.
fn kafka_metadata(service: &dyn Service) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        let (addr, admin) = access(service)?;
        ready(addr, admin, Duration::from_secs(5)).await
    })
}

/// Where the harness's own Kafka clients reach the running broker `service` (its relay, or
/// the broker), and the harness's SCRAM user there if it requires one.
pub fn access(service: &dyn Service) -> Result<(SocketAddr, Option<Credentials>), String> {
    let admin = match service.read_file(Path::new(CREDENTIALS_FILE)) {
        Ok(bytes) => {
            let users: Users = serde_json::from_slice(&bytes)
                .map_err(|e| format!("its SCRAM users ({CREDENTIALS_FILE}): {e}"))?;
            Some(users.admin)
        }
        Err(BackendError::File { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            None
        }
        Err(e) => return Err(format!("its SCRAM users: {e}")),
    };
    Ok((service.control_addr().unwrap_or(service.addr()), admin))
}

/// The users of the SCRAM broker `service` (none if it does not require SCRAM).
pub fn credentials(
    run_dir: &Path,
    service: &str,
) -> std::io::Result<Option<(Credentials, Credentials)>> {
    let file = run_dir.join(service).join(CREDENTIALS_FILE);
    if !file.is_file() {
        return Ok(None);
    }
    let users: Users = serde_json::from_slice(&std::fs::read(&file)?)?;
    Ok(Some((users.admin, users.bridge)))
}

/// The context of the harness's own Kafka clients: librdkafka's logs and errors go to
/// tracing at debug level (broken connections are the point of the scenarios; the ledger
/// reports its own trouble in its invariants).
pub struct HarnessContext;

impl ClientContext for HarnessContext {
    fn log(&self, _level: RDKafkaLogLevel, facility: &str, message: &str) {
        tracing::debug!(target: "clawchaos::kafka", facility, "{message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "clawchaos::kafka", %error, "{reason}");
    }
}

impl ConsumerContext for HarnessContext {}

/// A Kafka client config for `bootstrap`, logged in as `user` if given.
pub fn client_config(bootstrap: SocketAddr, user: Option<&Credentials>) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap.to_string())
        .set("client.id", "clawchaos")
        .set("reconnect.backoff.ms", "100")
        .set("reconnect.backoff.max.ms", "1000")
        .set("socket.connection.setup.timeout.ms", "5000");
    if let Some(user) = user {
        config
            .set("security.protocol", "SASL_PLAINTEXT")
            .set("sasl.mechanisms", MECHANISM)
            .set("sasl.username", &user.username)
            .set("sasl.password", &user.password);
    }
    config
}

/// Whether the broker answers a metadata request (login included) within `timeout`, and
/// then that the task and result topics exist (created if missing).
pub async fn ready(
    access: SocketAddr,
    user: Option<Credentials>,
    timeout: Duration,
) -> Result<(), String> {
    let config = client_config(access, user.as_ref());
    let metadata = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer<HarnessContext> = config
                .create_with_context(HarnessContext)
                .map_err(|e| e.to_string())?;
            consumer
                .fetch_metadata(None, timeout)
                .map(|m| m.brokers().len())
                .map_err(|e| format!("no metadata from {access}: {e}"))
        })
        .await
        .map_err(|e| e.to_string())??
    };
    if metadata == 0 {
        return Err(format!("{access} answered metadata without a broker"));
    }
    create_topics(&config, timeout).await
}

async fn create_topics(config: &ClientConfig, timeout: Duration) -> Result<(), String> {
    let admin: AdminClient<HarnessContext> = config
        .create_with_context(HarnessContext)
        .map_err(|e| e.to_string())?;
    let topics = [TASKS, RESULTS].map(|t| NewTopic::new(t, PARTITIONS, TopicReplication::Fixed(1)));
    let options = AdminOptions::new().operation_timeout(Some(timeout));
    let created = tokio::time::timeout(timeout, admin.create_topics(&topics, &options))
        .await
        .map_err(|_| format!("topics not created within {timeout:?}"))?
        .map_err(|e| format!("create topics: {e}"))?;
    for result in created {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(format!("create topic {topic}: {code}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sasl_config_names_the_mechanism_and_user() {
        let user = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        let config = client_config(SocketAddr::from(([127, 0, 0, 1], 9)), Some(&user));
        assert_eq!(config.get("sasl.mechanisms"), Some(MECHANISM));
        assert_eq!(config.get("sasl.username"), Some("u"));
        assert_eq!(config.get("security.protocol"), Some("SASL_PLAINTEXT"));
        assert_eq!(
            client_config(SocketAddr::from(([127, 0, 0, 1], 9)), None).get("sasl.username"),
            None
        );
    }
}
