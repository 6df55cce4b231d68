//! Fleet: the pools as a table, one editable field focused; results beside them.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{
    Block, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use crate::fleet::Serving;
use crate::report::format::{pct, usd};
use crate::tui::app::App;
use crate::tui::fields::Field;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let s = &app.scenario;
    let [table_area, detail_area] = crate::tui::layout::fleet(area);
    let cols = app.fleet.columns();
    let many = s.workloads().len() > 1;
    let mut header: Vec<Cell> = vec![Cell::from("pool")];
    if many {
        header.push(Cell::from("workload"));
    }
    for &i in &cols {
        let style = if i == app.fleet.col {
            t.accent
        } else {
            t.header
        };
        header.push(Cell::from(Field::ALL[i].title()).style(style));
    }
    header.push(Cell::from("$/hour"));
    header.push(Cell::from("util"));
    let result = app
        .result
        .as_ref()
        .filter(|r| r.scenario.pools().len() == s.pools().len());
    let mut widths = vec![Constraint::Min(13)];
    if many {
        widths.push(Constraint::Length(10));
    }
    for &i in &cols {
        widths.push(Constraint::Length(match Field::ALL[i] {
            Field::Instance => 14,
            Field::Market => 9,
            Field::Replicas => 8,
            Field::AutoscaleMin | Field::AutoscaleMax => 4,
            Field::MaxBatch => 5,
            Field::MaxWait => 6,
            Field::Model => 14,
        }));
    }
    widths.extend([Constraint::Length(7), Constraint::Length(5)]);
    // Columns that do not fit are left out (the detail below names the field being edited).
    let keep = super::fitting(&widths, table_area.width.saturating_sub(2));
    widths.truncate(keep);
    header.truncate(keep);
    let rows: Vec<Row> = s
        .pools()
        .iter()
        .enumerate()
        .map(|(p, pool)| {
            let mut cells = vec![Cell::from(pool.name.clone())];
            if many {
                cells.push(Cell::from(s.workloads()[pool.workload].name.clone()));
            }
            for &i in &cols {
                let located = app
                    .fleet
                    .fields
                    .get(p)
                    .and_then(|r| r.get(i))
                    .and_then(Option::as_ref);
                let text = match located {
                    Some(l) => match (&l.value, &l.default) {
                        (Some(v), _) => v.clone(),
                        (None, Some(d)) => format!("({d})"),
                        (None, None) => "—".into(),
                    },
                    None => "·".into(),
                };
                let style = if p == app.fleet.row && i == app.fleet.col {
                    t.focused
                } else {
                    ratatui::style::Style::new()
                };
                cells.push(Cell::from(text).style(style));
            }
            let (cost, util) = match result.and_then(|r| r.summary()) {
                Some(s) => (usd(s.rates.pools[p].per_hour), pct(s.pools[p].utilization)),
                None => ("—".into(), "—".into()),
            };
            let rs = super::result_style(app);
            cells.push(Cell::from(cost).style(rs));
            cells.push(Cell::from(util).style(rs));
            let row = Row::new(cells);
            if p == app.fleet.row {
                row.style(t.header)
            } else {
                row
            }
        })
        .collect();
    let block = Block::bordered()
        .title(" Pools · h l: field · + -: change · Enter: edit or pick · m: market ");
    let table = Table::new(rows, widths)
        .header(Row::new(header))
        .block(block);
    // Scrolled as the mouse's layout says, so clicks land on the rows shown.
    let rows_area = crate::tui::layout::table_rows(table_area);
    let mut state = TableState::default()
        .with_selected(Some(app.fleet.row))
        .with_offset(crate::tui::layout::first_shown(
            app.fleet.row,
            rows_area.height,
        ));
    StatefulWidget::render(table, table_area, buf, &mut state);

    // What the selected pool is, in words.
    let mut lines = Vec::new();
    if let Some(pool) = s.pools().get(app.fleet.row) {
        let i = &pool.instance;
        let serving = match &pool.serving {
            Serving::Llm(l) => format!(
                "LLM: {} sequences, {} tokens per step at most",
                l.settings.max_seqs, l.settings.max_batched_tokens
            ),
            Serving::Requests(_) => "request-level service times".to_string(),
        };
        lines.push(Line::from(format!(
            "{}: {} × {} ({}×{} {} GiB) in {} {}, {} at {}/hour per instance",
            pool.name,
            pool.replicas,
            i.name,
            i.gpu_count,
            i.gpu_model,
            i.gpu_memory_gib.map_or("?".into(), |g| format!("{g:.0}")),
            i.cloud,
            i.region,
            pool.market,
            usd(pool.price_usd_per_hour)
        )));
        let scaling = match &pool.scaling {
            Some(sc) => format!("autoscales between {} and {} replicas", sc.min, sc.max),
            None => "fixed size".to_string(),
        };
        lines.push(Line::from(format!("{serving}; {scaling}")));
        if let Some(l) = app
            .fleet
            .fields
            .get(app.fleet.row)
            .and_then(|r| r.get(app.fleet.col))
            .and_then(Option::as_ref)
        {
            lines.push(Line::styled(format!("editing {}", l.path), t.unfocused));
        } else {
            lines.push(Line::styled(
                format!(
                    "this pool has no {}; : sets any value by its path",
                    app.fleet.field().title()
                ),
                t.unfocused,
            ));
        }
    }
    Paragraph::new(lines)
        .block(Block::bordered())
        .wrap(Wrap { trim: true })
        .render(detail_area, buf);
}
