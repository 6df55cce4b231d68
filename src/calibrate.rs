//! Calibration from live NVML measurements: read the GPUs while the user's workload runs, join
//! what they did with what the service did, and fit the simulator's parameters to it.
//!
//! [`source`] is the interface to the GPUs ([`nvml`] is the real one); [`measure`] runs the
//! user's command while [`sampler`] reads them at a steady interval; [`samples`] keeps what was
//! read as CSV, to replay; [`fit`] holds the least-squares fits and the rules for refusing a fit
//! the data cannot support, and [`build_profile`] turns them into a profile; [`files`] writes
//! the samples and the profile.

pub mod build_profile;
pub mod files;
pub mod fit;
pub mod llm_fit;
pub mod measure;
pub mod nvml;
pub mod requests;
pub mod sampler;
pub mod samples;
pub mod source;

pub use source::{DeviceInfo, GpuSource, Sample, SourceError, SystemInfo};
