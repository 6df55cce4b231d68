//! What one run measured: plain numbers, ready to aggregate over replications and to report.
//!
//! Headline metrics are a fixed list ([`Metric`]) so that replications, confidence intervals and
//! every output format treat them alike; each metric knows its place in the JSON contract.

use crate::units::SimTime;

/// A headline metric of a workload or of the whole scenario, measured over the window after
/// warm-up. Percentiles and means are `NaN` when nothing completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    Arrived,
    Completed,
    Dropped,
    TimedOut,
    LatencyMean,
    LatencyP50,
    LatencyP90,
    LatencyP95,
    LatencyP99,
    LatencyP999,
    LatencyMax,
    WaitMean,
    WaitP99,
    Utilization,
    GpuHoursBusy,
    GpuHoursIdle,
    CostTotal,
    CostPer1k,
    CostPerHour,
    CostIdle,
    CostOnDemand,
    CostSpot,
    CostReserved,
    SloAttainment,
    Throughput,
    MeanInSystem,
    BatchMean,
    TtftMean,
    TtftP50,
    TtftP90,
    TtftP99,
    TpotMean,
    TpotP50,
    TpotP90,
    TpotP99,
    ItlMean,
    ItlP50,
    ItlP90,
    ItlP99,
    InputTokens,
    OutputTokens,
    OutputTokensPerSecond,
    OutputTokensPerGpuSecond,
    CostPer1MOutputTokens,
    CostPer1MTokens,
    KvUtilization,
    Preemptions,
    PrefixHitRate,
    SloTtftAttainment,
    SloTpotAttainment,
    Retried,
    Interruptions,
    RetriedLost,
}

/// How a metric is named in the JSON contract and in CSV.
pub struct MetricDef {
    pub metric: Metric,
    /// Dotted path in the JSON object, e.g. `latency_ms.p99`.
    pub path: &'static str,
}

impl Metric {
    pub const COUNT: usize = 53;

    pub const ALL: [MetricDef; Metric::COUNT] = [
        def(Metric::Arrived, "requests.arrived"),
        def(Metric::Completed, "requests.completed"),
        def(Metric::Dropped, "requests.dropped"),
        def(Metric::TimedOut, "requests.timed_out"),
        def(Metric::LatencyMean, "latency_ms.mean"),
        def(Metric::LatencyP50, "latency_ms.p50"),
        def(Metric::LatencyP90, "latency_ms.p90"),
        def(Metric::LatencyP95, "latency_ms.p95"),
        def(Metric::LatencyP99, "latency_ms.p99"),
        def(Metric::LatencyP999, "latency_ms.p999"),
        def(Metric::LatencyMax, "latency_ms.max"),
        def(Metric::WaitMean, "wait_ms.mean"),
        def(Metric::WaitP99, "wait_ms.p99"),
        def(Metric::Utilization, "utilization"),
        def(Metric::GpuHoursBusy, "gpu_hours.busy"),
        def(Metric::GpuHoursIdle, "gpu_hours.idle"),
        def(Metric::CostTotal, "cost_usd.total"),
        def(Metric::CostPer1k, "cost_usd.per_1k_requests"),
        def(Metric::CostPerHour, "cost_usd.per_hour"),
        def(Metric::CostIdle, "cost_usd.idle"),
        def(Metric::CostOnDemand, "cost_usd.by_market.on_demand"),
        def(Metric::CostSpot, "cost_usd.by_market.spot"),
        def(Metric::CostReserved, "cost_usd.by_market.reserved"),
        def(Metric::SloAttainment, "slo.attainment"),
        def(Metric::Throughput, "throughput_rps"),
        def(Metric::MeanInSystem, "mean_in_system"),
        def(Metric::BatchMean, "batch_size_mean"),
        def(Metric::TtftMean, "ttft_ms.mean"),
        def(Metric::TtftP50, "ttft_ms.p50"),
        def(Metric::TtftP90, "ttft_ms.p90"),
        def(Metric::TtftP99, "ttft_ms.p99"),
        def(Metric::TpotMean, "tpot_ms.mean"),
        def(Metric::TpotP50, "tpot_ms.p50"),
        def(Metric::TpotP90, "tpot_ms.p90"),
        def(Metric::TpotP99, "tpot_ms.p99"),
        def(Metric::ItlMean, "itl_ms.mean"),
        def(Metric::ItlP50, "itl_ms.p50"),
        def(Metric::ItlP90, "itl_ms.p90"),
        def(Metric::ItlP99, "itl_ms.p99"),
        def(Metric::InputTokens, "tokens.input"),
        def(Metric::OutputTokens, "tokens.output"),
        def(Metric::OutputTokensPerSecond, "tokens.output_per_second"),
        def(
            Metric::OutputTokensPerGpuSecond,
            "tokens.output_per_gpu_second",
        ),
        def(
            Metric::CostPer1MOutputTokens,
            "cost_usd.per_1m_output_tokens",
        ),
        def(Metric::CostPer1MTokens, "cost_usd.per_1m_tokens"),
        def(Metric::KvUtilization, "kv_cache.utilization"),
        def(Metric::Preemptions, "kv_cache.preemptions"),
        def(Metric::PrefixHitRate, "prefix_cache.hit_rate"),
        def(Metric::SloTtftAttainment, "slo.ttft_attainment"),
        def(Metric::SloTpotAttainment, "slo.tpot_attainment"),
        def(Metric::Retried, "requests.retried"),
        def(Metric::Interruptions, "interruptions"),
        def(Metric::RetriedLost, "requests.retried_lost_ms"),
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn path(self) -> &'static str {
        Metric::ALL[self.index()].path
    }

