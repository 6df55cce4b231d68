//! A plan as a scenario file: the user's file with the planned workload's pools replaced by the
//! plan's, everything else (comments, layout, other workloads, the `[optimize]` table) kept, so
//! the result can be reviewed as a diff, committed, simulated and optimized again.

use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

use crate::pricing::Market;

/// One pool of a plan: a candidate on one market, replicas by hour of day.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedPool {
    /// Index of the candidate in `[optimize]`.
    pub candidate: usize,
    pub market: Market,
    pub hours: [u32; 24],
    /// Spot only: reclaim at the Advisor bucket's rate during simulation.
    pub interruptions: bool,
    /// Dispatch weight (requests/s a replica sustains), when the plan mixes candidates.
    pub weight: Option<f64>,
}

impl PlannedPool {
    /// The pool's name in the written file, e.g. `h100-spot`.
    pub fn name(&self, candidates: &[String]) -> String {
        format!("{}-{}", candidates[self.candidate], self.market)
    }

    /// The name when the file has several workloads, e.g. `chat-h100-spot`, so plans for two
    /// workloads cannot overwrite each other's pools.
    pub fn name_in(&self, candidates: &[String], workload: Option<&str>) -> String {
        match workload {
            Some(w) => format!("{w}-{}", self.name(candidates)),
            None => self.name(candidates),
        }
    }
}

/// Why a plan could not be written into the file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot edit the scenario: {0}")]
    Toml(#[from] toml_edit::TomlError),
    #[error("the scenario has no [optimize.candidates.{0}] table")]
    NoCandidate(String),
    #[error("--set: {0}")]
    Override(String),
    #[error("`pools` is not a table of pools")]
    PoolsNotATable,
}

/// The scenario text of `original` with the pools of `workload` replaced by `pools`.
/// `candidates` are the candidate names in `[optimize]` order; `single_workload` says the file
/// has one workload (whose pools need not name it).
pub fn scenario_text(
    original: &str,
    overrides: &[String],
    workload: &str,
    single_workload: bool,
    candidates: &[String],
    pools: &[PlannedPool],
    note: &str,
) -> Result<String, WriteError> {
    let mut doc: DocumentMut = original.parse()?;
    let prefix = (!single_workload).then_some(workload);
    // The plan is for the scenario as run: `--set` values are written into the file.
    for o in overrides {
        let text = crate::scenario::source::override_doc(o).map_err(WriteError::Override)?;
        let set: DocumentMut = text.parse()?;
        merge(doc.as_table_mut(), set.as_table());
    }
    let templates: Vec<Table> = candidates
        .iter()
        .map(|name| {
            doc.get("optimize")
                .and_then(|o| o.get("candidates"))
                .and_then(|c| c.get(name))
                .and_then(as_table)
                .ok_or_else(|| WriteError::NoCandidate(name.clone()))
        })
        .collect::<Result<_, _>>()?;
    if !doc.contains_key("pools") {
        let mut t = Table::new();
        t.set_implicit(true);
        doc.insert("pools", Item::Table(t));
    }
    let Some(pools_table) = doc["pools"].as_table_like_mut() else {
        return Err(WriteError::PoolsNotATable);
    };
    let serving: Vec<String> = pools_table
        .iter()
        .filter(|(_, p)| {
            p.get("workload")
                .and_then(Item::as_str)
                .map_or(single_workload, |w| w == workload)
        })
        .map(|(k, _)| k.to_string())
        .collect();
    // The plan's pools go where the first replaced one was (else before `[optimize]`).
    let at = serving
        .iter()
        .filter_map(|k| {
            pools_table
                .get(k)
                .and_then(Item::as_table)
                .and_then(Table::position)
        })
        .min();
    for k in serving {
        pools_table.remove(&k);
    }
    for (i, p) in pools.iter().enumerate() {
        let mut t = templates[p.candidate].clone();
        t.set_implicit(false);
        t.decor_mut().clear();
        if i == 0 {
            t.decor_mut().set_prefix(format!("\n# {note}\n"));
        } else {
            t.decor_mut().set_prefix("\n");
        }
        if !single_workload {
            t.insert("workload", toml_edit::value(workload));
        }
        t.insert("market", toml_edit::value(p.market.as_str()));
        let first = p.hours[0];
        t.insert("replicas", toml_edit::value(i64::from(first)));
        if p.hours.iter().any(|&h| h != first) {
            let mut a = InlineTable::new();
            a.insert("policy", Value::from("schedule"));
            let hours: Array = p.hours.iter().map(|&h| i64::from(h)).collect();
            a.insert("hours", Value::Array(hours));
            t.insert("autoscale", Item::Value(Value::InlineTable(a)));
        }
        if let Some(w) = p.weight {
            t.insert("weight", toml_edit::value(w));
        }
        if p.market == Market::Spot && p.interruptions {
            t.insert(
                "interruptions",
                Item::Value(Value::InlineTable(InlineTable::new())),
            );
        }
        pools_table.insert(&p.name_in(candidates, prefix), Item::Table(t));
    }
    let at = at
        .or_else(|| {
            doc.get("optimize")
                .and_then(Item::as_table)
                .and_then(Table::position)
        })
        .unwrap_or(isize::MAX / 2);
    let names: Vec<String> = pools
        .iter()
        .map(|p| p.name_in(candidates, prefix))
        .collect();
    shift(doc.as_table_mut(), at, names.len() as isize, &names);
    if let Some(pools_table) = doc["pools"].as_table_like_mut() {
        for (i, n) in names.iter().enumerate() {
            if let Some(t) = pools_table.get_mut(n).and_then(Item::as_table_mut) {
                t.set_position(Some(at + i as isize));
            }
        }
    }
    Ok(doc.to_string())
}

