//! A private RabbitMQ node per run (Debian's `rabbitmq-server`): its own node name, AMQP and
//! distribution ports, epmd, data and log folders, all inside the run folder, so nothing is
//! shared with another run or with a system node. JWTs signed by the run's token service are
//! a credential (the OAuth 2 plugin), and the internal `guest` user is the harness's own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::{
    BackendError, BoxFuture, CliCommand, Installed, Plan, Program, Ready, Recipe, Run, Service,
    StartContext,
};
use crate::services::shell_command;

/// Where Debian installs the server's scripts.
const SBIN: &str = "/usr/lib/rabbitmq/bin";

/// The user the harness (ledger, readiness check) logs in as, through the internal backend.
pub const ADMIN_USER: &str = "guest";
/// Its password.
pub const ADMIN_PASSWORD: &str = "guest";
/// `resource_server_id` of the OAuth 2 plugin: the audience tokens must carry.
pub const RESOURCE_SERVER: &str = "rabbitmq";

/// A RabbitMQ node; `tokens` is the token service whose key (in its folder of the run)
/// verifies JWTs.
pub struct NodeRecipe<'a> {
    /// The token service, if JWTs are a credential.
    pub tokens: Option<&'a str>,
}

impl Recipe for NodeRecipe<'_> {
    fn plan(&self, name: &str, context: &StartContext) -> Result<Plan, BackendError> {
        prepare(name, self.tokens, context)
    }

    fn ready(&self) -> Ready {
        Ready::Check {
            what: "an AMQP handshake",
            within: READY_WITHIN,
            check: std::sync::Arc::new(amqp_login),
        }
    }
}

/// How long a RabbitMQ node may take to accept an AMQP login (5–7 s idle here, ~20 s under
/// a parallel build).
const READY_WITHIN: Duration = Duration::from_secs(60);

/// Ready when an AMQP handshake as the harness's user succeeds.
fn amqp_login(service: &dyn Service) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(handshake(service.addr(), Duration::from_secs(5)))
}

/// Debian's `rabbitmq-server` (every node of a run is started from it) and its
/// `rabbitmqctl`.
pub fn installed_here() -> Result<Installed, String> {
    locate_server().map(installed_at)
}

/// The node started from `server`, with Debian's `rabbitmqctl` as its tool.
pub fn installed_at(server: PathBuf) -> Installed {
    Installed {
        tool: Some(vec![
            Path::new(SBIN).join("rabbitmqctl").display().to_string(),
        ]),
        version: Some("RabbitMQ".to_string()),
        ..Installed::at(server)
    }
}

/// Where Debian's `rabbitmq-server` is (on this machine, and in RabbitMQ's image).
pub fn server_path() -> PathBuf {
    Path::new(SBIN).join("rabbitmq-server")
}

/// Debian's `rabbitmq-server`.
pub fn locate_server() -> Result<PathBuf, String> {
    let server = server_path();
    if server.is_file() {
        Ok(server)
    } else {
        Err(format!(
            "{} is missing: install Debian's rabbitmq-server (`scripts/setup rabbitmq` does)",
            server.display()
        ))
    }
}

