//! GPU specifications written in the scenario (`[gpus.NAME]`): a GPU the bundled table lacks,
//! or measured figures that replace a bundled GPU's datasheet ones for this scenario.

use crate::scenario::spanned::Spanned;

use super::{Checker, Entry};
use crate::llm::GpuSpec;
use crate::scenario::raw;

impl Checker<'_> {
    /// Adds or replaces the scenario's GPU specifications in the checker's catalog.
    pub(super) fn gpus(&mut self, entries: Vec<Entry<Option<raw::Gpu>>>) {
        for (name, g) in entries {
            let Some(g) = g else { continue };
            if let Some(spec) = self.gpu(&name, &g) {
                self.gpus.insert(spec);
            }
        }
    }

    fn gpu(&mut self, name: &Spanned<String>, g: &raw::Gpu) -> Option<GpuSpec> {
        let base_name = g.base.as_ref().map_or(name.get_ref(), Spanned::get_ref);
        let base = self.gpus.find(base_name).cloned();
        if let (Some(b), None) = (&g.base, &base) {
            let known: Vec<&str> = self
                .gpus
                .rows()
                .iter()
                .map(|r| r.gpu_model.as_str())
                .collect();
            self.error(
                b.span(),
                format!(
                    "no bundled GPU {:?} to start from; known: {}",
                    b.get_ref(),
                    known.join(", ")
                ),
            );
            return None;
        }
        let before = self.problems.len();
        let positive = |c: &mut Self, v: &Option<Spanned<f64>>, field: &str, from: Option<f64>| {
            match v {
                Some(x) if x.get_ref().is_finite() && *x.get_ref() > 0.0 => Some(*x.get_ref()),
                Some(x) => {
                    c.error(
                        x.span(),
                        format!("`{field}` must be a number > 0, got {}", x.get_ref()),
                    );
                    None
                }
                None if from.is_some() => from,
                None => {
                    c.error(
                        name.span(),
                        format!(
                            "GPU {:?} is not bundled, so it needs `{field}` (or `base = \"H100\"` to start from a bundled one)",
                            name.get_ref()
                        ),
                    );
                    None
                }
            }
        };
        let b = base.as_ref();
        let memory_gib = positive(self, &g.memory_gib, "memory_gib", b.map(|b| b.memory_gib));
        let bandwidth = positive(
            self,
            &g.memory_bandwidth_gb_per_s,
            "memory_bandwidth_gb_per_s",
            b.map(|b| b.memory_bandwidth_gb_per_s),
        );
        let bf16 = positive(
            self,
            &g.dense_bf16_tflops,
            "dense_bf16_tflops",
            b.map(|b| b.dense_bf16_tflops),
        );
        let interconnect = positive(
            self,
            &g.interconnect_gb_per_s,
            "interconnect_gb_per_s",
            b.map(|b| b.interconnect_gb_per_s),
        );
        // Optional figures: absent means the bundled one (or none).
        let optional =
            |c: &mut Self, v: &Option<Spanned<f64>>, field: &str, from: Option<f64>| match v {
                None => Some(from),
                Some(_) => positive(c, v, field, None).map(Some),
            };
        let fp8 = optional(
            self,
            &g.dense_fp8_tflops,
            "dense_fp8_tflops",
            b.and_then(|b| b.dense_fp8_tflops),
        );
        let int8 = optional(
            self,
            &g.dense_int8_tops,
            "dense_int8_tops",
            b.and_then(|b| b.dense_int8_tops),
        );
        let tdp = optional(self, &g.tdp_watts, "tdp_watts", b.and_then(|b| b.tdp_watts));
        if self.problems.len() > before {
            return None;
        }
        Some(GpuSpec {
            gpu_model: name.get_ref().clone(),
            variant: b.map_or_else(
                || "scenario".to_string(),
                |b| format!("{} (scenario)", b.variant),
            ),
            memory_gib: memory_gib?,
            memory_bandwidth_gb_per_s: bandwidth?,
            dense_bf16_tflops: bf16?,
            dense_fp8_tflops: fp8?,
            dense_int8_tops: int8?,
            sparse_tensor_cores: g
                .sparse_tensor_cores
                .unwrap_or(b.is_some_and(|b| b.sparse_tensor_cores)),
            interconnect_gb_per_s: interconnect?,
            tdp_watts: tdp?,
            source: g
                .source
                .clone()
                .unwrap_or_else(|| "the scenario file".to_string()),
        })
    }
}
