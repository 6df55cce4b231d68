//! The real GPUs, through NVML (nvml-wrapper).
//!
//! NVML is loaded at run time (dlopen), so headroom builds and runs on machines without the NVIDIA
//! driver: only [`NvmlSource::open`] needs the library, and where it cannot be loaded the answer
//! is [`SourceError::NoLibrary`], not a crash. The library is the one `open` is given, else the
//! file named by `HEADROOM_NVML_LIB`, else `libnvidia-ml.so.1` where the driver installs it;
//! tests point it at a stub (`tests/fixtures/nvml_stub.c`) to exercise the same FFI path.
//!
//! Readings a GPU or driver does not offer (`NotSupported`, or a function an older driver lacks)
//! become `None` (throttle reasons: 0); the utilization, memory and power a calibration cannot do
//! without are errors.
//!
//! Device handles are looked up on every call, not cached: nvml-wrapper's `Device` borrows the
//! `Nvml` it came from, so caching them would make this struct self-referential (unsafe code or
//! another crate), and the lookup is one call among the nine a sample makes. Against the stub a
//! whole sample costs about 75 ns (release build), so what a sample costs on a real GPU is the
//! driver's reads, not this code.

use std::ffi::OsString;
use std::path::Path;

use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::{Device, Nvml, cuda_driver_version_major, cuda_driver_version_minor};

use super::source::{DeviceInfo, GpuSource, Sample, SourceError, SystemInfo};

/// The environment variable naming the NVML library when `open` is not given one.
pub const LIB_ENV: &str = "HEADROOM_NVML_LIB";

const BYTES_PER_MIB: f64 = 1024.0 * 1024.0;

/// The GPUs of this machine, read through NVML. Dropping it shuts NVML down.
#[derive(Debug)]
pub struct NvmlSource {
    nvml: Nvml,
}

impl NvmlSource {
    /// Loads and initialises NVML from `lib`, else from `$HEADROOM_NVML_LIB`, else from the
    /// driver's `libnvidia-ml.so.1`.
    pub fn open(lib: Option<&Path>) -> Result<NvmlSource, SourceError> {
        let path: Option<OsString> = match lib {
            Some(p) => Some(p.as_os_str().to_owned()),
            None => std::env::var_os(LIB_ENV).filter(|v| !v.is_empty()),
        };
        let nvml = match &path {
            Some(p) => Nvml::builder().lib_path(p).init(),
            None => Nvml::init(),
        };
        nvml.map(|nvml| NvmlSource { nvml }).map_err(open_error)
    }

    fn device(&self, index: u32) -> Result<Device<'_>, SourceError> {
        self.nvml
            .device_by_index(index)
            .map_err(|e| SourceError::Nvml(format!("finding GPU {index}: {e}")))
    }

    fn device_info(&self, index: u32) -> Result<DeviceInfo, SourceError> {
        let d = self.device(index)?;
        let what = |reading| Reading { reading, index };
        let memory = d.memory_info().map_err(failed(what("memory")))?;
        let limit_mw = d
            .enforced_power_limit()
            .map_err(failed(what("power limit")))?;
        Ok(DeviceInfo {
            index,
            name: d.name().map_err(failed(what("name")))?,
            uuid: d.uuid().map_err(failed(what("UUID")))?,
            memory_total_mib: memory.total as f64 / BYTES_PER_MIB,
            power_limit_w: f64::from(limit_mw) / 1000.0,
            sm_clock_max_mhz: optional(d.max_clock_info(Clock::SM), what("max SM clock"))?
                .map(f64::from),
            memory_clock_max_mhz: optional(
                d.max_clock_info(Clock::Memory),
                what("max memory clock"),
            )?
            .map(f64::from),
            sm_count: optional(d.attributes(), what("attributes"))?.map(|a| a.multiprocessor_count),
        })
    }
}

impl GpuSource for NvmlSource {
    fn system(&self) -> Result<SystemInfo, SourceError> {
        let driver_version = self
            .nvml
            .sys_driver_version()
            .map_err(|e| nvml_error("the driver version", e))?;
        // Optional: older or trimmed libraries lack the symbol, and the GPUs are still listed.
        let cuda_version = match self.nvml.sys_cuda_driver_version() {
            Ok(cuda) => format!(
                "{}.{}",
                cuda_driver_version_major(cuda),
                cuda_driver_version_minor(cuda)
            ),
            Err(
                NvmlError::NotSupported
                | NvmlError::FunctionNotFound
                | NvmlError::FailedToLoadSymbol(_),
            ) => String::new(),
            Err(e) => return Err(nvml_error("the CUDA version", e)),
        };
        Ok(SystemInfo {
            driver_version,
            cuda_version,
        })
    }

