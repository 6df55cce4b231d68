//! The bill beyond GPU-hours: storage, data transfer, monitoring and logging.
//!
//! Each driver is a documented model over public list prices (`pricing/services.csv`, with
//! sources; a scenario can give its own):
//! - storage: data (datasets, checkpoints, model artifacts) in GB-months by tier (hot,
//!   infrequent, archive): `size / compression × replicas × months`, hot for the first
//!   `cold_after_days` and in the colder tier after that (a lifecycle rule), for as long as it is
//!   kept;
//! - data transfer: GB leaving the cloud (responses to clients) and GB between regions;
//! - monitoring and logging: GB ingested per request and per GPU-hour, and the logs kept for
//!   their retention: at a steady rate, `daily GB × retention days` are stored at any time.

use std::sync::LazyLock;

/// Average days in a month (365.25 / 12), for GB-months.
pub const DAYS_PER_MONTH: f64 = 30.4375;

/// Storage classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Hot,
    Infrequent,
    Archive,
}

impl Tier {
    pub fn parse(s: &str) -> Option<Tier> {
        match s {
            "hot" => Some(Tier::Hot),
            "infrequent" => Some(Tier::Infrequent),
            "archive" => Some(Tier::Archive),
            _ => None,
        }
    }
}

/// Prices of the drivers, dollars.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicePrices {
    /// Per GB-month: hot, infrequent, archive.
    pub storage: [f64; 3],
    pub egress_per_gb: f64,
    pub cross_region_per_gb: f64,
    pub log_ingest_per_gb: f64,
    pub log_storage_per_gb_month: f64,
}

static BUNDLED_CSV: &str = include_str!("../pricing/services.csv");

static BUNDLED: LazyLock<ServicePrices> = LazyLock::new(|| {
    let mut r = csv::Reader::from_reader(BUNDLED_CSV.as_bytes());
    let mut get = std::collections::BTreeMap::new();
    for rec in r.records() {
        let rec = rec.expect("the bundled services CSV parses (a unit test reads it)");
        get.insert(rec[2].to_string(), rec[4].parse::<f64>().expect("a price"));
    }
    let p = |k: &str| *get.get(k).unwrap_or_else(|| panic!("bundled price {k}"));
    ServicePrices {
        storage: [
            p("storage-hot"),
            p("storage-infrequent"),
            p("storage-archive"),
        ],
        egress_per_gb: p("egress-internet"),
        cross_region_per_gb: p("transfer-cross-region"),
        log_ingest_per_gb: p("logs-ingest"),
        log_storage_per_gb_month: p("logs-storage"),
    }
});

impl ServicePrices {
    /// AWS us-east-1 list prices from `pricing/services.csv`.
    pub fn bundled() -> ServicePrices {
        BUNDLED.clone()
    }

    pub fn storage_per_gb_month(&self, t: Tier) -> f64 {
        self.storage[t as usize]
    }
}

/// Data kept in object storage.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub name: String,
    /// Logical size, GB.
    pub size_gb: f64,
    /// Logical over stored size (1: none).
    pub compression: f64,
    /// Copies kept (cross-region replicas, duplicates).
    pub replicas: f64,
    pub tier: Tier,
    /// A lifecycle rule: after this many days, move to `cold_tier`.
    pub cold_after_days: Option<f64>,
    pub cold_tier: Tier,
}

impl Stored {
    /// Dollars to keep it for `days`.
    pub fn cost(&self, days: f64, prices: &ServicePrices) -> f64 {
        let gb = self.size_gb / self.compression * self.replicas;
        let (hot_days, cold_days) = match self.cold_after_days {
            Some(n) => (days.min(n), (days - n).max(0.0)),
            None => (days, 0.0),
        };
        gb / DAYS_PER_MONTH
            * (hot_days * prices.storage_per_gb_month(self.tier)
                + cold_days * prices.storage_per_gb_month(self.cold_tier))
    }
}

/// Data moved: per request out to clients, and a fixed volume between regions per day.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transfer {
    pub egress_kb_per_request: f64,
    pub cross_region_gb_per_day: f64,
}

