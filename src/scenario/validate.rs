//! From the raw file to a [`Scenario`]: every check, every problem reported at once.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use crate::scenario::spanned::Spanned;
use toml::de::{DeTable, DeValue};

use super::raw;
use super::source::{Diagnostic, Source, deserialize};
use super::{Scenario, VERSION};
use crate::fleet::{Pool, ServiceModel};
use crate::pricing::{Catalog, DEFAULT_RESERVED_DISCOUNT};
use crate::units::SimTime;

mod cluster;
mod costs;
mod gpu;
mod interruptions;
mod llm;
mod optimize;
mod pool;
mod provisioning;
mod scaling;
mod service;
mod tokens;
mod training;
mod workload;

/// Most rows a time series may have, so a tiny `interval` cannot exhaust memory.
const MAX_INTERVALS: u64 = 1_000_000;
/// Largest batch a replica may take.
const MAX_BATCH: i64 = 1 << 16;
/// Most replicas a pool may have: a replica's state is 0.3-1 KB, so 100,000 of them stay under
/// 100 MB, and a typo of a few zeros is an error rather than an allocation that fails.
pub(crate) const MAX_REPLICAS: u32 = 100_000;
/// Highest arrival rate of a workload, requests per second (a million is more than any one
/// fleet takes; above about 2e9 the gaps between arrivals round to zero nanoseconds).
const MAX_RATE: f64 = 1e6;
/// Longest horizon: ten years of simulated time (the longest duration a file may write).
const MAX_HORIZON: SimTime = raw::MAX_DURATION;

type Entry<T> = (Spanned<String>, T);
/// Service profiles of a model, by GPU model.
/// `None` marks a profile that is in the file but invalid (already reported).
type Profiles = Vec<(String, Option<ServiceModel>)>;

/// A validated model.
enum ModelKind {
    /// Request-level service profiles, per GPU model.
    Requests(Profiles),
    /// An LLM served at token level.
    Llm(Box<LlmModel>),
}

/// An LLM model entry: what a pool needs to build its replicas.
struct LlmModel {
    variant: crate::llm::Variant,
    settings: crate::llm::Settings,
    efficiency: crate::llm::Efficiency,
    /// Measured iteration tables, with where the scenario names each.
    tables: Vec<(
        std::ops::Range<usize>,
        std::sync::Arc<crate::llm::IterationTable>,
    )>,
}

/// A model's name and, if it validated, what it is.
type ModelEntry = (Spanned<String>, Option<ModelKind>);

