//! Why a data file headroom reads (a price catalog, a job trace, GPU samples, a request log)
//! could not be used. Every message names the file, and the line where there is one.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Most bytes of a file read whole (a scenario, a catalog, a profile, a table, samples): far
/// above any real one, so that a mistake of gigabytes is an error rather than an allocation.
pub const MAX_WHOLE_FILE: u64 = 256 << 20;
/// Longest line of a file read as it streams (a trace), bytes.
pub const MAX_LINE: usize = 1 << 20;

/// Opens `path` if it is a regular file: a device (`/dev/zero`) or a pipe may never end.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            if meta.is_dir() {
                "it is a directory"
            } else {
                "not a regular file (a device or a pipe)"
            },
        ));
    }
    Ok(file)
}

/// The bytes of the regular file at `path`, at most [`MAX_WHOLE_FILE`] of them.
pub fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_WHOLE_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_WHOLE_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("larger than {} MiB", MAX_WHOLE_FILE >> 20),
        ));
    }
    Ok(bytes)
}

/// The UTF-8 text of the regular file at `path` (at most [`MAX_WHOLE_FILE`] bytes).
pub fn read_string(path: &Path) -> std::io::Result<String> {
    utf8(read_bytes(path)?).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("line {} column {}: {}", e.line, e.column, e.message()),
        )
    })
}

/// A reader that fails on a line longer than [`MAX_LINE`] (a file with no line ends would
/// otherwise be one record held whole).
pub struct LineLimit<R> {
    inner: R,
    since_newline: usize,
}

impl<R> LineLimit<R> {
    pub fn new(inner: R) -> LineLimit<R> {
        LineLimit {
            inner,
            since_newline: 0,
        }
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match buf[..n].iter().rposition(|&b| b == b'\n') {
            Some(i) => self.since_newline = n - i - 1,
            None => self.since_newline += n,
        }
        if self.since_newline > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a line longer than {} MiB", MAX_LINE >> 20),
            ));
        }
        Ok(n)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataFileError {
    /// The OS's reason is in the message, not a source, so that a chain of errors says it once.
    #[error("cannot read {what} {path}: {error}")]
    Io {
        /// What the file is, in words ("price catalog").
        what: &'static str,
        path: String,
        error: std::io::Error,
    },
    /// The file as a whole: a missing column, no rows.
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{path}:{line}: {message}")]
    Line {
        path: String,
        line: u64,
        message: String,
    },
}

impl DataFileError {
    pub fn file(path: &str, message: impl Into<String>) -> DataFileError {
        DataFileError::File {
            path: path.to_string(),
            message: message.into(),
        }
    }

    pub fn line(path: &str, line: u64, message: impl Into<String>) -> DataFileError {
        DataFileError::Line {
            path: path.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// The text of the file at `path` (`what` it is, for the message) and its name for messages.
pub fn read(path: &Path, what: &'static str) -> Result<(String, String), DataFileError> {
    let name = path.display().to_string();
    let bytes = read_bytes(path).map_err(|error| DataFileError::Io {
        what,
        path: name.clone(),
        error,
    })?;
    match utf8(bytes) {
        Ok(text) => Ok((text, name)),
        Err(e) => Err(DataFileError::line(
            &name,
            e.line as u64,
            format!("column {}: {}", e.column, e.message()),
        )),
    }
}

/// Where a file stops being UTF-8 text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotUtf8 {
    /// One-based line and character column of the first bad byte.
    pub line: usize,
    pub column: usize,
    pub byte: u8,
}

impl NotUtf8 {
    pub fn message(&self) -> String {
        format!(
            "the file is not UTF-8 text (byte 0x{:02x}); save it as UTF-8",
            self.byte
        )
    }
}

/// `bytes` as text, or where they stop being UTF-8.
pub fn utf8(bytes: Vec<u8>) -> Result<String, NotUtf8> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        NotUtf8 {
            line: bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1,
            column: String::from_utf8_lossy(&bytes[line_start..at])
                .chars()
                .count()
                + 1,
            byte: bytes[at],
        }
    })
}

/// A csv error without the position prefix (the caller adds file and line).
pub fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(field) => format!("column {}: {}", field + 1, err.kind()),
            None => err.kind().to_string(),
        },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} columns, found {len}"),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_utf8_text_is_found_at_its_line_and_column() {
        assert_eq!(utf8(b"a,b\n".to_vec()).unwrap(), "a,b\n");
        let e = utf8(b"time,n\n\xc3\xa9t\xe9,1\n".to_vec()).unwrap_err();
        assert_eq!((e.line, e.column, e.byte), (2, 3, 0xe9));
        assert!(e.message().contains("0xe9"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.csv");
        std::fs::write(&path, b"a\n\xff\n").unwrap();
        let err = read(&path, "job trace").unwrap_err().to_string();
        assert!(read(Path::new("/dev/zero"), "job trace").is_err());
        assert!(
            err.ends_with(
                "jobs.csv:2: column 1: the file is not UTF-8 text (byte 0xff); save it as UTF-8"
            ),
            "{err}"
        );
    }
}
