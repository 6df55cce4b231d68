//! A pool's provisioning: how long a new replica takes, stage by stage, and its warm pool.

use crate::scenario::spanned::Spanned;

use super::Checker;
use crate::fleet::provisioning::{
    DEFAULT_CONTAINER_START, DEFAULT_MODEL_LOAD, ENGINE_START, STOPPED_USD_PER_HOUR,
    WARM_RESUME_SHARE, WARM_RUNNING_START, instance_start_for, load_time,
};
use crate::fleet::{Provisioning, WarmPool, WarmState, WeightSource};
use crate::pricing::InstanceType;
use crate::scenario::raw;
use crate::units::SimTime;

impl Checker<'_> {
    /// The pool's provisioning: defaults for its instance family, the model load from the
    /// weights' size and source, and what the scenario sets. `weights_bytes` is known for LLM
    /// pools (from the model); request-level pools may state `weights_gb`.
    pub(super) fn provisioning(
        &mut self,
        p: &raw::Pool,
        inst: &InstanceType,
        weights_bytes: Option<f64>,
    ) -> Option<Provisioning> {
        let (family_start, family_cv) = instance_start_for(&inst.cloud, &inst.name);
        let Some(v) = &p.provisioning else {
            let model_load = weights_bytes.map_or(DEFAULT_MODEL_LOAD, |b| {
                load_time(b, WeightSource::ObjectStorage)
            });
            return Some(Provisioning {
                instance_start: family_start,
                instance_start_cv: family_cv,
                container_start: DEFAULT_CONTAINER_START,
                model_load,
                cached_load: weights_bytes
                    .map_or(model_load, |b| load_time(b, WeightSource::LocalCache)),
                cache_hit_ratio: 0.0,
                warm_pool: None,
            });
        };
        if p.autoscale.is_none() && p.interruptions.is_none() {
            self.error(
                v.span(),
                "`provisioning` applies to pools that scale or lose spot replicas; add [autoscale] or remove it",
            );
            return None;
        }
        let v = v.get_ref();
        let before = self.problems.len();
        let dur = |x: &Option<Spanned<raw::Duration>>| x.as_ref().map(|x| x.get_ref().0);
        let share = |c: &mut Self, x: &Option<Spanned<f64>>, field: &str, hi: f64| {
            x.as_ref().and_then(|x| {
                let v = *x.get_ref();
                if v.is_finite() && (0.0..=hi).contains(&v) {
                    Some(v)
                } else {
                    c.error(
                        x.span(),
                        format!("`{field}` must be from 0 to {hi}, got {v}"),
                    );
                    None
                }
            })
        };
        // An explicit start is taken as it is, unless a spread is given too.
        let instance_start = dur(&v.instance_start);
        let cv = share(self, &v.instance_start_cv, "instance_start_cv", 10.0).unwrap_or(
            if instance_start.is_some() {
                0.0
            } else {
                family_cv
            },
        );
        let weights = match &v.weights_gb {
            Some(g) if g.get_ref().is_finite() && *g.get_ref() > 0.0 => Some(*g.get_ref() * 1e9),
            Some(g) => {
                self.error(
                    g.span(),
                    format!("`weights_gb` must be > 0, got {}", g.get_ref()),
                );
                None
            }
            None => weights_bytes,
        };
        let source = match &v.weights_from {
            None => WeightSource::ObjectStorage,
            Some(s) => WeightSource::parse(s.get_ref()).unwrap_or_else(|| {
                self.error(
                    s.span(),
                    format!(
                        "unknown weights source {:?}; expected object-storage, local-cache or peer",
                        s.get_ref()
                    ),
                );
                WeightSource::ObjectStorage
            }),
        };
        let bandwidth = match &v.load_gb_per_s {
            Some(b) if b.get_ref().is_finite() && *b.get_ref() > 0.0 => *b.get_ref() * 1e9,
            Some(b) => {
                self.error(
                    b.span(),
                    format!("`load_gb_per_s` must be > 0, got {}", b.get_ref()),
                );
                1.0
            }
            None => source.bytes_per_second(),
        };
        if let (Some(m), true) = (
            &v.model_load,
            v.weights_gb.is_some() || v.weights_from.is_some(),
        ) {
            self.error(
                m.span(),
                "give `model_load`, or the weights' size and source that it follows from, not both",
            );
        }
        let model_load = dur(&v.model_load).unwrap_or_else(|| {
            weights.map_or(DEFAULT_MODEL_LOAD, |b| {
                SimTime::from_secs_f64(b / bandwidth)
            })
        });
        let cached_load = weights.map_or(model_load, |b| {
            SimTime::from_secs_f64(b / WeightSource::LocalCache.bytes_per_second()).min(model_load)
        });
        let warm_pool = v.warm_pool.as_ref().and_then(|w| {
            let w = w.get_ref();
            let size = match u32::try_from(*w.size.get_ref()) {
                Ok(n) if n <= 100_000 => n,
                _ => {
                    self.error(
                        w.size.span(),
                        format!(
                            "`warm_pool.size` must be a whole number from 0, got {}",
                            w.size.get_ref()
                        ),
                    );
                    return None;
                }
            };
            let state = match w.state.as_ref().map(|s| s.get_ref().as_str()) {
                None | Some("stopped") => WarmState::Stopped,
                Some("running") => WarmState::Running,
                Some(other) => {
                    self.error(
                        w.state.as_ref().expect("some").span(),
                        format!("unknown warm pool state {other:?}; expected stopped or running"),
                    );
                    return None;
                }
            };
            Some(WarmPool {
                size,
                state,
                start: match state {
                    // Resumed: the node boots from its disk, the image and weights are local.
                    WarmState::Stopped => SimTime(
                        SimTime::from_secs_f64(
                            instance_start.unwrap_or(family_start).as_secs_f64()
                                * WARM_RESUME_SHARE,
                        )
                        .0 + ENGINE_START.0
                            + cached_load.0,
                    ),
                    WarmState::Running => WARM_RUNNING_START,
                },
                stopped_usd_per_hour: STOPPED_USD_PER_HOUR,
            })
        });
        let cache_hit_ratio =
            share(self, &v.cache_hit_ratio, "cache_hit_ratio", 1.0).unwrap_or(0.0);
        if self.problems.len() > before {
            return None;
        }
        Some(Provisioning {
            instance_start: instance_start.unwrap_or(family_start),
            instance_start_cv: cv,
            container_start: dur(&v.container_start).unwrap_or(DEFAULT_CONTAINER_START),
            model_load,
            cached_load,
            cache_hit_ratio,
            warm_pool,
        })
    }
}
