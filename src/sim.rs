//! The simulators: one run of a scenario's serving with one seed ([`run`]), and its training
//! cluster's scheduler ([`cluster`]), on one event queue ([`event`]).
//!
//! A run is a pure function of the scenario and the seed: the same inputs give the same
//! [`RunResult`], bit for bit, on any machine and any thread count.

pub mod cluster;
mod engine;
pub mod event;
mod metrics;
pub mod result;
mod scheduler;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::scenario::Scenario;
use crate::workload::TraceError;

pub use engine::MAX_IN_SYSTEM;
pub use result::{
    Backlog, LatencyBins, Metric, PoolSeriesRow, PoolStats, RunResult, SeriesRow, Stats,
    StopReason, Stopped,
};

/// A run that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The caller's cancel flag was set (see [`run_cancellable`]).
    #[error("the run was cancelled")]
    Cancelled,
    /// The scenario has no workloads (it only trains): there is no serving to simulate.
    #[error("the scenario serves no workloads; `headroom simulate` runs its training")]
    NothingToServe,
}

/// Runs `scenario` with `seed` (which replaces the scenario's own). `progress`, if given, is set
/// to the simulated time reached, in nanoseconds, from time to time.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    progress: Option<&AtomicU64>,
) -> Result<RunResult, SimError> {
    engine::Engine::new(scenario, seed)?.run(progress, None, None)
}

/// What a caller can do to a run in flight.
#[derive(Clone, Copy, Debug, Default)]
pub struct Control<'a> {
    /// Set to give up: the run ends with [`SimError::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
    /// Set to end the run early with what it measured so far ([`RunResult::stopped`]).
    pub stop: Option<&'a AtomicBool>,
}

/// As [`run`], under the caller's [`Control`]: flags never set give exactly the result of
/// [`run`].
pub fn run_controlled(
    scenario: &Scenario,
    seed: u64,
    progress: Option<&AtomicU64>,
    control: Control,
) -> Result<RunResult, SimError> {
    if control.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(SimError::Cancelled);
    }
    engine::Engine::new(scenario, seed)?.run(progress, control.cancel, control.stop)
}

/// As [`run`], but gives up with [`SimError::Cancelled`] soon after `cancel` is set: before it
/// starts, or within 65 536 events (milliseconds; the engine looks at the flag where it publishes
/// progress). For a caller that abandons stale runs, such as an interactive front end re-running
/// a scenario the user is still editing. A flag never set gives exactly the result of [`run`].
pub fn run_cancellable(
    scenario: &Scenario,
    seed: u64,
    progress: Option<&AtomicU64>,
    cancel: &AtomicBool,
) -> Result<RunResult, SimError> {
    run_controlled(
        scenario,
        seed,
        progress,
        Control {
            cancel: Some(cancel),
            stop: None,
        },
    )
}

/// Runs `scenario` timing every LLM iteration on its own, without decode runs: slower, and the
/// reference that decode runs are tested against.
pub fn run_single_steps(scenario: &Scenario, seed: u64) -> Result<RunResult, SimError> {
    let mut engine = engine::Engine::new(scenario, seed)?;
    engine.max_run = 1;
    engine.run(None, None, None)
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
    fn a_flag_set_before_the_run_cancels_it() {
        let s = two_workloads();
        let cancel = AtomicBool::new(true);
        let r = run_cancellable(&s, s.seed(), None, &cancel);
        assert!(matches!(r, Err(SimError::Cancelled)), "{r:?}");
    }

    #[test]
    fn a_flag_never_set_changes_nothing() {
        let s = two_workloads();
        let cancel = AtomicBool::new(false);
        let a = run_cancellable(&s, s.seed(), None, &cancel).expect("runs");
        let b = run(&s, s.seed(), None).expect("runs");
        // NaN != NaN, so compare the debug text (bit-for-bit for every float).
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn a_flag_set_mid_run_stops_it() {
        // About 14 million arrivals: many seconds of simulation, unless it is cancelled.
        let text = r#"
            version = 1
            seed = 1
            horizon = "4h"
            interval = "1h"
            [models.m]
            service.T4 = { kind = "exponential", mean = "10ms" }
            [workloads.w]
            model = "m"
            arrival = { kind = "poisson", rate = 1000 }
            [pools.p]
            instance_type = "g4dn.xlarge"
            region = "us-east-1"
            replicas = 20
        "#;
        let s = scenario::parse(text, "long.toml", Path::new("."), &[]).expect("valid scenario");
        let progress = AtomicU64::new(0);
        let cancel = AtomicBool::new(false);
        let done = AtomicBool::new(false);
        let r = std::thread::scope(|scope| {
            scope.spawn(|| {
                // Cancel as soon as the run has published progress, so it is mid-run.
                while progress.load(Ordering::Relaxed) == 0 && !done.load(Ordering::Relaxed) {
                    std::thread::yield_now();
                }
                cancel.store(true, Ordering::Relaxed);
            });
            let r = run_cancellable(&s, s.seed(), Some(&progress), &cancel);
            done.store(true, Ordering::Relaxed);
            r
        });
        assert!(matches!(r, Err(SimError::Cancelled)), "{r:?}");
        assert!(progress.load(Ordering::Relaxed) < s.horizon().0);
    }

    #[test]
    fn latency_bins_count_every_completion() {
        let s = two_workloads();
        let r = run(&s, s.seed(), None).expect("runs");
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
