//! Spill-over between the pools of one workload: arrivals fill the pool with the lowest
//! `spill_order` that has room and spill over to the next, as a fleet that uses its reserved
//! capacity first, then spot, then on-demand.
//!
//! A workload's serving replicas (and, for a shared queue, its free replicas) are kept in spill
//! order, so a shared queue hands its requests to a free replica of the most preferred pool.
//! With an own queue per replica, the arrival goes to the least loaded replica of the first pool
//! that has one with room (fewer requests than a full batch; for an LLM, none waiting to be
//! admitted); when none has room, the workload's policy picks among all of them.

use super::Engine;

impl Engine<'_> {
    /// The spill order of replica `r`'s pool.
    fn order_of(&self, r: u32) -> u32 {
        self.scenario.pools()[self.replicas[r as usize].pool as usize].spill_order
    }

    /// Where replica `r` goes in a list kept in spill order: after the replicas of its own and
    /// more preferred pools.
    fn spill_position(&self, list: impl Iterator<Item = u32>, r: u32) -> usize {
        let order = self.order_of(r);
        list.take_while(|&x| self.order_of(x) <= order).count()
    }

    /// Replica `r` joins workload `w`'s serving replicas.
    pub(super) fn add_serving(&mut self, w: usize, r: u32) {
        if self.workloads[w].spill {
            let i = self.spill_position(self.workloads[w].replicas.iter().copied(), r);
            self.workloads[w].replicas.insert(i, r);
        } else {
            self.workloads[w].replicas.push(r);
        }
    }

    /// Replica `r` of workload `w` is free (shared queue): last among the free of its pool.
    pub(super) fn add_idle(&mut self, w: usize, r: u32) {
        if self.workloads[w].spill {
            let i = self.spill_position(self.workloads[w].idle.iter().copied(), r);
            self.workloads[w].idle.insert(i, r);
        } else {
            self.workloads[w].idle.push_back(r);
        }
    }

    /// The replica of the first pool with room, the least loaded of that pool; `None` when
    /// every replica is full.
    pub(super) fn spill_pick(&self, w: usize) -> Option<usize> {
        let mut best: Option<(u32, usize)> = None;
        let mut tier = None;
        for &r in &self.workloads[w].replicas {
            let order = self.order_of(r);
            if tier != Some(order) {
                if best.is_some() {
                    break;
                }
                tier = Some(order);
            }
            let replica = &self.replicas[r as usize];
            let (load, room) = match &replica.llm {
                Some(l) => (l.waiting_len() + l.running_len(), l.waiting_len() == 0),
                None => {
                    let load = replica.queue.items.len() + replica.batch.len();
                    let max = self.pools[replica.pool as usize].batching.max_batch as usize;
                    (load, load < max)
                }
            };
            if room && best.is_none_or(|(_, b)| load < b) {
                best = Some((r, load));
            }
        }
        best.map(|(r, _)| r as usize)
    }
}
