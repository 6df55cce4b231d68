//! The event loop behind [`run`](super::run).
//!
//! Events wait in an [`EventQueue`]; job arrivals come from the sorted job list. A completion
//! carries the job's preemption count when it started, so one made stale by a preemption is
//! recognised and dropped. Accounting integrates the paid and the idle GPUs between events; the
//! GPU time of the runs is summed from the runs themselves, so `used + wasted + idle =
//! provisioned` is a check, not an identity.

use std::collections::BTreeSet;

use super::pool::Pool;
use super::{ElasticSchedule, GpuHours, Run};
use crate::sim::cluster::Job;
use crate::sim::cluster::backfill::{BACKFILL_DEPTH, Easy};
use crate::sim::event::EventQueue;
use crate::training::cluster::{ClusterJob, Policy};
use crate::training::elastic::{Capacity, Elastic};
use crate::units::SimTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// The job's run that began after `preemptions` preemptions ends.
    Done { job: usize, preemptions: u32 },
    /// Capacity step `i` takes effect.
    Step(usize),
    /// The earliest nodes asked for arrive.
    Nodes,
    /// Idle nodes may be due for release.
    Wake,
}

/// Seconds of a setting on the clock; infinite (or too long for it) is `None`.
fn finite(s: f64) -> Option<SimTime> {
    let t = SimTime::from_secs_f64(s);
    (t < SimTime::MAX).then_some(t)
}

pub(super) struct Engine {
    jobs: Vec<Job>,
    policy: Policy,
    /// Progress between checkpoints, at least 1 ns (`None`: no checkpoints), and the restart
    /// overhead.
    checkpoint_interval: Option<SimTime>,
    restart: SimTime,
    steps: Vec<(SimTime, u32)>,
    pool: Option<Pool>,
    /// The most GPUs the cluster has from step `i` on.
    reach_from: Vec<u32>,
    /// The most GPUs the cluster will have from now on: a job that needs more never runs.
    reach: u32,
    /// GPUs jobs may use now, and those they hold.
    cap: u32,
    in_use: u32,
    events: EventQueue<Event>,
    next: usize,
    /// Waiting jobs by (policy key, job): the head is the first.
    queue: BTreeSet<(i64, usize)>,
    /// Running jobs by (start of this run, job): yielding takes the last.
    running: BTreeSet<(SimTime, usize)>,
    /// Per job: progress kept by its last checkpoint, and its current run.
    saved: Vec<SimTime>,
    run_start: Vec<SimTime>,
    run_restart: Vec<SimTime>,
    run_end: Vec<SimTime>,
    out: ElasticSchedule,
    /// Accounting: up to `clock`, GPU-seconds paid for and idle.
    clock: SimTime,
    paid_gs: f64,
    idle_gs: f64,
    /// The window closes at the last time a job left its GPUs: (time, paid, idle, steps).
    window: (SimTime, f64, f64, usize),
}

