//! One period's purchase with the reserved counts fixed: a covering problem over on-demand and
//! spot replica counts with the spot-share row (on-demand and reserved capacity cover at least
//! `1 − spot_share` of the required) and the limits, solved by depth-first branch and bound.
//!
//! Items (a type in a market) are taken in order of cost per unit of capacity, ties by canonical
//! type order, and each is tried from the most replicas useful down to none. The bound at a node
//! is the fractional optimum of the remaining items over the demand and floor rows, with group
//! limits loosened to per-item ones: exact without N+1, the best of a few relaxations at an N+1
//! level (`Search::bound`). A node is pruned when its bound is within [`PRUNE`] of the
//! incumbent, and a search stops after a number of nodes with the best plan found: few
//! ([`SEARCH_NODES`]) while reserved counts are compared, many ([`POLISH_NODES`]) for the plan
//! returned. Near-ties between types make proving optimality slow (millions of nodes); the
//! limits cost a few hundredths of a percent (measured on the benchmark shape).
//!
//! Every search also proves a lower bound on its period's optimum: the incumbent, or, where the
//! node limit cut the search short, the least bound among the nodes it left open. Summed over
//! periods (and minimised over every reserved count, when all are tried) it bounds the whole
//! integer problem, usually far more tightly than the LP relaxation does when a purchase unit is
//! a large share of the demand (an 8-GPU instance at night).
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
    /// req/s one replica counts for toward the on-demand floor (its capacity; 0 on spot).
    firm: f64,
    /// Limits this item counts against.
    limits: Vec<usize>,
}

