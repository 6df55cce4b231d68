//! The workload's own log of what it served (`headroom calibrate --log FILE`): CSV, one row per
//! request or per batch, with a header. Columns, by name (others are ignored):
//!
//! - time: `timestamp` (seconds, Unix or from any origin), or `start_s`;
//! - how long it took: `latency_s` or `latency_ms` (for a request-level model, the batch's
//!   service time, as a benchmark that runs batches of a fixed size reports it);
//! - `batch_size` (request-level), or `input_tokens` and `output_tokens` (LLM), with `ttft_s` or
//!   `ttft_ms` where the tool records the time to the first token.
//!
//! A JSON result of vLLM's serving benchmark (`vllm bench serve --save-result`, formerly
//! `benchmark_serving.py`; SGLang's `bench_serving` writes the same keys) is read as it is: per request, `input_lens`, `output_lens`, `ttfts` (seconds) and `itls`
//! (the gaps between output tokens, seconds), with `start_times` where the tool records them;
//! a request with an error is left out, and its latency is its TTFT plus its gaps.

use std::collections::HashMap;
use std::path::Path;

use crate::data_file::{self, DataFileError};

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

/// Reads a request log.
pub fn read(path: &Path) -> Result<Vec<Request>, DataFileError> {
    let (text, name) = data_file::read(path, "request log")?;
    parse(&text, &name)
}

/// The per-request arrays of a vLLM/SGLang serving-benchmark result.
#[derive(serde::Deserialize)]
struct BenchResult {
    input_lens: Vec<f64>,
    output_lens: Vec<f64>,
    ttfts: Vec<f64>,
    itls: Vec<Vec<f64>>,
    #[serde(default)]
    start_times: Option<Vec<f64>>,
    #[serde(default)]
    errors: Vec<Option<String>>,
}

fn parse_bench_json(text: &str, name: &str) -> Result<Vec<Request>, DataFileError> {
    let b: BenchResult = serde_json::from_str(text).map_err(|e| {
        DataFileError::file(
            name,
            format!("not a serving-benchmark result (input_lens, output_lens, ttfts, itls): {e}"),
        )
    })?;
    let n = b.input_lens.len();
    if [b.output_lens.len(), b.ttfts.len(), b.itls.len()] != [n, n, n] {
        return Err(DataFileError::file(
            name,
            "input_lens, output_lens, ttfts and itls differ in length",
        ));
    }
    let out: Vec<Request> = (0..n)
        .filter(|&i| {
            b.errors
                .get(i)
                .is_none_or(|e| e.as_deref().is_none_or(str::is_empty))
        })
        .filter(|&i| b.ttfts[i] > 0.0)
        .map(|i| Request {
            timestamp_s: b
                .start_times
                .as_ref()
                .and_then(|t| t.get(i).copied())
                .unwrap_or(i as f64),
            latency_s: b.ttfts[i] + b.itls[i].iter().sum::<f64>(),
            batch_size: None,
            input_tokens: Some(b.input_lens[i]),
            output_tokens: Some(b.output_lens[i]),
            ttft_s: Some(b.ttfts[i]),
        })
        .collect();
    if out.is_empty() {
        return Err(DataFileError::file(name, "no requests"));
    }
    Ok(out)
}

/// Parses a request log (CSV, or a serving-benchmark JSON result); `name` is used in messages.
pub fn parse(text: &str, name: &str) -> Result<Vec<Request>, DataFileError> {
    if text.trim_start().starts_with('{') {
        return parse_bench_json(text, name);
    }
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header_err = |message: String| DataFileError::file(name, message);
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
        let rec = rec.map_err(|e| DataFileError::line(name, line, data_file::csv_message(&e)))?;
        let num = |(idx, col): (usize, &str)| -> Result<f64, DataFileError> {
            let cell = rec.get(idx).unwrap_or("");
            let bad = |m: String| DataFileError::line(name, line, format!("column {col}: {m}"));
            let v: f64 = cell
                .parse()
                .map_err(|_| bad(format!("{cell:?} is not a number")))?;
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(format!("must be a number >= 0, got {v}")));
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
        return Err(DataFileError::file(name, "no requests"));
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

    #[test]
    fn a_vllm_benchmark_result_is_read_as_it_is() {
        let json = r#"{"duration": 9.5, "completed": 2, "input_lens": [100, 200, 300],
            "output_lens": [3, 4, 1], "ttfts": [0.05, 0.08, 0.0],
            "itls": [[0.02, 0.02], [0.02, 0.03, 0.02], []],
            "errors": ["", null, "timeout"]}"#;
        let log = parse(json, "bench.json").unwrap();
        assert_eq!(log.len(), 2, "the failed request is left out");
        assert!((log[0].latency_s - 0.09).abs() < 1e-12);
        assert_eq!(log[1].input_tokens, Some(200.0));
        assert_eq!(log[1].ttft_s, Some(0.08));
        let e = parse("{\"x\": 1}", "b.json").unwrap_err().to_string();
        assert!(e.contains("not a serving-benchmark result"), "{e}");
    }
}
