//! Measuring a run: counts, HDR histograms and time integrals, with memory independent of the
//! number of requests.
//!
//! Requests are counted in the window when they *arrive* in `[start + warmup, horizon)`, and followed to
//! the end (the run drains after the horizon), so `arrived = completed + dropped + timed_out`
//! holds exactly. Time integrals (busy replicas, replicas, instances) are settled at every
//! boundary (each interval of the time series, the end of warm-up and the horizon), so every
//! integral splits exactly between intervals and window. Requests in system (Little's L) are
//! integrated as each request leaves, by the part of its stay inside the window.
//!
//! One file of over 700 lines, on purpose: the recorder is called on every event, and its window
//! rules (which arrivals count, where integrals settle) must be read together to be trusted. The
//! parts that stand alone are apart: `coarse` (the time series' histograms) and `tokens` (LLM
//! token metrics).

mod coarse;
mod tokens;

use hdrhistogram::Histogram;

use self::coarse::CoarseHistogram;
use self::tokens::TokenRec;
use super::result::{
    Backlog, LatencyBins, Metric, PoolSeriesRow, PoolStats, RunResult, SeriesRow, SloTargets, Stats,
};
use crate::fleet::Serving;
use crate::scenario::Scenario;
use crate::workload::Slo;

/// Histogram values are microseconds, with three significant digits (0.1 %) for the headline
/// percentiles; the per-interval p50 and p99 of the time series use a [`CoarseHistogram`].
pub(super) const SIGFIG: u8 = 3;
pub(super) const NS_PER_US: u64 = 1_000;
const NS_PER_HOUR: f64 = 3.6e12;

pub(super) fn histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new(sigfig).expect("valid significant figures")
}

/// A quantity that changes at instants (replicas busy, requests in system) and its integral
/// over time, in unit-nanoseconds.
#[derive(Clone, Debug, Default)]
struct Level {
    value: u64,
    last: u64,
    window: u128,
    interval: u128,
    /// The integral of the intervals already closed.
    closed: u128,
}

impl Level {
    #[inline]
    fn settle(&mut self, now: u64, in_window: bool) {
        let area = u128::from(self.value) * u128::from(now - self.last);
        self.interval += area;
        if in_window {
            self.window += area;
        }
        self.last = now;
    }

    #[inline]
    fn inc(&mut self, now: u64, in_window: bool) {
        self.settle(now, in_window);
        self.value += 1;
    }

    #[inline]
    fn dec(&mut self, now: u64, in_window: bool) {
        self.settle(now, in_window);
        self.value -= 1;
    }

    fn set(&mut self, now: u64, in_window: bool, value: u64) {
        self.settle(now, in_window);
        self.value = value;
    }

    fn take_interval(&mut self) -> u128 {
        let x = std::mem::take(&mut self.interval);
        self.closed += x;
        x
    }

    /// The integral since the start of the run, up to the last settle.
    fn total(&self) -> u128 {
        self.closed + self.interval
    }
}

struct WorkloadRec {
    arrived: u64,
    completed: u64,
    dropped: u64,
    timed_out: u64,
    /// Requests (of the window) sent elsewhere because their replica was reclaimed; a request
    /// counts once per reclaim it lives through.
    retried: u64,
    /// Time those requests had spent before their replica was reclaimed: what a retry adds.
    retried_lost_ns: u128,
    within_target: u64,
    /// The end-to-end p99 target, nanoseconds.
    target_ns: Option<u64>,
    slo: Option<Slo>,
    tokens: TokenRec,
    latency: Histogram<u64>,
    wait: Histogram<u64>,
    latency_sum_ns: u128,
    latency_max_ns: u64,
    wait_sum_ns: u128,
    /// Time spent in the fleet within the window, over all requests (Little's L times the
    /// window), added as each request leaves.
    in_system_ns: u128,
    iv_arrivals: u64,
    iv_completed: u64,
    iv_failed: u64,
    /// Requests waiting, as the engine last counted them (at the end of an interval).
    waiting: u64,
    /// Latencies completed in the current interval.
    iv_latency: CoarseHistogram,
    /// An LLM workload's TTFT and TPOT in the interval, microseconds.
    iv_ttft: CoarseHistogram,
    iv_tpot: CoarseHistogram,
    /// Waits of zero, counted apart (most requests of a lightly loaded fleet never wait) and
    /// added to `wait` at the end.
    zero_waits: u64,
    /// Requests served between the end of warm-up and the horizon (the throughput's numerator:
    /// what the fleet served in the window, not what it drained after).
    served_in_window: u64,
    /// Requests in the fleet now (arrived, not yet left), and at the horizon.
    in_system: u64,
    at_horizon: u64,
    /// When the last request left.
    last_left: u64,
    /// Requests that left since the start, served or not.
    left_total: u64,
}