/// Writes the node's folders and config and says how to start it: epmd and the server in one
/// process group, with `rabbitmqctl` pointed at the node as its tool.
fn prepare(
    service: &str,
    tokens: Option<&str>,
    context: &StartContext,
) -> Result<Plan, BackendError> {
    let server = context
        .host
        .program(Program::RabbitMq)
        .map_err(|e| BackendError::setup(service, e))?;
    let dir = context.run_dir.join(service);
    let (home, mnesia, logs) = (dir.join("home"), dir.join("mnesia"), dir.join("log"));
    for d in [&dir, &home, &mnesia, &logs] {
        std::fs::create_dir_all(d)?;
    }
    let port = context.port_for(service)?;
    // Erlang distribution and epmd stay on the node's own loopback: only the harness's
    // rabbitmqctl, on the same host, talks to them. Clients reach the AMQP listener.
    let (dist_port, epmd_port) = (context.free_port()?, context.free_port()?);
    let listen = SocketAddr::new(context.host.listen_ip(), port);

    let mut conf = format!(
        "listeners.tcp.default = {listen}\n\
         loopback_users = none\n\
         log.console = true\n\
         log.console.level = info\n\
         log.file = false\n"
    );
    let mut advanced = "[].\n".to_string();
    let mut plugins = "[].\n".to_string();
    if let Some(tokens) = tokens {
        conf.push_str("auth_backends.1 = rabbit_auth_backend_oauth2\nauth_backends.2 = internal\n");
        advanced = oauth2_config(&context.run_dir.join(tokens)).map_err(|e| {
            BackendError::setup(service, format!("the key of token service {tokens}: {e}"))
        })?;
        plugins = "[rabbitmq_auth_backend_oauth2].\n".to_string();
    }
    let (conf_file, advanced_file, plugins_file) = (
        dir.join("rabbitmq.conf"),
        dir.join("advanced.config"),
        dir.join("enabled_plugins"),
    );
    std::fs::write(&conf_file, conf)?;
    std::fs::write(&advanced_file, advanced)?;
    std::fs::write(&plugins_file, plugins)?;

    let path = |p: &PathBuf| p.display().to_string();
    let env: Vec<(String, String)> = [
        ("HOME", path(&home)),
        ("RABBITMQ_CONF_ENV_FILE", "/dev/null".to_string()),
        ("RABBITMQ_NODENAME", format!("clawchaos-{port}@localhost")),
        ("RABBITMQ_NODE_IP_ADDRESS", listen.ip().to_string()),
        ("RABBITMQ_NODE_PORT", port.to_string()),
        ("RABBITMQ_DIST_PORT", dist_port.to_string()),
        ("ERL_EPMD_PORT", epmd_port.to_string()),
        ("ERL_EPMD_ADDRESS", "127.0.0.1".to_string()),
        ("RABBITMQ_MNESIA_BASE", path(&mnesia)),
        ("RABBITMQ_LOG_BASE", path(&logs)),
        ("RABBITMQ_LOGS", "-".to_string()),
        ("RABBITMQ_CONFIG_FILE", path(&conf_file)),
        ("RABBITMQ_ADVANCED_CONFIG_FILE", path(&advanced_file)),
        ("RABBITMQ_ENABLED_PLUGINS_FILE", path(&plugins_file)),
        ("RABBITMQ_PID_FILE", path(&dir.join("rabbitmq.pid"))),
        (
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
            "-kernel inet_dist_use_interface {127,0,0,1}".to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // epmd in the foreground, in the node's process group: it goes when the node goes (a
    // daemonised epmd, as the server would start it, outlives the node).
    let script = format!(
        "epmd -port {epmd_port} -address 127.0.0.1 &\nexec {}",
        shell_command(&server.command)
    );
    let command = vec!["sh".to_string(), "-c".to_string(), script];
    let launch = context.launch(service, command, env.clone(), dir);
    Ok(Plan {
        cli: server.tool.map(|command| CliCommand { command, env }),
        version: server.version,
        image: server.image,
        ..Plan::new(Run::Process { launch, port })
    })
}

/// `advanced.config` for the OAuth 2 plugin, from the key the token service wrote into `dir`.
fn oauth2_config(dir: &Path) -> std::io::Result<String> {
    let hs256 = dir.join("hs256.key");
    let key = if hs256.is_file() {
        let secret = std::fs::read_to_string(&hs256)?;
        format!(
            "{{map, #{{<<\"kty\">> => <<\"oct\">>, <<\"alg\">> => <<\"HS256\">>, <<\"k\">> => <<\"{}\">>}}}}",
            secret.trim()
        )
    } else {
        let pem = dir.join("rs256.pub.pem");
        if !pem.is_file() {
            return Err(std::io::Error::other(format!(
                "neither hs256.key nor rs256.pub.pem in {}",
                dir.display()
            )));
        }
        format!("{{pem_file, <<\"{}\">>}}", pem.display())
    };
    Ok(format!(
        "[{{rabbitmq_auth_backend_oauth2, [\n  {{resource_server_id, <<\"{RESOURCE_SERVER}\">>}},\n  {{key_config, [{{default_key, <<\"clawchaos\">>}}, {{signing_keys, #{{<<\"clawchaos\">> => {key}}}}}]}}\n]}}].\n"
    ))
}

/// The AMQP URL the harness uses for the node at `addr` (the internal `guest` user).
pub fn admin_url(addr: SocketAddr) -> String {
    format!("amqp://{ADMIN_USER}:{ADMIN_PASSWORD}@{addr}/%2f")
}

/// Whether a full AMQP handshake (login included) with the node at `addr` succeeds within
/// `timeout`.
pub async fn handshake(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let url = admin_url(addr);
    let connect = lapin::Connection::connect(&url, lapin::ConnectionProperties::default());
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(connection)) => {
            let _ = connection
                .close(200, "clawchaos readiness check".into())
                .await;
            Ok(())
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no AMQP handshake within {timeout:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oauth2_config_names_the_token_service_s_hs256_key() {
        let dir = std::env::temp_dir().join(format!("clawchaos-rmq-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        assert!(oauth2_config(&dir).is_err(), "no key yet");
        std::fs::write(dir.join("hs256.key"), "c2VjcmV0\n").expect("key");
        let config = oauth2_config(&dir).expect("config");
        assert!(config.contains("<<\"k\">> => <<\"c2VjcmV0\">>"), "{config}");
        assert!(config.contains("{resource_server_id, <<\"rabbitmq\">>}"));
        assert!(config.trim_end().ends_with("]."), "{config}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
