//! Models and their service-time profiles.

use std::collections::BTreeSet;
use std::path::Path;

use crate::scenario::spanned::Spanned;

use super::{Checker, MAX_BATCH, ModelKind};
use crate::fleet::{Batching, ServiceModel, ServiceTime};
use crate::scenario::raw;
use crate::units::SimTime;

impl Checker<'_> {
    pub(super) fn model(
        &mut self,
        name: &str,
        m: &raw::Model,
        gpu_models: &BTreeSet<String>,
        base: &Path,
    ) -> Option<ModelKind> {
        if m.architecture.is_some() || m.shape.is_some() {
            if let Some((gpu, _)) = m.service.iter().next() {
                self.error(
                    gpu.span(),
                    "an LLM model (with `architecture` or `shape`) is timed by its roofline; remove its request-level `service` profiles",
                );
            }
            return self
                .llm_model(name, m, base)
                .map(|l| ModelKind::Llm(Box::new(l)));
        }
        self.no_llm_fields(m);
        let mut out = Vec::new();
        for (gpu, service) in &m.service {
            if !gpu_models.contains(gpu.get_ref()) {
                let known: Vec<&str> = gpu_models.iter().map(String::as_str).collect();
                self.error(
                    gpu.span(),
                    format!(
                        "unknown GPU model {:?}; service profiles are keyed by the catalog's gpu_model: {}",
                        gpu.get_ref(),
                        known.join(", ")
                    ),
                );
                continue;
            }
            let s = self.service(service);
            out.push((gpu.get_ref().clone(), s));
        }
        Some(ModelKind::Requests(out))
    }

    pub(super) fn service(&mut self, s: &Spanned<raw::Service>) -> Option<ServiceModel> {
        let s = s.get_ref();
        let kind = s.kind.get_ref().as_str();
        let kind_span = s.kind.span();
        let before = self.problems.len();
        let need_duration =
            |c: &mut Self, v: &Option<Spanned<raw::Duration>>, field: &str, positive: bool| match v
            {
                None => {
                    c.error(
                        kind_span.clone(),
                        format!("service kind {kind:?} needs `{field}`"),
                    );
                    None
                }
                Some(d) if positive && d.get_ref().0 == SimTime::ZERO => {
                    c.error(d.span(), format!("`{field}` must be longer than zero"));
                    None
                }
                Some(d) => Some(d.get_ref().0),
            };
        let time = match kind {
            "exponential" | "deterministic" | "lognormal" => {
                let mean = need_duration(self, &s.mean, "mean", true);
                let cv = if kind == "lognormal" {
                    match &s.cv {
                        None => {
                            self.error(kind_span.clone(), "service kind \"lognormal\" needs `cv` (standard deviation / mean, e.g. 0.5)");
                            None
                        }
                        Some(cv)
                            if !(cv.get_ref().is_finite()
                                && *cv.get_ref() >= 0.0
                                && *cv.get_ref() <= 100.0) =>
                        {
                            self.error(
                                cv.span(),
                                format!("`cv` must be between 0 and 100, got {}", cv.get_ref()),
                            );
                            None
                        }
                        Some(cv) => Some(*cv.get_ref()),
                    }
                } else {
                    self.unused(&s.cv, "cv", kind);
                    Some(0.0)
                };
                self.unused(&s.base, "base", kind);
                self.unused(&s.per_item, "per_item", kind);
                self.unused(&s.scale, "scale", kind);
                match (mean, cv) {
                    (Some(mean), Some(cv)) => Some(match kind {
                        "exponential" => ServiceTime::Exponential { mean },
                        "deterministic" => ServiceTime::Deterministic { value: mean },
                        _ => ServiceTime::Lognormal { mean, cv },
                    }),
                    _ => None,
                }
            }
            "batch-linear" => {
                let base = need_duration(self, &s.base, "base", false);
                let per_item = need_duration(self, &s.per_item, "per_item", false);
                if let (Some(b), Some(p)) = (base, per_item)
                    && b.0 + p.0 == 0
                {
                    self.error(
                        kind_span.clone(),
                        "batch-linear needs `base` or `per_item` longer than zero",
                    );
                }
                self.unused(&s.mean, "mean", kind);
                self.unused(&s.cv, "cv", kind);
                self.unused(&s.scale, "scale", kind);
                match (base, per_item) {
                    (Some(base), Some(per_item)) => {
                        Some(ServiceTime::BatchLinear { base, per_item })
                    }
                    _ => None,
                }
            }
            "trace" => {
                let scale = match &s.scale {
                    None => Some(1.0),
                    Some(v) => self.positive(v, "scale"),
                };
                self.unused(&s.mean, "mean", kind);
                self.unused(&s.cv, "cv", kind);
                self.unused(&s.base, "base", kind);
                self.unused(&s.per_item, "per_item", kind);
                if let Some(b) = &s.max_batch
                    && *b.get_ref() != 1
                {
                    self.error(
                        b.span(),
                        "trace-driven service does not batch; remove `max_batch`",
                    );
                }
                scale.map(|scale| ServiceTime::Trace { scale })
            }
            other => {
                self.error(
                    kind_span.clone(),
                    format!("unknown service kind {other:?}; expected one of exponential, deterministic, lognormal, batch-linear, trace"),
                );
                None
            }
        };
        let max_batch = match &s.max_batch {
            None => 1,
            Some(b) if !(1..=MAX_BATCH).contains(b.get_ref()) => {
                self.error(
                    b.span(),
                    format!(
                        "max_batch must be between 1 and {MAX_BATCH}, got {}",
                        b.get_ref()
                    ),
                );
                1
            }
            Some(b) => *b.get_ref() as u32,
        };
        let max_wait = s.max_wait.as_ref().map_or(SimTime::ZERO, |w| w.get_ref().0);
        if let Some(w) = &s.max_wait
            && max_batch == 1
            && w.get_ref().0 > SimTime::ZERO
        {
            self.error(w.span(), "max_wait only matters with max_batch > 1");
        }
        if self.problems.len() > before {
            return None;
        }
        time.map(|time| ServiceModel {
            time,
            batching: Batching {
                max_batch,
                max_wait,
            },
        })
    }
}
