//! The JSON report: the machine contract.
//!
//! Shape (all latencies in milliseconds, money in USD, `null` where nothing was measured):
//! `scenario`, `seed`, `replications`, `window`, `requests`, `latency_ms`, `wait_ms`,
//! `utilization`, `gpu_hours`, `cost_usd`, `slo`, `throughput_rps`, `mean_in_system`,
//! `batch_size_mean`, `stability` (whether the fleet kept up: `stable`, `offered_over_capacity`,
//! `backlog_at_end`, `drain_s`), `stopped` (where a run ended early), `workloads` (the same fields per workload, with its time series), `pools`,
//! `timeseries`, `energy` (with an `[energy]` table), `training` (with a `[training]` table),
//! `bill` (with a `[costs]` table), `warnings` (where the scenario has advice: what runs but is
//! likely not what was meant, with its `location` and `message`), and last the `run` block, the only part that changes between runs with one seed.
//! With replications, each headline number `x` has a sibling `x_ci95: [low, high]`.

use serde_json::{Map, Value, json};

mod bill;
mod training;

use super::Report;
use crate::experiment::{Estimate, ScopeSummary, StopReason, Summary};
use crate::fleet::Serving;
use crate::scenario::Scenario;
use crate::sim::{Metric, SeriesRow};

/// The whole report as a JSON value.
pub fn to_value(r: &Report) -> Value {
    let sc = r.scenario;
    let mut root = Map::new();
    root.insert("scenario".into(), json!(sc.name()));
    let seed = r.summary.map(|s| s.seed).or(r.training.map(|t| t.seed));
    root.insert("seed".into(), json!(seed));
    let advice = sc.advice();
    if !advice.is_empty() {
        root.insert(
            "warnings".into(),
            advice
                .iter()
                .map(|a| json!({ "location": a.location, "message": a.message }))
                .collect(),
        );
    }
    if let Some(s) = r.summary {
        serving(&mut root, sc, s);
    }
    if let Some(t) = r.training {
        root.insert("training".into(), training::to_value(sc, t));
    }
    if let Some(b) = r.bill {
        root.insert("bill".into(), bill::to_value(b));
    }
    let (events, requests) = r
        .summary
        .map_or((0, 0), |s| (s.events, s.simulated_requests));
    root.insert(
        "run".into(),
        json!({
            "wall_seconds": r.run.wall_seconds,
            "events": events,
            "events_per_second": events as f64 / r.run.wall_seconds,
            "simulated_requests": requests,
            "requests_per_second": requests as f64 / r.run.wall_seconds,
            "threads": r.run.threads,
        }),
    );
    Value::Object(root)
}

