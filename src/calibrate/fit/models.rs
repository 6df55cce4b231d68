//! The fits calibration makes, each with its named parameters, its rules as constants and the
//! refusals its domain needs: GPU power against utilization, batch service time against batch
//! size, and measured kernel time against the roofline.

use serde::{Deserialize, Serialize};

use super::{
    LineFit, Names, Refusal, Rules, Through, check_count, check_inputs, fit, range, robust,
};

/// Power samples: NVML reads about once a second, so 10 samples is 10 s of a run. The spread
/// of utilization is checked in absolute points ([`POWER_MIN_UTIL_SPREAD`]), which is what
/// tells idle from dynamic power on a 0–1 scale, so the relative rule is off. R² 0.6 leaves
/// room for the clock and temperature effects a straight line ignores.
pub const POWER_RULES: Rules = Rules {
    min_points: 10,
    min_relative_spread: 0.0,
    min_r_squared: 0.6,
};

/// Utilization (0–1) must span at least this much: 30 points of the 0–100 % range.
pub const POWER_MIN_UTIL_SPREAD: f64 = 0.3;

/// Requests: 20 is the fewest for which 4 MADs of residuals (the outlier rule) mean much.
/// Distinct batch sizes are checked by name; how far apart they must be shows in R², so the
/// relative rule is off. R² 0.5 because single requests are noisy (scheduling, prompt length)
/// even when the line is right.
pub const BATCH_RULES: Rules = Rules {
    min_points: 20,
    min_relative_spread: 0.0,
    min_r_squared: 0.5,
};

/// Outlier threshold for service times, in standard deviations (see
/// [`line_robust`](super::line_robust)): stalls, preemptions and cold caches are dropped,
/// ordinary noise is kept.
pub const BATCH_OUTLIER_K: f64 = 4.0;

/// Kernel or step timings. The claim is that measured time scales with roofline time, and that
/// is only tested across shapes whose roofline times differ (the largest at least twice the
/// smallest); at one shape the factor would hold for that shape only. R² 0.8 because a single
/// factor that explains less is not one factor.
pub const EFFICIENCY_RULES: Rules = Rules {
    min_points: 5,
    min_relative_spread: 0.5,
    min_r_squared: 0.8,
};

/// The highest efficiency accepted. Above 1 a kernel beat the roofline; 20 % of slack covers
/// boost clocks and datasheet rounding, beyond that the model or the GPU spec is wrong.
pub const MAX_EFFICIENCY: f64 = 1.2;

/// Rounding slack for the utilization spread, so 0.7 - 0.4 counts as 0.3.
const UTIL_ROUNDING: f64 = 1e-9;

/// power = idle_w + dynamic_w * util, util in 0–1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PowerFit {
    /// Power at 0 % utilization, watts.
    pub idle_w: f64,
    /// Power added by going from 0 % to 100 % utilization, watts.
    pub dynamic_w: f64,
    /// The line behind them: x is utilization (0–1), y is watts.
    pub line: LineFit,
}

impl PowerFit {
    /// Predicted power at `util` (0–1), watts.
    pub fn power_w(&self, util: f64) -> f64 {
        self.idle_w + self.dynamic_w * util
    }
}

/// service time = base_s + per_item_s * batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchFit {
    /// Fixed cost of a step, seconds.
    pub base_s: f64,
    /// Cost of each item in the batch, seconds.
    pub per_item_s: f64,
    /// Requests left out as outliers before the final fit.
    pub outliers_dropped: usize,
    /// The line behind them: x is batch size, y is seconds.
    pub line: LineFit,
}

impl BatchFit {
    /// Predicted service time of a batch of `batch` items, seconds.
    pub fn service_s(&self, batch: f64) -> f64 {
        self.base_s + self.per_item_s * batch
    }
}

/// measured ≈ roofline / efficiency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EfficiencyFit {
    /// Share of the roofline's speed that was reached, in (0, [`MAX_EFFICIENCY`]].
    pub efficiency: f64,
    /// The line behind it, through the origin: x is roofline seconds, y measured seconds, and
    /// the slope is 1 / efficiency.
    pub line: LineFit,
}

impl EfficiencyFit {
    /// Predicted time of work whose roofline time is `roofline_s`, seconds.
    pub fn measured_s(&self, roofline_s: f64) -> f64 {
        roofline_s / self.efficiency
    }
}

