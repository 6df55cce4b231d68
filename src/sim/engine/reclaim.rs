//! Spot reclaims on the engine's side: each serving replica's lifetime, the notice during which
//! it drains, the reclaim that sends what it still holds elsewhere, the outage of spot capacity
//! after it, the on-demand fallback that covers the gap, and correlated reclaims of part of a
//! pool.

use rand::RngExt;
use rand_distr::Distribution;

use super::elastic::ReplicaState;
use super::{Engine, Event};
use crate::fleet::Replacement;
use crate::sim::scheduler::Evicted;
use crate::units::SimTime;

impl Engine<'_> {
    /// A spot pool that falls back to on-demand runs as many fallback replicas as it serves
    /// fewer than its target.
    pub(super) fn update_fallback(&mut self, p: usize) {
        let Some(crate::fleet::Interruptions {
            replacement: Replacement::Fallback { pool: f, .. },
            ..
        }) = self.scenario.pools()[p].interruptions
        else {
            return;
        };
        let active = self.pools[p]
            .slots
            .iter()
            .filter(|&&r| self.replicas[r as usize].state == ReplicaState::Active)
            .count() as u32;
        let shortfall = self.pools[p].target.saturating_sub(active);
        if shortfall != self.pools[f].target || shortfall != self.committed(f) {
            self.rescale(f, shortfall);
        }
    }

    /// Arms pool `p`'s `Replace` event for when its spot capacity is back.
    pub(super) fn arm_replace(&mut self, p: usize) {
        let at = self.pools[p].capacity_back_at;
        if self.pools[p].replace_at != at && at < self.scenario.horizon().0 {
            self.pools[p].replace_at = at;
            self.events
                .push(SimTime(at), Event::Replace { pool: p as u32 });
        }
    }

    pub(super) fn on_replace(&mut self, p: usize) {
        if self.pools[p].replace_at != self.now {
            return;
        }
        self.pools[p].replace_at = u64::MAX;
        let target = self.pools[p].target;
        self.rescale(p, target);
    }

    /// Draws the next correlated reclaim of pool `p`.
    pub(super) fn arm_pool_reclaim(&mut self, p: usize) {
        let Some(c) = self.scenario.pools()[p]
            .interruptions
            .as_ref()
            .and_then(|i| i.correlated)
        else {
            return;
        };
        if let Some(at) = self.next_reclaim(p, c.rate_per_hour) {
            self.pools[p].pool_reclaim_at = at;
            self.events
                .push(SimTime(at), Event::PoolReclaim { pool: p as u32 });
        }
    }

    /// When a reclaim process of pool `p` at `rate_per_hour` fires next, if before the horizon
    /// (past it the fleet only drains what it holds; nothing reclaims it).
    fn next_reclaim(&mut self, p: usize, rate_per_hour: f64) -> Option<u64> {
        if rate_per_hour <= 0.0 {
            return None;
        }
        let hours: f64 = rand_distr::Exp1.sample(&mut self.pools[p].reclaims);
        let at = self
            .now
            .saturating_add(SimTime::from_secs_f64(hours / rate_per_hour * 3600.0).0);
        (at < self.scenario.horizon().0).then_some(at)
    }

    /// A correlated reclaim: `fraction` of the serving replicas (rounded up), drawn at random,
    /// get their notice together.
    pub(super) fn on_pool_reclaim(&mut self, p: usize) {
        if self.pools[p].pool_reclaim_at != self.now {
            return;
        }
        self.pools[p].pool_reclaim_at = u64::MAX;
        let fraction = self.scenario.pools()[p]
            .interruptions
            .as_ref()
            .and_then(|i| i.correlated)
            .expect("a pool with correlated reclaims")
            .fraction;
        let mut active: Vec<u32> = self.pools[p]
            .slots
            .iter()
            .copied()
            .filter(|&r| self.replicas[r as usize].state == ReplicaState::Active)
            .collect();
        let k = ((active.len() as f64 * fraction).ceil() as usize).min(active.len());
        for i in 0..k {
            let j = self.pools[p].reclaims.random_range(i..active.len());
            active.swap(i, j);
            let r = active[i] as usize;
            self.replicas[r].interrupt_at = self.now;
            self.on_interrupt(r);
        }
        self.arm_pool_reclaim(p);
    }

    /// Draws when serving replica `r` of a spot pool gets its reclaim notice.
    pub(super) fn arm_interruption(&mut self, r: usize) {
        let p = self.replicas[r].pool as usize;
        let rate = self.scenario.pools()[p]
            .interruptions
            .as_ref()
            .expect("a pool with interruptions")
            .rate_per_hour;
        let Some(at) = self.next_reclaim(p, rate) else {
            return;
        };
        self.replicas[r].interrupt_at = at;
        self.events
            .push(SimTime(at), Event::Interrupt { replica: r as u32 });
    }

    /// The notice: the replica takes no more work and has `notice` to finish what it holds; a
    /// replacement is asked for at once (after the pool's retry delay).
    pub(super) fn on_interrupt(&mut self, r: usize) {
        if self.replicas[r].interrupt_at != self.now {
            return;
        }
        self.replicas[r].interrupt_at = u64::MAX;
        let p = self.replicas[r].pool as usize;
        let int = self.scenario.pools()[p]
            .interruptions
            .as_ref()
            .expect("a pool with interruptions");
        self.rec.interrupted(p, self.now);
        let replace = self.replicas[r].state == ReplicaState::Active;
        if replace {
            self.drain(r);
        }
        if self.replicas[r].state != ReplicaState::Off {
            let at = self.now.saturating_add(int.notice.0);
            self.replicas[r].reclaim_at = at;
            self.events
                .push(SimTime(at), Event::Reclaim { replica: r as u32 });
        }
        // Spot capacity is gone for a while; then the pool asks again for what it lacks.
        if let Some(delay) = int.replacement.delay() {
            let back = &mut self.pools[p].capacity_back_at;
            *back = (*back).max(self.now.saturating_add(delay.0));
            self.arm_replace(p);
        }
        self.report_fleet(p);
        if replace {
            self.update_fallback(p);
        }
    }

    /// The cloud takes replica `r`: requests it still holds go to other replicas, keeping their
    /// arrival times (so the delay shows in their latency).
    pub(super) fn on_reclaim(&mut self, r: usize) {
        if self.replicas[r].reclaim_at != self.now {
            return;
        }
        let (p, w) = (
            self.replicas[r].pool as usize,
            self.replicas[r].workload as usize,
        );
        if self.replicas[r].llm.is_some() {
            self.reclaim_llm(r);
            return;
        }
        let replica = &mut self.replicas[r];
        let mut lost: Vec<crate::workload::Request> = replica.queue.items.drain(..).collect();
        if replica.busy {
            lost.append(&mut replica.batch);
            replica.busy = false;
            replica.batch_end = u64::MAX;
            self.rec.batch_finished(p, self.now);
        }
        self.stop(r);
        self.report_fleet(p);
        lost.sort_by_key(|q| q.arrival);
        for req in lost {
            self.rec.retried(w, req.arrival.0, self.now);
            self.dispatch(w, req);
        }
    }

    /// The cloud takes LLM replica `r`: its sequences start again elsewhere, from their prompts
    /// (a server does not move KV caches), keeping their arrival and any first token streamed.
    fn reclaim_llm(&mut self, r: usize) {
        let (p, w) = (
            self.replicas[r].pool as usize,
            self.replicas[r].workload as usize,
        );
        let replica = &mut self.replicas[r];
        let llm = replica.llm.as_mut().expect("an LLM replica");
        let busy = llm.is_busy();
        let lost = llm.evict_all();
        replica.run.end = u64::MAX;
        if busy {
            self.rec.batch_finished(p, self.now);
        }
        let reported = self.replicas[r].run.kv_reported;
        self.rec.kv_blocks(p, reported, 0, self.now);
        self.replicas[r].run.kv_reported = 0;
        let queued: Vec<Evicted> = self.replicas[r].front.drain(..).map(|(_, e)| e).collect();
        self.replicas[r].front_free = 0;
        self.replicas[r].front_tokens = 0;
        self.stop(r);
        self.report_fleet(p);
        for e in lost.into_iter().chain(queued) {
            self.rec.retried(w, e.req.arrival.0, self.now);
            self.llm_place(w, e);
        }
    }
}
