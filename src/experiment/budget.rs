//! A run's work, estimated from the scenario before it starts: a typo of a few zeros (a rate,
//! a horizon, a batch) is refused with the field to blame and the estimate, instead of running
//! for minutes or exhausting memory. `--allow-large` runs it anyway, with progress.
//!
//! The estimate is deliberately simple, and errs high: a core's time per request, measured on
//! the bundled scenarios (request-level: `day-1k`, 86 M requests in 14.5 s, 1.7e-7 s each;
//! token-level LLM serving: 1.3e-6 s (`llm-fleet`) to 6.6e-6 s (`llm-prefix`) a request at
//! their own rates, and up to 1.1e-5 s when the fleet is saturated, growing with output
//! tokens), plus autoscaler ticks. A fleet offered far more than it serves stops early (see
//! `sim`'s overload stop), so its work is not much more than this. Memory is the replicas' state, the
//! time series every replication keeps, and the requests a batch or closed loop puts in the
//! fleet at once. A queue that grows during the run is bounded by the engine instead
//! ([`super::MAX_IN_SYSTEM`]).

use crate::fleet::{ScalingPolicy, Serving};
use crate::scenario::{Diagnostic, Scenario};
use crate::workload::{Arrival, Policy};

/// Seconds of one core a replication may take without `--allow-large` (the bundled `day-1k`,
/// a day at 1,000 requests a second, is estimated at 14 s).
pub const MAX_SECONDS: f64 = 15.0;
/// Memory the run's fixed state may take without `--allow-large`, bytes.
pub const MAX_BYTES: f64 = 2e9;

/// A core's seconds per request of a request-level workload; of an LLM workload, per request
/// and per output token (at saturation, where every iteration touches a full batch and no
/// decode steps can be run together: 11 µs a request of 250 tokens, measured on `llm-fleet`
/// offered 100 times its rate; the same scenario at its own rate takes an eighth of that);
/// and per autoscaler tick.
const REQUEST_SECONDS: f64 = 1.6e-7;
const LLM_REQUEST_SECONDS: f64 = 5e-7;
const LLM_TOKEN_SECONDS: f64 = 4e-8;
/// How much longer an LLM request takes with prompt-prefix hashes to look up.
const PREFIX_FACTOR: f64 = 2.0;
/// Output tokens of an LLM request whose workload does not say (a trace's).
const LLM_OUTPUT_TOKENS: f64 = 250.0;
const TICK_SECONDS: f64 = 1e-6;
/// A core's seconds per request and replica looked at, for policies that look at every
/// replica of the workload (least-outstanding, prefix-aware): 9.3e-9 s measured on
/// `llm-quantization` with 100,000 replicas.
const SCAN_SECONDS: f64 = 1e-8;
/// A core's seconds per reclaim a spot training run expects, over its own interval and the
/// nine it is checked against (about 12 µs each, measured on `train-spot` with a sequence
/// length that made its 8-hour job 400,000 times longer).
const RECLAIM_SECONDS: f64 = 1.2e-5;
/// Intervals a spot job is simulated at: its own and nine around Young/Daly.
const INTERVALS_CHECKED: f64 = 10.0;
/// Bytes of a replica's state (request-level, LLM), of a request in the fleet, and of one row
/// of a time series.
const REPLICA_BYTES: f64 = 400.0;
const LLM_REPLICA_BYTES: f64 = 1_000.0;
const REQUEST_BYTES: f64 = 200.0;
const ROW_BYTES: f64 = 128.0;
/// A horizon longer than this is blamed for a large run before the rate is.
const LONG_HORIZON_S: f64 = 31.0 * 86_400.0;

/// The estimate, and the part of it that weighs most, located.
#[derive(Debug)]
pub struct Estimate {
    /// Seconds of one core for one replication.
    pub seconds: f64,
    /// Bytes of fixed state over all replications.
    pub bytes: f64,
    /// The largest contributor to time, as the path of the field to blame and a phrase.
    time_by: Option<(Vec<String>, String)>,
    bytes_by: Option<(Vec<String>, String)>,
}

