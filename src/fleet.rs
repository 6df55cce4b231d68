//! The fleet: pools of replicas on one instance type and market, and how long a replica takes to
//! serve a batch of requests.
//!
//! A replica is one model server on `gpus_per_replica` GPUs; a pool's replicas are packed onto
//! whole instances, and the instances are what the bill counts.

pub mod interruptions;
pub mod power;
pub mod provisioning;
pub mod scaling;
pub mod service;

use std::sync::Arc;

use crate::llm::{IterationTable, KernelModel, MemoryPlan, Roofline, Settings};
use crate::pricing::{InstanceType, Market};
use crate::units::SimTime;

pub use interruptions::{Correlated, Interruptions, Replacement};
pub use power::{EnergySpec, PowerModel, PowerSource};
pub use provisioning::{Provisioning, WarmPool, WarmState, WeightSource};
pub use scaling::{
    QueueMetric, Scaling, ScalingPolicy, StepScaling, TargetTracking, TrackedMetric,
};
pub use service::ServiceSampler;

/// The time one batch takes on one replica, as a function of the batch.
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceTime {
    /// Exponentially distributed with this mean (the M in M/M/c).
    Exponential { mean: SimTime },
    /// Always exactly this long.
    Deterministic { value: SimTime },
    /// Lognormal with this mean and coefficient of variation (standard deviation / mean).
    Lognormal { mean: SimTime, cv: f64 },
    /// `base + per_item x batch size`: the usual shape of GPU batch inference.
    BatchLinear { base: SimTime, per_item: SimTime },
    /// The service time recorded for each request in its trace, times `scale` (for a GPU faster
    /// or slower than the one the trace was recorded on). A batch takes its longest request.
    Trace { scale: f64 },
}

impl ServiceTime {
    /// Mean time of a batch of `batch` requests; `None` for trace-driven service.
    pub fn mean_batch_time(&self, batch: u32) -> Option<SimTime> {
        match *self {
            ServiceTime::Exponential { mean } | ServiceTime::Lognormal { mean, .. } => Some(mean),
            ServiceTime::Deterministic { value } => Some(value),
            ServiceTime::BatchLinear { base, per_item } => {
                Some(SimTime(base.0 + per_item.0 * u64::from(batch)))
            }
            ServiceTime::Trace { .. } => None,
        }
    }

    /// The name used in scenario files.
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceTime::Exponential { .. } => "exponential",
            ServiceTime::Deterministic { .. } => "deterministic",
            ServiceTime::Lognormal { .. } => "lognormal",
            ServiceTime::BatchLinear { .. } => "batch-linear",
            ServiceTime::Trace { .. } => "trace",
        }
    }
}

/// Dynamic batching: how many queued requests a free replica takes at once, and how long it waits
/// for a fuller batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batching {
    /// At most this many requests per batch (1: no batching).
    pub max_batch: u32,
    /// A free replica with fewer than `max_batch` requests queued starts anyway once the oldest
    /// has waited this long. Zero: it takes what is queued at once.
    pub max_wait: SimTime,
}

impl Batching {
    pub const NONE: Batching = Batching {
        max_batch: 1,
        max_wait: SimTime::ZERO,
    };
}

/// How a replica of one model serves on one GPU type.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceModel {
    pub time: ServiceTime,
    pub batching: Batching,
}

/// How a pool's replicas serve.
#[derive(Clone, Debug, PartialEq)]
pub enum Serving {
    /// Request by request (or in dynamic batches), with a service-time distribution.
    Requests(ServiceModel),
    /// An LLM at token level: continuous batching over a paged KV cache, timed by a roofline or
    /// a measured table.
    Llm(Box<LlmServing>),
}

/// An LLM replica: the model on its GPUs, the engine's settings and how memory divides.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmServing {
    pub roofline: Roofline,
    pub settings: Settings,
    pub memory: MemoryPlan,
    /// Measured iteration times that replace the roofline's (the roofline still plans memory).
    pub table: Option<Arc<IterationTable>>,
    /// Iteration times from measured kernels for the engine on this GPU, when there are some
    /// and no iteration table.
    pub kernels: Option<Arc<KernelModel>>,
    /// What times the iterations, in words (and why, for a fallback to the roofline).
    pub timing: String,
}

