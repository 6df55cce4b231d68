//! Training scenarios through the CLI: the bundled examples' figures hold together (time and
//! GPU-hours conserved, losses bounded, results reproducible whatever the thread count), the
//! full bill's storage, transfer and logging lines equal a hand calculation from the same
//! prices, and bad training input is named by file, line and field.

use serde_json::Value;

use crate::support::{headroom, root, succeeds};

fn json(args: &[&str]) -> Value {
    let out = succeeds(headroom().args(["simulate", "-f", "json"]).args(args));
    serde_json::from_slice(&out).unwrap()
}

/// Runs `cmd`, which must be refused as bad input (exit 2, no panic); its standard error.
fn refused(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-12)
}

#[test]
fn train_spot_conserves_time_and_bounds_losses() {
    let v = json(&["scenarios/train-spot.toml"]);
    let jobs = v["training"]["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 4);
    for j in jobs {
        let name = j["name"].as_str().unwrap();
        let g = &j["gpu_hours"];
        // Paid = useful + checkpointing + lost + restarting (means over replications).
        let parts = f(&g["useful"]) + f(&g["checkpointing"]) + f(&g["lost"]) + f(&g["restarting"]);
        assert!(close(parts, f(&g["paid"]), 1e-9), "{name}: {g}");
        // Useful GPU-hours are the work: work / throughput, on every GPU.
        let work_h = f(&j["work_s"]) / 3600.0 * f(&j["gpus"]);
        assert!(close(f(&g["useful"]), work_h, 1e-9), "{name}");
        // work = steps × step time, and tokens/s = tokens per step / step time.
        let step = f(&j["step_s"]["total"]);
        assert!(close(f(&j["work_s"]), f(&j["steps"]) * step, 1e-9));
        let interval = j["checkpoint"]["interval_s"].as_f64();
        let interruptions = f(&j["interruptions"]["mean"]);
        if j["market"] == "on-demand" {
            // No reclaims: completion is the work plus a checkpoint per interval, exactly.
            let work = f(&j["work_s"]);
            let i = interval.unwrap();
            let ckpts = (work / i).ceil() - 1.0;
            let want = work + ckpts * f(&j["checkpoint"]["write_s"]);
            assert!(close(f(&j["completion_s"]["p50"]), want, 1e-12), "{name}");
            assert_eq!(f(&j["completion_s"]["p90"]), f(&j["completion_s"]["p50"]));
            assert_eq!(interruptions, 0.0);
        } else {
            // Lost training is at most one interval per reclaim, on every GPU.
            let lost_h = f(&g["lost"]);
            let bound = interruptions * interval.unwrap() / 3600.0 * f(&j["gpus"]);
            assert!(lost_h <= bound + 1e-9, "{name}: lost {lost_h} > {bound}");
            assert!(
                interruptions > 0.5,
                "{name}: spot p4d in us-west-2 is reclaimed"
            );
            // Spot is the cheaper market here.
            assert!(f(&j["cost_usd"]["p90"]) < f(&jobs[0]["cost_usd"]["p50"]));
        }
    }
    // The interval check: Young/Daly within 1 % of the best simulated interval's mean time.
    let yd = &jobs[2];
    assert_eq!(yd["name"], "spot-young-daly");
    let check = yd["interval_check"].as_array().unwrap();
    let best = check
        .iter()
        .map(|p| f(&p["completion_mean_s"]))
        .fold(f64::INFINITY, f64::min);
    let at_yd = check
        .iter()
        .find(|p| {
            close(
                f(&p["interval_s"]),
                f(&yd["checkpoint"]["young_daly_s"]),
                1e-9,
            )
        })
        .unwrap();
    assert!(f(&at_yd["completion_mean_s"]) <= best * 1.01);
    // Far shorter and far longer intervals lose to it.
    assert!(f(&check[0]["completion_mean_s"]) > f(&at_yd["completion_mean_s"]));
    assert!(f(&check[8]["completion_mean_s"]) > f(&at_yd["completion_mean_s"]));
}

#[test]
fn training_results_do_not_depend_on_the_thread_count() {
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("run");
        v
    };
    for file in ["scenarios/train-spot.toml", "scenarios/train-cluster.toml"] {
        let one = strip(json(&[file, "--threads", "1"]));
        let four = strip(json(&[file, "--threads", "4"]));
        assert_eq!(one, four, "{file}");
    }
}

