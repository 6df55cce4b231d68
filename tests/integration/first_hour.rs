//! A newcomer's first hour, away from the source tree: `init`, the bundled examples, shell
//! completions and the manual, each run as a process in an empty folder.

use std::path::Path;
use std::process::Command;

use crate::support::headroom;

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `headroom ARGS` run in `dir`.
fn run_in<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> std::process::Output {
    headroom().current_dir(dir).args(args).output().unwrap()
}

#[test]
fn init_writes_a_starter_that_simulates_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["init", "support-bot"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = std::fs::read_to_string(dir.path().join("support-bot.toml")).unwrap();
    assert!(text.contains("name = \"support-bot\"") && text.starts_with("#:schema "));
    assert!(dir.path().join("scenario.schema.json").is_file());
    let out = run_in(dir.path(), &["simulate", "support-bot.toml", "-f", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    // Again: refused, the file untouched.
    std::fs::write(dir.path().join("support-bot.toml"), "# mine\n").unwrap();
    let out = run_in(dir.path(), &["init", "support-bot"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("support-bot.toml already there; nothing was written"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("support-bot.toml")).unwrap(),
        "# mine\n"
    );
    let out = run_in(dir.path(), &["init", "../escape"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_bundled_examples_validate_where_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["init", "--examples"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .map(|n| format!("scenarios/{n}"))
        .collect();
    files.sort();
    assert_eq!(files.len(), headroom::bundled::SCENARIOS.len());
    files.insert(0, "validate".to_string());
    let out = run_in(dir.path(), &files);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(dir.path().join("scenarios/traces/SOURCE.md").is_file());
    // The examples alone: no starter beside them.
    assert!(!dir.path().join("scenario.toml").exists());
}

#[test]
fn bash_completes_subcommands_and_options_from_the_script() {
    let Ok(bash) = which("bash") else { return };
    let out = headroom().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("headroom.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    // What bash offers after `headroom sim<TAB>` and `headroom simulate --all<TAB>`.
    let complete = |words: &str, cword: usize| {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; \
             COMP_POINT=${{#COMP_LINE}}; \
             _headroom headroom \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new(&bash).args(["-c", &probe]).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(complete("headroom sim", 1).trim(), "simulate");
    assert!(complete("headroom simulate --all", 2).contains("--allow-large"));
}

#[test]
fn man_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = headroom()
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let page = std::fs::read_to_string(dir.path().join("headroom-simulate.1")).unwrap();
    assert!(page.contains(".TH headroom-simulate 1"), "{page}");
    assert!(page.contains("allow\\-large"));
    assert!(dir.path().join("headroom.1").is_file());
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .ok_or(())
}