impl LlmServing {
    /// KV-cache capacity of one replica, in blocks.
    pub fn kv_blocks(&self) -> u64 {
        self.memory.kv_tokens / u64::from(self.settings.block_tokens)
    }
}

impl Serving {
    /// The dynamic-batching settings of request-level serving (none for an LLM, which batches
    /// continuously).
    pub fn batching(&self) -> Batching {
        match self {
            Serving::Requests(s) => s.batching,
            Serving::Llm(_) => Batching::NONE,
        }
    }

    /// The name of the serving model, for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Serving::Requests(s) => s.time.kind(),
            Serving::Llm(_) => "llm",
        }
    }
}

/// A group of identical replicas: one instance type, one market, one workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub name: String,
    /// Index of the workload this pool serves, in `Scenario::workloads`.
    pub workload: usize,
    pub instance: InstanceType,
    pub market: Market,
    pub replicas: u32,
    pub gpus_per_replica: u32,
    /// What one instance costs per hour in this pool's market, discounts applied.
    pub price_usd_per_hour: f64,
    pub serving: Serving,
    /// How the replica count changes; `None`: fixed at `replicas`.
    pub scaling: Option<Scaling>,
    /// Reclaims of spot capacity; `None`: replicas run until the pool lets them go.
    pub interruptions: Option<Interruptions>,
    /// Where the pool stands when several serve one workload: arrivals go to the pool with the
    /// lowest order that has room, and spill over to the next (`u32::MAX`: after all others).
    pub spill_order: u32,
    /// Relative speed of a replica, for least-outstanding dispatch: a replica is picked by its
    /// requests in flight divided by its weight (weighted least-request, as Envoy's), so a
    /// slower GPU in a mixed fleet gets its share rather than an equal count. 1 by default.
    pub weight: f64,
    /// How long a new replica (autoscaling, or replacing a reclaimed one) takes to serve.
    pub provisioning: Provisioning,
    /// What each GPU draws; `None` when neither a profile nor the GPU's spec says.
    pub power: Option<PowerModel>,
}

impl Pool {
    /// How long a new replica takes to serve.
    pub fn provisioning(&self) -> &Provisioning {
        &self.provisioning
    }

    /// Whether the replica count changes during a run: autoscaling, reclaims, or a fallback
    /// pool (no replicas of its own) that runs what its spot pool lacks.
    pub fn varies(&self) -> bool {
        self.scaling.is_some() || self.interruptions.is_some() || self.replicas == 0
    }

    /// The most replicas the pool can have at once.
    pub fn max_replicas(&self) -> u32 {
        self.scaling
            .as_ref()
            .map_or(self.replicas, |s| s.max.max(self.replicas))
    }

    /// Whole instances needed to host the replicas.
    pub fn instances(&self) -> u32 {
        instances_for(
            self.replicas,
            self.gpus_per_replica,
            self.instance.gpu_count,
        )
    }

    /// Price of one GPU-hour in this pool (instance price spread over its GPUs).
    pub fn price_usd_per_gpu_hour(&self) -> f64 {
        self.price_usd_per_hour / f64::from(self.instance.gpu_count)
    }
}

/// Whole instances of `gpus_per_instance` GPUs that host `replicas` replicas of
/// `gpus_per_replica` GPUs each.
pub fn instances_for(replicas: u32, gpus_per_replica: u32, gpus_per_instance: u32) -> u32 {
    (u64::from(replicas) * u64::from(gpus_per_replica)).div_ceil(u64::from(gpus_per_instance))
        as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_pack_onto_whole_instances() {
        assert_eq!(instances_for(8, 1, 8), 1);
        assert_eq!(instances_for(9, 1, 8), 2);
        assert_eq!(instances_for(3, 8, 8), 3);
        assert_eq!(instances_for(3, 1, 1), 3);
        assert_eq!(instances_for(0, 1, 8), 0);
        assert_eq!(instances_for(2, 16, 8), 4);
    }

    #[test]
    fn batch_linear_mean() {
        let s = ServiceTime::BatchLinear {
            base: SimTime::from_millis(20),
            per_item: SimTime::from_millis(2),
        };
        assert_eq!(s.mean_batch_time(16), Some(SimTime::from_millis(52)));
    }
}
