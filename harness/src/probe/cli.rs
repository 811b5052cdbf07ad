//! The command-line probe: runs the service's own tool (e.g. `openclaw models status --json`)
//! against the running instance and checks its exit code and output.

use std::process::Stdio;

use super::ms;
use crate::backend::CliCommand;
use crate::scenario::ProbeKind;

pub(super) async fn evaluate(kind: &ProbeKind, cli: &CliCommand) -> (bool, String) {
    let ProbeKind::Cli {
        args,
        timeout,
        exit_code,
        json,
        output,
        ..
    } = kind
    else {
        return (false, "not a cli probe".to_string());
    };
    let Some((program, lead)) = cli.command.split_first() else {
        return (false, "the service's tool has no command".to_string());
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(lead)
        .args(args)
        .envs(cli.env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = std::time::Instant::now();
    let result = match tokio::time::timeout(*timeout, command.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return (false, format!("cannot run {program}: {e}")),
        Err(_) => {
            return (
                false,
                format!("`{}` timed out after {}", args.join(" "), ms(*timeout)),
            );
        }
    };
    let code = result.status.code();
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    let mut holds = exit_code.is_none_or(|c| code == Some(c));
    let mut detail = format!(
        "`{}` exited {} in {}",
        args.join(" "),
        code.map_or_else(|| "by a signal".to_string(), |c| c.to_string()),
        ms(started.elapsed())
    );
    if let Some((pointer, expected)) = json {
        let (matches, seen) = super::json_pointer_check(stdout.trim(), pointer, expected);
        holds &= matches;
        detail.push_str(&seen);
    }
    if let Some(re) = output {
        let matched = re.is_match(&stdout) || re.is_match(&stderr);
        if !matched {
            holds = false;
        }
        detail.push_str(&format!(
            ", output {} /{re}/",
            if matched { "matches" } else { "lacks" }
        ));
    }
    (holds, detail)
}
