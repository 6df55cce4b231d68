//! The LLM roofline against published measurements: the held-out half of
//! `docs/llm-measurements.csv` must stay within a 15 % median error with the default efficiency
//! factors (fitted on the calibration half only).

use headroom::experiment::validation;
use headroom::llm::DEFAULT_EFFICIENCY;

use crate::support::root;

#[test]
fn held_out_measurements_within_15_percent() {
    let rows = validation::load(&root().join("docs/llm-measurements.csv")).unwrap();
    let calibration = rows.iter().filter(|m| m.is_calibration()).count();
    assert!(rows.len() >= 8, "at least four measurements on each side");
    assert!(
        calibration * 2 <= rows.len(),
        "calibration uses at most half"
    );
    let mut report = String::new();
    let mut held_out = Vec::new();
    for m in &rows {
        let p = validation::predict(m, &DEFAULT_EFFICIENCY).unwrap();
        let e = validation::error(p, m.value);
        report.push_str(&format!(
            "{} {} {}: published {} headroom {:.1} ({:+.1}%)\n",
            m.id,
            m.set,
            m.metric,
            m.value,
            p,
            e * 100.0
        ));
        if !m.is_calibration() {
            held_out.push(e);
        }
    }
    let median = validation::median_abs(&held_out);
    assert!(
        median < 0.15,
        "held-out median |error| {:.1}%\n{report}",
        median * 100.0
    );
}

/// Every shipped iteration table loads, and a pool of its GPU and tensor-parallel degree is
/// timed by it.
#[test]
fn shipped_tables_load_and_apply() {
    let dir = crate::support::root().join("profiles");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let t = headroom::llm::IterationTable::from_path(&path, "t").unwrap();
        let s = crate::support::parse(&format!(
            r#"version = 1
horizon = "1m"
[models.m]
architecture = "{arch}"
weights = "{w}"
kv_cache = "{kv}"
serving = {{ max_model_len = 4096 }}
iteration_tables = [{path:?}]
[workloads.w]
model = "m"
arrival = {{ kind = "poisson", rate = 1 }}
tokens = {{ input = {{ kind = "fixed", value = 100 }}, output = {{ kind = "fixed", value = 10 }} }}
[pools.p]
instance = {{ gpu_model = "{gpu}", gpu_count = {tp}, on_demand_usd_per_hour = 1.0 }}
tensor_parallel = {tp}
replicas = 1
"#,
            arch = t.architecture,
            w = t.weights.as_str(),
            kv = t.kv_cache.as_str(),
            gpu = t.gpu,
            tp = t.tp,
            path = path.display().to_string(),
        ));
        let headroom::fleet::Serving::Llm(l) = &s.pools()[0].serving else {
            panic!("an LLM pool")
        };
        assert!(l.table.is_some(), "{}", path.display());
        n += 1;
    }
    assert!(n >= 1);
}

/// Serving under load, decode-bound: at a concurrency of 1 to 8 on one H100, each engine's time
/// per output token timed by its measured kernels and fitted CPU time stays within 8 % of the
/// published figure (`docs/llm-load-validation.csv`; today within 4 %). A guard against
/// regressions in the kernel tables, the step composition and the engines' overheads.
#[test]
fn decode_under_load_within_8_percent_of_published() {
    use headroom::experiment::validation::load::{self, Timing};
    let rows: Vec<_> = load::load(&root().join("docs/llm-load-validation.csv"))
        .unwrap()
        .into_iter()
        .filter(|r| r.arrival == "closed" && r.metric == "tpot_mean_ms" && r.weights == "bf16")
        .collect();
    assert!(
        rows.len() >= 6,
        "vLLM at four loads, SGLang and TensorRT-LLM"
    );
    let predicted = load::predict(&rows, Timing::Kernels, &Default::default()).unwrap();
    for (r, p) in rows.iter().zip(&predicted) {
        let e = validation::error(*p, r.value);
        assert!(
            e.abs() < 0.08,
            "{} {} {} at {} in flight: published {} ms, headroom {p:.2} ms ({:+.1}%)",
            r.id,
            r.engine,
            r.version,
            r.load,
            r.value,
            e * 100.0
        );
    }
}

/// Serving under load, the issue's targets on the held-out rows (`docs/llm-load-validation.csv`,
/// timed by the engines' kernels with their fitted CPU costs): median |error| of TTFT,
/// TPOT and ITL means and medians within 15 %, of p99s within 25 %, of offline throughput and of
/// capacity at the SLO within 5 % (today 12.9, 22.1, 4.6 and 2.1 %). Disputed rows are not
/// counted.
#[test]
fn held_out_rows_under_load_meet_the_latency_targets() {
    use headroom::experiment::validation::load::{self, Timing};
    let rows: Vec<_> = load::load(&root().join("docs/llm-load-validation.csv"))
        .unwrap()
        .into_iter()
        .filter(|r| r.set == "held-out")
        .collect();
    assert!(rows.len() >= 40, "{} held-out rows", rows.len());
    let predicted = load::predict(&rows, Timing::Kernels, &Default::default()).unwrap();
    let median = |keep: &dyn Fn(&load::LoadRow) -> bool| {
        let e: Vec<f64> = rows
            .iter()
            .zip(&predicted)
            .filter(|(r, _)| keep(r))
            .map(|(r, p)| validation::error(*p, r.value))
            .collect();
        assert!(e.len() >= 5, "too few rows");
        validation::median_abs(&e)
    };
    let means = median(&|r| r.metric.ends_with("_ms") && !r.metric.contains("_p99_"));
    let p99 = median(&|r| r.metric.contains("_p99_"));
    let offline = median(&|r| !r.metric.ends_with("_ms") && r.arrival == "batch");
    let capacity = median(&|r| r.metric.starts_with("max_users@"));
    assert!(means <= 0.15, "TTFT/TPOT/ITL means and medians: {means}");
    assert!(capacity <= 0.05, "capacity at the SLO: {capacity}");
    assert!(p99 <= 0.25, "p99s: {p99}");
    assert!(offline <= 0.05, "offline throughput: {offline}");
}
