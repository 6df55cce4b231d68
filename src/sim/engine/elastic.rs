//! The engine's side of elastic pools: the policy's evaluations, replicas that start (and are
//! paid for) before they serve, and replicas that drain before they stop.
//!
//! A replica slot is `Off`, `Starting` (paid, not serving), `Active` (takes new work) or
//! `Draining` (finishes the work it holds, takes no more, then stops). Dispatch sees only active
//! replicas. A scale-up brings draining replicas back first (they are still loaded), then starts
//! new ones; a scale-down calls off replicas still starting, newest first, then drains active
//! ones, idle ones first.

use std::collections::VecDeque;

use super::{Engine, Event};
use crate::fleet::scaling::scheduled;

use crate::fleet::{
    QueueMetric, ScalingPolicy, StepScaling, TargetTracking, TrackedMetric, WarmState,
    instances_for,
};
use crate::sim::metrics::FleetCounts;
use crate::units::SimTime;
use crate::workload::Policy;

/// What a target-tracking policy remembers between evaluations.
#[derive(Default)]
pub(super) struct Tracker {
    /// (time, busy replica-ns, serving replica-ns) at past evaluations, oldest first, reaching
    /// back one window.
    samples: VecDeque<(u64, u128, u128)>,
    /// Recent recommendations (time, replicas), for the scale-down stabilization window.
    recommendations: VecDeque<(u64, u32)>,
    last_scale_up: Option<u64>,
    /// Sampled metrics (time, value) over the last window, for the metrics read at ticks.
    points: VecDeque<(u64, f64)>,
    /// When step scaling last changed the pool.
    last_step: Option<u64>,
}

impl Tracker {
    /// Adds `value`, sampled at `now`, and returns the mean of the samples of the last `window`.
    fn windowed(&mut self, now: u64, window: u64, value: f64) -> f64 {
        self.points.push_back((now, value));
        while self
            .points
            .front()
            .is_some_and(|&(at, _)| at + window <= now && at != now)
        {
            self.points.pop_front();
        }
        self.points.iter().map(|&(_, v)| v).sum::<f64>() / self.points.len() as f64
    }
}

/// What a pool holds at one instant, over its serving replicas (its share of a shared queue
/// included).
#[derive(Default)]
struct Snapshot {
    serving: u32,
    in_flight: f64,
    waiting: f64,
    /// Arrival of the oldest waiting request.
    oldest: Option<u64>,
    /// Live KV blocks over one replica's capacity: replicas' worth of KV in use.
    kv_replicas: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReplicaState {
    Off,
    Starting,
    Active,
    Draining,
}

impl Engine<'_> {
    pub(super) fn on_pool_tick(&mut self, p: usize) {
        let scaling = self.scenario.pools()[p]
            .scaling
            .as_ref()
            .expect("only elastic pools tick");
        let target = match &scaling.policy {
            ScalingPolicy::Schedule { hours } => {
                scheduled(hours, SimTime(self.now)).clamp(scaling.min, scaling.max)
            }
            ScalingPolicy::TargetTracking(t) => self.tracked_target(p, t, scaling.min, scaling.max),
            ScalingPolicy::Step(s) => self.stepped_target(p, s, scaling.min, scaling.max),
            ScalingPolicy::Predictive { hours, tracking } => {
                let lead = self.scenario.pools()[p].provisioning.typical();
                let planned = scheduled(hours, SimTime(self.now.saturating_add(lead.0)));
                let tracked = self.tracked_target(p, tracking, scaling.min, scaling.max);
                planned.max(tracked).clamp(scaling.min, scaling.max)
            }
        };
        self.rescale(p, target);
        let next = scaling.policy.next_evaluation(SimTime(self.now));
        if next < self.scenario.horizon() {
            self.events.push(next, Event::PoolTick { pool: p as u32 });
        }
    }

    /// Replicas starting or serving in pool `p`: what it has asked for.
    pub(super) fn committed(&self, p: usize) -> u32 {
        self.pools[p]
            .slots
            .iter()
            .filter(|&&r| {
                matches!(
                    self.replicas[r as usize].state,
                    ReplicaState::Starting | ReplicaState::Active
                )
            })
            .count() as u32
    }

