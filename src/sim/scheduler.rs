//! The LLM scheduler of one replica: continuous batching over a paged KV cache, in the style of vLLM.
//!
//! Each iteration runs every running sequence once: prompt chunks (prefill) within a token budget,
//! one token for each sequence past its prompt (decode). Rules:
//!
//! - Running sequences are served first, oldest first: their next prompt chunk or one decode
//!   token. Then waiting requests are admitted in arrival order while the step has sequence and
//!   token budget and the cache has blocks for their first chunk. Without chunked prefill a prompt
//!   is admitted only whole.
//! - KV memory is paged in blocks of `block_tokens`. When a running sequence needs a block and none
//!   is free, the most recently admitted sequence is preempted by recomputation: its blocks are
//!   freed and it goes back to the head of the queue, to prefill its prompt and the tokens it had
//!   generated again. Nothing new is admitted in an iteration that preempted.
//! - Prefix caching: a prompt's blocks of `prefix_block_tokens` are identified by hashes (from the
//!   trace). Blocks of finished prompts stay cached, shared and reference-counted; a new prompt
//!   starting with cached blocks skips their prefill. Idle cached blocks are evicted least
//!   recently used first when memory is needed.
//! - A prompt's prefill completing yields its first token (time to first token); each decode
//!   yields one more. A request whose prompt does not fit `max_model_len` is rejected.

use std::collections::{BTreeMap, HashMap, VecDeque};

use slab::Slab;

use crate::llm::{Admission, Scheduler, Step};
use crate::workload::Request;

/// Scheduler settings of one replica.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LlmConfig {
    pub max_seqs: u32,
    pub max_batched_tokens: u32,
    pub block_tokens: u32,
    /// KV-cache capacity in blocks.
    pub kv_blocks: u64,
    pub chunked_prefill: bool,
    pub prefix_caching: bool,
    pub prefix_block_tokens: u32,
    pub max_model_len: u32,
    pub scheduler: Scheduler,
    pub admission: Admission,
    /// The engine's front end per request, nanoseconds: added to the first token and the end.
    pub request_overhead_ns: u64,
    /// Front-end CPU per request, nanoseconds, one request at a time before the engine sees it.
    pub request_cpu_ns: u64,
    /// A decode run is not cut by an arrival before this many iterations (multi-step).
    pub scheduler_steps: u32,
}

/// What an iteration did to one request, for the metrics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// The first output token came out at `at`.
    FirstToken { arrival: u64, at: u64 },
    /// The request finished at `at`.
    Done {
        arrival: u64,
        first_token: u64,
        input_tokens: u32,
        output_tokens: u32,
        at: u64,
    },
    /// A running request lost its KV cache and went back to the queue.
    Preempted,
    /// A prompt was admitted with `hit` of its `prompt` tokens already cached.
    PrefixLookup { hit: u32, prompt: u32 },
    /// A request still waiting reached its deadline and left.
    Expired { arrival: u64 },
    /// A request was admitted for the first time (its wait in the queue ends).
    Admitted { arrival: u64 },
    /// `count` output chunks reached their clients `gap` nanoseconds after the chunk before
    /// (the inter-token latency a streaming client measures).
    Gaps { gap: u64, count: u64 },
}

#[derive(Debug)]
struct Seq {
    arrival: u64,
    input: u32,
    output: u32,
    /// Tokens to prefill: the prompt, plus the tokens generated before a preemption.
    prompt: u32,
    prefilled: u32,
    generated: u32,
    /// Blocks held by this sequence alone.
    own_blocks: u64,
    /// Prefix units (cached, shared) this sequence references.
    shared_units: u32,
    first_token: Option<u64>,
    /// When the sequence's last output chunk came out of this replica.
    last_emit: Option<u64>,
    prefix: Option<Box<[u64]>>,
    /// A request retried from a reclaimed replica that had been admitted there (its wait is
    /// already recorded).
    admitted_before: bool,
}

/// A request taken off a reclaimed replica, to be served again elsewhere: its generation is
/// lost, but the first token the client saw and the wait it was admitted after stay recorded.
#[derive(Debug)]
pub struct Evicted {
    pub req: Request,
    pub prefix: Option<Box<[u64]>>,
    pub first_token: Option<u64>,
    pub admitted: bool,
}

