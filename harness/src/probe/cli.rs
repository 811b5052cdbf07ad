//! The command-line probe: runs the service's own tool (e.g. `openclaw models status --json`)
//! against the running instance, straight or through a link (`OPENCLAW_GATEWAY_URL` naming the
//! link's proxy), and checks its exit code and output.

use super::ms;
use crate::backend::{Tool, ToolError};
use crate::scenario::ProbeKind;

pub(super) async fn evaluate(
    kind: &ProbeKind,
    tool: &dyn Tool,
    through: Option<std::net::SocketAddr>,
) -> (bool, String) {
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
    let env: Vec<(String, String)> = through
        .map(|addr| ("OPENCLAW_GATEWAY_URL".to_string(), format!("ws://{addr}")))
        .into_iter()
        .collect();
    let result = match tool.run_with(args, &env, *timeout).await {
        Ok(out) => out,
        Err(ToolError::Timeout(_)) => {
            return (
                false,
                format!("`{}` timed out after {}", args.join(" "), ms(*timeout)),
            );
        }
        Err(e) => return (false, e.to_string()),
    };
    let (code, stdout, stderr) = (result.code, &result.stdout, &result.stderr);
    let mut holds = exit_code.is_none_or(|c| code == Some(c));
    let mut detail = format!(
        "`{}` exited {} in {}",
        args.join(" "),
        code.map_or_else(|| "by a signal".to_string(), |c| c.to_string()),
        ms(result.took)
    );
    // What it said when it failed: its first line naming an error, else its last line,
    // shortened.
    let said = |text: &str| {
        text.lines()
            .find(|l| l.contains("rror") || l.contains("failed"))
            .or_else(|| text.lines().rfind(|l| !l.trim().is_empty()))
            .map(str::to_string)
    };
    if !holds && let Some(last) = said(stderr).or_else(|| said(stdout)) {
        let last: String = last.trim().chars().take(200).collect();
        detail.push_str(&format!(": {last}"));
    }
    if let Some((pointer, expected)) = json {
        let (matches, seen) = super::json_pointer_check(stdout.trim(), pointer, expected);
        holds &= matches;
        detail.push_str(&seen);
    }
    if let Some(re) = output {
        let matched = re.is_match(stdout) || re.is_match(stderr);
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
