//! Least-squares fits of the simulator's parameters, and the rules for refusing a fit.
//!
//! Calibration turns GPU measurements into simulator parameters: idle and dynamic power, batch
//! service times, the share of the roofline real kernels reach. Least squares returns numbers
//! for any data, including data that cannot support them: forty samples at 41 % utilization
//! "determine" a power slope that is pure noise. So every fit here is held to explicit
//! [`Rules`], and either returns a [`LineFit`] with its quality or a [`Refusal`] that says what
//! the data lack and which measurement would supply it.
//!
//! Guarantees:
//! - No panics on data. Empty or mismatched slices, NaN and infinities, and values too large to
//!   square come back as refusals.
//! - Checks run in a fixed order: the rules themselves, the inputs (lengths, finite values, the
//!   domain's ranges), the number of points, the spread of x, then the fit's quality (R²), then
//!   the signs and limits the domain requires. The refusal names the most basic problem first.
//! - Lines are fitted on centred data, so a noise-free line is recovered to rounding (the tests
//!   hold it to 1e-9 relative) even when x sits far from zero.
//! - Deterministic: the same slices give the same bits.
//!
//! [`power_model`], [`batch_linear`] and [`efficiency`] are the fits calibration uses; each
//! states its rules as a constant ([`POWER_RULES`], [`BATCH_RULES`], [`EFFICIENCY_RULES`]) so a
//! refusal traces back to a written number. [`summary`] describes profile samples.

use serde::{Deserialize, Serialize};

mod models;
mod summary;
#[cfg(test)]
mod testkit;

pub use models::{
    BATCH_OUTLIER_K, BATCH_RULES, BatchFit, EFFICIENCY_RULES, EfficiencyFit, MAX_EFFICIENCY,
    POWER_MIN_UTIL_SPREAD, POWER_RULES, PowerFit, batch_linear, efficiency, power_model,
};
pub use summary::{Summary, summary};

/// A fitted straight line y = intercept + slope * x, with its quality.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineFit {
    pub intercept: f64,
    pub slope: f64,
    /// 1 - SS_res / SS_tot, both about the mean of y, also for fits through the origin (see
    /// [`proportional`]). When y does not vary beyond rounding it is 1 if the line reproduces
    /// y and 0 if not, rather than 0/0.
    pub r_squared: f64,
    /// Root mean square residual, sqrt(SS_res / n): what the fit's error looks like on this
    /// data, in y's unit (not the n - 2 estimate of the noise).
    pub rmse: f64,
    pub max_abs_residual: f64,
    /// Points the line was fitted to (after dropping outliers, for [`line_robust`]).
    pub n: usize,
    /// The x range the points covered: the fit says nothing outside it.
    pub x_min: f64,
    pub x_max: f64,
}