impl Seq {
    /// Tokens whose KV the sequence holds: what was prefilled, and the generated tokens already
    /// fed back through the model (all but the newest, which the next decode step feeds).
    fn kv_tokens(&self) -> u64 {
        let since_prompt = self.generated - self.generated_in_prompt();
        u64::from(self.prefilled) + u64::from(since_prompt.saturating_sub(1))
    }

    /// Generated tokens folded into `prompt` by a preemption (prefilled again on recompute).
    fn generated_in_prompt(&self) -> u32 {
        self.prompt - self.input
    }

    fn in_prefill(&self) -> bool {
        self.prefilled < self.prompt
    }
}

#[derive(Clone, Copy, Debug)]
struct Unit {
    refs: u32,
    /// Position in the idle LRU list, when `refs` is zero.
    stamp: u64,
}

/// A planned iteration, or a run of decode iterations over the same sequences.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Planned {
    /// The first (or only) iteration.
    pub step: Step,
    /// Iterations planned: more than one only for a decode run, which the engine may cut short
    /// at any iteration boundary (when a request arrives).
    pub steps: u32,
}

/// Work planned for one sequence in the current iteration.
#[derive(Clone, Copy, Debug)]
enum Work {
    Prefill { seq: usize, n: u32 },
    Decode { seq: usize },
}

/// A replica's scheduler state.
#[derive(Debug)]
pub struct LlmReplica {
    cfg: LlmConfig,
    seqs: Slab<Seq>,
    waiting: VecDeque<usize>,
    running: Vec<usize>,
    free_blocks: u64,
    units: HashMap<u64, Unit>,
    /// Idle cached units by last use, oldest first.
    idle: BTreeMap<u64, u64>,
    next_stamp: u64,
    blocks_per_unit: u64,
    plan: Vec<Work>,
    /// Scratch list of sequences that finish in an iteration.
    done: Vec<usize>,
    busy: bool,
    /// Prompt plus output tokens of the requests on this replica, each counted whole until it
    /// finishes: what a router that knows request sizes sees. It changes only when a request
    /// arrives or leaves, so routing does not depend on how iterations are grouped into events.
    outstanding: u64,
    /// SGLang's new-token ratio: the share of every running request's remaining output that
    /// admission keeps free KV for.
    ratio: f64,
}

impl LlmReplica {
    pub fn new(cfg: LlmConfig) -> LlmReplica {
        LlmReplica {
            cfg,
            seqs: Slab::new(),
            waiting: VecDeque::new(),
            running: Vec::new(),
            free_blocks: cfg.kv_blocks,
            units: HashMap::new(),
            idle: BTreeMap::new(),
            next_stamp: 0,
            blocks_per_unit: u64::from(cfg.prefix_block_tokens.div_ceil(cfg.block_tokens)),
            plan: Vec::new(),
            done: Vec::new(),
            busy: false,
            outstanding: 0,
            ratio: match cfg.admission {
                Admission::TokenRatio { init, .. } => init,
                _ => 0.0,
            },
        }
    }

    pub fn is_busy(&self) -> bool {
        self.busy
    }

    pub fn has_work(&self) -> bool {
        !self.running.is_empty() || !self.waiting.is_empty()
    }

    /// Prompt plus output tokens of the requests on this replica (for routing).
    pub fn outstanding_tokens(&self) -> u64 {
        self.outstanding
    }

    /// Requests waiting to be admitted (or readmitted after a preemption).
    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    /// Requests running (admitted, holding KV).
    pub fn running_len(&self) -> usize {
        self.running.len()
    }

    /// Arrival of the oldest request waiting to be admitted.
    pub fn oldest_waiting(&self) -> Option<u64> {
        self.waiting.front().map(|&k| self.seqs[k].arrival)
    }