impl Engine {
    pub(super) fn new(
        jobs: &[ClusterJob],
        capacity: &Capacity,
        policy: Policy,
        elastic: &Elastic,
    ) -> Engine {
        let jobs = Job::all(jobs);
        let n = jobs.len();
        let first = jobs.first().map_or(SimTime::ZERO, |j| j.submit);
        let (steps, pool): (Vec<(SimTime, u32)>, _) = match capacity {
            Capacity::Steps(steps) => (
                steps
                    .iter()
                    .map(|&(t, g)| (SimTime::from_secs_f64(t), g))
                    .collect(),
                None,
            ),
            &Capacity::Autoscaled {
                gpus_per_node,
                min_nodes,
                max_nodes,
                provision_s,
                idle_release_s,
            } => (
                Vec::new(),
                Some(Pool::new(
                    gpus_per_node,
                    min_nodes,
                    max_nodes,
                    SimTime::from_secs_f64(provision_s),
                    finite(idle_release_s),
                )),
            ),
        };
        let mut reach_from: Vec<u32> = steps.iter().map(|s| s.1).collect();
        for i in (1..reach_from.len()).rev() {
            reach_from[i - 1] = reach_from[i - 1].max(reach_from[i]);
        }
        let mut sim = Engine {
            jobs,
            policy,
            checkpoint_interval: finite(elastic.checkpoint_interval_s).map(|t| t.max(SimTime(1))),
            restart: SimTime::from_secs_f64(elastic.restart_s),
            steps,
            pool,
            reach_from,
            reach: capacity.max_gpus(),
            cap: 0,
            in_use: 0,
            events: EventQueue::new(0),
            next: 0,
            queue: BTreeSet::new(),
            running: BTreeSet::new(),
            saved: vec![SimTime::ZERO; n],
            run_start: vec![SimTime::ZERO; n],
            run_restart: vec![SimTime::ZERO; n],
            run_end: vec![SimTime::ZERO; n],
            out: ElasticSchedule {
                first_start: vec![None; n],
                end: vec![None; n],
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
            let i = sim.steps.partition_point(|s| s.0 <= first).max(1) - 1;
            sim.cap = sim.steps[i].1;
            sim.reach = sim.reach_from[i];
            if let Some(&(t, _)) = sim.steps.get(i + 1) {
                sim.events.push(t, Event::Step(i + 1));
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
            let arrival = self.jobs.get(self.next).map(|j| j.submit);
            let now = match (arrival, self.events.peek_time()) {
                (None, None) => break,
                (Some(a), Some(e)) => a.min(e),
                (Some(a), None) => a,
                (None, Some(e)) => e,
            };
            self.advance(now);
            let mut left = false;
            while self.events.peek_time().is_some_and(|t| t <= now) {
                let (_, e) = self.events.pop().expect("peeked");
                left |= self.handle(now, e);
            }
            while self.jobs.get(self.next).is_some_and(|j| j.submit <= now) {
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

    fn advance(&mut self, now: SimTime) {
        let dt = now.saturating_sub(self.clock).as_secs_f64();
        let paid = self.paid();
        self.paid_gs += f64::from(paid) * dt;
        self.idle_gs += f64::from(paid - self.in_use) * dt;
        self.clock = now;
    }

    /// Applies one event; true if a job completed.
    fn handle(&mut self, now: SimTime, event: Event) -> bool {
        match event {
            Event::Done { job, preemptions } => {
                if self.out.preemptions[job] != preemptions {
                    return false; // this run was preempted
                }
                let kept = self.jobs[job].duration.saturating_sub(self.saved[job]);
                self.stop(job, now, kept, false);
                self.saved[job] = self.jobs[job].duration;
                self.out.end[job] = Some(now);
                true
            }
            Event::Step(i) => {
                self.cap = self.steps[i].1;
                if self.reach_from[i] < self.reach {
                    // The last step large enough for some waiting jobs has passed.
                    let (jobs, reach) = (&self.jobs, self.reach_from[i]);
                    self.queue.retain(|&(_, j)| jobs[j].gpus <= reach);
                    self.reach = reach;
                }
                if let Some(&(t, _)) = self.steps.get(i + 1) {
                    self.events.push(t, Event::Step(i + 1));
                }
                false
            }
            Event::Nodes => {
                let pool = self.pool.as_mut().expect("nodes only come to a pool");
                pool.arrive();
                self.cap = pool.usable();
                false
            }
            Event::Wake => false,
        }
    }

    /// The scheduler's turn; true if it preempted a job.
    fn pass(&mut self, now: SimTime) -> bool {
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
            self.events.push(at, Event::Nodes);
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
                self.events.push(at, Event::Wake);
            }
        }
        yielded
    }

    /// EASY backfill behind the blocked head, which may count on the nodes on their way.
    fn backfill(&mut self, now: SimTime) {
        let &(_, head) = self.queue.first().expect("a blocked head");
        let mut ends: Vec<(SimTime, u32)> = self
            .running
            .iter()
            .map(|&(_, j)| (self.run_end[j], self.jobs[j].gpus))
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
    fn run_length(&self, j: usize) -> SimTime {
        let left = self.jobs[j].duration.saturating_sub(self.saved[j]);
        self.restart_overhead(j).saturating_add(left)
    }

    fn restart_overhead(&self, j: usize) -> SimTime {
        if self.out.preemptions[j] > 0 {
            self.restart
        } else {
            SimTime::ZERO
        }
    }

    fn start(&mut self, j: usize, now: SimTime) {
        let end = now.saturating_add(self.run_length(j));
        self.in_use += self.jobs[j].gpus;
        self.out.first_start[j].get_or_insert(now);
        self.run_start[j] = now;
        self.run_restart[j] = self.restart_overhead(j);
        self.run_end[j] = end;
        self.running.insert((now, j));
        let preemptions = self.out.preemptions[j];
        self.events.push(
            end,
            Event::Done {
                job: j,
                preemptions,
            },
        );
    }

    /// Takes the job off its GPUs, keeping its progress up to the last checkpoint, and puts it
    /// back in the queue if it can ever run again.
    fn preempt(&mut self, j: usize, now: SimTime) {
        let saved = self.saved[j];
        let trained = now
            .saturating_sub(self.run_start[j].saturating_add(self.run_restart[j]))
            .min(self.jobs[j].duration.saturating_sub(saved));
        let progress = saved.saturating_add(trained);
        let checkpoint = match self.checkpoint_interval {
            Some(every) => SimTime(progress.0 / every.0 * every.0).max(saved),
            None => saved,
        };
        self.stop(j, now, checkpoint.saturating_sub(saved), true);
        self.saved[j] = checkpoint;
        self.out.preemptions[j] += 1;
        if self.jobs[j].gpus <= self.reach {
            self.queue.insert(self.key(j));
        }
    }

    fn stop(&mut self, j: usize, now: SimTime, kept: SimTime, preempted: bool) {
        self.running.remove(&(self.run_start[j], j));
        self.in_use -= self.jobs[j].gpus;
        self.out.runs.push(Run {
            job: j,
            start: self.run_start[j],
            end: now,
            restart: self.run_restart[j],
            kept,
            preempted,
        });
    }

    fn note_capacity(&mut self, now: SimTime) {
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
            let held = r.end.saturating_sub(r.start);
            if self.out.end[r.job].is_none() {
                wasted += held.as_secs_f64() * gpus;
                continue;
            }
            used += r.kept.as_secs_f64() * gpus;
            // A completed run wastes only its restart.
            wasted += if r.preempted {
                held.saturating_sub(r.kept).as_secs_f64() * gpus
            } else {
                r.restart.as_secs_f64() * gpus
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
