//! Experiments: independent replications of a scenario in parallel, summarised as means with
//! 95 % confidence intervals; [`run::run`] runs a whole scenario (serving, training, the bill).
//!
//! Replication `i` runs with seed `replication_seed(seed, i)`; runs go through rayon's
//! order-preserving `par_iter().map().collect()`, and every sum is taken after the collect in
//! replication order, so the summary does not depend on the number of threads.

pub mod bill;
pub mod budget;
pub mod cluster;
pub mod costing;
pub mod energy;
pub mod preview;
pub mod run;
pub mod training;
pub mod validation;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::rng::replication_seed;
use crate::scenario::Scenario;
use crate::sim::{self, PoolSeriesRow, RunResult, Stats};

/// What front ends read of a run, re-exported so that they never name the simulator.
pub use crate::sim::{
    LatencyBins, MAX_IN_SYSTEM, Metric, PoolStats, SeriesRow, SimError, StopReason, Stopped,
};
use crate::units::SimTime;

/// A mean over replications and, with two or more, its 95 % confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub ci95: Option<(f64, f64)>,
}

impl Estimate {
    /// The mean of `xs` and its Student-t interval. A `NaN` (a replication that measured nothing,
    /// such as a percentile when no request completed) is left out; all `NaN` gives `NaN`.
    pub fn of(xs: &[f64]) -> Estimate {
        let xs: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
        let n = xs.len() as f64;
        if xs.is_empty() {
            return Estimate {
                mean: f64::NAN,
                ci95: None,
            };
        }
        let mean = xs.iter().sum::<f64>() / n;
        if xs.len() < 2 || !mean.is_finite() {
            return Estimate { mean, ci95: None };
        }
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let t = StudentsT::new(0.0, 1.0, n - 1.0)
            .expect("n >= 2 gives a valid t distribution")
            .inverse_cdf(0.975);
        let half = t * (var / n).sqrt();
        Estimate {
            mean,
            ci95: Some((mean - half, mean + half)),
        }
    }
}

/// Headline metrics of one scope over all replications.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopeSummary {
    pub values: [Estimate; Metric::COUNT],
    /// Mean count per latency bin over replications.
    pub latency_bins: LatencyBins,
    pub slo_targets: Option<crate::sim::result::SloTargets>,
    /// Whether the SLO is met by the mean attainment (every workload's, for the total).
    pub slo_met: Option<bool>,
    /// Share of replications in which the SLO was met.
    pub slo_met_share: Option<f64>,
    pub stability: Stability,
}

/// Whether a scope kept up with what it was offered, over replications.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stability {
    /// In every replication, what was left at the horizon drained within a tenth of the
    /// window ([`sim::Backlog::OVERLOAD_SHARE`]); otherwise more was offered than the fleet
    /// serves, and its percentiles grow with the length of the run.
    pub stable: bool,
    /// Requests offered per second of the window, mean.
    pub offered_per_s: f64,
    /// Requests in the fleet when arrivals stopped (or where the run stopped), mean.
    pub backlog_at_end: f64,
    /// Seconds to serve them, mean (see [`sim::Backlog::drain_s`]).
    pub drain_s: f64,
}

impl Stability {
    fn of(runs: &[&Stats]) -> Stability {
        let n = runs.len() as f64;
        Stability {
            stable: runs.iter().all(|s| !s.backlog.overloaded),
            offered_per_s: runs.iter().map(|s| s.backlog.offered_per_s).sum::<f64>() / n,
            backlog_at_end: runs.iter().map(|s| s.backlog.requests).sum::<f64>() / n,
            drain_s: runs.iter().map(|s| s.backlog.drain_s).sum::<f64>() / n,
        }
    }
}

impl ScopeSummary {
    pub fn get(&self, m: Metric) -> Estimate {
        self.values[m.index()]
    }

    fn of(runs: &[&Stats]) -> ScopeSummary {
        let values = std::array::from_fn(|i| {
            Estimate::of(&runs.iter().map(|s| s.values[i]).collect::<Vec<_>>())
        });
        let slo_met_share = runs[0].slo_met.map(|_| {
            runs.iter().filter(|s| s.slo_met == Some(true)).count() as f64 / runs.len() as f64
        });
        let attainment = worst_attainment(&values);
        ScopeSummary {
            values,
            stability: Stability::of(runs),
            latency_bins: mean_bins(runs),
            slo_targets: runs[0].slo_targets,
            slo_met: runs[0].slo_met.map(|_| {
                if runs.len() == 1 {
                    runs[0].slo_met == Some(true)
                } else {
                    // Nothing arrived in any replication: nothing was missed, as for one run.
                    attainment.is_nan() || attainment >= 0.99
                }
            }),
            slo_met_share,
        }
    }

