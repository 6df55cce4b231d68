//! The editable fields of a pool in the Fleet view: where each lives in the file, its value, and
//! its next value up or down.
//!
//! Fields are found in the file's own text (toml_edit), since that is what an edit changes: a
//! batch size may be written on the pool, or on the model for the pool's GPU; an LLM's batch is
//! its engine's `max_seqs`.

use toml_edit::{DocumentMut, Item};

use super::worker::quote_key;
use crate::fleet::Serving;
use crate::pricing::Market;
use crate::scenario::Scenario;
use crate::units::{format_duration, parse_duration};

/// A column of the Fleet table that can be edited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Instance,
    Market,
    Replicas,
    AutoscaleMin,
    AutoscaleMax,
    MaxBatch,
    MaxWait,
    Model,
}

impl Field {
    pub const ALL: [Field; 8] = [
        Field::Instance,
        Field::Market,
        Field::Replicas,
        Field::AutoscaleMin,
        Field::AutoscaleMax,
        Field::MaxBatch,
        Field::MaxWait,
        Field::Model,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Field::Instance => "instance",
            Field::Market => "market",
            Field::Replicas => "replicas",
            Field::AutoscaleMin => "min",
            Field::AutoscaleMax => "max",
            Field::MaxBatch => "batch",
            Field::MaxWait => "wait",
            Field::Model => "model",
        }
    }
}

/// Where a field of pool `p` is written, and its value there (`None`: not written, a default).
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    pub path: String,
    pub value: Option<String>,
    /// What the value is when the file does not say.
    pub default: Option<String>,
}

/// Every field of every pool, row by row (what the Fleet table shows).
pub fn table(text: &str, scenario: &Scenario) -> Vec<Vec<Option<Located>>> {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    (0..scenario.pools().len())
        .map(|p| {
            Field::ALL
                .iter()
                .map(|&f| locate_in(&doc, scenario, p, f))
                .collect()
        })
        .collect()
}

/// Locates `field` of pool `p` of `scenario` in `doc`; `None` when the pool has no such field
/// (a fixed pool has no autoscaling bounds; an LLM has no batching wait).
fn locate_in(doc: &DocumentMut, scenario: &Scenario, p: usize, field: Field) -> Option<Located> {
    let pool = &scenario.pools()[p];
    let pkey = format!("pools.{}", quote_key(&pool.name));
    let raw_pool = doc.get("pools")?.get(&pool.name)?;
    let here = |path: String, item: Option<&Item>, default: Option<String>| {
        Some(Located {
            path,
            value: item.map(show),
            default,
        })
    };
    let workload = &scenario.workloads()[pool.workload];
    match field {
        Field::Instance => here(
            format!("{pkey}.instance_type"),
            raw_pool.get("instance_type"),
            Some(pool.instance.name.clone()),
        ),
        Field::Market => here(
            format!("{pkey}.market"),
            raw_pool.get("market"),
            Some(Market::OnDemand.as_str().to_string()),
        ),
        Field::Replicas => here(format!("{pkey}.replicas"), raw_pool.get("replicas"), None),
        Field::AutoscaleMin | Field::AutoscaleMax => {
            let a = raw_pool.get("autoscale")?;
            let policy = a.get("policy").and_then(Item::as_str)?;
            if policy == "schedule" {
                return None;
            }
            let (key, default) = match field {
                Field::AutoscaleMin => ("min", pool.scaling.as_ref().map(|s| s.min)),
                _ => ("max", pool.scaling.as_ref().map(|s| s.max)),
            };
            here(
                format!("{pkey}.autoscale.{key}"),
                a.get(key),
                default.map(|d| d.to_string()),
            )
        }
        Field::MaxBatch | Field::MaxWait => {
            let model = workload.model.as_str();
            let mkey = format!("models.{}", quote_key(model));
            let raw_model = doc.get("models")?.get(model)?;
            match &pool.serving {
                Serving::Llm(llm) => {
                    if field == Field::MaxWait {
                        return None;
                    }
                    here(
                        format!("{mkey}.serving.max_seqs"),
                        raw_model.get("serving").and_then(|s| s.get("max_seqs")),
                        Some(llm.settings.max_seqs.to_string()),
                    )
                }
                Serving::Requests(_) => {
                    let key = if field == Field::MaxBatch {
                        "max_batch"
                    } else {
                        "max_wait"
                    };
                    let default = Some(if field == Field::MaxBatch { "1" } else { "0s" }.into());
                    if let Some(s) = raw_pool.get("service") {
                        return here(format!("{pkey}.service.{key}"), s.get(key), default);
                    }
                    // The model's entry for this pool's GPU (its names match the catalog's
                    // `gpu_model`, in any case).
                    let services = raw_model.get("service")?.as_table_like()?;
                    let (gpu, entry) = services
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&pool.instance.gpu_model))?;
                    here(
                        format!("{mkey}.service.{}.{key}", quote_key(gpu)),
                        entry.get(key),
                        default,
                    )
                }
            }
        }
        Field::Model => here(
            format!("workloads.{}.model", quote_key(&workload.name)),
            doc.get("workloads")?.get(&workload.name)?.get("model"),
            None,
        ),
    }
}

