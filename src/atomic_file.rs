//! Files the user owns are replaced whole: written to a temporary file beside the target, synced,
//! then renamed over it, so a reader (or a crash) never sees half a file.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` in one rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
