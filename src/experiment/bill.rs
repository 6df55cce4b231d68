//! The bill for a period, by driver: compute by market (serving, training jobs, the training
//! cluster), storage, data transfer, logging, and energy where the fleet is owned; and what each
//! driver adds to the cost of one prediction.
//!
//! Serving is simulated over the scenario's window and scaled to the period at the same rate;
//! a training job is counted `runs_per_day` times a day (once a period without it) at its mean cost over replications; the
//! cluster at its cost per day over its makespan. Storage, transfer and logging follow
//! [`crate::costs`]. Energy is a line only where the fleet is owned (`[energy] owned = true`),
//! and then for all but spot capacity (the cloud's, priced with its power); otherwise it is
//! reported beside the bill, since cloud prices include power.
//!
//! Each line is also divided among the pools, training jobs and cluster that ran it up, beside
//! the total ([`split`]).

pub mod split;

use crate::costs::DAYS_PER_MONTH;
use crate::fleet::EnergySpec;
use crate::pricing::Market;
use crate::scenario::Scenario;
use crate::sim::Metric;

use super::Summary;
use super::training::TrainingSummary;
use split::{Basis, Party, Split};

/// What a line of the bill pays for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Driver {
    Compute,
    Storage,
    Transfer,
    Logging,
    Energy,
}

