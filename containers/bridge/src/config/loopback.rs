//! The bridge only ever talks to loopback, unless it is alone in a network namespace the
//! harness made (`bridge.own_network_namespace`): every configured address is checked here.

use reqwest::Url;
use std::net::{IpAddr, SocketAddr};

/// Which addresses the bridge may talk to and listen on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reach {
    /// Loopback only (127.0.0.0/8, ::1, `localhost`): the bridge on a shared machine.
    #[default]
    Loopback,
    /// Any IP address (no other names): the bridge alone in a network namespace the harness
    /// made, such as a container on a run's own network, where every address is a test's.
    OwnNamespace,
}

/// Whether `host` (a name, an IPv4 address or a bracketed/unbracketed IPv6 address) is
/// loopback. The only name accepted is `localhost`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Reach {
    /// Whether the bridge may talk to `host`.
    fn allows_host(self, host: &str) -> bool {
        match self {
            Reach::Loopback => is_loopback_host(host),
            Reach::OwnNamespace => {
                is_loopback_host(host)
                    || host
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<IpAddr>()
                        .is_ok()
            }
        }
    }

    /// Checks an `http://` URL (gateway, token service): scheme http, loopback host.
    pub fn http_url(self, text: &str) -> Result<Url, String> {
        let url = Url::parse(text.trim()).map_err(|e| {
            format!("expected an http:// URL on a loopback address, found `{text}` ({e})")
        })?;
        if url.scheme() != "http" {
            return Err(format!(
                "expected an http:// URL (no TLS here), found scheme `{}` in `{text}`",
                url.scheme()
            ));
        }
        let host = url.host_str().unwrap_or_default();
        if !self.allows_host(host) {
            return Err(format!(
                "expected a loopback address (127.0.0.0/8, ::1, localhost), found host `{host}`: \
                 claw-bridge only talks to loopback"
            ));
        }
        Ok(url)
    }

    /// Checks an AMQP URL: scheme amqp, loopback host, parseable by the AMQP client.
    pub fn amqp_url(self, text: &str) -> Result<String, String> {
        let uri: lapin::uri::AMQPUri = text.trim().parse().map_err(|e| {
            format!(
                "expected an amqp:// URL like `amqp://127.0.0.1:5672/%2f`, found `{text}` ({e})"
            )
        })?;
        if uri.scheme != lapin::uri::AMQPScheme::AMQP {
            return Err(format!(
                "expected an amqp:// URL (no TLS here), found `{}`",
                uri.scheme
            ));
        }
        if !self.allows_host(&uri.authority.host) {
            return Err(format!(
                "expected a loopback address (127.0.0.0/8, ::1, localhost), found host `{}`: \
                 claw-bridge only talks to loopback",
                uri.authority.host
            ));
        }
        Ok(text.trim().to_owned())
    }

    /// Checks Kafka bootstrap servers: a comma-separated list of loopback `host:port`.
    pub fn bootstrap_servers(self, text: &str) -> Result<String, String> {
        let mut hosts = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (host, port) = part.rsplit_once(':').ok_or_else(|| {
                format!(
                    "expected bootstrap servers like `127.0.0.1:9092`, found `{part}` (no port)"
                )
            })?;
            port.parse::<u16>()
                .map_err(|_| format!("expected a port number in `{part}`, found `{port}`"))?;
            if !self.allows_host(host) {
                return Err(format!(
                    "expected a loopback address (127.0.0.0/8, ::1, localhost), found host `{host}`: \
                     claw-bridge only talks to loopback"
                ));
            }
            hosts.push(part.to_owned());
        }
        if hosts.is_empty() {
            return Err("expected bootstrap servers like `127.0.0.1:9092`, found nothing".into());
        }
        Ok(hosts.join(","))
    }

    /// Checks a listen address (`127.0.0.1:8080`).
    pub fn listen_addr(self, text: &str) -> Result<SocketAddr, String> {
        let addr: SocketAddr = text.trim().parse().map_err(|_| {
            format!("expected a socket address like `127.0.0.1:8080`, found `{text}`")
        })?;
        if self == Reach::Loopback && !addr.ip().is_loopback() {
            return Err(format!(
                "expected a loopback address to listen on, found `{addr}`: claw-bridge only \
                 listens on loopback"
            ));
        }
        Ok(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_only() {
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("127.8.9.10"));
        assert!(is_loopback_host("[::1]"));
        assert!(is_loopback_host("localhost"));
        assert!(!is_loopback_host("10.0.0.1"));
        assert!(!is_loopback_host("example.com"));
        assert!(!is_loopback_host("0.0.0.0"));
    }

    #[test]
    fn urls() {
        assert!(Reach::Loopback.http_url("http://127.0.0.1:18789").is_ok());
        assert!(Reach::Loopback.http_url("http://[::1]:18789/x").is_ok());
        let err = Reach::Loopback
            .http_url("http://192.168.1.5:18789")
            .unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(
            Reach::Loopback
                .http_url("https://127.0.0.1")
                .unwrap_err()
                .contains("no TLS")
        );
        assert!(
            Reach::Loopback
                .amqp_url("amqp://127.0.0.1:5672/%2f")
                .is_ok()
        );
        assert!(
            Reach::Loopback
                .amqp_url("amqp://rabbit.example:5672/%2f")
                .unwrap_err()
                .contains("loopback")
        );
        assert!(
            Reach::Loopback
                .amqp_url("amqps://127.0.0.1:5671/%2f")
                .unwrap_err()
                .contains("no TLS")
        );
        assert_eq!(
            Reach::Loopback
                .bootstrap_servers("127.0.0.1:9092, localhost:9093")
                .unwrap(),
            "127.0.0.1:9092,localhost:9093"
        );
        assert!(
            Reach::Loopback
                .bootstrap_servers("127.0.0.1:9092,kafka.prod:9092")
                .unwrap_err()
                .contains("loopback")
        );
        assert!(Reach::Loopback.bootstrap_servers("127.0.0.1").is_err());
        assert!(Reach::Loopback.listen_addr("127.0.0.1:8080").is_ok());
        assert!(
            Reach::Loopback
                .listen_addr("0.0.0.0:8080")
                .unwrap_err()
                .contains("loopback")
        );
    }

    #[test]
    fn in_its_own_namespace_any_ip_address_passes_but_no_other_name() {
        let own = Reach::OwnNamespace;
        assert!(own.http_url("http://10.213.7.1:18789").is_ok());
        assert!(own.amqp_url("amqp://10.213.7.1:5672/%2f").is_ok());
        assert!(own.bootstrap_servers("10.213.7.1:9092").is_ok());
        assert!(own.listen_addr("0.0.0.0:8080").is_ok());
        assert!(own.http_url("http://rabbit.example:1").is_err());
        assert!(own.bootstrap_servers("kafka.prod:9092").is_err());
    }
}
