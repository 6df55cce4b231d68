//! The fits against data drawn from known models: they recover the parameters, and their
//! standard errors cover them.

use super::testkit::{normal_noise, rng, standard_errors};
use super::*;
use proptest::prelude::*;
use rand::RngExt;

const OPEN: Rules = Rules {
    min_points: 2,
    min_relative_spread: 0.0,
    min_r_squared: f64::NEG_INFINITY,
};

const STRICT: Rules = Rules {
    min_points: 10,
    min_relative_spread: 0.5,
    min_r_squared: 0.8,
};

#[test]
fn recovers_a_noisy_line_within_five_standard_errors() {
    // Tolerance: 5 standard errors of each estimate, from the design and the noise's σ.
    // The seed is fixed, so the test never flakes; any seed passes with probability
    // 1 - 6e-7 per parameter, so the band is not tuned to this draw.
    let (intercept, slope, sigma) = (3.0, 0.75, 0.4);
    let mut rng = rng(1);
    let xs: Vec<f64> = (0..200).map(|_| rng.random_range(0.0..50.0)).collect();
    let noise = normal_noise(&mut rng, sigma, xs.len());
    let ys: Vec<f64> = xs
        .iter()
        .zip(&noise)
        .map(|(x, e)| intercept + slope * x + e)
        .collect();
    let fit = line(&xs, &ys, &STRICT).unwrap();
    let (se_intercept, se_slope) = standard_errors(&xs, sigma);
    assert!(
        (fit.intercept - intercept).abs() < 5.0 * se_intercept,
        "{fit:?}"
    );
    assert!((fit.slope - slope).abs() < 5.0 * se_slope, "{fit:?}");
    // rmse estimates σ; with 200 points its own error is about σ / sqrt(400) = 5 %.
    assert!((fit.rmse / sigma - 1.0).abs() < 0.25, "{fit:?}");
    assert!(fit.r_squared > 0.99);
    assert_eq!(
        (fit.n, fit.x_min, fit.x_max),
        (200, range(&xs).0, range(&xs).1)
    );
}

#[test]
fn recovers_a_noisy_proportion_within_five_standard_errors() {
    // Same band as above: for y = c x + e, se(c) = σ / sqrt(Σx²).
    let (c, sigma) = (1.6, 0.05);
    let mut rng = rng(2);
    let xs: Vec<f64> = (0..100).map(|_| rng.random_range(0.1..5.0)).collect();
    let noise = normal_noise(&mut rng, sigma, xs.len());
    let ys: Vec<f64> = xs.iter().zip(&noise).map(|(x, e)| c * x + e).collect();
    let fit = proportional(&xs, &ys, &STRICT).unwrap();
    let se = sigma / xs.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert_eq!(fit.intercept, 0.0);
    assert!((fit.slope - c).abs() < 5.0 * se, "{fit:?}");
}

#[test]
fn proportional_r_squared_is_about_the_mean() {
    // y = 10 + tiny wobble, x varies: through the origin explains nothing about the
    // variation. The uncentred R² would be ~0.9; the centred one is far below 0.
    let xs = [1.0, 2.0, 3.0, 4.0];
    let ys = [10.0, 10.1, 9.9, 10.0];
    let fit = proportional(&xs, &ys, &OPEN).unwrap();
    assert!(fit.r_squared < 0.0, "{fit:?}");
}

#[test]
fn a_flat_y_is_a_perfect_fit_not_zero_over_zero() {
    let fit = line(&[1.0, 2.0, 3.0], &[0.1, 0.1, 0.1], &OPEN).unwrap();
    assert_eq!(fit.r_squared, 1.0);
    assert!(fit.slope.abs() < 1e-15);
}

