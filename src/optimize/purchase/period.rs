//! One period's purchase with the reserved counts fixed: a covering problem over on-demand and
//! spot replica counts with the spot-share row and the limits, solved by depth-first branch and
//! bound.
//!
//! Items (a type in a market) are taken in order of cost per unit of capacity, ties by canonical
//! type order, and each is tried from the most replicas useful down to none. The bound at a node
//! is the fractional fill of the remaining items in that order, each capped by the replicas its
//! limits still allow, spot capped by the spot budget: the optimum of a relaxation (group limits
//! loosened to per-item ones), hence a valid bound. A node is pruned when its bound is within
//! [`PRUNE`] of the incumbent, and a search stops after a number of nodes with the best plan
//! found: few ([`SEARCH_NODES`]) while reserved counts are compared, many ([`POLISH_NODES`]) for
//! the plan returned. Near-ties between types make proving optimality slow (millions of
//! nodes); the limits cost a few hundredths of a percent (measured on the benchmark shape).
//!
//! With N+1 on, each capacity level `C` is its own covering problem (replica capacities capped
//! at `C`, `k × C` more to cover; see the module above) and the cheapest level wins.

use super::{Problem, PurchaseError};
use crate::pricing::Market;

/// Relative tolerance below which a node cannot improve the incumbent enough to matter.
const PRUNE: f64 = 1e-5;
/// Nodes one period's search may visit while reserved counts are being compared, and when the
/// chosen counts are polished.
pub(super) const SEARCH_NODES: u32 = 1_000;
pub(super) const POLISH_NODES: u32 = 100_000;

/// A type in a market, as one period's search sees it.
struct Item {
    t: usize,
    spot: bool,
    /// $ per replica-hour.
    price: f64,
    /// req/s one replica counts for at this level (capacity capped at the level).
    cover: f64,
    /// req/s of the spot budget one replica uses (its capacity; 0 on-demand).
    spot_use: f64,
    /// Limits this item counts against.
    limits: Vec<usize>,
}

/// The items at one capacity level, cheapest cover first.
struct Level {
    cap: f64,
    items: Vec<Item>,
}

/// All periods of a problem, ready to be solved for any reserved counts.
pub(super) struct Periods<'a> {
    problem: &'a Problem,
    levels: Vec<Level>,
    /// Nodes one period's search may visit.
    node_limit: u32,
}

/// A whole plan for given reserved counts.
pub(super) struct Evaluation {
    /// Total cost, $, reserved included.
    pub cost: f64,
    /// `[period][type] = [on_demand, spot]`.
    pub counts: super::Counts,
}

