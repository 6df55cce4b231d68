//! A measurement of this machine's GPUs: list them, start the user's command, read the GPUs
//! until it exits, the time is up or the caller says stop, and say what was measured and how
//! (the [`Context`] a profile records).
//!
//! The front end parses the arguments, owns the stop flag (Ctrl-c) and prints; nothing here
//! prints.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::build_profile::Context;
use super::nvml::NvmlSource;
use super::sampler::{Options, Recording, record};
use super::source::{DeviceInfo, GpuSource, Sample, SourceError, SystemInfo};
use crate::units::SimTime;

/// Why a measurement could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("cannot start {program:?}")]
    Start {
        program: String,
        source: std::io::Error,
    },
}

/// The GPUs NVML lists, with the driver they run under.
pub struct Gpus {
    source: NvmlSource,
    pub system: SystemInfo,
    pub devices: Vec<DeviceInfo>,
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// GPU indices, each one NVML lists.
    pub devices: Vec<u32>,
    pub interval: SimTime,
    /// How long to sample; with a command, at most this long; `None`: until it exits.
    pub duration: Option<SimTime>,
    /// The command to run and measure (program and arguments), if any.
    pub command: Vec<String>,
}

/// A measurement under way: the command started, the GPUs not read yet.
pub struct Sampling {
    gpus: Gpus,
    measurement: Measurement,
    child: Option<Child>,
    stop: Arc<AtomicBool>,
    /// When it started (RFC 3339, whole seconds, UTC).
    date: String,
}

impl Gpus {
    /// Loads NVML from `lib` (see [`NvmlSource::open`]) and lists the GPUs.
    pub fn open(lib: Option<&Path>) -> Result<Gpus, SourceError> {
        let source = NvmlSource::open(lib)?;
        let system = source.system()?;
        let devices = source.devices()?;
        Ok(Gpus {
            source,
            system,
            devices,
        })
    }

    /// One reading of every GPU, now.
    pub fn now(&self) -> Result<Vec<Sample>, SourceError> {
        self.devices
            .iter()
            .map(|d| self.source.sample(d.index, 0.0))
            .collect()
    }

    /// Starts `measurement`'s command, if it has one; setting `stop` ends sampling early.
    pub fn start(
        self,
        measurement: Measurement,
        stop: Arc<AtomicBool>,
    ) -> Result<Sampling, MeasureError> {
        let child = match measurement.command.split_first() {
            Some((program, rest)) => {
                Some(Command::new(program).args(rest).spawn().map_err(|source| {
                    MeasureError::Start {
                        program: program.clone(),
                        source,
                    }
                })?)
            }
            None => None,
        };
        Ok(Sampling {
            gpus: self,
            measurement,
            child,
            stop,
            date: now_rfc3339(),
        })
    }
}

impl Sampling {
    /// The GPUs it reads.
    pub fn devices(&self) -> &[u32] {
        &self.measurement.devices
    }

    pub fn interval(&self) -> SimTime {
        self.measurement.interval
    }

    /// Whether it samples while a command runs.
    pub fn runs_command(&self) -> bool {
        self.child.is_some()
    }

    /// Reads the GPUs until the duration is up, the command exits (which sets the stop flag) or
    /// the stop flag is set; a command still running then is killed. The context has no log,
    /// replay or LLM pool; the caller adds those.
    pub fn record(mut self) -> Result<(Context, Recording), MeasureError> {
        let m = &self.measurement;
        let opts = Options {
            interval: Duration::from_nanos(m.interval.0),
            duration: m.duration.map(|d| Duration::from_nanos(d.0)),
            devices: m.devices.clone(),
        };
        let (stop, source) = (&self.stop, &self.gpus.source);
        let done = AtomicBool::new(false);
        let rec = std::thread::scope(|s| {
            if let Some(c) = self.child.as_mut() {
                let done = &done;
                s.spawn(move || {
                    // Poll rather than wait(), so the child can still be stopped when the
                    // duration ends.
                    while !done.load(Ordering::Relaxed) {
                        if let Ok(Some(_)) = c.try_wait() {
                            stop.store(true, Ordering::Relaxed);
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    let _ = c.kill();
                    let _ = c.wait();
                });
            }
            let r = record(source, &opts, stop);
            done.store(true, Ordering::Relaxed);
            r
        })?;
        let first = self
            .gpus
            .devices
            .iter()
            .find(|d| d.index == m.devices[0])
            .expect("devices were checked")
            .clone();
        let ctx = Context {
            system: self.gpus.system.clone(),
            device: first,
            devices: m.devices.clone(),
            date: self.date.clone(),
            interval_ms: m.interval.as_millis_f64(),
            command: (!m.command.is_empty()).then(|| m.command.join(" ")),
            log: None,
            replayed_from: None,
            llm: None,
        };
        Ok((ctx, rec))
    }
}

fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    chrono::DateTime::from_timestamp(d.as_secs() as i64, 0).map_or_else(String::new, |t| {
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}
