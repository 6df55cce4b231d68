//! A shared training cluster: jobs arrive, wait in a queue, and run on a fixed number of GPUs
//! under a scheduling policy.
//!
//! Policies:
//! - FIFO: jobs start in submission order; the first job that does not fit blocks the rest.
//! - FIFO with backfill (EASY): the first waiting job gets a reservation at the earliest time
//!   enough GPUs will be free; later jobs may start now if they fit in the free GPUs and either
//!   end before that time or leave the reserved GPUs untouched (the GPUs beyond the head's need
//!   at that time, counting every job that ends then). Run times are known exactly (the
//!   trace's), so reservations hold. Like Slurm's `bf_max_job_test`, at most
//!   [`BACKFILL_DEPTH`] waiting jobs are tried per pass.
//! - priority: the highest priority waiting job first (ties by submission), blocking like FIFO.
//!
//! Time is in seconds as `f64` from the trace's first submission; the run is deterministic: ties
//! in time resolve by job order.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Waiting jobs tried per backfill pass.
pub const BACKFILL_DEPTH: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClusterJob {
    pub submit_s: f64,
    pub duration_s: f64,
    pub gpus: u32,
    /// Larger runs first under [`Policy::Priority`].
    pub priority: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Fifo,
    Backfill,
    Priority,
}

impl Policy {
    /// How scenario files name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Fifo => "fifo",
            Policy::Backfill => "backfill",
            Policy::Priority => "priority",
        }
    }

    pub fn parse(s: &str) -> Option<Policy> {
        match s {
            "fifo" => Some(Policy::Fifo),
            "backfill" | "fifo-backfill" => Some(Policy::Backfill),
            "priority" => Some(Policy::Priority),
            _ => None,
        }
    }
}

/// When each job started (`NaN`: it asks for more GPUs than the cluster has and never runs).
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub start_s: Vec<f64>,
    pub capacity: u32,
}

/// A running job: when it ends and what it holds. Ordered so the heap pops the earliest end.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Running {
    end_s: f64,
    gpus: u32,
    job: usize,
}

impl Eq for Running {}

impl Ord for Running {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .end_s
            .total_cmp(&self.end_s)
            .then(other.job.cmp(&self.job))
    }
}

