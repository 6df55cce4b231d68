//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use headroom::experiment::{Summary, replicate};
use headroom::scenario::{self, Scenario};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn scenario_path(name: &str) -> PathBuf {
    root().join("scenarios").join(name)
}

pub fn fixture(path: &str) -> PathBuf {
    root().join("tests/fixtures").join(path)
}

/// A bundled scenario with `--set` style overrides.
pub fn load(name: &str, overrides: &[&str]) -> Scenario {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    scenario::load(&scenario_path(name), &overrides).unwrap_or_else(|e| panic!("{name} loads: {e}"))
}

/// Scenario text validated as if it were a file in `scenarios/`.
pub fn parse(text: &str) -> Scenario {
    scenario::parse(text, "inline.toml", &root().join("scenarios"), &[])
        .unwrap_or_else(|e| panic!("inline scenario loads: {e}"))
}

/// Runs `replications` replications under the scenario's seed.
pub fn summarise(s: &Scenario, replications: u32) -> Summary {
    let runs = replicate(s, s.seed, replications, None).expect("runs");
    Summary::of(s, s.seed, &runs)
}

/// The `headroom` binary.
pub fn headroom() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("headroom").expect("binary built");
    cmd.current_dir(root());
    cmd
}

pub fn within(actual: f64, expected: f64, tolerance: f64) -> bool {
    ((actual - expected) / expected).abs() <= tolerance
}

/// Requests that arrived but neither completed, were dropped nor timed out: zero in every run
/// (arrived = completed + dropped + timed out).
pub fn unaccounted(t: &headroom::sim::Stats) -> f64 {
    use headroom::sim::Metric;
    t.get(Metric::Arrived)
        - (t.get(Metric::Completed) + t.get(Metric::Dropped) + t.get(Metric::TimedOut))
}
