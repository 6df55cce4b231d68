//! The LLM roofline against published measurements: the held-out half of
//! `docs/llm-measurements.csv` must stay within a 15 % median error with the default efficiency
//! factors (fitted on the calibration half only).

use headroom::experiment::validation;
use headroom::llm::DEFAULT_EFFICIENCY;

use crate::support::root;

#[test]
fn held_out_measurements_within_15_percent() {
    let rows = validation::load(&root().join("docs/llm-measurements.csv")).unwrap();
    let calibration = rows.iter().filter(|m| m.is_calibration()).count();
    assert!(rows.len() >= 8, "at least four measurements on each side");
    assert!(
        calibration * 2 <= rows.len(),
        "calibration uses at most half"
    );
    let mut report = String::new();
    let mut held_out = Vec::new();
    for m in &rows {
        let p = validation::predict(m, &DEFAULT_EFFICIENCY).unwrap();
        let e = validation::error(p, m.value);
        report.push_str(&format!(
            "{} {} {}: published {} headroom {:.1} ({:+.1}%)\n",
            m.id,
            m.set,
            m.metric,
            m.value,
            p,
            e * 100.0
        ));
        if !m.is_calibration() {
            held_out.push(e);
        }
    }
    let median = validation::median_abs(&held_out);
    assert!(
        median < 0.15,
        "held-out median |error| {:.1}%\n{report}",
        median * 100.0
    );
}