    /// Requests still waiting whose deadline (`arrival + timeout`) has come leave the queue. The
    /// queue is in arrival order (readmissions, being older, go first), so they are at its front.
    pub fn expire_waiting(&mut self, now: u64, timeout: u64, out: &mut Vec<Outcome>) {
        while let Some(&key) = self.waiting.front()
            && self.seqs[key].arrival.saturating_add(timeout) <= now
        {
            self.waiting.pop_front();
            let seq = self.seqs.remove(key);
            self.outstanding -= u64::from(seq.input) + u64::from(seq.output);
            out.push(Outcome::Expired {
                arrival: seq.arrival,
            });
        }
    }

    /// Queues a request. Returns `false` (rejected) when its prompt does not fit `max_model_len`.
    pub fn enqueue(&mut self, req: &Request, prefix: Option<Box<[u64]>>) -> bool {
        let input = req.input_tokens.max(1);
        if input >= self.cfg.max_model_len {
            return false;
        }
        let output = req.output_tokens.max(1).min(self.cfg.max_model_len - input);
        let key = self.seqs.insert(Seq {
            arrival: req.arrival.0,
            input,
            output,
            prompt: input,
            prefilled: 0,
            generated: 0,
            own_blocks: 0,
            shared_units: 0,
            first_token: None,
            last_emit: None,
            prefix: if self.cfg.prefix_caching {
                prefix
            } else {
                None
            },
            admitted_before: false,
        });
        self.outstanding += u64::from(input) + u64::from(output);
        self.waiting.push_back(key);
        true
    }

    /// Queues a request evicted from a reclaimed replica; false if this replica cannot take it.
    pub fn enqueue_retry(&mut self, e: Evicted) -> bool {
        if !self.enqueue(&e.req, e.prefix) {
            return false;
        }
        let key = self.waiting.pop_back().expect("just queued");
        let seq = &mut self.seqs[key];
        seq.first_token = e.first_token;
        seq.admitted_before = e.admitted;
        // Older than what waits here: it goes in arrival order (expiry looks at the front).
        let arrival = seq.arrival;
        let at = self
            .waiting
            .partition_point(|&k| self.seqs[k].arrival <= arrival);
        self.waiting.insert(at, key);
        true
    }

    /// Everything on the replica, oldest first, and the replica empty (its KV and prefix
    /// cache gone with the machine).
    pub fn evict_all(&mut self) -> Vec<Evicted> {
        let running: std::collections::HashSet<usize> = self.running.iter().copied().collect();
        let seqs = std::mem::take(&mut self.seqs);
        let mut out: Vec<Evicted> = seqs
            .into_iter()
            .map(|(key, s)| Evicted {
                req: Request {
                    arrival: crate::units::SimTime(s.arrival),
                    traced_service: crate::units::SimTime::ZERO,
                    input_tokens: s.input,
                    output_tokens: s.output,
                    prefix: Request::NO_PREFIX,
                },
                admitted: s.admitted_before
                    || running.contains(&key)
                    || s.generated > 0
                    || s.prefilled > 0,
                prefix: s.prefix,
                first_token: s.first_token,
            })
            .collect();
        out.sort_by_key(|e| e.req.arrival);
        *self = LlmReplica::new(self.cfg);
        out
    }

    /// Preempts the most recently admitted running sequence.
    fn preempt_last(&mut self, out: &mut Vec<Outcome>) -> usize {
        let key = self.running.pop().expect("a running sequence to preempt");
        self.release(key);
        let seq = &mut self.seqs[key];
        // Recompute: the prompt and what was generated are prefilled again.
        seq.prompt = seq.input + seq.generated;
        seq.prefilled = 0;
        self.waiting.push_front(key);
        out.push(Outcome::Preempted);
        if let Admission::TokenRatio { init, .. } = self.cfg.admission {
            self.ratio = init;
        }
        key
    }