pub(super) fn scenario(src: &Source, base: &Path) -> Result<Scenario, Vec<Diagnostic>> {
    let mut c = Checker {
        src,
        gpus: crate::llm::GpuCatalog::bundled(),
        tree: DeTable::new(),
        problems: Vec::new(),
        profiles: Vec::new(),
    };
    let (root, syntax) = DeTable::parse_recoverable(src.text());
    if !syntax.is_empty() {
        for e in syntax {
            c.toml_error(&e);
        }
        return Err(c.into_problems());
    }
    let root_span = root.span();
    let mut root = root.into_inner();
    let override_problems = src.apply_overrides(&mut root);
    if !override_problems.is_empty() {
        return Err(override_problems);
    }
    c.tree = root.clone();

    let gpus_raw = c.section::<raw::Gpu>(&mut root, "gpus");
    c.gpus(gpus_raw);
    let models_raw = c.section::<raw::Model>(&mut root, "models");
    let workloads_raw = c.section::<raw::Workload>(&mut root, "workloads");
    let pools_raw = c.section::<raw::Pool>(&mut root, "pools");
    let top = match deserialize::<raw::Top>(toml::Spanned::new(
        root_span.clone(),
        DeValue::Table(root),
    )) {
        Ok(top) => Some(top),
        Err(e) => {
            c.toml_error(&e);
            None
        }
    };

    let settings = top
        .as_ref()
        .map(|t| c.settings(t, base, !workloads_raw.is_empty()));
    let catalog = settings
        .as_ref()
        .and_then(|s| s.catalog.clone())
        .unwrap_or_else(Catalog::bundled);
    let reserved_discount = settings
        .as_ref()
        .map_or(DEFAULT_RESERVED_DISCOUNT, |s| s.reserved_discount);

    // GPU models a service profile may name: the catalog's and the inline instances'.
    let mut gpu_models: BTreeSet<String> =
        catalog.rows().iter().map(|r| r.gpu_model.clone()).collect();
    for (_, p) in &pools_raw {
        if let Some(p) = p
            && let Some(i) = &p.instance
        {
            gpu_models.insert(i.get_ref().gpu_model.get_ref().clone());
        }
    }

    let models: Vec<ModelEntry> = models_raw
        .into_iter()
        .map(|(name, m)| {
            let kind = m.and_then(|m| c.model(name.get_ref(), &m, &gpu_models, base));
            (name, kind)
        })
        .collect();
    // A training-only scenario serves nothing.
    let trains = top.as_ref().is_some_and(|t| t.training.is_some());
    if models.is_empty() && !trains && !c.has_problems() {
        c.error(
            root_span.start..root_span.start,
            "the scenario has no models; add a [models.NAME] table with its service times per GPU",
        );
    }

    let mut workloads = Vec::new();
    for (name, w) in &workloads_raw {
        let Some(w) = w else { continue };
        if let Some(w) = c.workload(name, w, &models, base) {
            workloads.push(w);
        }
    }
    if workloads_raw.is_empty() && !trains && !c.has_problems() {
        c.error(root_span.start..root_span.start, "the scenario has no workloads; add a [workloads.NAME] table with a model and an arrival process");
    }

    let mut pools = Vec::new();
    for (name, p) in &pools_raw {
        let Some(p) = p else { continue };
        if let Some(pool) = c.pool(
            name,
            p,
            &workloads_raw,
            &workloads,
            &models,
            &catalog,
            reserved_discount,
            None,
        ) {
            pools.push(pool);
        }
    }
    if !c.has_problems() {
        c.fallback_pools(&mut pools, &pools_raw);
    }
    if !c.has_problems() {
        for (i, (name, _)) in workloads_raw.iter().enumerate() {
            let serving: Vec<&Pool> = pools.iter().filter(|p| p.workload == i).collect();
            if serving.is_empty() {
                c.error(
                    name.span(),
                    format!(
                        "no pool serves workload {:?}; add a [pools.NAME] table with workload = {:?}",
                        name.get_ref(),
                        name.get_ref()
                    ),
                );
            } else if serving.iter().all(|p| p.max_replicas() == 0) {
                c.error(
                    name.span(),
                    format!(
                        "the pools serving workload {:?} have no replicas; set `replicas` on at least one",
                        name.get_ref()
                    ),
                );
            }
        }
    }

    let optimize = top
        .as_ref()
        .and_then(|t| t.optimize.as_ref())
        .and_then(|o| {
            c.optimize(
                o,
                &workloads_raw,
                &workloads,
                &models,
                &catalog,
                reserved_discount,
            )
        });

    let training = top
        .as_ref()
        .and_then(|t| t.training.as_ref())
        .and_then(|t| c.training(t, &catalog, reserved_discount, &pools, base));
    let costs = top
        .as_ref()
        .and_then(|t| t.costs.as_ref())
        .and_then(|k| c.costs(k));

    if c.has_problems() {
        return Err(c.into_problems());
    }
    let (top, settings) = (top.expect("no problems"), settings.expect("no problems"));
    Ok(Scenario {
        name: top.name.clone().unwrap_or_else(|| {
            Path::new(src.name()).file_stem().map_or_else(
                || src.name().to_string(),
                |s| s.to_string_lossy().into_owned(),
            )
        }),
        description: top.description,
        path: None,
        seed: settings.seed,
        start: SimTime::ZERO,
        horizon: settings.horizon,
        warmup: settings.warmup,
        interval: settings.interval,
        workloads,
        pools,
        catalog: catalog.name().to_string(),
        optimize,
        energy: settings.energy,
        profiles: c.profiles.iter().map(|(p, _)| p.clone()).collect(),
        training,
        costs,
        origin: None,
    })
}