    /// The SLO attainment: the lowest among the targets set (end-to-end p99, TTFT p99, TPOT
    /// p99), as a mean over replications; `NaN` without targets or requests.
    pub fn attainment(&self) -> f64 {
        worst_attainment(&self.values)
    }
}

/// The lowest mean attainment among the targets that have one.
fn worst_attainment(values: &[Estimate; Metric::COUNT]) -> f64 {
    [
        Metric::SloAttainment,
        Metric::SloTtftAttainment,
        Metric::SloTpotAttainment,
    ]
    .into_iter()
    .map(|m| values[m.index()].mean)
    .filter(|x| x.is_finite())
    .fold(f64::NAN, f64::min)
}

/// The result of an experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub replications: u32,
    pub total: ScopeSummary,
    pub workloads: Vec<ScopeSummary>,
    /// Means over replications.
    pub pools: Vec<PoolStats>,
    pub series: Vec<SeriesRow>,
    pub workload_series: Vec<Vec<SeriesRow>>,
    /// Per pool, row-by-row means.
    pub pool_series: Vec<Vec<PoolSeriesRow>>,
    /// Per workload, row by row, the worst replication's interval: where a mean would hide
    /// the hour that one replication missed.
    pub worst_intervals: Vec<Vec<WorstInterval>>,
    /// Events processed, over all replications.
    pub events: u64,
    /// Requests simulated (warm-up included), over all replications.
    pub simulated_requests: u64,
    /// Per workload, the latest time any replication's arrivals ran out before the horizon.
    pub arrivals_ended: Vec<Option<SimTime>>,
    /// An offline run's makespan (the mean over replications), over which its rates are taken.
    pub makespan: Option<SimTime>,
    /// What serving cost an hour and a day, by scope, pool and market.
    pub rates: costing::Rates,
    /// The earliest of the runs that ended before the horizon, if any did: the report covers
    /// only the time simulated.
    pub stopped: Option<sim::Stopped>,
    /// Hours measured, the mean over replications: the window, or less where a run stopped
    /// early (an offline run's makespan).
    pub measured_hours: f64,
}

impl Summary {
    /// Summarises runs of `scenario` (in replication order).
    pub fn of(scenario: &Scenario, seed: u64, runs: &[RunResult]) -> Summary {
        assert!(!runs.is_empty(), "a summary needs at least one run");
        let totals: Vec<&Stats> = runs.iter().map(|r| &r.total).collect();
        let mut workloads: Vec<ScopeSummary> = (0..scenario.workloads().len())
            .map(|w| ScopeSummary::of(&runs.iter().map(|r| &r.workloads[w]).collect::<Vec<_>>()))
            .collect();
        let mut total = ScopeSummary::of(&totals);
        if runs.len() > 1 && total.slo_met.is_some() {
            // The total meets its SLOs when every workload with an SLO does.
            total.slo_met = Some(workloads.iter().all(|w| w.slo_met != Some(false)));
        }
        if scenario.workloads().len() == 1 {
            workloads[0].slo_met = total.slo_met;
        }
        let pools: Vec<PoolStats> = (0..scenario.pools().len())
            .map(|p| mean_pool(&runs.iter().map(|r| &r.pools[p]).collect::<Vec<_>>()))
            .collect();
        let window_hours = runs.iter().map(|r| r.window_hours).sum::<f64>() / runs.len() as f64;
        let rates = costing::Rates::of(&total, &workloads, &pools, window_hours);
        let series = mean_series(&runs.iter().map(|r| r.series.as_slice()).collect::<Vec<_>>());
        // Each workload's series in every run.
        let by_workload: Vec<Vec<&[SeriesRow]>> = (0..scenario.workloads().len())
            .map(|w| {
                runs.iter()
                    .map(|r| r.workload_series[w].as_slice())
                    .collect()
            })
            .collect();
        let workload_series = by_workload.iter().map(|rs| mean_series(rs)).collect();
        let worst_intervals = by_workload.iter().map(|rs| worst_intervals(rs)).collect();
        Summary {
            scenario: scenario.name().clone(),
            worst_intervals,
            seed,
            replications: runs.len() as u32,
            total,
            workloads,
            pools,
            series,
            workload_series,
            pool_series: (0..scenario.pools().len())
                .map(|p| {
                    mean_pool_series(
                        &runs
                            .iter()
                            .map(|r| r.pool_series[p].as_slice())
                            .collect::<Vec<_>>(),
                    )
                })
                .collect(),
            events: runs.iter().map(|r| r.events).sum(),
            simulated_requests: runs.iter().map(|r| r.simulated_requests).sum(),
            arrivals_ended: (0..scenario.workloads().len())
                .map(|w| runs.iter().filter_map(|r| r.arrivals_ended[w]).max())
                .collect(),
            makespan: runs[0].makespan.map(|_| {
                let total: u128 = runs
                    .iter()
                    .map(|r| u128::from(r.makespan.map_or(0, |m| m.0)))
                    .sum();
                SimTime((total / runs.len() as u128) as u64)
            }),
            rates,
            stopped: runs.iter().filter_map(|r| r.stopped).min_by_key(|s| s.at),
            measured_hours: window_hours,
        }
    }
}

