//! `headroom completions` and `headroom man`: generated from the same clap definitions that
//! parse the command line, so they cannot drift from it.

use clap::CommandFactory;

use super::{Cli, CompletionsArgs, ManArgs, Outcome, output};

pub(super) fn completions(args: CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut text = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "headroom", &mut text);
    output::emit(&String::from_utf8(text)?, None)?;
    Ok(Outcome::Ok)
}

pub(super) fn man(args: ManArgs) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    cmd.build();
    let Some(dir) = args.dir else {
        output::emit(&page(cmd)?, None)?;
        return Ok(Outcome::Ok);
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("man: cannot create {}: {e}", dir.display()))?;
    let mut pages = vec![("headroom.1".to_string(), page(cmd.clone())?)];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        // Built, a subcommand is displayed as `headroom-NAME`, which its page is titled by.
        let name = format!("headroom-{}", sub.get_name());
        pages.push((format!("{name}.1"), page(sub.clone())?));
    }
    for (file, bytes) in &pages {
        let path = dir.join(file);
        output::write_atomic(&path, bytes.as_bytes())
            .map_err(|e| anyhow::anyhow!("man: cannot write {}: {e}", path.display()))?;
    }
    println!("wrote {} pages into {}", pages.len(), dir.display());
    Ok(Outcome::Ok)
}

/// One command's page, in roff.
fn page(cmd: clap::Command) -> anyhow::Result<String> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    Ok(String::from_utf8(out)?)
}
