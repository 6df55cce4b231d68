//! What the optimizer hands back: the purchase that passed (or came closest), the candidates
//! and demand it was bought for, each verification round, and the baselines it beat.
//!
//! [`super::planner::Planner`] makes it; `report::optimize` renders it.

use crate::experiment::{ScopeSummary, Summary};
use crate::optimize::capacity::Curve;
use crate::optimize::purchase::{Plan, Problem};
use crate::optimize::write::PlannedPool;
use crate::scenario::Scenario;
use crate::sim::Metric;
use crate::sim::result::SloTargets;

/// A candidate as the purchase model sees it.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub name: String,
    pub instance: String,
    pub region: String,
    pub gpu: String,
    /// Replicas in one purchase unit, and instances it takes.
    pub unit_replicas: u32,
    pub unit_instances: u32,
    pub curve: Curve,
}

/// One verification: what the plan cost and where it missed.
#[derive(Clone, Debug)]
pub struct Round {
    /// The purchase model's cost per day, and the simulated one (provisioning included).
    pub planned_cost_per_day: f64,
    pub simulated_cost_per_day: f64,
    /// Hours of the day that missed the SLO in some replication.
    pub missed: Vec<usize>,
    pub latency: Latency,
    pub attainment: f64,
    pub slo_met: bool,
}

/// The p99 latencies a workload's SLO can judge, mean over replications, ms (`NaN` where
/// they do not apply: TTFT and TPOT outside LLM workloads), and the SLO that judges them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    pub p99_ms: f64,
    pub ttft_p99_ms: f64,
    pub tpot_p99_ms: f64,
    pub targets: SloTargets,
}

impl Latency {
    /// The latencies of a workload's scope, with its SLO's targets.
    pub fn of(scope: &ScopeSummary) -> Latency {
        Latency {
            p99_ms: scope.get(Metric::LatencyP99).mean,
            ttft_p99_ms: scope.get(Metric::TtftP99).mean,
            tpot_p99_ms: scope.get(Metric::TpotP99).mean,
            targets: scope.slo_targets.unwrap_or_default(),
        }
    }

    /// `(name, measured ms, target ms)` of each kind the SLO sets; the end-to-end p99 alone
    /// (no target) without an SLO.
    pub fn judged(&self) -> Vec<(&'static str, f64, Option<f64>)> {
        let t = self.targets;
        if t == SloTargets::default() {
            return vec![("p99", self.p99_ms, None)];
        }
        [
            ("p99", self.p99_ms, t.p99_ms),
            ("TTFT p99", self.ttft_p99_ms, t.ttft_p99_ms),
            ("TPOT p99", self.tpot_p99_ms, t.tpot_p99_ms),
        ]
        .into_iter()
        .filter(|(_, _, target)| target.is_some())
        .collect()
    }
}

/// A plan to compare against.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub name: String,
    pub cost_per_day: f64,
}

/// Everything `headroom optimize` reports.
#[derive(Debug)]
pub struct Outcome {
    pub demand: Vec<f64>,
    pub candidates: Vec<Candidate>,
    pub problem: Problem,
    pub plan: Plan,
    pub pools: Vec<PlannedPool>,
    pub rounds: Vec<Round>,
    /// Whether the last round met the SLO in every hour.
    pub passed: bool,
    /// Why the loop ended before a round passed or the rounds ran out, if it did.
    pub stopped: Option<String>,
    pub verification: Summary,
    /// The plan as the verification simulated it (overrides and verification settings applied).
    pub verified_scenario: Scenario,
    /// The plan as a scenario file.
    pub scenario_text: String,
    pub baselines: Vec<Baseline>,
    /// (candidate, change in $ per day of one more reserved unit).
    pub reserved_marginals: Vec<(usize, f64)>,
}
