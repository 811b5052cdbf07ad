//! The JWT issuer (the `clawchaos-token-service` crate), served inside the harness. Its
//! verification key is written to its folder of the run for the broker's config; its control
//! API listens on a port of its own, since its main port goes away when a scenario takes it
//! down.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use clawchaos_token_service::{SigningAlg, TokenService, TokenServiceConfig};

use crate::backend::in_process::{InProcessServer, serve};
use crate::backend::{BackendError, Plan, Ready, Recipe, Run, StartContext};

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
        Ready::Started
    }
}
