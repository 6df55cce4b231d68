//! The purchase LP as rows and columns, solved with good_lp: the relaxation (lower bound and
//! fractional reserved counts), its dual (shadow prices), and the whole MILP (any good_lp solver
//! with a gap and a time limit: HiGHS under the `highs` feature, microlp in the tests).
//!
//! Rows are kept in `≥` form (`Σ a x ≥ b`, a `≤` row negated) so the dual is read off directly:
//! `max Σ b y` subject to `Σ_i a_ij y_i ≤ cost_j`, `y ≥ 0`.

use good_lp::solvers::SolverModel;
#[cfg(any(test, feature = "highs"))]
use good_lp::solvers::{Solver, WithInitialSolution, WithMipGap, WithTimeLimit};
use good_lp::{
    Constraint, Expression, ProblemVariables, ResolutionError, Solution, Variable, constraint,
    microlp, variable,
};

use super::{Problem, PurchaseError};
use crate::pricing::Market;

/// What a column counts (read back only by the MILP).
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(any(test, feature = "highs")), allow(dead_code))]
enum Col {
    Reserved(usize),
    OnDemand(usize, usize),
    Spot(usize, usize),
    /// MILP only: period `.0` meets N+1 at capacity level `.1` (binary).
    Level(usize, f64),
}

/// What a row says, for naming it in bindings.
#[derive(Clone, Copy, Debug)]
enum RowKind {
    Demand(usize),
    Spares(usize),
    SpotShare(usize),
    Limit(usize),
    /// MILP only.
    #[cfg_attr(not(any(test, feature = "highs")), allow(dead_code))]
    Level,
}

struct Row {
    kind: RowKind,
    terms: Vec<(usize, f64)>,
    rhs: f64,
}

pub(super) struct Model {
    cols: Vec<(Col, f64)>,
    rows: Vec<Row>,
    reserved: Vec<Option<usize>>,
    /// `[period][type] = [on_demand, spot]` columns.
    counts: Vec<Vec<[Option<usize>; 2]>>,
}

pub(super) struct Relaxed {
    pub cost: f64,
    x: Vec<f64>,
}

pub(super) enum LpError {
    Infeasible,
    Solver(String),
}

impl Model {
    /// The LP relaxation of `problem`.
    pub fn build(problem: &Problem) -> Model {
        let hours = problem.total_hours();
        let mut m = Model {
            cols: Vec::new(),
            rows: Vec::new(),
            reserved: Vec::new(),
            counts: Vec::new(),
        };
        for (t, ty) in problem.types.iter().enumerate() {
            let col = ty
                .reserved
                .map(|price| m.col(Col::Reserved(t), price * hours));
            m.reserved.push(col);
        }
        for (p, period) in problem.periods.iter().enumerate() {
            let row = (0..problem.types.len())
                .map(|t| {
                    let ty = &problem.types[t];
                    let od = ty
                        .on_demand
                        .map(|price| m.col(Col::OnDemand(p, t), price * period.hours));
                    let spot = ty
                        .spot
                        .filter(|_| problem.spot_share > 0.0)
                        .map(|price| m.col(Col::Spot(p, t), price * period.hours));
                    [od, spot]
                })
                .collect();
            m.counts.push(row);
        }
        let usable: Vec<f64> = problem
            .types
            .iter()
            .filter(|ty| Market::ALL.iter().any(|&mk| ty.price(mk).is_some()))
            .map(|ty| ty.capacity)
            .collect();
        let largest = usable.iter().copied().fold(0.0, f64::max);
        let k = f64::from(problem.spare_replicas);
        for p in 0..problem.periods.len() {
            let required = problem.required(p);
            if required <= 0.0 {
                continue;
            }
            // Σ_t n_t c_t R / (R + k c_t) ≥ R: capacity ≥ R, and with spares the strongest
            // single row implied by every N+1 level (exact for a fleet of one type).
            let capacity = m.fleet(p, |t| {
                let c = problem.types[t].capacity;
                c * required / (required + k * c)
            });
            m.row(RowKind::Demand(p), capacity, required);
            if k > 0.0 {
                // replicas ≥ k + ⌈R / largest capacity⌉
                let replicas = m.fleet(p, |_| 1.0);
                let rhs = k + (required / largest - 1e-9).ceil();
                m.row(RowKind::Spares(p), replicas, rhs);
            }
            // on-demand and reserved capacity ≥ (1 − share) × R, where spot is on offer
            let spot_offered = (0..problem.types.len()).any(|t| m.counts[p][t][1].is_some());
            if spot_offered && problem.spot_share < 1.0 {
                let mut firm = Vec::new();
                for t in 0..problem.types.len() {
                    for col in [m.reserved[t], m.counts[p][t][0]].into_iter().flatten() {
                        firm.push((col, problem.types[t].capacity));
                    }
                }
                m.row(
                    RowKind::SpotShare(p),
                    firm,
                    (1.0 - problem.spot_share) * required,
                );
            }
        }
        for (l, limit) in problem.limits.iter().enumerate() {
            for p in 0..problem.periods.len() {
                // replicas in the limit's types and markets ≤ max
                let mut terms = Vec::new();
                for &t in &limit.types {
                    let [od, spot] = m.counts[p][t];
                    for (market, col) in [
                        (Market::Reserved, m.reserved[t]),
                        (Market::OnDemand, od),
                        (Market::Spot, spot),
                    ] {
                        if let Some(col) = col.filter(|_| limit.covers(t, market)) {
                            terms.push((col, -1.0));
                        }
                    }
                }
                if !terms.is_empty() {
                    m.row(RowKind::Limit(l), terms, -f64::from(limit.max));
                }
            }
        }
        m
    }

