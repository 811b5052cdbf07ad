//! A bridge's wall clock shifted: libfaketime's offset file, re-read every second. The heal
//! sets the offset back to 0.

use super::Topology;

/// Sets `service`'s wall-clock offset.
pub(super) fn set(service: &str, offset_secs: i64, topology: &Topology) -> Result<(), String> {
    let file = topology
        .run_dir
        .path()
        .join(service)
        .join(crate::services::bridge::CLOCK_FILE);
    if !file.is_file() {
        return Err(format!(
            "{service} does not run under libfaketime ({} is missing)",
            file.display()
        ));
    }
    let text = if offset_secs < 0 {
        format!("-{}\n", -offset_secs)
    } else {
        format!("+{offset_secs}\n")
    };
    std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))
}
