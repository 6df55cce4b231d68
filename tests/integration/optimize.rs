//! `headroom optimize`: the plan of optimize-chat.toml, verified again on fresh seeds; the
//! written scenario; errors; and the capacity cache.

use headroom::experiment::replicate;
use headroom::optimize::cache::CapacityCache;
use headroom::optimize::capacity::{Curve, CurveKey, CurveStore};
use headroom::optimize::planner::{Planner, Step};

use crate::support::{headroom, load, root};

/// The cache on disk, counting the curves put into it.
struct Counting {
    cache: CapacityCache,
    puts: usize,
}

impl CurveStore for Counting {
    fn get(&self, key: &CurveKey) -> Option<Curve> {
        self.cache.get(key)
    }
    fn put(&mut self, key: &CurveKey, curve: &Curve) {
        self.puts += 1;
        self.cache.put(key, curve);
    }
}

/// The verified plan of `optimize-chat.toml` meets its SLO in 10 replications whose seeds the
/// optimizer never used (capacity trials use salted seeds, verification the scenario's seed and
/// its derived replications; these derive from another master seed).
#[test]
fn the_verified_plan_meets_its_slo_on_fresh_seeds() {
    let cache = tempfile::tempdir().unwrap();
    let scenario = load("optimize-chat.toml", &[]);
    let text = std::fs::read_to_string(scenario.path().as_ref().unwrap()).unwrap();
    let planner = Planner::new(&scenario, &text, &[]).unwrap();
    let mut store = Counting {
        cache: CapacityCache::at(Some(cache.path().to_path_buf())),
        puts: 0,
    };
    let mut steps = Vec::new();
    let outcome = planner
        .run(&mut store, &mut |step| {
            steps.push(match step {
                Step::Demand { .. } => "demand",
                Step::Measuring { .. } => "measuring",
                Step::Capacity(_) => "capacity",
                Step::Bought { .. } => "bought",
                Step::Verified { .. } => "verified",
                Step::Tightened(_) => "tightened",
            })
        })
        .unwrap();
    assert!(outcome.passed, "{:?}", outcome.rounds);
    // The steps in order: one curve per candidate, then a purchase and its verification per
    // round, tightening between rounds.
    let rounds = outcome.rounds.len();
    assert_eq!(
        steps[..6],
        [
            "demand",
            "measuring",
            "capacity",
            "capacity",
            "capacity",
            "capacity"
        ]
    );
    assert_eq!(steps.iter().filter(|s| **s == "verified").count(), rounds);
    assert_eq!(steps.last(), Some(&"verified"));
    let plan = &outcome.verified_scenario;
    let fresh = 0x5EED_F00D_u64;
    assert_ne!(fresh, scenario.seed());
    let runs = replicate(plan, fresh, 10, None).unwrap();
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.workloads[0].slo_met, Some(true), "replication {i}");
    }
    // The plan buys what it says: the purchase model's cost is within 10 % of the simulated one
    // (which adds provisioning of scheduled replicas).
    let round = outcome.rounds.last().unwrap();
    let ratio = round.simulated_cost_per_day / round.planned_cost_per_day;
    assert!((0.95..1.10).contains(&ratio), "{ratio}");
    // It beats both baselines.
    assert_eq!(outcome.baselines.len(), 2);
    for b in &outcome.baselines {
        assert!(outcome.plan.cost < b.cost_per_day, "{b:?}");
    }
    // A second run reads every capacity curve from the cache and finds the same plan.
    assert_eq!(
        store.puts, 4,
        "one curve per candidate (they serve differently)"
    );
    let again = planner.run(&mut store, &mut |_| {}).unwrap();
    assert_eq!(store.puts, 4, "nothing measured again");
    assert_eq!(again.scenario_text, outcome.scenario_text);
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 4);
}

