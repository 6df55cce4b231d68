//! Overview: each workload's SLO status, latency, cost and utilization at a glance.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Widget};

use super::{result_style, served};
use crate::experiment::Metric;
use crate::experiment::{Estimate, ScopeSummary};
use crate::report::format::{ms, pct, slo_label, usd, usd_unit};
use crate::tui::app::App;
use crate::tui::theme::Theme;
use crate::tui::worker::Span as RunSpan;

/// Overloaded (offered more than it serves: the queue grew through the run), met, at risk (met,
/// but p99 within 10 % of its target or attainment under 99.5 %), missed.
pub fn verdict(s: &ScopeSummary, theme: &Theme) -> Span<'static> {
    let p99 = s.get(Metric::LatencyP99).mean;
    let att = s.get(Metric::SloAttainment).mean;
    let target = s.slo_targets.and_then(|t| t.p99_ms);
    if !s.stability.stable {
        return Span::styled("✗ overloaded", theme.breach);
    }
    match s.slo_met {
        None => Span::raw("– no SLO"),
        Some(false) => Span::styled("✗ missed", theme.breach),
        Some(true) if target.is_some_and(|t| p99 > 0.9 * t) || att < 0.995 => {
            Span::styled("! at risk", theme.warn)
        }
        Some(true) => Span::styled("✓ met", theme.ok),
    }
}

/// SLO attainment with two decimals: 99.93 % is not 100 %.
pub fn attainment(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2}%", x * 100.0)
    } else {
        "—".into()
    }
}

