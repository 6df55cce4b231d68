//! The purchase model: how many replicas of each instance type to buy, in which market, in each
//! period, so that every period's demand is covered at the least total cost.
//!
//! Pure data in ([`Problem`]), a [`Plan`] out; no simulation and no scenario types, so the model
//! can be checked on its own and against hand-worked optima.
//!
//! # The model
//! Required capacity of period `p` is `R_p = demand_p × (1 + headroom) × tighten_p` req/s.
//! Integer decisions: on-demand and spot replicas `od[p][t]`, `spot[p][t]` per period and type,
//! and one reserved count `r[t]` per type, paid for every hour of the horizon and serving in every
//! period. In every period:
//! - demand: `Σ_t capacity_t (r_t + od_pt + spot_pt) ≥ R_p`;
//! - spot share: `Σ_t capacity_t (r_t + od_pt) ≥ (1 − spot_share) × R_p` (where spot is
//!   offered): losing every spot replica at once leaves on-demand and reserved replicas that
//!   carry at least `1 − spot_share` of the required capacity. (A cap on spot capacity as a
//!   share of `R_p` would forbid spot wherever one purchase unit is larger than that share, as
//!   an 8-GPU instance is at night.)
//! - each [`Limit`]: the replicas of its types in its markets (reserved ones included) `≤ max`;
//! - N+1 ([`Problem::spare_replicas`] = k): the fleet still covers `R_p` after losing any `k`
//!   replicas (see below);
//!
//! and over the horizon the total cost `≤ budget`. The cost is
//! `Σ_p hours_p Σ_t (od_price od_pt + spot_price spot_pt) + Σ_t reserved_price r_t Σ_p hours_p`.
//!
//! # N+1, exactly and linearly
//! Losing the `k` largest replicas is the worst case, so the rule is
//! `total − (sum of the k largest replica capacities) ≥ R_p`. The sum of the `k` largest of a
//! multiset is `min over λ ≥ 0 of kλ + Σ_i (a_i − λ)⁺`, and the minimum is reached at one of the
//! capacities, so the rule holds exactly when, for some capacity level `C` among the types'
//! capacities, `Σ_t n_pt min(capacity_t, C) ≥ R_p + kC`: replicas larger than `C` count as `C`,
//! and `k` replicas of size `C` are held back. (A period with `R_p = 0` needs nothing.) This
//! implies at least `k + 1` replicas when `R_p > 0`, and it is never more conservative than
//! "`R_p` plus `k` times the largest capacity in use".
//! - The integer search tries every level per period (the periods are small).
//! - The LP relaxation, which gives the lower bound, needs one row valid for every level. With
//!   `λ_C = 1 / (R_p + kC)` as the multiplier of level `C`, the strongest such row is
//!   `Σ_t n_pt capacity_t R_p / (R_p + k capacity_t) ≥ R_p` (exact for a fleet of one type),
//!   plus `Σ_t n_pt ≥ k + ⌈R_p / largest capacity⌉`. On the benchmark shape this keeps the gap
//!   with one or two spares as small as without.
//! - The MILP (feature `highs`) chooses the level with one binary `u_pC` per period and level:
//!   `Σ_t n_pt min(capacity_t, C) ≥ (R_p + kC) u_pC` and `Σ_C u_pC ≥ 1`, no big-M needed.
//!
//! # Solving
//! 1. The LP relaxation with good_lp's pure-Rust `microlp` (milliseconds) gives the lower bound
//!    [`Plan::lp_bound`] and a fractional reserved count per type.
//! 2. With reserved counts fixed the periods decouple. Each is a small covering problem (one
//!    demand row, the spot-share row, the limits) solved by branch and bound over replica counts
//!    in order of cost per capacity, bounded by its fractional relaxation (`period.rs`).
//! 3. Reserved counts: more of a type than alone cover the busiest period (plus spares), or than
//!    a limit allows, never pay. When trying every count up to that costs at most 20,000 period
//!    searches (a few types, a few periods) all are tried, and the plan is optimal. Otherwise the
//!    LP's counts are rounded (every floor/ceil combination of up to six fractional ones, else
//!    floor and nearest; none reserved and each type alone at its most as fallbacks) and then
//!    moved one at a time, up or down, while that lowers the total (local search).
//! 4. The periods are searched again, with a larger node budget, for the counts chosen.
//!
//! On the benchmark shape (24 periods × 30 types, `benches/purchase.rs`) this lands within
//! 0.21 % of the LP bound in about 85 ms, 0.39 % in about 1.3 s with N+1 (measured on 2 cores;
//! the on-demand floor of the spot share makes N+1 searches four times longer than the old cap
//! on spot did: at an N+1 level the node bound is a relaxation, not the exact LP); microlp's own branch and bound would not finish at that size. The gap
//! [`Plan::gap`] is measured against the best bound proven ([`Plan::bound`]), so with few
//! types it is the gap to the integer optimum, and otherwise it includes the integrality loss
//! of small fleets. On tiny instances the property tests compare the plan and the bound with
//! brute force.
//!
//! With the cargo feature `highs`, step 4 is followed by HiGHS solving the whole MILP, warm
//! started from the search's plan, to a 1 % relative gap (10 s limit); its plan is taken when it
//! passes every constraint and is cheaper. The same MILP code runs on microlp in the tests. The
//! LP bound, shadow prices and marginals are computed as without the feature.
//!
//! # Shadow prices
//! microlp reports no duals, so [`Plan::binding`] comes from solving the dual of the LP
//! relaxation with microlp once (strong duality is checked in the tests). A shadow price is the
//! rate of change of the LP optimum when the constraint's own quantity grows by one unit: one
//! more req/s of demand costs (never negative, as the dual of a covering row), one more req/s
//! allowed on spot or replica allowed by a limit saves (never positive). It is exact for a
//! one-unit step while the LP basis holds; the LP value is convex in the right-hand side. An availability limit's price sums its periods (one more replica allowed in
//! every period). With spares on, "demand" is the relaxation's N+1 row above, priced per req/s
//! of its right-hand side. The budget never binds at a minimum-cost plan, so it never appears.
//!
//! # Guarantees
//! - Every plan returned passes [`check`], and its cost equals [`cost_of`].
//! - Deterministic and independent of the order of [`Problem::types`]: types are put in a
//!   canonical order (name, region, then capacity and prices) before anything else; ties in the
//!   search break by that order.
//! - Periods are numbered from 0 in plans and messages.

