//! RabbitMQ: consume `openclaw_tasks`, publish confirmed results to `openclaw_results`,
//! acknowledge after the confirm, keep the JWT fresh with `connection.update_secret`, and
//! reconnect with backoff when the link fails.

mod session;
mod sink;

use super::BrokerError;
use crate::backoff::Backoff;
use crate::classify::{ErrorClass, classify_broker, classify_io};
use crate::config::Messaging;
use crate::health::{Health, Link};
use crate::pipeline::Pipeline;
use crate::secret::Secret;
use crate::token::TokenManager;
use lapin::ErrorKind;
use session::{Session, SessionEnd};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The user name sent with a JWT password (RabbitMQ's OAuth 2 backend ignores it).
pub const JWT_USERNAME: &str = "claw-bridge";
/// How long the TCP connect plus AMQP handshake may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A session that lived this long resets the reconnect backoff.
const STABLE_AFTER: Duration = Duration::from_secs(10);
/// The consumer tag.
pub(crate) const CONSUMER_TAG: &str = "claw-bridge";

/// Maps a lapin error to a class and text (before token refinement).
pub fn broker_error(e: &lapin::Error) -> BrokerError {
    match e.kind() {
        ErrorKind::ProtocolError(amqp) => {
            let code = amqp.get_id();
            let text = amqp.get_message().as_str();
            BrokerError::new(classify_broker(Some(code), text), format!("{code} {text}"))
        }
        ErrorKind::IOError(io) => {
            BrokerError::new(classify_io(io), format!("broker I/O error: {io}"))
        }
        ErrorKind::MissingHeartbeatError => BrokerError::new(
            ErrorClass::Stalled,
            "missed heartbeats: nothing heard from the broker for two heartbeat intervals",
        ),
        _ => {
            let text = e.to_string();
            BrokerError::new(classify_broker(None, &text), text)
        }
    }
}

/// Runs the RabbitMQ side until `shutdown` turns true: connect, consume, reconnect.
pub async fn run(
    messaging: Messaging,
    pipeline: Arc<Pipeline>,
    tokens: Arc<TokenManager>,
    health: Health,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::default();
    let mut first = true;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if !first {
            health.count_reconnect();
        }
        first = false;
        let started = Instant::now();
        // Connecting can take a while (token fetch, handshake timeout): a stop cuts it short.
        let mut stop = shutdown.clone();
        let connected = tokio::select! {
            c = connect(&messaging, &tokens, &health) => c,
            _ = crate::stop::stopped(&mut stop) => return,
        };
        let outcome: Attempt<()> = match connected {
            Err(e) => Err(e),
            Ok((session, token)) => {
                health.up(Link::Broker);
                tracing::info!(
                    tasks = %messaging.tasks,
                    results = %messaging.results,
                    prefetch = messaging.prefetch,
                    "connected to RabbitMQ; consuming"
                );
                match session
                    .run(&pipeline, &tokens, &health, &mut shutdown)
                    .await
                {
                    SessionEnd::Shutdown => return,
                    SessionEnd::Failed(e) => Err((e, token)),
                }
            }
        };
        let mut refused = false;
        if let Err((e, token)) = outcome {
            let class = tokens.classify(e.class);
            health.down(Link::Broker, class, &e.message);
            refused = class.is_auth() || class == ErrorClass::TokenServiceUnavailable;
            if class.is_auth()
                && let Some(token) = &token
            {
                tokens.refresh_after_refusal(token).await;
            }
        }
        if started.elapsed() >= STABLE_AFTER {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        tracing::info!(
            delay_ms = delay.as_millis() as u64,
            "reconnecting to RabbitMQ after backoff"
        );
        // After a token refusal, a new token ends the wait early (the token keeper backs off
        // its own retries, so this cannot spin).
        let mut token_rx = tokens.subscribe();
        token_rx.mark_unchanged();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            Ok(()) = token_rx.changed(), if refused => {
                tracing::debug!("new broker token; reconnecting now");
            }
            _ = crate::stop::stopped(&mut shutdown) => return,
        }
    }
}

/// A failed attempt and the token it used (to refresh after a refusal).
type Attempt<T> = Result<T, (BrokerError, Option<Secret>)>;

/// Gets a token and opens a session with it.
async fn connect(
    messaging: &Messaging,
    tokens: &TokenManager,
    health: &Health,
) -> Attempt<(Session, Option<Secret>)> {
    let token = tokens.for_connect().await.map_err(|e| {
        (
            BrokerError::new(
                ErrorClass::TokenServiceUnavailable,
                format!("no broker token to connect with: {e}"),
            ),
            None,
        )
    })?;
    match Session::open(messaging, token.clone(), health).await {
        Ok(session) => Ok((session, token)),
        Err(e) => Err((e, token)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::protocol::{AMQPError, AMQPErrorKind, AMQPHardError, AMQPSoftError};

    fn amqp(kind: AMQPErrorKind, text: &str) -> lapin::Error {
        ErrorKind::ProtocolError(AMQPError::new(kind, text.into())).into()
    }

    #[test]
    fn lapin_errors_map_to_classes_with_code_and_text() {
        let e = broker_error(&amqp(
            AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED),
            "ACCESS_REFUSED - access to exchange 'amq.default' in vhost '/' refused for user \
             'claw-bridge', backend rabbit_auth_backend_oauth2 returned an error: \"Provided JWT \
             token has expired at timestamp 1795664824 (validated at 1795664824)\"",
        ));
        assert_eq!(e.class, ErrorClass::TokenExpired);
        assert!(
            e.message.starts_with("403 ACCESS_REFUSED - "),
            "{}",
            e.message
        );
        let e = broker_error(&amqp(
            AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED),
            "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For \
             details see the broker logfile.",
        ));
        assert_eq!(e.class, ErrorClass::AuthFailed);
        let e = broker_error(&amqp(
            AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED),
            "NOT_ALLOWED - access to vhost '/' refused for user 'claw-bridge': connection limit \
             (0) is reached",
        ));
        assert_eq!(e.class, ErrorClass::RateLimited);
        assert!(e.message.starts_with("530 "), "{}", e.message);
        let e = broker_error(&amqp(
            AMQPErrorKind::Hard(AMQPHardError::CONNECTIONFORCED),
            "CONNECTION_FORCED - Closed via management plugin",
        ));
        assert_eq!(e.class, ErrorClass::ConnectionForced);
        let e = broker_error(&ErrorKind::MissingHeartbeatError.into());
        assert_eq!(e.class, ErrorClass::Stalled);
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(broker_error(&refused.into()).class, ErrorClass::Unreachable);
    }
}
