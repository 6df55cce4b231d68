//! The optimizer's report: the plan by hour, its pools, the verification, the baselines, why
//! (binding constraints, reserved marginals), capacity at the SLO, and target tracking; and the
//! lines of news the front ends show while it runs.

use std::fmt::Write;

use serde_json::json;

use super::format::{ms, pct, usd};
use crate::optimize::plan::{Latency, Outcome};
use crate::optimize::planner::Step;
use crate::optimize::tracking::TrackingPoint;
use crate::pricing::Market;
use crate::scenario::Scenario;

/// The report for people; the plan's table fits 80 columns for up to seven pools with short
/// candidate names.
pub fn render_table(scenario: &Scenario, o: &Outcome, tracking: &[TrackingPoint]) -> String {
    let spec = scenario.optimize().as_ref().expect("optimized");
    let w = &scenario.workloads()[spec.workload];
    let names: Vec<String> = o.candidates.iter().map(|c| c.name.clone()).collect();
    let mut s = String::new();
    let verdict = if o.passed {
        format!("PASSED in round {}", o.rounds.len())
    } else {
        format!("NOT MET after {} rounds", o.rounds.len())
    };
    let _ = writeln!(
        s,
        "{} · workload {} · verification {verdict} ({} replications each)\n",
        scenario.name(),
        w.name,
        spec.verify.replications
    );
    // The plan by hour: a column per pool, headed by its candidate and market.
    let width = o
        .pools
        .iter()
        .map(|p| names[p.candidate].len())
        .max()
        .unwrap_or(4)
        .clamp(5, 12);
    let _ = write!(s, "{:<14}", "");
    for p in &o.pools {
        let _ = write!(s, " {:>width$}", names[p.candidate]);
    }
    let _ = write!(s, "\n{:<14}", "HOUR  DEMAND/S");
    for p in &o.pools {
        let m = match p.market {
            Market::OnDemand => "od",
            Market::Spot => "spot",
            Market::Reserved => "rsvd",
        };
        let _ = write!(s, " {m:>width$}");
    }
    let _ = writeln!(s, "   $/HOUR");
    for h in 0..o.demand.len() {
        let _ = write!(s, "{h:02}    {:>8.1}", o.demand[h]);
        for p in &o.pools {
            let _ = write!(s, " {:>width$}", p.hours[h]);
        }
        let _ = writeln!(s, " {:>8}", usd(o.plan.period_cost[h]));
    }
    let _ = writeln!(
        s,
        "(replicas by hour of day; od on demand, rsvd reserved; the schedule is written with \
         --write-scenario)"
    );
    let _ = writeln!(
        s,
        "\nplan: {} per day in the purchase model; no plan costs less than {} (gap {:.2} %; \
         LP relaxation {}{})",
        usd(o.plan.cost),
        usd(o.plan.bound),
        o.plan.gap * 100.0,
        usd(o.plan.lp_bound),
        if o.plan.bound > o.plan.lp_bound * (1.0 + 1e-9) {
            ", raised by branch and bound over whole instances"
        } else {
            ""
        }
    );
    // Verification.
    let _ = writeln!(s, "\nVERIFICATION (simulated, the scenario's seeds)");
    if let Some(why) = &o.stopped {
        let _ = writeln!(s, "  {why}; the last verified plan is shown");
    }
    for (i, r) in o.rounds.iter().enumerate() {
        let _ = writeln!(
            s,
            "  round {}: {}/day planned, {}/day simulated, {}, SLO attainment {:.3} %, {}",
            i + 1,
            usd(r.planned_cost_per_day),
            usd(r.simulated_cost_per_day),
            latency_text(&r.latency),
            r.attainment * 100.0,
            if r.missed.is_empty() {
                "every hour met".to_string()
            } else {
                format!("missed hours {}", hours_list(&r.missed))
            }
        );
    }
    let reclaims = spot_reclaims(o);
    if !reclaims.is_empty() {
        let list: Vec<String> = reclaims
            .iter()
            .map(|(name, n)| format!("{name} {n:.1}"))
            .collect();
        let verdict = if reclaims.iter().all(|(_, n)| *n <= 0.0) {
            "none happened in the simulated time"
        } else if o.passed {
            "the SLO held through them"
        } else {
            "they count among the causes of the hours missed"
        };
        let _ = writeln!(
            s,
            "  spot reclaims simulated in the last round (per replication): {}; {verdict}",
            list.join(", "),
        );
    }
    // Baselines.
    let _ = writeln!(s, "\nAGAINST BASELINES (purchase model, same demand)");
    for b in &o.baselines {
        let _ = writeln!(
            s,
            "  {}/day  saves {}  {}",
            usd(b.cost_per_day),
            pct((b.cost_per_day - o.plan.cost) / b.cost_per_day),
            b.name
        );
    }
    // Why.
    let _ = writeln!(
        s,
        "\nWHY (shadow prices of the LP, per day: what one more unit of each costs or saves)"
    );
    for b in o.plan.binding.iter().take(6) {
        let _ = writeln!(
            s,
            "  {:<30} {} {:>9} per {}",
            b.constraint,
            if b.shadow_price < 0.0 {
                "saves"
            } else {
                "costs"
            },
            usd(b.shadow_price.abs()),
            b.unit
        );
    }
    for &(t, change) in &o.reserved_marginals {
        let c = &o.candidates[t];
        let _ = writeln!(
            s,
            "  one more reserved {} ({}) {} {}/day",
            c.name,
            c.instance,
            if change < 0.0 { "saves" } else { "costs" },
            usd(change.abs())
        );
    }
    // Capacity.
    let _ = writeln!(s, "\nCAPACITY AT THE SLO (req/s by replicas, simulated)");
    for c in &o.candidates {
        let curve: Vec<String> = c
            .curve
            .sizes
            .iter()
            .zip(&c.curve.rates)
            .map(|(n, r)| format!("{n}: {r:.1}"))
            .collect();
        let _ = writeln!(
            s,
            "  {:<12} {:<14} {}",
            c.name,
            c.instance,
            curve.join("  ")
        );
    }
    if !tracking.is_empty() {
        let _ = writeln!(
            s,
            "\nTARGET TRACKING INSTEAD OF THE SCHEDULE ({}; reserved pools kept)",
            match tracking[0].metric {
                crate::fleet::TrackedMetric::Utilization => "utilization target",
                crate::fleet::TrackedMetric::Concurrency =>
                    "requests in flight per replica: batching keeps replicas busy at any load",
                crate::fleet::TrackedMetric::KvCache => "KV-cache target",
            }
        );
        let best = recommended(tracking);
        for t in tracking {
            let _ = writeln!(
                s,
                "  target {:.2}: {}/day, {}, attainment {:.3} %, {}{}",
                t.target,
                usd(t.cost_per_day),
                latency_text(&t.latency),
                t.attainment * 100.0,
                if t.slo_met { "met" } else { "MISSED" },
                if Some(t.target) == best {
                    "  <- recommended"
                } else {
                    ""
                }
            );
        }
    }
    s
}

