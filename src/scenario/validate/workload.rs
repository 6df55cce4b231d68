//! Workloads: model, arrival process, dispatch and SLO.

use std::ops::Range;
use std::path::Path;

use crate::scenario::spanned::Spanned;

use super::{Checker, LlmModel, ModelEntry, ModelKind};
use crate::scenario::raw;
use crate::units::SimTime;
use crate::workload::{
    Arrival, DailyShape, Dispatch, Policy, Slo, TimeUnit, TokenSpec, TraceSpec, Workload,
    trace::TraceReader,
};

impl Checker<'_> {
    pub(super) fn workload(
        &mut self,
        name: &Spanned<String>,
        w: &raw::Workload,
        models: &[ModelEntry],
        base: &Path,
    ) -> Option<Workload> {
        let before = self.problems.len();
        if !models.iter().any(|(m, _)| m.get_ref() == w.model.get_ref()) {
            let known: Vec<&str> = models.iter().map(|(m, _)| m.get_ref().as_str()).collect();
            self.error(
                w.model.span(),
                format!(
                    "no model named {:?}; models are: {}",
                    w.model.get_ref(),
                    if known.is_empty() {
                        "(none)".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
        let arrival = self.arrival(&w.arrival, base);
        let tokens = w.tokens.as_ref().and_then(|t| self.tokens(t));
        let llm = models
            .iter()
            .find(|(m, _)| m.get_ref() == w.model.get_ref())
            .and_then(|(_, k)| match k {
                Some(ModelKind::Llm(l)) => Some(l.as_ref()),
                _ => None,
            });
        let is_llm = llm.is_some();
        // A model that failed validation (its errors already reported) is neither kind: nothing
        // here is judged by a kind it may not have.
        let kind_known = models
            .iter()
            .find(|(m, _)| m.get_ref() == w.model.get_ref())
            .is_some_and(|(_, k)| k.is_some());
        let mut dispatch = self.dispatch(w.dispatch.as_ref());
        let policy_span = w
            .dispatch
            .as_ref()
            .and_then(|d| d.policy.as_ref())
            .map(Spanned::span);
        match (is_llm, dispatch.policy, policy_span) {
            // LLM replicas keep their own queues; by default requests go where the least work is.
            (true, Policy::SharedQueue, None) => dispatch.policy = Policy::LeastOutstanding,
            (true, Policy::SharedQueue, Some(at)) => self.error(
                at,
                "LLM replicas schedule their own queues: use round-robin, least-outstanding, power-of-two or prefix-aware",
            ),
            (false, Policy::PrefixAware, Some(at)) if kind_known => self.error(
                at,
                "prefix-aware routing needs an LLM model (with prompt-prefix hashes in its trace)",
            ),
            _ => {}
        }
        if let (Some(llm), Some(arrival)) = (llm, &arrival) {
            self.llm_workload(name, w, arrival, tokens.as_ref(), llm);
        }
        if let Some(Arrival::Closed { .. }) = &arrival
            && !is_llm
            && kind_known
        {
            self.error(
                w.arrival.get_ref().kind.span(),
                "a closed arrival (a load generator's fixed concurrency) applies to LLM workloads; use poisson or batch",
            );
        }
        let slo = w
            .slo
            .as_ref()
            .and_then(|s| self.slo(s, is_llm || !kind_known));
        if self.problems.len() > before {
            return None;
        }
        Some(Workload {
            name: name.get_ref().clone(),
            model: w.model.get_ref().clone(),
            arrival: arrival?,
            tokens,
            dispatch,
            slo,
            stream: w
                .arrival
                .get_ref()
                .stream
                .as_ref()
                .map_or_else(|| name.get_ref().clone(), |s| s.get_ref().clone()),
        })
    }

    fn slo(&mut self, s: &Spanned<raw::Slo>, is_llm: bool) -> Option<Slo> {
        let span = s.span();
        let s = s.get_ref();
        let target =
            |c: &mut Self, v: &Option<Spanned<raw::Duration>>, field: &str, llm_only: bool| {
                let v = v.as_ref()?;
                if v.get_ref().0 == SimTime::ZERO {
                    c.error(v.span(), format!("`{field}` must be longer than zero"));
                    return None;
                }
                if llm_only && !is_llm {
                    c.error(
                        v.span(),
                        format!("`{field}` applies to LLM workloads (a model with `architecture`)"),
                    );
                    return None;
                }
                Some(v.get_ref().0)
            };
        let slo = Slo {
            p99: target(self, &s.p99, "p99", false),
            ttft_p99: target(self, &s.ttft_p99, "ttft_p99", true),
            tpot_p99: target(self, &s.tpot_p99, "tpot_p99", true),
        };
        if s.p99.is_none() && s.ttft_p99.is_none() && s.tpot_p99.is_none() {
            self.error(
                span,
                "an SLO needs at least one target: p99 (end to end), ttft_p99 or tpot_p99",
            );
            return None;
        }
        Some(slo)
    }

    /// An LLM workload needs token counts for every request, and prefix blocks that are whole
    /// KV-cache blocks.
    fn llm_workload(
        &mut self,
        name: &Spanned<String>,
        w: &raw::Workload,
        arrival: &Arrival,
        tokens: Option<&TokenSpec>,
        llm: &LlmModel,
    ) {
        let trace = match arrival {
            Arrival::Trace(t) => Some(t),
            _ => None,
        };
        for (which, column, dist) in [
            (
                "input",
                trace.and_then(|t| t.input_tokens_column.as_ref()),
                tokens.and_then(|t| t.input.as_ref()),
            ),
            (
                "output",
                trace.and_then(|t| t.output_tokens_column.as_ref()),
                tokens.and_then(|t| t.output.as_ref()),
            ),
        ] {
            if column.is_none() && dist.is_none() {
                self.error(
                    w.model.span(),
                    format!(
                        "workload {:?} serves an LLM, so each request needs {which} tokens: set `{which}_tokens_column` of a trace, or [workloads.{}.tokens] {which} = {{ kind = ... }}",
                        name.get_ref(),
                        name.get_ref()
                    ),
                );
            }
        }
        if let Some(t) = trace
            && t.prefix_column.is_some()
            && t.prefix_block_tokens % llm.settings.block_tokens != 0
        {
            let at = w
                .arrival
                .get_ref()
                .prefix_block_tokens
                .as_ref()
                .map_or(w.arrival.span(), Spanned::span);
            self.error(
                at,
                format!(
                    "prefix blocks of {} tokens must be whole KV-cache blocks of {} tokens (the model's block_tokens)",
                    t.prefix_block_tokens, llm.settings.block_tokens
                ),
            );
        }
    }

    pub(super) fn dispatch(&mut self, d: Option<&raw::Dispatch>) -> Dispatch {
        let mut out = Dispatch {
            policy: Policy::SharedQueue,
            queue_capacity: None,
            timeout: None,
        };
        let Some(d) = d else { return out };
        if let Some(p) = &d.policy {
            match Policy::parse(p.get_ref()) {
                Some(policy) => out.policy = policy,
                None => self.error(
                    p.span(),
                    format!(
                        "unknown dispatch policy {:?}; expected one of {}",
                        p.get_ref(),
                        Policy::ALL.map(Policy::as_str).join(", ")
                    ),
                ),
            }
        }
        if let Some(q) = &d.queue_capacity {
            match u32::try_from(*q.get_ref()) {
                Ok(v) => out.queue_capacity = Some(v),
                Err(_) => self.error(
                    q.span(),
                    format!(
                        "queue_capacity must be a whole number >= 0, got {}",
                        q.get_ref()
                    ),
                ),
            }
        }
        if let Some(t) = &d.timeout {
            if t.get_ref().0 == SimTime::ZERO {
                self.error(
                    t.span(),
                    "timeout must be longer than zero (leave it out for no timeout)",
                );
            } else {
                out.timeout = Some(t.get_ref().0);
            }
        }
        out
    }

    pub(super) fn arrival(&mut self, a: &Spanned<raw::Arrival>, base: &Path) -> Option<Arrival> {
        let a = a.get_ref();
        let kind = a.kind.get_ref().as_str();
        let at = a.kind.span();
        match kind {
            "poisson" => {
                self.not_for(a, kind, &["rate"]);
                let rate = self.required(
                    &a.rate,
                    &at,
                    "a poisson arrival needs `rate` (requests per second)".into(),
                )?;
                Some(Arrival::Poisson {
                    rate: self.rate(rate, "rate")?,
                })
            }
            "diurnal" => {
                self.not_for(
                    a,
                    kind,
                    &[
                        "rate",
                        "peak_rate",
                        "weekend",
                        "peak_to_trough",
                        "peak_hour",
                        "hourly",
                    ],
                );
                // The mean over the day, or the rate at the day's peak.
                let level = match (&a.rate, &a.peak_rate) {
                    (Some(r), None) => self.rate(r, "rate").map(|r| (r, false)),
                    (None, Some(p)) => self.rate(p, "peak_rate").map(|p| (p, true)),
                    (Some(_), Some(p)) => {
                        self.error(p.span(), "give either `rate` (the mean over a day) or `peak_rate` (the rate at the peak hour), not both");
                        None
                    }
                    (None, None) => {
                        self.error(at.clone(), "a diurnal arrival needs `rate` (the mean over a day, requests per second) or `peak_rate` (the rate at its peak)");
                        None
                    }
                };
                let weekend = match &a.weekend {
                    None => Some(1.0),
                    Some(w) if w.get_ref().is_finite() && (0.0..=100.0).contains(w.get_ref()) => {
                        Some(*w.get_ref())
                    }
                    Some(w) => {
                        self.error(w.span(), format!("`weekend` is the weekend's rate as a multiple of a weekday's, from 0 to 100; got {}", w.get_ref()));
                        None
                    }
                };
                let shape = match (&a.hourly, &a.peak_to_trough, &a.peak_hour) {
                    (Some(h), None, None) => self.hourly(h),
                    (None, Some(r), p) => {
                        let ratio = *r.get_ref();
                        let ratio = if ratio.is_finite() && ratio >= 1.0 {
                            Some(ratio)
                        } else {
                            self.error(r.span(), format!("peak_to_trough must be >= 1 (peak rate / trough rate), got {ratio}"));
                            None
                        };
                        let peak = match p {
                            None => Some(14.0),
                            Some(p) if (0.0..24.0).contains(p.get_ref()) => Some(*p.get_ref()),
                            Some(p) => {
                                self.error(
                                    p.span(),
                                    format!("peak_hour must be in [0, 24), got {}", p.get_ref()),
                                );
                                None
                            }
                        };
                        Some(DailyShape::Sinusoid {
                            peak_to_trough: ratio?,
                            peak_hour: peak?,
                        })
                    }
                    (Some(h), _, _) => {
                        self.error(
                            h.span(),
                            "give either `hourly` or `peak_to_trough` (with `peak_hour`), not both",
                        );
                        None
                    }
                    (None, None, Some(p)) => {
                        self.error(p.span(), "`peak_hour` needs `peak_to_trough`");
                        None
                    }
                    (None, None, None) => {
                        self.error(at.clone(), "a diurnal arrival needs a daily shape: `peak_to_trough` and `peak_hour`, or `hourly` (24 multipliers)");
                        None
                    }
                };
                let shape = shape?;
                let rate = match level? {
                    (peak, true) => peak / shape.peak(),
                    (mean, false) => mean,
                };
                Some(Arrival::Diurnal {
                    rate,
                    shape,
                    weekend: weekend?,
                })
            }
            "bursty" => {
                self.not_for(
                    a,
                    kind,
                    &["calm_rate", "burst_rate", "calm_duration", "burst_duration"],
                );
                let calm = self
                    .required(
                        &a.calm_rate,
                        &at,
                        "a bursty arrival needs `calm_rate`".into(),
                    )
                    .and_then(|r| {
                        let v = *r.get_ref();
                        if v == 0.0 {
                            Some(v)
                        } else if v > 0.0 {
                            self.rate(r, "calm_rate")
                        } else {
                            self.error(r.span(), format!("calm_rate must be >= 0, got {v}"));
                            None
                        }
                    });
                let burst = self
                    .required(
                        &a.burst_rate,
                        &at,
                        "a bursty arrival needs `burst_rate`".into(),
                    )
                    .and_then(|r| self.rate(r, "burst_rate"));
                let dur = |c: &mut Self, d: &Option<Spanned<raw::Duration>>, field: &str| {
                    let d = c.required(d, &at, format!("a bursty arrival needs `{field}` (mean length of each period, e.g. \"5m\")"))?;
                    if d.get_ref().0 == SimTime::ZERO {
                        c.error(d.span(), format!("`{field}` must be longer than zero"));
                        return None;
                    }
                    Some(d.get_ref().0)
                };
                let calm_mean = dur(self, &a.calm_duration, "calm_duration");
                let burst_mean = dur(self, &a.burst_duration, "burst_duration");
                Some(Arrival::Bursty {
                    calm_rate: calm?,
                    burst_rate: burst?,
                    calm_mean: calm_mean?,
                    burst_mean: burst_mean?,
                })
            }
            "batch" => {
                self.not_for(a, kind, &["count", "at"]);
                let count = self.required(
                    &a.count,
                    &at,
                    "a batch arrival needs `count` (requests)".into(),
                )?;
                let n = *count.get_ref();
                if !(1..=100_000_000).contains(&n) {
                    self.error(
                        count.span(),
                        format!("`count` must be from 1 to 100000000 requests, got {n}"),
                    );
                    return None;
                }
                Some(Arrival::Batch {
                    count: n as u64,
                    at: a.at.as_ref().map_or(SimTime::ZERO, |t| t.get_ref().0),
                })
            }
            "closed" => {
                self.not_for(a, kind, &["count", "concurrency"]);
                let mut number = |v: &Option<Spanned<i64>>, field: &str, what: &str| {
                    let v = self.required(
                        v,
                        &at,
                        format!("a closed arrival needs `{field}` ({what})"),
                    )?;
                    let n = *v.get_ref();
                    if !(1..=100_000_000).contains(&n) {
                        self.error(
                            v.span(),
                            format!("`{field}` must be from 1 to 100000000, got {n}"),
                        );
                        return None;
                    }
                    Some(n as u64)
                };
                let count = number(&a.count, "count", "requests in all");
                let concurrency = number(&a.concurrency, "concurrency", "requests in flight");
                Some(Arrival::Closed {
                    concurrency: concurrency?,
                    count: count?,
                })
            }
            "trace" => {
                self.not_for(
                    a,
                    kind,
                    &[
                        "path",
                        "time_column",
                        "time_unit",
                        "time_scale",
                        "rate_multiplier",
                        "service_time_column",
                        "service_time_unit",
                        "input_tokens_column",
                        "output_tokens_column",
                        "prefix_column",
                        "prefix_block_tokens",
                    ],
                );
                self.trace(a, &at, base).map(Arrival::Trace)
            }
            other => {
                self.error(at, format!("unknown arrival kind {other:?}; expected one of poisson, diurnal, bursty, trace, batch, closed"));
                None
            }
        }
    }

    /// Errors for every field of `a` that is set but not in `allowed` for `kind`.
    pub(super) fn not_for(&mut self, a: &raw::Arrival, kind: &str, allowed: &[&str]) {
        let spans: [(&str, Option<Range<usize>>); 24] = [
            ("rate", a.rate.as_ref().map(Spanned::span)),
            ("peak_rate", a.peak_rate.as_ref().map(Spanned::span)),
            ("weekend", a.weekend.as_ref().map(Spanned::span)),
            (
                "peak_to_trough",
                a.peak_to_trough.as_ref().map(Spanned::span),
            ),
            ("peak_hour", a.peak_hour.as_ref().map(Spanned::span)),
            ("hourly", a.hourly.as_ref().map(Spanned::span)),
            ("calm_rate", a.calm_rate.as_ref().map(Spanned::span)),
            ("burst_rate", a.burst_rate.as_ref().map(Spanned::span)),
            ("calm_duration", a.calm_duration.as_ref().map(Spanned::span)),
            (
                "burst_duration",
                a.burst_duration.as_ref().map(Spanned::span),
            ),
            ("path", a.path.as_ref().map(Spanned::span)),
            ("time_column", a.time_column.as_ref().map(Spanned::span)),
            ("time_unit", a.time_unit.as_ref().map(Spanned::span)),
            ("time_scale", a.time_scale.as_ref().map(Spanned::span)),
            (
                "rate_multiplier",
                a.rate_multiplier.as_ref().map(Spanned::span),
            ),
            (
                "service_time_column",
                a.service_time_column.as_ref().map(Spanned::span),
            ),
            (
                "service_time_unit",
                a.service_time_unit.as_ref().map(Spanned::span),
            ),
            (
                "input_tokens_column",
                a.input_tokens_column.as_ref().map(Spanned::span),
            ),
            (
                "output_tokens_column",
                a.output_tokens_column.as_ref().map(Spanned::span),
            ),
            ("prefix_column", a.prefix_column.as_ref().map(Spanned::span)),
            ("concurrency", a.concurrency.as_ref().map(Spanned::span)),
            (
                "prefix_block_tokens",
                a.prefix_block_tokens.as_ref().map(Spanned::span),
            ),
            ("count", a.count.as_ref().map(Spanned::span)),
            ("at", a.at.as_ref().map(Spanned::span)),
        ];
        for (field, span) in spans {
            if let Some(span) = span
                && !allowed.contains(&field)
            {
                self.error(
                    span,
                    format!("`{field}` does not apply to arrival kind {kind:?}; remove it"),
                );
            }
        }
    }

    pub(super) fn hourly(&mut self, h: &Spanned<Vec<f64>>) -> Option<DailyShape> {
        let v = h.get_ref();
        if v.len() != 24 {
            self.error(
                h.span(),
                format!(
                    "`hourly` needs 24 multipliers (one per hour from midnight), got {}",
                    v.len()
                ),
            );
            return None;
        }
        if v.iter().any(|x| !x.is_finite() || *x < 0.0) {
            self.error(h.span(), "hourly multipliers must be numbers >= 0");
            return None;
        }
        let sum: f64 = v.iter().sum();
        if sum <= 0.0 {
            self.error(
                h.span(),
                "at least one hourly multiplier must be above zero",
            );
            return None;
        }
        Some(DailyShape::Hourly(std::array::from_fn(|i| {
            v[i] * 24.0 / sum
        })))
    }

    pub(super) fn trace(
        &mut self,
        a: &raw::Arrival,
        at: &Range<usize>,
        base: &Path,
    ) -> Option<TraceSpec> {
        let path = self.required(
            &a.path,
            at,
            "a trace arrival needs `path` (a CSV file, relative to the scenario)".into(),
        );
        let column = self.required(
            &a.time_column,
            at,
            "a trace arrival needs `time_column` (the header of the timestamp column)".into(),
        );
        let unit = self
            .required(
                &a.time_unit,
                at,
                "a trace arrival needs `time_unit`: s, ms, us, ns or datetime".into(),
            )
            .and_then(|u| self.time_unit(u));
        let time_scale = a
            .time_scale
            .as_ref()
            .map_or(Some(1.0), |v| self.within(v, "time_scale", 1e-6, 1e6));
        let rate_multiplier = a
            .rate_multiplier
            .as_ref()
            .map_or(Some(1.0), |v| self.within(v, "rate_multiplier", 1e-6, 1e4));
        let service = match (&a.service_time_column, &a.service_time_unit) {
            (None, None) => Some(None),
            (Some(c), Some(u)) => self.time_unit(u).and_then(|unit| {
                if unit == TimeUnit::Datetime {
                    self.error(
                        u.span(),
                        "service_time_unit is a duration unit: s, ms, us or ns",
                    );
                    None
                } else {
                    Some(Some((c.get_ref().clone(), unit)))
                }
            }),
            (Some(c), None) => {
                self.error(
                    c.span(),
                    "`service_time_column` needs `service_time_unit` (s, ms, us or ns)",
                );
                None
            }
            (None, Some(u)) => {
                self.error(u.span(), "`service_time_unit` needs `service_time_column`");
                None
            }
        };
        let prefix_block_tokens = match &a.prefix_block_tokens {
            None => Some(512),
            Some(b) if (1..=1_048_576).contains(b.get_ref()) => Some(*b.get_ref() as u32),
            Some(b) => {
                self.error(
                    b.span(),
                    format!(
                        "prefix_block_tokens must be from 1 to 1048576, got {}",
                        b.get_ref()
                    ),
                );
                None
            }
        };
        if let (Some(b), None) = (&a.prefix_block_tokens, &a.prefix_column) {
            self.error(b.span(), "`prefix_block_tokens` needs `prefix_column`");
        }
        let (path, column, unit) = (path?, column?, unit?);
        let spec = TraceSpec {
            path: base.join(path.get_ref()),
            display: path.get_ref().clone(),
            time_column: column.get_ref().clone(),
            time_unit: unit,
            time_scale: time_scale?,
            rate_multiplier: rate_multiplier?,
            service_time_column: service?,
            input_tokens_column: a.input_tokens_column.as_ref().map(|c| c.get_ref().clone()),
            output_tokens_column: a.output_tokens_column.as_ref().map(|c| c.get_ref().clone()),
            prefix_column: a.prefix_column.as_ref().map(|c| c.get_ref().clone()),
            prefix_block_tokens: prefix_block_tokens?,
        };
        // Open it now: a missing file or column is a scenario error, found before simulating.
        if let Err(e) = TraceReader::for_spec(&spec) {
            // Point at the field that names the missing column, if that is the problem.
            let span = [
                Some(column),
                a.service_time_column.as_ref(),
                a.input_tokens_column.as_ref(),
                a.output_tokens_column.as_ref(),
                a.prefix_column.as_ref(),
            ]
            .into_iter()
            .flatten()
            .find(|c| {
                e.message
                    .starts_with(&format!("no column {:?}", c.get_ref()))
            })
            .map_or(path.span(), Spanned::span);
            self.error(span, e.to_string());
            return None;
        }
        Some(spec)
    }

    pub(super) fn time_unit(&mut self, u: &Spanned<String>) -> Option<TimeUnit> {
        let unit = TimeUnit::parse(u.get_ref());
        if unit.is_none() {
            self.error(
                u.span(),
                format!(
                    "unknown time unit {:?}; expected one of {}",
                    u.get_ref(),
                    TimeUnit::ALL.map(TimeUnit::as_str).join(", ")
                ),
            );
        }
        unit
    }
}
