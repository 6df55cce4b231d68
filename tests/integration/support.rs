//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

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

/// The NVML stand-in built from `tests/fixtures/nvml_stub.c`, compiled with gcc once per test
/// process. It is built under a name of this process's own and renamed into place, so test
/// processes running at once never load a half-written file.
pub fn nvml_stub() -> PathBuf {
    static STUB: OnceLock<PathBuf> = OnceLock::new();
    STUB.get_or_init(|| build_stub("libnvidia-ml-stub", &[]))
        .clone()
}

/// The stub without the optional CUDA-version symbol.
pub fn nvml_stub_without_cuda() -> PathBuf {
    static STUB: OnceLock<PathBuf> = OnceLock::new();
    STUB.get_or_init(|| build_stub("libnvidia-ml-stub-nocuda", &["-DNO_CUDA_VERSION"]))
        .clone()
}

fn build_stub(name: &str, defines: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let lib = dir.join(format!("{name}.so"));
    let building = dir.join(format!("{name}.{}.so", std::process::id()));
    let status = Command::new("gcc")
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror"])
        .args(defines)
        .arg("-o")
        .arg(&building)
        .arg(fixture("nvml_stub.c"))
        .status()
        .unwrap_or_else(|e| panic!("the NVML stub needs gcc to build: {e}"));
    assert!(status.success(), "gcc failed on tests/fixtures/nvml_stub.c");
    std::fs::rename(&building, &lib).expect("stub library moved into place");
    lib
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
    let runs = replicate(s, s.seed(), replications, None).expect("runs");
    Summary::of(s, s.seed(), &runs)
}

/// The `headroom` binary.
pub fn headroom() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("headroom").expect("binary built");
    cmd.current_dir(root());
    cmd
}

/// Runs `cmd`, which must succeed (its standard error otherwise), and returns its output.
pub fn succeeds(cmd: &mut assert_cmd::Command) -> Vec<u8> {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
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
