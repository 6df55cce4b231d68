//! The event loop behind [`run`](super::run).
//!
//! Events live in a `BinaryHeap` keyed by (time, sequence number). A completion carries the
//! job's preemption count when it started, so one made stale by a preemption is recognised and
//! dropped. Accounting integrates the paid and the idle GPUs between events; the GPU time of the
//! runs is summed from the runs themselves, so `used + wasted + idle = provisioned` is a check,
//! not an identity.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap};

use super::pool::Pool;
use super::{Capacity, Elastic, ElasticSchedule, GpuHours, Run};
use crate::training::cluster::{BACKFILL_DEPTH, ClusterJob, Easy, Policy};

/// Seconds as a totally ordered key.
#[derive(Clone, Copy, Debug, PartialEq)]
struct At(f64);

impl Eq for At {}

impl Ord for At {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl PartialOrd for At {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum What {
    /// The job's run that began after `preemptions` preemptions ends.
    Done { job: usize, preemptions: u32 },
    /// Capacity step `i` takes effect.
    Step(usize),
    /// The earliest nodes asked for arrive.
    Nodes,
    /// Idle nodes may be due for release.
    Wake,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    at: At,
    seq: u64,
    what: What,
}

pub(super) struct Sim<'a> {
    jobs: &'a [ClusterJob],
    policy: Policy,
    elastic: &'a Elastic,
    steps: &'a [(f64, u32)],
    pool: Option<Pool>,
    /// The most GPUs the cluster has from step `i` on.
    reach_from: Vec<u32>,
    /// The most GPUs the cluster will have from now on: a job that needs more never runs.
    reach: u32,
    /// GPUs jobs may use now, and those they hold.
    cap: u32,
    in_use: u32,
    events: BinaryHeap<Reverse<Event>>,
    seq: u64,
    next: usize,
    /// Waiting jobs by (policy key, job): the head is the first.
    queue: BTreeSet<(i64, usize)>,
    /// Running jobs by (start of this run, job): yielding takes the last.
    running: BTreeSet<(At, usize)>,
    /// Per job: progress kept by its last checkpoint, and its current run.
    saved_s: Vec<f64>,
    run_start_s: Vec<f64>,
    run_restart_s: Vec<f64>,
    run_end_s: Vec<f64>,
    out: ElasticSchedule,
    /// Accounting: up to `clock`, GPU-seconds paid for and idle.
    clock: f64,
    paid_gs: f64,
    idle_gs: f64,
    /// The window closes at the last time a job left its GPUs: (time, paid, idle, steps).
    window: (f64, f64, f64, usize),
}

impl<'a> Sim<'a> {
    pub(super) fn new(
        jobs: &'a [ClusterJob],
        capacity: &'a Capacity,
        policy: Policy,
        elastic: &'a Elastic,
    ) -> Sim<'a> {
        let n = jobs.len();
        let first = jobs.first().map_or(0.0, |j| j.submit_s);
        let (steps, pool): (&[(f64, u32)], _) = match capacity {
            Capacity::Steps(steps) => (steps, None),
            &Capacity::Autoscaled {
                gpus_per_node,
                min_nodes,
                max_nodes,
                provision_s,
                idle_release_s,
            } => (
                &[],
                Some(Pool::new(
                    gpus_per_node,
                    min_nodes,
                    max_nodes,
                    provision_s,
                    idle_release_s,
                )),
            ),
        };
        let mut reach_from: Vec<u32> = steps.iter().map(|s| s.1).collect();
        for i in (1..reach_from.len()).rev() {
            reach_from[i - 1] = reach_from[i - 1].max(reach_from[i]);
        }
        let mut sim = Sim {
            jobs,
            policy,
            elastic,
            steps,
            pool,
            reach_from,
            reach: capacity.max_gpus(),
            cap: 0,
            in_use: 0,
            events: BinaryHeap::new(),
            seq: 0,
            next: 0,
            queue: BTreeSet::new(),
            running: BTreeSet::new(),
            saved_s: vec![0.0; n],
            run_start_s: vec![f64::NAN; n],
            run_restart_s: vec![0.0; n],
            run_end_s: vec![f64::NAN; n],
            out: ElasticSchedule {
                first_start_s: vec![f64::NAN; n],
                end_s: vec![f64::NAN; n],
                preemptions: vec![0; n],
                runs: Vec::new(),
                gpu_hours: GpuHours::default(),
                capacity_steps: Vec::new(),
            },
            clock: first,
            paid_gs: 0.0,
            idle_gs: 0.0,
            window: (first, 0.0, 0.0, 1),
        };
        if let Some(pool) = &sim.pool {
            sim.cap = pool.usable();
        } else {
            // The step in force at the first submission; the later ones are events.
            let i = steps.partition_point(|s| s.0 <= first).max(1) - 1;
            sim.cap = steps[i].1;
            sim.reach = sim.reach_from[i];
            if i + 1 < steps.len() {
                sim.push(steps[i + 1].0, What::Step(i + 1));
            }
        }
        sim.out.capacity_steps.push((first, sim.paid()));
        sim
    }

