//! Config faults: a patch merged into the service's config file (the gateway hot-reloads
//! it; the bridge is restarted to read it). The injection keeps the original for the heal,
//! which writes it back.

use super::{Topology, Undo};

pub(super) async fn inject(
    service: &str,
    patch: &serde_json::Value,
    restart: bool,
    topology: &mut Topology,
) -> Result<Undo, String> {
    let target = topology.service(service)?;
    let path = target
        .config_file()
        .ok_or_else(|| format!("{service} has no config file"))?;
    let original = target.read_file(&path).map_err(|e| e.to_string())?;
    let mut config: serde_json::Value =
        serde_json::from_slice(&original).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::services::merge_json(&mut config, patch);
    let text = serde_json::to_vec_pretty(&config).map_err(|e| e.to_string())?;
    target.write_file(&path, &text).map_err(|e| e.to_string())?;
    if restart {
        super::restart(topology, service).await?;
    }
    Ok(Undo::Config { path, original })
}

pub(super) async fn heal(
    service: &str,
    restart: bool,
    undo: Undo,
    topology: &mut Topology,
) -> Result<(), String> {
    let Undo::Config { path, original } = undo else {
        return Err("the injection left no original config to write back".into());
    };
    topology
        .service(service)?
        .write_file(&path, &original)
        .map_err(|e| e.to_string())?;
    if restart {
        super::restart(topology, service).await?;
    }
    Ok(())
}
