//! A shared training cluster: jobs arrive, wait in a queue, and run on GPUs under a scheduling
//! policy, on a fixed number of GPUs ([`schedule`]) or on a capacity that changes over time
//! ([`elastic`]).
//!
//! Policies ([`Policy`]):
//! - FIFO: jobs start in submission order; the first job that does not fit blocks the rest.
//! - FIFO with backfill (EASY): the first waiting job gets a reservation at the earliest time
//!   enough GPUs will be free; later jobs may start now if they fit in the free GPUs and either
//!   end before that time or leave the reserved GPUs untouched (the GPUs beyond the head's need
//!   at that time, counting every job that ends then). Run times are known exactly (the
//!   trace's), so reservations hold. Like Slurm's `bf_max_job_test`, at most
//!   [`BACKFILL_DEPTH`] waiting jobs are tried per pass.
//! - priority: the highest priority waiting job first (ties by submission), blocking like FIFO.
//!
//! The clock is [`SimTime`], integer nanoseconds from the trace's first submission, on the same
//! [`EventQueue`] as the serving engine. A job's submission and duration (seconds, as
//! [`ClusterJob`] has them) are rounded to the nanosecond once, on the way in, and every time
//! the schedule reports is on that clock. All events at one time (completions, then arrivals)
//! are applied before the scheduler acts, so the run is deterministic.

mod backfill;
pub mod elastic;
mod stats;

use std::collections::VecDeque;

use self::backfill::Easy;
use super::event::EventQueue;
use crate::training::cluster::{ClusterJob, Policy};
use crate::units::SimTime;

pub use backfill::BACKFILL_DEPTH;
pub use stats::ClusterStats;

/// A job on the simulator's clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Job {
    pub(crate) submit: SimTime,
    pub(crate) duration: SimTime,
    pub(crate) gpus: u32,
    pub(crate) priority: i32,
}

impl Job {
    /// `jobs` with their seconds rounded to the nanosecond.
    pub(crate) fn all(jobs: &[ClusterJob]) -> Vec<Job> {
        jobs.iter()
            .map(|j| Job {
                submit: SimTime::from_secs_f64(j.submit_s),
                duration: SimTime::from_secs_f64(j.duration_s),
                gpus: j.gpus,
                priority: j.priority,
            })
            .collect()
    }
}

/// When each job started (`None`: it asks for more GPUs than the cluster has and never runs).
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub start: Vec<Option<SimTime>>,
    pub capacity: u32,
}