    /// What target tracking asks of pool `p` now.
    fn tracked_target(&mut self, p: usize, t: &TargetTracking, min: u32, max: u32) -> u32 {
        let now = self.now;
        let committed = self.committed(p);
        let (busy, serving) = self.rec.pool_areas(p, now);
        let tracker = &mut self.pools[p].tracker;
        tracker.samples.push_back((now, busy, serving));
        // Keep the newest sample that is at least a window old as the front.
        let from = now.saturating_sub(t.window.0);
        while tracker.samples.len() > 1 && tracker.samples[1].0 <= from {
            tracker.samples.pop_front();
        }
        let (t0, busy0, _) = tracker.samples[0];
        if t0 == now {
            // The first look: the replicas the run started with count as a recommendation, so
            // the stabilization window holds them at first as it holds any later count.
            tracker.recommendations.push_back((now, committed));
            return committed;
        }
        // The replicas that would hold the metric at its target: for utilization, mean busy
        // replicas / target; for concurrency, mean requests in flight / target; for the KV
        // cache, mean replicas' worth of live KV / target.
        let load = match t.metric {
            TrackedMetric::Utilization => (busy - busy0) as f64 / (now - t0) as f64,
            TrackedMetric::Concurrency => {
                let v = self.snapshot(p).in_flight;
                self.pools[p].tracker.windowed(now, t.window.0, v)
            }
            TrackedMetric::KvCache => {
                let v = self.snapshot(p).kv_replicas;
                self.pools[p].tracker.windowed(now, t.window.0, v)
            }
        };
        let tracker = &mut self.pools[p].tracker;
        let desired = ((load / t.target - 1e-9).ceil().max(0.0) as u32).clamp(min, max);
        tracker.recommendations.push_back((now, desired));
        let keep_from = now.saturating_sub(t.scale_down_stabilization.0);
        while tracker
            .recommendations
            .front()
            .is_some_and(|&(at, _)| at < keep_from)
        {
            tracker.recommendations.pop_front();
        }
        if desired > committed {
            let cooled = tracker
                .last_scale_up
                .is_none_or(|at| now - at >= t.scale_up_cooldown.0);
            if cooled {
                tracker.last_scale_up = Some(now);
                return desired;
            }
            committed
        } else {
            // Down only as far as every recent recommendation allows.
            let highest = tracker
                .recommendations
                .iter()
                .map(|&(_, n)| n)
                .max()
                .unwrap_or(committed);
            highest.min(committed)
        }
    }

    /// What step scaling asks of pool `p` now.
    fn stepped_target(&mut self, p: usize, s: &StepScaling, min: u32, max: u32) -> u32 {
        let now = self.now;
        let committed = self.committed(p);
        let snap = self.snapshot(p);
        let value = match s.metric {
            QueueMetric::Length => snap.waiting / f64::from(snap.serving.max(1)),
            QueueMetric::Delay => snap.oldest.map_or(0.0, |a| (now - a) as f64 / 1e9),
        };
        let tracker = &mut self.pools[p].tracker;
        let mean = tracker.windowed(now, s.window.0, value);
        if tracker.last_step.is_some_and(|at| now - at < s.cooldown.0) {
            return committed;
        }
        let wanted = s.wanted(mean, committed).clamp(min, max);
        if wanted != committed {
            tracker.last_step = Some(now);
        }
        wanted
    }

    /// The requests and KV cache pool `p` holds now.
    fn snapshot(&self, p: usize) -> Snapshot {
        let mut snap = Snapshot::default();
        let mut oldest = u64::MAX;
        for &r in &self.pools[p].slots {
            let replica = &self.replicas[r as usize];
            if !matches!(replica.state, ReplicaState::Active | ReplicaState::Draining) {
                continue;
            }
            snap.serving += 1;
            if let Some(llm) = &replica.llm {
                let waiting = llm.waiting_len();
                snap.in_flight += (waiting + llm.running_len()) as f64;
                snap.waiting += waiting as f64;
                oldest = oldest.min(llm.oldest_waiting().unwrap_or(u64::MAX));
                snap.kv_replicas += llm.filled_blocks() as f64;
            } else {
                let waiting = replica.queue.items.len();
                snap.in_flight += (waiting + replica.batch.len()) as f64;
                snap.waiting += waiting as f64;
                oldest = oldest.min(
                    replica
                        .queue
                        .items
                        .front()
                        .map_or(u64::MAX, |q| q.arrival.0),
                );
            }
        }
        if let Some(l) = self.pools[p].llm_config {
            snap.kv_replicas /= l.kv_blocks as f64;
        }
        // A shared queue belongs to the workload: the pool's share is its share of the
        // workload's serving replicas.
        let w = &self.workloads[self.scenario.pools()[p].workload];
        if w.policy == Policy::SharedQueue && !w.queue.items.is_empty() {
            // With nothing serving, every pool sees the whole queue (so one can scale from zero).
            let share = if w.replicas.is_empty() {
                1.0
            } else {
                f64::from(snap.serving) / w.replicas.len() as f64
            };
            let queued = w.queue.items.len() as f64 * share;
            snap.in_flight += queued;
            snap.waiting += queued;
            oldest = oldest.min(w.queue.items.front().map_or(u64::MAX, |q| q.arrival.0));
        }
        snap.oldest = (oldest != u64::MAX).then_some(oldest);
        snap
    }

