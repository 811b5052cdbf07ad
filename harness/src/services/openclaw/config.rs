//! The gateway's config file, written from the scenario: port, bind, auth token, the provider
//! pointing (through its link) at the mock LLM, timeouts, fallbacks, allowed origins, and any
//! raw overrides the scenario gives.

use serde_json::{Value, json};

use crate::scenario::OpenClawSpec;
use crate::scenario::version::Version;

/// Settings of the harness's own that OpenClaw knows only from a release on (found in each
/// release's package, `npm pack openclaw@V`): 2026.7.x refuses `models.catalogRefresh` with
/// `Invalid config ... models: Invalid input` and exits 78.
pub const SINCE: &[(&str, &str)] = &[("models.catalogRefresh", "2026.8.1")];

/// Whether `release` knows the harness's setting `key` (an unknown release is taken to be
/// recent).
fn knows(release: Option<&Version>, key: &str) -> bool {
    let since = SINCE
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| Version::parse(v));
    match (release, since) {
        (Some(release), Some(since)) => *release >= since,
        _ => true,
    }
}

/// The provider id the config declares; models are `mock/<id>`.
pub const PROVIDER_ID: &str = "mock";

/// Renders the config. `provider_base_url` is the mock LLM's `/v1` URL as the gateway must
/// reach it (through the link's proxy when the scenario says so); `control_ui_root` is the
/// package's built Control UI, when the install's layout is known.
///
/// Beside what the scenario asks for, a test gateway gets settings that shorten its cold
/// start without changing what the scenarios observe (measured on 2 cores: `/readyz` 8.9 s
/// instead of 9.7 s, 10.6 CPU-seconds instead of 12.5, and a first turn of 7–9 s instead of
/// 10–17 s under load; see docs/scenarios.md, "The gateway's cold start"):
/// - `plugins.enabled = false`: no bundled plugin is discovered or loaded; the scenarios'
///   provider is the config's own `mock` (OpenAI-compatible), which needs none.
/// - `gateway.controlUi.root`: the Control UI is served from the package instead of being
///   copied and hashed (56 MB, 1,795 files) into every fresh state dir.
/// - `update.checkOnStart = false`, `models.catalogRefresh.enabled = false`: no calls to
///   the outside world, which this machine cannot reach anyway.
///
/// A setting a release does not know yet is left out on it (see [`SINCE`]): a gateway refuses
/// a config with a key it does not know.
///
/// Layers, each merged over the one before: those start-up settings; the user's own file
/// (`config_file`, which may change them); what the harness must set (port, bind, auth, the
/// provider and its models: the file may not name those, validation says so); the scenario's
/// `config`.
///
/// No "stateful" top-level key (`cron`, `channels`, `session`, ...) is written: one of those
/// makes a fresh state dir run the legacy-state migrations, 2.8 s more.
pub fn render(
    spec: &OpenClawSpec,
    config_port: u16,
    provider_base_url: Option<&str>,
    control_ui_root: Option<&std::path::Path>,
    release: Option<&Version>,
) -> Value {
    let mut config = json!({
        "agents": { "defaults": { "heartbeat": { "every": "0m" } } },
        "plugins": { "enabled": false },
        "update": { "checkOnStart": false },
    });
    if knows(release, "models.catalogRefresh") {
        config["models"] = json!({ "catalogRefresh": { "enabled": false } });
    }
    if let Some(root) = control_ui_root {
        config["gateway"] = json!({ "controlUi": { "root": root.display().to_string() } });
    }
    if let Some(user) = &spec.config_file {
        crate::services::merge_json(&mut config, &user.value);
    }
    let mut gateway = json!({
        "mode": "local",
        "bind": spec.bind,
        "port": config_port,
        "auth": { "mode": "token", "token": spec.token },
        "http": { "endpoints": { "chatCompletions": { "enabled": true } } },
    });
    if !spec.allowed_origins.is_empty() {
        gateway["controlUi"] = json!({ "allowedOrigins": spec.allowed_origins });
    }
    crate::services::merge_json(&mut config, &json!({ "gateway": gateway }));
    if let Some(base_url) = provider_base_url {
        let models: Vec<Value> = spec
            .models
            .iter()
            .map(|m| json!({ "id": m, "name": m }))
            .collect();
        let mut provider = json!({
            "baseUrl": base_url,
            "apiKey": spec.api_key,
            "api": "openai-completions",
            "models": models,
        });
        if let Some(t) = spec.timeout_seconds {
            provider["timeoutSeconds"] = json!(t);
        }
        config["models"]["providers"] = json!({ PROVIDER_ID: provider });
        let mut model = json!({ "primary": format!("{PROVIDER_ID}/{}", spec.primary_model()) });
        if !spec.fallbacks.is_empty() {
            let fallbacks: Vec<String> = spec
                .fallbacks
                .iter()
                .map(|m| format!("{PROVIDER_ID}/{m}"))
                .collect();
            model["fallbacks"] = json!(fallbacks);
        }
        config["agents"]["defaults"]["model"] = model;
    }
    crate::services::merge_json(&mut config, &spec.config);
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_fallbacks_and_overrides() {
        let spec = OpenClawSpec {
            fallbacks: vec!["mock-fallback".into()],
            models: vec!["mock-model".into(), "mock-fallback".into()],
            timeout_seconds: Some(10),
            allowed_origins: vec!["http://allowed.test".into()],
            config: json!({"gateway": {"bind": "lan", "auth": {"mode": "token"}}}),
            ..OpenClawSpec::default()
        };
        let c = render(
            &spec,
            18789,
            Some("http://127.0.0.1:9/v1"),
            Some(std::path::Path::new("/oc/dist/control-ui")),
            None,
        );
        assert_eq!(c["gateway"]["controlUi"]["root"], "/oc/dist/control-ui");
        assert_eq!(c["plugins"]["enabled"], false);
        assert_eq!(c["update"]["checkOnStart"], false);
        assert_eq!(c["models"]["catalogRefresh"]["enabled"], false);
        assert_eq!(c["gateway"]["port"], 18789);
        assert_eq!(c["gateway"]["bind"], "lan", "overrides win");
        assert_eq!(
            c["gateway"]["auth"]["token"], spec.token,
            "and merge, not replace"
        );
        assert_eq!(
            c["gateway"]["controlUi"]["allowedOrigins"][0],
            "http://allowed.test"
        );
        assert_eq!(
            c["models"]["providers"]["mock"]["baseUrl"],
            "http://127.0.0.1:9/v1"
        );
        assert_eq!(c["models"]["providers"]["mock"]["timeoutSeconds"], 10);
        assert_eq!(
            c["agents"]["defaults"]["model"]["primary"],
            "mock/mock-model"
        );
        assert_eq!(
            c["agents"]["defaults"]["model"]["fallbacks"][0],
            "mock/mock-fallback"
        );
        assert_eq!(c["agents"]["defaults"]["heartbeat"]["every"], "0m");
    }

    #[test]
    fn without_a_provider_there_is_no_provider_nor_model() {
        let c = render(&OpenClawSpec::default(), 1, None, None, None);
        assert!(c["models"].get("providers").is_none());
        assert!(c["agents"]["defaults"].get("model").is_none());
    }

    #[test]
    fn a_user_s_file_is_merged_under_what_the_harness_sets_and_over_its_defaults() {
        let spec = OpenClawSpec {
            config_file: Some(crate::scenario::UserConfig {
                path: "openclaw.json".into(),
                value: json!({
                    "plugins": { "enabled": true },
                    "gateway": { "controlUi": { "enabled": false } },
                    "session": { "idleMinutes": 5 },
                }),
            }),
            config: json!({ "session": { "idleMinutes": 7 } }),
            ..OpenClawSpec::default()
        };
        let c = render(&spec, 4242, Some("http://127.0.0.1:9/v1"), None, None);
        assert_eq!(
            c["plugins"]["enabled"], true,
            "the user's file wins over defaults"
        );
        assert_eq!(c["gateway"]["controlUi"]["enabled"], false);
        assert_eq!(
            c["gateway"]["port"], 4242,
            "the harness's settings are kept"
        );
        assert_eq!(c["gateway"]["auth"]["token"], spec.token);
        assert_eq!(
            c["models"]["providers"]["mock"]["baseUrl"],
            "http://127.0.0.1:9/v1"
        );
        assert_eq!(
            c["session"]["idleMinutes"], 7,
            "the scenario's config is last"
        );
    }

    #[test]
    fn a_release_gets_only_the_settings_it_knows() {
        let on = |release: &str| {
            render(
                &OpenClawSpec::default(),
                1,
                Some("http://127.0.0.1:9/v1"),
                None,
                Version::parse(release).as_ref(),
            )
        };
        assert!(on("2026.7.1")["models"].get("catalogRefresh").is_none());
        assert_eq!(
            on("2026.7.1")["models"]["providers"]["mock"]["api"],
            "openai-completions"
        );
        assert_eq!(on("2026.8.1")["models"]["catalogRefresh"]["enabled"], false);
        assert_eq!(on("2026.9.6")["models"]["catalogRefresh"]["enabled"], false);
    }
}
