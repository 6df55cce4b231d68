//! Summary statistics of profile samples (power, utilization, step times), for reports and for
//! judging whether a fit's inputs look sane before fitting them.

use serde::{Deserialize, Serialize};

/// Statistics of the finite values of a sample.
///
/// Percentiles interpolate linearly between order statistics (`h = (n - 1) q`, the default of
/// numpy and R's type 7), so p50 of an even count is the mean of the middle two. `stdev` is the
/// sample standard deviation (divides by n - 1), 0 for a single value. With no finite values,
/// `n` is 0 and every statistic is NaN (JSON `null`): there is no honest number to report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Finite values summarised.
    pub n: usize,
    /// NaN and infinite values left out, so a gap in the data is visible rather than hidden.
    pub non_finite: usize,
    pub mean: f64,
    pub min: f64,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
    pub stdev: f64,
}

/// Summarises the finite values of `xs`; see [`Summary`].
pub fn summary(xs: &[f64]) -> Summary {
    let mut sorted: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    let non_finite = xs.len() - sorted.len();
    if sorted.is_empty() {
        return Summary {
            n: 0,
            non_finite,
            mean: f64::NAN,
            min: f64::NAN,
            p50: f64::NAN,
            p95: f64::NAN,
            max: f64::NAN,
            stdev: f64::NAN,
        };
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let stdev = if n > 1 {
        let ss: f64 = sorted.iter().map(|x| (x - mean).powi(2)).sum();
        (ss / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    Summary {
        n,
        non_finite,
        mean,
        min: sorted[0],
        p50: quantile(&sorted, 0.5),
        p95: quantile(&sorted, 0.95),
        max: sorted[n - 1],
        stdev,
    }
}

/// Type-7 quantile of sorted, non-empty values, `q` in 0–1.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_to_a_hundred() {
        let xs: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = summary(&xs);
        assert_eq!((s.n, s.non_finite, s.min, s.max), (100, 0, 1.0, 100.0));
        assert_eq!(s.mean, 50.5);
        assert_eq!(s.p50, 50.5);
        // h = 99 * 0.95 = 94.05: between the 95th and 96th values, 95 and 96.
        assert!((s.p95 - 95.05).abs() < 1e-12, "{s:?}");
        // Sample variance of 1..=n is n (n + 1) / 12.
        assert!(
            (s.stdev - (100.0 * 101.0 / 12.0_f64).sqrt()).abs() < 1e-12,
            "{s:?}"
        );
    }

    #[test]
    fn non_finite_values_are_counted_not_summarised() {
        let s = summary(&[2.0, f64::NAN, 4.0, f64::INFINITY]);
        assert_eq!((s.n, s.non_finite, s.mean, s.p50), (2, 2, 3.0, 3.0));
    }

    #[test]
    fn small_and_empty_samples() {
        let one = summary(&[7.0]);
        assert_eq!((one.n, one.p50, one.p95, one.stdev), (1, 7.0, 7.0, 0.0));
        let none = summary(&[]);
        assert_eq!(none.n, 0);
        assert!(none.mean.is_nan() && none.p95.is_nan() && none.stdev.is_nan());
        let json = serde_json::to_string(&none).unwrap();
        assert!(json.contains("\"mean\":null"), "{json}");
    }
}
