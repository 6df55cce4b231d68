//! The scenario JSON Schema (`headroom schema`) agrees with the loader: every shipped scenario
//! is valid under it, and it refuses the mistakes an editor should catch, as the loader does.
//!
//! Built only with the feature `schema-check` (`cargo test --release --features schema-check
//! --test schema`, which CI runs): the validator, jsonschema with its regular-expression engines,
//! is about 100 s of CPU to build, more than half of what the README's test command would
//! otherwise spend building its dependencies.

use std::path::Path;

use headroom::scenario::schema;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema::json()).expect("the schema is a valid JSON Schema")
}

/// A TOML text as the JSON value an editor checks.
fn as_json(text: &str) -> serde_json::Value {
    let value: toml::Value = toml::from_str(text).expect("TOML");
    serde_json::to_value(value).unwrap()
}

#[test]
fn every_shipped_scenario_is_valid_under_the_schema() {
    let v = validator();
    let mut checked = 0;
    for (name, text) in headroom::bundled::SCENARIOS {
        let errors: Vec<String> = v
            .iter_errors(&as_json(text))
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        checked += 1;
    }
    assert!(checked >= 16);
}

#[test]
fn the_schema_catches_what_an_editor_should() {
    let v = validator();
    let text = headroom::bundled::scenario("chat-assistant.toml").unwrap();
    for (mistake, from, to) in [
        ("a misspelt key", "replicas = 3", "replcias = 3"),
        ("a string for a number", "replicas = 3", "replicas = \"3\""),
        (
            "a duration without a unit",
            "horizon = \"24h\"",
            "horizon = \"24\"",
        ),
        ("an unknown top-level key", "seed = 42", "sed = 42"),
        (
            "a misspelt SLO",
            "slo = { p99 = \"1.5s\" }",
            "slo = { p99x = \"1.5s\" }",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        let bad = as_json(&text.replacen(from, to, 1));
        assert!(!v.is_valid(&bad), "the schema accepts {mistake}");
        // The loader refuses it too.
        let loaded = headroom::scenario::parse(
            &text.replacen(from, to, 1),
            "bad.toml",
            &root().join("scenarios"),
            &[],
        );
        assert!(loaded.is_err(), "the loader accepts {mistake}");
    }
}