/// A latency with its 95 % interval's half-width, when replications ran (a preview's slices are
/// parts of the day, not replications: their spread is the day's, not an interval).
fn with_ci(e: Estimate, full: bool) -> String {
    match e.ci95.filter(|_| full) {
        Some((lo, hi)) if e.mean.is_finite() => format!("{} ±{}", ms(e.mean), ms((hi - lo) / 2.0)),
        _ => ms(e.mean),
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some((r, s)) = served(app, area, buf) else {
        return;
    };
    let t = &app.theme;
    let style = result_style(app);
    let llm = s.total.get(Metric::TtftP99).mean.is_finite();
    let full = r.span == RunSpan::Full;
    let mut header = vec!["workload", "status", "p50 ms", "p99 ms", "target", "in SLO"];
    if llm {
        header.extend(["TTFT p99", "TPOT p99"]);
    }
    header.extend(["$/hour", "unit cost", "util"]);
    let scope_row = |name: String, sc: &ScopeSummary| {
        let m = |x: Metric| sc.get(x).mean;
        let target = match slo_label(sc.slo_targets.as_ref()).as_str() {
            "-" => "—".to_string(),
            l => l.to_string(),
        };
        // An LLM latency over its target is drawn as a breach.
        let judged = |x: f64, limit: Option<f64>| {
            let style = if limit.is_some_and(|l| x > l) {
                t.breach
            } else {
                ratatui::style::Style::new()
            };
            Cell::from(ms(x)).style(style)
        };
        let mut cells = vec![
            Cell::from(name),
            Cell::from(Line::from(verdict(sc, t))),
            Cell::from(with_ci(sc.get(Metric::LatencyP50), full)),
            Cell::from(with_ci(sc.get(Metric::LatencyP99), full)),
            Cell::from(target),
            Cell::from(attainment(sc.attainment())),
        ];
        if llm {
            let targets = sc.slo_targets.unwrap_or_default();
            cells.push(judged(m(Metric::TtftP99), targets.ttft_p99_ms));
            cells.push(judged(m(Metric::TpotP99), targets.tpot_p99_ms));
        }
        let unit = if m(Metric::OutputTokens) > 0.0 {
            format!("{}/1M tok", usd_unit(m(Metric::CostPer1MTokens)))
        } else {
            format!("{}/1k req", usd_unit(m(Metric::CostPer1k)))
        };
        cells.push(Cell::from(usd(m(Metric::CostPerHour))));
        cells.push(Cell::from(unit));
        cells.push(Cell::from(pct(m(Metric::Utilization))));
        cells
    };
    let mut cells: Vec<Vec<Cell>> = r
        .scenario
        .workloads()
        .iter()
        .zip(&s.workloads)
        .map(|(w, sc)| scope_row(w.name.clone(), sc))
        .collect();
    if r.scenario.workloads().len() > 1 {
        cells.push(scope_row("total".into(), &s.total));
    }
    let mut widths: Vec<Constraint> = header
        .iter()
        .enumerate()
        .map(|(i, _)| match i {
            0 => Constraint::Min(10),
            1 => Constraint::Length(12),
            2 | 3 => Constraint::Length(if s.replications > 1 { 12 } else { 8 }),
            i if i == header.len() - 2 => Constraint::Length(15),
            _ => Constraint::Length(9),
        })
        .collect();
    let keep = super::fitting(&widths, area.width.saturating_sub(2));
    widths.truncate(keep);
    header.truncate(keep);
    let last = cells.len().saturating_sub(1);
    let many = r.scenario.workloads().len() > 1;
    let rows: Vec<Row> = cells
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            c.truncate(keep);
            let row = Row::new(c);
            if many && i == last {
                row.style(t.header)
            } else {
                row
            }
        })
        .collect();
    let n = rows.len() as u16;
    let [table_area, facts_area] =
        Layout::vertical([Constraint::Length(n + 3), Constraint::Fill(1)]).areas(area);
    let title = match r.span {
        RunSpan::Preview(p) => format!(" SLOs · preview: {} only ", p.describe()),
        RunSpan::Full if s.replications > 1 => {
            format!(" SLOs · {} replications, ± 95 % interval ", s.replications)
        }
        RunSpan::Full => " SLOs ".to_string(),
    };
    Table::new(rows, widths)
        .header(Row::new(header).style(t.header))
        .block(Block::bordered().title(title))
        .style(style)
        .render(table_area, buf);

    let m = |x: Metric| s.total.get(x).mean;
    let cost = m(Metric::CostTotal);
    let idle_h = m(Metric::GpuHoursIdle);
    let gpu_h = idle_h + m(Metric::GpuHoursBusy);
    let mut lines = vec![
        Line::from(format!(
            "cost      {} over {}{} ({}/hour, {}/day)",
            usd(cost),
            crate::report::format::span(match s.stopped {
                Some(_) => crate::units::SimTime::from_secs_f64(s.measured_hours * 3600.0),
                None => r.window(),
            }),
            if s.stopped.is_some() {
                " (partial: the run stopped early)"
            } else if r.span == RunSpan::Full {
                ""
            } else {
                " (preview: provisional)"
            },
            usd(s.rates.total.per_hour),
            usd(s.rates.total.per_day)
        )),
        Line::from(format!(
            "markets   on-demand {} · spot {} · reserved {}",
            usd(m(Metric::CostOnDemand)),
            usd(m(Metric::CostSpot)),
            usd(m(Metric::CostReserved))
        )),
        Line::from(format!(
            "idle      {:.1} of {:.0} GPU-hours idle ({}), costing {}",
            idle_h,
            gpu_h,
            pct(idle_h / gpu_h),
            usd(m(Metric::CostIdle))
        )),
        Line::from(format!(
            "requests  {} arrived · {} failed · {:.2} req/s · utilization {}",
            crate::report::format::thousands(m(Metric::Arrived)),
            crate::report::format::thousands(m(Metric::Dropped) + m(Metric::TimedOut)),
            m(Metric::Throughput),
            pct(m(Metric::Utilization))
        )),
    ];
    let interruptions = m(Metric::Interruptions);
    if interruptions > 0.0 {
        lines.push(Line::from(format!(
            "spot      {:.0} interruptions · {:.0} requests retried",
            interruptions,
            m(Metric::Retried)
        )));
    }
    // What runs but is likely not what was meant (idle GPUs of a tensor-parallel pool).
    for advice in r.scenario.advice() {
        lines.push(Line::styled(
            format!("warning   {}", advice.message),
            t.warn,
        ));
    }
    let inner = usize::from(facts_area.width.saturating_sub(2)).max(1);
    let wrapped: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let facts_h = u16::try_from(wrapped).unwrap_or(u16::MAX).saturating_add(2);
    let [facts_area, pools_area] =
        Layout::vertical([Constraint::Length(facts_h), Constraint::Fill(1)]).areas(facts_area);
    Paragraph::new(lines)
        .style(style)
        .block(Block::bordered().title(" Cost and capacity "))
        .wrap(ratatui::widgets::Wrap { trim: true })
        .render(facts_area, buf);

    let rows: Vec<Vec<String>> = r
        .scenario
        .pools()
        .iter()
        .zip(&s.pools)
        .enumerate()
        .map(|(i, (p, ps))| {
            vec![
                p.name.clone(),
                p.instance.name.clone(),
                p.market.to_string(),
                format!("{:.1}", ps.replicas_mean),
                pct(ps.utilization),
                if ps.batch_size_mean.is_finite() {
                    format!("{:.1}", ps.batch_size_mean)
                } else {
                    "—".into()
                },
                usd(s.rates.pools[i].per_hour),
                usd(s.rates.pools[i].idle_per_hour),
                format!("{:.0}", ps.interruptions),
            ]
        })
        .collect();
    let mut pool_widths = vec![
        Constraint::Min(14),
        Constraint::Length(14),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(8),
    ];
    let keep = super::fitting(&pool_widths, pools_area.width.saturating_sub(2));
    pool_widths.truncate(keep);
    let mut pool_header = vec![
        "pool", "instance", "market", "replicas", "util", "batch", "$/hour", "idle/h", "reclaims",
    ];
    pool_header.truncate(keep);
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|mut c| {
            c.truncate(keep);
            Row::new(c)
        })
        .collect();
    Table::new(rows, pool_widths)
        .header(Row::new(pool_header).style(t.header))
        .block(Block::bordered().title(" Pools (means over the window) "))
        .style(style)
        .render(pools_area, buf);
}
