//! Where each value of a scenario came from: a line and column of the file, or a `--set` argument.
//!
//! Overrides (`--set pools.gpu.replicas=12`) are parsed as one-line TOML documents whose byte
//! offsets are placed after the end of the file, so that one span type locates any value, and an
//! error in an overridden value names the argument rather than a line of the file.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A problem in a scenario, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// `file:line:column`, or `--set KEY=VALUE`.
    pub location: String,
    pub message: String,
    pub snippet: Option<Snippet>,
}

/// The source line a diagnostic points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    pub line: usize,
    pub text: String,
    /// Zero-based character column and width of the marked part.
    pub column: usize,
    pub width: usize,
}

/// The most characters of a source line a snippet shows: a longer line is cut to a window
/// around the marked part.
const SNIPPET_CHARS: usize = 160;

impl Snippet {
    /// The shown part of the line (`…` where it is cut), and the marker's column and width in it.
    fn window(&self) -> (String, usize, usize) {
        let chars: Vec<char> = self.text.chars().collect();
        if chars.len() <= SNIPPET_CHARS {
            return (self.text.clone(), self.column, self.width);
        }
        let column = self.column.min(chars.len());
        let from = column.saturating_sub(SNIPPET_CHARS / 3);
        let to = (from + SNIPPET_CHARS).min(chars.len());
        let from = to.saturating_sub(SNIPPET_CHARS).min(from);
        let mut shown: String = if from > 0 {
            "…".into()
        } else {
            String::new()
        };
        let marker = column - from + usize::from(from > 0);
        shown.extend(&chars[from..to]);
        if to < chars.len() {
            shown.push('…');
        }
        (shown, marker, self.width.min(to.saturating_sub(column)))
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)?;
        if let Some(s) = &self.snippet {
            let gutter = s.line.to_string().len();
            let (text, column, width) = s.window();
            write!(
                f,
                "\n {:>gutter$} | {}\n {:>gutter$} | {}{}",
                s.line,
                text,
                "",
                " ".repeat(column),
                "^".repeat(width.max(1)),
            )?;
        }
        Ok(())
    }
}

struct Override {
    arg: String,
    /// The one-line TOML document parsed for it, padded with spaces so that its spans fall in
    /// `range`.
    padded: String,
    range: Range<usize>,
    /// `KEY=VALUE`, `+KEY=VALUE` or `-KEY`.
    kind: Kind,
}

/// What an override does, as its first character says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `KEY=VALUE` sets a value; an entry of a named section must exist.
    Set,
    /// `+KEY=VALUE` adds an entry to a named section (a new pool); it must not exist.
    Add,
    /// `-KEY` removes the value or entry at the key; it must exist.
    Remove,
}

impl Kind {
    /// What `arg` does, and the argument without its mark.
    pub(crate) fn of(arg: &str) -> (Kind, &str) {
        match (arg.strip_prefix('+'), arg.strip_prefix('-')) {
            (Some(rest), _) => (Kind::Add, rest),
            (_, Some(key)) if !key.contains('=') => (Kind::Remove, key),
            _ => (Kind::Set, arg),
        }
    }

    /// The mark that [`Kind::of`] reads.
    pub(crate) fn mark(self) -> &'static str {
        match self {
            Kind::Set => "",
            Kind::Add => "+",
            Kind::Remove => "-",
        }
    }
}

/// A scenario's text and its overrides, for locating spans.
pub struct Source {
    name: String,
    text: String,
    overrides: Vec<Override>,
}

impl Source {
    /// `overrides` are `KEY=VALUE` arguments; a value that is not TOML is taken as a string.
    pub fn new(name: &str, text: String, overrides: &[String]) -> Result<Source, Vec<Diagnostic>> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        let mut next = text.len() + 1;
        for arg in overrides {
            let (kind, rest) = Kind::of(arg);
            let doc = match kind {
                // The key's path, parsed with a placeholder value.
                Kind::Remove => override_doc(&format!("{rest}=0")),
                Kind::Set | Kind::Add => override_doc(rest),
            };
            match doc {
                Ok(doc) => {
                    let range = next..next + doc.len();
                    next = range.end + 1;
                    out.push(Override {
                        arg: arg.clone(),
                        padded: format!("{}{doc}", " ".repeat(range.start)),
                        range,
                        kind,
                    });
                }
                Err(message) => problems.push(Diagnostic {
                    location: format!("--set {arg}"),
                    message,
                    snippet: None,
                }),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Source {
            name: name.to_string(),
            text,
            overrides: out,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// A diagnostic at `span` (or at the start of the file if there is none).
    pub fn diagnostic(&self, span: Option<Range<usize>>, message: impl Into<String>) -> Diagnostic {
        let message = message.into();
        let span = span.unwrap_or(0..0);
        if span.start > self.text.len()
            && let Some(o) = self
                .overrides
                .iter()
                .find(|o| span.start >= o.range.start && span.start <= o.range.end)
        {
            return Diagnostic {
                location: format!("--set {}", o.arg),
                message,
                snippet: None,
            };
        }
        let start = span.start.min(self.text.len());
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let line_no = self.text[..start].matches('\n').count() + 1;
        let line_text = self.text[line_start..line_end].trim_end_matches('\r');
        let column = self.text[line_start..start].chars().count();
        let end = span.end.clamp(start, line_end);
        let width = self.text[start..end].chars().count();
        Diagnostic {
            location: format!("{}:{}:{}", self.name, line_no, column + 1),
            message,
            snippet: Some(Snippet {
                line: line_no,
                text: line_text.to_string(),
                column,
                width,
            }),
        }
    }

    /// Parses each override and merges it into `root`. Entries of the named sections (`models`,
    /// `workloads`, `pools`) must already exist: a typo in a name is an error, not a new entry.
    pub fn apply_overrides<'a>(&'a self, root: &mut DeTable<'a>) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        for o in &self.overrides {
            let parsed = match DeTable::parse(&o.padded) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(self.diagnostic(Some(o.range.clone()), e.message().to_string()));
                    continue;
                }
            };
            let table = parsed.into_inner();
            if let Err(message) = merge(root, table, 0, None, o.kind) {
                problems.push(self.diagnostic(Some(o.range.clone()), message));
            }
        }
        problems
    }
}