/// Moves every table at or after document position `from` down by `by`, except the new pools.
fn shift(table: &mut Table, from: isize, by: isize, new: &[String]) {
    for (k, item) in table.iter_mut() {
        if new.iter().any(|n| n == k.get()) {
            continue;
        }
        match item {
            Item::Table(t) => {
                if let Some(p) = t.position()
                    && p >= from
                {
                    t.set_position(Some(p + by));
                }
                shift(t, from, by, new);
            }
            Item::ArrayOfTables(a) => {
                for t in a.iter_mut() {
                    if let Some(p) = t.position()
                        && p >= from
                    {
                        t.set_position(Some(p + by));
                    }
                    shift(t, from, by, new);
                }
            }
            _ => {}
        }
    }
}

/// `text` (a scenario written for `from`) with its relative file paths (the price catalog,
/// replayed traces, measured iteration tables) rewritten to resolve the same from `to`, for a
/// plan written into another folder.
pub fn relocate(text: &str, from: &Path, to: &Path) -> Result<String, WriteError> {
    let mut doc: DocumentMut = text.parse()?;
    let (Ok(from), Ok(to)) = (from.canonicalize(), to.canonicalize()) else {
        return Ok(text.to_string());
    };
    let fix = |v: &mut Value| {
        if let Some(p) = v.as_str()
            && Path::new(p).is_relative()
        {
            let target = from.join(p);
            let target = target.canonicalize().unwrap_or(target);
            let decor = v.decor().clone();
            *v = Value::from(relative(&target, &to).to_string_lossy().into_owned());
            *v.decor_mut() = decor;
        }
    };
    if let Some(v) = doc
        .get_mut("pricing")
        .and_then(|p| p.get_mut("catalog"))
        .and_then(Item::as_value_mut)
    {
        fix(v);
    }
    if let Some(w) = doc.get_mut("workloads").and_then(Item::as_table_like_mut) {
        for (_, w) in w.iter_mut() {
            if let Some(v) = w
                .get_mut("arrival")
                .and_then(|a| a.get_mut("path"))
                .and_then(Item::as_value_mut)
            {
                fix(v);
            }
        }
    }
    if let Some(m) = doc.get_mut("models").and_then(Item::as_table_like_mut) {
        for (_, m) in m.iter_mut() {
            if let Some(a) = m.get_mut("iteration_tables").and_then(Item::as_array_mut) {
                a.iter_mut().for_each(fix);
            }
        }
    }
    Ok(doc.to_string())
}