#[test]
fn robust_fit_ignores_five_percent_gross_outliers() {
    // Service times: 0.02 s + 5 ms per item, σ = 2 ms. Every 20th request stalls for an
    // extra 0.5 s (250 σ). Tolerance: 5 standard errors of the clean fit, as above.
    let (intercept, slope, sigma) = (0.02, 0.005, 0.002);
    let mut rng = rng(3);
    let xs: Vec<f64> = (0..400).map(|_| rng.random_range(1.0..64.0)).collect();
    let noise = normal_noise(&mut rng, sigma, xs.len());
    let mut ys: Vec<f64> = xs
        .iter()
        .zip(&noise)
        .map(|(x, e)| intercept + slope * x + e)
        .collect();
    for y in ys.iter_mut().step_by(20) {
        *y += 0.5;
    }
    let (se_intercept, se_slope) = standard_errors(&xs, sigma);
    let (fit, dropped) = line_robust(&xs, &ys, &STRICT, 4.0).unwrap();
    assert!(
        (fit.intercept - intercept).abs() < 5.0 * se_intercept,
        "{fit:?}"
    );
    assert!((fit.slope - slope).abs() < 5.0 * se_slope, "{fit:?}");
    // All 20 outliers go; at 4 σ a good point goes 1 time in 16,000.
    assert!((20..=22).contains(&dropped), "{dropped}");
    assert_eq!(fit.n, 400 - dropped);
    let plain = line(&xs, &ys, &OPEN).unwrap();
    assert!(
        (plain.intercept - intercept).abs() > 5.0 * se_intercept,
        "the plain fit should move: {plain:?}"
    );
}

#[test]
fn robust_fit_on_clean_noise_free_data_drops_nothing() {
    let xs: Vec<f64> = (1..=30).map(f64::from).collect();
    let ys: Vec<f64> = xs.iter().map(|x| 2.0 + 0.1 * x).collect();
    let (fit, dropped) = line_robust(&xs, &ys, &STRICT, 4.0).unwrap();
    assert_eq!(dropped, 0);
    assert!((fit.slope - 0.1).abs() < 1e-12);
    let mut bad = ys.clone();
    bad[7] += 1.0;
    let (fit, dropped) = line_robust(&xs, &bad, &STRICT, 4.0).unwrap();
    assert_eq!(dropped, 1);
    assert!((fit.slope - 0.1).abs() < 1e-12);
}

#[test]
fn refusals_name_what_is_wrong() {
    let xs = [1.0, 2.0, 3.0];
    assert!(matches!(
        line(&xs, &[1.0, 2.0], &OPEN),
        Err(Refusal::LengthMismatch { xs: 3, ys: 2, .. })
    ));
    assert!(matches!(
        line(&xs, &[1.0, f64::NAN, 3.0], &OPEN),
        Err(Refusal::NonFinite { index: 1, ref what, .. }) if what == "y"
    ));
    assert!(matches!(
        line(&[1.0, f64::INFINITY, 3.0], &xs, &OPEN),
        Err(Refusal::NonFinite { index: 1, ref what, .. }) if what == "x"
    ));
    assert_eq!(
        line(&xs, &xs, &STRICT),
        Err(Refusal::TooFew {
            what: "points".into(),
            n: 3,
            need: 10
        })
    );
    assert!(matches!(
        line(&[], &[], &OPEN),
        Err(Refusal::TooFew { n: 0, need: 2, .. })
    ));
    assert!(matches!(
        line(&[5.0; 12], &[1.0; 12], &OPEN),
        Err(Refusal::NoSpread {
            min: 5.0,
            max: 5.0,
            ..
        })
    ));
    // 40 % to 42 %: 5 % apart, the rule asks 50 %.
    let narrow: Vec<f64> = (0..12).map(|i| 0.40 + 0.02 * f64::from(i) / 11.0).collect();
    let refusal = line(&narrow, &narrow, &STRICT).unwrap_err();
    assert!(matches!(refusal, Refusal::NoSpread { .. }), "{refusal}");
    assert!(
        refusal.to_string().contains("0.4000 to 0.4200"),
        "{refusal}"
    );
    // Pure noise: no relation to x.
    let mut rng = rng(4);
    let wide: Vec<f64> = (0..50).map(f64::from).collect();
    let noise = normal_noise(&mut rng, 1.0, 50);
    assert!(matches!(
        line(&wide, &noise, &STRICT),
        Err(Refusal::PoorFit { need: 0.8, .. })
    ));
    assert!(matches!(
        proportional(&wide, &noise, &STRICT),
        Err(Refusal::PoorFit { .. })
    ));
    let huge = [1e200, 2e200, 3e200];
    assert_eq!(line(&huge, &huge, &OPEN), Err(Refusal::Overflow));
    assert_eq!(line(&huge, &xs, &OPEN), Err(Refusal::Overflow));
    assert_eq!(proportional(&huge, &xs, &OPEN), Err(Refusal::Overflow));
    // Large y alone is fine: nothing large is squared on the way to the slope.
    assert_eq!(line(&xs, &huge, &OPEN).unwrap().slope, 1e200);
    assert!(matches!(
        line_robust(&xs, &xs, &OPEN, 0.0),
        Err(Refusal::BadRule { .. })
    ));
    let nan_rule = Rules {
        min_r_squared: f64::NAN,
        ..OPEN
    };
    assert!(matches!(
        line(&xs, &xs, &nan_rule),
        Err(Refusal::BadRule { .. })
    ));
}