/// The spot pools of the verified plan with the reclaims the verification simulated, mean per
/// replication.
fn spot_reclaims(o: &Outcome) -> Vec<(String, f64)> {
    let plan = &o.verified_scenario;
    plan.pools()
        .iter()
        .zip(&o.verification.pools)
        .filter(|(p, _)| p.market == Market::Spot && p.interruptions.is_some())
        .map(|(p, stats)| (p.name.clone(), stats.interruptions))
        .collect()
}

/// The target whose fleet cost least among those that met the SLO.
pub fn recommended(tracking: &[TrackingPoint]) -> Option<f64> {
    tracking
        .iter()
        .filter(|t| t.slo_met)
        .min_by(|a, b| a.cost_per_day.total_cmp(&b.cost_per_day))
        .map(|t| t.target)
}

/// The p99s the SLO judges, each with its target: `TTFT p99 1,866 ms (SLO 2,000 ms), TPOT
/// p99 49.9 ms (SLO 100 ms)`.
pub fn latency_text(l: &Latency) -> String {
    l.judged()
        .into_iter()
        .map(|(name, value, target)| match target {
            Some(t) => format!("{name} {} ms (SLO {} ms)", ms(value), ms(t)),
            None => format!("{name} {} ms", ms(value)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The same as JSON: `{"ttft_p99_ms": .., "tpot_p99_ms": .., "p99_ms": ..}` with the targets.
fn latency_json(l: &Latency) -> serde_json::Value {
    json!({
        "p99_ms": finite(l.p99_ms),
        "ttft_p99_ms": finite(l.ttft_p99_ms),
        "tpot_p99_ms": finite(l.tpot_p99_ms),
        "slo_p99_ms": l.targets.p99_ms,
        "slo_ttft_p99_ms": l.targets.ttft_p99_ms,
        "slo_tpot_p99_ms": l.targets.tpot_p99_ms,
    })
}

/// `x`, or null when it is not a number.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn hours_list(h: &[usize]) -> String {
    h.iter()
        .map(|x| format!("{x:02}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The machine contract.
pub fn render_json(scenario: &Scenario, o: &Outcome, tracking: &[TrackingPoint]) -> String {
    let spec = scenario.optimize().as_ref().expect("optimized");
    let names: Vec<String> = o.candidates.iter().map(|c| c.name.clone()).collect();
    let market_key = |m: Market| m.json_key();
    let w_name = scenario.workloads()[spec.workload].name.as_str();
    let v = json!({
        "scenario": scenario.name(),
        "workload": scenario.workloads()[spec.workload].name,
        "passed": o.passed,
        "stopped": o.stopped,
        "cost_per_day": o.plan.cost,
        "bound_per_day": o.plan.bound,
        "lp_bound_per_day": o.plan.lp_bound,
        "gap": o.plan.gap,
        "demand_rps": o.demand,
        "pools": o.pools.iter().map(|p| json!({
            "name": p.name_in(&names, (scenario.workloads().len() > 1).then_some(w_name)),
            "candidate": names[p.candidate],
            "instance_type": o.candidates[p.candidate].instance,
            "market": market_key(p.market),
            "replicas_by_hour": p.hours,
        })).collect::<Vec<_>>(),
        "period_cost": o.plan.period_cost,
        "spot_reclaims_per_replication": spot_reclaims(o)
            .into_iter()
            .map(|(name, n)| json!({ "pool": name, "reclaims": n }))
            .collect::<Vec<_>>(),
        "rounds": o.rounds.iter().map(|r| json!({
            "planned_cost_per_day": r.planned_cost_per_day,
            "simulated_cost_per_day": r.simulated_cost_per_day,
            "latency": latency_json(&r.latency),
            "slo_attainment": r.attainment,
            "slo_met": r.slo_met,
            "missed_hours": r.missed,
        })).collect::<Vec<_>>(),
        "baselines": o.baselines.iter().map(|b| json!({
            "name": b.name,
            "cost_per_day": b.cost_per_day,
            "saving": (b.cost_per_day - o.plan.cost) / b.cost_per_day,
        })).collect::<Vec<_>>(),
        "binding": o.plan.binding.iter().map(|b| json!({
            "constraint": b.constraint,
            "shadow_price": b.shadow_price,
            "unit": b.unit,
        })).collect::<Vec<_>>(),
        "reserved_marginals": o.reserved_marginals.iter().map(|&(t, c)| json!({
            "candidate": names[t],
            "change_per_day": c,
        })).collect::<Vec<_>>(),
        "capacity": o.candidates.iter().map(|c| json!({
            "candidate": c.name,
            "instance_type": c.instance,
            "gpu": c.gpu,
            "replicas_per_unit": c.unit_replicas,
            "pool_sizes": c.curve.sizes,
            "rps_at_slo": c.curve.rates,
        })).collect::<Vec<_>>(),
        "target_tracking": tracking.iter().map(|t| json!({
            "metric": t.metric.name(),
            "target": t.target,
            "cost_per_day": t.cost_per_day,
            "latency": latency_json(&t.latency),
            "slo_attainment": t.attainment,
            "slo_met": t.slo_met,
        })).collect::<Vec<_>>(),
        "recommended_target": recommended(tracking),
    });
    let mut out = serde_json::to_string_pretty(&v).expect("json");
    out.push('\n');
    out
}

/// A line of news for a step of the optimizer, where it is worth one (purchases and tightening
/// show in the rounds they lead to).
pub fn progress(step: &Step) -> Option<String> {
    match step {
        Step::Demand { lowest, highest } => Some(format!(
            "demand: {lowest:.1} to {highest:.1} req/s over the day"
        )),
        Step::Measuring {
            candidates,
            pool_sizes,
        } => Some(format!(
            "capacity at the SLO: {candidates} candidates x {pool_sizes} pool sizes (from the cache where it has them)"
        )),
        Step::Capacity(c) => Some(format!(
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
        )),
        Step::Verified { round, result } => Some(format!(
            "round {round}: ${:.2}/day planned, ${:.2}/day simulated, {}, attainment {:.3} %, {}",
            result.planned_cost_per_day,
            result.simulated_cost_per_day,
            latency_text(&result.latency),
            result.attainment * 100.0,
            if result.missed.is_empty() {
                "every hour met the SLO".to_string()
            } else {
                format!("missed hours {:?}", result.missed)
            }
        )),
        Step::Bought { .. } | Step::Tightened(_) => None,
    }
}
