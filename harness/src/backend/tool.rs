//! A service's own command-line tool run against it (`openclaw models status`, `rabbitmqctl
//! close_all_connections`): one implementation for the probes and the faults that use one. A
//! backend gives each service the [`Tool`] that reaches it; the process backend's runs the
//! program on this machine with the instance's environment.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{BoxFuture, CliCommand};

/// What a tool run printed and how it ended.
#[derive(Debug, Clone)]
pub struct ToolOutput {
    /// Its exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// How long it took.
    pub took: Duration,
}

/// Why a tool could not be run to its end.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// It could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// It did not finish in time (and was killed).
    #[error("no answer within {}ms", .0.as_millis())]
    Timeout(Duration),
}

/// A service's command-line tool.
pub trait Tool: Send + Sync {
    /// Runs the tool with `args` and `env` on top of its own environment, killing it after
    /// `timeout`.
    fn run_with<'a>(
        &'a self,
        args: &'a [String],
        env: &'a [(String, String)],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>>;

    /// Runs the tool with `args`, killing it after `timeout`.
    fn run<'a>(
        &'a self,
        args: &'a [String],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        self.run_with(args, &[], timeout)
    }
}

/// A tool run as a local program, with the environment that points it at the instance.
pub(super) struct LocalTool(pub CliCommand);

impl Tool for LocalTool {
    fn run_with<'a>(
        &'a self,
        args: &'a [String],
        env: &'a [(String, String)],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        Box::pin(async move {
            let spawn_error = |program: &str, source| ToolError::Spawn {
                program: program.to_string(),
                source,
            };
            let Some((program, lead)) = self.0.command.split_first() else {
                return Err(spawn_error("", std::io::Error::other("empty command")));
            };
            let mut command = tokio::process::Command::new(program);
            command
                .args(lead)
                .args(args)
                .envs(self.0.env.iter().chain(env).cloned())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            let started = Instant::now();
            match tokio::time::timeout(timeout, command.output()).await {
                Ok(Ok(out)) => Ok(ToolOutput {
                    code: out.status.code(),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                    took: started.elapsed(),
                }),
                Ok(Err(e)) => Err(spawn_error(program, e)),
                Err(_) => Err(ToolError::Timeout(timeout)),
            }
        })
    }
}