impl LineFit {
    /// The line's value at `x`.
    pub fn predict(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// What a fit must meet to be returned.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// Fewest points. Fewer than 2 is read as 2: one point does not make a line.
    pub min_points: usize,
    /// Smallest `(x_max - x_min) / max(|x_min|, |x_max|)`, a share: 0.5 asks the largest x to be
    /// at least twice the smallest (for positive x). Scale-free, so one rule serves seconds and
    /// watts. Whatever this is, x must take at least two values.
    pub min_relative_spread: f64,
    /// Smallest R². `f64::NEG_INFINITY` accepts any fit.
    pub min_r_squared: f64,
}

/// Why a fit was refused, in words a user can act on.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum Refusal {
    #[error("{xs} {x} values but {ys} {y} values; they must pair up, one of each per sample")]
    LengthMismatch {
        x: String,
        y: String,
        xs: usize,
        ys: usize,
    },
    #[error("{what}[{index}] is {value}; drop that sample or fix what produced it")]
    NonFinite {
        what: String,
        index: usize,
        value: f64,
    },
    #[error("{what}[{index}] is {value}, but must be {expected}")]
    OutOfRange {
        what: String,
        index: usize,
        value: f64,
        expected: String,
    },
    #[error("only {n} {what}; the fit needs at least {need}: measure for longer")]
    TooFew { what: String, n: usize, need: usize },
    #[error("{}", no_spread_text(.what, *.min, *.max, *.need))]
    NoSpread {
        what: String,
        min: f64,
        max: f64,
        /// The rule's relative spread (see [`Rules::min_relative_spread`]).
        need: f64,
    },
    #[error(
        "the GPU never left {min_pct:.0}–{max_pct:.0} % utilization, so idle and dynamic power cannot be told apart (the rule is a spread of at least {need_pct:.0} points); run a load that varies, from idle to full"
    )]
    UtilizationFlat {
        min_pct: f64,
        max_pct: f64,
        need_pct: f64,
    },
    #[error(
        "all {n} requests ran at batch size {batch}; a per-item cost cannot be told from the base: run a load that varies the batch size (several request rates or concurrencies)"
    )]
    OneBatchSize { batch: f64, n: usize },
    #[error(
        "the line explains only {r_squared:.2} of the variation (R²; the rule is at least {need:.2}), so its parameters would not predict this GPU: look for mixed workloads, throttling, or a relation that is not a straight line"
    )]
    PoorFit { r_squared: f64, need: f64 },
    #[error("the fitted {what} is {}, but cannot be negative; {hint}", sig(*.value))]
    Negative {
        what: String,
        value: f64,
        hint: String,
    },
    #[error(
        "the fitted efficiency is {efficiency:.2}, above {max}: faster than the roofline allows: the model's shape or GPU spec is wrong"
    )]
    FasterThanRoofline { efficiency: f64, max: f64 },
    #[error(
        "the fit left floating-point range: the values are too large, or too close together, to square; rescale them (for example to seconds or kilowatts)"
    )]
    Overflow,
    #[error("the fit rule {what} = {value} is invalid: it must be {expected}")]
    BadRule {
        what: String,
        value: f64,
        expected: String,
    },
}

/// Ordinary least squares: y = intercept + slope * x.
pub fn line(xs: &[f64], ys: &[f64], rules: &Rules) -> Result<LineFit, Refusal> {
    fit(xs, ys, rules, &PLAIN, Through::Free)
}

/// Through the origin: y = slope * x (for efficiency factors: measured time vs roofline time).
///
/// The intercept is 0 and `r_squared` is taken about the mean of y, as for [`line()`]. The
/// uncentred R² (1 - SS_res / Σy²) that some packages report for such fits is close to 1
/// whenever y sits far from zero, whatever the slope explains, so it would pass fits that
/// describe nothing. About the mean it can fall below 0 (the line does worse than a constant),
/// which any positive rule refuses. One consequence: x must vary, as for [`line()`], since with a
/// single x the centred R² is 0 whatever the data.
pub fn proportional(xs: &[f64], ys: &[f64], rules: &Rules) -> Result<LineFit, Refusal> {
    fit(xs, ys, rules, &PLAIN, Through::Origin)
}

/// Robust to outliers: fits a line, drops points whose residual is more than `k` scaled MADs
/// from the median residual, and fits the rest once more. Returns the fit and how many points
/// were dropped.
///
/// The MAD is scaled by 1.4826 so that `k` counts standard deviations under normal noise:
/// `k = 4` drops about one good point in 16,000. The first fit is held to every rule but R²
/// (outliers are what would spoil it); the refit is held to all of them, so dropping too many
/// points comes back as [`Refusal::TooFew`]. A residual within 1e-9 of the largest |y| is never
/// an outlier, so noise-free data with a few bad points loses only those.
pub fn line_robust(
    xs: &[f64],
    ys: &[f64],
    rules: &Rules,
    k: f64,
) -> Result<(LineFit, usize), Refusal> {
    robust(xs, ys, rules, k, &PLAIN, |_, _| Ok(()))
}

/// Normal-consistent MAD: σ = 1.4826 MAD for normal noise.
const MAD_TO_SIGMA: f64 = 1.4826;

/// Residuals below this share of the largest |y| are rounding, not outliers.
const ROUNDING_FLOOR: f64 = 1e-9;

/// What the data are called in refusals.
#[derive(Clone, Copy)]
struct Names {
    x: &'static str,
    y: &'static str,
    points: &'static str,
}

