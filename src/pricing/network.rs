//! Network bandwidth between nodes per instance type: the training step-time model's data-parallel
//! all-reduce crosses it, and the price catalog does not carry it. The figures are the clouds'
//! documented maxima (`pricing/network.csv`, sources in `pricing/SOURCE.md`), not measured ones.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

const BUNDLED_CSV: &str = include_str!("../../pricing/network.csv");

/// One row of `pricing/network.csv`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    cloud: String,
    instance_type: String,
    /// Gbit/s; empty where the cloud publishes no figure.
    network_gbps: Option<f64>,
    gpudirect: bool,
    /// Where the figure comes from; every row must cite one.
    source: String,
}

/// What a lookup returns: the documented bandwidth and the kind of fabric.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Link {
    gbps: Option<f64>,
    gpudirect: bool,
}

fn parse(text: &str) -> Result<BTreeMap<(String, String), Link>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut table = BTreeMap::new();
    for row in reader.deserialize::<Row>() {
        let row = row.map_err(|e| e.to_string())?;
        if row.source.is_empty() {
            return Err(format!("{} {}: no source", row.cloud, row.instance_type));
        }
        if row
            .network_gbps
            .is_some_and(|g| !(g > 0.0 && g.is_finite()))
        {
            return Err(format!(
                "{} {}: network_gbps must be positive",
                row.cloud, row.instance_type
            ));
        }
        let key = (row.cloud, row.instance_type);
        let link = Link {
            gbps: row.network_gbps,
            gpudirect: row.gpudirect,
        };
        if table.insert(key.clone(), link).is_some() {
            return Err(format!("{} {}: duplicate row", key.0, key.1));
        }
    }
    Ok(table)
}

static TABLE: LazyLock<BTreeMap<(String, String), Link>> = LazyLock::new(|| {
    parse(BUNDLED_CSV).expect("the bundled network table parses (checked by a unit test)")
});

fn link(cloud: &str, instance_type: &str) -> Option<Link> {
    TABLE
        .get(&(cloud.to_string(), instance_type.to_string()))
        .copied()
}

/// Documented network bandwidth between nodes, Gbit/s: `None` for an unknown instance type or one
/// whose cloud publishes no figure. "Up to" (burst) sizes give the burst figure.
pub fn network_gbps(cloud: &str, instance_type: &str) -> Option<f64> {
    link(cloud, instance_type)?.gbps
}

/// Whether the network between nodes is a GPU-direct RDMA fabric (EFA with GPUDirect RDMA,
/// InfiniBand, GPUDirect-TCPX/TCPXO); `None` for an unknown instance type.
pub fn gpudirect(cloud: &str, instance_type: &str) -> Option<bool> {
    Some(link(cloud, instance_type)?.gpudirect)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTANCES_CSV: &str = include_str!("../../pricing/gpu_instances.csv");

    #[test]
    fn bundled_table_parses() {
        let table = parse(BUNDLED_CSV).unwrap();
        assert!(table.len() > 100, "{}", table.len());
    }

    #[test]
    fn every_catalog_instance_type_has_a_row() {
        let mut reader = csv::Reader::from_reader(INSTANCES_CSV.as_bytes());
        let missing: Vec<String> = reader
            .records()
            .map(|r| r.unwrap())
            .filter(|r| gpudirect(&r[0], &r[1]).is_none())
            .map(|r| format!("{} {}", &r[0], &r[1]))
            .collect();
        assert!(missing.is_empty(), "no network row for {missing:?}");
    }

    #[test]
    fn known_values() {
        assert_eq!(network_gbps("aws", "p5.48xlarge"), Some(3200.0));
        assert_eq!(network_gbps("aws", "p4d.24xlarge"), Some(400.0));
        assert_eq!(gpudirect("aws", "p5.48xlarge"), Some(true));
        assert_eq!(
            network_gbps("azure", "Standard_ND96isr_H100_v5"),
            Some(3200.0)
        );
        assert_eq!(gpudirect("aws", "g5.xlarge"), Some(false));
        // A row without a published figure, and a type that has no row.
        assert_eq!(network_gbps("lambda", "gpu_8x_h100_sxm5"), None);
        assert_eq!(gpudirect("lambda", "gpu_8x_h100_sxm5"), Some(false));
        assert_eq!(network_gbps("aws", "p5.48xlarg"), None);
        assert_eq!(gpudirect("gcp", "p5.48xlarge"), None);
    }

    #[test]
    fn bad_rows_are_rejected() {
        let head = "cloud,instance_type,network_gbps,gpudirect,source\n";
        assert!(parse(&format!("{head}aws,a,-1,false,x\n")).is_err());
        assert!(parse(&format!("{head}aws,a,10,maybe,x\n")).is_err());
        assert!(parse(&format!("{head}aws,a,10,false,\n")).is_err());
        assert!(parse(&format!("{head}aws,a,10,false,x\naws,a,20,false,y\n")).is_err());
    }
}
