//! `[costs]`: the bill's period, storage, transfer, logging, and price overrides.

use crate::scenario::spanned::Spanned;

use super::Checker;
use crate::costs::{DAYS_PER_MONTH, Logging, ServicePrices, Stored, Tier, Transfer};
use crate::scenario::costs_spec::CostsSpec;
use crate::scenario::raw::costs as raw;

impl Checker<'_> {
    pub(super) fn costs(&mut self, c: &Spanned<raw::Costs>) -> Option<CostsSpec> {
        let before = self.problems.len();
        let c = c.get_ref();
        let period_days = match &c.period {
            Some(p) if p.get_ref().0.0 == 0 => {
                self.error(p.span(), "`period` must be longer than zero, e.g. \"30d\"");
                None
            }
            Some(p) => Some(p.get_ref().0.as_secs_f64() / 86_400.0),
            None => Some(DAYS_PER_MONTH),
        };
        let mut prices = ServicePrices::bundled();
        if let Some(p) = &c.prices {
            let p = p.get_ref();
            let slots: [(&Option<Spanned<f64>>, &str, &mut f64); 7] = {
                let [hot, infrequent, archive] = &mut prices.storage;
                [
                    (&p.storage_hot_per_gb_month, "storage_hot_per_gb_month", hot),
                    (
                        &p.storage_infrequent_per_gb_month,
                        "storage_infrequent_per_gb_month",
                        infrequent,
                    ),
                    (
                        &p.storage_archive_per_gb_month,
                        "storage_archive_per_gb_month",
                        archive,
                    ),
                    (&p.egress_per_gb, "egress_per_gb", &mut prices.egress_per_gb),
                    (
                        &p.cross_region_per_gb,
                        "cross_region_per_gb",
                        &mut prices.cross_region_per_gb,
                    ),
                    (
                        &p.log_ingest_per_gb,
                        "log_ingest_per_gb",
                        &mut prices.log_ingest_per_gb,
                    ),
                    (
                        &p.log_storage_per_gb_month,
                        "log_storage_per_gb_month",
                        &mut prices.log_storage_per_gb_month,
                    ),
                ]
            };
            for (v, field, slot) in slots {
                if let Some(v) = v {
                    match nonneg(v) {
                        Some(x) => *slot = x,
                        None => self.error(
                            v.span(),
                            format!("`{field}` must be a price >= 0, got {}", v.get_ref()),
                        ),
                    }
                }
            }
        }
        let mut stored = Vec::new();
        // In the file's order, as the bill lists them.
        let mut entries: Vec<_> = c.storage.iter().collect();
        entries.sort_by_key(|(name, _)| name.span().start);
        for (name, s) in entries {
            let s = s.get_ref();
            let size_gb = self.at_least_zero(&s.size_gb, "size_gb");
            let compression = match &s.compression {
                Some(x) => self.positive(x, "compression"),
                None => Some(1.0),
            };
            let replicas = match &s.replicas {
                Some(x) => self.positive(x, "replicas"),
                None => Some(1.0),
            };
            let tier = self.tier(&s.tier, Tier::Hot);
            let cold_tier = self.tier(&s.cold_tier, Tier::Archive);
            let cold_after_days = s
                .cold_after_days
                .as_ref()
                .and_then(|d| self.at_least_zero(d, "cold_after_days"));
            if let Some(t) = &s.cold_tier
                && s.cold_after_days.is_none()
            {
                self.error(
                    t.span(),
                    "`cold_tier` needs `cold_after_days` (when the lifecycle rule moves the data)",
                );
            }
            if let (Some(size_gb), Some(compression), Some(replicas), Some(tier), Some(cold_tier)) =
                (size_gb, compression, replicas, tier, cold_tier)
            {
                stored.push(Stored {
                    name: name.get_ref().clone(),
                    size_gb,
                    compression,
                    replicas,
                    tier,
                    cold_after_days,
                    cold_tier,
                });
            }
        }
        // Every bad number is reported, not only the first.
        let mut field = |v: &Option<Spanned<f64>>, name: &str, default: f64| match v {
            Some(v) => self.at_least_zero(v, name).unwrap_or(default),
            None => default,
        };
        let t = c.transfer.as_ref().map(Spanned::get_ref);
        let transfer = Transfer {
            egress_kb_per_request: field(
                &t.and_then(|t| t.egress_kb_per_request.clone()),
                "egress_kb_per_request",
                0.0,
            ),
            cross_region_gb_per_day: field(
                &t.and_then(|t| t.cross_region_gb_per_day.clone()),
                "cross_region_gb_per_day",
                0.0,
            ),
        };
        let l = c.logging.as_ref().map(Spanned::get_ref);
        let logging = Logging {
            kb_per_request: field(
                &l.and_then(|l| l.kb_per_request.clone()),
                "kb_per_request",
                0.0,
            ),
            mb_per_gpu_hour: field(
                &l.and_then(|l| l.mb_per_gpu_hour.clone()),
                "mb_per_gpu_hour",
                0.0,
            ),
            retention_days: field(
                &l.and_then(|l| l.retention_days.clone()),
                "retention_days",
                30.0,
            ),
        };
        if self.problems.len() > before {
            return None;
        }
        Some(CostsSpec {
            period_days: period_days?,
            prices,
            stored,
            transfer,
            logging,
        })
    }

    pub(super) fn at_least_zero(&mut self, v: &Spanned<f64>, field: &str) -> Option<f64> {
        nonneg(v).or_else(|| {
            self.error(
                v.span(),
                format!("`{field}` must be a number >= 0, got {}", v.get_ref()),
            );
            None
        })
    }

    fn tier(&mut self, t: &Option<Spanned<String>>, default: Tier) -> Option<Tier> {
        match t {
            None => Some(default),
            Some(t) => Tier::parse(t.get_ref()).or_else(|| {
                self.error(
                    t.span(),
                    format!(
                        "unknown storage tier {:?}; expected hot, infrequent or archive",
                        t.get_ref()
                    ),
                );
                None
            }),
        }
    }
}

fn nonneg(v: &Spanned<f64>) -> Option<f64> {
    let x = *v.get_ref();
    (x.is_finite() && x >= 0.0).then_some(x)
}
