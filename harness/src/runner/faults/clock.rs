//! A bridge's wall clock shifted: libfaketime's offset file in its folder, re-read every
//! second. The heal sets the offset back to 0.

use std::path::Path;

use super::Topology;

/// Sets `service`'s wall-clock offset.
pub(super) fn set(service: &str, offset_secs: i64, topology: &Topology) -> Result<(), String> {
    let target = topology
        .services
        .get(service)
        .ok_or_else(|| format!("no service {service}"))?;
    let file = Path::new(crate::services::bridge::CLOCK_FILE);
    if target.read_file(file).is_err() {
        return Err(format!(
            "{service} does not run under libfaketime (its {} is missing)",
            file.display()
        ));
    }
    let text = if offset_secs < 0 {
        format!("-{}\n", -offset_secs)
    } else {
        format!("+{offset_secs}\n")
    };
    target
        .write_file(file, text.as_bytes())
        .map_err(|e| e.to_string())
}
