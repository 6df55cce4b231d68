//! Iteration time of an LLM replica from a roofline, and whether a model fits on its GPUs.
//!
//! One iteration of a continuous-batching engine runs every scheduled sequence through the
//! model once: prompt chunks (prefill) and one token for each decoding sequence. Its time is the
//! larger of two bounds, plus communication and a fixed overhead:
//!
//! - compute: `2 x active params x tokens` for the matrix multiplies (at the weights' precision,
//!   faster with 2:4 sparsity on GPUs that have sparse tensor cores) plus the attention
//!   terms `4 x layers x heads x head_dim` per (query, key) pair (16-bit), over
//!   `TP x peak x compute efficiency`;
//! - memory: weights read once per iteration (only the experts the batch touches, for a mixture
//!   of experts), KV cache read for attention and written for the new tokens, over
//!   `TP x bandwidth x memory efficiency`;
//! - tensor parallelism: two ring all-reduces of the activations per layer,
//!   `2 (TP - 1) / TP x bytes / link bandwidth` plus a fixed latency each;
//! - a per-iteration overhead (scheduling, sampling, kernel launches).
//!
//! The efficiency factors are the model's only free parameters; `DEFAULT_EFFICIENCY` documents
//! where their values come from.

use super::gpu::GpuSpec;
use super::model::Variant;

/// How far real kernels fall short of the datasheet peaks, and fixed costs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Efficiency {
    /// Fraction of peak tensor throughput that 16-bit matrix multiplies and attention reach.
    pub compute: f64,
    /// The same for matrix multiplies in 8 bits (fp8 or int8 weights and activations), which
    /// reach a smaller share of their doubled peak.
    pub compute_8bit: f64,
    /// Fraction of peak memory bandwidth that weight and KV reads reach.
    pub memory: f64,
    /// Fraction of link bandwidth an all-reduce reaches.
    pub interconnect: f64,
    /// Fixed cost of one all-reduce, seconds.
    pub allreduce_latency_s: f64,
    /// Fixed cost of one iteration (scheduler, sampling, launches), seconds.
    pub iteration_overhead_s: f64,
}

/// Fitted to the calibration half of the published measurements in
/// `docs/llm-measurements.csv` (`cargo run --release --example llm_validation -- --fit`): 16-bit
/// matrix multiplies reach 70 % of peak, 8-bit ones 40 % of their (doubled) peak, and weight and
/// KV reads 60 % of peak bandwidth, which absorbs the per-step costs of kernel launches and
/// scheduling (the fit put the fixed overhead at zero). On the held-out half the median error is
/// 9.5 % (`docs/llm-validation.md`). Interconnect figures are not fitted: 70 % of link bandwidth
/// and 10 us per all-reduce, typical of NCCL on NVLink.
pub const DEFAULT_EFFICIENCY: Efficiency = Efficiency {
    compute: 0.70,
    compute_8bit: 0.40,
    memory: 0.60,
    interconnect: 0.7,
    allreduce_latency_s: 10e-6,
    iteration_overhead_s: 0.0,
};

/// Matrix-multiply speed-up of 2:4-sparse weights on sparse tensor cores (see `sparse_speedup`).
pub const SPARSE_2_4_SPEEDUP: f64 = 1.5;

/// The work of one iteration.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Step {
    /// Prompt tokens processed (all chunks).
    pub prefill_tokens: u64,
    /// Attention (query, key) pairs of the prompt chunks: for a chunk of `n` tokens after `c`
    /// already cached, `n x c + n (n + 1) / 2`.
    pub prefill_pairs: f64,
    /// Keys read by the prompt chunks: `c + n` per chunk.
    pub prefill_keys: u64,
    /// Queries times the keys before and in their chunk, `n x (c + n)` per chunk: the size
    /// measured attention kernels scale with (the causal mask does not halve their work).
    pub prefill_query_keys: f64,
    /// Prompt chunks in the step (one per prefilling sequence).
    pub prefill_seqs: u64,
    /// Sequences generating one token each.
    pub decode_seqs: u64,
    /// Tokens of context those sequences attend to, summed.
    pub decode_context: u64,
    /// Sequences that produce a token this iteration (decodes, and prompts whose last chunk
    /// runs), each paying the output projection.
    pub logits: u64,
}

impl Step {
    pub fn tokens(&self) -> u64 {
        self.prefill_tokens + self.decode_seqs
    }

