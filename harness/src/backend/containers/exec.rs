//! A service's command-line tool run inside its container (`docker exec`), with the instance's
//! environment, under `timeout -s KILL` (the engine cannot kill an exec; the command in the
//! container ends itself), and timed out on the harness's side as well.

use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt as _;

use super::super::tool::{Tool, ToolError, ToolOutput};
use super::super::{BoxFuture, CliCommand};

/// How much longer than the command's own timeout the harness waits for the engine.
const ENGINE_GRACE: Duration = Duration::from_secs(5);

/// A tool run in a container.
pub struct ExecTool {
    /// The engine.
    pub docker: Docker,
    /// The container it runs in.
    pub container: String,
    /// The program, its leading arguments and the environment pointing it at the instance.
    pub command: CliCommand,
    /// The user it runs as (`uid:gid`), the service's.
    pub user: Option<String>,
}

/// `timeout -s KILL SECONDS` in front of `command` and `args`.
fn bounded(command: &[String], args: &[String], timeout: Duration) -> Vec<String> {
    let seconds = format!("{:.3}", timeout.as_secs_f64().max(0.001));
    ["timeout", "-s", "KILL", &seconds]
        .into_iter()
        .map(str::to_string)
        .chain(command.iter().cloned())
        .chain(args.iter().cloned())
        .collect()
}

impl Tool for ExecTool {
    fn run_with<'a>(
        &'a self,
        args: &'a [String],
        extra_env: &'a [(String, String)],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        Box::pin(async move {
            let program = self.command.command.join(" ");
            let failed = |e: bollard::errors::Error| ToolError::Spawn {
                program: program.clone(),
                source: std::io::Error::other(e.to_string()),
            };
            let started = Instant::now();
            let env: Vec<String> = self
                .command
                .env
                .iter()
                .chain(extra_env)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let exec = self
                .docker
                .create_exec(
                    &self.container,
                    CreateExecOptions {
                        cmd: Some(bounded(&self.command.command, args, timeout)),
                        env: Some(env),
                        user: self.user.clone(),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        ..Default::default()
                    },
                )
                .await
                .map_err(failed)?;
            let run = async {
                let mut stdout = Vec::new();
                let mut stderr = Vec::new();
                let started_exec = self
                    .docker
                    .start_exec(&exec.id, None::<StartExecOptions>)
                    .await
                    .map_err(failed)?;
                if let StartExecResults::Attached { mut output, .. } = started_exec {
                    while let Some(Ok(chunk)) = output.next().await {
                        match chunk {
                            bollard::container::LogOutput::StdErr { message } => {
                                stderr.extend_from_slice(&message);
                            }
                            other => stdout.extend_from_slice(&other.into_bytes()),
                        }
                    }
                }
                let inspect = self.docker.inspect_exec(&exec.id).await.map_err(failed)?;
                Ok::<_, ToolError>((inspect.exit_code, stdout, stderr))
            };
            match tokio::time::timeout(timeout + ENGINE_GRACE, run).await {
                // `timeout` exits 137 when it had to kill the command: out of time.
                Ok(Ok((Some(137), _, _))) => Err(ToolError::Timeout(timeout)),
                Ok(Ok((code, stdout, stderr))) => Ok(ToolOutput {
                    code: code.and_then(|c| i32::try_from(c).ok()),
                    stdout: String::from_utf8_lossy(&stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&stderr).into_owned(),
                    took: started.elapsed(),
                }),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(ToolError::Timeout(timeout)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_bounded_by_timeout_in_the_container() {
        let command = vec!["openclaw".to_string()];
        let args = vec!["models".to_string(), "status".to_string()];
        assert_eq!(
            bounded(&command, &args, Duration::from_millis(2500)),
            [
                "timeout", "-s", "KILL", "2.500", "openclaw", "models", "status"
            ]
        );
    }
}
