//! `headroom sweep` and `headroom merge` as processes.

use crate::support::headroom;

const AXES: [&str; 4] = [
    "--axis",
    "pools.l40s-spot.replicas=0,1,2,3",
    "--axis",
    "pools.l40s-ondemand.replicas=1,2,3",
];

fn sweep(extra: &[&str]) -> String {
    let out = headroom()
        .args([
            "sweep",
            "scenarios/chat-assistant.toml",
            "--set",
            "horizon=\"1h\"",
        ])
        .args(AXES)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Shards merged in any order give the whole sweep byte for byte, and the thread count does not
/// change a byte either.
#[test]
fn shards_merge_into_the_whole_sweep() {
    let whole = sweep(&["--threads", "2"]);
    assert_eq!(whole, sweep(&["--threads", "1"]));
    assert_eq!(whole.lines().count(), 1 + 12);
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for k in [3, 1, 2] {
        let path = dir.path().join(format!("s{k}.csv"));
        std::fs::write(&path, sweep(&["--shard", &format!("{k}/3")])).unwrap();
        files.push(path);
    }
    let out = headroom().arg("merge").args(&files).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), whole);
    // A missing shard is an error that says so.
    let out = headroom().arg("merge").args(&files[..2]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
}

/// The frontier: no marked point is beaten on both cost and p99 by another; every unmarked
/// point is.
#[test]
fn the_frontier_is_the_undominated_points() {
    let text = sweep(&[]);
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let h = r.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let (c, p, f) = (col("cost_per_hour"), col("p99_ms"), col("pareto"));
    let rows: Vec<(f64, f64, bool)> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[c].parse().unwrap(),
                rec[p].parse().unwrap(),
                &rec[f] == "true",
            )
        })
        .collect();
    assert!(rows.iter().any(|r| r.2) && rows.iter().any(|r| !r.2));
    for &(ci, pi, on) in &rows {
        let beaten = rows
            .iter()
            .any(|&(cj, pj, _)| cj <= ci && pj <= pi && (cj < ci || pj < pi));
        assert_eq!(on, !beaten, "({ci}, {pi})");
    }
}

/// A bad value names its point and the override; nothing runs.
#[test]
fn a_bad_axis_value_names_its_point() {
    let out = headroom()
        .args([
            "sweep",
            "scenarios/chat-assistant.toml",
            "--axis",
            "pools.l40s-spot.replicas=1,many",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("point 1 (pools.l40s-spot.replicas=many)"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = headroom()
        .args([
            "sweep",
            "scenarios/chat-assistant.toml",
            "--axis",
            "nonsense",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The Slurm script in docs/cluster, run outside Slurm (its tasks one after another), gives the
/// whole sweep.
#[test]
fn the_slurm_script_runs_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_headroom");
    let root = env!("CARGO_MANIFEST_DIR");
    let status = std::process::Command::new("bash")
        .arg(format!("{root}/docs/cluster/sweep-slurm.sh"))
        .current_dir(dir.path())
        .env("HEADROOM", bin)
        .env("SCENARIO", format!("{root}/scenarios/chat-assistant.toml"))
        .env("EXTRA", "--set horizon=\"20m\"")
        .env("SHARDS", "3")
        .env("OUT", "r")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .status()
        .unwrap();
    assert!(status.success());
    let merged = std::fs::read_to_string(dir.path().join("r/sweep.csv")).unwrap();
    let out = headroom()
        .args([
            "sweep",
            "scenarios/chat-assistant.toml",
            "--axis",
            "pools.l40s-spot.replicas=0,1,2,3,4",
            "--axis",
            "models.assistant-8b.service.L40S.max_batch=2,4,8,16",
            "--set",
            "horizon=\"20m\"",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), merged);
}

/// Shards whose last points are missing do not pass for a whole sweep.
#[test]
fn a_merge_without_the_last_shard_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for k in 1..=3 {
        let out = headroom()
            .args([
                "sweep",
                "scenarios/chat-assistant.toml",
                "--set",
                "horizon=\"20m\"",
            ])
            .args([
                "--axis",
                "pools.l40s-spot.replicas=0,1,2,3",
                "--shard",
                &format!("{k}/4"),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = dir.path().join(format!("q{k}.csv"));
        std::fs::write(&path, out.stdout).unwrap();
        files.push(path);
    }
    let out = headroom().arg("merge").args(&files).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("point 3 of 4 is missing"));
}
