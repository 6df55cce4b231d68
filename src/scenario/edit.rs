//! Typed changes to a scenario: a value set at a dotted path, checked by validating again.
//!
//! `--set`, sweep axes and the optimizer's verification settings are all edits. An edit keeps
//! its value as TOML data, not text; [`Scenario::apply`] validates the scenario's own file text
//! with the edits merged in, so an edited scenario is as checked as a loaded one and its errors
//! name the edit.

use std::path::PathBuf;
use std::sync::Arc;

use super::source::Kind;
use super::{LoadError, Scenario};

/// One change: the value at a dotted path (`pools.gpu.replicas`), as `--set` makes it; a new
/// entry of a named section (`pools.gpu-tracking`), which `--set +KEY=VALUE` adds; or the removal
/// of a value or an entry, `--set -KEY`.
#[derive(Clone, Debug, PartialEq)]
pub struct Edit {
    pub path: String,
    pub value: toml::Value,
    /// The value as the user typed it, to name it as typed in messages.
    typed: Option<String>,
    /// Set, add (an entry that must not exist yet: a typo in a set must not add one) or remove
    /// (`value` unused).
    kind: Kind,
}

impl Edit {
    pub fn set(path: impl Into<String>, value: impl Into<toml::Value>) -> Edit {
        Edit {
            path: path.into(),
            value: value.into(),
            typed: None,
            kind: Kind::Set,
        }
    }

    /// Removes the value or the entry (a pool, a workload) at `path`.
    pub fn remove(path: impl Into<String>) -> Edit {
        Edit {
            kind: Kind::Remove,
            ..Edit::set(path, false)
        }
    }

    /// A new entry of `models`, `workloads` or `pools` at `path` (`pools.name`), its table
    /// `value`.
    pub fn add(path: impl Into<String>, value: impl Into<toml::Value>) -> Edit {
        Edit {
            kind: Kind::Add,
            ..Edit::set(path, value)
        }
    }

    /// `raw` as `--set` reads a value: TOML (`4`, `"spot"`, `{ p99 = "1s" }`), or else the
    /// text as a string (`spot`).
    pub fn of_text(path: &str, raw: &str) -> Edit {
        let raw = raw.trim();
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        Edit {
            typed: Some(raw.to_string()),
            ..Edit::set(path.trim(), value)
        }
    }

    /// `KEY=VALUE`, as `--set` takes it.
    /// `+KEY=VALUE` adds an entry (see [`Edit::add`]); `-KEY` removes one.
    pub fn parse(arg: &str) -> Result<Edit, String> {
        let (kind, arg) = Kind::of(arg.trim_start());
        if kind == Kind::Remove {
            return Ok(Edit::remove(arg.trim()));
        }
        let Some((key, value)) = arg.split_once('=') else {
            return Err("expected KEY=VALUE, e.g. --set pools.gpu.replicas=12".into());
        };
        Ok(Edit {
            kind,
            ..Edit::of_text(key, value)
        })
    }

    /// As `--set` would write it, the value as typed where it was (for messages, and for the
    /// validator's spans; a value that is not TOML reads back as the same string).
    pub fn to_arg(&self) -> String {
        let mark = self.kind.mark();
        match (self.kind, &self.typed) {
            (Kind::Remove, _) => format!("{mark}{}", self.path),
            (_, Some(t)) => format!("{mark}{}={t}", self.path),
            (_, None) => format!("{mark}{}={}", self.path, self.value),
        }
    }
}

/// What a validated scenario came from, so that it can be edited and validated again.
#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    pub(super) text: String,
    /// The name in messages (the file's path).
    pub(super) name: String,
    /// Where relative paths resolve from.
    pub(super) base: PathBuf,
    /// `--set` arguments and edits applied so far, in order.
    pub(super) edits: Vec<String>,
}

impl Scenario {
    /// This scenario with `edits` applied after the ones it already has, validated again from
    /// its file's text (no text is written). A scenario built in code, not loaded, has nothing to
    /// validate against and cannot be edited.
    pub fn apply(&self, edits: &[Edit]) -> Result<Scenario, LoadError> {
        let Some(o) = &self.origin else {
            return Err(LoadError::Invalid {
                diagnostics: vec![super::Diagnostic {
                    location: self.name.clone(),
                    message: "this scenario was built in code, not loaded: it cannot be edited"
                        .into(),
                    snippet: None,
                }],
            });
        };
        let mut all = o.edits.clone();
        all.extend(edits.iter().map(Edit::to_arg));
        let mut s = super::parse(&o.text, &o.name, &o.base, &all)?;
        s.path.clone_from(&self.path);
        Ok(s)
    }
}

