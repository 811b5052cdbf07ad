//! The port squatter of the `squat_port` fault: a `python3` process that holds a port on one
//! loopback family before the squatted service starts, on that service's host (where the
//! service's own `lsof` must find it). It is ready once it says it holds it.

use std::time::Duration;

use crate::backend::{BackendError, Placement, Plan, Ready, Recipe, Run, StartContext};
use crate::scenario::Family;

/// A squatter on `port` of one family's loopback address.
pub struct SquatterRecipe {
    /// The port to hold.
    pub port: u16,
    /// 127.0.0.1 or ::1.
    pub family: Family,
    /// The service whose port it takes: it runs on that service's host.
    pub beside: String,
}

impl SquatterRecipe {
    /// The name it runs under (no scenario service has a space in its name).
    pub fn name(&self) -> String {
        format!("squatter of port {}", self.port)
    }
}

impl Recipe for SquatterRecipe {
    fn plan(&self, name: &str, context: &StartContext) -> Result<Plan, BackendError> {
        let port = self.port;
        let (af, host) = match self.family {
            Family::Ipv4 => ("AF_INET", "127.0.0.1"),
            Family::Ipv6 => ("AF_INET6", "::1"),
        };
        let script = format!(
            "import socket, time\n\
             s = socket.socket(socket.{af}, socket.SOCK_STREAM)\n\
             if socket.{af} == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)\n\
             s.bind(('{host}', {port}))\n\
             s.listen(16)\n\
             print('squatting {host} port {port}', flush=True)\n\
             time.sleep(86400)\n"
        );
        let dir = context.run_dir.join(format!("squatter-{port}"));
        std::fs::create_dir_all(&dir)?;
        let command = vec!["python3".to_string(), "-c".to_string(), script];
        let launch = context.launch(name, command, Vec::new(), dir);
        Ok(Plan {
            placement: Placement::With(self.beside.clone()),
            ..Plan::new(Run::Process { launch, port })
        })
    }

    fn ready(&self) -> Ready {
        Ready::Output {
            within: Duration::from_secs(15),
        }
    }
}
