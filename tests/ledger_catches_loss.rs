//! The ledger's "nothing lost" invariant must be able to fail, on both brokers. The
//! bridge-crash scenarios kill the bridge while a task is in flight; with the bridge
//! acknowledging tasks before their results are published (`ack = "before_publish"`,
//! deliberately wrong: a RabbitMQ ack, a Kafka offset commit), the task it had taken vanishes
//! with it, and the ledger must say so: the run fails, naming the invariant and the tasks left
//! without a result.
//!
//! The ledger's settle is cut from 60 s to 30 s here: a lost task never comes, and 30 s is
//! still half again the scenarios' 20 s task budget, so a task that is merely slow on a busy
//! machine is not taken for a lost one.

mod common;

use clawchaos::runner::ScenarioOutcome;

/// See the module doc.
const SETTLE_SOONER: (&str, &str) = ("settle = \"60s\"", "settle = \"30s\"");

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

#[test]
fn a_bridge_that_acks_before_publishing_loses_tasks_and_the_ledger_catches_it() {
    let outcome = common::run_altered(
        "messaging/bridge-crash.toml",
        &[
            (
                "tokens = { service = \"tokens\" }\n",
                "tokens = { service = \"tokens\" }\nack = \"before_publish\"\n",
            ),
            SETTLE_SOONER,
        ],
    );
    assert_the_ledger_caught_the_loss(&outcome);
}

#[test]
fn on_kafka_a_bridge_that_commits_before_publishing_loses_tasks_and_the_ledger_catches_it() {
    let outcome = common::run_altered(
        "kafka/bridge-crash.toml",
        &[
            (
                "broker = { link = \"kafka\" }\n",
                "broker = { link = \"kafka\" }\nack = \"before_publish\"\n",
            ),
            SETTLE_SOONER,
        ],
    );
    assert_the_ledger_caught_the_loss(&outcome);
}
