//! What the optimizer hands back: the purchase that passed (or came closest), the candidates
//! and demand it was bought for, each verification round, and the baselines it beat.
//!
//! [`super::planner::Planner`] makes it; `report::optimize` renders it.

use crate::experiment::Summary;
use crate::optimize::capacity::Curve;
use crate::optimize::purchase::{Plan, Problem};
use crate::optimize::write::PlannedPool;
use crate::scenario::Scenario;

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
    pub p99_ms: f64,
    pub attainment: f64,
    pub slo_met: bool,
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