struct PoolRec {
    busy: Level,
    replicas: Level,
    instances: Level,
    /// Replicas being provisioned (paid, not serving), and how many started and stopped.
    starting: Level,
    /// 1 while fewer replicas take work than the pool wants (starting, or lost to a reclaim).
    short: Level,
    /// Warm instances kept stopped, and scale-ups served from the warm pool.
    stopped: Level,
    warm_starts: u64,
    starts: u64,
    stops: u64,
    /// Reclaim notices received in the window.
    interruptions: u64,
    batches: u64,
    batch_items: u64,
    /// KV-cache blocks in use over the pool's replicas, and their capacity (LLM pools).
    kv: Level,
    /// KV-cache blocks of one replica (zero for request-level pools).
    kv_per_replica: u64,
    output_tokens: u64,
    /// LLM requests finished in the window.
    requests: u64,
}

/// An elastic pool's replicas serving (or draining) and starting, and the instances it pays.
#[derive(Clone, Copy, Debug)]
pub(super) struct FleetCounts {
    pub serving: u32,
    pub starting: u32,
    pub instances: u32,
    /// Whether fewer replicas take work than the pool wants.
    pub short: bool,
    /// Warm instances kept stopped (paying for their disks).
    pub stopped: u32,
}

/// Collects everything a run measures.
pub(super) struct Recorder {
    warmup: u64,
    /// Every workload sends all its requests at once (`batch` arrivals): the window is the
    /// makespan, until the last request leaves, not the horizon.
    offline: bool,
    horizon: u64,
    interval: u64,
    next_boundary: u64,
    next_interval_end: u64,
    interval_start: u64,
    in_window: bool,
    workloads: Vec<WorkloadRec>,
    pools: Vec<PoolRec>,
    series: Vec<Vec<SeriesRow>>,
    total_series: Vec<SeriesRow>,
    pool_series: Vec<Vec<PoolSeriesRow>>,
    simulated_requests: u64,
    /// The run stopped before its horizon ([`Recorder::truncate`]) and did not drain.
    truncated: bool,
}

impl Recorder {
    pub fn new(s: &Scenario) -> Recorder {
        let start = s.start().0;
        let level = |value| Level {
            value,
            last: start,
            ..Level::default()
        };
        let workloads = s
            .workloads()
            .iter()
            .map(|w| WorkloadRec {
                arrived: 0,
                completed: 0,
                dropped: 0,
                timed_out: 0,
                retried: 0,
                retried_lost_ns: 0,
                within_target: 0,
                target_ns: w.slo.and_then(|slo| slo.p99).map(|t| t.0),
                slo: w.slo,
                tokens: TokenRec::new(),
                latency: histogram(SIGFIG),
                wait: histogram(SIGFIG),
                latency_sum_ns: 0,
                latency_max_ns: 0,
                wait_sum_ns: 0,
                in_system_ns: 0,
                iv_arrivals: 0,
                iv_completed: 0,
                iv_failed: 0,
                waiting: 0,
                iv_latency: CoarseHistogram::default(),
                iv_ttft: CoarseHistogram::default(),
                iv_tpot: CoarseHistogram::default(),
                zero_waits: 0,
                served_in_window: 0,
                in_system: 0,
                at_horizon: 0,
                last_left: 0,
                left_total: 0,
            })
            .collect();
        let pools = s
            .pools()
            .iter()
            .map(|p| PoolRec {
                busy: level(0),
                replicas: level(u64::from(p.replicas)),
                instances: level(u64::from(p.instances())),
                starting: level(0),
                short: level(0),
                stopped: level(0),
                warm_starts: 0,
                starts: 0,
                stops: 0,
                interruptions: 0,
                batches: 0,
                batch_items: 0,
                kv: level(0),
                kv_per_replica: match &p.serving {
                    Serving::Llm(l) => l.kv_blocks(),
                    Serving::Requests(_) => 0,
                },
                output_tokens: 0,
                requests: 0,
            })
            .collect();
        let offline =
            !s.workloads().is_empty() && s.workloads().iter().all(|w| w.arrival.is_offline());
        let horizon = if offline { u64::MAX } else { s.horizon().0 };
        let mut r = Recorder {
            offline,
            warmup: s.measured_from().0,
            horizon,
            interval: s.interval().0,
            next_boundary: start,
            next_interval_end: start.saturating_add(s.interval().0).min(horizon),
            interval_start: start,
            in_window: s.warmup().0 == 0,
            workloads,
            pools,
            series: vec![Vec::new(); s.workloads().len()],
            total_series: Vec::new(),
            pool_series: vec![Vec::new(); s.pools().len()],
            simulated_requests: 0,
            truncated: false,
        };
        r.next_boundary = r.compute_next_boundary(start);
        r
    }

    fn compute_next_boundary(&self, now: u64) -> u64 {
        let mut next = u64::MAX;
        if now < self.horizon {
            next = next.min(self.next_interval_end).min(self.horizon);
        }
        if now < self.warmup {
            next = next.min(self.warmup);
        }
        next
    }

