//! The CSV reports. The summary: one row for the total and one per workload, one column per
//! headline metric (named by its JSON path), with `_ci95_low` and `_ci95_high` columns after
//! replications; then, after an empty line each, the training jobs and the bill, where the
//! scenario has them. The time series: one row per (scope, interval), for charts.

use super::Report;
use crate::experiment::ScopeSummary;
use crate::sim::Metric;

/// The CSV text: a table per part of the run (serving, training, the bill), separated by an
/// empty line.
pub fn render(r: &Report) -> String {
    let mut parts = Vec::new();
    if let Some(s) = r.summary {
        parts.push(serving(r, s));
    }
    if r.training.is_some() || r.summary.is_none() {
        parts.push(training(r));
    }
    if let Some(b) = r.bill {
        parts.push(bill(b));
    }
    parts.join("\n")
}

/// Serving: the total and each workload.
fn serving(r: &Report, s: &crate::experiment::Summary) -> String {
    let with_ci = s.replications > 1;
    let metrics: Vec<Metric> = Metric::ALL
        .iter()
        .map(|d| d.metric)
        .filter(|&m| super::json::shows(r.scenario, m))
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "scope".to_string(),
        "slo.p99_target_ms".into(),
        "slo.met".into(),
    ];
    for m in &metrics {
        header.push(m.path().to_string());
        if with_ci {
            header.push(format!("{}_ci95_low", m.path()));
            header.push(format!("{}_ci95_high", m.path()));
        }
    }
    w.write_record(&header).expect("writing to memory");
    let scopes = std::iter::once(("total", &s.total)).chain(
        r.scenario
            .workloads()
            .iter()
            .map(|w| w.name.as_str())
            .zip(&s.workloads),
    );
    for (name, scope) in scopes {
        w.write_record(row(name, scope, &metrics, with_ci))
            .expect("writing to memory");
    }
    text(w)
}

fn row(name: &str, s: &ScopeSummary, metrics: &[Metric], with_ci: bool) -> Vec<String> {
    let mut out = vec![
        name.to_string(),
        s.slo_targets
            .and_then(|t| t.p99_ms)
            .map(num)
            .unwrap_or_default(),
        s.slo_met.map(|m| m.to_string()).unwrap_or_default(),
    ];
    for m in metrics {
        let e = s.get(*m);
        out.push(num(e.mean));
        if with_ci {
            let (lo, hi) = e.ci95.unwrap_or((f64::NAN, f64::NAN));
            out.push(num(lo));
            out.push(num(hi));
        }
    }
    out
}

/// The time series in long form: `scope,t_s,arrivals,completed,failed,p50_ms,p99_ms,
/// utilization,replicas,queue,cost_usd`, the total first, then each workload (means over
/// replications). A scenario that serves an LLM adds `ttft_p99_ms,tpot_p99_ms`.
pub fn render_timeseries(r: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "scope",
        "t_s",
        "arrivals",
        "completed",
        "failed",
        "p50_ms",
        "p99_ms",
        "utilization",
        "replicas",
        "queue",
        "cost_usd",
    ];
    let Some(s) = r.summary else {
        w.write_record(&header).expect("writing to memory");
        return text(w);
    };
    let llm = s.series.iter().any(|r| r.ttft_p99_ms.is_finite());
    if llm {
        header.extend(["ttft_p99_ms", "tpot_p99_ms"]);
    }
    w.write_record(&header).expect("writing to memory");
    let scopes = std::iter::once(("total", &s.series)).chain(
        r.scenario
            .workloads()
            .iter()
            .map(|w| w.name.as_str())
            .zip(&s.workload_series),
    );
    for (name, rows) in scopes {
        for row in rows {
            let mut record = vec![name.to_string()];
            record.extend(
                [
                    row.t_s,
                    row.arrivals,
                    row.completed,
                    row.failed,
                    row.p50_ms,
                    row.p99_ms,
                    row.utilization,
                    row.replicas,
                    row.queue,
                    row.cost_usd,
                ]
                .map(num),
            );
            if llm {
                record.extend([row.ttft_p99_ms, row.tpot_p99_ms].map(num));
            }
            w.write_record(&record).expect("writing to memory");
        }
    }
    text(w)
}

fn text(w: csv::Writer<Vec<u8>>) -> String {
    String::from_utf8(w.into_inner().expect("flushing to memory")).expect("CSV of UTF-8 is UTF-8")
}

/// The bill for the period: a row per line, then the total (`driver` = `total`).
fn bill(b: &crate::experiment::bill::Bill) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "driver",
        "item",
        "usd",
        "share",
        "usd_per_1k_predictions",
        "period_days",
    ])
    .expect("writing to memory");
    let total = b.total_usd();
    let per_1k = |usd: f64| {
        if b.predictions > 0.0 {
            num(usd / b.predictions * 1000.0)
        } else {
            String::new()
        }
    };
    for l in &b.lines {
        w.write_record([
            l.driver.as_str().to_string(),
            l.item.clone(),
            num(l.usd),
            num(l.usd / total),
            per_1k(l.usd),
            num(b.period_days),
        ])
        .expect("writing to memory");
    }
    w.write_record([
        "total".to_string(),
        String::new(),
        num(total),
        num(1.0),
        per_1k(total),
        num(b.period_days),
    ])
    .expect("writing to memory");
    text(w)
}

/// Training: one row per job, and the cluster's.
fn training(r: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "job",
        "market",
        "gpus",
        "step_s",
        "mfu",
        "interval_s",
        "young_daly_s",
        "completion_s_p50",
        "completion_s_p90",
        "cost_usd_p50",
        "cost_usd_p90",
        "cost_usd_mean",
        "interruptions_mean",
        "goodput",
    ])
    .expect("writing to memory");
    if let (Some(spec), Some(t)) = (r.scenario.training().as_ref(), r.training) {
        for (j, s) in spec.jobs.iter().zip(&t.jobs) {
            w.write_record([
                j.name.clone(),
                j.market.as_str().to_string(),
                j.gpus().to_string(),
                num(j.step.total_s()),
                num(s.mfu),
                num(s.interval_s),
                num(s.young_daly_s),
                num(s.completion_s.p50),
                num(s.completion_s.p90),
                num(s.cost_usd.p50),
                num(s.cost_usd.p90),
                num(s.cost_usd.mean),
                num(s.interruptions_mean),
                num(s.goodput()),
            ])
            .expect("writing to memory");
        }
        if let (Some(cs), Some(c)) = (&spec.cluster, &t.cluster) {
            // The cluster as one row: its jobs' completion times and its whole cost.
            let st = &c.stats.cluster;
            w.write_record([
                "cluster".to_string(),
                cs.market.as_str().to_string(),
                c.peak_gpus.to_string(),
                String::new(),
                String::new(),
                num(cs.checkpoint_interval_s),
                String::new(),
                num(st.jct_p50_s),
                num(st.jct_p90_s),
                String::new(),
                String::new(),
                num(c.cost_usd),
                num(c.stats.preemptions as f64),
                num(c.goodput),
            ])
            .expect("writing to memory");
        }
    }
    text(w)
}

/// A number, or an empty cell when nothing was measured.
fn num(x: f64) -> String {
    if x.is_finite() {
        x.to_string()
    } else {
        String::new()
    }
}
