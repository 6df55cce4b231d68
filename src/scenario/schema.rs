//! The JSON Schema of a scenario file, generated from the very types the loader reads (`raw`),
//! so editors that check TOML against a schema (Taplo: VS Code's Even Better TOML, Helix, Zed)
//! complete and check what `headroom validate` accepts. Checks that need the whole scenario
//! (a workload's model exists, a duration's limit) stay with `validate`.

use schemars::generate::SchemaSettings;

use super::raw;

/// Where the schema is published beside the bundled scenarios.
pub const FILE_NAME: &str = "scenario.schema.json";

/// The schema, draft 2020-12.
pub fn json() -> serde_json::Value {
    let mut schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<raw::Top>();
    schema.insert("title".into(), "headroom scenario".into());
    schema.insert(
        "description".into(),
        format!(
            "A headroom scenario file (format version 1), as headroom {} reads it; `headroom validate` checks the rest.",
            env!("CARGO_PKG_VERSION")
        )
        .into(),
    );
    schema.to_value()
}

/// The schema as the file `headroom schema` writes: pretty, with a final newline.
pub fn text() -> String {
    let mut text = serde_json::to_string_pretty(&json()).expect("a schema serializes");
    text.push('\n');
    text
}
