//! The scenario file being edited: its text, the text on disk, and the edits between them.
//!
//! Every edit is a change of one value (or the whole text, when a plan is adopted) made with
//! toml_edit on the file's own text, so comments, order and layout survive, and the saved file
//! reviews as a small diff. An edit is kept only if the result still loads as a scenario; undo
//! and redo move between whole texts, so they can never produce a file no edit produced.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Value};

use crate::scenario::{self, LoadError, Scenario};

/// One step of the history: the text before and after, and what the user did.
#[derive(Clone, Debug, PartialEq)]
struct Step {
    label: String,
    before: String,
    after: String,
}

/// A line of the diff between the saved and the edited text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffLine {
    Same(String),
    Removed(String),
    Added(String),
    /// Unchanged lines left out between hunks.
    Gap(usize),
}

/// Why an edit was refused.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{0}")]
    Path(String),
    #[error("{0}")]
    Toml(#[from] toml_edit::TomlError),
    #[error(transparent)]
    Invalid(#[from] LoadError),
}

/// The scenario file and its edit history.
#[derive(Debug)]
pub struct Document {
    pub path: PathBuf,
    /// The text as last read from or written to disk.
    saved: String,
    text: String,
    undo: Vec<Step>,
    redo: Vec<Step>,
    /// Bumped on every change of `text`, so results can say which text they are of.
    revision: u64,
    /// The text is a bundled scenario not yet saved at `path`.
    pub bundled: bool,
}

impl Document {
    /// Reads and validates the file.
    pub fn open(path: &Path) -> Result<(Document, Scenario), LoadError> {
        let text = scenario::read_text(path)?;
        let doc = Document::from_text(path, text);
        let scenario = doc.load(doc.text())?;
        Ok((doc, scenario))
    }

    /// A document for `text`, said to live at `path` (nothing is read).
    pub fn from_text(path: &Path, text: String) -> Document {
        Document {
            path: path.to_path_buf(),
            saved: text.clone(),
            text,
            undo: Vec::new(),
            redo: Vec::new(),
            revision: 0,
            bundled: false,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn saved_text(&self) -> &str {
        &self.saved
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Whether the text differs from the file on disk.
    pub fn dirty(&self) -> bool {
        self.text != self.saved
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Validates `text` as this file would be.
    pub fn load(&self, text: &str) -> Result<Scenario, LoadError> {
        let base = self.path.parent().unwrap_or(Path::new("."));
        Ok(
            scenario::parse(text, &self.path.display().to_string(), base, &[])?
                .at_path(self.path.clone()),
        )
    }

    /// Sets the value at the dotted `path` (as `--set` writes it) to `value`, a TOML value or a
    /// bare string, keeping the old value's comments. Returns the scenario it makes.
    pub fn set(&mut self, path: &str, value: &str) -> Result<Scenario, EditError> {
        let text = set_value(&self.text, path, value)?;
        self.replace(format!("{path} = {value}"), text)
    }

    /// Replaces the whole text (an adopted plan, a loaded point), if it loads.
    pub fn replace(&mut self, label: String, text: String) -> Result<Scenario, EditError> {
        let scenario = self.load(&text)?;
        if text != self.text {
            let before = std::mem::replace(&mut self.text, text);
            self.undo.push(Step {
                label,
                before,
                after: self.text.clone(),
            });
            self.redo.clear();
            self.revision += 1;
        }
        Ok(scenario)
    }

    /// Goes back one edit; returns its label.
    pub fn undo(&mut self) -> Option<String> {
        let step = self.undo.pop()?;
        self.text = step.before.clone();
        self.revision += 1;
        let label = step.label.clone();
        self.redo.push(step);
        Some(label)
    }

    /// Makes the last undone edit again; returns its label.
    pub fn redo(&mut self) -> Option<String> {
        let step = self.redo.pop()?;
        self.text = step.after.clone();
        self.revision += 1;
        let label = step.label.clone();
        self.undo.push(step);
        Some(label)
    }

    /// `text` is what the file now holds (the run loop wrote it); the history stays.
    pub fn mark_saved(&mut self, text: String) {
        self.saved = text;
        self.bundled = false;
    }

    /// The changes from the saved text to the edited one, with `context` lines around each.
    pub fn diff(&self, context: usize) -> Vec<DiffLine> {
        let diff = similar::TextDiff::from_lines(&self.saved, &self.text);
        let mut out = Vec::new();
        let mut last_end = 0;
        for group in diff.grouped_ops(context) {
            let start = group.first().map_or(0, |op| op.old_range().start);
            if start > last_end {
                out.push(DiffLine::Gap(start - last_end));
            }
            for op in &group {
                for change in diff.iter_changes(op) {
                    let line = change.value().trim_end_matches('\n').to_string();
                    out.push(match change.tag() {
                        similar::ChangeTag::Equal => DiffLine::Same(line),
                        similar::ChangeTag::Delete => DiffLine::Removed(line),
                        similar::ChangeTag::Insert => DiffLine::Added(line),
                    });
                }
                last_end = op.old_range().end;
            }
        }
        out
    }
}

/// `text` with the value at dotted `path` set to `value` (parsed as TOML, else taken as a
/// string). Tables on the way are created as needed; an existing value keeps its comments.
pub fn set_value(text: &str, path: &str, value: &str) -> Result<String, EditError> {
    let mut doc: DocumentMut = text.parse()?;
    let keys = split_path(path)?;
    let mut new: Value = value
        .parse::<Value>()
        .unwrap_or_else(|_| Value::from(value.to_string()));
    let (last, parents) = keys
        .split_last()
        .expect("split_path gives at least one key");
    let mut table: &mut dyn toml_edit::TableLike = doc.as_table_mut();
    for (i, k) in parents.iter().enumerate() {
        if !table.contains_key(k) {
            let mut t = toml_edit::InlineTable::new();
            t.set_dotted(false);
            table.insert(k, Item::Value(Value::InlineTable(t)));
        }
        table = table
            .get_mut(k)
            .and_then(Item::as_table_like_mut)
            .ok_or_else(|| EditError::Path(format!("{} is not a table", keys[..=i].join("."))))?;
    }
    match table.get_mut(last) {
        Some(Item::Value(old)) => {
            *new.decor_mut() = old.decor().clone();
            *old = new;
        }
        Some(_) => {
            return Err(EditError::Path(format!(
                "{path} is a table; set one of its values"
            )));
        }
        None => {
            table.insert(last, Item::Value(new));
        }
    }
    Ok(doc.to_string())
}

/// The keys of a dotted path (`pools."a.b".replicas` quotes a key with dots).
fn split_path(path: &str) -> Result<Vec<String>, EditError> {
    let doc: DocumentMut = format!("{path} = 0")
        .parse()
        .map_err(|_| EditError::Path(format!("{path:?} is not a dotted key path")))?;
    let mut keys = Vec::new();
    let mut item: &dyn toml_edit::TableLike = doc.as_table();
    loop {
        let Some((k, v)) = item.iter().next() else {
            break;
        };
        keys.push(k.to_string());
        match v.as_table_like() {
            Some(t) => item = t,
            None => break,
        }
    }
    if keys.is_empty() {
        return Err(EditError::Path(format!(
            "{path:?} is not a dotted key path"
        )));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# my fleet\nversion = 1\n\n[pools.a]  # the main pool\nreplicas = 3  # base load\nmarket = \"spot\"\n";

    #[test]
    fn a_set_keeps_comments_and_layout() {
        let out = set_value(FILE, "pools.a.replicas", "5").unwrap();
        assert_eq!(out, FILE.replace("replicas = 3", "replicas = 5"));
        let out = set_value(FILE, "pools.a.market", "on-demand").unwrap();
        assert!(out.contains("market = \"on-demand\"\n"), "{out}");
        let out = set_value(FILE, "pools.a.autoscale.max", "9").unwrap();
        assert!(out.contains("autoscale = { max = 9 }"), "{out}");
        assert!(matches!(
            set_value(FILE, "pools.a", "1"),
            Err(EditError::Path(_))
        ));
        assert!(matches!(
            set_value(FILE, "version.x", "1"),
            Err(EditError::Path(_))
        ));
    }

    #[test]
    fn dotted_paths_quote_keys() {
        assert_eq!(
            split_path("pools.\"a.b\".replicas").unwrap(),
            ["pools", "a.b", "replicas"]
        );
        assert!(split_path("pools..x").is_err());
        assert!(split_path("#x").is_err());
    }
}