    #[inline]
    fn counts(&self, arrival: u64) -> bool {
        arrival >= self.warmup && arrival < self.horizon
    }

    /// Whether moving to `now` crosses a boundary (an interval's end, warm-up, the horizon).
    #[inline]
    pub fn boundary_due(&self, now: u64) -> bool {
        now >= self.next_boundary
    }

    /// Whether moving to `now` closes an interval (the engine then counts its queues first).
    #[inline]
    pub fn interval_due(&self, now: u64) -> bool {
        now >= self.next_interval_end
    }

    /// The requests of workload `w` waiting now.
    pub fn waiting(&mut self, w: usize, n: u64) {
        self.workloads[w].waiting = n;
    }

    /// Brings the integrals up to `now`, closing the intervals and window phases passed on the way.
    #[inline]
    pub fn advance(&mut self, now: u64, s: &Scenario) {
        // `u64::MAX` is "no boundary left" (a run whose clock saturated reaches it).
        while now >= self.next_boundary && self.next_boundary != u64::MAX {
            self.cross(self.next_boundary, s);
        }
    }

    #[cold]
    fn cross(&mut self, b: u64, s: &Scenario) {
        let in_window = self.in_window;
        for p in &mut self.pools {
            p.busy.settle(b, in_window);
            p.replicas.settle(b, in_window);
            p.instances.settle(b, in_window);
            p.starting.settle(b, in_window);
            p.short.settle(b, in_window);
            p.stopped.settle(b, in_window);
            p.kv.settle(b, in_window);
        }
        if b == self.horizon {
            for w in &mut self.workloads {
                w.at_horizon = w.in_system;
            }
        }
        if b == self.next_interval_end {
            self.close_interval(b, s);
            self.interval_start = b;
            self.next_interval_end = b.saturating_add(self.interval).min(self.horizon);
        }
        self.in_window = b >= self.warmup && b < self.horizon;
        self.next_boundary = self.compute_next_boundary(b);
    }

    fn close_interval(&mut self, end: u64, s: &Scenario) {
        let len_ns = (end - self.interval_start) as f64;
        let t_s = self.interval_start as f64 / 1e9;
        let mut pool_parts: Vec<(f64, f64)> = Vec::with_capacity(self.pools.len());
        for p in &mut self.pools {
            let busy = p.busy.take_interval() as f64;
            let replicas = p.replicas.take_interval() as f64;
            pool_parts.push((busy, replicas));
            self.pool_series[pool_parts.len() - 1].push(PoolSeriesRow {
                t_s,
                replicas: replicas / len_ns,
                utilization: busy / replicas,
                instance_hours: p.instances.take_interval() as f64 / NS_PER_HOUR,
                cost_usd: f64::NAN,
            });
        }
        let mut total = SeriesRow {
            t_s,
            arrivals: 0.0,
            completed: 0.0,
            failed: 0.0,
            p50_ms: f64::NAN,
            p99_ms: f64::NAN,
            ttft_p99_ms: f64::NAN,
            tpot_p99_ms: f64::NAN,
            utilization: f64::NAN,
            replicas: 0.0,
            queue: 0.0,
            cost_usd: f64::NAN,
        };
        let mut total_hist: Option<CoarseHistogram> = None;
        let mut total_ttft = CoarseHistogram::default();
        let mut total_tpot = CoarseHistogram::default();
        let (mut total_busy, mut total_replicas) = (0.0, 0.0);
        let many = self.workloads.len() > 1;
        for (wi, w) in self.workloads.iter_mut().enumerate() {
            let (mut busy, mut replicas) = (0.0, 0.0);
            for (pi, _) in s
                .pools()
                .iter()
                .enumerate()
                .filter(|(_, p)| p.workload == wi)
            {
                busy += pool_parts[pi].0;
                replicas += pool_parts[pi].1;
            }
            let [p50_ms, p99_ms] = p50_p99_ms(&w.iv_latency);
            let row = SeriesRow {
                t_s,
                arrivals: w.iv_arrivals as f64,
                completed: w.iv_completed as f64,
                failed: w.iv_failed as f64,
                p50_ms,
                p99_ms,
                ttft_p99_ms: p99_ms_of(&w.iv_ttft),
                tpot_p99_ms: p99_ms_of(&w.iv_tpot),
                utilization: busy / replicas,
                replicas: replicas / len_ns,
                queue: w.waiting as f64,
                cost_usd: f64::NAN,
            };
            total.arrivals += row.arrivals;
            total.completed += row.completed;
            total.failed += row.failed;
            total.replicas += row.replicas;
            total.queue += row.queue;
            total_busy += busy;
            total_replicas += replicas;
            if many {
                match &mut total_hist {
                    Some(h) => h.add(&w.iv_latency),
                    None => total_hist = Some(w.iv_latency.clone()),
                }
                total_ttft.add(&w.iv_ttft);
                total_tpot.add(&w.iv_tpot);
            } else {
                total.p50_ms = row.p50_ms;
                total.p99_ms = row.p99_ms;
                total.ttft_p99_ms = row.ttft_p99_ms;
                total.tpot_p99_ms = row.tpot_p99_ms;
            }
            self.series[wi].push(row);
            w.iv_arrivals = 0;
            w.iv_completed = 0;
            w.iv_failed = 0;
            w.iv_latency.reset();
            w.iv_ttft.reset();
            w.iv_tpot.reset();
        }
        if let Some(h) = total_hist {
            [total.p50_ms, total.p99_ms] = p50_p99_ms(&h);
            total.ttft_p99_ms = p99_ms_of(&total_ttft);
            total.tpot_p99_ms = p99_ms_of(&total_tpot);
        }
        total.utilization = total_busy / total_replicas;
        self.total_series.push(total);
    }

