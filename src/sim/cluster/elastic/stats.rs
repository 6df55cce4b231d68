//! The headline figures of an elastic schedule: the fixed cluster's, plus what elasticity cost.

use super::{ElasticSchedule, GpuHours};
use crate::sim::cluster::{ClusterStats, Job};
use crate::training::cluster::ClusterJob;

#[derive(Clone, Debug, PartialEq)]
pub struct ElasticStats {
    /// JCT (end − submit) over completed jobs; queue delay (first start − submit) over started
    /// ones; `rejected` counts jobs that never started (too large for the cluster from their
    /// arrival, or from a capacity step, on). `gpu_hours_provisioned` is `gpu_hours.provisioned`.
    pub cluster: ClusterStats,
    /// Jobs that started but never completed: preempted, then dropped when no capacity step
    /// large enough for them was left.
    pub unfinished: usize,
    pub preemptions: u64,
    pub gpu_hours: GpuHours,
}

impl ElasticStats {
    pub fn of(jobs: &[ClusterJob], s: &ElasticSchedule) -> ElasticStats {
        let mut cluster = ClusterStats::from_times(&Job::all(jobs), &s.first_start, &s.end);
        cluster.gpu_hours_provisioned = s.gpu_hours.provisioned;
        ElasticStats {
            cluster,
            unfinished: s
                .first_start
                .iter()
                .zip(&s.end)
                .filter(|(st, en)| st.is_some() && en.is_none())
                .count(),
            preemptions: s.preemptions.iter().map(|&p| u64::from(p)).sum(),
            gpu_hours: s.gpu_hours,
        }
    }
}