/// Validates scenario `text` (named `name` in messages, relative paths from `base`) with
/// `edits` merged in, as [`super::parse`] does with `--set` arguments.
pub fn parse_edited(
    text: &str,
    name: &str,
    base: &std::path::Path,
    edits: &[Edit],
) -> Result<Scenario, LoadError> {
    let args: Vec<String> = edits.iter().map(Edit::to_arg).collect();
    super::parse(text, name, base, &args)
}

/// A dotted path of `keys`, each quoted where it is not bare (`pools."a.b".replicas`).
pub fn key_path(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| {
            if !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                k.to_string()
            } else {
                toml::Value::from(*k).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl Scenario {
    /// The table at `keys` in the file's text, before the edits: a part of the file for an edit
    /// to copy (a new pool like an existing one). `None` for a scenario built in code.
    pub fn table_in_file(&self, keys: &[&str]) -> Option<toml::Table> {
        let o = self.origin.as_deref()?;
        let mut t: toml::Table = toml::from_str(&o.text).ok()?;
        for k in keys {
            t = t.remove(*k)?.as_table()?.clone();
        }
        Some(t)
    }

    /// A diagnostic at the value of `keys` as the file and its edits give it: the `--set` that
    /// set it, else its line of the file (or the line of the deepest table of the path that
    /// the file has); for a scenario built in code, its name.
    pub fn diagnostic_at(&self, keys: &[&str], message: impl Into<String>) -> super::Diagnostic {
        let message = message.into();
        let located = self.origin.as_deref().and_then(|o| {
            let source = super::source::Source::new(&o.name, o.text.clone(), &o.edits).ok()?;
            let span = super::source::span_of(&source, keys);
            Some(source.diagnostic(span, message.clone()))
        });
        located.unwrap_or(super::Diagnostic {
            location: self.name.clone(),
            message,
            snippet: None,
        })
    }

    /// The edits applied since the file's text, as `--set` arguments.
    pub fn edits(&self) -> &[String] {
        self.origin.as_deref().map_or(&[], |o| &o.edits)
    }
}

pub(super) fn origin(
    text: &str,
    name: &str,
    base: &std::path::Path,
    edits: &[String],
) -> Arc<Origin> {
    Arc::new(Origin {
        text: text.to_string(),
        name: name.to_string(),
        base: base.to_path_buf(),
        edits: edits.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_toml_or_else_strings() {
        assert_eq!(Edit::of_text("a.b", "4").value, toml::Value::Integer(4));
        assert_eq!(
            Edit::of_text("a", " spot ").value,
            toml::Value::String("spot".into())
        );
        assert_eq!(
            Edit::of_text("a", "\"spot\"").value,
            toml::Value::String("spot".into())
        );
        assert!(Edit::of_text("a", "{ p99 = \"1s\" }").value.is_table());
        assert_eq!(Edit::parse("x.y=1s").unwrap().to_arg(), "x.y=1s");
        assert_eq!(Edit::set("x.y", "1s").to_arg(), "x.y=\"1s\"");
        assert!(Edit::parse("novalue").is_err());
    }

    #[test]
    fn an_applied_edit_is_validated_and_named() {
        let text = r#"
            version = 1
            horizon = "1h"
            [models.m]
            service.T4 = { kind = "exponential", mean = "50ms" }
            [workloads.w]
            model = "m"
            arrival = { kind = "poisson", rate = 3 }
            [pools.p]
            instance_type = "g4dn.xlarge"
            region = "us-east-1"
            replicas = 2
        "#;
        let s = super::super::parse(text, "e.toml", std::path::Path::new("."), &[]).unwrap();
        let t = s.apply(&[Edit::set("pools.p.replicas", 5)]).unwrap();
        assert_eq!(t.pools[0].replicas, 5);
        assert_eq!(t.edits(), ["pools.p.replicas=5"]);
        // Edits stack: the second sees the first.
        let u = t.apply(&[Edit::set("horizon", "2h")]).unwrap();
        assert_eq!((u.pools[0].replicas, u.horizon.as_secs_f64()), (5, 7200.0));
        let bad = s.apply(&[Edit::set("pools.p.replicas", -1)]).unwrap_err();
        assert!(
            bad.to_string().contains("--set pools.p.replicas=-1"),
            "{bad}"
        );
    }
}