/// What running `s` with `replications` takes.
pub fn estimate(s: &Scenario, replications: u32) -> Estimate {
    let span_s = s.horizon().saturating_sub(s.start()).as_secs_f64();
    let long = span_s > LONG_HORIZON_S;
    let mut seconds: f64 = 0.0;
    let mut bytes: f64 = 0.0;
    let mut time_by: Option<(f64, Vec<String>, String)> = None;
    let mut bytes_by: Option<(f64, Vec<String>, String)> = None;
    let blame =
        |slot: &mut Option<(f64, Vec<String>, String)>, x: f64, path: Vec<String>, what: String| {
            if slot.as_ref().is_none_or(|(y, _, _)| x > *y) {
                *slot = Some((x, path, what));
            }
        };
    for (wi, w) in s.workloads().iter().enumerate() {
        let llm = s
            .pools_of(wi)
            .any(|p| matches!(s.pools()[p].serving, Serving::Llm(_)));
        let per = if llm {
            let out = w
                .tokens
                .as_ref()
                .and_then(|t| t.output.as_ref())
                .map_or(LLM_OUTPUT_TOKENS, |d| d.mean());
            let prefix = match &w.arrival {
                Arrival::Trace(t) if t.prefix_column.is_some() => PREFIX_FACTOR,
                _ => 1.0,
            };
            (LLM_REQUEST_SECONDS + LLM_TOKEN_SECONDS * out) * prefix
        } else {
            REQUEST_SECONDS
        };
        let at = |field: &str| {
            vec![
                "workloads".to_string(),
                w.name.clone(),
                "arrival".into(),
                field.into(),
            ]
        };
        let (requests, path, what, at_once) = match &w.arrival {
            Arrival::Trace(t) => {
                let rows = trace_rows(&t.path);
                (
                    rows * t.rate_multiplier,
                    at("rate_multiplier"),
                    format!("trace {} replayed x{}", t.display, t.rate_multiplier),
                    0.0,
                )
            }
            Arrival::Batch { count, .. } => {
                let n = *count as f64;
                (n, at("count"), format!("a batch of {n:.0} requests"), n)
            }
            Arrival::Closed { concurrency, count } => (
                *count as f64,
                at("count"),
                format!("{count} requests"),
                *concurrency as f64,
            ),
            a => {
                let rate = a.mean_rate().unwrap_or(0.0);
                let path = if long {
                    vec!["horizon".to_string()]
                } else {
                    at(match a {
                        Arrival::Bursty { .. } => "burst_rate",
                        _ => "rate",
                    })
                };
                (
                    rate * span_s,
                    path,
                    format!(
                        "{rate} requests/s over {}",
                        crate::units::SimTime::from_secs_f64(span_s)
                    ),
                    0.0,
                )
            }
        };
        let scanned: f64 = match w.dispatch.policy {
            Policy::LeastOutstanding | Policy::PrefixAware => s
                .pools_of(wi)
                .map(|p| f64::from(s.pools()[p].max_replicas()))
                .sum(),
            _ => 0.0,
        };
        let e = requests * (per + scanned * SCAN_SECONDS);
        seconds += e;
        blame(
            &mut time_by,
            e,
            path.clone(),
            format!(
                "workload {:?} would send about {requests:.1e} requests ({what})",
                w.name
            ),
        );
        if at_once > 0.0 {
            let b = at_once * REQUEST_BYTES * f64::from(replications);
            bytes += b;
            let field = if matches!(w.arrival, Arrival::Closed { .. }) {
                at("concurrency")
            } else {
                path
            };
            blame(
                &mut bytes_by,
                b,
                field,
                format!(
                    "workload {:?} puts {at_once:.0} requests in the fleet at once",
                    w.name
                ),
            );
        }
    }
    for p in s.pools() {
        let per = if matches!(p.serving, Serving::Llm(_)) {
            LLM_REPLICA_BYTES
        } else {
            REPLICA_BYTES
        };
        let b = f64::from(p.max_replicas()) * per * f64::from(replications);
        bytes += b;
        let field = if p.scaling.is_some() {
            "autoscale"
        } else {
            "replicas"
        };
        blame(
            &mut bytes_by,
            b,
            vec!["pools".into(), p.name.clone(), field.into()],
            format!("pool {:?} has up to {} replicas", p.name, p.max_replicas()),
        );
        if let Some(sc) = &p.scaling {
            let every = match &sc.policy {
                ScalingPolicy::Schedule { .. } => 3600.0,
                ScalingPolicy::TargetTracking(t)
                | ScalingPolicy::Predictive { tracking: t, .. } => t.interval.as_secs_f64(),
                ScalingPolicy::Step(st) => st.interval.as_secs_f64(),
            };
            let ticks = span_s / every.max(1.0);
            seconds += ticks * TICK_SECONDS;
            blame(
                &mut time_by,
                ticks * TICK_SECONDS,
                vec![
                    "pools".into(),
                    p.name.clone(),
                    "autoscale".into(),
                    "interval".into(),
                ],
                format!("pool {:?} autoscales {ticks:.1e} times", p.name),
            );
        }
    }
    if let Some(t) = s.training() {
        for j in &t.jobs {
            if j.market != crate::pricing::Market::Spot {
                continue;
            }
            let reclaims = crate::training::checkpoint::expected_reclaims(&j.plan(j.interval_s()))
                .min(f64::from(j.checkpoint.max_interruptions));
            // Spread over the replications of a job, which run in parallel.
            let e = reclaims * INTERVALS_CHECKED * RECLAIM_SECONDS * f64::from(t.replications);
            seconds += e;
            blame(
                &mut time_by,
                e,
                vec!["training".into(), "jobs".into(), j.name.clone()],
                format!(
                    "training job {:?} expects about {reclaims:.1e} reclaims in each of {} runs",
                    j.name, t.replications
                ),
            );
        }
    }
    let rows = (span_s / s.interval().as_secs_f64().max(1e-9)).ceil();
    let series = rows
        * (1 + s.workloads().len() + s.pools().len()) as f64
        * ROW_BYTES
        * f64::from(replications);
    bytes += series;
    blame(
        &mut bytes_by,
        series,
        vec!["interval".into()],
        format!("{rows:.0} rows of time series per replication"),
    );
    Estimate {
        seconds,
        bytes,
        time_by: time_by.map(|(_, p, w)| (p, w)),
        bytes_by: bytes_by.map(|(_, p, w)| (p, w)),
    }
}

