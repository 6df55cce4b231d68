//! The `[costs]` table, validated: the bill's period and its drivers beyond GPU-hours.

use crate::costs::{Logging, ServicePrices, Stored, Transfer};

#[derive(Clone, Debug, PartialEq)]
pub struct CostsSpec {
    /// The bill's period, days.
    pub period_days: f64,
    pub prices: ServicePrices,
    pub stored: Vec<Stored>,
    pub transfer: Transfer,
    pub logging: Logging,
}