impl PartialOrd for Running {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Runs `jobs` (sorted by submission) on `capacity` GPUs under `policy`.
pub fn schedule(jobs: &[ClusterJob], capacity: u32, policy: Policy) -> Schedule {
    let mut start_s = vec![f64::NAN; jobs.len()];
    let mut running: BinaryHeap<Running> = BinaryHeap::new();
    let mut queue: VecDeque<usize> = VecDeque::new();
    let mut free = capacity;
    let mut next = 0; // next job to arrive
    let mut now;
    let priority_order =
        |a: &usize, b: &usize| jobs[*b].priority.cmp(&jobs[*a].priority).then(a.cmp(b));
    loop {
        // The next event: an arrival or a completion, whichever is first (completions first at
        // a tie, so their GPUs are free for the arrival).
        let arrival = jobs.get(next).map(|j| j.submit_s);
        let completion = running.peek().map(|r| r.end_s);
        now = match (arrival, completion) {
            (None, None) => break,
            (Some(a), Some(c)) => a.min(c),
            (Some(a), None) => a,
            (None, Some(c)) => c,
        };
        while running.peek().is_some_and(|r| r.end_s <= now) {
            free += running.pop().expect("peeked").gpus;
        }
        let mut arrived = false;
        while jobs.get(next).is_some_and(|j| j.submit_s <= now) {
            if jobs[next].gpus <= capacity {
                queue.push_back(next);
                arrived = true;
            }
            next += 1;
        }
        if arrived && policy == Policy::Priority {
            queue.make_contiguous().sort_by(priority_order);
        }
        // Start what the policy allows.
        while let Some(&head) = queue.front() {
            if jobs[head].gpus > free {
                break;
            }
            queue.pop_front();
            start(jobs, head, now, &mut free, &mut running, &mut start_s);
        }
        if policy == Policy::Backfill && !queue.is_empty() && free > 0 {
            backfill(jobs, now, &mut queue, &mut free, &mut running, &mut start_s);
        }
    }
    Schedule { start_s, capacity }
}

fn start(
    jobs: &[ClusterJob],
    j: usize,
    now: f64,
    free: &mut u32,
    running: &mut BinaryHeap<Running>,
    start_s: &mut [f64],
) {
    *free -= jobs[j].gpus;
    start_s[j] = now;
    running.push(Running {
        end_s: now + jobs[j].duration_s,
        gpus: jobs[j].gpus,
        job: j,
    });
}

/// EASY backfill behind the blocked head of the queue.
fn backfill(
    jobs: &[ClusterJob],
    now: f64,
    queue: &mut VecDeque<usize>,
    free: &mut u32,
    running: &mut BinaryHeap<Running>,
    start_s: &mut [f64],
) {
    let mut ends: Vec<(f64, u32)> = running.iter().map(|r| (r.end_s, r.gpus)).collect();
    let mut easy = Easy::behind(now, *free, jobs[queue[0]].gpus, &mut ends);
    let mut i = 1;
    let mut tried = 0;
    while i < queue.len() && tried < BACKFILL_DEPTH && easy.free > 0 {
        tried += 1;
        let j = queue[i];
        if easy.admit(jobs[j].gpus, jobs[j].duration_s) {
            queue.remove(i);
            start(jobs, j, now, free, running, start_s);
        } else {
            i += 1;
        }
    }
}

/// One EASY backfill pass: the blocked head's reservation and the GPUs left to hand out.
pub(crate) struct Easy {
    now: f64,
    /// The earliest time enough GPUs are free for the head.
    shadow: f64,
    /// GPUs beyond the head's need at `shadow`, which a backfilled job may hold past it.
    extra: u32,
    pub(crate) free: u32,
}

impl Easy {
    /// The reservation for a head needing `need` GPUs, with `free` free now and `ends` (time,
    /// GPUs) coming free later. Every GPU freed at the shadow time counts, so the result does
    /// not depend on the order of `ends`.
    pub(crate) fn behind(now: f64, free: u32, need: u32, ends: &mut [(f64, u32)]) -> Easy {
        ends.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut avail = free;
        let mut shadow = f64::INFINITY;
        for &(t, g) in ends.iter() {
            if t > shadow {
                break;
            }
            avail += g;
            if shadow == f64::INFINITY && avail >= need {
                shadow = t;
            }
        }
        Easy {
            now,
            shadow,
            extra: avail.saturating_sub(need),
            free,
        }
    }

    /// Whether a waiting job of `gpus` that runs for `run_s` may start now without delaying
    /// the head; if so, it takes its GPUs.
    pub(crate) fn admit(&mut self, gpus: u32, run_s: f64) -> bool {
        let ends_in_time = self.now + run_s <= self.shadow;
        if gpus > self.free || !(ends_in_time || gpus <= self.extra) {
            return false;
        }
        if !ends_in_time {
            self.extra -= gpus;
        }
        self.free -= gpus;
        true
    }
}

/// What a schedule achieved. Times in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterStats {
    pub jobs: usize,
    /// Jobs that never ran: they ask for more GPUs than the cluster ever has.
    pub rejected: usize,
    pub jct_p50_s: f64,
    pub jct_p90_s: f64,
    pub jct_p99_s: f64,
    pub queue_mean_s: f64,
    pub queue_p99_s: f64,
    /// From the first submission to the last completion.
    pub makespan_s: f64,
    /// `duration × gpus` of the jobs that completed.
    pub gpu_hours_used: f64,
    /// `capacity × makespan`: the GPU-hours the cluster was there for.
    pub gpu_hours_provisioned: f64,
}

impl ClusterStats {
    pub fn of(jobs: &[ClusterJob], s: &Schedule) -> ClusterStats {
        let end_s: Vec<f64> = jobs
            .iter()
            .zip(&s.start_s)
            .map(|(j, st)| st + j.duration_s)
            .collect();
        let mut st = ClusterStats::from_times(jobs, &s.start_s, &end_s);
        st.gpu_hours_provisioned = f64::from(s.capacity) * st.makespan_s / 3600.0;
        st
    }

