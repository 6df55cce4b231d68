//! What a quick preview of a long run simulates: which parts of the horizon, and for how long.
//!
//! The TUI answers an edit within a fraction of a second with a preview, then replaces it with
//! the full run. A preview has to say what matters first, and its money has to be close to the
//! full run's. So:
//! - a scenario whose traffic or fleet follows the time of day (a diurnal arrival, a schedule)
//!   is previewed by up to [`SLICES`] short slices a quarter of a day apart, the first centred
//!   on the busiest minute of the day. The busiest window is seen first; and the mean over the
//!   slices of anything with a daily cycle (the cost per hour of an autoscaled fleet,
//!   utilisation) is close to the day's, since four samples a quarter of a period apart average
//!   a sinusoid to its mean exactly. Each slice warms up on its own ([`SLICE_WARMUP`] at most).
//! - any other scenario is previewed by the first part of its horizon, as good as any other.

use crate::fleet::ScalingPolicy;
use crate::scenario::Scenario;
use crate::units::SimTime;
use crate::workload::Arrival;

/// Slices of a daily cycle: four, a quarter of a day apart.
pub const SLICES: usize = 4;
/// Longest warm-up of a slice: enough for an autoscaled fleet to reach its level.
pub const SLICE_WARMUP: SimTime = SimTime(15 * 60 * 1_000_000_000);
const DAY_S: f64 = 86_400.0;
/// The spacing of slices.
const QUARTER_S: f64 = DAY_S / SLICES as f64;
/// The least share of the window a preview measures.
const MIN_FRACTION: f64 = 0.02;

/// The parts of a scenario a preview runs, each once.
#[derive(Clone, Debug)]
pub struct Preview {
    /// The scenario cut to each part ([`Scenario::slice`]); the busiest first.
    pub slices: Vec<Scenario>,
    /// When slices follow the day: the middle of the first, the busiest minute.
    pub busiest: Option<SimTime>,
}

impl Preview {
    /// What each part measures (they are all as long).
    pub fn window(&self) -> SimTime {
        self.slices[0].window()
    }
}

/// A preview of `s` that simulates about `fraction` of its measured window (plus warm-ups), or
/// `None` when that would be most of the run anyway.
pub fn plan(s: &Scenario, fraction: f64) -> Option<Preview> {
    let window = s.window().as_secs_f64();
    if fraction.is_nan() || fraction >= 0.6 || window <= 0.0 {
        return None;
    }
    let interval = s.interval().as_secs_f64().max(1e-9);
    let budget = window * fraction.max(MIN_FRACTION);
    if let Some(busiest_s) = busiest_second_of_day(s) {
        let warmup = s.warmup().min(SLICE_WARMUP);
        let per_slice = budget / SLICES as f64 - warmup.as_secs_f64();
        let measured = (per_slice / interval).round().max(1.0) * interval;
        if measured <= QUARTER_S / 2.0
            && let Some(p) = daily_slices(s, busiest_s, measured, warmup)
        {
            return Some(p);
        }
    }
    // Whole intervals, so the time series' last row is as long as the others.
    let measured = (budget / interval).ceil() * interval;
    let horizon = s.measured_from().as_secs_f64() + measured;
    (horizon < s.horizon().as_secs_f64()).then(|| Preview {
        slices: vec![s.slice(s.start(), s.warmup(), SimTime::from_secs_f64(horizon))],
        busiest: None,
    })
}

