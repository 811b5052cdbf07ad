//! [`TokenService`], the in-process handle: start, read the key, turn the knobs, stop.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use tokio::{net::TcpListener, sync::Mutex};

use crate::{
    config::{SigningAlg, TokenServiceConfig},
    control,
    error::TokenServiceError,
    journal::JournalEntry,
    keys::{Keys, VerifyKey},
    listener::Serving,
    server,
    state::{Mode, Shared},
};

/// What the handle and the control API both drive: the token listener and the shared state.
#[derive(Debug)]
pub(crate) struct Core {
    /// The token API's address; kept across `Down` so the same port is re-bound.
    pub(crate) addr: SocketAddr,
    pub(crate) shared: Arc<Shared>,
    /// `None` while `Down`.
    serving: Mutex<Option<Serving>>,
}

impl Core {
    /// Switches mode; leaving `Down` re-binds [`Core::addr`], entering it closes the port.
    /// On a failed re-bind the service stays `Down`.
    pub(crate) async fn set_mode(&self, mode: Mode) -> Result<(), TokenServiceError> {
        mode.validate()?;
        let mut serving = self.serving.lock().await;
        if mode == Mode::Down {
            self.shared.set_mode(mode);
            if let Some(running) = serving.take() {
                running.stop().await;
            }
        } else if serving.is_none() {
            let listener = bind(self.addr).await?;
            self.shared.set_mode(mode);
            *serving = Some(Serving::start(
                listener,
                server::router(Arc::clone(&self.shared)),
                "token",
            ));
        } else {
            self.shared.set_mode(mode);
        }
        tracing::info!(%mode, addr = %self.addr, "mode set");
        Ok(())
    }

    pub(crate) fn set_clock_offset(&self, offset_secs: i64) {
        self.shared.set_clock_offset_secs(offset_secs);
        tracing::info!(offset_secs, "clock offset set");
    }

    pub(crate) fn set_ttl(&self, ttl: Option<Duration>) {
        self.shared.set_ttl_override(ttl);
        let ttl_secs = ttl.map(|ttl| ttl.as_secs());
        tracing::info!(?ttl_secs, "ttl override set");
    }

    /// Mode `Ok`, the configured ttl and clock offset; the journal is kept.
    pub(crate) async fn reset(&self) -> Result<(), TokenServiceError> {
        self.shared.reset_knobs();
        self.set_mode(Mode::Ok).await
    }

    async fn stop(&self) {
        if let Some(running) = self.serving.lock().await.take() {
            running.stop().await;
        }
    }
}

/// Refuses anything but a loopback address.
fn ensure_loopback(addr: SocketAddr) -> Result<(), TokenServiceError> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(TokenServiceError::NotLoopback { addr })
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, TokenServiceError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| TokenServiceError::Bind { addr, source })
}

/// A running token service. Dropping it stops it (without waiting); prefer
/// [`TokenService::shutdown`]. `Debug` never shows key material.
#[derive(Debug)]
pub struct TokenService {
    core: Arc<Core>,
    control: Option<(SocketAddr, Serving)>,
}

impl TokenService {
    /// Generates a fresh key, then listens on `config.addr` (and `config.control_addr`, if
    /// set); returns once both accept connections. Both must be loopback addresses, unless
    /// the service has a network namespace of its own ([`TokenServiceConfig::own_namespace`]).
    ///
    /// RS256 key generation takes a moment; it runs on a blocking thread.
    pub async fn start(config: TokenServiceConfig) -> Result<TokenService, TokenServiceError> {
        if !config.own_namespace {
            ensure_loopback(config.addr)?;
            if let Some(control_addr) = config.control_addr {
                ensure_loopback(control_addr)?;
            }
        }
        let alg = config.alg;
        let keys = tokio::task::spawn_blocking(move || Keys::generate(alg))
            .await
            .map_err(|e| TokenServiceError::KeyGeneration(format!("key task failed: {e}")))??;

        let listener = bind(config.addr).await?;
        let addr = listener
            .local_addr()
            .map_err(TokenServiceError::LocalAddr)?;
        let shared = Arc::new(Shared::new(&config, keys));
        let serving = Serving::start(listener, server::router(Arc::clone(&shared)), "token");
        let core = Arc::new(Core {
            addr,
            shared,
            serving: Mutex::new(Some(serving)),
        });

        let control = match config.control_addr {
            Some(wanted) => {
                let listener = bind(wanted).await?;
                let control_addr = listener
                    .local_addr()
                    .map_err(TokenServiceError::LocalAddr)?;
                let router = control::router(Arc::clone(&core));
                tracing::info!(addr = %control_addr, "token service control API listening");
                Some((control_addr, Serving::start(listener, router, "control")))
            }
            None => None,
        };
        tracing::info!(
            %addr,
            %alg,
            kid = %config.kid,
            ttl_secs = config.ttl.as_secs(),
            clock_offset_secs = config.clock_offset_secs,
            "token service listening"
        );
        Ok(TokenService { core, control })
    }

