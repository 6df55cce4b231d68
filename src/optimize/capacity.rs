//! Capacity at the SLO: the highest arrival rate a pool of `n` replicas of a candidate serves
//! within the workload's SLO, found by simulation.
//!
//! Each pool size is a search on the rate: doubling from an estimate until a trial fails, then
//! bisection to a relative tolerance. A trial passes when every replication meets the SLO (its
//! own seeds, apart from the verification's). Pooling makes capacity grow faster than `n` (a
//! larger pool absorbs bursts better), so the result is a piecewise-linear curve over the
//! measured sizes rather than `n` times one replica. Curves are kept in a [`CurveStore`] (the
//! front ends give the folder of [`super::cache`]), keyed by everything a trial depends on, so
//! re-running after an unrelated edit costs nothing; measuring itself reads and writes no files
//! but a replayed trace.

use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::experiment::run::{self, RunOptions};
use crate::fleet::{Pool, ServiceTime, Serving};
use crate::scenario::{CapacitySpec, Scenario};
use crate::sim::SimError;
use crate::units::SimTime;
use crate::workload::{Arrival, Workload};

/// The TUI finds the cache folder here (it lives with the cache, [`super::cache`]).
pub use super::cache::default_cache_dir;

/// Seeds of capacity trials are derived from the scenario's seed and this salt, so that the
/// verification's replications (the scenario's own seeds) are fresh.
const SALT: u64 = 0xCA9A_C17E;

/// Capacity at the SLO by pool size: `rates[i]` requests/s for `sizes[i]` replicas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub sizes: Vec<u32>,
    pub rates: Vec<f64>,
}

impl Curve {
    /// Capacity of `n` replicas: linear between measured sizes; beyond the largest, its
    /// per-replica rate (pooling gains nothing more that was measured).
    pub fn at(&self, n: f64) -> f64 {
        let (s, r) = (&self.sizes, &self.rates);
        if n <= 0.0 {
            return 0.0;
        }
        if n <= f64::from(s[0]) {
            return r[0] * n / f64::from(s[0]);
        }
        for i in 1..s.len() {
            let (a, b) = (f64::from(s[i - 1]), f64::from(s[i]));
            if n <= b {
                return r[i - 1] + (r[i] - r[i - 1]) * (n - a) / (b - a);
            }
        }
        let last = s.len() - 1;
        r[last] * n / f64::from(s[last])
    }

    /// Capacity per replica in a pool of `n`.
    pub fn per_replica(&self, n: f64) -> f64 {
        self.at(n.max(1.0)) / n.max(1.0)
    }

    /// The largest measured per-replica capacity: what the purchase model counts a replica as,
    /// before pooling corrections.
    pub fn best_per_replica(&self) -> f64 {
        self.sizes
            .iter()
            .zip(&self.rates)
            .map(|(&n, &r)| r / f64::from(n))
            .fold(0.0, f64::max)
    }
}

/// Everything a curve depends on: the candidate's serving (not its name or price), the
/// workload's requests and SLO, the search settings and the seed; and the trace file it replays,
/// whose size and time of change a [`CurveStore`] adds (a curve of an edited trace is stale).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurveKey {
    /// The version, the candidate's serving, the workload and the search settings, as text.
    described: String,
    /// `poisson`, or the trace's settings (its time scale, which a trial replaces, reset).
    arrival: String,
    /// The trace file replayed, if any.
    pub trace: Option<PathBuf>,
    seed: u64,
}

impl CurveKey {
    /// The key as text, given what the trace file is now (`stamp`, read by the store; ignored
    /// without a trace).
    pub fn text(&self, stamp: &str) -> String {
        let arrival = match &self.trace {
            Some(_) => format!("{} {stamp}", self.arrival),
            None => self.arrival.clone(),
        };
        format!("{} | {arrival:?} | {}", self.described, self.seed)
    }
}

/// Where measured curves are kept between runs; best effort (a store that cannot keep a curve
/// only makes the next run slower).
pub trait CurveStore {
    fn get(&self, key: &CurveKey) -> Option<Curve>;
    fn put(&mut self, key: &CurveKey, curve: &Curve);
}