    /// Plans the next iterations, at most `max_steps` of them, or `None` when there is nothing to
    /// do. Several iterations are planned only when they are all alike: every running sequence
    /// decoding, nobody waiting, and none finishing before the last of them; or, under
    /// multi-step scheduling, the `scheduler_steps` iterations the engine runs as one.
    pub fn plan(&mut self, out: &mut Vec<Outcome>, max_steps: u32) -> Option<Planned> {
        debug_assert!(!self.busy);
        self.plan.clear();
        if self.cfg.scheduler_steps > 1 {
            return self.plan_multi_step(out);
        }
        if let Some(run) = self.plan_decode_run(max_steps) {
            return Some(run);
        }
        if self.cfg.scheduler == Scheduler::PrefillFirst && self.has_prompts() {
            // Prompts first: a step of prompt chunks alone, while there are prompts it can run.
            let before = out.len();
            if let Some(step) = self.plan_step(out, true, false) {
                return Some(Planned { step, steps: 1 });
            }
            // Nothing to prefill: the decodes run, admitting nothing if the try preempted.
            let preempted = out[before..].contains(&Outcome::Preempted);
            return self
                .plan_step(out, false, preempted)
                .map(|step| Planned { step, steps: 1 });
        }
        self.plan_step(out, false, false)
            .map(|step| Planned { step, steps: 1 })
    }

    /// Whether a prompt waits or is being prefilled.
    fn has_prompts(&self) -> bool {
        !self.waiting.is_empty() || self.running.iter().any(|&k| self.seqs[k].in_prefill())
    }

    /// Multi-step scheduling (vLLM 0.6's `num_scheduler_steps`): prompts run in steps of their
    /// own (decodes paused, as the prompt-first policy does; mixed in with a mixed scheduler);
    /// when none can, the running sequences decode `scheduler_steps` iterations as one, before
    /// the scheduler looks at the queue again. A sequence that finishes meanwhile keeps its place
    /// to the end of the run, and each sequence streams its tokens once per run.
    fn plan_multi_step(&mut self, out: &mut Vec<Outcome>) -> Option<Planned> {
        let before = out.len();
        if self.has_prompts() {
            let prefill_only = self.cfg.scheduler == Scheduler::PrefillFirst;
            if let Some(step) = self.plan_step(out, prefill_only, false) {
                return Some(Planned { step, steps: 1 });
            }
        }
        let mut preempted = out[before..].contains(&Outcome::Preempted);
        let k = self.cfg.scheduler_steps;
        if self.running.iter().all(|&key| !self.seqs[key].in_prefill()) {
            // The run's tokens need KV up front (vLLM's lookahead slots): the newest sequences
            // make way, as they would for a single step.
            while self.running.len() > 1 && !self.room_for_run(k) {
                self.preempt_last(out);
                preempted = true;
            }
            if let Some(run) = self.take_decode_run(k) {
                return Some(run);
            }
        }
        self.plan_step(out, false, preempted)
            .map(|step| Planned { step, steps: 1 })
    }

    /// A run of up to `max_steps` decode iterations, if the state allows one (see
    /// [`LlmReplica::plan`]). Blocks for the whole run are taken now.
    fn plan_decode_run(&mut self, max_steps: u32) -> Option<Planned> {
        if max_steps < 2 || !self.waiting.is_empty() {
            return None;
        }
        let k = self
            .running
            .iter()
            .map(|&key| self.seqs[key].output - self.seqs[key].generated)
            .min()?
            .min(max_steps);
        if k < 2 {
            return None;
        }
        self.take_decode_run(k)
    }

    /// Whether the KV cache has room for `k` more tokens of every running sequence.
    fn room_for_run(&self, k: u32) -> bool {
        let mut extra = 0;
        for &key in &self.running {
            let s = &self.seqs[key];
            extra += self
                .own_blocks_needed(s, s.kv_tokens() + u64::from(k))
                .saturating_sub(s.own_blocks);
        }
        extra <= self.free_blocks + self.idle.len() as u64 * self.blocks_per_unit
    }

    /// Plans `k` decode iterations of every running sequence, if none is prefilling, they fit
    /// one step's token budget and the KV cache has room for `k` more tokens of each.
    fn take_decode_run(&mut self, k: u32) -> Option<Planned> {
        if self.running.is_empty()
            || self.running.len() > self.cfg.max_batched_tokens as usize
            || self.running.iter().any(|&key| self.seqs[key].in_prefill())
        {
            return None;
        }
        if !self.room_for_run(k) {
            return None;
        }
        let mut step = Step::default();
        for i in 0..self.running.len() {
            let key = self.running[i];
            let kv = self.seqs[key].kv_tokens();
            let grown = self.grow(key, kv + u64::from(k));
            debug_assert!(grown, "room was checked");
            step.add_decode(kv);
            self.plan.push(Work::Decode { seq: key });
        }
        self.busy = true;
        Some(Planned { step, steps: k })
    }

