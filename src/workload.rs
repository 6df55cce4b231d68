//! Workloads: streams of inference requests, how they are dispatched to replicas, and their SLOs.

pub mod arrival;
pub mod tokens;
pub mod trace;

use std::path::PathBuf;

use crate::units::SimTime;

pub use arrival::{Arrivals, Arrived, Request};
pub use tokens::{TokenDist, TokenSpec};
pub use trace::{TimeUnit, TraceError};

/// One stream of requests for one model.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub name: String,
    /// The model's name, for reports.
    pub model: String,
    pub arrival: Arrival,
    /// Token counts for requests whose trace does not record them.
    pub tokens: Option<TokenSpec>,
    pub dispatch: Dispatch,
    pub slo: Option<Slo>,
    /// The name of the random streams its arrivals and tokens draw from: its own name, or one
    /// shared with other workloads so that they see the same requests (common random numbers).
    pub stream: String,
}

/// How requests arrive.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrival {
    /// A Poisson process at `rate` requests per second.
    Poisson { rate: f64 },
    /// A non-homogeneous Poisson process with a daily shape: `rate` is the mean over a weekday
    /// (simulated time zero is midnight on a Monday) and Saturdays and Sundays run at `weekend`
    /// times the weekday's rate, hour by hour.
    Diurnal {
        rate: f64,
        shape: DailyShape,
        weekend: f64,
    },
    /// A two-state Markov-modulated Poisson process: calm and burst periods of exponentially
    /// distributed length, each with its own rate.
    Bursty {
        calm_rate: f64,
        burst_rate: f64,
        calm_mean: SimTime,
        burst_mean: SimTime,
    },
    /// Replay of a CSV trace, streamed.
    Trace(TraceSpec),
    /// `count` requests all at `at`: an offline batch job, or a benchmark's static batch.
    Batch { count: u64, at: SimTime },
    /// A closed loop, as load generators run it (`--max-concurrency`): `concurrency` requests in
    /// flight from the start, each finished one replaced at once, `count` in all.
    Closed { concurrency: u64, count: u64 },
}

impl Arrival {
    /// The long-run mean rate in requests per second, where it is known without reading a trace.
    pub fn mean_rate(&self) -> Option<f64> {
        match self {
            Arrival::Poisson { rate } | Arrival::Diurnal { rate, .. } => Some(*rate),
            Arrival::Bursty {
                calm_rate,
                burst_rate,
                ..
            } => {
                let b = self.burst_share().expect("bursty");
                Some(calm_rate * (1.0 - b) + burst_rate * b)
            }
            Arrival::Trace(_) | Arrival::Batch { .. } | Arrival::Closed { .. } => None,
        }
    }

    /// Whether the workload sends a fixed number of requests as fast as it is served (a batch
    /// or a closed loop): its rates are over the makespan.
    pub fn is_offline(&self) -> bool {
        matches!(self, Arrival::Batch { .. } | Arrival::Closed { .. })
    }

    /// A bursty process's long-run share of time in bursts (the two-state chain's stationary
    /// probability of the burst state).
    pub fn burst_share(&self) -> Option<f64> {
        match self {
            Arrival::Bursty {
                calm_mean,
                burst_mean,
                ..
            } => {
                let (c, b) = (calm_mean.as_secs_f64(), burst_mean.as_secs_f64());
                Some(b / (c + b))
            }
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Arrival::Poisson { .. } => "poisson",
            Arrival::Diurnal { .. } => "diurnal",
            Arrival::Bursty { .. } => "bursty",
            Arrival::Trace(_) => "trace",
            Arrival::Batch { .. } => "batch",
            Arrival::Closed { .. } => "closed",
        }
    }
}

/// The factor of a diurnal rate at `seconds` from the start (a Monday's midnight): `weekend` on
/// Saturdays and Sundays, one on weekdays.
pub fn day_factor(seconds: f64, weekend: f64) -> f64 {
    let day = (seconds / 86_400.0).floor().rem_euclid(7.0);
    if day >= 5.0 { weekend } else { 1.0 }
}