    /// The MILP: the relaxation's rows plus the exact N+1 rule, one binary per period and
    /// capacity level: `Σ_t n_pt min(c_t, C) ≥ (R_p + kC) u_pC`, `Σ_C u_pC ≥ 1`.
    #[cfg(any(test, feature = "highs"))]
    fn build_milp(problem: &Problem) -> Model {
        let mut m = Model::build(problem);
        if problem.spare_replicas == 0 {
            return m;
        }
        let k = f64::from(problem.spare_replicas);
        for p in 0..problem.periods.len() {
            let required = problem.required(p);
            if required <= 0.0 {
                continue;
            }
            let mut choose = Vec::new();
            for level in levels(problem) {
                let u = m.col(Col::Level(p, level), 0.0);
                let mut terms = m.fleet(p, |t| problem.types[t].capacity.min(level));
                terms.push((u, -(required + k * level)));
                m.row(RowKind::Level, terms, 0.0);
                choose.push((u, 1.0));
            }
            m.row(RowKind::Level, choose, 1.0);
        }
        m
    }

    fn col(&mut self, col: Col, cost: f64) -> usize {
        self.cols.push((col, cost));
        self.cols.len() - 1
    }

    fn row(&mut self, kind: RowKind, terms: Vec<(usize, f64)>, rhs: f64) {
        self.rows.push(Row { kind, terms, rhs });
    }

    /// Every column serving in period `p` (reserved, on-demand, spot), weighted by `weight(type)`.
    fn fleet(&self, p: usize, weight: impl Fn(usize) -> f64) -> Vec<(usize, f64)> {
        let mut terms = Vec::new();
        for (t, &[od, spot]) in self.counts[p].iter().enumerate() {
            for col in [self.reserved[t], od, spot].into_iter().flatten() {
                terms.push((col, weight(t)));
            }
        }
        terms
    }

    fn variables(&self, integer: bool) -> (ProblemVariables, Vec<Variable>, Expression) {
        let mut vars = ProblemVariables::new();
        let mut objective = Expression::default();
        let xs = self
            .cols
            .iter()
            .map(|&(col, cost)| {
                let mut def = variable().min(0.0);
                if let Col::Level(..) = col {
                    def = def.max(1.0);
                }
                if integer {
                    def = def.integer();
                }
                let x = vars.add(def);
                objective.add_mul(cost, x);
                x
            })
            .collect();
        (vars, xs, objective)
    }

