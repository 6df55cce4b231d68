//! From samples (and the workload's request log) to a profile: the fits, the statistics, the
//! provenance, and the fits refused with the reason.

use std::collections::BTreeMap;
use std::path::Path;

use super::fit::{self, Summary};
use super::llm_fit::fit_llm;
use super::requests::Request;
use super::source::{DeviceInfo, Sample, SystemInfo};
use crate::llm::roofline::Roofline;
use crate::profile::{self, LlmFit, Memory, PowerFit, Profile, Provenance, ServiceFit, Stats};
use crate::scenario::Scenario;

/// Why a scenario's pool cannot be what an LLM's log is fitted against.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("{file} has no pool {name:?}; its pools are {pools}")]
    Missing {
        file: String,
        name: String,
        pools: String,
    },
    #[error(
        "pool {0:?} serves a request-level model; --scenario/--pool are for LLM logs (a request-level log needs only batch_size and latency)"
    )]
    RequestLevel(String),
}

/// What the samples were taken of, and how.
#[derive(Clone, Debug)]
pub struct Context {
    pub system: SystemInfo,
    /// The first sampled device (the profile is of its GPU model).
    pub device: DeviceInfo,
    pub devices: Vec<u32>,
    pub date: String,
    pub interval_ms: f64,
    pub command: Option<String>,
    pub log: Option<String>,
    pub replayed_from: Option<String>,
    /// For an LLM log: the roofline of the pool it ran on, and the model's name.
    pub llm: Option<(Roofline, String)>,
}

/// The roofline of `scenario`'s pool `name` (the scenario was read from `file`) and the model it
/// serves: what an LLM's log is fitted against.
pub fn llm_pool(
    scenario: &Scenario,
    file: &Path,
    name: &str,
) -> Result<(Roofline, String), PoolError> {
    let Some(pool) = scenario.pools().iter().find(|p| p.name == name) else {
        let names: Vec<&str> = scenario.pools().iter().map(|p| p.name.as_str()).collect();
        return Err(PoolError::Missing {
            file: file.display().to_string(),
            name: name.to_string(),
            pools: names.join(", "),
        });
    };
    match &pool.serving {
        crate::fleet::Serving::Llm(l) => Ok((
            l.roofline.clone(),
            scenario.workloads()[pool.workload].model.clone(),
        )),
        crate::fleet::Serving::Requests(_) => Err(PoolError::RequestLevel(name.to_string())),
    }
}

/// The catalog's name for an NVML device name: `NVIDIA L40S` → `L40S`, `NVIDIA H100 80GB HBM3`
/// → `H100`, `Tesla T4` → `T4`.
pub fn catalog_gpu(nvml_name: &str) -> String {
    let words: Vec<&str> = nvml_name
        .split_whitespace()
        .filter(|w| !matches!(*w, "NVIDIA" | "Tesla" | "GeForce" | "Quadro"))
        .collect();
    words
        .first()
        .map_or(nvml_name.to_string(), |w| w.to_string())
}

/// `x` rounded to `d` decimals: a profile is read by people, and its last digits are noise.
fn round(x: f64, d: i32) -> f64 {
    let m = 10f64.powi(d);
    (x * m).round() / m
}

fn stats(xs: &[f64]) -> Option<Stats> {
    if xs.is_empty() {
        return None;
    }
    let Summary {
        mean,
        p50,
        p95,
        min,
        max,
        ..
    } = fit::summary(xs);
    Some(Stats {
        mean: round(mean, 3),
        p50: round(p50, 3),
        p95: round(p95, 3),
        min: round(min, 3),
        max: round(max, 3),
    })
}

