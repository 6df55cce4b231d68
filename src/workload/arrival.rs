//! Arrival generators: the next request of a workload, one at a time, in time order.
//!
//! Each generator is exact for its process: Poisson by exponential gaps; diurnal by thinning
//! (Lewis and Shedler) against the rate's maximum in each minute of the day, with its minimum as
//! a squeeze, so nearly every candidate is kept without evaluating the rate;
//! bursty by exponential gaps at the current state's rate, restarted at each state change (the
//! process is memoryless, so restarting is exact); traces by reading rows.

use std::collections::VecDeque;

use rand::RngExt;
use rand_distr::{Distribution, Exp1};

use super::tokens::TokenSampler;
use super::trace::{Row, TraceReader};
use super::{Arrival, DailyShape, TokenSpec, TraceError, TraceSpec};
use crate::rng::Stream;
use crate::units::SimTime;

/// A request as it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub arrival: SimTime,
    /// Service time recorded in a trace; zero when there is none.
    pub traced_service: SimTime,
    /// Prompt and output tokens (LLM serving); zero when the workload has none.
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// Where the engine keeps the request's prompt-prefix hashes, or [`Request::NO_PREFIX`].
    pub prefix: u32,
}

impl Request {
    pub const NO_PREFIX: u32 = u32::MAX;
}

/// A request and, if its trace records them, the hashes of its prompt's blocks.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrived {
    pub request: Request,
    pub prefix: Option<Box<[u64]>>,
}

/// The arrival process of one workload, running.
pub struct Arrivals {
    generator: Generator,
    rng: Stream,
    /// Token counts for requests whose trace does not record them, and their stream.
    input_tokens: Option<TokenSampler>,
    output_tokens: Option<TokenSampler>,
    token_rng: Stream,
    /// No arrivals before this time (seconds; a trace skips its earlier rows) ...
    from: f64,
    /// ... nor at or after this one.
    until: SimTime,
    /// Whether the process ran out of requests before `until` (the end of a trace).
    exhausted: bool,
}

enum Generator {
    Poisson {
        t: f64,
        rate: f64,
    },
    Diurnal {
        t: f64,
        rate: f64,
        shape: DailyShape,
        weekend: f64,
        /// Lower and upper bounds of the rate in each minute of the day.
        bounds: Box<[(f64, f64)]>,
    },
    Bursty {
        t: f64,
        rates: [f64; 2],
        means_s: [f64; 2],
        state: usize,
        state_end: f64,
    },
    Trace(Box<TraceArrivals>),
    Batch {
        left: u64,
        at: f64,
    },
    /// A closed loop: a request may be issued at each time in `ready` (when one finished; never
    /// earlier than the one before), `left` in all.
    Closed {
        left: u64,
        ready: std::collections::VecDeque<f64>,
    },
}

const SECONDS_PER_HOUR: f64 = 3600.0;
/// Thinning segments: one minute, 1,440 a day.
const SEGMENT_S: f64 = 60.0;
const SEGMENTS_PER_DAY: usize = 1440;

impl Arrivals {
    /// Starts the process of `arrival` at `from`, drawing gaps from `rng` and token counts (per
    /// `tokens`) from `token_rng`, with no arrivals from `until` on. A process started later than
    /// zero keeps its clock (a diurnal shape, a trace's times), so it begins where the day is.
    pub fn new(
        arrival: &Arrival,
        tokens: Option<&TokenSpec>,
        mut rng: Stream,
        token_rng: Stream,
        from: SimTime,
        until: SimTime,
    ) -> Result<Arrivals, TraceError> {
        let t0 = from.as_secs_f64();
        let generator = match arrival {
            Arrival::Poisson { rate } => Generator::Poisson { t: t0, rate: *rate },
            Arrival::Diurnal {
                rate,
                shape,
                weekend,
            } => {
                let hours = |i: usize| i as f64 * SEGMENT_S / SECONDS_PER_HOUR;
                let bounds = (0..SEGMENTS_PER_DAY)
                    .map(|i| {
                        let (lo, hi) = shape.bounds(hours(i), hours(i + 1));
                        (rate * lo, rate * hi)
                    })
                    .collect();
                Generator::Diurnal {
                    t: t0,
                    rate: *rate,
                    shape: shape.clone(),
                    weekend: *weekend,
                    bounds,
                }
            }
            Arrival::Bursty {
                calm_rate,
                burst_rate,
                calm_mean,
                burst_mean,
            } => {
                let means_s = [calm_mean.as_secs_f64(), burst_mean.as_secs_f64()];
                // Start in the stationary distribution of the two-state chain.
                let p_burst = arrival.burst_share().expect("bursty");
                let state = usize::from(rng.random::<f64>() < p_burst);
                let first: f64 = Exp1.sample(&mut rng);
                Generator::Bursty {
                    t: t0,
                    rates: [*calm_rate, *burst_rate],
                    means_s,
                    state,
                    state_end: t0 + first * means_s[state],
                }
            }
            Arrival::Trace(spec) => Generator::Trace(Box::new(TraceArrivals::open(spec)?)),
            Arrival::Batch { count, at } => Generator::Batch {
                left: *count,
                at: at.as_secs_f64().max(t0),
            },
            Arrival::Closed { concurrency, count } => Generator::Closed {
                left: *count,
                ready: std::iter::repeat_n(t0, *concurrency.min(count) as usize).collect(),
            },
        };
        Ok(Arrivals {
            generator,
            rng,
            input_tokens: tokens.and_then(|t| t.input.as_ref()).map(TokenSampler::new),
            output_tokens: tokens
                .and_then(|t| t.output.as_ref())
                .map(TokenSampler::new),
            token_rng,
            from: t0,
            until,
            exhausted: false,
        })
    }

