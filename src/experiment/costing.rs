//! The one costing step for serving: the engine records usage (instance-hours by pool, stopped
//! warm instances, idle GPU-hours, replica-hours provisioning, requests, tokens) and reads no
//! price; [`price`] turns one run's usage into dollars, right after the run and before
//! replications are summarised, so that every dollar figure has its confidence interval; and
//! [`Rates`] turns a summary's dollars into the rates that every view and report reads ($/hour,
//! $/day, by pool, by market, idle), over the hours the run measured (an offline run's
//! makespan, not its horizon). The period's bill ([`super::bill`]) scales the same dollars.

use crate::fleet::WarmState;
use crate::pricing::Market;
use crate::scenario::Scenario;
use crate::sim::{Metric, PoolStats, RunResult, Stats};
use crate::training::checkpoint;

use super::ScopeSummary;

/// Prices one run of `s`: every pool, every scope's cost metrics, every row of the series.
pub fn price(s: &Scenario, run: &mut RunResult) {
    for (ps, pool) in run.pools.iter_mut().zip(s.pools()) {
        let warm = pool.provisioning.warm_pool;
        // A warm pool costs its stopped instances' disks, or its running instances (already in
        // the paid instance-hours).
        let stopped = warm.map_or(0.0, |w| ps.stopped_instance_hours * w.stopped_usd_per_hour);
        ps.warm_cost_usd = match warm.map(|w| (w.state, w.size)) {
            Some((WarmState::Running, size)) => {
                f64::from(size) * run.window_hours * pool.price_usd_per_hour
            }
            Some((WarmState::Stopped, _)) => stopped,
            None => 0.0,
        };
        ps.provisioning_cost_usd = ps.provisioning_replica_hours
            * f64::from(pool.gpus_per_replica)
            * pool.price_usd_per_gpu_hour();
        ps.cost_usd = ps.instance_hours * pool.price_usd_per_hour + stopped;
        ps.idle_cost_usd = ps.gpu_hours_idle * pool.price_usd_per_gpu_hour() + stopped;
    }
    let all: Vec<usize> = (0..s.pools().len()).collect();
    price_scope(s, &all, run, None);
    for w in 0..s.workloads().len() {
        let pools: Vec<usize> = s.pools_of(w).collect();
        price_scope(s, &pools, run, Some(w));
    }
    for (rows, pool) in run.pool_series.iter_mut().zip(s.pools()) {
        for row in rows {
            row.cost_usd = row.instance_hours * pool.price_usd_per_hour;
        }
    }
    for (w, rows) in run.workload_series.iter_mut().enumerate() {
        for (i, row) in rows.iter_mut().enumerate() {
            let mut cost = 0.0;
            for p in s.pools_of(w) {
                cost += run.pool_series[p][i].cost_usd;
            }
            row.cost_usd = cost;
        }
    }
    for (i, row) in run.series.iter_mut().enumerate() {
        let mut cost = 0.0;
        for rows in &run.workload_series {
            cost += rows[i].cost_usd;
        }
        row.cost_usd = cost;
    }
}

/// The cost metrics of one scope (the total, or workload `w`) from its pools' dollars.
fn price_scope(s: &Scenario, pools: &[usize], run: &mut RunResult, w: Option<usize>) {
    let priced = &run.pools;
    let sum = |f: fn(&PoolStats) -> f64| pools.iter().map(|&p| f(&priced[p])).sum();
    let cost: f64 = sum(|p| p.cost_usd);
    let idle: f64 = sum(|p| p.idle_cost_usd);
    let market = |m: Market| {
        pools
            .iter()
            .filter(|&&p| s.pools()[p].market == m)
            .map(|&p| priced[p].cost_usd)
            .fold(0.0, |a, b| a + b)
    };
    let by_market = [
        market(Market::OnDemand),
        market(Market::Spot),
        market(Market::Reserved),
    ];
    let window_hours = run.window_hours;
    let stats: &mut Stats = match w {
        Some(w) => &mut run.workloads[w],
        None => &mut run.total,
    };
    let v = &mut stats.values;
    let completed = v[Metric::Completed.index()];
    let (input, output) = (
        v[Metric::InputTokens.index()],
        v[Metric::OutputTokens.index()],
    );
    let mut set = |m: Metric, x: f64| v[m.index()] = x;
    set(Metric::CostTotal, cost);
    set(
        Metric::CostPer1k,
        if completed > 0.0 {
            cost / completed * 1e3
        } else {
            f64::NAN
        },
    );
    set(Metric::CostPerHour, cost / window_hours);
    set(Metric::CostIdle, idle);
    set(Metric::CostOnDemand, by_market[0]);
    set(Metric::CostSpot, by_market[1]);
    set(Metric::CostReserved, by_market[2]);
    // `NaN` tokens (a request-level scope) leave these `NaN`.
    set(Metric::CostPer1MOutputTokens, cost / output * 1e6);
    set(Metric::CostPer1MTokens, cost / (input + output) * 1e6);
}