#[test]
fn robust_refit_is_held_to_the_point_count() {
    // Twelve points on a line, the middle four far off it: dropping them leaves 8 < 10.
    let xs: Vec<f64> = (0..12).map(f64::from).collect();
    let mut ys: Vec<f64> = xs.iter().map(|x| 1.0 + x).collect();
    for y in &mut ys[4..8] {
        *y += 100.0;
    }
    assert!(matches!(
        line_robust(&xs, &ys, &STRICT, 4.0),
        Err(Refusal::TooFew { n: 8, need: 10, .. })
    ));
}

#[test]
fn sig_keeps_four_digits() {
    assert_eq!(sig(-0.000123456), "-0.0001235");
    assert_eq!(sig(240.123), "240.1");
    assert_eq!(sig(1.5e6), "1500000");
    assert_eq!(sig(0.0), "0");
}

// Noise-free lines, with parameters and x ranges chosen so rounding stays far below 1e-9:
// y is exact to about 1e-16 relative, and the estimates amplify that by at most
// |slope| max|x| / |intercept| (≤ 1.1e4) times max|x| / spread (≤ 11), so errors stay
// below ~1e-11. Wider ranges would test conditioning, not the code.
proptest! {
    #[test]
    fn noise_free_lines_are_recovered(
        intercept_mag in 1.0f64..1e3,
        intercept_neg in any::<bool>(),
        slope_mag in 0.1f64..1e2,
        slope_neg in any::<bool>(),
        x0 in -10.0f64..10.0,
        width in 1.0f64..100.0,
        inner in proptest::collection::vec(0.0f64..1.0, 1..60),
    ) {
        let intercept = if intercept_neg { -intercept_mag } else { intercept_mag };
        let slope = if slope_neg { -slope_mag } else { slope_mag };
        let mut xs = vec![x0, x0 + width];
        xs.extend(inner.iter().map(|u| x0 + u * width));
        let ys: Vec<f64> = xs.iter().map(|x| intercept + slope * x).collect();
        let fit = line(&xs, &ys, &OPEN).unwrap();
        prop_assert!((fit.intercept - intercept).abs() <= 1e-9 * intercept.abs(), "{:?}", fit);
        prop_assert!((fit.slope - slope).abs() <= 1e-9 * slope.abs(), "{:?}", fit);
        prop_assert!((fit.r_squared - 1.0).abs() <= 1e-9, "{:?}", fit);

        let ys: Vec<f64> = xs.iter().map(|x| slope * x).collect();
        let fit = proportional(&xs, &ys, &OPEN).unwrap();
        prop_assert!((fit.slope - slope).abs() <= 1e-9 * slope.abs(), "{:?}", fit);

        let (fit, dropped) = line_robust(&xs, &ys, &OPEN, 4.0).unwrap();
        prop_assert_eq!(dropped, 0);
        prop_assert!((fit.slope - slope).abs() <= 1e-9 * slope.abs(), "{:?}", fit);
    }
}
