//! Verification: the plan, written as a scenario, run (`experiment::run::run`) with the
//! scenario's own seeds in hour-long intervals; the hours of the day that missed the SLO in any
//! replication (the summary's worst intervals) are the ones the next round tightens.

use std::collections::BTreeSet;
use std::path::Path;

use super::demand::PERIODS;
use super::plan::Round;
use super::planner::OptimizeError;
use crate::experiment::Summary;
use crate::experiment::run::{self, RunOptions};
use crate::optimize::purchase::Plan;
use crate::scenario::{self, Edit, OptimizeSpec, Scenario};
use crate::sim::Metric;

/// Reads one p99 of an hour's worst interval.
type PerHour = fn(&crate::experiment::WorstInterval) -> f64;

/// A purchase as simulated.
pub struct Verification {
    /// The plan as a scenario file.
    pub text: String,
    /// The plan as simulated (overrides and verification settings applied).
    pub scenario: Scenario,
    pub summary: Summary,
    pub round: Round,
}

/// Simulates `text`, the plan of round `round` written over `scenario`'s file: the scenario's
/// own seeds, hour-long intervals.
pub fn verify(
    scenario: &Scenario,
    spec: &OptimizeSpec,
    text: String,
    plan: &Plan,
    round: usize,
) -> Result<Verification, OptimizeError> {
    let path = scenario.path().as_deref().unwrap_or(Path::new("."));
    let base = path.parent().unwrap_or(Path::new("."));
    let name = format!("{} (as planned in round {round})", path.display());
    // The user's overrides are in the text already.
    let mut edits = vec![Edit::set("interval", "1h")];
    if let Some(h) = spec.verify.horizon {
        edits.push(Edit::set("horizon", format!("{}s", h.as_secs_f64())));
    }
    let s = scenario::parse_edited(&text, &name, base, &edits)?;
    let outcome = run::run(&s, &RunOptions::new(&s, spec.verify.replications))?;
    let summary = outcome
        .serving
        .ok_or(crate::sim::SimError::NothingToServe)?;
    let w = spec.workload;
    let ws = &summary.workloads[w];
    // Each kind of target the SLO sets, against the hour's worst p99 of that kind.
    let slo = ws.slo_targets.unwrap_or_default();
    let targets: [(Option<f64>, PerHour); 3] = [
        (slo.p99_ms, |r| r.p99_ms),
        (slo.ttft_p99_ms, |r| r.ttft_p99_ms),
        (slo.tpot_p99_ms, |r| r.tpot_p99_ms),
    ];
    let warmup_s = s.warmup().as_secs_f64();
    let mut missed = BTreeSet::new();
    for row in &summary.worst_intervals[w] {
        if row.t_s < warmup_s {
            continue;
        }
        let late = targets
            .iter()
            .any(|(target, of)| target.is_some_and(|t| of(row) > t));
        let failed = row.failed_share > 0.01;
        if late || failed {
            missed.insert(((row.t_s / 3600.0).round() as usize) % PERIODS);
        }
    }
    if ws.get(Metric::Arrived).mean.is_nan() || ws.get(Metric::Arrived).mean <= 0.0 {
        return Err(OptimizeError::NoArrivals(round));
    }
    let slo_met = ws.slo_met_share.is_none_or(|share| share == 1.0);
    if !slo_met && missed.is_empty() {
        // The day missed without one hour standing out: tighten them all.
        missed.extend(0..PERIODS);
    }
    let round = Round {
        planned_cost_per_day: plan.cost,
        simulated_cost_per_day: summary.rates.workloads[w].per_day,
        missed: missed.into_iter().collect(),
        latency: super::plan::Latency::of(ws),
        attainment: ws.attainment(),
        slo_met,
    };
    Ok(Verification {
        text,
        scenario: s,
        summary,
        round,
    })
}
