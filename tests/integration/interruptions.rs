//! Spot interruptions: how often replicas are reclaimed, what happens to their requests, and what
//! replaces them.

use headroom::experiment;
use headroom::scenario::{self, Scenario};
use headroom::sim::{Metric, RunResult};
use proptest::prelude::*;
use statrs::distribution::{DiscreteCDF, Poisson};

use crate::support::root;

fn run(text: &str) -> (Scenario, RunResult) {
    let s = scenario::parse(text, "spot.toml", root(), &[]).expect("valid");
    let r = experiment::run_seeded(&s, s.seed()).expect("runs");
    (s, r)
}

/// A light service on a spot pool of `replicas` with the given `interruptions` table.
fn spot(replicas: u32, horizon: &str, interruptions: &str, seed: u64) -> String {
    format!(
        r#"
        version = 1
        seed = {seed}
        horizon = "{horizon}"
        warmup = "10m"
        interval = "1h"
        [models.m]
        service.T4 = {{ kind = "lognormal", mean = "200ms", cv = 1.0 }}
        [workloads.w]
        model = "m"
        arrival = {{ kind = "poisson", rate = 0.5 }}
        dispatch = {{ policy = "least-outstanding" }}
        [pools.s]
        instance_type = "g4dn.xlarge"
        region = "us-east-1"
        market = "spot"
        replicas = {replicas}
        interruptions = {interruptions}
        "#
    )
}

/// The two-sided 99 % interval of a Poisson count with mean `mu`.
fn poisson_99(mu: f64) -> (u64, u64) {
    let d = Poisson::new(mu).expect("a positive mean");
    (d.inverse_cdf(0.005), d.inverse_cdf(0.995))
}

/// Over a long run, reclaims of each serving replica come at the configured rate: the count
/// falls inside the 99 % Poisson interval of rate x serving replica-hours.
#[test]
fn interruption_counts_fall_inside_the_poisson_interval() {
    for (rate, seed) in [(0.2, 1), (0.05, 2), (1.0, 3)] {
        let text = spot(10, "400h", &format!("{{ rate_per_hour = {rate} }}"), seed);
        let (s, r) = run(&text);
        let window_h = (s.horizon().0 - s.warmup().0) as f64 / 3.6e12;
        let exposure = r.pools[0].replicas_mean * window_h;
        let count = r.total.get(Metric::Interruptions) as u64;
        let (lo, hi) = poisson_99(rate * exposure);
        assert!(
            (lo..=hi).contains(&count),
            "rate {rate}: {count} reclaims over {exposure:.0} replica-hours, 99% interval [{lo}, {hi}]"
        );
        // Every reclaim is replaced (after the retry delay and provisioning); the window's edges
        // cut a few pairs apart (at 10 reclaims an hour, about 1.5 in each 9-minute edge).
        let starts = r.pools[0].cold_starts;
        assert!(
            (starts - count as f64).abs() <= 8.0,
            "{starts} starts for {count}"
        );
    }
}

/// The rate a bucket of the Spot Instance Advisor gives is what the simulation shows.
#[test]
fn a_bucket_rate_is_simulated_as_documented() {
    // g4dn.xlarge in us-east-1 has a bucket in pricing/spot_interruption.csv.
    let (s, r) = run(&spot(20, "2000h", "{}", 4));
    let rate = s.pools()[0].interruptions.as_ref().unwrap().rate_per_hour;
    assert!(rate > 0.0);
    let window_h = (s.horizon().0 - s.warmup().0) as f64 / 3.6e12;
    let count = r.total.get(Metric::Interruptions) as u64;
    let (lo, hi) = poisson_99(rate * r.pools[0].replicas_mean * window_h);
    assert!((lo..=hi).contains(&count), "{count} not in [{lo}, {hi}]");
}