    /// A prompt chunk of `n` tokens after `cached` tokens of context; `last` when it completes
    /// the prompt (and so produces the first output token).
    pub fn add_prefill(&mut self, cached: u64, n: u64, last: bool) {
        self.prefill_tokens += n;
        self.prefill_pairs += (n * cached) as f64 + (n * (n + 1)) as f64 / 2.0;
        self.prefill_keys += cached + n;
        self.prefill_query_keys += (n * (cached + n)) as f64;
        self.prefill_seqs += 1;
        self.logits += u64::from(last);
    }

    /// A sequence generating one token with `context` tokens before it.
    pub fn add_decode(&mut self, context: u64) {
        self.decode_seqs += 1;
        self.decode_context += context + 1;
        self.logits += 1;
    }
}

/// A model variant on `tp` GPUs of one type.
#[derive(Clone, Debug, PartialEq)]
pub struct Roofline {
    pub variant: Variant,
    pub gpu: GpuSpec,
    pub tp: u32,
    pub efficiency: Efficiency,
}

/// A [`Roofline`] reduced to the constants of its formulas, so that timing an iteration is a
/// dozen arithmetic operations (the engine times millions of iterations).
#[derive(Clone, Debug, PartialEq)]
pub struct StepModel {
    /// Seconds of compute per token through the layers, per logit, per attention pair.
    token_s: f64,
    logit_s: f64,
    pair_s: f64,
    /// Seconds of memory traffic per KV token read or written.
    kv_s: f64,
    /// Bytes-per-second divisor for weights, and the weights of a dense step (MoE steps depend
    /// on the experts touched).
    weight_bw: f64,
    dense_weights_s: Option<f64>,
    /// Communication: seconds per token, and fixed per step.
    comm_token_s: f64,
    comm_fixed_s: f64,
    overhead_s: f64,
    roofline: Roofline,
}

impl StepModel {
    pub fn new(r: &Roofline) -> StepModel {
        let a = &r.variant.architecture;
        let e = &r.efficiency;
        let tp = f64::from(r.tp);
        let linear_efficiency = if r.variant.weights.computes_natively()
            && r.gpu.peak_flops(r.variant.weights) > r.gpu.peak_bf16_flops()
        {
            e.compute_8bit
        } else {
            e.compute
        };
        let linear_rate =
            r.gpu.peak_flops(r.variant.weights) * r.sparse_speedup() * tp * linear_efficiency;
        let bf16_rate = r.gpu.peak_bf16_flops() * tp * e.compute;
        let weight_bw = tp * r.gpu.bandwidth_bytes_per_s() * e.memory;
        let (comm_token_s, comm_fixed_s) = if r.tp > 1 {
            let per_token = 2.0 * (tp - 1.0) / tp * f64::from(a.hidden) * 2.0
                / (r.gpu.interconnect_bytes_per_s() * e.interconnect);
            let layers2 = 2.0 * f64::from(a.layers);
            (layers2 * per_token, layers2 * e.allreduce_latency_s)
        } else {
            (0.0, 0.0)
        };
        StepModel {
            token_s: 2.0 * a.active_layer_params() / linear_rate,
            logit_s: 2.0 * a.head_params() / bf16_rate,
            pair_s: a.attention_flops_per_pair() / bf16_rate,
            kv_s: r.variant.kv_bytes_per_token() / weight_bw,
            weight_bw,
            dense_weights_s: (a.experts <= 1).then(|| r.variant.weight_bytes_read(1.0) / weight_bw),
            comm_token_s,
            comm_fixed_s,
            overhead_s: e.iteration_overhead_s,
            roofline: r.clone(),
        }
    }

    /// Seconds one iteration takes.
    #[inline]
    pub fn seconds(&self, s: &Step) -> f64 {
        self.parts(s).total_s()
    }