    /// Moves pool `p` towards `target` replicas (starting or serving). A spot pool without
    /// capacity since a reclaim asks again when it is back.
    pub(super) fn rescale(&mut self, p: usize, target: u32) {
        self.pools[p].target = target;
        let slots = self.pools[p].slots.clone();
        let count = |e: &Self, s: ReplicaState| {
            slots
                .iter()
                .filter(|&&r| e.replicas[r as usize].state == s)
                .count() as u32
        };
        let current = count(self, ReplicaState::Starting) + count(self, ReplicaState::Active);
        if target > current {
            let mut need = target - current;
            for &r in &slots {
                let replica = &self.replicas[r as usize];
                // A replica under reclaim notice cannot come back.
                if need > 0
                    && replica.state == ReplicaState::Draining
                    && replica.reclaim_at == u64::MAX
                {
                    self.join(r as usize);
                    need -= 1;
                }
            }
            if need > 0 && self.now < self.pools[p].capacity_back_at {
                self.arm_replace(p);
                need = 0;
            }
            for _ in 0..need {
                let delay = self.provision_delay(p);
                self.start_new(p, delay);
            }
        } else if target < current {
            let mut excess = current - target;
            for &r in slots.iter().rev() {
                if excess > 0 && self.replicas[r as usize].state == ReplicaState::Starting {
                    self.stop(r as usize);
                    excess -= 1;
                }
            }
            // Idle replicas stop at once; then the newest busy ones drain.
            for idle_pass in [true, false] {
                for &r in slots.iter().rev() {
                    let r = r as usize;
                    if excess > 0
                        && self.replicas[r].state == ReplicaState::Active
                        && self.holds_nothing(r) == idle_pass
                    {
                        self.drain(r);
                        excess -= 1;
                    }
                }
            }
        }
        self.report_fleet(p);
        self.update_fallback(p);
    }

    /// How long the next new replica of pool `p` takes: a warm instance if the warm pool has
    /// one (the pool then prepares another), else a drawn cold start.
    fn provision_delay(&mut self, p: usize) -> SimTime {
        let pr = &self.scenario.pools()[p].provisioning;
        if let Some(w) = pr.warm_pool
            && self.pools[p].warm_ready > 0
        {
            self.pools[p].warm_ready -= 1;
            self.pools[p].warm_refilling += 1;
            self.rec.warm_start(p, self.now);
            let at = self.now.saturating_add(pr.typical().0);
            self.events
                .push(SimTime(at), Event::WarmRefilled { pool: p as u32 });
            return w.start;
        }
        pr.draw(&mut self.pools[p].provisioning)
    }

    /// A replacement warm instance is prepared.
    pub(super) fn on_warm_refilled(&mut self, p: usize) {
        self.pools[p].warm_refilling -= 1;
        self.pools[p].warm_ready += 1;
        self.report_fleet(p);
    }

    pub(super) fn on_replica_ready(&mut self, r: usize) {
        let replica = &self.replicas[r];
        if replica.state != ReplicaState::Starting || replica.ready_at != self.now {
            return;
        }
        self.join(r);
        let p = self.replicas[r].pool as usize;
        if self.scenario.pools()[p].interruptions.is_some() {
            self.arm_interruption(r);
        }
        self.report_fleet(p);
        self.update_fallback(p);
    }