/// One interval of a workload at its worst over replications, among those in which requests
/// arrived in it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorstInterval {
    pub t_s: f64,
    /// The highest p99 latency (`NaN` when none completed in any).
    pub p99_ms: f64,
    /// The highest p99 time to first token and time per output token of an LLM workload
    /// (`NaN` otherwise, or when none came out in any).
    pub ttft_p99_ms: f64,
    pub tpot_p99_ms: f64,
    /// The highest share of the interval's arrivals that failed (dropped or timed out); `NaN`
    /// when nothing arrived in any replication.
    pub failed_share: f64,
}

/// Row by row, the worst of the runs' rows (as long as the shortest run's).
fn worst_intervals(runs: &[&[SeriesRow]]) -> Vec<WorstInterval> {
    let rows = runs.iter().map(|r| r.len()).min().unwrap_or(0);
    (0..rows)
        .map(|i| {
            let arrived = runs.iter().map(|r| &r[i]).filter(|row| row.arrivals > 0.0);
            WorstInterval {
                t_s: runs[0][i].t_s,
                p99_ms: arrived.clone().map(|r| r.p99_ms).fold(f64::NAN, f64::max),
                ttft_p99_ms: arrived
                    .clone()
                    .map(|r| r.ttft_p99_ms)
                    .fold(f64::NAN, f64::max),
                tpot_p99_ms: arrived
                    .clone()
                    .map(|r| r.tpot_p99_ms)
                    .fold(f64::NAN, f64::max),
                failed_share: arrived
                    .map(|r| r.failed / r.arrivals)
                    .fold(f64::NAN, f64::max),
            }
        })
        .collect()
}

/// Bin-by-bin means; every run has the same bins.
fn mean_bins(runs: &[&Stats]) -> LatencyBins {
    let n = runs.len() as f64;
    LatencyBins {
        counts: (0..LatencyBins::COUNT)
            .map(|i| runs.iter().map(|s| s.latency_bins.counts[i]).sum::<f64>() / n)
            .collect(),
    }
}

fn mean_pool(ps: &[&PoolStats]) -> PoolStats {
    let m = |f: fn(&PoolStats) -> f64| ps.iter().map(|p| f(p)).sum::<f64>() / ps.len() as f64;
    PoolStats {
        instance_hours: m(|p| p.instance_hours),
        stopped_instance_hours: m(|p| p.stopped_instance_hours),
        replicas_mean: m(|p| p.replicas_mean),
        cold_starts: m(|p| p.cold_starts),
        interruptions: m(|p| p.interruptions),
        under_provisioned_hours: m(|p| p.under_provisioned_hours),
        warm_starts: m(|p| p.warm_starts),
        warm_cost_usd: m(|p| p.warm_cost_usd),
        stops: m(|p| p.stops),
        provisioning_replica_hours: m(|p| p.provisioning_replica_hours),
        provisioning_cost_usd: m(|p| p.provisioning_cost_usd),
        utilization: m(|p| p.utilization),
        output_tokens_per_second_per_replica: m(|p| p.output_tokens_per_second_per_replica),
        output_tokens_per_second_per_gpu: m(|p| p.output_tokens_per_second_per_gpu),
        requests_per_second_per_replica: m(|p| p.requests_per_second_per_replica),
        kv_utilization: m(|p| p.kv_utilization),
        gpu_hours_busy: m(|p| p.gpu_hours_busy),
        gpu_hours_idle: m(|p| p.gpu_hours_idle),
        cost_usd: m(|p| p.cost_usd),
        idle_cost_usd: m(|p| p.idle_cost_usd),
        batch_size_mean: m(|p| p.batch_size_mean),
        batches: m(|p| p.batches),
    }
}

