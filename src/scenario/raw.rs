//! The scenario file as written: serde structs that mirror the TOML, with spans kept for the values
//! that validation checks. Nothing here is trusted; `validate` turns it into a [`Scenario`].
//!
//! Numbers that must be positive or integral are read as plain `f64`/`i64` and checked by
//! `validate`, so the messages say what is wrong in the scenario's terms rather than serde's.
//!
//! [`Scenario`]: super::Scenario

use std::collections::BTreeMap;

use crate::scenario::spanned::Spanned;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use crate::units::{SimTime, parse_duration};

pub mod costs;
pub mod training;

/// A duration written with its unit, such as `"250ms"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duration(pub SimTime);

/// In the schema: a string of numbers with units, as `parse_duration` reads it.
impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^\\s*([0-9_.+-]+\\s*(ns|us|µs|ms|s|m|h|d)\\s*)+$",
            "description": "A duration with its unit: \"250ms\", \"1.5s\", \"10m\", \"24h\", \"7d\" (also \"1h30m\"); at most ten years.",
            "examples": ["250ms", "30s", "15m", "24h"]
        })
    }
}

/// The longest duration a scenario may write: ten years. Sums and products of durations (a
/// batch's service time, a horizon plus a drain) then stay far inside the clock's 584 years.
pub const MAX_DURATION: SimTime = SimTime(3650 * 86_400 * 1_000_000_000);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a duration with a unit, such as \"250ms\", \"1.5s\", \"10m\" or \"24h\"",
                )
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Duration, E> {
                let d = parse_duration(s).map_err(E::custom)?;
                if d > MAX_DURATION {
                    return Err(E::custom(format!(
                        "duration {s:?} is longer than ten years ({MAX_DURATION}), the most any duration of a scenario may be"
                    )));
                }
                Ok(Duration(d))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "a duration needs a unit and quotes, e.g. \"{n}s\" or \"{n}ms\""
                )))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Duration, E> {
                self.visit_i64(n as i64)
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "a duration needs a unit and quotes, e.g. \"{n}s\""
                )))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Top-level scalar settings; the `models`, `workloads` and `pools` tables are read entry by entry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Top {
    pub version: Spanned<i64>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub seed: Option<Spanned<i64>>,
    /// Required when the scenario serves workloads.
    pub horizon: Option<Spanned<Duration>>,
    pub warmup: Option<Spanned<Duration>>,
    pub interval: Option<Spanned<Duration>>,
    pub pricing: Option<Pricing>,
    /// Calibrated GPU profiles (files written by `headroom calibrate`).
    pub profiles: Option<Vec<Spanned<String>>>,
    pub energy: Option<Spanned<Energy>>,
    // The named sections are read entry by entry before `Top`; they are listed here so that
    // the message for an unknown top-level key names them too, and the schema describes them.
    /// Models by name: how long a request takes on each GPU, or an LLM's architecture.
    #[schemars(with = "Option<BTreeMap<String, Model>>")]
    pub models: Option<serde::de::IgnoredAny>,
    /// Workloads by name: the traffic, its model and its SLO.
    #[schemars(with = "Option<BTreeMap<String, Workload>>")]
    pub workloads: Option<serde::de::IgnoredAny>,
    /// Pools by name: replicas of an instance type in a region and market.
    #[schemars(with = "Option<BTreeMap<String, Pool>>")]
    pub pools: Option<serde::de::IgnoredAny>,
    /// GPU specifications by name, beside the bundled ones.
    #[schemars(with = "Option<BTreeMap<String, Gpu>>")]
    pub gpus: Option<serde::de::IgnoredAny>,
    pub optimize: Option<Spanned<Optimize>>,
    pub training: Option<Spanned<training::Training>>,
    pub costs: Option<Spanned<costs::Costs>>,
}

