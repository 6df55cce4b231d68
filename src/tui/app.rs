//! The app's state and `update`, the one place it changes (Elm-style: the views only read it,
//! the run loop only performs the effects `update` returns).

use std::path::PathBuf;
use std::sync::Arc;

use toml_edit::DocumentMut;

use super::action::{Action, Tab};
use super::document::Document;
use super::fields::{self, Field};
use super::picker::{Picker, Target};
use super::theme::Theme;
use super::view::HitMap;
use super::worker::{Report, Simulated, Span, Task, quote_key};
use crate::experiment::Metric;
use crate::experiment::{Progress, Summary};
use crate::optimize::plan::Outcome;
use crate::pricing::Catalog;
use crate::scenario::Scenario;
use crate::sweep::Row;

/// Something for the run loop to do.
#[derive(Debug)]
pub enum Effect {
    /// Simulate this revision of the document.
    Simulate {
        revision: u64,
        scenario: Box<Scenario>,
        replications: u32,
    },
    Task(Task),
}

/// A window over the views.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    None,
    Help,
    Picker(Picker),
    /// A line of input: `:` (path=value) or a value for a field.
    Input(Input),
    /// The diff of what `s` would write; `y` writes.
    Save {
        scroll: usize,
    },
    /// Quit with unsaved edits? `y` quits, `n` stays.
    ConfirmQuit,
}

/// A line being typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    pub prompt: String,
    pub text: String,
    /// The dotted path the value goes to; `None`: the text is `path=value`.
    pub path: Option<String>,
}

/// A message on the status line.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

/// The simulation in progress.
#[derive(Clone, Debug)]
pub struct Running {
    pub revision: u64,
    pub span: Span,
    pub progress: Arc<Progress>,
}

/// Headline figures of a configuration, for Compare.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub label: String,
    pub cost_per_hour: f64,
    pub cost_per_1k: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub attainment: f64,
    pub utilization: f64,
    pub failed: f64,
    pub idle_cost_per_hour: f64,
    pub replicas: f64,
    pub slo_met: Option<bool>,
}

impl Snapshot {
    pub fn of_summary(label: &str, scenario: &Scenario, s: &Summary) -> Snapshot {
        let t = &s.total;
        let hours = scenario.window().as_secs_f64() / 3600.0;
        let m = |x: Metric| t.get(x).mean;
        Snapshot {
            label: label.to_string(),
            cost_per_hour: m(Metric::CostPerHour),
            cost_per_1k: m(Metric::CostPer1k),
            p50_ms: m(Metric::LatencyP50),
            p99_ms: m(Metric::LatencyP99),
            p999_ms: m(Metric::LatencyP999),
            attainment: m(Metric::SloAttainment),
            utilization: m(Metric::Utilization),
            failed: m(Metric::Dropped) + m(Metric::TimedOut),
            idle_cost_per_hour: m(Metric::CostIdle) / hours.max(1e-9),
            replicas: s.pools.iter().map(|p| p.replicas_mean).sum(),
            slo_met: t.slo_met,
        }
    }

    pub fn of_row(label: &str, r: &Row) -> Snapshot {
        Snapshot {
            label: label.to_string(),
            cost_per_hour: r.cost_per_hour,
            cost_per_1k: r.cost_per_1k,
            p50_ms: r.p50_ms,
            p99_ms: r.p99_ms,
            p999_ms: r.p999_ms,
            attainment: r.slo_attainment,
            utilization: r.utilization,
            failed: r.failed,
            idle_cost_per_hour: f64::NAN,
            replicas: f64::NAN,
            slo_met: r.slo_met,
        }
    }
}

/// The Frontier view's sweep.
#[derive(Debug, Default)]
pub struct Frontier {
    /// The pool swept and the rows, in replica order.
    pub pool: String,
    pub rows: Vec<Row>,
    pub selected: usize,
    pub running: bool,
    pub error: Option<String>,
}

impl Frontier {
    /// The replica count of row `i`.
    pub fn replicas(&self, i: usize) -> Option<u32> {
        self.rows.get(i)?.values.first()?.parse().ok()
    }
}

