//! LLM models: architecture, precisions, sparsity, stated quality, engine settings and
//! efficiency overrides.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::scenario::spanned::Spanned;

use super::{Checker, LlmModel};
use crate::llm::{
    Admission, DEFAULT_EFFICIENCY, Engine, EngineKind, IterationTable, Precision, Quality,
    Scheduler, Settings, Variant, library,
};
use crate::scenario::raw;

impl Checker<'_> {
    /// Errors for LLM fields on a request-level model.
    pub(super) fn no_llm_fields(&mut self, m: &raw::Model) {
        let spans = [
            ("weights", m.weights.as_ref().map(Spanned::span)),
            ("kv_cache", m.kv_cache.as_ref().map(Spanned::span)),
            ("sparsity", m.sparsity.as_ref().map(Spanned::span)),
            ("serving", m.serving.as_ref().map(Spanned::span)),
            ("engine", m.engine.as_ref().map(Spanned::span)),
            (
                "engine_version",
                m.engine_version.as_ref().map(Spanned::span),
            ),
            ("efficiency", m.efficiency.as_ref().map(Spanned::span)),
            (
                "iteration_tables",
                m.iteration_tables
                    .as_ref()
                    .and_then(|t| t.first())
                    .map(Spanned::span),
            ),
        ];
        for (field, span) in spans {
            if let Some(span) = span {
                self.error(
                    span,
                    format!("`{field}` applies to LLM models; add `architecture` (or `shape`) to make this one, or remove it"),
                );
            }
        }
    }

    fn precision(
        &mut self,
        v: &Option<Spanned<String>>,
        field: &str,
        allowed: &[Precision],
    ) -> Option<Precision> {
        let Some(v) = v else {
            return Some(Precision::Bf16);
        };
        match Precision::parse(v.get_ref()).filter(|p| allowed.contains(p)) {
            Some(p) => Some(p),
            None => {
                self.error(
                    v.span(),
                    format!(
                        "`{field}` must be one of {}, got {:?}",
                        allowed
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        v.get_ref()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn count(
        &mut self,
        v: &Option<Spanned<i64>>,
        field: &str,
        default: u32,
        max: i64,
    ) -> Option<u32> {
        match v {
            None => Some(default),
            Some(x) if (1..=max).contains(x.get_ref()) => Some(*x.get_ref() as u32),
            Some(x) => {
                self.error(
                    x.span(),
                    format!(
                        "`{field}` must be a whole number from 1 to {max}, got {}",
                        x.get_ref()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn fraction(
        &mut self,
        v: &Option<Spanned<f64>>,
        field: &str,
        default: f64,
    ) -> Option<f64> {
        match v {
            None => Some(default),
            Some(x) if x.get_ref().is_finite() && *x.get_ref() > 0.0 && *x.get_ref() <= 1.0 => {
                Some(*x.get_ref())
            }
            Some(x) => {
                self.error(
                    x.span(),
                    format!("`{field}` is a fraction in (0, 1], got {}", x.get_ref()),
                );
                None
            }
        }
    }

    /// A bundled architecture by name, or a message listing the bundled ones.
    pub(super) fn bundled_architecture(
        &mut self,
        a: &Spanned<String>,
    ) -> Option<crate::llm::Architecture> {
        library::find(a.get_ref()).or_else(|| {
            self.error(
                a.span(),
                format!(
                    "no bundled architecture {:?}; bundled: {} (or write one out as `shape`)",
                    a.get_ref(),
                    library::names().join(", ")
                ),
            );
            None
        })
    }

    pub(super) fn llm_model(
        &mut self,
        name: &str,
        m: &raw::Model,
        base: &Path,
    ) -> Option<LlmModel> {
        let before = self.problems.len();
        let architecture = match (&m.architecture, &m.shape) {
            (Some(a), None) => self.bundled_architecture(a),
            (None, Some(shape)) => match shape.get_ref().clone().build(name) {
                Ok(a) => Some(a),
                Err(message) => {
                    self.error(shape.span(), message);
                    None
                }
            },
            (Some(a), Some(_)) => {
                self.error(
                    a.span(),
                    "give `architecture` (a bundled model) or `shape` (written out), not both",
                );
                None
            }
            (None, None) => unreachable!("called for LLM models only"),
        };
        let weights = self.precision(
            &m.weights,
            "weights",
            &[
                Precision::Bf16,
                Precision::Fp16,
                Precision::Fp8,
                Precision::Int8,
                Precision::Int4,
            ],
        );
        let kv_cache = self.precision(
            &m.kv_cache,
            "kv_cache",
            &[Precision::Bf16, Precision::Fp16, Precision::Fp8],
        );
        let sparse_2_4 = match &m.sparsity {
            None => Some(false),
            Some(s) if s.get_ref() == "2:4" => Some(true),
            Some(s) => {
                self.error(
                    s.span(),
                    format!(
                        "`sparsity` can be \"2:4\" (structured, on sparse tensor cores), got {:?}",
                        s.get_ref()
                    ),
                );
                None
            }
        };
        let quality = m.quality.as_ref().and_then(|q| {
            let q = q.get_ref();
            if q.value.get_ref().is_finite() {
                Some(Quality {
                    metric: q.metric.get_ref().clone(),
                    value: *q.value.get_ref(),
                })
            } else {
                self.error(q.value.span(), "`value` must be a number");
                None
            }
        });
        let max_context = architecture.as_ref().map_or(u32::MAX, |a| a.max_context);
        let engine = self.engine(m)?;
        let mut settings = Settings::for_engine(engine, max_context);
        if let Some(s) = &m.serving {
            let s = s.get_ref();
            let d = settings;
            // Without chunked prefill a prompt runs whole: by default the longest accepted is
            // the step's token budget (the one given here, else the engine's).
            let budget = s
                .max_batched_tokens
                .as_ref()
                .and_then(|v| u32::try_from(*v.get_ref()).ok())
                .filter(|&v| v >= 1)
                .unwrap_or(d.max_batched_tokens);
            let max_model_len_default = if s.chunked_prefill.unwrap_or(d.chunked_prefill) {
                max_context
            } else {
                max_context.min(budget)
            };
            settings = Settings {
                max_seqs: self.count(&s.max_seqs, "max_seqs", d.max_seqs, 65_536)?,
                max_batched_tokens: self.count(
                    &s.max_batched_tokens,
                    "max_batched_tokens",
                    d.max_batched_tokens,
                    1 << 24,
                )?,
                block_tokens: self.count(&s.block_tokens, "block_tokens", d.block_tokens, 4096)?,
                gpu_memory_utilization: self.fraction(
                    &s.gpu_memory_utilization,
                    "gpu_memory_utilization",
                    d.gpu_memory_utilization,
                )?,
                chunked_prefill: s.chunked_prefill.unwrap_or(d.chunked_prefill),
                prefix_caching: s.prefix_caching.unwrap_or(d.prefix_caching),
                max_model_len: self.count(
                    &s.max_model_len,
                    "max_model_len",
                    max_model_len_default,
                    i64::from(max_context),
                )?,
                step_limits_given: (s.max_seqs.is_some(), s.max_batched_tokens.is_some()),
                ..self.engine_overrides(s, d)?
            };
            if !settings.chunked_prefill && settings.max_batched_tokens < settings.max_model_len {
                let at = s.max_batched_tokens.as_ref().map_or(
                    m.serving.as_ref().map(Spanned::span).unwrap_or(0..0),
                    Spanned::span,
                );
                self.error(
                    at,
                    format!(
                        "without chunked prefill a whole prompt runs in one step: max_batched_tokens ({}) must be at least max_model_len ({}){}",
                        settings.max_batched_tokens,
                        settings.max_model_len,
                        if s.chunked_prefill.is_none() && !engine.chunked_prefill {
                            format!(
                                " ({} runs prompts whole by default; or set chunked_prefill = true)",
                                engine.label()
                            )
                        } else {
                            String::new()
                        }
                    ),
                );
            }
        }
        let mut efficiency = DEFAULT_EFFICIENCY;
        if let Some(e) = &m.efficiency {
            let e = e.get_ref();
            efficiency.compute = self.fraction(&e.compute, "compute", efficiency.compute)?;
            efficiency.compute_8bit =
                self.fraction(&e.compute_8bit, "compute_8bit", efficiency.compute_8bit)?;
            efficiency.memory = self.fraction(&e.memory, "memory", efficiency.memory)?;
            efficiency.interconnect =
                self.fraction(&e.interconnect, "interconnect", efficiency.interconnect)?;
            if let Some(d) = &e.allreduce_latency {
                efficiency.allreduce_latency_s = d.get_ref().0.as_secs_f64();
            }
            if let Some(d) = &e.iteration_overhead {
                efficiency.iteration_overhead_s = d.get_ref().0.as_secs_f64();
            }
        }
        if self.problems.len() > before {
            return None;
        }
        let variant = Variant {
            architecture: architecture?,
            weights: weights?,
            kv_cache: kv_cache?,
            sparse_2_4: sparse_2_4?,
            quality,
        };
        let tables = self.iteration_tables(m, &variant, base)?;
        Some(LlmModel {
            variant,
            settings,
            efficiency,
            tables,
        })
    }

    /// The model's engine and version (the engine-agnostic default without `engine`).
    fn engine(&mut self, m: &raw::Model) -> Option<Engine> {
        let Some(name) = &m.engine else {
            if let Some(v) = &m.engine_version {
                self.error(v.span(), "`engine_version` needs `engine`");
                return None;
            }
            return Some(Engine::GENERIC);
        };
        let Some(kind) = EngineKind::parse(name.get_ref()) else {
            let known: Vec<&str> = EngineKind::ALL.iter().map(|k| k.as_str()).collect();
            self.error(
                name.span(),
                format!(
                    "unknown engine {:?}; known: {}",
                    name.get_ref(),
                    known.join(", ")
                ),
            );
            return None;
        };
        let version = m.engine_version.as_ref();
        match Engine::find(kind, version.map(|v| v.get_ref().as_str())) {
            Ok(e) => Some(e),
            Err(known) => {
                let v = version.expect("a default version always exists");
                self.error(
                    v.span(),
                    format!(
                        "unknown {} version {:?}; known: {}",
                        kind.as_str(),
                        v.get_ref(),
                        known.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// The engine behaviour a model's `serving` table overrides.
    fn engine_overrides(&mut self, s: &raw::LlmSettings, d: Settings) -> Option<Settings> {
        let before = self.problems.len();
        let mut out = d;
        if let Some(v) = &s.scheduler {
            match Scheduler::parse(v.get_ref()) {
                Some(x) => out.scheduler = x,
                None => self.error(
                    v.span(),
                    format!(
                        "`scheduler` is \"mixed\" or \"prefill-first\", got {:?}",
                        v.get_ref()
                    ),
                ),
            }
        }
        if let Some(v) = &s.admission {
            match Admission::parse(v.get_ref()) {
                Some(x) => out.admission = x,
                None => self.error(
                    v.span(),
                    format!(
                        "`admission` is \"preempt\", \"reserve\" or \"token-ratio\", got {:?}",
                        v.get_ref()
                    ),
                ),
            }
        }
        if let Some(n) = self.count(&s.scheduler_steps, "scheduler_steps", 1, 64) {
            out.scheduler_steps = n;
        }
        // The engine's CPU per step at this schedule: multi-step scheduling spreads part of it
        // over the steps scheduled together.
        out.overhead = out.engine.overhead_at(out.scheduler_steps);
        let secs =
            |d: &Option<Spanned<raw::Duration>>| d.as_ref().map(|d| d.get_ref().0.as_secs_f64());
        if let Some(x) = secs(&s.step_overhead) {
            out.overhead.fixed_s = x;
        }
        if let Some(x) = secs(&s.sequence_overhead) {
            out.overhead.per_seq_s = x;
        }
        if let Some(x) = secs(&s.request_overhead) {
            out.request_overhead_s = x;
        }
        if let Some(x) = secs(&s.request_cpu) {
            out.request_cpu_s = x;
        }
        if let Some(v) = &s.timing {
            match v.get_ref().as_str() {
                "kernels" => out.force_roofline = false,
                "roofline" => out.force_roofline = true,
                other => self.error(
                    v.span(),
                    format!("`timing` is \"kernels\" or \"roofline\", got {other:?}"),
                ),
            }
        }
        (self.problems.len() == before).then_some(out)
    }

    /// The model's measured iteration tables: each must be for this architecture and these
    /// precisions, and no two for the same GPU and tensor-parallel degree.
    fn iteration_tables(
        &mut self,
        m: &raw::Model,
        v: &Variant,
        base: &Path,
    ) -> Option<Vec<(Range<usize>, Arc<IterationTable>)>> {
        let before = self.problems.len();
        let mut out: Vec<(Range<usize>, Arc<IterationTable>)> = Vec::new();
        for path in m.iteration_tables.iter().flatten() {
            let at = path.span();
            let t = match IterationTable::from_path(&base.join(path.get_ref()), path.get_ref()) {
                Ok(t) => t,
                Err(e) => {
                    self.error(at, e);
                    continue;
                }
            };
            let wanted = (v.architecture.name.as_str(), v.weights, v.kv_cache);
            if (t.architecture.as_str(), t.weights, t.kv_cache) != wanted {
                self.error(
                    at,
                    format!(
                        "{} was measured for {} with {} weights and {} KV cache; this model is {} with {} and {}",
                        t.path,
                        t.architecture,
                        t.weights.as_str(),
                        t.kv_cache.as_str(),
                        wanted.0,
                        wanted.1.as_str(),
                        wanted.2.as_str()
                    ),
                );
                continue;
            }
            if sparse_or_unknown_gpu(self, &t, v, &at) {
                continue;
            }
            if let Some((_, other)) = out.iter().find(|(_, o)| o.gpu == t.gpu && o.tp == t.tp) {
                let message = format!(
                    "{} and {} both time {} at tensor_parallel = {}; keep one",
                    other.path, t.path, t.gpu, t.tp
                );
                self.error(at, message);
                continue;
            }
            out.push((at, Arc::new(t)));
        }
        (self.problems.len() == before).then_some(out)
    }
}

/// A table for a GPU with no specification, or for a sparse variant (a table measures one
/// kernel set; 2:4 sparsity changes it), is an error.
fn sparse_or_unknown_gpu(
    c: &mut Checker<'_>,
    t: &IterationTable,
    v: &Variant,
    at: &Range<usize>,
) -> bool {
    if v.sparse_2_4 {
        c.error(
            at.clone(),
            format!(
                "{}: a measured table times the dense model; remove `sparsity` or the table",
                t.path
            ),
        );
        return true;
    }
    if c.gpus.find(&t.gpu).is_none() {
        c.error(
            at.clone(),
            format!(
                "{}: no GPU specification named {:?} (see pricing/gpus.csv)",
                t.path, t.gpu
            ),
        );
        return true;
    }
    false
}
