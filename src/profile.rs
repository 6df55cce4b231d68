//! GPU profiles: what `headroom calibrate` measured on a GPU, as a TOML file for `profiles/`
//! that scenarios reference. A profile holds fitted parameters (each with its fit's quality),
//! summary statistics of the samples, and provenance (GPU, driver, date, duration, command; no
//! serial numbers or UUIDs), so it can be reviewed in a pull request like a scenario.

use serde::{Deserialize, Serialize};

/// The format version this build writes and reads.
pub const VERSION: i64 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub version: i64,
    /// The GPU model as the price catalog names it (`gpu_model`, e.g. `L40S`): pools on this GPU
    /// use the profile.
    pub gpu: String,
    /// Only pools serving this model use the service-time fit, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub provenance: Provenance,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceFit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmFit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power: Option<PowerFit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Fits that were refused, and why (so a reviewer sees what the data could not support).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// Summary statistics of the samples, by quantity.
    #[serde(default)]
    pub samples: std::collections::BTreeMap<String, Stats>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// As NVML names it, e.g. `NVIDIA L40S`.
    pub gpu_name: String,
    pub driver: String,
    pub cuda: String,
    /// When sampling began, RFC 3339, UTC.
    pub date: String,
    pub duration_s: f64,
    pub interval_ms: f64,
    pub samples: u64,
    pub devices: Vec<u32>,
    /// The measured command, when calibrate started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The request log joined with the samples, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Recomputed from recorded samples (`--replay`) rather than measured now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed_from: Option<String>,
}

/// Batch-linear service time: `base_ms + per_item_ms × batch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFit {
    pub base_ms: f64,
    pub per_item_ms: f64,
    pub r_squared: f64,
    pub rmse_ms: f64,
    pub requests: u64,
    /// Requests left out as outliers.
    pub outliers: u64,
}

/// Efficiency factors of an LLM against the roofline: the share of peak compute its prefills
/// reach (replaces `efficiency.compute` and `compute_8bit`) and the share of peak bandwidth its
/// decode steps reach (replaces `efficiency.memory`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmFit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill_efficiency: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill_r_squared: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_efficiency: Option<f64>,
    /// The middle 80 % of the per-request decode ratios.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_p10: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_p90: Option<f64>,
    pub requests: u64,
}

/// Power against utilization: `idle_w + dynamic_w × utilization` per GPU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerFit {
    pub idle_w: f64,
    pub dynamic_w: f64,
    pub r_squared: f64,
    pub rmse_w: f64,
    /// The enforced power limit when measured.
    pub limit_w: f64,
}

impl PowerFit {
    /// Watts at `utilization` (0–1), never above the limit.
    pub fn watts(&self, utilization: f64) -> f64 {
        (self.idle_w + self.dynamic_w * utilization.clamp(0.0, 1.0)).min(self.limit_w)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    pub total_mib: f64,
    pub used_max_mib: f64,
    /// `total − used_max`: room left at the workload's peak.
    pub headroom_mib: f64,
}

/// Summary statistics of one quantity over the samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub min: f64,
    pub max: f64,
}

/// Why a profile file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl Profile {
    /// The profile as a TOML file with a comment saying what it is.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("a profile serializes");
        format!(
            "# GPU profile measured by `headroom calibrate`; recompute from the samples with\n# `headroom calibrate --replay SAMPLES.csv`. Scenarios use it with `profiles = [\"this file\"]`.\n{body}"
        )
    }

    /// Parses a profile; errors name the file, line and field.
    pub fn parse(text: &str, name: &str) -> Result<Profile, ProfileError> {
        let p: Profile = toml::from_str(text).map_err(|e| ProfileError::Invalid {
            path: match e.span() {
                Some(span) => {
                    let line = text[..span.start].matches('\n').count() + 1;
                    format!("{name}:{line}")
                }
                None => name.to_string(),
            },
            message: e.message().to_string(),
        })?;
        if p.version != VERSION {
            return Err(ProfileError::Invalid {
                path: name.to_string(),
                message: format!(
                    "version {} is not one this build reads ({VERSION})",
                    p.version
                ),
            });
        }
        Ok(p)
    }

    pub fn read(path: &std::path::Path) -> Result<Profile, ProfileError> {
        let text = crate::data_file::read_string(path).map_err(|source| ProfileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Profile::parse(&text, &path.display().to_string())
    }
}