    /// The token API's address (the same after `Down` and back).
    pub fn addr(&self) -> SocketAddr {
        self.core.addr
    }

    /// `http://IP:PORT`; tokens are minted at `{base_url}/token` and `{base_url}/refresh`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.core.addr)
    }

    /// The control API's address, if [`TokenServiceConfig::control_addr`] was set.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control.as_ref().map(|(addr, _)| *addr)
    }

    /// The signature algorithm.
    pub fn alg(&self) -> SigningAlg {
        self.core.shared.keys.alg
    }

    /// The `kid` in every token's header.
    pub fn kid(&self) -> &str {
        self.core.shared.kid()
    }

    /// What a broker needs to verify this service's tokens.
    pub fn verify_key(&self) -> &VerifyKey {
        &self.core.shared.keys.verify
    }

    /// The HS256 shared secret as base64url without padding (a JWK `k`); `None` for RS256.
    /// A secret: never log it.
    pub fn hs256_secret_base64url(&self) -> Option<&str> {
        match self.verify_key() {
            VerifyKey::Hs256 { secret_base64url } => Some(secret_base64url),
            VerifyKey::Rs256 { .. } => None,
        }
    }

    /// The RS256 public key as SPKI PEM; `None` for HS256.
    pub fn rs256_public_key_pem(&self) -> Option<&str> {
        match self.verify_key() {
            VerifyKey::Rs256 { public_key_pem } => Some(public_key_pem),
            VerifyKey::Hs256 { .. } => None,
        }
    }

    /// Writes the verification key into `dir` (see [`VerifyKey::write_to_dir`]) and returns
    /// the file's path.
    pub fn write_key(&self, dir: &Path) -> Result<PathBuf, TokenServiceError> {
        self.verify_key().write_to_dir(dir)
    }

    /// The mode in force.
    pub fn mode(&self) -> Mode {
        self.core.shared.mode()
    }

    /// Switches mode. `Down` closes the port and cuts open connections before returning;
    /// `Ok` or `Error` after `Down` re-binds the same port before returning (and fails,
    /// staying `Down`, if something else took it). An `Error` status outside 400..=599 is
    /// refused.
    pub async fn set_mode(&self, mode: Mode) -> Result<(), TokenServiceError> {
        self.core.set_mode(mode).await
    }

    /// The clock offset in force, seconds (negative: the issuer's clock is behind).
    pub fn clock_offset(&self) -> i64 {
        self.core.shared.clock_offset_secs()
    }

    /// Sets the issuer's clock error: tokens are stamped with system time plus `offset_secs`.
    pub fn set_clock_offset(&self, offset_secs: i64) {
        self.core.set_clock_offset(offset_secs);
    }

    /// The service's clock now, Unix seconds (system time plus the offset).
    pub fn now(&self) -> i64 {
        self.core.shared.now()
    }

    /// The lifetime tokens get when the request names none: the override, else the
    /// configured ttl.
    pub fn ttl(&self) -> Duration {
        self.core.shared.ttl()
    }

    /// Overrides every token's lifetime, even one a request asks for (whole seconds);
    /// `None` goes back to the request's or the configured ttl.
    pub fn set_ttl(&self, ttl: Option<Duration>) {
        self.core.set_ttl(ttl);
    }

    /// Back to normal: mode `Ok` (re-binding if `Down`), no ttl override, the configured
    /// clock offset. The journal is kept.
    pub async fn reset(&self) -> Result<(), TokenServiceError> {
        self.core.reset().await
    }

    /// Every `/token` and `/refresh` request, oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.core.shared.journal.entries()
    }

    /// Forgets the journal (sequence numbers keep counting).
    pub fn clear_journal(&self) {
        self.core.shared.journal.clear();
    }

    /// Stops both listeners, cuts open connections, and waits until they are closed.
    pub async fn shutdown(mut self) {
        if let Some((_, control)) = self.control.take() {
            control.stop().await;
        }
        self.core.stop().await;
        tracing::info!(addr = %self.core.addr, "token service stopped");
    }
}
