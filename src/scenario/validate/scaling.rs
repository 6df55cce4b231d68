//! A pool's autoscaling policy.

use crate::scenario::spanned::Spanned;

use super::Checker;
use crate::fleet::scaling::{DEFAULT_INTERVAL, DEFAULT_SCALE_DOWN_STABILIZATION, DEFAULT_WINDOW};
use crate::fleet::{
    QueueMetric, Scaling, ScalingPolicy, StepScaling, TargetTracking, TrackedMetric,
};
use crate::scenario::raw;
use crate::units::SimTime;

const POLICIES: [&str; 4] = ["schedule", "target-tracking", "step", "predictive"];

impl Checker<'_> {
    /// The pool's scaling, if it autoscales (`None` also when invalid, already reported).
    pub(super) fn scaling(&mut self, p: &raw::Pool, replicas: u32) -> Option<Scaling> {
        let a = p.autoscale.as_ref()?;
        let a = a.get_ref();
        let count = |c: &mut Self, v: &Spanned<i64>, field: &str| match u32::try_from(*v.get_ref())
        {
            Ok(n) if n <= super::MAX_REPLICAS => Some(n),
            _ => {
                c.error(
                    v.span(),
                    format!(
                        "`{field}` must be a whole number of replicas from 0 to {}, got {}",
                        super::MAX_REPLICAS,
                        v.get_ref()
                    ),
                );
                None
            }
        };
        let fields = [
            ("hours", a.hours.as_ref().map(Spanned::span)),
            ("metric", a.metric.as_ref().map(Spanned::span)),
            ("target", a.target.as_ref().map(Spanned::span)),
            ("interval", a.interval.as_ref().map(Spanned::span)),
            ("window", a.window.as_ref().map(Spanned::span)),
            (
                "scale_up_cooldown",
                a.scale_up_cooldown.as_ref().map(Spanned::span),
            ),
            (
                "scale_down_stabilization",
                a.scale_down_stabilization.as_ref().map(Spanned::span),
            ),
            ("steps", a.steps.as_ref().map(Spanned::span)),
            ("scale_in", a.scale_in.as_ref().map(Spanned::span)),
            ("cooldown", a.cooldown.as_ref().map(Spanned::span)),
        ];
        let tracking = [
            "metric",
            "target",
            "interval",
            "window",
            "scale_up_cooldown",
            "scale_down_stabilization",
        ];
        let applies: &[&str] = match a.policy.get_ref().as_str() {
            "schedule" => &["hours"],
            "target-tracking" => &tracking,
            "step" => &[
                "metric", "steps", "scale_in", "interval", "window", "cooldown",
            ],
            "predictive" => &[
                "hours",
                "metric",
                "target",
                "interval",
                "window",
                "scale_up_cooldown",
                "scale_down_stabilization",
            ],
            _ => &[],
        };
        if POLICIES.contains(&a.policy.get_ref().as_str()) {
            for (field, span) in fields {
                if let Some(span) = span
                    && !applies.contains(&field)
                {
                    self.error(
                        span,
                        format!(
                            "`{field}` does not apply to policy {:?}",
                            a.policy.get_ref()
                        ),
                    );
                }
            }
        }
        let policy = match a.policy.get_ref().as_str() {
            "schedule" => ScalingPolicy::Schedule {
                hours: self.hours(a, count)?,
            },
            "target-tracking" => ScalingPolicy::TargetTracking(self.target_tracking(a)?),
            "step" => ScalingPolicy::Step(self.step_scaling(a)?),
            "predictive" => {
                let hours = self.hours(a, count);
                ScalingPolicy::Predictive {
                    tracking: self.target_tracking(a)?,
                    hours: hours?,
                }
            }
            other => {
                self.error(
                    a.policy.span(),
                    format!(
                        "unknown autoscaling policy {other:?}; expected {}",
                        POLICIES.join(", ")
                    ),
                );
                return None;
            }
        };
        let (lo, hi) = match &policy {
            ScalingPolicy::Schedule { hours } => (
                *hours.iter().min().expect("24 hours"),
                *hours.iter().max().expect("24 hours"),
            ),
            ScalingPolicy::Predictive { hours, .. } => (
                *hours.iter().min().expect("24 hours"),
                *hours.iter().max().expect("24 hours"),
            ),
            ScalingPolicy::TargetTracking(_) | ScalingPolicy::Step(_) => {
                if a.max.is_none() {
                    self.error(
                        a.policy.span(),
                        format!(
                            "policy {:?} needs `max`, the most replicas it may start",
                            a.policy.get_ref()
                        ),
                    );
                    return None;
                }
                (1, replicas)
            }
        };
        let min = match &a.min {
            Some(v) => count(self, v, "min")?,
            None => lo,
        };
        let max = match &a.max {
            Some(v) => count(self, v, "max")?,
            None => hi.max(replicas),
        };
        if min > max {
            let at = a.min.as_ref().map_or(a.policy.span(), Spanned::span);
            self.error(at, format!("`min` ({min}) is above `max` ({max})"));
            return None;
        }
        if replicas > max {
            let at = a.max.as_ref().map_or(a.policy.span(), Spanned::span);
            self.error(
                at,
                format!("the pool starts with {replicas} replicas, above `max` ({max})"),
            );
            return None;
        }
        Some(Scaling { policy, min, max })
    }

    fn target_tracking(&mut self, a: &raw::Autoscale) -> Option<TargetTracking> {
        let metric = match a.metric.as_ref().map(|m| m.get_ref().as_str()) {
            None | Some("utilization") => TrackedMetric::Utilization,
            Some("concurrency") => TrackedMetric::Concurrency,
            Some("kv-cache") => TrackedMetric::KvCache,
            Some(other) => {
                self.error(
                    a.metric.as_ref().expect("some").span(),
                    format!(
                        "unknown metric {other:?} to track; expected utilization, concurrency or kv-cache"
                    ),
                );
                return None;
            }
        };
        let share = metric != TrackedMetric::Concurrency;
        let target = match &a.target {
            Some(t)
                if t.get_ref().is_finite()
                    && *t.get_ref() > 0.0
                    && (!share || *t.get_ref() <= 1.0) =>
            {
                *t.get_ref()
            }
            Some(t) => {
                self.error(
                    t.span(),
                    if share {
                        format!(
                            "a {} target is in (0, 1], got {}",
                            metric.name(),
                            t.get_ref()
                        )
                    } else {
                        format!(
                            "a concurrency target is requests per replica, > 0, got {}",
                            t.get_ref()
                        )
                    },
                );
                return None;
            }
            None => {
                self.error(a.policy.span(), "target tracking needs `target`, e.g. 0.6");
                return None;
            }
        };
        let get = |x: &Option<Spanned<raw::Duration>>, default: SimTime| {
            x.as_ref().map_or(default, |x| x.get_ref().0)
        };
        let interval = self.interval(a, DEFAULT_INTERVAL)?;
        Some(TargetTracking {
            metric,
            target,
            interval,
            window: get(&a.window, DEFAULT_WINDOW),
            scale_up_cooldown: get(&a.scale_up_cooldown, SimTime::ZERO),
            scale_down_stabilization: get(
                &a.scale_down_stabilization,
                DEFAULT_SCALE_DOWN_STABILIZATION,
            ),
        })
    }

    /// How often the policy looks (`default` if unset); at least a second, as real
    /// autoscalers, so that a typo cannot fill the run with ticks.
    fn interval(&mut self, a: &raw::Autoscale, default: SimTime) -> Option<SimTime> {
        let interval = a.interval.as_ref().map_or(default, |x| x.get_ref().0);
        if interval < SimTime::from_secs(1) {
            let at = a.interval.as_ref().map_or(a.policy.span(), Spanned::span);
            self.error(
                at,
                format!("`interval` is at least 1s (an autoscaler looks at most once a second), got {interval}"),
            );
            return None;
        }
        Some(interval)
    }

    /// A schedule's 24 hourly replica counts.
    fn hours(
        &mut self,
        a: &raw::Autoscale,
        count: impl Fn(&mut Self, &Spanned<i64>, &str) -> Option<u32>,
    ) -> Option<[u32; 24]> {
        let Some(h) = &a.hours else {
            self.error(
                a.policy.span(),
                format!(
                    "policy {:?} needs `hours`: 24 replica counts, from midnight",
                    a.policy.get_ref()
                ),
            );
            return None;
        };
        if h.get_ref().len() != 24 {
            self.error(
                h.span(),
                format!(
                    "`hours` needs 24 replica counts, from midnight; got {}",
                    h.get_ref().len()
                ),
            );
            return None;
        }
        let mut hours = [0u32; 24];
        for (i, v) in h.get_ref().iter().enumerate() {
            hours[i] = count(self, &Spanned::new(h.span(), *v), "hours")?;
        }
        Some(hours)
    }

    fn step_scaling(&mut self, a: &raw::Autoscale) -> Option<StepScaling> {
        let metric = match a.metric.as_ref().map(|m| m.get_ref().as_str()) {
            Some("queue-length") => QueueMetric::Length,
            Some("queue-delay") => QueueMetric::Delay,
            Some(other) => {
                self.error(
                    a.metric.as_ref().expect("some").span(),
                    format!(
                        "unknown metric {other:?} for step scaling; expected queue-length or queue-delay"
                    ),
                );
                return None;
            }
            None => {
                self.error(
                    a.policy.span(),
                    "step scaling needs `metric`: queue-length or queue-delay",
                );
                return None;
            }
        };
        let Some(raw_steps) = &a.steps else {
            self.error(
                a.policy.span(),
                "step scaling needs `steps`, e.g. [{ above = 5, add = 1 }, { above = 20, add = 3 }]",
            );
            return None;
        };
        let mut steps = Vec::new();
        for st in raw_steps.get_ref() {
            let above = *st.above.get_ref();
            if !above.is_finite() || above < 0.0 {
                self.error(
                    st.above.span(),
                    format!("`above` must be >= 0, got {above}"),
                );
                return None;
            }
            let add = match u32::try_from(*st.add.get_ref()) {
                Ok(n) if (1..=100_000).contains(&n) => n,
                _ => {
                    self.error(
                        st.add.span(),
                        format!(
                            "`add` must be a whole number of replicas from 1, got {}",
                            st.add.get_ref()
                        ),
                    );
                    return None;
                }
            };
            if steps.last().is_some_and(|&(prev, _)| prev >= above) {
                self.error(st.above.span(), "steps go by rising `above`");
                return None;
            }
            steps.push((above, add));
        }
        if steps.is_empty() {
            self.error(raw_steps.span(), "step scaling needs at least one step");
            return None;
        }
        let scale_in = match &a.scale_in {
            None => None,
            Some(si) => {
                let si = si.get_ref();
                let below = *si.below.get_ref();
                if !below.is_finite() || below < 0.0 || below > steps[0].0 {
                    self.error(
                        si.below.span(),
                        format!(
                            "`scale_in.below` must be from 0 to the first step ({}), got {below}",
                            steps[0].0
                        ),
                    );
                    return None;
                }
                match u32::try_from(*si.remove.get_ref()) {
                    Ok(n) if (1..=100_000).contains(&n) => Some((below, n)),
                    _ => {
                        self.error(
                            si.remove.span(),
                            format!(
                                "`scale_in.remove` must be a whole number from 1, got {}",
                                si.remove.get_ref()
                            ),
                        );
                        return None;
                    }
                }
            }
        };
        let get = |x: &Option<Spanned<raw::Duration>>, default: SimTime| {
            x.as_ref().map_or(default, |x| x.get_ref().0)
        };
        let interval = self.interval(a, SimTime::from_secs(60))?;
        Some(StepScaling {
            metric,
            steps,
            scale_in,
            interval,
            window: get(&a.window, SimTime::from_secs(60)),
            cooldown: get(&a.cooldown, SimTime::from_secs(300)),
        })
    }
}
