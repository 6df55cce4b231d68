//! Token-level LLM serving physics: model architectures and variants, GPU specifications, and
//! the roofline that turns them into iteration times and KV-cache capacity, or a measured table
//! that replaces the roofline's times for one model on one GPU type.
//!
//! This layer knows nothing of scheduling: the engine's continuous-batching scheduler asks it
//! how long a step takes and how much KV cache a replica holds.

pub mod engine;
pub mod gpu;
pub mod kernels;
pub mod library;
pub mod model;
pub mod ops;
pub mod roofline;
pub mod table;
pub mod timing;

pub use engine::{Admission, Engine, EngineKind, Scheduler};
pub use gpu::{GpuCatalog, GpuSpec};
pub use kernels::KernelTable;
pub use model::{Architecture, Precision, Quality, Variant};
pub use ops::{KernelModel, StepOverhead};
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
    /// The serving engine and version, with its scheduler, admission and CPU overheads (the
    /// ones below may be overridden per model).
    pub engine: Engine,
    pub scheduler: Scheduler,
    pub admission: Admission,
    pub overhead: StepOverhead,
    pub request_overhead_s: f64,
    /// Front-end CPU per request, one request at a time (see [`Engine::request_cpu_s`]).
    pub request_cpu_s: f64,
    /// Time steps with the roofline even where kernel tables exist for the engine and GPU.
    pub force_roofline: bool,
    /// Decode iterations scheduled at once (vLLM's `num_scheduler_steps`, 0.6 to 0.7): prompts
    /// that arrive meanwhile wait for all of them.
    pub scheduler_steps: u32,
    /// Whether the scenario set `max_seqs` and `max_batched_tokens` (else they follow the engine's
    /// defaults for the pool's GPU).
    pub step_limits_given: (bool, bool),
}

impl Settings {
    /// The engine-agnostic defaults (vLLM V1's settings), with `max_model_len` the model's
    /// context.
    pub fn defaults(max_context: u32) -> Settings {
        Settings::for_engine(Engine::GENERIC, max_context)
    }

    /// `engine`'s defaults. Without chunked prefill a prompt runs whole, so the longest one
    /// accepted is the step's token budget (or the context, if shorter).
    pub fn for_engine(engine: Engine, max_context: u32) -> Settings {
        Settings {
            max_seqs: engine.max_seqs,
            max_batched_tokens: engine.max_batched_tokens,
            block_tokens: 16,
            gpu_memory_utilization: 0.9,
            chunked_prefill: engine.chunked_prefill,
            prefix_caching: true,
            max_model_len: if engine.chunked_prefill {
                max_context
            } else {
                max_context.min(engine.max_batched_tokens)
            },
            engine,
            scheduler: engine.scheduler,
            admission: engine.admission,
            overhead: engine.overhead,
            request_overhead_s: engine.request_overhead_s,
            request_cpu_s: engine.request_cpu_s,
            force_roofline: false,
            scheduler_steps: 1,
            step_limits_given: (false, false),
        }
    }

    /// These settings on `gpu`: the engine's larger steps on a large GPU, where the scenario did
    /// not set them.
    pub fn on_gpu(mut self, gpu: &GpuSpec) -> Settings {
        if let Some((seqs, tokens)) = self.engine.large_gpu_batch
            && gpu.memory_gib >= 70.0
            && !gpu.gpu_model.to_ascii_uppercase().starts_with("A100")
        {
            if !self.step_limits_given.0 {
                self.max_seqs = seqs;
            }
            if !self.step_limits_given.1 {
                self.max_batched_tokens = tokens;
            }
        }
        self
    }
}