/// What one run of a training job cost: its instance-hours on spot and on on-demand, at the
/// plan's prices.
pub fn job_run_usd(plan: &checkpoint::Plan, o: &checkpoint::Outcome) -> f64 {
    let hours = |s: f64| s / 3600.0 * f64::from(plan.instances);
    hours(o.spot_s) * plan.spot_usd_per_instance_hour
        + hours(o.on_demand_s) * plan.on_demand_usd_per_instance_hour
}

/// What a scope (the whole fleet, or one workload's pools) costs an hour, on average over the
/// window measured.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopeRates {
    pub per_hour: f64,
    pub per_day: f64,
    pub idle_per_hour: f64,
    /// On-demand, spot and reserved, in that order.
    pub by_market_per_hour: [(Market, f64); 3],
}

/// One pool's cost an hour, and what its idle GPU time cost an hour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoolRates {
    pub per_hour: f64,
    pub idle_per_hour: f64,
}

/// Serving's cost rates: the figures every front end shows as "$/h" or "per day". Per-request
/// and per-token costs are metrics with intervals (`Metric::CostPer1k`, `CostPer1MTokens`).
#[derive(Clone, Debug, PartialEq)]
pub struct Rates {
    pub total: ScopeRates,
    pub workloads: Vec<ScopeRates>,
    pub pools: Vec<PoolRates>,
}

impl Rates {
    /// The rates of a summary's scopes and pools, from runs that were [`price`]d, over
    /// `window_hours`.
    pub fn of(
        total: &ScopeSummary,
        workloads: &[ScopeSummary],
        pools: &[PoolStats],
        window_hours: f64,
    ) -> Rates {
        let h = window_hours;
        let scope = |sc: &ScopeSummary| {
            let m = |x: Metric| sc.get(x).mean;
            ScopeRates {
                per_hour: m(Metric::CostPerHour),
                per_day: m(Metric::CostPerHour) * 24.0,
                idle_per_hour: m(Metric::CostIdle) / h,
                by_market_per_hour: [
                    (Market::OnDemand, m(Metric::CostOnDemand) / h),
                    (Market::Spot, m(Metric::CostSpot) / h),
                    (Market::Reserved, m(Metric::CostReserved) / h),
                ],
            }
        };
        Rates {
            total: scope(total),
            workloads: workloads.iter().map(scope).collect(),
            pools: pools
                .iter()
                .map(|p| PoolRates {
                    per_hour: p.cost_usd / h,
                    idle_per_hour: p.idle_cost_usd / h,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_engine_leaves_dollars_to_the_costing_step() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let s = crate::scenario::load(&root.join("scenarios/chat-assistant.toml"), &[]).unwrap();
        let mut run = crate::sim::run(&s, 7, None).unwrap();
        assert!(run.total.get(Metric::CostTotal).is_nan());
        assert!(run.pools.iter().all(|p| p.cost_usd.is_nan()));
        price(&s, &mut run);
        let mut total = 0.0;
        for (ps, pool) in run.pools.iter().zip(s.pools()) {
            assert!(ps.instance_hours > 0.0);
            assert_eq!(ps.cost_usd, ps.instance_hours * pool.price_usd_per_hour);
            total += ps.cost_usd;
        }
        let t = &run.total;
        assert!((t.get(Metric::CostTotal) - total).abs() < 1e-9 * total);
        assert_eq!(t.get(Metric::CostPerHour), total / run.window_hours);
        let markets =
            t.get(Metric::CostOnDemand) + t.get(Metric::CostSpot) + t.get(Metric::CostReserved);
        assert!((markets - total).abs() < 1e-9 * total);
        let series: f64 = run.series.iter().map(|r| r.cost_usd).sum();
        // The series covers the warm-up too.
        assert!(series >= total * 0.999, "{series} < {total}");
    }
}
