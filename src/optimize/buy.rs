//! Buying: the purchase problem of a scenario's candidates for the hourly demand, solved with
//! pooling corrections, the cheaper of the mixed fleet and the best single type, and the pools
//! that purchase becomes; and the baselines it is compared with.
//!
//! The purchase model counts units: one instance when replicas pack onto instances (an 8-GPU
//! instance of 1-GPU replicas is one unit of 8 replicas), else one replica spanning instances.
//! A unit's capacity is its replicas times the candidate's best measured per-replica capacity;
//! a period with fewer replicas than that capacity assumed is tightened by the ratio (the
//! pooling correction), found by solving again until the counts stop changing.

use super::capacity::Curve;
use super::demand::PERIODS;
use super::plan::{Baseline, Candidate};
use super::purchase::{self, Limit, Period, Plan, Problem, PurchaseError, TypeOption};
use super::write::PlannedPool;
use crate::pricing::{Market, spot_interruption_bucket};
use crate::scenario::OptimizeSpec;
use crate::workload::{Policy, Workload};

/// Pooling fixed-point iterations per round.
const POOLING_ITERATIONS: usize = 6;

/// A purchase: the problem solved, its plan, and the pools it buys.
#[derive(Clone, Debug)]
pub struct Purchase {
    pub problem: Problem,
    pub plan: Plan,
    pub pools: Vec<PlannedPool>,
    /// The best single-candidate plan's cost and candidate (the Melange-style baseline).
    pub single: Option<(f64, usize)>,
}

/// The candidates of `spec` with their measured curves.
pub fn candidates(spec: &OptimizeSpec, curves: Vec<Curve>) -> Vec<Candidate> {
    spec.candidates
        .iter()
        .zip(curves)
        .map(|(p, curve)| {
            let (gpr, gpi) = (p.gpus_per_replica.max(1), p.instance.gpu_count.max(1));
            Candidate {
                name: p.name.clone(),
                instance: p.instance.name.clone(),
                region: p.instance.region.clone(),
                gpu: p.instance.gpu_model.clone(),
                unit_replicas: (gpi / gpr).max(1),
                unit_instances: gpr.div_ceil(gpi).max(1),
                curve,
            }
        })
        .collect()
}

/// The purchase problem with per-period factors; `only` restricts it to one candidate.
fn problem(
    spec: &OptimizeSpec,
    candidates: &[Candidate],
    demand: &[f64],
    factors: &[f64; PERIODS],
    only: Option<usize>,
) -> Problem {
    let types = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let inst = &spec.candidates[i].instance;
            let allowed = |m: Market| spec.markets.contains(&m) && only.is_none_or(|o| o == i);
            let price = |m: Market| {
                allowed(m)
                    .then(|| inst.price_usd_per_hour(m, spec.reserved_discount))
                    .flatten()
                    .map(|p| p * f64::from(c.unit_instances))
            };
            TypeOption {
                name: c.name.clone(),
                region: c.region.clone(),
                capacity: c.curve.best_per_replica() * f64::from(c.unit_replicas),
                on_demand: price(Market::OnDemand),
                spot: price(Market::Spot),
                reserved: price(Market::Reserved),
            }
        })
        .collect();
    let limits = spec
        .limits
        .iter()
        .map(|l| Limit {
            name: l.name.clone(),
            types: candidates
                .iter()
                .enumerate()
                .filter(|(i, c)| {
                    l.candidate.is_none_or(|x| x == *i)
                        && l.region.as_ref().is_none_or(|r| *r == c.region)
                })
                .map(|(i, _)| i)
                .collect(),
            markets: l.market.into_iter().collect(),
            // Limits count instances; the model counts units (a unit may span instances).
            max: l.max
                / candidates
                    .iter()
                    .enumerate()
                    .filter(|(i, c)| {
                        l.candidate.is_none_or(|x| x == *i)
                            && l.region.as_ref().is_none_or(|r| *r == c.region)
                    })
                    .map(|(_, c)| c.unit_instances)
                    .max()
                    .unwrap_or(1),
        })
        .collect();
    Problem {
        periods: (0..PERIODS)
            .map(|p| Period {
                hours: 1.0,
                demand: demand[p],
                tighten: factors[p],
            })
            .collect(),
        types,
        headroom: spec.headroom,
        spot_share: spec.spot_share,
        spare_replicas: spec.spare_replicas,
        budget: spec.budget_per_day,
        limits,
    }
}

/// The cheaper of the plan over every candidate and the best single-candidate plan: each is
/// solved with pooling factors of its own fleet, so the mix is not always the cheaper.
pub fn cheapest(
    spec: &OptimizeSpec,
    workload: &Workload,
    candidates: &[Candidate],
    demand: &[f64],
    tighten: &[f64; PERIODS],
) -> Result<Purchase, PurchaseError> {
    let mut best = solve_pooled(spec, candidates, demand, tighten, None);
    let mut single: Option<(f64, usize)> = None;
    for i in 0..candidates.len() {
        if let Ok(s) = solve_pooled(spec, candidates, demand, tighten, Some(i)) {
            if single.is_none_or(|(c, _)| s.1.cost < c) {
                single = Some((s.1.cost, i));
            }
            let better = match &best {
                Ok(b) => s.1.cost < b.1.cost - 1e-9,
                Err(_) => true,
            };
            if better {
                best = Ok(s);
            }
        }
    }
    let (problem, plan) = best?;
    let pools = planned_pools(spec, workload, candidates, &plan);
    Ok(Purchase {
        problem,
        plan,
        pools,
        single,
    })
}

