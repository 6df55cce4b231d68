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
use crate::fleet::{ScalingPolicy, TargetTracking, TrackedMetric, instances_for};
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
        let scaling = self.scenario.pools[p]
            .scaling
            .as_ref()
            .expect("only elastic pools tick");
        let target = match &scaling.policy {
            ScalingPolicy::Schedule { hours } => {
                scheduled(hours, SimTime(self.now)).clamp(scaling.min, scaling.max)
            }
            ScalingPolicy::TargetTracking(t) => self.tracked_target(p, t, scaling.min, scaling.max),
        };
        self.rescale(p, target);
        let next = scaling.policy.next_evaluation(SimTime(self.now));
        if next < self.scenario.horizon {
            self.events.push(next, Event::PoolTick { pool: p as u32 });
        }
    }

    /// Replicas starting or serving in pool `p`: what it has asked for.
    fn committed(&self, p: usize) -> u32 {
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
            return committed;
        }
        let desired = match t.metric {
            // The replicas that would have been busy `target` of the time: mean busy / target.
            TrackedMetric::Utilization => {
                let busy_mean = (busy - busy0) as f64 / (now - t0) as f64;
                (busy_mean / t.target - 1e-9).ceil().max(0.0) as u32
            }
        }
        .clamp(min, max);
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

    /// Moves pool `p` towards `target` replicas (starting or serving).
    fn rescale(&mut self, p: usize, target: u32) {
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
                if need > 0 && self.replicas[r as usize].state == ReplicaState::Draining {
                    self.join(r as usize);
                    need -= 1;
                }
            }
            let delay = self.scenario.pools[p]
                .scaling
                .as_ref()
                .expect("elastic")
                .provisioning
                .total();
            for &r in &slots {
                if need > 0 && self.replicas[r as usize].state == ReplicaState::Off {
                    let replica = &mut self.replicas[r as usize];
                    replica.state = ReplicaState::Starting;
                    replica.ready_at = self.now + delay.0;
                    self.rec.replica_event(p, true, self.now);
                    self.events.push(
                        SimTime(replica.ready_at),
                        Event::ReplicaReady { replica: r },
                    );
                    need -= 1;
                }
            }
        } else if target < current {
            let mut excess = current - target;
            for &r in slots.iter().rev() {
                if excess > 0 && self.replicas[r as usize].state == ReplicaState::Starting {
                    self.replicas[r as usize].state = ReplicaState::Off;
                    self.rec.replica_event(p, false, self.now);
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
    }

    pub(super) fn on_replica_ready(&mut self, r: usize) {
        let replica = &self.replicas[r];
        if replica.state != ReplicaState::Starting || replica.ready_at != self.now {
            return;
        }
        self.join(r);
        self.report_fleet(self.replicas[r].pool as usize);
    }

    /// Replica `r` (ready, or draining) takes new work.
    fn join(&mut self, r: usize) {
        let w = self.replicas[r].workload as usize;
        self.replicas[r].state = ReplicaState::Active;
        self.workloads[w].replicas.push(r as u32);
        if self.workloads[w].policy == Policy::SharedQueue {
            if !self.replicas[r].busy {
                self.workloads[w].idle.push_back(r as u32);
            }
            self.start_shared(w);
            self.arm_expiry(super::QueueRef::Shared(w as u32));
        }
    }

    /// Replica `r` takes no more work: it stops now if it holds none, else when it is done.
    fn drain(&mut self, r: usize) {
        let w = self.replicas[r].workload as usize;
        let wl = &mut self.workloads[w];
        wl.replicas.retain(|&x| x as usize != r);
        wl.idle.retain(|&x| x as usize != r);
        wl.next_rr %= wl.replicas.len().max(1);
        if self.holds_nothing(r) {
            self.replicas[r].state = ReplicaState::Off;
            let pool = self.replicas[r].pool as usize;
            self.rec.replica_event(pool, false, self.now);
        } else {
            self.replicas[r].state = ReplicaState::Draining;
        }
    }

    /// Whether replica `r` has no request in service or queued.
    fn holds_nothing(&self, r: usize) -> bool {
        let replica = &self.replicas[r];
        !replica.busy
            && replica.queue.items.is_empty()
            && replica.llm.as_ref().is_none_or(|l| !l.has_work())
    }

    /// A draining replica that has finished what it held stops.
    pub(super) fn retire_if_drained(&mut self, r: usize) {
        if self.replicas[r].state == ReplicaState::Draining && self.holds_nothing(r) {
            self.replicas[r].state = ReplicaState::Off;
            let pool = self.replicas[r].pool as usize;
            self.rec.replica_event(pool, false, self.now);
            self.report_fleet(pool);
        }
    }

    /// Tells the recorder how many replicas pool `p` has serving and how many instances it pays.
    fn report_fleet(&mut self, p: usize) {
        let (mut serving, mut paid) = (0u32, 0u32);
        for &r in &self.pools[p].slots {
            match self.replicas[r as usize].state {
                ReplicaState::Active | ReplicaState::Draining => {
                    serving += 1;
                    paid += 1;
                }
                ReplicaState::Starting => paid += 1,
                ReplicaState::Off => {}
            }
        }
        let pool = &self.scenario.pools[p];
        let instances = instances_for(paid, pool.gpus_per_replica, pool.instance.gpu_count);
        let counts = FleetCounts {
            serving,
            starting: paid - serving,
            instances,
        };
        self.rec.fleet_changed(p, counts, self.now);
    }
}
