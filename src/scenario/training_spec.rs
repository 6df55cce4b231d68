//! The `[training]` table, validated: jobs that run on their own instances, and a shared cluster.

use std::sync::Arc;

use crate::fleet::PowerModel;
use crate::pricing::{InstanceType, Market};
use crate::training::checkpoint::{Plan, young_daly};
use crate::training::cluster::{ClusterJob, Policy};
use crate::training::elastic::Capacity;
use crate::training::{Hardware, Job, StepTime};

/// Bytes of checkpoint per parameter under mixed precision with Adam: bf16 weights (2), fp32
/// master weights (4) and the two moments (8). fp32 training keeps weights and moments: 12.
pub const CHECKPOINT_BYTES_PER_PARAM: f64 = 14.0;
pub const CHECKPOINT_BYTES_PER_PARAM_FP32: f64 = 12.0;
/// Aggregate checkpoint write bandwidth when the file does not say, GB/s: a parallel file system
/// or object storage written by many ranks at once.
pub const DEFAULT_WRITE_GB_PER_S: f64 = 5.0;
/// New capacity, the container, and loading the checkpoint, when the file does not say.
pub const DEFAULT_RESTART_S: f64 = 600.0;
/// Most reclaims a job may expect in one run: beyond this it would hardly progress (and each
/// replication would take long to simulate); checkpoint more often or set `max_interruptions`.
pub const MAX_EXPECTED_RECLAIMS: f64 = 100_000.0;

/// The shortest checkpoint interval, seconds of training: a duration in a scenario file must be
/// at least this, and so must a Young/Daly interval (a shorter one needs a checkpoint that
/// writes in well under a millisecond: a typo in `write_gb_per_s` or `size_gb`).
pub const MIN_CHECKPOINT_INTERVAL_S: f64 = 1.0;

/// Replications of each training job when the scenario does not say: a run is a few hundred
/// arithmetic steps, so many are cheap.
pub const DEFAULT_REPLICATIONS: u32 = 200;

#[derive(Clone, Debug, PartialEq)]
pub struct TrainingSpec {
    pub jobs: Vec<TrainingJob>,
    /// Replications of each job.
    pub replications: u32,
    pub cluster: Option<ClusterSpec>,
}

/// One job on its own instances.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingJob {
    pub name: String,
    /// The architecture's name, or "shape" when written out.
    pub model: String,
    pub job: Job,
    pub hardware: Hardware,
    /// The step-time model's answer for this job on this hardware.
    pub step: StepTime,
    /// Optimizer steps the job takes, and the tokens they are.
    pub steps: f64,
    pub tokens: f64,
    pub instance: InstanceType,
    pub instances: u32,
    pub market: Market,
    /// Per instance-hour in the job's market, and on on-demand (the fallback).
    pub usd_per_instance_hour: f64,
    pub on_demand_usd_per_instance_hour: f64,
    /// Reclaims per instance-hour (0 off spot), and where the figure came from.
    pub interruptions_per_hour: f64,
    pub interruptions_source: String,
    pub network_gbps: f64,
    /// What its GPUs draw (a profile's fit, or the spec's TDP), for energy.
    pub power: Option<PowerModel>,
    pub checkpoint: CheckpointSpec,
    /// Times the job runs a day; `None`: once in the bill's period.
    pub runs_per_day: Option<f64>,
}

impl TrainingJob {
    pub fn gpus(&self) -> u32 {
        self.instances * self.instance.gpu_count
    }

    /// Training time with no interruptions and no checkpoints, seconds.
    pub fn work_s(&self) -> f64 {
        self.steps * self.step.total_s()
    }

    /// Mean time between reclaims of any of the job's instances, seconds (infinite off spot).
    pub fn mtbi_s(&self) -> f64 {
        3600.0 / (self.interruptions_per_hour * f64::from(self.instances))
    }

    /// Times the job runs in a bill of `days`.
    pub fn runs_in(&self, days: f64) -> f64 {
        self.runs_per_day.map_or(1.0, |r| r * days)
    }

    /// The interval the job checkpoints at, seconds (infinite for none).
    pub fn interval_s(&self) -> f64 {
        match self.checkpoint.interval {
            Interval::Every(s) => s,
            Interval::None => f64::INFINITY,
            Interval::YoungDaly => young_daly(self.checkpoint.write_s(), self.mtbi_s()),
        }
    }

    /// What [`checkpoint::run`] takes for this job at `interval_s`. A job on spot with no
    /// reclaim rate runs as one that is never reclaimed, at its own price.
    pub fn plan(&self, interval_s: f64) -> Plan {
        let spot = self.interruptions_per_hour > 0.0;
        Plan {
            work_s: self.work_s(),
            interval_s,
            checkpoint_s: self.checkpoint.write_s(),
            restart_s: self.checkpoint.restart_s,
            instances: self.instances,
            gpus_per_instance: self.instance.gpu_count,
            rate_per_hour: self.interruptions_per_hour,
            spot_usd_per_instance_hour: self.usd_per_instance_hour,
            on_demand_usd_per_instance_hour: if spot {
                self.on_demand_usd_per_instance_hour
            } else {
                self.usd_per_instance_hour
            },
            max_interruptions: self.checkpoint.max_interruptions,
            deadline_s: self.checkpoint.deadline_s,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointSpec {
    pub size_gb: f64,
    pub write_gb_per_s: f64,
    pub interval: Interval,
    pub restart_s: f64,
    pub max_interruptions: u32,
    /// Fall back to on-demand after this time, seconds (infinite: never).
    pub deadline_s: f64,
}

impl CheckpointSpec {
    /// Seconds to write one checkpoint (training pauses).
    pub fn write_s(&self) -> f64 {
        self.size_gb / self.write_gb_per_s
    }
}

/// How often a job checkpoints.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Interval {
    /// Every this many seconds of training.
    Every(f64),
    /// The Young/Daly interval for the job's checkpoint cost and reclaim rate.
    YoungDaly,
    None,
}

/// A shared training cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSpec {
    pub stream: JobStream,
    pub capacity: ClusterCapacity,
    pub policy: Policy,
    /// The cluster's own instances; `None` when it shares serving's.
    pub instance: Option<InstanceType>,
    pub market: Market,
    /// The cluster's GPUs' price: its instances', or the shared pools' (GPU-weighted).
    pub usd_per_gpu_hour: f64,
    /// What its GPUs draw: its instances', or the first shared pool's.
    pub power: Option<PowerModel>,
    /// How often jobs checkpoint, for the work a preemption loses; and their restart overhead.
    pub checkpoint_interval_s: f64,
    pub restart_s: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum JobStream {
    /// A trace's jobs (read at validation), with the path as written.
    Trace {
        path: String,
        jobs: Arc<Vec<ClusterJob>>,
    },
    /// Poisson arrivals, lognormal durations, GPU counts by weight; drawn once from the seed.
    Synthetic {
        jobs: u32,
        mean_interarrival_s: f64,
        median_duration_s: f64,
        duration_sigma: f64,
        gpus: Vec<(u32, f64)>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum ClusterCapacity {
    /// The cluster's own GPUs: a fixed count (one step) or autoscaled nodes.
    Own(Capacity),
    /// What these inference pools leave idle (indices into the scenario's pools).
    Shared { pools: Vec<usize> },
}
