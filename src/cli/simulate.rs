//! `headroom simulate`: run a scenario, report it, gate on its SLOs.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::{Format, Outcome, SimulateArgs, output};
use crate::experiment::run::{self, RunOptions};
use crate::experiment::{Progress, StopReason, Summary, budget};
use crate::report::format::span;
use crate::report::{Report, RunInfo, csv, json, table};
use crate::scenario;

pub(super) fn run(args: SimulateArgs) -> anyhow::Result<Outcome> {
    let scenario = scenario::load(&args.file, &args.set)?;
    budget::check(&scenario, args.replications, args.allow_large)?;
    // Every row of every trace, also those past the horizon that the run never reads: a file
    // that is wrong is an error, not a run that happens to stop before the bad row.
    scenario::check_traces(&scenario)?;
    for advice in scenario.advice() {
        eprintln!("warning: {advice}");
    }
    let seed = args.seed.unwrap_or(scenario.seed());
    let pool = super::worker_pool(args.threads)?;
    let threads = pool.current_num_threads();
    let started = Instant::now();
    let progress = Progress::new(&scenario, args.replications);
    let done = AtomicBool::new(false);
    // Ctrl-c ends serving where it is, with a partial report; a second one exits at once.
    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let _ = ctrlc::set_handler(move || {
        if stop.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
    let outcome = std::thread::scope(|s| {
        if !scenario.workloads().is_empty() {
            if std::io::stderr().is_terminal() {
                s.spawn(|| show_progress(&progress, &done));
            } else if args.allow_large {
                s.spawn(|| log_progress(&progress, &done));
            }
        }
        let options = RunOptions {
            seed,
            progress: Some(&progress),
            stop: Some(stop),
            ..RunOptions::new(&scenario, args.replications)
        };
        let outcome = pool.install(|| run::run(&scenario, &options));
        done.store(true, Ordering::Relaxed);
        outcome
    })?;
    let wall_seconds = started.elapsed().as_secs_f64();
    if let Some(summary) = &outcome.serving {
        warn_traces_ended(&scenario, summary);
    }
    let report = Report {
        scenario: &scenario,
        summary: outcome.serving.as_ref(),
        training: outcome.training.as_ref(),
        bill: outcome.bill.as_ref(),
        run: RunInfo {
            wall_seconds,
            threads,
        },
    };
    let text = match args.format {
        Format::Table => table::render(&report),
        Format::Json => json::render(&report),
        Format::Csv => csv::render(&report),
    };
    if let Some(path) = &args.timeseries {
        output::emit(&csv::render_timeseries(&report), Some(path))?;
    }
    output::emit(&text, args.output.as_deref())?;
    let interrupted = outcome.serving.as_ref().is_some_and(|s| {
        s.stopped
            .is_some_and(|st| st.reason == StopReason::Interrupted)
    });
    Ok(if interrupted {
        Outcome::Interrupted
    } else if outcome.verdict.passed() {
        Outcome::Ok
    } else {
        Outcome::CheckFailed
    })
}

/// Warns about traces that ran out before the horizon.
fn warn_traces_ended(scenario: &scenario::Scenario, summary: &Summary) {
    for (w, ended) in scenario.workloads().iter().zip(&summary.arrivals_ended) {
        if let Some(t) = ended
            && scenario.horizon().saturating_sub(*t) > scenario.interval()
        {
            eprintln!(
                "warning: the arrivals of workload {:?} ran out at {} of a {} horizon (the trace is shorter); the rest of the run has none of its traffic",
                w.name,
                span(*t),
                span(scenario.horizon())
            );
        }
    }
}

/// Without a terminal (a CI log), a line on standard error every few seconds until `done`.
fn log_progress(progress: &Progress, done: &AtomicBool) {
    let began = Instant::now();
    let mut last = Instant::now();
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if last.elapsed() >= LOG_EVERY {
            last = Instant::now();
            eprintln!(
                "simulating: {:.0}% after {}s",
                progress.fraction() * 100.0,
                began.elapsed().as_secs()
            );
        }
    }
}

/// How often [`log_progress`] writes.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Draws a progress bar on standard error until `done`; only shown when a run takes a while.
fn show_progress(progress: &Progress, done: &AtomicBool) {
    let delay = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if bar.is_none() && delay.elapsed() > Duration::from_millis(500) {
            let b = ProgressBar::new(1000).with_style(
                ProgressStyle::with_template(
                    "{spinner} simulating [{bar:40}] {percent:>3}% {elapsed} (eta {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position((progress.fraction() * 1000.0) as u64);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}
