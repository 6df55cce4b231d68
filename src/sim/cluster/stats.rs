//! What a cluster's schedule achieved: job completion times, queueing, makespan, GPU-hours.

use super::{Job, Schedule};
use crate::training::cluster::ClusterJob;
use crate::units::SimTime;

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
        let jobs = Job::all(jobs);
        let end: Vec<Option<SimTime>> = jobs
            .iter()
            .zip(&s.start)
            .map(|(j, st)| st.map(|st| st.saturating_add(j.duration)))
            .collect();
        let mut st = ClusterStats::from_times(&jobs, &s.start, &end);
        st.gpu_hours_provisioned = f64::from(s.capacity) * st.makespan_s / 3600.0;
        st
    }

    /// The figures that follow from when each job first started and when it ended (`None`:
    /// never); `gpu_hours_provisioned` is left at 0 for the caller, who knows the capacity.
    pub(crate) fn from_times(
        jobs: &[Job],
        start: &[Option<SimTime>],
        end: &[Option<SimTime>],
    ) -> ClusterStats {
        let mut jct = Vec::new();
        let mut wait = Vec::new();
        let mut used = 0.0;
        let mut last = SimTime::ZERO;
        let first = jobs.first().map_or(SimTime::ZERO, |j| j.submit);
        for ((j, st), en) in jobs.iter().zip(start).zip(end) {
            if let Some(st) = st {
                wait.push(st.saturating_sub(j.submit).as_secs_f64());
            }
            let Some(en) = *en else {
                continue;
            };
            jct.push(en.saturating_sub(j.submit).as_secs_f64());
            used += j.duration.as_secs_f64() * f64::from(j.gpus) / 3600.0;
            last = last.max(en);
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
            rejected: start.iter().filter(|x| x.is_none()).count(),
            jct_p50_s: q(&mut jct, 0.5),
            jct_p90_s: q(&mut jct, 0.9),
            jct_p99_s: q(&mut jct, 0.99),
            queue_mean_s: wait.iter().sum::<f64>() / wait.len().max(1) as f64,
            queue_p99_s: q(&mut wait, 0.99),
            makespan_s: last.saturating_sub(first).as_secs_f64(),
            gpu_hours_used: used,
            gpu_hours_provisioned: 0.0,
        }
    }
}
