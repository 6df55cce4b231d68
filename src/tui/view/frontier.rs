//! Frontier: cost per hour against p99 over a sweep of a pool's replicas, the Pareto points
//! marked, the edited configuration marked; a point loads into the edit with Enter.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::symbols::Marker;
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Dataset, GraphType, Paragraph, Row, StatefulWidget, Table,
    TableState, Widget, Wrap,
};

use crate::report::format::{ms, usd};
use crate::tui::app::App;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let f = &app.frontier;
    if f.rows.is_empty() {
        let pool = app
            .scenario
            .pools()
            .get(app.fleet.row)
            .map_or("", |p| p.name.as_str());
        let text = if f.running {
            format!("sweeping {}…", f.pool)
        } else if let Some(e) = &f.error {
            format!("the sweep failed: {e}")
        } else {
            format!(
                "No sweep yet. r sweeps the replicas of the pool selected in Fleet ({pool}): each point is simulated in full, and the points no other beats on both cost and p99 form the frontier."
            )
        };
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Frontier "))
            .render(area, buf);
        return;
    }
    let [chart_area, list_area] = crate::tui::layout::frontier(area);
    let current = app
        .scenario
        .pools()
        .iter()
        .find(|p| p.name == f.pool)
        .map(|p| p.replicas.to_string());
    // An LLM workload is judged by its time to first token: the chart and list show that.
    let llm = f.rows.iter().any(|r| r.ttft_p99_ms.is_finite());
    let latency = |r: &crate::sweep::Row| if llm { r.ttft_p99_ms } else { r.p99_ms };
    let what = if llm { "TTFT p99" } else { "p99" };
    let point = |r: &crate::sweep::Row| (latency(r), r.cost_per_hour);
    let ok = |r: &&crate::sweep::Row| latency(r).is_finite() && r.cost_per_hour.is_finite();
    let others: Vec<(f64, f64)> = f
        .rows
        .iter()
        .filter(ok)
        .filter(|r| !r.pareto)
        .map(point)
        .collect();
    let mut pareto: Vec<(f64, f64)> = f
        .rows
        .iter()
        .filter(ok)
        .filter(|r| r.pareto)
        .map(point)
        .collect();
    pareto.sort_by(|a, b| a.0.total_cmp(&b.0));
    let cur: Vec<(f64, f64)> = f
        .rows
        .iter()
        .filter(ok)
        .filter(|r| Some(&r.values[0]) == current.as_ref())
        .map(point)
        .collect();
    let sel: Vec<(f64, f64)> = f
        .rows
        .get(f.selected)
        .filter(ok)
        .map(point)
        .into_iter()
        .collect();
    let xs = f.rows.iter().filter(ok).map(latency);
    let ys = f.rows.iter().filter(ok).map(|r| r.cost_per_hour);
    let (x0, x1) = bounds(xs);
    let (y0, y1) = bounds(ys);
    let target = app
        .scenario
        .workloads()
        .first()
        .and_then(|w| w.slo.as_ref())
        .and_then(|s| if llm { s.ttft_p99 } else { s.p99 })
        .map(|t| t.as_millis_f64());
    let slo: Vec<(f64, f64)> = target
        .filter(|x| *x >= x0 && *x <= x1)
        .map_or(Vec::new(), |x| {
            (0..=10)
                .map(|k| (x, y0 + (y1 - y0) * k as f64 / 10.0))
                .collect()
        });
    let mut sets = vec![
        Dataset::default()
            .name("point")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(t.unfocused)
            .data(&others),
        Dataset::default()
            .name("Pareto")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.series[0])
            .data(&pareto),
        Dataset::default()
            .name("current")
            .marker(Marker::Block)
            .graph_type(GraphType::Scatter)
            .style(t.series[2])
            .data(&cur),
        Dataset::default()
            .name("selected")
            .marker(Marker::Bar)
            .graph_type(GraphType::Scatter)
            .style(t.series[1])
            .data(&sel),
    ];
    if !slo.is_empty() {
        sets.push(
            Dataset::default()
                .name("SLO")
                .marker(Marker::Dot)
                .graph_type(GraphType::Scatter)
                .style(t.breach)
                .data(&slo),
        );
    }
    Chart::new(sets)
        .block(Block::bordered().title(format!(
            " $/hour against {what} · sweep of {} replicas ",
            f.pool
        )))
        .x_axis(
            Axis::default()
                .title(format!("{what} ms"))
                .bounds([x0, x1])
                .labels([ms(x0), ms((x0 + x1) / 2.0), ms(x1)]),
        )
        .y_axis(Axis::default().title("$/h").bounds([y0, y1]).labels([
            usd(y0),
            usd((y0 + y1) / 2.0),
            usd(y1),
        ]))
        .render(chart_area, buf);

    let rows: Vec<Row> = f
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut mark = String::new();
            if r.pareto {
                mark.push('◆');
            }
            if Some(&r.values[0]) == current.as_ref() {
                mark.push_str(" now");
            }
            let slo = match r.slo_met {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "–",
            };
            let row = Row::new(vec![
                Cell::from(r.values[0].clone()),
                Cell::from(usd(r.cost_per_hour)),
                Cell::from(ms(latency(r))),
                Cell::from(format!(
                    "{slo} {}",
                    super::overview::attainment(r.slo_attainment)
                )),
                Cell::from(mark),
            ]);
            if i == f.selected {
                row.style(t.selected)
            } else {
                row
            }
        })
        .collect();
    let block = Block::bordered().title(" ◆ Pareto · Enter: load · c: compare ");
    let table = Table::new(
        rows,
        [
            Constraint::Length(5),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Min(6),
        ],
    )
    .header(
        Row::new(vec![
            "repl",
            "$/hour",
            if llm { "TTFT" } else { "p99" },
            "in SLO",
            "",
        ])
        .style(t.header),
    )
    .block(block);
    // Scrolled as the mouse's layout says, so clicks land on the rows shown.
    let rows_area = crate::tui::layout::table_rows(list_area);
    let mut state = TableState::default()
        .with_selected(Some(f.selected))
        .with_offset(crate::tui::layout::first_shown(
            f.selected,
            rows_area.height,
        ));
    StatefulWidget::render(table, list_area, buf, &mut state);
}

fn bounds(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(1e-6);
    ((lo - pad).max(0.0), hi + pad)
}
