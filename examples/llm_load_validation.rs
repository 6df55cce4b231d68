//! Reruns the published measurements under load in `docs/llm-load-validation.csv`, timed by the
//! engines' measured kernels and by the roofline, and prints the comparison as markdown; with
//! `--fit`, first searches each engine version's CPU overheads (per step, per sequence, per
//! request) that best fit its calibration rows; with `--fit-front`, the per-request front end
//! alone.
//!
//!     cargo run --release --example llm_load_validation [-- --fit | --fit-front]
//!         [--only ENGINE] [--set "sglang 0.3=STEP_MS,SEQUENCE_US,REQUEST_MS[,REQUEST_CPU_MS]"]...
//!
//! `--only sglang` keeps the rows of one engine (or one version: `--only "vllm 0.6"`); `--set`
//! tries given overheads for one engine version without fitting.

use std::collections::BTreeMap;
use std::path::Path;

use headroom::experiment::validation::load::{LoadRow, Overheads, Timing};
use headroom::experiment::validation::{self, load};

fn key(r: &LoadRow) -> String {
    format!("{} {}", r.engine, r.version)
}

/// The run a row comes from: rows of one run share everything but the metric.
fn run(r: &LoadRow) -> String {
    format!(
        "{} {} {} {} {} {} {} {} {} {} {}",
        r.model,
        r.weights,
        r.kv_cache,
        r.gpu,
        r.tp,
        r.arrival,
        r.load,
        r.requests,
        r.input,
        r.output,
        r.serving
    )
}

/// Mean absolute log error of `rows` under `overheads`.
fn score(rows: &[LoadRow], overheads: &BTreeMap<String, Overheads>) -> f64 {
    let p = load::predict(rows, Timing::Kernels, overheads).unwrap_or_else(|e| panic!("{e}"));
    rows.iter()
        .zip(&p)
        .map(|(r, p)| (p / r.value).ln().abs())
        .sum::<f64>()
        / rows.len() as f64
}

/// The engine version's default overheads (what `engine_version` gives without overrides).
fn defaults(k: &str) -> Overheads {
    let (kind, version) = k.split_once(' ').expect("engine version");
    let kind = headroom::llm::EngineKind::parse(kind).expect("a known engine");
    let e = headroom::llm::Engine::find(kind, Some(version)).expect("a known version");
    Overheads {
        step_s: e.overhead.fixed_s,
        sequence_s: e.overhead.per_seq_s,
        request_s: e.request_overhead_s,
        request_cpu_s: e.request_cpu_s,
    }
}

/// With `front_only`, only the per-request front end is searched; the per-step and
/// per-sequence costs keep their defaults.
fn fit(rows: &[LoadRow], front_only: bool) -> BTreeMap<String, Overheads> {
    let mut fitted = BTreeMap::new();
    let mut keys: Vec<String> = rows
        .iter()
        .filter(|r| r.is_calibration())
        .map(key)
        .collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let cal: Vec<LoadRow> = rows
            .iter()
            .filter(|r| r.is_calibration() && key(r) == k)
            .cloned()
            .collect();
        let mut best = (f64::INFINITY, None);
        let d = defaults(&k);
        // What the rows can tell apart: CPU time per step shows directly in the time per output
        // token at low load (not in a queue of every request at once); its growth with
        // sequences needs a second run at another load; the front end's delay a time to first
        // token at low load.
        let low_load =
            |r: &LoadRow, metric: &str| r.arrival != "batch" && r.metric.contains(metric);
        let mut runs: Vec<String> = cal.iter().map(run).collect();
        runs.sort();
        runs.dedup();
        let steps: Vec<f64> = if front_only || !cal.iter().any(|r| low_load(r, "tpot")) {
            vec![d.step_s]
        } else {
            vec![0.0, 0.25e-3, 0.5e-3, 0.75e-3, 1e-3, 1.5e-3, 2e-3, 3e-3]
        };
        let sequences: Vec<f64> = if front_only || runs.len() < 2 {
            vec![d.sequence_s]
        } else {
            vec![0.0, 10e-6, 20e-6, 40e-6, 80e-6, 120e-6, 160e-6]
        };
        let requests: Vec<f64> = if cal.iter().any(|r| low_load(r, "ttft")) {
            vec![0.0, 5e-3, 10e-3, 20e-3, 30e-3, 40e-3, 50e-3, 60e-3, 80e-3]
        } else {
            vec![d.request_s]
        };
        for &step in &steps {
            for &sequence in &sequences {
                for &request in &requests {
                    let o = Overheads {
                        step_s: step,
                        sequence_s: sequence,
                        request_s: request,
                        request_cpu_s: d.request_cpu_s,
                    };
                    let s = score(&cal, &BTreeMap::from([(k.clone(), o)]));
                    if s < best.0 {
                        best = (s, Some(o));
                    }
                }
            }
        }
        let o = best.1.expect("a candidate");
        println!(
            "{k}: step {:.2} ms, per sequence {:.0} us, per request {:.0} ms (mean |log error| {:.3} on {} rows of {} runs)",
            o.step_s * 1e3,
            o.sequence_s * 1e6,
            o.request_s * 1e3,
            best.0,
            cal.len(),
            runs.len()
        );
        fitted.insert(k, o);
    }
    println!();
    fitted
}