    fn constraints<'a>(&'a self, xs: &'a [Variable]) -> impl Iterator<Item = Constraint> + 'a {
        self.rows.iter().map(move |row| {
            let lhs: Expression = row.terms.iter().map(|&(j, a)| a * xs[j]).sum();
            constraint!(lhs >= row.rhs)
        })
    }

    pub fn solve_relaxation(&self) -> Result<Relaxed, LpError> {
        let (vars, xs, objective) = self.variables(false);
        let solution = vars
            .minimise(&objective)
            .using(microlp)
            .with_all(self.constraints(&xs))
            .solve()
            .map_err(|e| match e {
                ResolutionError::Infeasible => LpError::Infeasible,
                other => LpError::Solver(other.to_string()),
            })?;
        Ok(Relaxed {
            cost: solution.eval(&objective),
            x: xs.iter().map(|&x| solution.value(x)).collect(),
        })
    }

    /// The relaxation's reserved count per type (0 where not offered).
    pub fn reserved_values(&self, relaxed: &Relaxed) -> Vec<f64> {
        self.reserved
            .iter()
            .map(|col| col.map_or(0.0, |j| relaxed.x[j].max(0.0)))
            .collect()
    }

    /// Shadow prices from the dual of the relaxation, each as the change in cost when the
    /// constraint's own quantity grows by one unit: one more req/s of demand or replica held
    /// spare costs (`≥ 0`); one more req/s allowed on spot or replica allowed by a limit saves
    /// (`≤ 0`). Rows of one limit are summed over periods.
    pub fn binding(&self, problem: &Problem) -> Result<Vec<super::Binding>, String> {
        let y = self.dual()?;
        let mut limits = vec![0.0; problem.limits.len()];
        // The on-demand floor moves with demand too, by (1 − share) per req/s.
        let mut floor = vec![0.0; problem.periods.len()];
        for (row, &y) in self.rows.iter().zip(&y) {
            if let RowKind::SpotShare(p) = row.kind {
                floor[p] = y;
            }
        }
        let mut out = Vec::new();
        for (row, &y) in self.rows.iter().zip(&y) {
            // `y ≥ 0` is the cost of raising the row's right-hand side by one.
            let (name, price, unit) = match row.kind {
                RowKind::Demand(p) => (
                    format!("demand, period {p}"),
                    y + (1.0 - problem.spot_share) * floor[p],
                    "req/s more",
                ),
                RowKind::Spares(p) => (format!("spare replicas, period {p}"), y, "replica more"),
                // The floor is (1 − share) × R: one more req/s allowed on spot lowers it by one.
                RowKind::SpotShare(p) => (
                    format!("spot share, period {p}"),
                    -y,
                    "req/s more allowed on spot",
                ),
                RowKind::Limit(l) => {
                    limits[l] += y;
                    continue;
                }
                RowKind::Level => continue,
            };
            out.push((name, price, unit));
        }
        for (limit, y) in problem.limits.iter().zip(limits) {
            let name = format!("availability {}", limit.name);
            out.push((name, -y, "replica more allowed in every period"));
        }
        let scale = self.cols.iter().map(|c| c.1.abs()).fold(0.0, f64::max);
        let mut out: Vec<super::Binding> = out
            .into_iter()
            .filter(|(_, price, _)| price.abs() > 1e-9 * scale.max(1.0))
            .map(|(constraint, shadow_price, unit)| super::Binding {
                constraint,
                shadow_price,
                unit: unit.to_string(),
            })
            .collect();
        out.sort_by(|a, b| {
            b.shadow_price
                .abs()
                .total_cmp(&a.shadow_price.abs())
                .then_with(|| a.constraint.cmp(&b.constraint))
        });
        Ok(out)
    }

