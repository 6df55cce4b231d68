//! The TUI's preview against the full run it stands in for: its cost per hour is close to the
//! full run's, and on a day of diurnal traffic its first slice is the busiest.

use std::sync::atomic::AtomicBool;

use headroom::experiment::run::{self, RunOptions};
use headroom::experiment::{preview, run_slices};
use headroom::sim::Metric;

use crate::support::load;

/// Cost per hour of the full run and of previews that simulate 2, 5 and 10 % of the window.
fn cost_per_hour(name: &str) -> (f64, Vec<f64>) {
    let s = load(name, &[]);
    let per_hour = |o: &run::Outcome| {
        o.serving
            .as_ref()
            .unwrap()
            .total
            .get(Metric::CostPerHour)
            .mean
    };
    let full = run::run(&s, &RunOptions::new(&s, 1)).unwrap();
    let previews = [0.02, 0.05, 0.1]
        .iter()
        .map(|&f| {
            let p = preview::plan(&s, f).expect("a preview");
            per_hour(&run::preview(&p, &RunOptions::new(&s, 1)).unwrap())
        })
        .collect();
    (per_hour(&full), previews)
}

#[test]
fn previews_cost_within_a_fifth_of_the_full_run() {
    for name in ["chat-assistant.toml", "autoscale-diurnal.toml"] {
        let (full, previews) = cost_per_hour(name);
        for p in previews {
            let off = (p - full).abs() / full;
            assert!(
                off <= 0.2,
                "{name}: preview ${p:.2}/h against ${full:.2}/h ({:.0} %)",
                off * 100.0
            );
        }
    }
}

#[test]
fn a_diurnal_day_is_previewed_from_its_busiest_window() {
    let s = load("autoscale-diurnal.toml", &[]);
    let p = preview::plan(&s, 0.05).unwrap();
    let runs = run_slices(&p.slices, s.seed(), None, &AtomicBool::new(false)).unwrap();
    let arrived: Vec<f64> = runs.iter().map(|r| r.total.get(Metric::Arrived)).collect();
    assert_eq!(arrived.len(), preview::SLICES);
    assert!(arrived[1..].iter().all(|&a| a < arrived[0]), "{arrived:?}");
}
