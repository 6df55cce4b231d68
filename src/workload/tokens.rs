//! Token counts of LLM requests: input (prompt) and output (generated) tokens, drawn from a
//! distribution when a trace does not record them.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, LogNormal};

/// How a token count is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenDist {
    Fixed(u32),
    /// Uniform on `min..=max`.
    Uniform {
        min: u32,
        max: u32,
    },
    /// Lognormal with this mean and coefficient of variation, rounded and clamped to
    /// `min..=max` (prompt and answer lengths are heavy-tailed).
    Lognormal {
        mean: f64,
        cv: f64,
        min: u32,
        max: u32,
    },
    /// One of `values`, with probabilities proportional to `weights`.
    Empirical {
        values: Vec<u32>,
        weights: Vec<f64>,
    },
}

impl TokenDist {
    /// The mean (before clamping, for the lognormal).
    pub fn mean(&self) -> f64 {
        match self {
            TokenDist::Fixed(v) => f64::from(*v),
            TokenDist::Uniform { min, max } => (f64::from(*min) + f64::from(*max)) / 2.0,
            TokenDist::Lognormal { mean, .. } => *mean,
            TokenDist::Empirical { values, weights } => {
                let total: f64 = weights.iter().sum();
                values
                    .iter()
                    .zip(weights)
                    .map(|(v, w)| f64::from(*v) * w)
                    .sum::<f64>()
                    / total
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            TokenDist::Fixed(_) => "fixed",
            TokenDist::Uniform { .. } => "uniform",
            TokenDist::Lognormal { .. } => "lognormal",
            TokenDist::Empirical { .. } => "empirical",
        }
    }
}

/// A [`TokenDist`] ready to sample.
#[derive(Clone, Debug)]
pub struct TokenSampler {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Fixed(u32),
    Uniform(u32, u32),
    Lognormal(LogNormal<f64>, u32, u32),
    /// Values and cumulative probabilities.
    Empirical(Vec<u32>, Vec<f64>),
}

impl TokenSampler {
    pub fn new(d: &TokenDist) -> TokenSampler {
        let kind = match d {
            TokenDist::Fixed(v) => Kind::Fixed(*v),
            TokenDist::Uniform { min, max } => Kind::Uniform(*min, *max),
            TokenDist::Lognormal { mean, cv, min, max } => {
                let sigma2 = (1.0 + cv * cv).ln();
                let mu = mean.ln() - sigma2 / 2.0;
                Kind::Lognormal(
                    LogNormal::new(mu, sigma2.sqrt()).expect("validated: mean > 0, cv >= 0"),
                    *min,
                    *max,
                )
            }
            TokenDist::Empirical { values, weights } => {
                let total: f64 = weights.iter().sum();
                let mut acc = 0.0;
                let cumulative = weights
                    .iter()
                    .map(|w| {
                        acc += w / total;
                        acc
                    })
                    .collect();
                Kind::Empirical(values.clone(), cumulative)
            }
        };
        TokenSampler { kind }
    }

    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        match &self.kind {
            Kind::Fixed(v) => *v,
            Kind::Uniform(min, max) => rng.random_range(*min..=*max),
            Kind::Lognormal(d, min, max) => {
                let x = d.sample(rng).round();
                (x.max(f64::from(*min)).min(f64::from(*max))) as u32
            }
            Kind::Empirical(values, cumulative) => {
                let u: f64 = rng.random();
                let i = cumulative.partition_point(|c| *c <= u);
                values[i.min(values.len() - 1)]
            }
        }
    }
}

/// Input and output token distributions of a workload (each may instead come from a trace).
#[derive(Clone, Debug, PartialEq)]
pub struct TokenSpec {
    pub input: Option<TokenDist>,
    pub output: Option<TokenDist>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::substream;

    fn mean_of(d: &TokenDist) -> f64 {
        let s = TokenSampler::new(d);
        let mut rng = substream(9, "tokens");
        (0..200_000)
            .map(|_| f64::from(s.sample(&mut rng)))
            .sum::<f64>()
            / 200_000.0
    }

    #[test]
    fn samples_have_their_means() {
        for d in [
            TokenDist::Fixed(128),
            TokenDist::Uniform { min: 10, max: 30 },
            TokenDist::Lognormal {
                mean: 600.0,
                cv: 1.0,
                min: 1,
                max: 1_000_000,
            },
            TokenDist::Empirical {
                values: vec![100, 1000],
                weights: vec![3.0, 1.0],
            },
        ] {
            let got = mean_of(&d);
            assert!((got / d.mean() - 1.0).abs() < 0.01, "{d:?}: {got}");
        }
    }

    #[test]
    fn lognormal_is_clamped() {
        let s = TokenSampler::new(&TokenDist::Lognormal {
            mean: 500.0,
            cv: 2.0,
            min: 50,
            max: 900,
        });
        let mut rng = substream(1, "t");
        for _ in 0..10_000 {
            let x = s.sample(&mut rng);
            assert!((50..=900).contains(&x));
        }
    }
}