impl Transfer {
    /// (egress $, cross-region $) for `requests` over `days`.
    pub fn cost(&self, requests: f64, days: f64, prices: &ServicePrices) -> (f64, f64) {
        (
            requests * self.egress_kb_per_request / 1e6 * prices.egress_per_gb,
            self.cross_region_gb_per_day * days * prices.cross_region_per_gb,
        )
    }
}

/// Monitoring and logging.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logging {
    pub kb_per_request: f64,
    pub mb_per_gpu_hour: f64,
    pub retention_days: f64,
}

impl Logging {
    /// (ingestion $, storage $) for `requests` and `gpu_hours` over `days`: logs arrive at a
    /// steady rate and each is kept `retention_days`, so `daily GB × min(retention, days)`
    /// GB sit in storage on average once it fills (the ramp-up is counted as half).
    pub fn cost(
        &self,
        requests: f64,
        gpu_hours: f64,
        days: f64,
        prices: &ServicePrices,
    ) -> (f64, f64) {
        let gb = requests * self.kb_per_request / 1e6 + gpu_hours * self.mb_per_gpu_hour / 1e3;
        if days <= 0.0 {
            return (0.0, 0.0);
        }
        let daily = gb / days;
        let r = self.retention_days.min(days);
        // GB-days stored: each day's logs are kept r days, except those written in the last r
        // days, which are kept until the end (r/2 on average).
        let gb_days = daily * ((days - r) * r + r * r / 2.0);
        (
            gb * prices.log_ingest_per_gb,
            gb_days / DAYS_PER_MONTH * prices.log_storage_per_gb_month,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_prices_parse() {
        let p = ServicePrices::bundled();
        assert_eq!(p.storage, [0.023, 0.0125, 0.00099]);
        assert_eq!(p.egress_per_gb, 0.09);
        assert_eq!(p.log_ingest_per_gb, 0.5);
    }

    #[test]
    fn storage_follows_its_lifecycle_rule() {
        let p = ServicePrices::bundled();
        let ckpt = Stored {
            name: "checkpoints".into(),
            size_gb: 2000.0,
            compression: 2.0,
            replicas: 2.0,
            tier: Tier::Hot,
            cold_after_days: Some(30.0),
            cold_tier: Tier::Archive,
        };
        // 2,000 GB / 2 × 2 = 2,000 GB stored: 30 days hot, 60 days in archive.
        let want = 2000.0 / DAYS_PER_MONTH * (30.0 * 0.023 + 60.0 * 0.00099);
        assert!((ckpt.cost(90.0, &p) - want).abs() < 1e-9);
        // Within the hot period only hot is paid.
        let want = 2000.0 / DAYS_PER_MONTH * 10.0 * 0.023;
        assert!((ckpt.cost(10.0, &p) - want).abs() < 1e-9);
    }

    #[test]
    fn transfer_and_logs_by_hand() {
        let p = ServicePrices::bundled();
        let t = Transfer {
            egress_kb_per_request: 4.0,
            cross_region_gb_per_day: 50.0,
        };
        // 10 M requests × 4 KB = 40 GB out; 50 GB/day × 30 days between regions.
        let (e, x) = t.cost(10e6, 30.0, &p);
        assert!((e - 40.0 * 0.09).abs() < 1e-9 && (x - 1500.0 * 0.02).abs() < 1e-9);
        let l = Logging {
            kb_per_request: 2.0,
            mb_per_gpu_hour: 50.0,
            retention_days: 7.0,
        };
        // 10 M × 2 KB = 20 GB + 1,000 GPU-h × 50 MB = 50 GB: 70 GB in 30 days.
        let (ingest, store) = l.cost(10e6, 1000.0, 30.0, &p);
        assert!((ingest - 70.0 * 0.5).abs() < 1e-9);
        let daily = 70.0 / 30.0;
        let gb_days = daily * (23.0 * 7.0 + 49.0 / 2.0);
        assert!((store - gb_days / DAYS_PER_MONTH * 0.03).abs() < 1e-9);
    }
}
