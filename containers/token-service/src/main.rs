//! `clawchaos-token-service`: the token service as its own process, driven over `/control/*`.

use std::{io::Write, net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::Parser;
use clawchaos_service_kit::{describe, init_tracing, shutdown_signal};
use clawchaos_token_service::{SigningAlg, TokenService, TokenServiceConfig};

/// Mints and refreshes JWTs for RabbitMQ's OAuth 2 backend, with failure modes and a
/// settable clock offset.
///
/// Once it accepts connections it prints `listening on IP:PORT` on stdout, then
/// `control listening on IP:PORT` if `--control-listen` is given, and nothing else; logs go
/// to stderr. With `--key-out` the key file is written before that.
#[derive(Debug, Parser)]
#[command(name = "clawchaos-token-service", version)]
struct Args {
    /// Token API address (loopback only, unless --own-network-namespace); port 0 picks a
    /// free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Control API address (loopback only, as --listen), e.g. 127.0.0.1:0.
    #[arg(long)]
    control_listen: Option<SocketAddr>,
    /// This process is alone in a network namespace the harness made for it (a container on
    /// a run's own network): any of its addresses may be listened on, e.g. 0.0.0.0:8080.
    #[arg(long)]
    own_network_namespace: bool,
    /// Signature algorithm: hs256 or rs256.
    #[arg(long, default_value_t = SigningAlg::Hs256)]
    alg: SigningAlg,
    /// Token lifetime, e.g. 60s or 10m (whole seconds).
    #[arg(long, default_value = "60s", value_parser = whole_seconds)]
    ttl: Duration,
    /// The issuer's clock error, e.g. -2h or 10m; negative is behind.
    #[arg(long, default_value = "0s", value_parser = signed_seconds, allow_hyphen_values = true)]
    clock_offset: i64,
    /// `aud` claim values (repeat or comma-separate).
    #[arg(long, value_delimiter = ',', default_values_t = TokenServiceConfig::default().audience)]
    audience: Vec<String>,
    /// `scope` claim.
    #[arg(long, default_value_t = TokenServiceConfig::default().scope)]
    scope: String,
    /// `sub` claim.
    #[arg(long, default_value_t = TokenServiceConfig::default().subject)]
    subject: String,
    /// Key id in the token header.
    #[arg(long, default_value_t = TokenServiceConfig::default().kid)]
    kid: String,
    /// Directory to write the verification key to: `hs256.key` (base64url, mode 0600) or
    /// `rs256.pub.pem`.
    #[arg(long)]
    key_out: Option<PathBuf>,
}

impl Args {
    fn config(&self) -> TokenServiceConfig {
        TokenServiceConfig {
            addr: self.listen,
            alg: self.alg,
            kid: self.kid.clone(),
            subject: self.subject.clone(),
            audience: self.audience.clone(),
            scope: self.scope.clone(),
            ttl: self.ttl,
            clock_offset_secs: self.clock_offset,
            control_addr: self.control_listen,
            own_namespace: self.own_network_namespace,
        }
    }

    /// Refuses an address other than loopback, unless the process has a network namespace
    /// of its own (the project's safety rule).
    fn check(&self) -> Result<(), String> {
        if self.own_network_namespace {
            return Ok(());
        }
        for addr in std::iter::once(self.listen).chain(self.control_listen) {
            loopback(addr)?;
        }
        Ok(())
    }
}

/// A socket address on loopback; anything else is refused (the project's safety rule).
fn loopback(addr: SocketAddr) -> Result<SocketAddr, String> {
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(format!(
            "refusing to listen on {addr}: only loopback addresses (127.0.0.0/8, ::1) are allowed"
        ))
    }
}

/// A humantime duration in whole seconds (`60s`, `10m`).
fn whole_seconds(s: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(s.trim()).map_err(|e| e.to_string())?;
    if duration.subsec_nanos() != 0 {
        return Err(format!("`{s}` is not a whole number of seconds"));
    }
    Ok(duration)
}

/// A signed humantime duration in seconds: `-2h` is -7200, `10m` and `+10m` are 600.
fn signed_seconds(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (negative, magnitude) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let secs = whole_seconds(magnitude)?.as_secs();
    let secs = i64::try_from(secs).map_err(|_| format!("`{s}` is too large"))?;
    Ok(if negative { -secs } else { secs })
}

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    let args = Args::parse();
    if let Err(e) = args.check() {
        eprintln!("clawchaos-token-service: {e}");
        return ExitCode::from(2);
    }
    let service = match TokenService::start(args.config()).await {
        Ok(service) => service,
        Err(e) => {
            tracing::error!("cannot start: {}", describe(&e));
            return ExitCode::FAILURE;
        }
    };
    if let Some(dir) = &args.key_out {
        match service.write_key(dir) {
            Ok(path) => tracing::info!(path = %path.display(), "verification key written"),
            Err(e) => {
                tracing::error!("cannot write the key: {}", describe(&e));
                service.shutdown().await;
                return ExitCode::FAILURE;
            }
        }
    }
    let mut lines = format!("listening on {}\n", service.addr());
    if let Some(control) = service.control_addr() {
        lines.push_str(&format!("control listening on {control}\n"));
    }
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(lines.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        tracing::warn!("cannot write the listening addresses to stdout");
    }
    drop(stdout);
    shutdown_signal().await;
    service.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_seconds_accepts_a_sign() {
        assert_eq!(signed_seconds("-2h"), Ok(-7200));
        assert_eq!(signed_seconds("10m"), Ok(600));
        assert_eq!(signed_seconds("+10m"), Ok(600));
        assert_eq!(signed_seconds("0s"), Ok(0));
        assert_eq!(signed_seconds("-1h 30m"), Ok(-5400));
        assert!(signed_seconds("-").is_err());
        assert!(signed_seconds("--2h").is_err());
        assert!(signed_seconds("1500ms").is_err());
    }

    #[test]
    fn only_loopback_addresses_pass_unless_the_namespace_is_its_own() -> Result<(), clap::Error> {
        let parse = |args: &[&str]| {
            Args::try_parse_from(
                std::iter::once("clawchaos-token-service").chain(args.iter().copied()),
            )
        };
        assert!(parse(&["--listen", "127.0.0.1:0"])?.check().is_ok());
        assert!(parse(&["--listen", "[::1]:8080"])?.check().is_ok());
        let refused = parse(&["--listen", "0.0.0.0:0"])?
            .check()
            .err()
            .unwrap_or_default();
        assert!(refused.contains("only loopback"), "{refused}");
        let control = parse(&["--control-listen", "10.0.0.1:1"])?.check();
        assert!(control.is_err(), "the control address is checked too");
        assert!(parse(&["--listen", "localhost:80"]).is_err(), "not IP:PORT");
        let own = parse(&["--listen", "0.0.0.0:0", "--own-network-namespace"])?;
        assert!(own.check().is_ok());
        assert!(own.config().own_namespace);
        Ok(())
    }

    #[test]
    fn flags_parse_into_a_config() -> Result<(), clap::Error> {
        let args = Args::try_parse_from([
            "clawchaos-token-service",
            "--alg",
            "rs256",
            "--ttl",
            "5m",
            "--clock-offset",
            "-2h",
            "--audience",
            "rabbitmq,other",
        ])?;
        let config = args.config();
        assert_eq!(config.alg, SigningAlg::Rs256);
        assert_eq!(config.ttl, Duration::from_secs(300));
        assert_eq!(config.clock_offset_secs, -7200);
        assert_eq!(config.audience, ["rabbitmq", "other"]);
        assert_eq!(config.kid, "clawchaos");
        Ok(())
    }
}
