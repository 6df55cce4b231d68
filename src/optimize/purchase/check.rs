//! Checking a plan against its problem, and a problem before it is solved: costs, every
//! constraint, every input rule. Each lists every violation at once.

use super::{Limit, Plan, Problem, PurchaseError};
use crate::pricing::Market;

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
    if plan.bound > cost + tol || plan.bound < plan.lp_bound - tol {
        bad.push(format!(
            "bound {} outside [LP bound {}, cost {cost}]",
            plan.bound, plan.lp_bound
        ));
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
pub(super) fn check_counts(
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
        let (mut spot, mut firm) = (0u32, 0.0);
        for (t, ty) in problem.types.iter().enumerate() {
            let n = reserved[t] + row[t][0] + row[t][1];
            replicas.extend(std::iter::repeat_n(ty.capacity, n as usize));
            spot += row[t][1];
            firm += ty.capacity * f64::from(reserved[t] + row[t][0]);
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
        let floor = (1.0 - problem.spot_share) * required;
        if spot > 0 && (problem.spot_share <= 0.0 || firm < floor - slack) {
            bad.push(format!(
                "spot share, period {p}: {firm:.3} req/s on demand and reserved, at least \
                 {floor:.3}"
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

pub(super) fn period_costs(
    problem: &Problem,
    reserved: &[u32],
    counts: &[Vec<[u32; 2]>],
) -> Vec<f64> {
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
pub(super) fn validate(problem: &Problem) -> Result<(), PurchaseError> {
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
