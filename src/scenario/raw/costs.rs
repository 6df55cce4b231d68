//! `[costs]` as written: the bill beyond GPU-hours.

use std::collections::BTreeMap;

use crate::scenario::spanned::Spanned;
use schemars::JsonSchema;
use serde::Deserialize;

use super::Duration;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Costs {
    /// The bill's period (default 30.4375 days, a month).
    pub period: Option<Spanned<Duration>>,
    #[serde(default)]
    pub storage: BTreeMap<Spanned<String>, Spanned<Stored>>,
    pub transfer: Option<Spanned<Transfer>>,
    pub logging: Option<Spanned<Logging>>,
    pub prices: Option<Spanned<Prices>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stored {
    pub size_gb: Spanned<f64>,
    pub tier: Option<Spanned<String>>,
    pub compression: Option<Spanned<f64>>,
    pub replicas: Option<Spanned<f64>>,
    pub cold_after_days: Option<Spanned<f64>>,
    pub cold_tier: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    pub egress_kb_per_request: Option<Spanned<f64>>,
    pub cross_region_gb_per_day: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    pub kb_per_request: Option<Spanned<f64>>,
    pub mb_per_gpu_hour: Option<Spanned<f64>>,
    pub retention_days: Option<Spanned<f64>>,
}

/// Prices that replace the bundled AWS list prices, dollars.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub storage_hot_per_gb_month: Option<Spanned<f64>>,
    pub storage_infrequent_per_gb_month: Option<Spanned<f64>>,
    pub storage_archive_per_gb_month: Option<Spanned<f64>>,
    pub egress_per_gb: Option<Spanned<f64>>,
    pub cross_region_per_gb: Option<Spanned<f64>>,
    pub log_ingest_per_gb: Option<Spanned<f64>>,
    pub log_storage_per_gb_month: Option<Spanned<f64>>,
}