    /// Seconds of the first `j` iterations of a decode run that starts with `first`: each
    /// iteration after it has one more token of context per sequence. Every part of a decode
    /// iteration is affine in the iteration's index, so the sum has a closed form (split where the
    /// compute and memory lines cross).
    pub fn run_seconds(&self, first: &Step, j: u32) -> f64 {
        if j == 0 {
            return 0.0;
        }
        let mut second = *first;
        second.decode_context += first.decode_seqs;
        let (p0, p1) = (self.parts(first), self.parts(&second));
        let (a, b) = (p0.compute_s, p1.compute_s - p0.compute_s);
        let (m, d) = (p0.memory_s, p1.memory_s - p0.memory_s);
        let fixed = p0.communication_s + p0.overhead_s;
        // Sum over i in [from, to) of (c + slope * i).
        let line = |c: f64, slope: f64, from: f64, to: f64| {
            (to - from) * c + slope * (from + to - 1.0) * (to - from) / 2.0
        };
        let n = f64::from(j);
        // Within each side of the crossing one line is the larger; sum that one.
        let side = |from: f64, to: f64| {
            if to <= from {
                0.0
            } else {
                let mid = (from + to - 1.0) / 2.0;
                if a + b * mid >= m + d * mid {
                    line(a, b, from, to)
                } else {
                    line(m, d, from, to)
                }
            }
        };
        let cross = if b == d {
            0.0
        } else {
            ((m - a) / (b - d)).ceil().clamp(0.0, n)
        };
        let total = side(0.0, cross) + side(cross, n);
        total + n * fixed
    }

    /// One iteration's time, by part.
    #[inline]
    pub fn parts(&self, s: &Step) -> StepTime {
        let tokens = s.tokens() as f64;
        let compute = self.token_s * tokens
            + self.logit_s * s.logits as f64
            + self.pair_s * (s.prefill_pairs + s.decode_context as f64);
        let weights = match self.dense_weights_s {
            _ if tokens == 0.0 => 0.0,
            Some(w) => w,
            None => {
                let v = &self.roofline.variant;
                v.weight_bytes_read(v.experts_touched(tokens)) / self.weight_bw
            }
        };
        let memory = weights + self.kv_s * ((s.decode_context + s.prefill_keys) as f64 + tokens);
        let communication_s = if self.comm_fixed_s > 0.0 {
            self.comm_fixed_s + self.comm_token_s * tokens
        } else {
            0.0
        };
        StepTime {
            compute_s: compute,
            memory_s: memory,
            communication_s,
            overhead_s: self.overhead_s,
        }
    }
}

/// The parts of one iteration's time, seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepTime {
    pub compute_s: f64,
    pub memory_s: f64,
    pub communication_s: f64,
    pub overhead_s: f64,
}

impl StepTime {
    pub fn total_s(&self) -> f64 {
        self.compute_s.max(self.memory_s) + self.communication_s + self.overhead_s
    }
}

impl Roofline {
    /// Sparse tensor cores double the datasheet peak for 2:4-pruned weights, but sparse GEMMs
    /// realise less of it than dense ones: NVIDIA reports about 1.3-1.6x for whole layers with
    /// cuSPARSELt and TensorRT. 1.5x sits in that range, the way `compute_8bit` discounts the
    /// doubled fp8 peak.
    fn sparse_speedup(&self) -> f64 {
        if self.variant.sparse_2_4 && self.gpu.sparse_tensor_cores {
            SPARSE_2_4_SPEEDUP
        } else {
            1.0
        }
    }

    /// Time of one iteration, by part (builds a [`StepModel`]; the engine keeps one per pool).
    pub fn step_time(&self, s: &Step) -> StepTime {
        StepModel::new(self).parts(s)
    }
}

/// GPU memory set aside from the KV cache, per GPU.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryPlan {
    pub weights_bytes_per_gpu: f64,
    /// CUDA context, libraries and the activations of the largest step.
    pub reserved_bytes_per_gpu: f64,
    pub kv_bytes_per_gpu: f64,
    /// Tokens of KV cache the replica holds.
    pub kv_tokens: u64,
}

/// Fixed per-GPU memory of the runtime (CUDA context, cuBLAS workspaces, graphs): 1 GiB, in line
/// with what vLLM reports as non-torch memory on Hopper and Ampere.
const RUNTIME_RESERVE_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;

/// Why a replica does not fit.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error(
        "{model} needs {weights_gib:.1} GiB of weights per GPU at TP={tp}, but {gpu} has {usable_gib:.1} GiB usable ({utilization:.0}% of {memory_gib:.1} GiB); use more GPUs per replica{hint}"
    )]
    Weights {
        model: String,
        gpu: String,
        tp: u32,
        weights_gib: f64,
        usable_gib: f64,
        memory_gib: f64,
        utilization: f64,
        hint: String,
    },
    #[error(
        "{model} on {tp} x {gpu} leaves room for {kv_tokens} tokens of KV cache, fewer than one sequence of max_model_len = {max_model_len}; lower max_model_len or use more GPUs per replica"
    )]
    Kv {
        model: String,
        gpu: String,
        tp: u32,
        kv_tokens: u64,
        max_model_len: u64,
    },
}

