//! What the user (or a lane) asks the app to do; `App::update` is the only place state changes.

use super::worker::Report;

/// The views, in tab order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tab {
    Overview,
    Fleet,
    Latency,
    Cost,
    Frontier,
    Compare,
    Optimize,
    Bill,
}

impl Tab {
    pub const ALL: [Tab; 8] = [
        Tab::Overview,
        Tab::Fleet,
        Tab::Latency,
        Tab::Cost,
        Tab::Frontier,
        Tab::Compare,
        Tab::Optimize,
        Tab::Bill,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Fleet => "Fleet",
            Tab::Latency => "Latency",
            Tab::Cost => "Cost",
            Tab::Frontier => "Frontier",
            Tab::Compare => "Compare",
            Tab::Optimize => "Optimize",
            Tab::Bill => "Bill",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Something to do.
#[derive(Debug)]
pub enum Action {
    /// `q`: quit, asking first when there are unsaved edits.
    Quit,
    /// Ctrl-c: quit now, unsaved edits or not.
    ForceQuit,
    /// Esc: close the overlay, clear the filter.
    Back,
    Help,
    NextTab,
    PrevTab,
    Tab(Tab),
    Up,
    Down,
    Left,
    Right,
    Top,
    Bottom,
    /// Enter: edit the field, pick the item, load the point.
    Enter,
    /// `/`: filter the list.
    Filter,
    Increase,
    Decrease,
    /// `m`: next market.
    CycleMarket,
    Undo,
    Redo,
    /// `s`: show the diff, then write the file.
    Save,
    /// `y` in a question.
    Yes,
    /// `n` in a question.
    No,
    /// `:`: set any value by its dotted path, as `--set` does.
    Command,
    /// `r`: run (the sweep, the optimizer).
    Run,
    /// `a`: adopt the optimizer's plan.
    Adopt,
    /// `c`: compare the selected frontier point against the edit.
    Pin,
    /// A character typed into an input line.
    Char(char),
    Backspace,
    /// Mouse: a click on a tab or a row of the focused list.
    ClickTab(Tab),
    ClickRow(usize),
    ScrollUp,
    ScrollDown,
    /// The terminal changed size (a redraw follows every action anyway).
    Resize,
    /// A lane reported.
    Worker(Report),
    /// The run loop wrote revision `revision` of the document (its text `text`) to `path`, or
    /// could not.
    Saved {
        path: std::path::PathBuf,
        revision: u64,
        text: String,
        result: Result<(), String>,
    },
    /// The run loop did not write: the file changed on disk since it was loaded or saved, and
    /// now holds `on_disk`.
    SaveConflict {
        on_disk: String,
    },
}