/// An LLM workload on 8-GPU instances (support-bot: Llama 3.1 70B, tensor parallel 4, TTFT
/// and TPOT SLOs) is planned by its own SLO kinds: the plan buys spot where it is allowed and
/// cheaper, lands within 5 % of its proven bound, which lies between the LP's and the plan's
/// cost, prices demand at a cost (never a saving), and verifies by TTFT and TPOT.
#[test]
fn an_llm_plan_on_large_instances_buys_spot_near_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let out = headroom()
        .env("HEADROOM_CACHE", dir.path())
        .args(["optimize", "scenarios/support-bot.toml", "-f", "json"])
        .args(["--no-tracking", "--set", "optimize.capacity.horizon=5m"])
        .args(["--set", "optimize.capacity.pool_sizes=[1,2,4]"])
        .args(["--set", "optimize.verify.horizon=12h"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], true, "{v}");
    let markets: Vec<&str> = v["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["market"].as_str().unwrap())
        .collect();
    assert!(markets.contains(&"spot"), "{markets:?}");
    let f = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k}"));
    assert!(f("gap") < 0.05, "gap {}", f("gap"));
    assert!(f("lp_bound_per_day") <= f("bound_per_day") + 1e-6);
    assert!(f("bound_per_day") <= f("cost_per_day") + 1e-6);
    for b in v["binding"].as_array().unwrap() {
        let (name, price) = (
            b["constraint"].as_str().unwrap(),
            b["shadow_price"].as_f64(),
        );
        let price = price.unwrap();
        if name.starts_with("demand") || name.starts_with("spare") {
            assert!(price >= 0.0, "{b}");
        } else {
            assert!(price <= 0.0, "{b}");
        }
    }
    let last = &v["rounds"].as_array().unwrap().last().unwrap()["latency"];
    assert_eq!(last["slo_ttft_p99_ms"], 2000.0);
    assert_eq!(last["slo_tpot_p99_ms"], 100.0);
    assert!(last["ttft_p99_ms"].as_f64().unwrap() <= 2000.0, "{last}");
    assert!(last["tpot_p99_ms"].as_f64().unwrap() <= 100.0, "{last}");
}

/// The command writes a scenario that keeps the file's comments and simulates; its report does
/// not depend on the thread count.
#[test]
fn the_written_plan_is_a_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    // Each run measures capacity afresh (its own cache folder), so the thread count is tested
    // on the whole pipeline.
    let run = |threads: &str| {
        let out = headroom()
            .current_dir(root())
            .env(
                "HEADROOM_CACHE",
                dir.path().join(format!("cache-{threads}")),
            )
            .args([
                "optimize",
                "scenarios/optimize-chat.toml",
                "-f",
                "json",
                "--no-tracking",
            ])
            .args(["--threads", threads, "--write-scenario"])
            .arg(&plan)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json = run("2");
    assert_eq!(json, run("1"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["passed"], true);
    assert!(v["cost_per_day"].as_f64().unwrap() > 0.0);
    assert_eq!(
        v["pools"][0]["replicas_by_hour"].as_array().unwrap().len(),
        24
    );
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(text.contains("# Which fleet should serve the chat assistant"));
    assert!(text.contains("Pools planned by `headroom optimize`"));
    assert!(!text.contains("[pools.today]"));
    let out = headroom()
        .args(["simulate", "--set", "horizon=\"1d\"", "-f", "json"])
        .arg(&plan)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A budget no plan meets is a failed check (exit 1) that says why, not an error.
#[test]
fn an_impossible_budget_is_a_failed_check() {
    let dir = tempfile::tempdir().unwrap();
    let out = headroom()
        .current_dir(root())
        .env("HEADROOM_CACHE", dir.path())
        .args([
            "optimize",
            "scenarios/optimize-chat.toml",
            "--set",
            "optimize.budget_per_day=50",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no plan: ") && err.contains("over the budget $50.00"),
        "{err}"
    );
}

/// Bad input: no [optimize] table, and a candidate that sets what the optimizer chooses.
#[test]
fn bad_optimize_tables_are_errors() {
    let out = headroom()
        .current_dir(root())
        .args(["optimize", "scenarios/mmc.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no [optimize] table"));
    let out = headroom()
        .current_dir(root())
        .args([
            "optimize",
            "scenarios/optimize-chat.toml",
            "--set",
            "optimize.candidates.l40s.replicas=3",
            "--set",
            "optimize.spot_share=1.5",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a candidate does not set `replicas`"), "{err}");
    assert!(err.contains("`spot_share` must be from 0 to 1"), "{err}");
}
