//! The bill divided among what ran it up: each serving pool (and so its workload), each
//! training job, the training cluster, and a shared rest. A scenario that holds two options
//! (pool A serving workload `a`, pool B serving `b`) then shows what each costs in full, not
//! only its GPUs.
//!
//! Every line of the bill comes with a [`Basis`], weights per party, and is divided in
//! proportion to them, so the parts add up to the bill's total by construction:
//! - serving compute in a market: by each pool's cost in that market over the window (the line
//!   scales them to the period);
//! - a training job's compute: the job; the cluster's: the cluster;
//! - egress per request: by each workload's completed requests, and within a workload by the
//!   requests each pool served ([`within_workload`]);
//! - logging, ingestion and retention (retention is proportional to the GB ingested): the GB
//!   logged per request as egress, the GB per GPU-hour by each pool's, job's and the cluster's
//!   paid GPU-hours;
//! - energy on the bill (an owned fleet): by each pool's, job's and the cluster's owned kWh;
//! - storage and cross-region transfer: shared, as is a line whose basis weighs nothing.

use super::{Driver, Line};
use crate::experiment::Summary;
use crate::fleet::Serving;
use crate::scenario::Scenario;
use crate::sim::Metric;

const N: usize = Driver::ALL.len();

/// Who a part of the bill is charged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Party {
    /// A serving pool, by its index in the scenario.
    Pool(usize),
    /// A training job, by its index in `[training.jobs]`.
    Job(usize),
    Cluster,
    Shared,
}

/// How one line of the bill divides: weights per party (a party may come more than once).
/// Weights that are not finite and positive count as none; a line with none is shared.
pub type Basis = Vec<(Party, f64)>;

/// What one pool, job, the cluster or the shared rest is charged for the period.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    pub name: String,
    /// A pool's workload, by its index in [`Split::workloads`].
    pub workload: Option<usize>,
    pub usd: f64,
    /// In driver order, drivers with nothing left out.
    pub by_driver: Vec<(Driver, f64)>,
}

/// A workload's pools together.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadShare {
    pub name: String,
    pub usd: f64,
    /// Requests it completed in the period.
    pub predictions: f64,
}

/// The bill by pool, workload, training job and cluster, and the shared rest.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Every pool, in the scenario's order.
    pub pools: Vec<Share>,
    /// Every workload, in the scenario's order: the sum of its pools.
    pub workloads: Vec<WorkloadShare>,
    /// Every training job, then the cluster (named "cluster") if there is one.
    pub training: Vec<Share>,
    pub shared: Share,
}

impl Split {
    /// The parts together: the bill's total, up to rounding.
    pub fn total_usd(&self) -> f64 {
        self.pools
            .iter()
            .chain(&self.training)
            .map(|s| s.usd)
            .sum::<f64>()
            + self.shared.usd
    }
}

