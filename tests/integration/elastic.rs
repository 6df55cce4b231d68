//! Elastic pools: replicas that start late, drain before they stop, and follow a policy.

use headroom::experiment;
use headroom::scenario;
use headroom::sim::{self, Metric};
use headroom::units::SimTime;
use proptest::prelude::*;

use crate::support::{headroom, root};

fn json_without_run(args: &[&str]) -> serde_json::Value {
    let out = headroom().args(args).output().unwrap();
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_object_mut().unwrap().remove("run");
    v
}

/// A schedule that never changes the count gives the fixed fleet's results, byte for byte.
#[test]
fn a_constant_schedule_is_the_fixed_fleet() {
    let fixed = json_without_run(&[
        "simulate",
        "scenarios/chat-assistant.toml",
        "-f",
        "json",
        "-n",
        "2",
    ]);
    let flat = json_without_run(&[
        "simulate",
        "scenarios/chat-assistant.toml",
        "-f",
        "json",
        "-n",
        "2",
        "--set",
        "pools.l40s-ondemand.autoscale={ policy = \"schedule\", hours = [2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2] }",
    ]);
    // The elastic pool also reports its policy and mean replicas; everything else is equal.
    let mut flat = flat;
    for p in flat["pools"].as_array_mut().unwrap() {
        let p = p.as_object_mut().unwrap();
        if p.remove("autoscale").is_some() {
            assert_eq!(p.remove("replicas_mean"), Some(serde_json::json!(2.0)));
            assert_eq!(
                p.remove("under_provisioned_hours"),
                Some(serde_json::json!(0.0))
            );
            assert!(p.remove("provisioning").is_some());
        }
    }
    assert_eq!(
        serde_json::to_string(&fixed).unwrap(),
        serde_json::to_string(&flat).unwrap()
    );
}

