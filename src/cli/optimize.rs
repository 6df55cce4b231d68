//! `headroom optimize`: the cheapest fleet that meets the SLO, verified by simulation.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;

use super::{OptimizeArgs, Outcome, ReportFormat, output};
use crate::optimize::cache::{CapacityCache, default_cache_dir};
use crate::optimize::planner::{OptimizeError, Planner};
use crate::optimize::tracking;
use crate::optimize::write::relocate;
use crate::report::optimize::{progress, render_json, render_table};

pub(super) fn run(args: OptimizeArgs) -> anyhow::Result<Outcome> {
    let pool = super::worker_pool(args.threads)?;
    let scenario = crate::scenario::load(&args.file, &args.set)?;
    // The plan is written over the file's text, so it keeps the file's comments.
    let text = crate::scenario::read_text(&args.file)?;
    let quiet = args.quiet || !std::io::stderr().is_terminal();
    let log = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let mut cache = CapacityCache::at(if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(default_cache_dir)
    });
    let result = pool.install(|| -> anyhow::Result<_> {
        let planned = Planner::new(&scenario, &text, &args.set).and_then(|planner| {
            planner.run(&mut cache, &mut |step| {
                if let Some(line) = progress(&step) {
                    log(&line);
                }
            })
        });
        let outcome = match planned {
            Ok(o) => o,
            // No plan meets the constraints: a check that failed, not an error (exit 1).
            Err(OptimizeError::Purchase(e)) => return Ok(Err(e)),
            Err(e) => return Err(e.into()),
        };
        let spec = scenario.optimize().as_ref().expect("optimized");
        let points = if args.no_tracking {
            Vec::new()
        } else {
            log("target tracking instead of the schedule: a sweep of targets (--no-tracking skips it)");
            tracking::recommend(
                &outcome.verified_scenario,
                &outcome.verification,
                spec.workload,
                spec.verify.replications,
            )?
        };
        Ok(Ok((outcome, points)))
    })?;
    let (outcome, points) = match result {
        Ok(x) => x,
        Err(e) => {
            eprintln!("no plan: {e}");
            return Ok(Outcome::CheckFailed);
        }
    };
    if let Some(path) = &args.write_scenario {
        let folder = |p: &'_ Path| match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => Path::new(".").to_path_buf(),
        };
        let (from, to) = (folder(&args.file), folder(path));
        let text = relocate(&outcome.scenario_text, &from, &to)?;
        output::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let text = match args.format {
        ReportFormat::Table => render_table(&scenario, &outcome, &points),
        ReportFormat::Json => render_json(&scenario, &outcome, &points),
    };
    output::emit(&text, args.output.as_deref())?;
    Ok(if outcome.passed {
        Outcome::Ok
    } else {
        Outcome::CheckFailed
    })
}