    #[inline]
    pub fn arrival(&mut self, w: usize, t: u64) {
        self.simulated_requests += 1;
        let counts = self.counts(t);
        let rec = &mut self.workloads[w];
        rec.in_system += 1;
        if counts {
            rec.arrived += 1;
        }
        if t < self.horizon {
            rec.iv_arrivals += 1;
        }
    }

    /// A request that arrived at `arrival` leaves the fleet at `now`.
    #[inline]
    fn departed(&mut self, w: usize, arrival: u64, now: u64) {
        let (from, to) = (arrival.max(self.warmup), now.min(self.horizon));
        let rec = &mut self.workloads[w];
        if to > from {
            rec.in_system_ns += u128::from(to - from);
        }
        rec.in_system -= 1;
        rec.left_total += 1;
        rec.last_left = now;
    }

    /// Requests in the fleet now, over every workload.
    pub fn in_system(&self) -> u64 {
        self.workloads.iter().map(|w| w.in_system).sum()
    }

    /// Requests that left since the start (served, dropped or timed out), warm-up included,
    /// over every workload.
    pub fn left_total(&self) -> u64 {
        self.workloads.iter().map(|w| w.left_total).sum()
    }

    /// Whether the run is offline (a batch or closed loop: no horizon).
    pub fn offline(&self) -> bool {
        self.offline
    }

    /// Ends the measured span at `at` (before the horizon): the run stops there, undrained.
    pub fn truncate(&mut self, at: u64, s: &Scenario) {
        self.truncated = true;
        if at >= self.horizon {
            // The drain, cut: the window ended at the horizon already.
            return;
        }
        self.advance(at, s);
        self.horizon = at.max(self.warmup + 1);
        // Close the interval the stop cuts short, unless it has just begun.
        self.next_interval_end = if self.interval_start < self.horizon {
            self.next_interval_end.min(self.horizon)
        } else {
            u64::MAX
        };
        self.next_boundary = self.horizon.min(self.next_boundary);
        self.advance(self.horizon, s);
    }

    /// A request leaves without being served: dropped (queue full) or timed out.
    #[inline]
    pub fn failed(&mut self, w: usize, arrival: u64, now: u64, timed_out: bool) {
        self.departed(w, arrival, now);
        let counts = self.counts(arrival);
        let rec = &mut self.workloads[w];
        if counts {
            if timed_out {
                rec.timed_out += 1;
            } else {
                rec.dropped += 1;
            }
        }
        if now < self.horizon {
            rec.iv_failed += 1;
        }
    }

    /// A request leaves its queue for service.
    #[inline]
    pub fn started(&mut self, w: usize, arrival: u64, now: u64) {
        if self.counts(arrival) {
            let rec = &mut self.workloads[w];
            let wait = now - arrival;
            rec.wait_sum_ns += u128::from(wait);
            if wait < NS_PER_US {
                rec.zero_waits += 1;
            } else {
                rec.wait
                    .record(wait / NS_PER_US)
                    .expect("an auto-resizing histogram takes any u64");
            }
        }
    }

    #[inline]
    pub fn batch_started(&mut self, pool: usize, size: usize, now: u64) {
        let in_window = self.in_window;
        let p = &mut self.pools[pool];
        p.busy.inc(now, in_window);
        if now >= self.warmup && now < self.horizon {
            p.batches += 1;
            p.batch_items += size as u64;
        }
    }

    /// `count` more batches of `size` that ran back to back from `start` (an LLM decode run).
    pub fn more_batches(&mut self, pool: usize, size: usize, count: u32, start: u64) {
        if start >= self.warmup && start < self.horizon {
            let p = &mut self.pools[pool];
            p.batches += u64::from(count);
            p.batch_items += size as u64 * u64::from(count);
        }
    }

