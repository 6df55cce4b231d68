//! Iteration time as the sum of its operators, each timed from measured kernel data
//! ([`super::kernels`]), in the manner of NVIDIA's AIConfigurator:
//!
//! - per layer: the QKV, output, gate/up and down projections (GEMMs at the step's token count),
//!   fused add-norm and activation kernels (bytes over 80 % of the GPU's bandwidth, at least
//!   3 us each), and two
//!   all-reduces of the activations under tensor parallelism; for a mixture of experts, the
//!   measured fused-MoE kernel in place of the MLP GEMMs;
//! - the output projection (bf16) for each sequence that samples a token;
//! - context attention of the prompt chunks: `c` chunks whose causal (query, key) pairs sum to
//!   `P` cost what `c` prompts of `sqrt(2 P / c)` tokens cost in the table (equal work), plus
//!   RoPE and KV-cache writes;
//! - generation attention of the decoding sequences at their mean context;
//! - the engine's CPU time per step: a fixed part and a part per sequence in the batch.
//!
//! Because each op is measured, the step time rises with batch as the kernels do (GEMMs stay
//! flat while memory-bound, then grow with tile waves), not as one max(compute, memory) line.
//! Linear parts are folded into curves over tokens at construction, so timing a step is a few
//! table lookups.

use super::gpu::GpuSpec;
use super::kernels::{Grid, KernelTable, interpolate};
use super::model::{Precision, Variant};
use super::roofline::Step;
use super::table::Curve;

/// Share of peak bandwidth that elementwise kernels (norms, activations) reach; AIConfigurator's
/// default for its memory-bound ops.
const ELEMENTWISE_BANDWIDTH: f64 = 0.8;

/// Least time of one elementwise kernel (its launch and tail), as AIConfigurator floors its
/// memory-bound ops: about 3 us per kernel per layer.
const ELEMENTWISE_FLOOR_S: f64 = 3e-6;

/// Memory-bound work around context attention that the attention tables leave out (applying
/// RoPE, writing the KV cache): about 13.2 us per layer per step that prefills, nearly constant
/// in batch and length (AIConfigurator's analytic ops, checked against its SDK).
const CONTEXT_EXTRA_S: f64 = 13.2e-6;

/// CPU time of the serving engine per iteration.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepOverhead {
    pub fixed_s: f64,
    pub per_seq_s: f64,
}

impl StepOverhead {
    /// CPU seconds of a step over these sequences (none for an empty step).
    #[inline]
    pub fn seconds(&self, s: &Step) -> f64 {
        if s.tokens() == 0 {
            return 0.0;
        }
        self.fixed_s + self.per_seq_s * (s.prefill_seqs + s.decode_seqs) as f64
    }
}

/// A pool's iteration timing from kernel tables.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelModel {
    /// Token-parallel work of all layers against the tokens in the step.
    linear: Curve,
    logits: Curve,
    context: &'static Grid,
    context_scale: f64,
    /// RoPE and KV-cache writes of a prefilling step, all layers.
    context_extra_s: f64,
    generation: &'static Grid,
    generation_scale: f64,
    /// The generation grid's rows as curves over keys, for decode runs in closed form.
    generation_rows: Vec<Curve>,
    overhead: StepOverhead,
    /// What timed the pool, for reports: engine, version, GPU and any approximation.
    pub description: String,
}

