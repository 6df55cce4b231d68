//! The Optimize tab: the optimizer run on the edit, its log while it runs, its plan after, and
//! the plan adopted into the edit with `a`.

use super::{Effect, Reply};
use crate::optimize::plan::Outcome;
use crate::scenario::Scenario;
use crate::tui::action::Action;
use crate::tui::worker::Task;

/// The Optimize tab's run.
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

/// What the optimizer runs on: the document as it stands.
pub struct PlanOf<'a> {
    pub scenario: &'a Scenario,
    pub text: &'a str,
    pub revision: u64,
    pub cache: Option<&'a std::path::Path>,
}

impl Optimizing {
    pub fn select(&mut self, i: usize) {
        self.scroll = i.min(self.lines.saturating_sub(1));
    }

    /// What `action` does on the Optimize tab.
    pub fn update(&mut self, action: &Action, of: PlanOf) -> Reply {
        match action {
            Action::Run => {
                if self.running {
                    return Reply::Info("the optimizer is running".into());
                }
                if of.scenario.optimize().is_none() {
                    return Reply::Error(
                        "this scenario has no [optimize] table (see scenarios/optimize-chat.toml)"
                            .into(),
                    );
                }
                *self = Optimizing {
                    running: true,
                    revision: of.revision,
                    ..Optimizing::default()
                };
                Reply::Effects {
                    info: None,
                    effects: vec![Effect::Task(Task::Optimize {
                        scenario: Box::new(of.scenario.clone()),
                        text: of.text.to_string(),
                        cache: of.cache.map(std::path::Path::to_path_buf),
                    })],
                }
            }
            Action::Adopt => {
                let Some(o) = &self.outcome else {
                    return Reply::Error("no plan to adopt; r runs the optimizer".into());
                };
                if self.revision != of.revision {
                    return Reply::Error(
                        "the plan is of an earlier edit; r runs the optimizer on this one".into(),
                    );
                }
                Reply::Replace {
                    label: "adopted the optimizer's plan".into(),
                    text: o.scenario_text.clone(),
                }
            }
            _ => Reply::None,
        }
    }

    /// A line of the optimizer's news: the log while it runs.
    pub fn log(&mut self, line: String) -> Reply {
        if self.running {
            self.log.push(line);
            Reply::None
        } else {
            Reply::Info(line)
        }
    }

    /// The optimizer came back.
    pub fn optimized(&mut self, result: Result<Box<Outcome>, String>, s: &Scenario) -> Reply {
        self.running = false;
        match result {
            Ok(o) => {
                let news = format!(
                    "plan: ${:.2}/day, {}; a adopts it",
                    o.plan.cost,
                    if o.passed { "verified" } else { "NOT verified" }
                );
                self.lines = crate::report::optimize::render_table(s, &o, &[])
                    .lines()
                    .count();
                self.outcome = Some(o);
                Reply::Info(news)
            }
            Err(e) => {
                let news = format!("optimizer: {}", super::first_line(&e));
                self.error = Some(e);
                Reply::Error(news)
            }
        }
    }
}
