//! From a scenario's `[optimize]` table to a verified plan: measure capacity, buy, simulate the
//! purchase, tighten the hours that missed the SLO, buy again.
//!
//! The purchase model counts units: one instance when replicas pack onto instances (an 8-GPU
//! instance of 1-GPU replicas is one unit of 8 replicas), else one replica spanning instances.
//! A unit's capacity is its replicas times the candidate's best measured per-replica capacity;
//! a period with fewer replicas than that capacity assumed is tightened by the ratio (the
//! pooling correction), found by solving again until the counts stop changing.

use std::path::Path;

use crate::experiment::{Summary, replicate};
use crate::optimize::capacity::{self, Curve};
use crate::optimize::demand::{self, PERIODS};
use crate::optimize::purchase::{self, Limit, Period, Plan, Problem, PurchaseError, TypeOption};
use crate::optimize::write::{self, PlannedPool};
use crate::pricing::{Market, spot_interruption_bucket};
use crate::scenario::{self, LoadError, OptimizeSpec, Scenario};
use crate::sim::{Metric, SimError};
use crate::workload::{Policy, TraceError, Workload};

/// How much a missed hour's required capacity grows per round; the hour before grows half as
/// much, since its replicas must already serve when the missed hour starts.
const TIGHTEN: f64 = 0.10;
/// Pooling fixed-point iterations per round.
const POOLING_ITERATIONS: usize = 6;

/// Why no plan came out.
#[derive(Debug, thiserror::Error)]
pub enum OptimizeError {
    #[error("the scenario has no [optimize] table; see the README's `optimize` section")]
    NoSpec,
    #[error("the scenario was not loaded from a file")]
    NoFile,
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error("candidate {0} sustains no load within the SLO at any measured pool size")]
    NoCapacity(String),
    #[error("the workload's demand is zero in every hour: nothing to plan")]
    NoDemand,
    #[error(
        "the verification window of round {0} saw no arrivals; lengthen [optimize] verify.horizon"
    )]
    NoArrivals(usize),
    #[error(transparent)]
    Purchase(#[from] PurchaseError),
    #[error(transparent)]
    Write(#[from] write::WriteError),
    #[error("the written plan does not load (a bug): {0}")]
    Load(#[from] LoadError),
}

/// A candidate as the purchase model sees it.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub name: String,
    pub instance: String,
    pub region: String,
    pub gpu: String,
    /// Replicas in one purchase unit, and instances it takes.
    pub unit_replicas: u32,
    pub unit_instances: u32,
    pub curve: Curve,
}

/// One verification: what the plan cost and where it missed.
#[derive(Clone, Debug)]
pub struct Round {
    /// The purchase model's cost per day, and the simulated one (provisioning included).
    pub planned_cost_per_day: f64,
    pub simulated_cost_per_day: f64,
    /// Hours of the day that missed the SLO in some replication.
    pub missed: Vec<usize>,
    pub p99_ms: f64,
    pub attainment: f64,
    pub slo_met: bool,
}

/// A plan to compare against.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub name: String,
    pub cost_per_day: f64,
}

/// Everything `headroom optimize` reports.
#[derive(Debug)]
pub struct Outcome {
    pub demand: Vec<f64>,
    pub candidates: Vec<Candidate>,
    pub problem: Problem,
    pub plan: Plan,
    pub pools: Vec<PlannedPool>,
    pub rounds: Vec<Round>,
    /// Whether the last round met the SLO in every hour.
    pub passed: bool,
    /// Why the loop ended before a round passed or the rounds ran out, if it did.
    pub stopped: Option<String>,
    pub verification: Summary,
    /// The plan as the verification simulated it (overrides and verification settings applied).
    pub verified_scenario: Scenario,
    /// The plan as a scenario file.
    pub scenario_text: String,
    pub baselines: Vec<Baseline>,
    /// (candidate, change in $ per day of one more reserved unit).
    pub reserved_marginals: Vec<(usize, f64)>,
}

/// Settings of one optimization run that are not in the scenario.
pub struct Options<'a> {
    /// `--set` overrides the scenario was loaded with (re-applied to the written plan).
    pub overrides: &'a [String],
    pub cache: Option<std::path::PathBuf>,
    /// Called with a line of news as the steps go.
    pub log: &'a (dyn Fn(&str) + Sync),
    /// The scenario's text, when it is not the file on disk (an edit not yet saved).
    pub text: Option<&'a str>,
}

