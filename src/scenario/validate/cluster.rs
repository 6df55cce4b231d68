//! `[training.cluster]`: a job stream on a shared cluster of fixed, autoscaled, or shared
//! capacity.

use std::path::Path;
use std::sync::Arc;

use crate::scenario::spanned::Spanned;

use super::Checker;
use crate::fleet::Pool;
use crate::pricing::{Catalog, Market};
use crate::scenario::raw::training as raw;
use crate::scenario::training_spec::{ClusterCapacity, ClusterSpec, JobStream};
use crate::training::cluster::Policy;
use crate::training::elastic::Capacity;

/// A cluster job's checkpoint interval when the file does not say: hourly.
pub const DEFAULT_CLUSTER_CHECKPOINT_S: f64 = 3600.0;
/// Most GPUs a cluster may have.
const MAX_CLUSTER_GPUS: u64 = 10_000_000;

/// A cluster job's restart overhead when the file does not say.
pub const DEFAULT_CLUSTER_RESTART_S: f64 = 120.0;

impl Checker<'_> {
    pub(super) fn cluster(
        &mut self,
        c: &Spanned<raw::Cluster>,
        catalog: &Catalog,
        reserved_discount: f64,
        pools: &[Pool],
        base: &Path,
    ) -> Option<ClusterSpec> {
        let before = self.problems.len();
        let at = c.span();
        let c = c.get_ref();
        let limit = match &c.jobs {
            Some(n) => self.whole(n, "jobs", 1).map(|n| n as usize),
            None => Some(usize::MAX),
        };
        let stream = match (&c.trace, &c.synthetic) {
            (Some(t), None) => match crate::training::trace::read(&base.join(t.get_ref())) {
                Ok(mut jobs) => {
                    jobs.truncate(limit.unwrap_or(usize::MAX));
                    Some(JobStream::Trace {
                        path: t.get_ref().clone(),
                        jobs: Arc::new(jobs),
                    })
                }
                Err(e) => {
                    self.error(t.span(), e.to_string());
                    None
                }
            },
            (None, Some(s)) => self.synthetic(s),
            (Some(t), Some(_)) => {
                self.error(t.span(), "give `trace` or `synthetic`, not both");
                None
            }
            (None, None) => {
                self.error(
                    at.clone(),
                    "[training.cluster] needs its jobs: `trace = \"FILE.csv\"` or a `synthetic` table",
                );
                None
            }
        };
        if let (Some(n), Some(_)) = (&c.jobs, &c.synthetic) {
            self.error(
                n.span(),
                "`jobs` limits a trace; a synthetic stream has its own `jobs`",
            );
        }
        let policy = match &c.policy {
            None => Some(Policy::Fifo),
            Some(p) => Policy::parse(p.get_ref()).or_else(|| {
                self.error(
                    p.span(),
                    format!(
                        "unknown policy {:?}; expected fifo, backfill or priority",
                        p.get_ref()
                    ),
                );
                None
            }),
        };
        let inst = match (&c.instance_type, &c.share_with) {
            (Some(t), None) => self.catalog_instance(catalog, t, &c.region, &c.cloud),
            (Some(t), Some(_)) => {
                self.error(
                    t.span(),
                    "a cluster that shares serving's pools runs on their instances; remove `instance_type`",
                );
                None
            }
            (None, Some(_)) => None,
            (None, None) => {
                self.error(
                    at.clone(),
                    "[training.cluster] needs `instance_type` (from the catalog), or `share_with` to run on serving's pools",
                );
                None
            }
        };
        let market = match (&inst, &c.instance_type) {
            (Some(i), Some(t)) => self.market_price(&c.market, i, t, reserved_discount),
            _ => None,
        };
        if let (Some((Market::Spot, _)), Some(m)) = (&market, &c.market) {
            self.error(
                m.span(),
                "a cluster's jobs are not reclaimed in this model, so spot would be priced without its risk; use on-demand or reserved (a single job on spot: [training.jobs.NAME])",
            );
        }
        let capacity = match (&c.gpus, &c.autoscale, &c.share_with) {
            (Some(g), None, None) => match self.whole(g, "gpus", 1) {
                Some(gpus) if u64::from(gpus) > MAX_CLUSTER_GPUS => {
                    self.error(g.span(), format!("`gpus` is at most {MAX_CLUSTER_GPUS}"));
                    None
                }
                gpus => gpus.map(|gpus| ClusterCapacity::Own(Capacity::Steps(vec![(0.0, gpus)]))),
            },
            (None, Some(a), None) => {
                let a = a.get_ref();
                let min = match &a.min_nodes {
                    Some(m) => self.whole(m, "min_nodes", 0),
                    None => Some(0),
                };
                let max = self.whole(&a.max_nodes, "max_nodes", 1);
                if let (Some(lo), Some(hi)) = (min, max)
                    && lo > hi
                {
                    self.error(
                        a.max_nodes.span(),
                        format!("`max_nodes` ({hi}) is below `min_nodes` ({lo})"),
                    );
                }
                if let (Some(hi), Some(i)) = (max, &inst)
                    && u64::from(hi) * u64::from(i.gpu_count) > MAX_CLUSTER_GPUS
                {
                    self.error(
                        a.max_nodes.span(),
                        format!(
                            "{hi} nodes of {} GPUs is more than {MAX_CLUSTER_GPUS} GPUs",
                            i.gpu_count
                        ),
                    );
                }
                match (min, max, &inst) {
                    (Some(min_nodes), Some(max_nodes), Some(i)) => {
                        Some(ClusterCapacity::Own(Capacity::Autoscaled {
                            gpus_per_node: i.gpu_count,
                            min_nodes,
                            max_nodes,
                            provision_s: a
                                .provision
                                .as_ref()
                                .map_or(300.0, |d| d.get_ref().0.as_secs_f64()),
                            idle_release_s: a
                                .idle_release
                                .as_ref()
                                .map_or(600.0, |d| d.get_ref().0.as_secs_f64()),
                        }))
                    }
                    _ => None,
                }
            }
            (None, None, Some(names)) => {
                let mut idx: Vec<usize> = Vec::new();
                let mut failed = false;
                for n in names.get_ref() {
                    match pools.iter().position(|p| &p.name == n.get_ref()) {
                        Some(i) if idx.contains(&i) => self.error(
                            n.span(),
                            format!("`share_with` lists pool {:?} twice", n.get_ref()),
                        ),
                        Some(i) if pools[i].scaling.is_none() => self.error(
                            n.span(),
                            format!(
                                "pool {:?} has a fixed size, so serving never leaves any of it to training; give it an `autoscale` table (its maximum is the fleet training shares)",
                                n.get_ref()
                            ),
                        ),
                        Some(i) if !idx.is_empty() && pools[i].market != pools[idx[0]].market => self.error(
                            n.span(),
                            format!(
                                "the pools in `share_with` must be on one market: {:?} is {}, {:?} is {}",
                                n.get_ref(),
                                pools[i].market,
                                pools[idx[0]].name,
                                pools[idx[0]].market
                            ),
                        ),
                        Some(i) => idx.push(i),
                        // A pool that is in the file but did not validate is reported already.
                        None if self.tree.get("pools").is_some_and(|t| {
                            t.get_ref()
                                .as_table()
                                .is_some_and(|t| t.contains_key(n.get_ref().as_str()))
                        }) =>
                        {
                            failed = true
                        }
                        None => self.error(
                            n.span(),
                            format!("`share_with` names no pool {:?}", n.get_ref()),
                        ),
                    }
                }
                if names.get_ref().is_empty() {
                    self.error(names.span(), "`share_with` lists no pools");
                }
                (!failed && !idx.is_empty()).then_some(ClusterCapacity::Shared { pools: idx })
            }
            (None, None, None) => {
                self.error(
                    at.clone(),
                    "[training.cluster] needs its capacity: `gpus = N`, an `autoscale` table, or `share_with = [\"POOL\"]`",
                );
                None
            }
            _ => {
                self.error(
                    at.clone(),
                    "give one of `gpus`, `autoscale` and `share_with` for the cluster's capacity",
                );
                None
            }
        };
        let checkpoint_interval_s = match &c.checkpoint_interval {
            Some(d) if d.get_ref().0.0 == 0 => {
                self.error(
                    d.span(),
                    "`checkpoint_interval` must be longer than zero, e.g. \"1h\"",
                );
                DEFAULT_CLUSTER_CHECKPOINT_S
            }
            Some(d) => d.get_ref().0.as_secs_f64(),
            None => DEFAULT_CLUSTER_CHECKPOINT_S,
        };
        let restart_s = c
            .restart
            .as_ref()
            .map_or(DEFAULT_CLUSTER_RESTART_S, |d| d.get_ref().0.as_secs_f64());
        if self.problems.len() > before {
            return None;
        }
        let (market, usd_per_gpu_hour) = match &capacity {
            Some(ClusterCapacity::Shared { pools: idx }) => {
                // The GPU-weighted price of the shared pools' GPUs, and their market.
                let gpus: f64 = idx.iter().map(|&p| gpus_of(&pools[p])).sum();
                let usd: f64 = idx
                    .iter()
                    .map(|&p| pools[p].price_usd_per_gpu_hour() * gpus_of(&pools[p]))
                    .sum();
                (
                    pools[idx[0]].market,
                    if gpus > 0.0 { usd / gpus } else { 0.0 },
                )
            }
            _ => {
                let (m, price) = market?;
                (m, price / f64::from(inst.as_ref()?.gpu_count))
            }
        };
        let power = match (&capacity, &inst) {
            (Some(ClusterCapacity::Shared { pools: idx }), _) => pools[idx[0]].power.clone(),
            (_, Some(i)) => self.power(i),
            _ => None,
        };
        Some(ClusterSpec {
            power,
            stream: stream?,
            capacity: capacity?,
            policy: policy?,
            usd_per_gpu_hour,
            instance: inst,
            market,
            checkpoint_interval_s,
            restart_s,
        })
    }

    fn synthetic(&mut self, s: &Spanned<raw::Synthetic>) -> Option<JobStream> {
        let s = s.get_ref();
        let jobs = self.whole(&s.jobs, "jobs", 1);
        let mean_interarrival_s = s.mean_interarrival.get_ref().0.as_secs_f64();
        let median_duration_s = s.median_duration.get_ref().0.as_secs_f64();
        for (v, field, name) in [
            (
                mean_interarrival_s,
                &s.mean_interarrival,
                "mean_interarrival",
            ),
            (median_duration_s, &s.median_duration, "median_duration"),
        ] {
            if v <= 0.0 {
                self.error(field.span(), format!("`{name}` must be longer than zero"));
            }
        }
        let duration_sigma = match &s.duration_sigma {
            Some(x) if !(x.get_ref().is_finite() && (0.0..=5.0).contains(x.get_ref())) => {
                self.error(
                    x.span(),
                    format!(
                        "`duration_sigma` is the spread of log durations, from 0 to 5 (5: the longest jobs last e^10 times the median); got {}",
                        x.get_ref()
                    ),
                );
                None
            }
            Some(x) => Some(*x.get_ref()),
            None => Some(1.0),
        };
        let mut gpus = Vec::new();
        for (k, w) in s.gpus.get_ref() {
            match k.parse::<u32>() {
                Ok(g) if g > 0 && w.is_finite() && *w > 0.0 => gpus.push((g, *w)),
                _ => self.error(
                    s.gpus.span(),
                    format!("`gpus` maps GPU counts to weights > 0, e.g. {{ 1 = 0.7, 8 = 0.3 }}; got {k} = {w}"),
                ),
            }
        }
        if s.gpus.get_ref().is_empty() {
            self.error(s.gpus.span(), "`gpus` lists no GPU counts");
        } else if !gpus.iter().map(|g| g.1).sum::<f64>().is_finite() {
            self.error(s.gpus.span(), "the weights in `gpus` add up to more than a number can hold; use shares such as 0.7 and 0.3");
        }
        gpus.sort_by_key(|g| g.0);
        Some(JobStream::Synthetic {
            jobs: jobs?,
            mean_interarrival_s,
            median_duration_s,
            duration_sigma: duration_sigma?,
            gpus,
        })
    }
}

/// The GPUs a pool can hold at its most replicas.
fn gpus_of(p: &Pool) -> f64 {
    f64::from(p.max_replicas() * p.gpus_per_replica)
}
