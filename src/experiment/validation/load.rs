//! Serving under load against published measurements (`docs/llm-load-validation.csv`).
//!
//! Each row is an end-to-end benchmark of one engine: a closed loop at a fixed concurrency
//! (`vllm bench serve --max-concurrency`), every request at once (offline throughput), or
//! Poisson arrivals, with its model, precision, GPU, tensor parallelism and lengths. headroom
//! runs it as it was run and compares one published figure. Rows marked `calibration` may tune
//! the engines' CPU overheads; `held-out` rows only check them. Dataset prompts (ShareGPT) are
//! drawn from a lognormal of the published mean length and the row's coefficient of variation.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::experiment::{Metric, ScopeSummary};
use crate::scenario::{Edit, Scenario};

/// One published measurement under load.
#[derive(Clone, Debug, Deserialize)]
pub struct LoadRow {
    pub id: String,
    /// `calibration`, `held-out`, or `disputed` (shown, neither fitted nor counted: runs that the
    /// GPU's measured kernels cannot explain, with the evidence in `docs/llm-load-notes.md`).
    pub set: String,
    /// The row of `docs/llm-load-notes.md` it comes from.
    pub source: String,
    pub engine: String,
    pub version: String,
    pub model: String,
    pub weights: String,
    pub kv_cache: String,
    pub gpu: String,
    pub tp: u32,
    /// `closed` (concurrency), `batch` (all at once) or `poisson` (rate).
    pub arrival: String,
    pub load: f64,
    pub requests: u64,
    pub input: f64,
    pub input_cv: f64,
    pub output: f64,
    pub output_cv: f64,
    /// Extra `serving` fields, TOML (`max_seqs = 512, ...`).
    pub serving: String,
    /// `ttft_mean_ms`, `ttft_p50_ms`, `ttft_p99_ms`, `tpot_mean_ms`, `tpot_p50_ms`, `tpot_p99_ms`,
    /// `itl_mean_ms`, `itl_p50_ms`, `itl_p99_ms`, `req_s`, `output_tok_s` or `e2e_p50_ms`; or a
    /// capacity at an SLO, `max_users@ttft_p99=2000,itl_p50=50` (the most users of a closed loop
    /// within every limit, ms).
    pub metric: String,
    pub value: f64,
}

impl LoadRow {
    pub fn is_calibration(&self) -> bool {
        self.set == "calibration"
    }
}

/// The engine's CPU costs, when a fit tries values other than its defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Overheads {
    pub step_s: f64,
    pub sequence_s: f64,
    pub request_s: f64,
    /// Front-end CPU per request, one at a time.
    pub request_cpu_s: f64,
}

/// How a row is timed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Timing {
    /// The engine's kernel tables (the default where measured).
    Kernels,
    /// The roofline, with the engine's scheduler and overheads.
    Roofline,
}

/// Reads the rows.
pub fn load(path: &Path) -> Result<Vec<LoadRow>, String> {
    super::read_rows(path)
}

fn tokens(mean: f64, cv: f64, max: u32) -> String {
    if cv == 0.0 {
        format!("{{ kind = \"fixed\", value = {} }}", mean.round())
    } else {
        format!("{{ kind = \"lognormal\", mean = {mean}, cv = {cv}, min = 4, max = {max} }}")
    }
}