/// The shape of a day, as multipliers of the mean rate that average to one.
#[derive(Clone, Debug, PartialEq)]
pub enum DailyShape {
    /// `1 + a cos(2 pi (hour - peak_hour) / 24)` with `a` set by the peak-to-trough ratio.
    Sinusoid { peak_to_trough: f64, peak_hour: f64 },
    /// One multiplier per hour of the day, held constant through the hour; normalised to mean one.
    Hourly([f64; 24]),
}

impl DailyShape {
    /// Rate multiplier at `hour` (any real number; the shape repeats daily).
    pub fn multiplier(&self, hour: f64) -> f64 {
        match self {
            DailyShape::Sinusoid {
                peak_to_trough,
                peak_hour,
            } => {
                let a = (peak_to_trough - 1.0) / (peak_to_trough + 1.0);
                1.0 + a * (std::f64::consts::TAU * (hour - peak_hour) / 24.0).cos()
            }
            DailyShape::Hourly(m) => m[hour.rem_euclid(24.0) as usize % 24],
        }
    }

    /// The largest multiplier of the day: the peak rate over the mean.
    pub fn peak(&self) -> f64 {
        self.bounds(0.0, 24.0).1
    }

    /// The smallest and largest multiplier between hours `from` and `to` of one day
    /// (`0 <= from < to <= 24`), for thinning.
    pub fn bounds(&self, from: f64, to: f64) -> (f64, f64) {
        match self {
            DailyShape::Hourly(m) => {
                let first = from.floor() as usize;
                let last = ((to.ceil() as usize).max(first + 1)).min(24);
                m[first..last]
                    .iter()
                    .fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
                        (lo.min(*x), hi.max(*x))
                    })
            }
            DailyShape::Sinusoid { peak_hour, .. } => {
                let within = |h: f64| {
                    let h = h.rem_euclid(24.0);
                    (from..=to).contains(&h) || (from..=to).contains(&(h + 24.0))
                };
                let (a, b) = (self.multiplier(from), self.multiplier(to));
                let hi = if within(*peak_hour) {
                    self.multiplier(*peak_hour)
                } else {
                    a.max(b)
                };
                let trough = peak_hour + 12.0;
                let lo = if within(trough) {
                    self.multiplier(trough)
                } else {
                    a.min(b)
                };
                (lo, hi)
            }
        }
    }
}

/// Where a trace is and how to read it.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSpec {
    /// The file, resolved against the scenario's folder.
    pub path: PathBuf,
    /// The path as the scenario wrote it, for messages.
    pub display: String,
    pub time_column: String,
    pub time_unit: TimeUnit,
    /// Multiplies the gaps between arrivals: 0.5 replays twice as fast.
    pub time_scale: f64,
    /// Multiplies the number of requests, keeping the daily shape: 1.6 is "60 % more traffic".
    pub rate_multiplier: f64,
    /// A column holding each request's recorded service time.
    pub service_time_column: Option<(String, TimeUnit)>,
    /// Columns of input and output token counts, for LLM serving.
    pub input_tokens_column: Option<String>,
    pub output_tokens_column: Option<String>,
    /// A column of prompt-prefix block hashes, and how many tokens one block covers.
    pub prefix_column: Option<String>,
    pub prefix_block_tokens: u32,
}

impl TraceSpec {
    /// The columns to read.
    pub fn columns(&self) -> trace::Columns<'_> {
        trace::Columns {
            time: &self.time_column,
            time_unit: self.time_unit,
            service: self
                .service_time_column
                .as_ref()
                .map(|(c, u)| (c.as_str(), *u)),
            input_tokens: self.input_tokens_column.as_deref(),
            output_tokens: self.output_tokens_column.as_deref(),
            prefix: self.prefix_column.as_deref(),
        }
    }
}

