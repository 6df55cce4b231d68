//! The keys, as one table: it maps key presses to actions and draws both the hint bar and the
//! `?` screen, so what the screen says is what the keys do (gitui, yazi).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::{Action, Tab};

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Global,
    /// Only on this tab.
    On(Tab),
}

/// A key: a code and whether Ctrl is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key(pub KeyCode, pub bool);

const fn k(c: char) -> Key {
    Key(KeyCode::Char(c), false)
}

const fn ctrl(c: char) -> Key {
    Key(KeyCode::Char(c), true)
}

/// One row of the keymap.
pub struct Binding {
    pub keys: &'static [Key],
    /// How the keys are written on screen.
    pub label: &'static str,
    pub scope: Scope,
    /// What the binding does, for the help screen.
    pub help: &'static str,
    /// Short form for the hint bar; `None`: only on the help screen.
    pub hint: Option<&'static str>,
    make: fn() -> Action,
}

impl Binding {
    pub fn action(&self) -> Action {
        (self.make)()
    }
}

macro_rules! bind {
    ($keys:expr, $label:expr, $scope:expr, $help:expr, $hint:expr, $make:expr) => {
        Binding {
            keys: $keys,
            label: $label,
            scope: $scope,
            help: $help,
            hint: $hint,
            make: $make,
        }
    };
}

use Scope::{Global, On};

/// Every binding. Tab-scoped ones come first so they win over global ones for the same key.
pub const KEYMAP: &[Binding] = &[
    bind!(
        &[k('+'), k('=')],
        "+ -",
        On(Tab::Fleet),
        "change the selected value by one step",
        Some("change"),
        || Action::Increase
    ),
    bind!(&[k('-'), k('_')], "", On(Tab::Fleet), "", None, || {
        Action::Decrease
    }),
    bind!(
        &[Key(KeyCode::Enter, false)],
        "Enter",
        On(Tab::Fleet),
        "edit the selected value (type, model: pick from a list)",
        Some("edit"),
        || Action::Enter
    ),
    bind!(
        &[k('m')],
        "m",
        On(Tab::Fleet),
        "next market: on-demand, spot, reserved",
        Some("market"),
        || Action::CycleMarket
    ),
    bind!(
        &[k('r')],
        "r",
        On(Tab::Frontier),
        "sweep the selected pool's replicas",
        Some("sweep"),
        || Action::Run
    ),
    bind!(
        &[Key(KeyCode::Enter, false)],
        "Enter",
        On(Tab::Frontier),
        "load the selected point into the edit",
        Some("load"),
        || Action::Enter
    ),
    bind!(
        &[k('c')],
        "c",
        On(Tab::Frontier),
        "compare the selected point with the edit",
        Some("compare"),
        || Action::Pin
    ),
    bind!(
        &[k('r')],
        "r",
        On(Tab::Optimize),
        "run the optimizer on the edited scenario",
        Some("run"),
        || Action::Run
    ),
    bind!(
        &[k('a')],
        "a",
        On(Tab::Optimize),
        "adopt the plan: its pools replace the workload's",
        Some("adopt"),
        || Action::Adopt
    ),
    bind!(
        &[k('q')],
        "q",
        Global,
        "quit (asks when there are unsaved edits)",
        Some("quit"),
        || Action::Quit
    ),
    bind!(
        &[ctrl('c')],
        "Ctrl-c",
        Global,
        "quit at once, dropping unsaved edits",
        None,
        || Action::ForceQuit
    ),
    bind!(
        &[Key(KeyCode::Esc, false)],
        "Esc",
        Global,
        "back: close the overlay or the filter",
        None,
        || Action::Back
    ),
    bind!(&[k('?')], "?", Global, "this help", Some("help"), || {
        Action::Help
    }),
    bind!(
        &[Key(KeyCode::Tab, false)],
        "Tab 1-8",
        Global,
        "next view (Shift-Tab: previous; a digit: that view)",
        Some("views"),
        || Action::NextTab
    ),
    bind!(
        &[Key(KeyCode::BackTab, false)],
        "",
        Global,
        "",
        None,
        || Action::PrevTab
    ),
    bind!(&[k('1')], "", Global, "", None, || Action::Tab(
        Tab::Overview
    )),
    bind!(&[k('2')], "", Global, "", None, || Action::Tab(Tab::Fleet)),
    bind!(&[k('3')], "", Global, "", None, || Action::Tab(
        Tab::Latency
    )),
    bind!(&[k('4')], "", Global, "", None, || Action::Tab(Tab::Cost)),
    bind!(&[k('5')], "", Global, "", None, || Action::Tab(
        Tab::Frontier
    )),
    bind!(&[k('6')], "", Global, "", None, || Action::Tab(
        Tab::Compare
    )),
    bind!(&[k('7')], "", Global, "", None, || Action::Tab(
        Tab::Optimize
    )),
    bind!(&[k('8')], "", Global, "", None, || Action::Tab(Tab::Bill)),
    bind!(
        &[k('k'), Key(KeyCode::Up, false)],
        "j k ↓ ↑",
        Global,
        "move down and up",
        Some("move"),
        || Action::Up
    ),
    bind!(
        &[k('j'), Key(KeyCode::Down, false)],
        "",
        Global,
        "",
        None,
        || Action::Down
    ),
    bind!(
        &[k('h'), Key(KeyCode::Left, false)],
        "h l ← →",
        Global,
        "move left and right (the field of a pool)",
        None,
        || Action::Left
    ),
    bind!(
        &[k('l'), Key(KeyCode::Right, false)],
        "",
        Global,
        "",
        None,
        || Action::Right
    ),
    bind!(
        &[k('g'), Key(KeyCode::Home, false)],
        "g G",
        Global,
        "first and last",
        None,
        || Action::Top
    ),
    bind!(
        &[k('G'), Key(KeyCode::End, false)],
        "",
        Global,
        "",
        None,
        || Action::Bottom
    ),
    bind!(
        &[k('/')],
        "/",
        Global,
        "filter the list (instance picker)",
        None,
        || Action::Filter
    ),
    bind!(
        &[k('u')],
        "u",
        Global,
        "undo the last edit",
        Some("undo"),
        || Action::Undo
    ),
    bind!(&[ctrl('r')], "Ctrl-r", Global, "redo", None, || {
        Action::Redo
    }),
    bind!(
        &[k(':')],
        ":",
        Global,
        "set any value by its dotted path, as --set does",
        Some("set"),
        || Action::Command
    ),
    bind!(
        &[k('s')],
        "s",
        Global,
        "save: show the diff, then write the file (y / n)",
        Some("save"),
        || Action::Save
    ),
];

