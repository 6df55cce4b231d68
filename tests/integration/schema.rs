//! The scenario JSON Schema (`headroom schema`): published beside the scenarios and up to date.
//! That it agrees with the loader on every shipped scenario and on typical mistakes is checked by
//! `tests/schema` (feature `schema-check`, which builds a JSON Schema validator).

use headroom::scenario::schema;

use crate::support::root;

#[test]
fn the_published_schema_is_the_generated_one() {
    let path = root().join("scenarios").join(schema::FILE_NAME);
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == schema::text(),
        "{} is stale: run `headroom schema -o scenarios/{}`",
        path.display(),
        schema::FILE_NAME
    );
}
