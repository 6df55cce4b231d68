//! The price catalog: GPU instance types with their GPUs and hourly prices by region and market.
//!
//! The bundled catalog is `pricing/gpu_instances.csv` (public list prices, provenance in
//! `pricing/SOURCE.md`), compiled into the binary so a scenario resolves the same way wherever it
//! runs. A scenario may point at its own CSV in the same columns (negotiated prices). Reserved or
//! committed-use capacity has no list price in the catalogs: it is priced as a documented discount
//! on on-demand ([`DEFAULT_RESERVED_DISCOUNT`], overridable per scenario and per pool).

pub mod network;

use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use serde::Deserialize;

use crate::data_file::{self, DataFileError};

/// Default discount of reserved (committed) capacity on the on-demand price: 40 %. One-year
/// commitments on GPU instances list between about 30 % and 45 % below on-demand at the large
/// clouds (AWS Savings Plans, GCP committed-use discounts, Azure reservations); set your own.
pub const DEFAULT_RESERVED_DISCOUNT: f64 = 0.40;

const BUNDLED_CSV: &str = include_str!("../pricing/gpu_instances.csv");
/// Name shown for the bundled catalog in messages and reports.
pub const BUNDLED_NAME: &str = "pricing/gpu_instances.csv (bundled)";

/// How capacity is bought.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Market {
    OnDemand,
    Spot,
    Reserved,
}

impl Market {
    pub const ALL: [Market; 3] = [Market::OnDemand, Market::Spot, Market::Reserved];

