//! Token-count distributions of LLM workloads.

use crate::scenario::spanned::Spanned;

use super::Checker;
use crate::scenario::raw;
use crate::workload::{TokenDist, TokenSpec};

/// Largest token count a distribution may produce: longer than any model's context.
const MAX_TOKENS: i64 = 10_000_000;

impl Checker<'_> {
    pub(super) fn tokens(&mut self, t: &Spanned<raw::Tokens>) -> Option<TokenSpec> {
        let before = self.problems.len();
        let t = t.get_ref();
        let input = t.input.as_ref().and_then(|d| self.token_dist(d, "input"));
        let output = t.output.as_ref().and_then(|d| self.token_dist(d, "output"));
        (self.problems.len() == before).then_some(TokenSpec { input, output })
    }

    fn token_count(&mut self, v: &Spanned<i64>, field: &str, min: i64) -> Option<u32> {
        let x = *v.get_ref();
        if (min..=MAX_TOKENS).contains(&x) {
            Some(x as u32)
        } else {
            self.error(
                v.span(),
                format!(
                    "`{field}` must be a whole number of tokens from {min} to {MAX_TOKENS}, got {x}"
                ),
            );
            None
        }
    }

    fn token_dist(&mut self, d: &Spanned<raw::TokenDist>, which: &str) -> Option<TokenDist> {
        let at = d.get_ref().kind.span();
        let d = d.get_ref();
        let kind = d.kind.get_ref().as_str();
        let allowed: &[&str] = match kind {
            "fixed" => &["value"],
            "uniform" => &["min", "max"],
            "lognormal" => &["mean", "cv", "min", "max"],
            "empirical" => &["values", "weights"],
            other => {
                self.error(
                    at,
                    format!("unknown token distribution {other:?} for `{which}`; expected fixed, uniform, lognormal or empirical"),
                );
                return None;
            }
        };
        for (field, span) in [
            ("value", d.value.as_ref().map(Spanned::span)),
            ("min", d.min.as_ref().map(Spanned::span)),
            ("max", d.max.as_ref().map(Spanned::span)),
            ("mean", d.mean.as_ref().map(Spanned::span)),
            ("cv", d.cv.as_ref().map(Spanned::span)),
            ("values", d.values.as_ref().map(Spanned::span)),
            ("weights", d.weights.as_ref().map(Spanned::span)),
        ] {
            if let Some(span) = span
                && !allowed.contains(&field)
            {
                self.error(
                    span,
                    format!("`{field}` does not apply to token distribution {kind:?}; remove it"),
                );
            }
        }
        let need = |c: &mut Self, present: bool, field: &str| {
            if !present {
                c.error(
                    at.clone(),
                    format!("token distribution {kind:?} needs `{field}`"),
                );
            }
            present
        };
        // Outputs of zero tokens do not exist: a prompt always yields its first token.
        let floor = if which == "output" { 1 } else { 0 };
        match kind {
            "fixed" => {
                need(self, d.value.is_some(), "value").then_some(())?;
                Some(TokenDist::Fixed(self.token_count(
                    d.value.as_ref()?,
                    "value",
                    floor,
                )?))
            }
            "uniform" => {
                let ok = need(self, d.min.is_some(), "min") & need(self, d.max.is_some(), "max");
                ok.then_some(())?;
                let min = self.token_count(d.min.as_ref()?, "min", floor)?;
                let max = self.token_count(d.max.as_ref()?, "max", floor)?;
                if max < min {
                    self.error(
                        d.max.as_ref()?.span(),
                        format!("`max` ({max}) is below `min` ({min})"),
                    );
                    return None;
                }
                Some(TokenDist::Uniform { min, max })
            }
            "lognormal" => {
                let ok = need(self, d.mean.is_some(), "mean") & need(self, d.cv.is_some(), "cv");
                ok.then_some(())?;
                let mean = self.positive(d.mean.as_ref()?, "mean")?;
                let cv_v = d.cv.as_ref()?;
                let cv = *cv_v.get_ref();
                if !(cv.is_finite() && (0.0..=100.0).contains(&cv)) {
                    self.error(
                        cv_v.span(),
                        format!("`cv` must be between 0 and 100, got {cv}"),
                    );
                    return None;
                }
                let min = match &d.min {
                    Some(m) => self.token_count(m, "min", floor)?,
                    None => floor as u32,
                };
                let max = match &d.max {
                    Some(m) => self.token_count(m, "max", floor)?,
                    None => MAX_TOKENS as u32,
                };
                if max < min {
                    self.error(at, format!("`max` ({max}) is below `min` ({min})"));
                    return None;
                }
                Some(TokenDist::Lognormal { mean, cv, min, max })
            }
            _ => {
                let ok = need(self, d.values.is_some(), "values");
                ok.then_some(())?;
                let values_v = d.values.as_ref()?;
                let values: Vec<u32> = values_v
                    .get_ref()
                    .iter()
                    .map(|v| {
                        u32::try_from(*v)
                            .ok()
                            .filter(|v| i64::from(*v) >= floor && i64::from(*v) <= MAX_TOKENS)
                    })
                    .collect::<Option<_>>()
                    .or_else(|| {
                        self.error(
                            values_v.span(),
                            format!("`values` must be token counts from {floor} to {MAX_TOKENS}"),
                        );
                        None
                    })?;
                if values.is_empty() {
                    self.error(values_v.span(), "`values` needs at least one token count");
                    return None;
                }
                let weights = match &d.weights {
                    None => vec![1.0; values.len()],
                    Some(w) => {
                        let ws = w.get_ref();
                        if ws.len() != values.len() {
                            self.error(
                                w.span(),
                                format!(
                                    "`weights` has {} entries for {} values",
                                    ws.len(),
                                    values.len()
                                ),
                            );
                            return None;
                        }
                        if ws.iter().any(|x| !x.is_finite() || *x < 0.0)
                            || ws.iter().sum::<f64>() <= 0.0
                        {
                            self.error(w.span(), "`weights` must be numbers >= 0, not all zero");
                            return None;
                        }
                        ws.clone()
                    }
                };
                Some(TokenDist::Empirical { values, weights })
            }
        }
    }
}