/// The Optimize view's run.
#[derive(Debug, Default)]
pub struct Optimizing {
    pub running: bool,
    /// The document revision the run was of.
    pub revision: u64,
    pub log: Vec<String>,
    pub outcome: Option<Box<Outcome>>,
    pub error: Option<String>,
    pub scroll: usize,
    /// Lines of the report, to bound the scroll.
    pub lines: usize,
}

/// Everything on screen.
pub struct App {
    pub doc: Document,
    /// The scenario of the document's text (every kept edit loads).
    pub scenario: Scenario,
    pub catalog: Catalog,
    pub tab: Tab,
    pub overlay: Overlay,
    pub status: Option<Status>,
    pub replications: u32,
    /// The newest result, whatever revision it is of.
    pub result: Option<Simulated>,
    pub running: Option<Running>,
    /// The full result of the text on disk, for Compare, and the revision that text is.
    pub saved_result: Option<Simulated>,
    pub saved_revision: u64,
    /// A frontier point pinned for Compare in place of the saved file.
    pub pinned: Option<Snapshot>,
    /// Fleet selection: pool row and field column.
    pub row: usize,
    pub col: usize,
    /// The workload the Latency and Cost views show (`None`: all).
    pub workload: Option<usize>,
    pub frontier: Frontier,
    pub optimizing: Optimizing,
    /// First line shown in the Bill tab.
    pub bill_scroll: usize,
    pub cache: Option<PathBuf>,
    pub quit: bool,
    pub theme: Theme,
    /// Where the last frame put tabs and lists, for the mouse.
    pub hits: HitMap,
    /// The Fleet table's fields, found in the text once per change.
    pub fields: Vec<Vec<Option<fields::Located>>>,
}

impl App {
    /// The app on `doc` (whose text is `scenario`); returns the first simulation to run.
    pub fn new(doc: Document, scenario: Scenario, replications: u32) -> (App, Vec<Effect>) {
        let catalog = catalog_of(&doc, &scenario);
        // A scenario that only trains opens where its results are.
        let tab = if scenario.workloads.is_empty() {
            Tab::Bill
        } else {
            Tab::Overview
        };
        let app = App {
            doc,
            scenario,
            catalog,
            tab,
            overlay: Overlay::None,
            status: None,
            replications,
            result: None,
            running: None,
            saved_result: None,
            saved_revision: 0,
            pinned: None,
            row: 0,
            col: 0,
            workload: None,
            frontier: Frontier::default(),
            optimizing: Optimizing::default(),
            bill_scroll: 0,
            cache: crate::optimize::capacity::default_cache_dir(),
            quit: false,
            theme: Theme::from_env(),
            hits: HitMap::default(),
            fields: Vec::new(),
        };
        let mut app = app;
        app.refresh();
        let first = app.simulate();
        (app, vec![first])
    }

    /// Whether the shown results are of an older text than the one edited (drawn dimmed).
    pub fn stale(&self) -> bool {
        self.result
            .as_ref()
            .is_none_or(|r| r.revision != self.doc.revision() || r.span != Span::Full)
    }

    /// The Fleet view's selected field.
    pub fn field(&self) -> Field {
        Field::ALL[self.col.min(Field::ALL.len() - 1)]
    }

    fn simulate(&self) -> Effect {
        Effect::Simulate {
            revision: self.doc.revision(),
            scenario: Box::new(self.scenario.clone()),
            replications: self.replications,
        }
    }