    /// The spelling used in scenario files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Market::OnDemand => "on-demand",
            Market::Spot => "spot",
            Market::Reserved => "reserved",
        }
    }

    /// The key used in JSON (`on_demand`, `spot`, `reserved`).
    pub fn json_key(self) -> &'static str {
        match self {
            Market::OnDemand => "on_demand",
            Market::Spot => "spot",
            Market::Reserved => "reserved",
        }
    }

    pub fn parse(s: &str) -> Option<Market> {
        Market::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for Market {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One instance type in one region, as a catalog row describes it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceType {
    pub cloud: String,
    #[serde(rename = "instance_type")]
    pub name: String,
    pub gpu_model: String,
    pub gpu_count: u32,
    pub gpu_memory_gib: Option<f64>,
    pub vcpus: Option<f64>,
    pub memory_gib: Option<f64>,
    pub region: String,
    pub on_demand_usd_per_hour: Option<f64>,
    pub spot_usd_per_hour: Option<f64>,
}

impl InstanceType {
    /// Hourly price of one instance in `market`; `None` when the catalog has no such price.
    pub fn price_usd_per_hour(&self, market: Market, reserved_discount: f64) -> Option<f64> {
        match market {
            Market::OnDemand => self.on_demand_usd_per_hour,
            Market::Spot => self.spot_usd_per_hour,
            Market::Reserved => self
                .on_demand_usd_per_hour
                .map(|p| p * (1.0 - reserved_discount)),
        }
    }
}

/// Why a lookup found no single instance type.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LookupError {
    #[error("no instance type {name:?} in {catalog}{}", did_you_mean(suggestions))]
    Unknown {
        name: String,
        catalog: String,
        suggestions: Vec<String>,
    },
    #[error("instance type {name:?} is offered in several regions ({}); set `region`", regions.join(", "))]
    NeedsRegion { name: String, regions: Vec<String> },
    #[error("instance type {name:?} has no price in region {region:?} in {catalog}; it is listed in {}", regions.join(", "))]
    NotInRegion {
        name: String,
        region: String,
        catalog: String,
        regions: Vec<String>,
    },
    #[error("instance type {name:?} is sold by several clouds ({}); set `cloud`", clouds.join(", "))]
    NeedsCloud { name: String, clouds: Vec<String> },
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean {one:?}?"),
        many => format!(
            "; did you mean one of {}?",
            many.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A set of instance types with prices, sorted as loaded.
#[derive(Clone, Debug)]
pub struct Catalog {
    name: String,
    rows: Vec<InstanceType>,
}

impl Catalog {
    /// The catalog compiled into the binary. It is parsed once per process (a sweep validates its
    /// scenario at every point) and copied from there.
    pub fn bundled() -> Catalog {
        static BUNDLED: LazyLock<Catalog> = LazyLock::new(|| {
            Catalog::parse(BUNDLED_CSV, BUNDLED_NAME)
                .expect("the bundled catalog parses (checked by a unit test)")
        });
        BUNDLED.clone()
    }

    /// Reads a catalog CSV with the bundled catalog's columns.
    pub fn from_path(path: &Path) -> Result<Catalog, DataFileError> {
        let (text, name) = data_file::read(path, "price catalog")?;
        Catalog::parse(&text, &name)
    }

    /// Parses catalog text; `name` is used in messages.
    pub fn parse(text: &str, name: &str) -> Result<Catalog, DataFileError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut rows = Vec::new();
        for record in reader.deserialize::<InstanceType>() {
            let row = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                DataFileError::line(name, line, data_file::csv_message(&e))
            })?;
            let line = rows.len() as u64 + 2;
            let bad = |message: String| DataFileError::line(name, line, message);
            if row.gpu_count == 0 {
                return Err(bad(format!("{}: gpu_count must be at least 1", row.name)));
            }
            for (field, price) in [
                ("on_demand_usd_per_hour", row.on_demand_usd_per_hour),
                ("spot_usd_per_hour", row.spot_usd_per_hour),
            ] {
                if let Some(p) = price
                    && !(p.is_finite() && p >= 0.0)
                {
                    return Err(bad(format!(
                        "{}: {field} must be a price >= 0, got {p}",
                        row.name
                    )));
                }
            }
            rows.push(row);
        }
        if rows.is_empty() {
            return Err(DataFileError::file(name, "the catalog has no rows"));
        }
        Ok(Catalog {
            name: name.to_string(),
            rows,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn rows(&self) -> &[InstanceType] {
        &self.rows
    }

    /// Finds one instance type; `region` and `cloud` narrow the search and are required only
    /// when the name alone is ambiguous.
    pub fn find(
        &self,
        name: &str,
        region: Option<&str>,
        cloud: Option<&str>,
    ) -> Result<&InstanceType, LookupError> {
        let named: Vec<&InstanceType> = self
            .rows
            .iter()
            .filter(|r| r.name == name && cloud.is_none_or(|c| r.cloud == c))
            .collect();
        if named.is_empty() {
            return Err(LookupError::Unknown {
                name: name.to_string(),
                catalog: self.name.clone(),
                suggestions: self.suggest(name),
            });
        }
        let clouds = sorted_unique(named.iter().map(|r| r.cloud.as_str()));
        if clouds.len() > 1 {
            return Err(LookupError::NeedsCloud {
                name: name.to_string(),
                clouds,
            });
        }
        let regions = sorted_unique(named.iter().map(|r| r.region.as_str()));
        match region {
            Some(region) => named
                .iter()
                .copied()
                .find(|r| r.region == region)
                .ok_or_else(|| LookupError::NotInRegion {
                    name: name.to_string(),
                    region: region.to_string(),
                    catalog: self.name.clone(),
                    regions,
                }),
            None if named.len() == 1 => Ok(named[0]),
            None => Err(LookupError::NeedsRegion {
                name: name.to_string(),
                regions,
            }),
        }
    }

    /// Up to three known names closest to `name`.
    fn suggest(&self, name: &str) -> Vec<String> {
        let mut scored: Vec<(f64, String)> =
            sorted_unique(self.rows.iter().map(|r| r.name.as_str()))
                .into_iter()
                .map(|n| (strsim::jaro_winkler(name, &n), n))
                .filter(|(score, _)| *score > 0.8)
                .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().take(3).map(|(_, n)| n).collect()
    }
}

fn sorted_unique<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = items.map(str::to_string).collect();
    v.sort();
    v.dedup();
    v
}

/// AWS's Spot Instance Advisor buckets (`pricing/spot_interruption.csv`, see its SOURCE.md).
const SPOT_INTERRUPTION_CSV: &str = include_str!("../pricing/spot_interruption.csv");

/// The interruption bucket (`"<5%"` .. `">20%"`) of an instance type in a region, where the
/// Spot Instance Advisor lists one.
pub fn spot_interruption_bucket(
    cloud: &str,
    instance_type: &str,
    region: &str,
) -> Option<&'static str> {
    SPOT_INTERRUPTION_CSV.lines().skip(1).find_map(|line| {
        let mut f = line.split(',');
        let (c, t, r, b) = (f.next()?, f.next()?, f.next()?, f.next()?);
        (c == cloud && t == instance_type && r == region).then_some(b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_catalog_parses_and_has_every_cloud() {
        let c = Catalog::bundled();
        assert!(c.rows().len() > 300);
        for cloud in ["aws", "gcp", "azure", "lambda"] {
            assert!(c.rows().iter().any(|r| r.cloud == cloud), "{cloud}");
        }
    }

    #[test]
    fn finds_by_name_and_region() {
        let c = Catalog::bundled();
        let g5 = c.find("g5.xlarge", Some("us-east-1"), None).unwrap();
        assert_eq!(g5.gpu_model, "A10G");
        assert_eq!(g5.gpu_count, 1);
        assert_eq!(g5.on_demand_usd_per_hour, Some(1.006));
        assert!(matches!(
            c.find("g5.xlarge", None, None),
            Err(LookupError::NeedsRegion { .. })
        ));
        assert!(matches!(
            c.find("g5.xlarge", Some("mars-1"), None),
            Err(LookupError::NotInRegion { .. })
        ));
        let Err(LookupError::Unknown { suggestions, .. }) = c.find("g5.xlarg", None, None) else {
            panic!("expected unknown")
        };
        assert!(
            suggestions.contains(&"g5.xlarge".to_string()),
            "{suggestions:?}"
        );
    }

    #[test]
    fn reserved_is_a_discount_on_on_demand() {
        let c = Catalog::bundled();
        let g5 = c.find("g5.xlarge", Some("us-east-1"), None).unwrap();
        let r = g5.price_usd_per_hour(Market::Reserved, 0.4).unwrap();
        assert!((r - 1.006 * 0.6).abs() < 1e-12);
    }

    #[test]
    fn bad_rows_name_the_line() {
        let text = "cloud,instance_type,gpu_model,gpu_count,gpu_memory_gib,vcpus,memory_gib,region,on_demand_usd_per_hour,spot_usd_per_hour\n\
                    x,a,H100,8,80,1,1,r,1.0,\n\
                    x,b,H100,eight,80,1,1,r,1.0,\n";
        let err = Catalog::parse(text, "mine.csv").unwrap_err().to_string();
        assert!(err.starts_with("mine.csv:3:"), "{err}");
        assert!(err.contains("column 4"), "{err}");
    }
}