/// What `headroom optimize` may choose from and must respect.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Optimize {
    pub workload: Option<Spanned<String>>,
    /// Pool templates (instance type, serving settings) without replicas or market.
    pub candidates: Spanned<std::collections::BTreeMap<Spanned<String>, Spanned<Pool>>>,
    pub markets: Option<Spanned<Vec<Spanned<String>>>>,
    pub peak_percentile: Option<Spanned<f64>>,
    pub headroom: Option<Spanned<f64>>,
    pub spot_share: Option<Spanned<f64>>,
    pub spare_replicas: Option<Spanned<i64>>,
    pub budget_per_day: Option<Spanned<f64>>,
    pub spot_interruptions: Option<bool>,
    pub limits: Option<Vec<Spanned<OptimizeLimit>>>,
    pub capacity: Option<Spanned<OptimizeCapacity>>,
    pub verify: Option<Spanned<OptimizeVerify>>,
}

/// At most `max` replicas of the matching candidates in every period.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizeLimit {
    pub candidate: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub market: Option<Spanned<String>>,
    pub max: Spanned<i64>,
}

/// How capacity at the SLO is measured.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizeCapacity {
    pub replications: Option<Spanned<i64>>,
    pub horizon: Option<Spanned<Duration>>,
    pub pool_sizes: Option<Spanned<Vec<i64>>>,
    pub tolerance: Option<Spanned<f64>>,
}

/// How a plan is verified.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizeVerify {
    pub replications: Option<Spanned<i64>>,
    pub rounds: Option<Spanned<i64>>,
    pub horizon: Option<Spanned<Duration>>,
}

/// A GPU specification written in the scenario: a new GPU, or fields that replace those of a
/// bundled one (measured figures from a calibration, a part the table lacks).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gpu {
    /// The bundled specification to start from (default: the entry's own name, if bundled).
    pub base: Option<Spanned<String>>,
    pub memory_gib: Option<Spanned<f64>>,
    pub memory_bandwidth_gb_per_s: Option<Spanned<f64>>,
    pub dense_bf16_tflops: Option<Spanned<f64>>,
    pub dense_fp8_tflops: Option<Spanned<f64>>,
    pub dense_int8_tops: Option<Spanned<f64>>,
    pub sparse_tensor_cores: Option<bool>,
    pub interconnect_gb_per_s: Option<Spanned<f64>>,
    pub tdp_watts: Option<Spanned<f64>>,
    pub source: Option<String>,
}

/// What energy costs where the fleet is owned.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Energy {
    pub price_per_kwh: Spanned<f64>,
    pub carbon_kg_per_kwh: Option<Spanned<f64>>,
    pub pue: Option<Spanned<f64>>,
    /// The fleet is owned: energy is a line of the bill (cloud prices already include it).
    pub owned: Option<bool>,
}

/// Where the price catalog comes from.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    pub catalog: Option<Spanned<String>>,
    pub reserved_discount: Option<Spanned<f64>>,
}

/// A model: request-level (`service` profiles per GPU) or an LLM served at token level
/// (`architecture` or `shape`, precisions and engine settings).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub description: Option<String>,
    /// Service-time profile per GPU model (the catalog's `gpu_model` names).
    #[serde(default)]
    pub service: BTreeMap<Spanned<String>, Spanned<Service>>,
    /// A bundled architecture by name (`models/NAME.toml`).
    pub architecture: Option<Spanned<String>>,
    /// An architecture written out (the fields of `config.json`).
    pub shape: Option<Spanned<crate::llm::library::RawArchitecture>>,
    pub weights: Option<Spanned<String>>,
    pub kv_cache: Option<Spanned<String>>,
    pub sparsity: Option<Spanned<String>>,
    pub quality: Option<Spanned<Quality>>,
    /// The serving engine (`generic`, `vllm`, `sglang`, `trtllm`) and its version.
    pub engine: Option<Spanned<String>>,
    pub engine_version: Option<Spanned<String>>,
    pub serving: Option<Spanned<LlmSettings>>,
    pub efficiency: Option<Spanned<Efficiency>>,
    /// Measured iteration-time tables (files), each replacing the roofline on one GPU type.
    pub iteration_tables: Option<Vec<Spanned<String>>>,
}

/// A quality figure stated by the user.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quality {
    pub metric: Spanned<String>,
    pub value: Spanned<f64>,
}

