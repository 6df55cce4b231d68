//! Optimize: run `headroom optimize` on the edited scenario, read the plan, its explanation and
//! its verification (the same report the command prints), and adopt it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use crate::report::optimize::render_table;
use crate::tui::app::App;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let o = &app.optimizing;
    let (title, lines): (String, Vec<Line>) = match &o.outcome {
        Some(outcome) => {
            let text = render_table(&app.scenario, outcome, &[]);
            let verdict = if outcome.passed {
                "verified"
            } else {
                "NOT verified"
            };
            (
                format!(
                    " Plan: {}/day, {verdict} · a: adopt · j k: scroll ",
                    crate::report::format::usd(outcome.plan.cost)
                ),
                text.lines().map(|l| Line::from(l.to_string())).collect(),
            )
        }
        None if o.running || !o.log.is_empty() || o.error.is_some() => {
            let mut lines: Vec<Line> = o.log.iter().map(|l| Line::from(l.clone())).collect();
            if o.running {
                lines.push(Line::styled("⟳ optimizing… (the capacity search takes a while the first time; curves are cached)", t.accent));
            }
            if let Some(e) = &o.error {
                lines.push(Line::styled(format!("✗ {e}"), t.breach));
            }
            (" Optimizer ".to_string(), lines)
        }
        None => {
            let text = if app.scenario.optimize().is_some() {
                "r runs the optimizer on the scenario as edited: capacity at the SLO per candidate, the cheapest purchase by hour (on-demand, spot, reserved), then a simulation that verifies it. a adopts the plan: its pools replace the workload's, as an edit you can undo, compare and save."
            } else {
                "This scenario has no [optimize] table, so there is nothing to choose from. scenarios/optimize-chat.toml shows one: candidates (instance types), markets, spot share, spare replicas, budget."
            };
            (" Optimizer ".to_string(), vec![Line::from(text)])
        }
    };
    let inner_h = area.height.saturating_sub(2) as usize;
    let scroll = o.scroll.min(lines.len().saturating_sub(inner_h));
    Paragraph::new(lines)
        .block(Block::bordered().title(title))
        .wrap(Wrap { trim: false })
        .scroll((scroll as u16, 0))
        .render(area, buf);
}
