//! GPU specifications: what the roofline needs to know about a GPU.
//!
//! The bundled table is `pricing/gpus.csv` (dense tensor throughput, memory, bandwidth,
//! interconnect, power), built from `../shared/data/pricing/gpu_specs.csv` and vendor datasheets;
//! every row cites its sources. Names are the price catalog's `gpu_model`, so a pool's instance
//! type finds its GPU. A scenario's `[gpus.NAME]` tables add GPUs or replace a bundled GPU's
//! figures with measured ones (a calibration); the peaks here are the datasheet's.

use serde::Deserialize;

use super::model::Precision;

const BUNDLED_CSV: &str = include_str!("../../pricing/gpus.csv");

/// One GPU model's datasheet figures. Throughputs are dense (not the 2:4-sparse headline).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuSpec {
    pub gpu_model: String,
    pub variant: String,
    pub memory_gib: f64,
    pub memory_bandwidth_gb_per_s: f64,
    pub dense_bf16_tflops: f64,
    pub dense_fp8_tflops: Option<f64>,
    pub dense_int8_tops: Option<f64>,
    /// Whether tensor cores run 2:4 structured sparsity at twice the dense rate (Ampere and later).
    pub sparse_tensor_cores: bool,
    /// GPU-to-GPU bandwidth per GPU and direction, for tensor-parallel all-reduce (NVLink, or PCIe).
    pub interconnect_gb_per_s: f64,
    pub tdp_watts: Option<f64>,
    pub source: String,
}

impl GpuSpec {
    /// Peak dense FLOP/s of matrix multiplies with weights in `p` (activations in 16 bits unless the
    /// format computes natively and the GPU supports it).
    pub fn peak_flops(&self, p: Precision) -> f64 {
        let tflops = match p {
            Precision::Fp8 => self.dense_fp8_tflops.unwrap_or(self.dense_bf16_tflops),
            Precision::Int8 => self.dense_int8_tops.unwrap_or(self.dense_bf16_tflops),
            Precision::Fp32 => self.dense_bf16_tflops / 2.0,
            _ => self.dense_bf16_tflops,
        };
        tflops * 1e12
    }

    /// Peak 16-bit FLOP/s, for attention (which runs in 16 bits whatever the weights).
    pub fn peak_bf16_flops(&self) -> f64 {
        self.dense_bf16_tflops * 1e12
    }

    pub fn memory_bytes(&self) -> f64 {
        self.memory_gib * 1024.0 * 1024.0 * 1024.0
    }

    pub fn bandwidth_bytes_per_s(&self) -> f64 {
        self.memory_bandwidth_gb_per_s * 1e9
    }

    pub fn interconnect_bytes_per_s(&self) -> f64 {
        self.interconnect_gb_per_s * 1e9
    }
}

/// The GPU table.
#[derive(Clone, Debug)]
pub struct GpuCatalog {
    rows: Vec<GpuSpec>,
}

impl GpuCatalog {
    pub fn bundled() -> GpuCatalog {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(BUNDLED_CSV.as_bytes());
        let rows = reader
            .deserialize()
            .collect::<Result<Vec<GpuSpec>, _>>()
            .expect("the bundled GPU table parses (checked by a unit test)");
        GpuCatalog { rows }
    }

    pub fn rows(&self) -> &[GpuSpec] {
        &self.rows
    }

    /// Adds `spec`, or replaces the one of the same name.
    pub fn insert(&mut self, spec: GpuSpec) {
        match self.rows.iter_mut().find(|g| g.gpu_model == spec.gpu_model) {
            Some(g) => *g = spec,
            None => self.rows.push(spec),
        }
    }

    /// The spec of a catalog `gpu_model`.
    pub fn find(&self, gpu_model: &str) -> Option<&GpuSpec> {
        self.rows.iter().find(|g| g.gpu_model == gpu_model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_table_parses_and_covers_the_main_gpus() {
        let c = GpuCatalog::bundled();
        for name in [
            "H100",
            "H200",
            "A100",
            "A100-80GB",
            "L40S",
            "L4",
            "A10G",
            "T4",
        ] {
            let g = c.find(name).unwrap_or_else(|| panic!("{name} missing"));
            assert!(
                g.memory_gib > 10.0 && g.memory_bandwidth_gb_per_s > 100.0,
                "{name}"
            );
            assert!(g.dense_bf16_tflops > 10.0, "{name}");
        }
        let h100 = c.find("H100").unwrap();
        let ratio = h100.peak_flops(Precision::Fp8) / h100.peak_flops(Precision::Bf16);
        assert!((ratio - 2.0).abs() < 0.01, "{ratio}");
    }
}
