//! The overlays that edit a value: a line of input (`:` path=value, or a field's value) and the
//! picker of instances or models. Each gives back the overlay to keep open, if any, and what
//! the app should do.

use toml_edit::DocumentMut;

use super::{Input, Overlay, Reply};
use crate::scenario::Scenario;
use crate::tui::action::Action;
use crate::tui::picker::{Picker, Target};
use crate::tui::worker::quote_key;

/// A key of a line of input: the line stays open (`Some`) unless it was sent or cancelled.
pub fn on_input(mut input: Input, action: Action) -> (Option<Input>, Reply) {
    match action {
        Action::Back => return (None, Reply::Info("cancelled".into())),
        Action::Enter => {
            let (path, value) = match &input.path {
                Some(p) => (p.clone(), input.text.trim().to_string()),
                None => match input.text.split_once('=') {
                    Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
                    None => {
                        return (
                            Some(input),
                            Reply::Error("write path=value, e.g. pools.gpu.replicas=4".into()),
                        );
                    }
                },
            };
            // Kept open by the app if the edit is refused, to correct it.
            return (
                Some(input),
                Reply::Edit {
                    label: format!("{path} = {value}"),
                    sets: vec![(path, value)],
                },
            );
        }
        Action::Backspace => {
            input.text.pop();
        }
        Action::Char(c) => input.text.push(c),
        _ => {}
    }
    (Some(input), Reply::None)
}

/// A key in the picker: it stays open (`Some`) until an item is picked or it is closed.
pub fn on_picker(
    mut picker: Picker,
    action: Action,
    s: &Scenario,
    text: &str,
) -> (Option<Picker>, Reply) {
    if picker.filtering {
        match action {
            Action::Back => picker.filtering = false,
            Action::Enter => {
                picker.filtering = false;
                return on_picker(picker, Action::Enter, s, text);
            }
            Action::Backspace => {
                let mut f = picker.filter.clone();
                f.pop();
                picker.set_filter(f);
            }
            Action::Char(c) => {
                let f = format!("{}{c}", picker.filter);
                picker.set_filter(f);
            }
            Action::Up | Action::ScrollUp => picker.step(-1),
            Action::Down | Action::ScrollDown => picker.step(1),
            _ => {}
        }
        return (Some(picker), Reply::None);
    }
    match action {
        Action::Back | Action::Quit => {
            if picker.filter.is_empty() {
                return (None, Reply::Info("nothing changed".into()));
            }
            picker.set_filter(String::new());
        }
        Action::Filter => picker.filtering = true,
        Action::Up | Action::ScrollUp => picker.step(-1),
        Action::Down | Action::ScrollDown => picker.step(1),
        Action::Top => picker.step(-1_000_000),
        Action::Bottom => picker.step(1_000_000),
        Action::ClickRow(i) => {
            picker.selected = 0;
            picker.step(i as isize);
        }
        Action::Enter => {
            let Some(item) = picker.chosen().cloned() else {
                return (
                    Some(picker),
                    Reply::Error("nothing matches the filter".into()),
                );
            };
            let mut sets = item.sets.clone();
            if let Target::Instance { pool } = picker.target {
                // A pool that names its cloud follows the instance's.
                let name = &s.pools()[pool].name;
                let has_cloud = text
                    .parse::<DocumentMut>()
                    .ok()
                    .and_then(|d| d.get("pools")?.get(name)?.get("cloud").map(|_| ()))
                    .is_some();
                if has_cloud {
                    let cloud = &item.cells[2];
                    sets.push((
                        format!("pools.{}.cloud", quote_key(name)),
                        toml_edit::Value::from(cloud.as_str()).to_string(),
                    ));
                }
            }
            let label = format!("{} = {}", sets[0].0, sets[0].1.trim_matches('"'));
            return (None, Reply::Edit { label, sets });
        }
        _ => {}
    }
    (Some(picker), Reply::None)
}

/// The overlay to show again, from what [`on_input`] or [`on_picker`] kept open.
pub fn reopen<T>(kept: Option<T>, wrap: fn(T) -> Overlay) -> Overlay {
    kept.map_or(Overlay::None, wrap)
}
