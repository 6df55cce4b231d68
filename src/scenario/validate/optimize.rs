//! The `[optimize]` table: candidates, markets and the purchase model's constraints.

use crate::scenario::spanned::Spanned;

use super::{Checker, Entry, ModelEntry};
use crate::pricing::{Catalog, Market};
use crate::scenario::{CapacitySpec, LimitSpec, OptimizeSpec, VerifySpec, raw};
use crate::units::SimTime;
use crate::workload::Workload;

/// Fields of a candidate that the optimizer decides, so the file may not set them.
const CHOSEN: &str = "the optimizer chooses it";

impl Checker<'_> {
    pub(super) fn optimize(
        &mut self,
        o: &Spanned<raw::Optimize>,
        workloads_raw: &[Entry<Option<raw::Workload>>],
        workloads: &[Workload],
        models: &[ModelEntry],
        catalog: &Catalog,
        reserved_discount: f64,
    ) -> Option<OptimizeSpec> {
        let before = self.problems.len();
        let span = o.span();
        let o = o.get_ref();
        let workload = match &o.workload {
            Some(w) => {
                let i = workloads_raw
                    .iter()
                    .position(|(n, _)| n.get_ref() == w.get_ref());
                if i.is_none() {
                    self.error(w.span(), format!("no workload named {:?}", w.get_ref()));
                }
                i
            }
            None if workloads_raw.len() == 1 => Some(0),
            None => {
                self.error(
                    span.start..span.start,
                    "[optimize] must say which workload it plans for (`workload = \"...\"`): the scenario has several",
                );
                None
            }
        };
        let mut candidates = Vec::new();
        if o.candidates.get_ref().is_empty() {
            self.error(
                o.candidates.span(),
                "[optimize] needs at least one candidate, e.g. candidates.l40s = { instance_type = \"g6e.xlarge\" }",
            );
        }
        for (name, p) in o.candidates.get_ref() {
            let p = p.get_ref();
            let set = [
                ("workload", p.workload.as_ref().map(Spanned::span)),
                ("replicas", p.replicas.as_ref().map(Spanned::span)),
                ("market", p.market.as_ref().map(Spanned::span)),
                ("autoscale", p.autoscale.as_ref().map(Spanned::span)),
                ("interruptions", p.interruptions.as_ref().map(Spanned::span)),
                ("spill_order", p.spill_order.as_ref().map(Spanned::span)),
                (
                    "reserved_discount",
                    p.reserved_discount.as_ref().map(Spanned::span),
                ),
                ("weight", p.weight.as_ref().map(Spanned::span)),
            ];
            for (field, s) in set {
                if let Some(s) = s {
                    self.error(s, format!("a candidate does not set `{field}`: {CHOSEN}"));
                }
            }
            if let Some(w) = workload
                && let Some(pool) = self.pool(
                    name,
                    p,
                    workloads_raw,
                    workloads,
                    models,
                    catalog,
                    reserved_discount,
                    Some(w),
                )
            {
                candidates.push(pool);
            }
        }
        let mut markets = Vec::new();
        match &o.markets {
            None => markets = vec![Market::OnDemand, Market::Spot, Market::Reserved],
            Some(list) => {
                for m in list.get_ref() {
                    match Market::parse(m.get_ref()) {
                        Some(x) if !markets.contains(&x) => markets.push(x),
                        Some(_) => self.error(m.span(), "this market is listed twice"),
                        None => self.error(
                            m.span(),
                            format!(
                                "unknown market {:?}; expected on-demand, spot or reserved",
                                m.get_ref()
                            ),
                        ),
                    }
                }
                if list.get_ref().is_empty() {
                    self.error(list.span(), "`markets` needs at least one market");
                }
                markets.sort_by_key(|m| market_rank(*m));
            }
        }
        let fraction = |c: &mut Self,
                        v: &Option<Spanned<f64>>,
                        field: &str,
                        lo: f64,
                        hi: f64,
                        default: f64| match v {
            None => default,
            Some(v) if (lo..=hi).contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                c.error(
                    v.span(),
                    format!("`{field}` must be from {lo} to {hi}, got {}", v.get_ref()),
                );
                default
            }
        };
        let peak_percentile = fraction(
            self,
            &o.peak_percentile,
            "peak_percentile",
            0.0,
            100.0,
            100.0,
        );
        let headroom = fraction(self, &o.headroom, "headroom", 0.0, 10.0, 0.1);
        let spot_share = fraction(self, &o.spot_share, "spot_share", 0.0, 1.0, 0.5);
        let count = |c: &mut Self, v: &Spanned<i64>, field: &str, lo: i64, hi: i64| {
            if (lo..=hi).contains(v.get_ref()) {
                Some(*v.get_ref() as u32)
            } else {
                c.error(
                    v.span(),
                    format!(
                        "`{field}` must be a whole number from {lo} to {hi}, got {}",
                        v.get_ref()
                    ),
                );
                None
            }
        };
        let spare_replicas = o
            .spare_replicas
            .as_ref()
            .and_then(|v| count(self, v, "spare_replicas", 0, 1000))
            .unwrap_or(0);
        let budget_per_day = o
            .budget_per_day
            .as_ref()
            .and_then(|b| self.positive(b, "budget_per_day"));
        let mut limits = Vec::new();
        for l in o.limits.iter().flatten() {
            let (ls, l) = (l.span(), l.get_ref());
            let candidate = l.candidate.as_ref().and_then(|c| {
                let i = o
                    .candidates
                    .get_ref()
                    .keys()
                    .position(|n| n.get_ref() == c.get_ref());
                if i.is_none() {
                    self.error(c.span(), format!("no candidate named {:?}", c.get_ref()));
                }
                i
            });
            let market = l.market.as_ref().and_then(|m| {
                let x = Market::parse(m.get_ref());
                if x.is_none() {
                    self.error(
                        m.span(),
                        format!(
                            "unknown market {:?}; expected on-demand, spot or reserved",
                            m.get_ref()
                        ),
                    );
                }
                x
            });
            let region = l.region.as_ref().map(|r| r.get_ref().clone());
            if l.candidate.is_none() && region.is_none() && market.is_none() {
                self.error(
                    ls.clone(),
                    "a limit names a `candidate`, a `region` or a `market` (or several)",
                );
            }
            let max = count(self, &l.max, "max", 0, 1_000_000);
            let name = [
                l.candidate
                    .as_ref()
                    .map(|c| format!("candidate {}", c.get_ref())),
                region.as_ref().map(|r| format!("region {r}")),
                market.map(|m| m.to_string()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            if let Some(max) = max {
                limits.push(LimitSpec {
                    name,
                    candidate,
                    region,
                    market,
                    max,
                });
            }
        }
        let cap = o.capacity.as_ref().map(Spanned::get_ref);
        let replications = |c: &mut Self, v: Option<&Spanned<i64>>, default: u32| {
            v.and_then(|v| count(c, v, "replications", 1, 1000))
                .unwrap_or(default)
        };
        let mut pool_sizes = vec![1, 2, 4, 8, 16, 32];
        if let Some(sizes) = cap.and_then(|c| c.pool_sizes.as_ref()) {
            let mut list = Vec::new();
            for &n in sizes.get_ref() {
                match u32::try_from(n) {
                    Ok(n) if (1..=100_000).contains(&n) => list.push(n),
                    _ => self.error(
                        sizes.span(),
                        format!("`pool_sizes` are replica counts from 1, got {n}"),
                    ),
                }
            }
            list.sort_unstable();
            list.dedup();
            if list.first() != Some(&1) {
                self.error(
                    sizes.span(),
                    "`pool_sizes` must include 1 (one replica's capacity)",
                );
            }
            pool_sizes = list;
        }
        let capacity = CapacitySpec {
            replications: replications(self, cap.and_then(|c| c.replications.as_ref()), 2),
            horizon: cap
                .and_then(|c| c.horizon.as_ref())
                .map_or(SimTime::from_secs(1200), |h| h.get_ref().0),
            pool_sizes,
            tolerance: fraction(
                self,
                &cap.and_then(|c| c.tolerance.clone()),
                "tolerance",
                0.001,
                0.5,
                0.02,
            ),
        };
        if capacity.horizon < SimTime::from_secs(60) {
            let s = cap
                .and_then(|c| c.horizon.as_ref())
                .map_or(span.clone(), Spanned::span);
            self.error(s, "capacity `horizon` must be at least \"1m\"");
        }
        let ver = o.verify.as_ref().map(Spanned::get_ref);
        let verify = VerifySpec {
            replications: replications(self, ver.and_then(|v| v.replications.as_ref()), 3),
            rounds: ver
                .and_then(|v| v.rounds.as_ref())
                .and_then(|r| count(self, r, "rounds", 1, 100))
                .unwrap_or(6),
            horizon: ver.and_then(|v| v.horizon.as_ref()).map(|h| h.get_ref().0),
        };
        if let (Some(v), Some(h)) = (ver.and_then(|v| v.horizon.as_ref()), verify.horizon)
            && h <= SimTime::from_secs(60)
        {
            self.error(
                v.span(),
                "verify `horizon` must be longer than a minute, and than the scenario's warmup",
            );
        }
        if let Some(w) = workload
            && let Some(wl) = workloads.get(w)
        {
            if wl.slo.is_none() {
                self.error(
                    span.start..span.start,
                    format!(
                        "workload {:?} has no SLO to plan for; add slo = {{ p99 = \"...\" }}",
                        wl.name
                    ),
                );
            }
            if wl.arrival.is_offline() {
                self.error(span.start..span.start, "the optimizer plans for a stream of requests; a batch arrival has no demand curve");
            }
        }
        if self.problems.len() > before {
            return None;
        }
        Some(OptimizeSpec {
            workload: workload?,
            candidates,
            markets,
            peak_percentile,
            headroom,
            spot_share,
            spare_replicas,
            budget_per_day,
            spot_interruptions: o.spot_interruptions.unwrap_or(true),
            limits,
            reserved_discount,
            capacity,
            verify,
        })
    }
}

fn market_rank(m: Market) -> u8 {
    match m {
        Market::OnDemand => 0,
        Market::Spot => 1,
        Market::Reserved => 2,
    }
}
