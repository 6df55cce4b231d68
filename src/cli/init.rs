//! `headroom init`: a commented starter scenario and, with `--examples`, the bundled scenarios
//! and the traces they replay, written into the current folder, each folder with the scenario
//! schema for editors. Nothing is written over a file that is there unless `--force` says so
//! (the schema, generated, is brought up to date), and each file is written whole or not at all.

use std::borrow::Cow;
use std::path::PathBuf;

use super::{InitArgs, Outcome};
use crate::bundled;
use crate::scenario::schema;

pub(super) fn run(args: InitArgs) -> anyhow::Result<Outcome> {
    // `init --examples` alone writes the examples only; otherwise a starter, `scenario` by default.
    let given = match (&args.name, args.examples) {
        (Some(n), _) => Some(n.as_str()),
        (None, false) => Some("scenario"),
        (None, true) => None,
    };
    // The bundled files are written from the binary as they are, not copied first.
    let mut files: Vec<(PathBuf, Cow<'static, [u8]>)> = Vec::new();
    let mut starter_file = None;
    if let Some(given) = given {
        let name = given.trim_end_matches(".toml");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            anyhow::bail!(
                "init: {given:?} is not a scenario name (letters, digits, '-', '_' and '.')"
            );
        }
        let file = format!("{name}.toml");
        files.push((PathBuf::from(&file), starter(name).into_bytes().into()));
        starter_file = Some(file);
    }
    if args.examples {
        let dir = PathBuf::from("scenarios");
        files.extend(
            bundled::SCENARIOS
                .iter()
                .map(|(n, text)| (dir.join(n), text.as_bytes().into())),
        );
        files.extend(
            bundled::TRACES
                .iter()
                .map(|(n, bytes)| (dir.join(n), (*bytes).into())),
        );
    }
    // The schema beside the scenarios; generated, so not the user's to keep.
    let mut schemas = Vec::new();
    if starter_file.is_some() {
        schemas.push(PathBuf::from(schema::FILE_NAME));
    }
    if args.examples {
        schemas.push(PathBuf::from("scenarios").join(schema::FILE_NAME));
    }
    let taken: Vec<String> = files
        .iter()
        .filter(|(p, _)| p.exists())
        .map(|(p, _)| p.display().to_string())
        .collect();
    if !taken.is_empty() && !args.force {
        anyhow::bail!(
            "init: {} already there; nothing was written (--force replaces {})",
            list(&taken),
            if taken.len() == 1 { "it" } else { "them" }
        );
    }
    let schema_text = schema::text().into_bytes();
    files.extend(schemas.into_iter().map(|p| (p, schema_text.clone().into())));
    for (path, bytes) in &files {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("init: cannot create {}: {e}", dir.display()))?;
        }
        super::output::write_atomic(path, bytes)
            .map_err(|e| anyhow::anyhow!("init: cannot write {}: {e}", path.display()))?;
    }
    if let Some(file) = &starter_file {
        println!("wrote {file} and {} (for editors)", schema::FILE_NAME);
    }
    if args.examples {
        println!(
            "wrote scenarios/: {} scenarios, {} trace files and {}",
            bundled::SCENARIOS.len(),
            bundled::TRACES.len(),
            schema::FILE_NAME
        );
    }
    let next = starter_file.unwrap_or_else(|| "scenarios/chat-assistant.toml".into());
    println!("next: headroom simulate {next}   (or: headroom tui {next})");
    Ok(Outcome::Ok)
}

/// The bundled starter under the user's name: its `name` key and the file name its comments
/// use.
fn starter(name: &str) -> String {
    let text = bundled::scenario(bundled::STARTER).expect("the starter is bundled");
    let text = text
        .replace("starter.toml", &format!("{name}.toml"))
        .replacen("name = \"starter\"", &format!("name = {name:?}"), 1);
    // Taplo-based editors find the schema by this first line.
    format!("#:schema ./{}\n{text}", schema::FILE_NAME)
}

/// `a`, `a and b`, or `a, b and 3 more`.
fn list(items: &[String]) -> String {
    match items {
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, b, rest @ ..] => format!("{a}, {b} and {} more", rest.len()),
        [] => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_takes_the_users_name_and_still_loads() {
        let text = starter("support-bot");
        assert!(text.contains("name = \"support-bot\""));
        assert!(text.contains("headroom simulate support-bot.toml"));
        assert!(!text.contains("starter"));
        assert!(text.starts_with("#:schema ./scenario.schema.json\n# "));
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let s = crate::scenario::parse(&text, "support-bot.toml", &dir, &[]).unwrap();
        assert_eq!(s.name(), "support-bot");
    }
}
