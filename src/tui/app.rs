//! The app's state and `update`, the one place it changes (Elm-style: the views only read it,
//! the run loop only performs the effects `update` returns).

mod compare;
mod editor;
mod fleet;
mod frontier;
mod optimize;

use std::path::PathBuf;
use std::sync::Arc;

use super::action::{Action, Tab};
use super::document::Document;
use super::theme::Theme;
use super::worker::{Report, Simulated, Span, Task};
use crate::experiment::Progress;
use crate::pricing::Catalog;
use crate::scenario::Scenario;

pub use compare::Snapshot;
pub use fleet::Fleet;
pub use frontier::Frontier;
pub use optimize::Optimizing;

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
    /// Write `text` to `path` (revision `revision` of the document); the loop answers with
    /// [`Action::Saved`], or with [`Action::SaveConflict`] when the file no longer holds
    /// `expect` (someone changed it since it was loaded; `None` writes over whatever it holds).
    Save {
        path: PathBuf,
        text: String,
        revision: u64,
        expect: Option<String>,
    },
}

/// What a tab or an overlay asks of the app after an action.
#[derive(Debug)]
pub enum Reply {
    None,
    Info(String),
    Error(String),
    /// Set values at dotted paths, as one edit.
    Edit {
        label: String,
        sets: Vec<(String, String)>,
    },
    /// Replace the whole text, as one edit.
    Replace {
        label: String,
        text: String,
    },
    Overlay(Overlay),
    /// Long jobs for the lanes, with news for the status line.
    Effects {
        info: Option<String>,
        effects: Vec<Effect>,
    },
    /// Compare shows this point against the edit.
    Pin(Snapshot),
}

/// A window over the views.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    None,
    Help,
    Picker(super::picker::Picker),
    /// A line of input: `:` (path=value) or a value for a field.
    Input(Input),
    /// The diff of what `s` would write; `y` writes.
    Save {
        scroll: usize,
    },
    /// Quit with unsaved edits? `y` quits, `n` stays.
    ConfirmQuit,
    /// The file changed on disk since it was loaded: `r` reloads it, `o` overwrites it, `a`
    /// saves the edits elsewhere (typing the path in `save_as`).
    Conflict {
        on_disk: String,
        save_as: Option<String>,
    },
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
    pub fleet: Fleet,
    /// The workload the Latency and Cost tabs show (`None`: all).
    pub workload: Option<usize>,
    pub frontier: Frontier,
    pub optimizing: Optimizing,
    /// First line shown in the Bill tab.
    pub bill_scroll: usize,
    pub cache: Option<PathBuf>,
    pub quit: bool,
    pub theme: Theme,
}

