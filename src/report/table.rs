//! The table report: what a person reads in an 80-column terminal.

use std::fmt::Write;

use super::Report;
use super::format::{clip, ms, pct, slo_label, span, thousands, usd, usd_unit, wrapped};
use crate::experiment::{Estimate, ScopeSummary, StopReason};
use crate::fleet::Serving;
use crate::sim::Metric;

/// The table text, every line at most 80 columns.
pub fn render(r: &Report) -> String {
    let sc = r.scenario;
    let mut out = String::new();
    if let Some(s) = r.summary {
        serving(&mut out, sc, s);
    } else if let Some(t) = r.training {
        let _ = writeln!(out, "{} · seed {}\n", sc.name(), t.seed);
    }
    out.push_str(&training_and_bill(sc, r.training, r.bill));
    out.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

/// The training and bill sections (the TUI's Bill tab shows the same text).
pub fn training_and_bill(
    sc: &crate::scenario::Scenario,
    training: Option<&crate::experiment::training::TrainingSummary>,
    bill: Option<&crate::experiment::bill::Bill>,
) -> String {
    let mut out = String::new();
    if let Some(t) = training {
        super::training::render(&mut out, sc, t);
    }
    if let Some(b) = bill {
        super::bill::render(&mut out, b);
    }
    out
}

/// Serving's part: workloads, pools, latency, cost, and the run's notes.
fn serving(out: &mut String, sc: &crate::scenario::Scenario, s: &crate::experiment::Summary) {
    let runs = if s.replications == 1 {
        "1 run".to_string()
    } else {
        format!("{} replications", s.replications)
    };
    match s.makespan {
        Some(m) => {
            let _ = writeln!(
                out,
                "{} · seed {} · {} · offline ({}): done in {:.1} s (rates over this makespan)",
                sc.name(),
                s.seed,
                runs,
                if sc
                    .workloads()
                    .iter()
                    .all(|w| matches!(w.arrival, crate::workload::Arrival::Batch { .. }))
                {
                    "every request at once"
                } else {
                    "a fixed set of requests"
                },
                m.as_secs_f64()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "{} · seed {} · {} · {} simulated, {} warm-up",
                sc.name(),
                s.seed,
                runs,
                span(sc.horizon()),
                span(sc.warmup())
            );
        }
    }
    if let Some(st) = s.stopped {
        let why = match st.reason {
            StopReason::Interrupted => "interrupted (Ctrl-c)".to_string(),
            StopReason::Backlog { limit } => format!(
                "more than {} requests were in the fleet at once",
                thousands(limit as f64)
            ),
            StopReason::Overloaded => {
                "the fleet held more requests than it serves in the whole span".to_string()
            }
        };
        let _ = if st.at > sc.horizon() {
            writeln!(
                out,
                "PARTIAL: the drain after the horizon was cut at {}: it had lasted as long as the span; the requests still in the fleet are not in the figures",
                span(st.at.saturating_sub(sc.horizon())),
            )
        } else if st.at <= sc.measured_from() {
            writeln!(
                out,
                "PARTIAL: the run stopped at {} of {}, in its warm-up: {why}; nothing was measured",
                span(st.at),
                span(sc.horizon()),
            )
        } else {
            writeln!(
                out,
                "PARTIAL: the run stopped at {} of {}: {why}; figures cover the time simulated, without the drain",
                span(st.at),
                span(sc.horizon()),
            )
        };
    }
    out.push('\n');

    let _ = writeln!(
        out,
        "{:<14} {:>11} {:>8} {:>8} {:>8} {:>9}  {:<13}",
        "WORKLOAD", "ARRIVED", "FAILED", "P50 MS", "P99 MS", "SLO P99", "STATUS"
    );
    for (w, ws) in sc.workloads().iter().zip(&s.workloads) {
        workload_row(out, &w.name, ws);
    }
    if sc.workloads().len() > 1 {
        workload_row(out, "total", &s.total);
    }
    out.push('\n');
    overload_lines(out, sc, s);
    if super::json::serves_llm(sc) {
        llm_rows(out, sc, s);
    }

    let _ = writeln!(
        out,
        "{:<14} {:<14} {:<9} {:>5} {:>5} {:>5} {:>9} {:>10}",
        "POOL", "INSTANCE", "MARKET", "REPL", "UTIL", "BATCH", "$/HOUR", "COST"
    );
    let mut replicas = 0.0;
    let mut per_hour = 0.0;
    for ((p, ps), rates) in sc.pools().iter().zip(&s.pools).zip(&s.rates.pools) {
        // Pools whose count varies: the mean over the window, of replicas and of their cost an hour.
        let count = if p.varies() {
            format!("{:.1}", ps.replicas_mean)
        } else {
            p.replicas.to_string()
        };
        let hourly = rates.per_hour;
        replicas += ps.replicas_mean;
        per_hour += hourly;
        let _ = writeln!(
            out,
            "{:<14} {:<14} {:<9} {:>5} {:>5} {:>5} {:>9} {:>10}",
            clip(&p.name, 14),
            clip(&p.instance.name, 14),
            p.market.as_str(),
            count,
            pct(ps.utilization),
            if ps.batch_size_mean.is_finite() {
                format!("{:.1}", ps.batch_size_mean)
            } else {
                "-".into()
            },
            usd(hourly),
            usd(ps.cost_usd),
        );
    }
    let t = &s.total;
    if sc.pools().len() > 1 {
        let _ = writeln!(
            out,
            "{:<14} {:<14} {:<9} {:>5} {:>5} {:>5} {:>9} {:>10}",
            "total",
            "",
            "",
            if sc.pools().iter().any(|p| p.varies()) {
                format!("{replicas:.1}")
            } else {
                format!("{}", replicas.round())
            },
            pct(t.get(Metric::Utilization).mean),
            "",
            usd(per_hour),
            usd(t.get(Metric::CostTotal).mean),
        );
    }
    out.push('\n');

    let with_ci = s.replications > 1;
    grid(
        out,
        "latency ms",
        &[
            ("mean", Metric::LatencyMean),
            ("p50", Metric::LatencyP50),
            ("p90", Metric::LatencyP90),
            ("p95", Metric::LatencyP95),
            ("p99", Metric::LatencyP99),
            ("p99.9", Metric::LatencyP999),
            ("max", Metric::LatencyMax),
        ],
        t,
        with_ci,
    );
    grid(
        out,
        "wait ms",
        &[("mean", Metric::WaitMean), ("p99", Metric::WaitP99)],
        t,
        with_ci,
    );
    let llm = super::json::serves_llm(sc);
    if llm {
        for (label, m) in [
            (
                "ttft ms",
                [
                    Metric::TtftMean,
                    Metric::TtftP50,
                    Metric::TtftP90,
                    Metric::TtftP99,
                ],
            ),
            (
                "tpot ms",
                [
                    Metric::TpotMean,
                    Metric::TpotP50,
                    Metric::TpotP90,
                    Metric::TpotP99,
                ],
            ),
            (
                "itl ms",
                [
                    Metric::ItlMean,
                    Metric::ItlP50,
                    Metric::ItlP90,
                    Metric::ItlP99,
                ],
            ),
        ] {
            grid(
                out,
                label,
                &[("mean", m[0]), ("p50", m[1]), ("p90", m[2]), ("p99", m[3])],
                t,
                with_ci,
            );
        }
    }
    out.push('\n');

    let cost = t.get(Metric::CostTotal).mean;
    let _ = writeln!(
        out,
        "cost      {} over {} ({}/h) · {} per 1k requests",
        usd(cost),
        s.makespan.map_or_else(
            || match s.stopped {
                Some(_) => span(crate::units::SimTime::from_secs_f64(
                    s.measured_hours * 3600.0
                )),
                None => span(sc.window()),
            },
            |m| format!("{:.1} s", m.as_secs_f64())
        ),
        usd(t.get(Metric::CostPerHour).mean),
        usd_unit(t.get(Metric::CostPer1k).mean),
    );
    let busy = t.get(Metric::GpuHoursBusy).mean;
    let idle = t.get(Metric::GpuHoursIdle).mean;
    let _ = writeln!(
        out,
        "idle      {} of {} GPU-hours idle ({}), costing {}",
        thousands_1(idle),
        thousands_1(busy + idle),
        pct(idle / (busy + idle)),
        usd(t.get(Metric::CostIdle).mean),
    );
    let markets: Vec<String> = [
        ("on-demand", Metric::CostOnDemand),
        ("spot", Metric::CostSpot),
        ("reserved", Metric::CostReserved),
    ]
    .into_iter()
    .filter(|(_, m)| t.get(*m).mean > 0.0)
    .map(|(name, m)| format!("{name} {}", usd(t.get(m).mean)))
    .collect();
    // Pools whose count varies: what they started, stopped and lost, and what starting cost.
    for (p, ps) in sc.pools().iter().zip(&s.pools) {
        let started = format!(
            "{:.1} replica-hours starting ({}) · {:.1} h short",
            ps.provisioning_replica_hours,
            usd(ps.provisioning_cost_usd),
            ps.under_provisioned_hours
        );
        let name = clip(&p.name, 14);
        if p.scaling.is_some() {
            let _ = writeln!(
                out,
                "scaling   {name}: {} starts · {} stops · {started}",
                thousands(ps.cold_starts),
                thousands(ps.stops),
            );
        }
        match (p.interruptions.is_some(), p.scaling.is_some()) {
            (true, false) => {
                let _ = writeln!(
                    out,
                    "reclaims  {name}: {} interruptions · {} replacements · {started}",
                    thousands(ps.interruptions),
                    thousands(ps.cold_starts),
                );
            }
            (true, true) => {
                let _ = writeln!(
                    out,
                    "reclaims  {name}: {} interruptions",
                    thousands(ps.interruptions)
                );
            }
            _ => {}
        }
    }
    if sc.pools().iter().any(|p| p.interruptions.is_some()) {
        let retried = t.get(Metric::Retried).mean;
        let lost = t.get(Metric::RetriedLost).mean;
        let _ = writeln!(
            out,
            "retried   {} requests lost their replica{}",
            thousands(retried),
            if retried > 0.0 {
                format!(", having waited {lost:.0} ms on average before the retry")
            } else {
                String::new()
            }
        );
    }
    if !markets.is_empty() {
        let _ = writeln!(out, "markets   {}", markets.join(" · "));
    }
    if let Some(e) = crate::experiment::energy::energy(sc, s) {
        let mut parts = vec![
            format!("{} kWh (PUE {})", thousands_1(e.kwh), e.spec.pue),
            format!(
                "{} at {}/kWh",
                usd(e.cost_usd),
                usd_unit(e.spec.price_per_kwh)
            ),
            format!("{} per request", watt_hours(e.wh_per_request)),
        ];
        if let Some(w) = e.wh_per_1k_output_tokens {
            parts.push(format!("{} per 1k output tokens", watt_hours(w)));
        }
        if let Some(c) = e.carbon_kg {
            parts.push(format!("{} kg CO2e", thousands_1(c)));
        }
        if !e.unknown.is_empty() {
            parts.push(format!("no power figures for {}", e.unknown.join(", ")));
        }
        wrapped(out, "energy    ", &parts);
    }
    if llm {
        let _ = writeln!(
            out,
            "tokens    {} in · {} out · {} out/s ({} per GPU)",
            compact(t.get(Metric::InputTokens).mean),
            compact(t.get(Metric::OutputTokens).mean),
            thousands(t.get(Metric::OutputTokensPerSecond).mean),
            thousands(t.get(Metric::OutputTokensPerGpuSecond).mean),
        );
        let _ = writeln!(
            out,
            "per 1M    {} output tokens · {} tokens in and out",
            usd_unit(t.get(Metric::CostPer1MOutputTokens).mean),
            usd_unit(t.get(Metric::CostPer1MTokens).mean),
        );
        let hit = t.get(Metric::PrefixHitRate).mean;
        let _ = writeln!(
            out,
            "kv cache  {} used on average · {} preemptions{}",
            pct(t.get(Metric::KvUtilization).mean),
            thousands(t.get(Metric::Preemptions).mean),
            if hit.is_finite() {
                format!(" · prefix cache hits {}", pct(hit))
            } else {
                String::new()
            }
        );
    }
    let _ = writeln!(
        out,
        "requests {} completed · {} dropped · {} timed out · {} req/s",
        thousands(t.get(Metric::Completed).mean),
        thousands(t.get(Metric::Dropped).mean),
        thousands(t.get(Metric::TimedOut).mean),
        format_rate(t.get(Metric::Throughput).mean),
    );
    out.push('\n');
}

/// LLM workloads side by side: the variant, its stated quality, and what it costs and delivers.
fn llm_rows(out: &mut String, sc: &crate::scenario::Scenario, s: &crate::experiment::Summary) {
    let _ = writeln!(
        out,
        "{:<14} {:<14} {:<9} {:>2} {:>8} {:>8} {:>8} {:>9}",
        "LLM", "MODEL", "WEIGHTS", "TP", "QUALITY", "TTFT P99", "TPOT P99", "$/1M OUT"
    );
    for (wi, (w, ws)) in sc.workloads().iter().zip(&s.workloads).enumerate() {
        let Some(l) = sc.pools_of(wi).find_map(|p| match &sc.pools()[p].serving {
            Serving::Llm(l) => Some(l),
            Serving::Requests(_) => None,
        }) else {
            continue;
        };
        let v = &l.roofline.variant;
        let weights = format!("{}{}", v.weights, if v.sparse_2_4 { " 2:4" } else { "" });
        let quality = v
            .quality
            .as_ref()
            .map_or("-".to_string(), |q| format!("{:+.1}", q.value));
        let _ = writeln!(
            out,
            "{:<14} {:<14} {:<9} {:>2} {:>8} {:>8} {:>8} {:>9}",
            clip(&w.name, 14),
            clip(&v.architecture.name, 14),
            weights,
            l.roofline.tp,
            quality,
            ms(ws.get(Metric::TtftP99).mean),
            ms(ws.get(Metric::TpotP99).mean),
            usd_unit(ws.get(Metric::CostPer1MOutputTokens).mean),
        );
    }
    if let Some(q) = sc.pools().iter().find_map(|p| match &p.serving {
        Serving::Llm(l) => l.roofline.variant.quality.as_ref(),
        Serving::Requests(_) => None,
    }) {
        let _ = writeln!(out, "{:<14} quality: {}", "", q.metric);
    }
    let hits: Vec<String> = sc
        .workloads()
        .iter()
        .zip(&s.workloads)
        .filter_map(|(w, ws)| {
            let hit = ws.get(Metric::PrefixHitRate).mean;
            hit.is_finite().then(|| format!("{} {}", w.name, pct(hit)))
        })
        .collect();
    // As many per line as fit 80 columns.
    let mut line = String::new();
    for h in hits {
        if !line.is_empty() && 15 + 19 + line.chars().count() + 3 + h.len() > 80 {
            let _ = writeln!(out, "{:<14} prefix cache hits: {line}", "");
            line.clear();
        }
        if !line.is_empty() {
            line.push_str(" · ");
        }
        line.push_str(&h);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{:<14} prefix cache hits: {line}", "");
    }
    for (p, ps) in sc.pools().iter().zip(&s.pools) {
        if let Serving::Llm(l) = &p.serving
            && (l.table.is_some() || l.settings.engine != crate::llm::Engine::GENERIC)
        {
            let _ = writeln!(
                out,
                "{:<14} pool {} ({}) timed by {}",
                "",
                p.name,
                l.settings.engine.label(),
                l.timing
            );
            // A front end that handles one request at a time caps the replica's request rate.
            let cpu = l.settings.request_cpu_s;
            if cpu > 0.0 {
                let busy = ps.requests_per_second_per_replica * cpu;
                let short = |x: f64| {
                    let s = format!("{x:.2}");
                    s.trim_end_matches('0').trim_end_matches('.').to_string()
                };
                let _ = writeln!(
                    out,
                    "{:<14} pool {} front end {:.0}% busy ({} ms per request: at most {} req/s per replica)",
                    "",
                    p.name,
                    busy * 100.0,
                    short(cpu * 1e3),
                    short(1.0 / cpu)
                );
            }
        }
    }
    out.push('\n');
}

/// One paragraph per workload that was offered more than its fleet serves.
fn overload_lines(
    out: &mut String,
    sc: &crate::scenario::Scenario,
    s: &crate::experiment::Summary,
) {
    let mut any = false;
    for (w, ws) in sc.workloads().iter().zip(&s.workloads) {
        if ws.stability.stable {
            continue;
        }
        any = true;
        let drain = ws.stability.drain_s;
        let _ = writeln!(
            out,
            "OVERLOADED {:?}: offered {} req/s, served {} req/s; {} requests were left when {}{}.",
            w.name,
            format_rate(ws.stability.offered_per_s),
            format_rate(ws.get(Metric::Throughput).mean),
            thousands(ws.stability.backlog_at_end),
            if s.stopped.is_some() {
                "the run stopped"
            } else {
                "arrivals stopped"
            },
            if drain.is_finite() {
                format!(
                    ", {} of work at that rate",
                    span(crate::units::SimTime::from_secs_f64(drain))
                )
            } else {
                String::new()
            },
        );
    }
    if any {
        let _ = writeln!(
            out,
            "  The queue grew through the run: its latencies grow with the run's length, not only with load. Add replicas or lower the rate.\n"
        );
    }
}

fn workload_row(out: &mut String, name: &str, ws: &ScopeSummary) {
    let failed = ws.get(Metric::Dropped).mean + ws.get(Metric::TimedOut).mean;
    let target = slo_label(ws.slo_targets.as_ref());
    let status = match ws.slo_met {
        _ if !ws.stability.stable => "OVERLOADED".to_string(),
        None => "no SLO".to_string(),
        Some(met) => format!(
            "{} {}",
            if met { "met" } else { "MISSED" },
            pct_fine(ws.attainment())
        ),
    };
    let _ = writeln!(
        out,
        "{:<14} {:>11} {:>8} {:>8} {:>8} {:>9}  {:<13}",
        clip(name, 14),
        thousands(ws.get(Metric::Arrived).mean),
        thousands(failed),
        ms(ws.get(Metric::LatencyP50).mean),
        ms(ws.get(Metric::LatencyP99).mean),
        target,
        status
    );
}

/// A labelled row of metrics, with a row of 95 % half-widths under it after replications.
fn grid(out: &mut String, label: &str, cols: &[(&str, Metric)], s: &ScopeSummary, with_ci: bool) {
    let _ = write!(out, "{label:<12}");
    for (name, _) in cols {
        let _ = write!(out, "{name:>9}");
    }
    out.push('\n');
    let _ = write!(out, "{:<12}", "");
    for (_, m) in cols {
        let _ = write!(out, "{:>9}", ms(s.get(*m).mean));
    }
    out.push('\n');
    if with_ci {
        let _ = write!(out, "{:<12}", "  ±95% CI");
        for (_, m) in cols {
            let _ = write!(out, "{:>9}", half_width(s.get(*m)));
        }
        out.push('\n');
    }
}

fn half_width(e: Estimate) -> String {
    match e.ci95 {
        Some((lo, hi)) => ms((hi - lo) / 2.0),
        None => "-".into(),
    }
}

/// Attainment needs more digits than other percentages: 99.2 % is a miss.
fn pct_fine(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2}%", x * 100.0)
    } else {
        "-".into()
    }
}

/// Large counts as `21.9M`, `3.96k`.
fn compact(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x >= 1e9 {
        format!("{:.3}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.3}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else {
        thousands(x)
    }
}

fn thousands_1(x: f64) -> String {
    if x.is_finite() && x < 100.0 {
        format!("{x:.1}")
    } else {
        thousands(x)
    }
}

fn format_rate(x: f64) -> String {
    if x.is_finite() && x < 100.0 {
        format!("{x:.2}")
    } else {
        thousands(x)
    }
}

/// Energy in Wh, or mWh below one.
fn watt_hours(wh: f64) -> String {
    if !wh.is_finite() {
        "-".into()
    } else if wh >= 1.0 {
        format!("{wh:.2} Wh")
    } else {
        format!("{:.1} mWh", wh * 1e3)
    }
}