/// A correlated reclaim takes its share of the pool at once; without replacement the pool
/// shrinks by exactly that share each time.
#[test]
fn correlated_reclaims_take_a_share_of_the_pool() {
    let all = r#"{ rate_per_hour = 0, replacement = "none", correlated = { rate_per_hour = 0.5, fraction = 1.0 } }"#;
    let (_, r) = run(&spot(4, "100h", all, 5));
    assert_eq!(r.total.get(Metric::Interruptions), 4.0);
    assert!(r.series.last().unwrap().replicas == 0.0);
    // Half of 4, then half of 2, then the last one (rounded up): 2 + 1 + 1.
    let half = all.replace("fraction = 1.0", "fraction = 0.5");
    let (_, r) = run(&spot(4, "200h", &half, 6));
    assert_eq!(r.total.get(Metric::Interruptions), 4.0);
    assert_eq!(r.pools[0].cold_starts, 0.0);
}

/// Requests that a reclaim catches are served elsewhere, counted as retried, and the time they
/// lost shows in their latency; none is lost.
#[test]
fn reclaimed_requests_are_retried_with_their_delay() {
    let text = r#"
        version = 1
        seed = 7
        horizon = "50h"
        warmup = "10m"
        [models.m]
        service.T4 = { kind = "lognormal", mean = "20s", cv = 1.0 }
        [workloads.w]
        model = "m"
        arrival = { kind = "poisson", rate = 0.2 }
        dispatch = { policy = "least-outstanding" }
        [pools.spot]
        instance_type = "g4dn.xlarge"
        region = "us-east-1"
        market = "spot"
        replicas = 4
        interruptions = { rate_per_hour = 1, notice = "5s" }
        [pools.od]
        instance_type = "g4dn.xlarge"
        region = "us-east-1"
        market = "on-demand"
        replicas = 4
    "#;
    let (_, r) = run(text);
    let t = &r.total;
    let retried = t.get(Metric::Retried);
    assert!(retried > 10.0, "{retried} retried");
    let lost = t.get(Metric::RetriedLost);
    // A retried request had waited at least the 5 s notice (it arrived before the notice, or
    // during it on a replica no longer taking work... which cannot happen) and lost its work.
    assert!(lost >= 5_000.0, "{lost} ms lost on average");
    assert_eq!(crate::support::unaccounted(t), 0.0);
    // With a notice long enough to finish every request, nothing is retried.
    let (_, r) = run(&text.replace("notice = \"5s\"", "notice = \"10m\""));
    assert_eq!(r.total.get(Metric::Retried), 0.0);
}