    /// Re-reads what depends on the text after it changed.
    fn refresh(&mut self) {
        self.fields = fields::table(self.doc.text(), &self.scenario);
        self.row = self.row.min(self.scenario.pools.len().saturating_sub(1));
        self.workload = self.workload.filter(|&w| w < self.scenario.workloads.len());
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

    /// The Fleet fields that some pool has (a fleet with no autoscaling shows no bounds).
    pub fn columns(&self) -> Vec<usize> {
        (0..Field::ALL.len())
            .filter(|&i| {
                self.fields
                    .iter()
                    .any(|r| r.get(i).is_some_and(Option::is_some))
            })
            .collect()
    }

    fn info(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
        });
    }

    fn error(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: true,
        });
    }

    /// Applies one action; returns what the run loop must do.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        if let Action::Worker(report) = action {
            return self.on_report(report);
        }
        if matches!(action, Action::ForceQuit) {
            self.quit = true;
            return Vec::new();
        }
        if matches!(action, Action::Resize) {
            return Vec::new();
        }
        match std::mem::replace(&mut self.overlay, Overlay::None) {
            Overlay::None => self.on_view(action),
            Overlay::Help => {
                if !matches!(action, Action::Back | Action::Help | Action::Quit) {
                    self.overlay = Overlay::Help;
                }
                Vec::new()
            }
            Overlay::ConfirmQuit => {
                match action {
                    Action::Yes => self.quit = true,
                    Action::No | Action::Back => self.info("not quitting; s saves"),
                    _ => self.overlay = Overlay::ConfirmQuit,
                }
                Vec::new()
            }
            Overlay::Save { scroll } => {
                match action {
                    Action::Yes => self.save(),
                    Action::No | Action::Back | Action::Quit => self.info("not saved"),
                    Action::Down | Action::ScrollDown => {
                        let last = self.doc.diff(2).len().saturating_sub(1);
                        self.overlay = Overlay::Save {
                            scroll: (scroll + 1).min(last),
                        }
                    }
                    Action::Up | Action::ScrollUp => {
                        self.overlay = Overlay::Save {
                            scroll: scroll.saturating_sub(1),
                        }
                    }
                    _ => self.overlay = Overlay::Save { scroll },
                }
                Vec::new()
            }
            Overlay::Input(input) => self.on_input(input, action),
            Overlay::Picker(picker) => self.on_picker(picker, action),
        }
    }

    fn on_view(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Quit => {
                if self.doc.dirty() {
                    self.overlay = Overlay::ConfirmQuit;
                } else {
                    self.quit = true;
                }
            }
            Action::Back => {
                if self.tab == Tab::Compare && self.pinned.take().is_some() {
                    self.info("Compare shows the saved file again");
                } else {
                    self.status = None;
                }
            }
            Action::Help => self.overlay = Overlay::Help,
            Action::NextTab => self.tab = Tab::ALL[(self.tab.index() + 1) % Tab::ALL.len()],
            Action::PrevTab => {
                self.tab = Tab::ALL[(self.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
            }
            Action::Tab(t) | Action::ClickTab(t) => self.tab = t,
            Action::Up | Action::ScrollUp => self.move_by(-1),
            Action::Down | Action::ScrollDown => self.move_by(1),
            Action::Top => self.move_by(-1_000_000),
            Action::Bottom => self.move_by(1_000_000),
            Action::Left => {
                if let Some(&c) = self.columns().iter().rev().find(|&&c| c < self.col) {
                    self.col = c;
                }
            }
            Action::Right => {
                if let Some(&c) = self.columns().iter().find(|&&c| c > self.col) {
                    self.col = c;
                }
            }
            Action::ClickRow(i) => self.select(i),
            Action::Increase => return self.step_field(true),
            Action::Decrease => return self.step_field(false),
            Action::CycleMarket => {
                self.col = Field::ALL
                    .iter()
                    .position(|f| *f == Field::Market)
                    .expect("market is a field");
                return self.step_field(true);
            }
            Action::Enter => return self.enter(),
            Action::Undo => {
                return match self.doc.undo() {
                    Some(label) => self.after_history(format!("undid {label}")),
                    None => {
                        self.info("nothing to undo");
                        Vec::new()
                    }
                };
            }
            Action::Redo => {
                return match self.doc.redo() {
                    Some(label) => self.after_history(format!("redid {label}")),
                    None => {
                        self.info("nothing to redo");
                        Vec::new()
                    }
                };
            }
            Action::Save => {
                if self.doc.dirty() {
                    self.overlay = Overlay::Save { scroll: 0 };
                } else {
                    self.info("no changes to save");
                }
            }
            Action::Command => {
                self.overlay = Overlay::Input(Input {
                    prompt: "set (path=value)".into(),
                    text: String::new(),
                    path: None,
                });
            }
            Action::Run => return self.run_task(),
            Action::Adopt => return self.adopt(),
            Action::Pin => self.pin(),
            Action::Filter => {
                self.info("/ filters the instance picker: Enter on a pool's instance")
            }
            Action::Yes | Action::No | Action::Char(_) | Action::Backspace => {}
            Action::Worker(_) | Action::ForceQuit | Action::Resize => unreachable!("handled"),
        }
        Vec::new()
    }

    /// The length of the list the current tab moves through.
    fn list_len(&self) -> usize {
        match self.tab {
            Tab::Fleet => self.scenario.pools.len(),
            Tab::Frontier => self.frontier.rows.len(),
            Tab::Latency | Tab::Cost => self.scenario.workloads.len() + 1,
            Tab::Optimize => self.optimizing.lines.max(1),
            Tab::Bill => self.bill_text().map_or(0, |t| t.lines().count()),
            _ => 0,
        }
    }

    /// The latest run's training and bill sections, as the CLI's table prints them.
    pub fn bill_text(&self) -> Option<String> {
        let r = self.result.as_ref()?;
        let (t, b) = (r.outcome.training.as_ref(), r.outcome.bill.as_ref());
        (t.is_some() || b.is_some())
            .then(|| crate::report::table::training_and_bill(&r.scenario, t, b))
    }

    fn move_by(&mut self, by: isize) {
        let n = self.list_len();
        if n == 0 {
            return;
        }
        let cur = match self.tab {
            Tab::Fleet => self.row,
            Tab::Frontier => self.frontier.selected,
            Tab::Latency | Tab::Cost => self.workload.map_or(0, |w| w + 1),
            Tab::Optimize => self.optimizing.scroll,
            Tab::Bill => self.bill_scroll,
            _ => 0,
        };
        let next = (cur as i128 + by as i128).clamp(0, n as i128 - 1) as usize;
        self.select(next);
    }

    fn select(&mut self, i: usize) {
        match self.tab {
            Tab::Fleet => self.row = i.min(self.scenario.pools.len().saturating_sub(1)),
            Tab::Frontier => {
                self.frontier.selected = i.min(self.frontier.rows.len().saturating_sub(1))
            }
            Tab::Latency | Tab::Cost => {
                let i = i.min(self.scenario.workloads.len());
                self.workload = i.checked_sub(1);
            }
            Tab::Optimize => {
                self.optimizing.scroll = i.min(self.optimizing.lines.saturating_sub(1))
            }
            Tab::Bill => self.bill_scroll = i,
            _ => {}
        }
    }

    /// Sets values (one edit, undone as one) and re-simulates.
    fn edit(&mut self, label: String, sets: &[(String, String)]) -> Vec<Effect> {
        let mut text = self.doc.text().to_string();
        for (path, value) in sets {
            match super::document::set_value(&text, path, value) {
                Ok(t) => text = t,
                Err(e) => {
                    self.error(format!("{path}: {e}"));
                    return Vec::new();
                }
            }
        }
        let revision = self.doc.revision();
        match self.doc.replace(label.clone(), text) {
            Ok(_) if self.doc.revision() == revision => {
                self.info("no change");
                Vec::new()
            }
            Ok(s) => {
                self.scenario = s;
                self.refresh();
                self.info(label);
                self.row = self.row.min(self.scenario.pools.len().saturating_sub(1));
                vec![self.simulate()]
            }
            Err(e) => {
                self.error(first_line(&e.to_string()));
                Vec::new()
            }
        }
    }

    fn after_history(&mut self, message: String) -> Vec<Effect> {
        match self.doc.load(self.doc.text()) {
            Ok(s) => {
                self.scenario = s;
                self.refresh();
                self.info(message);
                vec![self.simulate()]
            }
            Err(e) => {
                self.error(first_line(&e.to_string()));
                Vec::new()
            }
        }
    }

    fn step_field(&mut self, up: bool) -> Vec<Effect> {
        if self.tab != Tab::Fleet || self.scenario.pools.is_empty() {
            return Vec::new();
        }
        let field = self.field();
        let pool = self.scenario.pools[self.row].name.clone();
        let Some(at) = self.located(self.row) else {
            self.error(format!("pool {pool} has no {} to change", field.title()));
            return Vec::new();
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
                self.edit(label, &[(at.path, value)])
            }
            None if matches!(field, Field::Instance | Field::Model) => self.enter(),
            None => {
                self.error(format!(
                    "{} cannot go {}",
                    field.title(),
                    if up { "up" } else { "down" }
                ));
                Vec::new()
            }
        }
    }

    fn enter(&mut self) -> Vec<Effect> {
        match self.tab {
            Tab::Fleet if !self.scenario.pools.is_empty() => {
                let field = self.field();
                let p = self.row;
                let Some(at) = self.located(p) else {
                    self.error(format!(
                        "pool {} has no {}; set it with :",
                        self.scenario.pools[p].name,
                        field.title()
                    ));
                    return Vec::new();
                };
                match field {
                    Field::Instance => {
                        let key = format!("pools.{}", quote_key(&self.scenario.pools[p].name));
                        self.overlay = Overlay::Picker(Picker::instances(
                            p,
                            &key,
                            self.catalog.rows(),
                            &self.scenario.pools[p].instance,
                        ));
                    }
                    Field::Model => {
                        let models = models_of(self.doc.text());
                        let current = at.value.clone().unwrap_or_default();
                        self.overlay =
                            Overlay::Picker(Picker::models(at.path.clone(), &models, &current));
                    }
                    _ => {
                        self.overlay = Overlay::Input(Input {
                            prompt: at.path.clone(),
                            text: at.value.or(at.default).unwrap_or_default(),
                            path: Some(at.path),
                        });
                    }
                }
                Vec::new()
            }
            Tab::Frontier => {
                let i = self.frontier.selected;
                match self.frontier.replicas(i) {
                    Some(n) => {
                        let path = format!("pools.{}.replicas", quote_key(&self.frontier.pool));
                        self.edit(format!("{path} = {n}"), &[(path.clone(), n.to_string())])
                    }
                    None => {
                        self.info("no point selected; r sweeps");
                        Vec::new()
                    }
                }
            }
            _ => Vec::new(),
        }
    }

    fn on_input(&mut self, mut input: Input, action: Action) -> Vec<Effect> {
        match action {
            Action::Back => {
                self.info("cancelled");
                return Vec::new();
            }
            Action::Enter => {
                let (path, value) = match &input.path {
                    Some(p) => (p.clone(), input.text.trim().to_string()),
                    None => match input.text.split_once('=') {
                        Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
                        None => {
                            self.error("write path=value, e.g. pools.gpu.replicas=4");
                            self.overlay = Overlay::Input(input);
                            return Vec::new();
                        }
                    },
                };
                let effects = self.edit(format!("{path} = {value}"), &[(path.clone(), value)]);
                if self.status.as_ref().is_some_and(|s| s.error) {
                    // Refused: keep what was typed, to correct it.
                    self.overlay = Overlay::Input(input);
                }
                return effects;
            }
            Action::Backspace => {
                input.text.pop();
            }
            Action::Char(c) => input.text.push(c),
            _ => {}
        }
        self.overlay = Overlay::Input(input);
        Vec::new()
    }

    fn on_picker(&mut self, mut picker: Picker, action: Action) -> Vec<Effect> {
        if picker.filtering {
            match action {
                Action::Back => picker.filtering = false,
                Action::Enter => {
                    picker.filtering = false;
                    return self.on_picker(picker, Action::Enter);
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
            self.overlay = Overlay::Picker(picker);
            return Vec::new();
        }
        match action {
            Action::Back | Action::Quit => {
                if picker.filter.is_empty() {
                    self.info("nothing changed");
                    return Vec::new();
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
                    self.error("nothing matches the filter");
                    self.overlay = Overlay::Picker(picker);
                    return Vec::new();
                };
                let mut sets = item.sets.clone();
                if let Target::Instance { pool } = picker.target {
                    let name = &self.scenario.pools[pool].name;
                    let has_cloud = self
                        .doc
                        .text()
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
                return self.edit(label, &sets);
            }
            _ => {}
        }
        self.overlay = Overlay::Picker(picker);
        Vec::new()
    }

    fn save(&mut self) {
        match self.doc.save() {
            Ok(()) => {
                self.info(format!("saved {}", self.doc.path.display()));
                self.saved_revision = self.doc.revision();
                self.saved_result = self
                    .result
                    .clone()
                    .filter(|r| r.revision == self.saved_revision && r.span == Span::Full);
            }
            Err(e) => self.error(format!("cannot write {}: {e}", self.doc.path.display())),
        }
    }

    fn run_task(&mut self) -> Vec<Effect> {
        match self.tab {
            Tab::Frontier => {
                if self.frontier.running {
                    self.info("the sweep is running");
                    return Vec::new();
                }
                let Some(pool) = self.scenario.pools.get(self.row).cloned() else {
                    self.error("no pool to sweep");
                    return Vec::new();
                };
                if pool.scaling.is_some() {
                    self.error(format!(
                        "pool {} autoscales; pick a fixed pool in Fleet to sweep its replicas",
                        pool.name
                    ));
                    return Vec::new();
                }
                let n = pool.replicas.max(1);
                let lo = n
                    .saturating_sub(4)
                    .max(if pool.interruptions.is_some() { 0 } else { 1 });
                let replicas: Vec<u32> = (lo..=n + 6).collect();
                self.frontier = Frontier {
                    pool: pool.name.clone(),
                    rows: Vec::new(),
                    selected: 0,
                    running: true,
                    error: None,
                };
                self.info(format!(
                    "sweeping {} replicas {}..{}",
                    pool.name,
                    replicas[0],
                    replicas[replicas.len() - 1]
                ));
                vec![Effect::Task(Task::Sweep {
                    text: self.doc.text().to_string(),
                    path: self.doc.path.clone(),
                    pool: pool.name.clone(),
                    replicas,
                    replications: self.replications,
                })]
            }
            Tab::Optimize => {
                if self.optimizing.running {
                    self.info("the optimizer is running");
                    return Vec::new();
                }
                if self.scenario.optimize.is_none() {
                    self.error(
                        "this scenario has no [optimize] table (see scenarios/optimize-chat.toml)",
                    );
                    return Vec::new();
                }
                self.optimizing = Optimizing {
                    running: true,
                    revision: self.doc.revision(),
                    ..Optimizing::default()
                };
                vec![Effect::Task(Task::Optimize {
                    scenario: Box::new(self.scenario.clone()),
                    text: self.doc.text().to_string(),
                    cache: self.cache.clone(),
                })]
            }
            _ => Vec::new(),
        }
    }

    fn adopt(&mut self) -> Vec<Effect> {
        let Some(o) = &self.optimizing.outcome else {
            self.error("no plan to adopt; r runs the optimizer");
            return Vec::new();
        };
        if self.optimizing.revision != self.doc.revision() {
            self.error("the plan is of an earlier edit; r runs the optimizer on this one");
            return Vec::new();
        }
        let text = o.scenario_text.clone();
        let revision = self.doc.revision();
        match self
            .doc
            .replace("adopted the optimizer's plan".into(), text)
        {
            Ok(_) if self.doc.revision() == revision => {
                self.info("the plan is the scenario as it stands");
                Vec::new()
            }
            Ok(s) => {
                self.scenario = s;
                self.refresh();
                self.row = 0;
                self.info("adopted the plan (u undoes; s saves)");
                vec![self.simulate()]
            }
            Err(e) => {
                self.error(first_line(&e.to_string()));
                Vec::new()
            }
        }
    }

    fn pin(&mut self) {
        let i = self.frontier.selected;
        match (self.frontier.rows.get(i), self.frontier.replicas(i)) {
            (Some(r), Some(n)) => {
                let label = format!("{} × {n}", self.frontier.pool);
                self.pinned = Some(Snapshot::of_row(&label, r));
                self.info(format!("Compare now shows {label} against the edit"));
            }
            _ => self.info("no point selected; r sweeps"),
        }
    }

    fn on_report(&mut self, report: Report) -> Vec<Effect> {
        match report {
            Report::Started {
                revision,
                span,
                progress,
            } => {
                self.running = Some(Running {
                    revision,
                    span,
                    progress,
                });
            }
            Report::Simulated(sim) => {
                if self
                    .running
                    .as_ref()
                    .is_some_and(|r| r.revision == sim.revision && r.span == sim.span)
                {
                    self.running = None;
                }
                if sim.span == Span::Full && sim.revision == self.saved_revision {
                    self.saved_result = Some((*sim).clone());
                }
                self.result = Some(*sim);
            }
            Report::SimFailed { revision, message } => {
                if self
                    .running
                    .as_ref()
                    .is_some_and(|r| r.revision == revision)
                {
                    self.running = None;
                }
                self.error(format!("simulation failed: {message}"));
            }
            Report::Log(line) => {
                if self.optimizing.running {
                    self.optimizing.log.push(line);
                } else {
                    self.info(line);
                }
            }
            Report::Swept { pool, result } => {
                self.frontier.running = false;
                match result {
                    Ok(rows) => {
                        let current = self
                            .scenario
                            .pools
                            .iter()
                            .find(|p| p.name == pool)
                            .map(|p| p.replicas.to_string());
                        self.frontier.selected = rows
                            .iter()
                            .position(|r| Some(&r.values[0]) == current.as_ref())
                            .unwrap_or(0);
                        self.info(format!("swept {} points", rows.len()));
                        self.frontier.rows = rows;
                        self.frontier.pool = pool;
                    }
                    Err(e) => {
                        self.error(format!("sweep failed: {e}"));
                        self.frontier.error = Some(e);
                    }
                }
            }
            Report::Optimized(result) => {
                self.optimizing.running = false;
                match result {
                    Ok(o) => {
                        self.info(format!(
                            "plan: ${:.2}/day, {}; a adopts it",
                            o.plan.cost,
                            if o.passed { "verified" } else { "NOT verified" }
                        ));
                        self.optimizing.lines =
                            crate::report::optimize::render_table(&self.scenario, &o, &[])
                                .lines()
                                .count();
                        self.optimizing.outcome = Some(o);
                    }
                    Err(e) => {
                        self.error(format!("optimizer: {}", first_line(&e)));
                        self.optimizing.error = Some(e);
                    }
                }
            }
        }
        Vec::new()
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// The file's models with a short description of each.
fn models_of(text: &str) -> Vec<(String, String)> {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    let Some(models) = doc.get("models").and_then(|m| m.as_table_like()) else {
        return Vec::new();
    };
    models
        .iter()
        .map(|(name, m)| {
            let what = m
                .get("description")
                .and_then(|d| d.as_str())
                .map(str::to_string)
                .or_else(|| {
                    let arch = m.get("architecture").and_then(|a| a.as_str())?;
                    let weights = m.get("weights").and_then(|w| w.as_str()).unwrap_or("bf16");
                    Some(format!("{arch}, {weights}"))
                })
                .unwrap_or_default();
            (name.to_string(), what)
        })
        .collect()
}

/// The price catalog the scenario was priced from.
fn catalog_of(doc: &Document, scenario: &Scenario) -> Catalog {
    let bundled = Catalog::bundled();
    if scenario.catalog == bundled.name() {
        return bundled;
    }
    let dir = doc.path.parent().unwrap_or(std::path::Path::new("."));
    Catalog::from_path(&dir.join(&scenario.catalog))
        .or_else(|_| Catalog::from_path(std::path::Path::new(&scenario.catalog)))
        .unwrap_or(bundled)
}
