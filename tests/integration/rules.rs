//! The rules of service in corner cases (each found in review, each once wrong).

use headroom::sim::Metric;

use crate::support::{parse, root, summarise};

fn run(text: &str, replications: u32) -> headroom::experiment::Summary {
    summarise(&parse(text), replications)
}

/// A shared queue served by pools that batch differently: a free replica that does not batch
/// starts at once, even when one that waits for a fuller batch was free longer.
#[test]
fn a_free_replica_that_does_not_batch_is_not_held_back() {
    let s = run(
        r#"
        version = 1
        horizon = "2h"
        [models.m]
        service.T4 = { kind = "deterministic", mean = "10ms", max_batch = 8, max_wait = "1s" }
        service.L4 = { kind = "deterministic", mean = "10ms" }
        [workloads.w]
        model = "m"
        arrival = { kind = "poisson", rate = 1 }
        [pools.batchy]
        instance_type = "g4dn.xlarge"
        region = "us-east-1"
        replicas = 1
        [pools.plain]
        instance_type = "g6.xlarge"
        region = "us-east-1"
        replicas = 1
        "#,
        1,
    );
    let p50 = s.total.get(Metric::LatencyP50).mean;
    let p99 = s.total.get(Metric::LatencyP99).mean;
    assert!(
        p50 < 10.1,
        "p50 {p50} ms: requests waited for the batching replica"
    );
    // Only requests arriving while `plain` is busy (about 1 %) may wait for the batch timer.
    assert!(p99 < 1100.0, "p99 {p99} ms");
}

/// A queue that can hold fewer requests than a batch is full when it is at capacity: the replica
/// starts rather than dropping arrivals while it waits.
#[test]
fn a_queue_at_capacity_is_a_full_batch() {
    let s = run(
        r#"
        version = 1
        horizon = "1h"
        [models.m]
        service.T4 = { kind = "deterministic", mean = "10ms", max_batch = 8, max_wait = "1s" }
        [workloads.w]
        model = "m"
        arrival = { kind = "poisson", rate = 10 }
        dispatch = { queue_capacity = 2 }
        [pools.p]
        instance_type = "g4dn.xlarge"
        region = "us-east-1"
        replicas = 1
        "#,
        1,
    );
    let t = &s.total;
    let dropped = t.get(Metric::Dropped).mean / t.get(Metric::Arrived).mean;
    assert!(
        dropped < 0.001,
        "{dropped} of requests dropped while the GPU idled"
    );
    assert!((t.get(Metric::BatchMean).mean - 2.0).abs() < 0.01);
}

/// A request whose deadline comes at the instant a replica frees up leaves the queue; it is not
/// served in full and then counted as timed out.
#[test]
fn a_request_at_its_deadline_is_not_started() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "t\n0\n0\n").unwrap();
    let text = r#"
        version = 1
        horizon = "10s"
        interval = "1s"
        [models.m]
        service.T4 = { kind = "deterministic", mean = "1s" }
        [workloads.w]
        model = "m"
        arrival = { kind = "trace", path = "t.csv", time_column = "t", time_unit = "s" }
        dispatch = { timeout = "1s" }
        [pools.p]
        instance_type = "g4dn.xlarge"
        region = "us-east-1"
        replicas = 1
    "#;
    let s = headroom::scenario::parse(text, "tie.toml", dir.path(), &[]).unwrap();
    let sum = summarise(&s, 1);
    let t = &sum.total;
    assert_eq!(t.get(Metric::Completed).mean, 1.0);
    assert_eq!(t.get(Metric::TimedOut).mean, 1.0);
    let util = t.get(Metric::Utilization).mean;
    assert!(
        (util - 0.1).abs() < 1e-9,
        "utilization {util}: the expired request was served"
    );
    let _ = root();
}

/// The SLO verdict does not change with the number of replications when some replications see
/// no traffic at all.
#[test]
fn replications_without_traffic_do_not_fail_the_slo() {
    let text = r#"
        version = 1
        seed = 4
        horizon = "10s"
        warmup = "5s"
        interval = "1s"
        [models.m]
        service.T4 = { kind = "deterministic", mean = "10ms" }
        [workloads.w]
        model = "m"
        arrival = { kind = "bursty", calm_rate = 0, burst_rate = 50, calm_duration = "1h", burst_duration = "1s" }
        slo = { p99 = "1s" }
        [pools.p]
        instance_type = "g4dn.xlarge"
        region = "us-east-1"
        replicas = 1
    "#;
    for n in [1, 3] {
        let s = run(text, n);
        assert_eq!(s.total.slo_met, Some(true), "{n} replication(s)");
    }
}
