//! The discrete-event engine for request-level inference serving.
//!
//! The engine owns its world directly: workloads with their arrival processes and dispatchers,
//! replicas with their queues and batches in service, pools with their service-time samplers.
//! Each event is handled by one method; the [`Recorder`] sees every state change.
//!
//! Rules of service:
//! - A free replica takes up to `max_batch` requests from its queue, oldest first, and serves them
//!   as one batch that completes together. With fewer than `max_batch` queued and `max_wait > 0`,
//!   it waits until the oldest has waited `max_wait` or the batch fills, whichever is first.
//! - `shared-queue`: one queue per workload; an arriving request goes to the replica that has been
//!   free longest. Other policies pick a replica on arrival and queue there.
//! - Queue capacity bounds the requests waiting (not in service); beyond it the newest is dropped.
//! - A request still waiting at its timeout leaves its queue; one in service past its timeout is
//!   finished (the work is spent) but counts as timed out.
//!
//! Over 700 lines on purpose: this is the event loop and the request-level handlers that share
//! the engine's private state; each further concern is its own file under `engine/` (LLM
//! replicas, elastic pools, spot reclaims, spill-over between pools).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::RngExt;

mod elastic;
mod llm;
mod reclaim;
mod spill;

use super::SimError;
use super::event::{Event, EventQueue, QueueRef};
use super::metrics::Recorder;
use super::result::{RunResult, StopReason, Stopped};
use super::scheduler::{Evicted, LlmConfig, LlmReplica, Outcome};
use crate::fleet::{Batching, ServiceSampler, Serving};
use crate::llm::Timing;
use crate::rng::{Stream, substream};
use crate::scenario::Scenario;
use crate::units::SimTime;
use crate::workload::{Arrivals, Policy, Request};

use self::elastic::ReplicaState;
use self::llm::llm_config;

/// Queues are in arrival order (expiry looks only at the front); a request retried after its
/// replica was reclaimed may be older than the newest queued.
#[inline]
fn push_in_order(items: &mut VecDeque<Request>, req: Request) {
    if items.back().is_none_or(|b| b.arrival <= req.arrival) {
        items.push_back(req);
    } else {
        let i = items.partition_point(|x| x.arrival <= req.arrival);
        items.insert(i, req);
    }
}

/// How often (in events) the engine publishes its simulated time for progress bars and looks at
/// its cancel flag: rarely enough to cost nothing per event, often enough that an abandoned run
/// stops promptly (65 536 events are about 4 ms of a request-level run, 15 ms of a token-level one).
const PROGRESS_EVERY: u64 = 1 << 16;

/// Most requests a run holds in its fleet at once (queued or in service) before it stops: a
/// queued request costs 50-200 bytes, so the queue of a fleet offered far more than it serves
/// stays under about 1 GB instead of growing until memory runs out.
pub const MAX_IN_SYSTEM: u64 = 5_000_000;

/// Requests waiting, with the timers armed for them.
#[derive(Default)]
struct WaitQueue {
    items: VecDeque<Request>,
    /// When a batch timer is armed for this queue.
    batch_timer: Option<u64>,
    /// Whether an expiry timer is armed for this queue.
    expiry_armed: bool,
}

struct WorkloadRt {
    arrivals: Arrivals,
    next: Option<Request>,
    /// Prompt-prefix hashes of the next request, if its trace has them.
    next_prefix: Option<Box<[u64]>>,
    /// Whether the workload is served by an LLM (token-level replicas).
    llm: bool,
    /// Whether its arrivals are a closed loop (each finished request issues the next).
    closed_loop: bool,
    policy: Policy,
    /// Replicas serving this workload (indices into `Engine::replicas`).
    replicas: Vec<u32>,
    /// The shared queue (`shared-queue` policy only).
    queue: WaitQueue,
    /// Free replicas, longest free first (`shared-queue` policy only).
    idle: VecDeque<u32>,
    next_rr: usize,
    rng: Stream,
    capacity: usize,
    timeout: u64,
    /// Whether every pool serving the workload batches the same way.
    uniform_batching: bool,
    /// When the arrival process ran out before the horizon.
    ended: Option<SimTime>,
    /// Whether its pools fill in spill order (see `spill`); `replicas` and `idle` are then kept
    /// in that order.
    spill: bool,
    /// Whether any of its pools has a weight other than 1, so least-outstanding divides by them.
    weighted: bool,
}

