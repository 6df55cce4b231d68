//! Time of one training step of a transformer under data, tensor and pipeline parallelism.
//!
//! The parts, per step, on the slowest GPU:
//! - compute: the step's FLOPs over `GPUs × peak × compute efficiency` (the share of peak that
//!   the matrix multiplies reach; [`DEFAULT_COMPUTE_EFFICIENCY`] says where its value comes
//!   from). Model FLOPs per token are `6 P + 12 l h s` (weights forward and backward, and
//!   attention scores over the whole sequence), which is Narayanan et al.'s (SC21)
//!   `72 B s l h² (1 + s/6h + V/12lh)` for a GPT shape and also holds for grouped-query attention
//!   and gated MLPs when `P` is given. Full activation recomputation runs the layers' forward
//!   again: `8 P_layers + 16 l h s + 6 V h` per token;
//! - pipeline bubble: with `p` stages, `v` virtual stages per GPU (interleaving) and `m`
//!   micro-batches per pipeline, 1F1B leaves each GPU idle for `(p − 1)/(v m)` of its compute;
//! - tensor parallelism: two all-reduces of the activations per layer forward and two backward
//!   (three forward with recomputation), each a ring of `2 (t − 1)/t × bytes / bandwidth` over
//!   NVLink, on the critical path;
//! - data parallelism: a ring all-reduce of the gradients, `2 (d − 1)/d × bytes / bandwidth` over
//!   NVLink when the replicas share a node and the network otherwise; `overlap` of it hides under
//!   the backward pass.
//!
//! Pipeline point-to-point sends are small next to these and are left out.

/// Arithmetic used for the matrix multiplies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Fp32,
    /// bf16 (or fp16) compute with fp32 master weights and optimizer state.
    Bf16Mixed,
    /// fp8 matrix multiplies (Transformer Engine), bf16 elsewhere.
    Fp8,
}

impl Precision {
    pub fn parse(s: &str) -> Option<Precision> {
        match s {
            "fp32" => Some(Precision::Fp32),
            "bf16" | "bf16-mixed" | "fp16" => Some(Precision::Bf16Mixed),
            "fp8" => Some(Precision::Fp8),
            _ => None,
        }
    }
}

/// The share of a GPU's dense peak that large training matrix multiplies reach in bf16: fitted
/// to the calibration half of the published runs in `docs/training-validation.md`.
pub const DEFAULT_COMPUTE_EFFICIENCY: f64 = 0.55;

/// The same for fp8 matrix multiplies, against the doubled fp8 peak (fitted likewise).
pub const DEFAULT_FP8_COMPUTE_EFFICIENCY: f64 = 0.45;

/// A transformer's shape, as training sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub layers: u32,
    pub hidden: u32,
    pub vocab: u32,
    /// Parameters, counted from the shape (`12 l h² + V h`) when not given.
    pub params: f64,
}

impl Shape {
    pub fn new(layers: u32, hidden: u32, vocab: u32) -> Shape {
        let (l, h, v) = (f64::from(layers), f64::from(hidden), f64::from(vocab));
        Shape {
            layers,
            hidden,
            vocab,
            params: 12.0 * l * h * h + v * h,
        }
    }
}

/// How the job is split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Parallelism {
    pub data: u32,
    pub tensor: u32,
    pub pipeline: u32,
    /// Sequences per micro-batch.
    pub micro_batch: u32,
    /// Model chunks per pipeline GPU (interleaved 1F1B); 1 without interleaving.
    pub virtual_stages: u32,
}

impl Parallelism {
    pub fn gpus(&self) -> u32 {
        self.data * self.tensor * self.pipeline
    }
}

/// The hardware a job runs on.
#[derive(Clone, Debug, PartialEq)]
pub struct Hardware {
    /// Dense peak FLOP/s per GPU at the job's precision.
    pub peak_flops: f64,
    /// NVLink (or PCIe) bandwidth per GPU within a node, bytes/s, one direction.
    pub intra_node_bytes_per_s: f64,
    /// Network bandwidth per GPU between nodes, bytes/s.
    pub inter_node_bytes_per_s: f64,
    pub gpus_per_node: u32,
}

/// One step of a job.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub shape: Shape,
    pub seq_len: u32,
    /// Sequences per step, over all data-parallel replicas.
    pub global_batch: u32,
    pub parallel: Parallelism,
    pub precision: Precision,
    pub compute_efficiency: f64,
    /// Share of the gradient all-reduce hidden under the backward pass (0–1).
    pub overlap: f64,
    pub recompute: bool,
}

/// A step's time by part, seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepTime {
    pub compute_s: f64,
    pub bubble_s: f64,
    pub tensor_comm_s: f64,
    /// The part of the gradient all-reduce not hidden.
    pub data_comm_s: f64,
    /// Model FLOPs of the step (no recomputation).
    pub model_flops: f64,
}

impl StepTime {
    pub fn total_s(&self) -> f64 {
        self.compute_s + self.bubble_s + self.tensor_comm_s + self.data_comm_s
    }

    /// Model FLOPs utilization: model FLOPs over what the GPUs could do in the step's time.
    pub fn mfu(&self, gpus: u32, peak_flops: f64) -> f64 {
        self.model_flops / (f64::from(gpus) * peak_flops * self.total_s())
    }

    /// Tokens per second.
    pub fn tokens_per_s(&self, job: &Job) -> f64 {
        f64::from(job.global_batch) * f64::from(job.seq_len) / self.total_s()
    }
}

/// Bytes of one activation or gradient element on the wire.
fn wire_bytes(p: Precision) -> f64 {
    match p {
        Precision::Fp32 => 4.0,
        _ => 2.0,
    }
}