/// Fits what the data supports; the rest goes to `refused` with the reason.
pub fn build(ctx: &Context, samples: &[Sample], log: Option<&[Request]>) -> Profile {
    let mut refused = Vec::new();
    let util: Vec<f64> = samples.iter().map(|s| s.gpu_util).collect();
    let power: Vec<f64> = samples.iter().map(|s| s.power_w).collect();
    let power_fit = match fit::power_model(&util, &power) {
        Ok(f) => Some(PowerFit {
            idle_w: round(f.idle_w, 2),
            dynamic_w: round(f.dynamic_w, 2),
            r_squared: round(f.line.r_squared, 4),
            rmse_w: round(f.line.rmse, 2),
            limit_w: ctx.device.power_limit_w,
        }),
        Err(e) => {
            refused.push(format!("power against utilization: {e}"));
            None
        }
    };
    let used_max = samples
        .iter()
        .map(|s| s.memory_used_mib)
        .fold(0.0, f64::max);
    let memory = (!samples.is_empty()).then(|| Memory {
        total_mib: ctx.device.memory_total_mib,
        used_max_mib: used_max,
        headroom_mib: (ctx.device.memory_total_mib - used_max).max(0.0),
    });
    let mut service = None;
    let mut llm = None;
    if let Some(log) = log {
        let sized: Vec<&Request> = log.iter().filter(|r| r.batch_size.is_some()).collect();
        if !sized.is_empty() && ctx.llm.is_none() {
            let batch: Vec<f64> = sized.iter().filter_map(|r| r.batch_size).collect();
            let lat: Vec<f64> = sized.iter().map(|r| r.latency_s).collect();
            match fit::batch_linear(&batch, &lat) {
                Ok(f) => {
                    service = Some(ServiceFit {
                        base_ms: round(f.base_s * 1e3, 3),
                        per_item_ms: round(f.per_item_s * 1e3, 3),
                        r_squared: round(f.line.r_squared, 4),
                        rmse_ms: round(f.line.rmse * 1e3, 3),
                        requests: f.line.n as u64,
                        outliers: f.outliers_dropped as u64,
                    })
                }
                Err(e) => refused.push(format!("batch-linear service time: {e}")),
            }
        }
        match &ctx.llm {
            Some((roofline, _)) => {
                let e = fit_llm(roofline, log);
                let mut f = LlmFit {
                    prefill_efficiency: None,
                    prefill_r_squared: None,
                    decode_efficiency: None,
                    decode_p10: None,
                    decode_p90: None,
                    requests: e.requests as u64,
                };
                match e.prefill {
                    Ok((eff, r2)) => {
                        f.prefill_efficiency = Some(round(eff, 4));
                        f.prefill_r_squared = Some(round(r2, 4));
                    }
                    Err(r) => refused.push(format!("prefill (compute) efficiency: {r}")),
                }
                match e.decode {
                    Ok((eff, lo, hi)) => {
                        f.decode_efficiency = Some(round(eff, 4));
                        f.decode_p10 = Some(round(lo, 4));
                        f.decode_p90 = Some(round(hi, 4));
                    }
                    Err(r) => refused.push(format!("decode (memory) efficiency: {r}")),
                }
                if f.prefill_efficiency.is_some() || f.decode_efficiency.is_some() {
                    llm = Some(f);
                }
            }
            None if sized.is_empty() => refused.push(
                "LLM efficiency factors: the log has token counts; name the pool it ran on with --scenario FILE --pool NAME".into(),
            ),
            None => {}
        }
    }
    let mut by = BTreeMap::new();
    let mut add = |name: &str, xs: Vec<f64>| {
        if let Some(s) = stats(&xs) {
            by.insert(name.to_string(), s);
        }
    };
    add("gpu_util", util.clone());
    add(
        "memory_util",
        samples.iter().map(|s| s.memory_util).collect(),
    );
    add(
        "memory_used_mib",
        samples.iter().map(|s| s.memory_used_mib).collect(),
    );
    add("power_w", power.clone());
    add(
        "sm_clock_mhz",
        samples.iter().filter_map(|s| s.sm_clock_mhz).collect(),
    );
    add(
        "temperature_c",
        samples.iter().filter_map(|s| s.temperature_c).collect(),
    );
    add(
        "throttled",
        samples
            .iter()
            .map(|s| f64::from(u8::from(s.throttle_reasons != 0)))
            .collect(),
    );
    let duration_s = round(samples.iter().map(|s| s.t_s).fold(0.0, f64::max), 3);
    Profile {
        version: profile::VERSION,
        gpu: match &ctx.llm {
            Some((r, _)) => r.gpu.gpu_model.clone(),
            None => catalog_gpu(&ctx.device.name),
        },
        model: ctx.llm.as_ref().map(|(_, m)| m.clone()),
        provenance: Provenance {
            gpu_name: ctx.device.name.clone(),
            driver: ctx.system.driver_version.clone(),
            cuda: ctx.system.cuda_version.clone(),
            date: ctx.date.clone(),
            duration_s,
            interval_ms: ctx.interval_ms,
            samples: samples.len() as u64,
            devices: ctx.devices.clone(),
            command: ctx.command.clone(),
            log: ctx.log.clone(),
            replayed_from: ctx.replayed_from.clone(),
        },
        service,
        llm,
        power: power_fit,
        memory,
        refused,
        samples: by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvml_names_become_catalog_names() {
        assert_eq!(catalog_gpu("NVIDIA L40S"), "L40S");
        assert_eq!(catalog_gpu("NVIDIA H100 80GB HBM3"), "H100");
        assert_eq!(catalog_gpu("Tesla T4"), "T4");
        assert_eq!(catalog_gpu("NVIDIA A10G"), "A10G");
    }
}