/// The span of the value at `keys` in `text` with `overrides` merged in (a `--set` that gave it
/// spans past the end of the text); where the path ends early, the span of the deepest key
/// found. `None` when the first key is absent or the text does not parse.
pub fn span_of(source: &Source, keys: &[&str]) -> Option<Range<usize>> {
    let mut root = DeTable::parse(source.text()).ok()?.into_inner();
    if !source.apply_overrides(&mut root).is_empty() {
        return None;
    }
    let mut table = &root;
    let mut found = None;
    for k in keys {
        let (key, value) = table.iter().find(|(key, _)| key.get_ref().as_ref() == *k)?;
        found = Some(if value.span().start > source.text().len() {
            // An override's value: its own span names the `--set`.
            value.span()
        } else {
            key.span().start..value.span().end
        });
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    found
}

/// `KEY=VALUE` as a TOML document; VALUE is quoted when it is not a TOML value by itself.
pub(crate) fn override_doc(arg: &str) -> Result<String, String> {
    let Some((key, value)) = arg.split_once('=') else {
        return Err("expected KEY=VALUE, e.g. --set pools.gpu.replicas=12".into());
    };
    let (key, value) = (key.trim(), value.trim());
    if key.is_empty() {
        return Err(
            "the key is empty; write a dotted path such as workloads.chat.arrival.rate".into(),
        );
    }
    let doc = format!("{key} = {value}");
    if DeTable::parse(&doc).is_ok() {
        return Ok(doc);
    }
    let quoted = format!("{key} = {}", toml::Value::String(value.to_string()));
    match DeTable::parse(&quoted) {
        Ok(_) => Ok(quoted),
        Err(e) => Err(format!(
            "{key:?} is not a dotted key path ({})",
            e.message()
        )),
    }
}

const NAMED_SECTIONS: [&str; 3] = ["models", "workloads", "pools"];

fn merge<'a>(
    dst: &mut DeTable<'a>,
    src: DeTable<'a>,
    depth: usize,
    section: Option<&str>,
    kind: Kind,
) -> Result<(), String> {
    for (key, value) in src {
        let name: &str = key.get_ref();
        if depth == 1
            && let Some(section) = section
            && dst.contains_key(name) == (kind == Kind::Add)
        {
            let what = section.trim_end_matches('s');
            if kind == Kind::Add {
                return Err(format!("there is already a {what} named {name:?}"));
            }
            let mut names: Vec<&str> = dst.keys().map(|k| k.get_ref().as_ref()).collect();
            names.sort_unstable();
            return Err(if names.is_empty() {
                format!("there is no {what} named {name:?}: the scenario has no {section}")
            } else {
                format!(
                    "there is no {what} named {name:?}; {section} are: {}",
                    names.join(", ")
                )
            });
        }
        let child_section =
            (depth == 0 && NAMED_SECTIONS.contains(&name)).then(|| name.to_string());
        let existing = dst.get_mut(name);
        match (existing, value.get_ref()) {
            (Some(existing), DeValue::Table(_))
                if matches!(existing.get_ref(), DeValue::Table(_)) =>
            {
                let DeValue::Table(src_table) = value.into_inner() else {
                    unreachable!()
                };
                let DeValue::Table(dst_table) = existing.get_mut() else {
                    unreachable!()
                };
                merge(
                    dst_table,
                    src_table,
                    depth + 1,
                    child_section.as_deref(),
                    kind,
                )?;
            }
            _ if kind == Kind::Remove => {
                if dst.remove(name).is_none() {
                    return Err(format!("there is no {name:?} to remove"));
                }
            }
            _ => {
                dst.insert(key, value);
            }
        }
    }
    Ok(())
}

