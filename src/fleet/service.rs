//! Drawing batch service times: [`ServiceTime`] with its distributions prepared once.

use rand::Rng;
use rand_distr::{Distribution, Exp1, LogNormal};

use super::ServiceTime;
use crate::units::SimTime;

/// A [`ServiceTime`] ready to sample; one per pool.
#[derive(Clone, Debug)]
pub struct ServiceSampler {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Exponential { mean_ns: f64 },
    Fixed { ns: u64 },
    Lognormal(LogNormal<f64>),
    BatchLinear { base: u64, per_item: u64 },
    Trace { scale: f64 },
}

impl ServiceSampler {
    pub fn new(time: &ServiceTime) -> ServiceSampler {
        let kind = match *time {
            ServiceTime::Exponential { mean } => Kind::Exponential {
                mean_ns: mean.0 as f64,
            },
            ServiceTime::Deterministic { value } => Kind::Fixed { ns: value.0 },
            ServiceTime::Lognormal { mean, cv } => {
                // Mean m and cv c of the lognormal give sigma^2 = ln(1 + c^2), mu = ln m - sigma^2 / 2.
                let sigma2 = (1.0 + cv * cv).ln();
                let mu = (mean.0 as f64).ln() - sigma2 / 2.0;
                Kind::Lognormal(
                    LogNormal::new(mu, sigma2.sqrt())
                        .expect("validated: mean > 0 and cv >= 0 give a finite lognormal"),
                )
            }
            ServiceTime::BatchLinear { base, per_item } => Kind::BatchLinear {
                base: base.0,
                per_item: per_item.0,
            },
            ServiceTime::Trace { scale } => Kind::Trace { scale },
        };
        ServiceSampler { kind }
    }

    /// Whether this sampler draws random numbers (so callers can skip the stream otherwise).
    pub fn is_random(&self) -> bool {
        matches!(self.kind, Kind::Exponential { .. } | Kind::Lognormal(_))
    }

    /// Time for a batch of `size` requests whose longest recorded (trace) service time is
    /// `traced`; at least one nanosecond, so that time always moves forward.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, size: u32, traced: SimTime) -> SimTime {
        let ns = match &self.kind {
            Kind::Exponential { mean_ns } => {
                let z: f64 = Exp1.sample(rng);
                SimTime::from_nanos_f64(z * mean_ns).0
            }
            Kind::Fixed { ns } => *ns,
            Kind::Lognormal(d) => SimTime::from_nanos_f64(d.sample(rng)).0,
            Kind::BatchLinear { base, per_item } => {
                base.saturating_add(per_item.saturating_mul(u64::from(size)))
            }
            Kind::Trace { scale } => SimTime::from_nanos_f64(traced.0 as f64 * scale).0,
        };
        SimTime(ns.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::substream;

    fn mean_and_cv(s: &ServiceSampler, n: usize) -> (f64, f64) {
        let mut rng = substream(1, "test");
        let xs: Vec<f64> = (0..n)
            .map(|_| s.sample(&mut rng, 1, SimTime::ZERO).0 as f64)
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        (mean, var.sqrt() / mean)
    }

    #[test]
    fn exponential_has_its_mean_and_cv_one() {
        let s = ServiceSampler::new(&ServiceTime::Exponential {
            mean: SimTime::from_millis(100),
        });
        let (mean, cv) = mean_and_cv(&s, 200_000);
        assert!((mean / 1e8 - 1.0).abs() < 0.01, "{mean}");
        assert!((cv - 1.0).abs() < 0.01, "{cv}");
    }

    #[test]
    fn lognormal_has_its_mean_and_cv() {
        let s = ServiceSampler::new(&ServiceTime::Lognormal {
            mean: SimTime::from_millis(200),
            cv: 0.5,
        });
        let (mean, cv) = mean_and_cv(&s, 200_000);
        assert!((mean / 2e8 - 1.0).abs() < 0.01, "{mean}");
        assert!((cv - 0.5).abs() < 0.01, "{cv}");
    }

    #[test]
    fn batch_linear_and_trace_are_exact() {
        let mut rng = substream(1, "test");
        let b = ServiceSampler::new(&ServiceTime::BatchLinear {
            base: SimTime::from_millis(20),
            per_item: SimTime::from_millis(2),
        });
        assert_eq!(
            b.sample(&mut rng, 10, SimTime::ZERO),
            SimTime::from_millis(40)
        );
        let t = ServiceSampler::new(&ServiceTime::Trace { scale: 0.5 });
        assert_eq!(
            t.sample(&mut rng, 1, SimTime::from_secs(3)),
            SimTime::from_millis(1500)
        );
    }
}