/// Serving-engine settings of an LLM (defaults: vLLM's).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmSettings {
    pub max_seqs: Option<Spanned<i64>>,
    pub max_batched_tokens: Option<Spanned<i64>>,
    pub block_tokens: Option<Spanned<i64>>,
    pub gpu_memory_utilization: Option<Spanned<f64>>,
    pub chunked_prefill: Option<bool>,
    pub prefix_caching: Option<bool>,
    pub max_model_len: Option<Spanned<i64>>,
    /// Overrides of the engine's behaviour.
    pub scheduler: Option<Spanned<String>>,
    pub admission: Option<Spanned<String>>,
    pub step_overhead: Option<Spanned<Duration>>,
    pub sequence_overhead: Option<Spanned<Duration>>,
    pub request_overhead: Option<Spanned<Duration>>,
    pub request_cpu: Option<Spanned<Duration>>,
    /// `kernels` (the default where measured) or `roofline`.
    pub timing: Option<Spanned<String>>,
    /// vLLM's multi-step scheduling.
    pub scheduler_steps: Option<Spanned<i64>>,
}

/// Overrides of the roofline's efficiency factors.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Efficiency {
    pub compute: Option<Spanned<f64>>,
    pub compute_8bit: Option<Spanned<f64>>,
    pub memory: Option<Spanned<f64>>,
    pub interconnect: Option<Spanned<f64>>,
    pub allreduce_latency: Option<Spanned<Duration>>,
    pub iteration_overhead: Option<Spanned<Duration>>,
}

/// A service-time model; which fields apply depends on `kind`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub kind: Spanned<String>,
    pub mean: Option<Spanned<Duration>>,
    pub cv: Option<Spanned<f64>>,
    pub base: Option<Spanned<Duration>>,
    pub per_item: Option<Spanned<Duration>>,
    pub scale: Option<Spanned<f64>>,
    pub max_batch: Option<Spanned<i64>>,
    pub max_wait: Option<Spanned<Duration>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub model: Spanned<String>,
    pub arrival: Spanned<Arrival>,
    pub tokens: Option<Spanned<Tokens>>,
    pub dispatch: Option<Dispatch>,
    pub slo: Option<Spanned<Slo>>,
}

/// An arrival process; which fields apply depends on `kind`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Arrival {
    pub kind: Spanned<String>,
    pub rate: Option<Spanned<f64>>,
    pub peak_rate: Option<Spanned<f64>>,
    pub weekend: Option<Spanned<f64>>,
    pub peak_to_trough: Option<Spanned<f64>>,
    pub peak_hour: Option<Spanned<f64>>,
    pub hourly: Option<Spanned<Vec<f64>>>,
    pub calm_rate: Option<Spanned<f64>>,
    pub burst_rate: Option<Spanned<f64>>,
    pub calm_duration: Option<Spanned<Duration>>,
    pub burst_duration: Option<Spanned<Duration>>,
    pub path: Option<Spanned<String>>,
    pub time_column: Option<Spanned<String>>,
    pub time_unit: Option<Spanned<String>>,
    pub time_scale: Option<Spanned<f64>>,
    pub rate_multiplier: Option<Spanned<f64>>,
    pub service_time_column: Option<Spanned<String>>,
    pub service_time_unit: Option<Spanned<String>>,
    pub input_tokens_column: Option<Spanned<String>>,
    pub output_tokens_column: Option<Spanned<String>>,
    pub prefix_column: Option<Spanned<String>>,
    pub prefix_block_tokens: Option<Spanned<i64>>,
    pub count: Option<Spanned<i64>>,
    pub at: Option<Spanned<Duration>>,
    pub concurrency: Option<Spanned<i64>>,
    pub stream: Option<Spanned<String>>,
}

/// Input and output token distributions of a workload.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    pub input: Option<Spanned<TokenDist>>,
    pub output: Option<Spanned<TokenDist>>,
}

/// A token-count distribution; which fields apply depends on `kind`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenDist {
    pub kind: Spanned<String>,
    pub value: Option<Spanned<i64>>,
    pub min: Option<Spanned<i64>>,
    pub max: Option<Spanned<i64>>,
    pub mean: Option<Spanned<f64>>,
    pub cv: Option<Spanned<f64>>,
    pub values: Option<Spanned<Vec<i64>>>,
    pub weights: Option<Spanned<Vec<f64>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dispatch {
    pub policy: Option<Spanned<String>>,
    pub queue_capacity: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<Duration>>,
}

