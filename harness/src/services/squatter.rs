//! The port squatter of the `squat_port` fault: a `python3` process that holds a port on one
//! loopback family before the squatted service starts, on that service's host (where the
//! service's own `lsof` must find it). It is ready once it says it holds it. It either never
//! accepts, or is another application's HTTP server (`answers`): a 404, a 200 page of its own,
//! or that page dripped a byte a second; each request it is sent is in its output.

use std::time::Duration;

use crate::backend::{BackendError, Placement, Plan, Ready, Recipe, Run, StartContext};
use crate::scenario::{Family, SquatterAnswer};

/// Another application's page, as the `200` and `drip` squatters serve it.
const FOREIGN_PAGE: &str = "<html><body><h1>Grafana</h1></body></html>\n";

/// The HTTP response a squatter answers with, and the pause between its bytes (`None`: all at
/// once); `None` for one that never answers.
fn http_answer(answers: SquatterAnswer) -> Option<(String, Option<f32>)> {
    let response = |status: &str, kind: &str, body: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    match answers {
        SquatterAnswer::Nothing => None,
        SquatterAnswer::NotFound => Some((
            response("404 Not Found", "text/plain", "404 page not found\n"),
            None,
        )),
        SquatterAnswer::Foreign => Some((response("200 OK", "text/html", FOREIGN_PAGE), None)),
        SquatterAnswer::Drip => Some((response("200 OK", "text/html", FOREIGN_PAGE), Some(1.0))),
    }
}

/// The Python that answers every connection with `response` once its request has arrived,
/// printing the request line.
fn serve_http(response: &str, delay: Option<f32>) -> String {
    let send = match delay {
        None => "c.sendall(R)".to_string(),
        Some(d) => format!("for b in R:\n            c.sendall(bytes([b])); time.sleep({d})"),
    };
    format!(
        "R = {response:?}.encode()\n\
         def serve(c):\n\
         \x20   try:\n\
         \x20       c.settimeout(30)\n\
         \x20       data = b''\n\
         \x20       while b'\\r\\n\\r\\n' not in data:\n\
         \x20           chunk = c.recv(4096)\n\
         \x20           if not chunk: break\n\
         \x20           data += chunk\n\
         \x20       print('request: ' + data.split(b'\\r\\n', 1)[0].decode('latin-1'), flush=True)\n\
         \x20       {send}\n\
         \x20   except OSError:\n\
         \x20       pass\n\
         \x20   finally:\n\
         \x20       c.close()\n\
         while True:\n\
         \x20   c, _ = s.accept()\n\
         \x20   threading.Thread(target=serve, args=(c,), daemon=True).start()\n"
    )
}

/// A squatter on `port` of one family's loopback address.
pub struct SquatterRecipe {
    /// The port to hold.
    pub port: u16,
    /// 127.0.0.1 or ::1.
    pub family: Family,
    /// What it answers a connection with.
    pub answers: SquatterAnswer,
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
        let hold = format!(
            "import socket, threading, time\n\
             s = socket.socket(socket.{af}, socket.SOCK_STREAM)\n\
             if socket.{af} == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)\n\
             s.bind(('{host}', {port}))\n\
             s.listen(16)\n\
             print('squatting {host} port {port}', flush=True)\n"
        );
        let script = match http_answer(self.answers) {
            None => format!("{hold}time.sleep(86400)\n"),
            Some((response, delay)) => format!("{hold}{}", serve_http(&response, delay)),
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};

    /// Runs the squatter's script for `answers` on a free port and sends it one request;
    /// returns what came back and how long it took.
    fn ask(answers: SquatterAnswer) -> (String, Duration) {
        let port = crate::backend::ports::free_port().expect("a free port");
        let hold = format!(
            "import socket, threading, time\n\
             s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n\
             s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('127.0.0.1', {port}))\n\
             s.listen(16)\n\
             print('squatting', flush=True)\n"
        );
        let (response, delay) = http_answer(answers).expect("an HTTP squatter");
        let mut child = std::process::Command::new("python3")
            .arg("-c")
            .arg(format!("{hold}{}", serve_http(&response, delay)))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut out = BufReader::new(child.stdout.take().expect("its stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("it says it holds the port");
        let started = std::time::Instant::now();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("sends");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("reads");
        let took = started.elapsed();
        line.clear();
        out.read_line(&mut line).expect("it logs the request");
        assert_eq!(line.trim(), "request: GET /readyz HTTP/1.1");
        let _ = child.kill();
        let _ = child.wait();
        (answer, took)
    }

    #[test]
    fn an_http_squatter_answers_as_another_application_would() {
        let (not_found, _) = ask(SquatterAnswer::NotFound);
        assert!(
            not_found.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{not_found}"
        );
        assert!(not_found.ends_with("404 page not found\n"), "{not_found}");
        let (foreign, _) = ask(SquatterAnswer::Foreign);
        assert!(foreign.starts_with("HTTP/1.1 200 OK\r\n"), "{foreign}");
        assert!(foreign.ends_with(FOREIGN_PAGE), "{foreign}");
        assert!(http_answer(SquatterAnswer::Nothing).is_none());
    }

    #[test]
    fn a_dripping_squatter_sends_a_byte_a_second() {
        let (response, delay) = http_answer(SquatterAnswer::Drip).expect("HTTP");
        assert_eq!(delay, Some(1.0));
        let script = serve_http(&response, delay);
        assert!(
            script.contains("c.sendall(bytes([b])); time.sleep(1)"),
            "{script}"
        );
    }
}