/// Serving's results: the headline metrics, workloads, pools and time series.
fn serving(root: &mut Map<String, Value>, sc: &Scenario, s: &Summary) {
    root.insert("replications".into(), json!(s.replications));
    root.insert(
        "window".into(),
        json!({
            "warmup_s": sc.warmup().as_secs_f64(),
            "horizon_s": sc.horizon().as_secs_f64(),
            "interval_s": sc.interval().as_secs_f64(),
            "offline_makespan_s": s.makespan.map(|m| m.as_secs_f64()),
        }),
    );
    root.insert(
        "stopped".into(),
        s.stopped.map_or(Value::Null, |st| {
            json!({
                "at_s": st.at.as_secs_f64(),
                "reason": match st.reason {
                    StopReason::Interrupted => "interrupted",
                    StopReason::Backlog { .. } => "backlog",
                    StopReason::Overloaded => "overloaded",
                },
                "backlog_limit": match st.reason {
                    StopReason::Backlog { limit } => Some(limit),
                    StopReason::Interrupted | StopReason::Overloaded => None,
                },
            })
        }),
    );
    scope(root, &s.total, sc);
    root.insert("catalog".into(), json!(sc.catalog()));
    if let Some(e) = crate::experiment::energy::energy(sc, s) {
        root.insert(
            "energy".into(),
            json!({
                "kwh": e.kwh,
                "pue": e.spec.pue,
                "price_per_kwh": e.spec.price_per_kwh,
                "cost_usd": e.cost_usd,
                "carbon_kg": e.carbon_kg,
                "wh_per_request": e.wh_per_request,
                "wh_per_1k_output_tokens": e.wh_per_1k_output_tokens,
                "pools_gpu_kwh": sc.pools().iter().zip(&e.pool_gpu_kwh).map(|(p, k)| json!({"pool": p.name, "gpu_kwh": if k.is_finite() { json!(k) } else { json!(null) }})).collect::<Vec<_>>(),
            }),
        );
    }
    let workloads = sc
        .workloads()
        .iter()
        .zip(&s.workloads)
        .zip(&s.workload_series)
        .zip(&s.arrivals_ended)
        .map(|(((w, ws), series), ended)| {
            let mut m = Map::new();
            m.insert("name".into(), json!(w.name));
            m.insert("model".into(), json!(w.model));
            m.insert("arrival".into(), json!(w.arrival.kind()));
            m.insert("dispatch".into(), json!(w.dispatch.policy.as_str()));
            if let Some(v) = llm_variant(sc, &w.name) {
                m.insert("variant".into(), v);
            }
            m.insert(
                "arrivals_ended_s".into(),
                json!(ended.map(|t| t.as_secs_f64())),
            );
            scope(&mut m, ws, sc);
            m.insert("timeseries".into(), timeseries(series));
            Value::Object(m)
        })
        .collect();
    root.insert("workloads".into(), Value::Array(workloads));
    let pools = sc
        .pools()
        .iter()
        .zip(&s.pools)
        .map(|(p, ps)| {
            let mut pool = json!({
                "name": p.name,
                "workload": sc.workloads()[p.workload].name,
                "instance_type": p.instance.name,
                "cloud": p.instance.cloud,
                "region": p.instance.region,
                "gpu_model": p.instance.gpu_model,
                "gpus_per_instance": p.instance.gpu_count,
                "market": p.market.as_str(),
                "replicas": p.replicas,
                "gpus_per_replica": p.gpus_per_replica,
                "instances": p.instances(),
                "price_usd_per_hour": p.price_usd_per_hour,
                "service": p.serving.kind(),
                "max_batch": p.serving.batching().max_batch,
                "utilization": ps.utilization,
                "batch_size_mean": ps.batch_size_mean,
                "gpu_hours": { "busy": ps.gpu_hours_busy, "idle": ps.gpu_hours_idle },
                "instance_hours": (ps.gpu_hours_busy + ps.gpu_hours_idle)
                    / f64::from(p.instance.gpu_count),
                "cost_usd": { "total": ps.cost_usd, "idle": ps.idle_cost_usd },
            });
            if p.varies() {
                let obj = pool.as_object_mut().expect("an object");
                obj.insert("replicas_mean".into(), json!(ps.replicas_mean));
                obj.insert(
                    "under_provisioned_hours".into(),
                    json!(ps.under_provisioned_hours),
                );
                let pr = &p.provisioning;
                obj.insert(
                    "provisioning".into(),
                    json!({
                        "typical_s": pr.typical().as_secs_f64(),
                        "instance_start_s": pr.instance_start.as_secs_f64(),
                        "instance_start_cv": pr.instance_start_cv,
                        "container_start_s": pr.container_start.as_secs_f64(),
                        "model_load_s": pr.model_load.as_secs_f64(),
                        "cached_load_s": pr.cached_load.as_secs_f64(),
                        "cache_hit_ratio": pr.cache_hit_ratio,
                        "warm_pool": pr.warm_pool.map(|w| json!({
                            "size": w.size,
                            "state": w.state.name(),
                            "start_s": w.start.as_secs_f64(),
                            "warm_starts": ps.warm_starts,
                            "cost_usd": ps.warm_cost_usd,
                        })),
                    }),
                );
            }
            if let Some(sc) = &p.scaling {
                let obj = pool.as_object_mut().expect("an object");
                obj.insert(
                    "autoscale".into(),
                    json!({
                        "policy": sc.policy.name(),
                        "min": sc.min,
                        "max": sc.max,
                        "provisioning_s": p.provisioning.typical().as_secs_f64(),
                        "cold_starts": ps.cold_starts,
                        "stops": ps.stops,
                        "provisioning_replica_hours": ps.provisioning_replica_hours,
                        "provisioning_cost_usd": ps.provisioning_cost_usd,
                    }),
                );
            }
            if let Some(int) = &p.interruptions {
                let obj = pool.as_object_mut().expect("an object");
                obj.insert(
                    "interruptions".into(),
                    json!({
                        "rate_per_hour": int.rate_per_hour,
                        "notice_s": int.notice.as_secs_f64(),
                        "replacement": int.replacement.name(),
                        "retry_delay_s": int.replacement.delay().map(|d| d.as_secs_f64()),
                        "correlated": int.correlated.map(|c| json!({
                            "rate_per_hour": c.rate_per_hour,
                            "fraction": c.fraction,
                        })),
                        "count": ps.interruptions,
                        "replicas_started": ps.cold_starts,
                        "provisioning_replica_hours": ps.provisioning_replica_hours,
                        "provisioning_cost_usd": ps.provisioning_cost_usd,
                    }),
                );
            }
            if let Serving::Llm(l) = &p.serving {
                let obj = pool.as_object_mut().expect("an object");
                // Continuous batching has no batch cap of its own; its limits are the engine's.
                obj.remove("max_batch");
                obj.insert("gpu_spec".into(), json!(l.roofline.gpu.gpu_model));
                obj.insert("engine".into(), json!(l.settings.engine.label()));
                match (&l.table, &l.kernels) {
                    (Some(t), _) => {
                        obj.insert("timing".into(), json!("table"));
                        obj.insert("iteration_table".into(), json!(t.path));
                    }
                    (None, Some(_)) => {
                        obj.insert("timing".into(), json!("kernels"));
                    }
                    (None, None) => {
                        obj.insert("timing".into(), json!("roofline"));
                    }
                }
                obj.insert("timing_detail".into(), json!(l.timing));
                obj.insert("max_seqs".into(), json!(l.settings.max_seqs));
                obj.insert(
                    "max_batched_tokens".into(),
                    json!(l.settings.max_batched_tokens),
                );
                obj.insert("tensor_parallel".into(), json!(l.roofline.tp));
                obj.insert("kv_cache_tokens".into(), json!(l.memory.kv_tokens));
                obj.insert("kv_utilization".into(), json!(ps.kv_utilization));
                obj.insert(
                    "output_tokens_per_second_per_replica".into(),
                    json!(ps.output_tokens_per_second_per_replica),
                );
                obj.insert(
                    "output_tokens_per_second_per_gpu".into(),
                    json!(ps.output_tokens_per_second_per_gpu),
                );
                obj.insert(
                    "requests_per_second_per_replica".into(),
                    json!(ps.requests_per_second_per_replica),
                );
                // The front end's CPU per request, and the share of its time that took.
                let cpu = l.settings.request_cpu_s;
                obj.insert("request_cpu_ms".into(), json!(cpu * 1e3));
                obj.insert(
                    "front_end_utilization".into(),
                    json!((cpu > 0.0).then_some(ps.requests_per_second_per_replica * cpu)),
                );
            }
            pool
        })
        .collect();
    root.insert("pools".into(), Value::Array(pools));
    root.insert("timeseries".into(), timeseries(&s.series));
}