const PLAIN: Names = Names {
    x: "x",
    y: "y",
    points: "points",
};

#[derive(Clone, Copy)]
enum Through {
    Free,
    Origin,
}

fn fit(
    xs: &[f64],
    ys: &[f64],
    rules: &Rules,
    names: &Names,
    through: Through,
) -> Result<LineFit, Refusal> {
    check_rules(rules)?;
    check_inputs(xs, ys, names)?;
    check_count(xs.len(), rules.min_points.max(2), names.points)?;
    let (x_min, x_max) = range(xs);
    check_spread(x_min, x_max, rules.min_relative_spread, names.x)?;
    let (intercept, slope) = match through {
        Through::Free => least_squares(xs, ys)?,
        Through::Origin => (0.0, through_origin(xs, ys)?),
    };
    let fit = quality(xs, ys, intercept, slope, x_min, x_max);
    let numbers = [fit.intercept, fit.slope, fit.r_squared, fit.rmse];
    if !numbers.iter().all(|v| v.is_finite()) || !fit.max_abs_residual.is_finite() {
        return Err(Refusal::Overflow);
    }
    if fit.r_squared < rules.min_r_squared {
        return Err(Refusal::PoorFit {
            r_squared: fit.r_squared,
            need: rules.min_r_squared,
        });
    }
    Ok(fit)
}

/// [`line_robust`] with names for refusals, and `check_kept` run on the points that remain
/// (a domain rule the outliers might have hidden, such as two distinct batch sizes).
fn robust(
    xs: &[f64],
    ys: &[f64],
    rules: &Rules,
    k: f64,
    names: &Names,
    check_kept: impl Fn(&[f64], &[f64]) -> Result<(), Refusal>,
) -> Result<(LineFit, usize), Refusal> {
    if !(k.is_finite() && k > 0.0) {
        return Err(Refusal::BadRule {
            what: "outlier threshold k".into(),
            value: k,
            expected: "a positive number of standard deviations, such as 4".into(),
        });
    }
    let loose = Rules {
        min_r_squared: f64::NEG_INFINITY,
        ..*rules
    };
    let first = fit(xs, ys, &loose, names, Through::Free)?;
    let residuals: Vec<f64> = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| y - first.predict(*x))
        .collect();
    let centre = median(&residuals);
    let deviations: Vec<f64> = residuals.iter().map(|r| (r - centre).abs()).collect();
    let y_scale = ys.iter().fold(0.0_f64, |m, y| m.max(y.abs()));
    let limit = k * (MAD_TO_SIGMA * median(&deviations)).max(ROUNDING_FLOOR * y_scale);
    let (kept_x, kept_y): (Vec<f64>, Vec<f64>) = xs
        .iter()
        .zip(ys)
        .zip(&deviations)
        .filter(|(_, d)| **d <= limit)
        .map(|((x, y), _)| (*x, *y))
        .unzip();
    check_kept(&kept_x, &kept_y)?;
    let refit = fit(&kept_x, &kept_y, rules, names, Through::Free)?;
    Ok((refit, xs.len() - kept_x.len()))
}

fn check_rules(rules: &Rules) -> Result<(), Refusal> {
    let spread = rules.min_relative_spread;
    if !(spread.is_finite() && spread >= 0.0) {
        return Err(Refusal::BadRule {
            what: "min_relative_spread".into(),
            value: spread,
            expected: "a share of at least 0, such as 0.3".into(),
        });
    }
    if rules.min_r_squared.is_nan() || rules.min_r_squared > 1.0 {
        return Err(Refusal::BadRule {
            what: "min_r_squared".into(),
            value: rules.min_r_squared,
            expected: "at most 1, such as 0.6".into(),
        });
    }
    Ok(())
}

fn check_inputs(xs: &[f64], ys: &[f64], names: &Names) -> Result<(), Refusal> {
    if xs.len() != ys.len() {
        return Err(Refusal::LengthMismatch {
            x: names.x.into(),
            y: names.y.into(),
            xs: xs.len(),
            ys: ys.len(),
        });
    }
    for (values, what) in [(xs, names.x), (ys, names.y)] {
        if let Some((index, value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Refusal::NonFinite {
                what: what.into(),
                index,
                value: *value,
            });
        }
    }
    Ok(())
}

