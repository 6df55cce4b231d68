//! The hostile inputs of `tests/fixtures/hostile/`: each one is refused at once with exit 2 at
//! the field to blame, or runs in bounded time and memory and says what it did.

use std::time::{Duration, Instant};

use crate::support::headroom;

/// Each file, the line of the field its error must point at, and words the message must have.
const REFUSED: &[(&str, u32, &str)] = &[
    ("arrival-rate-3e9.toml", 21, "`rate` is at most 1e6"),
    ("rate-1e308.toml", 21, "`burst_rate` is at most 1e6"),
    (
        "replicas-billion.toml",
        17,
        "replicas must be a whole number from 0 to 100000",
    ),
    ("horizon-1000d.toml", 3, "this run is too large"),
    ("batch-100m.toml", 21, "a batch of 100000000 requests"),
    ("autoscale-every-1ns.toml", 18, "`interval` is at least 1s"),
    ("checkpoint-1e25.toml", 63, "an interval is at least 1 s"),
];

#[test]
fn hostile_scenarios_are_refused_at_their_field_in_under_two_seconds() {
    for (file, line, words) in REFUSED {
        let path = format!("tests/fixtures/hostile/{file}");
        for command in ["validate", "simulate"] {
            let began = Instant::now();
            let out = headroom()
                .args([command, &path])
                .timeout(Duration::from_secs(20))
                .output()
                .expect("runs");
            let took = began.elapsed();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {file}: {err}");
            assert!(
                err.contains(&format!("{path}:{line}:")) && err.contains(words),
                "{command} {file}: expected line {line} and {words:?} in\n{err}"
            );
            assert!(!err.contains("panicked"), "{err}");
            assert!(
                took < Duration::from_secs(2),
                "{command} {file} took {took:?}"
            );
        }
    }
}

#[test]
fn a_large_run_allowed_says_where_it_is_without_a_terminal() {
    // A day at a rate the budget refuses; allowed, the backlog limit stops it after minutes.
    let path = "tests/fixtures/hostile/overload-3x.toml";
    let set = [
        "--set",
        "workloads.requests.arrival.rate=20000",
        "--set",
        "warmup=0s",
    ];
    let refused = headroom()
        .args(["simulate", path])
        .args(set)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-large"));
    let out = headroom()
        .args(["simulate", path, "--allow-large", "-f", "json"])
        .args(set)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stopped"]["reason"], "backlog", "{}", v["stopped"]);
    assert_eq!(v["stability"]["stable"], false);
    let at = v["stopped"]["at_s"].as_f64().unwrap();
    assert!(at > 60.0 && at < 3600.0, "stopped at {at} s");
    // Without a terminal, progress is a line on standard error now and then; this run may be
    // too quick for one, so only its form is checked where there is one.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.lines().all(|l| l.starts_with("simulating: ")), "{err}");
}

#[test]
fn an_overloaded_fleet_is_called_overloaded_and_fails_its_slo() {
    let out = headroom()
        .args([
            "simulate",
            "tests/fixtures/hostile/overload-3x.toml",
            "-f",
            "json",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let st = &v["workloads"][0]["stability"];
    assert_eq!(st["stable"], false);
    assert_eq!(st["offered_over_capacity"], true);
    // Offered 24/s to 8 servers of 1/s, about 16/s are left: the run stops once they are more
    // than the fleet serves in the day (8/s x 86,400 s), about half way.
    assert_eq!(v["stopped"]["reason"], "overloaded");
    let at = v["stopped"]["at_s"].as_f64().unwrap();
    assert!((10.0 * 3600.0..15.0 * 3600.0).contains(&at), "{at}");
    let backlog = st["backlog_at_end"].as_f64().unwrap();
    assert!((6.9e5..7.5e5).contains(&backlog), "{backlog}");
    // What was served in the window, not the drain divided by the window.
    let served = v["throughput_rps"].as_f64().unwrap();
    assert!((7.9..8.05).contains(&served), "{served}");
    let table = headroom()
        .args(["simulate", "tests/fixtures/hostile/overload-3x.toml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("OVERLOADED \"requests\": offered 23.9") && text.contains("served 8.0"),
        "{text}"
    );
}

#[test]
fn ctrl_c_ends_a_run_with_a_partial_report_and_exit_130() {
    let bin = assert_cmd::cargo::cargo_bin("headroom");
    let child = std::process::Command::new(bin)
        .current_dir(crate::support::root())
        .args([
            "simulate",
            "tests/fixtures/hostile/horizon-1000d.toml",
            "--allow-large",
            "-f",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let began = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "it stopped promptly"
    );
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stopped"]["reason"], "interrupted");
    let at = v["stopped"]["at_s"].as_f64().unwrap();
    assert!(at > 0.0 && at < 1000.0 * 86_400.0, "{at}");
}