#[test]
fn the_philly_cluster_conserves_gpu_hours() {
    let v = json(&["scenarios/train-cluster.toml"]);
    let c = &v["training"]["cluster"];
    assert_eq!(c["jobs"], 82_247);
    let g = &c["gpu_hours"];
    let parts = f(&g["used"]) + f(&g["wasted"]) + f(&g["idle"]);
    assert!(close(parts, f(&g["provisioned"]), 1e-9), "{g}");
    // A fixed cluster preempts nothing, so nothing is wasted.
    assert_eq!(f(&g["wasted"]), 0.0);
    assert!(f(&c["jct_s"]["p50"]) <= f(&c["jct_s"]["p90"]));
    // Cost is the provisioned GPU-hours at p4d.24xlarge's on-demand price per GPU.
    let per_gpu_hour = 21.957642 / 8.0;
    assert!(close(
        f(&c["cost_usd"]),
        f(&g["provisioned"]) * per_gpu_hour,
        1e-9
    ));
}

#[test]
fn full_bill_storage_transfer_and_logging_equal_a_hand_calculation() {
    let v = json(&["scenarios/full-bill.toml"]);
    let b = &v["bill"];
    let line = |item: &str| {
        b["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["item"] == item)
            .map(|l| f(&l["usd"]))
            .unwrap_or_else(|| panic!("no line {item}: {b}"))
    };
    // AWS us-east-1 list prices (pricing/services.csv).
    let (hot, infrequent, archive) = (0.023, 0.0125, 0.00099);
    let (egress, cross_region, log_ingest, log_storage) = (0.09, 0.02, 0.50, 0.03);
    let days = 30.0;
    let month = 30.4375;
    // Dataset: 5,000 GB compressed 2:1, infrequent access, the whole period.
    assert!(close(
        line("storage dataset"),
        2500.0 * infrequent * days / month,
        1e-9
    ));
    // Checkpoints: 3,360 GB, hot for 7 days then archive for 23.
    let want = 3360.0 * (7.0 * hot + 23.0 * archive) / month;
    assert!(close(line("storage checkpoints"), want, 1e-9));
    // Model artifacts: 16 GB in three regions, hot.
    assert!(close(
        line("storage model-artifacts"),
        48.0 * hot * days / month,
        1e-9
    ));
    // Transfer: 8 KB per prediction out; 50 GB a day between regions.
    let predictions = f(&b["predictions"]);
    assert!(close(
        line("egress to clients"),
        predictions * 8.0 / 1e6 * egress,
        1e-9
    ));
    assert!(close(
        line("cross-region"),
        50.0 * days * cross_region,
        1e-9
    ));
    // Logging: 4 KB per prediction and 100 MB per GPU-hour, kept 30 days (the whole period:
    // each day's logs are kept to the end, 15 days on average).
    let gb = predictions * 4.0 / 1e6 + f(&b["gpu_hours"]) * 100.0 / 1e3;
    assert!(close(line("log ingestion"), gb * log_ingest, 1e-9));
    let gb_days = gb / days * (days * days / 2.0);
    assert!(close(
        line("log retention"),
        gb_days / month * log_storage,
        1e-9
    ));
    // GPU-hours: the serving day's paid GPU-hours scaled to 30 days, and the fine-tune's paid
    // GPU-hours once a day.
    let window_h = (f(&v["window"]["horizon_s"]) - f(&v["window"]["warmup_s"])) / 3600.0;
    let serving_h = f(&v["gpu_hours"]["busy"]) + f(&v["gpu_hours"]["idle"]);
    let training_h = f(&v["training"]["jobs"][0]["gpu_hours"]["paid"]);
    let want = serving_h * days * 24.0 / window_h + training_h * days;
    assert!(close(f(&b["gpu_hours"]), want, 1e-9), "{}", b["gpu_hours"]);
    // Predictions: the day's completed requests scaled from the measured window to 30 days.
    let completed = f(&v["requests"]["completed"]);
    assert!(close(predictions, completed * days * 24.0 / window_h, 1e-9));
    // The lines add up, and cost per prediction is the total over the predictions.
    let sum: f64 = b["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| f(&l["usd"]))
        .sum();
    assert!(close(sum, f(&b["total_usd"]), 1e-12));
    assert!(close(
        f(&b["cost_per_prediction_usd"]),
        sum / predictions,
        1e-12
    ));
    let drivers: Vec<&str> = b["by_driver"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["driver"].as_str().unwrap())
        .collect();
    assert_eq!(drivers, ["compute", "storage", "transfer", "logging"]);
}

/// The bill by pool and workload, training job and cluster, in JSON and the table: its parts
/// add up to the total, and the lines before it keep their keys.
#[test]
fn full_bill_divides_among_pools_workloads_and_jobs() {
    let v = json(&["scenarios/full-bill.toml"]);
    let b = &v["bill"];
    let total = f(&b["total_usd"]);
    let sum = |key: &str| -> f64 {
        b[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| f(&p["usd"]))
            .sum()
    };
    let parts = sum("by_pool") + sum("by_training") + f(&b["shared_usd"]);
    assert!(close(parts, total, 1e-12), "{parts} vs {total}");
    let pools: Vec<&str> = b["by_pool"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pool"].as_str().unwrap())
        .collect();
    assert_eq!(pools, ["l40s-reserved", "l40s-ondemand", "l40s-spot"]);
    assert!(
        b["by_pool"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["workload"] == "chat")
    );
    let chat = &b["by_workload"][0];
    assert_eq!(chat["workload"], "chat");
    assert!(close(f(&chat["usd"]), sum("by_pool"), 1e-12));
    assert!(close(f(&chat["predictions"]), f(&b["predictions"]), 1e-12));
    assert_eq!(b["by_training"][0]["name"], "nightly-finetune");
    // Storage and traffic between regions are nobody's in particular.
    let shared: f64 = b["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["driver"] == "storage" || l["item"] == "cross-region")
        .map(|l| f(&l["usd"]))
        .sum();
    assert!(close(f(&b["shared_usd"]), shared, 1e-12));
    let out = succeeds(headroom().args(["simulate", "scenarios/full-bill.toml"]));
    let table = String::from_utf8(out).unwrap();
    let section = table
        .split("BILL BY POOL AND WORKLOAD")
        .nth(1)
        .unwrap_or_else(|| panic!("no split section:\n{table}"));
    for row in [
        "pool      l40s-spot (chat)",
        "workload  chat",
        "training  nightly-finetune",
        "shared    storage, transfer",
    ] {
        assert!(section.contains(row), "{row}:\n{section}");
    }
}

#[test]
fn bad_training_input_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(root().join("scenarios/train-spot.toml"))
        .unwrap()
        .replacen("tensor = 2", "tensor = 3", 1)
        .replacen("market = \"spot\"", "market = \"spotty\"", 1);
    std::fs::write(&path, text).unwrap();
    let err = refused(headroom().arg("simulate").arg(&path));
    assert!(
        err.contains("bad.toml:") && err.contains("do not split into tensor 3"),
        "{err}"
    );
    assert!(err.contains("unknown market \"spotty\""), "{err}");
}

/// A synthetic stream on an autoscaled cluster, and on the GPUs an autoscaled serving pool
/// leaves idle: GPU-hours are conserved in both; sharing preempts when serving scales up.
#[test]
fn autoscaled_and_shared_clusters_conserve_gpu_hours() {
    let dir = tempfile::tempdir().unwrap();
    let stream = r#"synthetic = { jobs = 400, mean_interarrival = "20m", median_duration = "1h", duration_sigma = 1.0, gpus = { 1 = 0.7, 2 = 0.2, 4 = 0.1 } }
policy = "backfill"
checkpoint_interval = "30m""#;
    let autoscaled = format!(
        "version = 1\nseed = 5\n[training.cluster]\n{stream}\ninstance_type = \"g6e.12xlarge\"\nregion = \"us-east-1\"\nautoscale = {{ min_nodes = 1, max_nodes = 4, provision = \"5m\", idle_release = \"10m\" }}\n"
    );
    let shared = format!(
        r#"version = 1
seed = 5
horizon = "24h"
interval = "10m"
[models.m]
service.L40S = {{ kind = "batch-linear", base = "400ms", per_item = "60ms", max_batch = 8, max_wait = "25ms" }}
[workloads.chat]
model = "m"
arrival = {{ kind = "diurnal", rate = 30, peak_to_trough = 3, peak_hour = 15 }}
[pools.l40s]
instance_type = "g6e.xlarge"
region = "us-east-1"
replicas = 6
autoscale = {{ policy = "target-tracking", target = 0.6, min = 2, max = 16 }}
[training.cluster]
{stream}
share_with = ["l40s"]
"#
    );
    for (name, text) in [("autoscaled", autoscaled), ("shared", shared)] {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let v = json(&[path.to_str().unwrap()]);
        let c = &v["training"]["cluster"];
        assert_eq!(c["capacity"], name);
        let g = &c["gpu_hours"];
        let parts = f(&g["used"]) + f(&g["wasted"]) + f(&g["idle"]);
        assert!(close(parts, f(&g["provisioned"]), 1e-9), "{name}: {g}");
        assert_eq!(c["completed"], 400, "{name}: every job fits and completes");
        assert!(close(
            f(&c["cost_usd"]),
            f(&c["cost_usd_per_job"]) * 400.0,
            1e-9
        ));
        if name == "autoscaled" {
            assert!(
                c["peak_gpus"].as_u64().unwrap() <= 16,
                "at most 4 nodes of 4 GPUs"
            );
            assert_eq!(c["preemptions"], 0);
        } else {
            // Serving scales up every afternoon: training yields and loses work.
            assert!(c["preemptions"].as_u64().unwrap() > 0);
            assert!(f(&g["wasted"]) > 0.0);
            assert!(
                c["peak_gpus"].as_u64().unwrap() <= 14,
                "16 replicas less serving's 2"
            );
        }
    }
}

#[test]
fn sweeping_a_scenario_that_only_trains_says_why_not() {
    let err =
        refused(headroom().args(["sweep", "scenarios/train-spot.toml", "--axis", "seed=1,2"]));
    assert!(err.contains("serves no workloads"), "{err}");
    // Training axes are refused: a sweep reports serving only.
    let err = refused(
        headroom()
            .args(["sweep", "scenarios/full-bill.toml", "--axis"])
            .arg("training.jobs.nightly-finetune.instances=4,8"),
    );
    assert!(err.contains("a sweep compares serving"), "{err}");
}

#[test]
fn a_measured_step_time_calibrates_the_compute_efficiency() {
    let v = json(&[
        "scenarios/train-spot.toml",
        "--set",
        "training.jobs.on-demand.measured_step=\"9.5s\"",
    ]);
    let j = &v["training"]["jobs"][0];
    assert!(
        close(f(&j["step_s"]["total"]), 9.5, 1e-9),
        "{}",
        j["step_s"]
    );
    let e = f(&j["compute_efficiency"]);
    assert!(e < 0.55 && e > 0.3, "{e}");
    // Faster than communication allows: named, exit 2.
    let err = refused(
        headroom()
            .args(["simulate", "scenarios/train-spot.toml", "--set"])
            .arg("training.jobs.on-demand.measured_step=\"1s\""),
    );
    assert!(err.contains("faster than this job can run"), "{err}");
}

#[test]
fn an_owned_fleet_pays_for_its_energy_on_the_bill() {
    let owned = [
        "scenarios/full-bill.toml",
        "--set",
        "energy.owned=true",
        "--set",
        "training.jobs.nightly-finetune.market=\"reserved\"",
        "--set",
        "training.jobs.nightly-finetune.checkpoint.interval=\"none\"",
    ];
    let v = json(&owned);
    let b = &v["bill"];
    let e = &b["energy"];
    // The fine-tune's A100s (TDP 400 W: 100 W idle, 300 W more when busy) are busy while
    // training; once a day for 30 days, PUE 1.3.
    let g = &v["training"]["jobs"][0]["gpu_hours"];
    let busy = f(&g["useful"]) + f(&g["lost"]);
    let kwh = (100.0 * f(&g["paid"]) + 300.0 * busy) / 1000.0 * 30.0 * 1.3;
    assert!(close(f(&e["training_kwh"]), kwh, 1e-9), "{e}");
    let line = |b: &Value, item: &str| {
        b["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["item"] == item)
            .map(|l| f(&l["usd"]))
    };
    assert!(close(
        line(b, "energy, training").unwrap(),
        kwh * 0.12,
        1e-9
    ));
    // Serving's spot pool is the cloud's: its energy is beside the bill, not on it.
    assert!(f(&e["owned_serving_kwh"]) < f(&e["serving_kwh"]));
    let serving = line(b, "energy, serving").unwrap();
    assert!(close(serving, f(&e["owned_serving_kwh"]) * 0.12, 1e-9));
    // A spot job's energy is not on the bill either; not owned, none is.
    let v = json(&["scenarios/full-bill.toml", "--set", "energy.owned=true"]);
    assert!(line(&v["bill"], "energy, training").is_none());
    let v = json(&["scenarios/full-bill.toml"]);
    assert!(
        v["bill"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["driver"] != "energy")
    );
}

#[test]
fn jobs_that_could_not_finish_are_refused_not_run() {
    for (sets, want) in [
        (
            vec![
                "training.jobs.spot-8h.checkpoint.interval=\"none\"",
                "training.jobs.spot-8h.tokens=3e12",
            ],
            "would be reclaimed about",
        ),
        (
            vec!["training.jobs.spot-8h.interruptions_per_hour=100"],
            "would be reclaimed more than",
        ),
        (
            vec!["training.jobs.on-demand.precision=\"fp8\""],
            "A100 has no fp8 tensor cores",
        ),
        (
            vec!["training.jobs.on-demand.checkpoint.interval=\"young-daly\""],
            "this job is not on spot",
        ),
        // Issue 17: a Young/Daly interval of 1e-11 s made the run loop forever.
        (
            vec!["training.jobs.spot-young-daly.checkpoint.write_gb_per_s=1e27"],
            "would checkpoint every 2.5e-10 s",
        ),
    ] {
        let mut cmd = headroom();
        cmd.args(["simulate", "scenarios/train-spot.toml"]);
        for s in &sets {
            cmd.args(["--set", s]);
        }
        let err = refused(&mut cmd);
        assert!(err.contains(want), "{sets:?}: {err}");
    }
    // With a fallback, the same job runs: at most K reclaims, then on-demand.
    let v = json(&[
        "scenarios/train-spot.toml",
        "--set",
        "training.jobs.spot-8h.interruptions_per_hour=100",
        "--set",
        "training.jobs.spot-8h.checkpoint.max_interruptions=3",
    ]);
    let j = &v["training"]["jobs"][3];
    assert_eq!(f(&j["interruptions"]["mean"]), 3.0);
    assert_eq!(f(&j["interruptions"]["fell_back_share"]), 1.0);
}
