//! Where things go on screen, as pure functions of the app's state and the terminal's size.
//!
//! The views draw into these rectangles and the mouse is mapped through the same ones
//! ([`hit`]), so a click lands on what the frame showed without the views recording anything:
//! state flows one way, app → layout → view.

use ratatui::layout::{Constraint, Flex, Layout, Position, Rect};

use super::action::{Action, Tab};
use super::app::{App, Overlay};
use super::picker::Picker;

/// Below this the views do not fit; a message says so.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;
/// Width of the Frontier's list of points.
const FRONTIER_LIST_WIDTH: u16 = 46;
/// Height of the Fleet's description of the selected pool.
const FLEET_DETAIL_HEIGHT: u16 = 5;

/// The lines of a frame, top to bottom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub title: Rect,
    pub tabs: Rect,
    pub body: Rect,
    pub status: Rect,
    pub hints: Rect,
}

/// The frame in `area`, or `None` when the terminal is too small for the views.
pub fn frame(area: Rect) -> Option<Frame> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let [title, tabs, body, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    Some(Frame {
        title,
        tabs,
        body,
        status,
        hints,
    })
}

/// Each tab's label and where it goes on the tab bar `area`: the current tab's title, then the
/// others' in order while they fit; the rest by number. Tabs past the right edge are left out.
pub fn tabs(current: Tab, area: Rect) -> Vec<(Tab, Rect, String)> {
    let label = |tab: Tab, full: bool| {
        if full {
            format!(" {} {} ", tab.index() + 1, tab.title())
        } else {
            format!(" {} ", tab.index() + 1)
        }
    };
    let width = |tab: Tab, full: bool| label(tab, full).chars().count() as u16 + 1;
    let mut used: u16 = Tab::ALL.iter().map(|&tab| width(tab, tab == current)).sum();
    let mut full = [false; Tab::ALL.len()];
    full[current.index()] = true;
    for tab in Tab::ALL {
        let more = width(tab, true) - width(tab, false);
        if !full[tab.index()] && used + more < area.width {
            full[tab.index()] = true;
            used += more;
        }
    }
    let mut out = Vec::new();
    let mut x = area.x + 1;
    for tab in Tab::ALL {
        let text = label(tab, full[tab.index()]);
        let w = text.chars().count() as u16;
        if x + w > area.right() {
            break;
        }
        out.push((tab, Rect::new(x, area.y, w, 1), text));
        x += w + 1;
    }
    out
}

/// Fleet: the pools' table, and the selected pool described below it.
pub fn fleet(body: Rect) -> [Rect; 2] {
    Layout::vertical([Constraint::Fill(1), Constraint::Length(FLEET_DETAIL_HEIGHT)]).areas(body)
}

/// Frontier: the chart, and the list of points at its right.
pub fn frontier(body: Rect) -> [Rect; 2] {
    Layout::horizontal([Constraint::Fill(1), Constraint::Length(FRONTIER_LIST_WIDTH)]).areas(body)
}

/// A `w` × `h` box in the middle of `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(r);
    r
}

/// The picker overlay over the whole `area`: its box, its filter line, and its list (a header
/// row, then items).
pub fn picker(area: Rect) -> [Rect; 3] {
    let r = centered(
        area,
        area.width.saturating_sub(8).max(40),
        area.height.saturating_sub(4).max(8),
    );
    let inner = Rect::new(
        r.x + 1,
        r.y + 1,
        r.width.saturating_sub(2),
        r.height.saturating_sub(2),
    );
    let [filter, list] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(inner);
    [r, filter, list]
}

/// The first item a list of `rows` visible rows shows so that `selected` is in view, scrolled
/// no further than needed (ratatui's rule for a table drawn with a fresh state).
pub fn first_shown(selected: usize, rows: u16) -> usize {
    selected.saturating_sub(usize::from(rows).saturating_sub(1))
}

/// The rows of a bordered table with a one-line header drawn in `table`.
pub fn table_rows(table: Rect) -> Rect {
    Rect::new(
        table.x + 1,
        table.y + 2,
        table.width.saturating_sub(2),
        table.height.saturating_sub(3),
    )
}

/// The picker's items: the list under its header, and the first item shown.
pub fn picker_rows(area: Rect, p: &Picker) -> (Rect, usize) {
    let [_, _, list] = picker(area);
    let rows = Rect::new(
        list.x,
        list.y + 1,
        list.width,
        list.height.saturating_sub(1),
    );
    (rows, first_shown(p.selected, rows.height))
}

/// What a left click at `at` does in a frame of `area`: pick a tab, or a row of the list the
/// view (or the picker) shows.
pub fn hit(app: &App, area: Rect, at: Position) -> Option<Action> {
    let f = frame(area)?;
    let row = |rows: Rect, first: usize| {
        rows.contains(at)
            .then(|| Action::ClickRow(first + usize::from(at.y - rows.y)))
    };
    if let Overlay::Picker(p) = &app.overlay {
        let (rows, first) = picker_rows(area, p);
        return row(rows, first);
    }
    if let Some((tab, ..)) = tabs(app.tab, f.tabs)
        .into_iter()
        .find(|(_, r, _)| r.contains(at))
    {
        return Some(Action::ClickTab(tab));
    }
    if app.overlay != Overlay::None {
        return None;
    }
    match app.tab {
        Tab::Fleet => {
            let rows = table_rows(fleet(f.body)[0]);
            row(rows, first_shown(app.fleet.row, rows.height))
        }
        Tab::Frontier if !app.frontier.rows.is_empty() => {
            let rows = table_rows(frontier(f.body)[1]);
            row(rows, first_shown(app.frontier.selected, rows.height))
        }
        _ => None,
    }
}