/// Slices of `measured` seconds centred a quarter of a day apart, one on `busiest_s`, that fit
/// in the scenario's measured window; `None` when none does.
fn daily_slices(s: &Scenario, busiest_s: f64, measured: f64, warmup: SimTime) -> Option<Preview> {
    let (from, to) = (s.measured_from().as_secs_f64(), s.horizon().as_secs_f64());
    let half = measured / 2.0;
    // Centres at `busiest_s + m * QUARTER_S`; those with `m` a multiple of four are at the peak.
    let m0 = ((from + half - busiest_s) / QUARTER_S).ceil() as i64;
    let mut centres: Vec<(i64, f64)> = (m0..m0 + SLICES as i64)
        .map(|m| (m, busiest_s + m as f64 * QUARTER_S))
        .filter(|(_, c)| c + half <= to)
        .collect();
    let peak = centres
        .iter()
        .position(|(m, _)| m.rem_euclid(SLICES as i64) == 0)?;
    centres.rotate_left(peak);
    let slices = centres
        .iter()
        .map(|&(_, c)| {
            let start = SimTime::from_secs_f64(c - half - warmup.as_secs_f64());
            s.slice(start, warmup, SimTime::from_secs_f64(c + half))
        })
        .collect();
    Some(Preview {
        slices,
        busiest: Some(SimTime::from_secs_f64(centres[0].1)),
    })
}

/// The second of the day (from the start of the run) when the scenario is busiest: the minute
/// with the most arrivals over its diurnal workloads or, without them, the hour its schedules
/// ask for the most replicas. `None` when nothing follows the time of day.
fn busiest_second_of_day(s: &Scenario) -> Option<f64> {
    let shapes: Vec<_> = s
        .workloads()
        .iter()
        .filter_map(|w| match &w.arrival {
            Arrival::Diurnal { rate, shape, .. } => Some((*rate, shape)),
            _ => None,
        })
        .collect();
    if !shapes.is_empty() {
        let rate = |minute: usize| -> f64 {
            let hour = (minute as f64 + 0.5) / 60.0;
            shapes.iter().map(|(r, sh)| r * sh.multiplier(hour)).sum()
        };
        let best = argmax((0..1440).map(rate));
        return Some((best as f64 + 0.5) * 60.0);
    }
    let schedules: Vec<&[u32; 24]> = s
        .pools()
        .iter()
        .filter_map(|p| match &p.scaling.as_ref()?.policy {
            ScalingPolicy::Schedule { hours } | ScalingPolicy::Predictive { hours, .. } => {
                Some(hours)
            }
            _ => None,
        })
        .collect();
    if schedules.is_empty() {
        return None;
    }
    let wanted = |h: usize| -> f64 { schedules.iter().map(|s| f64::from(s[h])).sum() };
    Some((argmax((0..24).map(wanted)) as f64 + 0.5) * 3600.0)
}

/// The index of the first largest value.
fn argmax(xs: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, x) in xs.enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(file: &str) -> Scenario {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        crate::scenario::load(&root.join("scenarios").join(file), &[]).unwrap()
    }

    #[test]
    fn a_day_of_diurnal_traffic_is_previewed_by_four_slices_from_its_peak() {
        let s = load("autoscale-diurnal.toml");
        let p = plan(&s, 0.05).expect("a preview");
        assert_eq!(p.slices.len(), SLICES);
        // The peak is at 14:00; slices are centred at 14:00, 20:00, 02:00 (next day) and 08:00.
        let centre_h = |x: &Scenario| {
            (x.measured_from().as_secs_f64() + x.window().as_secs_f64() / 2.0) / 3600.0
        };
        let hours: Vec<f64> = p.slices.iter().map(centre_h).collect();
        let near = |a: f64, b: f64| (a - b).abs() < 0.02;
        assert!(near(hours[0], 14.0) && near(hours[1], 20.0), "{hours:?}");
        assert!(near(hours[2], 2.0) && near(hours[3], 8.0), "{hours:?}");
        for x in &p.slices {
            assert_eq!(x.window(), p.window());
            assert!(x.start() >= s.start() && x.horizon() <= s.horizon());
            assert!(x.measured_from() >= s.measured_from());
            assert_eq!(x.warmup(), SLICE_WARMUP);
        }
    }

    #[test]
    fn steady_traffic_is_previewed_by_the_start_of_the_horizon() {
        let s = load("mmc.toml");
        let p = plan(&s, 0.05).expect("a preview");
        assert_eq!(p.slices.len(), 1);
        assert_eq!(p.slices[0].start(), SimTime::ZERO);
        assert!(p.slices[0].horizon() < s.horizon());
        assert!(p.busiest.is_none());
        assert!(plan(&s, 0.7).is_none(), "most of the run is the run");
    }
}
