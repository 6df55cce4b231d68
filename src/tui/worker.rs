//! Simulation and solving off the UI thread.
//!
//! Two lanes, each a thread that reports over a channel (gitui's async jobs):
//! - the live lane simulates the scenario being edited: a short preview horizon first, then the
//!   full run. A newer edit cancels the run in progress (the engine checks a flag every few
//!   thousand events), so the lane always works on the latest text;
//! - the task lane runs sweeps and the optimizer, one at a time, for seconds to minutes.
//!
//! Both use rayon's global pool inside. Nothing here blocks the UI thread: `submit` only stores
//! a job and wakes the lane.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::experiment::SimError;
use crate::experiment::preview::{self, Preview};
use crate::experiment::run::{self, Outcome as RunOutcome, RunOptions};
use crate::experiment::{Progress, Summary};
use crate::optimize::cache::CapacityCache;
use crate::optimize::plan::Outcome;
use crate::optimize::planner::Planner;
use crate::scenario::Scenario;
use crate::sweep::{self, Axis, Row, Shard};
use crate::units::SimTime;

/// Whether a result covers the whole horizon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// Part of the horizon, for a quick answer (see [`preview`]).
    Preview(PreviewSpan),
    Full,
}

/// What a preview measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreviewSpan {
    /// The window each slice measured.
    pub window: SimTime,
    /// Slices of the day (1: the start of the horizon).
    pub slices: u32,
    /// The middle of the busiest slice, when the slices follow the day.
    pub busiest: Option<SimTime>,
}

impl PreviewSpan {
    fn of(p: &Preview) -> PreviewSpan {
        PreviewSpan {
            window: p.window(),
            slices: p.slices.len() as u32,
            busiest: p.busiest,
        }
    }

    /// What it covers, in a few words: "the first 2h", "4 × 15m from the 14:00 peak".
    pub fn describe(&self) -> String {
        let window = crate::report::format::span(self.window);
        match self.busiest {
            Some(b) => {
                let minute = (b.as_secs_f64() / 60.0).round() as u64 % 1440;
                format!(
                    "{} × {window} from the {:02}:{:02} peak",
                    self.slices,
                    minute / 60,
                    minute % 60
                )
            }
            None => format!("the first {window}"),
        }
    }
}

/// What the live lane simulated.
#[derive(Clone, Debug)]
pub struct Simulated {
    /// The document revision it is of.
    pub revision: u64,
    pub span: Span,
    /// The scenario as edited (a preview ran parts of it).
    pub scenario: Scenario,
    /// Everything the run produced: serving, training, the bill.
    pub outcome: RunOutcome,
    pub wall: Duration,
    /// From the edit (the submit) to this result.
    pub since_submit: Duration,
}

impl Simulated {
    /// Serving's results, when the scenario serves anything.
    pub fn summary(&self) -> Option<&Summary> {
        self.outcome.serving.as_ref()
    }

    /// The measurement window the serving results cover: a preview's is shorter than the
    /// scenario's, and anything per hour is over this one.
    pub fn window(&self) -> SimTime {
        match self.span {
            Span::Preview(p) => p.window,
            Span::Full => self.scenario.window(),
        }
    }
}

/// A message from a lane.
#[derive(Debug)]
pub enum Report {
    /// A run began; `progress` counts its simulated time.
    Started {
        revision: u64,
        span: Span,
        progress: Arc<Progress>,
    },
    Simulated(Box<Simulated>),
    SimFailed {
        revision: u64,
        message: String,
    },
    /// A line of news from the task in progress.
    Log(String),
    Swept {
        pool: String,
        result: Result<Vec<Row>, String>,
    },
    Optimized(Result<Box<Outcome>, String>),
}

/// A long job for the task lane.
#[derive(Debug)]
pub enum Task {
    /// Simulate the text at each value of `pool`'s replica count.
    Sweep {
        text: String,
        path: PathBuf,
        pool: String,
        replicas: Vec<u32>,
        replications: u32,
    },
    Optimize {
        scenario: Box<Scenario>,
        text: String,
        cache: Option<PathBuf>,
    },
}

struct LiveJob {
    /// Set when a newer job replaces this one.
    cancel: Arc<AtomicBool>,
    revision: u64,
    scenario: Scenario,
    replications: u32,
    submitted: Instant,
}

#[derive(Default)]
struct Slot<T> {
    job: Mutex<Option<T>>,
    ready: Condvar,
}

impl<T> Slot<T> {
    fn put(&self, job: T) {
        *self.job.lock().expect("lane lock") = Some(job);
        self.ready.notify_one();
    }

    fn take(&self) -> T {
        let mut g = self.job.lock().expect("lane lock");
        loop {
            if let Some(j) = g.take() {
                return j;
            }
            g = self.ready.wait(g).expect("lane lock");
        }
    }
}

/// Handle to the two lanes.
pub struct Worker {
    live: Arc<Slot<LiveJob>>,
    /// The flag of the newest job.
    cancel: Mutex<Arc<AtomicBool>>,
    tasks: Arc<Slot<Task>>,
    /// Seconds a full run took, per unit of simulated window, to size the preview.
    pace: Arc<Mutex<Option<f64>>>,
}

/// How long a preview should take.
const PREVIEW_TARGET: Duration = Duration::from_millis(120);

