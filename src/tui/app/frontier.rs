//! The Frontier tab: a sweep of one pool's replica count, its points selectable, one loaded
//! into the edit with Enter or pinned for Compare.

use super::compare::Snapshot;
use super::{Effect, Reply};
use crate::fleet::Pool;
use crate::sweep::Row;
use crate::tui::action::Action;
use crate::tui::worker::{Task, quote_key};

/// The Frontier tab's sweep.
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

    pub fn select(&mut self, i: usize) {
        self.selected = i.min(self.rows.len().saturating_sub(1));
    }

    /// What `action` does on the Frontier tab; `pool` is the pool selected in Fleet, which `r`
    /// sweeps over a range around its count.
    pub fn update(&mut self, action: &Action, pool: Option<&Pool>, sweep: SweepOf) -> Reply {
        match action {
            Action::Enter => match self.replicas(self.selected) {
                Some(n) => {
                    let path = format!("pools.{}.replicas", quote_key(&self.pool));
                    Reply::Edit {
                        label: format!("{path} = {n}"),
                        sets: vec![(path, n.to_string())],
                    }
                }
                None => Reply::Info("no point selected; r sweeps".into()),
            },
            Action::Run => self.sweep(pool, sweep),
            Action::Pin => {
                let i = self.selected;
                match (self.rows.get(i), self.replicas(i)) {
                    (Some(r), Some(n)) => {
                        let label = format!("{} × {n}", self.pool);
                        Reply::Pin(Snapshot::of_row(&label, r))
                    }
                    _ => Reply::Info("no point selected; r sweeps".into()),
                }
            }
            _ => Reply::None,
        }
    }

    fn sweep(&mut self, pool: Option<&Pool>, of: SweepOf) -> Reply {
        if self.running {
            return Reply::Info("the sweep is running".into());
        }
        let Some(pool) = pool else {
            return Reply::Error("no pool to sweep".into());
        };
        if pool.scaling.is_some() {
            return Reply::Error(format!(
                "pool {} autoscales; pick a fixed pool in Fleet to sweep its replicas",
                pool.name
            ));
        }
        let n = pool.replicas.max(1);
        let lo = n
            .saturating_sub(4)
            .max(if pool.interruptions.is_some() { 0 } else { 1 });
        let replicas: Vec<u32> = (lo..=n + 6).collect();
        *self = Frontier {
            pool: pool.name.clone(),
            running: true,
            ..Frontier::default()
        };
        Reply::Effects {
            info: Some(format!(
                "sweeping {} replicas {}..{}",
                pool.name,
                replicas[0],
                replicas[replicas.len() - 1]
            )),
            effects: vec![Effect::Task(Task::Sweep {
                text: of.text.to_string(),
                path: of.path.to_path_buf(),
                pool: pool.name.clone(),
                replicas,
                replications: of.replications,
            })],
        }
    }

    /// The sweep of `pool` came back; the point of the pool's `current` count is selected.
    pub fn swept(
        &mut self,
        pool: String,
        result: Result<Vec<Row>, String>,
        current: Option<String>,
    ) -> Reply {
        self.running = false;
        match result {
            Ok(rows) => {
                self.selected = rows
                    .iter()
                    .position(|r| Some(&r.values[0]) == current.as_ref())
                    .unwrap_or(0);
                let n = rows.len();
                self.rows = rows;
                self.pool = pool;
                Reply::Info(format!("swept {n} points"))
            }
            Err(e) => {
                self.error = Some(e.clone());
                Reply::Error(format!("sweep failed: {e}"))
            }
        }
    }
}

/// What a sweep runs on: the document as it stands (copied only when a sweep starts).
pub struct SweepOf<'a> {
    pub text: &'a str,
    pub path: &'a std::path::Path,
    pub replications: u32,
}