/// Row-by-row means of per-run series, as long as the shortest run's: `build(i, mean)` makes row
/// `i`, where `mean(field)` is the field's mean over the runs, a `NaN` (nothing measured in that
/// interval of that run) left out.
fn mean_rows<T>(
    runs: &[&[T]],
    build: impl Fn(usize, &dyn Fn(fn(&T) -> f64) -> f64) -> T,
) -> Vec<T> {
    let rows = runs.iter().map(|r| r.len()).min().unwrap_or(0);
    (0..rows)
        .map(|i| {
            let mean = |f: fn(&T) -> f64| {
                let xs: Vec<f64> = runs
                    .iter()
                    .map(|r| f(&r[i]))
                    .filter(|x| !x.is_nan())
                    .collect();
                if xs.is_empty() {
                    f64::NAN
                } else {
                    xs.iter().sum::<f64>() / xs.len() as f64
                }
            };
            build(i, &mean)
        })
        .collect()
}

fn mean_series(runs: &[&[SeriesRow]]) -> Vec<SeriesRow> {
    mean_rows(runs, |i, m| SeriesRow {
        t_s: runs[0][i].t_s,
        arrivals: m(|r| r.arrivals),
        completed: m(|r| r.completed),
        failed: m(|r| r.failed),
        p50_ms: m(|r| r.p50_ms),
        p99_ms: m(|r| r.p99_ms),
        ttft_p99_ms: m(|r| r.ttft_p99_ms),
        tpot_p99_ms: m(|r| r.tpot_p99_ms),
        utilization: m(|r| r.utilization),
        replicas: m(|r| r.replicas),
        queue: m(|r| r.queue),
        cost_usd: m(|r| r.cost_usd),
    })
}

fn mean_pool_series(runs: &[&[PoolSeriesRow]]) -> Vec<PoolSeriesRow> {
    mean_rows(runs, |i, m| PoolSeriesRow {
        t_s: runs[0][i].t_s,
        replicas: m(|r| r.replicas),
        utilization: m(|r| r.utilization),
        instance_hours: m(|r| r.instance_hours),
        cost_usd: m(|r| r.cost_usd),
    })
}

/// Simulated progress of the runs of an experiment, for progress bars.
#[derive(Debug)]
pub struct Progress {
    runs: Vec<AtomicU64>,
    horizon_ns: u64,
}

impl Progress {
    pub fn new(scenario: &Scenario, replications: u32) -> Progress {
        Progress {
            runs: (0..replications).map(|_| AtomicU64::new(0)).collect(),
            horizon_ns: scenario.horizon().0 - scenario.start().0,
        }
    }

    /// Fraction of the simulated time done, over all runs.
    pub fn fraction(&self) -> f64 {
        let done: f64 = self
            .runs
            .iter()
            .map(|r| r.load(Ordering::Relaxed) as f64)
            .sum();
        done / (self.horizon_ns as f64 * self.runs.len() as f64)
    }
}

/// Runs `replications` independent replications of `scenario` under master seed `seed`, in
/// parallel on rayon's pool, and returns them in replication order.
pub fn replicate(
    scenario: &Scenario,
    seed: u64,
    replications: u32,
    progress: Option<&Progress>,
) -> Result<Vec<RunResult>, SimError> {
    replicate_cancellable(
        scenario,
        seed,
        replications,
        progress,
        sim::Control::default(),
    )
}

/// As [`replicate`], but every replication gives up with [`SimError::Cancelled`] soon after
/// `cancel` is set (see [`sim::run_cancellable`]). Unset, the runs are those of [`replicate`], in
/// replication order.
pub fn replicate_cancellable(
    scenario: &Scenario,
    seed: u64,
    replications: u32,
    progress: Option<&Progress>,
    control: sim::Control,
) -> Result<Vec<RunResult>, SimError> {
    if scenario.workloads().is_empty() {
        return Err(SimError::NothingToServe);
    }
    run_each(replications as usize, |_| scenario, seed, progress, control)
}