    /// Whether the metric describes token-level LLM serving (reported only for scenarios that
    /// serve an LLM).
    pub fn is_llm(self) -> bool {
        self >= Metric::TtftMean && self <= Metric::SloTpotAttainment
    }

    /// Whether the metric describes reclaims of spot capacity (reported only for scenarios with
    /// interruptions).
    pub fn is_interruption(self) -> bool {
        matches!(
            self,
            Metric::Retried | Metric::Interruptions | Metric::RetriedLost
        )
    }

    /// Whether the metric is a count of requests (printed without decimals).
    pub fn is_count(self) -> bool {
        matches!(
            self,
            Metric::Arrived
                | Metric::Completed
                | Metric::Dropped
                | Metric::TimedOut
                | Metric::InputTokens
                | Metric::OutputTokens
                | Metric::Preemptions
                | Metric::Retried
                | Metric::Interruptions
        )
    }
}

const fn def(metric: Metric, path: &'static str) -> MetricDef {
    MetricDef { metric, path }
}

/// The SLO targets of a scope that has exactly one workload with an SLO, milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SloTargets {
    pub p99_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    pub tpot_p99_ms: Option<f64>,
}

/// Completed-request latencies in fixed log-spaced bins, for drawing a histogram.
///
/// The bins are the same for every run and scope, so replications average bin by bin and two
/// fleets compare on one axis. They are filled once at the end of a run from the headline latency
/// histogram (the requests completed in the window), so they cost nothing per request. Counts are
/// `f64` because a summary holds means over replications.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencyBins {
    pub counts: Vec<f64>,
}

impl LatencyBins {
    pub const PER_DECADE: usize = 20;
    /// Lower edge of the first bin, ms; bins cover 0.1 ms .. 10^6 ms (values outside go to the end bins).
    pub const FIRST_MS: f64 = 0.1;
    pub const COUNT: usize = 140;

    /// [lower, upper) edges of bin i in ms.
    pub fn edges_ms(i: usize) -> (f64, f64) {
        (edge_ms(i), edge_ms(i + 1))
    }

    pub fn total(&self) -> f64 {
        self.counts.iter().sum()
    }

    /// All bins empty.
    pub(crate) fn empty() -> LatencyBins {
        LatencyBins {
            counts: vec![0.0; LatencyBins::COUNT],
        }
    }
}

/// Edge `i` (the lower edge of bin `i`), ms.
fn edge_ms(i: usize) -> f64 {
    LatencyBins::FIRST_MS * 10f64.powf(i as f64 / LatencyBins::PER_DECADE as f64)
}

