//! Samples as CSV, so a calibration can be committed beside its profile and recomputed without
//! the GPU (`headroom calibrate --replay`).
//!
//! Columns: `t_s,device,gpu_util,memory_util,memory_used_mib,power_w,sm_clock_mhz,
//! memory_clock_mhz,temperature_c,throttle_reasons,energy_j`; utilizations are 0–1, an empty cell
//! is a reading the GPU does not give. Lines before the header starting with `# key = value` say
//! what was measured (GPU, driver, limits, interval, command), so a replay rebuilds the same
//! provenance.

use std::collections::BTreeMap;
use std::path::Path;

use super::build_profile::Context;
use super::source::{DeviceInfo, Sample, SystemInfo};
use crate::data_file::{self, DataFileError};

/// Why recorded samples cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Parse(#[from] DataFileError),
    #[error(
        "{path}: the `# {key} = …` line is missing or not a number; samples written by headroom calibrate have it"
    )]
    Meta { path: String, key: &'static str },
}

/// The samples as CSV text, after `# key = value` lines for `meta`.
pub fn to_csv(meta: &[(&str, String)], samples: &[Sample]) -> String {
    let mut head = String::new();
    for (k, v) in meta {
        head.push_str(&format!("# {k} = {}\n", v.replace('\n', " ")));
    }
    let mut w = csv::Writer::from_writer(head.into_bytes());
    for s in samples {
        w.serialize(s).expect("a sample serializes");
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("CSV is UTF-8")
}

/// Reads samples written by [`to_csv`]; errors name the file and line.
pub fn read(path: &Path) -> Result<Vec<Sample>, DataFileError> {
    let (text, name) = data_file::read(path, "GPU samples")?;
    parse(&text, &name)
}

/// Parses samples CSV; `name` is used in messages.
pub fn parse(text: &str, name: &str) -> Result<Vec<Sample>, DataFileError> {
    let skipped = text.lines().take_while(|l| l.starts_with('#')).count() as u64;
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for row in r.deserialize::<Sample>() {
        let s = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() + skipped);
            DataFileError::line(name, line, data_file::csv_message(&e))
        })?;
        let line = out.len() as u64 + 2 + skipped;
        let bad = |message: String| DataFileError::line(name, line, message);
        for (what, v) in [("gpu_util", s.gpu_util), ("memory_util", s.memory_util)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(format!("{what} must be a share from 0 to 1, got {v}")));
            }
        }
        if !(s.power_w.is_finite() && s.power_w >= 0.0) {
            return Err(bad(format!(
                "power_w must be watts >= 0, got {}",
                s.power_w
            )));
        }
        out.push(s);
    }
    if out.is_empty() {
        return Err(DataFileError::file(name, "no samples"));
    }
    Ok(out)
}

/// The `# key = value` lines at the top of a samples file.
pub fn meta(text: &str) -> Vec<(String, String)> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.trim_start_matches('#').split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// The `# key = value` lines that say what `ctx` measured, for [`to_csv`].
pub fn header(ctx: &Context) -> Vec<(&'static str, String)> {
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

/// The samples in the file at `path` and the context its [`header`] lines give back. The
/// context has no log or LLM pool; the caller adds those.
pub fn replay(path: &Path) -> Result<(Context, Vec<Sample>), ReplayError> {
    let display = path.display().to_string();
    let text = crate::data_file::read_string(path).map_err(|source| ReplayError::Read {
        path: display.clone(),
        source,
    })?;
    let s = parse(&text, &display)?;
    let meta: BTreeMap<String, String> = meta(&text).into_iter().collect();
    let get = |k: &str| meta.get(k).cloned().unwrap_or_default();
    let num = |key: &'static str| -> Result<f64, ReplayError> {
        get(key).parse().map_err(|_| ReplayError::Meta {
            path: display.clone(),
            key,
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
        log: None,
        replayed_from: Some(display.clone()),
        llm: None,
    };
    Ok((ctx, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_round_trip_and_bad_rows_name_their_line() {
        let s = Sample {
            t_s: 0.01,
            device: 0,
            gpu_util: 0.37,
            memory_util: 0.1,
            memory_used_mib: 1234.0,
            power_w: 148.8,
            sm_clock_mhz: Some(2520.0),
            memory_clock_mhz: None,
            temperature_c: Some(47.0),
            throttle_reasons: 4,
            energy_j: None,
        };
        let text = to_csv(
            &[("gpu_name", "NVIDIA L40S".into())],
            &[s.clone(), s.clone()],
        );
        assert!(
            text.starts_with("# gpu_name = NVIDIA L40S\nt_s,device,gpu_util,"),
            "{text}"
        );
        assert_eq!(
            meta(&text),
            [("gpu_name".to_string(), "NVIDIA L40S".to_string())]
        );
        assert_eq!(parse(&text, "x.csv").unwrap(), vec![s.clone(), s]);
        let bad = text.replacen("0.37", "37", 2);
        let e = parse(&bad, "x.csv").unwrap_err().to_string();
        assert!(e.starts_with("x.csv:3: gpu_util"), "{e}");
        let e = parse("t_s,device\n", "x.csv").unwrap_err().to_string();
        assert!(e.contains("no samples") || e.contains("x.csv"), "{e}");
    }

    #[test]
    fn a_replay_gives_back_what_the_header_said() {
        let ctx = Context {
            system: SystemInfo {
                driver_version: "550.54.15".into(),
                cuda_version: "12.4".into(),
            },
            device: DeviceInfo {
                index: 1,
                name: "NVIDIA L40S".into(),
                uuid: "GPU-1".into(),
                memory_total_mib: 46068.0,
                power_limit_w: 350.0,
                sm_clock_max_mhz: Some(2520.0),
                memory_clock_max_mhz: None,
                sm_count: None,
            },
            devices: vec![1, 0],
            date: "2026-01-02T03:04:05Z".into(),
            interval_ms: 12.5,
            command: Some("sleep 1".into()),
            log: Some("requests.csv".into()),
            replayed_from: None,
            llm: None,
        };
        let sample = parse(
            "t_s,device,gpu_util,memory_util,memory_used_mib,power_w,sm_clock_mhz,memory_clock_mhz,temperature_c,throttle_reasons,energy_j\n0.0,1,0.5,0.1,100,150,,,,0,\n",
            "x.csv",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(&path, to_csv(&header(&ctx), &sample)).unwrap();
        let (back, samples) = replay(&path).unwrap();
        assert_eq!(samples, sample);
        assert_eq!(back.system, ctx.system);
        assert_eq!(back.device.name, ctx.device.name);
        assert_eq!(back.device.index, 1, "the first device listed");
        assert_eq!(back.device.memory_total_mib, 46068.0);
        assert_eq!(back.device.power_limit_w, 350.0);
        assert_eq!(back.devices, ctx.devices);
        assert_eq!((back.date, back.interval_ms), (ctx.date, 12.5));
        assert_eq!(back.command, ctx.command);
        assert_eq!(back.replayed_from, Some(path.display().to_string()));
        assert!(
            back.log.is_none() && back.llm.is_none(),
            "the caller's to add"
        );

        std::fs::write(&path, to_csv(&[("interval_ms", "10".into())], &sample)).unwrap();
        let e = replay(&path).unwrap_err().to_string();
        assert!(
            e.contains("`# memory_total_mib = …` line is missing"),
            "{e}"
        );
    }
}
