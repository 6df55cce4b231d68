//! Training jobs over replications: completion time, cost, GPU-hours by use, goodput, and the
//! checkpoint interval checked by simulation.
//!
//! Each replication draws its reclaims from `replication_seed(job seed, i)`; runs are collected in
//! replication order, so results do not depend on the thread count. The interval check runs
//! every candidate interval on the same seeds (common random numbers), so the comparison
//! between intervals is not blurred by different draws.

use rand::SeedableRng;
use rayon::prelude::*;

use crate::pricing::Market;
use crate::rng::replication_seed;
use crate::scenario::Scenario;
use crate::scenario::training_spec::{MAX_EXPECTED_RECLAIMS, TrainingJob};
use crate::training::checkpoint::{self, Outcome, Plan, young_daly};

use super::Summary;
use super::costing::job_run_usd;

/// Replications per interval in the check: enough that a mean is within about 0.1 % of the
/// expectation for the jobs in the examples, still milliseconds of work.
pub const CHECK_REPLICATIONS: u32 = 2000;

/// Multiples of the Young/Daly interval that the check simulates.
pub const INTERVAL_FACTORS: [f64; 9] = [0.125, 0.25, 0.5, 0.707, 1.0, 1.414, 2.0, 4.0, 8.0];

/// Mean and quantiles over replications.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Spread {
    pub fn of(xs: &[f64]) -> Spread {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        Spread {
            mean: v.iter().sum::<f64>() / v.len().max(1) as f64,
            p50: quantile(&v, 0.5),
            p90: quantile(&v, 0.9),
            p99: quantile(&v, 0.99),
        }
    }
}

/// The `p` quantile of sorted `v` (nearest rank, rounding); `NaN` when empty.
pub fn quantile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// GPU-hours of a job by what they did, means over replications. They add up to `paid`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JobGpuHours {
    pub paid: f64,
    /// Training that counted.
    pub useful: f64,
    pub checkpointing: f64,
    /// Training lost to reclaims.
    pub lost: f64,
    /// Waiting for capacity and loading the checkpoint after a reclaim.
    pub restarting: f64,
}

/// One simulated interval of the check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IntervalPoint {
    pub interval_s: f64,
    pub completion_mean_s: f64,
    pub cost_mean_usd: f64,
}

/// What the replications of one job showed.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSummary {
    /// Training time alone (no checkpoints, no reclaims), seconds.
    pub work_s: f64,
    pub tokens_per_s: f64,
    /// Model FLOPs utilization of a step.
    pub mfu: f64,
    pub checkpoint_write_s: f64,
    /// The interval the job ran with (infinite: no checkpoints), and Young/Daly's.
    pub interval_s: f64,
    pub young_daly_s: f64,
    pub mtbi_s: f64,
    pub completion_s: Spread,
    pub cost_usd: Spread,
    pub interruptions_mean: f64,
    /// Share of replications that fell back to on-demand.
    pub fell_back_share: f64,
    /// Share of replications that finished after the deadline (with one).
    pub deadline_missed_share: Option<f64>,
    pub gpu_hours: JobGpuHours,
    /// Mean cost by market (a spot job's fallback is on on-demand), dollars.
    pub cost_by_market_usd: Vec<(Market, f64)>,
    /// The interval check, for jobs that can be reclaimed.
    pub interval_check: Vec<IntervalPoint>,
}

impl JobSummary {
    /// Useful GPU-hours over paid GPU-hours.
    pub fn goodput(&self) -> f64 {
        self.gpu_hours.useful / self.gpu_hours.paid
    }

    /// The checked interval with the least mean completion time.
    pub fn best_interval(&self) -> Option<&IntervalPoint> {
        self.interval_check
            .iter()
            .min_by(|a, b| a.completion_mean_s.total_cmp(&b.completion_mean_s))
    }
}

fn runs(plan: &Plan, seed: u64, replications: u32) -> Vec<Outcome> {
    (0..replications)
        .into_par_iter()
        .map(|i| {
            let mut rng = rand_pcg::Pcg64::seed_from_u64(replication_seed(seed, u64::from(i)));
            checkpoint::run(plan, &mut rng)
        })
        .collect()
}

/// The Young/Daly check of `job`: mean completion and cost at [`INTERVAL_FACTORS`] times its
/// Young/Daly interval, [`CHECK_REPLICATIONS`] runs each from `seed`; empty off spot.
pub fn interval_check(job: &TrainingJob, seed: u64) -> Vec<IntervalPoint> {
    let yd = young_daly(job.checkpoint.write_s(), job.mtbi_s());
    if !(job.interruptions_per_hour > 0.0 && yd.is_finite()) {
        return Vec::new();
    }
    let n = f64::from(CHECK_REPLICATIONS);
    INTERVAL_FACTORS
        .iter()
        .map(|f| job.plan(yd * f))
        // A far longer interval than Young/Daly's on a job reclaimed often hardly
        // progresses: not simulated.
        .filter(|p| checkpoint::expected_reclaims(p) <= MAX_EXPECTED_RECLAIMS)
        .map(|p| {
            let os = runs(&p, seed, CHECK_REPLICATIONS);
            IntervalPoint {
                interval_s: p.interval_s,
                completion_mean_s: os.iter().map(|o| o.completion_s).sum::<f64>() / n,
                cost_mean_usd: os.iter().map(|o| job_run_usd(&p, o)).sum::<f64>() / n,
            }
        })
        .collect()
}

