//! Streaming reader of request traces (CSV): one row at a time, so a trace of ten million rows
//! never sits in memory.
//!
//! Timestamps are read from a named column in a stated unit (`s`, `ms`, `us`, `ns`, or `datetime`
//! for `2023-11-16 18:17:03.98`), made relative to the first row, and must not go backwards.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use chrono::NaiveDateTime;

/// The unit of a time column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Ns,
    Us,
    Ms,
    S,
    /// A calendar date and time, `YYYY-MM-DD HH:MM:SS[.fraction]` (a `T` separator also works).
    Datetime,
}

impl TimeUnit {
    pub const ALL: [TimeUnit; 5] = [
        TimeUnit::Ns,
        TimeUnit::Us,
        TimeUnit::Ms,
        TimeUnit::S,
        TimeUnit::Datetime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Ns => "ns",
            TimeUnit::Us => "us",
            TimeUnit::Ms => "ms",
            TimeUnit::S => "s",
            TimeUnit::Datetime => "datetime",
        }
    }

    pub fn parse(s: &str) -> Option<TimeUnit> {
        TimeUnit::ALL.into_iter().find(|u| u.as_str() == s)
    }

    fn seconds_per_unit(self) -> f64 {
        match self {
            TimeUnit::Ns => 1e-9,
            TimeUnit::Us => 1e-6,
            TimeUnit::Ms => 1e-3,
            TimeUnit::S | TimeUnit::Datetime => 1.0,
        }
    }
}

/// A trace that cannot be read: the file, the line (1 is the header) and what was wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TraceError {
    pub path: String,
    pub line: Option<u64>,
    pub message: String,
}

/// One row of a trace: time since the first row and, where asked for, the recorded service time
/// (seconds), token counts and prompt-prefix block hashes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub time_s: f64,
    pub service_s: Option<f64>,
    pub input_tokens: Option<u32>,
    pub output_tokens: Option<u32>,
    pub prefix: Option<Box<[u64]>>,
}

/// Which columns of a trace to read.
#[derive(Clone, Copy, Debug)]
pub struct Columns<'a> {
    pub time: &'a str,
    pub time_unit: TimeUnit,
    pub service: Option<(&'a str, TimeUnit)>,
    pub input_tokens: Option<&'a str>,
    pub output_tokens: Option<&'a str>,
    /// Space-separated block hashes of the prompt (as in the Mooncake trace).
    pub prefix: Option<&'a str>,
}

impl<'a> Columns<'a> {
    /// Just a time column.
    pub fn time(time: &'a str, time_unit: TimeUnit) -> Columns<'a> {
        Columns {
            time,
            time_unit,
            service: None,
            input_tokens: None,
            output_tokens: None,
            prefix: None,
        }
    }
}

/// Reads rows of a trace in order.
pub struct TraceReader {
    reader: csv::Reader<BufReader<crate::data_file::LineLimit<File>>>,
    record: csv::ByteRecord,
    display: String,
    time_idx: usize,
    time_unit: TimeUnit,
    service: Option<(usize, TimeUnit)>,
    input_idx: Option<usize>,
    output_idx: Option<usize>,
    prefix_idx: Option<usize>,
    origin: Option<Origin>,
    last_s: f64,
}

#[derive(Clone, Copy)]
enum Origin {
    Number(f64),
    Datetime(NaiveDateTime),
}

impl TraceReader {
    /// Opens the trace a scenario describes.
    pub fn for_spec(spec: &super::TraceSpec) -> Result<TraceReader, TraceError> {
        TraceReader::open(&spec.path, &spec.display, spec.columns())
    }