struct Settings {
    seed: u64,
    horizon: SimTime,
    warmup: SimTime,
    interval: SimTime,
    catalog: Option<Catalog>,
    reserved_discount: f64,
    energy: Option<crate::fleet::EnergySpec>,
}

struct Checker<'s> {
    src: &'s Source,
    /// GPU specifications, for LLM pools.
    gpus: crate::llm::GpuCatalog,
    /// The whole document, for naming the key a serde error points at.
    tree: DeTable<'s>,
    /// Problems with the byte offset they point at, for reporting in file order.
    problems: Vec<(usize, Diagnostic)>,
    /// Calibrated GPU profiles, by the path the scenario wrote.
    profiles: Vec<(String, crate::profile::Profile)>,
}

impl Checker<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.problems
            .push((span.start, self.src.diagnostic(Some(span), message)));
    }

    /// Every problem, in the order of the file, then of the overrides.
    fn into_problems(mut self) -> Vec<Diagnostic> {
        self.problems.sort_by_key(|(offset, _)| *offset);
        self.problems.dedup_by(|a, b| a.1 == b.1);
        self.problems.into_iter().map(|(_, d)| d).collect()
    }

    fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }

    fn toml_error(&mut self, e: &toml::de::Error) {
        let span = e.span().unwrap_or(0..0);
        let mut path = Vec::new();
        key_path(&self.tree, span.start, &mut path);
        let message = plain_message(e.message().trim_end(), &path);
        self.problems
            .push((span.start, self.src.diagnostic(Some(span), message)));
    }

    /// Takes a table of named entries (`[pools.NAME]`) out of the root and deserializes each one
    /// on its own, so a problem in one entry does not hide problems in the others.
    fn section<T: serde::de::DeserializeOwned>(
        &mut self,
        root: &mut DeTable<'_>,
        key: &str,
    ) -> Vec<Entry<Option<T>>> {
        let Some((_, value)) = root.remove_entry(key) else {
            return Vec::new();
        };
        let span = value.span();
        let DeValue::Table(table) = value.into_inner() else {
            self.error(
                span,
                format!("`{key}` must be a table of named entries, e.g. [{key}.NAME]"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, value) in table {
            let name = Spanned::new(name.span(), name.into_inner().into_owned());
            if name.get_ref().trim().is_empty() {
                self.error(
                    name.span(),
                    format!("an entry of `{key}` has an empty name"),
                );
            }
            let entry = match deserialize::<T>(value) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.toml_error(&e);
                    None
                }
            };
            out.push((name, entry));
        }
        out
    }

    /// `serves`: the scenario has workloads (and so needs a horizon).
    fn settings(&mut self, top: &raw::Top, base: &Path, serves: bool) -> Settings {
        if *top.version.get_ref() != VERSION {
            self.error(
                top.version.span(),
                format!(
                    "this headroom reads scenario version {VERSION}, the file says version = {}",
                    top.version.get_ref()
                ),
            );
        }
        let seed = match &top.seed {
            Some(s) if *s.get_ref() < 0 => {
                self.error(
                    s.span(),
                    format!("seed must be a whole number >= 0, got {}", s.get_ref()),
                );
                0
            }
            Some(s) => *s.get_ref() as u64,
            None => 0,
        };
        // Serving needs a horizon; a scenario that only trains may leave it out.
        let horizon = top
            .horizon
            .as_ref()
            .map_or(SimTime::from_secs(3600), |h| h.get_ref().0);
        match &top.horizon {
            Some(h) if horizon == SimTime::ZERO => {
                self.error(h.span(), "horizon must be longer than zero, e.g. \"1h\"");
            }
            Some(h) if horizon > MAX_HORIZON => {
                self.error(
                    h.span(),
                    format!("horizon is at most {MAX_HORIZON} (ten years), got {horizon}"),
                );
            }
            None if serves => {
                self.error(
                    0..0,
                    "the scenario serves workloads but has no `horizon`; add e.g. horizon = \"24h\"",
                );
            }
            _ => {}
        }
        let warmup = top.warmup.as_ref().map_or(SimTime::ZERO, |w| w.get_ref().0);
        if let (Some(w), None) = (&top.warmup, &top.horizon) {
            self.error(
                w.span(),
                "`warmup` is part of the `horizon`; add a horizon, e.g. \"24h\"",
            );
        } else if let Some(w) = &top.warmup
            && warmup >= horizon
            && horizon > SimTime::ZERO
        {
            self.error(
                w.span(),
                format!(
                    "warmup ({warmup}) must be shorter than the horizon ({horizon}): nothing would be measured"
                ),
            );
        }
        let interval = top
            .interval
            .as_ref()
            .map_or(SimTime::from_secs(60), |i| i.get_ref().0);
        if let Some(i) = &top.interval {
            if interval == SimTime::ZERO {
                self.error(i.span(), "interval must be longer than zero, e.g. \"1m\"");
            } else if horizon.0 / interval.0 > MAX_INTERVALS {
                self.error(
                    i.span(),
                    format!(
                        "interval {interval} gives more than {MAX_INTERVALS} rows over {horizon}; use at least {}",
                        SimTime(horizon.0.div_ceil(MAX_INTERVALS))
                    ),
                );
            }
        }
        let mut catalog = None;
        let mut reserved_discount = DEFAULT_RESERVED_DISCOUNT;
        if let Some(p) = &top.pricing {
            if let Some(path) = &p.catalog {
                match Catalog::from_path(&base.join(path.get_ref())) {
                    Ok(c) => catalog = Some(c),
                    Err(e) => self.error(path.span(), e.to_string()),
                }
            }
            if let Some(d) = &p.reserved_discount {
                reserved_discount = self.discount(d);
            }
        }
        for path in top.profiles.iter().flatten() {
            match crate::profile::Profile::read(&base.join(path.get_ref())) {
                Ok(p) => self.profiles.push((path.get_ref().clone(), p)),
                Err(e) => self.error(path.span(), e.to_string()),
            }
        }
        let energy = top.energy.as_ref().map(|e| self.energy(e.get_ref()));
        Settings {
            seed,
            horizon,
            warmup,
            interval,
            catalog,
            reserved_discount,
            energy,
        }
    }

    fn energy(&mut self, e: &raw::Energy) -> crate::fleet::EnergySpec {
        let mut nonneg = |v: &Spanned<f64>, field: &str| {
            let x = *v.get_ref();
            if !(x.is_finite() && x >= 0.0) {
                self.error(
                    v.span(),
                    format!("`{field}` must be a number >= 0, got {x}"),
                );
            }
            x
        };
        let price_per_kwh = nonneg(&e.price_per_kwh, "price_per_kwh");
        let carbon_kg_per_kwh = e
            .carbon_kg_per_kwh
            .as_ref()
            .map(|c| nonneg(c, "carbon_kg_per_kwh"));
        let pue = match &e.pue {
            Some(p) if !(p.get_ref().is_finite() && *p.get_ref() >= 1.0) => {
                self.error(
                    p.span(),
                    format!(
                        "`pue` is facility energy over IT energy, at least 1 (e.g. 1.2); got {}",
                        p.get_ref()
                    ),
                );
                1.0
            }
            Some(p) => *p.get_ref(),
            None => 1.0,
        };
        crate::fleet::EnergySpec {
            price_per_kwh,
            carbon_kg_per_kwh,
            pue,
            owned: e.owned.unwrap_or(false),
        }
    }

    fn discount(&mut self, d: &Spanned<f64>) -> f64 {
        let v = *d.get_ref();
        if !(0.0..1.0).contains(&v) {
            self.error(
                d.span(),
                format!("reserved_discount is a fraction of the on-demand price in [0, 1), e.g. 0.4 for 40 % off; got {v}"),
            );
            return DEFAULT_RESERVED_DISCOUNT;
        }
        v
    }

    fn unused<T>(&mut self, v: &Option<Spanned<T>>, field: &str, kind: &str) {
        if let Some(v) = v {
            self.error(
                v.span(),
                format!("`{field}` does not apply to kind {kind:?}; remove it"),
            );
        }
    }

    fn positive(&mut self, v: &Spanned<f64>, field: &str) -> Option<f64> {
        let x = *v.get_ref();
        if x.is_finite() && x > 0.0 {
            Some(x)
        } else {
            self.error(
                v.span(),
                format!("`{field}` must be greater than zero, got {x}"),
            );
            None
        }
    }

    /// A number in `[lo, hi]`.
    fn within(&mut self, v: &Spanned<f64>, field: &str, lo: f64, hi: f64) -> Option<f64> {
        let x = *v.get_ref();
        if x >= lo && x <= hi {
            Some(x)
        } else {
            self.error(
                v.span(),
                format!("`{field}` must be from {lo:e} to {hi:e}, got {x}"),
            );
            None
        }
    }

    /// A rate of arrivals, in (0, [`MAX_RATE`]] requests per second.
    fn rate(&mut self, v: &Spanned<f64>, field: &str) -> Option<f64> {
        let x = self.positive(v, field)?;
        if x > MAX_RATE {
            self.error(
                v.span(),
                format!("`{field}` is at most {MAX_RATE:.0e} requests per second, got {x:e}"),
            );
            return None;
        }
        Some(x)
    }

    fn required<'a, T>(
        &mut self,
        v: &'a Option<Spanned<T>>,
        at: &Range<usize>,
        message: String,
    ) -> Option<&'a Spanned<T>> {
        if v.is_none() {
            self.error(at.clone(), message);
        }
        v.as_ref()
    }
}