use std::cmp::Ordering;

use crate::pricing::Market;

mod check;
mod model;
mod period;
mod reserved;
mod synthetic;
#[cfg(test)]
mod tests;

#[cfg(any(test, feature = "highs"))]
use check::check_counts;
pub use check::{check, cost_of};
use check::{period_costs, validate};
use model::Model;
use period::Periods;
#[cfg(test)]
use reserved::every_vector_below;
use reserved::search_reserved;

/// Everything the purchase model needs, in plain numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub periods: Vec<Period>,
    pub types: Vec<TypeOption>,
    /// Fraction of spare capacity above demand in every period (0.1 = 10 %).
    pub headroom: f64,
    /// Spot may carry at most this share of a period's required capacity (0..=1): on-demand and
    /// reserved replicas cover the rest on their own. 0 buys no spot at all.
    pub spot_share: f64,
    /// N+1: the fleet of every period still covers its required capacity after losing this many
    /// replicas (0 = off).
    pub spare_replicas: u32,
    /// Upper bound on total cost over all periods, in dollars (None = no budget).
    pub budget: Option<f64>,
    /// Group limits on replica counts in every period (availability per type, region, market).
    pub limits: Vec<Limit>,
}

/// One period of the horizon (an hour, a block of hours).
#[derive(Clone, Debug, PartialEq)]
pub struct Period {
    /// Length in hours; weights the cost.
    pub hours: f64,
    /// Demand in req/s.
    pub demand: f64,
    /// `>= 1`, multiplies the required capacity; the verify loop raises it.
    pub tighten: f64,
}

/// An instance type in a region with what one replica sustains and what it costs per market.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeOption {
    pub name: String,
    pub region: String,
    /// req/s one replica sustains within the SLO, `> 0`.
    pub capacity: f64,
    /// $ per replica-hour; None = market not offered.
    pub on_demand: Option<f64>,
    pub spot: Option<f64>,
    pub reserved: Option<f64>,
}

