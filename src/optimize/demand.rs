//! The demand curve: the arrival rate to plan for in each hour of the day.
//!
//! A period's demand is a percentile of the rate within it, sampled minute by minute: the
//! 100th plans for the worst minute, a lower one accepts brief overloads (which the verification
//! then judges). Synthetic processes give their rate in closed form; a trace is counted per
//! minute, each hour of the day pooling that hour's minutes over every day the trace covers.

use crate::workload::trace::TraceReader;
use crate::workload::{Arrival, TraceError, Workload};

/// Periods of one day: the plan's schedule is by hour of day.
pub const PERIODS: usize = 24;
const MINUTES: usize = 60;

/// Demand, requests per second, for each hour of the day.
pub fn hourly(workload: &Workload, percentile: f64) -> Result<Vec<f64>, TraceError> {
    let minutes: Vec<Vec<f64>> = match &workload.arrival {
        Arrival::Poisson { rate } => vec![vec![*rate]; PERIODS],
        // The plan is for the busier of a weekday and a weekend day.
        Arrival::Diurnal {
            rate,
            shape,
            weekend,
        } => (0..PERIODS)
            .map(|h| {
                (0..MINUTES)
                    .map(|m| {
                        rate * weekend.max(1.0)
                            * shape.multiplier(h as f64 + (m as f64 + 0.5) / 60.0)
                    })
                    .collect()
            })
            .collect(),
        Arrival::Bursty {
            calm_rate,
            burst_rate,
            ..
        } => {
            // The rate is the burst rate for the burst share of the time.
            let burst_share = workload.arrival.burst_share().expect("bursty");
            let rate = if percentile / 100.0 > 1.0 - burst_share {
                burst_rate.max(*calm_rate)
            } else {
                calm_rate.min(*burst_rate)
            };
            vec![vec![rate]; PERIODS]
        }
        Arrival::Trace(spec) => {
            let mut reader = TraceReader::for_spec(spec)?;
            let mut counts: Vec<f64> = Vec::new();
            while let Some(row) = reader.next_row()? {
                let minute = (row.time_s * spec.time_scale / 60.0) as usize;
                if counts.len() <= minute {
                    counts.resize(minute + 1, 0.0);
                }
                counts[minute] += spec.rate_multiplier / 60.0;
            }
            let mut by_hour = vec![Vec::new(); PERIODS];
            for (m, c) in counts.iter().enumerate() {
                by_hour[(m / MINUTES) % PERIODS].push(*c);
            }
            // Hours the trace does not cover take the trace's own percentile.
            let all: Vec<f64> = counts.clone();
            by_hour
                .into_iter()
                .map(|v| if v.is_empty() { all.clone() } else { v })
                .collect()
        }
        Arrival::Batch { .. } | Arrival::Closed { .. } => vec![vec![0.0]; PERIODS],
    };
    Ok(minutes
        .iter()
        .map(|v| percentile_of(v, percentile))
        .collect())
}

/// The `p`-th percentile (0 to 100) of `xs`, by linear interpolation between order statistics.
fn percentile_of(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = p / 100.0 * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::DailyShape;

    fn workload(arrival: Arrival) -> Workload {
        Workload {
            name: "w".into(),
            model: "m".into(),
            arrival,
            tokens: None,
            dispatch: crate::workload::Dispatch {
                policy: crate::workload::Policy::LeastOutstanding,
                queue_capacity: None,
                timeout: None,
            },
            slo: None,
            stream: "w".into(),
        }
    }

    #[test]
    fn diurnal_peak_hour_has_the_peak() {
        let w = workload(Arrival::Diurnal {
            rate: 30.0,
            shape: DailyShape::Sinusoid {
                peak_to_trough: 3.0,
                peak_hour: 15.0,
            },
            weekend: 1.0,
        });
        let max = hourly(&w, 100.0).unwrap();
        let median = hourly(&w, 50.0).unwrap();
        // Peak 1.5 x 30 = 45 at 15:00, reached within the hours on either side of it.
        assert!(
            (max[14] - 45.0).abs() < 0.01 && (max[15] - 45.0).abs() < 0.01,
            "{max:?}"
        );
        assert!(median[15] < max[15] && median[15] > 44.0);
        // Trough 15 at 03:00.
        assert!(max.iter().all(|&r| r >= 15.0 - 1e-9));
        let min = hourly(&w, 0.0).unwrap();
        assert!((min[3] - 15.0).abs() < 0.01, "{min:?}");
    }

    #[test]
    fn percentiles_interpolate() {
        assert_eq!(percentile_of(&[3.0, 1.0, 2.0], 50.0), 2.0);
        assert_eq!(percentile_of(&[1.0, 2.0], 75.0), 1.75);
        assert_eq!(percentile_of(&[5.0], 10.0), 5.0);
    }
}