/// The LLM variant serving workload `name`: architecture, precisions, sparsity, stated quality.
fn llm_variant(sc: &Scenario, name: &str) -> Option<Value> {
    let w = sc.workloads().iter().position(|w| w.name == name)?;
    sc.pools_of(w).find_map(|p| match &sc.pools()[p].serving {
        Serving::Llm(l) => {
            let v = &l.roofline.variant;
            Some(json!({
                "architecture": v.architecture.name,
                "parameters": v.architecture.total_params(),
                "active_parameters": v.architecture.active_params(),
                "weights": v.weights.as_str(),
                "kv_cache": v.kv_cache.as_str(),
                "sparsity": if v.sparse_2_4 { Some("2:4") } else { None },
                "quality": v.quality.as_ref().map(|q| json!({ "metric": q.metric, "value": q.value })),
            }))
        }
        Serving::Requests(_) => None,
    })
}

/// Pretty JSON text with a final newline.
pub fn render(r: &Report) -> String {
    let mut text = serde_json::to_string_pretty(&to_value(r)).expect("JSON values serialise");
    text.push('\n');
    text
}

fn number(m: Metric, x: f64) -> Value {
    if m.is_count() && x.fract() == 0.0 && x.is_finite() && x >= 0.0 {
        json!(x as u64)
    } else {
        json!(x)
    }
}