fn check_count(n: usize, need: usize, what: &str) -> Result<(), Refusal> {
    if n < need {
        return Err(Refusal::TooFew {
            what: what.into(),
            n,
            need,
        });
    }
    Ok(())
}

fn check_spread(min: f64, max: f64, need: f64, what: &str) -> Result<(), Refusal> {
    if max > min && relative_spread(min, max) >= need {
        return Ok(());
    }
    Err(Refusal::NoSpread {
        what: what.into(),
        min,
        max,
        need,
    })
}

/// `(max - min) / max(|min|, |max|)`; 0 when all values are equal.
fn relative_spread(min: f64, max: f64) -> f64 {
    let scale = min.abs().max(max.abs());
    if max > min { (max - min) / scale } else { 0.0 }
}

/// Smallest and largest of finite, non-empty values.
fn range(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        })
}

/// Median of finite, non-empty values (the mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// (intercept, slope) from sums about the means: sums of raw squares cancel catastrophically
/// when x sits far from zero.
fn least_squares(xs: &[f64], ys: &[f64]) -> Result<(f64, f64), Refusal> {
    let (x_mean, y_mean) = (mean(xs), mean(ys));
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        let dx = x - x_mean;
        sxx += dx * dx;
        sxy += dx * (y - y_mean);
    }
    let slope = divide(sxy, sxx)?;
    Ok((y_mean - slope * x_mean, slope))
}

fn through_origin(xs: &[f64], ys: &[f64]) -> Result<f64, Refusal> {
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| x * y).sum();
    let sxx: f64 = xs.iter().map(|x| x * x).sum();
    divide(sxy, sxx)
}

/// A slope from its sums. A sum of squares that overflowed (or underflowed to 0) would give a
/// slope of 0 or NaN that looks like an answer, so it is refused here.
fn divide(sxy: f64, sxx: f64) -> Result<f64, Refusal> {
    if sxx.is_finite() && sxx > 0.0 && sxy.is_finite() {
        Ok(sxy / sxx)
    } else {
        Err(Refusal::Overflow)
    }
}

fn quality(xs: &[f64], ys: &[f64], intercept: f64, slope: f64, x_min: f64, x_max: f64) -> LineFit {
    let y_mean = mean(ys);
    let (mut ss_res, mut ss_tot, mut max_abs, mut y_scale) = (0.0, 0.0, 0.0_f64, 0.0_f64);
    for (x, y) in xs.iter().zip(ys) {
        let r = y - (intercept + slope * x);
        ss_res += r * r;
        ss_tot += (y - y_mean) * (y - y_mean);
        max_abs = max_abs.max(r.abs());
        y_scale = y_scale.max(y.abs());
    }
    let n = xs.len() as f64;
    // Below this, sums of squares are rounding in y, not variation.
    let rounding = n * (8.0 * f64::EPSILON * y_scale).powi(2);
    let r_squared = if ss_tot > rounding {
        1.0 - ss_res / ss_tot
    } else if ss_res <= rounding {
        1.0
    } else {
        0.0
    };
    LineFit {
        intercept,
        slope,
        r_squared,
        rmse: (ss_res / n).sqrt(),
        max_abs_residual: max_abs,
        n: xs.len(),
        x_min,
        x_max,
    }
}

fn no_spread_text(what: &str, min: f64, max: f64, need: f64) -> String {
    let span = if max > min {
        format!(
            "{what} only ranged from {} to {} ({:.0} % apart; the rule is {:.0} %)",
            sig(min),
            sig(max),
            100.0 * relative_spread(min, max),
            100.0 * need
        )
    } else {
        format!("{what} was {} at every point", sig(min))
    };
    format!("{span}, too narrow to tell a slope from noise; run a load that varies {what}")
}

/// About four significant digits, without an exponent for everyday magnitudes.
fn sig(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let decimals = (3 - value.abs().log10().floor() as i32).clamp(0, 15);
    format!("{value:.*}", decimals as usize)
}

#[cfg(test)]
mod tests;
