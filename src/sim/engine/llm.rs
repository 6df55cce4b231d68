//! The engine's side of LLM serving: routing requests to replicas, and running each replica's
//! iterations (planned by its scheduler, timed by its roofline).

use super::Engine;
use crate::fleet::LlmServing;
use crate::sim::scheduler::{LlmConfig, Outcome};
use crate::units::SimTime;
use crate::workload::{Arrival, Policy, Request, Workload};

use rand::RngExt;

/// The scheduler settings of a replica of `serving` for `workload`.
pub(super) fn llm_config(serving: &LlmServing, workload: &Workload) -> LlmConfig {
    let s = serving.settings;
    let prefix_block_tokens = match &workload.arrival {
        Arrival::Trace(t) if t.prefix_column.is_some() => t.prefix_block_tokens,
        _ => s.block_tokens,
    };
    LlmConfig {
        max_seqs: s.max_seqs,
        max_batched_tokens: s.max_batched_tokens,
        block_tokens: s.block_tokens,
        kv_blocks: serving.kv_blocks(),
        chunked_prefill: s.chunked_prefill,
        prefix_caching: s.prefix_caching,
        prefix_block_tokens,
        max_model_len: s.max_model_len,
    }
}

impl Engine<'_> {
    /// A request of an LLM workload arrives: route it, queue it, start the replica if idle.
    pub(super) fn llm_arrival(&mut self, w: usize, req: Request, prefix: Option<Box<[u64]>>) {
        let r = self.pick_llm_replica(w, prefix.as_deref());
        let capacity = self.workloads[w].capacity;
        let llm = self.replicas[r].llm.as_mut().expect("an LLM replica");
        if llm.waiting_len() >= capacity || !llm.enqueue(&req, prefix) {
            // A full queue, or a prompt longer than the model accepts.
            self.rec.failed(w, req.arrival.0, self.now, false);
            return;
        }
        if !llm.is_busy() {
            self.llm_start(r);
        }
    }

    /// Plans and starts replica `r`'s next iteration, if it has work.
    fn llm_start(&mut self, r: usize) {
        let (pool, w) = (
            self.replicas[r].pool as usize,
            self.replicas[r].workload as usize,
        );
        let timeout = self.workloads[w].timeout;
        let llm = self.replicas[r].llm.as_mut().expect("an LLM replica");
        let used_before = llm.used_blocks();
        self.outcomes.clear();
        if timeout != u64::MAX {
            llm.expire_waiting(self.now, timeout, &mut self.outcomes);
        }
        let step = llm.plan(&mut self.outcomes);
        let used_after = llm.used_blocks();
        self.rec.kv_blocks(pool, used_before, used_after, self.now);
        self.record_outcomes(w, pool);
        if let Some(step) = step {
            let steps = self.pools[pool].steps.as_ref().expect("an LLM pool");
            let t = SimTime::from_secs_f64(steps.seconds(&step)).max(SimTime(1));
            self.rec.batch_started(pool, step.logits as usize, self.now);
            self.events.push(
                SimTime(self.now + t.0),
                super::Event::BatchDone { replica: r as u32 },
            );
        }
    }

    /// Replica `r`'s iteration ends: apply it, record what it finished, start the next.
    pub(super) fn llm_iteration_done(&mut self, r: usize) {
        let (pool, w) = (
            self.replicas[r].pool as usize,
            self.replicas[r].workload as usize,
        );
        self.rec.batch_finished(pool, self.now);
        let llm = self.replicas[r].llm.as_mut().expect("an LLM replica");
        let used_before = llm.used_blocks();
        self.outcomes.clear();
        llm.finish(self.now, &mut self.outcomes);
        let used_after = llm.used_blocks();
        let more = llm.has_work();
        self.rec.kv_blocks(pool, used_before, used_after, self.now);
        self.record_outcomes(w, pool);
        if more {
            self.llm_start(r);
        }
    }

    fn record_outcomes(&mut self, w: usize, pool: usize) {
        let timeout = self.workloads[w].timeout;
        for o in &self.outcomes {
            match *o {
                Outcome::FirstToken { arrival, at } => self.rec.first_token(w, arrival, at),
                Outcome::Done {
                    arrival,
                    first_token,
                    input_tokens,
                    output_tokens,
                    at,
                } => self.rec.llm_done(
                    w,
                    pool,
                    arrival,
                    first_token,
                    input_tokens,
                    output_tokens,
                    at,
                    timeout,
                ),
                Outcome::Preempted => self.rec.preempted(w),
                Outcome::PrefixLookup { hit, prompt } => self.rec.prefix_lookup(w, hit, prompt),
                Outcome::Expired { arrival } => self.rec.failed(w, arrival, self.now, true),
                Outcome::Admitted { arrival } => self.rec.started(w, arrival, self.now),
            }
        }
    }

    /// The replica for a request of LLM workload `w` (whose prompt has `prefix` block hashes).
    fn pick_llm_replica(&mut self, w: usize, prefix: Option<&[u64]>) -> usize {
        let n = self.workloads[w].replicas.len();
        let outstanding = |e: &Self, r: u32| {
            e.replicas[r as usize]
                .llm
                .as_ref()
                .expect("an LLM replica")
                .outstanding_tokens()
        };
        let chosen = match self.workloads[w].policy {
            Policy::RoundRobin => {
                let wl = &mut self.workloads[w];
                let r = wl.replicas[wl.next_rr];
                wl.next_rr = (wl.next_rr + 1) % n;
                r
            }
            Policy::PowerOfTwo if n > 1 => {
                let wl = &mut self.workloads[w];
                let a = wl.rng.random_range(0..n);
                let mut b = wl.rng.random_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                let (a, b) = (wl.replicas[a], wl.replicas[b]);
                if outstanding(self, b) < outstanding(self, a) {
                    b
                } else {
                    a
                }
            }
            policy => {
                // Least outstanding tokens, or for prefix-aware the longest cached prefix first;
                // the scan starts at a rotating replica so ties spread.
                let start = self.workloads[w].next_rr;
                self.workloads[w].next_rr = (start + 1) % n;
                let prefix = prefix.filter(|_| policy == Policy::PrefixAware);
                let score = |e: &Self, r: u32| {
                    let cached = prefix.map_or(0, |p| {
                        e.replicas[r as usize]
                            .llm
                            .as_ref()
                            .expect("an LLM replica")
                            .cached_units(p)
                    });
                    (std::cmp::Reverse(cached), outstanding(e, r))
                };
                let wl = &self.workloads[w];
                (0..n)
                    .map(|k| wl.replicas[(start + k) % n])
                    .min_by_key(|&r| score(self, r))
                    .expect("a workload has replicas")
            }
        };
        chosen as usize
    }
}
