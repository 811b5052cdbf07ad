//! A bridge's wall clock shifted: libfaketime's offset file in its folder, re-read every
//! second. The heal sets the offset back to 0.

use super::Topology;

/// Sets `service`'s wall-clock offset, in the clock file its plan named.
pub(super) fn set(service: &str, offset_secs: i64, topology: &Topology) -> Result<(), String> {
    let target = topology.service(service)?;
    let Some(file) = target.clock_file() else {
        return Err(format!("{service} does not run under libfaketime"));
    };
    let text = if offset_secs < 0 {
        format!("-{}\n", -offset_secs)
    } else {
        format!("+{offset_secs}\n")
    };
    target
        .write_file(&file, text.as_bytes())
        .map_err(|e| e.to_string())
}