    /// Asks for one more replica of pool `p`, serving after `delay`: an idle slot, or a new one.
    pub(super) fn start_new(&mut self, p: usize, delay: SimTime) {
        let r = match self.pools[p]
            .slots
            .iter()
            .find(|&&r| self.replicas[r as usize].state == ReplicaState::Off)
        {
            Some(&r) => r as usize,
            None => {
                let r = self.replicas.len();
                let pool = &self.scenario.pools()[p];
                let replica =
                    super::ReplicaRt::new(pool, p, self.pools[p].llm_config, ReplicaState::Off);
                self.replicas.push(replica);
                self.pools[p].slots.push(r as u32);
                r
            }
        };
        let replica = &mut self.replicas[r];
        replica.state = ReplicaState::Starting;
        replica.ready_at = self.now.saturating_add(delay.0);
        self.rec.replica_event(p, true, self.now);
        self.events.push(
            SimTime(replica.ready_at),
            Event::ReplicaReady { replica: r as u32 },
        );
    }

    /// Replica `r` stops: it is no longer paid for, and its pending events go stale.
    pub(super) fn stop(&mut self, r: usize) {
        let replica = &mut self.replicas[r];
        replica.state = ReplicaState::Off;
        replica.interrupt_at = u64::MAX;
        replica.reclaim_at = u64::MAX;
        let pool = replica.pool as usize;
        self.rec.replica_event(pool, false, self.now);
    }

    /// Replica `r` (ready, or draining) takes new work.
    fn join(&mut self, r: usize) {
        let w = self.replicas[r].workload as usize;
        self.replicas[r].state = ReplicaState::Active;
        self.add_serving(w, r as u32);
        if self.workloads[w].policy == Policy::SharedQueue {
            if !self.replicas[r].busy {
                self.add_idle(w, r as u32);
            }
            self.start_shared(w);
            self.arm_expiry(super::QueueRef::Shared(w as u32));
        }
    }

    /// Replica `r` takes no more work: it stops now if it holds none, else when it is done.
    pub(super) fn drain(&mut self, r: usize) {
        let w = self.replicas[r].workload as usize;
        let wl = &mut self.workloads[w];
        wl.replicas.retain(|&x| x as usize != r);
        wl.idle.retain(|&x| x as usize != r);
        wl.next_rr %= wl.replicas.len().max(1);
        if self.holds_nothing(r) {
            self.stop(r);
        } else {
            self.replicas[r].state = ReplicaState::Draining;
        }
    }

    /// Whether replica `r` has no request in service or queued.
    pub(super) fn holds_nothing(&self, r: usize) -> bool {
        let replica = &self.replicas[r];
        !replica.busy
            && replica.queue.items.is_empty()
            && replica.front.is_empty()
            && replica.llm.as_ref().is_none_or(|l| !l.has_work())
    }

    /// A draining replica that has finished what it held stops.
    pub(super) fn retire_if_drained(&mut self, r: usize) {
        if self.replicas[r].state == ReplicaState::Draining && self.holds_nothing(r) {
            self.stop(r);
            self.report_fleet(self.replicas[r].pool as usize);
        }
    }

    /// Tells the recorder how many replicas pool `p` has serving and how many instances it pays.
    pub(super) fn report_fleet(&mut self, p: usize) {
        let (mut serving, mut paid, mut active) = (0u32, 0u32, 0u32);
        for &r in &self.pools[p].slots {
            match self.replicas[r as usize].state {
                ReplicaState::Active => {
                    active += 1;
                    serving += 1;
                    paid += 1;
                }
                ReplicaState::Draining => {
                    serving += 1;
                    paid += 1;
                }
                ReplicaState::Starting => paid += 1,
                ReplicaState::Off => {}
            }
        }
        let pool = &self.scenario.pools()[p];
        // Warm instances: those being prepared are paid in full, as are running ones; stopped
        // ones pay for their disks only.
        let (ready, refilling) = (self.pools[p].warm_ready, self.pools[p].warm_refilling);
        let (warm_paid, stopped) = match pool.provisioning.warm_pool.map(|w| w.state) {
            Some(WarmState::Running) => (ready + refilling, 0),
            Some(WarmState::Stopped) => (refilling, ready),
            None => (0, 0),
        };
        let instances = instances_for(paid, pool.gpus_per_replica, pool.instance.gpu_count)
            + instances_for(warm_paid, pool.gpus_per_replica, pool.instance.gpu_count);
        let counts = FleetCounts {
            stopped,
            serving,
            starting: paid - serving,
            instances,
            short: active < self.pools[p].target,
        };
        self.rec.fleet_changed(p, counts, self.now);
    }
}
