//! How a pool's replica count changes over a run: the autoscaling policy and its bounds.

use crate::units::SimTime;

/// What decides the number of replicas a pool wants.
#[derive(Clone, Debug, PartialEq)]
pub enum ScalingPolicy {
    /// Replicas by hour of the day (simulated time 0 is midnight), the form the optimizer's
    /// plans take.
    Schedule { hours: [u32; 24] },
    /// Keep a measured quantity at a target, the way Kubernetes' HPA and AWS target tracking do.
    TargetTracking(TargetTracking),
    /// Add or remove replicas in steps when the queue crosses thresholds (AWS step scaling).
    Step(StepScaling),
    /// The schedule, brought forward by the provisioning time so that its replicas serve when
    /// their hour starts, with target tracking above it for what the forecast missed (AWS
    /// predictive scaling beside a dynamic policy).
    Predictive {
        hours: [u32; 24],
        tracking: TargetTracking,
    },
}

/// Step scaling: every `interval`, the metric's mean over the last `window`; at or above a
/// step's `above`, the largest such step's `add` replicas join (no sooner than `cooldown` after
/// the last change); below `scale_in.0`, `scale_in.1` replicas leave (same cooldown).
#[derive(Clone, Debug, PartialEq)]
pub struct StepScaling {
    pub metric: QueueMetric,
    /// (threshold, replicas to add), by rising threshold.
    pub steps: Vec<(f64, u32)>,
    pub scale_in: Option<(f64, u32)>,
    pub interval: SimTime,
    pub window: SimTime,
    pub cooldown: SimTime,
}

/// What step scaling watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueMetric {
    /// Requests waiting (not in service) per serving replica: the backlog per instance AWS
    /// recommends for queue workers.
    Length,
    /// Seconds the oldest waiting request has waited.
    Delay,
}

impl QueueMetric {
    pub fn name(self) -> &'static str {
        match self {
            QueueMetric::Length => "queue-length",
            QueueMetric::Delay => "queue-delay",
        }
    }
}

impl StepScaling {
    /// The replicas wanted, from `current`, when the metric reads `value`.
    pub fn wanted(&self, value: f64, current: u32) -> u32 {
        if let Some(&(_, add)) = self.steps.iter().rev().find(|&&(above, _)| value >= above) {
            return current + add;
        }
        match self.scale_in {
            Some((below, remove)) if value < below => current.saturating_sub(remove),
            _ => current,
        }
    }
}

/// Target tracking: every `interval`, the metric over the last `window` gives the replicas that
/// would bring it to `target`; more are started at once (after `scale_up_cooldown` since the
/// last scale-up), fewer only when every recommendation of the last `scale_down_stabilization`
/// agrees (the HPA's stabilization window).
#[derive(Clone, Debug, PartialEq)]
pub struct TargetTracking {
    pub metric: TrackedMetric,
    pub target: f64,
    pub interval: SimTime,
    pub window: SimTime,
    pub scale_up_cooldown: SimTime,
    pub scale_down_stabilization: SimTime,
}

/// What target tracking tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackedMetric {
    /// Share of the serving replicas' time spent busy.
    Utilization,
    /// Requests in flight (queued or in service) per replica: Knative's concurrency target.
    Concurrency,
    /// Share of the replicas' KV cache holding live sequences (LLM pools).
    KvCache,
}

impl TrackedMetric {
    pub fn name(self) -> &'static str {
        match self {
            TrackedMetric::Utilization => "utilization",
            TrackedMetric::Concurrency => "concurrency",
            TrackedMetric::KvCache => "kv-cache",
        }
    }
}

/// Kubernetes' HPA defaults: a 15 s sync period and a 300 s scale-down stabilization window
/// (kubernetes.io, "Horizontal Pod Autoscaling"); a one-minute metric window, as the metrics
/// server's resource metrics cover.
pub const DEFAULT_INTERVAL: SimTime = SimTime::from_secs(15);
pub const DEFAULT_WINDOW: SimTime = SimTime::from_secs(60);
pub const DEFAULT_SCALE_DOWN_STABILIZATION: SimTime = SimTime::from_secs(300);

impl ScalingPolicy {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            ScalingPolicy::Schedule { .. } => "schedule",
            ScalingPolicy::TargetTracking(_) => "target-tracking",
            ScalingPolicy::Step(_) => "step",
            ScalingPolicy::Predictive { .. } => "predictive",
        }
    }

    /// When the policy next looks at the pool, after `now`.
    pub fn next_evaluation(&self, now: SimTime) -> SimTime {
        let every = match self {
            ScalingPolicy::Schedule { .. } => SimTime::from_secs(3600).0,
            ScalingPolicy::TargetTracking(t) | ScalingPolicy::Predictive { tracking: t, .. } => {
                t.interval.0
            }
            ScalingPolicy::Step(s) => s.interval.0,
        };
        SimTime((now.0 / every + 1) * every)
    }
}

/// The replicas a schedule wants at `now`.
pub fn scheduled(hours: &[u32; 24], now: SimTime) -> u32 {
    let hour = (now.0 / SimTime::from_secs(3600).0) % 24;
    hours[hour as usize]
}

/// An elastic pool: its policy and bounds. Replicas start at the pool's `replicas`, already
/// serving; new ones take the pool's provisioning time.
#[derive(Clone, Debug, PartialEq)]
pub struct Scaling {
    pub policy: ScalingPolicy,
    pub min: u32,
    pub max: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_apply_the_largest_step_reached() {
        let s = StepScaling {
            metric: QueueMetric::Length,
            steps: vec![(2.0, 1), (10.0, 4)],
            scale_in: Some((0.5, 2)),
            interval: SimTime::from_secs(60),
            window: SimTime::from_secs(60),
            cooldown: SimTime::ZERO,
        };
        assert_eq!(s.wanted(1.0, 5), 5);
        assert_eq!(s.wanted(2.0, 5), 6);
        assert_eq!(s.wanted(50.0, 5), 9);
        assert_eq!(s.wanted(0.1, 5), 3);
        assert_eq!(s.wanted(0.1, 1), 0);
    }

    #[test]
    fn a_schedule_follows_the_hour_of_day() {
        let mut hours = [1; 24];
        hours[9] = 5;
        let p = ScalingPolicy::Schedule { hours };
        let h = |x: f64| SimTime::from_secs_f64(x * 3600.0);
        assert_eq!(scheduled(&hours, h(8.99)), 1);
        assert_eq!(scheduled(&hours, h(9.0)), 5);
        assert_eq!(scheduled(&hours, h(33.5)), 5);
        assert_eq!(p.next_evaluation(h(9.0)), h(10.0));
        assert_eq!(p.next_evaluation(h(9.5)), h(10.0));
    }
}
