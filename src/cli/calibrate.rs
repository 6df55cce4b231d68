//! `headroom gpus` and `headroom calibrate`: the local GPUs as NVML reports them, and a profile
//! fitted from what they did while a workload ran.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::{CalibrateArgs, GpusArgs, Outcome, ReportFormat, output};
use crate::calibrate::build_profile::{Context, build};
use crate::calibrate::nvml::NvmlSource;
use crate::calibrate::sampler::{Options, Recording, record};
use crate::calibrate::{DeviceInfo, GpuSource, SystemInfo, requests, samples};
use crate::profile::Profile;
use crate::units::parse_duration;

pub(super) fn gpus(args: GpusArgs) -> anyhow::Result<Outcome> {
    let src = NvmlSource::open(args.nvml_lib.as_deref())?;
    let system = src.system()?;
    let devices = src.devices()?;
    let now: Vec<_> = devices
        .iter()
        .map(|d| src.sample(d.index, 0.0))
        .collect::<Result<_, _>>()?;
    let text = match args.format {
        ReportFormat::Json => {
            let list: Vec<serde_json::Value> = devices
                .iter()
                .zip(&now)
                .map(|(d, s)| serde_json::json!({ "device": d, "now": s }))
                .collect();
            let v = serde_json::json!({ "system": system, "gpus": list });
            serde_json::to_string_pretty(&v).expect("JSON") + "\n"
        }
        ReportFormat::Table => {
            let mut t = format!(
                "driver {} · CUDA {} · {} GPU{}\n\n",
                system.driver_version,
                system.cuda_version,
                devices.len(),
                if devices.len() == 1 { "" } else { "s" }
            );
            let _ = writeln!(
                t,
                "{:<3} {:<24} {:<14} {:>15} {:>13} {:>15} {:>11} {:>5} {:>5} {:>4}",
                "IDX",
                "NAME",
                "UUID",
                "MEMORY MIB",
                "POWER W",
                "SM MHZ",
                "MEM MHZ",
                "TEMP",
                "UTIL",
                "SMS"
            );
            for (d, s) in devices.iter().zip(&now) {
                let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.0}"));
                let _ = writeln!(
                    t,
                    "{:<3} {:<24} {:<14} {:>15} {:>13} {:>15} {:>11} {:>5} {:>4.0}% {:>4}",
                    d.index,
                    d.name,
                    short_uuid(&d.uuid),
                    format!("{:.0}/{:.0}", s.memory_used_mib, d.memory_total_mib),
                    format!("{:.0}/{:.0}", s.power_w, d.power_limit_w),
                    format!("{}/{}", opt(s.sm_clock_mhz), opt(d.sm_clock_max_mhz)),
                    format!(
                        "{}/{}",
                        opt(s.memory_clock_mhz),
                        opt(d.memory_clock_max_mhz)
                    ),
                    opt(s.temperature_c),
                    s.gpu_util * 100.0,
                    d.sm_count.map_or("-".to_string(), |n| n.to_string()),
                );
            }
            t
        }
    };
    output::emit(&text, None)?;
    Ok(Outcome::Ok)
}

/// A UUID shortened for a table (the JSON has it whole).
fn short_uuid(u: &str) -> String {
    u.chars().take(12).collect()
}