/// Solves with the verification's factors, correcting each period for pooling until the
/// replica counts settle.
fn solve_pooled(
    spec: &OptimizeSpec,
    candidates: &[Candidate],
    demand: &[f64],
    tighten: &[f64; PERIODS],
    only: Option<usize>,
) -> Result<(Problem, Plan), PurchaseError> {
    let mut pooling = [1.0f64; PERIODS];
    let mut last = None;
    for _ in 0..POOLING_ITERATIONS {
        let factors: [f64; PERIODS] = std::array::from_fn(|p| tighten[p] * pooling[p]);
        let prob = problem(spec, candidates, demand, &factors, only);
        let plan = purchase::solve(&prob)?;
        let next: [f64; PERIODS] = std::array::from_fn(|p| pooling_factor(candidates, &plan, p));
        let settled = next
            .iter()
            .zip(&pooling)
            .all(|(a, b)| (a - b).abs() < 1e-9 || a <= b);
        last = Some((prob, plan));
        if settled {
            break;
        }
        // Never loosen: a factor only grows, so the iteration ends.
        pooling = std::array::from_fn(|p| pooling[p].max(next[p]));
    }
    Ok(last.expect("at least one iteration"))
}

/// How much more capacity period `p` needs than the purchase model assumed, because its pool
/// is smaller than the size whose per-replica capacity it counted: each candidate's shortfall
/// at the period's total replicas, weighted by the capacity it brings.
fn pooling_factor(candidates: &[Candidate], plan: &Plan, p: usize) -> f64 {
    let units = |t: usize| plan.reserved[t] + plan.counts[p][t][0] + plan.counts[p][t][1];
    let replicas: u32 = (0..candidates.len())
        .map(|t| units(t) * candidates[t].unit_replicas)
        .sum();
    let (mut assumed, mut actual) = (0.0, 0.0);
    for (t, c) in candidates.iter().enumerate() {
        let n = f64::from(units(t) * c.unit_replicas);
        assumed += n * c.curve.best_per_replica();
        actual += n * c.curve.per_replica(f64::from(replicas));
    }
    if actual > 0.0 {
        (assumed / actual).max(1.0)
    } else {
        1.0
    }
}

/// The plan as pools: one per candidate and market that it buys, replicas by hour.
fn planned_pools(
    spec: &OptimizeSpec,
    workload: &Workload,
    candidates: &[Candidate],
    plan: &Plan,
) -> Vec<PlannedPool> {
    let mut out = Vec::new();
    for (t, c) in candidates.iter().enumerate() {
        let u = c.unit_replicas;
        if plan.reserved[t] > 0 {
            out.push(PlannedPool {
                candidate: t,
                market: Market::Reserved,
                hours: [plan.reserved[t] * u; 24],
                interruptions: false,
                weight: None,
            });
        }
        for (k, market) in [(0, Market::OnDemand), (1, Market::Spot)] {
            let hours: [u32; 24] = std::array::from_fn(|p| plan.counts[p][t][k] * u);
            if hours.iter().any(|&h| h > 0) {
                let inst = &spec.candidates[t].instance;
                out.push(PlannedPool {
                    candidate: t,
                    market,
                    hours,
                    interruptions: market == Market::Spot
                        && spec.spot_interruptions
                        && spot_interruption_bucket(&inst.cloud, &inst.name, &inst.region)
                            .is_some(),
                    weight: None,
                });
            }
        }
    }
    // A mixed fleet's balancer weighs replicas by what each sustains (where the dispatch
    // policy reads weights: least-outstanding over request-level replicas).
    let weighs = workload.dispatch.policy == Policy::LeastOutstanding
        && spec
            .candidates
            .iter()
            .all(|c| matches!(c.serving, crate::fleet::Serving::Requests(_)));
    if weighs && out.iter().any(|p| p.candidate != out[0].candidate) {
        for p in &mut out {
            p.weight = Some(significant(
                candidates[p.candidate].curve.best_per_replica(),
                3,
            ));
        }
    }
    out
}

/// `x` rounded to `digits` significant digits.
fn significant(x: f64, digits: i32) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.log10().floor() as i32);
    (x * scale).round() / scale
}

/// The cheapest single candidate on demand sized for the peak hour, and the best single
/// candidate with every market (Melange-style), under the same demand and tightening.
pub fn baselines(
    spec: &OptimizeSpec,
    candidates: &[Candidate],
    demand: &[f64],
    tighten: &[f64; PERIODS],
    single: Option<(f64, usize)>,
) -> Vec<Baseline> {
    let mut out = Vec::new();
    let peak = (0..PERIODS)
        .map(|p| demand[p] * (1.0 + spec.headroom) * tighten[p])
        .fold(0.0, f64::max);
    let on_demand = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let price = spec.candidates[i]
                .instance
                .price_usd_per_hour(Market::OnDemand, 0.0)?
                * f64::from(c.unit_instances);
            let mut units = 1u32;
            while c.curve.at(f64::from(
                (units.saturating_sub(spec.spare_replicas)) * c.unit_replicas,
            )) < peak
            {
                units += 1;
                if units > 1_000_000 {
                    return None;
                }
            }
            Some((
                price * f64::from(units) * 24.0,
                format!("{units} x {} on demand all day", c.name),
            ))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((cost, what)) = on_demand {
        out.push(Baseline {
            name: format!(
                "cheapest single type sized for the peak, on demand ({what}{})",
                if spec.limits.is_empty() {
                    ""
                } else {
                    "; limits not applied"
                }
            ),
            cost_per_day: cost,
        });
    }
    if let Some((cost, i)) = single {
        out.push(Baseline {
            name: format!(
                "best single type with the same markets ({})",
                candidates[i].name
            ),
            cost_per_day: cost,
        });
    }
    out
}