    /// The figures that follow from when each job first started and when it ended (`NaN`:
    /// never); `gpu_hours_provisioned` is left at 0 for the caller, who knows the capacity.
    pub(crate) fn from_times(jobs: &[ClusterJob], start_s: &[f64], end_s: &[f64]) -> ClusterStats {
        let mut jct = Vec::new();
        let mut wait = Vec::new();
        let mut used = 0.0;
        let mut end = 0.0f64;
        let first = jobs.first().map_or(0.0, |j| j.submit_s);
        for ((j, &st), &en) in jobs.iter().zip(start_s).zip(end_s) {
            if !st.is_nan() {
                wait.push(st - j.submit_s);
            }
            if en.is_nan() {
                continue;
            }
            jct.push(en - j.submit_s);
            used += j.duration_s * f64::from(j.gpus) / 3600.0;
            end = end.max(en);
        }
        let q = |xs: &mut Vec<f64>, p: f64| {
            if xs.is_empty() {
                return f64::NAN;
            }
            xs.sort_by(f64::total_cmp);
            xs[((xs.len() - 1) as f64 * p).round() as usize]
        };
        ClusterStats {
            jobs: jobs.len(),
            rejected: start_s.iter().filter(|x| x.is_nan()).count(),
            jct_p50_s: q(&mut jct, 0.5),
            jct_p90_s: q(&mut jct, 0.9),
            jct_p99_s: q(&mut jct, 0.99),
            queue_mean_s: wait.iter().sum::<f64>() / wait.len().max(1) as f64,
            queue_p99_s: q(&mut wait, 0.99),
            makespan_s: end - first,
            gpu_hours_used: used,
            gpu_hours_provisioned: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(submit_s: f64, duration_s: f64, gpus: u32) -> ClusterJob {
        ClusterJob {
            submit_s,
            duration_s,
            gpus,
            priority: 0,
        }
    }

    #[test]
    fn fifo_blocks_and_backfill_fills_without_delaying_the_head() {
        // 4 GPUs. A holds 3 until 10; B wants 4 (waits for A); C wants 1 for 5 s.
        let jobs = [job(0.0, 10.0, 3), job(1.0, 10.0, 4), job(2.0, 5.0, 1)];
        let fifo = schedule(&jobs, 4, Policy::Fifo);
        assert_eq!(fifo.start_s, vec![0.0, 10.0, 20.0]);
        let bf = schedule(&jobs, 4, Policy::Backfill);
        // C fits in the free GPU and ends (7) before B's reservation (10): it runs now.
        assert_eq!(bf.start_s, vec![0.0, 10.0, 2.0]);
        // A long C would delay B: not backfilled.
        let jobs = [job(0.0, 10.0, 3), job(1.0, 10.0, 4), job(2.0, 50.0, 1)];
        assert_eq!(
            schedule(&jobs, 4, Policy::Backfill).start_s,
            vec![0.0, 10.0, 20.0]
        );
    }

    #[test]
    fn priority_runs_the_important_job_first_and_oversized_jobs_never_run() {
        let mut jobs = [
            job(0.0, 10.0, 4),
            job(1.0, 5.0, 4),
            job(2.0, 5.0, 4),
            job(3.0, 1.0, 8),
        ];
        jobs[2].priority = 5;
        let s = schedule(&jobs, 4, Policy::Priority);
        assert_eq!(s.start_s[..3], [0.0, 15.0, 10.0]);
        assert!(s.start_s[3].is_nan());
        let st = ClusterStats::of(&jobs, &s);
        assert_eq!(st.rejected, 1);
        assert_eq!(st.makespan_s, 20.0);
        assert_eq!(st.gpu_hours_used, 20.0 * 4.0 / 3600.0);
    }

    #[test]
    fn the_cluster_never_runs_more_gpus_than_it_has() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        let mut t = 0.0;
        let jobs: Vec<ClusterJob> = (0..2000)
            .map(|_| {
                t += rng.random_range(0.0..30.0);
                job(
                    t,
                    rng.random_range(1.0..500.0),
                    [1, 1, 2, 4, 8, 16][rng.random_range(0..6)],
                )
            })
            .collect();
        for policy in [Policy::Fifo, Policy::Backfill, Policy::Priority] {
            let s = schedule(&jobs, 32, policy);
            let mut events: Vec<(f64, i64)> = Vec::new();
            for (j, &st) in jobs.iter().zip(&s.start_s) {
                assert!(st >= j.submit_s, "{policy:?}");
                events.push((st, i64::from(j.gpus)));
                events.push((st + j.duration_s, -i64::from(j.gpus)));
            }
            events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut inuse = 0;
            for (_, d) in events {
                inuse += d;
                assert!(inuse <= 32, "{policy:?}");
            }
            let st = ClusterStats::of(&jobs, &s);
            assert!(st.gpu_hours_used <= st.gpu_hours_provisioned + 1e-9);
        }
    }
}
