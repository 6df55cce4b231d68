//! A measured iteration-time table, which replaces the roofline for one (model, GPU, tensor
//! parallel) triple, in the spirit of Vidur's operator profiles.
//!
//! An iteration's time splits into parts that each depend on one measure of the batch:
//!
//! - `linear`: the token-parallel work (projections, MLP, norms, all-reduces, the weights read
//!   once per step) against the tokens in the step;
//! - `decode_attention`: attention of the decoding sequences against the KV tokens they read,
//!   summed over the sequences;
//! - `prefill_attention`: attention of the prompt chunks against `query_keys`, `n x (c + n)`
//!   for a chunk of `n` tokens after `c` cached ones (measured kernels scale with this
//!   rectangle, not with the causal pairs: Vidur's A100 profiles fit it twice as well);
//! - CPU time per iteration (scheduling, sampling, output processing): `overhead_ms` plus
//!   `overhead_per_sequence_ms` for each sequence that produces a token.
//!
//! Each part is a curve through measured points: linear between them, along the last segment
//! beyond the last point, and at the first point's time below it (a kernel costs at least its
//! launch); zero work costs nothing.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::model::Precision;
use super::roofline::Step;

/// A piecewise-linear curve through measured points, seconds against a size.
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Curve {
    /// Points with strictly increasing, positive `x` and finite, non-negative `y` (seconds).
    pub fn new(x: Vec<f64>, y: Vec<f64>) -> Result<Curve, String> {
        if x.is_empty() || x.len() != y.len() {
            return Err(format!(
                "needs as many times as sizes, and at least one; got {} sizes and {} times",
                x.len(),
                y.len()
            ));
        }
        if x[0] <= 0.0 || x.windows(2).any(|w| w[1] <= w[0]) || x.iter().any(|v| !v.is_finite()) {
            return Err("sizes must be positive and strictly increasing".into());
        }
        if y.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err("times must be finite and >= 0".into());
        }
        Ok(Curve { x, y })
    }

    /// Piece `k` of the curve, `[lo, hi)` and `f(x) = a + b x` on it: 0 is the floor below the
    /// first point, `1..n` the segments between points, `n` the tail beyond the last.
    fn piece(&self, k: usize) -> (f64, f64, f64, f64) {
        let n = self.x.len();
        if k == 0 {
            (f64::MIN_POSITIVE, self.x[0], self.y[0], 0.0)
        } else if k < n {
            let (i, j) = (k - 1, k);
            let b = (self.y[j] - self.y[i]) / (self.x[j] - self.x[i]);
            (self.x[i], self.x[j], self.y[i] - b * self.x[i], b)
        } else {
            let b = self.tail_slope();
            (
                self.x[n - 1],
                f64::INFINITY,
                self.y[n - 1] - b * self.x[n - 1],
                b,
            )
        }
    }

    /// The piece that holds `x`.
    fn piece_of(&self, x: f64) -> usize {
        self.x.partition_point(|&p| p <= x)
    }

    /// Slope beyond the last point: the last segment's, never falling (time does not shrink
    /// with more work, whatever the noise in the last two measurements).
    fn tail_slope(&self) -> f64 {
        let n = self.x.len();
        if n < 2 {
            return 0.0;
        }
        ((self.y[n - 1] - self.y[n - 2]) / (self.x[n - 1] - self.x[n - 2])).max(0.0)
    }

    /// The time at `x`.
    pub fn at(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        let n = self.x.len();
        match self.x.partition_point(|&p| p <= x) {
            0 => self.y[0],
            k if k == n => self.y[n - 1] + self.tail_slope() * (x - self.x[n - 1]),
            k => {
                let t = (x - self.x[k - 1]) / (self.x[k] - self.x[k - 1]);
                self.y[k - 1] + t * (self.y[k] - self.y[k - 1])
            }
        }
    }

    /// `sum of at(x0 + i * step)` for `i` in `0..n`, in time independent of `n`, for `x0 > 0`
    /// and `step >= 0`.
    pub fn sum_progression(&self, x0: f64, step: f64, n: u32) -> f64 {
        let nf = f64::from(n);
        if n == 0 {
            return 0.0;
        }
        if x0 <= 0.0 || step <= 0.0 {
            // The second term covers a run whose first point is empty but whose later ones are not.
            return if step <= 0.0 {
                nf * self.at(x0)
            } else {
                self.at(x0) + self.sum_progression(x0 + step, step, n - 1)
            };
        }
        let mut total = 0.0;
        // Only the pieces the progression visits (a decode run spans one or two).
        let last = x0 + step * (nf - 1.0);
        for k in self.piece_of(x0)..=self.piece_of(last) {
            let (lo, hi, a, b) = self.piece(k);
            let from = ((lo - x0) / step).ceil().clamp(0.0, nf);
            let to = ((hi - x0) / step).ceil().clamp(0.0, nf);
            if to > from {
                let count = to - from;
                // Sum of a + b (x0 + i step) for i in [from, to).
                total += count * (a + b * x0) + b * step * (from + to - 1.0) * count / 2.0;
            }
        }
        total.max(0.0)
    }
}

