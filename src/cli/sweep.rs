//! `headroom sweep` and `headroom merge`: many simulations of one scenario, the frontier marked;
//! shards of a sweep combined.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};

use super::{MergeArgs, Outcome, SweepArgs, SweepFormat, output};
use crate::report::sweep::{parse_csv, render_csv, render_json};
use crate::sweep::{self, Axis, Shard};

pub(super) fn run(args: SweepArgs) -> anyhow::Result<Outcome> {
    let axes = args
        .axis
        .iter()
        .map(|a| Axis::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let shard = match &args.shard {
        Some(s) => Shard::parse(s).map_err(anyhow::Error::msg)?,
        None => Shard::ALL,
    };
    let pool = super::worker_pool(args.threads)?;
    let total = (0..sweep::count(&axes)).filter(|&i| shard.holds(i)).count();
    let bar = std::io::stderr().is_terminal().then(|| {
        ProgressBar::new(total as u64).with_style(
            ProgressStyle::with_template(
                "{spinner} sweeping [{bar:40}] {pos}/{len} {elapsed} (eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        )
    });
    let finished = AtomicU64::new(0);
    let done = || {
        let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let rows = pool.install(|| {
        sweep::run(
            &args.file,
            &args.set,
            &axes,
            shard,
            sweep::Settings {
                replications: args.replications,
                seed: args.seed,
                allow_large: args.allow_large,
            },
            &done,
        )
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let paths: Vec<String> = axes.iter().map(|a| a.path.clone()).collect();
    let text = match args.format {
        SweepFormat::Csv => render_csv(&paths, sweep::count(&axes), &rows),
        SweepFormat::Json => render_json(&paths, &rows),
    };
    output::emit(&text, args.output.as_deref())?;
    Ok(Outcome::Ok)
}

pub(super) fn merge(args: MergeArgs) -> anyhow::Result<Outcome> {
    let mut paths: Option<Vec<String>> = None;
    let mut points: Option<usize> = None;
    let mut rows = Vec::new();
    for f in &args.files {
        let text = crate::data_file::read_string(f)
            .with_context(|| format!("cannot read {}", f.display()))?;
        let parsed = parse_csv(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        match &paths {
            None => paths = Some(parsed.paths),
            Some(q) if *q != parsed.paths => {
                bail!("{}: its axes differ from the first file's", f.display())
            }
            Some(_) => {}
        }
        match (points, parsed.points) {
            (Some(a), Some(b)) if a != b => {
                bail!("{}: a sweep of {b} points, not {a}", f.display())
            }
            (None, Some(b)) => points = Some(b),
            _ => {}
        }
        rows.extend(parsed.rows);
    }
    rows.sort_by_key(|r| r.index);
    if let Some(w) = rows.windows(2).find(|w| w[0].index == w[1].index) {
        bail!("point {} is in more than one file", w[0].index);
    }
    let points = points.unwrap_or(0);
    if let Some(i) = (0..points).find(|&i| rows.get(i).is_none_or(|r| r.index != i)) {
        bail!("point {i} of {points} is missing; merge every shard");
    }
    sweep::mark_pareto(&mut rows);
    let text = render_csv(&paths.unwrap_or_default(), points, &rows);
    output::emit(&text, args.output.as_deref())?;
    Ok(Outcome::Ok)
}
