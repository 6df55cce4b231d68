//! The cost of timing one iteration: the roofline's dozen arithmetic operations against the
//! kernel tables' lookups (a linear curve over tokens, the output projection, context and
//! generation attention grids), for Llama 3.1 8B on an H100 under vLLM's kernels.
//!
//! `cargo bench --bench step_time`. Each iteration times 1,000 steps: a decode step of 64
//! sequences at 1,500 tokens of context, and a mixed step that adds a 512-token prompt chunk.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use headroom::llm::{
    DEFAULT_EFFICIENCY, GpuCatalog, KernelModel, Precision, Roofline, Step, StepModel,
    StepOverhead, Variant, kernels, library,
};

fn steps() -> Vec<Step> {
    (0..1000u64)
        .map(|i| {
            let mut s = Step::default();
            for k in 0..64 {
                s.add_decode(1500 + (i * 7 + k * 13) % 500);
            }
            if i % 2 == 0 {
                s.add_prefill(i % 300, 512, true);
            }
            s
        })
        .collect()
}

fn step_time(c: &mut Criterion) {
    let variant = Variant {
        architecture: library::find("llama-3.1-8b").unwrap(),
        weights: Precision::Bf16,
        kv_cache: Precision::Bf16,
        sparse_2_4: false,
        quality: None,
    };
    let gpu = GpuCatalog::bundled().find("H100").unwrap().clone();
    let roofline = StepModel::new(&Roofline {
        variant: variant.clone(),
        gpu: gpu.clone(),
        tp: 1,
        efficiency: DEFAULT_EFFICIENCY,
    });
    let table = kernels::bundled("H100", "vllm").unwrap();
    let kernel = KernelModel::new(table, &variant, &gpu, 1, StepOverhead::default()).unwrap();
    let steps = steps();
    let mut g = c.benchmark_group("step_time");
    g.throughput(Throughput::Elements(steps.len() as u64));
    g.bench_function("roofline", |b| {
        b.iter(|| steps.iter().map(|s| roofline.seconds(s)).sum::<f64>())
    });
    g.bench_function("kernels", |b| {
        b.iter(|| steps.iter().map(|s| kernel.seconds(s)).sum::<f64>())
    });
    g.finish();
}

criterion_group!(benches, step_time);
criterion_main!(benches);