/// Iteration times measured for one model on one GPU type at one tensor-parallel degree.
#[derive(Clone, Debug, PartialEq)]
pub struct IterationTable {
    /// The file it came from, as the scenario names it.
    pub path: String,
    pub architecture: String,
    pub weights: Precision,
    pub kv_cache: Precision,
    /// The GPU specification's name (`pricing/gpus.csv`).
    pub gpu: String,
    pub tp: u32,
    pub source: String,
    linear: Curve,
    decode_attention: Curve,
    prefill_attention: Curve,
    overhead_s: f64,
    overhead_per_seq_s: f64,
}

impl IterationTable {
    pub fn from_path(path: &Path, display: &str) -> Result<IterationTable, String> {
        let text = crate::data_file::read_string(path)
            .map_err(|e| format!("{display}: cannot read iteration table: {e}"))?;
        IterationTable::parse(&text, display)
    }

    /// Parses a table; `display` names the file in messages, with the line and column.
    pub fn parse(text: &str, display: &str) -> Result<IterationTable, String> {
        let at = |span: std::ops::Range<usize>, message: &str| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("{display}:{line}:{col}: {message}")
        };
        let raw: RawTable = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            at(span, e.message())
        })?;
        if *raw.version.get_ref() != 1 {
            return Err(at(
                raw.version.span(),
                "this headroom reads iteration tables of version 1",
            ));
        }
        if raw.kind.get_ref() != "llm-iterations" {
            return Err(at(raw.kind.span(), "`kind` must be \"llm-iterations\""));
        }
        let precision = |p: &Spanned<String>, field: &str| {
            Precision::parse(p.get_ref()).ok_or_else(|| {
                at(
                    p.span(),
                    &format!("unknown precision in `{field}`: {:?}", p.get_ref()),
                )
            })
        };
        let weights = precision(&raw.weights, "weights")?;
        let kv_cache = match &raw.kv_cache {
            Some(k) => precision(k, "kv_cache")?,
            None => weights,
        };
        let tp = match u32::try_from(*raw.tensor_parallel.get_ref()) {
            Ok(t) if (1..=64).contains(&t) => t,
            _ => {
                return Err(at(
                    raw.tensor_parallel.span(),
                    "`tensor_parallel` must be from 1 to 64",
                ));
            }
        };
        let non_negative = |v: &Option<Spanned<f64>>, field: &str| {
            v.as_ref().map_or(Ok(0.0), |o| {
                let v = *o.get_ref();
                if v.is_finite() && v >= 0.0 {
                    Ok(v)
                } else {
                    Err(at(o.span(), &format!("`{field}` must be >= 0")))
                }
            })
        };
        let overhead_ms = non_negative(&raw.overhead_ms, "overhead_ms")?;
        let per_seq_ms = non_negative(&raw.overhead_per_sequence_ms, "overhead_per_sequence_ms")?;
        let curve = |c: &Spanned<RawCurve>, table: &str, size: &str| {
            let c = c.get_ref();
            let sizes = match size {
                "tokens" => &c.tokens,
                "context_tokens" => &c.context_tokens,
                _ => &c.query_keys,
            };
            let Some(sizes) = sizes else {
                return Err(at(
                    c.ms.span(),
                    &format!("`{table}` needs `{size}` beside `ms`"),
                ));
            };
            let ms: Vec<f64> = c.ms.get_ref().iter().map(|v| v / 1e3).collect();
            Curve::new(sizes.get_ref().clone(), ms)
                .map_err(|e| at(sizes.span(), &format!("`{table}`: {e}")))
        };
        Ok(IterationTable {
            path: display.to_string(),
            architecture: raw.architecture.into_inner(),
            weights,
            kv_cache,
            gpu: raw.gpu.into_inner(),
            tp,
            source: raw.source.unwrap_or_default(),
            linear: curve(&raw.linear, "linear", "tokens")?,
            decode_attention: curve(&raw.decode_attention, "decode_attention", "context_tokens")?,
            prefill_attention: curve(&raw.prefill_attention, "prefill_attention", "query_keys")?,
            overhead_s: overhead_ms / 1e3,
            overhead_per_seq_s: per_seq_ms / 1e3,
        })
    }

    /// Seconds one iteration takes.
    pub fn seconds(&self, s: &Step) -> f64 {
        if s.tokens() == 0 {
            return 0.0;
        }
        self.linear.at(s.tokens() as f64)
            + self.decode_attention.at(s.decode_context as f64)
            + self.prefill_attention.at(s.prefill_query_keys)
            + self.overhead(s)
    }

    fn overhead(&self, s: &Step) -> f64 {
        self.overhead_s + self.overhead_per_seq_s * s.logits as f64
    }

    /// Seconds of the first `j` iterations of a decode run that starts with `first` (each later
    /// iteration reads one more KV token per sequence).
    pub fn run_seconds(&self, first: &Step, j: u32) -> f64 {
        if j == 0 || first.tokens() == 0 {
            return 0.0;
        }
        let n = f64::from(j);
        n * (self.linear.at(first.tokens() as f64)
            + self.prefill_attention.at(first.prefill_query_keys)
            + self.overhead(first))
            + self.decode_attention.sum_progression(
                first.decode_context as f64,
                first.decode_seqs as f64,
                j,
            )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    version: Spanned<i64>,
    kind: Spanned<String>,
    architecture: Spanned<String>,
    weights: Spanned<String>,
    kv_cache: Option<Spanned<String>>,
    gpu: Spanned<String>,
    tensor_parallel: Spanned<i64>,
    overhead_ms: Option<Spanned<f64>>,
    overhead_per_sequence_ms: Option<Spanned<f64>>,
    source: Option<String>,
    linear: Spanned<RawCurve>,
    decode_attention: Spanned<RawCurve>,
    prefill_attention: Spanned<RawCurve>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCurve {
    tokens: Option<Spanned<Vec<f64>>>,
    context_tokens: Option<Spanned<Vec<f64>>>,
    query_keys: Option<Spanned<Vec<f64>>>,
    ms: Spanned<Vec<f64>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve() -> Curve {
        Curve::new(vec![10.0, 20.0, 40.0], vec![1.0, 2.0, 2.0]).unwrap()
    }

    #[test]
    fn a_curve_interpolates_floors_and_extrapolates() {
        let c = curve();
        assert_eq!(c.at(0.0), 0.0);
        assert_eq!(c.at(3.0), 1.0);
        assert_eq!(c.at(15.0), 1.5);
        assert_eq!(c.at(30.0), 2.0);
        assert_eq!(c.at(80.0), 2.0);
        let rising = Curve::new(vec![1.0, 2.0], vec![1.0, 3.0]).unwrap();
        assert_eq!(rising.at(4.0), 7.0);
        let noisy = Curve::new(vec![1.0, 2.0], vec![3.0, 2.0]).unwrap();
        assert_eq!(noisy.at(9.0), 2.0);
        let single = Curve::new(vec![5.0], vec![0.5]).unwrap();
        assert_eq!(single.at(100.0), 0.5);
    }

    #[test]
    fn progression_sums_match_the_loop() {
        let curves = [
            curve(),
            Curve::new(vec![1.0, 2.0, 7.5, 100.0], vec![0.3, 0.4, 0.9, 1.1]).unwrap(),
            Curve::new(vec![5.0], vec![0.5]).unwrap(),
            Curve::new(vec![1.0, 2.0], vec![3.0, 2.0]).unwrap(),
        ];
        for c in &curves {
            for (x0, step) in [
                (1.0, 1.0),
                (3.0, 4.0),
                (10.0, 10.0),
                (37.0, 3.0),
                (0.5, 0.25),
            ] {
                for n in [0, 1, 2, 5, 17, 64] {
                    let looped: f64 = (0..n).map(|i| c.at(x0 + f64::from(i) * step)).sum();
                    let closed = c.sum_progression(x0, step, n);
                    assert!(
                        (looped - closed).abs() < 1e-9 * (1.0 + looped),
                        "{x0} {step} {n}: {looped} vs {closed}"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_curves_are_refused() {
        assert!(Curve::new(vec![], vec![]).is_err());
        assert!(Curve::new(vec![1.0, 1.0], vec![1.0, 2.0]).is_err());
        assert!(Curve::new(vec![0.0, 1.0], vec![1.0, 2.0]).is_err());
        assert!(Curve::new(vec![1.0, 2.0], vec![1.0]).is_err());
        assert!(Curve::new(vec![1.0, 2.0], vec![1.0, f64::NAN]).is_err());
    }

    const TABLE: &str = r#"version = 1
kind = "llm-iterations"
architecture = "llama-3.1-8b"
weights = "bf16"
gpu = "H100"
tensor_parallel = 1
overhead_ms = 1.0
overhead_per_sequence_ms = 0.1

[linear]
tokens = [1, 100]
ms = [5.0, 6.0]

[decode_attention]
context_tokens = [1000, 2000]
ms = [0.1, 0.2]

[prefill_attention]
query_keys = [1000]
ms = [0.5]
"#;

    #[test]
    fn a_table_times_steps_and_runs() {
        let t = IterationTable::parse(TABLE, "t.toml").unwrap();
        assert_eq!(t.kv_cache, Precision::Bf16);
        let mut s = Step::default();
        for _ in 0..10 {
            s.add_decode(150);
        }
        // 10 tokens, 1,510 KV tokens read (each sequence also reads its new token).
        let want =
            5.0 + 9.0 / 99.0 + 0.1 + 0.1 * (s.decode_context as f64 - 1000.0) / 1000.0 + 1.0 + 1.0;
        assert!((t.seconds(&s) * 1e3 - want).abs() < 1e-9);
        let mut looped = 0.0;
        let mut step = s;
        for _ in 0..50 {
            looped += t.seconds(&step);
            step.decode_context += step.decode_seqs;
        }
        assert!((t.run_seconds(&s, 50) - looped).abs() < 1e-12);
        assert_eq!(t.seconds(&Step::default()), 0.0);
    }

    #[test]
    fn table_errors_name_the_line() {
        let bad = TABLE.replace("ms = [0.1, 0.2]", "ms = [0.1]");
        let e = IterationTable::parse(&bad, "t.toml").unwrap_err();
        assert!(
            e.starts_with("t.toml:15:18: `decode_attention`: needs as many"),
            "{e}"
        );
        let bad = TABLE.replace("tensor_parallel = 1", "tensor_parallel = 0");
        let e = IterationTable::parse(&bad, "t.toml").unwrap_err();
        assert!(e.starts_with("t.toml:6:19:"), "{e}");
        let bad = TABLE.replace("overhead_ms", "overhead");
        let e = IterationTable::parse(&bad, "t.toml").unwrap_err();
        assert!(
            e.starts_with("t.toml:7:1:") && e.contains("unknown field"),
            "{e}"
        );
    }
}
