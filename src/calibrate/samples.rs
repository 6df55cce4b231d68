//! Samples as CSV, so a calibration can be committed beside its profile and recomputed without
//! the GPU (`headroom calibrate --replay`).
//!
//! Columns: `t_s,device,gpu_util,memory_util,memory_used_mib,power_w,sm_clock_mhz,
//! memory_clock_mhz,temperature_c,throttle_reasons,energy_j`; utilizations are 0–1, an empty cell
//! is a reading the GPU does not give. Lines before the header starting with `# key = value` say
//! what was measured (GPU, driver, limits, interval, command), so a replay rebuilds the same
//! provenance.

use std::path::Path;

use super::source::Sample;
use crate::data_file::{self, DataFileError};

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
}
