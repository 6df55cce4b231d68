//! A sweep's rows as CSV or JSON, and CSV read back (to merge shards).
//!
//! Numbers are written in Rust's shortest round-trip form, so a row read back and written again
//! is byte-identical; a number that is not finite is an empty cell (`null` in JSON).

use serde_json::{Value, json};

use crate::sweep::Row;

const MEASURES: [&str; 13] = [
    "cost_usd",
    "cost_per_hour",
    "cost_per_1k_requests",
    "p50_ms",
    "p99_ms",
    "p999_ms",
    "ttft_p99_ms",
    "tpot_p99_ms",
    "slo_attainment",
    "slo_met",
    "utilization",
    "failed",
    "pareto",
];

fn num(x: f64) -> String {
    if x.is_finite() {
        x.to_string()
    } else {
        String::new()
    }
}

/// `index`, `points` (how many the whole sweep has, so that a merge can tell a shard is
/// missing), one column per axis, then the measures.
pub fn render_csv(paths: &[String], points: usize, rows: &[Row]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["index".to_string(), "points".to_string()];
    header.extend(paths.iter().cloned());
    header.extend(MEASURES.iter().map(|m| m.to_string()));
    w.write_record(&header).expect("writing to memory");
    for r in rows {
        let mut rec = vec![r.index.to_string(), points.to_string()];
        rec.extend(r.values.iter().cloned());
        rec.extend(
            [
                r.cost_usd,
                r.cost_per_hour,
                r.cost_per_1k,
                r.p50_ms,
                r.p99_ms,
                r.p999_ms,
                r.ttft_p99_ms,
                r.tpot_p99_ms,
                r.slo_attainment,
            ]
            .map(num),
        );
        rec.push(r.slo_met.map_or(String::new(), |m| m.to_string()));
        rec.push(num(r.utilization));
        rec.push(num(r.failed));
        rec.push(r.pareto.to_string());
        w.write_record(&rec).expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("flushing to memory")).expect("CSV of UTF-8 is UTF-8")
}

/// The rows as a JSON array of objects, axes under `inputs`.
pub fn render_json(paths: &[String], rows: &[Row]) -> String {
    let f = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let inputs: serde_json::Map<String, Value> = paths
                .iter()
                .zip(&r.values)
                .map(|(p, v)| (p.clone(), json!(v)))
                .collect();
            json!({
                "index": r.index,
                "inputs": inputs,
                "cost_usd": f(r.cost_usd),
                "cost_per_hour": f(r.cost_per_hour),
                "cost_per_1k_requests": f(r.cost_per_1k),
                "p50_ms": f(r.p50_ms),
                "p99_ms": f(r.p99_ms),
                "p999_ms": f(r.p999_ms),
                "ttft_p99_ms": f(r.ttft_p99_ms),
                "tpot_p99_ms": f(r.tpot_p99_ms),
                "slo_attainment": f(r.slo_attainment),
                "slo_met": r.slo_met,
                "utilization": f(r.utilization),
                "failed": f(r.failed),
                "pareto": r.pareto,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&Value::Array(items)).expect("JSON of plain values");
    s.push('\n');
    s
}

/// A sweep's CSV read back.
pub struct Parsed {
    pub paths: Vec<String>,
    /// Points in the whole sweep (`None` for a file with no rows).
    pub points: Option<usize>,
    pub rows: Vec<Row>,
}

/// Reads a sweep's CSV back: the axis paths, the sweep's size and the rows.
pub fn parse_csv(text: &str) -> Result<Parsed, String> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(String::from)
        .collect();
    let axes = header.len().checked_sub(2 + MEASURES.len());
    let ok = axes.is_some()
        && header[0] == "index"
        && header[1] == "points"
        && header[header.len() - MEASURES.len()..] == MEASURES;
    let Some(axes) = axes.filter(|_| ok) else {
        return Err("not a sweep's CSV (its header differs)".into());
    };
    let paths = header[2..2 + axes].to_vec();
    let mut rows = Vec::new();
    let mut points = None;
    for (line, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| e.to_string())?;
        let bad = |what: &str| format!("row {}: bad {what}", line + 2);
        let f = |i: usize| -> Result<f64, String> {
            let s = &rec[i];
            if s.is_empty() {
                Ok(f64::NAN)
            } else {
                s.parse().map_err(|_| bad(&header[i]))
            }
        };
        let m = 2 + axes;
        let n: usize = rec[1].parse().map_err(|_| bad("points"))?;
        if points.is_some_and(|p| p != n) {
            return Err(bad("points (rows disagree on the sweep's size)"));
        }
        points = Some(n);
        rows.push(Row {
            index: rec[0].parse().map_err(|_| bad("index"))?,
            values: (2..m).map(|i| rec[i].to_string()).collect(),
            cost_usd: f(m)?,
            cost_per_hour: f(m + 1)?,
            cost_per_1k: f(m + 2)?,
            p50_ms: f(m + 3)?,
            p99_ms: f(m + 4)?,
            p999_ms: f(m + 5)?,
            ttft_p99_ms: f(m + 6)?,
            tpot_p99_ms: f(m + 7)?,
            slo_attainment: f(m + 8)?,
            slo_met: match &rec[m + 9] {
                "" => None,
                "true" => Some(true),
                "false" => Some(false),
                _ => return Err(bad("slo_met")),
            },
            utilization: f(m + 10)?,
            failed: f(m + 11)?,
            pareto: rec[m + 12].parse().map_err(|_| bad("pareto"))?,
        });
    }
    Ok(Parsed {
        paths,
        points,
        rows,
    })
}