impl<'a> Periods<'a> {
    pub fn new(problem: &'a Problem, node_limit: u32) -> Periods<'a> {
        let caps = if problem.spare_replicas == 0 {
            vec![f64::INFINITY]
        } else {
            super::model::levels(problem)
        };
        let levels = caps
            .into_iter()
            .map(|cap| Level {
                cap,
                items: items(problem, cap),
            })
            .collect();
        Periods {
            problem,
            levels,
            node_limit,
        }
    }

    /// Every period solved with `reserved` fixed; None when some period cannot be met or the
    /// total would not come below `cap` $.
    pub fn evaluate(&self, reserved: &[u32], cap: f64) -> Option<Evaluation> {
        let problem = self.problem;
        let mut cost: f64 = problem
            .types
            .iter()
            .zip(reserved)
            .filter(|&(_, &r)| r > 0)
            .map(|(ty, &r)| ty.reserved.map(|price| price * f64::from(r)))
            .sum::<Option<f64>>()?
            * problem.total_hours();
        let remaining = self.remaining_after(reserved)?;
        let mut counts = Vec::with_capacity(problem.periods.len());
        for (p, period) in problem.periods.iter().enumerate() {
            if cost >= cap {
                return None;
            }
            let cap_per_hour = if period.hours > 0.0 {
                (cap - cost) / period.hours
            } else {
                f64::INFINITY
            };
            let (per_hour, row) = self.solve(p, reserved, &remaining, cap_per_hour)?;
            cost += per_hour * period.hours;
            counts.push(row);
        }
        (cost < cap).then_some(Evaluation { cost, counts })
    }

    /// The error when no reserved counts tried gave a plan: the first period that no on-demand
    /// and spot counts can meet with none reserved, or with `most` reserved.
    pub fn explain_infeasible(&self, most: &[u32]) -> PurchaseError {
        let none = vec![0; self.problem.types.len()];
        let short = |reserved: &[u32]| {
            let remaining = self.remaining_after(reserved)?;
            (0..self.problem.periods.len())
                .find(|&p| self.solve(p, reserved, &remaining, f64::INFINITY).is_none())
        };
        let period = short(&none).or_else(|| short(most)).unwrap_or(0);
        PurchaseError::Infeasible(format!(
            "no whole-number plan found: period {period} cannot meet {:.1} req/s within the \
             availability limits and the spot share with the reserved counts tried, though a \
             fractional plan can; raise the limits",
            self.problem.required(period)
        ))
    }

    /// Replicas each limit still allows once `reserved` is counted; None if one is exceeded.
    fn remaining_after(&self, reserved: &[u32]) -> Option<Vec<i64>> {
        self.problem
            .limits
            .iter()
            .map(|limit| {
                let used: i64 = limit
                    .types
                    .iter()
                    .filter(|&&t| limit.covers(t, Market::Reserved))
                    .map(|&t| i64::from(reserved[t]))
                    .sum();
                let left = i64::from(limit.max) - used;
                (left >= 0).then_some(left)
            })
            .collect()
    }

    /// Period `p`'s cheapest on-demand and spot counts below `cap` $/h, over all levels.
    fn solve(
        &self,
        p: usize,
        reserved: &[u32],
        remaining: &[i64],
        cap: f64,
    ) -> Option<(f64, Vec<[u32; 2]>)> {
        let problem = self.problem;
        let required = problem.required(p);
        let empty = vec![[0, 0]; problem.types.len()];
        if required <= 0.0 {
            return (0.0 < cap).then_some((0.0, empty));
        }
        let eps = 1e-9 * required.max(1.0);
        let spot_budget = problem.spot_share * required;
        let k = f64::from(problem.spare_replicas);
        // One search per level, the most promising (lowest fractional bound) first so that the
        // others are mostly cut at their root.
        let mut searches = Vec::with_capacity(self.levels.len());
        for level in &self.levels {
            let held_back = if k > 0.0 { k * level.cap } else { 0.0 };
            let covered: f64 = problem
                .types
                .iter()
                .zip(reserved)
                .map(|(ty, &r)| ty.capacity.min(level.cap) * f64::from(r))
                .sum();
            let need = required + held_back - covered;
            if need <= eps {
                return (0.0 < cap).then_some((0.0, empty));
            }
            let search = Search {
                items: &level.items,
                remaining: remaining.to_vec(),
                counts: vec![0; level.items.len()],
                best_cost: cap,
                best: None,
                nodes: self.node_limit,
                eps,
            };
            searches.push((search.bound(0, need, spot_budget), need, search));
        }
        searches.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut best: Option<(f64, Vec<[u32; 2]>)> = None;
        for (_, need, mut search) in searches {
            search.best_cost = best.as_ref().map_or(cap, |b| b.0);
            search.dfs(0, need, spot_budget, 0.0);
            if let Some(counts) = search.best {
                let mut row = empty.clone();
                for (item, n) in search.items.iter().zip(counts) {
                    row[item.t][usize::from(item.spot)] += n;
                }
                best = Some((search.best_cost, row));
            }
        }
        best
    }
}

/// The items of `problem` at capacity level `cap`, cheapest cover first.
fn items(problem: &Problem, cap: f64) -> Vec<Item> {
    let mut items = Vec::new();
    for (t, ty) in problem.types.iter().enumerate() {
        for market in [Market::OnDemand, Market::Spot] {
            let Some(price) = ty.price(market) else {
                continue;
            };
            let spot = market == Market::Spot;
            if spot && problem.spot_share <= 0.0 {
                continue;
            }
            items.push(Item {
                t,
                spot,
                price,
                cover: ty.capacity.min(cap),
                spot_use: if spot { ty.capacity } else { 0.0 },
                limits: (0..problem.limits.len())
                    .filter(|&l| problem.limits[l].covers(t, market))
                    .collect(),
            });
        }
    }
    items.sort_by(|a, b| {
        (a.price / a.cover)
            .total_cmp(&(b.price / b.cover))
            .then(a.t.cmp(&b.t))
            .then(a.spot.cmp(&b.spot))
    });
    items
}

/// Depth-first branch and bound over one period's item counts.
struct Search<'a> {
    items: &'a [Item],
    /// Replicas each limit still allows.
    remaining: Vec<i64>,
    counts: Vec<u32>,
    /// $/h of the incumbent, or the cap to beat.
    best_cost: f64,
    best: Option<Vec<u32>>,
    /// Nodes left to visit.
    nodes: u32,
    /// req/s below which demand counts as met.
    eps: f64,
}

impl Search<'_> {
    fn dfs(&mut self, i: usize, need: f64, spot_left: f64, cost: f64) {
        if need <= self.eps {
            if cost < self.best_cost {
                self.best_cost = cost;
                self.best = Some(self.counts.clone());
            }
            return;
        }
        if i == self.items.len() || self.nodes == 0 {
            return;
        }
        self.nodes -= 1;
        if cost + self.bound(i, need, spot_left) >= self.best_cost * (1.0 - PRUNE) {
            return;
        }
        let item = &self.items[i];
        let mut most = ((need - self.eps) / item.cover).ceil().max(0.0);
        if item.spot {
            most = most.min(((spot_left + self.eps) / item.spot_use).floor());
        }
        let mut most = most.max(0.0) as i64;
        for &l in &item.limits {
            most = most.min(self.remaining[l]);
        }
        for n in (0..=most).rev() {
            for &l in &item.limits {
                self.remaining[l] -= n;
            }
            self.counts[i] = n as u32;
            let x = n as f64;
            self.dfs(
                i + 1,
                need - x * item.cover,
                spot_left - x * item.spot_use,
                cost + x * item.price,
            );
            for &l in &item.limits {
                self.remaining[l] += n;
            }
        }
        self.counts[i] = 0;
    }

    /// Least $/h to cover `need` req/s from items `i..`, fractionally; infinite if they cannot.
    fn bound(&self, i: usize, mut need: f64, mut spot_left: f64) -> f64 {
        let mut cost = 0.0;
        for item in &self.items[i..] {
            let mut amount = need;
            for &l in &item.limits {
                amount = amount.min(self.remaining[l] as f64 * item.cover);
            }
            if item.spot {
                // Spot use relaxed to cover (≤ capacity), so this stays a relaxation with N+1.
                amount = amount.min(spot_left.max(0.0));
                spot_left -= amount;
            }
            cost += amount * item.price / item.cover;
            need -= amount;
            if need <= self.eps {
                return cost;
            }
        }
        f64::INFINITY
    }
}