/// One run of `scenario` with exactly `seed` (not a replication's seed), priced: what the
/// validation harnesses and tests that pin a seed run.
pub fn run_seeded(scenario: &Scenario, seed: u64) -> Result<RunResult, SimError> {
    let mut run = sim::run(scenario, seed, None)?;
    costing::price(scenario, &mut run);
    Ok(run)
}

/// Runs each of `slices` once, the `i`th as replication `i` of master seed `seed`, in parallel,
/// and returns them in order (a preview's parts: see [`preview`]).
pub fn run_slices(
    slices: &[Scenario],
    seed: u64,
    progress: Option<&Progress>,
    cancel: &AtomicBool,
) -> Result<Vec<RunResult>, SimError> {
    let control = sim::Control {
        cancel: Some(cancel),
        stop: None,
    };
    run_each(slices.len(), |i| &slices[i], seed, progress, control)
}

/// Runs `n` runs in parallel, the `i`th of `scenario(i)` as replication `i` of master seed
/// `seed`, and returns them in order.
fn run_each<'a>(
    n: usize,
    scenario: impl Fn(usize) -> &'a Scenario + Sync,
    seed: u64,
    progress: Option<&Progress>,
    control: sim::Control,
) -> Result<Vec<RunResult>, SimError> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            let s = scenario(i);
            let mut run = sim::run_controlled(
                s,
                replication_seed(seed, i as u64),
                progress.map(|p| &p.runs[i]),
                control,
            )?;
            costing::price(s, &mut run);
            Ok(run)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Scenario {
        let text = r#"
            version = 1
            seed = 3
            horizon = "1m"
            warmup = "10s"
            interval = "10s"
            [models.m]
            service.T4 = { kind = "exponential", mean = "50ms" }
            [workloads.w]
            model = "m"
            arrival = { kind = "poisson", rate = 30 }
            [pools.p]
            instance_type = "g4dn.xlarge"
            region = "us-east-1"
            replicas = 2
        "#;
        crate::scenario::parse(text, "small.toml", std::path::Path::new("."), &[])
            .expect("valid scenario")
    }

    #[test]
    fn latency_bins_are_means_over_replications() {
        let s = small();
        let runs = replicate(&s, s.seed(), 3, None).expect("runs");
        let summary = Summary::of(&s, s.seed(), &runs);
        let bins = &summary.total.latency_bins;
        assert_eq!(bins.counts.len(), LatencyBins::COUNT);
        for i in 0..LatencyBins::COUNT {
            let mean = runs
                .iter()
                .map(|r| r.total.latency_bins.counts[i])
                .sum::<f64>()
                / 3.0;
            assert!((bins.counts[i] - mean).abs() < 1e-9, "bin {i}");
        }
        let completed = summary.total.get(Metric::Completed).mean;
        assert!((bins.total() - completed).abs() < 1e-9 * completed);
        assert_eq!(summary.workloads[0].latency_bins, *bins);
    }

    #[test]
    fn cancelled_replications_stop_and_uncancelled_ones_match_single_runs() {
        let s = small();
        let set = AtomicBool::new(true);
        let cancel = |flag| sim::Control {
            cancel: Some(flag),
            stop: None,
        };
        let r = replicate_cancellable(&s, s.seed(), 3, None, cancel(&set));
        assert!(matches!(r, Err(SimError::Cancelled)), "{r:?}");
        let unset = AtomicBool::new(false);
        let runs = replicate_cancellable(&s, s.seed(), 3, None, cancel(&unset)).expect("runs");
        assert_eq!(runs.len(), 3);
        for (i, r) in runs.iter().enumerate() {
            let alone = run_seeded(&s, replication_seed(s.seed(), i as u64)).expect("runs");
            assert_eq!(format!("{r:?}"), format!("{alone:?}"), "replication {i}");
        }
    }

    #[test]
    fn t_interval_matches_tables() {
        // Five values, mean 3, sd 1.5811; t(0.975, 4) = 2.7764.
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(e.mean, 3.0);
        let (lo, hi) = e.ci95.unwrap();
        let half = 2.776_445 * (2.5f64 / 5.0).sqrt();
        assert!((hi - 3.0 - half).abs() < 1e-4, "{hi}");
        assert!((3.0 - lo - half).abs() < 1e-4, "{lo}");
        assert_eq!(Estimate::of(&[7.0]).ci95, None);
        assert_eq!(Estimate::of(&[1.0, f64::NAN]).mean, 1.0);
        assert!(Estimate::of(&[f64::NAN, f64::NAN]).mean.is_nan());
    }
}