/// `target` as a path relative to the folder `from` (both absolute).
fn relative(target: &Path, from: &Path) -> PathBuf {
    let (t, f): (Vec<_>, Vec<_>) = (target.components().collect(), from.components().collect());
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

/// Sets every value of `src` in `dst`, tables merged key by key.
fn merge(dst: &mut dyn toml_edit::TableLike, src: &dyn toml_edit::TableLike) {
    for (k, item) in src.iter() {
        match (
            dst.get_mut(k).and_then(Item::as_table_like_mut),
            item.as_table_like(),
        ) {
            (Some(d), Some(s)) => merge(d, s),
            _ => {
                dst.insert(k, item.clone());
            }
        }
    }
}

/// A candidate written as `[optimize.candidates.x]` or inline, as a table.
fn as_table(item: &Item) -> Option<Table> {
    match item {
        Item::Table(t) => Some(t.clone()),
        Item::Value(Value::InlineTable(t)) => Some(t.clone().into_table()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_follow_the_file() {
        assert_eq!(
            relative(Path::new("/a/b/traces/t.csv"), Path::new("/a/c")),
            PathBuf::from("../b/traces/t.csv")
        );
        assert_eq!(
            relative(Path::new("/a/b/t.csv"), Path::new("/a/b")),
            PathBuf::from("t.csv")
        );
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("src"), dir.path().join("out/deep"));
        std::fs::create_dir_all(src.join("traces")).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        std::fs::write(src.join("traces/t.csv"), "t\n").unwrap();
        let text =
            "[workloads.w]\narrival = { kind = \"trace\", path = \"traces/t.csv\" } # mine\n";
        let out = relocate(text, &src, &dst).unwrap();
        assert!(
            out.contains("path = \"../../src/traces/t.csv\" } # mine"),
            "{out}"
        );
    }

    const FILE: &str = r#"# my service
version = 1
horizon = "1h"

[models.m]
service.L40S = { kind = "exponential", mean = "100ms" }

[workloads.w]  # the one workload
model = "m"
arrival = { kind = "poisson", rate = 10 }
slo = { p99 = "1s" }

# today's fleet
[pools.old]
instance_type = "g6e.xlarge"
replicas = 4

[optimize]
candidates.l40s = { instance_type = "g6e.xlarge", region = "us-east-1" }
"#;

    #[test]
    fn replaces_the_pools_and_keeps_the_rest() {
        let mut hours = [2; 24];
        hours[12] = 5;
        let pools = [
            PlannedPool {
                candidate: 0,
                market: Market::Reserved,
                hours: [1; 24],
                interruptions: false,
                weight: None,
            },
            PlannedPool {
                candidate: 0,
                market: Market::Spot,
                hours,
                interruptions: true,
                weight: Some(7.25),
            },
        ];
        let set = [
            "pools.old.replicas=5".to_string(),
            "optimize.headroom=0.2".to_string(),
        ];
        let out =
            scenario_text(FILE, &set, "w", true, &["l40s".into()], &pools, "planned").unwrap();
        assert!(out.contains("headroom = 0.2"), "{out}");
        assert!(out.starts_with("# my service\n"), "{out}");
        assert!(out.contains("[workloads.w]  # the one workload"), "{out}");
        assert!(!out.contains("[pools.old]"), "{out}");
        assert!(out.contains("[pools.l40s-reserved]"), "{out}");
        assert!(out.contains("market = \"spot\""), "{out}");
        assert!(
            out.contains("hours = [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 5, 2"),
            "{out}"
        );
        assert!(out.contains("interruptions = {}"), "{out}");
        assert!(out.contains("weight = 7.25"), "{out}");
        assert!(out.contains("candidates.l40s"), "{out}");
        // The plan's pools stand where today's did, before [optimize].
        let (res, opt) = (
            out.find("[pools.l40s-reserved]").unwrap(),
            out.find("[optimize]").unwrap(),
        );
        assert!(res < opt, "{out}");
        assert!(out.find("[pools.l40s-spot]").unwrap() < opt, "{out}");
        crate::scenario::parse(&out, "planned.toml", std::path::Path::new("."), &[])
            .expect("the written plan is a valid scenario");
    }
}
