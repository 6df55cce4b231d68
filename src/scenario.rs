//! Scenario files: what a fleet serves, on what, at what price, and for how long.
//!
//! A scenario is TOML meant for version control. Loading is two steps (parse, then validate into
//! different types): `raw` mirrors the file and trusts nothing; `validate` checks everything,
//! reports every problem at once with its file, line and column, and builds a [`Scenario`] that
//! nothing downstream can get wrong: names are resolved to indices, prices to numbers, durations to
//! [`SimTime`]. The format reference is in the README.

pub mod costs_spec;
mod edit;
pub mod optimize_spec;
pub mod raw;
pub(crate) mod source;
pub mod training_spec;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::fleet::Pool;
use crate::units::SimTime;
use crate::workload::Workload;

pub use edit::{Edit, Origin, parse_edited};
pub use optimize_spec::{CapacitySpec, LimitSpec, OptimizeSpec, VerifySpec};
pub use source::{Diagnostic, Snippet};

/// The format version this build reads.
pub const VERSION: i64 = 1;

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    /// The file it was loaded from, if any.
    pub path: Option<PathBuf>,
    pub seed: u64,
    /// Where the simulated span begins: zero for a scenario file; later for a slice of it
    /// ([`Scenario::slice`]), which the TUI's preview runs.
    pub start: SimTime,
    /// Arrivals stop here; metrics cover `start + warmup..horizon`.
    pub horizon: SimTime,
    /// Warm-up after `start`, not measured.
    pub warmup: SimTime,
    /// Length of one row of the time series.
    pub interval: SimTime,
    pub workloads: Vec<Workload>,
    pub pools: Vec<Pool>,
    /// Name of the price catalog the pools were priced from.
    pub catalog: String,
    /// What `headroom optimize` may choose from, if the file says.
    pub optimize: Option<OptimizeSpec>,
    /// What energy costs, for an owned fleet (`[energy]`).
    pub energy: Option<crate::fleet::EnergySpec>,
    /// The GPU profiles the scenario uses, as it names them.
    pub profiles: Vec<String>,
    /// Training jobs and a shared cluster (`[training]`).
    pub training: Option<training_spec::TrainingSpec>,
    /// The bill beyond GPU-hours (`[costs]`).
    pub costs: Option<costs_spec::CostsSpec>,
    /// The text and edits it was validated from ([`Scenario::apply`]); `None` when built in
    /// code.
    pub origin: Option<std::sync::Arc<Origin>>,
}

impl Scenario {
    /// The measured window, `horizon - start - warmup`.
    pub fn window(&self) -> SimTime {
        self.horizon
            .saturating_sub(self.start)
            .saturating_sub(self.warmup)
    }

    /// When the measured window begins.
    pub fn measured_from(&self) -> SimTime {
        SimTime(self.start.0.saturating_add(self.warmup.0))
    }

    /// The same scenario simulated over `start..horizon` only, with `warmup` before what it
    /// measures. Arrival processes and time-of-day policies keep their clock, so a slice of the
    /// afternoon sees the afternoon's traffic.
    pub fn slice(&self, start: SimTime, warmup: SimTime, horizon: SimTime) -> Scenario {
        Scenario {
            start,
            warmup,
            horizon,
            ..self.clone()
        }
    }

    /// Indices of the pools that serve workload `w`.
    pub fn pools_of(&self, w: usize) -> impl Iterator<Item = usize> + '_ {
        self.pools
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.workload == w)
            .map(|(i, _)| i)
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read scenario {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{}", Problems(diagnostics))]
    Invalid { diagnostics: Vec<Diagnostic> },
}

struct Problems<'a>(&'a [Diagnostic]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Loads and validates the scenario at `path`, applying `--set KEY=VALUE` overrides.
pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut scenario = parse(&text, &path.display().to_string(), base, overrides)?;
    scenario.path = Some(path.to_path_buf());
    Ok(scenario)
}

/// Validates scenario text; `name` is used in messages and relative paths resolve from `base`.
pub fn parse(
    text: &str,
    name: &str,
    base: &Path,
    overrides: &[String],
) -> Result<Scenario, LoadError> {
    let source = source::Source::new(name, text.to_string(), overrides)
        .map_err(|diagnostics| LoadError::Invalid { diagnostics })?;
    let mut s = validate::scenario(&source, base)
        .map_err(|diagnostics| LoadError::Invalid { diagnostics })?;
    s.origin = Some(edit::origin(text, name, base, overrides));
    Ok(s)
}

/// Reads every trace the scenario replays to its end, checking each row; returns, per traced
/// workload, the number of rows and the span of the trace in seconds.
pub fn check_traces(
    scenario: &Scenario,
) -> Result<Vec<(String, u64, f64)>, crate::workload::TraceError> {
    use crate::workload::{Arrival, trace::TraceReader};
    let mut out = Vec::new();
    for w in &scenario.workloads {
        if let Arrival::Trace(spec) = &w.arrival {
            let reader = TraceReader::for_spec(spec)?;
            let (rows, span) = reader.scan()?;
            out.push((w.name.clone(), rows, span));
        }
    }
    Ok(out)
}
