//! A shared training cluster over its job stream: the elastic scheduler on the scenario's
//! capacity, its queueing and its GPU-hours, and what it cost.
//!
//! A cluster that shares inference pools gets, at each moment, the GPUs those pools could hold
//! (their maximum replicas) minus those serving holds in the simulated day (mean replicas per row
//! of the time series, rounded up), the day repeating over the trace's span. It pays for those
//! GPUs at the pools' price: an owned or reserved fleet pays for them whether or not training
//! uses them, and a cloud fleet would otherwise have released them.

use rand::SeedableRng;
use rand_distr::{Distribution, Exp, LogNormal};

use crate::pricing::Market;
use crate::scenario::Scenario;
use crate::scenario::training_spec::{ClusterCapacity, ClusterSpec, JobStream};
use crate::training::cluster::ClusterJob;
use crate::training::elastic::{self, Capacity, Elastic, ElasticStats, GpuHours};

use super::Summary;

#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSummary {
    pub stats: ElasticStats,
    pub gpu_hours: GpuHours,
    pub makespan_s: f64,
    pub jobs: usize,
    pub completed: usize,
    /// Compute for the GPUs the cluster had.
    pub cost_usd: f64,
    pub market: Market,
    /// Training GPU-hours completed per provisioned GPU-hour.
    pub goodput: f64,
    /// The most GPUs the cluster had at once.
    pub peak_gpus: u32,
}

impl ClusterSummary {
    pub fn cost_per_job(&self) -> f64 {
        self.cost_usd / self.completed.max(1) as f64
    }
}

/// The job stream: the trace's, or a synthetic one drawn from `seed`.
pub fn jobs(spec: &ClusterSpec, seed: u64) -> Vec<ClusterJob> {
    match &spec.stream {
        JobStream::Trace { jobs, .. } => jobs.as_ref().clone(),
        JobStream::Synthetic {
            jobs,
            mean_interarrival_s,
            median_duration_s,
            duration_sigma,
            gpus,
        } => {
            let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
            let gap = Exp::new(1.0 / mean_interarrival_s).expect("a positive mean");
            let dur = LogNormal::new(median_duration_s.ln(), *duration_sigma)
                .expect("a finite sigma >= 0");
            let total: f64 = gpus.iter().map(|g| g.1).sum();
            let mut t = 0.0;
            (0..*jobs)
                .map(|_| {
                    let mut pick = rand::RngExt::random_range(&mut rng, 0.0..total);
                    let mut g = gpus[gpus.len() - 1].0;
                    for &(n, w) in gpus {
                        if pick < w {
                            g = n;
                            break;
                        }
                        pick -= w;
                    }
                    let job = ClusterJob {
                        submit_s: t,
                        duration_s: dur.sample(&mut rng),
                        gpus: g,
                        priority: 0,
                    };
                    t += gap.sample(&mut rng);
                    job
                })
                .collect()
        }
    }
}

/// GPUs the shared pools leave idle over one simulated day, as capacity steps.
fn shared_steps(
    scenario: &Scenario,
    summary: &Summary,
    pools: &[usize],
    span_s: f64,
) -> Vec<(f64, u32)> {
    let rows = summary.pool_series.first().map_or(0, Vec::len);
    let period = scenario.horizon.as_secs_f64();
    let free_at = |r: usize| -> u32 {
        pools
            .iter()
            .map(|&p| {
                let pool = &scenario.pools[p];
                let serving = summary.pool_series[p][r].replicas.ceil() as u32;
                pool.max_replicas().saturating_sub(serving) * pool.gpus_per_replica
            })
            .sum()
    };
    let mut steps: Vec<(f64, u32)> = Vec::new();
    let mut start = 0.0;
    while start <= span_s {
        for r in 0..rows {
            let t = start + summary.pool_series[pools[0]][r].t_s;
            let g = free_at(r);
            if steps.last().is_none_or(|s| s.1 != g) {
                steps.push((t, g));
            }
        }
        start += period;
    }
    if steps.first().is_none_or(|s| s.0 > 0.0) {
        steps.insert(0, (0.0, 0));
    }
    steps[0].0 = 0.0;
    steps
}

/// Runs the cluster once (its stream is a trace, or drawn once from `seed`).
pub fn summarize(
    spec: &ClusterSpec,
    scenario: &Scenario,
    summary: Option<&Summary>,
    seed: u64,
) -> ClusterSummary {
    let jobs = jobs(spec, seed);
    let span = jobs.last().map_or(0.0, |j| j.submit_s)
        + jobs.iter().map(|j| j.duration_s).fold(0.0, f64::max);
    let capacity = match &spec.capacity {
        ClusterCapacity::Own(c) => c.clone(),
        ClusterCapacity::Shared { pools } => match summary {
            Some(s) => Capacity::Steps(shared_steps(scenario, s, pools, span)),
            None => Capacity::Steps(vec![(0.0, 0)]),
        },
    };
    let elastic = Elastic {
        checkpoint_interval_s: spec.checkpoint_interval_s,
        restart_s: spec.restart_s,
    };
    let schedule = elastic::run(&jobs, &capacity, spec.policy, &elastic);
    let stats = ElasticStats::of(&jobs, &schedule);
    let g = stats.gpu_hours;
    ClusterSummary {
        makespan_s: stats.cluster.makespan_s,
        jobs: jobs.len(),
        completed: schedule.end_s.iter().filter(|e| !e.is_nan()).count(),
        cost_usd: g.provisioned * spec.usd_per_gpu_hour,
        market: spec.market,
        goodput: g.used / g.provisioned,
        peak_gpus: schedule
            .capacity_steps
            .iter()
            .map(|s| s.1)
            .max()
            .unwrap_or(0),
        gpu_hours: g,
        stats,
    }
}
