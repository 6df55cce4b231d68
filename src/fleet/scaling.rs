//! How a pool's replica count changes over a run: the autoscaling policy, its bounds, and how
//! long a new replica takes to serve.

use crate::units::SimTime;

/// What decides the number of replicas a pool wants.
#[derive(Clone, Debug, PartialEq)]
pub enum ScalingPolicy {
    /// Replicas by hour of the day (simulated time 0 is midnight), the form the optimizer's
    /// plans take.
    Schedule { hours: [u32; 24] },
}

impl ScalingPolicy {
    /// The name used in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            ScalingPolicy::Schedule { .. } => "schedule",
        }
    }

    /// The replicas wanted at `now`.
    pub fn desired(&self, now: SimTime) -> u32 {
        match self {
            ScalingPolicy::Schedule { hours } => {
                let hour = (now.0 / SimTime::from_secs(3600).0) % 24;
                hours[hour as usize]
            }
        }
    }

    /// When the policy next looks at the pool, after `now`.
    pub fn next_evaluation(&self, now: SimTime) -> SimTime {
        match self {
            ScalingPolicy::Schedule { .. } => {
                let hour = SimTime::from_secs(3600).0;
                SimTime((now.0 / hour + 1) * hour)
            }
        }
    }
}

/// From the decision to add a replica until it serves: the instance boots, the serving
/// container starts, the model's weights load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Provisioning {
    pub instance_start: SimTime,
    pub container_start: SimTime,
    pub model_load: SimTime,
}

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

impl Scaling {
    /// The policy's wish, within the bounds.
    pub fn target(&self, now: SimTime) -> u32 {
        self.policy.desired(now).clamp(self.min, self.max)
    }
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
        assert_eq!(p.desired(h(8.99)), 1);
        assert_eq!(p.desired(h(9.0)), 5);
        assert_eq!(p.desired(h(33.5)), 5);
        assert_eq!(p.next_evaluation(h(9.0)), h(10.0));
        assert_eq!(p.next_evaluation(h(9.5)), h(10.0));
    }
}