impl Roofline {
    /// How GPU memory divides between weights, runtime and KV cache, when the engine may use
    /// `utilization` of each GPU's memory and steps hold at most `max_batched_tokens` tokens.
    pub fn memory_plan(
        &self,
        utilization: f64,
        max_batched_tokens: u64,
        max_model_len: u64,
    ) -> Result<MemoryPlan, FitError> {
        let a = &self.variant.architecture;
        let tp = f64::from(self.tp);
        let weights = self.variant.weight_bytes() / tp;
        // Activations of the largest step: a few hidden-sized and two MLP-sized buffers per token.
        let activations = max_batched_tokens as f64
            * (4.0 * f64::from(a.hidden) + 2.0 * f64::from(a.intermediate) / tp)
            * 2.0;
        let reserved = RUNTIME_RESERVE_BYTES + activations;
        let usable = self.gpu.memory_bytes() * utilization;
        let kv_budget = usable - weights - reserved;
        let gib = |b: f64| b / (1024.0 * 1024.0 * 1024.0);
        if kv_budget <= 0.0 {
            let min_tp = [1u32, 2, 4, 8, 16, 32, 64].into_iter().find(|&t| {
                self.variant.weight_bytes() / f64::from(t) + RUNTIME_RESERVE_BYTES < usable
            });
            return Err(FitError::Weights {
                model: a.name.clone(),
                gpu: self.gpu.gpu_model.clone(),
                tp: self.tp,
                weights_gib: gib(weights),
                usable_gib: gib(usable),
                memory_gib: self.gpu.memory_gib,
                utilization: utilization * 100.0,
                hint: min_tp.map_or(String::new(), |t| format!(" (TP={t} fits the weights)")),
            });
        }
        // KV heads split across the tensor-parallel ranks, replicated when there are fewer heads
        // than ranks.
        let kv_share = (f64::from(a.kv_heads) / tp).max(1.0) / f64::from(a.kv_heads);
        let kv_per_token_per_gpu = self.variant.kv_bytes_per_token() * kv_share;
        let kv_tokens = (kv_budget / kv_per_token_per_gpu).floor() as u64;
        if kv_tokens < max_model_len {
            return Err(FitError::Kv {
                model: a.name.clone(),
                gpu: self.gpu.gpu_model.clone(),
                tp: self.tp,
                kv_tokens,
                max_model_len,
            });
        }
        Ok(MemoryPlan {
            weights_bytes_per_gpu: weights,
            reserved_bytes_per_gpu: reserved,
            kv_bytes_per_gpu: kv_budget,
            kv_tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::model::Precision;
    use crate::llm::{GpuCatalog, library};

    fn roofline(model: &str, gpu: &str, weights: Precision, tp: u32) -> Roofline {
        Roofline {
            variant: Variant {
                architecture: library::find(model).unwrap(),
                weights,
                kv_cache: Precision::Bf16,
                sparse_2_4: false,
                quality: None,
            },
            gpu: GpuCatalog::bundled().find(gpu).unwrap().clone(),
            tp,
            efficiency: DEFAULT_EFFICIENCY,
        }
    }

    fn decode(r: &Roofline, batch: u64, context: u64) -> f64 {
        let mut s = Step::default();
        for _ in 0..batch {
            s.add_decode(context);
        }
        r.step_time(&s).total_s()
    }

    fn prefill(r: &Roofline, tokens: u64) -> f64 {
        let mut s = Step::default();
        s.add_prefill(0, tokens, true);
        r.step_time(&s).total_s()
    }

    #[test]
    fn decode_is_never_faster_than_reading_the_weights() {
        let r = roofline("llama-3.1-8b", "H100", Precision::Bf16, 1);
        let floor = r.variant.weight_bytes() / r.gpu.bandwidth_bytes_per_s();
        assert!(
            (floor - 4.8e-3).abs() < 0.1e-3,
            "weights / bandwidth = {floor}"
        );
        for batch in [1, 2, 8, 32, 128, 256] {
            for context in [1, 128, 2048, 8192] {
                let t = decode(&r, batch, context);
                assert!(t >= floor, "batch {batch} context {context}: {t} < {floor}");
            }
        }
    }

    #[test]
    fn small_decode_batches_are_nearly_free() {
        let r = roofline("llama-3.1-8b", "H100", Precision::Bf16, 1);
        let (one, eight) = (decode(&r, 1, 512), decode(&r, 8, 512));
        assert!(eight < 1.2 * one, "batch 8 {eight} vs batch 1 {one}");
        assert!(eight < 8.0 * one / 5.0);
    }

    #[test]
    fn prefill_grows_linearly_when_compute_bound() {
        let r = roofline("llama-3.1-8b", "H100", Precision::Bf16, 1);
        for n in [1024u64, 2048, 4096] {
            let ratio = prefill(&r, 2 * n) / prefill(&r, n);
            assert!(
                (1.9..2.2).contains(&ratio),
                "prefill {n} -> {}: x{ratio}",
                2 * n
            );
            let t = r.step_time(&{
                let mut s = Step::default();
                s.add_prefill(0, n, true);
                s
            });
            assert!(t.compute_s > t.memory_s, "prefill of {n} is compute-bound");
        }
    }

    #[test]
    fn fp8_weights_halve_the_decode_step() {
        let bf16 = roofline("llama-3.1-8b", "H100", Precision::Bf16, 1);
        let fp8 = roofline("llama-3.1-8b", "H100", Precision::Fp8, 1);
        let ratio = decode(&fp8, 1, 512) / decode(&bf16, 1, 512);
        assert!((0.45..0.65).contains(&ratio), "fp8 / bf16 = {ratio}");
    }

    #[test]
    fn tensor_parallelism_splits_the_work_and_adds_communication() {
        let one = roofline("llama-3.1-8b", "H100", Precision::Bf16, 1);
        let two = roofline("llama-3.1-8b", "H100", Precision::Bf16, 2);
        let (t1, t2) = (decode(&one, 16, 1024), decode(&two, 16, 1024));
        assert!(t2 < t1 && t2 > 0.45 * t1, "TP=2 {t2} vs TP=1 {t1}");
        let mut s = Step::default();
        s.add_decode(10);
        assert!(two.step_time(&s).communication_s > 0.0);
        assert_eq!(one.step_time(&s).communication_s, 0.0);
    }

    #[test]
    fn a_mixture_of_experts_reads_only_the_experts_it_uses() {
        let r = roofline("mixtral-8x7b", "H100", Precision::Bf16, 2);
        let (one, many) = (decode(&r, 1, 512), decode(&r, 64, 512));
        // One token touches 2 of 8 experts; 64 tokens touch nearly all of them.
        assert!(many > 2.0 * one, "{many} vs {one}");
        assert!((r.variant.experts_touched(1.0) - 2.0).abs() < 1e-9);
        assert!(r.variant.experts_touched(64.0) > 7.9);
    }

    #[test]
    fn a_decode_run_sums_its_iterations() {
        let model = StepModel::new(&roofline("llama-3.1-8b", "H100", Precision::Bf16, 1));
        for (seqs, context) in [(1u64, 10u64), (8, 500), (64, 4000), (200, 90_000)] {
            let mut first = Step::default();
            for _ in 0..seqs {
                first.add_decode(context);
            }
            let mut step = first;
            let mut total = 0.0;
            for j in 0..300u32 {
                let run = model.run_seconds(&first, j);
                assert!(
                    (run - total).abs() <= 1e-9 * total.max(1.0),
                    "{seqs} x {context}, j {j}: {run} vs {total}"
                );
                total += model.seconds(&step);
                step.decode_context += seqs;
            }
        }
    }

    #[test]
    fn memory_plans_reject_what_does_not_fit() {
        let r = roofline("llama-3.1-70b", "H100", Precision::Bf16, 1);
        let e = r.memory_plan(0.9, 8192, 8192).unwrap_err();
        assert!(
            e.to_string().contains("TP=4 fits the weights") || e.to_string().contains("TP=2 fits"),
            "{e}"
        );
        let r = roofline("llama-3.1-70b", "H100", Precision::Bf16, 4);
        let plan = r.memory_plan(0.9, 8192, 8192).unwrap();
        assert!(
            (400_000..600_000).contains(&plan.kv_tokens),
            "{}",
            plan.kv_tokens
        );
        let r = roofline("llama-3.1-8b", "L4", Precision::Bf16, 1);
        assert!(matches!(
            r.memory_plan(0.9, 8192, 131_072),
            Err(FitError::Kv { .. })
        ));
        assert!(r.memory_plan(0.9, 8192, 8192).is_ok());
    }
}