/// The values of every `--name VALUE` pair on the command line.
fn values(name: &str) -> Vec<String> {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .filter(|w| w[0] == name)
        .map(|w| w[1].clone())
        .collect()
}

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/llm-load-validation.csv");
    let mut rows = load::load(&path).expect("rows load");
    if let Some(only) = values("--only").first() {
        rows.retain(|r| key(r) == *only || r.engine == *only);
    }
    let mut overheads = if std::env::args().any(|a| a == "--fit") {
        fit(&rows, false)
    } else if std::env::args().any(|a| a == "--fit-front") {
        fit(&rows, true)
    } else {
        BTreeMap::new()
    };
    for set in values("--set") {
        let (k, v) = set
            .split_once('=')
            .expect("--set \"ENGINE VERSION=STEP_MS,SEQUENCE_US,REQUEST_MS[,REQUEST_CPU_MS]\"");
        let v: Vec<f64> = v
            .split(',')
            .map(|x| x.trim().parse().expect("a number"))
            .collect();
        let (step, sequence, request) = match v[..] {
            [a, b, c] | [a, b, c, _] => (a, b, c),
            _ => panic!("--set needs three or four numbers"),
        };
        let cpu = v
            .get(3)
            .map_or_else(|| defaults(k).request_cpu_s, |c| c * 1e-3);
        overheads.insert(
            k.to_string(),
            Overheads {
                step_s: step * 1e-3,
                sequence_s: sequence * 1e-6,
                request_s: request * 1e-3,
                request_cpu_s: cpu,
            },
        );
    }
    let kernels = load::predict(&rows, Timing::Kernels, &overheads).expect("kernels");
    let roofline = load::predict(&rows, Timing::Roofline, &overheads).expect("roofline");
    println!(
        "| id | set | source | engine | model | weights/KV | GPU x TP | load | in/out | metric | published | roofline | error | kernels | error |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for ((r, k), f) in rows.iter().zip(&kernels).zip(&roofline) {
        let load = match r.arrival.as_str() {
            "closed" => format!("{} in flight", r.load),
            "poisson" => format!("{} req/s", r.load),
            _ => format!("{} at once", r.requests),
        };
        let lengths = if r.input_cv > 0.0 {
            format!("~{:.0}/~{:.0}", r.input, r.output)
        } else {
            format!("{}/{}", r.input, r.output)
        };
        println!(
            "| {} | {} | {} | {} {} | {} | {}/{} | {} x {} | {} | {} | {} | {} | {:.1} | {:+.1}% | {:.1} | {:+.1}% |",
            r.id,
            r.set,
            r.source,
            r.engine,
            r.version,
            r.model,
            r.weights,
            r.kv_cache,
            r.gpu,
            r.tp,
            load,
            lengths,
            r.metric,
            r.value,
            f,
            validation::error(*f, r.value) * 100.0,
            k,
            validation::error(*k, r.value) * 100.0
        );
    }
    println!();
    for set in ["calibration", "held-out", "disputed"] {
        for (name, p) in [("roofline", &roofline), ("kernels", &kernels)] {
            for group in [
                "latency means and medians",
                "latency p99",
                "throughput",
                "offline throughput",
                "capacity at the SLO",
                "all",
            ] {
                let e: Vec<f64> = rows
                    .iter()
                    .zip(p.iter())
                    .filter(|(r, _)| r.set == set)
                    .filter(|(r, _)| match group {
                        "latency p99" => r.metric.contains("_p99_"),
                        "latency means and medians" => {
                            r.metric.contains("_ms") && !r.metric.contains("_p99_")
                        }
                        "capacity at the SLO" => r.metric.starts_with("max_users@"),
                        "throughput" => {
                            !r.metric.contains("_ms") && !r.metric.starts_with("max_users@")
                        }
                        "offline throughput" => !r.metric.contains("_ms") && r.arrival == "batch",
                        _ => true,
                    })
                    .map(|(r, p)| validation::error(*p, r.value))
                    .collect();
                if e.is_empty() {
                    continue;
                }
                println!(
                    "{set}, {name}, {group}: {} rows, median |error| {:.1}%, max {:.1}%",
                    e.len(),
                    validation::median_abs(&e) * 100.0,
                    e.iter().fold(0.0f64, |a, x| a.max(x.abs())) * 100.0
                );
            }
        }
    }
}
