//! Seeded noise and textbook standard errors, so tests state their tolerances in standard
//! errors of the estimate rather than in numbers tuned to one draw.

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_pcg::Pcg64;

pub(super) fn rng(seed: u64) -> Pcg64 {
    Pcg64::seed_from_u64(seed)
}

/// `n` draws of N(0, σ²).
pub(super) fn normal_noise(rng: &mut Pcg64, sigma: f64, n: usize) -> Vec<f64> {
    let normal = Normal::new(0.0, sigma).expect("σ is positive in tests");
    (0..n).map(|_| normal.sample(rng)).collect()
}

/// Standard errors of (intercept, slope) of ordinary least squares on `xs` with noise σ:
/// σ sqrt(1/n + x̄²/Sxx) and σ / sqrt(Sxx).
pub(super) fn standard_errors(xs: &[f64], sigma: f64) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum();
    (
        sigma * (1.0 / n + mean * mean / sxx).sqrt(),
        sigma / sxx.sqrt(),
    )
}
