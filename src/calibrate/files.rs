//! What a calibration writes: the folders first, so a long measurement is never lost to a
//! missing `profiles/`; then the samples and the profile, each replaced whole
//! ([`crate::atomic_file`]).

use std::path::Path;

use super::build_profile::Context;
use super::samples;
use super::source::Sample;
use crate::atomic_file::write_atomic;
use crate::profile::Profile;

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot create the folder {0}")]
    Folder(String, #[source] std::io::Error),
    #[error("cannot write {0}")]
    File(String, #[source] std::io::Error),
}

/// Makes the folder of each file that will be written.
pub fn make_folders(files: &[Option<&Path>]) -> Result<(), WriteError> {
    for path in files.iter().flatten() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| WriteError::Folder(dir.display().to_string(), e))?;
        }
    }
    Ok(())
}

/// Writes `samples` as CSV after the lines that say what `ctx` measured.
pub fn write_samples(path: &Path, ctx: &Context, samples: &[Sample]) -> Result<(), WriteError> {
    let text = samples::to_csv(&samples::header(ctx), samples);
    write(path, &text)
}

/// Writes `profile` as TOML.
pub fn write_profile(path: &Path, profile: &Profile) -> Result<(), WriteError> {
    write(path, &profile.to_toml())
}

fn write(path: &Path, text: &str) -> Result<(), WriteError> {
    write_atomic(path, text.as_bytes()).map_err(|e| WriteError::File(path.display().to_string(), e))
}
