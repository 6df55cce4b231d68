//! Token-level LLM serving through the whole engine.

use headroom::sim::{self, Metric};

use crate::support::load;

/// Decode runs (many iterations as one event, cut at arrivals) against timing every iteration
/// on its own: the same requests, tokens and latencies, up to the rounding of iteration ends to
/// the nanosecond.
#[test]
fn decode_runs_agree_with_single_steps() {
    for (name, overrides) in [
        ("llm-chat.toml", vec!["horizon=\"15m\""]),
        (
            "llm-fleet.toml",
            vec![
                "horizon=\"3m\"",
                "pools.h100.replicas=8",
                "workloads.api.arrival.rate=20",
            ],
        ),
    ] {
        let s = load(name, &overrides);
        let fast = sim::run(&s, s.seed, None).unwrap();
        let plain = sim::run_single_steps(&s, s.seed).unwrap();
        let (f, p) = (&fast.total, &plain.total);
        for m in [
            Metric::Arrived,
            Metric::Completed,
            Metric::OutputTokens,
            Metric::InputTokens,
            Metric::Preemptions,
        ] {
            assert_eq!(f.get(m), p.get(m), "{name}: {m:?}");
        }
        for m in [
            Metric::LatencyMean,
            Metric::LatencyP99,
            Metric::TtftMean,
            Metric::TtftP99,
            Metric::TpotMean,
            Metric::TpotP99,
        ] {
            let (a, b) = (f.get(m), p.get(m));
            assert!(
                (a - b).abs() <= 1e-3 * b.abs() + 1e-3,
                "{name}: {m:?} {a} vs {b}"
            );
        }
        let (a, b) = (f.get(Metric::KvUtilization), p.get(Metric::KvUtilization));
        assert!(
            (a - b).abs() <= 0.05 * b,
            "{name}: KV utilization {a} vs {b}"
        );
        assert!(fast.events < plain.events, "{name}: runs save events");
    }
}

#[test]
fn kv_utilization_agrees_closely_with_single_steps() {
    let s = load(
        "llm-fleet.toml",
        &[
            "horizon=\"3m\"",
            "pools.h100.replicas=8",
            "workloads.api.arrival.rate=20",
        ],
    );
    let fast = sim::run(&s, s.seed, None).unwrap();
    let plain = sim::run_single_steps(&s, s.seed).unwrap();
    let (a, b) = (
        fast.total.get(Metric::KvUtilization),
        plain.total.get(Metric::KvUtilization),
    );
    assert!((a - b).abs() <= 0.01 * b, "KV utilization {a} vs {b}");
}
