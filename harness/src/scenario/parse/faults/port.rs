//! Faults on a service's port, in place before the topology starts: another process holds
//! it, or it is one the service may not bind.

use super::super::probes::read_family;
use super::*;

pub(super) const KINDS: &[FaultKind] = &[
    FaultKind {
        name: "squat_port",
        aliases: &[],
        targets: "any service",
        target_keys: &["service"],
        params: &["family", "port", "answers"],
        before_start: true,
        read: |t, refs| {
            let service = port_service(t, refs)?;
            let family = read_family(t);
            let config_port = t
                .choice("port", &["listen", "config"])
                .is_some_and(|p| p.value == "config");
            let answers = t
                .choice("answers", &SquatterAnswer::NAMES)
                .map(|a| match a.value.as_str() {
                    "404" => SquatterAnswer::NotFound,
                    "200" => SquatterAnswer::Foreign,
                    "drip" => SquatterAnswer::Drip,
                    _ => SquatterAnswer::Nothing,
                })
                .unwrap_or_default();
            Some(FaultAction::SquatPort {
                service: service.value,
                family,
                config_port,
                answers,
            })
        },
    },
    FaultKind {
        name: "privileged_port",
        aliases: &[],
        targets: "openclaw with `user`",
        target_keys: &["service"],
        params: &[],
        before_start: true,
        read: |t, refs| {
            let service = port_service(t, refs)?;
            let unprivileged = matches!(
                refs.services.get(&service.value).map(|s| &s.kind),
                Some(ServiceKind::OpenClaw(oc)) if oc.user.is_some()
            );
            if !unprivileged {
                t.source().problem(
                    service.span.clone(),
                    format!(
                        "`privileged_port` needs an openclaw service with a `user` to run as (root may bind any port); \"{}\" has none",
                        service.value
                    ),
                );
                return None;
            }
            Some(FaultAction::PrivilegedPort {
                service: service.value,
            })
        },
    },
];

fn port_service(t: &Table<'_, '_, '_>, refs: &Refs<'_>) -> Option<Spanned<String>> {
    let service = t.req_string("service", "the service whose port it is")?;
    require_service(t.source(), &service, refs.services).then_some(service)
}