/// Replicas follow the schedule, late by the provisioning delay on the way up, and the bill
/// counts the instances from the moment they are asked for.
#[test]
fn replicas_follow_the_schedule_after_provisioning() {
    let text = r#"
        version = 1
        horizon = "4h"
        interval = "10m"
        [models.m]
        service.T4 = { kind = "exponential", mean = "50ms" }
        [workloads.w]
        model = "m"
        arrival = { kind = "poisson", rate = 20 }
        [pools.p]
        instance_type = "g4dn.xlarge"
        region = "us-east-1"
        replicas = 2
        autoscale = { policy = "schedule", hours = [2, 4, 1, 3, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2] }
        provisioning = { instance_start = "3m", container_start = "1m", model_load = "1m" }
    "#;
    let s = scenario::parse(text, "elastic.toml", root(), &[]).unwrap();
    let r = experiment::run_seeded(&s, s.seed()).unwrap();
    let replicas: Vec<f64> = r.series.iter().map(|row| row.replicas).collect();
    // 10-minute rows: hour 0 at 2; at 1:00 two more are asked for and serve from 1:05, so the
    // row 1:00-1:10 averages 3; then 4 until 2:00, when three drain (idle ones stop at once).
    let want = [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0, 4.0, 4.0];
    for (i, w) in want.iter().enumerate() {
        assert!(
            (replicas[i] - w).abs() < 1e-9,
            "row {i}: {} vs {w}",
            replicas[i]
        );
    }
    // From 2:00 one replica; 3:00 asks for two more, serving from 3:05.
    assert!(
        replicas[12] < 1.1 && replicas[12] >= 1.0,
        "{}",
        replicas[12]
    );
    assert!((replicas[18] - 2.0).abs() < 1e-9, "{}", replicas[18]);
    assert!((replicas[19] - 3.0).abs() < 1e-9, "{}", replicas[19]);
    // Two starts at 1:00, three stops at 2:00, two starts at 3:00; each start provisions 5 min.
    let ps = &r.pools[0];
    assert_eq!((ps.cold_starts, ps.stops), (4.0, 3.0));
    assert!((ps.provisioning_replica_hours - 4.0 * 5.0 / 60.0).abs() < 1e-9);
    // Paid instance-hours, hour by hour: 2, 4 (the two new ones are paid while they start),
    // 1 (plus the moments the drained ones take to finish), 3.
    let price = s.pools()[0].price_usd_per_hour;
    let cost = r.total.get(Metric::CostTotal);
    let want_h = 2.0 + 4.0 + 1.0 + 3.0;
    assert!(
        (cost / price - want_h).abs() < 0.01,
        "{} instance-hours",
        cost / price
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Whatever the schedule, the policy and the delays: no request is lost when replicas come
    /// and go (arrived = completed + dropped + timed out).
    #[test]
    fn scaling_loses_no_request(
        hours in proptest::collection::vec(0u32..4, 24),
        policy in prop_oneof!["shared-queue", "round-robin", "least-outstanding", "power-of-two"],
        start_s in 0u64..900,
        seed in 0u64..1000,
    ) {
        let hours: Vec<String> = hours.iter().map(|h| h.to_string()).collect();
        let text = format!(r#"
            version = 1
            seed = {seed}
            horizon = "5h"
            warmup = "10m"
            interval = "10m"
            [models.m]
            service.T4 = {{ kind = "lognormal", mean = "300ms", cv = 1.5 }}
            [workloads.w]
            model = "m"
            arrival = {{ kind = "poisson", rate = 4 }}
            dispatch = {{ policy = "{policy}", timeout = "30s" }}
            [pools.p]
            instance_type = "g4dn.xlarge"
            region = "us-east-1"
            replicas = 1
            autoscale = {{ policy = "schedule", hours = [{}] }}
            provisioning = {{ instance_start = "{start_s}s", container_start = "0s", model_load = "0s" }}
        "#, hours.join(", "));
        let s = scenario::parse(&text, "prop.toml", root(), &[]).expect("valid");
        let r = experiment::run_seeded(&s, s.seed()).expect("runs");
        let t = &r.total;
        prop_assert_eq!(crate::support::unaccounted(t), 0.0);
    }
}

/// Target tracking at utilization 0.6 on a day of diurnal traffic (4x peak to trough): mean
/// utilization over the day within 0.05 of the target, and replicas that follow the load.
#[test]
fn target_tracking_holds_utilization_over_a_day() {
    let text = r#"
        version = 1
        seed = 4
        horizon = "24h"
        warmup = "1h"
        interval = "15m"
        [models.m]
        service.L40S = { kind = "lognormal", mean = "200ms", cv = 0.8 }
        [workloads.w]
        model = "m"
        arrival = { kind = "diurnal", rate = 40, peak_to_trough = 4, peak_hour = 14 }
        [pools.p]
        instance_type = "g6e.xlarge"
        region = "us-east-1"
        replicas = 8
        autoscale = { policy = "target-tracking", target = 0.6, max = 40 }
    "#;
    let s = scenario::parse(text, "tt.toml", root(), &[]).unwrap();
    let r = experiment::run_seeded(&s, s.seed()).unwrap();
    let util = r.total.get(Metric::Utilization);
    assert!((util - 0.6).abs() < 0.05, "mean utilization {util}");
    // Replicas against the load (arrivals per row): they move together, the replicas at most
    // a row (15 minutes) behind.
    let load: Vec<f64> = r.series.iter().map(|row| row.arrivals).collect();
    let repl: Vec<f64> = r.series.iter().map(|row| row.replicas).collect();
    let corr = |lag: usize| {
        let (a, b) = (&load[..load.len() - lag], &repl[lag..]);
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    };
    let best = (0..8).max_by(|&x, &y| corr(x).total_cmp(&corr(y))).unwrap();
    assert!(corr(best) > 0.97, "correlation {}", corr(best));
    assert!(best <= 1, "replicas lag the load by {best} rows");
    let peak = repl.iter().cloned().fold(0.0, f64::max);
    let trough = repl.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(peak / trough > 3.0, "{trough} .. {peak}");
}

/// A pool on a diurnal day (4x peak to trough) under `autoscale`, one-minute intervals.
fn diurnal_day(autoscale: &str) -> (headroom::scenario::Scenario, sim::RunResult) {
    let text = format!(
        r#"
        version = 1
        seed = 5
        horizon = "24h"
        warmup = "1h"
        interval = "1m"
        [models.m]
        service.L40S = {{ kind = "lognormal", mean = "200ms", cv = 0.8 }}
        [workloads.w]
        model = "m"
        arrival = {{ kind = "diurnal", rate = 40, peak_to_trough = 4, peak_hour = 14 }}
        [pools.p]
        instance_type = "g6e.xlarge"
        region = "us-east-1"
        replicas = 8
        autoscale = {autoscale}
    "#
    );
    let s = scenario::parse(&text, "day.toml", root(), &[]).unwrap();
    let r = experiment::run_seeded(&s, s.seed()).unwrap();
    (s, r)
}

/// Knative's concurrency model: requests in flight per replica held at the target (below one
/// for a replica that serves one request at a time). By Little's law the mean in flight is
/// throughput x latency; over the mean replicas, that is the concurrency the policy held.
#[test]
fn concurrency_tracking_holds_requests_per_replica() {
    let (_, r) = diurnal_day(
        r#"{ policy = "target-tracking", metric = "concurrency", target = 0.7, max = 60 }"#,
    );
    let per_replica = r.total.get(Metric::MeanInSystem) / r.pools[0].replicas_mean;
    // The count is rounded up and held for the stabilization window on the way down, so the
    // mean sits under the target (0.55 seen).
    assert!(
        (0.5..=0.72).contains(&per_replica),
        "{per_replica} in flight per replica"
    );
    let (_, low) = diurnal_day(
        r#"{ policy = "target-tracking", metric = "concurrency", target = 0.35, max = 60 }"#,
    );
    let ratio = low.pools[0].replicas_mean / r.pools[0].replicas_mean;
    assert!((1.7..2.3).contains(&ratio), "{ratio}");
}

/// Step scaling on the queue adds replicas when a backlog forms and removes them when it is
/// gone; a longer backlog threshold lets the queue grow further.
#[test]
fn step_scaling_follows_the_queue() {
    let policy = |above: f64| {
        format!(
            r#"{{ policy = "step", metric = "queue-delay", steps = [{{ above = {above}, add = 1 }}, {{ above = {}, add = 4 }}], scale_in = {{ below = 0.001, remove = 1 }}, window = "5m", cooldown = "2m", max = 60 }}"#,
            above * 5.0
        )
    };
    let (_, tight) = diurnal_day(&policy(0.05));
    let (_, loose) = diurnal_day(&policy(0.5));
    let repl: Vec<f64> = tight.series.iter().map(|row| row.replicas).collect();
    let peak = repl.iter().cloned().fold(0.0, f64::max);
    let trough = repl.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(peak / trough > 2.0, "{trough} .. {peak}");
    assert!(tight.pools[0].cold_starts > 10.0);
    assert!(
        tight.total.get(Metric::WaitMean) < loose.total.get(Metric::WaitMean),
        "{} vs {}",
        tight.total.get(Metric::WaitMean),
        loose.total.get(Metric::WaitMean)
    );
}

/// Predictive scaling starts the schedule's replicas one provisioning time ahead, so they serve
/// when their hour begins; target tracking covers what the schedule lacks.
#[test]
fn predictive_scaling_is_ready_on_the_hour() {
    let mut hours = vec!["2"; 24];
    hours[3] = "30";
    let hours = hours.join(", ");
    let (s, r) = diurnal_day(&format!(
        // A fixed start (no spread), so that the lead is exact.
        r#"{{ policy = "predictive", hours = [{hours}], target = 0.6, max = 40, min = 1 }}
        provisioning = {{ instance_start = "90s" }}"#
    ));
    let lead = s.pools()[0].provisioning().typical().as_secs_f64();
    assert_eq!(lead, 210.0);
    // Rows are one minute: at 03:00 the thirty replicas serve already; they were asked for
    // at 02:56:30 (the row of 02:56 shows them starting, not serving).
    let row = |h: f64| &r.series[(h * 60.0).round() as usize];
    assert!(row(3.0).replicas >= 30.0, "{}", row(3.0).replicas);
    assert!(row(2.9).replicas < 30.0);
    // By day the schedule's 2 would not carry the load: tracking adds replicas above it.
    assert!(row(14.0).replicas > 10.0);
}

/// Spill-over: arrivals fill the reserved pool first, then spot, then on-demand, with a queue
/// per replica or a shared queue.
#[test]
fn spill_order_fills_the_preferred_pools_first() {
    for policy in ["least-outstanding", "shared-queue", "round-robin"] {
        let r = json_without_run(&[
            "simulate",
            "scenarios/chat-assistant.toml",
            "-f",
            "json",
            "--set",
            "horizon=\"3h\"",
            "--set",
            &format!("workloads.chat.dispatch.policy=\"{policy}\""),
            "--set",
            "pools.l40s-reserved.spill_order=0",
            "--set",
            "pools.l40s-spot.spill_order=1",
            "--set",
            "pools.l40s-ondemand.spill_order=2",
        ]);
        let util = |name: &str| {
            r["pools"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap()["utilization"]
                .as_f64()
                .unwrap()
        };
        let (res, spot, od) = (
            util("l40s-reserved"),
            util("l40s-spot"),
            util("l40s-ondemand"),
        );
        assert!(res > spot && spot > od, "{policy}: {res} {spot} {od}");
        assert_eq!(
            r["requests"]["arrived"],
            r["requests"]["completed"].as_f64().unwrap()
                + r["requests"]["dropped"].as_f64().unwrap()
                + r["requests"]["timed_out"].as_f64().unwrap()
        );
    }
}

/// A warm pool shortens scale-ups and costs what its instances cost while they wait; a node
/// cache shortens the model load of the starts it hits.
#[test]
fn warm_pools_and_caches_shorten_scale_ups() {
    let run = |provisioning: &str| {
        let text = format!(
            r#"
            version = 1
            seed = 3
            horizon = "24h"
            warmup = "10m"
            [models.m]
            service.L40S = {{ kind = "exponential", mean = "100ms" }}
            [workloads.w]
            model = "m"
            arrival = {{ kind = "poisson", rate = 5 }}
            [pools.p]
            instance_type = "g6e.xlarge"
            region = "us-east-1"
            replicas = 1
            autoscale = {{ policy = "schedule", hours = [1, 5, 1, 5, 1, 5, 1, 5, 1, 5, 1, 5, 1, 5, 1, 5, 1, 5, 1, 5, 1, 5, 1, 5] }}
            provisioning = {provisioning}
        "#
        );
        let s = scenario::parse(&text, "warm.toml", root(), &[]).unwrap();
        let r = experiment::run_seeded(&s, s.seed()).unwrap();
        (s, r)
    };
    let (s, cold) = run(r#"{ instance_start = "90s", weights_gb = 60 }"#);
    // 60 GB from object storage at 1.5 GB/s: 40 s; the whole start 90 + 60 + 40 s.
    assert_eq!(s.pools()[0].provisioning.typical(), SimTime::from_secs(190));
    let (_, running) = run(
        r#"{ instance_start = "90s", weights_gb = 60, warm_pool = { size = 4, state = "running" } }"#,
    );
    let (_, stopped) = run(
        r#"{ instance_start = "90s", weights_gb = 60, warm_pool = { size = 4, state = "stopped" } }"#,
    );
    let (_, cached) = run(r#"{ instance_start = "90s", weights_gb = 60, cache_hit_ratio = 1.0 }"#);
    let short = |r: &sim::RunResult| r.pools[0].under_provisioned_hours;
    // Twelve scale-ups of four replicas: 190 s short each when cold, 10 s from a running warm
    // pool, 0.8 x 90 s + 30 s (the engine) + 30 s (60 GB from the disk at 2 GB/s) from a
    // stopped one, 180 s with every start hitting the cache.
    let ups = 12.0;
    assert!(
        (short(&cold) - ups * 190.0 / 3600.0).abs() < 0.05,
        "{}",
        short(&cold)
    );
    assert!(
        (short(&running) - ups * 10.0 / 3600.0).abs() < 0.01,
        "{}",
        short(&running)
    );
    assert!(
        (short(&stopped) - ups * 132.0 / 3600.0).abs() < 0.02,
        "{}",
        short(&stopped)
    );
    assert!(
        (short(&cached) - ups * 180.0 / 3600.0).abs() < 0.02,
        "{}",
        short(&cached)
    );
    assert!(running.pools[0].warm_starts >= 44.0);
    // A running warm pool pays four idle instances all the time; a stopped one pays disks.
    let price = s.pools()[0].price_usd_per_hour;
    let window_h = 24.0 - 10.0 / 60.0;
    let warm = running.pools[0].warm_cost_usd;
    assert!((warm - 4.0 * window_h * price).abs() < 0.01, "{warm}");
    assert!(stopped.pools[0].warm_cost_usd < 0.1 * warm);
    assert!(running.total.get(Metric::CostTotal) > cold.total.get(Metric::CostTotal) + 0.9 * warm);
}