/// Headline metrics of one scope (a workload, or the total) in one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub values: [f64; Metric::COUNT],
    /// Latencies of the requests completed in the window (those `Metric::Completed` counts).
    pub latency_bins: LatencyBins,
    /// The targets, if the scope has one SLO.
    pub slo_targets: Option<SloTargets>,
    /// Whether every SLO target in the scope was met; `None` without SLOs.
    pub slo_met: Option<bool>,
    /// What was left to serve when arrivals stopped.
    pub backlog: Backlog,
}

/// What a scope had left to serve when arrivals stopped at the horizon: the sign of a fleet
/// offered more than it can serve (see `experiment::Stability`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backlog {
    /// Requests that arrived in the window, per second of it: what the scope was offered.
    pub offered_per_s: f64,
    /// Requests in the fleet (queued or in service) at the horizon, or where the run stopped.
    pub requests: f64,
    /// Seconds from the horizon until the last of them left; where the run stopped early (and
    /// did not drain), the backlog over the rate the scope served in its window.
    pub drain_s: f64,
    /// The drain took longer than [`Backlog::OVERLOAD_SHARE`] of the measured window: the
    /// queue grew through the run because more was offered than the fleet serves.
    pub overloaded: bool,
}

impl Backlog {
    /// The share of the window a drain may take in a fleet that keeps up. A stable queue
    /// empties in a few service times; one that grew through a run of hours takes hours.
    pub const OVERLOAD_SHARE: f64 = 0.1;
}

impl Stats {
    pub fn get(&self, m: Metric) -> f64 {
        self.values[m.index()]
    }
}

/// One pool's figures over the window. The engine records usage; the `*_usd` fields are `NaN`
/// until `experiment::costing` prices the run (the one place a price is read).
#[derive(Clone, Debug, PartialEq)]
pub struct PoolStats {
    /// Replicas serving (or draining), on average over the window: elastic pools vary.
    pub replicas_mean: f64,
    /// Instance-hours paid for while running (serving, draining, starting or warm), and while
    /// stopped in a warm pool (its disks), in the window.
    pub instance_hours: f64,
    pub stopped_instance_hours: f64,
    /// Elastic pools: replicas asked for and stopped in the window; replica-hours paid while
    /// provisioning, and what they cost.
    pub cold_starts: f64,
    pub stops: f64,
    pub provisioning_replica_hours: f64,
    pub provisioning_cost_usd: f64,
    /// Spot pools: reclaim notices in the window.
    pub interruptions: f64,
    /// Hours in the window during which fewer replicas took work than the pool wanted (its
    /// policy's count, or `replicas`): new ones still starting, or reclaimed ones not replaced.
    pub under_provisioned_hours: f64,
    /// Scale-ups that took a warm instance, and what the warm pool cost (its stopped disks, or
    /// its running instances, which are idle GPU time).
    pub warm_starts: f64,
    pub warm_cost_usd: f64,
    pub utilization: f64,
    /// LLM pools: output tokens per second per replica, and per GPU; mean KV-cache use.
    pub output_tokens_per_second_per_replica: f64,
    pub output_tokens_per_second_per_gpu: f64,
    /// LLM pools: requests finished per second per replica (what a front end of limited CPU
    /// caps).
    pub requests_per_second_per_replica: f64,
    pub kv_utilization: f64,
    pub gpu_hours_busy: f64,
    pub gpu_hours_idle: f64,
    pub cost_usd: f64,
    pub idle_cost_usd: f64,
    pub batch_size_mean: f64,
    pub batches: f64,
}

/// One interval of the time series (the whole horizon, warm-up included).
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRow {
    /// Start of the interval, seconds since the start of the run.
    pub t_s: f64,
    pub arrivals: f64,
    pub completed: f64,
    /// Dropped and timed out, by when it happened.
    pub failed: f64,
    /// Median latency of the requests completed in the interval (within 0.8 %, from the same
    /// coarse histogram as `p99_ms`).
    pub p50_ms: f64,
    /// p99 latency of the requests completed in the interval (within 0.8 %).
    pub p99_ms: f64,
    /// An LLM workload's p99 time to first token over the first tokens that came out in the
    /// interval, and p99 time per output token over the requests that finished in it (within
    /// 0.8 %; `NaN` when there were none, and for request-level workloads).
    pub ttft_p99_ms: f64,
    pub tpot_p99_ms: f64,
    pub utilization: f64,
    pub replicas: f64,
    /// Requests waiting (queued, not in service) at the end of the interval.
    pub queue: f64,
    /// What the scope's pools cost in the interval (priced by `experiment::costing`).
    pub cost_usd: f64,
}