    pub(super) fn run(mut self) -> ElasticSchedule {
        loop {
            if self.next >= self.jobs.len() && self.queue.is_empty() && self.running.is_empty() {
                break;
            }
            let arrival = self.jobs.get(self.next).map(|j| j.submit_s);
            let event = self.events.peek().map(|e| e.0.at.0);
            let now = match (arrival, event) {
                (None, None) => break,
                (Some(a), Some(e)) => a.min(e),
                (Some(a), None) => a,
                (None, Some(e)) => e,
            };
            self.advance(now);
            let mut left = false;
            while self.events.peek().is_some_and(|e| e.0.at.0 <= now) {
                let Reverse(e) = self.events.pop().expect("peeked");
                left |= self.handle(now, e.what);
            }
            while self.jobs.get(self.next).is_some_and(|j| j.submit_s <= now) {
                if self.jobs[self.next].gpus <= self.reach {
                    self.queue.insert(self.key(self.next));
                }
                self.next += 1;
            }
            left |= self.pass(now);
            self.note_capacity(now);
            if left {
                let steps = self.out.capacity_steps.len();
                self.window = (now, self.paid_gs, self.idle_gs, steps);
            }
        }
        self.finish()
    }

    fn paid(&self) -> u32 {
        self.pool.as_ref().map_or(self.cap, Pool::paid)
    }

    fn key(&self, j: usize) -> (i64, usize) {
        match self.policy {
            Policy::Priority => (-i64::from(self.jobs[j].priority), j),
            Policy::Fifo | Policy::Backfill => (0, j),
        }
    }

    fn push(&mut self, at: f64, what: What) {
        self.seq += 1;
        self.events.push(Reverse(Event {
            at: At(at),
            seq: self.seq,
            what,
        }));
    }

    fn advance(&mut self, now: f64) {
        let dt = now - self.clock;
        let paid = self.paid();
        self.paid_gs += f64::from(paid) * dt;
        self.idle_gs += f64::from(paid - self.in_use) * dt;
        self.clock = now;
    }

    /// Applies one event; true if a job completed.
    fn handle(&mut self, now: f64, what: What) -> bool {
        match what {
            What::Done { job, preemptions } => {
                if self.out.preemptions[job] != preemptions {
                    return false; // this run was preempted
                }
                let kept_s = self.jobs[job].duration_s - self.saved_s[job];
                self.stop(job, now, kept_s, false);
                self.saved_s[job] = self.jobs[job].duration_s;
                self.out.end_s[job] = now;
                true
            }
            What::Step(i) => {
                self.cap = self.steps[i].1;
                if self.reach_from[i] < self.reach {
                    // The last step large enough for some waiting jobs has passed.
                    let (jobs, reach) = (self.jobs, self.reach_from[i]);
                    self.queue.retain(|&(_, j)| jobs[j].gpus <= reach);
                    self.reach = reach;
                }
                if let Some(&(t, _)) = self.steps.get(i + 1) {
                    self.push(t, What::Step(i + 1));
                }
                false
            }
            What::Nodes => {
                let pool = self.pool.as_mut().expect("nodes only come to a pool");
                pool.arrive();
                self.cap = pool.usable();
                false
            }
            What::Wake => false,
        }
    }

    /// The scheduler's turn; true if it preempted a job.
    fn pass(&mut self, now: f64) -> bool {
        let mut yielded = false;
        while self.in_use > self.cap {
            let &(_, j) = self.running.last().expect("GPUs in use are held by a job");
            self.preempt(j, now);
            yielded = true;
        }
        while let Some(&(_, head)) = self.queue.first() {
            if self.jobs[head].gpus > self.cap - self.in_use {
                break;
            }
            self.queue.pop_first();
            self.start(head, now);
        }
        let head = self.queue.first().map(|&(_, j)| self.jobs[j].gpus);
        if let (Some(pool), Some(need)) = (self.pool.as_mut(), head)
            && let Some(at) = pool.ask(now, need, self.cap - self.in_use)
        {
            self.push(at, What::Nodes);
        }
        if self.policy == Policy::Backfill && head.is_some() && self.cap > self.in_use {
            self.backfill(now);
        }
        if let Some(pool) = self.pool.as_mut() {
            let free = self.cap - self.in_use;
            let head = self.queue.first().map_or(0, |&(_, j)| self.jobs[j].gpus);
            let wake = pool.settle(now, free.saturating_sub(head));
            self.cap = pool.usable();
            if let Some(at) = wake {
                self.push(at, What::Wake);
            }
        }
        yielded
    }

