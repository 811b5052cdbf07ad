//! Whether the link to the broker keeps up: librdkafka's statistics, one interval at a time.

use std::time::Duration;

/// Requests answered this slowly on average (over one statistics interval) mean the link
/// limits the bridge.
const RATE_LIMITED_RTT: Duration = Duration::from_millis(1500);
/// Requests answered this fast again mean the limit is gone.
const RATE_LIMIT_LIFTED_RTT: Duration = Duration::from_millis(500);
/// A connection waiting on an answer that received bytes this recently is being answered,
/// slowly, rather than partitioned away.
const TRICKLE_IDLE: Duration = Duration::from_millis(1000);

/// What one statistics interval says about the link's throughput.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Throughput {
    /// Limited: the broker throttles, or answers take seconds to come back.
    Limited(String),
    /// Requests come back fast.
    Clear,
    /// No request came back in the interval, or their round trip is in between.
    NoEvidence,
}

/// One broker connection's figures from a statistics interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerSample {
    /// Requests that came back in the interval.
    pub answered: i64,
    /// Their average round trip, in microseconds.
    pub rtt_avg_us: i64,
    /// The longest time the broker throttled a request, in milliseconds (quotas).
    pub throttle_max_ms: i64,
    /// Requests sent and awaiting their answer at the end of the interval.
    pub waiting: i64,
    /// Microseconds since the connection last received bytes (-1: never).
    pub rx_idle_us: i64,
}

impl BrokerSample {
    /// The figures of every broker connection (librdkafka's internal one left out).
    pub fn all(stats: &rdkafka::Statistics) -> Vec<BrokerSample> {
        stats
            .brokers
            .values()
            .filter(|b| b.source != "internal")
            .map(|b| BrokerSample {
                answered: b.rtt.as_ref().map_or(0, |w| w.cnt),
                rtt_avg_us: b.rtt.as_ref().map_or(0, |w| w.avg),
                throttle_max_ms: b
                    .throttle
                    .as_ref()
                    .filter(|w| w.cnt > 0)
                    .map_or(0, |w| w.max),
                waiting: b.waitresp_cnt,
                rx_idle_us: b.rxidle,
            })
            .collect()
    }
}

/// Judges one statistics interval of the consumer's broker connections: limited if the broker
/// throttles, a connection's answers took seconds, or an answer kept arriving byte by byte
/// through the whole interval; clear only if every connection that waited on an answer got
/// one, fast.
pub fn judge(brokers: &[BrokerSample]) -> Throughput {
    let throttled = brokers.iter().map(|b| b.throttle_max_ms).max().unwrap_or(0);
    if throttled > 0 {
        return Throughput::Limited(format!(
            "the broker throttles requests by up to {throttled}ms (quota)"
        ));
    }
    let slowest = brokers
        .iter()
        .filter(|b| b.answered > 0)
        .map(|b| Duration::from_micros(b.rtt_avg_us.max(0) as u64))
        .max();
    // A connection waiting the whole interval: a large answer in transit, or a partition.
    let silent = brokers.iter().any(|b| b.answered == 0 && b.waiting > 0);
    // Of those, one still receiving bytes: the answer is trickling in (the backlog a slow
    // link builds makes each answer larger, so waiting for it to complete would take longer
    // and longer).
    let trickling = brokers.iter().any(|b| {
        b.answered == 0
            && b.waiting > 0
            && u64::try_from(b.rx_idle_us).is_ok_and(|us| Duration::from_micros(us) < TRICKLE_IDLE)
    });
    match slowest {
        Some(rtt) if rtt > RATE_LIMITED_RTT => Throughput::Limited(format!(
            "requests take {}ms on average to come back: the link's throughput limits the bridge",
            rtt.as_millis()
        )),
        _ if trickling => Throughput::Limited(
            "an answer has been arriving for over a second: the link's throughput limits the bridge"
                .to_string(),
        ),
        Some(rtt) if rtt < RATE_LIMIT_LIFTED_RTT && !silent => Throughput::Clear,
        _ => Throughput::NoEvidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(answered: i64, rtt_ms: i64) -> BrokerSample {
        BrokerSample {
            answered,
            rtt_avg_us: rtt_ms * 1000,
            ..BrokerSample::default()
        }
    }

    #[test]
    fn slow_round_trips_mean_a_limited_link() {
        let judged = judge(&[sample(3, 20), sample(1, 4000)]);
        assert!(
            matches!(&judged, Throughput::Limited(why) if why.contains("4000ms")),
            "{judged:?}"
        );
        assert_eq!(judge(&[sample(5, 30), sample(2, 120)]), Throughput::Clear);
    }

    #[test]
    fn silence_and_middling_round_trips_are_no_evidence() {
        assert_eq!(judge(&[]), Throughput::NoEvidence);
        assert_eq!(
            judge(&[sample(0, 0)]),
            Throughput::NoEvidence,
            "nothing came back (a partition is judged elsewhere)"
        );
        assert_eq!(judge(&[sample(2, 900)]), Throughput::NoEvidence);
        // A request that was answered only in an earlier interval does not count now.
        assert_eq!(judge(&[sample(0, 9000), sample(1, 50)]), Throughput::Clear);
        // One connection fast while another waits on an answer, receiving nothing for 3 s (a
        // partition, judged elsewhere): not clear, not limited.
        let waiting = BrokerSample {
            waiting: 1,
            rx_idle_us: 3_000_000,
            ..sample(0, 0)
        };
        assert_eq!(judge(&[waiting, sample(1, 8)]), Throughput::NoEvidence);
        let never_received = BrokerSample {
            rx_idle_us: -1,
            ..waiting
        };
        assert_eq!(judge(&[never_received]), Throughput::NoEvidence);
    }

    #[test]
    fn an_answer_trickling_in_for_a_whole_interval_is_a_limit() {
        let trickling = BrokerSample {
            waiting: 1,
            rx_idle_us: 80_000,
            ..sample(0, 0)
        };
        assert!(
            matches!(judge(&[trickling, sample(3, 5)]), Throughput::Limited(why) if why.contains("arriving")),
        );
        // Bytes received recently, but fast answers came too: a busy, fast link.
        let busy = BrokerSample {
            waiting: 1,
            rx_idle_us: 1_000,
            ..sample(4, 20)
        };
        assert_eq!(judge(&[busy]), Throughput::Clear);
    }

    #[test]
    fn a_broker_quota_is_a_rate_limit_however_fast_the_link() {
        let throttled = BrokerSample {
            throttle_max_ms: 250,
            ..sample(4, 10)
        };
        assert!(matches!(judge(&[throttled]), Throughput::Limited(why) if why.contains("quota")));
    }
}
