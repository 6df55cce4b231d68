//! Cost: dollars per hour over simulated time, stacked by pool (its market in the legend), each
//! pool's idle share drawn lighter; and the totals by pool, market and idle.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table, Widget};

use super::{result_style, served};
use crate::experiment::Metric;
use crate::report::format::{pct, usd};
use crate::tui::app::App;

/// Full and idle cells of a pool's layer; without colour the pools differ by symbol too.
const FULL: [&str; 6] = ["█", "▓", "▒", "█", "▓", "▒"];
const IDLE: &str = "░";

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some((r, s)) = served(app, area, buf) else {
        return;
    };
    let t = &app.theme;
    let pools: Vec<usize> = (0..r.scenario.pools().len())
        .filter(|&p| {
            app.workload
                .is_none_or(|w| r.scenario.pools()[p].workload == w)
        })
        .collect();
    let [chart_area, table_area] =
        Layout::horizontal([Constraint::Fill(3), Constraint::Length(44)]).areas(area);

    let block = Block::bordered().title(format!(
        " $/hour over time by pool (░ idle) · {} ",
        super::latency::scope_name(app)
    ));
    let inner = block.inner(chart_area);
    block.render(chart_area, buf);
    let [plot, legend] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
    let legend_spans: Vec<Span> = pools
        .iter()
        .enumerate()
        .flat_map(|(k, &p)| {
            let pool = &r.scenario.pools()[p];
            [
                Span::styled(FULL[k % FULL.len()], t.series[k % t.series.len()]),
                Span::raw(format!(" {} ({})  ", pool.name, pool.market)),
            ]
        })
        .collect();
    Line::from(legend_spans).render(legend, buf);
    stacked(app, r, &pools, plot, buf);

    // Totals.
    let mut rows: Vec<Row> = pools
        .iter()
        .map(|&p| {
            let ps = &s.pools[p];
            Row::new(vec![
                Cell::from(r.scenario.pools()[p].name.clone()),
                Cell::from(usd(s.rates.pools[p].per_hour)),
                Cell::from(usd(s.rates.pools[p].idle_per_hour)),
                Cell::from(usd(ps.cost_usd)),
            ])
        })
        .collect();
    let (scope, rates) = match app.workload.filter(|&w| w < s.workloads.len()) {
        Some(w) => (&s.workloads[w], &s.rates.workloads[w]),
        None => (&s.total, &s.rates.total),
    };
    let m = |x: Metric| scope.get(x).mean;
    rows.push(Row::new(vec![""; 4]));
    for ((market, per_hour), x) in rates.by_market_per_hour.iter().zip([
        m(Metric::CostOnDemand),
        m(Metric::CostSpot),
        m(Metric::CostReserved),
    ]) {
        rows.push(Row::new(vec![
            Cell::from(market.to_string()),
            Cell::from(usd(*per_hour)),
            Cell::from(""),
            Cell::from(usd(x)),
        ]));
    }
    rows.push(Row::new(vec![
        Cell::from(format!(
            "idle ({})",
            pct(m(Metric::CostIdle) / m(Metric::CostTotal))
        )),
        Cell::from(usd(rates.idle_per_hour)),
        Cell::from(""),
        Cell::from(usd(m(Metric::CostIdle))),
    ]));
    rows.push(
        Row::new(vec![
            Cell::from("total"),
            Cell::from(usd(rates.per_hour)),
            Cell::from(""),
            Cell::from(usd(m(Metric::CostTotal))),
        ])
        .style(t.header),
    );
    rows.push(Row::new(vec![
        Cell::from("per day"),
        Cell::from(usd(rates.per_day)),
        Cell::from(""),
        Cell::from(""),
    ]));
    Table::new(
        rows,
        [
            Constraint::Min(12),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(10),
        ],
    )
    .header(Row::new(vec!["driver", "$/hour", "idle/h", "total"]).style(t.header))
    .block(Block::bordered().title(" Totals "))
    .style(result_style(app))
    .render(table_area, buf);
}

/// Columns of stacked layers, one per time slice of the plot's width.
fn stacked(
    app: &App,
    r: &crate::tui::worker::Simulated,
    pools: &[usize],
    area: Rect,
    buf: &mut Buffer,
) {
    let t = &app.theme;
    let Some(s) = r.summary() else {
        return;
    };
    let series = &s.pool_series;
    let n = pools
        .iter()
        .map(|&p| series.get(p).map_or(0, Vec::len))
        .min()
        .unwrap_or(0);
    let label_w = 8u16;
    if n == 0 || area.width <= label_w + 2 || area.height < 2 {
        return;
    }
    let cols = (area.width - label_w) as usize;
    let rows_h = area.height as usize;
    let interval_h = r.scenario.interval().as_secs_f64() / 3600.0;
    // For each column: per pool (busy $/h, idle $/h), averaged over the rows it covers.
    let layers: Vec<Vec<(f64, f64)>> = (0..cols)
        .map(|c| {
            let (a, b) = (
                c * n / cols,
                ((c + 1) * n / cols).max(c * n / cols + 1).min(n),
            );
            pools
                .iter()
                .map(|&p| {
                    let rows = &series[p][a..b];
                    let k = rows.len() as f64;
                    let cost: f64 = rows.iter().map(|x| x.cost_usd).sum::<f64>() / k / interval_h;
                    let util: f64 = rows
                        .iter()
                        .map(|x| {
                            if x.utilization.is_finite() {
                                x.utilization
                            } else {
                                0.0
                            }
                        })
                        .sum::<f64>()
                        / k;
                    (cost * util, cost * (1.0 - util))
                })
                .collect()
        })
        .collect();
    let top = layers
        .iter()
        .map(|l| l.iter().map(|(a, b)| a + b).sum::<f64>())
        .fold(0.0, f64::max)
        .max(1e-9);
    let style = result_style(app);
    for (c, layer) in layers.iter().enumerate() {
        let x = area.x + label_w + c as u16;
        let mut acc = 0.0;
        let mut cells: Vec<(&str, Style)> = Vec::with_capacity(rows_h);
        for (k, (busy, idle)) in layer.iter().enumerate() {
            for (value, symbol) in [(*busy, FULL[k % FULL.len()]), (*idle, IDLE)] {
                let from = (acc / top * rows_h as f64).round() as usize;
                acc += value;
                let to = (acc / top * rows_h as f64).round() as usize;
                for _ in from..to {
                    cells.push((symbol, t.series[k % t.series.len()]));
                }
            }
        }
        for (h, (symbol, st)) in cells.iter().enumerate().take(rows_h) {
            let y = area.bottom() - 1 - h as u16;
            buf[(x, y)].set_symbol(symbol).set_style(st.patch(style));
        }
    }
    for (y, value) in [(area.y, top), (area.bottom() - 1, 0.0)] {
        Line::from(format!("{:>7}", usd(value))).render(Rect::new(area.x, y, label_w, 1), buf);
    }
}
