//! `headroom gpus` and `headroom calibrate`: the local GPUs as NVML reports them, and a profile
//! fitted from what they did while a workload ran. The measuring, replaying, fitting and writing
//! are `crate::calibrate`'s; this parses the arguments and prints.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::bail;

use super::{CalibrateArgs, GpusArgs, Outcome, ReportFormat, output};
use crate::calibrate::build_profile::{self, Context, build};
use crate::calibrate::files::{make_folders, write_profile, write_samples};
use crate::calibrate::measure::{Gpus, Measurement};
use crate::calibrate::sampler::Recording;
use crate::calibrate::{DeviceInfo, requests, samples};
use crate::report::calibrate::{fits, gpus_json, gpus_table};
use crate::units::parse_duration;

pub(super) fn gpus(args: GpusArgs) -> anyhow::Result<Outcome> {
    let gpus = Gpus::open(args.nvml_lib.as_deref())?;
    let now = gpus.now()?;
    let text = match args.format {
        ReportFormat::Json => gpus_json(&gpus.system, &gpus.devices, &now),
        ReportFormat::Table => gpus_table(&gpus.system, &gpus.devices, &now),
    };
    output::emit(&text, None)?;
    Ok(Outcome::Ok)
}

pub(super) fn calibrate(args: CalibrateArgs) -> anyhow::Result<Outcome> {
    let samples_out = samples_path(&args);
    make_folders(&[args.out.as_deref(), samples_out.as_deref()])?;
    let log = match &args.log {
        Some(p) => Some(requests::read(p)?),
        None => None,
    };
    let (ctx, samples, recording) = match &args.replay {
        Some(path) => {
            let (mut ctx, s) = samples::replay(path)?;
            ctx.log = args.log.as_ref().map(|p| p.display().to_string());
            ctx.llm = llm_pool(&args)?;
            (ctx, s, None)
        }
        None => {
            let (ctx, rec) = measure(&args)?;
            let s = rec.samples.clone();
            (ctx, s, Some(rec))
        }
    };
    if samples.is_empty() {
        bail!("no samples were taken (stopped before the first tick)");
    }
    let profile = build(&ctx, &samples, log.as_deref());
    // Measured samples are always kept beside the profile; a replay writes them only if asked.
    if let Some(path) = &samples_out {
        write_samples(path, &ctx, &samples)?;
        eprintln!("samples: {} rows in {}", samples.len(), path.display());
    }
    eprint!("{}", fits(&profile, recording.as_ref()));
    match &args.out {
        Some(path) => {
            write_profile(path, &profile)?;
            eprintln!("profile: {}", path.display());
        }
        None => output::emit(&profile.to_toml(), None)?,
    }
    Ok(Outcome::Ok)
}

/// Where the raw samples go: `--samples`, else beside `--out` (`x.toml` → `x.samples.csv`).
fn samples_path(args: &CalibrateArgs) -> Option<PathBuf> {
    if args.replay.is_some() {
        return args.samples.clone();
    }
    args.samples
        .clone()
        .or_else(|| args.out.as_ref().map(|o| o.with_extension("samples.csv")))
}

fn measure(args: &CalibrateArgs) -> anyhow::Result<(Context, Recording)> {
    let gpus = Gpus::open(args.nvml_lib.as_deref())?;
    if gpus.devices.is_empty() {
        bail!("NVML reports no GPUs");
    }
    let devices: Vec<u32> = match &args.devices {
        Some(list) => parse_devices(list, &gpus.devices)?,
        None => gpus.devices.iter().map(|d| d.index).collect(),
    };
    let interval = parse_duration(&args.interval)
        .map_err(|e| anyhow::anyhow!("--interval {:?}: {e}", args.interval))?;
    let duration = args
        .duration
        .as_deref()
        .map(|d| parse_duration(d).map_err(|e| anyhow::anyhow!("--duration {d:?}: {e}")))
        .transpose()?;
    if duration.is_none() && args.command.is_empty() {
        bail!(
            "say how long to sample: --duration D, or a command after -- to sample while it runs"
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Ctrl-c stops sampling; what was read is kept and written.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    let sampling = gpus.start(
        Measurement {
            devices,
            interval,
            duration,
            command: args.command.clone(),
        },
        stop,
    )?;
    let n = sampling.devices().len();
    eprintln!(
        "sampling {n} GPU{} every {} ms{}",
        if n == 1 { "" } else { "s" },
        sampling.interval().as_millis_f64(),
        if sampling.runs_command() {
            " while the command runs"
        } else {
            ""
        }
    );
    let (mut ctx, rec) = sampling.record()?;
    ctx.log = args.log.as_ref().map(|p| p.display().to_string());
    ctx.llm = llm_pool(args)?;
    Ok((ctx, rec))
}

/// The roofline and model of `--scenario`'s `--pool`, for fitting an LLM's efficiency.
fn llm_pool(
    args: &CalibrateArgs,
) -> anyhow::Result<Option<(crate::llm::roofline::Roofline, String)>> {
    let (Some(file), Some(name)) = (&args.scenario, &args.pool) else {
        return Ok(None);
    };
    let s = crate::scenario::load(file, &[])?;
    Ok(Some(build_profile::llm_pool(&s, file, name)?))
}

fn parse_devices(list: &str, all: &[DeviceInfo]) -> anyhow::Result<Vec<u32>> {
    list.split(',')
        .map(|x| {
            let i: u32 = x
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("--devices: {x:?} is not a GPU index"))?;
            if all.iter().any(|d| d.index == i) {
                Ok(i)
            } else {
                bail!("--devices: there is no GPU {i}; NVML reports {}", all.len())
            }
        })
        .collect()
}