    /// Pool `p`'s busy replica-time and serving replica-time since the start, up to `now`
    /// (nanosecond-replicas), for autoscaling policies that track utilization.
    pub fn pool_areas(&mut self, p: usize, now: u64) -> (u128, u128) {
        let in_window = self.in_window;
        let pool = &mut self.pools[p];
        pool.busy.settle(now, in_window);
        pool.replicas.settle(now, in_window);
        (pool.busy.total(), pool.replicas.total())
    }

    /// An elastic pool now has `replicas` serving (or draining) and pays for `instances`.
    pub fn fleet_changed(&mut self, pool: usize, f: FleetCounts, now: u64) {
        let in_window = self.in_window;
        let p = &mut self.pools[pool];
        p.replicas.set(now, in_window, u64::from(f.serving));
        p.instances.set(now, in_window, u64::from(f.instances));
        p.starting.set(now, in_window, u64::from(f.starting));
        p.short.set(now, in_window, u64::from(f.short));
        p.stopped.set(now, in_window, u64::from(f.stopped));
    }

    /// A scale-up of `pool` took a warm instance.
    pub fn warm_start(&mut self, pool: usize, now: u64) {
        if now >= self.warmup && now < self.horizon {
            self.pools[pool].warm_starts += 1;
        }
    }

    /// A replica of `pool` got its reclaim notice.
    pub fn interrupted(&mut self, pool: usize, now: u64) {
        if now >= self.warmup && now < self.horizon {
            self.pools[pool].interruptions += 1;
        }
    }

    /// A request of workload `w` that arrived at `arrival` lost its replica and goes elsewhere.
    pub fn retried(&mut self, w: usize, arrival: u64, now: u64) {
        if self.counts(arrival) {
            let rec = &mut self.workloads[w];
            rec.retried += 1;
            rec.retried_lost_ns += u128::from(now - arrival);
        }
    }

    /// An elastic pool asked for a new replica (`started`) or stopped one.
    pub fn replica_event(&mut self, pool: usize, started: bool, now: u64) {
        if now >= self.warmup && now < self.horizon {
            let p = &mut self.pools[pool];
            if started {
                p.starts += 1;
            } else {
                p.stops += 1;
            }
        }
    }

    #[inline]
    pub fn batch_finished(&mut self, pool: usize, now: u64) {
        let in_window = self.in_window;
        self.pools[pool].busy.dec(now, in_window);
    }

    /// A request is served; it counts as completed unless it took longer than the timeout.
    #[inline]
    pub fn completed(&mut self, w: usize, arrival: u64, now: u64, timeout: u64) {
        let latency = now - arrival;
        if latency > timeout {
            self.failed(w, arrival, now, true);
            return;
        }
        self.departed(w, arrival, now);
        let counts = self.counts(arrival);
        let before_horizon = now < self.horizon;
        let rec = &mut self.workloads[w];
        let us = latency / NS_PER_US;
        if counts {
            rec.completed += 1;
            rec.latency_sum_ns += u128::from(latency);
            rec.latency_max_ns = rec.latency_max_ns.max(latency);
            rec.latency
                .record(us)
                .expect("an auto-resizing histogram takes any u64");
            if rec.target_ns.is_some_and(|t| latency <= t) {
                rec.within_target += 1;
            }
        }
        if before_horizon {
            rec.iv_completed += 1;
            rec.iv_latency.record(us);
            if now >= self.warmup {
                rec.served_in_window += 1;
            }
        }
    }

