//! Token-level LLM serving physics: model architectures and variants, GPU specifications, and
//! the roofline that turns them into iteration times and KV-cache capacity.
//!
//! This layer knows nothing of scheduling: the engine's continuous-batching scheduler asks it
//! how long a step takes and how much KV cache a replica holds.

pub mod gpu;
pub mod library;
pub mod model;
pub mod roofline;

pub use gpu::{GpuCatalog, GpuSpec};
pub use model::{Architecture, Precision, Quality, Variant};
pub use roofline::{DEFAULT_EFFICIENCY, Efficiency, FitError, MemoryPlan, Roofline, Step};