/// How requests reach replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// One FIFO queue for all replicas of the workload (the M/M/c discipline).
    SharedQueue,
    /// Each request to the next replica in turn; a queue per replica.
    RoundRobin,
    /// Each request to the replica with the fewest requests queued or in service (for an LLM,
    /// the fewest tokens still to process).
    LeastOutstanding,
    /// Two replicas at random; the request goes to the one with fewer outstanding.
    PowerOfTwo,
    /// LLM: to the replica that has cached the longest prefix of the prompt; ties to the one with
    /// the fewest outstanding tokens.
    PrefixAware,
}

impl Policy {
    pub const ALL: [Policy; 5] = [
        Policy::SharedQueue,
        Policy::RoundRobin,
        Policy::LeastOutstanding,
        Policy::PowerOfTwo,
        Policy::PrefixAware,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::SharedQueue => "shared-queue",
            Policy::RoundRobin => "round-robin",
            Policy::LeastOutstanding => "least-outstanding",
            Policy::PowerOfTwo => "power-of-two",
            Policy::PrefixAware => "prefix-aware",
        }
    }

    pub fn parse(s: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Dispatch policy and the limits that make a request fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatch {
    pub policy: Policy,
    /// Most requests waiting in one queue (the shared queue, or each replica's); more are dropped.
    pub queue_capacity: Option<u32>,
    /// A request not finished this long after arrival is abandoned by its client: removed if it is
    /// still queued, counted as timed out (its work wasted) if it is in service.
    pub timeout: Option<SimTime>,
}

/// The latency objectives of a workload: 99 % of requests within each target given. Dropped and
/// timed-out requests count as misses of every target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slo {
    /// End-to-end latency (arrival to last token).
    pub p99: Option<SimTime>,
    /// Time to first token (LLM workloads).
    pub ttft_p99: Option<SimTime>,
    /// Time per output token after the first (LLM workloads).
    pub tpot_p99: Option<SimTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinusoid_has_its_ratio_and_peak() {
        let s = DailyShape::Sinusoid {
            peak_to_trough: 3.0,
            peak_hour: 14.0,
        };
        let peak = s.multiplier(14.0);
        let trough = s.multiplier(2.0);
        assert!((peak / trough - 3.0).abs() < 1e-12);
        assert!((peak - 1.5).abs() < 1e-12);
        let mean: f64 = (0..24_000)
            .map(|i| s.multiplier(i as f64 / 1000.0))
            .sum::<f64>()
            / 24_000.0;
        assert!((mean - 1.0).abs() < 1e-9);
    }

    #[test]
    fn bounds_cover_the_curve() {
        let s = DailyShape::Sinusoid {
            peak_to_trough: 4.0,
            peak_hour: 13.5,
        };
        for (from, to) in [
            (0.0, 1.0),
            (13.0, 14.0),
            (1.0, 1.0 + 1.0 / 60.0),
            (23.0, 24.0),
            (1.0, 2.0),
        ] {
            let (lo, hi) = s.bounds(from, to);
            for k in 0..=100 {
                let m = s.multiplier(from + (to - from) * k as f64 / 100.0);
                assert!(
                    lo - 1e-12 <= m && m <= hi + 1e-12,
                    "[{from}, {to}]: {m} not in [{lo}, {hi}]"
                );
            }
        }
        assert_eq!(s.bounds(13.0, 14.0).1, 1.6);
        assert_eq!(s.bounds(1.0, 2.0).0, 0.4);
        let mut m = [1.0; 24];
        m[5] = 3.0;
        let h = DailyShape::Hourly(m);
        assert_eq!(h.bounds(5.0, 5.5), (3.0, 3.0));
        assert_eq!(h.bounds(4.0, 6.0), (1.0, 3.0));
    }

    #[test]
    fn bursty_mean_rate_weights_by_duration() {
        let a = Arrival::Bursty {
            calm_rate: 10.0,
            burst_rate: 100.0,
            calm_mean: SimTime::from_secs(90),
            burst_mean: SimTime::from_secs(10),
        };
        assert!((a.mean_rate().unwrap() - 19.0).abs() < 1e-12);
    }
}