/// Fits power = idle_w + dynamic_w * util, util in 0–1.
///
/// Refuses: utilization outside 0–1 (a percentage passed as a share), fewer than 10 samples,
/// utilization spanning less than 30 points, R² below 0.6, negative idle or dynamic power.
pub fn power_model(util: &[f64], power_w: &[f64]) -> Result<PowerFit, Refusal> {
    let names = Names {
        x: "utilization",
        y: "power",
        points: "samples",
    };
    check_inputs(util, power_w, &names)?;
    check_each(
        util,
        names.x,
        "a share between 0 and 1 (0.45, not 45)",
        |u| (0.0..=1.0).contains(&u),
    )?;
    check_count(util.len(), POWER_RULES.min_points, names.points)?;
    let (lo, hi) = range(util);
    if hi - lo < POWER_MIN_UTIL_SPREAD - UTIL_ROUNDING {
        return Err(Refusal::UtilizationFlat {
            min_pct: 100.0 * lo,
            max_pct: 100.0 * hi,
            need_pct: 100.0 * POWER_MIN_UTIL_SPREAD,
        });
    }
    let line = fit(util, power_w, &POWER_RULES, &names, Through::Free)?;
    non_negative(
        "idle power (W)",
        line.intercept,
        "the line reaches 0 % utilization below zero watts: the samples never came near idle, or power is not linear in utilization here; include idle periods",
    )?;
    non_negative(
        "dynamic power (W)",
        line.slope,
        "power fell as utilization rose: the samples may mix GPUs, or include power-capped or throttled periods",
    )?;
    Ok(PowerFit {
        idle_w: line.intercept,
        dynamic_w: line.slope,
        line,
    })
}

/// Fits service time = base_s + per_item_s * batch, dropping outliers beyond
/// [`BATCH_OUTLIER_K`] standard deviations first.
///
/// Refuses: batch sizes that are not positive, negative latencies, fewer than 20 requests
/// (before or after dropping outliers), a single batch size (before or after), R² below 0.5,
/// negative base or per-item cost.
pub fn batch_linear(batch: &[f64], latency_s: &[f64]) -> Result<BatchFit, Refusal> {
    let names = Names {
        x: "batch size",
        y: "latency",
        points: "requests",
    };
    check_inputs(batch, latency_s, &names)?;
    check_each(batch, names.x, "a positive batch size", |b| b > 0.0)?;
    check_each(latency_s, names.y, "a time of at least 0 s", |t| t >= 0.0)?;
    check_count(batch.len(), BATCH_RULES.min_points, names.points)?;
    two_batch_sizes(batch)?;
    let (line, outliers_dropped) = robust(
        batch,
        latency_s,
        &BATCH_RULES,
        BATCH_OUTLIER_K,
        &names,
        |kept, _| two_batch_sizes(kept),
    )?;
    non_negative(
        "base service time (s)",
        line.intercept,
        "the line reaches batch size 0 below zero seconds: the cost per item grows with the batch (not a straight line), or small batches were not measured; include small batches",
    )?;
    non_negative(
        "per-item service time (s)",
        line.slope,
        "larger batches finished sooner than small ones: the latencies may include queueing, or come from different models",
    )?;
    Ok(BatchFit {
        base_s: line.intercept,
        per_item_s: line.slope,
        outliers_dropped,
        line,
    })
}

/// Fits measured_s = roofline_s / efficiency, as the line measured = c * roofline through the
/// origin, with efficiency = 1 / c.
///
/// Refuses: times that are not positive, fewer than 5 measurements, roofline times whose
/// largest is less than twice the smallest, R² below 0.8, efficiency above
/// [`MAX_EFFICIENCY`]. Positive times make c positive, so efficiency is never 0 or negative.
pub fn efficiency(roofline_s: &[f64], measured_s: &[f64]) -> Result<EfficiencyFit, Refusal> {
    let names = Names {
        x: "roofline time",
        y: "measured time",
        points: "measurements",
    };
    check_inputs(roofline_s, measured_s, &names)?;
    for (values, what) in [(roofline_s, names.x), (measured_s, names.y)] {
        check_each(values, what, "a positive time in seconds", |t| t > 0.0)?;
    }
    let line = fit(
        roofline_s,
        measured_s,
        &EFFICIENCY_RULES,
        &names,
        Through::Origin,
    )?;
    let efficiency = 1.0 / line.slope;
    if !efficiency.is_finite() {
        return Err(Refusal::Overflow);
    }
    if efficiency > MAX_EFFICIENCY {
        return Err(Refusal::FasterThanRoofline {
            efficiency,
            max: MAX_EFFICIENCY,
        });
    }
    Ok(EfficiencyFit { efficiency, line })
}