/// Deserializes `T` from a spanned TOML value, keeping toml's span on errors.
pub fn deserialize<'a, T: serde::de::DeserializeOwned>(
    value: Spanned<DeValue<'a>>,
) -> Result<T, toml::de::Error> {
    T::deserialize(toml::de::ValueDeserializer::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns() {
        let s = Source::new("a.toml", "x = 1\nrate = -3\n".into(), &[]).unwrap();
        let d = s.diagnostic(Some(13..15), "must be > 0");
        assert_eq!(d.location, "a.toml:2:8");
        assert_eq!(
            d.to_string(),
            "a.toml:2:8: must be > 0\n 2 | rate = -3\n   |        ^^"
        );
    }

    #[test]
    fn overrides_merge_and_locate() {
        let text = "[pools.a]\nreplicas = 2\n".to_string();
        let s = Source::new(
            "a.toml",
            text,
            &["pools.a.replicas=5".into(), "pools.a.market=spot".into()],
        )
        .unwrap();
        let mut root = DeTable::parse(s.text()).unwrap().into_inner();
        assert!(s.apply_overrides(&mut root).is_empty());
        let DeValue::Table(pools) = root["pools"].get_ref() else {
            panic!()
        };
        let DeValue::Table(a) = pools["a"].get_ref() else {
            panic!()
        };
        let replicas = &a["replicas"];
        assert!(matches!(replicas.get_ref(), DeValue::Integer(_)));
        let d = s.diagnostic(Some(replicas.span()), "bad");
        assert_eq!(d.location, "--set pools.a.replicas=5");
        let DeValue::String(m) = a["market"].get_ref() else {
            panic!()
        };
        assert_eq!(m, "spot");
    }

    #[test]
    fn a_long_line_is_shown_around_the_mark() {
        let text = format!("x = 1\nrate = -3 # {}\n", "y".repeat(5000));
        let s = Source::new("a.toml", text, &[]).unwrap();
        let d = s.diagnostic(Some(13..15), "must be > 0").to_string();
        assert!(d.len() < 400, "{} bytes", d.len());
        assert!(
            d.contains(" 2 | rate = -3 # yyy") && d.contains("…\n"),
            "{d}"
        );
        assert!(d.ends_with("|        ^^"), "{d}");
        let far = format!("x = 1\n{}rate = -3\n", " ".repeat(5000));
        let s = Source::new("b.toml", far, &[]).unwrap();
        let d = s.diagnostic(Some(5013..5015), "must be > 0").to_string();
        assert!(
            d.len() < 400 && d.contains("…") && d.contains("rate = -3"),
            "{d}"
        );
        let mark = d.lines().last().unwrap();
        let line = d.lines().nth(1).unwrap();
        let col = |t: &str, pat: &str| t.chars().position(|c| pat.starts_with(c)).unwrap();
        assert_eq!(
            col(mark, "^"),
            line.find("-3").map(|b| line[..b].chars().count()).unwrap()
        );
    }

    #[test]
    fn an_added_entry_must_be_new_and_a_set_or_removed_one_must_exist() {
        let text = "[pools.a]\nreplicas = 2\n";
        let apply = |arg: &str| {
            let s = Source::new("a.toml", text.into(), &[arg.into()]).unwrap();
            let mut root = DeTable::parse(s.text()).unwrap().into_inner();
            let problems = s.apply_overrides(&mut root);
            let pools = root["pools"].get_ref().as_table().unwrap();
            let names: Vec<String> = pools.keys().map(|k| k.get_ref().to_string()).collect();
            (
                names,
                problems
                    .iter()
                    .map(|p| p.message.clone())
                    .collect::<Vec<_>>(),
            )
        };
        let (names, problems) = apply("+pools.b={ replicas = 1 }");
        assert_eq!((names, problems.len()), (vec!["a".into(), "b".into()], 0));
        let (_, problems) = apply("+pools.a={ replicas = 1 }");
        assert_eq!(problems, ["there is already a pool named \"a\""]);
        let (_, problems) = apply("pools.b={ replicas = 1 }");
        assert!(problems[0].contains("no pool named \"b\""), "{problems:?}");
        let (names, problems) = apply("-pools.a");
        assert_eq!((names.len(), problems.len()), (0, 0));
        let (_, problems) = apply("-pools.b");
        assert!(problems[0].contains("no pool named \"b\""), "{problems:?}");
        let (_, problems) = apply("-pools.a.market");
        assert_eq!(problems, ["there is no \"market\" to remove"]);
    }

    #[test]
    fn override_of_missing_entry_names_the_existing_ones() {
        let s = Source::new(
            "a.toml",
            "[pools.a]\nreplicas = 2\n".into(),
            &["pools.b.replicas=5".into()],
        )
        .unwrap();
        let mut root = DeTable::parse(s.text()).unwrap().into_inner();
        let problems = s.apply_overrides(&mut root);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].location, "--set pools.b.replicas=5");
        assert!(
            problems[0]
                .message
                .contains("no pool named \"b\"; pools are: a"),
            "{:?}",
            problems[0]
        );
    }

    #[test]
    fn bad_override_syntax() {
        assert!(Source::new("a", String::new(), &["novalue".into()]).is_err());
        assert!(Source::new("a", String::new(), &["=3".into()]).is_err());
        assert!(Source::new("a", String::new(), &["a..b=3".into()]).is_err());
    }
}
