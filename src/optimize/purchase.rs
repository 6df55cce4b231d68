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
//! - spot share: `Σ_t capacity_t spot_pt ≤ spot_share × R_p`;
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
//! 0.3 % of the LP bound in about 45 ms (240 ms with N+1); microlp's own branch and bound would
//! not finish at that size. The gap [`Plan::gap`] is measured against the LP bound, so it
//! includes the unavoidable integrality loss of small fleets. On tiny instances the property
//! tests compare the plan with brute force.
//!
//! With the cargo feature `highs`, step 4 is followed by HiGHS solving the whole MILP, warm
//! started from the search's plan, to a 1 % relative gap (10 s limit); its plan is taken when it
//! passes every constraint and is cheaper. The same MILP code runs on microlp in the tests. The
//! LP bound, shadow prices and marginals are computed as without the feature.
//!
//! # Shadow prices
//! microlp reports no duals, so [`Plan::binding`] comes from solving the dual of the LP
//! relaxation with microlp once (strong duality is checked in the tests). A shadow price is the
//! rate of change of the LP optimum per unit of relaxation: exact for a one-unit step while the
//! LP basis holds, otherwise an upper bound on the saving (the LP value is convex in the
//! right-hand side). An availability limit's price sums its periods (one more replica allowed in
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

mod model;
mod period;
mod synthetic;
#[cfg(test)]
mod tests;

use model::Model;
use period::Periods;

/// Everything the purchase model needs, in plain numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub periods: Vec<Period>,
    pub types: Vec<TypeOption>,
    /// Fraction of spare capacity above demand in every period (0.1 = 10 %).
    pub headroom: f64,
    /// Spot capacity in a period is at most this share of the period's required capacity (0..=1).
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
    /// `(cost − lp_bound) / lp_bound` (0 when both are 0, infinite when only the bound is).
    pub gap: f64,
    /// LP constraints with a nonzero shadow price, largest first.
    pub binding: Vec<Binding>,
}

