//! Compare: two configurations side by side with the deltas: the saved file (or a pinned
//! frontier point) against the edit.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Widget, Wrap};

use crate::report::format::{ms, pct, usd};
use crate::tui::app::{App, Snapshot};

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let left = match &app.pinned {
        Some(p) => Some(p.clone()),
        None => app
            .saved_result
            .as_ref()
            .and_then(|r| r.summary().map(|s| Snapshot::of_summary("saved file", s))),
    };
    let right = app
        .result
        .as_ref()
        .filter(|r| r.span == crate::tui::worker::Span::Full)
        .and_then(|r| {
            let label = if app.doc.dirty() {
                "edited"
            } else {
                "edited (= saved)"
            };
            r.summary().map(|s| Snapshot::of_summary(label, s))
        });
    let (Some(a), Some(b)) = (left, right) else {
        Paragraph::new("Compare needs two full runs: the saved file's (it runs first) and the edit's. Edit a pool in Fleet, or pin a frontier point with c.")
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Compare "))
            .render(area, buf);
        return;
    };
    // (name, a, b, format, lower is better)
    type Fmt = fn(f64) -> String;
    let pct_fmt: Fmt = pct;
    let att: Fmt = super::overview::attainment;
    let ms_fmt: Fmt = ms;
    let usd_fmt: Fmt = usd;
    let unit: Fmt = crate::report::format::usd_unit;
    let n1: Fmt = |x| {
        if x.is_finite() {
            format!("{x:.1}")
        } else {
            "—".into()
        }
    };
    let mut metrics: Vec<(&str, f64, f64, Fmt, bool)> = vec![
        (
            "cost $/hour",
            a.cost_per_hour,
            b.cost_per_hour,
            usd_fmt,
            true,
        ),
        (
            "cost $/day",
            a.cost_per_hour * 24.0,
            b.cost_per_hour * 24.0,
            usd_fmt,
            true,
        ),
        (
            "$ per 1k requests",
            a.cost_per_1k,
            b.cost_per_1k,
            unit,
            true,
        ),
        (
            "idle $/hour",
            a.idle_cost_per_hour,
            b.idle_cost_per_hour,
            usd_fmt,
            true,
        ),
        ("p50 ms", a.p50_ms, b.p50_ms, ms_fmt, true),
        ("p99 ms", a.p99_ms, b.p99_ms, ms_fmt, true),
        ("p99.9 ms", a.p999_ms, b.p999_ms, ms_fmt, true),
        ("in SLO", a.attainment, b.attainment, att, false),
        ("utilization", a.utilization, b.utilization, pct_fmt, false),
        ("replicas (mean)", a.replicas, b.replicas, n1, true),
    ];
    if a.ttft_p99_ms.is_finite() || b.ttft_p99_ms.is_finite() {
        // An LLM workload's own latencies, after end-to-end p99.9.
        metrics.insert(
            7,
            ("TTFT p99 ms", a.ttft_p99_ms, b.ttft_p99_ms, ms_fmt, true),
        );
        metrics.insert(
            8,
            ("TPOT p99 ms", a.tpot_p99_ms, b.tpot_p99_ms, ms_fmt, true),
        );
    }
    let mut rows: Vec<Row> = metrics
        .iter()
        .map(|(name, x, y, f, lower_better)| {
            let d = y - x;
            let (delta, style) = if x.is_finite() && y.is_finite() && d.abs() > 1e-12 {
                let rel = if x.abs() > 1e-12 {
                    format!(" ({:+.1}%)", d / x * 100.0)
                } else {
                    String::new()
                };
                let better = (d < 0.0) == *lower_better;
                let sign = if d > 0.0 { "+" } else { "−" };
                let word = if better { "better" } else { "worse" };
                (
                    format!("{sign}{}{rel} {word}", f(d.abs())),
                    if better { t.ok } else { t.warn },
                )
            } else if x.is_finite() && y.is_finite() {
                ("same".into(), ratatui::style::Style::new())
            } else {
                ("—".into(), ratatui::style::Style::new())
            };
            Row::new(vec![
                Cell::from(*name),
                Cell::from(f(*x)),
                Cell::from(f(*y)),
                Cell::from(delta).style(style),
            ])
        })
        .collect();
    let verdict = |m: Option<bool>| match m {
        Some(true) => "✓ met",
        Some(false) => "✗ missed",
        None => "– no SLO",
    };
    rows.push(Row::new(vec![
        Cell::from("SLO"),
        Cell::from(verdict(a.slo_met)),
        Cell::from(verdict(b.slo_met)),
        Cell::from(""),
    ]));
    Table::new(
        rows,
        [
            Constraint::Length(20),
            Constraint::Length(16),
            Constraint::Length(16),
            Constraint::Min(20),
        ],
    )
    .header(
        Row::new(vec![
            "".to_string(),
            a.label.clone(),
            b.label.clone(),
            "change".to_string(),
        ])
        .style(t.header),
    )
    .block(
        Block::bordered().title(
            " Compare · left: saved file or pinned point (c in Frontier) · right: the edit ",
        ),
    )
    .style(super::result_style(app))
    .render(area, buf);
}
