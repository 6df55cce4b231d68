//! A training cluster whose GPUs come and go: the [`cluster`](super::cluster) scheduler's
//! policies on a capacity that changes over time, for two uses.
//!
//! - Sharing with inference ([`Capacity::Steps`]): training gets the GPUs serving leaves idle,
//!   a step function of time. When capacity falls below the GPUs in use, training yields: the
//!   most recently started jobs (ties: the larger job index) are preempted until the rest fit.
//!   A preempted job keeps the progress of its last checkpoint (one every
//!   [`Elastic::checkpoint_interval_s`] of progress), loses the rest, goes back into the queue
//!   at its submission position (its priority position under [`Policy::Priority`]) and pays
//!   [`Elastic::restart_s`] on the GPUs before it makes progress again. Checkpoints themselves
//!   take no time here (the [`checkpoint`](super::checkpoint) model prices them).
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
//! nodes, backfill, release idle nodes. With a constant capacity the schedule is the fixed scheduler's, start for start.
//! Time is `f64` seconds, as in the fixed scheduler, so the two can be compared exactly.

mod pool;
mod sim;
mod stats;

pub use stats::ElasticStats;

use super::cluster::{ClusterJob, Policy};

/// The GPUs the cluster has over time.
#[derive(Clone, Debug, PartialEq)]
pub enum Capacity {
    /// `(time_s, gpus)` sorted by time, the first at 0 s; each holds until the next, the last
    /// forever.
    Steps(Vec<(f64, u32)>),
    /// Nodes of `gpus_per_node`, between `min_nodes` (held from the start) and `max_nodes`
    /// (held and on their way).
    Autoscaled {
        gpus_per_node: u32,
        min_nodes: u32,
        max_nodes: u32,
        /// From asking for a node to running jobs on it.
        provision_s: f64,
        /// How long a node's worth of GPUs stays free before the node goes back;
        /// `f64::INFINITY` keeps every node.
        idle_release_s: f64,
    },
}

/// How jobs survive being preempted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Elastic {
    /// Progress between checkpoints, seconds; `f64::INFINITY` never checkpoints, so a preempted
    /// job starts over.
    pub checkpoint_interval_s: f64,
    /// GPU time a preempted job spends before it makes progress again (reload, warm-up).
    pub restart_s: f64,
}

/// A capacity or checkpoint setting `run` cannot use.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ElasticError {
    #[error("capacity steps are empty; give at least one, such as (0.0, 64)")]
    NoSteps,
    #[error("capacity step {index} is at {time_s} s; steps start at 0 s and increase strictly")]
    StepTime { index: usize, time_s: f64 },
    #[error("gpus_per_node is 0; a node has at least one GPU")]
    EmptyNode,
    #[error("nodes from {min} to {max}; need min_nodes <= max_nodes and max_nodes >= 1")]
    NodeRange { min: u32, max: u32 },
    #[error("{name} is {value}; it must be {want}")]
    Seconds {
        name: &'static str,
        value: f64,
        want: &'static str,
    },
}

impl Capacity {
    pub fn validate(&self) -> Result<(), ElasticError> {
        match self {
            Capacity::Steps(steps) => {
                if steps.is_empty() {
                    return Err(ElasticError::NoSteps);
                }
                for (index, &(time_s, _)) in steps.iter().enumerate() {
                    let ok = if index == 0 {
                        time_s == 0.0
                    } else {
                        time_s.is_finite() && time_s > steps[index - 1].0
                    };
                    if !ok {
                        return Err(ElasticError::StepTime { index, time_s });
                    }
                }
                Ok(())
            }
            &Capacity::Autoscaled {
                gpus_per_node,
                min_nodes,
                max_nodes,
                provision_s,
                idle_release_s,
            } => {
                if gpus_per_node == 0 {
                    return Err(ElasticError::EmptyNode);
                }
                if min_nodes > max_nodes || max_nodes == 0 {
                    return Err(ElasticError::NodeRange {
                        min: min_nodes,
                        max: max_nodes,
                    });
                }
                seconds("provision_s", provision_s, false)?;
                seconds("idle_release_s", idle_release_s, true)
            }
        }
    }

    /// The most GPUs the cluster can ever have; larger jobs are rejected on arrival.
    pub fn max_gpus(&self) -> u32 {
        match self {
            Capacity::Steps(steps) => steps.iter().map(|s| s.1).max().unwrap_or(0),
            Capacity::Autoscaled {
                gpus_per_node,
                max_nodes,
                ..
            } => gpus_per_node * max_nodes,
        }
    }
}

impl Elastic {
    pub fn validate(&self) -> Result<(), ElasticError> {
        if self.checkpoint_interval_s.is_nan() || self.checkpoint_interval_s <= 0.0 {
            return Err(ElasticError::Seconds {
                name: "checkpoint_interval_s",
                value: self.checkpoint_interval_s,
                want: "> 0 (or infinite for no checkpoints)",
            });
        }
        seconds("restart_s", self.restart_s, false)
    }
}

fn seconds(name: &'static str, value: f64, infinite_ok: bool) -> Result<(), ElasticError> {
    if value >= 0.0 && (infinite_ok || value.is_finite()) {
        Ok(())
    } else {
        Err(ElasticError::Seconds {
            name,
            value,
            want: if infinite_ok {
                ">= 0 (or infinite)"
            } else {
                "finite and >= 0"
            },
        })
    }
}

/// One stretch of a job on GPUs, from a start to its completion or preemption.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    pub job: usize,
    pub start_s: f64,
    pub end_s: f64,
    /// Restart overhead paid at the start (0 on the first run).
    pub restart_s: f64,
    /// Progress this run added to the job's kept progress: all of it when the run completes,
    /// up to the last checkpoint when it is preempted.
    pub kept_s: f64,
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
    /// When each job first started (`NaN`: never; it needs more GPUs than the cluster has from
    /// its arrival on, or from some step before it got to start).
    pub first_start_s: Vec<f64>,
    /// When each job completed (`NaN`: never; dropped as too large, see the module docs).
    pub end_s: Vec<f64>,
    pub preemptions: Vec<u32>,
    /// Every stretch on GPUs, in the order they ended.
    pub runs: Vec<Run>,
    pub gpu_hours: GpuHours,
    /// The capacity paid for (nodes on their way included), `(time_s, gpus)` from the first
    /// submission, each holding until the next, up to the end of the accounting window: a
    /// chart's line, and `∫` of it is `gpu_hours.provisioned`.
    pub capacity_steps: Vec<(f64, u32)>,
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
    sim::Sim::new(jobs, capacity, policy, elastic).run()
}

#[cfg(test)]
mod tests;
