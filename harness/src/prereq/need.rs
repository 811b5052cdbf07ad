//! What a scenario can need on this machine, named as `scripts/setup` names it.

/// Something a scenario needs on this machine.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Prerequisite {
    /// A program on `PATH`: a `process` service's command, the port squatter's `python3`,
    /// `lsof` with which OpenClaw names the holder of a taken port.
    Program(String),
    /// The OpenClaw gateway (the pinned install, or the user's own).
    OpenClaw,
    /// The Tansu broker binary.
    Tansu,
    /// Debian's `rabbitmq-server`.
    RabbitMq,
    /// The `claw-bridge` binary.
    Bridge,
    /// libfaketime, which shifts the bridge's clock.
    Faketime,
}

impl Prerequisite {
    /// The item of `scripts/setup` that provides it (`scripts/setup ITEM`), when there is one.
    pub fn setup_item(&self) -> Option<&str> {
        match self {
            Prerequisite::Program(p) => SETUP_PROGRAMS.contains(&p.as_str()).then_some(p),
            Prerequisite::OpenClaw => Some("openclaw"),
            Prerequisite::Tansu => Some("tansu"),
            Prerequisite::RabbitMq => Some("rabbitmq"),
            Prerequisite::Bridge => Some("bridge"),
            Prerequisite::Faketime => Some("faketime"),
        }
    }

    /// How a user installs it.
    pub fn install_hint(&self) -> String {
        let env = match self {
            Prerequisite::OpenClaw => " (or set CLAWCHAOS_OPENCLAW_CMD to your own openclaw)",
            Prerequisite::Tansu => " (or set CLAWCHAOS_TANSU_BIN)",
            Prerequisite::Bridge => " (or set CLAWCHAOS_BRIDGE_BIN)",
            _ => "",
        };
        match self.setup_item() {
            Some(item) => format!("scripts/setup {item}{env}"),
            None => format!("install `{self}` so that it is on PATH"),
        }
    }
}

/// The programs `scripts/setup` installs by name (from Debian's packages).
const SETUP_PROGRAMS: &[&str] = &["python3", "lsof"];

impl std::fmt::Display for Prerequisite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Prerequisite::Program(p) => write!(f, "{p}"),
            Prerequisite::OpenClaw => write!(f, "openclaw"),
            Prerequisite::Tansu => write!(f, "tansu"),
            Prerequisite::RabbitMq => write!(f, "rabbitmq"),
            Prerequisite::Bridge => write!(f, "claw-bridge"),
            Prerequisite::Faketime => write!(f, "libfaketime"),
        }
    }
}