    /// An optimal dual solution: `max Σ b y`, `Σ_i a_ij y_i ≤ cost_j`, `y ≥ 0`.
    fn dual(&self) -> Result<Vec<f64>, String> {
        let mut vars = ProblemVariables::new();
        let ys = vars.add_vector(variable().min(0.0), self.rows.len());
        let mut objective = Expression::default();
        let mut columns: Vec<Expression> = vec![Expression::default(); self.cols.len()];
        for (row, &y) in self.rows.iter().zip(&ys) {
            objective.add_mul(row.rhs, y);
            for &(j, a) in &row.terms {
                columns[j].add_mul(a, y);
            }
        }
        let constraints = columns
            .into_iter()
            .zip(&self.cols)
            .map(|(lhs, &(_, cost))| constraint!(lhs <= cost));
        let solution = vars
            .maximise(objective)
            .using(microlp)
            .with_all(constraints)
            .solve()
            .map_err(|e| format!("dual of the purchase LP: {e}"))?;
        Ok(ys.iter().map(|&y| solution.value(y)).collect())
    }
}

/// Solves the whole purchase MILP of `problem` with `solver`, warm started from
/// (`reserved`, `counts`), to relative `gap` within `seconds`.
#[cfg(any(test, feature = "highs"))]
pub(super) fn solve_milp<S>(
    problem: &Problem,
    solver: S,
    start: (&[u32], &[Vec<[u32; 2]>]),
    gap: f32,
    seconds: f64,
) -> Result<(Vec<u32>, super::Counts), String>
where
    S: Solver,
    S::Model: WithMipGap + WithTimeLimit + WithInitialSolution,
    <S::Model as SolverModel>::Error: std::fmt::Display,
{
    let m = Model::build_milp(problem);
    let (vars, xs, objective) = m.variables(true);
    let (reserved, counts) = start;
    let k = f64::from(problem.spare_replicas);
    let initial: Vec<(Variable, f64)> = m
        .cols
        .iter()
        .zip(&xs)
        .map(|(&(col, _), &x)| {
            let value = match col {
                Col::Reserved(t) => reserved[t],
                Col::OnDemand(p, t) => counts[p][t][0],
                Col::Spot(p, t) => counts[p][t][1],
                Col::Level(p, level) => {
                    let chosen = levels(problem).into_iter().find(|&c| {
                        let have: f64 = (0..problem.types.len())
                            .map(|t| {
                                let n = reserved[t] + counts[p][t][0] + counts[p][t][1];
                                problem.types[t].capacity.min(c) * f64::from(n)
                            })
                            .sum();
                        have >= problem.required(p) + k * c - 1e-9
                    });
                    u32::from(chosen == Some(level))
                }
            };
            (x, f64::from(value))
        })
        .collect();
    let solution = vars
        .minimise(&objective)
        .using(solver)
        .with_all(m.constraints(&xs))
        .with_mip_gap(gap)
        .map_err(|e| e.to_string())?
        .with_time_limit(seconds)
        .with_initial_solution(initial)
        .solve()
        .map_err(|e| format!("MILP: {e}"))?;
    let value =
        |col: Option<usize>| col.map_or(0, |j| solution.value(xs[j]).round().max(0.0) as u32);
    let reserved = m.reserved.iter().map(|&c| value(c)).collect();
    let counts = m
        .counts
        .iter()
        .map(|row| {
            row.iter()
                .map(|&[od, spot]| [value(od), value(spot)])
                .collect()
        })
        .collect();
    Ok((reserved, counts))
}

/// The capacity levels at which N+1 is tested: the distinct capacities, ascending.
pub(super) fn levels(problem: &Problem) -> Vec<f64> {
    let mut levels: Vec<f64> = problem.types.iter().map(|ty| ty.capacity).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    levels
}

