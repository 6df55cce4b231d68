//! The real GPUs, through NVML (nvml-wrapper).