    /// The figures of the run, which ended (drained) at `end`.
    pub fn finish(mut self, s: &Scenario, seed: u64, events: u64, end: u64) -> RunResult {
        let stop = if self.offline {
            end.max(self.warmup + 1)
        } else {
            end.max(self.horizon)
        };
        self.advance(stop, s);
        if self.offline {
            // No boundary falls at the makespan: bring every level up to it.
            let in_window = self.in_window;
            for p in &mut self.pools {
                for level in [
                    &mut p.busy,
                    &mut p.replicas,
                    &mut p.instances,
                    &mut p.starting,
                    &mut p.short,
                    &mut p.stopped,
                    &mut p.kv,
                ] {
                    level.settle(stop, in_window);
                }
            }
            // And the time series ends with the interval the makespan cuts short.
            if stop > self.interval_start {
                self.close_interval(stop, s);
                self.interval_start = stop;
            }
        }
        let window_ns = (stop.min(self.horizon) - self.warmup) as f64;
        let pools: Vec<PoolStats> = self
            .pools
            .iter()
            .zip(s.pools())
            .map(|(p, pool)| {
                let busy_gpu_h =
                    p.busy.window as f64 * f64::from(pool.gpus_per_replica) / NS_PER_HOUR;
                let paid_gpu_h =
                    p.instances.window as f64 * f64::from(pool.instance.gpu_count) / NS_PER_HOUR;
                let idle_gpu_h = (paid_gpu_h - busy_gpu_h).max(0.0);
                let out_per_replica_s = p.output_tokens as f64 / (p.replicas.window as f64 / 1e9);
                PoolStats {
                    instance_hours: p.instances.window as f64 / NS_PER_HOUR,
                    stopped_instance_hours: p.stopped.window as f64 / NS_PER_HOUR,
                    replicas_mean: p.replicas.window as f64 / window_ns,
                    cold_starts: p.starts as f64,
                    interruptions: p.interruptions as f64,
                    under_provisioned_hours: p.short.window as f64 / NS_PER_HOUR,
                    warm_starts: p.warm_starts as f64,
                    warm_cost_usd: f64::NAN,
                    stops: p.stops as f64,
                    provisioning_replica_hours: p.starting.window as f64 / NS_PER_HOUR,
                    provisioning_cost_usd: f64::NAN,
                    utilization: p.busy.window as f64 / p.replicas.window as f64,
                    output_tokens_per_second_per_replica: if p.kv_per_replica > 0 {
                        out_per_replica_s
                    } else {
                        f64::NAN
                    },
                    requests_per_second_per_replica: if p.kv_per_replica > 0 {
                        p.requests as f64 / (p.replicas.window as f64 / 1e9)
                    } else {
                        f64::NAN
                    },
                    output_tokens_per_second_per_gpu: if p.kv_per_replica > 0 {
                        out_per_replica_s / f64::from(pool.gpus_per_replica)
                    } else {
                        f64::NAN
                    },
                    kv_utilization: p.kv.window as f64
                        / (p.kv_per_replica as f64 * p.replicas.window as f64),
                    gpu_hours_busy: busy_gpu_h,
                    gpu_hours_idle: idle_gpu_h,
                    cost_usd: f64::NAN,
                    idle_cost_usd: f64::NAN,
                    batch_size_mean: p.batch_items as f64 / p.batches as f64,
                    batches: p.batches as f64,
                }
            })
            .collect();
        let all: Vec<usize> = (0..s.workloads().len()).collect();
        let workloads: Vec<Stats> = all
            .iter()
            .map(|&w| self.stats(s, &[w], &pools, window_ns))
            .collect();
        // One workload is the whole scope: the same figures, without merging and binning its
        // histograms a second time.
        let total = match workloads.as_slice() {
            [only] => only.clone(),
            _ => self.stats(s, &all, &pools, window_ns),
        };
        RunResult {
            makespan: self.offline.then_some(crate::units::SimTime(stop)),
            seed,
            events,
            simulated_requests: self.simulated_requests,
            total,
            workloads,
            pools,
            series: self.total_series,
            workload_series: self.series,
            pool_series: self.pool_series,
            arrivals_ended: vec![None; s.workloads().len()],
            window_hours: window_ns / NS_PER_HOUR,
            stopped: None,
        }
    }