impl KernelModel {
    /// The model for `variant` on `tp` GPUs of `gpu`, from `table`; an error says why the table
    /// cannot time it (the caller falls back to the roofline and says so).
    pub fn new(
        table: &'static KernelTable,
        variant: &Variant,
        gpu: &GpuSpec,
        tp: u32,
        overhead: StepOverhead,
    ) -> Result<KernelModel, String> {
        let a = &variant.architecture;
        let dtype = match variant.weights {
            Precision::Bf16 | Precision::Fp16 => Precision::Bf16,
            Precision::Fp8 => Precision::Fp8,
            p => return Err(format!("no kernel data for {p} weights")),
        };
        if variant.sparse_2_4 {
            return Err("no kernel data for 2:4-sparse weights".into());
        }
        let gemm = table
            .gemm(dtype)
            .ok_or_else(|| format!("no {dtype} GEMMs measured"))?;
        let bf16 = table
            .gemm(Precision::Bf16)
            .ok_or("no bf16 GEMMs measured")?;
        if !a.heads.is_multiple_of(tp) {
            return Err(format!("{} heads do not split over {tp} GPUs", a.heads));
        }
        let t = f64::from(tp);
        let (h, inter, hd) = (
            f64::from(a.hidden),
            f64::from(a.intermediate),
            f64::from(a.head_dim),
        );
        let heads = a.heads / tp;
        let kv_heads = (a.kv_heads / tp).max(1);
        let layers = f64::from(a.layers);
        let ms = &table.gemm_m;
        let mut per_m = vec![0.0; ms.len()];
        let mut add = |n: f64, k: f64, times: f64, g: &super::kernels::Gemm| {
            for (acc, v) in per_m.iter_mut().zip(g.by_tokens(n, k)) {
                *acc += times * v;
            }
        };
        let q = f64::from(heads) * hd;
        add(q + 2.0 * f64::from(kv_heads) * hd, h, layers, gemm);
        add(h, q, layers, gemm);
        let mut notes = Vec::new();
        if a.experts > 1 {
            match table.moe(
                dtype,
                a.hidden,
                a.intermediate,
                a.experts,
                a.experts_per_token,
                tp,
            ) {
                Some(m) => {
                    for (acc, &x) in per_m.iter_mut().zip(ms) {
                        *acc += layers * interpolate(&m.tokens, &m.seconds, x);
                    }
                }
                None => {
                    // Each expert's GEMMs over the tokens routed to it, for the experts touched.
                    notes.push("MoE from per-expert GEMMs".to_string());
                    let (e, k) = (f64::from(a.experts), f64::from(a.experts_per_token));
                    let up = gemm.by_tokens(2.0 * inter / t, h);
                    let down = gemm.by_tokens(h, inter / t);
                    for (i, &x) in ms.iter().enumerate() {
                        let touched = variant.experts_touched(x);
                        let per_expert = (x * k / touched).max(1.0);
                        let at = |v: &[f64]| interpolate(ms, v, per_expert);
                        per_m[i] += layers * touched * (at(&up) + at(&down));
                    }
                    let _ = e;
                }
            }
        } else {
            add(2.0 * inter / t, h, layers, gemm);
            add(h, inter / t, layers, gemm);
        }
        // FP8 GEMMs read FP8 activations: each input is quantized first (QKV, output, up and
        // down projections; a fused MoE quantizes inside its kernels).
        if dtype == Precision::Fp8 {
            match &table.quantize {
                Some(qt) => {
                    let mut widths = vec![h, q];
                    if a.experts <= 1 {
                        widths.extend([h, inter / t]);
                    }
                    for (acc, &x) in per_m.iter_mut().zip(ms) {
                        *acc += layers * widths.iter().map(|&k| qt.seconds(k, x)).sum::<f64>();
                    }
                }
                None => notes.push("FP8 activation quantization not measured".to_string()),
            }
        }
        // Per layer: two fused add-norms (read and write 2 x hidden in 16 bits) and the gated
        // activation (read 2 x, write 1 x intermediate / TP), each at least a floor.
        let bandwidth = gpu.bandwidth_bytes_per_s() * ELEMENTWISE_BANDWIDTH;
        let kernel_bytes = [8.0 * h, 8.0 * h, 6.0 * inter / t];
        for (acc, &x) in per_m.iter_mut().zip(ms) {
            *acc += layers
                * kernel_bytes
                    .iter()
                    .map(|b| (x * b / bandwidth).max(ELEMENTWISE_FLOOR_S))
                    .sum::<f64>();
            if tp > 1 {
                let ar = table
                    .allreduce_seconds(tp, x * h * 2.0)
                    .ok_or_else(|| format!("no all-reduce measured on {tp} GPUs"))?;
                *acc += 2.0 * layers * ar;
            }
        }
        let linear = Curve::new(ms.clone(), per_m)?;
        let logits = Curve::new(ms.clone(), bf16.by_tokens(f64::from(a.vocab) / t, h))?;
        let attention = |generation: bool| {
            table
                .attention(generation, variant.kv_cache, heads, kv_heads, a.head_dim)
                .ok_or_else(|| {
                    format!(
                        "no {} attention measured for a {} KV cache",
                        if generation { "generation" } else { "context" },
                        variant.kv_cache
                    )
                })
        };
        let (ctx, ctx_scale, ctx_scaled) = attention(false)?;
        let (gen_, gen_scale, gen_scaled) = attention(true)?;
        if ctx_scaled || gen_scaled {
            notes.push(format!(
                "attention scaled from {}/{} heads",
                if ctx_scaled { ctx.heads } else { gen_.heads },
                if ctx_scaled {
                    ctx.kv_heads
                } else {
                    gen_.kv_heads
                }
            ));
        }
        let mut description = format!(
            "kernels: {} {} on {} (AIConfigurator data",
            table.engine, table.version, table.gpu
        );
        if !notes.is_empty() {
            description.push_str("; ");
            description.push_str(&notes.join("; "));
        }
        description.push(')');
        Ok(KernelModel {
            linear,
            logits,
            context: &ctx.grid,
            context_scale: ctx_scale * layers,
            context_extra_s: CONTEXT_EXTRA_S * layers,
            generation: &gen_.grid,
            generation_scale: gen_scale * layers,
            // Each row with one more point at twice the last length and twice its time, so the
            // curve extrapolates in proportion, as the grid does.
            generation_rows: (0..gen_.grid.rows.len())
                .map(|r| {
                    let (mut x, mut y) = (gen_.grid.cols.clone(), gen_.grid.row(r).to_vec());
                    let (lx, ly) = (*x.last().expect("columns"), *y.last().expect("values"));
                    x.push(2.0 * lx);
                    y.push(2.0 * ly);
                    Curve::new(x, y)
                })
                .collect::<Result<_, _>>()?,
            overhead,
            description,
        })
    }