fn check_each(
    values: &[f64],
    what: &str,
    expected: &str,
    ok: impl Fn(f64) -> bool,
) -> Result<(), Refusal> {
    match values.iter().enumerate().find(|(_, v)| !ok(**v)) {
        Some((index, value)) => Err(Refusal::OutOfRange {
            what: what.into(),
            index,
            value: *value,
            expected: expected.into(),
        }),
        None => Ok(()),
    }
}

fn two_batch_sizes(batch: &[f64]) -> Result<(), Refusal> {
    let (lo, hi) = range(batch);
    if lo == hi {
        return Err(Refusal::OneBatchSize {
            batch: lo,
            n: batch.len(),
        });
    }
    Ok(())
}

fn non_negative(what: &str, value: f64, hint: &str) -> Result<(), Refusal> {
    if value < 0.0 {
        return Err(Refusal::Negative {
            what: what.into(),
            value,
            hint: hint.into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{normal_noise, rng, standard_errors};
    use super::*;
    use rand::RngExt;

    /// Tolerances below are 5 standard errors of each estimate, from the design and the noise's
    /// σ: the seed is fixed so nothing flakes, and any seed would pass with probability
    /// 1 - 6e-7 per parameter, so the bands are not tuned to one draw.
    const BAND: f64 = 5.0;

    fn power_data(seed: u64, idle: f64, dynamic: f64, sigma: f64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = rng(seed);
        let util: Vec<f64> = (0..300).map(|_| rng.random_range(0.0..=1.0)).collect();
        let noise = normal_noise(&mut rng, sigma, util.len());
        let power = util
            .iter()
            .zip(&noise)
            .map(|(u, e)| idle + dynamic * u + e)
            .collect();
        (util, power)
    }

    #[test]
    fn power_model_recovers_idle_and_dynamic_power() {
        let (util, power) = power_data(10, 60.0, 240.0, 10.0);
        let fit = power_model(&util, &power).unwrap();
        let (se_idle, se_dynamic) = standard_errors(&util, 10.0);
        assert!((fit.idle_w - 60.0).abs() < BAND * se_idle, "{fit:?}");
        assert!((fit.dynamic_w - 240.0).abs() < BAND * se_dynamic, "{fit:?}");
        assert_eq!(fit.power_w(0.5), fit.line.predict(0.5));
        let json = serde_json::to_string(&fit).unwrap();
        assert_eq!(serde_json::from_str::<PowerFit>(&json).unwrap(), fit);
    }

    #[test]
    fn power_model_refusals() {
        let flat: Vec<f64> = (0..40)
            .map(|i| 0.40 + 0.02 * f64::from(i % 3) / 2.0)
            .collect();
        let watts: Vec<f64> = flat.iter().map(|u| 60.0 + 240.0 * u).collect();
        let refusal = power_model(&flat, &watts).unwrap_err();
        assert!(matches!(refusal, Refusal::UtilizationFlat { .. }));
        assert!(
            refusal
                .to_string()
                .contains("never left 40–42 % utilization"),
            "{refusal}"
        );

        let percent = [45.0; 12];
        assert!(matches!(
            power_model(&percent, &percent),
            Err(Refusal::OutOfRange { index: 0, .. })
        ));

        let few: Vec<f64> = (0..9).map(|i| f64::from(i) / 8.0).collect();
        assert!(matches!(
            power_model(&few, &few),
            Err(Refusal::TooFew { n: 9, need: 10, .. })
        ));

        // Exactly 30 points of spread is enough, despite 0.7 - 0.4 < 0.3 in floating point.
        let edge: Vec<f64> = (0..12)
            .map(|i| if i % 2 == 0 { 0.4 } else { 0.7 })
            .collect();
        let watts: Vec<f64> = edge.iter().map(|u| 60.0 + 240.0 * u).collect();
        assert!(power_model(&edge, &watts).is_ok());

        let high: Vec<f64> = (0..20).map(|i| 0.5 + f64::from(i) / 38.0).collect();
        let watts: Vec<f64> = high.iter().map(|u| -50.0 + 300.0 * u).collect();
        let refusal = power_model(&high, &watts).unwrap_err();
        assert!(
            matches!(refusal, Refusal::Negative { ref what, .. } if what.starts_with("idle")),
            "{refusal}"
        );
        let falling: Vec<f64> = high.iter().map(|u| 300.0 - 100.0 * u).collect();
        assert!(matches!(
            power_model(&high, &falling),
            Err(Refusal::Negative { ref what, .. }) if what.starts_with("dynamic")
        ));

        let (util, _) = power_data(11, 60.0, 240.0, 10.0);
        let unrelated = normal_noise(&mut rng(12), 50.0, util.len());
        let unrelated: Vec<f64> = unrelated.iter().map(|e| 200.0 + e).collect();
        assert!(matches!(
            power_model(&util, &unrelated),
            Err(Refusal::PoorFit { need: 0.6, .. })
        ));
    }

    fn batch_data(seed: u64, n: usize, sigma: f64) -> (Vec<f64>, Vec<f64>) {
        let sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
        let mut rng = rng(seed);
        let batch: Vec<f64> = (0..n)
            .map(|_| sizes[rng.random_range(0..sizes.len())])
            .collect();
        let noise = normal_noise(&mut rng, sigma, n);
        let latency = batch
            .iter()
            .zip(&noise)
            .map(|(b, e)| 0.015 + 0.0008 * b + e)
            .collect();
        (batch, latency)
    }

    #[test]
    fn batch_linear_recovers_base_and_per_item_despite_outliers() {
        let sigma = 0.002;
        let (batch, mut latency) = batch_data(20, 300, sigma);
        let clean = batch_linear(&batch, &latency).unwrap();
        let (se_base, se_item) = standard_errors(&batch, sigma);
        assert!((clean.base_s - 0.015).abs() < BAND * se_base, "{clean:?}");
        assert!(
            (clean.per_item_s - 0.0008).abs() < BAND * se_item,
            "{clean:?}"
        );
        // 5 % of requests stall for 0.3 s (150 σ): dropped, and the fit stays in the band.
        for t in latency.iter_mut().step_by(20) {
            *t += 0.3;
        }
        let fit = batch_linear(&batch, &latency).unwrap();
        assert!((15..=17).contains(&fit.outliers_dropped), "{fit:?}");
        assert!((fit.base_s - 0.015).abs() < BAND * se_base, "{fit:?}");
        assert!((fit.per_item_s - 0.0008).abs() < BAND * se_item, "{fit:?}");
        assert_eq!(fit.service_s(8.0), fit.line.predict(8.0));
    }

    #[test]
    fn batch_linear_refusals() {
        let (batch, latency) = batch_data(21, 19, 0.002);
        assert_eq!(
            batch_linear(&batch, &latency),
            Err(Refusal::TooFew {
                what: "requests".into(),
                n: 19,
                need: 20
            })
        );

        let one = [8.0; 30];
        let refusal = batch_linear(&one, &[0.02; 30]).unwrap_err();
        assert_eq!(refusal, Refusal::OneBatchSize { batch: 8.0, n: 30 });
        assert!(
            refusal.to_string().contains(
                "all 30 requests ran at batch size 8; a per-item cost cannot be told from the base"
            ),
            "{refusal}"
        );

        // Two batch sizes, but only as outliers: once they go, one size is left.
        let mut batch = vec![8.0; 30];
        let mut latency: Vec<f64> = normal_noise(&mut rng(22), 0.001, 30)
            .iter()
            .map(|e| 0.02 + e)
            .collect();
        batch.extend([16.0, 64.0]);
        latency.extend([3.0, 0.5]);
        assert!(matches!(
            batch_linear(&batch, &latency),
            Err(Refusal::OneBatchSize { batch: 8.0, n: 30 })
        ));

        let mut zero = vec![4.0; 25];
        zero[3] = 0.0;
        assert!(matches!(
            batch_linear(&zero, &[0.01; 25]),
            Err(Refusal::OutOfRange { index: 3, .. })
        ));

        let large: Vec<f64> = (0..30).map(|i| [16.0, 32.0, 64.0][i % 3]).collect();
        let latency: Vec<f64> = large.iter().map(|b| -0.01 + 0.001 * b).collect();
        assert!(matches!(
            batch_linear(&large, &latency),
            Err(Refusal::Negative { ref what, .. }) if what.starts_with("base")
        ));
        let latency: Vec<f64> = large.iter().map(|b| 0.1 - 0.001 * b).collect();
        assert!(matches!(
            batch_linear(&large, &latency),
            Err(Refusal::Negative { ref what, .. }) if what.starts_with("per-item")
        ));

        let (batch, _) = batch_data(23, 100, 0.002);
        let unrelated: Vec<f64> = normal_noise(&mut rng(24), 0.01, 100)
            .iter()
            .map(|e| 0.05 + e)
            .collect();
        assert!(matches!(
            batch_linear(&batch, &unrelated),
            Err(Refusal::PoorFit { need: 0.5, .. })
        ));
    }

    /// Roofline times log-uniform over 0.1 ms–100 ms; measured = roofline / efficiency times
    /// (1 + ε), ε ~ N(0, σ²).
    fn efficiency_data(seed: u64, efficiency: f64, sigma: f64) -> (Vec<f64>, Vec<f64>) {
        let mut rng = rng(seed);
        let roofline: Vec<f64> = (0..60)
            .map(|_| 10f64.powf(rng.random_range(-4.0..-1.0)))
            .collect();
        let noise = normal_noise(&mut rng, sigma, roofline.len());
        let measured = roofline
            .iter()
            .zip(&noise)
            .map(|(r, e)| r / efficiency * (1.0 + e))
            .collect();
        (roofline, measured)
    }

    #[test]
    fn efficiency_recovers_the_factor() {
        let sigma = 0.05;
        let (roofline, measured) = efficiency_data(30, 0.6, sigma);
        let fit = efficiency(&roofline, &measured).unwrap();
        // For y = c x (1 + ε): se(ĉ) = c σ sqrt(Σx⁴) / Σx². Efficiency is 1 / c, so its
        // relative error is ĉ's to first order.
        let sx2: f64 = roofline.iter().map(|x| x * x).sum();
        let sx4: f64 = roofline.iter().map(|x| x.powi(4)).sum();
        let relative_se = sigma * sx4.sqrt() / sx2;
        assert!(
            (fit.efficiency / 0.6 - 1.0).abs() < BAND * relative_se,
            "{fit:?} (relative se {relative_se})"
        );
        assert!((fit.measured_s(0.01) - fit.line.predict(0.01)).abs() < 1e-15);
    }

    #[test]
    fn efficiency_refusals() {
        let (roofline, measured) = efficiency_data(31, 1.5, 0.02);
        let refusal = efficiency(&roofline, &measured).unwrap_err();
        assert!(
            matches!(refusal, Refusal::FasterThanRoofline { max: 1.2, .. }),
            "{refusal}"
        );
        assert!(
            refusal
                .to_string()
                .contains("the model's shape or GPU spec is wrong"),
            "{refusal}"
        );
        // Just inside the limit is allowed (at 1.2 itself, rounding decides).
        let (roofline, _) = efficiency_data(32, 1.0, 0.0);
        let measured: Vec<f64> = roofline.iter().map(|r| r / 1.19).collect();
        assert!(efficiency(&roofline, &measured).is_ok());

        let narrow: Vec<f64> = (0..10)
            .map(|i| 1e-3 * (1.0 + 0.01 * f64::from(i)))
            .collect();
        let refusal = efficiency(&narrow, &narrow).unwrap_err();
        assert!(
            matches!(refusal, Refusal::NoSpread { ref what, .. } if what == "roofline time"),
            "{refusal}"
        );

        let (mut roofline, measured) = efficiency_data(33, 0.6, 0.05);
        roofline[5] = 0.0;
        assert!(matches!(
            efficiency(&roofline, &measured),
            Err(Refusal::OutOfRange { index: 5, ref what, .. }) if what == "roofline time"
        ));

        assert!(matches!(
            efficiency(&[1e-3, 2e-3, 4e-3, 8e-3], &[2e-3, 4e-3, 8e-3, 16e-3]),
            Err(Refusal::TooFew { n: 4, need: 5, .. })
        ));

        let (roofline, _) = efficiency_data(34, 0.6, 0.0);
        let mut r = rng(35);
        let unrelated: Vec<f64> = roofline.iter().map(|_| r.random_range(0.01..0.1)).collect();
        assert!(matches!(
            efficiency(&roofline, &unrelated),
            Err(Refusal::PoorFit { need: 0.8, .. })
        ));
    }
}
