//! Properties: the loader survives any input; every run conserves requests.

use headroom::experiment;
use headroom::scenario;
use headroom::sim::Metric;
use proptest::prelude::*;

use crate::support::root;

const VALID: &str = include_str!("../fixtures/valid/tiny.toml");

/// What any input must give: a scenario whose indices hold, or errors that each name where
/// (the file, or the `--set` argument) and what.
fn check(result: Result<scenario::Scenario, scenario::LoadError>) -> Result<(), TestCaseError> {
    match result {
        Ok(s) => {
            let (w, p) = (s.workloads().len(), s.pools().len());
            prop_assert!(
                s.pools().iter().all(|pool| pool.workload < w.max(1)),
                "{p} pools"
            );
            prop_assert!(s.workloads().iter().all(|wl| !wl.name.is_empty()));
        }
        Err(scenario::LoadError::Invalid { diagnostics }) => {
            prop_assert!(!diagnostics.is_empty(), "an error with no diagnostic");
            for d in &diagnostics {
                prop_assert!(
                    d.location.starts_with("fuzz.toml") || d.location.starts_with("--set "),
                    "no location: {d}"
                );
                prop_assert!(!d.message.trim().is_empty(), "no message: {d}");
            }
        }
        Err(e) => prop_assert!(false, "not a validation error: {e}"),
    }
    Ok(())
}

fn load_text(text: &str) -> Result<(), TestCaseError> {
    check(scenario::parse(
        text,
        "fuzz.toml",
        &root().join("tests/fixtures/valid"),
        &[],
    ))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn loader_survives_random_text(text in "\\PC{0,400}") {
        load_text(&text)?;
    }

    #[test]
    fn loader_survives_mutated_scenarios(
        edits in proptest::collection::vec((0usize..4000, 0usize..40, "[ -~\\n]{0,12}"), 1..6)
    ) {
        let mut text = VALID.to_string();
        for (at, cut, insert) in edits {
            let at = at % (text.len() + 1);
            let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let end = (at + cut).min(text.len());
            let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
            text.replace_range(at..end, &insert);
        }
        load_text(&text)?;
    }

    #[test]
    fn loader_survives_random_overrides(key in "[a-z_.]{1,30}", value in "\\PC{0,20}") {
        check(scenario::parse(
            VALID,
            "fuzz.toml",
            &root().join("tests/fixtures/valid"),
            &[format!("{key}={value}")],
        ))?;
    }
}

/// The checks above fail on what they must refuse: a diagnostic with no location.
#[test]
fn the_loader_check_can_fail() {
    let nowhere = scenario::LoadError::Invalid {
        diagnostics: vec![scenario::Diagnostic {
            location: String::new(),
            message: "bad".into(),
            snippet: None,
        }],
    };
    assert!(check(Err(nowhere)).is_err());
    assert!(load_text("version = 1\nhorizon = 3\n").is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// Whatever the fleet and its limits: arrived = completed + dropped + timed out, and the
    /// time series covers the horizon.
    #[test]
    fn requests_are_conserved(
        rate in 1.0f64..400.0,
        replicas in 1u32..6,
        policy in prop_oneof!["shared-queue", "round-robin", "least-outstanding", "power-of-two"],
        capacity in proptest::option::of(0u32..20),
        timeout_ms in proptest::option::of(1u64..2000),
        max_batch in 1u32..8,
        max_wait_ms in 0u64..50,
        seed in 0u64..1000,
    ) {
        let max_wait_ms = if max_batch == 1 { 0 } else { max_wait_ms };
        let mut dispatch = format!("policy = \"{policy}\"");
        if let Some(c) = capacity { dispatch.push_str(&format!(", queue_capacity = {c}")); }
        if let Some(t) = timeout_ms { dispatch.push_str(&format!(", timeout = \"{t}ms\"")); }
        let text = format!(r#"
            version = 1
            seed = {seed}
            horizon = "3m"
            warmup = "30s"
            interval = "20s"
            [models.m]
            service.T4 = {{ kind = "batch-linear", base = "20ms", per_item = "5ms", max_batch = {max_batch}, max_wait = "{max_wait_ms}ms" }}
            [workloads.w]
            model = "m"
            arrival = {{ kind = "poisson", rate = {rate} }}
            dispatch = {{ {dispatch} }}
            slo = {{ p99 = "300ms" }}
            [pools.p]
            instance_type = "g4dn.xlarge"
            region = "us-east-1"
            replicas = {replicas}
        "#);
        let s = scenario::parse(&text, "prop.toml", root(), &[]).expect("valid");
        let r = experiment::run_seeded(&s, s.seed()).expect("runs");
        let t = &r.total;
        // A fleet overloaded beyond doubt stops early, with requests still in it.
        if r.stopped.is_some() {
            prop_assert!(t.backlog.overloaded || t.backlog.requests > 0.0);
            return Ok(());
        }
        prop_assert_eq!(crate::support::unaccounted(t), 0.0);
        if capacity.is_none() { prop_assert_eq!(t.get(Metric::Dropped), 0.0); }
        if timeout_ms.is_none() { prop_assert_eq!(t.get(Metric::TimedOut), 0.0); }
        prop_assert_eq!(r.series.len(), 9);
        for row in r.series.iter().chain(&r.workload_series[0]) {
            // Both percentiles come from the interval's completions: both or neither.
            prop_assert_eq!(row.p50_ms.is_nan(), row.completed == 0.0);
            prop_assert_eq!(row.p99_ms.is_nan(), row.completed == 0.0);
            prop_assert!(row.p50_ms.is_nan() || row.p50_ms <= row.p99_ms, "p50 {} > p99 {}", row.p50_ms, row.p99_ms);
        }
        let util = t.get(Metric::Utilization);
        prop_assert!((0.0..=1.0).contains(&util), "utilization {}", util);
        let attainment = t.get(Metric::SloAttainment);
        prop_assert!((0.0..=1.0).contains(&attainment));
        if let Some(tmo) = timeout_ms {
            let max = t.get(Metric::LatencyMax);
            prop_assert!(max.is_nan() || max <= tmo as f64 + 1e-9, "max {} > timeout {}", max, tmo);
        }
    }
}