    fn stats(&self, s: &Scenario, ws: &[usize], pools: &[PoolStats], window_ns: f64) -> Stats {
        let recs: Vec<&WorkloadRec> = ws.iter().map(|&w| &self.workloads[w]).collect();
        let merged = |f: fn(&WorkloadRec) -> &Histogram<u64>| -> Histogram<u64> {
            let mut h = f(recs[0]).clone();
            for r in &recs[1..] {
                h.add(f(r)).expect("same-shaped histograms");
            }
            h
        };
        let latency = merged(|r| &r.latency);
        let mut wait = merged(|r| &r.wait);
        let zero_waits: u64 = recs.iter().map(|r| r.zero_waits).sum();
        wait.record_n(0, zero_waits)
            .expect("an auto-resizing histogram takes any u64");
        let sum = |f: fn(&WorkloadRec) -> u64| recs.iter().map(|r| f(r)).sum::<u64>() as f64;
        let arrived = sum(|r| r.arrived);
        let completed = sum(|r| r.completed);
        let started = wait.len() as f64;
        let latency_sum: u128 = recs.iter().map(|r| r.latency_sum_ns).sum();
        let wait_sum: u128 = recs.iter().map(|r| r.wait_sum_ns).sum();

        let in_scope: Vec<usize> = (0..s.pools().len())
            .filter(|&p| ws.contains(&s.pools()[p].workload))
            .collect();
        let pool_sum =
            |f: fn(&PoolStats) -> f64| in_scope.iter().map(|&p| f(&pools[p])).sum::<f64>();
        let busy_replica_ns: u128 = in_scope.iter().map(|&p| self.pools[p].busy.window).sum();
        let replica_ns: u128 = in_scope
            .iter()
            .map(|&p| self.pools[p].replicas.window)
            .sum();
        let batches: f64 = in_scope.iter().map(|&p| self.pools[p].batches as f64).sum();
        let batch_items: f64 = in_scope
            .iter()
            .map(|&p| self.pools[p].batch_items as f64)
            .sum();

        let slo = slo_summary(&recs);
        let quantile = |h: &Histogram<u64>, q: f64| quantile_ms(h, q);
        let mut v = [f64::NAN; Metric::COUNT];
        let mut set = |m: Metric, x: f64| v[m.index()] = x;
        set(Metric::Arrived, arrived);
        set(Metric::Completed, completed);
        set(Metric::Dropped, sum(|r| r.dropped));
        set(Metric::TimedOut, sum(|r| r.timed_out));
        set(Metric::Retried, sum(|r| r.retried));
        set(
            Metric::RetriedLost,
            recs.iter().map(|r| r.retried_lost_ns).sum::<u128>() as f64 / 1e6 / sum(|r| r.retried),
        );
        set(
            Metric::Interruptions,
            in_scope
                .iter()
                .map(|&p| self.pools[p].interruptions as f64)
                .sum(),
        );
        set(Metric::LatencyMean, latency_sum as f64 / 1e6 / completed);
        set(Metric::LatencyP50, quantile(&latency, 0.50));
        set(Metric::LatencyP90, quantile(&latency, 0.90));
        set(Metric::LatencyP95, quantile(&latency, 0.95));
        set(Metric::LatencyP99, quantile(&latency, 0.99));
        set(Metric::LatencyP999, quantile(&latency, 0.999));
        let max_ns = recs.iter().map(|r| r.latency_max_ns).max().unwrap_or(0);
        set(
            Metric::LatencyMax,
            if completed > 0.0 {
                max_ns as f64 / 1e6
            } else {
                f64::NAN
            },
        );
        set(Metric::WaitMean, wait_sum as f64 / 1e6 / started);
        set(Metric::WaitP99, quantile(&wait, 0.99));
        set(
            Metric::Utilization,
            busy_replica_ns as f64 / replica_ns as f64,
        );
        set(Metric::GpuHoursBusy, pool_sum(|p| p.gpu_hours_busy));
        set(Metric::GpuHoursIdle, pool_sum(|p| p.gpu_hours_idle));
        set(Metric::SloAttainment, slo.attainment[0]);
        set(Metric::SloTtftAttainment, slo.attainment[1]);
        set(Metric::SloTpotAttainment, slo.attainment[2]);
        let served = sum(|r| r.served_in_window);
        set(Metric::Throughput, served / (window_ns / 1e9));
        set(
            Metric::MeanInSystem,
            recs.iter().map(|r| r.in_system_ns as f64).sum::<f64>() / window_ns,
        );
        set(Metric::BatchMean, batch_items / batches);
        let gpu_seconds: f64 = in_scope
            .iter()
            .map(|&p| {
                self.pools[p].replicas.window as f64 * f64::from(s.pools()[p].gpus_per_replica)
                    / 1e9
            })
            .sum();
        let kv = in_scope.iter().fold((0.0, 0.0), |(used, cap), &p| {
            let rec = &self.pools[p];
            (
                used + rec.kv.window as f64,
                cap + rec.kv_per_replica as f64 * rec.replicas.window as f64,
            )
        });
        let token_recs: Vec<&TokenRec> = recs.iter().map(|r| &r.tokens).collect();
        tokens::fill(&mut v, &token_recs, window_ns / 1e9, gpu_seconds, kv);
        Stats {
            values: v,
            latency_bins: latency_bins(&latency),
            slo_targets: slo.targets,
            slo_met: slo.met,
            backlog: self.backlog(&recs, served / (window_ns / 1e9), window_ns / 1e9),
        }
    }

    /// What `recs` had left at the horizon, given the rate they were served at.
    fn backlog(&self, recs: &[&WorkloadRec], served_per_s: f64, window_s: f64) -> Backlog {
        let requests = recs.iter().map(|r| r.at_horizon).sum::<u64>() as f64;
        let drain_s = if self.truncated {
            if requests == 0.0 {
                0.0
            } else if served_per_s > 0.0 {
                requests / served_per_s
            } else {
                f64::INFINITY
            }
        } else {
            let last = recs.iter().map(|r| r.last_left).max().unwrap_or(0);
            last.saturating_sub(self.horizon) as f64 / 1e9
        };
        Backlog {
            offered_per_s: recs.iter().map(|r| r.arrived).sum::<u64>() as f64 / window_s,
            requests,
            drain_s,
            overloaded: !self.offline && drain_s > Backlog::OVERLOAD_SHARE * window_s,
        }
    }
}

/// SLO attainment (end to end, TTFT, TPOT) of a scope, whether its SLOs were met, and its
/// targets when it has exactly one workload with an SLO.
struct SloSummary {
    attainment: [f64; 3],
    met: Option<bool>,
    targets: Option<SloTargets>,
}

/// A kind of SLO target: whether an SLO sets it, and how many requests of a workload met it.
type SloKind = (fn(&Slo) -> bool, fn(&WorkloadRec) -> u64);

