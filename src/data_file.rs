//! Why a data file headroom reads (a price catalog, a job trace, GPU samples, a request log)
//! could not be used. Every message names the file, and the line where there is one.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum DataFileError {
    #[error("cannot read {what} {path}: {source}")]
    Io {
        /// What the file is, in words ("price catalog").
        what: &'static str,
        path: String,
        source: std::io::Error,
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
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, name)),
        Err(source) => Err(DataFileError::Io {
            what,
            path: name,
            source,
        }),
    }
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
