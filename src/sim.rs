//! The simulator: one run of a scenario with one seed.
//!
//! A run is a pure function of the scenario and the seed: the same inputs give the same
//! [`RunResult`], bit for bit, on any machine and any thread count.

mod engine;
pub mod event;
mod metrics;
pub mod result;
mod scheduler;

use std::sync::atomic::AtomicU64;

use crate::scenario::Scenario;
use crate::workload::TraceError;

pub use result::{LatencyBins, Metric, PoolStats, RunResult, SeriesRow, Stats};

/// A run that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Trace(#[from] TraceError),
}

/// Runs `scenario` with `seed` (which replaces the scenario's own). `progress`, if given, is set
/// to the simulated time reached, in nanoseconds, from time to time.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    progress: Option<&AtomicU64>,
) -> Result<RunResult, SimError> {
    engine::Engine::new(scenario, seed)?.run(progress)
}

/// Runs `scenario` timing every LLM iteration on its own, without decode runs: slower, and the
/// reference that decode runs are tested against.
pub fn run_single_steps(scenario: &Scenario, seed: u64) -> Result<RunResult, SimError> {
    let mut engine = engine::Engine::new(scenario, seed)?;
    engine.max_run = 1;
    engine.run(None)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario;

    /// Two workloads on their own pools, busy enough that some requests wait.
    fn two_workloads() -> Scenario {
        let text = r#"
            version = 1
            seed = 7
            horizon = "2m"
            warmup = "20s"
            interval = "20s"
            [models.m]
            service.T4 = { kind = "lognormal", mean = "40ms", cv = 1.5 }
            [workloads.a]
            model = "m"
            arrival = { kind = "poisson", rate = 60 }
            [workloads.b]
            model = "m"
            arrival = { kind = "poisson", rate = 20 }
            [pools.pa]
            instance_type = "g4dn.xlarge"
            region = "us-east-1"
            workload = "a"
            replicas = 3
            [pools.pb]
            instance_type = "g4dn.xlarge"
            region = "us-east-1"
            workload = "b"
            replicas = 1
        "#;
        scenario::parse(text, "two.toml", Path::new("."), &[]).expect("valid scenario")
    }

    #[test]
    fn latency_bins_count_every_completion() {
        let s = two_workloads();
        let r = run(&s, s.seed, None).expect("runs");
        for stats in std::iter::once(&r.total).chain(&r.workloads) {
            let bins = &stats.latency_bins;
            assert_eq!(bins.counts.len(), LatencyBins::COUNT);
            assert!(bins.counts.iter().all(|c| c.is_finite() && *c >= 0.0));
            let completed = stats.get(Metric::Completed);
            assert!(completed > 0.0);
            assert_eq!(bins.total(), completed);
            // The occupied bins lie between the fastest and the slowest completion.
            let used: Vec<usize> = (0..LatencyBins::COUNT)
                .filter(|&i| bins.counts[i] > 0.0)
                .collect();
            let (first, last) = (used[0], used[used.len() - 1]);
            let p50 = stats.get(Metric::LatencyP50);
            assert!(LatencyBins::edges_ms(first).0 <= p50, "p50 {p50}");
            assert!(p50 < LatencyBins::edges_ms(last).1, "p50 {p50}");
            let max = stats.get(Metric::LatencyMax);
            assert!(LatencyBins::edges_ms(last).0 <= max * 1.001, "max {max}");
        }
        for i in 0..LatencyBins::COUNT {
            let sum: f64 = r.workloads.iter().map(|w| w.latency_bins.counts[i]).sum();
            assert_eq!(r.total.latency_bins.counts[i], sum, "bin {i}");
        }
    }
}
