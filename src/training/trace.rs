//! Job streams for a training cluster from a trace: `timestamp,duration,num_gpus[,…]`, one job
//! per row (the Philly trace's columns, as `../shared/data/traces/philly_2017_jobs_pollux.csv`
//! and `scenarios/traces/` have them), and an optional `priority` column (whole numbers, larger
//! first). Timestamps are `YYYY-MM-DD HH:MM:SS` or seconds.

use std::path::Path;

use super::cluster::ClusterJob;
use crate::data_file::{self, DataFileError};

/// Reads a job trace, sorted by submission; times from the first submission.
pub fn read(path: &Path) -> Result<Vec<ClusterJob>, DataFileError> {
    let (text, name) = data_file::read(path, "job trace")?;
    parse(&text, &name)
}

pub fn parse(text: &str, name: &str) -> Result<Vec<ClusterJob>, DataFileError> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let bad = |line: u64, message: String| DataFileError::line(name, line, message);
    let headers = r.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    let col = |n: &str| {
        headers.iter().position(|h| h == n).ok_or_else(|| {
            bad(
                1,
                format!("no `{n}` column (need timestamp, duration, num_gpus)"),
            )
        })
    };
    let (tc, dc, gc) = (col("timestamp")?, col("duration")?, col("num_gpus")?);
    // Optional: larger runs first under the priority policy.
    let pc = headers.iter().position(|h| h == "priority");
    let mut jobs = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| bad(line, e.to_string()))?;
        let cell = |c: usize| rec.get(c).unwrap_or("");
        let t = cell(tc);
        let submit_s = match t.parse::<f64>() {
            Ok(s) => s,
            Err(_) => chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
                .map_err(|_| {
                    bad(
                        line,
                        format!("timestamp {t:?} is neither seconds nor YYYY-MM-DD HH:MM:SS"),
                    )
                })?
                .and_utc()
                .timestamp() as f64,
        };
        let duration_s: f64 = cell(dc)
            .parse()
            .ok()
            .filter(|d: &f64| d.is_finite() && *d >= 0.0)
            .ok_or_else(|| bad(line, format!("duration {:?} is not seconds >= 0", cell(dc))))?;
        let gpus: u32 = cell(gc)
            .parse()
            .ok()
            .filter(|g| *g > 0)
            .ok_or_else(|| bad(line, format!("num_gpus {:?} is not a count > 0", cell(gc))))?;
        let priority = match pc {
            Some(c) => cell(c).parse().map_err(|_| {
                bad(
                    line,
                    format!("priority {:?} is not a whole number", cell(c)),
                )
            })?,
            None => 0,
        };
        jobs.push(ClusterJob {
            submit_s,
            duration_s,
            gpus,
            priority,
        });
    }
    jobs.sort_by(|a, b| a.submit_s.total_cmp(&b.submit_s));
    if let Some(first) = jobs.first().map(|j| j.submit_s) {
        for j in &mut jobs {
            j.submit_s -= first;
        }
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philly_rows_parse_and_start_at_zero() {
        let jobs = parse(
            "timestamp,duration,num_gpus,cluster\n2017-09-04 10:30:41,100.0,8,a\n2017-09-04 10:31:41,5,1,b\n",
            "t.csv",
        )
        .unwrap();
        assert_eq!(jobs[1].submit_s, 60.0);
        assert_eq!(jobs[0].gpus, 8);
        let e = parse("timestamp,duration,num_gpus\nx,1,1\n", "t.csv")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.csv:2: timestamp"), "{e}");
        let jobs = parse(
            "timestamp,duration,num_gpus,priority\n0,1,1,5\n1,1,1,-2\n",
            "t.csv",
        )
        .unwrap();
        assert_eq!((jobs[0].priority, jobs[1].priority), (5, -2));
        let e = parse(
            "timestamp,duration,num_gpus,priority\n0,1,1,high\n",
            "t.csv",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("t.csv:2: priority"), "{e}");
    }
}
