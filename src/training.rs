//! Training jobs: how long a step takes on a fleet's GPUs under data, tensor and pipeline
//! parallelism ([`step`]). Checkpointing on spot capacity, cluster queueing (on a fixed or an
//! [`elastic`] capacity) and the training metrics build on it.

pub mod checkpoint;
pub mod cluster;
pub mod elastic;
pub mod step;
pub mod trace;

pub use step::{
    DEFAULT_COMPUTE_EFFICIENCY, DEFAULT_FP8_COMPUTE_EFFICIENCY, Hardware, Job, Parallelism,
    Precision, Shape, StepTime, step_time,
};
