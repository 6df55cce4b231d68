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

    /// Blocks holding live KV (of running sequences); idle cached blocks are not counted.
    pub fn used_blocks(&self) -> u64 {
        self.cfg.kv_blocks - self.free_blocks - self.idle.len() as u64 * self.blocks_per_unit
    }

    /// Blocks the running sequences' KV fills now: [`LlmReplica::used_blocks`] less what a
    /// decode run took ahead of need. This is what KV-cache utilization reports.
    pub fn filled_blocks(&self) -> u64 {
        let ahead: u64 = self
            .running
            .iter()
            .map(|&k| {
                let s = &self.seqs[k];
                s.own_blocks - self.own_blocks_needed(s, s.kv_tokens()).min(s.own_blocks)
            })
            .sum();
        self.used_blocks() - ahead
    }

    pub fn block_tokens(&self) -> u32 {
        self.cfg.block_tokens
    }

    /// Leading units of `prefix` this replica has cached (for prefix-aware routing).
    pub fn cached_units(&self, prefix: &[u64]) -> usize {
        prefix
            .iter()
            .take_while(|h| self.units.contains_key(h))
            .count()
    }

    /// Prompt tokens of `prefix` this replica would not have to prefill.
    pub fn cached_tokens(&self, prefix: &[u64]) -> u64 {
        self.cached_units(prefix) as u64 * u64::from(self.cfg.prefix_block_tokens)
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

    fn blocks_for(&self, tokens: u64) -> u64 {
        tokens.div_ceil(u64::from(self.cfg.block_tokens))
    }

    /// Own blocks a sequence needs to hold `kv_tokens` tokens of KV.
    fn own_blocks_needed(&self, seq: &Seq, kv_tokens: u64) -> u64 {
        let shared = u64::from(seq.shared_units) * u64::from(self.cfg.prefix_block_tokens);
        self.blocks_for(kv_tokens.saturating_sub(shared))
    }

    /// Frees at least `n` blocks by evicting idle cached units; whether it managed.
    fn reserve(&mut self, n: u64) -> bool {
        while self.free_blocks < n {
            let Some((&stamp, &hash)) = self.idle.iter().next() else {
                return false;
            };
            self.idle.remove(&stamp);
            self.units.remove(&hash);
            self.free_blocks += self.blocks_per_unit;
        }
        true
    }

    /// Grows `seq`'s own blocks to hold `kv_tokens`; whether the memory was there.
    #[inline]
    fn grow(&mut self, key: usize, kv_tokens: u64) -> bool {
        let seq = &self.seqs[key];
        let held = seq.own_blocks * u64::from(self.cfg.block_tokens)
            + u64::from(seq.shared_units) * u64::from(self.cfg.prefix_block_tokens);
        if kv_tokens <= held {
            return true; // the common case: room left in the last block
        }
        let need = self.own_blocks_needed(&self.seqs[key], kv_tokens);
        let have = self.seqs[key].own_blocks;
        if need <= have {
            return true;
        }
        if !self.reserve(need - have) {
            return false;
        }
        self.free_blocks -= need - have;
        self.seqs[key].own_blocks = need;
        true
    }

    /// Drops `key`'s KV: own blocks freed, shared units released to the idle list.
    fn release(&mut self, key: usize) {
        let seq = &mut self.seqs[key];
        self.free_blocks += seq.own_blocks;
        seq.own_blocks = 0;
        let units = seq.shared_units as usize;
        seq.shared_units = 0;
        let hashes: Vec<u64> = seq
            .prefix
            .as_deref()
            .map(|p| p[..units].to_vec())
            .unwrap_or_default();
        for h in hashes {
            let unit = self.units.get_mut(&h).expect("a shared unit is cached");
            unit.refs -= 1;
            if unit.refs == 0 {
                unit.stamp = self.next_stamp;
                self.idle.insert(self.next_stamp, h);
                self.next_stamp += 1;
            }
        }
    }

    /// Looks the prompt's prefix up in the cache and references the leading units found.
    fn attach_cached_prefix(&mut self, key: usize) -> u32 {
        let Some(prefix) = self.seqs[key].prefix.as_deref() else {
            return 0;
        };
        let unit_tokens = self.cfg.prefix_block_tokens;
        // Only whole units of the original prompt, and never the whole prompt: its last token
        // must run to produce the first output token.
        let usable = ((self.seqs[key].input - 1) / unit_tokens) as usize;
        let hits: Vec<u64> = prefix
            .iter()
            .take(usable)
            .take_while(|h| self.units.contains_key(h))
            .copied()
            .collect();
        for h in &hits {
            let unit = self.units.get_mut(h).expect("found above");
            if unit.refs == 0 {
                self.idle.remove(&unit.stamp);
            }
            unit.refs += 1;
        }
        let n = hits.len() as u32;
        let seq = &mut self.seqs[key];
        seq.shared_units = n;
        seq.prefilled = n * unit_tokens;
        n * unit_tokens
    }

    /// After a prompt is fully prefilled, its whole units become cached and shared. A unit another
    /// sequence cached meanwhile is referenced instead, and this sequence's copy is freed.
    fn publish_prefix(&mut self, key: usize) {
        let unit_tokens = self.cfg.prefix_block_tokens;
        let Some(prefix) = self.seqs[key].prefix.clone() else {
            return;
        };
        let whole = ((self.seqs[key].input / unit_tokens) as usize).min(prefix.len());
        let from = self.seqs[key].shared_units as usize;
        if whole <= from {
            return;
        }
        let mut inserted = 0u64;
        for h in &prefix[from..whole] {
            match self.units.get_mut(h) {
                Some(unit) => {
                    if unit.refs == 0 {
                        self.idle.remove(&unit.stamp);
                    }
                    unit.refs += 1;
                }
                None => {
                    self.units.insert(*h, Unit { refs: 1, stamp: 0 });
                    inserted += 1;
                }
            }
        }
        let seq = &mut self.seqs[key];
        seq.shared_units = whole as u32;
        let before = seq.own_blocks;
        // A reserving engine keeps the room it took for the output.
        let keep = match self.cfg.admission {
            Admission::Reserve => {
                let s = &self.seqs[key];
                u64::from(s.prompt) + u64::from(s.output - s.generated.min(s.output))
            }
            _ => self.seqs[key].kv_tokens(),
        };
        let after = self
            .own_blocks_needed(&self.seqs[key], keep)
            .max(self.own_blocks_needed(&self.seqs[key], self.seqs[key].kv_tokens()));
        // Units are whole blocks (validation), so the inserted units' blocks move from own to
        // shared exactly, and the rest of the difference is freed.
        self.free_blocks += before - inserted * self.blocks_per_unit - after;
        self.seqs[key].own_blocks = after;
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

    /// Undoes a prefix lookup for a request that could not be admitted after all.
    fn release_lookup(&mut self, key: usize) {
        if self.seqs[key].shared_units > 0 {
            self.release(key);
            self.seqs[key].prefilled = 0;
        }
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

    /// Checks the block accounting (tests).
    #[cfg(test)]
    pub fn check(&self) {
        let own: u64 = self.seqs.iter().map(|(_, s)| s.own_blocks).sum();
        let shared =
            self.units.values().filter(|u| u.refs > 0).count() as u64 * self.blocks_per_unit;
        let idle = self.idle.len() as u64 * self.blocks_per_unit;
        assert_eq!(
            own + shared + idle + self.free_blocks,
            self.cfg.kv_blocks,
            "blocks are conserved"
        );
        assert!(
            own + shared <= self.cfg.kv_blocks,
            "KV use never exceeds capacity"
        );
        assert!(self.running.len() <= self.cfg.max_seqs as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::SimTime;
    use proptest::prelude::*;

    fn cfg(kv_blocks: u64) -> LlmConfig {
        LlmConfig {
            max_seqs: 8,
            max_batched_tokens: 64,
            block_tokens: 4,
            kv_blocks,
            chunked_prefill: true,
            prefix_caching: true,
            prefix_block_tokens: 8,
            max_model_len: 512,
            scheduler: Scheduler::Mixed,
            admission: Admission::Preempt,
            request_overhead_ns: 0,
            request_cpu_ns: 0,
            scheduler_steps: 1,
        }
    }

    fn req(input: u32, output: u32) -> Request {
        Request {
            arrival: SimTime(0),
            traced_service: SimTime::ZERO,
            input_tokens: input,
            output_tokens: output,
            prefix: Request::NO_PREFIX,
        }
    }

    /// Runs the replica until it is idle; returns the outcomes and the tokens sampled.
    fn drain(r: &mut LlmReplica) -> (Vec<Outcome>, u64) {
        let (mut out, mut sampled, mut now) = (Vec::new(), 0, 0);
        while let Some(p) = r.plan(&mut out, 1) {
            r.check();
            sampled += p.step.logits;
            now += 1;
            r.finish(now - 1, now, 1, &mut out);
            r.check();
        }
        (out, sampled)
    }

    /// Like `drain`, with decode runs of up to `max_run` iterations.
    fn drain_runs(r: &mut LlmReplica, max_run: u32) -> (Vec<Outcome>, u64) {
        drain_runs_from(r, max_run, 0)
    }

    /// Like `drain_runs`, with the clock at `now`.
    fn drain_runs_from(r: &mut LlmReplica, max_run: u32, mut now: u64) -> (Vec<Outcome>, u64) {
        let (mut out, mut sampled) = (Vec::new(), 0);
        while let Some(p) = r.plan(&mut out, max_run) {
            r.check();
            sampled += p.step.logits * u64::from(p.steps);
            now += 1;
            r.finish(now - 1, now, p.steps, &mut out);
            r.check();
        }
        (out, sampled)
    }

    #[test]
    fn decode_runs_match_single_steps() {
        for max_run in [1, 2, 7, 1000] {
            let mut r = LlmReplica::new(cfg(1000));
            for (i, o) in [(10, 30), (20, 5), (5, 17)] {
                assert!(r.enqueue(&req(i, o), None));
            }
            let (out, sampled) = drain_runs(&mut r, max_run);
            assert_eq!(sampled, 52, "max_run {max_run}");
            assert_eq!(
                out.iter()
                    .filter(|o| matches!(o, Outcome::Done { .. }))
                    .count(),
                3
            );
            assert_eq!(r.used_blocks(), 0);
        }
    }

    /// (chunks, their summed gaps) of `out`'s inter-token gaps; (tokens after the first, their
    /// summed time) of its finished requests.
    fn gaps(out: &[Outcome]) -> ((u64, u64), (u64, u64)) {
        let mut g = (0, 0);
        let mut d = (0, 0);
        for o in out {
            match *o {
                Outcome::Gaps { gap, count } => {
                    g.0 += count;
                    g.1 += gap * count;
                }
                Outcome::Done {
                    first_token,
                    output_tokens,
                    at,
                    ..
                } => {
                    d.0 += u64::from(output_tokens - 1);
                    d.1 += at - first_token;
                }
                _ => {}
            }
        }
        (g, d)
    }

    #[test]
    fn every_token_after_the_first_is_one_gap_and_the_gaps_add_up() {
        // Mixed steps, a pause of the decodes for prompts, and preemptions (a small cache).
        for scheduler in [Scheduler::Mixed, Scheduler::PrefillFirst] {
            for kv in [1000, 30] {
                let mut r = LlmReplica::new(LlmConfig {
                    scheduler,
                    ..cfg(kv)
                });
                for (i, o) in [(40, 40), (10, 30), (40, 40), (5, 17)] {
                    assert!(r.enqueue(&req(i, o), None));
                }
                let (out, _) = drain(&mut r);
                let (g, d) = gaps(&out);
                assert_eq!(g, d, "{scheduler:?}, {kv} blocks");
            }
        }
        // Decode runs: one gap per token still.
        let mut r = LlmReplica::new(cfg(1000));
        for (i, o) in [(10, 30), (20, 5), (5, 17)] {
            assert!(r.enqueue(&req(i, o), None));
        }
        let (out, _) = drain_runs(&mut r, 1000);
        assert_eq!(gaps(&out).0.0, 29 + 4 + 16);
    }

    #[test]
    fn multi_step_scheduling_streams_a_chunk_per_scheduling() {
        let mut r = LlmReplica::new(LlmConfig {
            scheduler_steps: 4,
            ..cfg(1000)
        });
        assert!(r.enqueue(&req(10, 9), None));
        let (mut out, mut now) = (Vec::new(), 0);
        while let Some(p) = r.plan(&mut out, 1000) {
            // Each iteration takes 10 ns.
            r.finish(now, now + 10 * u64::from(p.steps), p.steps, &mut out);
            now += 10 * u64::from(p.steps);
        }
        // The first token, then 8 in one run of 8 iterations: two chunks of 4, 40 ns apart.
        assert_eq!(gaps(&out).0, (2, 80));
    }

    #[test]
    fn one_request_prefills_in_chunks_then_decodes() {
        let mut r = LlmReplica::new(cfg(1000));
        assert!(r.enqueue(&req(100, 5), None));
        let (out, sampled) = drain(&mut r);
        // 100 prompt tokens in chunks of 64: 2 steps, the second yields the first token; 4 decodes.
        let first = out.iter().find_map(|o| match o {
            Outcome::FirstToken { at, .. } => Some(*at),
            _ => None,
        });
        assert_eq!(first, Some(2));
        assert!(matches!(
            out.last(),
            Some(Outcome::Done {
                at: 6,
                output_tokens: 5,
                ..
            })
        ));
        assert_eq!(sampled, 5);
        assert_eq!(r.used_blocks(), 0);
    }

    #[test]
    fn a_full_cache_preempts_the_newest_and_everything_still_finishes() {
        // 30 blocks of 4 tokens: two requests of 40 + 40 tokens do not fit together.
        let mut r = LlmReplica::new(cfg(30));
        for _ in 0..2 {
            assert!(r.enqueue(&req(40, 40), None));
        }
        let (out, sampled) = drain(&mut r);
        let preempted = out
            .iter()
            .filter(|o| matches!(o, Outcome::Preempted))
            .count();
        let done = out
            .iter()
            .filter(|o| matches!(o, Outcome::Done { .. }))
            .count();
        assert!(preempted >= 1, "{out:?}");
        assert_eq!(done, 2);
        assert_eq!(sampled, 80, "no token is generated twice");
    }

    #[test]
    fn cached_prefixes_skip_their_prefill() {
        let mut r = LlmReplica::new(cfg(1000));
        let prefix: Box<[u64]> = vec![7, 8, 9].into();
        assert!(r.enqueue(&req(30, 2), Some(prefix.clone())));
        drain(&mut r);
        assert!(r.enqueue(&req(30, 2), Some(prefix)));
        let (out, _) = drain(&mut r);
        // 30 tokens: 3 whole units of 8 are cached, all usable (the last token always runs).
        assert!(
            out.contains(&Outcome::PrefixLookup {
                hit: 24,
                prompt: 30
            }),
            "{out:?}"
        );
        assert_eq!(r.cached_units(&[7, 8, 9, 10]), 3);
    }

    fn with(scheduler: Scheduler, admission: Admission, kv_blocks: u64) -> LlmReplica {
        LlmReplica::new(LlmConfig {
            scheduler,
            admission,
            ..cfg(kv_blocks)
        })
    }

    /// Steps until the replica is idle: (prefill tokens, decode sequences) of each, and outcomes.
    fn steps(r: &mut LlmReplica) -> (Vec<(u64, u64)>, Vec<Outcome>) {
        let (mut out, mut shape, mut now) = (Vec::new(), Vec::new(), 0);
        while let Some(p) = r.plan(&mut out, 1) {
            r.check();
            shape.push((p.step.prefill_tokens, p.step.decode_seqs));
            now += 1;
            r.finish(now - 1, now, 1, &mut out);
        }
        (shape, out)
    }

    #[test]
    fn prefill_first_pauses_decodes_while_a_prompt_runs() {
        for (scheduler, mixed_steps) in [(Scheduler::Mixed, true), (Scheduler::PrefillFirst, false)]
        {
            let mut r = with(scheduler, Admission::Preempt, 1000);
            assert!(r.enqueue(&req(10, 20), None));
            let mut out = Vec::new();
            for _ in 0..3 {
                let _ = r.plan(&mut out, 1).unwrap();
                r.finish(0, 1, 1, &mut out);
            }
            // A second prompt of 100 tokens arrives while the first decodes: two chunks of 64.
            assert!(r.enqueue(&req(100, 5), None));
            let (shape, _) = steps(&mut r);
            let mixed = shape.iter().any(|&(p, d)| p > 0 && d > 0);
            assert_eq!(mixed, mixed_steps, "{scheduler:?}: {shape:?}");
            if !mixed_steps {
                assert_eq!(&shape[..2], &[(64, 0), (36, 0)], "{shape:?}");
            }
        }
    }

    #[test]
    fn reserving_admission_never_preempts() {
        // 30 blocks of 4 tokens: two requests of 40 + 40 tokens do not fit together.
        for (admission, preempts) in [(Admission::Preempt, true), (Admission::Reserve, false)] {
            let mut r = with(Scheduler::Mixed, admission, 30);
            for _ in 0..2 {
                assert!(r.enqueue(&req(40, 40), None));
            }
            let (_, out) = steps(&mut r);
            let preempted = out.iter().any(|o| matches!(o, Outcome::Preempted));
            assert_eq!(preempted, preempts, "{admission:?}");
            assert_eq!(
                out.iter()
                    .filter(|o| matches!(o, Outcome::Done { .. }))
                    .count(),
                2
            );
        }
        // Publishing a prompt's prefix keeps the reservation for its output.
        let mut r = with(Scheduler::Mixed, Admission::Reserve, 30);
        assert!(r.enqueue(&req(40, 40), Some(vec![1, 2, 3, 4, 5].into())));
        assert!(r.enqueue(&req(40, 30), Some(vec![11, 12, 13, 14, 15].into())));
        let (_, out) = steps(&mut r);
        assert!(
            !out.iter().any(|o| matches!(o, Outcome::Preempted)),
            "{out:?}"
        );
    }

    #[test]
    fn token_ratio_admission_keeps_room_for_outputs_to_come() {
        // 100 blocks of 4 tokens = 400 tokens. Requests of 20 + 100: greedy admission takes all
        // eight at once (160 prompt tokens fit) and must preempt as outputs grow; the ratio
        // (0.7 of 100 outputs) admits fewer at first.
        let admitted_first = |admission| {
            let mut r = LlmReplica::new(LlmConfig {
                admission,
                max_batched_tokens: 512,
                ..cfg(100)
            });
            for _ in 0..8 {
                assert!(r.enqueue(&req(20, 100), None));
            }
            let mut out = Vec::new();
            let _ = r.plan(&mut out, 1).unwrap();
            r.running_len()
        };
        assert_eq!(admitted_first(Admission::Preempt), 8);
        let ratio = admitted_first(Admission::SGLANG);
        // Each admission needs 20 + 70 tokens free after the promises before it: 4 fit in 400.
        assert_eq!(ratio, 4);
    }

    #[test]
    fn over_long_prompts_are_rejected() {
        let mut r = LlmReplica::new(cfg(1000));
        assert!(!r.enqueue(&req(512, 1), None));
        assert!(r.enqueue(&req(511, 100), None));
        let (out, _) = drain(&mut r);
        assert!(matches!(
            out.last(),
            Some(Outcome::Done {
                output_tokens: 1,
                ..
            })
        ));
    }

    proptest! {
        /// KV use never exceeds capacity, blocks are conserved, every admitted request finishes
        /// exactly once with all its tokens (preempted ones resume), and no token is sampled twice,
        /// under every scheduler and admission policy.
        #[test]
        fn kv_admission_and_token_conservation(
            kv_blocks in 130u64..400,
            max_seqs in 1u32..10,
            budget in 8u32..128,
            chunked in any::<bool>(),
            caching in any::<bool>(),
            requests in proptest::collection::vec(
                (1u32..300, 1u32..120, proptest::collection::vec(0u64..6, 0..6), 0u32..4),
                1..40,
            ),
            max_run in 1u32..50,
            cut in 0u32..1000,
            prefill_first in any::<bool>(),
            admission in 0usize..3,
        ) {
            let budget = if chunked { budget } else { 512 };
            let admission = [Admission::Preempt, Admission::Reserve, Admission::SGLANG][admission];
            let mut r = LlmReplica::new(LlmConfig {
                max_seqs,
                max_batched_tokens: budget,
                block_tokens: 4,
                kv_blocks,
                chunked_prefill: chunked,
                prefix_caching: caching,
                prefix_block_tokens: 8,
                max_model_len: 512,
                scheduler: if prefill_first { Scheduler::PrefillFirst } else { Scheduler::Mixed },
                admission,
                request_overhead_ns: 0,
                request_cpu_ns: 0,
                scheduler_steps: 1,
            });
            let (mut out, mut sampled, mut now, mut want) = (Vec::new(), 0u64, 0u64, 0u64);
            let mut accepted = 0;
            for (i, (input, output, prefix, gap)) in requests.iter().enumerate() {
                let prefix: Option<Box<[u64]>> = (!prefix.is_empty()).then(|| prefix.clone().into());
                if r.enqueue(&req(*input, *output), prefix) {
                    accepted += 1;
                    want += u64::from((*output).min(512 - input.max(&1)).max(1));
                }
                // Run a few iterations between arrivals.
                for _ in 0..*gap {
                    if r.is_busy() { break; }
                    if let Some(p) = r.plan(&mut out, max_run) {
                        r.check();
                        // A run may be cut short, as an arrival would cut it.
                        let steps = if p.steps > 1 { 1 + (cut % p.steps) } else { 1 };
                        sampled += p.step.logits * u64::from(steps);
                        now += 1;
                        r.finish(now - 1, now, steps, &mut out);
                        r.check();
                    }
                }
                let _ = i;
            }
            let (rest, more) = drain_runs_from(&mut r, max_run, now);
            out.extend(rest);
            sampled += more;
            let done: u64 = out.iter().filter_map(|o| match o {
                Outcome::Done { output_tokens, .. } => Some(u64::from(*output_tokens)),
                _ => None,
            }).sum();
            let finished = out.iter().filter(|o| matches!(o, Outcome::Done { .. })).count();
            prop_assert_eq!(finished, accepted);
            prop_assert_eq!(done, want);
            prop_assert_eq!(sampled, want);
            prop_assert!(!r.has_work());
            prop_assert_eq!(r.used_blocks(), 0);
            prop_assert_eq!(r.outstanding_tokens(), 0);
            if admission == Admission::Reserve {
                prop_assert!(!out.iter().any(|o| matches!(o, Outcome::Preempted)), "reserve never preempts");
            }
        }
    }
}