/// The scenario that reruns row `r`.
pub fn scenario_text(r: &LoadRow, timing: Timing, overheads: Option<Overheads>) -> String {
    let arrival = match r.arrival.as_str() {
        "closed" => format!(
            "{{ kind = \"closed\", concurrency = {}, count = {} }}",
            r.load, r.requests
        ),
        "poisson" => format!("{{ kind = \"poisson\", rate = {} }}", r.load),
        _ => format!("{{ kind = \"batch\", count = {} }}", r.requests),
    };
    let horizon = match r.arrival.as_str() {
        "poisson" => format!("{}s", (r.requests as f64 / r.load).ceil()),
        _ => "12h".to_string(),
    };
    // ShareGPT as the benchmarks filter it: prompts to 1,024 tokens, answers to 1,024.
    let (max_in, max_out) = if r.input_cv > 0.0 {
        (1024, 1024)
    } else {
        (r.input.round() as u32, r.output.round() as u32)
    };
    let mut serving = vec![
        "chunked_prefill = true".to_string(),
        format!("max_model_len = {}", max_in + max_out + 1),
        format!(
            "timing = \"{}\"",
            match timing {
                Timing::Kernels => "kernels",
                Timing::Roofline => "roofline",
            }
        ),
    ];
    if !r.serving.trim().is_empty() {
        serving.push(r.serving.trim().to_string());
    }
    if let Some(o) = overheads {
        serving.push(format!(
            "step_overhead = \"{}ns\", sequence_overhead = \"{}ns\", request_overhead = \"{}ns\", request_cpu = \"{}ns\"",
            (o.step_s * 1e9).round(),
            (o.sequence_s * 1e9).round(),
            (o.request_s * 1e9).round(),
            (o.request_cpu_s * 1e9).round()
        ));
    }
    format!(
        r#"version = 1
name = "{id}"
horizon = "{horizon}"
interval = "{horizon}"
[models.m]
architecture = "{model}"
weights = "{weights}"
kv_cache = "{kv}"
engine = "{engine}"
engine_version = "{version}"
serving = {{ {serving} }}
[workloads.w]
model = "m"
arrival = {arrival}
tokens = {{ input = {input}, output = {output} }}
[pools.p]
instance = {{ gpu_model = "{gpu}", gpu_count = {tp}, on_demand_usd_per_hour = 1.0 }}
tensor_parallel = {tp}
replicas = 1
"#,
        id = r.id,
        model = r.model,
        weights = r.weights,
        kv = r.kv_cache,
        engine = r.engine,
        version = r.version,
        serving = serving.join(", "),
        input = tokens(r.input, r.input_cv, max_in),
        output = tokens(r.output, r.output_cv, max_out),
        gpu = r.gpu,
        tp = r.tp,
    )
}

/// The published metrics, by their name in the rows, and what headroom reports for each.
const METRICS: [(&str, Metric); 12] = [
    ("ttft_mean_ms", Metric::TtftMean),
    ("ttft_p50_ms", Metric::TtftP50),
    ("ttft_p99_ms", Metric::TtftP99),
    ("tpot_mean_ms", Metric::TpotMean),
    ("tpot_p50_ms", Metric::TpotP50),
    ("tpot_p99_ms", Metric::TpotP99),
    ("itl_mean_ms", Metric::ItlMean),
    ("itl_p50_ms", Metric::ItlP50),
    ("itl_p99_ms", Metric::ItlP99),
    ("req_s", Metric::Throughput),
    ("output_tok_s", Metric::OutputTokensPerSecond),
    ("e2e_p50_ms", Metric::LatencyP50),
];

/// The published quantity from a run's totals.
pub fn quantity(r: &LoadRow, t: &ScopeSummary) -> Result<f64, String> {
    METRICS
        .iter()
        .find(|(name, _)| *name == r.metric)
        .map(|&(_, m)| t.get(m).mean)
        .ok_or_else(|| format!("{}: unknown metric {:?}", r.id, r.metric))
}

/// The SLO of a capacity row, `max_users@ttft_p99=2000,itl_p50=50`: limits (milliseconds) on
/// the row's metrics (`ttft_p99`, `tpot_p50`, `itl_p50`, ... as the metrics above without
/// `_ms`), all of which must hold.
type Slo = Vec<(String, f64)>;

fn capacity_slo(metric: &str) -> Option<Slo> {
    let spec = metric.strip_prefix("max_users@")?;
    spec.split(',')
        .map(|part| {
            let (k, v) = part.split_once('=')?;
            Some((format!("{k}_ms"), v.parse().ok()?))
        })
        .collect()
}

/// Requests a closed loop of `users` sends, as the source measured it: five per user (at least
/// 50).
fn closed_count(users: u64) -> u64 {
    (5 * users).max(50)
}