/// Runs `job` `replications` times from `seed`; `interval_check` is its [`interval_check`].
pub fn summarize(
    job: &TrainingJob,
    seed: u64,
    replications: u32,
    interval_check: Vec<IntervalPoint>,
) -> JobSummary {
    let interval = job.interval_s();
    let p = job.plan(interval);
    let outcomes = runs(&p, seed, replications);
    let n = f64::from(replications.max(1));
    let mean = |f: &dyn Fn(&Outcome) -> f64| outcomes.iter().map(f).sum::<f64>() / n;
    let gpus = f64::from(job.gpus());
    let gpu_h = |s: f64| s / 3600.0 * gpus;
    let yd = young_daly(job.checkpoint.write_s(), job.mtbi_s());
    let inst_h = |s: f64| s / 3600.0 * f64::from(job.instances);
    JobSummary {
        work_s: p.work_s,
        tokens_per_s: job.step.tokens_per_s(&job.job),
        mfu: job.step.mfu(job.gpus(), job.hardware.peak_flops),
        checkpoint_write_s: p.checkpoint_s,
        interval_s: interval,
        young_daly_s: yd,
        mtbi_s: job.mtbi_s(),
        completion_s: Spread::of(&outcomes.iter().map(|o| o.completion_s).collect::<Vec<_>>()),
        cost_usd: Spread::of(
            &outcomes
                .iter()
                .map(|o| job_run_usd(&p, o))
                .collect::<Vec<_>>(),
        ),
        interruptions_mean: mean(&|o| f64::from(o.interruptions)),
        fell_back_share: mean(&|o| f64::from(u8::from(o.fell_back))),
        deadline_missed_share: job
            .checkpoint
            .deadline_s
            .is_finite()
            .then(|| mean(&|o| f64::from(u8::from(o.completion_s > job.checkpoint.deadline_s)))),
        gpu_hours: JobGpuHours {
            paid: mean(&|o| gpu_h(o.completion_s)),
            useful: mean(&|o| gpu_h(o.useful_s)),
            checkpointing: mean(&|o| gpu_h(o.checkpoint_s)),
            lost: mean(&|o| gpu_h(o.lost_s)),
            restarting: mean(&|o| gpu_h(o.restart_s)),
        },
        cost_by_market_usd: if job.market == Market::Spot && job.interruptions_per_hour > 0.0 {
            vec![
                (
                    Market::Spot,
                    mean(&|o| inst_h(o.spot_s) * p.spot_usd_per_instance_hour),
                ),
                (
                    Market::OnDemand,
                    mean(&|o| inst_h(o.on_demand_s) * p.on_demand_usd_per_instance_hour),
                ),
            ]
        } else {
            vec![(job.market, mean(&|o| job_run_usd(&p, o)))]
        },
        interval_check,
    }
}

/// Training's part of an experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingSummary {
    pub seed: u64,
    pub replications: u32,
    pub jobs: Vec<JobSummary>,
    pub cluster: Option<super::cluster::ClusterSummary>,
}

/// Keeps the jobs' reclaim draws apart from serving's, which start from the same seed.
const SALT: u64 = 0x7472_6169_6e69_6e67;

/// Runs the scenario's training jobs and cluster; `serving` is the inference summary a shared
/// cluster takes its idle GPUs from.
pub fn run(scenario: &Scenario, seed: u64, serving: Option<&Summary>) -> Option<TrainingSummary> {
    let spec = scenario.training().as_ref()?;
    // Every job sees the same reclaim draws (common random numbers), so jobs that differ in
    // one setting differ in results by that setting alone. Jobs that differ only in their
    // interval have the same check: it is run once for them.
    let mut checks: Vec<(Plan, Vec<IntervalPoint>)> = Vec::new();
    let jobs = spec
        .jobs
        .iter()
        .map(|j| {
            let key = j.plan(0.0);
            let check = match checks.iter().find(|(k, _)| *k == key) {
                Some((_, c)) => c.clone(),
                None => {
                    let c = interval_check(j, seed ^ SALT);
                    checks.push((key, c.clone()));
                    c
                }
            };
            summarize(j, seed ^ SALT, spec.replications, check)
        })
        .collect();
    let cluster = spec
        .cluster
        .as_ref()
        .map(|c| super::cluster::summarize(c, scenario, serving, seed ^ SALT));
    Some(TrainingSummary {
        seed,
        replications: spec.replications,
        jobs,
        cluster,
    })
}

/// `simulate` fails a job's deadline check when more than `1 - DEADLINE_QUANTILE` of its
/// replications finish late: the deadline is met at p90.
pub const DEADLINE_QUANTILE: f64 = 0.9;