/// A value as the file writes it, strings without their quotes.
fn show(item: &Item) -> String {
    match item.as_value() {
        Some(v) => match v.as_str() {
            Some(s) => s.to_string(),
            None => v.to_string().trim().to_string(),
        },
        None => "{…}".to_string(),
    }
}

/// The value one step up (`up`) or down from `current`, as TOML text; `None` at a bound or for
/// a field that is picked rather than stepped.
pub fn step(field: Field, current: &str, up: bool) -> Option<String> {
    match field {
        Field::Replicas | Field::AutoscaleMin | Field::AutoscaleMax => {
            let n: i64 = current.parse().ok()?;
            let lowest = if field == Field::AutoscaleMax { 1 } else { 0 };
            let next = if up { n + 1 } else { n - 1 };
            (next >= lowest).then(|| next.to_string())
        }
        Field::MaxBatch => {
            let n: i64 = current.parse().ok()?;
            // Batch sizes move by powers of two above 8, as engines are tuned.
            let next = match (up, n) {
                (true, n) if n >= 8 => n * 2,
                (true, n) => n + 1,
                (false, n) if n > 8 => n / 2,
                (false, n) => n - 1,
            };
            (next >= 1).then(|| next.to_string())
        }
        Field::MaxWait => {
            let t = parse_duration(current).ok()?;
            let ms = t.as_millis_f64().round() as i64;
            let next = if up { ms + 5 } else { ms - 5 };
            (next >= 0).then(|| {
                toml_edit::Value::from(format_duration(crate::units::SimTime::from_millis(
                    next as u64,
                )))
                .to_string()
            })
        }
        Field::Market => {
            let order = [Market::OnDemand, Market::Spot, Market::Reserved];
            let i = order
                .iter()
                .position(|m| m.as_str() == current)
                .unwrap_or(0);
            let next = if up { i + 1 } else { i + order.len() - 1 } % order.len();
            Some(order[next].as_str().to_string())
        }
        Field::Instance | Field::Model => None,
    }
}

/// The file's models with a short description of each.
pub fn models(text: &str) -> Vec<(String, String)> {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    let Some(models) = doc.get("models").and_then(|m| m.as_table_like()) else {
        return Vec::new();
    };
    models
        .iter()
        .map(|(name, m)| {
            let what = m
                .get("description")
                .and_then(|d| d.as_str())
                .map(str::to_string)
                .or_else(|| {
                    let arch = m.get("architecture").and_then(|a| a.as_str())?;
                    let weights = m.get("weights").and_then(|w| w.as_str()).unwrap_or("bf16");
                    Some(format!("{arch}, {weights}"))
                })
                .unwrap_or_default();
            (name.to_string(), what)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_stop_at_their_bounds() {
        assert_eq!(step(Field::Replicas, "3", true).as_deref(), Some("4"));
        assert_eq!(step(Field::Replicas, "0", false), None);
        assert_eq!(step(Field::AutoscaleMax, "1", false), None);
        assert_eq!(step(Field::MaxBatch, "8", true).as_deref(), Some("16"));
        assert_eq!(step(Field::MaxBatch, "16", false).as_deref(), Some("8"));
        assert_eq!(step(Field::MaxBatch, "1", false), None);
        assert_eq!(
            step(Field::MaxWait, "25ms", true).as_deref(),
            Some("\"30ms\"")
        );
        assert_eq!(step(Field::MaxWait, "0s", false), None);
        assert_eq!(
            step(Field::Market, "reserved", true).as_deref(),
            Some("on-demand")
        );
        assert_eq!(
            step(Field::Market, "on-demand", false).as_deref(),
            Some("reserved")
        );
    }
}
