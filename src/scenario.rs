//! Scenario files: what a fleet serves, on what, at what price, and for how long.
//!
//! A scenario is TOML meant for version control. Loading is two steps (parse, then validate into
//! different types): `raw` mirrors the file and trusts nothing; `validate` checks everything,
//! reports every problem at once with its file, line and column, and builds a [`Scenario`] that
//! nothing downstream can get wrong: names are resolved to indices, prices to numbers, durations to
//! [`SimTime`]. The format reference is in the README.

mod advice;
pub mod costs_spec;
mod edit;
pub mod optimize_spec;
pub mod raw;
pub mod schema;
pub(crate) mod source;
pub mod spanned;
pub mod training_spec;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::fleet::Pool;
use crate::units::SimTime;
use crate::workload::Workload;

pub use edit::{Edit, Origin, key_path, parse_edited};
pub use optimize_spec::{CapacitySpec, LimitSpec, OptimizeSpec, VerifySpec};
pub use source::{Diagnostic, Snippet};

/// The format version this build reads.
pub const VERSION: i64 = 1;

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    name: String,
    description: Option<String>,
    /// The file it was loaded from, if any.
    path: Option<PathBuf>,
    seed: u64,
    /// Where the simulated span begins: zero for a scenario file; later for a slice of it
    /// ([`Scenario::slice`]), which the TUI's preview runs.
    start: SimTime,
    /// Arrivals stop here; metrics cover `start + warmup..horizon`.
    horizon: SimTime,
    /// Warm-up after `start`, not measured.
    warmup: SimTime,
    /// Length of one row of the time series.
    interval: SimTime,
    workloads: Vec<Workload>,
    pools: Vec<Pool>,
    /// Name of the price catalog the pools were priced from.
    catalog: String,
    /// What `headroom optimize` may choose from, if the file says.
    optimize: Option<OptimizeSpec>,
    /// What energy costs, for an owned fleet (`[energy]`).
    energy: Option<crate::fleet::EnergySpec>,
    /// The GPU profiles the scenario uses, as it names them.
    profiles: Vec<String>,
    /// Training jobs and a shared cluster (`[training]`).
    training: Option<training_spec::TrainingSpec>,
    /// The bill beyond GPU-hours (`[costs]`).
    costs: Option<costs_spec::CostsSpec>,
    /// The text and edits it was validated from ([`Scenario::apply`]); `None` when built in
    /// code.
    origin: Option<std::sync::Arc<Origin>>,
}

/// Read-only views of a validated scenario: it changes only through [`Scenario::apply`] (typed
/// edits, validated again) or [`Scenario::slice`].
impl Scenario {
    pub fn name(&self) -> &String {
        &self.name
    }

    pub fn description(&self) -> &Option<String> {
        &self.description
    }

    pub fn path(&self) -> &Option<PathBuf> {
        &self.path
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn start(&self) -> SimTime {
        self.start
    }

    pub fn horizon(&self) -> SimTime {
        self.horizon
    }

    pub fn warmup(&self) -> SimTime {
        self.warmup
    }

    pub fn interval(&self) -> SimTime {
        self.interval
    }

    pub fn workloads(&self) -> &Vec<Workload> {
        &self.workloads
    }

    pub fn pools(&self) -> &Vec<Pool> {
        &self.pools
    }

    pub fn catalog(&self) -> &String {
        &self.catalog
    }

    pub fn optimize(&self) -> &Option<OptimizeSpec> {
        &self.optimize
    }

    pub fn energy(&self) -> &Option<crate::fleet::EnergySpec> {
        &self.energy
    }

    pub fn profiles(&self) -> &Vec<String> {
        &self.profiles
    }

    pub fn training(&self) -> &Option<training_spec::TrainingSpec> {
        &self.training
    }

    pub fn costs(&self) -> &Option<costs_spec::CostsSpec> {
        &self.costs
    }

    pub fn origin(&self) -> &Option<std::sync::Arc<Origin>> {
        &self.origin
    }
}

impl Scenario {
    /// One workload on one pool (`pool.workload` must be 0), built in code from parts of a
    /// validated scenario: what the optimizer's capacity probes run. Its time series is one
    /// row; it has no file, so it cannot be edited.
    pub fn probe(
        name: String,
        seed: u64,
        horizon: SimTime,
        warmup: SimTime,
        workload: Workload,
        pool: Pool,
        catalog: &str,
    ) -> Scenario {
        assert_eq!(pool.workload, 0, "a probe's pool serves its one workload");
        Scenario {
            name,
            description: None,
            path: None,
            seed,
            start: SimTime::ZERO,
            horizon,
            warmup,
            interval: horizon,
            workloads: vec![workload],
            pools: vec![pool],
            catalog: catalog.to_string(),
            optimize: None,
            energy: None,
            profiles: Vec::new(),
            training: None,
            costs: None,
            origin: None,
        }
    }

    /// The same scenario, saved at (or loaded from) `path`: where it lives, not what it says.
    pub fn at_path(mut self, path: PathBuf) -> Scenario {
        self.path = Some(path);
        self
    }

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
    /// The OS's reason is in the message, not a source, so that a chain of errors says it once.
    #[error("cannot read scenario {path}: {error}")]
    Io { path: String, error: std::io::Error },
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

/// The text of the scenario file at `path`: text that is not UTF-8 is an error at the line and
/// column of its first bad byte.
pub fn read_text(path: &Path) -> Result<String, LoadError> {
    let name = path.display().to_string();
    let bytes = crate::data_file::read_bytes(path).map_err(|error| LoadError::Io {
        path: name.clone(),
        error,
    })?;
    crate::data_file::utf8(bytes).map_err(|e| LoadError::Invalid {
        diagnostics: vec![Diagnostic {
            location: format!("{name}:{}:{}", e.line, e.column),
            message: e.message(),
            snippet: None,
        }],
    })
}

/// Loads and validates the scenario at `path`, applying `--set KEY=VALUE` overrides.
pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario, LoadError> {
    let text = read_text(path)?;
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
