//! Compare's figures: the headline numbers of a configuration, from a full run or from a point
//! of the frontier, so that either can stand beside the edit.

use crate::experiment::{Metric, Summary};
use crate::sweep::Row;

/// Headline figures of a configuration, for Compare.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub label: String,
    pub cost_per_hour: f64,
    pub cost_per_1k: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// An LLM workload's p99 TTFT and TPOT (`NaN` otherwise).
    pub ttft_p99_ms: f64,
    pub tpot_p99_ms: f64,
    /// The lowest attainment among the SLO's targets.
    pub attainment: f64,
    pub utilization: f64,
    pub failed: f64,
    pub idle_cost_per_hour: f64,
    pub replicas: f64,
    pub slo_met: Option<bool>,
}

impl Snapshot {
    pub fn of_summary(label: &str, s: &Summary) -> Snapshot {
        let t = &s.total;
        let m = |x: Metric| t.get(x).mean;
        Snapshot {
            label: label.to_string(),
            cost_per_hour: m(Metric::CostPerHour),
            cost_per_1k: m(Metric::CostPer1k),
            p50_ms: m(Metric::LatencyP50),
            p99_ms: m(Metric::LatencyP99),
            p999_ms: m(Metric::LatencyP999),
            ttft_p99_ms: m(Metric::TtftP99),
            tpot_p99_ms: m(Metric::TpotP99),
            attainment: t.attainment(),
            utilization: m(Metric::Utilization),
            failed: m(Metric::Dropped) + m(Metric::TimedOut),
            idle_cost_per_hour: s.rates.total.idle_per_hour,
            replicas: s.pools.iter().map(|p| p.replicas_mean).sum(),
            slo_met: t.slo_met,
        }
    }

    pub fn of_row(label: &str, r: &Row) -> Snapshot {
        Snapshot {
            label: label.to_string(),
            cost_per_hour: r.cost_per_hour,
            cost_per_1k: r.cost_per_1k,
            p50_ms: r.p50_ms,
            p99_ms: r.p99_ms,
            p999_ms: r.p999_ms,
            ttft_p99_ms: r.ttft_p99_ms,
            tpot_p99_ms: r.tpot_p99_ms,
            attainment: r.slo_attainment,
            utilization: r.utilization,
            failed: r.failed,
            idle_cost_per_hour: f64::NAN,
            replicas: f64::NAN,
            slo_met: r.slo_met,
        }
    }
}