    /// Whether the process ran out of requests before its end time (a trace that ended).
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// A closed loop's request finished (or failed) at `now_s`: the next may be issued then.
    /// Returns whether one is ready to issue; other processes ignore it.
    pub fn release(&mut self, now_s: f64) -> bool {
        match &mut self.generator {
            Generator::Closed { left, ready } => {
                let at = ready.back().map_or(now_s, |&last| last.max(now_s));
                ready.push_back(at);
                *left > 0
            }
            _ => false,
        }
    }

    /// The next request, or `None` when the process has ended (past `until`, or end of trace).
    #[inline]
    pub fn next_request(&mut self) -> Result<Option<Arrived>, TraceError> {
        let rng = &mut self.rng;
        let mut row = None;
        let t = match &mut self.generator {
            Generator::Poisson { t, rate } => {
                let gap: f64 = Exp1.sample(rng);
                *t += gap / *rate;
                *t
            }
            Generator::Diurnal {
                t,
                rate,
                shape,
                weekend,
                bounds,
            } => loop {
                if *t >= self.until.as_secs_f64() {
                    return Ok(None);
                }
                let segment = (*t / SEGMENT_S).floor();
                let day = crate::workload::day_factor(*t, *weekend);
                let (lower, upper) = bounds[segment as usize % SEGMENTS_PER_DAY];
                let (lower, upper) = (lower * day, upper * day);
                let segment_end = (segment + 1.0) * SEGMENT_S;
                let gap: f64 = Exp1.sample(rng);
                let candidate = if upper > 0.0 {
                    *t + gap / upper
                } else {
                    f64::INFINITY
                };
                if candidate >= segment_end {
                    // Memoryless: restart the clock at the segment boundary with the next bound.
                    *t = segment_end;
                    continue;
                }
                *t = candidate;
                let u = rng.random::<f64>() * upper;
                // Below the segment's minimum rate: accepted without evaluating the rate.
                if u < lower || u < *rate * day * shape.multiplier(candidate / SECONDS_PER_HOUR) {
                    break candidate;
                }
            },
            Generator::Bursty {
                t,
                rates,
                means_s,
                state,
                state_end,
            } => loop {
                if *t >= self.until.as_secs_f64() {
                    return Ok(None);
                }
                let rate = rates[*state];
                let candidate = if rate > 0.0 {
                    let gap: f64 = Exp1.sample(rng);
                    *t + gap / rate
                } else {
                    f64::INFINITY
                };
                if candidate >= *state_end {
                    *t = *state_end;
                    *state ^= 1;
                    let len: f64 = Exp1.sample(rng);
                    *state_end = *t + len * means_s[*state];
                    continue;
                }
                *t = candidate;
                break candidate;
            },
            Generator::Batch { left, at } => {
                if *left == 0 {
                    return Ok(None);
                }
                *left -= 1;
                *at
            }
            Generator::Closed { left, ready } => {
                if *left == 0 {
                    return Ok(None);
                }
                let Some(at) = ready.pop_front() else {
                    return Ok(None);
                };
                *left -= 1;
                at
            }
            Generator::Trace(trace) => loop {
                match trace.next(rng)? {
                    Some(r) if r.time_s < self.from => {}
                    Some(r) => {
                        let t = r.time_s;
                        row = Some(r);
                        break t;
                    }
                    None => {
                        self.exhausted = true;
                        return Ok(None);
                    }
                }
            },
        };
        let arrival = SimTime::from_secs_f64(t);
        // A closed loop sends all its requests, however long they take.
        if arrival >= self.until && !matches!(self.generator, Generator::Closed { .. }) {
            return Ok(None);
        }
        let token_rng = &mut self.token_rng;
        let mut draw =
            |recorded: Option<u32>, sampler: &Option<TokenSampler>| match (recorded, sampler) {
                (Some(n), _) => n,
                (None, Some(s)) => s.sample(token_rng),
                (None, None) => 0,
            };
        let Some(row) = row else {
            // Synthetic arrivals: tokens only where the workload draws them.
            let input_tokens = draw(None, &self.input_tokens);
            let output_tokens = draw(None, &self.output_tokens);
            return Ok(Some(Arrived {
                request: Request {
                    arrival,
                    traced_service: SimTime::ZERO,
                    input_tokens,
                    output_tokens,
                    prefix: Request::NO_PREFIX,
                },
                prefix: None,
            }));
        };
        let input_tokens = draw(row.input_tokens, &self.input_tokens);
        let output_tokens = draw(row.output_tokens, &self.output_tokens);
        Ok(Some(Arrived {
            request: Request {
                arrival,
                traced_service: SimTime::from_secs_f64(row.service_s.unwrap_or(0.0)),
                input_tokens,
                output_tokens,
                prefix: Request::NO_PREFIX,
            },
            prefix: row.prefix,
        }))
    }
}

