//! Drawing: `impl Widget for &App`, one function per panel. Views read the app and never change
//! it, except to note where lists and tabs landed (for the mouse).

mod bill;
mod compare;
mod cost;
mod fleet;
mod frontier;
mod latency;
mod optimize;
mod overlay;
mod overview;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::action::Tab;
use super::app::App;
use super::keymap;
use super::worker::Span as RunSpan;

pub use super::layout::{MIN_HEIGHT, MIN_WIDTH};

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        let Some(super::layout::Frame {
            title,
            tabs,
            body,
            status,
            hints,
        }) = super::layout::frame(area)
        else {
            Paragraph::new(format!(
                "headroom needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is {}×{}. Enlarge it, or press q to quit.",
                area.width, area.height
            ))
            .wrap(Wrap { trim: true })
            .render(area, buf);
            return;
        };
        title_bar(self, title, buf);
        tab_bar(self, tabs, buf);
        match self.tab {
            Tab::Overview => overview::render(self, body, buf),
            Tab::Fleet => fleet::render(self, body, buf),
            Tab::Latency => latency::render(self, body, buf),
            Tab::Cost => cost::render(self, body, buf),
            Tab::Frontier => frontier::render(self, body, buf),
            Tab::Compare => compare::render(self, body, buf),
            Tab::Optimize => optimize::render(self, body, buf),
            Tab::Bill => bill::render(self, body, buf),
        }
        status_line(self, status, buf);
        hint_bar(self, hints, buf);
        overlay::render(self, area, buf);
    }
}

fn title_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let mut spans = vec![
        Span::styled(" headroom ", t.header),
        Span::raw(format!(
            "· {} · {}",
            app.scenario.name(),
            app.doc.path.display()
        )),
    ];
    if app.doc.bundled {
        spans.push(Span::styled(" (bundled: s saves it here)", t.stale));
    }
    if app.doc.dirty() {
        spans.push(Span::styled(" [+] modified", t.warn));
    }
    let run = match (&app.running, &app.result) {
        (Some(r), _) => {
            let what = match r.span {
                RunSpan::Preview(p) => format!("preview of {}", p.describe()),
                RunSpan::Full => "full run".to_string(),
            };
            format!(
                "⟳ simulating {what} {:>3.0}%",
                r.progress.fraction().clamp(0.0, 1.0) * 100.0
            )
        }
        (None, Some(r)) => match r.span {
            RunSpan::Preview(p) => format!("preview of {} only", p.describe()),
            RunSpan::Full => match r.summary() {
                Some(s) => format!(
                    "{} run{} · {:.2} s",
                    s.replications,
                    if s.replications == 1 { "" } else { "s" },
                    r.wall.as_secs_f64()
                ),
                None => format!("ran in {:.2} s", r.wall.as_secs_f64()),
            },
        },
        (None, None) => String::new(),
    };
    let left = Line::from(spans);
    let right_width = run.chars().count() as u16 + 1;
    let [l, r] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(right_width)]).areas(area);
    left.render(l, buf);
    Line::styled(
        run,
        if app.running.is_some() {
            t.accent
        } else {
            t.unfocused
        },
    )
    .render(r, buf);
}

fn tab_bar(app: &App, area: Rect, buf: &mut Buffer) {
    for (tab, rect, text) in super::layout::tabs(app.tab, area) {
        let style = if tab == app.tab {
            app.theme.selected
        } else {
            Style::new()
        };
        Line::styled(text, style).render(rect, buf);
    }
}

fn status_line(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    if let Some(s) = &app.status {
        let (mark, style) = if s.error {
            ("✗ ", t.breach)
        } else {
            ("", Style::new())
        };
        Line::styled(format!(" {mark}{}", s.text), style).render(area, buf);
    }
}

fn hint_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let mut spans = Vec::new();
    let mut width = 0usize;
    for b in keymap::hints(app.tab) {
        let hint = b.hint.expect("hints have a hint");
        let w = b.label.chars().count() + hint.chars().count() + 3;
        if width + w > area.width as usize {
            break;
        }
        width += w;
        spans.push(Span::styled(format!(" {}", b.label), t.accent));
        spans.push(Span::raw(format!(" {hint} ")));
    }
    Line::from(spans).render(area, buf);
}

/// Results are dimmed while they are of an older text than the one edited.
pub fn result_style(app: &App) -> Style {
    if app.stale() {
        app.theme.stale
    } else {
        Style::new()
    }
}

/// A line saying why there is nothing to show yet.
/// The latest result and its serving summary; without one, draws why (nothing run yet, or a
/// scenario that serves nothing) and gives `None`.
pub fn served<'a>(
    app: &'a App,
    area: Rect,
    buf: &mut Buffer,
) -> Option<(
    &'a crate::tui::worker::Simulated,
    &'a crate::experiment::Summary,
)> {
    let Some(r) = &app.result else {
        waiting(app, area, buf);
        return None;
    };
    let Some(s) = r.summary() else {
        Paragraph::new(
            "This scenario serves no traffic: its training jobs and bill are in 8 Bill.",
        )
        .wrap(ratatui::widgets::Wrap { trim: true })
        .style(app.theme.unfocused)
        .render(area, buf);
        return None;
    };
    Some((r, s))
}

pub fn waiting(app: &App, area: Rect, buf: &mut Buffer) {
    let text = if app.running.is_some() {
        "simulating…"
    } else {
        "no results yet"
    };
    Paragraph::new(text)
        .style(app.theme.unfocused)
        .render(area, buf);
}

/// How many leading columns of `widths` fit in `width` cells (with a one-cell gap between
/// columns). Tables drop the columns that do not fit rather than squeeze them: a squeezed table
/// has many equally good layouts, and the solver's choice among them is not stable.
pub fn fitting(widths: &[ratatui::layout::Constraint], width: u16) -> usize {
    use ratatui::layout::Constraint::{Length, Min};
    let mut used = 0u16;
    for (i, c) in widths.iter().enumerate() {
        let w = match c {
            Length(n) | Min(n) => *n,
            _ => 1,
        };
        let gap = u16::from(i > 0);
        if used + gap + w > width {
            return i.max(1);
        }
        used += gap + w;
    }
    widths.len()
}
