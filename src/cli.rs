//! The command line: `headroom simulate` and `headroom validate`.
//!
//! Exit codes: 0 ran (and every SLO was met), 1 ran and an SLO was missed, 2 bad input or error.
//! A closed pipe (`headroom … | head`) ends the program quietly.

mod calibrate;
mod capacity;
mod docs;
mod init;
mod optimize;
mod output;
mod simulate;
mod sweep;
mod validate;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::scenario::LoadError;

/// Capacity planner and simulator for GPU fleets serving ML inference.
#[derive(Debug, Parser)]
#[command(
    name = "headroom",
    version,
    about,
    arg_required_else_help = true,
    after_help = "Examples:\n  headroom init support-bot && headroom simulate support-bot.toml\n  \
                  headroom tui\n  headroom validate scenarios/*.toml\n\n\
                  Exit codes: 0 every SLO met, 1 an SLO missed, 2 bad input or error, 130 Ctrl-c."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate a scenario and report latency, SLOs, utilization and cost.
    Simulate(SimulateArgs),
    /// Check scenario files (and read their traces to the end) without simulating.
    Validate(ValidateArgs),
    /// Simulate a scenario at every point of a grid of overrides; mark the cost-versus-p99
    /// frontier.
    Sweep(SweepArgs),
    /// Combine the CSV outputs of a sweep's shards into the whole sweep's.
    Merge(MergeArgs),
    /// Explore a scenario interactively: edit the fleet, watch cost and latency move, compare,
    /// run the optimizer, save back to the file. With no arguments in a terminal, `headroom`
    /// opens this on the bundled default scenario.
    Tui(TuiArgs),
    /// List the local NVIDIA GPUs as NVML reports them.
    Gpus(GpusArgs),
    /// Sample the GPUs (NVML) while a workload runs, fit power, service-time and memory figures,
    /// and write a GPU profile that scenarios can use.
    Calibrate(CalibrateArgs),
    /// Find the cheapest fleet (instance types, markets, counts by hour) that meets the SLO,
    /// from the scenario's [optimize] table; verify it by simulation.
    Optimize(OptimizeArgs),
    /// Capacity at the SLO: the highest request rate each pool's replicas serve within their
    /// workload's SLO, found by simulation (Poisson arrivals, or the trace replayed faster).
    Capacity(CapacityArgs),
    /// Write a commented starter scenario (and, with --examples, the bundled ones) here.
    Init(InitArgs),
    /// Print a shell's completion script for headroom.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into a folder.
    Man(ManArgs),
    /// Print the JSON Schema of scenario files, for editors that complete and check TOML.
    Schema(SchemaArgs),
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  headroom schema -o scenario.schema.json\n\n\
                        Then either start a scenario with the line `#:schema ./scenario.schema.json`,\n\
                        or associate it in .taplo.toml (Even Better TOML in VS Code, Helix, Zed)."
)]
struct SchemaArgs {
    /// Write the schema to this file (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  headroom init support-bot\n  headroom init --examples\n  \
                        headroom simulate scenarios/chat-assistant.toml"
)]
struct InitArgs {
    /// The scenario's name; the file is NAME.toml in this folder (default: scenario, unless
    /// --examples is given alone).
    name: Option<String>,
    /// Also write the bundled example scenarios and their traces into scenarios/.
    #[arg(long)]
    examples: bool,
    /// Replace files that are already there.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  source <(headroom completions bash)\n  \
                        headroom completions zsh > ~/.zfunc/_headroom\n  \
                        headroom completions fish > ~/.config/fish/completions/headroom.fish")]
struct CompletionsArgs {
    /// The shell.
    shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  headroom man | man -l -\n  \
                        headroom man --dir ~/.local/share/man/man1")]
struct ManArgs {
    /// Write headroom.1 and headroom-COMMAND.1 into this folder instead of printing headroom(1).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  headroom capacity scenarios/llm-chat.toml --pool h100 --replications 3"
)]
struct CapacityArgs {
    /// Scenario file (TOML); every workload measured needs an `slo`.
    file: PathBuf,
    /// Measure these pools only (default: every pool).
    #[arg(long = "pool", value_name = "NAME")]
    pools: Vec<String>,
    /// Replicas of the pool the rate is for.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    replicas: u32,
    /// Replications per trial; a trial passes when every one meets the SLO.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100))]
    replications: u32,
    /// Simulated time per trial, after a warm-up of a tenth of it.
    #[arg(long, default_value = "5m", value_parser = parse_span)]
    horizon: crate::units::SimTime,
    /// The search stops when its bracket is narrower than this fraction of the rate.
    #[arg(long, default_value_t = 0.02)]
    tolerance: f64,
    /// Override a scenario value by its dotted path, as for `simulate`.
    #[arg(long = "set", value_name = "KEY=VALUE", allow_hyphen_values = true)]
    set: Vec<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// Worker threads (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
}

fn parse_span(text: &str) -> Result<crate::units::SimTime, String> {
    crate::units::parse_duration(text).map_err(|e| e.to_string())
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  headroom gpus\n  headroom gpus -f json")]
struct GpusArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// The NVML library to load (default: $HEADROOM_NVML_LIB, else the driver's).
    #[arg(long, value_name = "PATH")]
    nvml_lib: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  headroom calibrate --duration 60s --out profiles/l40s.toml\n  headroom calibrate --log bench.csv --out profiles/l40s.toml -- ./run-benchmark.sh"
)]
struct CalibrateArgs {
    /// How long to sample (e.g. 60s); with a command, at most this long.
    #[arg(long, value_name = "D")]
    duration: Option<String>,
    /// Time between samples.
    #[arg(long, value_name = "I", default_value = "100ms")]
    interval: String,
    /// GPU indices to sample, e.g. 0,1 (default: all).
    #[arg(long, value_name = "LIST")]
    devices: Option<String>,
    /// The workload's request log to fit service times or LLM efficiency from (CSV, or a vLLM
    /// serving-benchmark JSON result; see the README).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Write the profile here (default: standard output).
    #[arg(long, value_name = "PROFILE")]
    out: Option<PathBuf>,
    /// Write the raw samples here (default: beside --out, as NAME.samples.csv).
    #[arg(long, value_name = "FILE")]
    samples: Option<PathBuf>,
    /// For an LLM's log: the scenario with the pool it ran on (its model, GPU and parallelism give
    /// the roofline the efficiency factors are fitted against).
    #[arg(long, value_name = "FILE", requires = "pool")]
    scenario: Option<PathBuf>,
    /// The pool of --scenario the log ran on.
    #[arg(long, value_name = "NAME", requires = "scenario")]
    pool: Option<String>,
    /// Recompute a profile from recorded samples instead of measuring.
    #[arg(long, value_name = "SAMPLES.csv", conflicts_with_all = ["duration", "devices", "command"])]
    replay: Option<PathBuf>,
    /// The NVML library to load (default: $HEADROOM_NVML_LIB, else the driver's).
    #[arg(long, value_name = "PATH")]
    nvml_lib: Option<PathBuf>,
    /// A command to run and measure; sampling stops when it exits.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  headroom tui\n  headroom tui scenarios/llm-chat.toml -n 3")]
struct TuiArgs {
    /// Scenario file (TOML); default: scenarios/chat-assistant.toml.
    file: Option<PathBuf>,
    /// Replications of each full run (95 % intervals from 2).
    #[arg(long, short = 'n', default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    replications: u32,
    /// Open a scenario whose estimated work is over the budget (see `simulate --allow-large`).
    #[arg(long)]
    allow_large: bool,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  headroom optimize scenarios/optimize-chat.toml\n  headroom optimize scenarios/optimize-chat.toml -f json --write-scenario plan.toml"
)]
struct OptimizeArgs {
    /// Scenario file (TOML) with an [optimize] table.
    file: PathBuf,
    /// Override a scenario value by its dotted path, as for `simulate`.
    #[arg(long = "set", value_name = "KEY=VALUE", allow_hyphen_values = true)]
    set: Vec<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// Write the report to this file (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Write the plan as a scenario file (the input with the workload's pools replaced).
    #[arg(long, value_name = "FILE")]
    write_scenario: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// Measure capacity again instead of reading the cache.
    #[arg(long)]
    no_cache: bool,
    /// Where capacity curves are cached (default: $HEADROOM_CACHE, else ~/.cache/headroom).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Skip the target-tracking sweep.
    #[arg(long)]
    no_tracking: bool,
    /// No progress lines on standard error.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  headroom sweep scenarios/chat-assistant.toml --axis pools.l40s-ondemand.replicas=0,1,2,3 -n 2\n  headroom sweep scenarios/llm-chat.toml --axis pools.l40s.replicas=1,2,4 --shard 1/2 -o part1.csv"
)]
struct SweepArgs {
    /// Scenario file (TOML).
    file: PathBuf,
    /// An axis: a dotted path and its values, e.g. `pools.gpu.replicas=4,6,8`. Several axes give
    /// their cartesian product, the last varying fastest.
    #[arg(long, value_name = "PATH=V1,V2,...", required = true)]
    axis: Vec<String>,
    /// Overrides applied at every point, as for `simulate`.
    #[arg(long = "set", value_name = "KEY=VALUE", allow_hyphen_values = true)]
    set: Vec<String>,
    /// Replications per point.
    #[arg(long, short = 'n', default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    replications: u32,
    /// Seed for every point, replacing the scenario's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Run only the K-th of N slices of the points (every N-th point), for a job array.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = SweepFormat::Csv)]
    format: SweepFormat,
    /// Worker threads (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Run points whose estimated work is over the budget (see `simulate --allow-large`).
    #[arg(long)]
    allow_large: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SweepFormat {
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  headroom merge part1.csv part2.csv -o sweep.csv")]
struct MergeArgs {
    /// The shards' CSV files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Write to this file (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  headroom simulate scenarios/chat-assistant.toml\n  headroom simulate scenarios/chat-assistant.toml --set pools.l40s-spot.replicas=1\n  headroom simulate scenarios/chat-assistant.toml -n 5 -f json -o report.json"
)]
struct SimulateArgs {
    /// Scenario file (TOML).
    file: PathBuf,
    /// Seed for the random streams, replacing the scenario's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Independent replications, run in parallel; headline numbers get 95% confidence intervals.
    #[arg(long, short = 'n', default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    replications: u32,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Override a scenario value by its dotted path, e.g. `pools.gpu.replicas=12`.
    #[arg(long = "set", value_name = "KEY=VALUE", allow_hyphen_values = true)]
    set: Vec<String>,
    /// Worker threads for replications (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// Write the report to this file (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write the time series (per interval, total and per workload) to this CSV file.
    #[arg(long, value_name = "FILE")]
    timeseries: Option<PathBuf>,
    /// Run a scenario whose estimated work (events or memory) is over the budget, which is
    /// otherwise refused at the field to blame; progress goes to standard error.
    #[arg(long)]
    allow_large: bool,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  headroom validate scenarios/*.toml\n  headroom validate scenarios/llm-chat.toml --set workloads.chat.arrival.rate_multiplier=2"
)]
struct ValidateArgs {
    /// Scenario files (TOML).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Override a scenario value by its dotted path, as for `simulate`.
    #[arg(long = "set", value_name = "KEY=VALUE", allow_hyphen_values = true)]
    set: Vec<String>,
    /// Accept scenarios whose estimated work is over the budget (see `simulate --allow-large`).
    #[arg(long)]
    allow_large: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

/// Exit status of a command that ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// It ran, and a check (an SLO) failed.
    CheckFailed,
    /// Ctrl-c ended it early; what it had was reported (exit 130, as the shell's for SIGINT).
    Interrupted,
}

/// Runs the command line and returns the process exit code.
pub fn run() -> ExitCode {
    // No arguments in a terminal: the TUI on the default scenario (else, help).
    if std::env::args_os().len() == 1
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
    {
        return finish(tui(TuiArgs {
            file: None,
            replications: 1,
            allow_large: false,
        }));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Simulate(args) => simulate::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Merge(args) => sweep::merge(args),
        Command::Optimize(args) => optimize::run(args),
        Command::Capacity(args) => capacity::run(args),
        Command::Tui(args) => tui(args),
        Command::Gpus(args) => calibrate::gpus(args),
        Command::Calibrate(args) => calibrate::calibrate(args),
        Command::Init(args) => init::run(args),
        Command::Completions(args) => docs::completions(args),
        Command::Man(args) => docs::man(args),
        Command::Schema(args) => {
            let text = crate::scenario::schema::text();
            output::emit(&text, args.output.as_deref()).map(|()| Outcome::Ok)
        }
    };
    finish(result)
}

fn tui(args: TuiArgs) -> anyhow::Result<Outcome> {
    let source = match args.file {
        Some(path) => crate::tui::Source {
            path,
            bundled: None,
        },
        None => crate::tui::default_scenario(),
    };
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        anyhow::bail!(
            "headroom tui needs a terminal; for scripts, use headroom simulate {}",
            match source.bundled {
                Some(_) => "FILE (`headroom init --examples` writes the bundled ones here)".into(),
                None => source.path.display().to_string(),
            }
        );
    }
    crate::tui::run(&source, args.replications, args.allow_large)?;
    Ok(Outcome::Ok)
}

fn finish(result: anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(1),
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            report_error(&e);
            ExitCode::from(2)
        }
    }
}

/// The worker threads of a command: `--threads N`, else one per core.
fn worker_pool(threads: Option<u32>) -> anyhow::Result<rayon::ThreadPool> {
    let threads = threads.map_or(rayon::current_num_threads(), |n| n as usize);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start worker threads: {e}"))
}

fn report_error(e: &anyhow::Error) {
    match e.downcast_ref::<LoadError>() {
        Some(LoadError::Invalid { diagnostics }) => {
            for d in diagnostics {
                eprintln!("error: {d}");
            }
            if diagnostics.len() > 1 {
                eprintln!(
                    "error: {} problems; nothing was simulated",
                    diagnostics.len()
                );
            }
        }
        _ => eprintln!("error: {e:#}"),
    }
}