    fn devices(&self) -> Result<Vec<DeviceInfo>, SourceError> {
        let count = self
            .nvml
            .device_count()
            .map_err(|e| nvml_error("the GPU count", e))?;
        (0..count).map(|index| self.device_info(index)).collect()
    }

    fn sample(&self, index: u32, t_s: f64) -> Result<Sample, SourceError> {
        let d = self.device(index)?;
        let what = |reading| Reading { reading, index };
        // Utilization first: it covers the last sample period, and the other readings are of now.
        let util = d.utilization_rates().map_err(failed(what("utilization")))?;
        let memory = d.memory_info().map_err(failed(what("memory")))?;
        let power_mw = d.power_usage().map_err(failed(what("power")))?;
        let sm_clock = optional(d.clock_info(Clock::SM), what("SM clock"))?;
        let memory_clock = optional(d.clock_info(Clock::Memory), what("memory clock"))?;
        let temperature = optional(d.temperature(TemperatureSensor::Gpu), what("temperature"))?;
        let throttle = optional(d.current_throttle_reasons(), what("throttle reasons"))?;
        let energy_mj = optional(d.total_energy_consumption(), what("energy"))?;
        Ok(Sample {
            t_s,
            device: index,
            gpu_util: f64::from(util.gpu) / 100.0,
            memory_util: f64::from(util.memory) / 100.0,
            memory_used_mib: memory.used as f64 / BYTES_PER_MIB,
            power_w: f64::from(power_mw) / 1000.0,
            sm_clock_mhz: sm_clock.map(f64::from),
            memory_clock_mhz: memory_clock.map(f64::from),
            temperature_c: temperature.map(f64::from),
            throttle_reasons: throttle.map_or(0, |r| r.bits()),
            energy_j: energy_mj.map(|mj| mj as f64 / 1000.0),
        })
    }
}

/// Why `open` failed: the library could not be loaded, or it is not NVML, or NVML refused.
fn open_error(e: NvmlError) -> SourceError {
    match e {
        // libloading's message names the file and the loader's reason ("cannot open shared
        // object file", "invalid ELF header").
        NvmlError::LibloadingError(e) => SourceError::NoLibrary(e.to_string()),
        // The file loaded but has no nvmlInit_v2: something other than NVML.
        NvmlError::FailedToLoadSymbol(e) => {
            SourceError::NoLibrary(format!("not an NVML library: {e}"))
        }
        e => SourceError::Nvml(format!("initialising: {e}")),
    }
}

/// What was being read when NVML failed, kept cheap: the message is built only on failure.
#[derive(Clone, Copy)]
struct Reading {
    reading: &'static str,
    index: u32,
}

impl std::fmt::Display for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} of GPU {}", self.reading, self.index)
    }
}

fn nvml_error(what: impl std::fmt::Display, e: NvmlError) -> SourceError {
    SourceError::Nvml(format!("reading {what}: {e}"))
}

fn failed(what: Reading) -> impl Fn(NvmlError) -> SourceError {
    move |e| nvml_error(what, e)
}

/// A reading this GPU or driver may not offer: `None` where it does not.
fn optional<T>(reading: Result<T, NvmlError>, what: Reading) -> Result<Option<T>, SourceError> {
    match reading {
        Ok(v) => Ok(Some(v)),
        Err(
            NvmlError::NotSupported
            | NvmlError::FunctionNotFound
            | NvmlError::FailedToLoadSymbol(_),
        ) => Ok(None),
        Err(e) => Err(nvml_error(what, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_no_library() {
        let missing = Path::new("/nonexistent/headroom/libnvidia-ml.so.1");
        match NvmlSource::open(Some(missing)) {
            Err(SourceError::NoLibrary(reason)) => {
                assert!(reason.contains("/nonexistent/headroom"), "{reason}")
            }
            other => panic!("expected NoLibrary, got {other:?}"),
        }
    }

    #[test]
    fn unsupported_readings_are_none_and_others_are_errors() {
        let what = Reading {
            reading: "power",
            index: 1,
        };
        assert!(matches!(
            optional::<u32>(Err(NvmlError::NotSupported), what),
            Ok(None)
        ));
        assert!(matches!(optional(Ok(3u32), what), Ok(Some(3))));
        match optional::<u32>(Err(NvmlError::GpuLost), what) {
            Err(SourceError::Nvml(m)) => assert!(m.contains("the power of GPU 1"), "{m}"),
            other => panic!("expected an NVML error, got {other:?}"),
        }
    }
}