/// Whether a closed loop of `users` meets the SLO: `base` (row `r`'s closed loop) with its
/// arrival edited.
fn meets(r: &LoadRow, base: &Scenario, users: u64, slo: &Slo) -> Result<bool, String> {
    let mut arrival = toml::Table::new();
    arrival.insert("kind".into(), "closed".into());
    arrival.insert("concurrency".into(), (users as i64).into());
    arrival.insert("count".into(), (closed_count(users) as i64).into());
    let s = base
        .apply(&[Edit::set("workloads.w.arrival", arrival)])
        .map_err(|e| format!("{}: {e}", r.id))?;
    let t = super::rerun(&r.id, &s, 1)?;
    let mut at = r.clone();
    for (metric, limit) in slo {
        at.metric.clone_from(metric);
        if quantity(&at, &t)? > *limit {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The totals of one run of scenario `text`, rerunning row `r` (seed 1).
fn run(r: &LoadRow, text: &str) -> Result<ScopeSummary, String> {
    super::rerun(&r.id, &super::parse_row(&r.id, text)?, 1)
}

/// Users of a closed loop tried first, as silybench (the source of the capacity rows) sweeps
/// them.
const USERS: [u64; 8] = [1, 4, 16, 32, 64, 128, 256, 512];

/// The most users a closed loop of row `r` can have within `slo`, found as the source finds it:
/// the sweep [`USERS`] up to the first load that misses, then halving the interval between the
/// last load that met the SLO and the first that missed until it spans 4 users or fewer (0 if
/// one user misses it; 512 if every load meets it). The source's own figures have that
/// resolution, and the same search keeps a simulated curve's steps (prompts pack into whole
/// iterations) from being read differently than the measured one.
fn capacity(r: &LoadRow, slo: &Slo, timing: Timing, o: Option<Overheads>) -> Result<f64, String> {
    let mut first = r.clone();
    first.arrival = "closed".into();
    first.load = USERS[0] as f64;
    first.requests = closed_count(USERS[0]);
    let base = super::parse_row(&r.id, &scenario_text(&first, timing, o))?;
    let meets = |users| meets(r, &base, users, slo);
    let mut lo = 0;
    let mut hi = None;
    for users in USERS {
        if meets(users)? {
            lo = users;
        } else {
            hi = Some(users);
            break;
        }
    }
    let Some(mut hi) = hi else {
        return Ok(lo as f64);
    };
    if lo == 0 {
        return Ok(0.0);
    }
    while hi - lo > 4 {
        let mid = (lo + hi) / 2;
        if meets(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo as f64)
}

/// Runs each distinct scenario of `rows` once and predicts every row; `overheads` per engine
/// and version (`vllm 0.11`) replace the defaults where given.
pub fn predict(
    rows: &[LoadRow],
    timing: Timing,
    overheads: &BTreeMap<String, Overheads>,
) -> Result<Vec<f64>, String> {
    let mut runs: BTreeMap<String, ScopeSummary> = BTreeMap::new();
    rows.iter()
        .map(|r| {
            let o = overheads
                .get(&format!("{} {}", r.engine, r.version))
                .copied();
            if let Some(slo) = capacity_slo(&r.metric) {
                return capacity(r, &slo, timing, o);
            }
            let text = scenario_text(r, timing, o);
            if !runs.contains_key(&text) {
                runs.insert(text.clone(), run(r, &text)?);
            }
            quantity(r, &runs[&text])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(arrival: &str, metric: &str) -> LoadRow {
        LoadRow {
            id: "T".into(),
            set: "held-out".into(),
            source: "-".into(),
            engine: "vllm".into(),
            version: "0.11".into(),
            model: "llama-3.1-8b".into(),
            weights: "bf16".into(),
            kv_cache: "bf16".into(),
            gpu: "H100".into(),
            tp: 1,
            arrival: arrival.into(),
            load: 4.0,
            requests: 40,
            input: 500.0,
            input_cv: 0.0,
            output: 100.0,
            output_cv: 0.0,
            serving: String::new(),
            metric: metric.into(),
            value: 1.0,
        }
    }

    #[test]
    fn every_arrival_kind_runs_and_a_closed_loop_keeps_its_concurrency() {
        let rows = [
            row("closed", "output_tok_s"),
            row("batch", "req_s"),
            row("poisson", "ttft_mean_ms"),
        ];
        let p = predict(&rows, Timing::Kernels, &BTreeMap::new()).unwrap();
        assert!(p.iter().all(|x| x.is_finite() && *x > 0.0), "{p:?}");
        // Four in flight, each ~100 tokens at a few ms: far from one GPU's offline throughput.
        assert!(p[0] < 4.0 * 100.0 / 0.5, "{}", p[0]);
    }
}
