//! Target tracking instead of the schedule: the plan's reserved pools kept, the rest replaced by
//! one on-demand pool that tracks a utilization target, swept around the utilization the plan's
//! scheduled pools ran at, each target simulated with the verification's replications.
//!
//! A schedule needs the demand curve to repeat; target tracking needs only a target. The sweep
//! shows what following the load instead costs, and which target still meets the SLO.

use rayon::prelude::*;

use crate::experiment::Summary;
use crate::experiment::run::{self, RunOptions};
use crate::fleet::{Scaling, ScalingPolicy, TrackedMetric};
use crate::pricing::Market;
use crate::scenario::{Edit, LoadError, Scenario, key_path};
use crate::sim::Metric;

use super::planner::OptimizeError;

/// One target's result.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackingPoint {
    pub metric: TrackedMetric,
    pub target: f64,
    pub cost_per_day: f64,
    pub latency: super::plan::Latency,
    pub attainment: f64,
    pub slo_met: bool,
}

/// What to track: utilization, unless replicas batch (a batching replica is busy nearly all
/// the time at any useful load, so its utilization says little about its headroom); then
/// requests in flight per replica.
pub fn metric(plan: &Scenario, workload: usize) -> TrackedMetric {
    let batches = plan.pools_of(workload).any(|i| {
        plan.pools()[i].serving.batching().max_batch > 1
            || matches!(plan.pools()[i].serving, crate::fleet::Serving::Llm(_))
    });
    if batches {
        TrackedMetric::Concurrency
    } else {
        TrackedMetric::Utilization
    }
}

/// Targets around `implied`: 80 % to 120 % of it in steps of 10 %; utilization rounded to
/// 0.05 within 0.2 to 0.95, concurrency to 0.1 from 0.1.
pub fn targets(metric: TrackedMetric, implied: f64) -> Vec<f64> {
    let mut out: Vec<f64> = [0.8, 0.9, 1.0, 1.1, 1.2]
        .iter()
        .map(|f| match metric {
            TrackedMetric::Utilization => ((implied * f * 20.0).round() / 20.0).clamp(0.2, 0.95),
            _ => ((implied * f * 10.0).round() / 10.0).max(0.1),
        })
        .collect();
    out.dedup();
    out
}

/// What `metric` read on the plan's scheduled pools in `summary`: the utilization of the pool
/// that [`tracked`] keeps, or the requests in flight per replica of the workload (Little's L
/// over the mean replicas).
pub fn implied(plan: &Scenario, summary: &Summary, workload: usize, metric: TrackedMetric) -> f64 {
    match metric {
        TrackedMetric::Utilization => elastic(plan, workload)
            .1
            .map_or(0.6, |i| summary.pools[i].utilization),
        _ => {
            let replicas: f64 = plan
                .pools_of(workload)
                .map(|i| summary.pools[i].replicas_mean)
                .sum();
            summary.workloads[workload].get(Metric::MeanInSystem).mean / replicas.max(1.0)
        }
    }
}

/// The sweep `headroom optimize` reports: the metric that suits the serving, targets around
/// what it read on the plan, and, while the highest target still meets the SLO, higher ones
/// (up to twice the implied value), so the cheapest target that meets it is found.
pub fn recommend(
    plan: &Scenario,
    summary: &Summary,
    workload: usize,
    replications: u32,
) -> Result<Vec<TrackingPoint>, OptimizeError> {
    if plan
        .pools_of(workload)
        .all(|i| plan.pools()[i].market == Market::Reserved)
    {
        return Ok(Vec::new()); // nothing scales: the plan is all reserved
    }
    let metric = metric(plan, workload);
    let at = implied(plan, summary, workload, metric);
    let mut points = sweep(plan, workload, metric, &targets(metric, at), replications)?;
    if points.last().is_some_and(|p| p.slo_met) {
        let last = points.last().map_or(0.0, |p| p.target);
        let more: Vec<f64> = targets(metric, at * 1.6)
            .into_iter()
            .filter(|&t| t > last)
            .collect();
        points.extend(sweep(plan, workload, metric, &more, replications)?);
    }
    Ok(points)
}

