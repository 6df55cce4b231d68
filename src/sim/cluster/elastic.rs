//! A training cluster whose GPUs come and go: the [`cluster`](super) scheduler's policies on a
//! capacity that changes over time, for two uses.
//!
//! - Sharing with inference ([`Capacity::Steps`]): training gets the GPUs serving leaves idle,
//!   a step function of time. When capacity falls below the GPUs in use, training yields: the
//!   most recently started jobs (ties: the larger job index) are preempted until the rest fit.
//!   A preempted job keeps the progress of its last checkpoint (one every
//!   [`Elastic::checkpoint_interval_s`] of progress), loses the rest, goes back into the queue
//!   at its submission position (its priority position under [`Policy::Priority`]) and pays
//!   [`Elastic::restart_s`] on the GPUs before it makes progress again. Checkpoints themselves
//!   take no time here (`training::checkpoint` prices them).
//! - An autoscaled cluster ([`Capacity::Autoscaled`]): whole nodes, asked for when the head of
//!   the queue cannot start (enough for it, counting nodes already on their way) and usable
//!   `provision_s` later; a node's worth of GPUs free with no job waiting for `idle_release_s`
//!   is given back, down to the minimum. Nothing is preempted.
//!
//! GPUs are a pool (no placement), as in the fixed cluster. A job that needs more GPUs than the
//! cluster will ever have again is dropped, so it cannot block a FIFO queue forever: on arrival
//! (rejected, as in the fixed cluster), or, with steps, when the last step large enough for it
//! has passed (it never starts, or never completes). Backfill reserves for the head what the
//! running jobs and the nodes on their way will free; it does not see future capacity steps, so
//! a step down can still preempt jobs a reservation counted on.
//!
//! Ordering: all events at one time (completions, capacity steps, node arrivals, job arrivals)
//! are applied before the scheduler acts, in one pass: yield, start from the head, ask for
//! nodes, backfill, release idle nodes. With a constant capacity the schedule is the fixed
//! scheduler's, start for start.
//!
//! Time is [`SimTime`] as in the fixed scheduler, so the two can be compared exactly. Seconds
//! in the capacity and the checkpoint settings are rounded to the nanosecond on the way in; a
//! checkpoint interval is at least 1 ns, so every checkpoint is progress.

mod engine;
mod pool;
mod stats;

pub use stats::ElasticStats;

use crate::training::cluster::{ClusterJob, Policy};
use crate::training::elastic::{Capacity, Elastic};
use crate::units::SimTime;

/// One stretch of a job on GPUs, from a start to its completion or preemption.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    pub job: usize,
    pub start: SimTime,
    pub end: SimTime,
    /// Restart overhead paid at the start (0 on the first run).
    pub restart: SimTime,
    /// Progress this run added to the job's kept progress: all of it when the run completes,
    /// up to the last checkpoint when it is preempted.
    pub kept: SimTime,
    pub preempted: bool,
}

/// Where the provisioned GPU-hours went: `used + wasted + idle = provisioned`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GpuHours {
    /// `∫ capacity dt` from the first submission to the last time a job left its GPUs (the last
    /// completion when every job completes). Autoscaled nodes count from when they are asked for.
    pub provisioned: f64,
    /// Progress of the jobs that completed: `Σ duration × gpus` over them.
    pub used: f64,
    /// GPU time that did not become completed progress: work lost to preemption, restart
    /// overhead, and whatever jobs that never completed did.
    pub wasted: f64,
    /// Provisioned GPUs no job held, nodes on their way included.
    pub idle: f64,
}

/// What happened to each job on an elastic cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ElasticSchedule {
    /// When each job first started (`None`: never; it needs more GPUs than the cluster has from
    /// its arrival on, or from some step before it got to start).
    pub first_start: Vec<Option<SimTime>>,
    /// When each job completed (`None`: never; dropped as too large, see the module docs).
    pub end: Vec<Option<SimTime>>,
    pub preemptions: Vec<u32>,
    /// Every stretch on GPUs, in the order they ended.
    pub runs: Vec<Run>,
    pub gpu_hours: GpuHours,
    /// The capacity paid for (nodes on their way included), `(time, gpus)` from the first
    /// submission, each holding until the next, up to the end of the accounting window: a
    /// chart's line, and `∫` of it is `gpu_hours.provisioned`.
    pub capacity_steps: Vec<(SimTime, u32)>,
}

/// Runs `jobs` (sorted by submission) on a cluster of `capacity` under `policy`.
///
/// # Panics
/// If `capacity` or `elastic` fails its `validate`.
pub fn run(
    jobs: &[ClusterJob],
    capacity: &Capacity,
    policy: Policy,
    elastic: &Elastic,
) -> ElasticSchedule {
    if let Err(e) = capacity.validate().and(elastic.validate()) {
        panic!("elastic cluster: {e}");
    }
    engine::Engine::new(jobs, capacity, policy, elastic).run()
}

#[cfg(test)]
mod tests;
