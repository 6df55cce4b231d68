//! The workload's own log of what it served (`headroom calibrate --log FILE`): CSV, one row per
//! request or per batch, with a header. Columns, by name (others are ignored):
//!
//! - time: `timestamp` (seconds, Unix or from any origin), or `start_s`;
//! - how long it took: `latency_s` or `latency_ms` (for a request-level model, the batch's
//!   service time, as a benchmark that runs batches of a fixed size reports it);
//! - `batch_size` (request-level), or `input_tokens` and `output_tokens` (LLM), with `ttft_s` or
//!   `ttft_ms` where the tool records the time to the first token.
//!
//! vLLM's and SGLang's serving benchmarks can write these columns from their per-request results
//! (prompt length, output length, TTFT, end-to-end latency).

use std::collections::HashMap;
use std::path::Path;

/// One row of the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub timestamp_s: f64,
    pub latency_s: f64,
    pub batch_size: Option<f64>,
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
    pub ttft_s: Option<f64>,
}

/// Why a request log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Header { path: String, message: String },
    #[error("{path}:{line}: column {column}: {message}")]
    Row {
        path: String,
        line: u64,
        column: String,
        message: String,
    },
    #[error("{path}: no requests")]
    Empty { path: String },
}

/// Reads a request log.
pub fn read(path: &Path) -> Result<Vec<Request>, LogError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LogError::Io {
        path: name.clone(),
        source,
    })?;
    parse(&text, &name)
}

/// Parses a request log; `name` is used in messages.
pub fn parse(text: &str, name: &str) -> Result<Vec<Request>, LogError> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header_err = |message: String| LogError::Header {
        path: name.to_string(),
        message,
    };
    let headers = r.headers().map_err(|e| header_err(e.to_string()))?.clone();
    let col: HashMap<&str, usize> = headers.iter().enumerate().map(|(i, h)| (h, i)).collect();
    let find = |names: &[&'static str]| -> Option<(usize, &'static str)> {
        names.iter().find_map(|n| col.get(n).map(|&i| (i, *n)))
    };
    let time = find(&["timestamp", "start_s"]).ok_or_else(|| {
        header_err("no time column: name one `timestamp` (seconds) or `start_s`".into())
    })?;
    let latency = find(&["latency_s", "latency_ms"]).ok_or_else(|| {
        header_err("no latency column: name one `latency_s` or `latency_ms`".into())
    })?;
    let batch = find(&["batch_size"]);
    let input = find(&["input_tokens"]);
    let output = find(&["output_tokens"]);
    let ttft = find(&["ttft_s", "ttft_ms"]);
    if batch.is_none() && (input.is_none() || output.is_none()) {
        return Err(header_err(
            "no size column: `batch_size` for a request-level model, or `input_tokens` and `output_tokens` for an LLM".into(),
        ));
    }
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| LogError::Row {
            path: name.to_string(),
            line,
            column: "-".into(),
            message: e.to_string(),
        })?;
        let num = |(idx, col): (usize, &str)| -> Result<f64, LogError> {
            let cell = rec.get(idx).unwrap_or("");
            let v: f64 = cell.parse().map_err(|_| LogError::Row {
                path: name.to_string(),
                line,
                column: col.to_string(),
                message: format!("{cell:?} is not a number"),
            })?;
            if !(v.is_finite() && v >= 0.0) {
                return Err(LogError::Row {
                    path: name.to_string(),
                    line,
                    column: col.to_string(),
                    message: format!("must be a number >= 0, got {v}"),
                });
            }
            Ok(if col.ends_with("_ms") { v / 1e3 } else { v })
        };
        let opt = |c: Option<(usize, &str)>| c.map(num).transpose();
        out.push(Request {
            timestamp_s: num(time)?,
            latency_s: num(latency)?,
            batch_size: opt(batch)?,
            input_tokens: opt(input)?,
            output_tokens: opt(output)?,
            ttft_s: opt(ttft)?,
        });
    }
    if out.is_empty() {
        return Err(LogError::Empty {
            path: name.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_found_by_name_and_milliseconds_converted() {
        let log = parse(
            "timestamp,batch_size,latency_ms,other\n10,4,640,x\n11,1,460,y\n",
            "log.csv",
        )
        .unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].batch_size, Some(4.0));
        assert!((log[0].latency_s - 0.64).abs() < 1e-12);
        let e = parse("timestamp,latency_s\n1,2\n", "log.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no size column"), "{e}");
        let e = parse("timestamp,batch_size,latency_s\n1,2,-3\n", "log.csv")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "log.csv:2: column latency_s: must be a number >= 0, got -3"
        );
    }
}
