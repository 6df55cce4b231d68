//! Sweeps: one scenario under the cartesian product of `--set` overrides, each point simulated
//! (with replications), and the cost-versus-p99 frontier marked.
//!
//! Points are numbered in a fixed order (the last axis varies fastest) and every point uses the
//! scenario's seed, so two points differ only by their overrides (common random numbers), and a
//! sweep split into shards (`--shard K/N` takes every N-th point from the K-th) merges back into
//! exactly the rows, and the frontier, of the whole sweep.

use std::path::Path;

use rayon::prelude::*;

use crate::experiment::budget;
use crate::experiment::run::{self, RunOptions};
use crate::scenario::{self, Edit, LoadError};
use crate::sim::{Metric, SimError};

/// One axis: a dotted path and the values it takes (TOML literals, as for `--set`).
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub path: String,
    pub values: Vec<String>,
}

impl Axis {
    /// Parses `PATH=V1,V2,...`; commas inside brackets, braces or quotes belong to their value.
    pub fn parse(text: &str) -> Result<Axis, String> {
        let (path, values) = text
            .split_once('=')
            .ok_or_else(|| format!("--axis {text}: expected PATH=V1,V2,..."))?;
        let path = path.trim();
        if path.is_empty() {
            return Err(format!("--axis {text}: the path is empty"));
        }
        // A sweep compares serving's cost and latency; training and the bill are in
        // `simulate`'s report, which a sweep does not print.
        if ["training", "costs", "energy"]
            .iter()
            .any(|k| path == *k || path.starts_with(&format!("{k}.")))
        {
            return Err(format!(
                "--axis {path}: a sweep compares serving (cost against p99); run `headroom simulate --set {path}=...` for training and the bill"
            ));
        }
        let mut out = Vec::new();
        let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
        for (i, c) in values.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '[' | '{') => depth += 1,
                (None, ']' | '}') => depth -= 1,
                (None, ',') if depth == 0 => {
                    out.push(values[start..i].trim().to_string());
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(values[start..].trim().to_string());
        if depth != 0 || quote.is_some() {
            return Err(format!("--axis {text}: unbalanced brackets or quotes"));
        }
        if out.iter().any(String::is_empty) {
            return Err(format!("--axis {text}: a value is empty"));
        }
        Ok(Axis {
            path: path.to_string(),
            values: out,
        })
    }
}

/// Which slice of the points a process runs: the `k`-th of `n` (1-based), every `n`-th point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl Shard {
    pub const ALL: Shard = Shard { k: 1, n: 1 };

    /// Parses `K/N` with 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {text}: expected K/N with 1 <= K <= N, e.g. 2/8");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (k, n): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }

    pub fn holds(self, index: usize) -> bool {
        index % self.n == self.k - 1
    }
}

/// The values of point `index` of the product of `axes` (last axis fastest).
pub fn point(axes: &[Axis], mut index: usize) -> Vec<&str> {
    let mut values = vec![""; axes.len()];
    for (i, a) in axes.iter().enumerate().rev() {
        values[i] = &a.values[index % a.values.len()];
        index /= a.values.len();
    }
    values
}

/// Number of points in the product.
pub fn count(axes: &[Axis]) -> usize {
    axes.iter().map(|a| a.values.len()).product()
}

/// What one point measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub index: usize,
    pub values: Vec<String>,
    pub cost_usd: f64,
    pub cost_per_hour: f64,
    pub cost_per_1k: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// An LLM workload's p99 time to first token and time per output token (`NaN` otherwise).
    pub ttft_p99_ms: f64,
    pub tpot_p99_ms: f64,
    /// The lowest attainment among the SLO's targets.
    pub slo_attainment: f64,
    /// Empty when the scenario has no SLO.
    pub slo_met: Option<bool>,
    pub utilization: f64,
    pub failed: f64,
    pub pareto: bool,
}

/// A point that could not be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The scenario file itself could not be read.
    #[error(transparent)]
    Read(LoadError),
    #[error("point {index} ({overrides})")]
    Load {
        index: usize,
        overrides: String,
        #[source]
        source: LoadError,
    },
    #[error("point {index}")]
    Run {
        index: usize,
        #[source]
        source: SimError,
    },
}

