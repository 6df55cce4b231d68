//! The `[optimize]` table: what `headroom optimize` may buy and what it must respect.

use crate::fleet::Pool;
use crate::pricing::Market;
use crate::units::SimTime;

/// A validated `[optimize]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizeSpec {
    /// Index of the workload the plan serves.
    pub workload: usize,
    /// Pool templates, one per candidate (instance type x serving settings), each with one
    /// on-demand replica; the optimizer sets replicas, market and schedule.
    pub candidates: Vec<Pool>,
    /// Markets the plan may use, in the order on-demand, spot, reserved.
    pub markets: Vec<Market>,
    /// A period's demand is this percentile (0 to 100) of the arrival rate within it.
    pub peak_percentile: f64,
    /// Capacity above demand in every period, as a fraction (0.1 = 10 %).
    pub headroom: f64,
    /// Spot carries at most this share of a period's required capacity: on demand and reserved
    /// replicas alone cover the rest.
    pub spot_share: f64,
    /// Every period still has its capacity after losing this many replicas (N+1 is 1).
    pub spare_replicas: u32,
    /// Most the plan may cost per day, dollars.
    pub budget_per_day: Option<f64>,
    /// Whether the verification reclaims spot replicas at their Advisor-bucket rate.
    pub spot_interruptions: bool,
    pub limits: Vec<LimitSpec>,
    /// The scenario's reserved discount on on-demand prices, for reserved candidates.
    pub reserved_discount: f64,
    pub capacity: CapacitySpec,
    pub verify: VerifySpec,
}

/// At most `max` instances, in every period, of the candidates and markets that match.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitSpec {
    /// How reports name it, e.g. `candidate h100`, `region us-west-2, spot`.
    pub name: String,
    pub candidate: Option<usize>,
    pub region: Option<String>,
    pub market: Option<Market>,
    pub max: u32,
}

/// How capacity at the SLO is measured: a binary search on the arrival rate at each pool size.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacitySpec {
    pub replications: u32,
    /// Simulated time per trial (after a warm-up of a tenth of it).
    pub horizon: SimTime,
    /// Pool sizes measured; capacity in between is interpolated linearly.
    pub pool_sizes: Vec<u32>,
    /// The search stops when the bracket is narrower than this fraction of the rate.
    pub tolerance: f64,
}

/// How a plan is verified: replications of the real arrival process, and how many times a
/// failing plan is tightened and solved again.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifySpec {
    pub replications: u32,
    pub rounds: u32,
    /// Simulated time of a verification run (the scenario's horizon when absent).
    pub horizon: Option<SimTime>,
}