/// Divides each line by its basis (`bases[i]` for `lines[i]`; a missing one is shared).
pub(super) fn divide(
    scenario: &Scenario,
    summary: Option<&Summary>,
    scale: f64,
    lines: &[Line],
    bases: &[Basis],
) -> Split {
    let jobs = scenario.training().as_ref().map_or(&[][..], |t| &t.jobs);
    let has_cluster = scenario
        .training()
        .as_ref()
        .is_some_and(|t| t.cluster.is_some());
    let mut pools = vec![[0.0; N]; scenario.pools().len()];
    let mut training = vec![[0.0; N]; jobs.len() + usize::from(has_cluster)];
    let mut shared = [0.0; N];
    for (i, line) in lines.iter().enumerate() {
        let d = line.driver as usize;
        let basis: Vec<(Party, f64)> = bases
            .get(i)
            .into_iter()
            .flatten()
            .copied()
            .filter(|(_, w)| w.is_finite() && *w > 0.0)
            .collect();
        let sum: f64 = basis.iter().map(|(_, w)| w).sum();
        if !(sum.is_finite() && sum > 0.0) {
            shared[d] += line.usd;
            continue;
        }
        for (party, w) in basis {
            let usd = line.usd * (w / sum);
            let slot = match party {
                Party::Pool(p) => pools.get_mut(p),
                Party::Job(j) if j < jobs.len() => training.get_mut(j),
                Party::Cluster if has_cluster => training.last_mut(),
                Party::Job(_) | Party::Cluster | Party::Shared => None,
            };
            slot.unwrap_or(&mut shared)[d] += usd;
        }
    }
    let share = |name: &str, workload: Option<usize>, by: &[f64; N]| Share {
        name: name.to_string(),
        workload,
        usd: by.iter().sum(),
        by_driver: Driver::ALL
            .iter()
            .zip(by)
            .filter(|(_, usd)| **usd != 0.0)
            .map(|(d, usd)| (*d, *usd))
            .collect(),
    };
    let pools: Vec<Share> = scenario
        .pools()
        .iter()
        .zip(&pools)
        .map(|(p, by)| share(&p.name, Some(p.workload), by))
        .collect();
    let workloads = scenario
        .workloads()
        .iter()
        .enumerate()
        .map(|(w, wl)| WorkloadShare {
            name: wl.name.clone(),
            usd: pools
                .iter()
                .filter(|p| p.workload == Some(w))
                .map(|p| p.usd)
                .sum(),
            predictions: summary
                .and_then(|s| s.workloads.get(w))
                .map_or(0.0, |s| s.get(Metric::Completed).mean * scale),
        })
        .collect();
    let names = jobs
        .iter()
        .map(|j| j.name.as_str())
        .chain(has_cluster.then_some("cluster"));
    Split {
        pools,
        workloads,
        training: names
            .zip(&training)
            .map(|(n, by)| share(n, None, by))
            .collect(),
        shared: share("shared", None, &shared),
    }
}

/// Each pool's requests in the period: its workload's completed requests (over the window,
/// times `scale`) divided among the workload's pools as [`within_workload`] says. A workload
/// with no pool is shared.
pub(super) fn requests(scenario: &Scenario, summary: &Summary, scale: f64) -> Basis {
    let mut out = Basis::new();
    for (w, s) in summary.workloads.iter().enumerate() {
        let completed = s.get(Metric::Completed).mean * scale;
        let within = within_workload(scenario, summary, w);
        if within.is_empty() {
            out.push((Party::Shared, completed));
        }
        out.extend(
            within
                .into_iter()
                .map(|(p, x)| (Party::Pool(p), completed * x)),
        );
    }
    out
}

