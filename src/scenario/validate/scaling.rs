//! A pool's autoscaling policy and provisioning delays.

use toml::Spanned;

use super::Checker;
use crate::fleet::scaling::{DEFAULT_INTERVAL, DEFAULT_SCALE_DOWN_STABILIZATION, DEFAULT_WINDOW};
use crate::fleet::{Provisioning, Scaling, ScalingPolicy, TargetTracking, TrackedMetric};
use crate::scenario::raw;
use crate::units::SimTime;

/// Until per-family start-time distributions land: a typical GPU VM boot, a serving container's
/// start, and a model's weights from object storage, each a round figure.
pub const DEFAULT_PROVISIONING: Provisioning = Provisioning {
    instance_start: SimTime::from_secs(120),
    container_start: SimTime::from_secs(30),
    model_load: SimTime::from_secs(60),
};

const POLICIES: [&str; 2] = ["schedule", "target-tracking"];

impl Checker<'_> {
    /// The pool's scaling, if it autoscales (`None` also when invalid, already reported).
    pub(super) fn scaling(&mut self, p: &raw::Pool, replicas: u32) -> Option<Scaling> {
        let provisioning = self.provisioning(p);
        let a = p.autoscale.as_ref()?;
        let a = a.get_ref();
        let count = |c: &mut Self, v: &Spanned<i64>, field: &str| match u32::try_from(*v.get_ref())
        {
            Ok(n) if n <= 100_000 => Some(n),
            _ => {
                c.error(
                    v.span(),
                    format!(
                        "`{field}` must be a whole number of replicas from 0, got {}",
                        v.get_ref()
                    ),
                );
                None
            }
        };
        let tracking_fields = [
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
        ];
        let stray: Vec<_> = match a.policy.get_ref().as_str() {
            "schedule" => tracking_fields.into_iter().collect(),
            "target-tracking" => vec![("hours", a.hours.as_ref().map(Spanned::span))],
            _ => Vec::new(),
        };
        for (field, span) in stray {
            if let Some(span) = span {
                self.error(
                    span,
                    format!(
                        "`{field}` does not apply to policy {:?}",
                        a.policy.get_ref()
                    ),
                );
            }
        }
        let policy = match a.policy.get_ref().as_str() {
            "schedule" => {
                let Some(h) = &a.hours else {
                    self.error(
                        a.policy.span(),
                        "a schedule needs `hours`: 24 replica counts, from midnight",
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
                ScalingPolicy::Schedule { hours }
            }
            "target-tracking" => ScalingPolicy::TargetTracking(self.target_tracking(a)?),
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
            ScalingPolicy::TargetTracking(_) => {
                if a.max.is_none() {
                    self.error(
                        a.policy.span(),
                        "target tracking needs `max`, the most replicas it may start",
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
        Some(Scaling {
            policy,
            min,
            max,
            provisioning: provisioning?,
        })
    }

    fn target_tracking(&mut self, a: &raw::Autoscale) -> Option<TargetTracking> {
        let metric = match a.metric.as_ref().map(|m| m.get_ref().as_str()) {
            None | Some("utilization") => TrackedMetric::Utilization,
            Some(other) => {
                self.error(
                    a.metric.as_ref().expect("some").span(),
                    format!("unknown metric {other:?} to track; expected utilization"),
                );
                return None;
            }
        };
        let target = match &a.target {
            Some(t) if t.get_ref().is_finite() && *t.get_ref() > 0.0 && *t.get_ref() <= 1.0 => {
                *t.get_ref()
            }
            Some(t) => {
                self.error(
                    t.span(),
                    format!("a utilization target is in (0, 1], got {}", t.get_ref()),
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
        let interval = get(&a.interval, DEFAULT_INTERVAL);
        if interval == SimTime::ZERO {
            let at = a.interval.as_ref().map_or(a.policy.span(), Spanned::span);
            self.error(at, "`interval` must be longer than zero");
            return None;
        }
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

    fn provisioning(&mut self, p: &raw::Pool) -> Option<Provisioning> {
        let Some(v) = &p.provisioning else {
            return Some(DEFAULT_PROVISIONING);
        };
        if p.autoscale.is_none() {
            self.error(
                v.span(),
                "`provisioning` applies to pools that scale; add [autoscale] or remove it",
            );
            return None;
        }
        let v = v.get_ref();
        let d = DEFAULT_PROVISIONING;
        let get = |x: &Option<Spanned<raw::Duration>>, default: SimTime| {
            x.as_ref().map_or(default, |x| x.get_ref().0)
        };
        Some(Provisioning {
            instance_start: get(&v.instance_start, d.instance_start),
            container_start: get(&v.container_start, d.container_start),
            model_load: get(&v.model_load, d.model_load),
        })
    }
}