impl Worker {
    /// Starts both lanes; reports go to `tx`.
    pub fn start(tx: Sender<Report>) -> Worker {
        let worker = Worker {
            live: Arc::new(Slot {
                job: Mutex::new(None),
                ready: Condvar::new(),
            }),
            cancel: Mutex::new(Arc::new(AtomicBool::new(false))),
            tasks: Arc::new(Slot {
                job: Mutex::new(None),
                ready: Condvar::new(),
            }),
            pace: Arc::new(Mutex::new(None)),
        };
        let (live, pace, ltx) = (worker.live.clone(), worker.pace.clone(), tx.clone());
        std::thread::Builder::new()
            .name("headroom-live".into())
            .spawn(move || {
                loop {
                    let job = live.take();
                    if run_live(&job, &job.cancel, &pace, &ltx).is_err() {
                        return; // the UI is gone
                    }
                }
            })
            .expect("spawn the live lane");
        let tasks = worker.tasks.clone();
        std::thread::Builder::new()
            .name("headroom-tasks".into())
            .spawn(move || {
                loop {
                    let task = tasks.take();
                    if run_task(task, &tx).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn the task lane");
        worker
    }

    /// Simulates `scenario` (revision `revision` of the document), cancelling any older run.
    pub fn simulate(&self, revision: u64, scenario: Scenario, replications: u32) {
        let cancel = Arc::new(AtomicBool::new(false));
        {
            let mut c = self.cancel.lock().expect("cancel lock");
            c.store(true, Ordering::Relaxed);
            *c = cancel.clone();
        }
        self.live.put(LiveJob {
            cancel,
            revision,
            scenario,
            replications,
            submitted: Instant::now(),
        });
    }

    /// Queues a long task (replacing one not yet started).
    pub fn run(&self, task: Task) {
        self.tasks.put(task);
    }
}

/// The preview of `s`, or `None` when the full run is quick enough by itself.
fn preview_of(s: &Scenario, pace: Option<f64>) -> Option<Preview> {
    let fraction = match pace {
        Some(p) if p > 0.0 => PREVIEW_TARGET.as_secs_f64() / (p * s.window().as_secs_f64()),
        _ => 0.1,
    };
    preview::plan(s, fraction)
}

fn run_live(
    job: &LiveJob,
    cancel: &AtomicBool,
    pace: &Mutex<Option<f64>>,
    tx: &Sender<Report>,
) -> Result<(), std::sync::mpsc::SendError<Report>> {
    let known = *pace.lock().expect("pace lock");
    let mut runs = Vec::new();
    if let Some(p) = preview_of(&job.scenario, known) {
        runs.push((Span::Preview(PreviewSpan::of(&p)), Some(p)));
    }
    runs.push((Span::Full, None));
    for (span, preview) in runs {
        let (progress, replications) = match &preview {
            Some(p) => (Progress::new(&p.slices[0], p.slices.len() as u32), 1),
            None => (
                Progress::new(&job.scenario, job.replications),
                job.replications,
            ),
        };
        let progress = Arc::new(progress);
        tx.send(Report::Started {
            revision: job.revision,
            span,
            progress: progress.clone(),
        })?;
        let started = Instant::now();
        let options = RunOptions {
            progress: Some(&progress),
            cancel: Some(cancel),
            ..RunOptions::new(&job.scenario, replications)
        };
        let outcome = match &preview {
            Some(p) => run::preview(p, &options),
            None => run::run(&job.scenario, &options),
        };
        match outcome {
            Ok(outcome) => {
                let wall = started.elapsed();
                if span == Span::Full {
                    let per_window = wall.as_secs_f64()
                        / f64::from(replications.max(1))
                        / job.scenario.window().as_secs_f64().max(1e-9);
                    *pace.lock().expect("pace lock") = Some(per_window);
                }
                tx.send(Report::Simulated(Box::new(Simulated {
                    revision: job.revision,
                    span,
                    scenario: job.scenario.clone(),
                    outcome,
                    wall,
                    since_submit: job.submitted.elapsed(),
                })))?;
            }
            Err(SimError::Cancelled) => return Ok(()),
            Err(e) => {
                tx.send(Report::SimFailed {
                    revision: job.revision,
                    message: e.to_string(),
                })?;
                return Ok(());
            }
        }
    }
    Ok(())
}

fn run_task(task: Task, tx: &Sender<Report>) -> Result<(), std::sync::mpsc::SendError<Report>> {
    match task {
        Task::Sweep {
            text,
            path,
            pool,
            replicas,
            replications,
        } => {
            let values: Vec<String> = replicas.iter().map(u32::to_string).collect();
            let axis = Axis {
                path: format!("pools.{}.replicas", quote_key(&pool)),
                values,
            };
            let result = sweep::run_text(
                &text,
                &path,
                &[],
                std::slice::from_ref(&axis),
                Shard::ALL,
                sweep::Settings {
                    replications,
                    seed: None,
                    allow_large: false,
                },
                &|| {},
            )
            .map_err(|e| error_chain(&e));
            tx.send(Report::Swept { pool, result })
        }
        Task::Optimize {
            scenario,
            text,
            cache,
        } => {
            let result = Planner::new(&scenario, &text, &[])
                .and_then(|planner| {
                    planner.run(&mut CapacityCache::at(cache), &mut |step| {
                        if let Some(line) = crate::report::optimize::progress(&step) {
                            let _ = tx.send(Report::Log(line));
                        }
                    })
                })
                .map(Box::new)
                .map_err(|e| error_chain(&e));
            tx.send(Report::Optimized(result))
        }
    }
}

/// A key for a dotted path, quoted when it is not bare.
pub fn quote_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        key.to_string()
    } else {
        toml_edit::Value::from(key).to_string()
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_quoted_when_needed() {
        assert_eq!(quote_key("l40s-spot"), "l40s-spot");
        assert_eq!(quote_key("a.b"), "\"a.b\"");
    }
}
