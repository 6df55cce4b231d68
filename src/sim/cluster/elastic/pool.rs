//! The autoscaled cluster's nodes: held, on their way, and idle since when.
//!
//! GPUs are a pool, so "idle nodes" are counted, not named: `free GPUs beyond the waiting
//! head's need / gpus_per_node` of them. When that count falls, the most recently idle node
//! goes back to work; when it rises, new idle nodes start their clocks now. The node idle the
//! longest is released first, once it has been idle for `idle_release`.

use std::collections::VecDeque;

use crate::units::SimTime;

pub(super) struct Pool {
    gpus_per_node: u32,
    min_nodes: u32,
    max_nodes: u32,
    provision: SimTime,
    /// `None`: nodes are never released.
    idle_release: Option<SimTime>,
    held: u32,
    pending: u32,
    /// Nodes asked for: (usable at, nodes), in the order they arrive.
    arriving: VecDeque<(SimTime, u32)>,
    /// When each idle node became idle, oldest first.
    idle_since: VecDeque<SimTime>,
}

impl Pool {
    pub(super) fn new(
        gpus_per_node: u32,
        min_nodes: u32,
        max_nodes: u32,
        provision: SimTime,
        idle_release: Option<SimTime>,
    ) -> Pool {
        Pool {
            gpus_per_node,
            min_nodes,
            max_nodes,
            provision,
            idle_release,
            held: min_nodes,
            pending: 0,
            arriving: VecDeque::new(),
            idle_since: VecDeque::new(),
        }
    }

    /// GPUs jobs can run on.
    pub(super) fn usable(&self) -> u32 {
        self.held * self.gpus_per_node
    }

    /// GPUs paid for: held and on their way.
    pub(super) fn paid(&self) -> u32 {
        (self.held + self.pending) * self.gpus_per_node
    }

    /// GPUs on their way: (usable at, GPUs).
    pub(super) fn arriving(&self) -> impl Iterator<Item = (SimTime, u32)> + '_ {
        self.arriving
            .iter()
            .map(|&(t, n)| (t, n * self.gpus_per_node))
    }

    /// Asks for the nodes a waiting job of `need` GPUs lacks beyond the `free` GPUs and those
    /// already on their way, as many as `max_nodes` allows; returns when they arrive.
    pub(super) fn ask(&mut self, now: SimTime, need: u32, free: u32) -> Option<SimTime> {
        let coming = free + self.pending * self.gpus_per_node;
        let room = self.max_nodes - self.held - self.pending;
        let nodes = need
            .saturating_sub(coming)
            .div_ceil(self.gpus_per_node)
            .min(room);
        if nodes == 0 {
            return None;
        }
        let at = now.saturating_add(self.provision);
        self.pending += nodes;
        self.arriving.push_back((at, nodes));
        Some(at)
    }

    /// The earliest nodes asked for are usable now.
    pub(super) fn arrive(&mut self) {
        let (_, nodes) = self.arriving.pop_front().expect("an arrival was asked for");
        self.pending -= nodes;
        self.held += nodes;
    }

    /// Brings the idle clocks up to date with `spare` GPUs (free beyond the waiting head's
    /// need) and releases the nodes idle long enough. Returns when to look again, if a node
    /// began idling and may be released later.
    pub(super) fn settle(&mut self, now: SimTime, spare: u32) -> Option<SimTime> {
        let idle = (spare / self.gpus_per_node) as usize;
        self.idle_since.truncate(idle);
        let mut wake = None;
        if self.idle_since.len() < idle {
            self.idle_since.resize(idle, now);
            wake = self
                .idle_release
                .map(|r| now.saturating_add(r))
                .filter(|&at| at > now);
        }
        while let Some(release) = self.idle_release
            && self.held > self.min_nodes
            && self
                .idle_since
                .front()
                .is_some_and(|&t| t.saturating_add(release) <= now)
        {
            self.idle_since.pop_front();
            self.held -= 1;
        }
        wake
    }
}
