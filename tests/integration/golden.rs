//! Golden files: the JSON summary of a fixed-seed scenario, and the rendered error messages of
//! every invalid scenario. Review changes with `cargo insta review`.

use crate::support::{fixture, headroom};

#[test]
fn tiny_json_summary() {
    let out = headroom()
        .args([
            "simulate",
            "tests/fixtures/valid/tiny.toml",
            "-f",
            "json",
            "-n",
            "2",
        ])
        .output()
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let obj = v.as_object_mut().unwrap();
    obj.remove("run");
    obj.remove("timeseries");
    for w in obj["workloads"].as_array_mut().unwrap() {
        w.as_object_mut().unwrap().remove("timeseries");
    }
    insta::assert_json_snapshot!("tiny", v);
}

#[test]
fn invalid_scenario_messages() {
    let mut files: Vec<_> = std::fs::read_dir(fixture("invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 7);
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let rel = format!("tests/fixtures/invalid/{name}.toml");
        let out = headroom().args(["validate", &rel]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        let text = String::from_utf8(out.stderr)
            .unwrap()
            .replace("(os error 2)", "(os error)");
        insta::assert_snapshot!(format!("invalid-{name}"), text);
    }
}