/// Whether a headline metric belongs in the reports of this scenario: token-level metrics for
/// scenarios that serve an LLM, reclaim counts for scenarios with spot interruptions.
pub fn shows(sc: &Scenario, m: Metric) -> bool {
    (!m.is_llm() || serves_llm(sc))
        && (!m.is_interruption() || sc.pools().iter().any(|p| p.interruptions.is_some()))
}

/// Whether any pool of the scenario serves an LLM at token level.
pub fn serves_llm(sc: &Scenario) -> bool {
    sc.pools()
        .iter()
        .any(|p| matches!(p.serving, Serving::Llm(_)))
}

/// Inserts the headline metrics of a scope at their dotted paths (the token-level ones only for
/// scenarios that serve an LLM).
fn scope(obj: &mut Map<String, Value>, s: &ScopeSummary, sc: &Scenario) {
    let llm = serves_llm(sc);
    for def in Metric::ALL {
        if !shows(sc, def.metric) {
            continue;
        }
        if def.metric == Metric::SloAttainment {
            let slo = child(obj, "slo");
            let t = s.slo_targets.unwrap_or_default();
            slo.insert("p99_target_ms".into(), json!(t.p99_ms));
            if llm {
                slo.insert("ttft_p99_target_ms".into(), json!(t.ttft_p99_ms));
                slo.insert("tpot_p99_target_ms".into(), json!(t.tpot_p99_ms));
            }
            slo.insert("met".into(), json!(s.slo_met));
            if let Some(share) = s.slo_met_share
                && s.values[0].ci95.is_some()
            {
                slo.insert("met_share".into(), json!(share));
            }
        }
        put(obj, def.path, def.metric, s.get(def.metric));
    }
    let st = &s.stability;
    obj.insert(
        "stability".into(),
        json!({
            "stable": st.stable,
            "offered_over_capacity": !st.stable,
            "backlog_at_end": st.backlog_at_end,
            "drain_s": st.drain_s,
        }),
    );
}

fn child<'a>(obj: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = obj
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    match v {
        Value::Object(m) => m,
        _ => unreachable!("metric paths do not collide"),
    }
}

fn put(obj: &mut Map<String, Value>, path: &str, m: Metric, e: Estimate) {
    match path.split_once('.') {
        Some((head, rest)) => put(child(obj, head), rest, m, e),
        None => {
            obj.insert(path.to_string(), number(m, e.mean));
            if let Some((lo, hi)) = e.ci95 {
                obj.insert(format!("{path}_ci95"), json!([lo, hi]));
            }
        }
    }
}

fn timeseries(rows: &[SeriesRow]) -> Value {
    // An LLM's series carry its TTFT and TPOT p99 too.
    let llm = rows.iter().any(|r| r.ttft_p99_ms.is_finite());
    Value::Array(
        rows.iter()
            .map(|r| {
                let mut v = json!({
                    "t_s": r.t_s,
                    "arrivals": r.arrivals,
                    "completed": r.completed,
                    "failed": r.failed,
                    "p99_ms": r.p99_ms,
                    "utilization": r.utilization,
                    "replicas": r.replicas,
                    "queue": r.queue,
                    "cost_usd": r.cost_usd,
                });
                if llm {
                    v["ttft_p99_ms"] = json!(r.ttft_p99_ms);
                    v["tpot_p99_ms"] = json!(r.tpot_p99_ms);
                }
                v
            })
            .collect(),
    )
}
