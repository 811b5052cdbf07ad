//! The `clawchaos` command line: run, validate and list scenarios; serve the proxy or the
//! mock LLM on their own.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use clawchaos::observer::{Observer, RunEvent, RunName};
use clawchaos::prereq;
use clawchaos::report::{self, display_name, summary_table};
use clawchaos::runner::{RunOptions, Runner, ScenarioOutcome, Verdict};
use clawchaos::scenario::version::Version;
use clawchaos::scenario::{self, Scenario};

/// `println!` that hands a write error back instead of panicking: a closed pipe
/// (`clawchaos list | head`) then ends the command quietly (see `main`).
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)?
    };
}

/// `eprintln!` that ignores a closed stderr instead of panicking: nothing better can be done.
macro_rules! tell {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Chaos and fault-injection scenarios for OpenClaw deployments.
#[derive(Parser)]
#[command(name = "clawchaos", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs scenario files (or every *.toml under the given folders).
    Run {
        /// Scenario files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Only control runs: faults switched off, every detect expectation must fail.
        #[arg(long, conflicts_with = "and_control")]
        control: bool,
        /// Each scenario, then its control run.
        #[arg(long)]
        and_control: bool,
        /// Only scenarios whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Only scenarios of this tier (ci: what CI runs on every change).
        #[arg(long, value_parser = ["ci", "release"])]
        tier: Option<String>,
        /// Where report.json and junit.xml go [default: $CARGO_TARGET_DIR/clawchaos or target/clawchaos].
        #[arg(long)]
        report_dir: Option<PathBuf>,
        /// Keep each run's folder (service logs) under $TMPDIR/clawchaos.
        #[arg(long)]
        keep: bool,
        /// Runs at once [default: one per core, fewer if memory is short (a run with a
        /// gateway takes up to about 1.5 GB)].
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// Where services run: `process` (local processes) or `containers` (each in a
        /// container on a network of the run's own; needs a Docker engine and
        /// `scripts/setup containers`) [default: $CLAWCHAOS_BACKEND, else process].
        #[arg(long, value_parser = ["process", "containers"])]
        backend: Option<String>,
        /// OpenClaw releases to run each scenario with a gateway on, comma-separated
        /// (`2026.7.1,2026.9.6`): each is installed on demand into the cache folder (about
        /// 30 s and 600 MB the first time); a scenario's own `openclaw = [..]` wins
        /// [default: the one installed].
        #[arg(long, value_delimiter = ',', value_parser = parse_release)]
        openclaw: Vec<Version>,
    },
    /// Finds the first published OpenClaw release on which a scenario's verdict changes,
    /// between one it holds on and one it fails on (the release that fixed an incident, or
    /// the one that broke it). Prints each release tried with its verdict and time; exits 0
    /// when it found the release, 1 when it could not tell (no change, a flaky or untestable
    /// release).
    Bisect {
        /// The scenario file.
        file: PathBuf,
        /// A release the scenario holds on (every expectation passes).
        #[arg(long, value_parser = parse_release)]
        good: Version,
        /// A release the scenario fails on.
        #[arg(long, value_parser = parse_release)]
        bad: Version,
        /// Search pre-releases too (`-beta.N`, npm's `-1`).
        #[arg(long)]
        prereleases: bool,
        /// Runs more of a release whose run could not judge it (a failed set-up, a timeout).
        #[arg(long, default_value_t = 1)]
        retries: u32,
        /// Keep each run's folder (service logs) under $TMPDIR/clawchaos.
        #[arg(long)]
        keep: bool,
        /// Where services run [default: $CLAWCHAOS_BACKEND, else process].
        #[arg(long, value_parser = ["process", "containers"])]
        backend: Option<String>,
    },
    /// Removes what is left of a run once its harness is gone (started by the harness beside
    /// each run, reading its stdin until the harness closes it or dies).
    #[command(hide = true)]
    Reap {
        /// The run id.
        #[arg(long)]
        run: String,
        /// The run folder.
        #[arg(long)]
        folder: PathBuf,
        /// The run had containers and a network.
        #[arg(long)]
        containers: bool,
    },
    /// Validates scenario files, and checks that what they need is installed, without
    /// starting anything.
    Validate {
        /// Scenario files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Check the files only, not the programs and installs they need.
        #[arg(long)]
        files_only: bool,
    },
    /// Prints the `scripts/setup` items the scenarios need, one per line (what `scripts/chaos`
    /// sets up before a run).
    Needs {
        /// Only the items that are not set up yet.
        #[arg(long)]
        missing: bool,
        /// The backend the run will use (`containers` also needs its engine and images)
        /// [default: $CLAWCHAOS_BACKEND, else process].
        #[arg(long, value_parser = ["process", "containers"])]
        backend: Option<String>,
        /// Scenario files or folders.
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
    },
    /// Reports: join the reports of several slices (CI shards) into one.
    Report {
        #[command(subcommand)]
        action: ReportCommand,
    },
    /// Lists scenarios: name, tier, faults, description.
    List {
        /// Scenario files or folders.
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        /// Only scenarios of this tier.
        #[arg(long, value_parser = ["ci", "release"])]
        tier: Option<String>,
    },
    /// Checks the CI tier's rule: every selftest, and for every fault kind, service kind and
    /// scenario folder at least one scenario, in the CI tier. Prints what is missing (exit 1).
    /// With --report, also picks the cheapest CI tier by the run times measured there.
    Tier {
        /// Scenario files or folders (the whole suite).
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        /// A report.json of the whole suite with its control runs (`scripts/chaos` writes
        /// one), or a folder of them (as the scenario tests write).
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Lists the fault kinds scenario files can name: what each acts on and its keys
    /// (docs/scenarios.md says what each does and how it is healed).
    Faults,
    /// Serves the Toxiproxy-compatible proxy API until Ctrl-C.
    Proxy {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        /// Port of the HTTP API; 0 picks a free one (the address is printed at start).
        #[arg(long, default_value_t = 8474)]
        port: u16,
        /// Seed for toxicity and jitter.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Serves the OpenAI-compatible mock LLM until Ctrl-C.
    MockLlm {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        /// Port; 0 picks a free one (the address is printed at start).
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Models served.
        #[arg(long = "model", default_values_t = ["mock-model".to_string()])]
        models: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Joins report.json files (or every report.json under the given folders) into one
    /// report.json and junit.xml, and prints the summary; exits 1 if any run failed.
    Merge {
        /// Reports, or folders to search for them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Where the merged report.json and junit.xml go [default: $CARGO_TARGET_DIR/clawchaos or target/clawchaos].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Prints two reports of one suite side by side as a Markdown table: each scenario's
    /// verdict (and its control run's), time-to-detect and time-to-recover on each side.
    Compare {
        /// The left side: LABEL=REPORT (a report.json, or a folder of them), e.g.
        /// process=target/clawchaos.
        left: String,
        /// The right side, as the left, e.g. containers=reports/containers.
        right: String,
    },
}

/// `LABEL=REPORT` of `report compare`: the label and the runs of the report(s) found there.
fn compare_side(arg: &str) -> anyhow::Result<(String, Vec<clawchaos::runner::ScenarioOutcome>)> {
    let (label, path) = arg
        .split_once('=')
        .filter(|(label, path)| !label.is_empty() && !path.is_empty())
        .with_context(|| {
            format!("`{arg}`: expected LABEL=REPORT, e.g. process=target/clawchaos")
        })?;
    let reports = report::merge::find_reports(&[PathBuf::from(path)], None)?;
    Ok((label.to_string(), report::merge::merge(&reports)?))
}

use clawchaos::backend::reaper::Leftovers;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // lapin logs every broken connection of the ledger as an error; the ledger reconnects and
    // reports what matters itself.
    clawchaos_service_kit::init_tracing_with_default("warn,lapin=off");
    if let Command::Reap {
        run,
        folder,
        containers,
    } = &cli.command
    {
        // Before any runtime: it makes the one it needs, once the harness is gone.
        let leftovers = if *containers {
            Leftovers::Containers
        } else {
            Leftovers::Processes
        };
        clawchaos::backend::reaper::reap(run, folder, leftovers);
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            tell!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // A panic is a bug of the harness: by the time it reaches here, unwinding has dropped
    // (and so stopped) everything the command started.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(dispatch(cli.command))
    }));
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(e)) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            tell!("error: {}", clawchaos_service_kit::error_chain(e.chain()));
            ExitCode::from(2)
        }
        Err(_) => {
            tell!(
                "error: clawchaos hit an internal error (a bug: please report it with the message above); everything it had started has been stopped"
            );
            ExitCode::FAILURE
        }
    }
}