/// The edits of point `index`: one per axis, its value at the point.
fn edits(axes: &[Axis], index: usize) -> Vec<Edit> {
    axes.iter()
        .zip(point(axes, index))
        .map(|(a, v)| Edit::of_text(&a.path, v))
        .collect()
}

/// How every point of a sweep runs.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub replications: u32,
    /// Replaces each point's `seed`.
    pub seed: Option<u64>,
    /// Run points over the work budget ([`budget`]) rather than refuse the sweep.
    pub allow_large: bool,
}

/// Runs the points of `shard`, in parallel, with `how.replications` each; `done` is called as each
/// finishes (for a progress bar). Every point is loaded first, so a bad value (or a point over
/// the work budget, unless `how.allow_large`) stops the sweep before anything runs. The rows
/// are in point order, their frontier marked among themselves.
///
/// The file is read once and each point parses that text under its own overrides (as
/// [`scenario::load`] would). Both parallel loops hand out one point at a time: points differ in
/// cost, and a longer run of points kept by one thread leaves the other idle at the end.
pub fn run(
    file: &Path,
    base: &[String],
    axes: &[Axis],
    shard: Shard,
    how: Settings,
    done: &(dyn Fn() + Sync),
) -> Result<Vec<Row>, SweepError> {
    let text = scenario::read_text(file).map_err(SweepError::Read)?;
    run_text(&text, file, base, axes, shard, how, done)
}

/// [`run`] on `text`, the contents (perhaps edited, not yet saved) of the scenario at `file`.
#[allow(clippy::too_many_arguments)]
pub fn run_text(
    text: &str,
    file: &Path,
    base: &[String],
    axes: &[Axis],
    shard: Shard,
    how: Settings,
    done: &(dyn Fn() + Sync),
) -> Result<Vec<Row>, SweepError> {
    let indices: Vec<usize> = (0..count(axes)).filter(|&i| shard.holds(i)).collect();
    let name = file.display().to_string();
    let dir = file.parent().unwrap_or(Path::new("."));
    let start = scenario::parse(text, &name, dir, base)
        .map_err(SweepError::Read)?
        .at_path(file.to_path_buf());
    // Loaded in parallel; the first bad point in order is the one reported.
    let loaded: Vec<Result<_, SweepError>> = indices
        .par_iter()
        .with_max_len(1)
        .map(|&i| {
            let point = edits(axes, i);
            start
                .apply(&point)
                .and_then(|s| budget::check(&s, how.replications, how.allow_large).map(|()| s))
                .map_err(|source| SweepError::Load {
                    index: i,
                    overrides: point.iter().map(Edit::to_arg).collect::<Vec<_>>().join(" "),
                    source,
                })
        })
        .collect();
    let scenarios = loaded.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut rows = indices
        .into_par_iter()
        .zip(scenarios)
        .with_max_len(1)
        .map(|(index, s)| {
            let seed = how.seed.unwrap_or(s.seed());
            let options = RunOptions {
                seed,
                ..RunOptions::new(&s, how.replications)
            };
            let failed = |source| SweepError::Run { index, source };
            let outcome = run::run(&s, &options).map_err(failed)?;
            let sum = outcome.serving.ok_or(failed(SimError::NothingToServe))?;
            done();
            let t = &sum.total;
            Ok(Row {
                index,
                values: point(axes, index).into_iter().map(String::from).collect(),
                cost_usd: t.get(Metric::CostTotal).mean,
                cost_per_hour: sum.rates.total.per_hour,
                cost_per_1k: t.get(Metric::CostPer1k).mean,
                p50_ms: t.get(Metric::LatencyP50).mean,
                p99_ms: t.get(Metric::LatencyP99).mean,
                p999_ms: t.get(Metric::LatencyP999).mean,
                ttft_p99_ms: t.get(Metric::TtftP99).mean,
                tpot_p99_ms: t.get(Metric::TpotP99).mean,
                slo_attainment: t.attainment(),
                slo_met: t.slo_met,
                utilization: t.get(Metric::Utilization).mean,
                failed: t.get(Metric::Dropped).mean + t.get(Metric::TimedOut).mean,
                pareto: false,
            })
        })
        .collect::<Result<Vec<Row>, SweepError>>()?;
    mark_pareto(&mut rows);
    Ok(rows)
}