/// How workload `w`'s requests divide among its pools, shares that add up to 1: by the
/// requests each served in the window (an LLM pool's finished requests, a request-level pool's
/// batched items), where its pools are all of one kind and served any; else by their compute
/// cost; else evenly.
fn within_workload(scenario: &Scenario, summary: &Summary, w: usize) -> Vec<(usize, f64)> {
    let pools: Vec<usize> = scenario
        .pools_of(w)
        .filter(|&p| p < summary.pools.len())
        .collect();
    let llm = |p: usize| matches!(scenario.pools()[p].serving, Serving::Llm(_));
    let one_kind = pools.iter().all(|&p| llm(p)) || pools.iter().all(|&p| !llm(p));
    let served = |p: usize| {
        let s = &summary.pools[p];
        if llm(p) {
            // Requests over replica-time, times replica-time over the window: requests over
            // the window, which all of a workload's pools share.
            if s.replicas_mean > 0.0 {
                s.requests_per_second_per_replica * s.replicas_mean
            } else {
                0.0
            }
        } else if s.batches > 0.0 {
            s.batches * s.batch_size_mean
        } else {
            0.0
        }
    };
    let shares = |weight: &dyn Fn(usize) -> f64| {
        let ws: Vec<f64> = pools.iter().map(|&p| weight(p)).collect();
        let sum: f64 = ws.iter().sum();
        (ws.iter().all(|w| w.is_finite() && *w >= 0.0) && sum > 0.0 && sum.is_finite())
            .then(|| pools.iter().zip(ws).map(|(&p, w)| (p, w / sum)).collect())
    };
    one_kind
        .then(|| shares(&served))
        .flatten()
        .or_else(|| shares(&|p| summary.pools[p].cost_usd))
        .unwrap_or_else(|| {
            let even = 1.0 / pools.len() as f64;
            pools.iter().map(|&p| (p, even)).collect()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::bill::Bill;
    use crate::experiment::run::{Outcome, RunOptions, run};
    use std::path::Path;

    fn load(file: &str, sets: &[&str]) -> Scenario {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        crate::scenario::load(&root.join("scenarios").join(file), &sets).unwrap()
    }

    fn outcome(s: &Scenario) -> (Outcome, Bill) {
        let out = run(s, &RunOptions::new(s, 1)).unwrap();
        let bill = out.bill.clone().expect("a [costs] table");
        (out, bill)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    /// What the lines whose item starts with `prefix` cost together.
    fn lines(b: &Bill, prefix: &str) -> f64 {
        b.lines
            .iter()
            .filter(|l| l.item.starts_with(prefix))
            .map(|l| l.usd)
            .sum()
    }

    fn driver(s: &Share, d: Driver) -> f64 {
        s.by_driver
            .iter()
            .find(|(x, _)| *x == d)
            .map_or(0.0, |(_, usd)| *usd)
    }

    #[test]
    fn the_full_bill_s_parts_add_up_to_its_total() {
        let (_, b) = outcome(&load("full-bill.toml", &[]));
        let s = &b.split;
        assert!(close(s.total_usd(), b.total_usd()), "{s:?}");
        // Serving's compute is its pools', the fine-tune's is the job's.
        let pools_compute: f64 = s.pools.iter().map(|p| driver(p, Driver::Compute)).sum();
        assert!(close(pools_compute, lines(&b, "serving")));
        assert_eq!(s.training.len(), 1);
        assert!(close(
            driver(&s.training[0], Driver::Compute),
            lines(&b, "training nightly-finetune")
        ));
        // Storage and cross-region are shared; egress and logs are not.
        assert!(close(
            s.shared.usd,
            lines(&b, "storage") + lines(&b, "cross-region")
        ));
        let attributed = |d| {
            s.pools
                .iter()
                .chain(&s.training)
                .map(|p| driver(p, d))
                .sum::<f64>()
        };
        assert!(close(attributed(Driver::Transfer), lines(&b, "egress")));
        assert!(close(attributed(Driver::Logging), lines(&b, "log")));
        // One workload: all of serving's requests, and its pools' dollars.
        let [chat] = &s.workloads[..] else {
            panic!("one workload: {s:?}")
        };
        assert!(close(chat.predictions, b.predictions));
        let pools: f64 = s.pools.iter().map(|p| p.usd).sum();
        assert!(close(chat.usd, pools));
        assert!(s.pools.iter().all(|p| p.workload == Some(0) && p.usd > 0.0));
    }

    #[test]
    fn each_workload_pays_for_its_own_pools_and_requests() {
        // Three workloads, the second on two pools (and the spot pool's on-demand fallback).
        let s = load(
            "spot-mix.toml",
            &[
                "horizon=\"4h\"",
                "costs={period=\"30d\", transfer={egress_kb_per_request=8, \
                 cross_region_gb_per_day=10}, logging={kb_per_request=4, \
                 mb_per_gpu_hour=100, retention_days=7}}",
            ],
        );
        let (out, b) = outcome(&s);
        let sp = &b.split;
        assert!(close(sp.total_usd(), b.total_usd()), "{sp:?}");
        assert_eq!(sp.workloads.len(), 3);
        assert!(s.pools_of(1).count() >= 2);
        let summary = out.serving.as_ref().unwrap();
        let scale = b.period_days * 24.0 / s.window().as_hours_f64();
        let egress = lines(&b, "egress");
        let all: f64 = sp.workloads.iter().map(|w| w.predictions).sum();
        assert!(close(all, b.predictions));
        for (w, ws) in sp.workloads.iter().enumerate() {
            let pools: Vec<&Share> = sp.pools.iter().filter(|p| p.workload == Some(w)).collect();
            assert_eq!(pools.len(), s.pools_of(w).count());
            let sum: f64 = pools.iter().map(|p| p.usd).sum();
            assert!(close(ws.usd, sum));
            // Its compute is what its pools cost over the window, scaled to the period.
            let compute: f64 = pools.iter().map(|p| driver(p, Driver::Compute)).sum();
            let want = summary.workloads[w].get(Metric::CostTotal).mean * scale;
            assert!(close(compute, want), "{compute} vs {want}");
            // Its egress is its requests' part.
            let transfer: f64 = pools.iter().map(|p| driver(p, Driver::Transfer)).sum();
            assert!(close(transfer, egress * ws.predictions / b.predictions));
        }
        // Within a workload, egress follows the requests each pool served (request-level
        // pools: their batches' items): in these four hours the spill-over pool `burst` was
        // paid for but served none, so it pays for no egress.
        let served = |p: usize| {
            let ps = &summary.pools[p];
            if ps.batches > 0.0 {
                ps.batches * ps.batch_size_mean
            } else {
                0.0
            }
        };
        let transfer = |p: usize| driver(&sp.pools[p], Driver::Transfer);
        let (all_served, all_transfer): (f64, f64) = s
            .pools_of(1)
            .map(|p| (served(p), transfer(p)))
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        for p in s.pools_of(1) {
            assert!(close(transfer(p) / all_transfer, served(p) / all_served));
        }
        let burst = s.pools().iter().position(|p| p.name == "burst").unwrap();
        assert!(served(burst) == 0.0 && transfer(burst) == 0.0);
        assert!(driver(&sp.pools[burst], Driver::Compute) > 0.0);
        // The one thing no pool ran up: traffic between regions.
        assert!(close(sp.shared.usd, lines(&b, "cross-region")));
        assert!(sp.training.is_empty());
    }

    #[test]
    fn an_owned_fleet_s_energy_follows_its_pools_and_jobs() {
        let s = load(
            "full-bill.toml",
            &[
                "energy.owned=true",
                "training.jobs.nightly-finetune.market=\"reserved\"",
                "training.jobs.nightly-finetune.checkpoint.interval=\"none\"",
            ],
        );
        let (_, b) = outcome(&s);
        let sp = &b.split;
        assert!(close(sp.total_usd(), b.total_usd()));
        let e = b.energy.as_ref().unwrap();
        let price = s.energy().as_ref().unwrap().price_per_kwh;
        let pools: f64 = sp.pools.iter().map(|p| driver(p, Driver::Energy)).sum();
        assert!(close(pools, e.owned_serving_kwh * price));
        assert!(close(
            driver(&sp.training[0], Driver::Energy),
            e.owned_training_kwh * price
        ));
        // The spot pool's power is the cloud's: none of the energy lines is its.
        for (p, share) in s.pools().iter().zip(&sp.pools) {
            assert_eq!(
                driver(share, Driver::Energy) > 0.0,
                p.market != crate::pricing::Market::Spot,
                "{}",
                p.name
            );
        }
        assert_eq!(driver(&sp.shared, Driver::Energy), 0.0);
    }

    #[test]
    fn a_line_with_no_measurable_basis_is_shared() {
        let s = load("full-bill.toml", &[]);
        let line = |usd| Line {
            driver: Driver::Logging,
            item: "x".into(),
            usd,
        };
        let lines = [line(1.0), line(2.0), line(4.0), line(8.0), line(16.0)];
        let bases = vec![
            vec![(Party::Pool(99), 1.0), (Party::Job(7), 1.0)],
            vec![(Party::Pool(0), f64::NAN), (Party::Pool(1), -1.0)],
            vec![(Party::Pool(0), f64::INFINITY)],
            vec![(Party::Pool(0), 1e308), (Party::Pool(1), 1e308)],
        ];
        let sp = divide(&s, None, 1.0, &lines, &bases);
        // Out of range: shared; no finite positive weight: shared; no basis: shared; weights
        // that overflow their sum: shared.
        assert_eq!(sp.shared.usd, 31.0);
        assert_eq!(sp.total_usd(), 31.0);
        assert!(
            sp.pools
                .iter()
                .all(|p| p.usd == 0.0 && p.by_driver.is_empty())
        );
        assert!(sp.workloads.iter().all(|w| w.predictions == 0.0));
    }
}