/// Why the relaxation is infeasible: the first period whose required capacity exceeds the most
/// the limits allow (with spares, the capacity that survives losing them, as the relaxation's
/// demand row counts it), or whose on-demand floor exceeds the most on-demand and reserved
/// capacity they allow.
pub(super) fn diagnose(problem: &Problem) -> PurchaseError {
    for p in 0..problem.periods.len() {
        let needed = problem.required(p);
        if needed <= 0.0 {
            continue;
        }
        let short =
            |max: Option<f64>, needed: f64| max.is_some_and(|max| max < needed * (1.0 - 1e-9));
        let max = max_capacity(problem, p, false);
        if short(max, needed) {
            return PurchaseError::Availability {
                period: p,
                needed,
                max: max.unwrap_or_default(),
                spares: problem.spare_replicas,
            };
        }
        let spot_offered =
            problem.spot_share > 0.0 && problem.types.iter().any(|ty| ty.spot.is_some());
        let floor = (1.0 - problem.spot_share) * needed;
        let firm = max_capacity(problem, p, true);
        if spot_offered && short(firm, floor) {
            return PurchaseError::SpotShare {
                period: p,
                needed: floor,
                max: firm.unwrap_or_default(),
                share: problem.spot_share,
            };
        }
    }
    PurchaseError::Infeasible(format!(
        "no period alone is short of capacity, but the availability limits leave fewer replicas \
         than {} spare replicas need; raise the limits or lower spare_replicas",
        problem.spare_replicas
    ))
}

/// The most capacity, req/s, that period `p` can field under the limits, counted as the
/// relaxation's demand row counts it, or (`firm`) on demand and reserved alone, as the spot
/// share's row counts it; None when unbounded.
fn max_capacity(problem: &Problem, p: usize, firm: bool) -> Option<f64> {
    let required = problem.required(p);
    let k = f64::from(problem.spare_replicas);
    let mut vars = ProblemVariables::new();
    let mut total = Expression::default();
    let mut per_market: Vec<[Option<Variable>; 3]> = Vec::new();
    for ty in &problem.types {
        let mut cols = [None; 3];
        for (i, market) in Market::ALL.into_iter().enumerate() {
            let counted = if market == Market::Spot {
                !firm && problem.spot_share > 0.0
            } else {
                true
            };
            if ty.price(market).is_some() && counted {
                let x = vars.add(variable().min(0.0));
                let weight = if firm {
                    ty.capacity
                } else {
                    ty.capacity * required / (required + k * ty.capacity)
                };
                total.add_mul(weight, x);
                cols[i] = Some(x);
            }
        }
        per_market.push(cols);
    }
    let mut constraints = Vec::new();
    for limit in &problem.limits {
        let mut used = Expression::default();
        for &t in &limit.types {
            for (i, market) in Market::ALL.into_iter().enumerate() {
                if let Some(x) = per_market[t][i].filter(|_| limit.covers(t, market)) {
                    used.add_mul(1.0, x);
                }
            }
        }
        constraints.push(constraint!(used <= f64::from(limit.max)));
    }
    let solution = vars
        .maximise(&total)
        .using(microlp)
        .with_all(constraints)
        .solve()
        .ok()?;
    Some(solution.eval(&total))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dual's optimum equals the relaxation's and its prices are dual feasible, so the
    /// shadow prices are those of the LP the bound comes from.
    #[test]
    fn strong_duality_holds_on_the_benchmark_shape() {
        for spares in [0, 2] {
            let problem = Problem {
                spare_replicas: spares,
                ..super::super::synthetic(24, 30, 3)
            };
            let m = Model::build(&problem);
            let Ok(primal) = m.solve_relaxation() else {
                panic!("the synthetic problem is feasible");
            };
            let y = m.dual().unwrap();
            let dual: f64 = m.rows.iter().zip(&y).map(|(row, y)| row.rhs * y).sum();
            assert!(
                (dual - primal.cost).abs() <= 1e-6 * primal.cost,
                "dual {dual} vs primal {}",
                primal.cost
            );
            let mut reduced: Vec<f64> = m.cols.iter().map(|c| c.1).collect();
            for (row, y) in m.rows.iter().zip(&y) {
                assert!(*y >= -1e-9);
                for &(j, a) in &row.terms {
                    reduced[j] -= a * y;
                }
            }
            assert!(reduced.iter().all(|&r| r >= -1e-6), "dual infeasible");
        }
    }
}
