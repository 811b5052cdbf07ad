//! The real OpenClaw gateway as a service: where it is installed, the config written for each
//! instance, and how an instance is isolated from every other (its own HOME, state dir, config,
//! TMPDIR and log file).

pub mod config;
pub mod install;
pub mod releases;

use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};

pub use install::{NotInstalled, OpenClawInstall};

use crate::backend::{
    BackendError, CliCommand, Installed, Launch, Plan, Program, Ready, Recipe, Run, StartContext,
};
use crate::scenario::version::Version;
use crate::scenario::{OpenClawSpec, PortSource, Target};

/// The OpenClaw this machine has: `release` as provisioned in the cache folder, else the one
/// `OpenClawInstall::locate` finds; with the version it reports, read once per command and
/// checked against `release` (else `CLAWCHAOS_OPENCLAW_VERSION`).
pub fn installed_here(release: Option<&Version>) -> Result<Installed, String> {
    let install = match release {
        Some(release) => OpenClawInstall::of_release(release),
        None => OpenClawInstall::locate(),
    }
    .map_err(|e| e.to_string())?;
    let version = install
        .checked_version(release)
        .map_err(|e| e.to_string())?;
    Ok(Installed {
        command: install.command.clone(),
        tool: Some(install.command.clone()),
        env: vec![("PATH".to_string(), install.path_env())],
        version: Some(version),
        assets: install.control_ui_root,
        cache: install.compile_cache,
        image: None,
    })
}

/// The gateway's config file, in the `state` folder of its own.
const CONFIG_FILE: &str = "openclaw.json";

/// An OpenClaw gateway; ready when `/readyz` answers (unless the scenario watches its start
/// itself: `wait_ready = false`).
pub struct GatewayRecipe<'a> {
    /// What the scenario says of it.
    pub spec: &'a OpenClawSpec,
}

impl Recipe for GatewayRecipe<'_> {
    fn plan(&self, name: &str, context: &StartContext) -> Result<Plan, BackendError> {
        prepare(name, self.spec, context)
    }

    fn ready(&self) -> Ready {
        if self.spec.wait_ready {
            Ready::Http {
                path: "/readyz",
                within: self.spec.ready_within,
            }
        } else {
            Ready::Started
        }
    }
}