    /// Opens the trace and checks that its header has the named columns.
    pub fn open(
        path: &Path,
        display: &str,
        columns: Columns<'_>,
    ) -> Result<TraceReader, TraceError> {
        let err = |line: Option<u64>, message: String| TraceError {
            path: display.to_string(),
            line,
            message,
        };
        let file = crate::data_file::open_regular(path).map_err(|e| {
            err(
                None,
                format!("cannot open trace ({e}); paths are relative to the scenario file"),
            )
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(BufReader::with_capacity(
                1 << 16,
                crate::data_file::LineLimit::new(file),
            ));
        let headers = reader
            .headers()
            .map_err(|e| err(Some(1), format!("cannot read the header row: {e}")))?
            .clone();
        let find = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| {
                    err(
                        Some(1),
                        format!(
                            "no column {name:?} in the header; columns are {}",
                            headers
                                .iter()
                                .map(|h| format!("{h:?}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })
        };
        let time_idx = find(columns.time)?;
        let service = match columns.service {
            Some((name, unit)) => {
                if unit == TimeUnit::Datetime {
                    return Err(err(
                        None,
                        "a service-time column needs a duration unit (s, ms, us, ns), not datetime"
                            .into(),
                    ));
                }
                Some((find(name)?, unit))
            }
            None => None,
        };
        let optional = |c: Option<&str>| c.map(find).transpose();
        Ok(TraceReader {
            reader,
            record: csv::ByteRecord::new(),
            display: display.to_string(),
            time_idx,
            time_unit: columns.time_unit,
            service,
            input_idx: optional(columns.input_tokens)?,
            output_idx: optional(columns.output_tokens)?,
            prefix_idx: optional(columns.prefix)?,
            origin: None,
            last_s: 0.0,
        })
    }

    fn error(&self, message: String) -> TraceError {
        TraceError {
            path: self.display.clone(),
            line: Some(self.record.position().map_or(0, |p| p.line())),
            message,
        }
    }

    /// The next row, or `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<Row>, TraceError> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line());
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("expected {expected_len} fields, found {len}"),
                    _ => e.to_string(),
                };
                return Err(TraceError {
                    path: self.display.clone(),
                    line,
                    message,
                });
            }
        }
        let time_s = self.time_of_row()?;
        if time_s < self.last_s {
            return Err(self.error(format!(
                "timestamps go backwards ({:.6} s after the first row, the row before was at {:.6} s); sort the trace by time",
                time_s, self.last_s
            )));
        }
        self.last_s = time_s;
        let service_s = match self.service {
            Some((idx, unit)) => {
                let text = self.field(idx)?;
                let v = parse_number(text).filter(|v| *v >= 0.0).ok_or_else(|| {
                    self.error(format!(
                        "service time {text:?} in column {} is not a number >= 0",
                        idx + 1
                    ))
                })?;
                Some(v * unit.seconds_per_unit())
            }
            None => None,
        };
        let input_tokens = self.tokens(self.input_idx)?;
        let output_tokens = self.tokens(self.output_idx)?;
        let prefix = match self.prefix_idx {
            Some(idx) => {
                let text = self.field(idx)?;
                let hashes = text
                    .split_ascii_whitespace()
                    .map(str::parse::<u64>)
                    .collect::<Result<Box<[u64]>, _>>()
                    .map_err(|_| {
                        self.error(format!(
                            "prefix hashes {text:?} in column {} are not whole numbers separated by spaces",
                            idx + 1
                        ))
                    })?;
                Some(hashes)
            }
            None => None,
        };
        Ok(Some(Row {
            time_s,
            service_s,
            input_tokens,
            output_tokens,
            prefix,
        }))
    }

    fn tokens(&self, idx: Option<usize>) -> Result<Option<u32>, TraceError> {
        let Some(idx) = idx else { return Ok(None) };
        let text = self.field(idx)?;
        text.parse::<u32>().map(Some).map_err(|_| {
            self.error(format!(
                "token count {text:?} in column {} is not a whole number >= 0",
                idx + 1
            ))
        })
    }

    fn field(&self, idx: usize) -> Result<&str, TraceError> {
        let bytes = self.record.get(idx).unwrap_or_default();
        std::str::from_utf8(bytes)
            .map(str::trim)
            .map_err(|_| self.error(format!("column {} is not UTF-8", idx + 1)))
    }

    fn time_of_row(&mut self) -> Result<f64, TraceError> {
        let idx = self.time_idx;
        let text = self.field(idx)?;
        let bad = |what: &str| {
            self.error(format!(
                "timestamp {text:?} in column {} is not {what}",
                idx + 1
            ))
        };
        let value = if self.time_unit == TimeUnit::Datetime {
            Origin::Datetime(
                parse_datetime(text)
                    .ok_or_else(|| bad("a date and time like \"2023-11-16 18:17:03.98\""))?,
            )
        } else {
            Origin::Number(
                parse_number(text).ok_or_else(|| bad("a number (time_unit is numeric)"))?,
            )
        };
        let origin = *self.origin.get_or_insert(value);
        Ok(match (value, origin) {
            (Origin::Number(v), Origin::Number(o)) => (v - o) * self.time_unit.seconds_per_unit(),
            (Origin::Datetime(v), Origin::Datetime(o)) => {
                (v - o).num_nanoseconds().unwrap_or(i64::MAX) as f64 / 1e9
            }
            _ => unreachable!("one unit per trace"),
        })
    }

    /// Reads to the end, checking every row; returns the number of rows and the span in seconds.
    pub fn scan(mut self) -> Result<(u64, f64), TraceError> {
        let mut rows = 0;
        let mut last = 0.0;
        while let Some(row) = self.next_row()? {
            rows += 1;
            last = row.time_s;
        }
        Ok((rows, last))
    }
}

fn parse_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn trace(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_datetimes_relative_to_the_first_row() {
        let f =
            trace("TIMESTAMP,x\n2023-11-16 18:17:03.9799600,1\n2023-11-16 18:17:04.0319600,2\n");
        let mut r = TraceReader::open(
            f.path(),
            "t.csv",
            Columns::time("TIMESTAMP", TimeUnit::Datetime),
        )
        .unwrap();
        assert_eq!(r.next_row().unwrap().unwrap().time_s, 0.0);
        let t = r.next_row().unwrap().unwrap().time_s;
        assert!((t - 0.052).abs() < 1e-9, "{t}");
        assert_eq!(r.next_row().unwrap(), None);
    }

    #[test]
    fn reads_numbers_and_service_times() {
        let f = trace("ts,exec\n1000,0.5\n1250,2\n");
        let mut r = TraceReader::open(
            f.path(),
            "t.csv",
            Columns {
                service: Some(("exec", TimeUnit::S)),
                ..Columns::time("ts", TimeUnit::Ms)
            },
        )
        .unwrap();
        assert_eq!(
            r.next_row().unwrap(),
            Some(Row {
                time_s: 0.0,
                service_s: Some(0.5),
                ..Row::default()
            })
        );
        let row = r.next_row().unwrap().unwrap();
        assert!((row.time_s - 0.25).abs() < 1e-12);
        assert_eq!(row.service_s, Some(2.0));
    }

    #[test]
    fn errors_name_the_line() {
        let f = trace("ts\n1\n2\nabc\n");
        let r = TraceReader::open(f.path(), "t.csv", Columns::time("ts", TimeUnit::S)).unwrap();
        let e = r.scan().unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(
            e.to_string().starts_with("t.csv:4: timestamp \"abc\""),
            "{e}"
        );

        let f = trace("ts\n5\n3\n");
        let e = TraceReader::open(f.path(), "t.csv", Columns::time("ts", TimeUnit::S))
            .unwrap()
            .scan()
            .unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("backwards"));

        let f = trace("ts,b\n5,1\n6\n");
        let e = TraceReader::open(f.path(), "t.csv", Columns::time("ts", TimeUnit::S))
            .unwrap()
            .scan()
            .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");

        let f = trace("ts\n5\n");
        let e = TraceReader::open(f.path(), "t.csv", Columns::time("time", TimeUnit::S))
            .err()
            .unwrap();
        assert!(e.message.contains("no column \"time\""), "{e}");

        let e = TraceReader::open(
            Path::new("/no/such/file.csv"),
            "x.csv",
            Columns::time("t", TimeUnit::S),
        )
        .err()
        .unwrap();
        assert!(e.to_string().starts_with("x.csv: cannot open trace"), "{e}");
    }
}

#[cfg(test)]
mod token_tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_tokens_and_prefix_hashes() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(
            b"timestamp,input_length,output_length,hash_ids\n0,6758,500,0 1 2\n10,7322,490,0 14\n",
        )
        .unwrap();
        let mut r = TraceReader::open(
            f.path(),
            "m.csv",
            Columns {
                input_tokens: Some("input_length"),
                output_tokens: Some("output_length"),
                prefix: Some("hash_ids"),
                ..Columns::time("timestamp", TimeUnit::Ms)
            },
        )
        .unwrap();
        let row = r.next_row().unwrap().unwrap();
        assert_eq!(
            (row.input_tokens, row.output_tokens),
            (Some(6758), Some(500))
        );
        assert_eq!(row.prefix.as_deref(), Some(&[0u64, 1, 2][..]));
        let row = r.next_row().unwrap().unwrap();
        assert_eq!(row.prefix.as_deref(), Some(&[0u64, 14][..]));
    }
}
