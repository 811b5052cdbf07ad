//! A change to a service's config file: the gateway's (hot-reloaded) or the bridge's
//! (restarted to read it).

use super::*;

pub(super) const KINDS: &[FaultKind] = &[
    FaultKind {
        name: "openclaw_config",
        aliases: &[],
        targets: "openclaw",
        target_keys: &["service"],
        params: &["set"],
        before_start: false,
        read: |t, refs| {
            read_config(
                t,
                refs,
                Target {
                    kind: "openclaw_config",
                    service_kind: "openclaw",
                    article: "an",
                    example: "{ gateway = { controlUi = { allowedOrigins = [\"https://other.test\"] } } }",
                    restart: false,
                },
            )
        },
    },
    FaultKind {
        name: "bridge_config",
        aliases: &[],
        targets: "bridge",
        target_keys: &["service"],
        params: &["set"],
        before_start: false,
        read: |t, refs| {
            read_config(
                t,
                refs,
                Target {
                    kind: "bridge_config",
                    service_kind: "bridge",
                    article: "a",
                    example: "{ messaging = { sasl = { password = \"wrong\" } } }",
                    restart: true,
                },
            )
        },
    },
];

/// Whose config a kind changes, and how it is said.
struct Target {
    kind: &'static str,
    service_kind: &'static str,
    article: &'static str,
    example: &'static str,
    /// The service does not reload its config: restart it after each write.
    restart: bool,
}

fn read_config(t: &Table<'_, '_, '_>, refs: &Refs<'_>, target: Target) -> Option<FaultAction> {
    let source = t.source();
    let wanted = target.service_kind;
    let service = t.req_string(
        "service",
        &format!("the {wanted} service whose config changes"),
    )?;
    if !require_service(source, &service, refs.services) {
        return None;
    }
    if refs.services.get(&service.value).map(|s| s.kind.name()) != Some(wanted) {
        source.problem(
            service.span.clone(),
            format!(
                "`{}` needs {} {wanted} service; \"{}\" is not one",
                target.kind, target.article, service.value
            ),
        );
        return None;
    }
    let Some(set) = t.raw("set") else {
        t.missing(
            "set",
            &format!(
                "a table merged into the {wanted}'s config, e.g. {}",
                target.example
            ),
        );
        return None;
    };
    let patch = to_json(source, set)?;
    if !patch.is_object() {
        source.problem(set.span(), "`set` must be a table of config keys");
        return None;
    }
    Some(FaultAction::Config {
        service: service.value,
        patch,
        restart: target.restart,
    })
}
