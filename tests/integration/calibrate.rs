//! `headroom gpus` and `headroom calibrate` as processes, through the real NVML bindings loaded
//! from the C stub (tests/fixtures/nvml_stub.c: two L40S, power = 60 W + 240 W × utilization);
//! then a scenario that uses the profile, with an energy line checked by hand.

use headroom::profile::Profile;

use crate::support::{headroom, nvml_stub};

/// 400 requests at batch sizes 1–8: 400 ms + 60 ms per item, ±1 % deterministic wobble.
fn request_log() -> String {
    let mut s = String::from("timestamp,batch_size,latency_ms\n");
    for i in 0..400 {
        let b = [1, 2, 4, 8][i % 4];
        let wobble = [-4.0, 3.0, -1.0, 2.0, 0.0][i % 5];
        s.push_str(&format!(
            "{:.2},{b},{:.2}\n",
            i as f64 * 0.5,
            400.0 + 60.0 * b as f64 + wobble
        ));
    }
    s
}

#[test]
fn without_nvml_one_sentence_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [vec!["gpus"], vec!["calibrate", "--duration", "1s"]] {
        let out = headroom()
            .args(&args)
            .args(["--nvml-lib", dir.path().join("none.so").to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cannot load the NVIDIA management library"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn gpus_lists_the_stub() {
    let out = headroom()
        .args(["gpus", "--nvml-lib", nvml_stub().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("driver 550.54.15 · CUDA 12.4 · 2 GPUs"),
        "{text}"
    );
    assert_eq!(text.matches("NVIDIA L40S").count(), 2, "{text}");
    let out = headroom()
        .args(["gpus", "-f", "json"])
        .env("HEADROOM_NVML_LIB", nvml_stub())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["gpus"][1]["device"]["uuid"], "GPU-stub-1");
    assert_eq!(v["gpus"][0]["device"]["power_limit_w"], 350.0);
}

#[test]
fn calibrate_fits_replays_and_feeds_a_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.csv");
    std::fs::write(&log, request_log()).unwrap();
    let profile = dir.path().join("profiles/l40s.toml");
    let out = headroom()
        .args(["calibrate", "--nvml-lib", nvml_stub().to_str().unwrap()])
        .args(["--interval", "10ms", "--devices", "1", "--log"])
        .arg(&log)
        .arg("--out")
        .arg(&profile)
        .args(["--", "sleep", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("power: 60.0 W idle + 240.0 W"), "{err}");
    let p = Profile::read(&profile).unwrap();
    assert_eq!(p.gpu, "L40S");
    assert_eq!(p.provenance.command.as_deref(), Some("sleep 1"));
    assert_eq!(p.provenance.devices, [1]);
    // The stub's exact relation, recovered; the log's line within its wobble.
    let power = p.power.as_ref().unwrap();
    assert!((power.idle_w - 60.0).abs() < 0.01 && (power.dynamic_w - 240.0).abs() < 0.01);
    let service = p.service.as_ref().unwrap();
    assert!((service.base_ms - 400.0).abs() < 2.0, "{service:?}");
    assert!((service.per_item_ms - 60.0).abs() < 0.5, "{service:?}");
    // Sampling stopped when the command exited: about 100 ticks of 10 ms.
    assert!(
        (80..=130).contains(&p.provenance.samples),
        "{}",
        p.provenance.samples
    );
    let text = std::fs::read_to_string(&profile).unwrap();
    assert!(!text.contains("GPU-stub"), "no UUIDs in a profile");

    // The samples beside it rebuild the same fits without the GPU.
    let samples = dir.path().join("profiles/l40s.samples.csv");
    let out = headroom()
        .args(["calibrate", "--replay"])
        .arg(&samples)
        .arg("--log")
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed = Profile::parse(&String::from_utf8(out.stdout).unwrap(), "stdout").unwrap();
    assert_eq!(replayed.power, p.power);
    assert_eq!(replayed.service, p.service);
    assert_eq!(replayed.samples, p.samples);
    assert_eq!(replayed.provenance.gpu_name, "NVIDIA L40S");
    assert!(replayed.provenance.replayed_from.is_some());

    // A scenario using it: the profile's service time and power, an energy line.
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        r#"version = 1
horizon = "2h"
warmup = "10m"
profiles = ["profiles/l40s.toml"]
energy = { price_per_kwh = 0.10, carbon_kg_per_kwh = 0.4, pue = 1.25 }
[models.m]
service.L40S = { kind = "batch-linear", base = "300ms", per_item = "40ms", max_batch = 8, max_wait = "20ms" }
[workloads.w]
model = "m"
arrival = { kind = "poisson", rate = 8 }
slo = { p99 = "2s" }
[pools.gpu]
instance_type = "g6e.xlarge"
region = "us-east-1"
replicas = 6
"#,
    )
    .unwrap();
    let run = |extra: &[&str]| -> serde_json::Value {
        let out = headroom()
            .arg("simulate")
            .arg(&scenario)
            .args(["-f", "json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.code().unwrap() <= 1,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let with = run(&[]);
    let without = run(&["--set", "profiles=[]"]);
    // Measured 400 ms + 60 ms/item is slower than the model's 300 + 40: p99 rises.
    let p99 = |v: &serde_json::Value| v["latency_ms"]["p99"].as_f64().unwrap();
    assert!(
        p99(&with) > p99(&without) * 1.2,
        "{} vs {}",
        p99(&with),
        p99(&without)
    );
    // Energy by hand: 60 W × paid GPU-hours + 240 W × busy GPU-hours, × PUE 1.25, at $0.10.
    let pool = &with["pools"][0]["gpu_hours"];
    let (busy, idle) = (
        pool["busy"].as_f64().unwrap(),
        pool["idle"].as_f64().unwrap(),
    );
    let kwh = (60.0 * (busy + idle) + 240.0 * busy) / 1000.0 * 1.25;
    let e = &with["energy"];
    assert!((e["kwh"].as_f64().unwrap() - kwh).abs() < 1e-9 * kwh, "{e}");
    assert!((e["cost_usd"].as_f64().unwrap() - kwh * 0.10).abs() < 1e-9);
    assert!((e["carbon_kg"].as_f64().unwrap() - kwh * 0.4).abs() < 1e-9);
    // Without the profile, the L40S's TDP (350 W): idle 87.5 W, +262.5 W busy.
    let pool = &without["pools"][0]["gpu_hours"];
    let (busy, idle) = (
        pool["busy"].as_f64().unwrap(),
        pool["idle"].as_f64().unwrap(),
    );
    let kwh = (87.5 * (busy + idle) + 262.5 * busy) / 1000.0 * 1.25;
    assert!((without["energy"]["kwh"].as_f64().unwrap() - kwh).abs() < 1e-9 * kwh);

    // A profile that does not parse is named with its line.
    std::fs::write(&profile, "version = 1\ngpu = 7\n").unwrap();
    let out = headroom().arg("simulate").arg(&scenario).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("l40s.toml:2"), "{err}");
}
