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

pub use result::{Metric, PoolStats, RunResult, SeriesRow, Stats};

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