/// At most `max` replicas of `types` in `markets` (empty = all) in every period. A type listed
/// twice counts once.
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    pub name: String,
    pub types: Vec<usize>,
    pub markets: Vec<Market>,
    pub max: u32,
}

/// On-demand and spot replicas, `[period][type] = [on_demand, spot]`.
pub type Counts = Vec<Vec<[u32; 2]>>;

/// The purchase: counts, cost, and how far from the LP bound it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Reserved replicas per type, serving in every period.
    pub reserved: Vec<u32>,
    /// `[period][type] = [on_demand, spot]` replicas.
    pub counts: Counts,
    /// Total cost over the horizon, $.
    pub cost: f64,
    /// Cost per period, $; reserved replicas are charged to each period by its hours.
    pub period_cost: Vec<f64>,
    /// Optimum of the LP relaxation, $: no plan costs less.
    pub lp_bound: f64,
    /// The best proven lower bound, $: the LP's, raised to what branch and bound proved over
    /// whole replicas when every reserved count was tried (the integer optimum itself when no
    /// search was cut short). No plan costs less.
    pub bound: f64,
    /// `(cost − bound) / bound`, the gap to the best bound as MILP solvers report it (0 when
    /// both are 0, infinite when only the bound is).
    pub gap: f64,
    /// LP constraints with a nonzero shadow price, largest first.
    pub binding: Vec<Binding>,
}

/// A constraint that costs money, and how much.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// Human name: "demand, period 15", "spot share, period 14", "availability p5.48xlarge".
    pub constraint: String,
    /// $ change in total cost when the constraint's quantity grows by one `unit`, from the LP
    /// dual: positive for demand and spares (more costs), negative for the spot share and
    /// limits (allowing more saves).
    pub shadow_price: f64,
    /// What one unit is: "req/s more", "req/s more allowed on spot", "replica more allowed in
    /// every period".
    pub unit: String,
}

/// Why no plan came back.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PurchaseError {
    #[error("invalid purchase problem: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(
        "period {period} needs {needed:.1} req/s{} but the availability limits allow at most \
         {max:.1} req/s; raise the limits or lower the demand",
        after_losing(*.spares)
    )]
    Availability {
        period: usize,
        needed: f64,
        max: f64,
        spares: u32,
    },
    #[error(
        "period {period} needs {needed:.1} req/s on demand or reserved (spot may carry at most \
         {:.0} % of its required capacity) but the markets offered and the availability limits \
         allow at most {max:.1} req/s there; raise spot_share or offer on-demand or reserved",
        100.0 * .share
    )]
    SpotShare {
        period: usize,
        needed: f64,
        max: f64,
        share: f64,
    },
    #[error("no plan meets the constraints: {0}")]
    Infeasible(String),
    #[error("the cheapest plan costs at least ${lower:.2}, over the budget ${budget:.2}")]
    OverBudget { lower: f64, budget: f64 },
    #[error(
        "the best plan found costs ${cost:.2}, over the budget ${budget:.2} (no plan costs less \
         than ${lower:.2})"
    )]
    BestOverBudget { cost: f64, budget: f64, lower: f64 },
    #[error("the LP solver failed: {0}")]
    Solver(String),
}

/// " after losing N replicas" when spares are on.
fn after_losing(spares: u32) -> String {
    match spares {
        0 => String::new(),
        1 => " after losing 1 replica".to_string(),
        n => format!(" after losing {n} replicas"),
    }
}

impl Problem {
    /// Required capacity of period `p`, req/s.
    pub fn required(&self, p: usize) -> f64 {
        let period = &self.periods[p];
        period.demand * (1.0 + self.headroom) * period.tighten
    }

    /// Length of the horizon, hours.
    pub fn total_hours(&self) -> f64 {
        self.periods.iter().map(|p| p.hours).sum()
    }
}

impl TypeOption {
    /// $ per replica-hour in `market`, if offered.
    pub fn price(&self, market: Market) -> Option<f64> {
        match market {
            Market::OnDemand => self.on_demand,
            Market::Spot => self.spot,
            Market::Reserved => self.reserved,
        }
    }
}