pub(super) fn calibrate(args: CalibrateArgs) -> anyhow::Result<Outcome> {
    // Folders for what will be written are made first, so a long measurement is never lost to a
    // missing `profiles/`.
    for path in [args.out.as_ref(), samples_path(&args).as_ref()]
        .into_iter()
        .flatten()
    {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?;
        }
    }
    let log = match &args.log {
        Some(p) => Some(requests::read(p)?),
        None => None,
    };
    let (ctx, samples, recording) = match &args.replay {
        Some(path) => {
            let (ctx, s) = replay(path, &args)?;
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
    if let Some(path) = samples_path(&args) {
        let meta = meta_of(&ctx);
        output::write_atomic(&path, samples::to_csv(&meta, &samples).as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("samples: {} rows in {}", samples.len(), path.display());
    }
    eprint!("{}", report(&profile, recording.as_ref()));
    let text = profile.to_toml();
    match &args.out {
        Some(path) => {
            output::write_atomic(path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("profile: {}", path.display());
        }
        None => output::emit(&text, None)?,
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
    let src = NvmlSource::open(args.nvml_lib.as_deref())?;
    let system = src.system()?;
    let all = src.devices()?;
    if all.is_empty() {
        bail!("NVML reports no GPUs");
    }
    let devices: Vec<u32> = match &args.devices {
        Some(list) => parse_devices(list, &all)?,
        None => all.iter().map(|d| d.index).collect(),
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
    let mut child: Option<Child> = None;
    if let Some((program, rest)) = args.command.split_first() {
        let c = Command::new(program)
            .args(rest)
            .spawn()
            .with_context(|| format!("cannot start {program:?}"))?;
        child = Some(c);
    }
    let date = now_rfc3339();
    eprintln!(
        "sampling {} GPU{} every {} ms{}",
        devices.len(),
        if devices.len() == 1 { "" } else { "s" },
        interval.as_millis_f64(),
        if child.is_some() {
            " while the command runs"
        } else {
            ""
        }
    );
    let opts = Options {
        interval: Duration::from_nanos(interval.0),
        duration: duration.map(|d| Duration::from_nanos(d.0)),
        devices: devices.clone(),
    };
    let done = AtomicBool::new(false);
    let rec = std::thread::scope(|s| -> anyhow::Result<Recording> {
        if let Some(c) = child.as_mut() {
            let (stop, done) = (&stop, &done);
            s.spawn(move || {
                // Poll rather than wait(), so the child can still be stopped when the duration ends.
                while !done.load(Ordering::Relaxed) {
                    if let Ok(Some(_)) = c.try_wait() {
                        stop.store(true, Ordering::Relaxed);
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.kill();
                let _ = c.wait();
            });
        }
        let r = record(&src, &opts, &stop);
        done.store(true, Ordering::Relaxed);
        Ok(r?)
    })?;
    let first = all
        .iter()
        .find(|d| d.index == devices[0])
        .expect("devices were checked")
        .clone();
    let ctx = Context {
        system,
        device: first,
        devices,
        date,
        interval_ms: interval.as_millis_f64(),
        command: (!args.command.is_empty()).then(|| args.command.join(" ")),
        log: args.log.as_ref().map(|p| p.display().to_string()),
        replayed_from: None,
        llm: llm_pool(args)?,
    };
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
    let Some(pool) = s.pools.iter().find(|p| &p.name == name) else {
        let names: Vec<&str> = s.pools.iter().map(|p| p.name.as_str()).collect();
        bail!(
            "{} has no pool {name:?}; its pools are {}",
            file.display(),
            names.join(", ")
        );
    };
    match &pool.serving {
        crate::fleet::Serving::Llm(l) => Ok(Some((
            l.roofline.clone(),
            s.workloads[pool.workload].model.clone(),
        ))),
        crate::fleet::Serving::Requests(_) => bail!(
            "pool {name:?} serves a request-level model; --scenario/--pool are for LLM logs (a request-level log needs only batch_size and latency)"
        ),
    }
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

fn meta_of(ctx: &Context) -> Vec<(&'static str, String)> {
    vec![
        ("gpu_name", ctx.device.name.clone()),
        ("driver", ctx.system.driver_version.clone()),
        ("cuda", ctx.system.cuda_version.clone()),
        ("date", ctx.date.clone()),
        ("interval_ms", ctx.interval_ms.to_string()),
        ("power_limit_w", ctx.device.power_limit_w.to_string()),
        ("memory_total_mib", ctx.device.memory_total_mib.to_string()),
        (
            "devices",
            ctx.devices
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("command", ctx.command.clone().unwrap_or_default()),
    ]
}

fn replay(
    path: &Path,
    args: &CalibrateArgs,
) -> anyhow::Result<(Context, Vec<crate::calibrate::Sample>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let s = samples::parse(&text, &path.display().to_string())?;
    let meta: std::collections::BTreeMap<String, String> =
        samples::meta(&text).into_iter().collect();
    let get = |k: &str| meta.get(k).cloned().unwrap_or_default();
    let num = |k: &str| -> anyhow::Result<f64> {
        get(k).parse().map_err(|_| {
            anyhow::anyhow!(
                "{}: the `# {k} = …` line is missing or not a number; samples written by headroom calibrate have it",
                path.display()
            )
        })
    };
    let devices: Vec<u32> = get("devices")
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    let ctx = Context {
        system: SystemInfo {
            driver_version: get("driver"),
            cuda_version: get("cuda"),
        },
        device: DeviceInfo {
            index: devices.first().copied().unwrap_or(0),
            name: get("gpu_name"),
            uuid: String::new(),
            memory_total_mib: num("memory_total_mib")?,
            power_limit_w: num("power_limit_w")?,
            sm_clock_max_mhz: None,
            memory_clock_max_mhz: None,
            sm_count: None,
        },
        devices,
        date: get("date"),
        interval_ms: num("interval_ms")?,
        command: Some(get("command")).filter(|c| !c.is_empty()),
        log: args.log.as_ref().map(|p| p.display().to_string()),
        replayed_from: Some(path.display().to_string()),
        llm: llm_pool(args)?,
    };
    Ok((ctx, s))
}

/// Each fit with its quality, each refusal with its reason, and how steady sampling was.
fn report(p: &Profile, rec: Option<&Recording>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}), {} samples over {:.1} s",
        p.provenance.gpu_name, p.gpu, p.provenance.samples, p.provenance.duration_s
    );
    if let Some(r) = rec {
        let _ = writeln!(
            s,
            "sampling: {} ticks, {} skipped; lateness p50 {:.3} ms, p95 {:.3} ms, max {:.3} ms{}",
            r.ticks,
            r.skipped,
            r.lateness_s.p50 * 1e3,
            r.lateness_s.p95 * 1e3,
            r.lateness_s.max * 1e3,
            r.cpu_per_tick_s.map_or(String::new(), |c| format!(
                "; CPU {:.1} µs per tick",
                c * 1e6
            ))
        );
    }
    if let Some(f) = &p.power {
        let _ = writeln!(
            s,
            "power: {:.1} W idle + {:.1} W at full utilization (R² {:.3}, RMSE {:.1} W)",
            f.idle_w, f.dynamic_w, f.r_squared, f.rmse_w
        );
    }
    if let Some(f) = &p.llm {
        let opt =
            |x: Option<f64>| x.map_or("refused".to_string(), |v| format!("{:.1} %", v * 100.0));
        let _ = writeln!(
            s,
            "llm: prefill reaches {} of peak compute{}, decode {} of peak bandwidth{} ({} requests)",
            opt(f.prefill_efficiency),
            f.prefill_r_squared
                .map_or(String::new(), |r| format!(" (R² {r:.3})")),
            opt(f.decode_efficiency),
            match (f.decode_p10, f.decode_p90) {
                (Some(a), Some(b)) => format!(" (p10–p90 {:.1}–{:.1} %)", a * 100.0, b * 100.0),
                _ => String::new(),
            },
            f.requests
        );
    }
    if let Some(f) = &p.service {
        let _ = writeln!(
            s,
            "service: {:.1} ms + {:.1} ms per item (R² {:.3}, RMSE {:.1} ms, {} requests, {} outliers left out)",
            f.base_ms, f.per_item_ms, f.r_squared, f.rmse_ms, f.requests, f.outliers
        );
    }
    if let Some(m) = &p.memory {
        let _ = writeln!(
            s,
            "memory: {:.0} of {:.0} MiB at most ({:.0} MiB headroom)",
            m.used_max_mib, m.total_mib, m.headroom_mib
        );
    }
    for r in &p.refused {
        let _ = writeln!(s, "refused: {r}");
    }
    s
}

fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    chrono::DateTime::from_timestamp(d.as_secs() as i64, 0).map_or_else(String::new, |t| {
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}