struct ReplicaRt {
    pool: u32,
    workload: u32,
    /// Own queue (policies other than `shared-queue`).
    queue: WaitQueue,
    batch: Vec<Request>,
    busy: bool,
    /// The LLM scheduler, for replicas of LLM pools.
    llm: Option<Box<LlmReplica>>,
    /// The LLM iterations in flight.
    run: Run,
    /// Requests in the LLM front end, with when each reaches the engine (in that order), and
    /// when the front end is free again.
    front: VecDeque<(u64, Evicted)>,
    front_free: u64,
    /// Prompt plus output tokens of the requests in the front end (for routing).
    front_tokens: u64,
    state: ReplicaState,
    /// When a replica being provisioned is due to be ready.
    ready_at: u64,
    /// When the batch in service ends (a reclaim makes its `BatchDone` stale).
    batch_end: u64,
    /// When a spot replica gets its reclaim notice, and when the reclaim comes (`u64::MAX`:
    /// not armed).
    interrupt_at: u64,
    reclaim_at: u64,
}

impl ReplicaRt {
    fn new(
        p: &crate::fleet::Pool,
        pool: usize,
        llm: Option<LlmConfig>,
        state: ReplicaState,
    ) -> ReplicaRt {
        ReplicaRt {
            pool: pool as u32,
            workload: p.workload as u32,
            queue: WaitQueue::default(),
            batch: Vec::with_capacity(p.serving.batching().max_batch as usize),
            busy: false,
            llm: llm.map(|c| Box::new(LlmReplica::new(c))),
            run: Run::default(),
            front: VecDeque::new(),
            front_free: 0,
            front_tokens: 0,
            state,
            ready_at: 0,
            batch_end: u64::MAX,
            interrupt_at: u64::MAX,
            reclaim_at: u64::MAX,
        }
    }
}

/// What an LLM replica is running: `steps` iterations from `start`, the first being `first`;
/// they end at `end`, where its `BatchDone` event is (an earlier event for a run since cut short
/// is stale).
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    start: u64,
    end: u64,
    steps: u32,
    first: crate::llm::Step,
    /// KV blocks last reported to the recorder for this replica.
    kv_reported: u64,
}

struct PoolRt {
    /// Request-level service times (`None` for LLM pools).
    sampler: Option<ServiceSampler>,
    batching: Batching,
    rng: Stream,
    /// Iteration times, for LLM pools.
    steps: Option<Timing>,
    /// The pool's replica slots (indices into `Engine::replicas`); elastic pools have more
    /// slots than replicas.
    slots: Vec<u32>,
    /// Target tracking's memory (elastic pools that track a metric).
    tracker: self::elastic::Tracker,
    /// Draws the replicas' lifetimes, for pools with interruptions.
    reclaims: Stream,
    /// The scheduler settings of the pool's replicas, for LLM pools.
    llm_config: Option<LlmConfig>,
    /// Replicas (starting or serving) the pool wants: its policy's last word, or `replicas`.
    target: u32,
    /// Until when a reclaim left the pool without spot capacity to start replicas.
    capacity_back_at: u64,
    /// When its pending `Replace` and `PoolReclaim` events are due (`u64::MAX`: none).
    replace_at: u64,
    pool_reclaim_at: u64,
    /// Draws cold-start times.
    provisioning: Stream,
    /// Warm instances ready, and being prepared.
    warm_ready: u32,
    warm_refilling: u32,
}

pub(super) struct Engine<'s> {
    scenario: &'s Scenario,
    now: u64,
    events: EventQueue,
    workloads: Vec<WorkloadRt>,
    replicas: Vec<ReplicaRt>,
    pools: Vec<PoolRt>,
    rec: Recorder,
    seed: u64,
    /// Whether any workload has a timeout (so expiry timers are needed at all).
    timeouts: bool,
    /// Scratch space for what an LLM iteration did.
    outcomes: Vec<Outcome>,
    /// Most LLM iterations planned as one decode run.
    pub(super) max_run: u32,
}

