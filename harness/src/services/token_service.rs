//! The JWT issuer (the `clawchaos-token-service` crate): served inside the harness where the
//! host allows it (this machine), else its program runs on the host (a container). Its
//! verification key is written to its folder of the run for the broker's config; its control
//! API listens on a port of its own, since its main port goes away when a scenario takes it
//! down.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use clawchaos_token_service::{SigningAlg, TokenService, TokenServiceConfig};

use crate::backend::in_process::{InProcessServer, serve};
use crate::backend::{
    BackendError, BoxFuture, Plan, Program, Ready, Recipe, Run, Service, StartContext,
};

/// The token service's program (built by `cargo build -p clawchaos-token-service`).
pub const BINARY: &str = "clawchaos-token-service";
/// How long its program may take to write its key and accept connections.
const READY_WITHIN: Duration = Duration::from_secs(20);
/// The files its verification key may be in, in its folder (one per algorithm).
const KEY_FILES: [&str; 2] = ["hs256.key", "rs256.pub.pem"];

/// Where the token service's program is: `CLAWCHAOS_TOKEN_SERVICE_BIN`, else beside the
/// harness.
pub fn locate_binary() -> Result<std::path::PathBuf, String> {
    crate::backend::ports::our_binary(BINARY, "CLAWCHAOS_TOKEN_SERVICE_BIN", BINARY)
}

impl InProcessServer for TokenService {
    fn addr(&self) -> SocketAddr {
        TokenService::addr(self)
    }

    fn control_addr(&self) -> Option<SocketAddr> {
        TokenService::control_addr(self)
    }

    fn shutdown(self) -> impl Future<Output = ()> + Send {
        TokenService::shutdown(self)
    }
}

/// A token service signing with `algorithm`.
pub struct TokenServiceRecipe<'a> {
    /// `hs256` or `rs256`.
    pub algorithm: &'a str,
    /// Lifetime of the tokens it mints.
    pub ttl: Duration,
    /// Its clock's offset from the real one, in seconds.
    pub clock_offset_secs: i64,
}

impl Recipe for TokenServiceRecipe<'_> {
    fn plan(&self, name: &str, context: &StartContext) -> Result<Plan, BackendError> {
        let alg = self
            .algorithm
            .parse::<SigningAlg>()
            .map_err(|e| BackendError::setup(name, e))?;
        if !context.host.serves_in_process() {
            return self.program(name, alg, context);
        }
        let config = TokenServiceConfig {
            addr: SocketAddr::new(context.host.link_ip(), 0),
            control_addr: Some(SocketAddr::new(context.host.link_ip(), 0)),
            alg,
            ttl: self.ttl,
            clock_offset_secs: self.clock_offset_secs,
            ..Default::default()
        };
        let dir = context.run_dir.join(name);
        let name = name.to_string();
        Ok(Plan::new(Run::InProcess(Box::new(move || {
            Box::pin(async move {
                let server = TokenService::start(config)
                    .await
                    .map_err(|e| BackendError::setup(&name, e))?;
                std::fs::create_dir_all(&dir)?;
                server
                    .write_key(&dir)
                    .map_err(|e| BackendError::setup(&name, e))?;
                Ok(serve(&name, server))
            })
        }))))
    }

    fn ready(&self) -> Ready {
        // At once in-process (its key is written before it serves); its program, once its
        // key is in its folder (a broker's config is made from it) and it accepts.
        Ready::Check {
            what: "its key written and its port accepting",
            within: READY_WITHIN,
            check: std::sync::Arc::new(key_and_port),
        }
    }
}

impl TokenServiceRecipe<'_> {
    /// The token service as its program, alone in its host's network namespace.
    fn program(
        &self,
        name: &str,
        alg: SigningAlg,
        context: &StartContext,
    ) -> Result<Plan, BackendError> {
        let port = context.port_for(name)?;
        let control = SocketAddr::new(context.host.listen_ip(), context.free_port()?);
        let dir = context.service_dir(name)?;
        let args = [
            format!(
                "--listen={}",
                SocketAddr::new(context.host.listen_ip(), port)
            ),
            format!("--control-listen={control}"),
            format!("--alg={alg}"),
            format!("--ttl={}s", self.ttl.as_secs()),
            format!("--clock-offset={}s", self.clock_offset_secs),
            format!("--key-out={}", dir.display()),
            "--own-network-namespace".to_string(),
        ];
        let plan = context.our_program(name, Program::TokenService, args, port, dir)?;
        Ok(Plan {
            control: Some(control),
            ..plan
        })
    }
}

/// Ready when its verification key is in its folder and its token port accepts.
fn key_and_port(service: &dyn Service) -> BoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        let read = |file: &&str| service.read_file(Path::new(file));
        // A server in the harness has no folder of its own: it wrote the key before serving.
        let in_process = matches!(read(&KEY_FILES[0]), Err(BackendError::Unsupported { .. }));
        let written = in_process || KEY_FILES.iter().any(|file| read(file).is_ok());
        if !written {
            return Err(format!("no key yet ({})", KEY_FILES.join(" or ")));
        }
        tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(service.addr()),
        )
        .await
        .map_err(|_| "its port does not answer".to_string())?
        .map(drop)
        .map_err(|e| format!("its port: {e}"))
    })
}