/// Simulates `plan` (the verified plan's scenario) with its scheduled pools of `workload`
/// replaced by one tracking each target (see [`tracked`]).
pub fn sweep(
    plan: &Scenario,
    workload: usize,
    metric: TrackedMetric,
    targets: &[f64],
    replications: u32,
) -> Result<Vec<TrackingPoint>, OptimizeError> {
    targets
        .par_iter()
        .map(|&target| {
            let s = tracked(plan, workload, metric, target)?;
            let outcome = run::run(&s, &RunOptions::new(&s, replications))?;
            let summary = outcome
                .serving
                .ok_or(crate::sim::SimError::NothingToServe)?;
            let ws = &summary.workloads[workload];
            Ok(TrackingPoint {
                metric,
                target,
                cost_per_day: summary.rates.workloads[workload].per_day,
                latency: super::plan::Latency::of(ws),
                attainment: ws.attainment(),
                slo_met: ws.slo_met_share.is_none_or(|share| share == 1.0),
            })
        })
        .collect()
}

/// Replicas of pool `p` by hour of day.
fn scheduled(p: &crate::fleet::Pool) -> [u32; 24] {
    match &p.scaling {
        Some(Scaling {
            policy: ScalingPolicy::Schedule { hours },
            ..
        }) => *hours,
        _ => [p.replicas; 24],
    }
}

/// The non-reserved pools of `workload` that run at some hour, and the one that runs the most
/// replica-hours (the first on a tie): the pool that [`tracked`] turns into a tracking one.
fn elastic(plan: &Scenario, workload: usize) -> (Vec<usize>, Option<usize>) {
    let pools: Vec<usize> = plan
        .pools_of(workload)
        .filter(|&i| {
            plan.pools()[i].market != Market::Reserved
                && plan.pools()[i].replicas + scheduled(&plan.pools()[i]).iter().sum::<u32>() > 0
        })
        .collect();
    let main = pools.iter().copied().max_by_key(|&i| {
        (
            scheduled(&plan.pools()[i]).iter().sum::<u32>(),
            std::cmp::Reverse(i),
        )
    });
    (pools, main)
}

/// The plan with its reserved pools kept and its other pools of `workload` replaced by one
/// on-demand pool of the candidate that ran the most of them, tracking `target` between one
/// replica (tracking cannot scale up from zero) and twice the scheduled peak of all of them.
/// Made by edits of the plan's file (the new pool copies the main pool's table), validated
/// again.
pub fn tracked(
    plan: &Scenario,
    workload: usize,
    metric: TrackedMetric,
    target: f64,
) -> Result<Scenario, LoadError> {
    let (elastic, Some(main)) = elastic(plan, workload) else {
        return Ok(plan.clone());
    };
    let peak = (0..24)
        .map(|h| {
            elastic
                .iter()
                .map(|&i| scheduled(&plan.pools()[i])[h])
                .sum::<u32>()
        })
        .max()
        .unwrap_or(1);
    let name = plan.pools()[main].name.as_str();
    let table = plan
        .table_in_file(&["pools", name])
        .ok_or_else(|| LoadError::Invalid {
            diagnostics: vec![crate::scenario::Diagnostic {
                location: plan.name().clone(),
                message: format!("pool {name:?} is not a table of the plan's file"),
                snippet: None,
            }],
        })?;
    let mut pool = table;
    pool.remove("interruptions");
    pool.insert("market".into(), Market::OnDemand.as_str().into());
    let first = i64::from(scheduled(&plan.pools()[main])[0].max(1));
    pool.insert("replicas".into(), first.into());
    let mut autoscale = toml::Table::new();
    autoscale.insert("policy".into(), "target-tracking".into());
    autoscale.insert("metric".into(), metric.name().into());
    autoscale.insert("target".into(), target.into());
    autoscale.insert("min".into(), 1.into());
    autoscale.insert("max".into(), i64::from((2 * peak).max(2)).into());
    pool.insert("autoscale".into(), autoscale.into());
    // The replaced pools stay, empty, so other pools' indices (fallbacks) hold.
    let mut edits = Vec::new();
    for &i in &elastic {
        let p = plan.pools()[i].name.as_str();
        let mut never = toml::Table::new();
        never.insert("policy".into(), "schedule".into());
        never.insert("hours".into(), vec![0; 24].into());
        edits.push(Edit::set(key_path(&["pools", p, "replicas"]), 0));
        edits.push(Edit::set(key_path(&["pools", p, "autoscale"]), never));
    }
    edits.push(Edit::add(
        key_path(&["pools", &format!("{name}-tracking")]),
        pool,
    ));
    plan.apply(&edits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_surround_the_utilization() {
        let u = TrackedMetric::Utilization;
        assert_eq!(targets(u, 0.6), vec![0.5, 0.55, 0.6, 0.65, 0.7]);
        assert_eq!(targets(u, 0.9), vec![0.7, 0.8, 0.9, 0.95]);
        assert_eq!(
            targets(TrackedMetric::Concurrency, 5.0),
            vec![4.0, 4.5, 5.0, 5.5, 6.0]
        );
    }
}
