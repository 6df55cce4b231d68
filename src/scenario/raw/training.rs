//! `[training]` as written: jobs (`[training.jobs.NAME]`) and a shared cluster
//! (`[training.cluster]`).

use std::collections::BTreeMap;

use crate::scenario::spanned::Spanned;
use schemars::JsonSchema;
use serde::Deserialize;

use super::Duration;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Training {
    #[serde(default)]
    pub jobs: BTreeMap<Spanned<String>, Spanned<Job>>,
    pub cluster: Option<Spanned<Cluster>>,
    /// Replications of each job (reclaims are random).
    pub replications: Option<Spanned<i64>>,
}

/// One training job on its own instances.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub description: Option<String>,
    /// A bundled architecture (`models/NAME.toml`) or the shape written out.
    pub architecture: Option<Spanned<String>>,
    pub shape: Option<Spanned<Shape>>,
    pub seq_len: Spanned<i64>,
    /// Sequences per step over all data-parallel replicas.
    pub global_batch: Spanned<i64>,
    /// The work: tokens, or optimizer steps.
    pub tokens: Option<Spanned<f64>>,
    pub steps: Option<Spanned<f64>>,
    pub instance_type: Spanned<String>,
    pub region: Option<Spanned<String>>,
    pub cloud: Option<Spanned<String>>,
    pub market: Option<Spanned<String>>,
    pub instances: Spanned<i64>,
    pub tensor: Option<Spanned<i64>>,
    pub pipeline: Option<Spanned<i64>>,
    pub micro_batch: Option<Spanned<i64>>,
    pub virtual_stages: Option<Spanned<i64>>,
    pub precision: Option<Spanned<String>>,
    pub compute_efficiency: Option<Spanned<f64>>,
    /// A step time measured for this job on this hardware: `compute_efficiency` is solved
    /// from it (a calibration).
    pub measured_step: Option<Spanned<Duration>>,
    pub overlap: Option<Spanned<f64>>,
    pub recompute: Option<bool>,
    /// Network between nodes, Gbit/s per instance (default: the instance type's, from
    /// `pricing/network.csv`).
    pub network_gbps: Option<Spanned<f64>>,
    /// Reclaims per instance-hour on spot (default: the Spot Instance Advisor bucket's).
    pub interruptions_per_hour: Option<Spanned<f64>>,
    pub checkpoint: Option<Spanned<Checkpoint>>,
    /// Times the job runs a day (a nightly fine-tune: 1); without it, once in the bill's period.
    pub runs_per_day: Option<Spanned<f64>>,
}

/// A transformer's shape for training.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    pub layers: Spanned<i64>,
    pub hidden: Spanned<i64>,
    pub vocab: Spanned<i64>,
    pub params: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub size_gb: Option<Spanned<f64>>,
    pub write_gb_per_s: Option<Spanned<f64>>,
    /// A duration of training, `"young-daly"`, or `"none"`.
    pub interval: Option<Spanned<String>>,
    pub restart: Option<Spanned<Duration>>,
    pub max_interruptions: Option<Spanned<i64>>,
    pub deadline: Option<Spanned<Duration>>,
}

/// A shared cluster and its job stream.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub trace: Option<Spanned<String>>,
    pub synthetic: Option<Spanned<Synthetic>>,
    /// Use the first `jobs` of the trace.
    pub jobs: Option<Spanned<i64>>,
    pub gpus: Option<Spanned<i64>>,
    pub autoscale: Option<Spanned<ClusterAutoscale>>,
    /// Run on what these inference pools leave idle.
    pub share_with: Option<Spanned<Vec<Spanned<String>>>>,
    pub policy: Option<Spanned<String>>,
    /// The cluster's own instances (not with `share_with`).
    pub instance_type: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub cloud: Option<Spanned<String>>,
    pub market: Option<Spanned<String>>,
    pub checkpoint_interval: Option<Spanned<Duration>>,
    pub restart: Option<Spanned<Duration>>,
}

/// A synthetic job stream: Poisson arrivals, lognormal durations, GPU counts by weight.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Synthetic {
    pub jobs: Spanned<i64>,
    pub mean_interarrival: Spanned<Duration>,
    pub median_duration: Spanned<Duration>,
    pub duration_sigma: Option<Spanned<f64>>,
    /// GPU counts and their weights, e.g. `{ 1 = 0.6, 8 = 0.3, 64 = 0.1 }`.
    pub gpus: Spanned<BTreeMap<String, f64>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterAutoscale {
    pub min_nodes: Option<Spanned<i64>>,
    pub max_nodes: Spanned<i64>,
    pub provision: Option<Spanned<Duration>>,
    pub idle_release: Option<Spanned<Duration>>,
}