/// Marks the rows no other row beats on cost per hour and latency (at least as good on all,
/// better on one). Latency is what judges the workload: an LLM's p99 TTFT and TPOT when the
/// rows have them, else the end-to-end p99. Rows without it (nothing completed) are never on
/// the frontier.
pub fn mark_pareto(rows: &mut [Row]) {
    let llm = rows.iter().any(|r| r.ttft_p99_ms.is_finite());
    let keys: Vec<[f64; 3]> = rows
        .iter()
        .map(|r| {
            if llm {
                [r.cost_per_hour, r.ttft_p99_ms, r.tpot_p99_ms]
            } else {
                [r.cost_per_hour, r.p99_ms, r.p99_ms]
            }
        })
        .collect();
    for (i, r) in rows.iter_mut().enumerate() {
        let k = keys[i];
        r.pareto = k.iter().all(|x| x.is_finite())
            && !keys.iter().any(|o| {
                o.iter().zip(&k).all(|(a, b)| a <= b) && o.iter().zip(&k).any(|(a, b)| a < b)
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_split_on_top_level_commas() {
        let a =
            Axis::parse("pools.p.autoscale={ policy = \"schedule\", hours = [1, 2] },x").unwrap();
        assert_eq!(a.path, "pools.p.autoscale");
        assert_eq!(a.values.len(), 2);
        assert_eq!(a.values[1], "x");
        assert!(Axis::parse("novalue").is_err());
        assert!(Axis::parse("a=1,,2").is_err());
        assert!(Axis::parse("a=[1,2").is_err());
        assert!(Axis::parse("a=\"x,y").is_err());
    }

    #[test]
    fn points_enumerate_the_product_last_axis_fastest() {
        let axes = vec![
            Axis::parse("a=1,2").unwrap(),
            Axis::parse("b=x,y,z").unwrap(),
        ];
        assert_eq!(count(&axes), 6);
        assert_eq!(point(&axes, 0), vec!["1", "x"]);
        assert_eq!(point(&axes, 1), vec!["1", "y"]);
        assert_eq!(point(&axes, 5), vec!["2", "z"]);
    }

    #[test]
    fn shards_cover_every_point_once() {
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { k, n: 3 }).collect();
        for i in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.holds(i)).count(), 1);
        }
        assert!(Shard::parse("0/3").is_err());
        assert!(Shard::parse("4/3").is_err());
        assert_eq!(Shard::parse("2/3"), Ok(Shard { k: 2, n: 3 }));
    }

    #[test]
    fn the_frontier_keeps_only_undominated_points() {
        let row = |c: f64, p: f64| Row {
            index: 0,
            values: vec![],
            cost_usd: c,
            cost_per_hour: c,
            cost_per_1k: c,
            p50_ms: p,
            p99_ms: p,
            p999_ms: p,
            ttft_p99_ms: f64::NAN,
            tpot_p99_ms: f64::NAN,
            slo_attainment: 1.0,
            slo_met: None,
            utilization: 0.5,
            failed: 0.0,
            pareto: false,
        };
        let mut rows = vec![
            row(1.0, 10.0),
            row(2.0, 5.0),
            row(2.0, 6.0),
            row(3.0, 5.0),
            row(0.5, f64::NAN),
        ];
        mark_pareto(&mut rows);
        let flags: Vec<bool> = rows.iter().map(|r| r.pareto).collect();
        assert_eq!(flags, vec![true, true, false, false, false]);
        // LLM rows: judged by TTFT and TPOT, not by end-to-end latency.
        let llm = |c: f64, ttft: f64, tpot: f64| Row {
            ttft_p99_ms: ttft,
            tpot_p99_ms: tpot,
            ..row(c, 1000.0 / c)
        };
        let mut rows = vec![
            llm(1.0, 900.0, 40.0),
            llm(2.0, 300.0, 40.0),
            llm(3.0, 300.0, 30.0),
            llm(4.0, 300.0, 30.0),
        ];
        mark_pareto(&mut rows);
        let flags: Vec<bool> = rows.iter().map(|r| r.pareto).collect();
        assert_eq!(flags, vec![true, true, true, false]);
    }
}