/// The action of a key press on `tab`, if any. Releases and repeats' kinds other than press are
/// ignored (Windows reports both).
pub fn lookup(ev: &KeyEvent, tab: Tab) -> Option<Action> {
    if ev.kind != KeyEventKind::Press {
        return None;
    }
    let key = Key(ev.code, ev.modifiers.contains(KeyModifiers::CONTROL));
    KEYMAP
        .iter()
        .filter(|b| b.scope == Global || b.scope == On(tab))
        .find(|b| b.keys.contains(&key))
        .map(Binding::action)
}

/// The bindings shown in the hint bar on `tab`: the tab's own first.
pub fn hints(tab: Tab) -> impl Iterator<Item = &'static Binding> {
    let own = KEYMAP.iter().filter(move |b| b.scope == On(tab));
    let global = KEYMAP.iter().filter(|b| b.scope == Global);
    own.chain(global).filter(|b| b.hint.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(c: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    #[test]
    fn tab_keys_win_over_global_ones() {
        let enter = press(KeyCode::Enter, KeyModifiers::NONE);
        assert!(matches!(lookup(&enter, Tab::Fleet), Some(Action::Enter)));
        assert!(lookup(&enter, Tab::Overview).is_none());
        let r = press(KeyCode::Char('r'), KeyModifiers::NONE);
        assert!(matches!(lookup(&r, Tab::Optimize), Some(Action::Run)));
        assert!(lookup(&r, Tab::Overview).is_none());
        let cr = press(KeyCode::Char('r'), KeyModifiers::CONTROL);
        assert!(matches!(lookup(&cr, Tab::Optimize), Some(Action::Redo)));
        let cc = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert!(matches!(
            lookup(&cc, Tab::Frontier),
            Some(Action::ForceQuit)
        ));
    }

    #[test]
    fn every_key_appears_once_per_scope() {
        for (i, a) in KEYMAP.iter().enumerate() {
            for b in &KEYMAP[i + 1..] {
                if a.scope == b.scope {
                    for key in a.keys {
                        assert!(!b.keys.contains(key), "{key:?} bound twice");
                    }
                }
            }
        }
    }

    #[test]
    fn a_release_is_not_a_press() {
        let mut ev = press(KeyCode::Char('q'), KeyModifiers::NONE);
        ev.kind = KeyEventKind::Release;
        assert!(lookup(&ev, Tab::Overview).is_none());
    }
}