/// Whether the error is a write to a pipe whose reader has gone (`clawchaos list | head`).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        // Handled in `main`, outside the runtime.
        Command::Reap { .. } => Ok(ExitCode::SUCCESS),
        Command::Run {
            paths,
            control,
            and_control,
            filter,
            tier,
            report_dir,
            keep,
            jobs,
            backend,
            openclaw,
        } => {
            let Some(mut scenarios) = load_all(&paths, filter.as_deref())? else {
                return Ok(ExitCode::from(2));
            };
            if !keep_tier(&mut scenarios, tier.as_deref()) {
                return Ok(ExitCode::from(2));
            };
            if !prerequisites_present(&scenarios) {
                return Ok(ExitCode::from(2));
            }
            let modes: &[bool] = match (control, and_control) {
                (true, _) => &[true],
                (false, true) => &[false, true],
                (false, false) => &[false],
            };
            let jobs = jobs.unwrap_or_else(default_jobs).max(1);
            let backend = chosen_backend(backend)?;
            let runs = plan_runs(&scenarios, modes, &openclaw);
            if let Err(e) = provision_releases(&runs, backend.as_ref()).await {
                tell!("{e}\n\nnothing was started");
                return Ok(ExitCode::from(2));
            }
            if let Err(e) = backend.preflight(&programs_of(&scenarios)).await {
                tell!("{e}\n\nnothing was started");
                return Ok(ExitCode::from(2));
            }
            run(runs, report_dir, keep, jobs, backend).await
        }
        Command::Validate { paths, files_only } => {
            let Some(scenarios) = load_all(&paths, None)? else {
                return Ok(ExitCode::from(2));
            };
            if !files_only && !prerequisites_present(&scenarios) {
                return Ok(ExitCode::from(2));
            }
            say!("{} scenario(s) valid", scenarios.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Needs {
            missing,
            backend,
            paths,
        } => {
            let Some(scenarios) = load_all(&paths, None)? else {
                return Ok(ExitCode::from(2));
            };
            let needs = prereq::of_scenarios(&scenarios);
            let mut items: Vec<&str> = Vec::new();
            for (need, _) in needs
                .iter()
                .filter(|(need, _)| !missing || need.check().is_err())
            {
                match need.setup_item() {
                    Some(item) => items.push(item),
                    None => tell!(
                        "note: `{need}` is not something scripts/setup installs: {}",
                        need.install_hint()
                    ),
                }
            }
            // The containers backend's engine, images and mounted programs: what its
            // preflight finds missing is what `scripts/setup containers` provides.
            let backend = chosen_backend(backend)?;
            if backend.name() == "containers" {
                let ready = backend.preflight(&programs_of(&scenarios)).await;
                if !missing || ready.is_err() {
                    items.push("containers");
                }
            }
            items.sort_unstable();
            items.dedup();
            for item in items {
                say!("{item}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            action: ReportCommand::Merge { paths, out },
        } => {
            let dir = out.unwrap_or_else(default_report_dir);
            let reports = report::merge::find_reports(&paths, Some(&dir.join("report.json")))?;
            let outcomes = report::merge::merge(&reports)?;
            say!(
                "merged {} report(s), {} run(s)",
                reports.len(),
                outcomes.len()
            );
            write_and_summarise(&outcomes, &dir)
        }
        Command::Report {
            action: ReportCommand::Compare { left, right },
        } => {
            let (left_label, left) = compare_side(&left)?;
            let (right_label, right) = compare_side(&right)?;
            let side = |label, outcomes| report::compare::Side { label, outcomes };
            say!(
                "{}",
                report::compare::side_by_side(
                    &side(&left_label, &left),
                    &side(&right_label, &right)
                )
                .trim_end()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::List { paths, tier } => {
            let Some(mut scenarios) = load_all(&paths, None)? else {
                return Ok(ExitCode::from(2));
            };
            if !keep_tier(&mut scenarios, tier.as_deref()) {
                return Ok(ExitCode::from(2));
            }
            for s in &scenarios {
                let faults: Vec<String> = s
                    .faults
                    .iter()
                    .map(|f| format!("{} ({})", f.name, f.kind))
                    .collect();
                say!(
                    "{}\n    file: {}\n    tier: {}\n    faults: {}\n    {}",
                    s.name,
                    s.source.display(),
                    s.tier,
                    faults.join(", "),
                    s.description
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Tier { paths, report } => {
            let Some(scenarios) = load_all(&paths, None)? else {
                return Ok(ExitCode::from(2));
            };
            tier_check(&scenarios, report.as_deref())
        }
        Command::Bisect {
            file,
            good,
            bad,
            prereleases,
            retries,
            keep,
            backend,
        } => {
            let Some(scenarios) = load_all(std::slice::from_ref(&file), None)? else {
                return Ok(ExitCode::from(2));
            };
            let [scenario] = scenarios.as_slice() else {
                tell!(
                    "bisect takes one scenario; {} holds {}",
                    file.display(),
                    scenarios.len()
                );
                return Ok(ExitCode::from(2));
            };
            if !prerequisites_present(&scenarios) {
                return Ok(ExitCode::from(2));
            }
            let backend = chosen_backend(backend)?;
            bisect(
                scenario,
                Ends { good, bad },
                prereleases,
                retries,
                keep,
                backend,
            )
            .await
        }
        Command::Faults => {
            let rows: Vec<[String; 3]> = clawchaos::scenario::fault_kinds()
                .map(|k| {
                    let mut keys: Vec<String> = k
                        .target_keys
                        .iter()
                        .map(|key| key.to_string())
                        .chain(k.params.iter().map(|p| format!("{p}*")))
                        .collect();
                    if k.before_start {
                        keys.push("(before the topology starts: no at/after)".into());
                    }
                    if !k.aliases.is_empty() {
                        keys.push(format!("(formerly {})", k.aliases.join(", ")));
                    }
                    [k.name.to_string(), k.targets.to_string(), keys.join(" ")]
                })
                .collect();
            let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
            let (w0, w1) = (width(0).max(4), width(1).max(7));
            say!(
                "{:w0$}  {:w1$}  keys (* its own; every fault also takes name, at, after, duration)",
                "kind",
                "acts on"
            );
            for [kind, targets, keys] in &rows {
                say!("{kind:w0$}  {targets:w1$}  {keys}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Proxy { host, port, seed } => {
            let config = clawchaos_proxy::ProxyServerConfig {
                api_addr: SocketAddr::new(host, port),
                seed,
            };
            let server = clawchaos_proxy::ProxyServer::start(config)
                .await
                .context("proxy server")?;
            say!("listening on {}", server.api_addr());
            server
                .run_until(clawchaos_service_kit::shutdown_signal())
                .await
                .context("proxy server")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::MockLlm { host, port, models } => {
            let config = clawchaos_mock_llm::MockLlmConfig {
                addr: SocketAddr::new(host, port),
                models,
                ..clawchaos_mock_llm::MockLlmConfig::default()
            };
            let mock = clawchaos_mock_llm::MockLlm::start(config)
                .await
                .context("mock LLM server")?;
            say!("listening on {}", mock.addr());
            clawchaos_service_kit::shutdown_signal().await;
            mock.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Keeps only the scenarios of `tier` (all when `None`); says so and returns false when none
/// is left.
fn keep_tier(scenarios: &mut Vec<Scenario>, tier: Option<&str>) -> bool {
    let Some(tier) = tier else { return true };
    scenarios.retain(|s| s.tier.name() == tier);
    if scenarios.is_empty() {
        tell!("error: no scenario of tier {tier:?} among those given");
        return false;
    }
    true
}

/// `clawchaos tier`: the rule's gaps, and with a report the cheapest cover.
fn tier_check(scenarios: &[Scenario], report: Option<&Path>) -> anyhow::Result<ExitCode> {
    use clawchaos::tier;
    let in_ci: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| s.tier == scenario::Tier::Ci)
        .collect();
    say!(
        "{} of {} scenario(s) in the CI tier",
        in_ci.len(),
        scenarios.len()
    );
    if let Some(report) = report {
        let reports = report::merge::find_reports(&[report.to_path_buf()], None)?;
        let outcomes = report::merge::merge(&reports)
            .with_context(|| format!("reading {}", report.display()))?;
        let costs = tier::costs_from_report(&outcomes);
        let cost_of = |s: &Scenario| costs.get(&s.name).copied();
        let suite: Duration = scenarios.iter().filter_map(cost_of).sum();
        let current: Duration = in_ci.iter().filter_map(|s| cost_of(s)).sum();
        let share = |d: Duration| 100.0 * d.as_secs_f64() / suite.as_secs_f64().max(1e-9);
        say!(
            "measured (runs and control runs, summed): the suite {:.0} s, the CI tier {:.0} s ({:.0} %)",
            suite.as_secs_f64(),
            current.as_secs_f64(),
            share(current)
        );
        let cover = tier::cheapest_cover(scenarios, cost_of);
        say!(
            "the cheapest CI tier that keeps the rule: {} scenario(s), {:.0} s ({:.0} %):",
            cover.chosen.len(),
            cover.cost().as_secs_f64(),
            share(cover.cost())
        );
        for (name, cost) in &cover.chosen {
            let mark = match scenarios.iter().find(|s| &s.name == name) {
                Some(s) if s.tier == scenario::Tier::Ci => "",
                _ => "  (not in the CI tier now)",
            };
            say!("  {name:45} {:6.1} s{mark}", cost.as_secs_f64());
        }
        for name in &cover.unmeasured {
            say!("  note: {name} has no run in the report; counted as the dearest one");
        }
    }
    let gaps = tier::gaps(scenarios);
    if gaps.is_empty() {
        say!("the CI tier keeps the rule");
        return Ok(ExitCode::SUCCESS);
    }
    for gap in &gaps {
        say!("missing: {gap}");
    }
    Ok(ExitCode::from(1))
}

/// Loads and validates every scenario; prints every problem and returns `None` if any file is
/// invalid, so that nothing starts.
fn load_all(paths: &[PathBuf], filter: Option<&str>) -> anyhow::Result<Option<Vec<Scenario>>> {
    let files = scenario::discover(paths).context("finding scenario files")?;
    if files.is_empty() {
        anyhow::bail!("no scenario files (*.toml) under {}", show_paths(paths));
    }
    let mut scenarios = Vec::new();
    let mut invalid = 0;
    for file in files {
        match scenario::load(&file) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                invalid += 1;
                tell!("{e}");
            }
        }
    }
    // Names become report rows and folder names: two files of one run may not share one.
    let mut seen: std::collections::BTreeMap<&str, &Path> = std::collections::BTreeMap::new();
    for s in &scenarios {
        if let Some(first) = seen.insert(&s.name, &s.source) {
            invalid += 1;
            tell!(
                "{}: scenario name {:?} is also the name of {}; names must be unique in a run (set `name` in one of them)",
                s.source.display(),
                s.name,
                first.display()
            );
        }
    }
    if invalid > 0 {
        tell!("\n{invalid} invalid scenario file(s); nothing was started");
        return Ok(None);
    }
    if let Some(f) = filter {
        scenarios.retain(|s| s.name.contains(f));
        if scenarios.is_empty() {
            anyhow::bail!("no scenario name contains {f:?}");
        }
    }
    Ok(Some(scenarios))
}

/// Checks what the scenarios need on this machine; prints each missing prerequisite with its
/// install command and returns false if any is missing (nothing has been started).
fn prerequisites_present(scenarios: &[Scenario]) -> bool {
    let missing = prereq::missing(scenarios);
    for m in &missing {
        tell!("{m}");
    }
    if !missing.is_empty() {
        tell!(
            "\n{} prerequisite(s) missing; nothing was started",
            missing.len()
        );
    }
    missing.is_empty()
}

fn show_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The backend named on the command line, else the default (`CLAWCHAOS_BACKEND`).
fn chosen_backend(
    name: Option<String>,
) -> anyhow::Result<std::sync::Arc<dyn clawchaos::backend::Backend>> {
    match name {
        Some(name) => clawchaos::backend::backend_named(&name).map_err(anyhow::Error::msg),
        None => Ok(clawchaos::backend::default_backend()),
    }
}

/// The programs the scenarios' services run.
fn programs_of(scenarios: &[clawchaos::scenario::Scenario]) -> Vec<clawchaos::backend::Program> {
    scenarios
        .iter()
        .flat_map(|s| s.services.values())
        .flat_map(clawchaos::services::programs_of)
        .collect()
}

/// The two releases bisect starts from.
struct Ends {
    good: Version,
    bad: Version,
}

/// `clawchaos bisect`: the releases between the two ends, searched with real runs.
async fn bisect(
    scenario: &Scenario,
    ends: Ends,
    prereleases: bool,
    retries: u32,
    keep: bool,
    backend: std::sync::Arc<dyn clawchaos::backend::Backend>,
) -> anyhow::Result<ExitCode> {
    use clawchaos::bisect::{Found, Seen};
    use clawchaos::services::openclaw::releases;

    if !scenario
        .services
        .values()
        .any(|s| s.kind.name() == "openclaw")
    {
        tell!(
            "{}: bisect searches OpenClaw releases, and this scenario has no openclaw service",
            scenario.source.display()
        );
        return Ok(ExitCode::from(2));
    }
    if ends.good == ends.bad {
        tell!(
            "--good and --bad are both {}: nothing between them",
            ends.good
        );
        return Ok(ExitCode::from(2));
    }
    let listed = tokio::task::spawn_blocking(releases::published).await?;
    let published = match listed {
        Ok(p) => p,
        Err(e) => {
            tell!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    for end in [&ends.good, &ends.bad] {
        if let Err(e) = releases::check_published(&published, end) {
            tell!("{e}");
            return Ok(ExitCode::from(2));
        }
    }
    let oldest = std::cmp::min(&ends.good, &ends.bad).clone();
    let mut candidates = vec![oldest];
    candidates.extend(releases::between(
        &published,
        &ends.good,
        &ends.bad,
        prereleases,
    ));
    let steps = (candidates.len() as f64 - 1.0).log2().ceil() as usize;
    tell!(
        "bisect {}: {} releases from {} to {} ({}), about {} runs",
        scenario.name,
        candidates.len(),
        candidates[0],
        candidates[candidates.len() - 1],
        if prereleases {
            "pre-releases included"
        } else {
            "releases only"
        },
        steps + 4
    );

    let runner = Runner::new(std::sync::Arc::clone(&backend));
    let run_one = |release: Version| {
        let runner = runner.clone();
        let backend = std::sync::Arc::clone(&backend);
        async move {
            let started = std::time::Instant::now();
            let pins = clawchaos::backend::Pins {
                openclaw: Some(release.clone()),
            };
            if let Err(e) = backend.provision(&pins).await {
                return (Err(format!("cannot install it: {e}")), started.elapsed());
            }
            let options = RunOptions {
                control: false,
                keep_run_dir: keep,
                openclaw: Some(release),
            };
            let outcome = runner.run(scenario, &options, &Progress).await;
            let seen = Seen::of(&outcome).map_err(|e| e.to_string());
            let why = outcome.failures().into_iter().next();
            (
                seen.map_err(|e| why.clone().unwrap_or(e)),
                started.elapsed(),
            )
        }
    };
    let print = |tried: &clawchaos::bisect::Tried| {
        let verdict = match &tried.seen {
            Ok(Seen::Holds) => "holds".to_string(),
            Ok(Seen::Fails) => "FAILS".to_string(),
            Err(why) => format!("no verdict ({why})"),
        };
        let again = if tried.confirming { " (again)" } else { "" };
        say_lossy(&format!(
            "  openclaw@{}{again}: {verdict} in {:.1}s",
            tried.release,
            tried.took.as_secs_f64()
        ));
    };
    let search = clawchaos::bisect::bisect(&candidates, retries, run_one, print);
    let Some((found, tried)) = clawchaos::runner::unless_interrupted(search).await else {
        tell!("interrupted: everything the runs started has been stopped");
        return Ok(ExitCode::from(130));
    };
    let total: f64 = tried.iter().map(|t| t.took.as_secs_f64()).sum();
    let runs = tried.len();
    let mut out = std::io::stdout().lock();
    let code = match found {
        Found::Changed {
            before,
            first,
            seen,
        } => {
            let _ = writeln!(
                out,
                "
first release on which {} {}: {first} (on {before} it {})",
                scenario.name,
                seen,
                match seen {
                    Seen::Holds => "fails",
                    Seen::Fails => "holds",
                }
            );
            if seen == Seen::Holds {
                let _ = writeln!(
                    out,
                    "a known defect fixed there: known_defect.versions = \"<{first}\""
                );
            }
            ExitCode::SUCCESS
        }
        Found::NoChange { seen } => {
            let _ = writeln!(
                out,
                "
{} {seen} on both {} and {}: no change to find between them",
                scenario.name, ends.good, ends.bad
            );
            ExitCode::FAILURE
        }
        Found::Flaky { release } => {
            let _ = writeln!(
                out,
                "
{release} gave two verdicts (above): the scenario is flaky there, so the first release cannot be told"
            );
            ExitCode::FAILURE
        }
        Found::Untestable { release, why } => {
            let _ = writeln!(
                out,
                "
{release} could not be judged after {} run(s): {why}",
                retries + 1
            );
            ExitCode::FAILURE
        }
        Found::TooFew => {
            let _ = writeln!(
                out,
                "
no releases to search"
            );
            ExitCode::FAILURE
        }
    };
    let _ = writeln!(out, "{runs} run(s), {total:.0}s of runs");
    Ok(code)
}

/// A line on stdout; a closed stdout is ignored (the exit code carries the verdict).
fn say_lossy(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// `2026.9.6` as a release, for `--openclaw`.
fn parse_release(text: &str) -> Result<Version, String> {
    Version::parse(text)
        .ok_or_else(|| format!("`{text}` is not an OpenClaw release (e.g. 2026.9.6)"))
}

/// One run of a command: a scenario, on an OpenClaw release (`None`: the one installed), its
/// faults on or off.
struct PlannedRun<'a> {
    scenario: &'a Scenario,
    openclaw: Option<Version>,
    control: bool,
}

/// Every run: each scenario on each of its releases, in each mode, scenario by scenario.
fn plan_runs<'a>(
    scenarios: &'a [Scenario],
    modes: &[bool],
    asked: &[Version],
) -> Vec<PlannedRun<'a>> {
    let mut runs = Vec::new();
    for scenario in scenarios {
        for openclaw in clawchaos::runner::releases_of(scenario, asked) {
            for &control in modes {
                runs.push(PlannedRun {
                    scenario,
                    openclaw: openclaw.clone(),
                    control,
                });
            }
        }
    }
    runs
}

/// Installs the releases the runs are pinned to (and their images on the containers backend)
/// before any starts; an unpublished one is an error naming the nearest published.
async fn provision_releases(
    runs: &[PlannedRun<'_>],
    backend: &dyn clawchaos::backend::Backend,
) -> anyhow::Result<()> {
    let mut releases: Vec<Version> = runs.iter().filter_map(|r| r.openclaw.clone()).collect();
    releases.sort();
    releases.dedup();
    if releases.is_empty() {
        return Ok(());
    }
    let checking = releases.clone();
    tokio::task::spawn_blocking(move || {
        clawchaos::services::openclaw::releases::check_available(&checking)
    })
    .await??;
    for release in releases {
        let pins = clawchaos::backend::Pins {
            openclaw: Some(release.clone()),
        };
        backend
            .provision(&pins)
            .await
            .with_context(|| format!("openclaw@{release}"))?;
        tell!("openclaw@{release}: installed");
    }
    Ok(())
}

async fn run(
    runs: Vec<PlannedRun<'_>>,
    report_dir: Option<PathBuf>,
    keep: bool,
    jobs: usize,
    backend: std::sync::Arc<dyn clawchaos::backend::Backend>,
) -> anyhow::Result<ExitCode> {
    use futures_util::StreamExt;

    let runner = Runner::new(backend);
    let progress = Progress;
    let total = runs.len();
    let jobs = jobs.clamp(1, total.max(1));
    if jobs > 1 {
        tell!("{jobs} runs at a time");
    }
    let (runner, progress) = (&runner, &progress);
    let all = futures_util::stream::iter(runs.into_iter().enumerate())
        .map(|(i, planned)| async move {
            let PlannedRun {
                scenario,
                openclaw,
                control,
            } = planned;
            let options = RunOptions {
                control,
                keep_run_dir: keep,
                openclaw,
            };
            tell!(
                "[{}/{total}] {}{}{}",
                i + 1,
                scenario.name,
                options
                    .openclaw
                    .as_ref()
                    .map_or_else(String::new, |r| format!(" on openclaw@{r}")),
                if control { " (control run)" } else { "" }
            );
            let outcome = runner.run(scenario, &options, progress).await;
            print_outcome(&outcome);
            (i, outcome)
        })
        // Unordered: a long run does not hold a free slot while it finishes.
        .buffer_unordered(jobs)
        .collect::<Vec<(usize, ScenarioOutcome)>>();
    // Interrupted, every run was dropped: their services and folders are gone.
    let Some(mut outcomes) = clawchaos::runner::unless_interrupted(all).await else {
        tell!("interrupted: everything the runs started has been stopped");
        return Ok(ExitCode::from(130));
    };
    outcomes.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<ScenarioOutcome> = outcomes.into_iter().map(|(_, o)| o).collect();
    write_and_summarise(&outcomes, &report_dir.unwrap_or_else(default_report_dir))
}

/// Writes report.json and junit.xml into `dir`, prints the summary table and where they
/// are; the exit code says whether every run passed.
fn write_and_summarise(outcomes: &[ScenarioOutcome], dir: &Path) -> anyhow::Result<ExitCode> {
    let written = report::write_reports(outcomes, dir)
        .with_context(|| format!("writing reports to {}", dir.display()))?;
    // The verdict is the exit code: a closed stdout must not change it.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "\n{}", summary_table(outcomes));
    let _ = write!(stdout, "{}", report::why_failed(outcomes));
    for path in written {
        let _ = writeln!(stdout, "report: {}", path.display());
    }
    // Each failed run's page, to attach to its bug report; the folder has every run's.
    for failed in outcomes.iter().filter(|o| !o.passed) {
        let _ = writeln!(
            stdout,
            "timeline of {}: {}",
            display_name(failed),
            report::timeline_path(dir, failed).display()
        );
    }
    if outcomes.iter().any(|o| o.skipped.is_none()) {
        let _ = writeln!(
            stdout,
            "timelines (one page per run): {}",
            dir.join(report::TIMELINES).display()
        );
    }
    Ok(if outcomes.iter().all(|o| o.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn default_report_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("clawchaos")
}

fn print_outcome(outcome: &ScenarioOutcome) {
    let name = display_name(outcome);
    if let Some(reason) = &outcome.skipped {
        tell!("    SKIP {name}: {reason}");
        return;
    }
    tell!(
        "    {} {name} in {:.1}s",
        outcome.label(),
        outcome.duration.as_secs_f64()
    );
    if let Some(seen) = outcome.known_defect.as_ref().filter(|s| s.reproduced) {
        tell!(
            "      known defect reproduced, as expected: {} ({})",
            seen.summary,
            seen.report
        );
    }
    for failure in outcome.failures() {
        tell!("      - {failure}");
    }
    if outcome.control && outcome.passed {
        let n = outcome
            .expectations
            .iter()
            .filter(|e| e.kind == "detect" && e.verdict == Verdict::Failed)
            .count();
        tell!("      all {n} detect expectation(s) failed without the fault, as they must");
    }
    if let Some(cut) = &outcome.cut_short {
        tell!("      control run {cut}");
    }
}

/// Prints progress lines to stderr, each tagged with its run: the scenario, or the scenario
/// and "(control)", so that runs side by side (`-j 2`) read apart.
struct Progress;

impl Observer for Progress {
    fn event(&self, run: RunName<'_>, event: &RunEvent) {
        let line = match event {
            RunEvent::Started { .. } | RunEvent::Skipped { .. } => return,
            RunEvent::RunFolder { path } => format!("run folder {}", path.display()),
            RunEvent::ServiceReady {
                service,
                addr,
                pid,
                version,
                after,
            } => {
                let how = match pid {
                    Some(pid) => format!("pid {pid}"),
                    None => "in-process".to_string(),
                };
                let version = version
                    .as_deref()
                    .map(|v| format!(", {v}"))
                    .unwrap_or_default();
                format!(
                    "service {service} ready on {addr} ({how}{version}) at {}",
                    secs(*after)
                )
            }
            RunEvent::LinkReady { link, addr, to } => {
                format!("link {link} on {addr}, in front of {to}")
            }
            RunEvent::SteadyState { after } => format!("steady state at {}", secs(*after)),
            RunEvent::FaultInjected { fault, real } => {
                if *real {
                    format!("fault {fault} injected")
                } else {
                    format!("fault {fault} due (control run: not injected)")
                }
            }
            RunEvent::FaultHealed { fault } => format!("fault {fault} healed"),
            RunEvent::ExpectationDecided {
                name,
                passed,
                known_defect: true,
                detail,
                ..
            } if !run.control => {
                if *passed {
                    format!("XPASS {name}: the known defect did not show ({detail})")
                } else {
                    format!("xfail {name}: the known defect, as expected ({detail})")
                }
            }
            RunEvent::ExpectationDecided {
                name,
                detect,
                passed,
                detail,
                ..
            } => match (run.control && *detect, *passed) {
                // A control run must fail its detects: that is its success.
                (true, false) => {
                    format!("ok   {name}: fails without its fault, as it must ({detail})")
                }
                (true, true) => format!(
                    "DEFECT {name}: held without its fault, so it cannot tell the fault from normal operation ({detail})"
                ),
                (false, true) => format!("ok   {name}: {detail}"),
                (false, false) => format!("FAIL {name}: {detail}"),
            },
            RunEvent::TearingDown => "tearing down".to_string(),
        };
        tell!("    [{run}] {line}");
    }
}

/// Runs at once by default: one per core, as long as each run can have about 1.5 GB of the
/// memory available (a run with an OpenClaw gateway takes about 1 GB, more under load).
fn default_jobs() -> usize {
    const PER_RUN_BYTES: u64 = 3 << 29; // 1.5 GiB
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let by_memory = available_memory_bytes().map_or(cores, |bytes| {
        usize::try_from(bytes / PER_RUN_BYTES).unwrap_or(cores)
    });
    cores.min(by_memory).max(1)
}

/// `MemAvailable` from /proc/meminfo.
fn available_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
