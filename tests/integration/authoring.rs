//! Aids for writing a scenario: a diurnal day given by its peak, weekends, and the errors that
//! point at the field.

use headroom::workload::Arrival;

use crate::support::{load, root};

/// The chat assistant with another arrival.
fn diurnal(arrival: &str) -> Result<headroom::Scenario, String> {
    let dir = root().join("scenarios");
    let text = std::fs::read_to_string(dir.join("chat-assistant.toml")).unwrap();
    let old = "arrival = { kind = \"diurnal\", rate = 30, peak_to_trough = 3, peak_hour = 15 }";
    assert!(text.contains(old));
    let text = text.replace(old, &format!("arrival = {arrival}"));
    headroom::scenario::parse(&text, "chat.toml", &dir, &[]).map_err(|e| e.to_string())
}

#[test]
fn a_diurnal_day_can_be_given_by_its_peak() {
    let s = diurnal("{kind=\"diurnal\",peak_rate=60,peak_to_trough=3,peak_hour=15}").unwrap();
    let Arrival::Diurnal { rate, shape, .. } = &s.workloads()[0].arrival else {
        panic!("diurnal")
    };
    // 3:1 peak to trough: the peak is 1.5 times the mean.
    assert!((rate - 40.0).abs() < 1e-9, "{rate}");
    assert!((rate * shape.multiplier(15.0) - 60.0).abs() < 1e-9);
    // The same day by its mean.
    let by_mean = load("chat-assistant.toml", &["workloads.chat.arrival.rate=40"]);
    let Arrival::Diurnal { rate: mean, .. } = &by_mean.workloads()[0].arrival else {
        panic!("diurnal")
    };
    assert_eq!(*mean, 40.0);
    // An hourly shape peaks at its largest multiplier.
    let mut hourly = vec!["1"; 24];
    hourly[12] = "4";
    let s = diurnal(&format!(
        "{{kind=\"diurnal\",peak_rate=10,hourly=[{}]}}",
        hourly.join(",")
    ))
    .unwrap();
    let Arrival::Diurnal { rate, shape, .. } = &s.workloads()[0].arrival else {
        panic!("diurnal")
    };
    assert!((rate * shape.multiplier(12.5) - 10.0).abs() < 1e-9);
}

#[test]
fn rate_and_peak_rate_together_or_a_bad_weekend_are_refused_at_the_field() {
    let e = diurnal("{kind=\"diurnal\",rate=30,peak_rate=60,peak_to_trough=3}").unwrap_err();
    assert!(
        e.contains("give either `rate`") && e.contains("not both"),
        "{e}"
    );
    let e = diurnal("{kind=\"diurnal\",rate=30,peak_to_trough=3,weekend=-1}").unwrap_err();
    assert!(e.contains("`weekend` is the weekend's rate"), "{e}");
    let e = diurnal("{kind=\"poisson\",rate=30,weekend=0.5}").unwrap_err();
    assert!(e.contains("weekend"), "{e}");
}
