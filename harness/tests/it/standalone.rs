//! `clawchaos proxy` and `clawchaos mock-llm` on their own: one line on stdout with the
//! address they listen on (so `--port 0` is usable from a script), no colour codes when the
//! output is not a terminal, and a port in use is one readable error with its cause once.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A server started by the test, stopped with SIGTERM (and reaped) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let _ = self.0.wait();
    }
}

fn clawchaos(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clawchaos"));
    command.args(args).env_remove("RUST_LOG");
    command
}

/// Starts `args` and reads the first stdout line, `listening on IP:PORT`.
fn start(args: &[&str]) -> (Server, SocketAddr) {
    let mut child = clawchaos(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line is {line:?}"))
        .parse()
        .expect("an address");
    (server, addr)
}

/// The server answers HTTP `GET path` on `addr` with a 200.
fn answers(addr: SocketAddr, path: &str) {
    use std::io::Write;
    let mut stream = TcpStream::connect(addr).expect("connects");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

fn stderr_of(mut server: Server) -> String {
    let mut stderr = server.0.stderr.take().expect("stderr");
    drop(server);
    let mut text = String::new();
    stderr.read_to_string(&mut text).expect("stderr");
    text
}

#[test]
fn each_server_prints_its_address_and_writes_no_colour_codes_to_a_pipe() {
    for (args, path) in [
        (&["proxy", "--port", "0"][..], "/version"),
        (&["mock-llm", "--port", "0"][..], "/v1/models"),
    ] {
        let (server, addr) = start(args);
        assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
        answers(addr, path);
        let stderr = stderr_of(server);
        assert!(
            !stderr.contains('\u{1b}'),
            "{args:?} wrote colour codes: {stderr:?}"
        );
    }
}

#[test]
fn a_port_in_use_is_one_error_naming_its_cause_once() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    for server in ["proxy", "mock-llm"] {
        let out = clawchaos(&[server, "--port", &port])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{server}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{server} panicked: {stderr}");
        assert_eq!(
            stderr.matches("Address already in use").count(),
            1,
            "{server}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{server} claimed to listen");
    }
}
