//! Values a probe pattern can refer to, known only once the run is up: a service's port, pid
//! and listen address, the squatter's pid. `{port:gateway}` in a log pattern becomes the
//! gateway's port; `{host:web}` the address `web` was told to listen on (what `{host}` in its
//! command became: 127.0.0.1 on the process backend, 0.0.0.0 in a container).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The placeholder syntax: `{port:NAME}`, `{pid:NAME}`, `{host:NAME}`, `{squatter_pid}`.
pub fn placeholders() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"\{(?:port|pid|host):[A-Za-z0-9_-]+\}|\{squatter_pid\}")
            .unwrap_or_else(|_| unreachable_regex())
    })
}

fn unreachable_regex() -> regex::Regex {
    // The pattern above is a constant that compiles; this keeps the code free of unwrap.
    regex::Regex::new("$^").unwrap_or_else(|_| std::process::abort())
}

/// The run's values, kept current by the runner.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Vars {
    /// Sets `{key}` (e.g. `port:gateway`).
    pub fn set(&self, key: impl Into<String>, value: impl ToString) {
        if let Ok(mut v) = self.values.lock() {
            v.insert(key.into(), value.to_string());
        }
    }

    /// `pattern` with every placeholder replaced by its value (regex-escaped), or the first
    /// placeholder this run has no value for (a control run has no squatter, for instance).
    pub fn expand(&self, pattern: &str) -> Result<String, String> {
        let Ok(values) = self.values.lock() else {
            return Ok(pattern.to_string());
        };
        let mut missing = None;
        let expanded = placeholders()
            .replace_all(pattern, |caps: &regex::Captures<'_>| {
                let whole = &caps[0];
                let key = &whole[1..whole.len() - 1];
                match values.get(key) {
                    Some(v) => regex::escape(v),
                    None => {
                        missing.get_or_insert_with(|| whole.to_string());
                        whole.to_string()
                    }
                }
            })
            .into_owned();
        match missing {
            Some(m) => Err(m),
            None => Ok(expanded),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_placeholders_are_replaced() {
        let vars = Vars::default();
        vars.set("port:gateway", 18789);
        vars.set("squatter_pid", 42);
        vars.set("host:gateway", "0.0.0.0");
        assert_eq!(
            vars.expand(r"Port {port:gateway} .* pid {squatter_pid}\b on {host:gateway}"),
            Ok(r"Port 18789 .* pid 42\b on 0\.0\.0\.0".to_string())
        );
        assert_eq!(
            vars.expand("pid {pid:other}"),
            Err("{pid:other}".to_string())
        );
    }
}
