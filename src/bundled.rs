//! The example scenarios and the traces they replay, compiled in, so that an installed binary
//! needs no source tree: `headroom tui` opens the default one from anywhere, and
//! `headroom init --examples` writes them all out (with the traces' provenance) where the user
//! wants them.

/// (path under `scenarios/`, text) of every bundled scenario file.
macro_rules! files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../scenarios/", $name)))),*]
    };
}

/// (path under `scenarios/`, bytes) of every bundled data file.
macro_rules! data {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../scenarios/", $name)).as_slice())),*]
    };
}

/// Every scenario of `scenarios/`; a test keeps the list equal to the folder.
pub const SCENARIOS: &[(&str, &str)] = files!(
    "autoscale-diurnal.toml",
    "batching.toml",
    "chat-assistant.toml",
    "day-1k.toml",
    "full-bill.toml",
    "llm-chat.toml",
    "llm-fleet.toml",
    "llm-prefix.toml",
    "llm-quantization.toml",
    "mmc.toml",
    "optimize-chat.toml",
    "spot-mix.toml",
    "starter.toml",
    "trace-replay.toml",
    "train-cluster.toml",
    "train-spot.toml",
);

/// The traces the scenarios replay, and where they come from (their licence travels with them).
pub const TRACES: &[(&str, &[u8])] = data!(
    "traces/SOURCE.md",
    "traces/azure_llm_2023_conv.csv",
    "traces/mooncake_fast25_conversation.csv",
    "traces/philly_2017_jobs.csv",
);

/// The scenario `headroom tui` opens when given none: the README's main one.
pub const DEFAULT: &str = "chat-assistant.toml";

/// The commented scenario `headroom init` starts a user with.
pub const STARTER: &str = "starter.toml";

/// The text of the bundled scenario `name` (a file name under `scenarios/`).
pub fn scenario(name: &str) -> Option<&'static str> {
    SCENARIOS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `scenarios/` (one level of folders), relative to it.
    fn on_disk() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                for inner in std::fs::read_dir(&path).unwrap() {
                    let inner = inner.unwrap().path();
                    names.push(inner.strip_prefix(&root).unwrap().display().to_string());
                }
            } else {
                names.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
        names.sort();
        names
    }

    #[test]
    fn the_lists_hold_every_file_of_the_scenarios_folder() {
        let mut listed: Vec<String> = SCENARIOS
            .iter()
            .map(|(n, _)| n.to_string())
            .chain(TRACES.iter().map(|(n, _)| n.to_string()))
            .collect();
        listed.sort();
        assert_eq!(listed, on_disk());
        assert!(scenario(DEFAULT).is_some() && scenario(STARTER).is_some());
    }
}