/// Runs the whole loop.
pub fn optimize(scenario: &Scenario, opts: &Options) -> Result<Outcome, OptimizeError> {
    let spec = scenario.optimize.as_ref().ok_or(OptimizeError::NoSpec)?;
    let path = scenario.path.as_ref().ok_or(OptimizeError::NoFile)?;
    let original = match opts.text {
        Some(t) => t.to_string(),
        None => std::fs::read_to_string(path).map_err(|source| OptimizeError::Io {
            path: path.display().to_string(),
            source,
        })?,
    };
    let workload = &scenario.workloads[spec.workload];
    let demand = demand::hourly(workload, spec.peak_percentile)?;
    if demand.iter().all(|&d| d <= 0.0) {
        return Err(OptimizeError::NoDemand);
    }
    (opts.log)(&format!(
        "demand: {:.1} to {:.1} req/s over the day",
        demand.iter().cloned().fold(f64::INFINITY, f64::min),
        demand.iter().cloned().fold(0.0, f64::max)
    ));
    (opts.log)(&format!(
        "capacity at the SLO: {} candidates x {} pool sizes (from the cache where it has them)",
        spec.candidates.len(),
        spec.capacity.pool_sizes.len()
    ));
    let curves = capacity::curves(scenario, opts.cache.as_deref())?;
    let candidates = candidates(spec, curves);
    for c in &candidates {
        if c.curve.best_per_replica() <= 0.0 {
            return Err(OptimizeError::NoCapacity(c.name.clone()));
        }
        (opts.log)(&format!(
            "capacity of {} ({}): {}",
            c.name,
            c.instance,
            c.curve
                .sizes
                .iter()
                .zip(&c.curve.rates)
                .map(|(n, r)| format!("{n}: {r:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let names: Vec<String> = candidates.iter().map(|c| c.name.clone()).collect();
    let mut tighten = [1.0f64; PERIODS];
    let mut rounds: Vec<Round> = Vec::new();
    let mut last: Option<Verified> = None;
    let mut stopped = None;
    let mut unchanged = 0;
    loop {
        let Cheapest {
            problem,
            plan,
            single,
        } = match cheapest(spec, &candidates, &demand, &tighten) {
            Ok(x) => x,
            // A tightened model with no plan ends the loop; the last verified plan stands.
            Err(e) if last.is_some() => {
                stopped = Some(format!("tightening stopped: {e}"));
                break;
            }
            Err(e) => return Err(e.into()),
        };
        let pools = planned_pools(spec, workload, &candidates, &plan);
        if let Some(l) = &last
            && l.pools == pools
        {
            // Same purchase as the last round: tighten further rather than simulate it again.
            unchanged += 1;
            if unchanged > 50 {
                stopped = Some("tightening no longer changes the plan".into());
                break;
            }
            tighten_hours(&mut tighten, &rounds.last().expect("a round").missed);
            continue;
        }
        unchanged = 0;
        let text = write::scenario_text(
            &original,
            opts.overrides,
            &workload.name,
            scenario.workloads.len() == 1,
            &names,
            &pools,
            &format!(
                "Pools planned by `headroom optimize` (${:.2} per day in the purchase model).",
                plan.cost
            ),
        )?;
        let (verified, summary, round) = verify(scenario, spec, &text, &plan, rounds.len() + 1)?;
        (opts.log)(&format!(
            "round {}: ${:.2}/day planned, ${:.2}/day simulated, p99 {:.0} ms, attainment {:.3} %, {}",
            rounds.len() + 1,
            round.planned_cost_per_day,
            round.simulated_cost_per_day,
            round.p99_ms,
            round.attainment * 100.0,
            if round.missed.is_empty() {
                "every hour met the SLO".to_string()
            } else {
                format!("missed hours {:?}", round.missed)
            }
        ));
        let missed = round.missed.clone();
        rounds.push(round);
        last = Some(Verified {
            problem,
            plan,
            pools,
            text,
            scenario: verified,
            summary,
            tighten,
            single,
        });
        if missed.is_empty() || rounds.len() as u32 >= spec.verify.rounds {
            break;
        }
        tighten_hours(&mut tighten, &missed);
    }
    let v = last.expect("a verified round");
    let passed = rounds.last().is_some_and(|r| r.missed.is_empty());
    let baselines = baselines(spec, &candidates, &demand, &v.tighten, v.single);
    let reserved_marginals = purchase::reserved_marginals(&v.problem, &v.plan);
    Ok(Outcome {
        demand,
        candidates,
        problem: v.problem,
        plan: v.plan,
        pools: v.pools,
        rounds,
        passed,
        stopped,
        verification: v.summary,
        verified_scenario: v.scenario,
        scenario_text: v.text,
        baselines,
        reserved_marginals,
    })
}

/// One verified purchase.
struct Verified {
    problem: Problem,
    plan: Plan,
    pools: Vec<PlannedPool>,
    text: String,
    scenario: Scenario,
    summary: Summary,
    tighten: [f64; PERIODS],
    single: Option<(f64, usize)>,
}

/// Raises the required capacity of the missed hours, and half as much of the hour before each.
fn tighten_hours(tighten: &mut [f64; PERIODS], missed: &[usize]) {
    for &p in missed {
        tighten[p] *= 1.0 + TIGHTEN;
        let before = (p + PERIODS - 1) % PERIODS;
        tighten[before] *= 1.0 + TIGHTEN / 2.0;
    }
}

fn candidates(spec: &OptimizeSpec, curves: Vec<Curve>) -> Vec<Candidate> {
    spec.candidates
        .iter()
        .zip(curves)
        .map(|(p, curve)| {
            let (gpr, gpi) = (p.gpus_per_replica.max(1), p.instance.gpu_count.max(1));
            Candidate {
                name: p.name.clone(),
                instance: p.instance.name.clone(),
                region: p.instance.region.clone(),
                gpu: p.instance.gpu_model.clone(),
                unit_replicas: (gpi / gpr).max(1),
                unit_instances: gpr.div_ceil(gpi).max(1),
                curve,
            }
        })
        .collect()
}

/// The purchase problem with per-period factors; `only` restricts it to one candidate.
fn problem(
    spec: &OptimizeSpec,
    candidates: &[Candidate],
    demand: &[f64],
    factors: &[f64; PERIODS],
    only: Option<usize>,
) -> Problem {
    let types = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let inst = &spec.candidates[i].instance;
            let allowed = |m: Market| spec.markets.contains(&m) && only.is_none_or(|o| o == i);
            let price = |m: Market| {
                allowed(m)
                    .then(|| inst.price_usd_per_hour(m, spec.reserved_discount))
                    .flatten()
                    .map(|p| p * f64::from(c.unit_instances))
            };
            TypeOption {
                name: c.name.clone(),
                region: c.region.clone(),
                capacity: c.curve.best_per_replica() * f64::from(c.unit_replicas),
                on_demand: price(Market::OnDemand),
                spot: price(Market::Spot),
                reserved: price(Market::Reserved),
            }
        })
        .collect();
    let limits = spec
        .limits
        .iter()
        .map(|l| Limit {
            name: l.name.clone(),
            types: candidates
                .iter()
                .enumerate()
                .filter(|(i, c)| {
                    l.candidate.is_none_or(|x| x == *i)
                        && l.region.as_ref().is_none_or(|r| *r == c.region)
                })
                .map(|(i, _)| i)
                .collect(),
            markets: l.market.into_iter().collect(),
            // Limits count instances; the model counts units (a unit may span instances).
            max: l.max
                / candidates
                    .iter()
                    .enumerate()
                    .filter(|(i, c)| {
                        l.candidate.is_none_or(|x| x == *i)
                            && l.region.as_ref().is_none_or(|r| *r == c.region)
                    })
                    .map(|(_, c)| c.unit_instances)
                    .max()
                    .unwrap_or(1),
        })
        .collect();
    Problem {
        periods: (0..PERIODS)
            .map(|p| Period {
                hours: 1.0,
                demand: demand[p],
                tighten: factors[p],
            })
            .collect(),
        types,
        headroom: spec.headroom,
        spot_share: spec.spot_share,
        spare_replicas: spec.spare_replicas,
        budget: spec.budget_per_day,
        limits,
    }
}

/// The cheaper of the plan over every candidate and the best single-candidate plan: each is
/// solved with pooling factors of its own fleet, so the mix is not always the cheaper.
fn cheapest(
    spec: &OptimizeSpec,
    candidates: &[Candidate],
    demand: &[f64],
    tighten: &[f64; PERIODS],
) -> Result<Cheapest, PurchaseError> {
    let mut best = solve_pooled(spec, candidates, demand, tighten, None);
    let mut single: Option<(f64, usize)> = None;
    for i in 0..candidates.len() {
        if let Ok(s) = solve_pooled(spec, candidates, demand, tighten, Some(i)) {
            if single.is_none_or(|(c, _)| s.1.cost < c) {
                single = Some((s.1.cost, i));
            }
            let better = match &best {
                Ok(b) => s.1.cost < b.1.cost - 1e-9,
                Err(_) => true,
            };
            if better {
                best = Ok(s);
            }
        }
    }
    let (problem, plan) = best?;
    Ok(Cheapest {
        problem,
        plan,
        single,
    })
}

/// The plan [`cheapest`] keeps, and the best single-candidate plan's cost and candidate (the
/// Melange-style baseline).
struct Cheapest {
    problem: Problem,
    plan: Plan,
    single: Option<(f64, usize)>,
}

/// Solves with the verification's factors, correcting each period for pooling until the
/// replica counts settle.
fn solve_pooled(
    spec: &OptimizeSpec,
    candidates: &[Candidate],
    demand: &[f64],
    tighten: &[f64; PERIODS],
    only: Option<usize>,
) -> Result<(Problem, Plan), PurchaseError> {
    let mut pooling = [1.0f64; PERIODS];
    let mut last = None;
    for _ in 0..POOLING_ITERATIONS {
        let factors: [f64; PERIODS] = std::array::from_fn(|p| tighten[p] * pooling[p]);
        let prob = problem(spec, candidates, demand, &factors, only);
        let plan = purchase::solve(&prob)?;
        let next: [f64; PERIODS] = std::array::from_fn(|p| pooling_factor(candidates, &plan, p));
        let settled = next
            .iter()
            .zip(&pooling)
            .all(|(a, b)| (a - b).abs() < 1e-9 || a <= b);
        last = Some((prob, plan));
        if settled {
            break;
        }
        // Never loosen: a factor only grows, so the iteration ends.
        pooling = std::array::from_fn(|p| pooling[p].max(next[p]));
    }
    Ok(last.expect("at least one iteration"))
}

/// How much more capacity period `p` needs than the purchase model assumed, because its pool
/// is smaller than the size whose per-replica capacity it counted: each candidate's shortfall
/// at the period's total replicas, weighted by the capacity it brings.
fn pooling_factor(candidates: &[Candidate], plan: &Plan, p: usize) -> f64 {
    let units = |t: usize| plan.reserved[t] + plan.counts[p][t][0] + plan.counts[p][t][1];
    let replicas: u32 = (0..candidates.len())
        .map(|t| units(t) * candidates[t].unit_replicas)
        .sum();
    let (mut assumed, mut actual) = (0.0, 0.0);
    for (t, c) in candidates.iter().enumerate() {
        let n = f64::from(units(t) * c.unit_replicas);
        assumed += n * c.curve.best_per_replica();
        actual += n * c.curve.per_replica(f64::from(replicas));
    }
    if actual > 0.0 {
        (assumed / actual).max(1.0)
    } else {
        1.0
    }
}

/// The plan as pools: one per candidate and market that it buys, replicas by hour.
fn planned_pools(
    spec: &OptimizeSpec,
    workload: &Workload,
    candidates: &[Candidate],
    plan: &Plan,
) -> Vec<PlannedPool> {
    let mut out = Vec::new();
    for (t, c) in candidates.iter().enumerate() {
        let u = c.unit_replicas;
        if plan.reserved[t] > 0 {
            out.push(PlannedPool {
                candidate: t,
                market: Market::Reserved,
                hours: [plan.reserved[t] * u; 24],
                interruptions: false,
                weight: None,
            });
        }
        for (k, market) in [(0, Market::OnDemand), (1, Market::Spot)] {
            let hours: [u32; 24] = std::array::from_fn(|p| plan.counts[p][t][k] * u);
            if hours.iter().any(|&h| h > 0) {
                let inst = &spec.candidates[t].instance;
                out.push(PlannedPool {
                    candidate: t,
                    market,
                    hours,
                    interruptions: market == Market::Spot
                        && spec.spot_interruptions
                        && spot_interruption_bucket(&inst.cloud, &inst.name, &inst.region)
                            .is_some(),
                    weight: None,
                });
            }
        }
    }
    // A mixed fleet's balancer weighs replicas by what each sustains (where the dispatch
    // policy reads weights: least-outstanding over request-level replicas).
    let weighs = workload.dispatch.policy == Policy::LeastOutstanding
        && spec
            .candidates
            .iter()
            .all(|c| matches!(c.serving, crate::fleet::Serving::Requests(_)));
    if weighs && out.iter().any(|p| p.candidate != out[0].candidate) {
        for p in &mut out {
            p.weight = Some(significant(
                candidates[p.candidate].curve.best_per_replica(),
                3,
            ));
        }
    }
    out
}

/// Simulates the written plan: the scenario's own seeds, hour-long intervals.
fn verify(
    scenario: &Scenario,
    spec: &OptimizeSpec,
    text: &str,
    plan: &Plan,
    round: usize,
) -> Result<(Scenario, Summary, Round), OptimizeError> {
    let path = scenario.path.as_deref().unwrap_or(Path::new("."));
    let base = path.parent().unwrap_or(Path::new("."));
    let name = format!("{} (as planned in round {round})", path.display());
    // The user's overrides are in the text already.
    let mut overrides = Vec::new();
    overrides.push("interval=\"1h\"".to_string());
    if let Some(h) = spec.verify.horizon {
        overrides.push(format!("horizon=\"{}s\"", h.as_secs_f64()));
    }
    let s = scenario::parse(text, &name, base, &overrides)?;
    let runs = replicate(&s, s.seed, spec.verify.replications, None)?;
    let summary = Summary::of(&s, s.seed, &runs);
    let w = spec.workload;
    let target_ms = scenario.workloads[w]
        .slo
        .and_then(|slo| slo.p99)
        .map(|t| t.as_secs_f64() * 1e3);
    let warmup_s = s.warmup.as_secs_f64();
    let mut missed = std::collections::BTreeSet::new();
    for r in &runs {
        for row in &r.workload_series[w] {
            if row.t_s < warmup_s || row.arrivals <= 0.0 {
                continue;
            }
            let late = target_ms.is_some_and(|t| row.p99_ms > t);
            let failed = row.failed > 0.01 * row.arrivals;
            if late || failed {
                missed.insert(((row.t_s / 3600.0).round() as usize) % PERIODS);
            }
        }
    }
    let ws = &summary.workloads[w];
    if ws.get(Metric::Arrived).mean.is_nan() || ws.get(Metric::Arrived).mean <= 0.0 {
        return Err(OptimizeError::NoArrivals(round));
    }
    let slo_met = runs.iter().all(|r| r.workloads[w].slo_met != Some(false));
    if !slo_met && missed.is_empty() {
        // The day missed without one hour standing out: tighten them all.
        missed.extend(0..PERIODS);
    }
    let hours = s.window().as_secs_f64() / 3600.0;
    let round = Round {
        planned_cost_per_day: plan.cost,
        simulated_cost_per_day: s
            .pools_of(w)
            .map(|i| summary.pools[i].cost_usd)
            .sum::<f64>()
            / hours
            * 24.0,
        missed: missed.into_iter().collect(),
        p99_ms: ws.get(Metric::LatencyP99).mean,
        attainment: attainment(ws),
        slo_met,
    };
    Ok((s, summary, round))
}

/// `x` rounded to `digits` significant digits.
fn significant(x: f64, digits: i32) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.log10().floor() as i32);
    (x * scale).round() / scale
}

/// The SLO attainment of a scope: the lowest of its targets' (end to end, TTFT, TPOT).
pub fn attainment(s: &crate::experiment::ScopeSummary) -> f64 {
    [
        Metric::SloAttainment,
        Metric::SloTtftAttainment,
        Metric::SloTpotAttainment,
    ]
    .iter()
    .map(|&m| s.get(m).mean)
    .filter(|x| !x.is_nan())
    .fold(f64::NAN, f64::min)
}

/// The cheapest single candidate on demand sized for the peak hour, and the best single
/// candidate with every market (Melange-style), under the same demand and tightening.
fn baselines(
    spec: &OptimizeSpec,
    candidates: &[Candidate],
    demand: &[f64],
    tighten: &[f64; PERIODS],
    single: Option<(f64, usize)>,
) -> Vec<Baseline> {
    let mut out = Vec::new();
    let peak = (0..PERIODS)
        .map(|p| demand[p] * (1.0 + spec.headroom) * tighten[p])
        .fold(0.0, f64::max);
    let on_demand = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let price = spec.candidates[i]
                .instance
                .price_usd_per_hour(Market::OnDemand, 0.0)?
                * f64::from(c.unit_instances);
            let mut units = 1u32;
            while c.curve.at(f64::from(
                (units.saturating_sub(spec.spare_replicas)) * c.unit_replicas,
            )) < peak
            {
                units += 1;
                if units > 1_000_000 {
                    return None;
                }
            }
            Some((
                price * f64::from(units) * 24.0,
                format!("{units} x {} on demand all day", c.name),
            ))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((cost, what)) = on_demand {
        out.push(Baseline {
            name: format!(
                "cheapest single type sized for the peak, on demand ({what}{})",
                if spec.limits.is_empty() {
                    ""
                } else {
                    "; limits not applied"
                }
            ),
            cost_per_day: cost,
        });
    }
    if let Some((cost, i)) = single {
        out.push(Baseline {
            name: format!(
                "best single type with the same markets ({})",
                candidates[i].name
            ),
            cost_per_day: cost,
        });
    }
    out
}
