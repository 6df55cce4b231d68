//! The command line as a user meets it: exit codes, messages, formats, determinism.

use std::io::Read;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{fixture, headroom, root, scenario_path};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// The JSON report without its `run` block, which is the only part that may change between runs.
fn without_run(mut v: Value) -> Value {
    v.as_object_mut().expect("an object").remove("run");
    v
}

#[test]
fn simulate_prints_a_table_that_fits_80_columns() {
    let out = headroom()
        .args([
            "simulate",
            "scenarios/chat-assistant.toml",
            "--set",
            "horizon=\"2h\"",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("chat-assistant · seed 42"), "{text}");
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    for needle in [
        "WORKLOAD",
        "POOL",
        "l40s-spot",
        "latency ms",
        "cost",
        "idle",
        "met",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
}

#[test]
fn a_missed_slo_exits_1() {
    let out = headroom()
        .args([
            "simulate",
            "scenarios/chat-assistant.toml",
            "--set",
            "pools.l40s-spot.replicas=0",
            "--set",
            "pools.l40s-ondemand.replicas=1",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let v = json_of(&out);
    assert_eq!(v["slo"]["met"], Value::Bool(false));
    assert!(v["slo"]["attainment"].as_f64().unwrap() < 0.99);
}

#[test]
fn json_has_the_contract_fields() {
    let out = headroom()
        .args(["simulate", "tests/fixtures/valid/tiny.toml", "-f", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        stderr_of(&out)
    );
    let v = json_of(&out);
    for path in [
        "/scenario",
        "/seed",
        "/requests/arrived",
        "/requests/completed",
        "/requests/dropped",
        "/requests/timed_out",
        "/latency_ms/mean",
        "/latency_ms/p50",
        "/latency_ms/p90",
        "/latency_ms/p95",
        "/latency_ms/p99",
        "/latency_ms/p999",
        "/latency_ms/max",
        "/wait_ms/mean",
        "/wait_ms/p99",
        "/utilization",
        "/gpu_hours/busy",
        "/gpu_hours/idle",
        "/cost_usd/total",
        "/cost_usd/per_1k_requests",
        "/slo/p99_target_ms",
        "/slo/met",
        "/slo/attainment",
        "/workloads/0/name",
        "/workloads/1/latency_ms/p99",
        "/workloads/0/timeseries/0/p99_ms",
        "/pools/2/instances",
        "/timeseries/0/arrivals",
        "/timeseries/0/utilization",
        "/timeseries/0/cost_usd",
        "/run/wall_seconds",
        "/run/events",
        "/run/events_per_second",
        "/run/requests_per_second",
    ] {
        assert!(v.pointer(path).is_some(), "missing {path}");
    }
    // Requests are conserved, per workload.
    for w in v["workloads"].as_array().unwrap() {
        let r = &w["requests"];
        let n = |k: &str| r[k].as_u64().unwrap();
        assert_eq!(n("arrived"), n("completed") + n("dropped") + n("timed_out"));
    }
    // 3 GPUs of 4 per inline instance, 2 per replica: 3 replicas need 2 instances.
    assert_eq!(v["pools"][2]["instances"], 2);
    // The run block is last.
    assert_eq!(
        v.as_object()
            .unwrap()
            .keys()
            .next_back()
            .map(String::as_str),
        Some("run")
    );
}

#[test]
fn replications_carry_confidence_intervals() {
    let out = headroom()
        .args([
            "simulate",
            "scenarios/batching.toml",
            "-n",
            "3",
            "-f",
            "json",
            "--set",
            "horizon=\"5m\"",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let v = json_of(&out);
    assert_eq!(v["replications"], 3);
    let ci = v["latency_ms"]["p99_ci95"]
        .as_array()
        .expect("p99 has a CI");
    let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
    let p99 = v["latency_ms"]["p99"].as_f64().unwrap();
    assert!(lo <= p99 && p99 <= hi, "{lo} {p99} {hi}");
    assert!(v["requests"]["arrived_ci95"].is_array());
}

/// `--replications 4` gives the same JSON with one worker thread and with two.
#[test]
fn output_does_not_depend_on_the_thread_count() {
    let run = |threads: &str| {
        let out = headroom()
            .args([
                "simulate",
                "tests/fixtures/valid/tiny.toml",
                "--replications",
                "4",
                "--format",
                "json",
                "--threads",
                threads,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{}",
            stderr_of(&out)
        );
        without_run(json_of(&out))
    };
    let one = run("1");
    let two = run("2");
    assert_eq!(
        serde_json::to_string(&one).unwrap(),
        serde_json::to_string(&two).unwrap()
    );
    // And the seed matters.
    let other = headroom()
        .args([
            "simulate",
            "tests/fixtures/valid/tiny.toml",
            "-f",
            "json",
            "--seed",
            "99",
        ])
        .output()
        .unwrap();
    assert_ne!(without_run(json_of(&other))["requests"], one["requests"]);
}

#[test]
fn csv_has_a_row_per_scope() {
    let out = headroom()
        .args(["simulate", "tests/fixtures/valid/tiny.toml", "-f", "csv"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(&headers[0], "scope");
    assert!(headers.iter().any(|h| h == "latency_ms.p99"));
    let scopes: Vec<String> = rdr.records().map(|r| r.unwrap()[0].to_string()).collect();
    assert_eq!(scopes, ["total", "api", "batch"]);
}

#[test]
fn timeseries_csv_covers_the_horizon() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ts.csv");
    let out = headroom()
        .args(["simulate", "tests/fixtures/valid/tiny.toml", "--timeseries"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        stderr_of(&out)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    // 20 one-minute intervals for the total and each of two workloads.
    assert_eq!(rows.len(), 60);
    assert_eq!(&rows[0][0], "total");
    assert_eq!(&rows[19][1], "1140");
    assert_eq!(&rows[20][0], "api");
    let arrivals = |scope: &str| -> f64 {
        rows.iter()
            .filter(|r| &r[0] == scope)
            .map(|r| r[2].parse::<f64>().unwrap())
            .sum()
    };
    assert_eq!(arrivals("total"), arrivals("api") + arrivals("batch"));
}

#[test]
fn output_file_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let out = headroom()
        .args([
            "simulate",
            "scenarios/batching.toml",
            "-f",
            "json",
            "--set",
            "horizon=\"2m\"",
            "-o",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty());
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["scenario"], "batching");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["report.json"], "no temporary file is left behind");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let bin = assert_cmd::cargo::cargo_bin("headroom");
    let mut child = Command::new(bin)
        .current_dir(root())
        .args(["simulate", "scenarios/chat-assistant.toml", "-f", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then drop: the pipe closes
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn validate_accepts_every_shipped_scenario() {
    let mut cmd = headroom();
    cmd.arg("validate");
    let mut files = 0;
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            cmd.arg(path);
            files += 1;
        }
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.matches("\nok ").count() + usize::from(text.starts_with("ok ")),
        files,
        "{text}"
    );
    assert!(
        text.contains("19,366 rows"),
        "the trace is read to the end: {text}"
    );
}

/// Each class of bad input: exit code 2, a message naming the line, and no panic.
#[test]
fn bad_input_exits_2_and_names_the_place() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "unknown-keys.toml",
            &[],
            &[
                ":3:1: unknown field `colour`",
                ":15:1: unknown field `replica` in `pools.p`; did you mean `replicas`?",
            ],
        ),
        (
            "wrong-types.toml",
            &[],
            &[
                ":9:38: `workloads.w.arrival.rate`: invalid type: string \"fast\", expected a number",
                ":14:12: `pools.p.replicas`: invalid type: floating point `2.5`",
            ],
        ),
        (
            "bad-rates.toml",
            &[],
            &[
                ":9:38: `rate` must be greater than zero, got 0",
                ":13:38: `rate` must be greater than zero, got -5",
                ":23:12: replicas must be a whole number from 0 to 100000, got -2",
            ],
        ),
        (
            "unknown-names.toml",
            &[],
            &[
                ":8:9: no model named \"resnet50\"",
                ":13:17: no instance type \"g4dn.xlarg\"",
                "did you mean",
                ":19:10: instance type \"g5.xlarge\" has no price in region \"mars-west-1\"",
            ],
        ),
        (
            "missing-trace.toml",
            &[],
            &[":9:36: no-such-trace.csv: cannot open trace"],
        ),
        ("syntax.toml", &[], &[":7:1:"]),
        (
            "autoscale.toml",
            &[],
            &[
                ":15:24: unknown autoscaling policy \"target-trackin\"",
                ":21:44: `hours` needs 24 replica counts",
                ":27:101: the pool starts with 5 replicas, above `max` (2)",
                ":33:16: `provisioning` applies to pools that scale",
                ":39:52: a utilization target is in (0, 1], got 1.5",
                ":39:65: `hours` does not apply to policy \"target-tracking\"",
                ":45:24: policy \"target-tracking\" needs `max`",
            ],
        ),
        (
            "llm.toml",
            &[],
            &[
                ":9:16: no bundled architecture \"llama-3.1-8 b\"",
                ":14:21: ../tables/synthetic-8b-h100.toml was measured for llama-3.1-8b with bf16 weights",
                ":14:57: ../tables/missing.toml: cannot read iteration table",
                ":15:3: ../tables/bad.toml:13:10: `linear`: sizes must be positive and strictly increasing",
                ":21:9: workload \"chat\" serves an LLM, so each request needs input tokens",
                ":23:23: LLM replicas schedule their own queues",
                ":28:23: prefix-aware routing needs an LLM model",
                ":29:20: `ttft_p99` applies to LLM workloads",
                ":32:17: pool \"l4\": llama-3.1-70b needs 131.4 GiB of weights per GPU at TP=1",
            ],
        ),
        (
            "semantics.toml",
            &[],
            &[
                ":1:11: this headroom reads scenario version 1",
                ":3:10: warmup (2h) must be shorter",
                ":11:23: unknown dispatch policy \"random\"",
                ":16:10: unknown market \"preemptible\"",
            ],
        ),
    ];
    for (file, args, needles) in cases {
        let path = fixture(&format!("invalid/{file}"));
        let out = headroom()
            .arg("simulate")
            .arg(&path)
            .args(*args)
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(!err.contains("panicked"), "{file}: {err}");
        for needle in *needles {
            assert!(err.contains(needle), "{file}: {needle:?} not in\n{err}");
        }
        assert!(out.stdout.is_empty(), "{file}: nothing is simulated");
    }
}

#[test]
fn a_malformed_trace_row_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "t\n0\n1.5\n2\nnot-a-time\n3\n").unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        r#"version = 1
horizon = "1m"
[models.m]
service.T4 = { kind = "exponential", mean = "10ms" }
[workloads.w]
model = "m"
arrival = { kind = "trace", path = "t.csv", time_column = "t", time_unit = "s" }
[pools.p]
instance_type = "g4dn.xlarge"
region = "us-east-1"
replicas = 1
"#,
    )
    .unwrap();
    for cmd in ["simulate", "validate"] {
        let out = headroom().arg(cmd).arg(&scenario).output().unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains("t.csv:5: timestamp \"not-a-time\" in column 1 is not a number"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn bad_overrides_name_the_argument() {
    let cases: &[(&str, &str)] = &[
        (
            "pools.gpu.replicas=-1",
            "--set pools.gpu.replicas=-1: replicas must be a whole number from 0 to 100000, got -1",
        ),
        (
            "pools.gpus.replicas=3",
            "--set pools.gpus.replicas=3: there is no pool named \"gpus\"; pools are: gpu",
        ),
        (
            "workloads.requests.arrival.rate=fast",
            "--set workloads.requests.arrival.rate=fast: `workloads.requests.arrival.rate`: invalid type: string \"fast\", expected a number",
        ),
        ("horizon", "--set horizon: expected KEY=VALUE"),
        ("workloads.requests.arrival.rait=3", "did you mean `rate`?"),
    ];
    for (arg, needle) in cases {
        let out = headroom()
            .args(["simulate", "scenarios/mmc.toml", "--set", arg])
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{arg}: {err}");
        assert!(err.contains(needle), "{arg}: {needle:?} not in\n{err}");
    }
}

#[test]
fn overrides_change_the_run() {
    let run = |set: &[&str]| {
        let mut cmd = headroom();
        cmd.args([
            "simulate",
            "scenarios/mmc.toml",
            "-f",
            "json",
            "--set",
            "horizon=\"3h\"",
        ]);
        for s in set {
            cmd.args(["--set", s]);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        json_of(&out)
    };
    let base = run(&[]);
    let more = run(&["pools.gpu.replicas=10"]);
    assert_eq!(base["pools"][0]["replicas"], 8);
    assert_eq!(more["pools"][0]["replicas"], 10);
    assert!(more["utilization"].as_f64() < base["utilization"].as_f64());
    // Same arrivals under one seed: common random numbers.
    assert_eq!(base["requests"]["arrived"], more["requests"]["arrived"]);
}

#[test]
fn missing_file_and_no_arguments() {
    let out = headroom()
        .args(["simulate", "no/such.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(err.contains("cannot read scenario no/such.toml"), "{err}");
    assert_eq!(err.matches("os error").count(), 1, "the reason once: {err}");
    let out = headroom().args(["simulate", "tests"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr_of(&out).matches("directory").count(), 1);
    let out = headroom().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("Usage"));
    let out = headroom().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let _ = scenario_path("mmc.toml");
}

#[test]
fn costs_follow_the_catalog_and_the_market() {
    let out = headroom()
        .args([
            "simulate",
            "scenarios/chat-assistant.toml",
            "-f",
            "json",
            "--set",
            "horizon=\"1h15m\"",
        ])
        .output()
        .unwrap();
    let v = json_of(&out);
    // g6e.xlarge us-east-1: on-demand $1.861/h, spot $0.9154/h; reserved at the 40 % default.
    let expect = [
        ("reserved", 1.861 * 0.6 * 3.0),
        ("on-demand", 1.861 * 2.0),
        ("spot", 0.9154 * 2.0),
    ];
    for (pool, (market, per_hour)) in v["pools"].as_array().unwrap().iter().zip(expect) {
        assert_eq!(pool["market"], market);
        let cost = pool["cost_usd"]["total"].as_f64().unwrap();
        assert!(
            (cost - per_hour).abs() < 1e-9,
            "{market}: {cost} vs {per_hour} for one hour"
        );
    }
    let total = v["cost_usd"]["total"].as_f64().unwrap();
    let by_market: f64 = ["on_demand", "spot", "reserved"]
        .iter()
        .map(|m| v["cost_usd"]["by_market"][m].as_f64().unwrap())
        .sum();
    assert!((total - by_market).abs() < 1e-9);
    // Idle GPU-hours are what was paid for and not used.
    let busy = v["gpu_hours"]["busy"].as_f64().unwrap();
    let idle = v["gpu_hours"]["idle"].as_f64().unwrap();
    assert!(
        (busy + idle - 7.0).abs() < 1e-9,
        "7 single-GPU instances for one hour"
    );
}

#[test]
fn a_scenario_can_bring_its_own_catalog() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prices.csv"),
        "cloud,instance_type,gpu_model,gpu_count,gpu_memory_gib,vcpus,memory_gib,region,on_demand_usd_per_hour,spot_usd_per_hour\n\
         neo,h100x8,H100,8,80,192,2048,dc-1,16.00,\n",
    )
    .unwrap();
    let scenario = dir.path().join("s.toml");
    let write = |pool: &str| {
        std::fs::write(
            &scenario,
            format!(
                r#"version = 1
horizon = "2h"
warmup = "1h"
[pricing]
catalog = "prices.csv"
[models.m]
service.H100 = {{ kind = "exponential", mean = "10ms" }}
[workloads.w]
model = "m"
arrival = {{ kind = "poisson", rate = 100 }}
[pools.p]
{pool}
"#
            ),
        )
        .unwrap()
    };
    write("instance_type = \"h100x8\"\ngpus_per_replica = 1\nreplicas = 12");
    let out = headroom()
        .args(["simulate", "-f", "json"])
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let v = json_of(&out);
    assert_eq!(
        v["pools"][0]["instances"], 2,
        "12 one-GPU replicas on 8-GPU instances"
    );
    assert_eq!(v["cost_usd"]["total"].as_f64(), Some(32.0));
    assert!(v["catalog"].as_str().unwrap().ends_with("prices.csv"));
    // No spot price in that catalog: a clear error.
    write("instance_type = \"h100x8\"\nmarket = \"spot\"\nreplicas = 1");
    let out = headroom().arg("simulate").arg(&scenario).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("h100x8 in dc-1 has no spot price"),
        "{}",
        stderr_of(&out)
    );
    // A broken catalog names its line.
    std::fs::write(dir.path().join("prices.csv"), "cloud,instance_type\nneo\n").unwrap();
    let out = headroom().arg("validate").arg(&scenario).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("prices.csv:"),
        "{}",
        stderr_of(&out)
    );
}

/// `headroom capacity`: each pool's highest rate within its workload's SLO, as a table and as
/// JSON; the same for any thread count; a workload without an SLO or an unknown pool is bad
/// input (exit 2).
#[test]
fn capacity_measures_each_pool_at_the_slo() {
    let args = |threads: &str, format: &str| {
        let mut cmd = headroom();
        cmd.args([
            "capacity",
            scenario_path("llm-chat.toml").to_str().unwrap(),
            "--pool",
            "h100",
            "--pool",
            "l40s",
            "--horizon",
            "2m",
            "--replications",
            "1",
            "--threads",
            threads,
            "-f",
            format,
            "--set",
            "models.llama-8b.engine=\"vllm\"",
        ]);
        cmd.output().unwrap()
    };
    let out = args("1", "json");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let v = json_of(&out);
    let pools = v["pools"].as_array().unwrap();
    assert_eq!(pools.len(), 2);
    let (h100, l40s) = (
        pools[0]["capacity_rps"].as_f64().unwrap(),
        pools[1]["capacity_rps"].as_f64().unwrap(),
    );
    assert!(h100 > 2.0 * l40s && l40s > 0.5, "H100 {h100}, L40S {l40s}");
    assert!(
        pools[0]["timing"]
            .as_str()
            .unwrap()
            .starts_with("kernels: vllm")
    );
    assert_eq!(
        args("2", "json").stdout,
        out.stdout,
        "thread count changes nothing"
    );
    let table = args("2", "table");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("REQ/S") && text.contains("h100") && text.contains("ttft p99 2s"));

    let no_slo = headroom()
        .args(["capacity", scenario_path("mmc.toml").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(no_slo.status.code(), Some(2));
    assert!(
        stderr_of(&no_slo).contains("has no SLO"),
        "{}",
        stderr_of(&no_slo)
    );
    let unknown = headroom()
        .args([
            "capacity",
            scenario_path("llm-chat.toml").to_str().unwrap(),
            "--pool",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr_of(&unknown).contains("pools: h100, a100, l40s"));
}

/// A mistyped engine is the one error reported: the workload of a model that failed
/// validation is not also judged as if it served no LLM.
#[test]
fn a_mistyped_engine_is_the_only_error() {
    let out = headroom()
        .args([
            "simulate",
            scenario_path("llm-chat.toml").to_str().unwrap(),
            "--set",
            "models.llama-8b.engine=\"vlm\"",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("unknown engine \"vlm\"; known: generic, vllm, sglang, trtllm"),
        "{err}"
    );
    assert!(!err.contains("applies to LLM workloads"), "{err}");
}