/// Falling back to on-demand (SkyServe): lost spot replicas are covered by on-demand replicas
/// of the same type until spot capacity is back and its replicas are ready.
#[test]
fn fallback_covers_the_gap_with_on_demand() {
    let table = |replacement: &str| {
        format!(r#"{{ rate_per_hour = 0.5, replacement = "{replacement}", retry_delay = "10m" }}"#)
    };
    let (s, fallback) = run(&spot(4, "200h", &table("on-demand"), 8));
    let (_, retry) = run(&spot(4, "200h", &table("retry"), 8));
    assert_eq!(s.pools().len(), 2);
    let od = &s.pools()[1];
    assert_eq!(od.name, "s/on-demand");
    assert_eq!(od.market, headroom::pricing::Market::OnDemand);
    // The same reclaims (same seed and stream) in both runs.
    let n = fallback.total.get(Metric::Interruptions);
    assert_eq!(n, retry.total.get(Metric::Interruptions));
    assert!(n > 100.0, "{n}");
    // About one fallback replica per reclaim (a fallback replica still draining is taken back
    // instead), each paid from the reclaim until the spot replacement is ready: 10 min without
    // spot capacity + provisioning, more when a second reclaim extends the outage.
    let starts = fallback.pools[1].cold_starts;
    assert!(
        starts <= n && starts >= 0.9 * n,
        "{starts} fallback starts for {n} reclaims"
    );
    let gap_h = (600.0 + s.pools()[0].provisioning().typical().as_secs_f64()) / 3600.0;
    let od_h =
        fallback.pools[1].replicas_mean * 200.0 + fallback.pools[1].provisioning_replica_hours;
    assert!(
        od_h >= 0.9 * n * gap_h && od_h <= n * gap_h * 1.25,
        "{od_h} on-demand replica-hours for {n}"
    );
    // The spot pool serves fewer replica-hours with retry than the spot and fallback together.
    assert!(
        fallback.pools[0].replicas_mean + fallback.pools[1].replicas_mean
            > retry.pools[0].replicas_mean
    );
    assert!(fallback.total.get(Metric::CostOnDemand) > 0.0);
    assert_eq!(retry.total.get(Metric::CostOnDemand), 0.0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Whatever the rates, notices, replacement and dispatch: no request is lost across
    /// reclaims (arrived = completed + dropped + timed out).
    #[test]
    fn reclaims_lose_no_request(
        rate in 0.0f64..3.0,
        notice_s in 0u64..60,
        replacement in prop_oneof!["retry", "on-demand", "none"],
        policy in prop_oneof!["shared-queue", "round-robin", "least-outstanding", "power-of-two"],
        correlated in prop_oneof![Just(0.0f64), 0.0f64..1.0],
        elastic in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let autoscale = if elastic {
            r#"autoscale = { policy = "target-tracking", target = 0.6, max = 6 }"#
        } else {
            ""
        };
        let text = format!(r#"
            version = 1
            seed = {seed}
            horizon = "6h"
            warmup = "10m"
            interval = "10m"
            [models.m]
            service.T4 = {{ kind = "lognormal", mean = "3s", cv = 1.5 }}
            [workloads.w]
            model = "m"
            arrival = {{ kind = "poisson", rate = 1 }}
            dispatch = {{ policy = "{policy}", timeout = "2m", queue_capacity = 50 }}
            [pools.s]
            instance_type = "g4dn.xlarge"
            region = "us-east-1"
            market = "spot"
            replicas = 4
            {autoscale}
            interruptions = {{ rate_per_hour = {rate}, notice = "{notice_s}s", replacement = "{replacement}", retry_delay = "3m", correlated = {{ rate_per_hour = {correlated}, fraction = 0.5 }} }}
            [pools.od]
            instance_type = "g4dn.xlarge"
            region = "us-east-1"
            market = "on-demand"
            replicas = 1
        "#);
        let s = scenario::parse(&text, "prop.toml", root(), &[]).expect("valid");
        let r = experiment::run_seeded(&s, s.seed()).expect("runs");
        let t = &r.total;
        prop_assert_eq!(crate::support::unaccounted(t), 0.0);
    }
}

/// An LLM replica reclaimed mid-generation: its sequences start again elsewhere from their
/// prompts, none is lost, and the lost time shows.
#[test]
fn llm_sequences_survive_a_reclaim() {
    let mut retried = 0.0;
    for seed in [1u64, 2, 3] {
        let out = crate::support::headroom()
            .args([
                "simulate",
                "scenarios/llm-chat.toml",
                "-f",
                "json",
                "--seed",
                &seed.to_string(),
                "--set",
                "horizon=\"30m\"",
                "--set",
                "pools.l40s.market=\"spot\"",
                "--set",
                "pools.l40s.interruptions={ rate_per_hour = 8, notice = \"5s\", retry_delay = \"1m\" }",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let r = &v["requests"];
        let n = |k: &str| r[k].as_f64().unwrap();
        assert_eq!(n("arrived"), n("completed") + n("dropped") + n("timed_out"));
        assert!(v["interruptions"].as_f64().unwrap() >= 1.0);
        if n("retried") > 0.0 {
            assert!(n("retried_lost_ms") > 5_000.0, "{}", n("retried_lost_ms"));
        }
        retried += n("retried");
    }
    assert!(retried > 0.0, "a 5 s notice cuts some generations short");
}
