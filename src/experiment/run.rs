//! The one way to run a scenario: its serving replications, then its training jobs and cluster,
//! then the bill. Every front end (`simulate`, the TUI's live lane) calls [`run`] and only
//! formats the [`Outcome`], so none of them can leave a part out.

use std::sync::atomic::{AtomicBool, Ordering};

use super::bill::{self, Bill};
use super::preview::Preview;
use super::training::{self, DEADLINE_QUANTILE, TrainingSummary};
use super::{Progress, Summary, replicate_cancellable, run_slices};
use crate::scenario::Scenario;
use crate::sim::SimError;

/// How to run: the seed and replications of serving, and the caller's hooks.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions<'a> {
    pub seed: u64,
    pub replications: u32,
    /// One run with `seed` itself rather than replication 0's seed derived from it: what the
    /// validation harnesses pin their published reruns to.
    pub pinned: bool,
    /// Counts the simulated time of serving, for a progress bar.
    pub progress: Option<&'a Progress>,
    /// Set to stop early: serving checks it every few thousand events, and the steps after it
    /// are skipped ([`SimError::Cancelled`]).
    pub cancel: Option<&'a AtomicBool>,
    /// Set to end serving early with what it measured so far (Ctrl-c in `simulate`): the
    /// summary says where each run stopped ([`Summary::stopped`]); training and the bill still
    /// run.
    pub stop: Option<&'a AtomicBool>,
}

impl RunOptions<'_> {
    /// The scenario's own seed, `replications` runs, no hooks.
    pub fn new(scenario: &Scenario, replications: u32) -> RunOptions<'static> {
        RunOptions {
            seed: scenario.seed(),
            replications,
            pinned: false,
            progress: None,
            cancel: None,
            stop: None,
        }
    }

    /// One run of a scenario with exactly `seed`, no hooks.
    pub fn pinned(seed: u64) -> RunOptions<'static> {
        RunOptions {
            seed,
            replications: 1,
            pinned: true,
            progress: None,
            cancel: None,
            stop: None,
        }
    }
}

/// Whether the scenario's targets held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Every serving workload's SLO (by its mean attainment over replications); `None` without
    /// SLOs.
    pub slo_met: Option<bool>,
    /// Every training job's deadline (missed in at most `1 - DEADLINE_QUANTILE` of its runs);
    /// `None` without deadlines.
    pub deadlines_met: Option<bool>,
    /// Some workload was offered more than its fleet serves ([`super::Stability`]).
    pub overloaded: bool,
}

impl Verdict {
    /// Nothing missed (what `simulate`'s exit code gates on): an overloaded fleet misses its
    /// SLO whatever its percentiles over this run say, as they grow with the run's length.
    pub fn passed(&self) -> bool {
        self.slo_met != Some(false)
            && self.deadlines_met != Some(false)
            && !(self.overloaded && self.slo_met.is_some())
    }
}

/// Everything a run of a scenario produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Serving, when the scenario has workloads.
    pub serving: Option<Summary>,
    /// Training jobs and the cluster, when it has a `[training]` table.
    pub training: Option<TrainingSummary>,
    /// The bill for the period, when it has a `[costs]` table.
    pub bill: Option<Bill>,
    pub verdict: Verdict,
}

/// Runs `scenario`: serving (replications in parallel on the current rayon pool), then training
/// (which a shared cluster sizes from serving's idle GPUs), then the bill.
pub fn run(scenario: &Scenario, o: &RunOptions) -> Result<Outcome, SimError> {
    let never = AtomicBool::new(false);
    let cancel = o.cancel.unwrap_or(&never);
    let serving = if scenario.workloads().is_empty() {
        None
    } else {
        let runs = if o.pinned {
            vec![super::run_seeded(scenario, o.seed)?]
        } else {
            let control = crate::sim::Control {
                cancel: Some(cancel),
                stop: o.stop,
            };
            replicate_cancellable(scenario, o.seed, o.replications, o.progress, control)?
        };
        Some(Summary::of(scenario, o.seed, &runs))
    };
    finish(scenario, serving, o.seed, cancel)
}

/// Runs a [`Preview`] of a scenario: each of its slices once (in parallel), as replications of
/// its first; then training and the bill as [`run`] does, over the slices' window. Replications
/// and progress are the slices'.
pub fn preview(p: &Preview, o: &RunOptions) -> Result<Outcome, SimError> {
    let never = AtomicBool::new(false);
    let cancel = o.cancel.unwrap_or(&never);
    let first = &p.slices[0];
    let serving = if first.workloads().is_empty() {
        None
    } else {
        let runs = run_slices(&p.slices, o.seed, o.progress, cancel)?;
        Some(Summary::of(first, o.seed, &runs))
    };
    finish(first, serving, o.seed, cancel)
}

/// Training, the bill and the verdict after serving.
fn finish(
    scenario: &Scenario,
    serving: Option<Summary>,
    seed: u64,
    cancel: &AtomicBool,
) -> Result<Outcome, SimError> {
    if cancel.load(Ordering::Relaxed) {
        return Err(SimError::Cancelled);
    }
    let training = training::run(scenario, seed, serving.as_ref());
    let bill = bill::bill(scenario, serving.as_ref(), training.as_ref());
    let verdict = Verdict {
        slo_met: serving.as_ref().and_then(|s| s.total.slo_met),
        overloaded: serving
            .as_ref()
            .is_some_and(|s| s.workloads.iter().any(|w| !w.stability.stable)),
        deadlines_met: training.as_ref().and_then(|t| {
            let shares: Vec<f64> = t
                .jobs
                .iter()
                .filter_map(|j| j.deadline_missed_share)
                .collect();
            (!shares.is_empty()).then(|| shares.iter().all(|&m| m <= 1.0 - DEADLINE_QUANTILE))
        }),
    };
    Ok(Outcome {
        serving,
        training,
        bill,
        verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;
    use std::path::Path;

    fn load(file: &str) -> Scenario {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        scenario::load(&root.join("scenarios").join(file), &[]).unwrap()
    }

    #[test]
    fn every_part_of_a_scenario_runs_and_a_cancelled_run_stops() {
        let s = load("full-bill.toml");
        let out = run(&s, &RunOptions::new(&s, 1)).unwrap();
        assert!(out.serving.is_some() && out.training.is_some() && out.bill.is_some());
        let cancel = AtomicBool::new(true);
        let o = RunOptions {
            cancel: Some(&cancel),
            ..RunOptions::new(&s, 1)
        };
        assert!(matches!(run(&s, &o), Err(SimError::Cancelled)));
    }

    #[test]
    fn the_verdict_is_what_the_exit_code_gates_on() {
        let v = |slo_met, deadlines_met| {
            Verdict {
                slo_met,
                deadlines_met,
                overloaded: false,
            }
            .passed()
        };
        assert!(v(None, None) && v(Some(true), None) && v(Some(true), Some(true)));
        assert!(!v(Some(false), None) && !v(None, Some(false)) && !v(Some(true), Some(false)));
        // Overloaded: a miss where there is an SLO, whatever its percentiles said.
        let overloaded = |slo_met| {
            Verdict {
                slo_met,
                deadlines_met: None,
                overloaded: true,
            }
            .passed()
        };
        assert!(!overloaded(Some(true)) && overloaded(None));
    }
}