    /// Plans one iteration; with `prefill_only`, of prompt chunks alone (the decodes pause);
    /// with `preempted` (this iteration already preempted), admitting nothing.
    fn plan_step(
        &mut self,
        out: &mut Vec<Outcome>,
        prefill_only: bool,
        preempted: bool,
    ) -> Option<Step> {
        let mut step = Step::default();
        let mut budget = self.cfg.max_batched_tokens;
        let mut preempted = preempted;
        let mut i = 0;
        while i < self.running.len() && budget > 0 {
            let key = self.running[i];
            let seq = &self.seqs[key];
            if prefill_only && !seq.in_prefill() {
                i += 1;
                continue;
            }
            let (work, kv_after) = if seq.in_prefill() {
                let n = (seq.prompt - seq.prefilled).min(budget);
                (Work::Prefill { seq: key, n }, u64::from(seq.prefilled + n))
            } else {
                (Work::Decode { seq: key }, seq.kv_tokens() + 1)
            };
            // Make room, preempting from the back; this sequence itself may be the one to go.
            let mut scheduled = true;
            while !self.grow(key, kv_after) {
                preempted = true;
                if self.preempt_last(out) == key {
                    scheduled = false;
                    break;
                }
            }
            if !scheduled {
                break;
            }
            let seq = &self.seqs[key];
            match work {
                Work::Prefill { n, .. } => {
                    step.add_prefill(
                        u64::from(seq.prefilled),
                        u64::from(n),
                        seq.prefilled + n == seq.prompt,
                    );
                    budget -= n;
                }
                Work::Decode { .. } => {
                    step.add_decode(seq.kv_tokens());
                    budget -= 1;
                }
            }
            self.plan.push(work);
            i += 1;
        }
        // KV that admission keeps free for the outputs still to come (SGLang's ratio).
        let mut promised = match self.cfg.admission {
            Admission::TokenRatio { .. } => {
                self.running
                    .iter()
                    .map(|&k| {
                        f64::from(
                            self.seqs[k].output - self.seqs[k].generated.min(self.seqs[k].output),
                        )
                    })
                    .sum::<f64>()
                    * self.ratio
            }
            _ => 0.0,
        };
        // Admit waiting requests.
        while !preempted
            && budget > 0
            && self.running.len() < self.cfg.max_seqs as usize
            && let Some(&key) = self.waiting.front()
        {
            let fresh = self.seqs[key].shared_units == 0 && self.seqs[key].prefilled == 0;
            let hit = if fresh {
                self.attach_cached_prefix(key)
            } else {
                0
            };
            let seq = &self.seqs[key];
            let remaining = seq.prompt - seq.prefilled;
            let n = remaining.min(budget);
            if !self.cfg.chunked_prefill && n < remaining {
                self.release_lookup(key);
                break;
            }
            let kv_after = match self.cfg.admission {
                // The whole request's KV, held from admission: it never needs more.
                Admission::Reserve => {
                    u64::from(seq.prompt) + u64::from(seq.output - seq.generated.min(seq.output))
                }
                _ => u64::from(seq.prefilled + n),
            };
            if let Admission::TokenRatio { .. } = self.cfg.admission {
                let future = f64::from(seq.output - seq.generated.min(seq.output)) * self.ratio;
                let free = (self.free_blocks + self.idle.len() as u64 * self.blocks_per_unit)
                    * u64::from(self.cfg.block_tokens);
                if free as f64 - promised < f64::from(remaining) + future {
                    self.release_lookup(key);
                    break;
                }
                promised += future;
            }
            if !self.grow(key, kv_after) {
                self.release_lookup(key);
                break;
            }
            if fresh && self.seqs[key].prefix.is_some() {
                out.push(Outcome::PrefixLookup {
                    hit,
                    prompt: self.seqs[key].input,
                });
            }
            if self.seqs[key].first_token.is_none()
                && self.seqs[key].generated == 0
                && fresh
                && !self.seqs[key].admitted_before
            {
                out.push(Outcome::Admitted {
                    arrival: self.seqs[key].arrival,
                });
            }
            self.waiting.pop_front();
            self.running.push(key);
            let seq = &self.seqs[key];
            step.add_prefill(
                u64::from(seq.prefilled),
                u64::from(n),
                seq.prefilled + n == seq.prompt,
            );
            budget -= n;
            self.plan.push(Work::Prefill { seq: key, n });
        }
        if self.plan.is_empty() {
            return None;
        }
        self.busy = true;
        Some(step)
    }