/// Everything one run measured.
/// One pool's row of the time series: what it had and cost in one interval.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolSeriesRow {
    pub t_s: f64,
    /// Mean replicas serving over the interval.
    pub replicas: f64,
    /// Busy share of those replicas.
    pub utilization: f64,
    /// Instance-hours paid for in the interval, and what they cost (priced by
    /// `experiment::costing`).
    pub instance_hours: f64,
    pub cost_usd: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub seed: u64,
    /// Events processed.
    pub events: u64,
    /// Requests simulated, warm-up and drain included.
    pub simulated_requests: u64,
    pub total: Stats,
    /// In the order of `Scenario::workloads`.
    pub workloads: Vec<Stats>,
    /// In the order of `Scenario::pools`.
    pub pools: Vec<PoolStats>,
    pub series: Vec<SeriesRow>,
    pub workload_series: Vec<Vec<SeriesRow>>,
    /// Per pool, by interval (what the cost chart stacks).
    pub pool_series: Vec<Vec<PoolSeriesRow>>,
    /// Per workload, when its arrivals ran out before the horizon (a trace that ended early):
    /// the time of its last request.
    pub arrivals_ended: Vec<Option<SimTime>>,
    /// An offline run (every workload a `batch` arrival): when the last request left. Rates,
    /// utilization and cost are over this makespan, not the horizon.
    pub makespan: Option<SimTime>,
    /// Hours measured: the window after warm-up, or up to an offline run's makespan.
    pub window_hours: f64,
    /// Where the run ended early, and why; `None` for a run that reached its horizon and
    /// drained.
    pub stopped: Option<Stopped>,
}

/// A run that ended before its horizon: the report covers the simulated time up to `at`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stopped {
    pub at: SimTime,
    pub reason: StopReason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The caller asked (Ctrl-c).
    Interrupted,
    /// More requests were in the fleet at once than a run may hold (the limit, in requests):
    /// the fleet was offered far more than it serves, and the queue would have grown until
    /// memory ran out.
    Backlog { limit: u64 },
    /// The requests in the fleet were more than it serves in the whole span at the rate it
    /// had served so far (or, after the horizon, the drain had lasted as long as the span):
    /// overloaded beyond doubt, so the rest would only make the run longer.
    Overloaded,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_seven_decades_without_gaps() {
        assert_eq!(
            LatencyBins::COUNT,
            7 * LatencyBins::PER_DECADE,
            "0.1 ms .. 10^6 ms"
        );
        let (lo, _) = LatencyBins::edges_ms(0);
        let (_, hi) = LatencyBins::edges_ms(LatencyBins::COUNT - 1);
        assert_eq!(lo, 0.1);
        assert!((hi / 1e6 - 1.0).abs() < 1e-12, "{hi}");
        for i in 0..LatencyBins::COUNT {
            let (lo, hi) = LatencyBins::edges_ms(i);
            assert!(lo < hi);
            if i + 1 < LatencyBins::COUNT {
                assert_eq!(LatencyBins::edges_ms(i + 1).0, hi, "contiguous at {i}");
            }
            if i % LatencyBins::PER_DECADE == 0 {
                let decade = 0.1 * 10f64.powi((i / LatencyBins::PER_DECADE) as i32);
                assert!((lo / decade - 1.0).abs() < 1e-12, "bin {i} starts at {lo}");
            }
        }
    }

    #[test]
    fn table_is_in_enum_order() {
        for (i, d) in Metric::ALL.iter().enumerate() {
            assert_eq!(d.metric.index(), i, "{}", d.path);
        }
    }
}
