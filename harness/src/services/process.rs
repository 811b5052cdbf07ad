//! Any local program as a service. `{host}`, `{port}`, `{run_dir}` and `{service_dir}` in its
//! command and environment are replaced by the address it must listen on (its host's, so a
//! file never names 127.0.0.1), the port the harness allocated and the run's folders.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use crate::backend::{BackendError, Plan, Ready, Recipe, Run, StartContext};

/// A `process` service.
pub struct ProcessRecipe<'a> {
    /// Program and arguments.
    pub command: &'a [String],
    /// Extra environment.
    pub env: &'a [(String, String)],
    /// A probe that must hold before it counts as started (default: its port accepts TCP).
    pub ready: Option<&'a str>,
    /// How long readiness may take.
    pub ready_within: Duration,
}

impl Recipe for ProcessRecipe<'_> {
    fn plan(&self, name: &str, context: &StartContext) -> Result<Plan, BackendError> {
        let dir = context.service_dir(name)?;
        let port = context.port_for(name)?;
        let host = context.host.listen_ip();
        let fill = |text: &str| substitute(text, host, port, &context.run_dir, &dir);
        let launch = context.launch(
            name,
            self.command.iter().map(|s| fill(s)).collect(),
            self.env.iter().map(|(k, v)| (k.clone(), fill(v))).collect(),
            dir.clone(),
        );
        Ok(Plan::new(Run::Process { launch, port }))
    }

    fn ready(&self) -> Ready {
        match self.ready {
            Some(probe) => Ready::Probe {
                probe: probe.to_string(),
                within: self.ready_within,
            },
            None => Ready::Port {
                within: self.ready_within,
            },
        }
    }
}

fn substitute(text: &str, host: IpAddr, port: u16, run_dir: &Path, service_dir: &Path) -> String {
    text.replace("{host}", &host.to_string())
        .replace("{port}", &port.to_string())
        .replace("{run_dir}", &run_dir.display().to_string())
        .replace("{service_dir}", &service_dir.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_other_braces_kept() {
        let filled = substitute(
            "--bind {host} {port} {run_dir}/{service_dir} {other}",
            IpAddr::from([127, 0, 0, 2]),
            8080,
            Path::new("/run"),
            Path::new("/run/web"),
        );
        assert_eq!(filled, "--bind 127.0.0.2 8080 /run//run/web {other}");
    }
}
