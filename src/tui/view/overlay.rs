//! Windows over the views: help, the picker, an input line, the diff before saving, the question
//! before quitting with unsaved edits.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, Widget, Wrap};

use crate::tui::app::{App, Overlay};
use crate::tui::document::DiffLine;
use crate::tui::keymap::{KEYMAP, Scope};

use crate::tui::layout::centered;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help => {
            let rows: Vec<Row> = KEYMAP
                .iter()
                .filter(|b| !b.label.is_empty())
                .map(|b| {
                    let scope = match b.scope {
                        Scope::Global => "".to_string(),
                        Scope::On(tab) => tab.title().to_string(),
                    };
                    Row::new(vec![
                        Cell::from(b.label).style(t.accent),
                        Cell::from(scope),
                        Cell::from(b.help),
                    ])
                })
                .collect();
            let h = rows.len() as u16 + 4;
            let r = centered(area, 90, h);
            Clear.render(r, buf);
            Table::new(
                rows,
                [
                    Constraint::Length(9),
                    Constraint::Length(9),
                    Constraint::Fill(1),
                ],
            )
            .header(Row::new(vec!["key", "view", "does"]).style(t.header))
            .block(
                Block::bordered().title(
                    " Keys · Esc or ? closes · the mouse clicks tabs and rows, scrolls lists ",
                ),
            )
            .render(r, buf);
        }
        Overlay::Picker(p) => {
            let [r, f, list] = crate::tui::layout::picker(area);
            Clear.render(r, buf);
            let visible = p.visible();
            let filter = if p.filtering {
                format!("/{}▏", p.filter)
            } else if p.filter.is_empty() {
                "/ filters: words match any column; <5 or >2 bound the on-demand $/hour".into()
            } else {
                format!("/{}", p.filter)
            };
            Block::bordered()
                .title(format!(
                    " Pick the {} · {} of {} · Enter picks · Esc ",
                    p.title,
                    visible.len(),
                    p.items.len()
                ))
                .render(r, buf);
            Line::styled(filter, if p.filtering { t.accent } else { t.unfocused }).render(f, buf);
            let (rows_area, first) = crate::tui::layout::picker_rows(area, p);
            let height = usize::from(rows_area.height);
            let rows: Vec<Row> = visible
                .iter()
                .enumerate()
                .skip(first)
                .take(height)
                .map(|(k, &i)| {
                    let row = Row::new(p.items[i].cells.clone());
                    if k == p.selected {
                        row.style(t.selected)
                    } else {
                        row
                    }
                })
                .collect();
            let widths: Vec<Constraint> = p
                .header
                .iter()
                .enumerate()
                .map(|(i, _)| {
                    if i == 0 {
                        Constraint::Length(22)
                    } else {
                        Constraint::Fill(1)
                    }
                })
                .collect();
            Table::new(rows, widths)
                .header(Row::new(p.header.clone()).style(t.header))
                .render(list, buf);
        }
        Overlay::Input(input) => {
            let r = centered(area, area.width.saturating_sub(10).max(30), 3);
            Clear.render(r, buf);
            Paragraph::new(Line::from(vec![
                Span::raw(input.text.clone()),
                Span::styled("▏", t.accent),
            ]))
            .block(
                Block::bordered().title(format!(" {} · Enter sets · Esc cancels ", input.prompt)),
            )
            .render(r, buf);
        }
        Overlay::Save { scroll } => {
            let diff = app.doc.diff(2);
            let lines: Vec<Line> = diff
                .iter()
                .map(|d| match d {
                    DiffLine::Same(l) => Line::from(format!("  {l}")),
                    DiffLine::Removed(l) => Line::styled(format!("- {l}"), t.removed),
                    DiffLine::Added(l) => Line::styled(format!("+ {l}"), t.added),
                    DiffLine::Gap(n) => {
                        Line::styled(format!("  ⋯ {n} unchanged lines"), t.unfocused)
                    }
                })
                .collect();
            let r = centered(
                area,
                area.width.saturating_sub(6).max(40),
                area.height.saturating_sub(4).max(8),
            );
            Clear.render(r, buf);
            Paragraph::new(lines)
                .scroll((*scroll as u16, 0))
                .block(Block::bordered().title(format!(
                    " Save {}? y writes it · n cancels · j k scroll ",
                    app.doc.path.display()
                )))
                .render(r, buf);
        }
        Overlay::Conflict { on_disk, save_as } => {
            let r = centered(area, 72, 9);
            Clear.render(r, buf);
            let changed = on_disk.lines().count();
            let mut lines = vec![
                Line::from(format!(
                    "{} changed on disk since it was opened ({changed} lines there now); your edits were not written.",
                    app.doc.path.display()
                )),
                Line::from(""),
            ];
            match save_as {
                None => lines.push(Line::styled(
                    "r reload it (u brings your edits back) · o overwrite it with yours · a save yours as… · Esc cancel",
                    t.accent,
                )),
                Some(p) => lines.push(Line::from(vec![
                    Span::raw("save as: "),
                    Span::raw(p.clone()),
                    Span::styled("▏", t.accent),
                    Span::styled("  Enter writes · Esc back", t.unfocused),
                ])),
            }
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(
                    Block::bordered()
                        .title(" Changed on disk ")
                        .border_style(t.warn),
                )
                .render(r, buf);
        }
        Overlay::ConfirmQuit => {
            let r = centered(area, 52, 5);
            Clear.render(r, buf);
            Paragraph::new(
                "There are unsaved edits. Quit and lose them? y quits · n stays (s saves)",
            )
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Quit? ").border_style(t.warn))
            .render(r, buf);
        }
    }
}
