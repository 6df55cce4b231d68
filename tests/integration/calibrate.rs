//! `headroom gpus` and `headroom calibrate` as processes, through the real NVML bindings loaded
//! from the C stub (tests/fixtures/nvml_stub.c: two L40S, power = 60 W + 240 W × utilization);
//! then a scenario that uses the profile, with an energy line checked by hand.

use headroom::profile::Profile;

use crate::support::{headroom, nvml_stub, nvml_stub_without_cuda};

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
fn gpus_are_listed_by_a_library_without_the_cuda_version() {
    let out = headroom()
        .args([
            "gpus",
            "--nvml-lib",
            nvml_stub_without_cuda().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("driver 550.54.15 · 2 GPUs"), "{text}");
    assert_eq!(text.matches("NVIDIA L40S").count(), 2, "{text}");
    let out = headroom()
        .args(["gpus", "-f", "json", "--nvml-lib"])
        .arg(nvml_stub_without_cuda())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["system"]["cuda_version"], "");
    assert_eq!(v["gpus"].as_array().unwrap().len(), 2);
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

/// An LLM log written by a "GPU" at 50 % of peak compute and 45 % of peak bandwidth, for the
/// 8B model on an L40S: `calibrate --scenario --pool` recovers both, and a scenario using the
/// profile serves slower than the defaults (70 % and 60 %) predict.
#[test]
fn llm_efficiency_from_a_benchmark_log() {
    use headroom::llm::roofline::{DEFAULT_EFFICIENCY, Efficiency, Step, StepModel};
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("llm.toml");
    let text = |profiles: &str| {
        format!(
            r#"version = 1
horizon = "10m"
warmup = "1m"
{profiles}
[models.chat]
architecture = "llama-3.1-8b"
[workloads.w]
model = "chat"
arrival = {{ kind = "poisson", rate = 2 }}
tokens = {{ input = {{ kind = "fixed", value = 2000 }}, output = {{ kind = "fixed", value = 200 }} }}
[pools.l40s]
instance_type = "g6e.xlarge"
region = "us-east-1"
replicas = 2
"#
        )
    };
    std::fs::write(&scenario, text("")).unwrap();
    let s = headroom::scenario::load(&scenario, &[]).unwrap();
    let headroom::fleet::Serving::Llm(l) = &s.pools()[0].serving else {
        panic!("an LLM pool")
    };
    let mut truth = l.roofline.clone();
    truth.efficiency = Efficiency {
        compute: 0.5,
        compute_8bit: 0.5,
        memory: 0.45,
        iteration_overhead_s: 0.0,
        ..DEFAULT_EFFICIENCY
    };
    let real = StepModel::new(&truth);
    let mut log = String::from("timestamp,input_tokens,output_tokens,ttft_ms,latency_ms\n");
    for i in 0..30u64 {
        let (n, m) = (512 + 300 * i, 50 + 10 * i);
        let mut p = Step::default();
        p.add_prefill(0, n, true);
        let ttft = real.seconds(&p);
        let mut d = Step::default();
        d.add_decode(n + m / 2);
        let latency = ttft + real.parts(&d).memory_s * (m - 1) as f64;
        log.push_str(&format!(
            "{i},{n},{m},{:.4},{:.4}\n",
            ttft * 1e3,
            latency * 1e3
        ));
    }
    let log_path = dir.path().join("bench.csv");
    std::fs::write(&log_path, log).unwrap();
    let profile = dir.path().join("l40s-chat.toml");
    let out = headroom()
        .args(["calibrate", "--nvml-lib", nvml_stub().to_str().unwrap()])
        .args([
            "--interval",
            "10ms",
            "--duration",
            "300ms",
            "--devices",
            "0",
        ])
        .arg("--log")
        .arg(&log_path)
        .arg("--scenario")
        .arg(&scenario)
        .args(["--pool", "l40s", "--out"])
        .arg(&profile)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("llm: prefill reaches"), "{err}");
    let p = Profile::read(&profile).unwrap();
    assert_eq!(p.model.as_deref(), Some("chat"));
    let f = p.llm.unwrap();
    assert!((f.prefill_efficiency.unwrap() - 0.5).abs() < 0.01, "{f:?}");
    assert!(
        (f.decode_efficiency.unwrap() - 0.45).abs() < 0.45 * 0.02,
        "{f:?}"
    );

    let ttft = |profiles: &str| {
        std::fs::write(&scenario, text(profiles)).unwrap();
        let out = headroom()
            .arg("simulate")
            .arg(&scenario)
            .args(["-f", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.code().unwrap() <= 1,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["ttft_ms"]["p50"].as_f64().unwrap()
    };
    let default = ttft("");
    let calibrated = ttft("profiles = [\"l40s-chat.toml\"]");
    // Prefill at 50 % instead of 70 % of peak: TTFT up by about 70/50.
    assert!(calibrated > default * 1.25, "{calibrated} vs {default}");

    // Under a named engine the profile still wins over the engine's kernel tables (measured
    // elsewhere), and the pool says so.
    let with_engine = text("profiles = [\"l40s-chat.toml\"]")
        .replace("[models.chat]\n", "[models.chat]\nengine = \"vllm\"\n");
    std::fs::write(&scenario, with_engine).unwrap();
    let s = headroom::scenario::load(&scenario, &[]).unwrap();
    let headroom::fleet::Serving::Llm(l) = &s.pools()[0].serving else {
        panic!("an LLM pool")
    };
    assert_eq!(l.timing, "roofline calibrated by profile l40s-chat.toml");
    assert!(l.kernels.is_none());
}

/// Ctrl-c (SIGINT) ends sampling early and keeps what was measured: the profile and the samples
/// are written, exit 0.
#[test]
fn ctrl_c_keeps_what_was_measured() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args(["calibrate", "--nvml-lib", nvml_stub().to_str().unwrap()])
        .args(["--interval", "10ms", "--duration", "60s", "--out"])
        .arg(&profile)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    let p = Profile::read(&profile).unwrap();
    // Two GPUs, about 1.5 s of ticks at 10 ms (process start-up takes some of it).
    assert!(
        (100..=400).contains(&p.provenance.samples),
        "{}",
        p.provenance.samples
    );
    assert!(dir.path().join("p.samples.csv").exists());
}
