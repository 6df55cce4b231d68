//! Bill: the training jobs and the whole bill for the period (compute by market, storage,
//! transfer, logging, energy, the cost of one prediction; then by pool and workload, job and
//! cluster), the same text `simulate` prints, so the TUI and the CLI cannot disagree.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Widget};

use super::{result_style, waiting};
use crate::report::format::usd;
use crate::tui::app::App;
use crate::tui::worker::Span;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(r) = &app.result else {
        return waiting(app, area, buf);
    };
    let Some(text) = app.bill_text() else {
        Paragraph::new(
            "This scenario has no [training] or [costs] table: its cost is serving's, in 4 Cost. A [costs] table prices a period (a month by default) with storage, transfer, logging and energy; scenarios/full-bill.toml shows one.",
        )
        .wrap(ratatui::widgets::Wrap { trim: true })
        .block(Block::bordered().title(" Bill "))
        .render(area, buf);
        return;
    };
    let mut title = match &r.outcome.bill {
        Some(b) => format!(
            " Bill: {} per {} ",
            usd(b.total_usd()),
            crate::experiment::bill::period_words(b.period_days)
        ),
        None => " Training ".to_string(),
    };
    if let Span::Preview(_) = r.span {
        title.push_str("· preview: provisional until the full run lands ");
    }
    title.push_str("· j k: scroll ");
    let lines: Vec<Line> = text.lines().map(|l| Line::from(l.to_string())).collect();
    let inner_h = area.height.saturating_sub(2) as usize;
    let scroll = app.bill_scroll.min(lines.len().saturating_sub(inner_h));
    Paragraph::new(lines)
        .block(Block::bordered().title(title))
        .style(result_style(app))
        .scroll((scroll as u16, 0))
        .render(area, buf);
}