impl<'s> Engine<'s> {
    pub fn new(scenario: &'s Scenario, seed: u64) -> Result<Engine<'s>, SimError> {
        let mut replicas = Vec::new();
        let pools = scenario
            .pools()
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let llm_config = match &p.serving {
                    Serving::Llm(l) => Some(llm_config(l, &scenario.workloads()[p.workload])),
                    Serving::Requests(_) => None,
                };
                let first = replicas.len() as u32;
                for k in 0..p.max_replicas() {
                    let state = if k < p.replicas {
                        ReplicaState::Active
                    } else {
                        ReplicaState::Off
                    };
                    replicas.push(ReplicaRt::new(p, i, llm_config, state));
                }
                PoolRt {
                    sampler: match &p.serving {
                        Serving::Requests(s) => Some(ServiceSampler::new(&s.time)),
                        Serving::Llm(_) => None,
                    },
                    batching: p.serving.batching(),
                    rng: substream(seed, &format!("service/{}", p.name)),
                    steps: match &p.serving {
                        Serving::Llm(l) => Some(Timing::new(
                            &l.roofline,
                            l.table.as_ref(),
                            l.kernels.as_ref(),
                            l.settings.overhead,
                        )),
                        Serving::Requests(_) => None,
                    },
                    slots: (first..replicas.len() as u32).collect(),
                    tracker: Default::default(),
                    reclaims: substream(seed, &format!("interruptions/{}", p.name)),
                    llm_config,
                    target: p.replicas,
                    capacity_back_at: 0,
                    replace_at: u64::MAX,
                    pool_reclaim_at: u64::MAX,
                    provisioning: substream(seed, &format!("provisioning/{}", p.name)),
                    warm_ready: p.provisioning.warm_pool.map_or(0, |w| w.size),
                    warm_refilling: 0,
                }
            })
            .collect();
        let workloads = scenario
            .workloads()
            .iter()
            .enumerate()
            .map(|(wi, w)| {
                let mut mine: Vec<u32> = (0..replicas.len() as u32)
                    .filter(|&r| {
                        let r = &replicas[r as usize];
                        r.workload as usize == wi && r.state == ReplicaState::Active
                    })
                    .collect();
                let spill = scenario
                    .pools_of(wi)
                    .any(|p| scenario.pools()[p].spill_order != u32::MAX);
                if spill {
                    mine.sort_by_key(|&r| {
                        scenario.pools()[replicas[r as usize].pool as usize].spill_order
                    });
                }
                let arrivals = Arrivals::new(
                    &w.arrival,
                    w.tokens.as_ref(),
                    substream(seed, &format!("arrivals/{}", w.stream)),
                    substream(seed, &format!("tokens/{}", w.stream)),
                    scenario.start(),
                    scenario.horizon(),
                )?;
                Ok(WorkloadRt {
                    arrivals,
                    next: None,
                    next_prefix: None,
                    closed_loop: matches!(w.arrival, crate::workload::Arrival::Closed { .. }),
                    llm: scenario
                        .pools_of(wi)
                        .any(|p| matches!(scenario.pools()[p].serving, Serving::Llm(_))),
                    policy: w.dispatch.policy,
                    idle: if w.dispatch.policy == Policy::SharedQueue {
                        mine.iter().copied().collect()
                    } else {
                        VecDeque::new()
                    },
                    replicas: mine,
                    queue: WaitQueue::default(),
                    next_rr: 0,
                    rng: substream(seed, &format!("dispatch/{}", w.name)),
                    capacity: w.dispatch.queue_capacity.map_or(usize::MAX, |c| c as usize),
                    timeout: w.dispatch.timeout.map_or(u64::MAX, |t| t.0),
                    ended: None,
                    spill,
                    weighted: scenario
                        .pools_of(wi)
                        .any(|p| scenario.pools()[p].weight != 1.0),
                    uniform_batching: {
                        let mut b = scenario
                            .pools_of(wi)
                            .map(|p| scenario.pools()[p].serving.batching());
                        let first = b.next();
                        b.all(|x| Some(x) == first)
                    },
                })
            })
            .collect::<Result<Vec<_>, SimError>>()?;
        Ok(Engine {
            scenario,
            now: scenario.start().0,
            events: EventQueue::new(scenario.workloads().len()),
            workloads,
            replicas,
            pools,
            rec: Recorder::new(scenario),
            seed,
            timeouts: scenario
                .workloads()
                .iter()
                .any(|w| w.dispatch.timeout.is_some()),
            outcomes: Vec::new(),
            max_run: llm::MAX_RUN,
        })
    }

    /// Runs to the end: arrivals stop at the horizon, then the fleet drains. Gives up with
    /// [`SimError::Cancelled`] when `cancel` is set; ends early with what it measured so far
    /// ([`RunResult::stopped`]) when `stop` is set, when more than [`MAX_IN_SYSTEM`] requests
    /// are in the fleet at once, or when the fleet is overloaded beyond doubt (see
    /// `overloaded`); all looked at every [`PROGRESS_EVERY`] events.
    pub fn run(
        mut self,
        progress: Option<&AtomicU64>,
        cancel: Option<&AtomicBool>,
        stop: Option<&AtomicBool>,
    ) -> Result<RunResult, SimError> {
        for w in 0..self.workloads.len() {
            self.schedule_arrival(w)?;
        }
        for p in 0..self.pools.len() {
            if self.scenario.pools()[p].scaling.is_some() {
                self.events
                    .push(self.scenario.start(), Event::PoolTick { pool: p as u32 });
            }
            if self.scenario.pools()[p].provisioning.warm_pool.is_some() {
                self.report_fleet(p);
            }
            if let Some(int) = &self.scenario.pools()[p].interruptions {
                let correlated = int.correlated.is_some();
                for r in self.pools[p].slots.clone() {
                    if self.replicas[r as usize].state == ReplicaState::Active {
                        self.arm_interruption(r as usize);
                    }
                }
                if correlated {
                    self.arm_pool_reclaim(p);
                }
            }
        }
        let mut count: u64 = 0;
        while let Some((t, event)) = self.events.pop() {
            debug_assert!(t.0 >= self.now, "time went back");
            self.now = t.0;
            if self.rec.boundary_due(t.0) {
                if self.rec.interval_due(t.0) {
                    self.count_waiting();
                }
                self.rec.advance(t.0, self.scenario);
            }
            count += 1;
            match event {
                Event::Arrival { workload } => self.on_arrival(workload as usize)?,
                Event::BatchDone { replica } => self.on_batch_done(replica as usize),
                Event::FrontEnd { replica } => self.llm_front_end_done(replica as usize),
                Event::SharedBatchTimer { workload } => {
                    self.on_batch_timer(QueueRef::Shared(workload))
                }
                Event::ReplicaBatchTimer { replica } => {
                    self.on_batch_timer(QueueRef::Replica(replica))
                }
                Event::SharedExpire { workload } => self.on_expire(QueueRef::Shared(workload)),
                Event::ReplicaExpire { replica } => self.on_expire(QueueRef::Replica(replica)),
                Event::PoolTick { pool } => self.on_pool_tick(pool as usize),
                Event::ReplicaReady { replica } => self.on_replica_ready(replica as usize),
                Event::Interrupt { replica } => self.on_interrupt(replica as usize),
                Event::Reclaim { replica } => self.on_reclaim(replica as usize),
                Event::Replace { pool } => self.on_replace(pool as usize),
                Event::PoolReclaim { pool } => self.on_pool_reclaim(pool as usize),
                Event::WarmRefilled { pool } => self.on_warm_refilled(pool as usize),
            }
            if count.is_multiple_of(PROGRESS_EVERY) {
                if let Some(p) = progress {
                    p.store(
                        self.now.min(self.scenario.horizon().0) - self.scenario.start().0,
                        Ordering::Relaxed,
                    );
                }
                if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                    return Err(SimError::Cancelled);
                }
                let reason = if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                    Some(StopReason::Interrupted)
                } else if self.rec.in_system() > MAX_IN_SYSTEM {
                    Some(StopReason::Backlog {
                        limit: MAX_IN_SYSTEM,
                    })
                } else if self.overloaded() {
                    Some(StopReason::Overloaded)
                } else {
                    None
                };
                if let Some(reason) = reason {
                    return Ok(self.stop_at(count, reason));
                }
            }
        }
        if let Some(p) = progress {
            p.store(
                self.scenario.horizon().0 - self.scenario.start().0,
                Ordering::Relaxed,
            );
        }
        let mut result = self.rec.finish(self.scenario, self.seed, count, self.now);
        result.arrivals_ended = self.workloads.iter().map(|w| w.ended).collect();
        Ok(result)
    }

    /// Whether the fleet is overloaded beyond doubt: a tenth of the span in, it holds more
    /// requests than would leave it in the whole span at the rate they have left so far
    /// (served, dropped or timed out); or it has drained for as long as the span.
    /// (Deterministic: it looks at simulated counts only.)
    fn overloaded(&self) -> bool {
        let (start, horizon) = (self.scenario.start().0, self.scenario.horizon().0);
        let span = horizon - start;
        if self.rec.offline() {
            return false;
        }
        if self.now >= horizon {
            return self.now - horizon > span;
        }
        let elapsed = self.now - start;
        if elapsed * 10 < span {
            return false;
        }
        let rate = self.rec.left_total() as f64 / elapsed as f64;
        self.rec.in_system() as f64 > rate * span as f64
    }

    /// The run's figures up to now, undrained: it ends here for `reason`.
    #[cold]
    fn stop_at(mut self, events: u64, reason: StopReason) -> RunResult {
        let at = self.now;
        self.count_waiting();
        // In the drain, the window already ended at the horizon.
        self.rec.truncate(at, self.scenario);
        let mut result = self.rec.finish(self.scenario, self.seed, events, at);
        result.arrivals_ended = self.workloads.iter().map(|w| w.ended).collect();
        result.stopped = Some(Stopped {
            at: SimTime(at),
            reason,
        });
        result
    }

    /// Tells the recorder how many requests each workload has waiting (for the time series).
    #[cold]
    fn count_waiting(&mut self) {
        let mut n: Vec<u64> = self
            .workloads
            .iter()
            .map(|w| w.queue.items.len() as u64)
            .collect();
        for replica in &self.replicas {
            n[replica.workload as usize] += match &replica.llm {
                Some(l) => l.waiting_len() as u64,
                None => replica.queue.items.len() as u64,
            };
        }
        for (w, n) in n.into_iter().enumerate() {
            self.rec.waiting(w, n);
        }
    }

    fn schedule_arrival(&mut self, w: usize) -> Result<(), SimError> {
        let wl = &mut self.workloads[w];
        let next = wl.arrivals.next_request()?;
        wl.next = next.as_ref().map(|a| a.request);
        wl.next_prefix = next.and_then(|a| a.prefix);
        match wl.next {
            Some(r) => self
                .events
                .push_slot(w, r.arrival, Event::Arrival { workload: w as u32 }),
            None if wl.arrivals.exhausted() => wl.ended = Some(SimTime(self.now)),
            None => {}
        }
        Ok(())
    }

    fn on_arrival(&mut self, w: usize) -> Result<(), SimError> {
        let req = self.workloads[w]
            .next
            .take()
            .expect("an arrival event has its request");
        self.rec.arrival(w, req.arrival.0);
        if self.workloads[w].llm {
            let prefix = self.workloads[w].next_prefix.take();
            self.llm_arrival(w, req, prefix);
            // A closed loop may have issued the next request already (this one failed at once).
            if self.workloads[w].next.is_some() {
                return Ok(());
            }
            return self.schedule_arrival(w);
        }
        self.dispatch(w, req);
        self.schedule_arrival(w)
    }

    /// Request `req` of request-level workload `w` goes to a replica, or a queue (an arrival, or
    /// a request whose replica was reclaimed).
    #[inline]
    fn dispatch(&mut self, w: usize, req: Request) {
        let queue = match self.workloads[w].policy {
            Policy::SharedQueue => {
                // Fast path: a free replica that would start at once takes the request directly.
                let wl = &self.workloads[w];
                if wl.queue.items.is_empty()
                    && let Some(&r) = wl.idle.front()
                    && self.starts_alone(r as usize)
                {
                    self.workloads[w].idle.pop_front();
                    self.start_single(r as usize, req);
                    return;
                }
                push_in_order(&mut self.workloads[w].queue.items, req);
                self.start_shared(w);
                QueueRef::Shared(w as u32)
            }
            _ if self.workloads[w].replicas.is_empty() => {
                // An elastic pool scaled to zero: nothing to take the request.
                self.rec.failed(w, req.arrival.0, self.now, false);
                return;
            }
            policy => {
                let r = match self.workloads[w].spill {
                    true => self
                        .spill_pick(w)
                        .unwrap_or_else(|| self.pick_replica(w, policy)),
                    false => self.pick_replica(w, policy),
                };
                let replica = &self.replicas[r];
                if !replica.busy && replica.queue.items.is_empty() && self.starts_alone(r) {
                    self.start_single(r, req);
                    return;
                }
                push_in_order(&mut self.replicas[r].queue.items, req);
                self.start_replica(r);
                QueueRef::Replica(r as u32)
            }
        };
        let capacity = self.workloads[w].capacity;
        let now = self.now;
        let (q, rec) = self.queue_and_recorder(queue);
        if q.items.len() > capacity
            && let Some(dropped) = q.items.pop_back()
        {
            rec.failed(w, dropped.arrival.0, now, false);
        }
        self.arm_expiry(queue);
    }

    fn on_batch_done(&mut self, r: usize) {
        if self.replicas[r].llm.is_some() {
            self.llm_iteration_done(r);
            return;
        }
        let replica = &mut self.replicas[r];
        if replica.batch_end != self.now {
            return; // its replica was reclaimed mid-batch
        }
        let (w, pool) = (replica.workload as usize, replica.pool as usize);
        let timeout = self.workloads[w].timeout;
        for req in &replica.batch {
            self.rec.completed(w, req.arrival.0, self.now, timeout);
        }
        replica.batch.clear();
        replica.busy = false;
        let draining = replica.state == ReplicaState::Draining;
        self.rec.batch_finished(pool, self.now);
        if draining {
            // No new work from the shared queue; its own queue it finishes.
            if self.workloads[w].policy != Policy::SharedQueue {
                self.start_replica(r);
                self.arm_expiry(QueueRef::Replica(r as u32));
            }
            self.retire_if_drained(r);
            return;
        }
        if self.workloads[w].policy == Policy::SharedQueue {
            let wl = &self.workloads[w];
            // Fast path: nobody else is free, so this replica is the one to look at the queue.
            if wl.idle.is_empty()
                && !self.timeouts
                && let Some(front) = wl.queue.items.front()
                && self
                    .ready(
                        self.pools[pool].batching,
                        wl.queue.items.len(),
                        front.arrival.0,
                        wl.capacity,
                    )
                    .is_ok()
            {
                self.start_batch(r, QueueRef::Shared(w as u32));
                return;
            }
            self.add_idle(w, r as u32);
            self.start_shared(w);
            self.arm_expiry(QueueRef::Shared(w as u32));
        } else {
            self.start_replica(r);
            self.arm_expiry(QueueRef::Replica(r as u32));
        }
    }

    fn on_batch_timer(&mut self, q: QueueRef) {
        self.queue_mut(q).batch_timer = None;
        match q {
            QueueRef::Shared(w) => self.start_shared(w as usize),
            QueueRef::Replica(r) => self.start_replica(r as usize),
        }
        self.arm_expiry(q);
    }

    fn on_expire(&mut self, q: QueueRef) {
        self.queue_mut(q).expiry_armed = false;
        self.purge_expired(q);
        self.arm_expiry(q);
    }

    /// Removes the requests of `q` whose deadline has come, oldest first (a queue is in arrival
    /// order, so they are at its front).
    #[inline]
    fn purge_expired(&mut self, q: QueueRef) {
        if self.timeouts {
            self.purge_expired_now(q);
        }
    }

    #[inline(never)]
    fn purge_expired_now(&mut self, q: QueueRef) {
        let w = self.workload_of(q);
        let timeout = self.workloads[w].timeout;
        let now = self.now;
        let (queue, rec) = self.queue_and_recorder(q);
        while let Some(front) = queue.items.front()
            && front.arrival.0.saturating_add(timeout) <= now
        {
            let req = queue.items.pop_front().expect("front exists");
            rec.failed(w, req.arrival.0, now, true);
        }
    }

    fn workload_of(&self, q: QueueRef) -> usize {
        match q {
            QueueRef::Shared(w) => w as usize,
            QueueRef::Replica(r) => self.replicas[r as usize].workload as usize,
        }
    }

    fn queue_mut(&mut self, q: QueueRef) -> &mut WaitQueue {
        match q {
            QueueRef::Shared(w) => &mut self.workloads[w as usize].queue,
            QueueRef::Replica(r) => &mut self.replicas[r as usize].queue,
        }
    }

    fn queue_and_recorder(&mut self, q: QueueRef) -> (&mut WaitQueue, &mut Recorder) {
        let queue = match q {
            QueueRef::Shared(w) => &mut self.workloads[w as usize].queue,
            QueueRef::Replica(r) => &mut self.replicas[r as usize].queue,
        };
        (queue, &mut self.rec)
    }

    /// Arms the expiry timer for the oldest request of `q`, if the workload has a timeout.
    #[inline]
    fn arm_expiry(&mut self, q: QueueRef) {
        if !self.timeouts {
            return;
        }
        let timeout = self.workloads[self.workload_of(q)].timeout;
        if timeout == u64::MAX {
            return;
        }
        let queue = self.queue_mut(q);
        if queue.expiry_armed {
            return;
        }
        if let Some(front) = queue.items.front() {
            let at = front.arrival.0.saturating_add(timeout);
            queue.expiry_armed = true;
            self.events.push(SimTime(at), Event::expire(q));
        }
    }

    fn arm_batch_timer(&mut self, q: QueueRef, at: u64) {
        let queue = self.queue_mut(q);
        if queue.batch_timer.is_none_or(|t| t > at) {
            queue.batch_timer = Some(at);
            self.events.push(SimTime(at), Event::batch_timer(q));
        }
    }

    /// Whether a free replica with `batching` should start now on a queue of `len` requests whose
    /// oldest arrived at `oldest`, in a workload whose queues hold at most `capacity`; otherwise,
    /// when it should look again. A queue at its capacity is a full batch: no fuller one can come.
    fn ready(
        &self,
        batching: Batching,
        len: usize,
        oldest: u64,
        capacity: usize,
    ) -> Result<(), u64> {
        let due = oldest.saturating_add(batching.max_wait.0);
        let full = (batching.max_batch as usize).min(capacity.max(1));
        if len >= full || batching.max_wait.0 == 0 || self.now >= due {
            Ok(())
        } else {
            Err(due)
        }
    }

    /// Free replicas of workload `w` take batches from its shared queue while any is ready.
    fn start_shared(&mut self, w: usize) {
        let q = QueueRef::Shared(w as u32);
        self.purge_expired(q);
        loop {
            let wl = &self.workloads[w];
            let Some(front) = wl.queue.items.front() else {
                return;
            };
            let (len, oldest) = (wl.queue.items.len(), front.arrival.0);
            // The free replica that has waited longest and is ready starts; when the pools of the
            // workload batch alike, that is the first free one or none.
            let mut chosen = None;
            let mut due = u64::MAX;
            for (i, &r) in wl.idle.iter().enumerate() {
                let batching = self.pools[self.replicas[r as usize].pool as usize].batching;
                match self.ready(batching, len, oldest, wl.capacity) {
                    Ok(()) => {
                        chosen = Some(i);
                        break;
                    }
                    Err(at) => due = due.min(at),
                }
                if wl.uniform_batching {
                    break;
                }
            }
            match chosen {
                Some(i) => {
                    let idle = &mut self.workloads[w].idle;
                    let r = if i == 0 {
                        idle.pop_front()
                    } else {
                        idle.remove(i)
                    };
                    self.start_batch(r.expect("index from the scan") as usize, q);
                }
                None => {
                    if due != u64::MAX {
                        self.arm_batch_timer(q, due);
                    }
                    return;
                }
            }
        }
    }

    fn start_replica(&mut self, r: usize) {
        let q = QueueRef::Replica(r as u32);
        self.purge_expired(q);
        let replica = &self.replicas[r];
        let Some(front) = replica.queue.items.front() else {
            return;
        };
        if replica.busy {
            return;
        }
        let batching = self.pools[replica.pool as usize].batching;
        let capacity = self.workloads[replica.workload as usize].capacity;
        match self.ready(
            batching,
            replica.queue.items.len(),
            front.arrival.0,
            capacity,
        ) {
            Ok(()) => self.start_batch(r, q),
            Err(due) => self.arm_batch_timer(q, due),
        }
    }

    /// Whether free replica `r`, offered a single request and nothing queued, starts at once.
    #[inline]
    fn starts_alone(&self, r: usize) -> bool {
        let b = self.pools[self.replicas[r].pool as usize].batching;
        b.max_batch == 1 || b.max_wait.0 == 0
    }

    /// Free replica `r` serves `req` alone.
    #[inline]
    fn start_single(&mut self, r: usize, req: Request) {
        self.replicas[r].batch.push(req);
        self.launch(r);
    }

    /// Replica `r` takes a batch from queue `q` and starts serving it.
    fn start_batch(&mut self, r: usize, q: QueueRef) {
        let max = self.pools[self.replicas[r].pool as usize]
            .batching
            .max_batch as usize;
        let (items, batch) = match q {
            QueueRef::Shared(w) => (
                &mut self.workloads[w as usize].queue.items,
                &mut self.replicas[r].batch,
            ),
            QueueRef::Replica(_) => {
                let replica = &mut self.replicas[r];
                (&mut replica.queue.items, &mut replica.batch)
            }
        };
        let n = items.len().min(max);
        if n == 1 {
            batch.push(items.pop_front().expect("n == 1"));
        } else {
            batch.extend(items.drain(..n));
        }
        self.launch(r);
    }

    /// Replica `r` starts serving the batch it holds.
    #[inline]
    fn launch(&mut self, r: usize) {
        let replica = &mut self.replicas[r];
        replica.busy = true;
        let (pool, w) = (replica.pool as usize, replica.workload as usize);
        let n = replica.batch.len();
        let mut traced = SimTime::ZERO;
        for req in &replica.batch {
            traced = traced.max(req.traced_service);
            self.rec.started(w, req.arrival.0, self.now);
        }
        self.rec.batch_started(pool, n, self.now);
        let p = &mut self.pools[pool];
        let service = p
            .sampler
            .as_ref()
            .expect("request-level pools have a sampler")
            .sample(&mut p.rng, n as u32, traced);
        let end = self.now.saturating_add(service.0);
        self.replicas[r].batch_end = end;
        self.events
            .push(SimTime(end), Event::BatchDone { replica: r as u32 });
    }

    fn outstanding(&self, r: u32) -> usize {
        let replica = &self.replicas[r as usize];
        replica.queue.items.len() + replica.batch.len()
    }

    fn pick_replica(&mut self, w: usize, policy: Policy) -> usize {
        let n = self.workloads[w].replicas.len();
        let chosen = match policy {
            Policy::RoundRobin => {
                let wl = &mut self.workloads[w];
                let r = wl.replicas[wl.next_rr];
                wl.next_rr = (wl.next_rr + 1) % n;
                r
            }
            Policy::LeastOutstanding if self.workloads[w].weighted => {
                // Weighted least-request: in flight, counting this one, over the weight.
                let start = self.workloads[w].next_rr;
                self.workloads[w].next_rr = (start + 1) % n;
                let wl = &self.workloads[w];
                let score = |r: u32| {
                    let pool = self.replicas[r as usize].pool as usize;
                    (self.outstanding(r) + 1) as f64 / self.scenario.pools()[pool].weight
                };
                let mut best = wl.replicas[start];
                let mut best_score = score(best);
                for k in 1..n {
                    let r = wl.replicas[(start + k) % n];
                    let s = score(r);
                    if s < best_score {
                        best = r;
                        best_score = s;
                    }
                }
                best
            }
            Policy::LeastOutstanding => {
                // Scan from a rotating start so ties spread over the replicas.
                let start = self.workloads[w].next_rr;
                self.workloads[w].next_rr = (start + 1) % n;
                let wl = &self.workloads[w];
                let mut best = wl.replicas[start];
                let mut best_load = self.outstanding(best);
                for k in 1..n {
                    if best_load == 0 {
                        break;
                    }
                    let r = wl.replicas[(start + k) % n];
                    let load = self.outstanding(r);
                    if load < best_load {
                        best = r;
                        best_load = load;
                    }
                }
                best
            }
            Policy::PowerOfTwo => {
                let wl = &mut self.workloads[w];
                if n == 1 {
                    wl.replicas[0]
                } else {
                    let a = wl.rng.random_range(0..n);
                    let mut b = wl.rng.random_range(0..n - 1);
                    if b >= a {
                        b += 1;
                    }
                    let (a, b) = (wl.replicas[a], wl.replicas[b]);
                    if self.outstanding(b) < self.outstanding(a) {
                        b
                    } else {
                        a
                    }
                }
            }
            Policy::SharedQueue | Policy::PrefixAware => {
                unreachable!(
                    "validated: shared-queue does not pick on arrival; prefix-aware is for LLMs"
                )
            }
        };
        chosen as usize
    }
}
