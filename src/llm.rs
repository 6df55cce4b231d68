//! Token-level LLM serving physics: model architectures and variants, GPU specifications, and
//! the roofline that turns them into iteration times and KV-cache capacity, or a measured table
//! that replaces the roofline's times for one model on one GPU type.
//!
//! This layer knows nothing of scheduling: the engine's continuous-batching scheduler asks it
//! how long a step takes and how much KV cache a replica holds.

pub mod gpu;
pub mod library;
pub mod model;
pub mod roofline;
pub mod table;
pub mod timing;

pub use gpu::{GpuCatalog, GpuSpec};
pub use model::{Architecture, Precision, Quality, Variant};
pub use roofline::{
    DEFAULT_EFFICIENCY, Efficiency, FitError, MemoryPlan, Roofline, Step, StepModel, StepTime,
};
pub use table::IterationTable;
pub use timing::Timing;

/// Serving-engine settings of an LLM deployment (vLLM's names in brackets).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Sequences in one iteration at most (`max_num_seqs`).
    pub max_seqs: u32,
    /// Tokens in one iteration at most (`max_num_batched_tokens`).
    pub max_batched_tokens: u32,
    /// Tokens per KV-cache block (`block_size`).
    pub block_tokens: u32,
    /// Share of each GPU's memory the engine may use (`gpu_memory_utilization`).
    pub gpu_memory_utilization: f64,
    /// Split long prompts over iterations (`enable_chunked_prefill`).
    pub chunked_prefill: bool,
    /// Reuse the KV of shared prompt prefixes (`enable_prefix_caching`).
    pub prefix_caching: bool,
    /// Longest prompt plus output accepted (`max_model_len`).
    pub max_model_len: u32,
}

impl Settings {
    /// vLLM's defaults (V1 engine), with `max_model_len` the model's context.
    pub fn defaults(max_context: u32) -> Settings {
        Settings {
            max_seqs: 256,
            max_batched_tokens: 8192,
            block_tokens: 16,
            gpu_memory_utilization: 0.9,
            chunked_prefill: true,
            prefix_caching: true,
            max_model_len: max_context,
        }
    }
}
