//! Training jobs: how long a step takes on a fleet's GPUs under data, tensor and pipeline
//! parallelism ([`step`]); checkpointing on spot capacity and the Young/Daly interval
//! ([`checkpoint`]); a shared cluster's jobs, policies and capacity ([`cluster`], [`elastic`],
//! [`trace`]). The physics and the data: the cluster's event loops are the sim layer's
//! (`sim::cluster`).

pub mod checkpoint;
pub mod cluster;
pub mod elastic;
pub mod step;
pub mod trace;

pub use step::{
    DEFAULT_COMPUTE_EFFICIENCY, DEFAULT_FP8_COMPUTE_EFFICIENCY, Hardware, Job, Parallelism,
    Precision, Shape, StepTime, step_time,
};