/// Arrivals replayed from a trace, with time scaling and a rate multiplier.
///
/// The multiplier `m` keeps each row `floor(m)` times plus once more with probability
/// `m - floor(m)`. The first copy keeps the row's time; further copies fall uniformly between the
/// row and the next one, so the trace's shape over the day is kept without stacking duplicates.
struct TraceArrivals {
    reader: TraceReader,
    time_scale: f64,
    multiplier: f64,
    lookahead: Option<Row>,
    started: bool,
    /// Copies of the current row still to emit, in time order (times already scaled).
    pending: VecDeque<Row>,
}

impl TraceArrivals {
    fn open(spec: &TraceSpec) -> Result<TraceArrivals, TraceError> {
        let reader = TraceReader::for_spec(spec)?;
        Ok(TraceArrivals {
            reader,
            time_scale: spec.time_scale,
            multiplier: spec.rate_multiplier,
            lookahead: None,
            started: false,
            pending: VecDeque::new(),
        })
    }

    /// The next row to emit, its time scaled.
    fn next(&mut self, rng: &mut Stream) -> Result<Option<Row>, TraceError> {
        loop {
            if let Some(x) = self.pending.pop_front() {
                return Ok(Some(x));
            }
            if !self.started {
                self.started = true;
                self.lookahead = self.reader.next_row()?;
            }
            let Some(mut row) = self.lookahead.take() else {
                return Ok(None);
            };
            self.lookahead = self.reader.next_row()?;
            row.time_s *= self.time_scale;
            if self.multiplier == 1.0 {
                return Ok(Some(row));
            }
            let whole = self.multiplier.floor();
            let copies = whole as u64 + u64::from(rng.random::<f64>() < self.multiplier - whole);
            if copies == 0 {
                continue;
            }
            let t = row.time_s;
            let next_t = self
                .lookahead
                .as_ref()
                .map_or(t, |r| r.time_s * self.time_scale);
            let mut extra: Vec<f64> = (1..copies)
                .map(|_| t + rng.random::<f64>() * (next_t - t))
                .collect();
            extra.sort_by(f64::total_cmp);
            for x in extra {
                self.pending.push_back(Row {
                    time_s: x,
                    ..row.clone()
                });
            }
            self.pending.push_front(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::substream;
    use crate::workload::TimeUnit;
    use std::io::Write;

    fn collect(arrival: &Arrival, until_s: u64) -> Vec<f64> {
        let mut a = Arrivals::new(
            arrival,
            None,
            substream(3, "t"),
            substream(3, "k"),
            SimTime::ZERO,
            SimTime::from_secs(until_s),
        )
        .unwrap();
        let mut out = Vec::new();
        while let Some(r) = a.next_request().unwrap() {
            out.push(r.request.arrival.as_secs_f64());
        }
        out
    }

    #[test]
    fn poisson_rate_and_order() {
        let ts = collect(&Arrival::Poisson { rate: 50.0 }, 2_000);
        let rate = ts.len() as f64 / 2_000.0;
        assert!((rate / 50.0 - 1.0).abs() < 0.01, "{rate}");
        assert!(ts.windows(2).all(|w| w[0] <= w[1]));
        assert!(*ts.last().unwrap() < 2_000.0);
    }

    #[test]
    fn diurnal_follows_its_shape() {
        let shape = DailyShape::Sinusoid {
            peak_to_trough: 3.0,
            peak_hour: 14.0,
        };
        let ts = collect(
            &Arrival::Diurnal {
                rate: 20.0,
                shape: shape.clone(),
                weekend: 1.0,
            },
            86_400,
        );
        let rate = ts.len() as f64 / 86_400.0;
        assert!((rate / 20.0 - 1.0).abs() < 0.01, "{rate}");
        let in_hour = |h: f64| ts.iter().filter(|t| (*t / 3600.0).floor() == h).count() as f64;
        // Expected count in an hour is the integral of the rate; check peak and trough hours.
        for h in [2.0, 14.0] {
            let expect: f64 = (0..1000)
                .map(|k| 20.0 * shape.multiplier(h + (k as f64 + 0.5) / 1000.0) * 3.6)
                .sum();
            let got = in_hour(h);
            assert!(
                (got / expect - 1.0).abs() < 0.03,
                "hour {h}: {got} vs {expect}"
            );
        }
    }

    #[test]
    fn weekends_run_at_their_share_of_a_weekday() {
        let arrival = Arrival::Diurnal {
            rate: 2.0,
            shape: DailyShape::Sinusoid {
                peak_to_trough: 3.0,
                peak_hour: 14.0,
            },
            weekend: 0.5,
        };
        let ts = collect(&arrival, 7 * 86_400);
        let on_day = |d: f64| ts.iter().filter(|t| (*t / 86_400.0).floor() == d).count() as f64;
        for d in 0..5 {
            let n = on_day(f64::from(d));
            assert!((n / 172_800.0 - 1.0).abs() < 0.02, "day {d}: {n}");
        }
        for d in [5.0, 6.0] {
            let n = on_day(d);
            assert!((n / 86_400.0 - 1.0).abs() < 0.02, "day {d}: {n}");
        }
    }

    #[test]
    fn hourly_shape_is_piecewise_constant() {
        let mut m = [1.0; 24];
        m[0] = 0.0;
        m[12] = 3.0;
        let sum: f64 = m.iter().sum();
        let m = m.map(|x| x * 24.0 / sum);
        let ts = collect(
            &Arrival::Diurnal {
                rate: 10.0,
                shape: DailyShape::Hourly(m),
                weekend: 1.0,
            },
            86_400,
        );
        assert!(
            ts.iter().all(|t| *t >= 3600.0),
            "no arrivals in a zero hour"
        );
        let noon = ts.iter().filter(|t| (**t / 3600.0) as u32 == 12).count() as f64;
        let one = ts.iter().filter(|t| (**t / 3600.0) as u32 == 1).count() as f64;
        assert!((noon / one - 3.0).abs() < 0.15, "{noon} {one}");
    }

    #[test]
    fn a_batch_arrives_at_once() {
        let ts = collect(
            &Arrival::Batch {
                count: 5,
                at: SimTime::from_secs(2),
            },
            10,
        );
        assert_eq!(ts, vec![2.0; 5]);
    }

    #[test]
    fn bursty_mean_rate() {
        let a = Arrival::Bursty {
            calm_rate: 5.0,
            burst_rate: 50.0,
            calm_mean: SimTime::from_secs(60),
            burst_mean: SimTime::from_secs(15),
        };
        let ts = collect(&a, 200_000);
        let rate = ts.len() as f64 / 200_000.0;
        let expect = a.mean_rate().unwrap();
        assert!((rate / expect - 1.0).abs() < 0.03, "{rate} vs {expect}");
    }

    #[test]
    fn trace_replay_scales_and_multiplies() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let mut text = String::from("t\n");
        for i in 0..10_000 {
            text.push_str(&format!("{}\n", i * 10));
        }
        f.write_all(text.as_bytes()).unwrap();
        let spec = |time_scale, rate_multiplier| {
            Arrival::Trace(TraceSpec {
                path: f.path().to_path_buf(),
                display: "t.csv".into(),
                time_column: "t".into(),
                time_unit: TimeUnit::Ms,
                time_scale,
                rate_multiplier,
                service_time_column: None,
                input_tokens_column: None,
                output_tokens_column: None,
                prefix_column: None,
                prefix_block_tokens: 512,
            })
        };
        let plain = collect(&spec(1.0, 1.0), 1_000);
        assert_eq!(plain.len(), 10_000);
        assert!((plain[1] - 0.01).abs() < 1e-12);
        let fast = collect(&spec(0.5, 1.0), 1_000);
        assert!((fast[1] - 0.005).abs() < 1e-12);
        let more = collect(&spec(1.0, 1.6), 1_000);
        assert!(
            (more.len() as f64 / 16_000.0 - 1.0).abs() < 0.03,
            "{}",
            more.len()
        );
        assert!(more.windows(2).all(|w| w[0] <= w[1]));
        let fewer = collect(&spec(1.0, 0.25), 1_000);
        assert!(
            (fewer.len() as f64 / 2_500.0 - 1.0).abs() < 0.06,
            "{}",
            fewer.len()
        );
        let cut = collect(&spec(1.0, 1.0), 50);
        assert_eq!(cut.len(), 5_000);
    }
}
