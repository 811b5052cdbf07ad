//! The ledger's "nothing lost" invariant must be able to fail, on both brokers. The
//! bridge-crash scenarios kill the bridge while a task is in flight; with the bridge
//! acknowledging tasks before their results are published (`ack = "before_publish"`,
//! deliberately wrong: a RabbitMQ ack, a Kafka offset commit), the task it had taken vanishes
//! with it, and the ledger must say so: the run fails, naming the invariant and the tasks left
//! without a result. Beside it runs the same topology with the ack where it belongs, which
//! must lose nothing.
//!
//! What is on trial is the ledger, not the gateway, so the bridge is pointed straight at the
//! mock LLM (serving the model `openclaw`, which the bridge asks for) instead of at an
//! OpenClaw gateway: no gateway start (about 10 CPU-seconds each, two tests side by side on
//! two cores), and a turn takes the mock's 2 s instead of 2 s plus the gateway's own. The
//! scenarios themselves, gateway included, run in the suite and lose nothing.
//!
//! The ledger's settle is cut from 60 s to 15 s with the task budget at 10 s: a lost task
//! never comes, and a turn here takes about 2 s, so 15 s is seven turns' worth: a task that is
//! merely slow on a busy machine is not taken for a lost one. And the flow probes lose their
//! "none overdue": the lost task stays overdue for the rest of the run, which is the ledger's
//! to report, and would otherwise hold the recovery and steady-state checks to their budgets
//! (two minutes on Kafka, whose bridge takes longest to rejoin).

mod common;

use clawchaos::runner::ScenarioOutcome;

/// Removes the gateway and points the bridge at the mock LLM instead (see the module doc).
const NO_GATEWAY: [(&str, &str); 3] = [
    (
        "[services.llm]\nkind = \"mock_llm\"\n",
        "[services.llm]\nkind = \"mock_llm\"\nmodels = [\"openclaw\"]\n",
    ),
    (
        "[services.gateway]\nkind = \"openclaw\"\nprovider = { service = \"llm\" }\n",
        "",
    ),
    (
        "gateway = { service = \"gateway\" }",
        "gateway = { service = \"llm\" }",
    ),
];

/// See the module doc.
const SETTLE_SOONER: [(&str, &str); 3] = [
    ("budget = \"20s\"", "budget = \"10s\""),
    ("settle = \"60s\"", "settle = \"15s\""),
    ("max_overdue = 0\n", ""),
];

fn assert_the_ledger_caught_the_loss(outcome: &ScenarioOutcome) {
    assert!(!outcome.passed, "tasks acked before publishing were lost");
    let failures = outcome.failures();
    let lost = failures
        .iter()
        .find(|f| f.contains("ledger: no task lost"))
        .unwrap_or_else(|| panic!("the ledger did not report the loss: {failures:#?}"));
    assert!(
        lost.contains("still without a result"),
        "the failure names the tasks left without a result: {lost}"
    );
    let counts = outcome.ledger.expect("the ledger's counts are reported");
    assert!(counts.outstanding > 0, "{counts:?}");
    assert_eq!(counts.duplicates, 0, "loss, not doubling: {counts:?}");
}

/// Runs `relative` with the bridge acknowledging before publishing (`ack_line` is where the
/// setting goes) and, side by side as its control, the same reduced topology with the bridge
/// acknowledging after publishing: the loss must come from the early ack, not from this
/// test's changes.
fn lossy_and_correct(relative: &str, ack_line: &str) -> (ScenarioOutcome, ScenarioOutcome) {
    let reduced: Vec<(&str, &str)> = [&NO_GATEWAY[..], &SETTLE_SOONER[..]].concat();
    let early_ack = format!("{ack_line}ack = \"before_publish\"\n");
    let mut lossy = reduced.clone();
    lossy.push((ack_line, &early_ack));
    let mut outcomes = common::run_all(&[
        common::altered(relative, &lossy),
        common::altered(relative, &reduced),
    ]);
    let correct = outcomes.pop().expect("two outcomes");
    let lossy = outcomes.pop().expect("two outcomes");
    (lossy, correct)
}

fn assert_the_correct_bridge_lost_nothing(outcome: &ScenarioOutcome) {
    assert!(
        outcome.passed,
        "with the ack after publishing, the same topology passes: {:#?}",
        outcome.failures()
    );
    let counts = outcome.ledger.expect("the ledger's counts are reported");
    assert_eq!(counts.outstanding, 0, "{counts:?}");
}

#[test]
fn a_bridge_that_acks_before_publishing_loses_tasks_and_the_ledger_catches_it() {
    let (lossy, correct) = lossy_and_correct(
        "messaging/bridge-crash.toml",
        "tokens = { service = \"tokens\" }\n",
    );
    assert_the_ledger_caught_the_loss(&lossy);
    assert_the_correct_bridge_lost_nothing(&correct);
}

#[test]
fn on_kafka_a_bridge_that_commits_before_publishing_loses_tasks_and_the_ledger_catches_it() {
    let (lossy, correct) =
        lossy_and_correct("kafka/bridge-crash.toml", "broker = { link = \"kafka\" }\n");
    assert_the_ledger_caught_the_loss(&lossy);
    assert_the_correct_bridge_lost_nothing(&correct);
}