/// The items at one capacity level, cheapest cover first.
struct Level {
    cap: f64,
    items: Vec<Item>,
    /// Indices of the on-demand items, cheapest per unit of `firm` first.
    firm_order: Vec<usize>,
    /// Indices of every item, cheapest per unit of [`Item::wide`] first.
    wide_order: Vec<usize>,
    /// The least cover an on-demand replica gives per req/s of the floor (1 without N+1).
    firm_cover: f64,
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
    /// A proven lower bound on the cost of any plan with these reserved counts, $.
    pub lower: f64,
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
            .map(|cap| {
                let items = items(problem, cap);
                let mut firm_order: Vec<usize> =
                    (0..items.len()).filter(|&i| items[i].firm > 0.0).collect();
                firm_order.sort_by(|&a, &b| {
                    (items[a].price / items[a].firm)
                        .total_cmp(&(items[b].price / items[b].firm))
                        .then(a.cmp(&b))
                });
                let mut wide_order: Vec<usize> = (0..items.len()).collect();
                wide_order.sort_by(|&a, &b| {
                    (items[a].price / items[a].wide())
                        .total_cmp(&(items[b].price / items[b].wide()))
                        .then(a.cmp(&b))
                });
                let firm_cover = items
                    .iter()
                    .filter(|item| item.firm > 0.0)
                    .map(|item| item.cover / item.firm)
                    .fold(1.0, f64::min);
                Level {
                    cap,
                    items,
                    firm_order,
                    wide_order,
                    firm_cover,
                }
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
        let mut lower = cost;
        for (p, period) in problem.periods.iter().enumerate() {
            if cost >= cap {
                return None;
            }
            let cap_per_hour = if period.hours > 0.0 {
                (cap - cost) / period.hours
            } else {
                f64::INFINITY
            };
            let solved = self.solve(p, reserved, &remaining, cap_per_hour);
            let (per_hour, row) = solved.best?;
            cost += per_hour * period.hours;
            lower += solved.lower * period.hours;
            counts.push(row);
        }
        (cost < cap).then_some(Evaluation {
            cost,
            counts,
            lower: lower.min(cost),
        })
    }

    /// A proven lower bound on the cost of every plan with `reserved`, $, or `stop` once the
    /// bound reaches it (infinite when some period cannot be met).
    pub fn lower_bound(&self, reserved: &[u32], stop: f64) -> f64 {
        let problem = self.problem;
        let Some(mut lower) = problem
            .types
            .iter()
            .zip(reserved)
            .filter(|&(_, &r)| r > 0)
            .map(|(ty, &r)| ty.reserved.map(|price| price * f64::from(r)))
            .sum::<Option<f64>>()
            .map(|per_hour| per_hour * problem.total_hours())
        else {
            return f64::INFINITY;
        };
        let Some(remaining) = self.remaining_after(reserved) else {
            return f64::INFINITY;
        };
        for (p, period) in problem.periods.iter().enumerate() {
            if lower >= stop {
                return stop;
            }
            lower += self.solve(p, reserved, &remaining, f64::INFINITY).lower * period.hours;
        }
        lower.min(stop)
    }

    /// The error when no reserved counts tried gave a plan: the first period that no on-demand
    /// and spot counts can meet with none reserved, or with `most` reserved.
    pub fn explain_infeasible(&self, most: &[u32]) -> PurchaseError {
        let none = vec![0; self.problem.types.len()];
        let short = |reserved: &[u32]| {
            let remaining = self.remaining_after(reserved)?;
            (0..self.problem.periods.len()).find(|&p| {
                self.solve(p, reserved, &remaining, f64::INFINITY)
                    .best
                    .is_none()
            })
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

    /// Period `p`'s cheapest on-demand and spot counts below `cap` $/h, over all levels, and
    /// a lower bound on its optimum.
    fn solve(&self, p: usize, reserved: &[u32], remaining: &[i64], cap: f64) -> Solved {
        let problem = self.problem;
        let required = problem.required(p);
        let empty = vec![[0, 0]; problem.types.len()];
        let free = || Solved {
            best: (0.0 < cap).then_some((0.0, empty.clone())),
            lower: 0.0,
        };
        if required <= 0.0 {
            return free();
        }
        let eps = 1e-9 * required.max(1.0);
        // The on-demand floor left once the reserved replicas count (full capacities).
        let firm_need = (1.0 - problem.spot_share) * required
            - problem
                .types
                .iter()
                .zip(reserved)
                .map(|(ty, &r)| ty.capacity * f64::from(r))
                .sum::<f64>();
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
            if need <= eps && firm_need <= eps {
                return free();
            }
            let search = Search {
                items: &level.items,
                firm_order: &level.firm_order,
                wide_order: &level.wide_order,
                firm_cover: level.firm_cover,
                taken: std::cell::Cell::new(Vec::new()),
                remaining: remaining.to_vec(),
                counts: vec![0; level.items.len()],
                best_cost: cap,
                best: None,
                nodes: self.node_limit,
                open: f64::INFINITY,
                eps,
            };
            searches.push((search.bound(0, need, firm_need), need, search));
        }
        searches.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut best: Option<(f64, Vec<[u32; 2]>)> = None;
        let mut lower = f64::INFINITY;
        for (_, need, mut search) in searches {
            search.best_cost = best.as_ref().map_or(cap, |b| b.0);
            search.dfs(0, need, firm_need, 0.0);
            // What this level cannot undercut: the incumbent (up to the pruning tolerance),
            // or a node left open.
            lower = lower.min(search.open.min(search.best_cost * (1.0 - PRUNE)));
            if let Some(counts) = search.best {
                let mut row = empty.clone();
                for (item, n) in search.items.iter().zip(counts) {
                    row[item.t][usize::from(item.spot)] += n;
                }
                best = Some((search.best_cost, row));
            }
        }
        Solved {
            lower: lower.max(0.0),
            best,
        }
    }
}

/// One period searched: the cheapest counts found below the cap (`$/h`, `[type] = [od, spot]`)
/// and a lower bound on the period's optimum, $/h (at least the cap where none was found and
/// no node was left open).
struct Solved {
    best: Option<(f64, Vec<[u32; 2]>)>,
    lower: f64,
}

impl Item {
    /// What one replica counts for in the relaxed demand row of [`Search::bound`]: its full
    /// capacity on demand, its cover on spot.
    fn wide(&self) -> f64 {
        self.cover.max(self.firm)
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
                firm: if spot { 0.0 } else { ty.capacity },
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
    /// On-demand items, cheapest per unit of their full capacity first.
    firm_order: &'a [usize],
    /// Every item, cheapest per unit of [`Item::wide`] first.
    wide_order: &'a [usize],
    /// The least cover an on-demand replica gives per req/s of the floor.
    firm_cover: f64,
    /// Scratch for [`Search::bound`].
    taken: std::cell::Cell<Vec<f64>>,
    /// Replicas each limit still allows.
    remaining: Vec<i64>,
    counts: Vec<u32>,
    /// $/h of the incumbent, or the cap to beat.
    best_cost: f64,
    best: Option<Vec<u32>>,
    /// Nodes left to visit.
    nodes: u32,
    /// The least bound, $/h, among the nodes the node limit left unexplored.
    open: f64,
    /// req/s below which demand counts as met.
    eps: f64,
}

impl Search<'_> {
    fn dfs(&mut self, i: usize, need: f64, firm_need: f64, cost: f64) {
        if need <= self.eps && firm_need <= self.eps {
            if cost < self.best_cost {
                self.best_cost = cost;
                self.best = Some(self.counts.clone());
            }
            return;
        }
        if i == self.items.len() {
            return;
        }
        let bound = cost + self.bound(i, need, firm_need);
        if self.nodes == 0 {
            self.open = self.open.min(bound);
            return;
        }
        self.nodes -= 1;
        if bound >= self.best_cost * (1.0 - PRUNE) {
            return;
        }
        let item = &self.items[i];
        let most = if item.firm > 0.0 {
            ((need - self.eps) / item.cover)
                .ceil()
                .max(((firm_need - self.eps) / item.firm).ceil())
        } else {
            // The floor's on-demand replicas will cover at least `firm_cover × firm_need` of
            // the demand, so spot beyond the rest could be dropped again.
            ((need - self.firm_cover * firm_need.max(0.0) - self.eps) / item.cover).ceil()
        };
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
                firm_need - x * item.firm,
                cost + x * item.price,
            );
            for &l in &item.limits {
                self.remaining[l] += n;
            }
        }
        self.counts[i] = 0;
    }

