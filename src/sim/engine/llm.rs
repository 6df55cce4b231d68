//! The engine's side of LLM serving: routing requests to replicas, and running each replica's
//! iterations (planned by its scheduler, timed by its roofline).

use super::{Engine, Run};
use crate::fleet::LlmServing;
use crate::llm::Timing;
use crate::sim::scheduler::{Evicted, LlmConfig, Outcome};
use crate::units::SimTime;
use crate::workload::{Arrival, Policy, Request, Workload};

use rand::RngExt;

/// Prompt plus output tokens of request `e`.
fn tokens(e: &Evicted) -> u64 {
    u64::from(e.req.input_tokens) + u64::from(e.req.output_tokens)
}

/// Most iterations planned as one decode run (the run ends early at the first arrival anyway).
pub(super) const MAX_RUN: u32 = 4096;

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
        scheduler: s.scheduler,
        admission: s.admission,
        request_overhead_ns: SimTime::from_secs_f64(s.request_overhead_s).0,
        request_cpu_ns: SimTime::from_secs_f64(s.request_cpu_s).0,
        scheduler_steps: s.scheduler_steps,
    }
}

impl Engine<'_> {
    /// A request of an LLM workload arrives: route it, queue it, start the replica if idle.
    pub(super) fn llm_arrival(&mut self, w: usize, req: Request, prefix: Option<Box<[u64]>>) {
        self.llm_place(
            w,
            Evicted {
                req,
                prefix,
                first_token: None,
                admitted: false,
            },
        );
    }

    /// A request of LLM workload `w` (an arrival, or one retried from a reclaimed replica) goes
    /// to a replica's queue.
    pub(super) fn llm_place(&mut self, w: usize, e: Evicted) {
        let (req, prefix) = (e.req, e.prefix.as_deref());
        if self.workloads[w].replicas.is_empty() {
            // An elastic pool scaled to zero: nothing to take the request.
            self.rec.failed(w, req.arrival.0, self.now, false);
            self.closed_loop_next(w, self.now.saturating_add(self.front_end(w)));
            return;
        }
        let r = match self.workloads[w].spill {
            true => self
                .spill_pick(w)
                .unwrap_or_else(|| self.pick_llm_replica(w, prefix)),
            false => self.pick_llm_replica(w, prefix),
        };
        let cpu = self.pools[self.replicas[r].pool as usize]
            .llm_config
            .map_or(0, |c| c.request_cpu_ns);
        if cpu > 0 {
            // The front end takes one request at a time; the engine sees it when it is done.
            // Requests in it count against the replica's queue.
            let replica = &self.replicas[r];
            let queued = replica.front.len() + replica.llm.as_ref().map_or(0, |l| l.waiting_len());
            if queued >= self.workloads[w].capacity {
                self.rec.failed(w, e.req.arrival.0, self.now, false);
                self.closed_loop_next(w, self.now.saturating_add(self.front_end(w)));
                return;
            }
            let replica = &mut self.replicas[r];
            let due = replica.front_free.max(self.now) + cpu;
            replica.front_free = due;
            replica.front_tokens += tokens(&e);
            replica.front.push_back((due, e));
            self.events
                .push(SimTime(due), super::Event::FrontEnd { replica: r as u32 });
            return;
        }
        self.llm_enqueue(w, r, e);
    }

    /// Replica `r`'s front end is done with the requests due by now: they go to its engine.
    pub(super) fn llm_front_end_done(&mut self, r: usize) {
        let w = self.replicas[r].workload as usize;
        while let Some(&(due, _)) = self.replicas[r].front.front() {
            if due > self.now {
                break;
            }
            let (_, e) = self.replicas[r].front.pop_front().expect("a request");
            self.replicas[r].front_tokens -= tokens(&e);
            self.llm_enqueue(w, r, e);
        }
    }

    /// Request `e` of workload `w` joins replica `r`'s engine queue, or fails if it is full.
    fn llm_enqueue(&mut self, w: usize, r: usize, e: Evicted) {
        let req = e.req;
        let capacity = self.workloads[w].capacity;
        let llm = self.replicas[r].llm.as_mut().expect("an LLM replica");
        if llm.waiting_len() >= capacity || !llm.enqueue_retry(e) {
            // A full queue, or a prompt longer than the model accepts.
            self.rec.failed(w, req.arrival.0, self.now, false);
            self.closed_loop_next(w, self.now.saturating_add(self.front_end(w)));
            return;
        }
        if !llm.is_busy() {
            self.llm_start(r);
        } else if self.replicas[r].run.steps > 1 {
            self.cut_run(r);
        }
    }

    /// A request waits at a replica in a decode run: the run ends at its next iteration boundary,
    /// so the next iteration can admit the request, as a single-step engine would.
    fn cut_run(&mut self, r: usize) {
        let pool = self.replicas[r].pool as usize;
        let steps = self.pools[pool].steps.as_ref().expect("an LLM pool");
        let run = self.replicas[r].run;
        let boundary =
            |j: u32| run.start + SimTime::from_secs_f64(steps.run_seconds(&run.first, j)).0;
        // The first boundary after now: start from where the run's mean iteration puts it (the
        // iterations of a run differ little), then step to it.
        // Multi-step scheduling runs its iterations before it looks at the queue again.
        let first = self.pools[pool]
            .llm_config
            .map_or(1, |c| c.scheduler_steps)
            .clamp(1, run.steps);
        let mean = (run.end - run.start) as f64 / f64::from(run.steps);
        let guess = ((self.now - run.start) as f64 / mean).floor() as u32 + 1;
        let mut lo = guess.clamp(first, run.steps);
        if boundary(lo) > self.now {
            while lo > first && boundary(lo - 1) > self.now {
                lo -= 1;
            }
        } else {
            while lo < run.steps && boundary(lo) <= self.now {
                lo += 1;
            }
        }
        if lo < run.steps {
            let end = boundary(lo).max(self.now.saturating_add(1));
            let run = &mut self.replicas[r].run;
            run.steps = lo;
            run.end = end;
            self.events
                .push(SimTime(end), super::Event::BatchDone { replica: r as u32 });
        }
    }

    /// Plans and starts replica `r`'s next iterations, if it has work.
    fn llm_start(&mut self, r: usize) {
        let (pool, w) = (
            self.replicas[r].pool as usize,
            self.replicas[r].workload as usize,
        );
        let timeout = self.workloads[w].timeout;
        let replica = &mut self.replicas[r];
        let llm = replica.llm.as_mut().expect("an LLM replica");
        self.outcomes.clear();
        if timeout != u64::MAX {
            llm.expire_waiting(self.now, timeout, &mut self.outcomes);
        }
        let planned = llm.plan(&mut self.outcomes, self.max_run);
        let level = llm.filled_blocks();
        self.rec
            .kv_blocks(pool, replica.run.kv_reported, level, self.now);
        replica.run.kv_reported = level;
        self.record_outcomes(w, pool);
        if let Some(p) = planned {
            let steps: &Timing = self.pools[pool].steps.as_ref().expect("an LLM pool");
            let seconds = if p.steps == 1 {
                steps.seconds(&p.step)
            } else {
                steps.run_seconds(&p.step, p.steps)
            };
            let end = self
                .now
                .saturating_add(SimTime::from_secs_f64(seconds).0.max(1));
            self.replicas[r].run = Run {
                start: self.now,
                end,
                steps: p.steps,
                first: p.step,
                kv_reported: self.replicas[r].run.kv_reported,
            };
            self.rec
                .batch_started(pool, p.step.logits as usize, self.now);
            self.events
                .push(SimTime(end), super::Event::BatchDone { replica: r as u32 });
        }
    }

    /// Replica `r`'s iterations end (unless the event is stale: the run was cut short, and ends
    /// at another time): apply them, record what they finished, start the next.
    pub(super) fn llm_iteration_done(&mut self, r: usize) {
        if self.replicas[r].run.end != self.now {
            return;
        }
        let (pool, w) = (
            self.replicas[r].pool as usize,
            self.replicas[r].workload as usize,
        );
        let run = self.replicas[r].run;
        self.rec.batch_finished(pool, self.now);
        if run.steps > 1 {
            self.rec
                .more_batches(pool, run.first.logits as usize, run.steps - 1, run.start);
        }
        let replica = &mut self.replicas[r];
        let llm = replica.llm.as_mut().expect("an LLM replica");
        if run.steps > 1 {
            // The level stayed at the run's start; its KV grew by one token per sequence and
            // iteration, a block every `block_tokens`: add the area of that ramp.
            let growth = run.first.decode_seqs as f64 * f64::from(run.steps - 1)
                / f64::from(llm.block_tokens())
                / 2.0;
            self.rec
                .kv_area(pool, growth * (self.now - run.start) as f64);
        }
        self.outcomes.clear();
        llm.finish(run.start, self.now, run.steps, &mut self.outcomes);
        let level = llm.filled_blocks();
        let more = llm.has_work();
        self.rec
            .kv_blocks(pool, replica.run.kv_reported, level, self.now);
        replica.run.kv_reported = level;
        replica.run.steps = 0;
        self.record_outcomes(w, pool);
        if more {
            self.llm_start(r);
        } else {
            self.retire_if_drained(r);
        }
    }

    /// The front end of workload `w`'s engine, nanoseconds (its pools share one model).
    fn front_end(&self, w: usize) -> u64 {
        self.workloads[w]
            .replicas
            .first()
            .and_then(|&r| self.pools[self.replicas[r as usize].pool as usize].llm_config)
            .map_or(0, |c| c.request_overhead_ns)
    }

    /// A request of workload `w` left (served or failed) as its client saw at `at`: a closed
    /// loop issues the next then.
    fn closed_loop_next(&mut self, w: usize, at: u64) {
        let wl = &mut self.workloads[w];
        if wl.arrivals.release(at as f64 / 1e9) && wl.next.is_none() {
            // The arrival process only errs reading a trace; a closed loop reads none.
            let _ = self.schedule_arrival(w);
        }
    }

    fn record_outcomes(&mut self, w: usize, pool: usize) {
        let timeout = self.workloads[w].timeout;
        let mut left = 0;
        // The engine's front end (HTTP, tokenization) delays what the client sees.
        let front = self.pools[pool]
            .llm_config
            .map_or(0, |c| c.request_overhead_ns);
        for o in &self.outcomes {
            match *o {
                Outcome::FirstToken { arrival, at } => self.rec.first_token(w, arrival, at + front),
                Outcome::Done {
                    arrival,
                    first_token,
                    input_tokens,
                    output_tokens,
                    at,
                } => {
                    left += 1;
                    self.rec.llm_done(
                        w,
                        pool,
                        arrival,
                        first_token + front,
                        input_tokens,
                        output_tokens,
                        at + front,
                        timeout,
                    )
                }
                Outcome::Preempted => self.rec.preempted(w),
                Outcome::PrefixLookup { hit, prompt } => self.rec.prefix_lookup(w, hit, prompt),
                Outcome::Expired { arrival } => {
                    left += 1;
                    self.rec.failed(w, arrival, self.now, true)
                }
                Outcome::Admitted { arrival } => self.rec.started(w, arrival, self.now),
                Outcome::Gaps { gap, count } => self.rec.gaps(w, gap, count),
            }
        }
        if self.workloads[w].closed_loop {
            for _ in 0..left {
                self.closed_loop_next(w, self.now.saturating_add(front));
            }
        }
    }

    /// The replica for a request of LLM workload `w` (whose prompt has `prefix` block hashes).
    fn pick_llm_replica(&mut self, w: usize, prefix: Option<&[u64]>) -> usize {
        let n = self.workloads[w].replicas.len();
        // What a router that knows request sizes sees: the engine's requests and those still in
        // its front end.
        let outstanding = |e: &Self, r: u32| {
            let replica = &e.replicas[r as usize];
            replica
                .llm
                .as_ref()
                .expect("an LLM replica")
                .outstanding_tokens()
                + replica.front_tokens
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
                // Least outstanding tokens; for prefix-aware, least work once the request is
                // added: outstanding tokens less the prompt tokens the replica has cached, so
                // affinity wins unless the cached replica is that much busier. The scan starts
                // at a rotating replica so ties spread.
                let start = self.workloads[w].next_rr;
                self.workloads[w].next_rr = (start + 1) % n;
                let prefix = prefix.filter(|_| policy == Policy::PrefixAware);
                let score = |e: &Self, r: u32| {
                    let cached = prefix.map_or(0, |p| {
                        e.replicas[r as usize]
                            .llm
                            .as_ref()
                            .expect("an LLM replica")
                            .cached_tokens(p)
                    });
                    i128::from(outstanding(e, r)) - i128::from(cached)
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