/// Measures, or reads from `store`, the curve of every candidate of `scenario.optimize`, and
/// puts what it measured into `store`. Candidates that serve alike (same key) are measured once.
pub fn curves(scenario: &Scenario, store: &mut dyn CurveStore) -> Result<Vec<Curve>, SimError> {
    let spec = scenario.optimize().as_ref().expect("an [optimize] table");
    let workload = &scenario.workloads()[spec.workload];
    let trace = TraceTimes::of(workload)?;
    let keys: Vec<CurveKey> = spec
        .candidates
        .iter()
        .map(|c| key(scenario, workload, c, &spec.capacity))
        .collect();
    // The first candidate of each key, in order.
    let mut distinct: Vec<usize> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        if !distinct.iter().any(|&j| keys[j] == *k) {
            distinct.push(i);
        }
    }
    let cached: Vec<Option<Curve>> = distinct.iter().map(|&i| store.get(&keys[i])).collect();
    // Every (candidate, size) still to measure, in parallel; errors reported in job order.
    let jobs: Vec<(usize, u32)> = distinct
        .iter()
        .zip(&cached)
        .filter(|(_, c)| c.is_none())
        .flat_map(|(&i, _)| spec.capacity.pool_sizes.iter().map(move |&n| (i, n)))
        .collect();
    let measured: Vec<Result<f64, SimError>> = jobs
        .par_iter()
        .map(|&(i, n)| {
            Trials {
                scenario,
                workload,
                candidate: &spec.candidates[i],
                spec: &spec.capacity,
                trace: trace.as_ref(),
            }
            .search(n)
        })
        .collect();
    let measured = measured.into_iter().collect::<Result<Vec<f64>, _>>()?;
    let mut by_key: Vec<Curve> = Vec::new();
    for (d, c) in distinct.iter().zip(cached) {
        let curve = match c {
            Some(c) => c,
            None => {
                let rates = jobs
                    .iter()
                    .zip(&measured)
                    .filter(|((j, _), _)| j == d)
                    .map(|(_, r)| *r)
                    .collect();
                let c = Curve {
                    sizes: spec.capacity.pool_sizes.clone(),
                    rates: monotone(rates),
                };
                store.put(&keys[*d], &c);
                c
            }
        };
        by_key.push(curve);
    }
    Ok(keys
        .iter()
        .map(|k| {
            let d = distinct
                .iter()
                .position(|&j| keys[j] == *k)
                .expect("listed");
            by_key[d].clone()
        })
        .collect())
}

/// Capacity at the SLO of `replicas` replicas of the scenario's pool `pool`, for the workload it
/// serves: the highest arrival rate (requests/s) they serve within that workload's SLO, by the
/// same search as the optimizer's curves.
pub fn of_pool(
    scenario: &Scenario,
    pool: usize,
    replicas: u32,
    spec: &CapacitySpec,
) -> Result<f64, SimError> {
    let candidate = &scenario.pools()[pool];
    let workload = &scenario.workloads()[candidate.workload];
    let trace = TraceTimes::of(workload)?;
    Trials {
        scenario,
        workload,
        candidate,
        spec,
        trace: trace.as_ref(),
    }
    .search(replicas)
}

/// A replayed trace's arrival times (seconds, its own `time_scale` applied), read once, so a
/// trial can replay it at any mean rate over its window.
struct TraceTimes {
    times: Vec<f64>,
    multiplier: f64,
}

impl TraceTimes {
    fn of(workload: &Workload) -> Result<Option<TraceTimes>, SimError> {
        let Arrival::Trace(t) = &workload.arrival else {
            return Ok(None);
        };
        let mut reader = crate::workload::trace::TraceReader::for_spec(t)?;
        let mut times = Vec::new();
        while let Some(row) = reader.next_row()? {
            times.push(row.time_s * t.time_scale);
        }
        Ok(Some(TraceTimes {
            times,
            multiplier: t.rate_multiplier,
        }))
    }

    /// The time scale that brings `rate x window` requests into the first `window` seconds.
    fn scale_for(&self, rate: f64, window: f64, display: &str) -> Result<f64, SimError> {
        let needed = (rate * window / self.multiplier).ceil() as usize;
        match self.times.get(needed.max(1)) {
            Some(&t) if t > 0.0 => Ok(window / t),
            _ => Err(SimError::Trace(crate::workload::TraceError {
                path: display.to_string(),
                line: None,
                message: format!(
                    "a capacity trial at {rate:.1} req/s for {window:.0} s needs {needed} requests; the trace has {}. Shorten the trials ([optimize] capacity.horizon, or `headroom capacity --horizon`)",
                    self.times.len()
                ),
            })),
        }
    }
}

/// A larger pool never serves less: noise in the search is evened out upward.
fn monotone(mut rates: Vec<f64>) -> Vec<f64> {
    for i in 1..rates.len() {
        rates[i] = rates[i].max(rates[i - 1]);
    }
    rates
}

/// What the trials of one candidate share.
struct Trials<'a> {
    scenario: &'a Scenario,
    workload: &'a Workload,
    candidate: &'a Pool,
    spec: &'a CapacitySpec,
    trace: Option<&'a TraceTimes>,
}