impl Estimate {
    /// Why the run is too large, at the field to blame; `None` when it is within the budget.
    pub fn refusal(&self, s: &Scenario) -> Option<Diagnostic> {
        let at = |by: &Option<(Vec<String>, String)>| {
            by.as_ref()
                .map_or((Vec::new(), String::new()), |(p, w)| (p.clone(), w.clone()))
        };
        let (path, what, message) = if self.seconds > MAX_SECONDS {
            let (path, what) = at(&self.time_by);
            (
                path,
                what,
                format!(
                    "about {} of a core a replication, over the budget of {MAX_SECONDS:.0} s",
                    core_time(self.seconds)
                ),
            )
        } else if self.bytes > MAX_BYTES {
            let (path, what) = at(&self.bytes_by);
            (
                path,
                what,
                format!(
                    "about {:.1} GB of memory, over the budget of {:.0} GB",
                    self.bytes / 1e9,
                    MAX_BYTES / 1e9
                ),
            )
        } else {
            return None;
        };
        let keys: Vec<&str> = path.iter().map(String::as_str).collect();
        Some(s.diagnostic_at(
            &keys,
            format!("this run is too large: {what}: {message}; shorten the horizon or lower the numbers, or pass --allow-large to run it anyway"),
        ))
    }
}

/// Refuses `s` when its estimate is over budget (unless `allow_large`), as a load error.
pub fn check(
    s: &Scenario,
    replications: u32,
    allow_large: bool,
) -> Result<(), crate::scenario::LoadError> {
    if allow_large {
        return Ok(());
    }
    match estimate(s, replications).refusal(s) {
        None => Ok(()),
        Some(d) => Err(crate::scenario::LoadError::Invalid {
            diagnostics: vec![d],
        }),
    }
}

/// About how many rows the trace at `path` has: its size over the mean length of the lines in
/// its first 64 KiB (an unreadable trace is the loader's to report).
fn trace_rows(path: &std::path::Path) -> f64 {
    use std::io::Read;
    let Ok(file) = crate::data_file::open_regular(path) else {
        return 0.0;
    };
    let size = file.metadata().map_or(0, |m| m.len()) as f64;
    let mut head = Vec::new();
    if file.take(1 << 16).read_to_end(&mut head).is_err() {
        return 0.0;
    }
    let lines = head.iter().filter(|&&b| b == b'\n').count().max(1);
    size / (head.len() as f64 / lines as f64).max(1.0)
}

/// Seconds in words, to two figures: `40 s`, `12 min`, `3.5 h`, `41 days`.
fn core_time(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7_200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3_600.0)
    } else {
        format!("{:.0} days", s / 86_400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(file: &str, set: &[&str]) -> Scenario {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
        crate::scenario::load(&root.join("scenarios").join(file), &set).unwrap()
    }

    #[test]
    fn every_bundled_scenario_is_within_the_budget() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        for e in std::fs::read_dir(&root).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "toml") {
                let s = crate::scenario::load(&path, &[]).unwrap();
                let e = estimate(&s, 1);
                assert!(e.refusal(&s).is_none(), "{}: {e:?}", path.display());
            }
        }
    }

    #[test]
    fn a_long_horizon_is_blamed_on_the_horizon_and_a_high_rate_on_the_rate() {
        let s = load("mmc.toml", &["horizon=1000d"]);
        let d = estimate(&s, 1).refusal(&s).expect("too large");
        assert_eq!(d.location, "--set horizon=1000d");
        assert!(d.message.contains("5.5e8 requests"), "{}", d.message);
        let s = load("mmc.toml", &["workloads.requests.arrival.rate=1e5"]);
        let d = estimate(&s, 1).refusal(&s).expect("too large");
        assert!(
            d.location
                .starts_with("--set workloads.requests.arrival.rate"),
            "{d}"
        );
        assert!(
            d.message.contains("over the budget of 15 s"),
            "{}",
            d.message
        );
        // And a file's own line when the value is the file's.
        let s = load("mmc.toml", &["pools.gpu.replicas=9"]);
        assert!(estimate(&s, 1).refusal(&s).is_none());
        let s = load("mmc.toml", &["interval=1s"]);
        let e = estimate(&s, 400);
        let d = e.refusal(&s).expect("series of 400 replications");
        assert!(d.message.contains("rows of time series"), "{}", d.message);
    }
}
