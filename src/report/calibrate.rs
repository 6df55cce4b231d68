//! `headroom gpus` and `headroom calibrate` for people: the GPUs as NVML lists them (a table, or
//! JSON), and what a calibration fitted, refused and how steadily it sampled.

use std::fmt::Write as _;

use crate::calibrate::sampler::Recording;
use crate::calibrate::{DeviceInfo, Sample, SystemInfo};
use crate::profile::Profile;

/// The GPUs with a reading of each taken now, as JSON.
pub fn gpus_json(system: &SystemInfo, devices: &[DeviceInfo], now: &[Sample]) -> String {
    let list: Vec<serde_json::Value> = devices
        .iter()
        .zip(now)
        .map(|(d, s)| serde_json::json!({ "device": d, "now": s }))
        .collect();
    let v = serde_json::json!({ "system": system, "gpus": list });
    serde_json::to_string_pretty(&v).expect("JSON") + "\n"
}

/// The GPUs with a reading of each taken now, as a table: now / at most.
pub fn gpus_table(system: &SystemInfo, devices: &[DeviceInfo], now: &[Sample]) -> String {
    let cuda = if system.cuda_version.is_empty() {
        // The library did not say (it lacks the optional call).
        String::new()
    } else {
        format!(" · CUDA {}", system.cuda_version)
    };
    let mut t = format!(
        "driver {}{cuda} · {} GPU{}\n\n",
        system.driver_version,
        devices.len(),
        if devices.len() == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        t,
        "{:<3} {:<24} {:<14} {:>15} {:>13} {:>15} {:>11} {:>5} {:>5} {:>4}",
        "IDX", "NAME", "UUID", "MEMORY MIB", "POWER W", "SM MHZ", "MEM MHZ", "TEMP", "UTIL", "SMS"
    );
    for (d, s) in devices.iter().zip(now) {
        let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.0}"));
        let _ = writeln!(
            t,
            "{:<3} {:<24} {:<14} {:>15} {:>13} {:>15} {:>11} {:>5} {:>4.0}% {:>4}",
            d.index,
            d.name,
            short_uuid(&d.uuid),
            format!("{:.0}/{:.0}", s.memory_used_mib, d.memory_total_mib),
            format!("{:.0}/{:.0}", s.power_w, d.power_limit_w),
            format!("{}/{}", opt(s.sm_clock_mhz), opt(d.sm_clock_max_mhz)),
            format!(
                "{}/{}",
                opt(s.memory_clock_mhz),
                opt(d.memory_clock_max_mhz)
            ),
            opt(s.temperature_c),
            s.gpu_util * 100.0,
            d.sm_count.map_or("-".to_string(), |n| n.to_string()),
        );
    }
    t
}

/// A UUID shortened for a table (the JSON has it whole).
fn short_uuid(u: &str) -> String {
    u.chars().take(12).collect()
}

/// Each fit with its quality, each refusal with its reason, and how steady sampling was (when
/// it was measured rather than replayed).
pub fn fits(p: &Profile, rec: Option<&Recording>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}), {} samples over {:.1} s",
        p.provenance.gpu_name, p.gpu, p.provenance.samples, p.provenance.duration_s
    );
    if let Some(r) = rec {
        let _ = writeln!(
            s,
            "sampling: {} ticks, {} skipped; lateness p50 {:.3} ms, p95 {:.3} ms, max {:.3} ms{}",
            r.ticks,
            r.skipped,
            r.lateness_s.p50 * 1e3,
            r.lateness_s.p95 * 1e3,
            r.lateness_s.max * 1e3,
            r.cpu_per_tick_s.map_or(String::new(), |c| format!(
                "; CPU {:.1} µs per tick",
                c * 1e6
            ))
        );
    }
    if let Some(f) = &p.power {
        let _ = writeln!(
            s,
            "power: {:.1} W idle + {:.1} W at full utilization (R² {:.3}, RMSE {:.1} W)",
            f.idle_w, f.dynamic_w, f.r_squared, f.rmse_w
        );
    }
    if let Some(f) = &p.llm {
        let opt =
            |x: Option<f64>| x.map_or("refused".to_string(), |v| format!("{:.1} %", v * 100.0));
        let _ = writeln!(
            s,
            "llm: prefill reaches {} of peak compute{}, decode {} of peak bandwidth{} ({} requests)",
            opt(f.prefill_efficiency),
            f.prefill_r_squared
                .map_or(String::new(), |r| format!(" (R² {r:.3})")),
            opt(f.decode_efficiency),
            match (f.decode_p10, f.decode_p90) {
                (Some(a), Some(b)) => format!(" (p10–p90 {:.1}–{:.1} %)", a * 100.0, b * 100.0),
                _ => String::new(),
            },
            f.requests
        );
    }
    if let Some(f) = &p.service {
        let _ = writeln!(
            s,
            "service: {:.1} ms + {:.1} ms per item (R² {:.3}, RMSE {:.1} ms, {} requests, {} outliers left out)",
            f.base_ms, f.per_item_ms, f.r_squared, f.rmse_ms, f.requests, f.outliers
        );
    }
    if let Some(m) = &p.memory {
        let _ = writeln!(
            s,
            "memory: {:.0} of {:.0} MiB at most ({:.0} MiB headroom)",
            m.used_max_mib, m.total_mib, m.headroom_mib
        );
    }
    for r in &p.refused {
        let _ = writeln!(s, "refused: {r}");
    }
    s
}
