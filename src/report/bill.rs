//! The bill section of the table report: a line per cost, its share, and its part of the cost
//! of one prediction; then the same bill by pool and workload, training job and cluster.

use std::fmt::Write;

use super::format::{clip, pct, thousands, usd, usd_unit, wrapped};
use super::training::usd_short;
use crate::experiment::bill::{Bill, period_words};

/// The bill by line, with each line's share and its part of the cost of one prediction.
pub fn render(out: &mut String, b: &Bill) {
    let per_pred = b.predictions > 0.0;
    let _ = writeln!(
        out,
        "{:<9} {:<37} {:>12} {:>6} {:>11}",
        "BILL",
        format!("per {}", period_words(b.period_days)),
        "USD",
        "SHARE",
        if per_pred { "PER 1K PRED" } else { "" }
    );
    let total = b.total_usd();
    for l in &b.lines {
        let _ = writeln!(
            out,
            "{:<9} {:<37} {:>12} {:>6} {:>11}",
            l.driver.as_str(),
            clip(&l.item, 37),
            usd(l.usd),
            pct(l.usd / total),
            if per_pred {
                usd_unit(l.usd / b.predictions * 1000.0)
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(
        out,
        "{:<9} {:<37} {:>12} {:>6} {:>11}",
        "total",
        "",
        usd(total),
        "",
        if per_pred {
            usd_unit(total / b.predictions * 1000.0)
        } else {
            String::new()
        }
    );
    let mut by: Vec<String> = b
        .by_driver()
        .iter()
        .map(|(d, usd)| format!("{} {}", d.as_str(), pct(usd / total)))
        .collect();
    if b.serving_idle_usd > 0.0 {
        by.push(format!(
            "idle serving GPUs {}",
            usd_short(b.serving_idle_usd)
        ));
    }
    wrapped(out, "by driver: ", &by);
    if let Some(e) = &b.energy {
        let mut parts = vec![format!(
            "{} kWh ({} serving, {} training)",
            thousands(e.serving_kwh + e.training_kwh),
            thousands(e.serving_kwh),
            thousands(e.training_kwh),
        )];
        parts.push(if e.owned {
            usd(e.usd)
        } else {
            format!("{} (in the cloud prices)", usd(e.usd))
        });
        if let Some(c) = e.carbon_kg {
            parts.push(format!("{} kg CO2e", thousands(c)));
        }
        if !e.unknown.is_empty() {
            parts.push(format!("no power figures for {}", e.unknown.join(", ")));
        }
        wrapped(out, "energy: ", &parts);
    }
    if per_pred {
        let _ = writeln!(
            out,
            "{} predictions: {} each, all drivers",
            thousands(b.predictions),
            usd_unit(total / b.predictions)
        );
    }
    out.push('\n');
    split(out, b);
}

/// The bill by pool (after each workload's pools, their subtotal and its cost per 1,000
/// predictions), then each training job and the cluster, then what is shared.
fn split(out: &mut String, b: &Bill) {
    let s = &b.split;
    if s.pools.is_empty() && s.training.is_empty() {
        return;
    }
    let total = b.total_usd();
    let row = |out: &mut String, kind: &str, name: &str, usd_: f64, per_1k: String| {
        let _ = writeln!(
            out,
            "{:<9} {:<37} {:>12} {:>6} {:>11}",
            kind,
            clip(name, 37),
            usd(usd_),
            pct(usd_ / total),
            per_1k
        );
    };
    let _ = writeln!(
        out,
        "{:<47} {:>12} {:>6} {:>11}",
        "BILL BY POOL AND WORKLOAD", "USD", "SHARE", "PER 1K PRED"
    );
    for (w, wl) in s.workloads.iter().enumerate() {
        for p in s.pools.iter().filter(|p| p.workload == Some(w)) {
            row(
                out,
                "pool",
                &format!("{} ({})", p.name, wl.name),
                p.usd,
                String::new(),
            );
        }
        let per_1k = if wl.predictions > 0.0 {
            usd_unit(wl.usd / wl.predictions * 1000.0)
        } else {
            String::new()
        };
        row(out, "workload", &wl.name, wl.usd, per_1k);
    }
    for t in &s.training {
        row(out, "training", &t.name, t.usd, String::new());
    }
    let drivers: Vec<&str> = s.shared.by_driver.iter().map(|(d, _)| d.as_str()).collect();
    row(
        out,
        "shared",
        &drivers.join(", "),
        s.shared.usd,
        String::new(),
    );
    wrapped(
        out,
        "split: ",
        &[
            "compute to its pool or job".into(),
            "egress and request logs by requests".into(),
            "GPU-hour logs by GPU-hours".into(),
            "storage and cross-region shared".into(),
        ],
    );
    out.push('\n');
}
