//! Reading the GPUs at a steady interval.
//!
//! Tick `k` is due at `start + k × interval`, whatever the previous ticks took, so the interval
//! does not drift: a slow read makes the next sleep shorter, not the series longer. A tick that
//! is already a whole interval late is skipped (and counted) rather than bunched up. Sampling
//! stops when the duration is up or when `stop` is set (Ctrl-c, or the measured command ended),
//! and what was read until then is kept.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::fit::{Summary, summary};
use super::source::{GpuSource, Sample, SourceError};

/// What to read, and how often.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub interval: Duration,
    /// Stop after this long; `None`: until `stop` is set.
    pub duration: Option<Duration>,
    pub devices: Vec<u32>,
}

/// The samples, and how steady the clock was.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    pub samples: Vec<Sample>,
    /// Ticks taken.
    pub ticks: u64,
    /// Ticks skipped because the previous one ran a whole interval over.
    pub skipped: u64,
    /// Seconds from each tick's due time to its first read.
    pub lateness_s: Summary,
    /// CPU time of the sampling thread per tick, seconds (all devices), where the OS tells.
    pub cpu_per_tick_s: Option<f64>,
    pub elapsed: Duration,
}

/// Reads `opts.devices` every `opts.interval` until the duration is up or `stop` is set.
pub fn record(
    source: &dyn GpuSource,
    opts: &Options,
    stop: &AtomicBool,
) -> Result<Recording, SourceError> {
    let interval = opts.interval.max(Duration::from_micros(100));
    let start = Instant::now();
    let cpu_start = thread_cpu_time();
    let mut samples = Vec::new();
    let mut lateness = Vec::new();
    let (mut ticks, mut skipped) = (0u64, 0u64);
    let mut k: u32 = 0;
    loop {
        let due = start + interval * k;
        if let Some(d) = opts.duration
            && due - start > d
        {
            break;
        }
        let now = Instant::now();
        if now < due {
            // Sleep in slices, so Ctrl-c stops a long interval promptly.
            let mut left = due - now;
            while left > Duration::ZERO && !stop.load(Ordering::Relaxed) {
                let nap = left.min(Duration::from_millis(50));
                std::thread::sleep(nap);
                left = due.saturating_duration_since(Instant::now());
            }
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now = Instant::now();
        let late = now.saturating_duration_since(due);
        if late >= interval {
            // A whole tick behind: skip to the next one that is still ahead.
            let behind = (late.as_nanos() / interval.as_nanos()) as u32;
            skipped += u64::from(behind);
            k += behind;
            continue;
        }
        lateness.push(late.as_secs_f64());
        let t_s = (due - start).as_secs_f64();
        for &d in &opts.devices {
            samples.push(source.sample(d, t_s)?);
        }
        ticks += 1;
        k += 1;
    }
    let cpu_per_tick_s = match (cpu_start, thread_cpu_time()) {
        (Some(a), Some(b)) if ticks > 0 => Some((b - a) / ticks as f64),
        _ => None,
    };
    Ok(Recording {
        samples,
        ticks,
        skipped,
        lateness_s: summary(&lateness),
        cpu_per_tick_s,
        elapsed: start.elapsed(),
    })
}

/// CPU seconds this thread has used (the OS's per-thread CPU clock); `None` where there is none.
fn thread_cpu_time() -> Option<f64> {
    cpu_time::ThreadTime::try_now()
        .ok()
        .map(|t| t.as_duration().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::source::{DeviceInfo, SystemInfo};
    use std::sync::atomic::AtomicU64;

    /// A source that takes `cost` per read and counts reads.
    struct Slow {
        cost: Duration,
        reads: AtomicU64,
    }

    impl GpuSource for Slow {
        fn system(&self) -> Result<SystemInfo, SourceError> {
            Ok(SystemInfo::default())
        }
        fn devices(&self) -> Result<Vec<DeviceInfo>, SourceError> {
            Ok(Vec::new())
        }
        fn sample(&self, index: u32, t_s: f64) -> Result<Sample, SourceError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(self.cost);
            Ok(Sample {
                t_s,
                device: index,
                gpu_util: 0.5,
                memory_util: 0.1,
                memory_used_mib: 1.0,
                power_w: 100.0,
                sm_clock_mhz: None,
                memory_clock_mhz: None,
                temperature_c: None,
                throttle_reasons: 0,
                energy_j: None,
            })
        }
    }

    #[test]
    fn ticks_are_due_on_a_fixed_grid() {
        let src = Slow {
            cost: Duration::from_millis(3),
            reads: AtomicU64::new(0),
        };
        let opts = Options {
            interval: Duration::from_millis(10),
            duration: Some(Duration::from_millis(200)),
            devices: vec![0, 1],
        };
        let r = record(&src, &opts, &AtomicBool::new(false)).unwrap();
        // Stamps are the due times: exact multiples of the interval, whatever the reads cost.
        for s in &r.samples {
            let k = s.t_s / 0.010;
            assert!((k - k.round()).abs() < 1e-6, "{}", s.t_s);
        }
        assert_eq!(r.samples.len() as u64, 2 * r.ticks);
        assert_eq!(r.ticks + r.skipped, 21, "0, 10, …, 200 ms");
    }

    #[test]
    fn a_slow_read_skips_ticks_instead_of_bunching_them() {
        let src = Slow {
            cost: Duration::from_millis(25),
            reads: AtomicU64::new(0),
        };
        let opts = Options {
            interval: Duration::from_millis(10),
            duration: Some(Duration::from_millis(200)),
            devices: vec![0],
        };
        let r = record(&src, &opts, &AtomicBool::new(false)).unwrap();
        assert!(r.skipped > 0);
        assert!(r.ticks < 12, "{}", r.ticks);
    }

    #[test]
    fn stop_ends_sampling_and_keeps_what_was_read() {
        let src = Slow {
            cost: Duration::ZERO,
            reads: AtomicU64::new(0),
        };
        let opts = Options {
            interval: Duration::from_millis(5),
            duration: None,
            devices: vec![0],
        };
        let stop = AtomicBool::new(false);
        let r = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                stop.store(true, Ordering::Relaxed);
            });
            record(&src, &opts, &stop).unwrap()
        });
        assert!(r.ticks >= 5, "{}", r.ticks);
        assert!(r.elapsed < Duration::from_secs(2));
    }
}
