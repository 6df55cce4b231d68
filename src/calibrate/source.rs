//! Where GPU measurements come from: a small interface over NVML, so that sampling, logging and
//! fitting are tested on scripted data, and the real library is one implementation of it.

use serde::{Deserialize, Serialize};

/// What a GPU is, read once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub index: u32,
    pub name: String,
    pub uuid: String,
    pub memory_total_mib: f64,
    /// Enforced power limit, watts.
    pub power_limit_w: f64,
    pub sm_clock_max_mhz: Option<f64>,
    pub memory_clock_max_mhz: Option<f64>,
    pub sm_count: Option<u32>,
}

/// The driver and CUDA versions, as NVML reports them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemInfo {
    pub driver_version: String,
    /// e.g. `12.4`.
    pub cuda_version: String,
}

/// One reading of one GPU. Fields a GPU does not report are `None`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since sampling began.
    pub t_s: f64,
    pub device: u32,
    /// Share of the last period a kernel ran (0–1).
    pub gpu_util: f64,
    /// Share of the last period memory was read or written (0–1).
    pub memory_util: f64,
    pub memory_used_mib: f64,
    pub power_w: f64,
    pub sm_clock_mhz: Option<f64>,
    pub memory_clock_mhz: Option<f64>,
    pub temperature_c: Option<f64>,
    /// NVML's throttle (clocks event) reasons bit mask; 0 is none.
    pub throttle_reasons: u64,
    /// Energy counter since the driver loaded, joules, where the GPU has one.
    pub energy_j: Option<f64>,
}

/// Why a source could not answer.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// No NVIDIA driver library: the one-sentence answer for machines without a GPU.
    #[error(
        "cannot load the NVIDIA management library ({0}); this machine has no NVIDIA driver, or --nvml-lib / HEADROOM_NVML_LIB must point at libnvidia-ml.so.1"
    )]
    NoLibrary(String),
    #[error("NVML: {0}")]
    Nvml(String),
}

/// A set of GPUs that can be listed and read.
pub trait GpuSource {
    fn system(&self) -> Result<SystemInfo, SourceError>;
    fn devices(&self) -> Result<Vec<DeviceInfo>, SourceError>;
    /// Reads device `index` now; `t_s` is stamped by the caller.
    fn sample(&self, index: u32, t_s: f64) -> Result<Sample, SourceError>;
}