impl Driver {
    pub const ALL: [Driver; 5] = [
        Driver::Compute,
        Driver::Storage,
        Driver::Transfer,
        Driver::Logging,
        Driver::Energy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Compute => "compute",
            Driver::Storage => "storage",
            Driver::Transfer => "transfer",
            Driver::Logging => "logging",
            Driver::Energy => "energy",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub driver: Driver,
    pub item: String,
    pub usd: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Bill {
    pub period_days: f64,
    pub lines: Vec<Line>,
    /// Requests served in the period (0 without serving).
    pub predictions: f64,
    /// Of the serving compute, what idle GPU time cost.
    pub serving_idle_usd: f64,
    /// GPU-hours paid in the period, serving and training.
    pub gpu_hours: f64,
    /// With an `[energy]` table: the period's energy at the meter, serving and training.
    pub energy: Option<EnergyUse>,
    /// The same lines by pool and workload, training job and cluster, and the shared rest.
    pub split: Split,
}

/// Energy in the period (after PUE), where the scenario prices it.
#[derive(Clone, Debug, PartialEq)]
pub struct EnergyUse {
    pub serving_kwh: f64,
    pub training_kwh: f64,
    /// Of each, what owned capacity drew (all but spot, which is the cloud's): the bill's lines
    /// when `owned`.
    pub owned_serving_kwh: f64,
    pub owned_training_kwh: f64,
    pub usd: f64,
    pub carbon_kg: Option<f64>,
    /// On the bill (an owned fleet), or beside it (cloud prices include power).
    pub owned: bool,
    /// Parts of the fleet with no power figures, left out.
    pub unknown: Vec<String>,
}

impl Bill {
    pub fn total_usd(&self) -> f64 {
        self.lines.iter().map(|l| l.usd).sum()
    }

    /// Dollars by driver, in driver order, drivers with no line left out.
    pub fn by_driver(&self) -> Vec<(Driver, f64)> {
        let mut out: Vec<(Driver, f64)> = Vec::new();
        let mut lines: Vec<&Line> = self.lines.iter().collect();
        lines.sort_by_key(|l| l.driver);
        for l in lines {
            match out.last_mut() {
                Some((d, usd)) if *d == l.driver => *usd += l.usd,
                _ => out.push((l.driver, l.usd)),
            }
        }
        out
    }
}

/// The bill, for a scenario with a `[costs]` table.
pub fn bill(
    scenario: &Scenario,
    summary: Option<&Summary>,
    training: Option<&TrainingSummary>,
) -> Option<Bill> {
    let costs = scenario.costs().as_ref()?;
    let days = costs.period_days;
    // Each line with its basis for the split.
    let (mut lines, mut bases) = (Vec::new(), Vec::new());
    let mut line = |driver: Driver, item: String, usd: f64, basis: Basis| {
        lines.push(Line { driver, item, usd });
        bases.push(basis);
    };
    let (mut predictions, mut serving_idle_usd, mut gpu_hours) = (0.0, 0.0, 0.0);
    // Requests and paid GPU-hours in the period, by party: the bases of per-request and
    // per-GPU-hour costs.
    let (mut requests, mut gpu_hours_by) = (Basis::new(), Basis::new());
    // Serving was simulated over the window; the bill is for the period.
    let scale = days * 24.0 / scenario.window().as_hours_f64();
    if let Some(s) = summary {
        for (m, metric) in [
            (Market::OnDemand, Metric::CostOnDemand),
            (Market::Spot, Metric::CostSpot),
            (Market::Reserved, Metric::CostReserved),
        ] {
            let usd = s.total.get(metric).mean * scale;
            if usd > 0.0 {
                let by_pool = scenario
                    .pools()
                    .iter()
                    .zip(&s.pools)
                    .enumerate()
                    .filter(|(_, (p, _))| p.market == m)
                    .map(|(i, (_, ps))| (Party::Pool(i), ps.cost_usd))
                    .collect();
                line(Driver::Compute, format!("serving, {m}"), usd, by_pool);
            }
        }
        predictions = s.total.get(Metric::Completed).mean * scale;
        serving_idle_usd = s.total.get(Metric::CostIdle).mean * scale;
        let paid = |p: &crate::sim::PoolStats| p.gpu_hours_busy + p.gpu_hours_idle;
        gpu_hours += s.pools.iter().map(paid).sum::<f64>() * scale;
        gpu_hours_by
            .extend((s.pools.iter().enumerate()).map(|(i, p)| (Party::Pool(i), paid(p) * scale)));
        requests = split::requests(scenario, s, scale);
    }
    if let Some(t) = training {
        for (j, (job, js)) in scenario
            .training()
            .iter()
            .flat_map(|s| &s.jobs)
            .zip(&t.jobs)
            .enumerate()
        {
            for (m, usd) in &js.cost_by_market_usd {
                if *usd > 0.0 {
                    line(
                        Driver::Compute,
                        format!("training {}, {m}", job.name),
                        usd * job.runs_in(days),
                        vec![(Party::Job(j), 1.0)],
                    );
                }
            }
            let h = js.gpu_hours.paid * job.runs_in(days);
            gpu_hours += h;
            gpu_hours_by.push((Party::Job(j), h));
        }
        if let Some(c) = &t.cluster
            && c.stats.cluster.makespan_s > 0.0
        {
            let scale = days * 86_400.0 / c.stats.cluster.makespan_s;
            if c.cost_usd > 0.0 {
                line(
                    Driver::Compute,
                    format!("training cluster, {}", c.market),
                    c.cost_usd * scale,
                    vec![(Party::Cluster, 1.0)],
                );
            }
            let h = c.stats.gpu_hours.provisioned * scale;
            gpu_hours += h;
            gpu_hours_by.push((Party::Cluster, h));
        }
    }
    for s in &costs.stored {
        line(
            Driver::Storage,
            format!("storage {}", s.name),
            s.cost(days, &costs.prices),
            Basis::new(),
        );
    }
    let (egress, cross) = costs.transfer.cost(predictions, days, &costs.prices);
    for (item, usd, basis) in [
        ("egress to clients", egress, requests.clone()),
        ("cross-region", cross, Basis::new()),
    ] {
        if usd > 0.0 {
            line(Driver::Transfer, item.into(), usd, basis);
        }
    }
    let (ingest, kept) = costs
        .logging
        .cost(predictions, gpu_hours, days, &costs.prices);
    // GB logged by party; retention is proportional to it too.
    let logged: Basis = requests
        .iter()
        .map(|&(p, n)| (p, n * costs.logging.kb_per_request / 1e6))
        .chain(
            gpu_hours_by
                .iter()
                .map(|&(p, h)| (p, h * costs.logging.mb_per_gpu_hour / 1e3)),
        )
        .collect();
    for (item, usd) in [("log ingestion", ingest), ("log retention", kept)] {
        if usd > 0.0 {
            line(Driver::Logging, item.into(), usd, logged.clone());
        }
    }
    let energy = scenario
        .energy()
        .as_ref()
        .map(|spec| energy_use(scenario, summary, training, days, spec));
    if let Some((e, owned_by)) = energy.as_ref().filter(|(e, _)| e.owned) {
        for (item, kwh, basis) in [
            ("energy, serving", e.owned_serving_kwh, &owned_by.serving),
            ("energy, training", e.owned_training_kwh, &owned_by.training),
        ] {
            if kwh > 0.0 {
                line(
                    Driver::Energy,
                    item.into(),
                    kwh * scenario.energy().as_ref().map_or(0.0, |s| s.price_per_kwh),
                    basis.clone(),
                );
            }
        }
    }
    let split = split::divide(scenario, summary, scale, &lines, &bases);
    Some(Bill {
        period_days: days,
        lines,
        predictions,
        serving_idle_usd,
        gpu_hours,
        energy: energy.map(|(e, _)| e),
        split,
    })
}

/// Owned energy by party, for the split: serving's and training's lines.
struct OwnedKwh {
    serving: Basis,
    training: Basis,
}

/// The period's energy: serving's from its pools (see [`super::energy`]); a training job's
/// GPUs busy while training (kept or lost) and idle while checkpointing or restarting; a
/// cluster's busy while jobs hold them.
fn energy_use(
    scenario: &Scenario,
    summary: Option<&Summary>,
    training: Option<&TrainingSummary>,
    days: f64,
    spec: &EnergySpec,
) -> (EnergyUse, OwnedKwh) {
    let mut owned_by = OwnedKwh {
        serving: Basis::new(),
        training: Basis::new(),
    };
    let mut unknown = Vec::new();
    let (mut serving_kwh, mut owned_serving_kwh) = (0.0, 0.0);
    if let Some(e) = summary.and_then(|s| super::energy::energy(scenario, s)) {
        let scale = days * 24.0 / scenario.window().as_hours_f64() * spec.pue;
        for (i, (p, kwh)) in scenario.pools().iter().zip(&e.pool_gpu_kwh).enumerate() {
            if kwh.is_finite() {
                serving_kwh += kwh * scale;
                if p.market != Market::Spot {
                    owned_serving_kwh += kwh * scale;
                    owned_by.serving.push((Party::Pool(i), kwh * scale));
                }
            }
        }
        unknown.extend(e.unknown);
    }
    let (mut training_kwh, mut owned_training_kwh) = (0.0, 0.0);
    if let (Some(t), Some(ts)) = (training, &scenario.training()) {
        for (j, (job, js)) in ts.jobs.iter().zip(&t.jobs).enumerate() {
            let g = js.gpu_hours;
            match &job.power {
                Some(p) => {
                    let kwh = p.gpu_kwh(g.paid, g.useful + g.lost) * job.runs_in(days) * spec.pue;
                    training_kwh += kwh;
                    if job.market != Market::Spot {
                        owned_training_kwh += kwh;
                        owned_by.training.push((Party::Job(j), kwh));
                    }
                }
                None => unknown.push(format!("training {}", job.name)),
            }
        }
        if let (Some(c), Some(cs)) = (&t.cluster, &ts.cluster)
            && c.stats.cluster.makespan_s > 0.0
        {
            let g = c.stats.gpu_hours;
            match &cs.power {
                Some(p) => {
                    let kwh = p.gpu_kwh(g.provisioned, g.used + g.wasted)
                        * (days * 86_400.0 / c.stats.cluster.makespan_s)
                        * spec.pue;
                    training_kwh += kwh;
                    if cs.market != Market::Spot {
                        owned_training_kwh += kwh;
                        owned_by.training.push((Party::Cluster, kwh));
                    }
                }
                None => unknown.push("training cluster".into()),
            }
        }
    }
    let kwh = serving_kwh + training_kwh;
    let e = EnergyUse {
        serving_kwh,
        training_kwh,
        owned_serving_kwh,
        owned_training_kwh,
        usd: kwh * spec.price_per_kwh,
        carbon_kg: spec.carbon_kg_per_kwh.map(|c| c * kwh),
        owned: spec.owned,
        unknown,
    };
    (e, owned_by)
}

/// A period of `days` in words: "month" for the default.
pub fn period_words(days: f64) -> String {
    if (days - DAYS_PER_MONTH).abs() < 1e-9 {
        "month".into()
    } else if days >= 1.0 {
        format!("{days:.0} days")
    } else {
        format!("{:.0} hours", days * 24.0)
    }
}