/// A constraint that costs money, and how much.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// Human name: "demand, period 15", "spot share, period 14", "availability p5.48xlarge".
    pub constraint: String,
    /// $ change in total cost per unit of relaxation, from the LP dual (negative: a saving).
    pub shadow_price: f64,
    /// What one unit is: "req/s", "req/s of spot", "replica in every period".
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
        "period {period} needs {needed:.1} req/s{} but with spot at most {:.0} % of it the \
         markets offered and the availability limits allow at most {max:.1} req/s; raise \
         spot_share or offer on-demand or reserved",
        after_losing(*.spares),
        100.0 * .share
    )]
    SpotShare {
        period: usize,
        needed: f64,
        max: f64,
        spares: u32,
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

/// Total cost in $ of buying `reserved` and `counts` (`[period][type] = [on_demand, spot]`).
/// NaN when the plan buys in a market a type does not offer ([`check`] says which).
pub fn cost_of(problem: &Problem, reserved: &[u32], counts: &[Vec<[u32; 2]>]) -> f64 {
    period_costs(problem, reserved, counts).iter().sum()
}

/// Verifies every constraint of `problem` on `plan`, and that its costs add up; lists every
/// violation.
pub fn check(problem: &Problem, plan: &Plan) -> Result<(), String> {
    let mut bad = Vec::new();
    if plan.period_cost.len() != problem.periods.len() {
        bad.push(format!(
            "{} period costs for {} periods",
            plan.period_cost.len(),
            problem.periods.len()
        ));
    }
    if let Err(e) = check_counts(problem, &plan.reserved, &plan.counts) {
        bad.push(e);
    }
    let cost = cost_of(problem, &plan.reserved, &plan.counts);
    let tol = 1e-6 * cost.abs().max(1.0);
    if differ(plan.cost, cost, tol) {
        bad.push(format!("cost {} but the counts cost {cost}", plan.cost));
    }
    let periods: f64 = plan.period_cost.iter().sum();
    if differ(periods, cost, tol) {
        bad.push(format!("period costs add to {periods}, not {cost}"));
    }
    if plan.lp_bound > cost + tol {
        bad.push(format!("LP bound {} above the cost {cost}", plan.lp_bound));
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
}

/// Whether `a` and `b` are more than `tol` apart, or either is NaN.
fn differ(a: f64, b: f64, tol: f64) -> bool {
    let d = (a - b).abs();
    d.is_nan() || d > tol
}

/// Verifies every constraint of `problem` on counts (budget included); lists every violation.
fn check_counts(
    problem: &Problem,
    reserved: &[u32],
    counts: &[Vec<[u32; 2]>],
) -> Result<(), String> {
    let mut bad = Vec::new();
    let (n_types, n_periods) = (problem.types.len(), problem.periods.len());
    if reserved.len() != n_types
        || counts.len() != n_periods
        || counts.iter().any(|row| row.len() != n_types)
    {
        return Err(format!(
            "plan shape: {} reserved counts and {} periods of counts for {n_types} types and \
             {n_periods} periods",
            reserved.len(),
            counts.len()
        ));
    }
    for (t, ty) in problem.types.iter().enumerate() {
        if reserved[t] > 0 && ty.reserved.is_none() {
            bad.push(format!("{} is not offered reserved", ty.name));
        }
        for (p, row) in counts.iter().enumerate() {
            for (i, market) in [Market::OnDemand, Market::Spot].into_iter().enumerate() {
                if row[t][i] > 0 && ty.price(market).is_none() {
                    bad.push(format!("{} is not offered {market} (period {p})", ty.name));
                }
            }
        }
    }
    let k = problem.spare_replicas as usize;
    for (p, row) in counts.iter().enumerate() {
        let required = problem.required(p);
        let slack = 1e-7 * required.max(1.0);
        let mut replicas: Vec<f64> = Vec::new();
        let mut spot = 0.0;
        for (t, ty) in problem.types.iter().enumerate() {
            let n = reserved[t] + row[t][0] + row[t][1];
            replicas.extend(std::iter::repeat_n(ty.capacity, n as usize));
            spot += ty.capacity * f64::from(row[t][1]);
        }
        let total: f64 = replicas.iter().sum();
        if total < required - slack {
            bad.push(format!(
                "demand, period {p}: {total:.3} of {required:.3} req/s"
            ));
        }
        if k > 0 && required > 0.0 {
            replicas.sort_by(|a, b| b.total_cmp(a));
            let lost: f64 = replicas.iter().take(k).sum();
            if total - lost < required - slack {
                bad.push(format!(
                    "N+{k}, period {p}: {:.3} of {required:.3} req/s after losing {k} replicas",
                    total - lost
                ));
            }
        }
        if spot > problem.spot_share * required + slack {
            bad.push(format!(
                "spot share, period {p}: {spot:.3} req/s of spot, at most {:.3}",
                problem.spot_share * required
            ));
        }
        for limit in &problem.limits {
            let used = limit_usage(problem, limit, reserved, row);
            if used > u64::from(limit.max) {
                bad.push(format!(
                    "limit {}, period {p}: {used} replicas, at most {}",
                    limit.name, limit.max
                ));
            }
        }
    }
    let cost = cost_of(problem, reserved, counts);
    if let Some(budget) = problem.budget
        && cost > budget + 1e-6 * cost.abs().max(1.0)
    {
        bad.push(format!("budget: costs ${cost:.2}, over ${budget:.2}"));
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
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
    let (reserved, counts) =
        search_reserved(problem, &model.reserved_values(&relaxed), exhaustive_work)?;
    #[cfg(feature = "highs")]
    let (reserved, counts) = refine(problem, good_lp::highs, (reserved, counts), 0.01);
    let period_cost = period_costs(problem, &reserved, &counts);
    let cost: f64 = period_cost.iter().sum();
    // The LP optimum can exceed an integer plan's cost only by solver rounding.
    let lp_bound = relaxed.cost.max(0.0).min(cost);
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
    } else if lp_bound <= 1e-12 {
        f64::INFINITY
    } else {
        (cost - lp_bound) / lp_bound
    };
    let binding = model.binding(problem).map_err(PurchaseError::Solver)?;
    Ok(Plan {
        reserved,
        counts,
        cost,
        period_cost,
        lp_bound,
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

/// Chooses reserved counts: all of them when trying each costs at most `exhaustive_work`
/// period searches, else
/// the LP's rounded and then moved one at a time while that saves money; then solves the
/// periods harder for the counts chosen.
fn search_reserved(
    problem: &Problem,
    lp: &[f64],
    exhaustive_work: u64,
) -> Result<(Vec<u32>, Counts), PurchaseError> {
    /// Fractional LP counts whose floor/ceil combinations are all tried.
    const ROUNDED_FRACTIONAL: usize = 6;
    let periods = Periods::new(problem, period::SEARCH_NODES);
    // More reserved replicas of a type than alone cover the busiest period and the spares
    // never pay, and none can break a limit, so the counts worth trying are bounded.
    let busiest = (0..problem.periods.len())
        .map(|p| problem.required(p))
        .fold(0.0, f64::max);
    let most: Vec<u32> = (0..problem.types.len())
        .map(|t| {
            let ty = &problem.types[t];
            let Some(_) = ty.reserved else { return 0 };
            let useful = (busiest / ty.capacity).ceil() as u32 + problem.spare_replicas;
            problem
                .limits
                .iter()
                .filter(|l| l.covers(t, Market::Reserved))
                .fold(useful, |most, l| most.min(l.max))
        })
        .collect();
    let combinations = most
        .iter()
        .try_fold(1u64, |n, &m| n.checked_mul(u64::from(m) + 1))
        .and_then(|n| n.checked_mul(problem.periods.len().max(1) as u64));
    let exhaustive = combinations.is_some_and(|work| work <= exhaustive_work);

    let candidates: Vec<Vec<u32>> = if exhaustive {
        every_vector_below(&most)
    } else {
        let floor: Vec<u32> = lp.iter().map(|&x| (x + 1e-6).floor() as u32).collect();
        let fractional: Vec<usize> = (0..lp.len())
            .filter(|&t| lp[t] - f64::from(floor[t]) > 1e-6)
            .collect();
        let mut candidates = Vec::new();
        if fractional.len() <= ROUNDED_FRACTIONAL {
            for mask in 0u32..1 << fractional.len() {
                let mut r = floor.clone();
                for (bit, &t) in fractional.iter().enumerate() {
                    r[t] += (mask >> bit) & 1;
                }
                candidates.push(r);
            }
        } else {
            candidates.push(floor);
            candidates.push(lp.iter().map(|&x| x.round() as u32).collect());
        }
        // Fallbacks for when rounding leaves a period short (spot or limits the LP used
        // fractionally): none reserved, each type alone at its most, all at their most.
        candidates.push(vec![0; lp.len()]);
        for t in (0..lp.len()).filter(|&t| most[t] > 0) {
            let mut r = vec![0; lp.len()];
            r[t] = most[t];
            candidates.push(r);
        }
        candidates.push(most.clone());
        candidates
    };
    let mut best: Option<(Vec<u32>, period::Evaluation)> = None;
    for r in candidates {
        let cap = best.as_ref().map_or(f64::INFINITY, |(_, e)| e.cost);
        if let Some(eval) = periods.evaluate(&r, cap) {
            best = Some((r, eval));
        }
    }
    let Some((mut reserved, mut eval)) = best else {
        return Err(periods.explain_infeasible(&most));
    };
    let mut improved = !exhaustive;
    while improved {
        improved = false;
        for t in (0..lp.len()).filter(|&t| most[t] > 0) {
            for step in [1, -1] {
                let Some(n) = reserved[t]
                    .checked_add_signed(step)
                    .filter(|&n| n <= most[t])
                else {
                    continue;
                };
                let mut r = reserved.clone();
                r[t] = n;
                if let Some(better) = periods.evaluate(&r, eval.cost * (1.0 - 1e-9)) {
                    (reserved, eval) = (r, better);
                    improved = true;
                }
            }
        }
    }
    let polished = Periods::new(problem, period::POLISH_NODES).evaluate(&reserved, eval.cost);
    Ok((reserved, polished.unwrap_or(eval).counts))
}

/// Every vector `v` with `v[i] <= most[i]`, in lexicographic order.
fn every_vector_below(most: &[u32]) -> Vec<Vec<u32>> {
    let mut all = vec![Vec::with_capacity(most.len())];
    for &m in most {
        all = all
            .into_iter()
            .flat_map(|v| {
                (0..=m).map(move |x| {
                    let mut v = v.clone();
                    v.push(x);
                    v
                })
            })
            .collect();
    }
    all
}

fn period_costs(problem: &Problem, reserved: &[u32], counts: &[Vec<[u32; 2]>]) -> Vec<f64> {
    let price = |x: Option<f64>, n: u32| {
        if n == 0 {
            0.0
        } else {
            x.unwrap_or(f64::NAN) * f64::from(n)
        }
    };
    let reserved_per_hour: f64 = problem
        .types
        .iter()
        .zip(reserved)
        .map(|(ty, &r)| price(ty.reserved, r))
        .sum();
    problem
        .periods
        .iter()
        .zip(counts)
        .map(|(period, row)| {
            let per_hour: f64 = problem
                .types
                .iter()
                .zip(row)
                .map(|(ty, &[od, spot])| price(ty.on_demand, od) + price(ty.spot, spot))
                .sum();
            period.hours * (reserved_per_hour + per_hour)
        })
        .collect()
}

/// Replicas counted against `limit` in one period with `row = [type] = [on_demand, spot]`.
fn limit_usage(problem: &Problem, limit: &Limit, reserved: &[u32], row: &[[u32; 2]]) -> u64 {
    (0..problem.types.len())
        .map(|t| {
            let mut n = 0;
            for (market, count) in [
                (Market::Reserved, reserved[t]),
                (Market::OnDemand, row[t][0]),
                (Market::Spot, row[t][1]),
            ] {
                if limit.covers(t, market) {
                    n += u64::from(count);
                }
            }
            n
        })
        .sum()
}

/// Every problem with the input at once.
fn validate(problem: &Problem) -> Result<(), PurchaseError> {
    let mut bad = Vec::new();
    let finite_nonneg = |x: f64| x.is_finite() && x >= 0.0;
    if problem.types.is_empty() {
        bad.push("no instance types: add at least one".to_string());
    } else if problem
        .types
        .iter()
        .all(|ty| Market::ALL.iter().all(|&m| ty.price(m).is_none()))
    {
        bad.push(
            "no instance type is offered in any market: give one an on-demand, spot or \
             reserved price"
                .to_string(),
        );
    }
    if !finite_nonneg(problem.headroom) {
        bad.push(format!("headroom {} must be >= 0", problem.headroom));
    }
    if !(0.0..=1.0).contains(&problem.spot_share) {
        bad.push(format!(
            "spot_share {} must be between 0 and 1",
            problem.spot_share
        ));
    }
    if let Some(budget) = problem.budget
        && !finite_nonneg(budget)
    {
        bad.push(format!("budget {budget} must be a number >= 0"));
    }
    for (p, period) in problem.periods.iter().enumerate() {
        if !finite_nonneg(period.hours) {
            bad.push(format!("period {p}: hours {} must be >= 0", period.hours));
        }
        if !finite_nonneg(period.demand) {
            bad.push(format!("period {p}: demand {} must be >= 0", period.demand));
        }
        if !(period.tighten.is_finite() && period.tighten >= 1.0) {
            bad.push(format!(
                "period {p}: tighten {} must be >= 1",
                period.tighten
            ));
        }
    }
    for ty in &problem.types {
        if !(ty.capacity.is_finite() && ty.capacity > 0.0) {
            bad.push(format!(
                "{} ({}): capacity {} must be > 0 req/s",
                ty.name, ty.region, ty.capacity
            ));
        }
        for market in Market::ALL {
            if let Some(price) = ty.price(market)
                && !finite_nonneg(price)
            {
                bad.push(format!(
                    "{} ({}): {market} price {price} must be >= 0 $/h",
                    ty.name, ty.region
                ));
            }
        }
    }
    for limit in &problem.limits {
        if let Some(&t) = limit.types.iter().find(|&&t| t >= problem.types.len()) {
            bad.push(format!(
                "limit {}: type index {t} out of range (there are {} types)",
                limit.name,
                problem.types.len()
            ));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(PurchaseError::Invalid(bad))
    }
}