fn slo_summary(recs: &[&WorkloadRec]) -> SloSummary {
    let with_slo: Vec<&&WorkloadRec> = recs.iter().filter(|r| r.slo.is_some()).collect();
    // For each kind of target: the workloads that have it, and how many of their requests met it.
    let kinds: [SloKind; 3] = [
        (|s| s.p99.is_some(), |r| r.within_target),
        (|s| s.ttft_p99.is_some(), |r| r.tokens.ttft_within),
        (|s| s.tpot_p99.is_some(), |r| r.tokens.tpot_within),
    ];
    let attainment = kinds.map(|(has, within)| {
        let (arrived, met) = with_slo
            .iter()
            .filter(|r| r.slo.as_ref().is_some_and(has))
            .fold((0u64, 0u64), |(a, m), r| (a + r.arrived, m + within(r)));
        if arrived == 0 {
            f64::NAN
        } else {
            met as f64 / arrived as f64
        }
    });
    let met = (!with_slo.is_empty()).then(|| {
        with_slo.iter().all(|r| {
            let slo = r.slo.expect("filtered");
            kinds.iter().all(|(has, within)| {
                !has(&slo) || r.arrived == 0 || within(r) as f64 >= 0.99 * r.arrived as f64
            })
        })
    });
    let ms = |t: Option<crate::units::SimTime>| t.map(|t| t.as_millis_f64());
    let targets = match with_slo.as_slice() {
        [one] => one.slo.map(|s| SloTargets {
            p99_ms: ms(s.p99),
            ttft_p99_ms: ms(s.ttft_p99),
            tpot_p99_ms: ms(s.tpot_p99),
        }),
        _ => None,
    };
    SloSummary {
        attainment,
        met,
        targets,
    }
}

/// The `q` quantile in milliseconds, as the middle of its histogram bucket (hdrhistogram returns
/// the bucket's top, which biases every percentile up by up to one bucket width).
pub(super) fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        f64::NAN
    } else {
        h.median_equivalent(h.value_at_quantile(q)) as f64 / 1e3
    }
}

/// Bins a latency histogram (microseconds) for drawing, once at the end of a run: each bucket's
/// count goes to the bin of its middle value, as the percentiles read it. Buckets come in
/// increasing order, so the bin only moves up: a comparison per bucket, no logarithm (a run's
/// histogram holds thousands of buckets, and the optimizer runs many short simulations).
fn latency_bins(h: &Histogram<u64>) -> LatencyBins {
    let mut bins = LatencyBins::empty();
    if h.is_empty() {
        return bins;
    }
    let mut bin = 0;
    let mut upper_ms = LatencyBins::edges_ms(bin).1;
    for v in h.iter_recorded() {
        let ms = h.median_equivalent(v.value_iterated_to()) as f64 / 1e3;
        // Below the first edge: the first bin; at or above the last: the last.
        while ms >= upper_ms && bin + 1 < LatencyBins::COUNT {
            bin += 1;
            upper_ms = LatencyBins::edges_ms(bin).1;
        }
        bins.counts[bin] += v.count_at_value() as f64;
    }
    bins
}

/// The p50 and p99 of an interval's latencies (microseconds) in milliseconds.
fn p50_p99_ms(h: &CoarseHistogram) -> [f64; 2] {
    h.quantiles([0.50, 0.99]).map(|us| us / 1e3)
}

fn p99_ms_of(h: &CoarseHistogram) -> f64 {
    let [p99] = h.quantiles([0.99]);
    p99 / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain reference: the bin whose edges hold `ms`, found by search.
    fn bin_of(ms: f64) -> usize {
        (0..LatencyBins::COUNT)
            .find(|&i| ms < LatencyBins::edges_ms(i).1)
            .unwrap_or(LatencyBins::COUNT - 1)
    }

    #[test]
    fn latency_bins_match_a_search_by_edges() {
        let mut h = histogram(SIGFIG);
        let mut expected = LatencyBins::empty();
        // 1 us (below the first edge) to 3e12 us (above the last), about 30 values a decade, some
        // on bin edges, with counts that vary.
        let values = (0..370)
            .map(|k| 10f64.powf(k as f64 / 30.0).round() as u64)
            .chain((0..=LatencyBins::COUNT).map(|i| (100.0 * 10f64.powf(i as f64 / 20.0)) as u64));
        for (n, us) in values.enumerate() {
            h.record_n(us, n as u64 % 5 + 1).expect("auto-resizing");
        }
        for v in h.iter_recorded() {
            let ms = h.median_equivalent(v.value_iterated_to()) as f64 / 1e3;
            expected.counts[bin_of(ms)] += v.count_at_value() as f64;
        }
        let got = latency_bins(&h);
        assert_eq!(got, expected);
        assert_eq!(got.total(), h.len() as f64);
        assert!(got.counts[0] > 0.0 && got.counts[LatencyBins::COUNT - 1] > 0.0);
        assert_eq!(latency_bins(&histogram(SIGFIG)).total(), 0.0);
    }
}
