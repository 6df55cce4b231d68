//! The Fleet tab: the pools as rows, their editable fields as columns; a field changes by a
//! step, in a line of input, or from a picker.

use super::{Input, Overlay, Reply};
use crate::pricing::Catalog;
use crate::scenario::Scenario;
use crate::tui::action::Action;
use crate::tui::fields::{self, Field};
use crate::tui::picker::Picker;
use crate::tui::worker::quote_key;

/// The Fleet tab's state.
#[derive(Debug, Default)]
pub struct Fleet {
    /// The selected pool.
    pub row: usize,
    /// The selected field, an index into [`Field::ALL`].
    pub col: usize,
    /// Every pool's fields, found in the text once per change.
    pub fields: Vec<Vec<Option<fields::Located>>>,
}

impl Fleet {
    /// The selected field.
    pub fn field(&self) -> Field {
        Field::ALL[self.col.min(Field::ALL.len() - 1)]
    }

    /// The fields that some pool has (a fleet with no autoscaling shows no bounds).
    pub fn columns(&self) -> Vec<usize> {
        (0..Field::ALL.len())
            .filter(|&i| {
                self.fields
                    .iter()
                    .any(|r| r.get(i).is_some_and(Option::is_some))
            })
            .collect()
    }

    /// Re-reads the fields after the text changed; keeps the selection where it still is.
    pub fn refresh(&mut self, text: &str, scenario: &Scenario) {
        self.fields = fields::table(text, scenario);
        self.row = self.row.min(scenario.pools().len().saturating_sub(1));
        let cols = self.columns();
        if !cols.contains(&self.col) {
            self.col = cols
                .iter()
                .copied()
                .find(|&c| c > self.col)
                .or(cols.last().copied())
                .unwrap_or(0);
        }
    }

    /// The selected field of pool `p`, as found in the text at the last change.
    fn located(&self, p: usize) -> Option<fields::Located> {
        self.fields.get(p)?.get(self.col)?.clone()
    }

    /// Selects pool `i` (clamped).
    pub fn select(&mut self, i: usize, pools: usize) {
        self.row = i.min(pools.saturating_sub(1));
    }

    /// What `action` does on the Fleet tab.
    pub fn update(
        &mut self,
        action: &Action,
        s: &Scenario,
        text: &str,
        catalog: &Catalog,
    ) -> Reply {
        match action {
            Action::Left => {
                if let Some(&c) = self.columns().iter().rev().find(|&&c| c < self.col) {
                    self.col = c;
                }
                Reply::None
            }
            Action::Right => {
                if let Some(&c) = self.columns().iter().find(|&&c| c > self.col) {
                    self.col = c;
                }
                Reply::None
            }
            Action::Increase => self.step(true, s, text, catalog),
            Action::Decrease => self.step(false, s, text, catalog),
            Action::CycleMarket => {
                self.col = Field::ALL
                    .iter()
                    .position(|f| *f == Field::Market)
                    .expect("market is a field");
                self.step(true, s, text, catalog)
            }
            Action::Enter => self.open(s, text, catalog),
            _ => Reply::None,
        }
    }

    /// The selected field one step up or down.
    fn step(&mut self, up: bool, s: &Scenario, text: &str, catalog: &Catalog) -> Reply {
        if s.pools().is_empty() {
            return Reply::None;
        }
        let field = self.field();
        let pool = &s.pools()[self.row].name;
        let Some(at) = self.located(self.row) else {
            return Reply::Error(format!("pool {pool} has no {} to change", field.title()));
        };
        let current = at.value.or(at.default).unwrap_or_default();
        match fields::step(field, &current, up) {
            Some(next) => {
                let label = format!("{} = {}", at.path, next.trim_matches('"'));
                let value = if field == Field::Market {
                    toml_edit::Value::from(next.as_str()).to_string()
                } else {
                    next
                };
                Reply::Edit {
                    label,
                    sets: vec![(at.path, value)],
                }
            }
            None if matches!(field, Field::Instance | Field::Model) => self.open(s, text, catalog),
            None => Reply::Error(format!(
                "{} cannot go {}",
                field.title(),
                if up { "up" } else { "down" }
            )),
        }
    }

    /// Enter on a field: its picker, or a line to type its value in.
    fn open(&self, s: &Scenario, text: &str, catalog: &Catalog) -> Reply {
        if s.pools().is_empty() {
            return Reply::None;
        }
        let p = self.row;
        let field = self.field();
        let Some(at) = self.located(p) else {
            return Reply::Error(format!(
                "pool {} has no {}; set it with :",
                s.pools()[p].name,
                field.title()
            ));
        };
        Reply::Overlay(match field {
            Field::Instance => {
                let key = format!("pools.{}", quote_key(&s.pools()[p].name));
                Overlay::Picker(Picker::instances(
                    p,
                    &key,
                    catalog.rows(),
                    &s.pools()[p].instance,
                ))
            }
            Field::Model => {
                let models = fields::models(text);
                let current = at.value.clone().unwrap_or_default();
                Overlay::Picker(Picker::models(at.path.clone(), &models, &current))
            }
            _ => Overlay::Input(Input {
                prompt: at.path.clone(),
                text: at.value.or(at.default).unwrap_or_default(),
                path: Some(at.path),
            }),
        })
    }
}
