//! The layers of ARCHITECTURE.md, enforced: a module of `src/` names only modules of its own
//! layer or lower ones (`crate::x` anywhere in its text, `use` or not), and the front ends never
//! name the simulator: they go through `experiment`, `optimize` and `report`.

use std::path::Path;

/// Lowest first, as ARCHITECTURE.md lists them.
const LAYERS: &[&[&str]] = &[
    &["units", "rng", "atomic_file", "data_file", "bundled"],
    &[
        "pricing", "fleet", "workload", "llm", "training", "costs", "profile", "scenario",
    ],
    &["sim", "calibrate"],
    &["experiment"],
    &["optimize", "sweep"],
    &["report"],
    &["cli", "tui"],
];

/// Modules the front ends must not name.
const HIDDEN_FROM_FRONT_ENDS: &[&str] = &["sim"];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every `.rs` file under `dir`, with the top-level module it belongs to.
fn sources(dir: &Path, top: Option<&str>, out: &mut Vec<(String, String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        let module = top.map_or_else(|| stem.clone(), str::to_string);
        if p.is_dir() {
            sources(&p, Some(&module), out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            out.push((module, p.display().to_string(), text));
        }
    }
}

/// The top-level modules `text` names as `crate::module`.
fn named(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .match_indices("crate::")
        .filter(|(i, _)| {
            // Not `my_crate::` nor `x::crate::`.
            *i == 0 || {
                let b = text.as_bytes()[i - 1];
                !b.is_ascii_alphanumeric() && b != b'_' && b != b':'
            }
        })
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .filter(|m: &String| !m.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn modules_name_only_their_layer_and_lower_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, None, &mut files);
    assert!(files.len() > 100, "found the sources");
    let mut wrong = Vec::new();
    for (module, path, text) in &files {
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = layer(module) else {
            wrong.push(format!(
                "{path}: module `{module}` is in no layer: add it to LAYERS and ARCHITECTURE.md"
            ));
            continue;
        };
        for m in named(text) {
            match layer(&m) {
                None => wrong.push(format!("{path}: names `crate::{m}`, in no layer")),
                Some(l) if l > own => {
                    wrong.push(format!("{path}: `{module}` names higher `crate::{m}`"))
                }
                _ if own == LAYERS.len() - 1 && HIDDEN_FROM_FRONT_ENDS.contains(&m.as_str()) => {
                    wrong.push(format!(
                        "{path}: a front end names `crate::{m}`: go through experiment, optimize or report"
                    ))
                }
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_rule_sees_a_broken_layer() {
    assert_eq!(
        named("use crate::sim::Metric; x::crate::y; crate::tui"),
        ["sim", "tui"]
    );
    assert!(layer("sim") > layer("scenario") && layer("cli") > layer("report"));
}

/// What names a price: the engines record usage, and `experiment::costing` prices it.
fn reads_a_price(text: &str) -> bool {
    ["price_usd", "usd_per", "price_per"]
        .iter()
        .any(|p| text.contains(p))
}

#[test]
fn the_engines_read_no_price() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, None, &mut files);
    let priced: Vec<&String> = files
        .iter()
        .filter(|(module, _, text)| module == "sim" && reads_a_price(text))
        .map(|(_, path, _)| path)
        .collect();
    assert!(
        priced.is_empty(),
        "the simulator reads a price (price usage in experiment::costing instead): {priced:?}"
    );
    assert!(reads_a_price("pool.price_usd_per_hour") && !reads_a_price("instance_hours"));
}