impl Limit {
    /// Whether replicas of type `t` bought in `market` count against this limit.
    pub fn covers(&self, t: usize, market: Market) -> bool {
        self.types.contains(&t) && (self.markets.is_empty() || self.markets.contains(&market))
    }
}

/// The cheapest plan found, with its LP bound and binding constraints.
pub fn solve(problem: &Problem) -> Result<Plan, PurchaseError> {
    solve_with(problem, EXHAUSTIVE_WORK)
}

/// Period searches an exhaustive pass over reserved counts may take (see [`search_reserved`]).
const EXHAUSTIVE_WORK: u64 = 20_000;

fn solve_with(problem: &Problem, exhaustive_work: u64) -> Result<Plan, PurchaseError> {
    validate(problem)?;
    let canon = Canonical::new(problem);
    let plan = solve_canonical(&canon.problem, exhaustive_work)?;
    Ok(canon.restore(plan))
}

/// The change in total cost, $, when one more reserved replica of each type (that offers
/// reserved) is bought than in `plan`, the other reserved counts held and every period's
/// on-demand and spot counts re-optimized: "one more reserved H100 saves $X" (a saving is
/// negative). Both sides of the difference use the same per-period search, so the figure is
/// not blurred by how `plan` was found. `(type index, change)`, by type index. A type whose
/// extra replica would break a limit is left out.
/// About 0.5 s on the benchmark shape (one search of every period per type). Empty when `plan`
/// is not shaped for `problem` or its reserved counts break a limit.
pub fn reserved_marginals(problem: &Problem, plan: &Plan) -> Vec<(usize, f64)> {
    if plan.reserved.len() != problem.types.len() {
        return Vec::new();
    }
    let canon = Canonical::new(problem);
    let canonical = &canon.problem;
    let periods = Periods::new(canonical, period::POLISH_NODES);
    let reserved: Vec<u32> = canon.order.iter().map(|&t| plan.reserved[t]).collect();
    let Some(base) = periods.evaluate(&reserved, f64::INFINITY) else {
        return Vec::new();
    };
    let mut out: Vec<(usize, f64)> = (0..canonical.types.len())
        .filter(|&t| canonical.types[t].reserved.is_some())
        .filter_map(|t| {
            let mut more = reserved.clone();
            more[t] += 1;
            let eval = periods.evaluate(&more, f64::INFINITY)?;
            Some((canon.order[t], eval.cost - base.cost))
        })
        .collect();
    out.sort_by_key(|&(t, _)| t);
    out
}

/// A realistic synthetic instance for benchmarks, tests and demos: `periods` hours of diurnal
/// demand between 400 and 1,200 req/s and `types` instance types of 5 to 80 req/s in three
/// regions; see `synthetic.rs` for the price model. Deterministic in `seed`.
pub fn synthetic(periods: usize, types: usize, seed: u64) -> Problem {
    synthetic::problem(periods, types, seed)
}

// ---- internals ----

/// `problem` with its types in canonical order, and the way back.
struct Canonical {
    problem: Problem,
    /// `order[canonical index] = original index`.
    order: Vec<usize>,
}

impl Canonical {
    fn new(problem: &Problem) -> Canonical {
        let mut order: Vec<usize> = (0..problem.types.len()).collect();
        order.sort_by(|&a, &b| canonical_cmp(&problem.types[a], &problem.types[b]));
        let mut position = vec![0; order.len()];
        for (canonical, &original) in order.iter().enumerate() {
            position[original] = canonical;
        }
        let mut canonical = problem.clone();
        canonical.types = order.iter().map(|&t| problem.types[t].clone()).collect();
        for limit in &mut canonical.limits {
            limit.types = limit.types.iter().map(|&t| position[t]).collect();
            limit.types.sort_unstable();
            limit.types.dedup();
            limit.markets.sort();
            limit.markets.dedup();
        }
        Canonical {
            problem: canonical,
            order,
        }
    }