/// Writes the instance's folders and config, and says how to start it, with the `openclaw`
/// CLI pointed at this instance as its tool and the config file it watches (hot reload).
fn prepare(
    service: &str,
    spec: &OpenClawSpec,
    context: &StartContext,
) -> Result<Plan, BackendError> {
    let install = context
        .host
        .program(Program::OpenClaw)
        .map_err(|e| BackendError::setup(service, e))?;
    let dir = context.run_dir.join(service);
    let (home, state, tmp) = (dir.join("home"), dir.join("state"), dir.join("tmp"));
    for d in [&dir, &home, &state, &tmp] {
        std::fs::create_dir_all(d)?;
    }
    let port = match (spec.port, context.fixed_ports.get(service)) {
        (Some(p), _) | (None, Some(&p)) => p,
        (None, None) => context.free_port()?,
    };
    // With the port in the environment, the file names another one: the run then shows
    // which of the two the gateway obeys.
    let config_port = match (spec.port_from, context.fixed_config_ports.get(service)) {
        (PortSource::Env, Some(&p)) => p,
        (PortSource::Env, None) => context.free_port()?,
        (PortSource::Flag | PortSource::Config, _) => port,
    };
    let provider_url = match &spec.provider {
        Some(Target::Link(link)) => Some(context.links.get(link).ok_or_else(|| {
            BackendError::setup(service, format!("its provider link {link} does not exist"))
        })?),
        Some(Target::Service(name)) => Some(context.services.get(name).ok_or_else(|| {
            BackendError::setup(service, format!("its provider {name} is not running"))
        })?),
        None => None,
    }
    .map(|addr| format!("http://{addr}/v1"));
    // A gateway on a host of its own (a container) is reached from others (the harness, the
    // bridge): `lan` unless the scenario names a bind. (Non-loopback binds need auth: the
    // config always has a token.)
    let on_its_own_host;
    let spec = if context.host.listen_ip().is_unspecified() && spec.bind == "loopback" {
        on_its_own_host = OpenClawSpec {
            bind: "lan".to_string(),
            ..spec.clone()
        };
        &on_its_own_host
    } else {
        spec
    };
    let mut config = config::render(
        spec,
        config_port,
        provider_url.as_deref(),
        install.assets.as_deref(),
        install
            .version
            .as_deref()
            .and_then(Version::find_in)
            .as_ref(),
    );
    if config.pointer("/logging/file").is_none() {
        crate::services::merge_json(
            &mut config,
            &serde_json::json!({"logging": {"file": dir.join("openclaw.log").display().to_string()}}),
        );
    }
    let config_path = state.join(CONFIG_FILE);
    let text =
        serde_json::to_string_pretty(&config).map_err(|e| BackendError::setup(service, e))?;
    std::fs::write(&config_path, text)?;

    let user = match &spec.user {
        Some(name) => Some(unprivileged(service, name, &dir)?),
        None => None,
    };

    let mut env = install.env.clone();
    env.extend([
        ("HOME".to_string(), home.display().to_string()),
        (
            "OPENCLAW_STATE_DIR".to_string(),
            state.display().to_string(),
        ),
        (
            "OPENCLAW_CONFIG_PATH".to_string(),
            config_path.display().to_string(),
        ),
        ("TMPDIR".to_string(), tmp.display().to_string()),
        ("NO_COLOR".to_string(), "1".to_string()),
        ("FORCE_COLOR".to_string(), "0".to_string()),
    ]);
    if let (Some(cache), None) = (&install.cache, &user)
        && std::fs::create_dir_all(cache).is_ok()
    {
        env.push((
            "NODE_COMPILE_CACHE".to_string(),
            cache.display().to_string(),
        ));
    }
    // The token too: a CLI pointed elsewhere (`OPENCLAW_GATEWAY_URL`, a `cli` probe through a
    // link) does not reuse the config's credentials.
    let cli = install.tool.clone().map(|command| CliCommand {
        command,
        env: env
            .iter()
            .cloned()
            .chain([("OPENCLAW_GATEWAY_TOKEN".to_string(), spec.token.clone())])
            .collect(),
    });
    if spec.port_from == PortSource::Env {
        env.push(("OPENCLAW_GATEWAY_PORT".to_string(), port.to_string()));
    }
    for (key, value) in &spec.env {
        env.push((key.clone(), value.replace("{port}", &port.to_string())));
    }
    let mut command = install.command.clone();
    command.push("gateway".to_string());
    if spec.port_from == PortSource::Flag {
        command.extend(["--port".to_string(), port.to_string()]);
    }
    let launch = Launch {
        user,
        ..context.launch(service, command, env, dir)
    };
    Ok(Plan {
        cli,
        config_file: Some(PathBuf::from("state").join(CONFIG_FILE)),
        version: install.version.map(|v| format!("OpenClaw {v}")),
        image: install.image,
        ..Plan::new(Run::Process { launch, port })
    })
}

/// Looks up `name` and hands it the instance's folder.
fn unprivileged(
    service: &str,
    name: &str,
    dir: &Path,
) -> Result<(nix::unistd::Uid, nix::unistd::Gid), BackendError> {
    let user = nix::unistd::User::from_name(name)
        .map_err(|e| BackendError::setup(service, format!("cannot look up user {name}: {e}")))?
        .ok_or_else(|| {
            BackendError::setup(service, format!("no user named {name} on this machine"))
        })?;
    chown_tree(dir, user.uid.as_raw(), user.gid.as_raw())?;
    Ok((user.uid, user.gid))
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    chown(path, Some(uid), Some(gid))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}