impl App {
    /// The app on `doc` (whose text is `scenario`, priced from `catalog`); returns the first
    /// simulation to run.
    pub fn new(
        doc: Document,
        scenario: Scenario,
        catalog: Catalog,
        replications: u32,
    ) -> (App, Vec<Effect>) {
        // A scenario that only trains opens where its results are.
        let tab = if scenario.workloads().is_empty() {
            Tab::Bill
        } else {
            Tab::Overview
        };
        let mut app = App {
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
            fleet: Fleet::default(),
            workload: None,
            frontier: Frontier::default(),
            optimizing: Optimizing::default(),
            bill_scroll: 0,
            cache: crate::optimize::capacity::default_cache_dir(),
            quit: false,
            theme: Theme::from_env(),
        };
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

    fn simulate(&self) -> Effect {
        Effect::Simulate {
            revision: self.doc.revision(),
            scenario: Box::new(self.scenario.clone()),
            replications: self.replications,
        }
    }

    /// Re-reads what depends on the text after it changed.
    fn refresh(&mut self) {
        self.fleet.refresh(self.doc.text(), &self.scenario);
        self.workload = self
            .workload
            .filter(|&w| w < self.scenario.workloads().len());
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
        match action {
            Action::Worker(report) => return self.on_report(report),
            Action::Saved {
                path,
                revision,
                text,
                result,
            } => {
                self.saved(path, revision, text, result);
                return Vec::new();
            }
            Action::SaveConflict { on_disk } => {
                self.error(format!(
                    "{} changed on disk since it was opened: not saved",
                    self.doc.path.display()
                ));
                self.overlay = Overlay::Conflict {
                    on_disk,
                    save_as: None,
                };
                return Vec::new();
            }
            Action::ForceQuit => {
                self.quit = true;
                return Vec::new();
            }
            Action::Resize => return Vec::new(),
            _ => {}
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
            Overlay::Conflict { on_disk, save_as } => self.on_conflict(on_disk, save_as, action),
            Overlay::Save { scroll } => match action {
                Action::Yes => vec![Effect::Save {
                    path: self.doc.path.clone(),
                    text: self.doc.text().to_string(),
                    revision: self.doc.revision(),
                    expect: Some(self.doc.saved_text().to_string()),
                }],
                Action::No | Action::Back | Action::Quit => {
                    self.info("not saved");
                    Vec::new()
                }
                Action::Down | Action::ScrollDown => {
                    let last = self.doc.diff(2).len().saturating_sub(1);
                    self.overlay = Overlay::Save {
                        scroll: (scroll + 1).min(last),
                    };
                    Vec::new()
                }
                Action::Up | Action::ScrollUp => {
                    self.overlay = Overlay::Save {
                        scroll: scroll.saturating_sub(1),
                    };
                    Vec::new()
                }
                _ => {
                    self.overlay = Overlay::Save { scroll };
                    Vec::new()
                }
            },
            Overlay::Input(input) => {
                let (kept, reply) = editor::on_input(input, action);
                let edit = matches!(reply, Reply::Edit { .. });
                let effects = self.apply(reply);
                let refused = self.status.as_ref().is_some_and(|s| s.error);
                // An edit that took closes the line; one refused keeps what was typed.
                if !edit || refused {
                    self.overlay = editor::reopen(kept, Overlay::Input);
                }
                effects
            }
            Overlay::Picker(picker) => {
                let (kept, reply) =
                    editor::on_picker(picker, action, &self.scenario, self.doc.text());
                self.overlay = editor::reopen(kept, Overlay::Picker);
                self.apply(reply)
            }
        }
    }

    /// Actions with no overlay open: the app's own, then the tab's.
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
            Action::ClickRow(i) => self.select(i),
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
            Action::Filter => {
                self.info("/ filters the instance picker: Enter on a pool's instance")
            }
            action => {
                let reply = self.on_tab(&action);
                return self.apply(reply);
            }
        }
        Vec::new()
    }

    /// What the current tab makes of `action`.
    fn on_tab(&mut self, action: &Action) -> Reply {
        match self.tab {
            Tab::Fleet => self
                .fleet
                .update(action, &self.scenario, self.doc.text(), &self.catalog),
            Tab::Frontier => {
                let of = frontier::SweepOf {
                    text: self.doc.text(),
                    path: &self.doc.path,
                    replications: self.replications,
                };
                let pool = self.scenario.pools().get(self.fleet.row);
                self.frontier.update(action, pool, of)
            }
            Tab::Optimize => {
                let of = optimize::PlanOf {
                    scenario: &self.scenario,
                    text: self.doc.text(),
                    revision: self.doc.revision(),
                    cache: self.cache.as_deref(),
                };
                self.optimizing.update(action, of)
            }
            _ => Reply::None,
        }
    }

    /// Carries out what a tab or an overlay asked.
    fn apply(&mut self, reply: Reply) -> Vec<Effect> {
        match reply {
            Reply::None => Vec::new(),
            Reply::Info(s) => {
                self.info(s);
                Vec::new()
            }
            Reply::Error(s) => {
                self.error(s);
                Vec::new()
            }
            Reply::Edit { label, sets } => self.edit(label, &sets),
            Reply::Replace { label, text } => self.replace(label, text),
            Reply::Overlay(o) => {
                self.overlay = o;
                Vec::new()
            }
            Reply::Effects { info, effects } => {
                if let Some(s) = info {
                    self.info(s);
                }
                effects
            }
            Reply::Pin(snapshot) => {
                let news = format!("Compare now shows {} against the edit", snapshot.label);
                self.pinned = Some(snapshot);
                self.info(news);
                Vec::new()
            }
        }
    }

    /// The length of the list the current tab moves through.
    fn list_len(&self) -> usize {
        match self.tab {
            Tab::Fleet => self.scenario.pools().len(),
            Tab::Frontier => self.frontier.rows.len(),
            Tab::Latency | Tab::Cost => self.scenario.workloads().len() + 1,
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
            Tab::Fleet => self.fleet.row,
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
            Tab::Fleet => self.fleet.select(i, self.scenario.pools().len()),
            Tab::Frontier => self.frontier.select(i),
            Tab::Latency | Tab::Cost => {
                let i = i.min(self.scenario.workloads().len());
                self.workload = i.checked_sub(1);
            }
            Tab::Optimize => self.optimizing.select(i),
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
        self.replace(label, text)
    }

    /// Replaces the text (one edit) and re-simulates.
    fn replace(&mut self, label: String, text: String) -> Vec<Effect> {
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

    /// A key while the file on disk differs from what the document was loaded from.
    fn on_conflict(
        &mut self,
        on_disk: String,
        save_as: Option<String>,
        action: Action,
    ) -> Vec<Effect> {
        let keep = |app: &mut App, on_disk, save_as| {
            app.overlay = Overlay::Conflict { on_disk, save_as };
            Vec::new()
        };
        let write = |app: &App, path: PathBuf| {
            vec![Effect::Save {
                path,
                text: app.doc.text().to_string(),
                revision: app.doc.revision(),
                expect: None,
            }]
        };
        match (save_as, action) {
            (Some(_), Action::Back) => keep(self, on_disk, None),
            (Some(mut p), Action::Char(c)) => {
                p.push(c);
                keep(self, on_disk, Some(p))
            }
            (Some(mut p), Action::Backspace) => {
                p.pop();
                keep(self, on_disk, Some(p))
            }
            (Some(p), Action::Enter) if !p.trim().is_empty() => {
                write(self, PathBuf::from(p.trim()))
            }
            (Some(p), _) => keep(self, on_disk, Some(p)),
            (None, Action::Char('r')) => {
                let label = format!("reloaded {} from disk", self.doc.path.display());
                match self.doc.replace(label.clone(), on_disk.clone()) {
                    Ok(s) => {
                        self.doc.mark_saved(on_disk);
                        self.scenario = s;
                        self.refresh();
                        self.info(format!("{label}; u brings your edits back"));
                        vec![self.simulate()]
                    }
                    Err(e) => {
                        self.error(format!(
                            "the file on disk does not load ({}); your edits are kept",
                            first_line(&e.to_string())
                        ));
                        keep(self, on_disk, None)
                    }
                }
            }
            (None, Action::Char('o')) => write(self, self.doc.path.clone()),
            (None, Action::Char('a')) => {
                let p = self.doc.path.with_extension("mine.toml");
                keep(self, on_disk, Some(p.display().to_string()))
            }
            (None, Action::Back | Action::No | Action::Quit | Action::Char('n' | 'q')) => {
                self.info("not saved; the file on disk is as someone else left it");
                Vec::new()
            }
            (None, _) => keep(self, on_disk, None),
        }
    }

    /// The run loop wrote (or failed to write) revision `revision`, whose text is `text`, to
    /// `path` (the document's file, or a new one it now lives in).
    fn saved(&mut self, path: PathBuf, revision: u64, text: String, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.doc.path = path;
                self.doc.mark_saved(text);
                self.info(format!("saved {}", self.doc.path.display()));
                self.saved_revision = revision;
                self.saved_result = self
                    .result
                    .clone()
                    .filter(|r| r.revision == revision && r.span == Span::Full);
            }
            Err(e) => self.error(format!("cannot write {}: {e}", path.display())),
        }
    }

    fn on_report(&mut self, report: Report) -> Vec<Effect> {
        let reply = match report {
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
                Reply::None
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
                // Overload is said in words, not only as a status in the table.
                let overloaded: Vec<String> = sim
                    .outcome
                    .serving
                    .iter()
                    .flat_map(|s| sim.scenario.workloads().iter().zip(&s.workloads))
                    .filter(|(_, w)| !w.stability.stable)
                    .map(|(w, _)| w.name.clone())
                    .collect();
                self.result = Some(*sim);
                if overloaded.is_empty() {
                    Reply::None
                } else {
                    Reply::Error(format!(
                        "overloaded: {} offered more than the fleet serves; the queue grows through the run",
                        overloaded.join(", ")
                    ))
                }
            }
            Report::SimFailed { revision, message } => {
                if self
                    .running
                    .as_ref()
                    .is_some_and(|r| r.revision == revision)
                {
                    self.running = None;
                }
                Reply::Error(format!("simulation failed: {message}"))
            }
            Report::Log(line) => self.optimizing.log(line),
            Report::Swept { pool, result } => {
                let current = self
                    .scenario
                    .pools()
                    .iter()
                    .find(|p| p.name == pool)
                    .map(|p| p.replicas.to_string());
                self.frontier.swept(pool, result, current)
            }
            Report::Optimized(result) => self.optimizing.optimized(result, &self.scenario),
        };
        self.apply(reply)
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// The price catalog `scenario` was priced from: the bundled one, or the file it names (read
/// here, before the app starts).
pub fn catalog_of(doc: &Document, scenario: &Scenario) -> Catalog {
    let bundled = Catalog::bundled();
    if scenario.catalog() == bundled.name() {
        return bundled;
    }
    let dir = doc.path.parent().unwrap_or(std::path::Path::new("."));
    Catalog::from_path(&dir.join(scenario.catalog()))
        .or_else(|_| Catalog::from_path(std::path::Path::new(&scenario.catalog())))
        .unwrap_or(bundled)
}