/// serde's wording, in the scenario's terms: `expected f64` is "expected a number", the message
/// names the key (`path`, where the error points), and an unknown field suggests the closest known
/// one instead of listing them all.
fn plain_message(message: &str, path: &[String]) -> String {
    let m = message
        .replace("expected f64", "expected a number")
        .replace("expected i64", "expected a whole number")
        .replace("expected u64", "expected a whole number >= 0")
        .replace("expected a sequence", "expected an array");
    let Some((field, tail)) = m
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
    else {
        return if path.is_empty() {
            m
        } else {
            format!("`{}`: {m}", path.join("."))
        };
    };
    let within = match path.split_last() {
        Some((_, parent)) if !parent.is_empty() => format!(" in `{}`", parent.join(".")),
        _ => String::new(),
    };
    let known: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    let best = known
        .iter()
        .map(|k| (strsim::jaro_winkler(field, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, k)) => format!("unknown field `{field}`{within}; did you mean `{k}`?"),
        None => format!(
            "unknown field `{field}`{within}; expected one of {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The dotted path of the key or value at byte `offset` of the document, into `path`.
fn key_path(table: &DeTable<'_>, offset: usize, path: &mut Vec<String>) -> bool {
    for (key, value) in table {
        path.push(key.get_ref().to_string());
        if key.span().contains(&offset) || value_path(value, offset, path) {
            return true;
        }
        path.pop();
    }
    false
}

fn value_path(value: &toml::Spanned<DeValue<'_>>, offset: usize, path: &mut Vec<String>) -> bool {
    match value.get_ref() {
        DeValue::Table(t) => key_path(t, offset, path) || value.span().contains(&offset),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let mut inner = Vec::new();
                if value_path(item, offset, &mut inner) {
                    if let Some(last) = path.last_mut() {
                        last.push_str(&format!("[{i}]"));
                    }
                    path.extend(inner);
                    return true;
                }
            }
            value.span().contains(&offset)
        }
        _ => value.span().contains(&offset),
    }
}
