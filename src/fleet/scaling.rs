//! How a pool's replica count changes over a run: the autoscaling policy, its bounds, and how
//! long a new replica takes to serve.

use crate::units::SimTime;

/// What decides the number of replicas a pool wants.
#[derive(Clone, Debug, PartialEq)]
pub enum ScalingPolicy {
    /// Replicas by hour of the day (simulated time 0 is midnight), the form the optimizer's
    /// plans take.
    Schedule { hours: [u32; 24] },
    /// Keep a measured quantity at a target, the way Kubernetes' HPA and AWS target tracking do.
    TargetTracking(TargetTracking),
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
}

impl TrackedMetric {
    pub fn name(self) -> &'static str {
        match self {
            TrackedMetric::Utilization => "utilization",
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
        }
    }

    /// When the policy next looks at the pool, after `now`.
    pub fn next_evaluation(&self, now: SimTime) -> SimTime {
        let every = match self {
            ScalingPolicy::Schedule { .. } => SimTime::from_secs(3600).0,
            ScalingPolicy::TargetTracking(t) => t.interval.0,
        };
        SimTime((now.0 / every + 1) * every)
    }
}

/// The replicas a schedule wants at `now`.
pub fn scheduled(hours: &[u32; 24], now: SimTime) -> u32 {
    let hour = (now.0 / SimTime::from_secs(3600).0) % 24;
    hours[hour as usize]
}

/// From the decision to add a replica until it serves: the instance boots, the serving
/// container starts, the model's weights load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Provisioning {
    pub instance_start: SimTime,
    pub container_start: SimTime,
    pub model_load: SimTime,
}

/// Until per-family start-time distributions land: a typical GPU VM boot, a serving container's
/// start, and a model's weights from object storage, each a round figure.
pub const DEFAULT_PROVISIONING: Provisioning = Provisioning {
    instance_start: SimTime::from_secs(120),
    container_start: SimTime::from_secs(30),
    model_load: SimTime::from_secs(60),
};

impl Provisioning {
    pub fn total(&self) -> SimTime {
        SimTime(self.instance_start.0 + self.container_start.0 + self.model_load.0)
    }
}

/// An elastic pool: its policy, bounds, and provisioning delay. Replicas start at the pool's
/// `replicas`, already serving.
#[derive(Clone, Debug, PartialEq)]
pub struct Scaling {
    pub policy: ScalingPolicy,
    pub min: u32,
    pub max: u32,
    pub provisioning: Provisioning,
}

#[cfg(test)]
mod tests {
    use super::*;

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
