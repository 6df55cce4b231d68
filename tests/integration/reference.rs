//! The simulator against queueing theory and an independent reference simulation.

use headroom::sim::Metric;
use rand::SeedableRng;
use rand_distr::{Distribution, Exp};

use crate::support::{load, parse, summarise, within};

/// Erlang C: probability that an arrival waits in M/M/c with offered load `a` (Erlangs).
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / f64::from(k + 1);
    }
    let top = term * f64::from(c) / (f64::from(c) - a);
    top / (sum + top)
}

/// P(time in system > t) for M/M/c FIFO: an exponential wait (with an atom at zero) plus an
/// exponential service.
fn mmc_sojourn_tail(c: u32, lambda: f64, mu: f64, t: f64) -> f64 {
    let pw = erlang_c(c, lambda / mu);
    let theta = f64::from(c) * mu - lambda;
    (-mu * t).exp() * (1.0 + pw * mu / (theta - mu) * (1.0 - (-(theta - mu) * t).exp()))
}

fn quantile_of_tail(tail: impl Fn(f64) -> f64, p: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1000.0);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if tail(mid) > 1.0 - p {
            lo = mid
        } else {
            hi = mid
        }
    }
    lo
}

#[test]
fn closed_forms_match_the_issue() {
    let wq = erlang_c(8, 6.4) / (8.0 - 6.4);
    assert!((wq - 0.28603).abs() < 5e-6, "{wq}");
    let p99 = quantile_of_tail(|t| mmc_sojourn_tail(8, 6.4, 1.0, t), 0.99);
    assert!((p99 - 5.1522).abs() < 5e-4, "{p99}");
}

#[test]
fn mmc_matches_erlang_c() {
    let s = load("mmc.toml", &[]);
    let sum = summarise(&s, 5);
    let t = &sum.total;
    let wait_s = t.get(Metric::WaitMean).mean / 1e3;
    let p99_s = t.get(Metric::LatencyP99).mean / 1e3;
    let util = t.get(Metric::Utilization).mean;
    assert!(
        within(wait_s, 0.28603, 0.02),
        "mean wait {wait_s} s vs Erlang C 0.28603 s"
    );
    assert!(
        within(p99_s, 5.1522, 0.03),
        "p99 sojourn {p99_s} s vs 5.1522 s"
    );
    assert!(within(util, 0.8, 0.01), "utilization {util} vs 0.8");
    // About a million requests per replication, as the scenario promises.
    let arrived = t.get(Metric::Arrived).mean;
    assert!((950_000.0..1_050_000.0).contains(&arrived), "{arrived}");
}

#[test]
fn md1_matches_pollaczek_khinchine() {
    // M/D/1 at rho = 0.8 with a 1 s service: Wq = rho D / (2 (1 - rho)) = 2 s.
    let s = parse(
        r#"
        version = 1
        seed = 3
        horizon = "400h"
        warmup = "1h"
        interval = "1h"
        [models.m]
        service.T4 = { kind = "deterministic", mean = "1s" }
        [workloads.w]
        model = "m"
        arrival = { kind = "poisson", rate = 0.8 }
        [pools.p]
        instance_type = "g4dn.xlarge"
        region = "us-east-1"
        replicas = 1
        "#,
    );
    let sum = summarise(&s, 4);
    let wait_s = sum.total.get(Metric::WaitMean).mean / 1e3;
    assert!(
        within(wait_s, 2.0, 0.02),
        "M/D/1 mean wait {wait_s} s vs P-K 2.0 s"
    );
    let sojourn_s = sum.total.get(Metric::LatencyMean).mean / 1e3;
    assert!(within(sojourn_s, 3.0, 0.02), "{sojourn_s}");
}

/// L = lambda W on every shipped example (day-1k over its first two hours, to keep the test short).
#[test]
fn littles_law_holds_on_every_example() {
    for (name, overrides) in [
        ("mmc.toml", vec![]),
        ("batching.toml", vec![]),
        ("day-1k.toml", vec!["horizon=\"2h\""]),
        ("chat-assistant.toml", vec![]),
        ("trace-replay.toml", vec![]),
        ("llm-chat.toml", vec![]),
        ("llm-prefix.toml", vec!["horizon=\"20m\""]),
        ("autoscale-diurnal.toml", vec!["horizon=\"10h\""]),
        ("spot-mix.toml", vec!["horizon=\"8h\""]),
    ] {
        let s = load(name, &overrides);
        let sum = summarise(&s, 1);
        let t = &sum.total;
        let window_s = s.window().as_secs_f64();
        let failed = t.get(Metric::Dropped).mean + t.get(Metric::TimedOut).mean;
        assert_eq!(
            failed, 0.0,
            "{name}: the check assumes every request completes"
        );
        let lambda = t.get(Metric::Arrived).mean / window_s;
        let w = t.get(Metric::LatencyMean).mean / 1e3;
        let l = t.get(Metric::MeanInSystem).mean;
        assert!(
            within(l, lambda * w, 0.01),
            "{name}: L = {l}, lambda W = {}",
            lambda * w
        );
    }
}

/// The batching rules, simulated independently: one server, which starts empty; when free it takes
/// up to 16 queued requests, oldest first; a batch of b takes 20 + 2 b ms and completes together.
fn reference_batching(seed: u64, requests: usize) -> (f64, Vec<f64>) {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let gaps = Exp::new(250.0).unwrap();
    let mut arrivals = Vec::with_capacity(requests);
    let mut t = 0.0;
    for _ in 0..requests {
        t += gaps.sample(&mut rng);
        arrivals.push(t);
    }
    let (mut free_at, mut next) = (0.0f64, 0usize);
    let (mut batches, mut latencies) = (0usize, Vec::with_capacity(requests));
    while next < arrivals.len() {
        let start = free_at.max(arrivals[next]);
        let mut end = next;
        while end < arrivals.len() && arrivals[end] <= start && end - next < 16 {
            end += 1;
        }
        let done = start + 0.020 + 0.002 * (end - next) as f64;
        for a in &arrivals[next..end] {
            latencies.push((done - a) * 1e3);
        }
        batches += 1;
        free_at = done;
        next = end;
    }
    (requests as f64 / batches as f64, latencies)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[test]
fn batching_matches_the_reference_simulation() {
    // The figures of the issue, from the reference rules.
    let (mean_batch, mut lat) = reference_batching(11, 900_000);
    lat.sort_by(f64::total_cmp);
    let mean = lat.iter().sum::<f64>() / lat.len() as f64;
    for (what, got, want) in [
        ("reference mean batch", mean_batch, 10.00),
        ("reference mean latency", mean, 63.9),
        ("reference p50", percentile(&lat, 0.5), 62.5),
        ("reference p99", percentile(&lat, 0.99), 107.9),
    ] {
        assert!(within(got, want, 0.03), "{what}: {got} vs {want}");
    }

    let s = load("batching.toml", &[]);
    let sum = summarise(&s, 1);
    let t = &sum.total;
    for (what, got, want) in [
        ("mean batch", t.get(Metric::BatchMean).mean, 10.00),
        ("mean latency", t.get(Metric::LatencyMean).mean, 63.9),
        ("p50", t.get(Metric::LatencyP50).mean, 62.5),
        ("p99", t.get(Metric::LatencyP99).mean, 107.9),
    ] {
        assert!(within(got, want, 0.03), "{what}: {got} vs {want}");
    }
}