    /// Completes the first `steps` planned iterations, which started at `start`, at `now` (a
    /// decode run may end early).
    pub fn finish(&mut self, start: u64, now: u64, steps: u32, out: &mut Vec<Outcome>) {
        debug_assert!(self.busy);
        self.busy = false;
        if let Admission::TokenRatio {
            init,
            min,
            decay_steps,
        } = self.cfg.admission
            && self.plan.iter().any(|w| matches!(w, Work::Decode { .. }))
        {
            self.ratio = (self.ratio - f64::from(steps) * (init - min) / decay_steps).max(min);
        }
        let mut done = std::mem::take(&mut self.done);
        done.clear();
        // Output streams out once per scheduling (every iteration, or every `scheduler_steps`
        // with multi-step scheduling): the chunks of this run, and the time between them.
        let chunks = steps.div_ceil(self.cfg.scheduler_steps.max(1));
        let chunk = (now - start) / u64::from(chunks);
        // Chunks that came one chunk after the last (every chunk of a sequence that ran in the
        // previous iteration too), counted together.
        let mut even = 0;
        for i in 0..self.plan.len() {
            match self.plan[i] {
                Work::Prefill { seq: key, n } => {
                    let seq = &mut self.seqs[key];
                    seq.prefilled += n;
                    if seq.prefilled == seq.prompt {
                        // The step that completes a prompt samples the next token.
                        seq.generated += 1;
                        if seq.first_token.is_none() {
                            seq.first_token = Some(now);
                            out.push(Outcome::FirstToken {
                                arrival: seq.arrival,
                                at: now,
                            });
                        } else if let Some(last) = seq.last_emit {
                            // Recomputed after a preemption: the client waited all along.
                            out.push(Outcome::Gaps {
                                gap: now.saturating_sub(last),
                                count: 1,
                            });
                        }
                        seq.last_emit = Some(now);
                        self.publish_prefix(key);
                        if self.seqs[key].generated >= self.seqs[key].output {
                            done.push(key);
                        }
                    }
                }
                Work::Decode { seq: key } => {
                    let seq = &mut self.seqs[key];
                    seq.generated += steps;
                    match seq.last_emit {
                        Some(last) if last != start => {
                            // Its first chunk of the run came after a pause (a step that left
                            // it out, or the engine waiting for work).
                            out.push(Outcome::Gaps {
                                gap: (start + chunk).saturating_sub(last),
                                count: 1,
                            });
                            even += u64::from(chunks - 1);
                        }
                        _ => even += u64::from(chunks),
                    }
                    seq.last_emit = Some(now);
                    if seq.generated >= seq.output {
                        done.push(key);
                    }
                }
            }
        }
        if even > 0 {
            out.push(Outcome::Gaps {
                gap: chunk,
                count: even,
            });
        }
        for &key in &done {
            self.release(key);
            self.running.retain(|k| *k != key);
            let seq = self.seqs.remove(key);
            self.outstanding -= u64::from(seq.input) + u64::from(seq.output);
            out.push(Outcome::Done {
                arrival: seq.arrival,
                first_token: seq
                    .first_token
                    .expect("a finished request has its first token"),
                input_tokens: seq.input,
                output_tokens: seq.output,
                at: now,
            });
        }
        self.done = done;
        self.plan.clear();
    }
}

mod kv;
#[cfg(test)]
mod tests;
