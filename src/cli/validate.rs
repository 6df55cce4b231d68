//! `headroom validate`: check scenario files without simulating.

use super::{Outcome, ValidateArgs};
use crate::experiment::budget;
use crate::report::format::{span, thousands};
use crate::scenario::{self, LoadError};
use crate::units::SimTime;

pub(super) fn run(args: ValidateArgs) -> anyhow::Result<Outcome> {
    let mut bad = 0;
    for file in &args.files {
        let loaded = scenario::load(file, &args.set)
            .and_then(|s| budget::check(&s, 1, args.allow_large).map(|()| s));
        match loaded {
            Ok(s) => match scenario::check_traces(&s) {
                Ok(traces) => {
                    let replicas: u32 = s.pools().iter().map(|p| p.replicas).sum();
                    if s.workloads().is_empty() {
                        println!("ok    {}: {}", file.display(), training_line(&s));
                        continue;
                    }
                    println!(
                        "ok    {}: {} workload{}, {} pool{}, {} replica{}, {} simulated",
                        file.display(),
                        s.workloads().len(),
                        plural(s.workloads().len()),
                        s.pools().len(),
                        plural(s.pools().len()),
                        replicas,
                        plural(replicas as usize),
                        span(s.horizon())
                    );
                    if s.training().is_some() {
                        println!("      {}", training_line(&s));
                    }
                    for (w, rows, secs) in traces {
                        println!(
                            "      trace of {w}: {} rows over {}",
                            thousands(rows as f64),
                            span(SimTime::from_secs_f64(secs))
                        );
                    }
                    for advice in s.advice() {
                        eprintln!("warning: {advice}");
                    }
                }
                Err(e) => {
                    bad += 1;
                    eprintln!("error: {e}");
                }
            },
            Err(e) => {
                bad += 1;
                match e {
                    LoadError::Invalid { diagnostics } => {
                        for d in diagnostics {
                            eprintln!("error: {d}");
                        }
                    }
                    other => eprintln!("error: {other}"),
                }
            }
        }
    }
    if bad > 0 {
        anyhow::bail!(
            "{bad} of {} scenario file{} invalid",
            args.files.len(),
            if args.files.len() == 1 {
                " is"
            } else {
                "s are"
            }
        );
    }
    Ok(Outcome::Ok)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// What a scenario trains: its jobs and cluster.
fn training_line(s: &scenario::Scenario) -> String {
    let Some(t) = &s.training() else {
        return "nothing to serve or train".into();
    };
    let mut parts = Vec::new();
    if !t.jobs.is_empty() {
        parts.push(format!(
            "{} training job{}",
            t.jobs.len(),
            plural(t.jobs.len())
        ));
    }
    if let Some(c) = &t.cluster {
        let jobs = match &c.stream {
            scenario::training_spec::JobStream::Trace { jobs, .. } => jobs.len(),
            scenario::training_spec::JobStream::Synthetic { jobs, .. } => *jobs as usize,
        };
        parts.push(format!("a cluster of {} jobs", thousands(jobs as f64)));
    }
    parts.join(", ")
}