    /// `plan` of the canonical problem, with types back in the caller's order.
    fn restore(&self, mut plan: Plan) -> Plan {
        let mut reserved = vec![0; self.order.len()];
        for (canonical, &original) in self.order.iter().enumerate() {
            reserved[original] = plan.reserved[canonical];
        }
        plan.reserved = reserved;
        for row in &mut plan.counts {
            let mut restored = vec![[0; 2]; self.order.len()];
            for (canonical, &original) in self.order.iter().enumerate() {
                restored[original] = row[canonical];
            }
            *row = restored;
        }
        plan
    }
}

fn canonical_cmp(a: &TypeOption, b: &TypeOption) -> Ordering {
    let price = |x: Option<f64>| x.unwrap_or(f64::INFINITY);
    a.name
        .cmp(&b.name)
        .then_with(|| a.region.cmp(&b.region))
        .then_with(|| a.capacity.total_cmp(&b.capacity))
        .then_with(|| price(a.on_demand).total_cmp(&price(b.on_demand)))
        .then_with(|| price(a.spot).total_cmp(&price(b.spot)))
        .then_with(|| price(a.reserved).total_cmp(&price(b.reserved)))
}

fn solve_canonical(problem: &Problem, exhaustive_work: u64) -> Result<Plan, PurchaseError> {
    let model = Model::build(problem);
    let relaxed = model.solve_relaxation().map_err(|e| match e {
        model::LpError::Infeasible => model::diagnose(problem),
        model::LpError::Solver(s) => PurchaseError::Solver(s),
    })?;
    if let Some(budget) = problem.budget
        && relaxed.cost > budget * (1.0 + 1e-9) + 1e-9
    {
        return Err(PurchaseError::OverBudget {
            lower: relaxed.cost,
            budget,
        });
    }
    let searched = search_reserved(problem, &model.reserved_values(&relaxed), exhaustive_work)?;
    let (reserved, counts) = (searched.reserved, searched.counts);
    #[cfg(feature = "highs")]
    let (reserved, counts) = refine(problem, good_lp::highs, (reserved, counts), 0.01);
    let period_cost = period_costs(problem, &reserved, &counts);
    let cost: f64 = period_cost.iter().sum();
    // The LP optimum can exceed an integer plan's cost only by solver rounding.
    let lp_bound = relaxed.cost.max(0.0).min(cost);
    let bound = searched
        .bound
        .map_or(lp_bound, |b| b.max(lp_bound))
        .min(cost);
    if let Some(budget) = problem.budget
        && cost > budget * (1.0 + 1e-9) + 1e-9
    {
        return Err(PurchaseError::BestOverBudget {
            cost,
            budget,
            lower: lp_bound,
        });
    }
    let gap = if cost <= 1e-12 {
        0.0
    } else if bound <= 1e-12 {
        f64::INFINITY
    } else {
        (cost - bound) / bound
    };
    let binding = model.binding(problem).map_err(PurchaseError::Solver)?;
    Ok(Plan {
        reserved,
        counts,
        cost,
        period_cost,
        lp_bound,
        bound,
        gap,
        binding,
    })
}

/// Hands a plan to a MILP solver as its warm start, and keeps the solver's plan when it passes
/// [`check_counts`] and costs less. HiGHS under the `highs` feature; microlp in the tests.
#[cfg(any(test, feature = "highs"))]
fn refine<S>(
    problem: &Problem,
    solver: S,
    start: (Vec<u32>, Counts),
    gap: f32,
) -> (Vec<u32>, Counts)
where
    S: good_lp::solvers::Solver,
    S::Model: good_lp::solvers::WithMipGap
        + good_lp::solvers::WithTimeLimit
        + good_lp::solvers::WithInitialSolution,
    <S::Model as good_lp::solvers::SolverModel>::Error: std::fmt::Display,
{
    const SECONDS: f64 = 10.0;
    let before = cost_of(problem, &start.0, &start.1);
    match model::solve_milp(problem, solver, (&start.0, &start.1), gap, SECONDS) {
        Ok((reserved, counts))
            if check_counts(problem, &reserved, &counts).is_ok()
                && cost_of(problem, &reserved, &counts) < before =>
        {
            (reserved, counts)
        }
        _ => start,
    }
}
