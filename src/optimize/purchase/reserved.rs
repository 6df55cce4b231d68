//! Choosing reserved counts, which couple the periods: with them fixed, each period is its own
//! small search (`period.rs`).

use super::period::{self, Periods};
use super::{Counts, Problem, PurchaseError};
use crate::pricing::Market;

/// Reserved counts chosen, the periods' counts for them, and, when every reserved count was
/// tried, a proven lower bound on the cost of any plan, $.
pub(super) struct Searched {
    pub reserved: Vec<u32>,
    pub counts: Counts,
    pub bound: Option<f64>,
}

/// Chooses reserved counts: all of them when trying each costs at most `exhaustive_work`
/// period searches, else
/// the LP's rounded and then moved one at a time while that saves money; then solves the
/// periods harder for the counts chosen.
pub(super) fn search_reserved(
    problem: &Problem,
    lp: &[f64],
    exhaustive_work: u64,
) -> Result<Searched, PurchaseError> {
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
    for r in &candidates {
        let cap = best.as_ref().map_or(f64::INFINITY, |(_, e)| e.cost);
        if let Some(eval) = periods.evaluate(r, cap) {
            best = Some((r.clone(), eval));
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
    let polished = Periods::new(problem, period::POLISH_NODES)
        .evaluate(&reserved, eval.cost)
        .unwrap_or(eval);
    // Every reserved count tried: no plan costs less than the least of their bounds (the
    // chosen counts' from the polished search, the others' from a short one).
    let bound = exhaustive.then(|| {
        candidates
            .iter()
            .filter(|r| **r != reserved)
            .fold(polished.lower, |least, r| {
                least.min(periods.lower_bound(r, least))
            })
    });
    Ok(Searched {
        reserved,
        counts: polished.counts,
        bound,
    })
}

/// Every vector `v` with `v[i] <= most[i]`, in lexicographic order.
pub(super) fn every_vector_below(most: &[u32]) -> Vec<Vec<u32>> {
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