/// Runs `jobs` (sorted by submission) on `capacity` GPUs under `policy`.
pub fn schedule(jobs: &[ClusterJob], capacity: u32, policy: Policy) -> Schedule {
    let jobs = Job::all(jobs);
    let mut start = vec![None; jobs.len()];
    // The running jobs, each as the event of its end.
    let mut running: EventQueue<usize> = EventQueue::new(0);
    let mut queue: VecDeque<usize> = VecDeque::new();
    let mut free = capacity;
    let mut next = 0; // next job to arrive
    let priority_order =
        |a: &usize, b: &usize| jobs[*b].priority.cmp(&jobs[*a].priority).then(a.cmp(b));
    loop {
        // The next event: an arrival or a completion, whichever is first (completions first at
        // a tie, so their GPUs are free for the arrival).
        let arrival = jobs.get(next).map(|j| j.submit);
        let now = match (arrival, running.peek_time()) {
            (None, None) => break,
            (Some(a), Some(c)) => a.min(c),
            (Some(a), None) => a,
            (None, Some(c)) => c,
        };
        while running.peek_time().is_some_and(|t| t <= now) {
            let (_, j) = running.pop().expect("peeked");
            free += jobs[j].gpus;
        }
        let mut arrived = false;
        while jobs.get(next).is_some_and(|j| j.submit <= now) {
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
        let mut run = |j: usize, free: &mut u32, running: &mut EventQueue<usize>| {
            *free -= jobs[j].gpus;
            start[j] = Some(now);
            running.push(now.saturating_add(jobs[j].duration), j);
        };
        while let Some(&head) = queue.front() {
            if jobs[head].gpus > free {
                break;
            }
            queue.pop_front();
            run(head, &mut free, &mut running);
        }
        if policy == Policy::Backfill && !queue.is_empty() && free > 0 {
            // EASY backfill behind the blocked head of the queue.
            let mut ends: Vec<(SimTime, u32)> =
                running.iter().map(|(t, &j)| (t, jobs[j].gpus)).collect();
            let mut easy = Easy::behind(now, free, jobs[queue[0]].gpus, &mut ends);
            let mut i = 1;
            let mut tried = 0;
            while i < queue.len() && tried < BACKFILL_DEPTH && easy.free > 0 {
                tried += 1;
                let j = queue[i];
                if easy.admit(jobs[j].gpus, jobs[j].duration) {
                    queue.remove(i);
                    run(j, &mut free, &mut running);
                } else {
                    i += 1;
                }
            }
        }
    }
    Schedule { start, capacity }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job of priority 0; the elastic cluster's tests use it too.
    pub(super) fn job(submit_s: f64, duration_s: f64, gpus: u32) -> ClusterJob {
        ClusterJob {
            submit_s,
            duration_s,
            gpus,
            priority: 0,
        }
    }

    fn secs(s: &Schedule) -> Vec<f64> {
        s.start
            .iter()
            .map(|t| t.map_or(f64::NAN, SimTime::as_secs_f64))
            .collect()
    }

    #[test]
    fn fifo_blocks_and_backfill_fills_without_delaying_the_head() {
        // 4 GPUs. A holds 3 until 10; B wants 4 (waits for A); C wants 1 for 5 s.
        let jobs = [job(0.0, 10.0, 3), job(1.0, 10.0, 4), job(2.0, 5.0, 1)];
        let fifo = schedule(&jobs, 4, Policy::Fifo);
        assert_eq!(secs(&fifo), vec![0.0, 10.0, 20.0]);
        let bf = schedule(&jobs, 4, Policy::Backfill);
        // C fits in the free GPU and ends (7) before B's reservation (10): it runs now.
        assert_eq!(secs(&bf), vec![0.0, 10.0, 2.0]);
        // A long C would delay B: not backfilled.
        let jobs = [job(0.0, 10.0, 3), job(1.0, 10.0, 4), job(2.0, 50.0, 1)];
        assert_eq!(
            secs(&schedule(&jobs, 4, Policy::Backfill)),
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
        assert_eq!(secs(&s)[..3], [0.0, 15.0, 10.0]);
        assert_eq!(s.start[3], None);
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
        let timed = Job::all(&jobs);
        for policy in [Policy::Fifo, Policy::Backfill, Policy::Priority] {
            let s = schedule(&jobs, 32, policy);
            let mut events: Vec<(SimTime, i64)> = Vec::new();
            for (j, st) in timed.iter().zip(&s.start) {
                let st = st.expect("every job fits");
                assert!(st >= j.submit, "{policy:?}");
                events.push((st, i64::from(j.gpus)));
                events.push((st.saturating_add(j.duration), -i64::from(j.gpus)));
            }
            events.sort();
            let mut inuse = 0;
            for (_, d) in events {
                inuse += d;
                assert!(inuse <= 32, "{policy:?}");
            }
            let st = ClusterStats::of(&jobs, &s);
            assert!(st.gpu_hours_used <= st.gpu_hours_provisioned + 1e-9);
        }
    }

    #[test]
    fn seconds_are_rounded_to_the_nanosecond_once() {
        // A ends at 0.1 s + 0.2 s, which is not 0.3 s in f64 seconds; on the integer clock it is,
        // so B, submitted at 0.3 s, does not wait for A's GPUs.
        let jobs = [job(0.1, 0.2, 2), job(0.3, 1.0, 2)];
        let s = schedule(&jobs, 2, Policy::Fifo);
        assert_eq!(
            s.start,
            vec![Some(SimTime(100_000_000)), Some(SimTime(300_000_000))]
        );
    }
}
