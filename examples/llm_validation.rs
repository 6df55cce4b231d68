//! Reruns the published LLM measurements in `docs/llm-measurements.csv` with headroom, prints
//! the comparison as a markdown table, and (with `--fit`) searches the efficiency factors that
//! best fit the calibration rows.
//!
//!     cargo run --release --example llm_validation [-- --fit]

use std::path::Path;

use headroom::experiment::validation::{self, Measurement};
use headroom::llm::{DEFAULT_EFFICIENCY, Efficiency, IterationTable};

fn errors(rows: &[Measurement], e: &Efficiency) -> Vec<(f64, f64)> {
    rows.iter()
        .map(|m| {
            let p = validation::predict(m, e).unwrap_or_else(|err| panic!("{err}"));
            (p, validation::error(p, m.value))
        })
        .collect()
}

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/llm-measurements.csv");
    let rows = validation::load(&path).expect("measurements load");
    let calibration: Vec<Measurement> = rows
        .iter()
        .filter(|m| m.is_calibration())
        .cloned()
        .collect();
    let mut e = DEFAULT_EFFICIENCY;
    if std::env::args().any(|a| a == "--fit") {
        // Grid search on the calibration rows only: the mean absolute log error.
        let mut best = (f64::INFINITY, e);
        for c in (6..=18).map(|i| f64::from(i) * 0.05) {
            for c8 in (4..=16).map(|i| f64::from(i) * 0.05) {
                for m in (10..=19).map(|i| f64::from(i) * 0.05) {
                    for ov in [0.0, 0.25e-3, 0.5e-3, 1e-3, 1.5e-3, 2e-3, 3e-3, 4e-3] {
                        let cand = Efficiency {
                            compute: c,
                            compute_8bit: c8,
                            memory: m,
                            iteration_overhead_s: ov,
                            ..e
                        };
                        let logs: Vec<f64> = calibration
                            .iter()
                            .map(|r| {
                                let p = validation::predict(r, &cand).unwrap_or(f64::NAN);
                                (p / r.value).ln()
                            })
                            .collect();
                        let score = logs.iter().map(|x| x.abs()).sum::<f64>() / logs.len() as f64;
                        if score < best.0 {
                            best = (score, cand);
                        }
                    }
                }
            }
        }
        e = best.1;
        println!(
            "fitted on {} calibration rows: compute {:.2}, compute_8bit {:.2}, memory {:.2}, iteration overhead {:.2} ms (mean |log error| {:.3})\n",
            calibration.len(),
            e.compute,
            e.compute_8bit,
            e.memory,
            e.iteration_overhead_s * 1e3,
            best.0
        );
    }
    println!(
        "| id | set | engine | model | weights/KV | GPU x TP | batch | in/out | metric | published | headroom | error |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let errs = errors(&rows, &e);
    for (m, (p, err)) in rows.iter().zip(&errs) {
        println!(
            "| {} | {} | {} | {} | {}/{} | {} x {} | {} | {}/{} | {} | {} | {:.1} | {:+.1}% |",
            m.id,
            m.set,
            m.engine,
            m.model,
            m.weights,
            m.kv_cache,
            m.gpu,
            m.tp,
            m.batch,
            m.input,
            m.output,
            m.metric,
            m.value,
            p,
            err * 100.0
        );
    }
    tables(&rows, &e, &errs);
    kernels(&rows, &errs);
    for set in ["calibration", "held-out"] {
        let e: Vec<f64> = rows
            .iter()
            .zip(&errs)
            .filter(|(m, _)| m.set == set)
            .map(|(_, (_, err))| *err)
            .collect();
        println!(
            "\n{set}: {} rows, median |error| {:.1}%, max |error| {:.1}%",
            e.len(),
            validation::median_abs(&e) * 100.0,
            e.iter().fold(0.0f64, |a, x| a.max(x.abs())) * 100.0
        );
    }
}

/// The rows that a measured table in `profiles/` covers, predicted with it beside the roofline.
fn tables(rows: &[Measurement], e: &Efficiency, roofline: &[(f64, f64)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(t) = IterationTable::from_path(&path, &name) else {
            continue;
        };
        let covered: Vec<usize> = (0..rows.len())
            .filter(|&i| {
                let m = &rows[i];
                m.model == t.architecture
                    && m.weights == t.weights.as_str()
                    && m.kv_cache == t.kv_cache.as_str()
                    && m.gpu == t.gpu
                    && m.tp == t.tp
            })
            .collect();
        if covered.is_empty() {
            continue;
        }
        println!("\nTimed by the measured table profiles/{name}:\n");
        println!(
            "| id | engine | batch | in/out | metric | published | roofline | error | table | error |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for i in covered {
            let m = &rows[i];
            let p =
                validation::predict_with(m, e, Some(&path)).unwrap_or_else(|err| panic!("{err}"));
            println!(
                "| {} | {} | {} | {}/{} | {} | {} | {:.1} | {:+.1}% | {:.1} | {:+.1}% |",
                m.id,
                m.engine,
                m.batch,
                m.input,
                m.output,
                m.metric,
                m.value,
                roofline[i].0,
                roofline[i].1 * 100.0,
                p,
                validation::error(p, m.value) * 100.0
            );
        }
    }
}

/// The rows of engines headroom models, timed by that engine's measured kernels (on the GPU's
/// newest measured version) beside the roofline.
fn kernels(rows: &[Measurement], roofline: &[(f64, f64)]) {
    println!("\nTimed by measured kernels of the row's engine (kernels/):\n");
    println!(
        "| id | engine | GPU x TP | batch | in/out | metric | published | roofline | error | kernels | error |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let (mut rf, mut kn) = (Vec::new(), Vec::new());
    for (i, m) in rows.iter().enumerate() {
        let Some(engine) = validation::engine_of(m) else {
            continue;
        };
        let p = match validation::predict_engine(m, engine, false) {
            Ok(p) => p,
            Err(err) => {
                println!(
                    "| {} | {} | {} x {} | - | - | - | - | - | - | {err} | - |",
                    m.id, m.engine, m.gpu, m.tp
                );
                continue;
            }
        };
        let err = validation::error(p, m.value);
        rf.push(roofline[i].1);
        kn.push(err);
        println!(
            "| {} | {} | {} x {} | {} | {}/{} | {} | {} | {:.1} | {:+.1}% | {:.1} | {:+.1}% |",
            m.id,
            m.engine,
            m.gpu,
            m.tp,
            m.batch,
            m.input,
            m.output,
            m.metric,
            m.value,
            roofline[i].0,
            roofline[i].1 * 100.0,
            p,
            err * 100.0
        );
    }
    println!(
        "\n{} rows: roofline median |error| {:.1}%, kernels {:.1}%",
        kn.len(),
        validation::median_abs(&rf) * 100.0,
        validation::median_abs(&kn) * 100.0
    );
}