    /// A lower bound on the $/h that items `i..` need to cover `need` req/s and `firm_need`
    /// of the on-demand floor; infinite if they cannot.
    ///
    /// The fractional optimum of two covering rows that measure every item alike and are nested
    /// (the floor's items, the on-demand ones, are a subset of the demand's) is greedy: the
    /// floor from its cheapest items, the rest of the demand from the cheapest capacity left.
    /// Without N+1 an on-demand replica counts its capacity in both rows, so that is the node's
    /// exact LP bound. At an N+1 level its cover is capped below its capacity; counting it for
    /// its capacity in the demand row too makes the rows alike and relaxes them, and the demand
    /// row alone is another relaxation: the larger of the two. (A third, the floor in cover
    /// units scaled by `firm_cover`, and a Lagrangian bound on the floor with the root's best
    /// multiplier cut no nodes on the benchmark shape and cost time.)
    fn bound(&self, i: usize, need: f64, firm_need: f64) -> f64 {
        let cover = || self.fill(i, need);
        if firm_need <= self.eps {
            return cover();
        }
        let nested = self.nested(i, firm_need, need);
        if self.firm_cover >= 1.0 {
            nested
        } else {
            nested.max(cover())
        }
    }

    /// Least $/h to fill `floor` of the floor row from the on-demand items `i..` (cheapest per
    /// req/s of floor first), each counting its full capacity toward `need` too, and then the
    /// rest of `need` from items `i..` (cheapest per [`Item::wide`] first), fractionally, each
    /// item capped by the replicas its limits still allow; infinite if they cannot.
    fn nested(&self, i: usize, floor: f64, need: f64) -> f64 {
        // Replicas of each item the floor's fill took (fractional), in a buffer kept between
        // calls (this runs at every node).
        let mut taken = self.taken.take();
        taken.clear();
        taken.resize(self.items.len(), 0.0);
        let (mut floor_left, mut need_left, mut cost) = (floor, need, 0.0);
        for &j in self.firm_order.iter().filter(|&&j| j >= i) {
            if floor_left <= self.eps {
                break;
            }
            let item = &self.items[j];
            let x = (floor_left / item.firm).min(self.most(item));
            taken[j] = x;
            cost += x * item.price;
            floor_left -= x * item.firm;
            need_left -= x * item.wide();
        }
        if floor_left <= self.eps {
            for &j in self.wide_order.iter().filter(|&&j| j >= i) {
                if need_left <= self.eps {
                    break;
                }
                let item = &self.items[j];
                let x = (need_left / item.wide()).min(self.most(item) - taken[j]);
                cost += x * item.price;
                need_left -= x * item.wide();
            }
        }
        self.taken.set(taken);
        if floor_left > self.eps || need_left > self.eps {
            f64::INFINITY
        } else {
            cost
        }
    }

    /// The replicas of `item` its limits still allow (as a fractional count).
    fn most(&self, item: &Item) -> f64 {
        item.limits
            .iter()
            .map(|&l| self.remaining[l] as f64)
            .fold(f64::INFINITY, f64::min)
    }

    /// Least $/h to cover `need` of the demand row alone from items `i..` (in their order,
    /// cheapest per req/s of cover first), fractionally, each capped by the replicas its limits
    /// still allow; infinite if they cannot.
    fn fill(&self, i: usize, mut need: f64) -> f64 {
        if need <= self.eps {
            return 0.0;
        }
        let mut cost = 0.0;
        for item in &self.items[i..] {
            let amount = need.min(self.most(item) * item.cover);
            cost += amount * item.price / item.cover;
            need -= amount;
            if need <= self.eps {
                return cost;
            }
        }
        f64::INFINITY
    }
}