/// Latency objectives: p99 targets of end-to-end latency, time to first token and time per
/// output token.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    pub p99: Option<Spanned<Duration>>,
    pub ttft_p99: Option<Spanned<Duration>>,
    pub tpot_p99: Option<Spanned<Duration>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    pub workload: Option<Spanned<String>>,
    pub instance_type: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub cloud: Option<Spanned<String>>,
    pub instance: Option<Spanned<InlineInstance>>,
    pub market: Option<Spanned<String>>,
    /// Required for a pool; an optimizer candidate has none (the optimizer chooses).
    pub replicas: Option<Spanned<i64>>,
    pub gpus_per_replica: Option<Spanned<i64>>,
    pub tensor_parallel: Option<Spanned<i64>>,
    /// The GPU specification to time an LLM with, when the catalog's `gpu_model` is ambiguous.
    pub gpu: Option<Spanned<String>>,
    pub reserved_discount: Option<Spanned<f64>>,
    pub service: Option<Spanned<Service>>,
    pub autoscale: Option<Spanned<Autoscale>>,
    pub provisioning: Option<Spanned<Provisioning>>,
    pub interruptions: Option<Spanned<Interruptions>>,
    pub spill_order: Option<Spanned<i64>>,
    pub weight: Option<Spanned<f64>>,
}

/// Reclaims of a spot pool's replicas.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Interruptions {
    pub rate_per_hour: Option<Spanned<f64>>,
    pub notice: Option<Spanned<Duration>>,
    pub replacement: Option<Spanned<String>>,
    pub retry_delay: Option<Spanned<Duration>>,
    pub correlated: Option<Spanned<Correlated>>,
}

/// Reclaims that take part of a pool at once.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Correlated {
    pub rate_per_hour: Spanned<f64>,
    pub fraction: Spanned<f64>,
}

/// An autoscaling policy; which fields apply depends on `policy`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Autoscale {
    pub policy: Spanned<String>,
    pub hours: Option<Spanned<Vec<i64>>>,
    pub min: Option<Spanned<i64>>,
    pub max: Option<Spanned<i64>>,
    pub metric: Option<Spanned<String>>,
    pub target: Option<Spanned<f64>>,
    pub interval: Option<Spanned<Duration>>,
    pub window: Option<Spanned<Duration>>,
    pub scale_up_cooldown: Option<Spanned<Duration>>,
    pub scale_down_stabilization: Option<Spanned<Duration>>,
    pub steps: Option<Spanned<Vec<Step>>>,
    pub scale_in: Option<Spanned<ScaleIn>>,
    pub cooldown: Option<Spanned<Duration>>,
}

/// A step of step scaling: at or above `above`, add `add` replicas.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub above: Spanned<f64>,
    pub add: Spanned<i64>,
}

/// Step scaling's way down: below `below`, remove `remove` replicas.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleIn {
    pub below: Spanned<f64>,
    pub remove: Spanned<i64>,
}

/// How long a new replica takes, by stage.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provisioning {
    pub instance_start: Option<Spanned<Duration>>,
    pub container_start: Option<Spanned<Duration>>,
    pub model_load: Option<Spanned<Duration>>,
    pub instance_start_cv: Option<Spanned<f64>>,
    pub weights_gb: Option<Spanned<f64>>,
    pub weights_from: Option<Spanned<String>>,
    pub load_gb_per_s: Option<Spanned<f64>>,
    pub cache_hit_ratio: Option<Spanned<f64>>,
    pub warm_pool: Option<Spanned<WarmPool>>,
}

/// Prepared instances kept for scale-ups.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WarmPool {
    pub size: Spanned<i64>,
    pub state: Option<Spanned<String>>,
}

/// An instance type described in the scenario instead of taken from the catalog.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InlineInstance {
    pub name: Option<String>,
    pub gpu_model: Spanned<String>,
    pub gpu_count: Spanned<i64>,
    pub gpu_memory_gib: Option<f64>,
    pub on_demand_usd_per_hour: Option<Spanned<f64>>,
    pub spot_usd_per_hour: Option<Spanned<f64>>,
}