/// The step time of `job` on `hw`.
pub fn step_time(job: &Job, hw: &Hardware) -> StepTime {
    let Shape {
        layers,
        hidden,
        vocab,
        params,
    } = job.shape;
    let (l, h, v) = (f64::from(layers), f64::from(hidden), f64::from(vocab));
    let s = f64::from(job.seq_len);
    let b = f64::from(job.global_batch);
    let par = job.parallel;
    let (d, t, p) = (
        f64::from(par.data),
        f64::from(par.tensor),
        f64::from(par.pipeline),
    );
    let gpus = f64::from(par.gpus());
    let tokens = b * s;
    let attention = 12.0 * l * h * s;
    let model_flops = tokens * (6.0 * params + attention);
    let hardware_flops = if job.recompute {
        let embedding = v * h;
        tokens * (8.0 * (params - embedding) + 16.0 * l * h * s + 6.0 * embedding)
    } else {
        model_flops
    };
    let compute_s = hardware_flops / (gpus * hw.peak_flops * job.compute_efficiency);
    // Micro-batches per pipeline per step.
    let m = (b / (d * f64::from(par.micro_batch))).max(1.0);
    let bubble_s = compute_s * (p - 1.0) / (m * f64::from(par.virtual_stages.max(1)));
    let bytes = wire_bytes(job.precision);
    let tensor_comm_s = if par.tensor > 1 {
        let per = 2.0 * (t - 1.0) / t * f64::from(par.micro_batch) * s * h * bytes
            / hw.intra_node_bytes_per_s;
        let per_layer = if job.recompute { 6.0 } else { 4.0 };
        (l / p) * m * per_layer * per
    } else {
        0.0
    };
    let data_comm_s = if par.data > 1 {
        // Gradients of this GPU's share of the weights; fp32 gradients unless fp32 training
        // is off (bf16 reduce), as Megatron's default accumulates and reduces in fp32.
        let grad_bytes = params / (t * p) * 4.0;
        // Replicas of one shard sit on different nodes unless one node holds them all.
        let within_node = par.gpus() <= hw.gpus_per_node;
        let bw = if within_node {
            hw.intra_node_bytes_per_s
        } else {
            hw.inter_node_bytes_per_s
        };
        2.0 * (d - 1.0) / d * grad_bytes / bw * (1.0 - job.overlap)
    } else {
        0.0
    };
    StepTime {
        compute_s,
        bubble_s,
        tensor_comm_s,
        data_comm_s,
        model_flops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hw() -> Hardware {
        Hardware {
            peak_flops: 312e12,
            intra_node_bytes_per_s: 300e9,
            inter_node_bytes_per_s: 25e9,
            gpus_per_node: 8,
        }
    }

    fn job(parallel: Parallelism) -> Job {
        Job {
            shape: Shape::new(24, 2048, 51200),
            seq_len: 2048,
            global_batch: 512,
            parallel,
            precision: Precision::Bf16Mixed,
            compute_efficiency: 0.5,
            overlap: 0.0,
            recompute: false,
        }
    }

    #[test]
    fn one_gpu_is_flops_over_peak() {
        let j = job(Parallelism {
            data: 1,
            tensor: 1,
            pipeline: 1,
            micro_batch: 4,
            virtual_stages: 1,
        });
        let st = step_time(&j, &hw());
        assert_eq!(st.bubble_s + st.tensor_comm_s + st.data_comm_s, 0.0);
        assert!((st.total_s() - st.model_flops / (312e12 * 0.5)).abs() < 1e-9 * st.total_s());
        assert!((st.mfu(1, 312e12) - 0.5).abs() < 1e-12);
        // Narayanan et al.'s closed form for a GPT shape, exactly.
        let (b, s, l, h, v) = (512.0, 2048.0, 24.0, 2048.0, 51200.0);
        let narayanan = 72.0 * b * s * l * h * h * (1.0 + s / (6.0 * h) + v / (12.0 * l * h));
        assert!((st.model_flops - narayanan).abs() < 1e-9 * narayanan);
        let recompute = step_time(
            &Job {
                recompute: true,
                ..j.clone()
            },
            &hw(),
        );
        let hw_flops = 96.0 * b * s * l * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * l * h));
        assert!((recompute.compute_s * 312e12 * 0.5 - hw_flops).abs() < 1e-6 * hw_flops);
    }

    #[test]
    fn bubbles_and_all_reduces_follow_their_formulas() {
        let j = job(Parallelism {
            data: 4,
            tensor: 2,
            pipeline: 4,
            micro_batch: 2,
            virtual_stages: 1,
        });
        let st = step_time(&j, &hw());
        // 512 sequences / (4 replicas × 2) = 64 micro-batches; bubble (4 − 1)/64 of compute.
        assert!((st.bubble_s - st.compute_s * 3.0 / 64.0).abs() < 1e-12);
        // Gradients: P/(2·4) fp32 values; ring over 4 replicas on the network (32 GPUs > 8).
        let grad = j.shape.params / 8.0 * 4.0;
        assert!((st.data_comm_s - 1.5 * grad / 25e9).abs() < 1e-9);
        // Half hidden halves it.
        let hidden = step_time(
            &Job {
                overlap: 0.5,
                ..j.clone()
            },
            &hw(),
        );
        assert!((hidden.data_comm_s - st.data_comm_s / 2.0).abs() < 1e-12);
        // Tensor: 6 layers per stage × 64 micro-batches × 4 all-reduces of 2·2048·2048·2 bytes.
        let per = 2.0 * 0.5 * 2.0 * 2048.0 * 2048.0 * 2.0 / 300e9;
        assert!((st.tensor_comm_s - 6.0 * 64.0 * 4.0 * per).abs() < 1e-9);
    }
}
