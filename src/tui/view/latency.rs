//! Latency: p50 and p99 over simulated time against the SLO target, and the latency histogram.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Bar, BarChart, BarGroup, Block, Chart, Dataset, GraphType, Widget};

use super::{result_style, served};
use crate::experiment::LatencyBins;
use crate::report::format::ms;
use crate::tui::app::App;

/// The scope shown: `all` or a workload's name.
pub fn scope_name(app: &App) -> String {
    match app.workload {
        None => "all workloads".into(),
        Some(w) => format!("workload {}", app.scenario.workloads()[w].name),
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some((_, s)) = served(app, area, buf) else {
        return;
    };
    let style = result_style(app);
    let (series, scope) = match app.workload.filter(|&w| w < s.workload_series.len()) {
        Some(w) => (&s.workload_series[w], &s.workloads[w]),
        None => (&s.series, &s.total),
    };
    let [lines_area, hist_area] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);

    let hours = |x: f64| x / 3600.0;
    let x_max = series.last().map_or(1.0, |r| hours(r.t_s)).max(1e-3);
    let x_min = series.first().map_or(0.0, |r| hours(r.t_s));
    let line = |f: fn(&crate::experiment::SeriesRow) -> f64| -> Vec<(f64, f64)> {
        series
            .iter()
            .filter(|r| f(r).is_finite())
            .map(|r| (hours(r.t_s), f(r)))
            .collect()
    };
    let targets = scope.slo_targets.unwrap_or_default();
    let target = targets.p99_ms;
    let chart = Timeline {
        x: [x_min, x_max],
        style,
    };
    if series.iter().any(|r| r.ttft_p99_ms.is_finite()) {
        // An LLM workload is judged by its first token and the tokens after it.
        let [ttft_area, tpot_area] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(lines_area);
        let title = format!(" TTFT p99 over time · {} · j k: scope ", scope_name(app));
        let ttft = line(|r| r.ttft_p99_ms);
        chart.render(
            app,
            &title,
            &[("TTFT p99", &ttft)],
            targets.ttft_p99_ms.map(|y| ("SLO", y)),
            ttft_area,
            buf,
        );
        let tpot = line(|r| r.tpot_p99_ms);
        chart.render(
            app,
            " TPOT p99 over time ",
            &[("TPOT p99", &tpot)],
            targets.tpot_p99_ms.map(|y| ("SLO", y)),
            tpot_area,
            buf,
        );
    } else {
        let title = format!(
            " Latency over time · {} · p50 (lower line), p99 (upper), SLO target dotted · j k: scope ",
            scope_name(app)
        );
        let (p50, p99) = (line(|r| r.p50_ms), line(|r| r.p99_ms));
        chart.render(
            app,
            &title,
            &[("p50", &p50), ("p99", &p99)],
            target.map(|y| ("SLO p99", y)),
            lines_area,
            buf,
        );
    }

    histogram(app, &scope.latency_bins, target, hist_area, buf);
}

/// The histogram: one bar per bin that has requests (bins are 1/20 of a decade wide), labelled
/// by the bin's lower edge; the bin holding the SLO target is marked.
fn histogram(app: &App, bins: &LatencyBins, target: Option<f64>, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let total = bins.total();
    let used: Vec<usize> = (0..bins.counts.len())
        .filter(|&i| bins.counts[i] > 0.0)
        .collect();
    let block =
        Block::bordered().title(" Latency histogram · share of requests by latency (log bins) ");
    let (Some(&first), Some(&last)) = (used.first(), used.last()) else {
        Line::from("no request completed").render(block.inner(area), buf);
        block.render(area, buf);
        return;
    };
    let inner_w = area.width.saturating_sub(2) as usize;
    let n = last - first + 1;
    // Bins merged so that every bar is at least 5 cells wide with its gap.
    let per = n.div_ceil((inner_w / 6).max(1));
    let groups: Vec<(usize, usize)> = (first..=last)
        .step_by(per)
        .map(|a| (a, (a + per - 1).min(last)))
        .collect();
    let bar_w = ((inner_w / groups.len().max(1)).saturating_sub(1)).clamp(1, 12) as u16;
    let bars: Vec<Bar> = groups
        .iter()
        .map(|&(a, b)| {
            let share: f64 = bins.counts[a..=b].iter().sum::<f64>() / total;
            let (lo, hi) = (LatencyBins::edges_ms(a).0, LatencyBins::edges_ms(b).1);
            let over = target.is_some_and(|x| hi > x);
            let style = if over { t.breach } else { t.series[0] };
            Bar::default()
                .value((share * 1000.0).round() as u64)
                .text_value(format!("{:.1}%", share * 100.0))
                .label(Line::from(format!(
                    "{}{}",
                    if target.is_some_and(|x| lo <= x && x < hi) {
                        "▲"
                    } else {
                        ""
                    },
                    ms(lo)
                )))
                .style(style)
        })
        .collect();
    let title_note = match target {
        Some(x) => format!(
            " (▲ bin of the {} ms SLO; bars above it in the breach style)",
            ms(x)
        ),
        None => String::new(),
    };
    BarChart::default()
        .block(block.title_bottom(format!(" ms, lower edge of each bar{title_note} ")))
        .data(BarGroup::default().bars(&bars))
        .bar_width(bar_w)
        .bar_gap(1)
        .style(result_style(app))
        .render(area, buf);
}

/// A chart of milliseconds over simulated hours, with a target dotted across it.
struct Timeline {
    /// Hours.
    x: [f64; 2],
    style: ratatui::style::Style,
}

impl Timeline {
    fn render(
        &self,
        app: &App,
        title: &str,
        lines: &[(&str, &[(f64, f64)])],
        target: Option<(&str, f64)>,
        area: Rect,
        buf: &mut Buffer,
    ) {
        let t = &app.theme;
        let [x_min, x_max] = self.x;
        let y_max = lines
            .iter()
            .flat_map(|(_, d)| d.iter().map(|p| p.1))
            .chain(target.map(|t| t.1))
            .fold(1.0f64, f64::max)
            * 1.1;
        let target_line: Vec<(f64, f64)> =
            target.map_or(Vec::new(), |(_, y)| vec![(x_min, y), (x_max, y)]);
        let mut datasets: Vec<Dataset> = lines
            .iter()
            .enumerate()
            .map(|(i, (name, data))| {
                Dataset::default()
                    .name(*name)
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(t.series[i % t.series.len()])
                    .data(data)
            })
            .collect();
        if let Some((name, _)) = target {
            datasets.push(
                Dataset::default()
                    .name(name)
                    .marker(Marker::Dot)
                    .graph_type(GraphType::Line)
                    .style(t.breach)
                    .data(&target_line),
            );
        }
        let xl = |x: f64| format!("{x:.0}h");
        Chart::new(datasets)
            .block(Block::bordered().title(title.to_string()))
            .style(self.style)
            .x_axis(
                Axis::default()
                    .title("simulated time")
                    .bounds([x_min, x_max])
                    .labels([xl(x_min), xl((x_min + x_max) / 2.0), xl(x_max)]),
            )
            .y_axis(Axis::default().title("ms").bounds([0.0, y_max]).labels([
                "0".to_string(),
                ms(y_max / 2.0),
                ms(y_max),
            ]))
            .render(area, buf);
    }
}