    fn context_s(&self, s: &Step) -> f64 {
        if s.prefill_seqs == 0 {
            return 0.0;
        }
        let b = s.prefill_seqs as f64;
        let len = (2.0 * s.prefill_pairs / b).sqrt();
        // Past the longest prompt measured, attention's work grows with the square of the
        // length: as that many more prompts of the longest length.
        let longest = *self.context.cols.last().expect("a grid has columns");
        let t = if len > longest {
            self.context.at(b * (len / longest).powi(2), longest)
        } else {
            self.context.at(b, len)
        };
        self.context_scale * t + self.context_extra_s
    }

    fn fixed_s(&self, s: &Step) -> f64 {
        self.linear.at(s.tokens() as f64)
            + self.logits.at(s.logits as f64)
            + self.context_s(s)
            + self.overhead.seconds(s)
    }

    /// Seconds one iteration takes.
    #[inline]
    pub fn seconds(&self, s: &Step) -> f64 {
        if s.tokens() == 0 {
            return 0.0;
        }
        let decode = if s.decode_seqs > 0 {
            let b = s.decode_seqs as f64;
            self.generation_scale * self.generation.at(b, s.decode_context as f64 / b)
        } else {
            0.0
        };
        self.fixed_s(s) + decode
    }

    /// Seconds of the first `j` iterations of a decode run starting with `first` (each later
    /// iteration has one more token of context per sequence).
    pub fn run_seconds(&self, first: &Step, j: u32) -> f64 {
        if j == 0 || first.tokens() == 0 {
            return 0.0;
        }
        let mut total = f64::from(j) * self.fixed_s(first);
        if first.decode_seqs > 0 {
            // At a fixed batch the grid is a weighted sum of two rows, each linear between
            // columns: sum each row's progression and weigh them.
            let b = first.decode_seqs as f64;
            let s0 = first.decode_context as f64 / b;
            let (r, w0, w1) = self.generation.row_weights(b);
            let mut sum = w0 * self.generation_rows[r].sum_progression(s0, 1.0, j);
            if w1 > 0.0 {
                sum += w1 * self.generation_rows[r + 1].sum_progression(s0, 1.0, j);
            }
            total += self.generation_scale * sum;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{GpuCatalog, kernels, library};

    fn model(name: &str, gpu: &str, weights: Precision, tp: u32) -> KernelModel {
        let variant = Variant {
            architecture: library::find(name).unwrap(),
            weights,
            kv_cache: Precision::Bf16,
            sparse_2_4: false,
            quality: None,
        };
        let spec = GpuCatalog::bundled().find(gpu).unwrap().clone();
        let table = kernels::bundled(gpu, "vllm").unwrap();
        KernelModel::new(table, &variant, &spec, tp, StepOverhead::default()).unwrap()
    }

    fn decode(m: &KernelModel, batch: u64, context: u64) -> f64 {
        let mut s = Step::default();
        for _ in 0..batch {
            s.add_decode(context);
        }
        m.seconds(&s)
    }

    #[test]
    fn decode_time_rises_slowly_and_smoothly_with_batch() {
        let m = model("llama-3.1-8b", "H100", Precision::Bf16, 1);
        let one = decode(&m, 1, 1000);
        // Reading 16 GB of bf16 weights at 3.35 TB/s takes ~4.8 ms; kernels reach most of it.
        assert!((4.5e-3..8.0e-3).contains(&one), "batch 1: {one}");
        let mut last = one;
        for b in [2, 4, 8, 16, 32, 64, 128, 256] {
            let t = decode(&m, b, 1000);
            assert!(t >= last * 0.98, "batch {b}: {t} after {last}");
            last = t;
        }
        assert!(last < 4.0 * one, "batch 256 {last} vs 1 {one}");
    }

    #[test]
    fn a_decode_run_sums_its_iterations() {
        let m = model("llama-3.1-70b", "H100", Precision::Bf16, 4);
        let mut first = Step::default();
        for _ in 0..24 {
            first.add_decode(700);
        }
        let (mut step, mut total) = (first, 0.0);
        for j in 0..200u32 {
            let run = m.run_seconds(&first, j);
            assert!(
                (run - total).abs() <= 1e-9 * total.max(1.0),
                "j {j}: {run} vs {total}"
            );
            total += m.seconds(&step);
            step.decode_context += first.decode_seqs;
        }
    }

    #[test]
    fn past_the_tables_attention_keeps_its_shape() {
        let m = model("llama-3.1-8b", "H100", Precision::Bf16, 1);
        // Context attention: quadratic in the prompt past the longest measured (16k).
        let ctx = |n: u64| {
            let mut s = Step::default();
            s.add_prefill(0, n, true);
            m.context_s(&s) - m.context_extra_s
        };
        let ratio = ctx(65_536) / ctx(32_768);
        assert!((3.9..4.1).contains(&ratio), "{ratio}");
        // A decode run past the longest KV measured sums its single steps.
        let mut first = Step::default();
        for _ in 0..3000 {
            first.add_decode(200_000);
        }
        let (mut step, mut total) = (first, 0.0);
        for _ in 0..50 {
            total += m.seconds(&step);
            step.decode_context += first.decode_seqs;
        }
        let run = m.run_seconds(&first, 50);
        assert!((run - total).abs() < 1e-9 * total, "{run} vs {total}");
    }

    #[test]
    fn prefill_grows_with_the_prompt_and_fp8_is_faster() {
        let m = model("llama-3.1-8b", "H100", Precision::Bf16, 1);
        let f = model("llama-3.1-8b", "H100", Precision::Fp8, 1);
        let prefill = |m: &KernelModel, n: u64| {
            let mut s = Step::default();
            s.add_prefill(0, n, true);
            m.seconds(&s)
        };
        let (short, long) = (prefill(&m, 1024), prefill(&m, 8192));
        assert!(long > 7.0 * short && long < 11.0 * short, "{short} {long}");
        assert!(prefill(&f, 8192) < 0.8 * long);
    }

    #[test]
    fn tensor_parallelism_adds_all_reduces_and_splits_the_work() {
        let one = model("llama-3.1-8b", "H100", Precision::Bf16, 1);
        let two = model("llama-3.1-8b", "H100", Precision::Bf16, 2);
        let (t1, t2) = (decode(&one, 32, 1000), decode(&two, 32, 1000));
        assert!(t2 < t1 && t2 > 0.5 * t1, "TP 2 {t2} vs TP 1 {t1}");
    }

    #[test]
    fn a_mixture_of_experts_uses_the_measured_fused_kernel() {
        let m = model("mixtral-8x7b", "H100", Precision::Bf16, 2);
        assert!(!m.description.contains("per-expert"), "{}", m.description);
        assert!(decode(&m, 64, 500) > decode(&m, 1, 500));
    }
}

#[cfg(test)]
mod aiconfigurator {
    //! Step times against AIConfigurator's own composition of the same kernel data: its SDK
    //! (`aiconfigurator-core` 0.12.0, vLLM 0.24.0 on `h100_sxm`, bf16, TP 1) run at development
    //! time gave these milliseconds (GPU time; it adds no per-step CPU time). Qwen3's QK-norm,
    //! which AIConfigurator adds to context attention (26 us per layer), is not modelled here.
    use super::*;
    use crate::llm::{GpuCatalog, kernels, library};

    fn model(name: &str) -> KernelModel {
        let variant = Variant {
            architecture: library::find(name).unwrap(),
            weights: Precision::Bf16,
            kv_cache: Precision::Bf16,
            sparse_2_4: false,
            quality: None,
        };
        let spec = GpuCatalog::bundled().find("H100").unwrap().clone();
        let table = kernels::bundled("H100", "vllm").unwrap();
        KernelModel::new(table, &variant, &spec, 1, StepOverhead::default()).unwrap()
    }

    fn step(prefill: &[u64], decodes: u64, kv: u64) -> Step {
        let mut s = Step::default();
        for &n in prefill {
            s.add_prefill(0, n, true);
        }
        for _ in 0..decodes {
            s.add_decode(kv - 1);
        }
        s
    }

    #[test]
    fn steps_agree_with_aiconfigurator_within_eight_percent() {
        let (q8, q14) = (model("qwen3-8b"), model("qwen3-14b"));
        let cases = [
            (&q8, step(&[], 1, 450), 6.34),
            (&q8, step(&[], 8, 450), 6.71),
            (&q8, step(&[], 64, 450), 8.98),
            (&q8, step(&[233], 0, 0), 10.12),
            (&q8, step(&[2000], 0, 0), 43.49),
            (&q14, step(&[2000], 0, 0), 79.93),
            (&q14, step(&[2000; 4], 0, 0), 323.33),
            (&q14, step(&[], 100, 2050), 23.39),
            (&q14, step(&[2048], 100, 2050), 97.34),
        ];
        for (m, s, aic_ms) in cases {
            // Less the QK-norm AIConfigurator adds to each prefilling step.
            let layers = if std::ptr::eq(m, &q8) { 36.0 } else { 40.0 };
            let aic_ms = aic_ms
                - if s.prefill_seqs > 0 {
                    0.0264 * layers
                } else {
                    0.0
                };
            let ours = m.seconds(&s) * 1e3;
            let ratio = ours / aic_ms;
            assert!(
                (0.92..1.08).contains(&ratio),
                "{} prefill {} + {} decodes: {ours:.2} ms vs AIConfigurator {aic_ms:.2} ms",
                m.description,
                s.prefill_tokens,
                s.decode_seqs
            );
        }
    }
}
