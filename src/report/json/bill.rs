//! The JSON of the bill.

use serde_json::{Value, json};

use crate::experiment::bill::{Bill, Driver};

pub fn to_value(b: &Bill) -> Value {
    let total = b.total_usd();
    let s = &b.split;
    let per_pred = |usd: f64| {
        if b.predictions > 0.0 {
            json!(usd / b.predictions)
        } else {
            Value::Null
        }
    };
    json!({
        "period_days": b.period_days,
        "total_usd": total,
        "predictions": b.predictions,
        "cost_per_prediction_usd": per_pred(total),
        "gpu_hours": b.gpu_hours,
        "serving_idle_usd": b.serving_idle_usd,
        "energy": b.energy.as_ref().map(|e| json!({
            "serving_kwh": e.serving_kwh,
            "training_kwh": e.training_kwh,
            "owned_serving_kwh": e.owned_serving_kwh,
            "owned_training_kwh": e.owned_training_kwh,
            "usd": e.usd,
            "carbon_kg": e.carbon_kg,
            "owned": e.owned,
            "unknown": e.unknown,
        })),
        "by_driver": b.by_driver().iter().map(|(d, usd)| json!({
            "driver": d.as_str(),
            "usd": usd,
            "per_prediction_usd": per_pred(*usd),
        })).collect::<Vec<_>>(),
        "lines": b.lines.iter().map(|l| json!({
            "driver": l.driver.as_str(),
            "item": l.item,
            "usd": l.usd,
            "per_prediction_usd": per_pred(l.usd),
        })).collect::<Vec<_>>(),
        "by_pool": s.pools.iter().map(|p| json!({
            "pool": p.name,
            "workload": p.workload.and_then(|w| s.workloads.get(w)).map(|w| &w.name),
            "usd": p.usd,
            "share": p.usd / total,
            "by_driver": drivers(&p.by_driver),
        })).collect::<Vec<_>>(),
        "by_workload": s.workloads.iter().map(|w| json!({
            "workload": w.name,
            "usd": w.usd,
            "share": w.usd / total,
            "predictions": w.predictions,
            "per_prediction_usd": if w.predictions > 0.0 {
                json!(w.usd / w.predictions)
            } else {
                Value::Null
            },
        })).collect::<Vec<_>>(),
        "by_training": s.training.iter().map(|t| json!({
            "name": t.name,
            "usd": t.usd,
            "share": t.usd / total,
            "by_driver": drivers(&t.by_driver),
        })).collect::<Vec<_>>(),
        "shared_usd": s.shared.usd,
    })
}

fn drivers(by: &[(Driver, f64)]) -> Vec<Value> {
    by.iter()
        .map(|(d, usd)| json!({"driver": d.as_str(), "usd": usd}))
        .collect()
}
