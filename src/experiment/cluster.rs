//! A shared training cluster over its job stream: the elastic scheduler on the scenario's
//! capacity, its queueing and its GPU-hours, and what it cost.
//!
//! A cluster that shares inference pools gets, at each moment, the GPUs those pools could hold
//! (their maximum replicas) minus those serving holds in the simulated day (mean replicas per row
//! of the time series, rounded up), the day repeating over the trace's span. It pays for those
//! GPUs at the pools' price: an owned or reserved fleet pays for them whether or not training
//! uses them, and a cloud fleet would otherwise have released them.

use rand::SeedableRng;
use rand_distr::weighted::WeightedIndex;
use rand_distr::{Distribution, Exp, LogNormal};

use crate::pricing::Market;
use crate::scenario::Scenario;
use crate::scenario::training_spec::{ClusterCapacity, ClusterSpec, JobStream};
use crate::sim::cluster::elastic::{self, ElasticStats};
use crate::training::cluster::ClusterJob;
use crate::training::elastic::{Capacity, Elastic};

use super::Summary;

#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSummary {
    pub stats: ElasticStats,
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
            let pick = WeightedIndex::new(gpus.iter().map(|g| g.1))
                .expect("validated: positive weights with a finite sum");
            let mut t = 0.0;
            (0..*jobs)
                .map(|_| {
                    let g = gpus[pick.sample(&mut rng)].0;
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

/// Most repetitions of the serving day a shared cluster's capacity is laid out for; past them
/// the last step holds.
const MAX_PERIODS: f64 = 2000.0;

/// GPUs the shared pools leave idle over the simulated day, as capacity steps, the day repeated
/// until the jobs could all have run: past the last submission by the jobs' GPU-time over the
/// day's mean idle GPUs, twice over, plus the longest job.
fn shared_steps(
    scenario: &Scenario,
    summary: &Summary,
    pools: &[usize],
    jobs: &[ClusterJob],
) -> Vec<(f64, u32)> {
    let rows = summary.pool_series[pools[0]].len();
    let period = scenario.horizon().as_secs_f64();
    let free_at = |r: usize| -> u32 {
        pools
            .iter()
            .map(|&p| {
                let pool = &scenario.pools()[p];
                let serving = summary.pool_series[p][r].replicas.ceil() as u32;
                pool.max_replicas().saturating_sub(serving) * pool.gpus_per_replica
            })
            .sum()
    };
    let free: Vec<u32> = (0..rows).map(free_at).collect();
    let mean_free = free.iter().map(|&g| f64::from(g)).sum::<f64>() / rows.max(1) as f64;
    let gpu_s: f64 = jobs.iter().map(|j| j.duration_s * f64::from(j.gpus)).sum();
    let longest = jobs.iter().map(|j| j.duration_s).fold(0.0, f64::max);
    let last = jobs.last().map_or(0.0, |j| j.submit_s);
    let end = last + 2.0 * gpu_s / mean_free.max(1e-9) + longest;
    let periods = (end / period).ceil().clamp(1.0, MAX_PERIODS) as usize;
    let mut steps: Vec<(f64, u32)> = vec![(0.0, free.first().copied().unwrap_or(0))];
    for k in 0..periods {
        for (r, &g) in free.iter().enumerate() {
            let t = k as f64 * period + summary.pool_series[pools[0]][r].t_s;
            if steps.last().is_some_and(|s| s.1 != g) && t > steps.last().expect("one").0 {
                steps.push((t, g));
            }
        }
    }
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
    let capacity = match &spec.capacity {
        ClusterCapacity::Own(c) => c.clone(),
        ClusterCapacity::Shared { pools } => match summary {
            Some(s) => Capacity::Steps(shared_steps(scenario, s, pools, &jobs)),
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
        jobs: jobs.len(),
        completed: schedule.end.iter().flatten().count(),
        cost_usd: g.provisioned * spec.usd_per_gpu_hour,
        market: spec.market,
        goodput: g.used / g.provisioned,
        peak_gpus: schedule
            .capacity_steps
            .iter()
            .map(|s| s.1)
            .max()
            .unwrap_or(0),
        stats,
    }
}
