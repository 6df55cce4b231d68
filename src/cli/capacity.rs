//! `headroom capacity`: the highest request rate each pool serves within its workload's SLO.

use std::fmt::Write as _;

use rayon::prelude::*;
use serde_json::json;

use super::{CapacityArgs, Outcome, ReportFormat};
use crate::fleet::Serving;
use crate::optimize::capacity::of_pool;
use crate::report::format::{span, usd};
use crate::scenario::{CapacitySpec, Scenario};

/// One pool's result.
struct Row {
    pool: usize,
    rate: f64,
}

pub(super) fn run(args: CapacityArgs) -> anyhow::Result<Outcome> {
    let workers = super::worker_pool(args.threads)?;
    let scenario = crate::scenario::load(&args.file, &args.set)?;
    if args.horizon < crate::units::SimTime::from_secs(60) {
        anyhow::bail!(
            "--horizon must be at least 1m (a trial needs requests to judge), got {}",
            span(args.horizon)
        );
    }
    if !(args.tolerance > 0.0 && args.tolerance < 1.0) {
        anyhow::bail!(
            "--tolerance is a fraction in (0, 1), got {}",
            args.tolerance
        );
    }
    let pools = chosen_pools(&scenario, &args.pools)?;
    let spec = CapacitySpec {
        replications: args.replications,
        horizon: args.horizon,
        pool_sizes: vec![args.replicas],
        tolerance: args.tolerance,
    };
    let rates = workers.install(|| {
        pools
            .par_iter()
            .map(|&p| of_pool(&scenario, p, args.replicas, &spec))
            .collect::<Result<Vec<f64>, _>>()
    })?;
    let rows: Vec<Row> = pools
        .iter()
        .zip(rates)
        .map(|(&pool, rate)| Row { pool, rate })
        .collect();
    let text = match args.format {
        ReportFormat::Table => table(&scenario, &spec, &rows),
        ReportFormat::Json => {
            serde_json::to_string_pretty(&json_report(&scenario, &spec, &rows))? + "\n"
        }
    };
    print!("{text}");
    Ok(Outcome::Ok)
}

/// The pools to measure: those named (every one by default), each serving a workload with an
/// SLO.
fn chosen_pools(s: &Scenario, names: &[String]) -> anyhow::Result<Vec<usize>> {
    let mut out = Vec::new();
    for name in names {
        match s.pools().iter().position(|p| &p.name == name) {
            Some(i) => out.push(i),
            None => anyhow::bail!(
                "no pool named {name:?}; pools: {}",
                s.pools()
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    if names.is_empty() {
        out = (0..s.pools().len()).collect();
    }
    if out.is_empty() {
        anyhow::bail!("the scenario has no pools to measure");
    }
    for &p in &out {
        let w = &s.workloads()[s.pools()[p].workload];
        let slo = w.slo.unwrap_or_default();
        if slo.p99.is_none() && slo.ttft_p99.is_none() && slo.tpot_p99.is_none() {
            anyhow::bail!(
                "workload {:?} (served by pool {:?}) has no SLO: capacity at the SLO needs one, e.g. slo = {{ ttft_p99 = \"2s\", tpot_p99 = \"100ms\" }}",
                w.name,
                s.pools()[p].name
            );
        }
    }
    Ok(out)
}

fn slo_text(s: &Scenario, pool: usize) -> String {
    let w = &s.workloads()[s.pools()[pool].workload];
    let slo = w.slo.unwrap_or_default();
    let mut parts = Vec::new();
    for (name, v) in [
        ("p99", slo.p99),
        ("ttft p99", slo.ttft_p99),
        ("tpot p99", slo.tpot_p99),
    ] {
        if let Some(v) = v {
            parts.push(format!("{name} {}", span(v)));
        }
    }
    format!("{}: {}", w.name, parts.join(", "))
}

fn engine_and_timing(s: &Scenario, pool: usize) -> (String, String) {
    match &s.pools()[pool].serving {
        Serving::Llm(l) => (l.settings.engine.label(), l.timing.clone()),
        Serving::Requests(r) => ("-".into(), r.time.kind().to_string()),
    }
}

/// Dollars per million requests served at `rate` by `replicas` replicas of the pool.
fn usd_per_million(s: &Scenario, pool: usize, replicas: u32, rate: f64) -> f64 {
    let p = &s.pools()[pool];
    let per_hour = f64::from(replicas) * f64::from(p.gpus_per_replica) * p.price_usd_per_gpu_hour();
    per_hour / (rate * 3600.0) * 1e6
}

fn table(s: &Scenario, spec: &CapacitySpec, rows: &[Row]) -> String {
    let n = spec.pool_sizes[0];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} · capacity at the SLO of {n} replica{} per pool · {} replication{} of {} per trial, within {:.0} %",
        s.name(),
        if n == 1 { "" } else { "s" },
        spec.replications,
        if spec.replications == 1 { "" } else { "s" },
        span(spec.horizon),
        spec.tolerance * 100.0
    );
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<14} {:>9} {:>9} {:>11}  {:<20} SLO",
        "POOL", "REQ/S", "PER GPU", "$/1M REQ", "ENGINE"
    );
    for r in rows {
        let p = &s.pools()[r.pool];
        let gpus = f64::from(n * p.gpus_per_replica);
        let (engine, _) = engine_and_timing(s, r.pool);
        let _ = writeln!(
            out,
            "{:<14} {:>9.2} {:>9.2} {:>11}  {:<20} {}",
            p.name,
            r.rate,
            r.rate / gpus,
            if r.rate > 0.0 {
                usd(usd_per_million(s, r.pool, n, r.rate))
            } else {
                "-".into()
            },
            engine,
            slo_text(s, r.pool)
        );
    }
    out.push('\n');
    for r in rows {
        let (_, timing) = engine_and_timing(s, r.pool);
        let _ = writeln!(out, "{:<14} timed by {timing}", s.pools()[r.pool].name);
    }
    out
}

fn json_report(s: &Scenario, spec: &CapacitySpec, rows: &[Row]) -> serde_json::Value {
    let n = spec.pool_sizes[0];
    json!({
        "scenario": s.name(),
        "replicas": n,
        "replications": spec.replications,
        "trial_horizon_s": spec.horizon.as_secs_f64(),
        "tolerance": spec.tolerance,
        "pools": rows.iter().map(|r| {
            let p = &s.pools()[r.pool];
            let (engine, timing) = engine_and_timing(s, r.pool);
            json!({
                "pool": p.name,
                "workload": s.workloads()[p.workload].name,
                "engine": engine,
                "timing": timing,
                "capacity_rps": r.rate,
                "capacity_rps_per_gpu": r.rate / f64::from(n * p.gpus_per_replica),
                "usd_per_1m_requests": (r.rate > 0.0).then(|| usd_per_million(s, r.pool, n, r.rate)),
            })
        }).collect::<Vec<_>>(),
    })
}