    /// EASY backfill behind the blocked head, which may count on the nodes on their way.
    fn backfill(&mut self, now: f64) {
        let &(_, head) = self.queue.first().expect("a blocked head");
        let mut ends: Vec<(f64, u32)> = self
            .running
            .iter()
            .map(|&(_, j)| (self.run_end_s[j], self.jobs[j].gpus))
            .collect();
        if let Some(pool) = &self.pool {
            ends.extend(pool.arriving());
        }
        let free = self.cap - self.in_use;
        let mut easy = Easy::behind(now, free, self.jobs[head].gpus, &mut ends);
        let mut picked = Vec::new();
        for &(_, j) in self.queue.iter().skip(1).take(BACKFILL_DEPTH) {
            if easy.free == 0 {
                break;
            }
            if easy.admit(self.jobs[j].gpus, self.run_length(j)) {
                picked.push(j);
            }
        }
        for j in picked {
            self.queue.remove(&self.key(j));
            self.start(j, now);
        }
    }

    /// GPU time the job needs from a start now: the restart overhead, then what is left.
    fn run_length(&self, j: usize) -> f64 {
        self.restart_overhead(j) + (self.jobs[j].duration_s - self.saved_s[j])
    }

    fn restart_overhead(&self, j: usize) -> f64 {
        if self.out.preemptions[j] > 0 {
            self.elastic.restart_s
        } else {
            0.0
        }
    }

    fn start(&mut self, j: usize, now: f64) {
        let end = now + self.run_length(j);
        self.in_use += self.jobs[j].gpus;
        if self.out.first_start_s[j].is_nan() {
            self.out.first_start_s[j] = now;
        }
        self.run_start_s[j] = now;
        self.run_restart_s[j] = self.restart_overhead(j);
        self.run_end_s[j] = end;
        self.running.insert((At(now), j));
        let preemptions = self.out.preemptions[j];
        self.push(
            end,
            What::Done {
                job: j,
                preemptions,
            },
        );
    }

    /// Takes the job off its GPUs, keeping its progress up to the last checkpoint, and puts it
    /// back in the queue if it can ever run again.
    fn preempt(&mut self, j: usize, now: f64) {
        let saved = self.saved_s[j];
        let trained = (now - self.run_start_s[j] - self.run_restart_s[j])
            .clamp(0.0, self.jobs[j].duration_s - saved);
        let progress = saved + trained;
        let interval = self.elastic.checkpoint_interval_s;
        let checkpoint = if interval.is_finite() {
            ((progress / interval).floor() * interval).clamp(saved, progress)
        } else {
            saved
        };
        self.stop(j, now, checkpoint - saved, true);
        self.saved_s[j] = checkpoint;
        self.out.preemptions[j] += 1;
        if self.jobs[j].gpus <= self.reach {
            self.queue.insert(self.key(j));
        }
    }

    fn stop(&mut self, j: usize, now: f64, kept_s: f64, preempted: bool) {
        self.running.remove(&(At(self.run_start_s[j]), j));
        self.in_use -= self.jobs[j].gpus;
        self.out.runs.push(Run {
            job: j,
            start_s: self.run_start_s[j],
            end_s: now,
            restart_s: self.run_restart_s[j],
            kept_s,
            preempted,
        });
    }

    fn note_capacity(&mut self, now: f64) {
        let paid = self.paid();
        let steps = &mut self.out.capacity_steps;
        match steps.last() {
            Some(&(_, gpus)) if gpus == paid => {}
            // Changed more than once at this time: keep the last, and only if it is a change.
            Some(&(t, _)) if t == now => {
                steps.pop();
                if steps.last().is_none_or(|&(_, gpus)| gpus != paid) {
                    steps.push((now, paid));
                }
            }
            _ => steps.push((now, paid)),
        }
    }

    /// Closes the accounting window and sums the runs into GPU-hours.
    fn finish(mut self) -> ElasticSchedule {
        let (_, paid_gs, idle_gs, steps) = self.window;
        self.out.capacity_steps.truncate(steps);
        let (mut used, mut wasted) = (0.0, 0.0);
        for r in &self.out.runs {
            let gpus = f64::from(self.jobs[r.job].gpus);
            if self.out.end_s[r.job].is_nan() {
                wasted += (r.end_s - r.start_s) * gpus;
                continue;
            }
            used += r.kept_s * gpus;
            // A completed run wastes only its restart, exactly, whatever `end - start` rounds to.
            wasted += if r.preempted {
                (r.end_s - r.start_s - r.kept_s) * gpus
            } else {
                r.restart_s * gpus
            };
        }
        self.out.gpu_hours = GpuHours {
            provisioned: paid_gs / 3600.0,
            used: used / 3600.0,
            wasted: wasted / 3600.0,
            idle: idle_gs / 3600.0,
        };
        self.out
    }
}
