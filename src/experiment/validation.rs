//! The LLM roofline against published measurements (`docs/llm-measurements.csv`).
//!
//! Every measurement is a fully specified benchmark (model, precision, GPU, tensor parallelism,
//! batch, prompt and output lengths) that headroom can run as it was run: a static batch of
//! requests arriving together, served with the batch's own sizes. The prediction is compared
//! with the published figure. Rows marked `calibration` may tune the efficiency factors; the
//! `held-out` rows only check them.

pub mod load;

use std::path::Path;

use serde::Deserialize;

use super::run::{self, RunOptions};
use super::{Metric, ScopeSummary};
use crate::llm::Efficiency;
use crate::scenario::{self, Edit};

/// One published measurement.
#[derive(Clone, Debug, Deserialize)]
pub struct Measurement {
    pub id: String,
    /// `calibration` or `held-out`.
    pub set: String,
    pub engine: String,
    pub model: String,
    pub weights: String,
    pub kv_cache: String,
    pub gpu: String,
    pub tp: u32,
    pub batch: u32,
    pub input: u32,
    pub output: u32,
    /// `output_tok_s_per_gpu`, `output_tok_s`, `ttft_ms` or `e2e_ms`.
    pub metric: String,
    pub value: f64,
    pub source: String,
}

impl Measurement {
    pub fn is_calibration(&self) -> bool {
        self.set == "calibration"
    }
}

/// Reads the measurements file.
pub fn load(path: &Path) -> Result<Vec<Measurement>, String> {
    read_rows(path)
}

/// The rows of a published-measurements CSV file.
fn read_rows<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    reader
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The scenario that reruns a measurement: `batch` requests at time zero on one replica, with
/// room for the whole batch in one step, as a static-batch benchmark runs.
pub fn scenario_text(m: &Measurement, e: &Efficiency) -> String {
    scenario_text_with(m, e, None)
}

/// [`scenario_text`], timed by a measured iteration table (an absolute path) when given.
pub fn scenario_text_with(m: &Measurement, e: &Efficiency, table: Option<&Path>) -> String {
    let tables = table.map_or(String::new(), |t| {
        format!("iteration_tables = [{:?}]\n", t.display().to_string())
    });
    let step_tokens = (u64::from(m.batch) * u64::from(m.input)).max(u64::from(m.input + m.output));
    format!(
        r#"version = 1
name = "{id}"
horizon = "2h"
interval = "2h"
[models.m]
architecture = "{model}"
weights = "{weights}"
kv_cache = "{kv}"
serving = {{ max_seqs = {batch}, max_batched_tokens = {step_tokens}, chunked_prefill = false, prefix_caching = false, max_model_len = {len} }}
efficiency = {{ compute = {c}, compute_8bit = {c8}, memory = {mem}, interconnect = {i}, allreduce_latency = "{ar}ns", iteration_overhead = "{ov}ns" }}
{tables}[workloads.w]
model = "m"
arrival = {{ kind = "batch", count = {batch} }}
tokens = {{ input = {{ kind = "fixed", value = {input} }}, output = {{ kind = "fixed", value = {output} }} }}
[pools.p]
instance = {{ gpu_model = "{gpu}", gpu_count = {tp}, on_demand_usd_per_hour = 1.0 }}
tensor_parallel = {tp}
replicas = 1
"#,
        id = m.id,
        model = m.model,
        weights = m.weights,
        kv = m.kv_cache,
        batch = m.batch,
        len = m.input + m.output,
        input = m.input,
        output = m.output,
        gpu = m.gpu,
        tp = m.tp,
        c = e.compute,
        c8 = e.compute_8bit,
        mem = e.memory,
        i = e.interconnect,
        ar = (e.allreduce_latency_s * 1e9).round(),
        ov = (e.iteration_overhead_s * 1e9).round(),
    )
}

/// headroom's prediction of the measured quantity, with efficiency factors `e`.
pub fn predict(m: &Measurement, e: &Efficiency) -> Result<f64, String> {
    predict_with(m, e, None)
}

/// [`predict`], timed by a measured iteration table when given (it must match the row's model,
/// precisions, GPU and tensor parallelism, or the scenario does not validate).
pub fn predict_with(m: &Measurement, e: &Efficiency, table: Option<&Path>) -> Result<f64, String> {
    let s = parse_row(&m.id, &scenario_text_with(m, e, table))?;
    quantity(m, &rerun(&m.id, &s, 0)?)
}

/// The engine family a measurement's engine belongs to, if headroom models it.
pub fn engine_of(m: &Measurement) -> Option<&'static str> {
    let e = m.engine.to_ascii_lowercase();
    if e.starts_with("tensorrt-llm") {
        Some("trtllm")
    } else if e.starts_with("vllm") {
        Some("vllm")
    } else if e.starts_with("sglang") {
        Some("sglang")
    } else {
        None
    }
}

/// [`predict`] under `engine` (its kernel tables and CPU overheads; a static batch has no front
/// end, so no per-request overhead), or with its scheduler on the roofline when `roofline`.
pub fn predict_engine(m: &Measurement, engine: &str, roofline: bool) -> Result<f64, String> {
    let text = scenario_text(m, &crate::llm::DEFAULT_EFFICIENCY);
    let timing = if roofline { "roofline" } else { "kernels" };
    let s = parse_row(&m.id, &text)?
        .apply(&[
            Edit::set("models.m.engine", engine),
            Edit::set("models.m.serving.request_overhead", "0s"),
            Edit::set("models.m.serving.request_cpu", "0s"),
            Edit::set("models.m.serving.timing", timing),
        ])
        .map_err(|err| format!("{}: {err}", m.id))?;
    quantity(m, &rerun(&m.id, &s, 0)?)
}

/// Published row `id`'s scenario, from `text` (named `{id}.toml` in messages).
fn parse_row(id: &str, text: &str) -> Result<scenario::Scenario, String> {
    scenario::parse(text, &format!("{id}.toml"), Path::new("."), &[])
        .map_err(|err| format!("{id}: {err}"))
}

/// One run of row `id`'s scenario, pinned to `seed` as the published reruns are: its totals.
fn rerun(id: &str, s: &scenario::Scenario, seed: u64) -> Result<ScopeSummary, String> {
    let outcome = run::run(s, &RunOptions::pinned(seed)).map_err(|err| format!("{id}: {err}"))?;
    let serving = outcome
        .serving
        .ok_or_else(|| format!("{id}: nothing served"))?;
    Ok(serving.total)
}

/// The measured quantity from a run's totals. All requests arrive at zero, so the slowest one's
/// latency is the batch's duration.
fn quantity(m: &Measurement, t: &ScopeSummary) -> Result<f64, String> {
    let makespan_s = t.get(Metric::LatencyMax).mean / 1e3;
    let tokens = f64::from(m.batch) * f64::from(m.output);
    Ok(match m.metric.as_str() {
        "output_tok_s_per_gpu" => tokens / makespan_s / f64::from(m.tp),
        "output_tok_s" => tokens / makespan_s,
        "ttft_ms" => t.get(Metric::TtftMean).mean,
        "e2e_ms" => makespan_s * 1e3,
        other => return Err(format!("{}: unknown metric {other:?}", m.id)),
    })
}

/// Relative error of a prediction.
pub fn error(predicted: f64, measured: f64) -> f64 {
    (predicted - measured) / measured
}

/// Median of absolute values.
pub fn median_abs(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.iter().map(|x| x.abs()).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