impl Trials<'_> {
    /// The highest rate `n` replicas of the candidate serve within the SLO.
    fn search(&self, n: u32) -> Result<f64, SimError> {
        let spec = self.spec;
        let passes = |rate: f64| self.passes(n, rate);
        let guess = estimate(self.candidate).map_or(1.0, |r| r * f64::from(n) * 0.8);
        let (mut lo, mut hi);
        if passes(guess)? {
            lo = guess;
            hi = guess * 2.0;
            while passes(hi)? {
                lo = hi;
                hi *= 2.0;
                if hi > 1e7 {
                    return Ok(lo);
                }
            }
        } else {
            hi = guess;
            lo = guess / 2.0;
            while !passes(lo)? {
                hi = lo;
                lo /= 2.0;
                if lo < 1e-4 {
                    return Ok(0.0);
                }
            }
        }
        while (hi - lo) / hi > spec.tolerance {
            let mid = 0.5 * (lo + hi);
            if passes(mid)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Whether `n` replicas meet the SLO at `rate` in every replication.
    fn passes(&self, n: u32, rate: f64) -> Result<bool, SimError> {
        let s = self.scenario_at(n, rate)?;
        let outcome = run::run(&s, &RunOptions::new(&s, self.spec.replications))?;
        let summary = outcome.serving.ok_or(SimError::NothingToServe)?;
        Ok(summary.workloads[0]
            .slo_met_share
            .is_none_or(|share| share == 1.0))
    }

    /// The scenario of one trial: the workload alone, at `rate`, on `n` fixed replicas, under
    /// neutral names (random streams are named after pools and workloads, and a curve must not
    /// depend on what a candidate is called).
    fn scenario_at(&self, n: u32, rate: f64) -> Result<Scenario, SimError> {
        let (scenario, workload, spec) = (self.scenario, self.workload, self.spec);
        let warmup = SimTime(spec.horizon.0 / 10);
        let horizon = SimTime(spec.horizon.0 + warmup.0);
        let mut w = workload.clone();
        w.name = "workload".into();
        w.stream = "workload".into();
        w.arrival = match (&workload.arrival, self.trace) {
            (Arrival::Trace(t), Some(times)) => {
                // The trace replayed faster or slower, so its first `horizon` holds `rate`.
                let mut t = t.clone();
                t.time_scale *= times.scale_for(rate, horizon.as_secs_f64(), &t.display)?;
                Arrival::Trace(t)
            }
            _ => Arrival::Poisson { rate },
        };
        let mut pool = self.candidate.clone();
        pool.name = "candidate".into();
        pool.replicas = n;
        pool.workload = 0;
        pool.scaling = None;
        pool.interruptions = None;
        pool.weight = 1.0;
        Ok(Scenario::probe(
            format!("{}-capacity", scenario.name()),
            crate::rng::replication_seed(scenario.seed() ^ SALT, u64::from(n)),
            horizon,
            warmup,
            w,
            pool,
            scenario.catalog(),
        ))
    }
}

/// Throughput of one replica with a full batch, where the service model says it.
fn estimate(candidate: &Pool) -> Option<f64> {
    match &candidate.serving {
        Serving::Requests(s) => {
            let b = s.batching.max_batch;
            let t = s.time.mean_batch_time(b)?.as_secs_f64();
            (t > 0.0 && !matches!(s.time, ServiceTime::Trace { .. })).then(|| f64::from(b) / t)
        }
        Serving::Llm(_) => None,
    }
}

/// What the curve of `candidate` depends on.
fn key(
    scenario: &Scenario,
    workload: &Workload,
    candidate: &Pool,
    spec: &CapacitySpec,
) -> CurveKey {
    let (arrival, trace) = match &workload.arrival {
        Arrival::Trace(t) => {
            let mut t = t.clone();
            t.time_scale = 1.0;
            (format!("{t:?}"), Some(t.path.clone()))
        }
        _ => ("poisson".to_string(), None),
    };
    CurveKey {
        described: format!(
            "v1 {} | {:?} | {} | {:?} | {:?} | {:?} | {:?} | {:?}",
            env!("CARGO_PKG_VERSION"),
            candidate.serving,
            candidate.gpus_per_replica,
            candidate.instance.gpu_model,
            workload.tokens,
            workload.dispatch,
            workload.slo,
            spec,
        ),
        arrival,
        trace,
        seed: scenario.seed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_interpolates_and_extrapolates_per_replica() {
        let c = Curve {
            sizes: vec![1, 2, 4],
            rates: vec![5.0, 12.0, 28.0],
        };
        assert_eq!(c.at(1.0), 5.0);
        assert_eq!(c.at(3.0), 20.0);
        assert_eq!(c.at(8.0), 56.0);
        assert_eq!(c.at(0.5), 2.5);
        assert_eq!(c.per_replica(4.0), 7.0);
        assert_eq!(c.best_per_replica(), 7.0);
    }
}
