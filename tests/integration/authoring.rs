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

#[test]
fn tensor_parallel_groups_that_leave_gpus_idle_are_named_with_their_cost() {
    let s = load(
        "llm-fleet.toml",
        &["pools.h100.tensor_parallel=4", "pools.h100.replicas=3"],
    );
    let advice = s.advice();
    assert_eq!(advice.len(), 1, "{advice:?}");
    let text = advice[0].to_string();
    assert!(
        text.contains("--set pools.h100.replicas=3")
            && text.contains("3 replicas of 4 GPUs use 12 of the 16 GPUs of 2 p5.48xlarge")
            && text.contains("the 4 idle GPUs cost $")
            && text.contains("`replicas = 4`"),
        "{text}"
    );
    // Whole instances: nothing to say.
    let s = load(
        "llm-fleet.toml",
        &["pools.h100.tensor_parallel=4", "pools.h100.replicas=4"],
    );
    assert!(s.advice().is_empty());
    for (name, _) in headroom::bundled::SCENARIOS {
        let s = headroom::scenario::load(&root().join("scenarios").join(name), &[]).unwrap();
        assert!(s.advice().is_empty(), "{name}: {:?}", s.advice());
    }
}

#[test]
fn the_json_report_carries_the_advice_with_its_location() {
    let out = crate::support::headroom()
        .args(["simulate", "scenarios/llm-fleet.toml", "-f", "json"])
        .args([
            "--set",
            "pools.h100.tensor_parallel=4",
            "--set",
            "pools.h100.replicas=3",
        ])
        .args(["--set", "horizon=\"20m\"", "--set", "warmup=\"2m\""])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let warnings = v["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["location"], "--set pools.h100.replicas=3");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(message.contains("the 4 idle GPUs cost $"), "{message}");
}
