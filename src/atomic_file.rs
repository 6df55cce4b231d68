//! Files the user owns are replaced whole: written to a temporary file beside the target, synced,
//! then renamed over it, so a reader (or a crash) never sees half a file. The rename replaces the
//! file the path leads to, not a symlink on the way (the link stays), and keeps the file's
//! permissions and, where the user may set it, its owner and group; something that is not a
//! regular file (`/dev/null`, a pipe) cannot be replaced and is written in place.
//!
//! On Linux the temporary file has no name while it is written (`O_TMPFILE`): a process killed
//! mid-write (`kill -9`, a crash, power) leaves nothing behind. It gets a name only for the two
//! system calls that link it and rename it over the target. Elsewhere, or on a file system
//! without `O_TMPFILE`, a named temporary file is used and removed on every error.

use std::fs::{File, Metadata};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Symlinks followed before giving up (as the kernel's `ELOOP` limit).
const MAX_LINKS: usize = 40;

/// The file `path` leads to, following symlinks (which may dangle: a link to a file not yet
/// written resolves to where it points).
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Replaces the file at `path` with `bytes` in one rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = resolve(path)?;
    let existing = std::fs::metadata(&target).ok();
    if let Some(m) = &existing
        && !m.is_file()
    {
        // A device or a pipe: there is nothing to replace, and renaming over it would destroy it.
        let mut f = std::fs::OpenOptions::new().write(true).open(&target)?;
        return f.write_all(bytes);
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    #[cfg(target_os = "linux")]
    if let Some(file) = unnamed::create(dir) {
        fill(&file, bytes, existing.as_ref())?;
        match unnamed::link_over(&file, dir, &target) {
            // No `/proc` to name the file by: write a named one instead.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            done => return done,
        }
    }
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(os_error)?;
    tmp.write_all(bytes)?;
    fill(tmp.as_file(), &[], existing.as_ref())?;
    // On an error `tmp` is dropped, which removes it.
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

/// The system's error without the temporary file's name that `tempfile` appends (`… at path
/// "dir/.tmpXXXXXX"`): the user asked for another path, and a name they never gave only
/// confuses. `tempfile` keeps the inner error private, so its message is cut.
fn os_error(e: std::io::Error) -> std::io::Error {
    match e.to_string().split_once(" at path ") {
        Some((message, _)) => std::io::Error::new(e.kind(), message.to_string()),
        None => e,
    }
}

/// Writes `bytes` to `file`, gives it the permissions and owner of the file it replaces, and
/// syncs it.
fn fill(mut file: &File, bytes: &[u8], existing: Option<&Metadata>) -> std::io::Result<()> {
    file.write_all(bytes)?;
    if let Some(m) = existing {
        use std::os::unix::fs::MetadataExt;
        // Only root (or the owner, for a group it belongs to) may; others keep their own.
        let _ = std::os::unix::fs::fchown(file, Some(m.uid()), Some(m.gid()));
        file.set_permissions(m.permissions())?;
    }
    file.sync_all()
}

#[cfg(target_os = "linux")]
mod unnamed {
    use std::fs::File;
    use std::os::unix::io::AsRawFd;
    use std::path::Path;

    use rustix::fs::{AtFlags, CWD, Mode, OFlags};

    /// An unnamed file in `dir`; `None` where the file system or kernel has no `O_TMPFILE`. A
    /// new file gets the usual mode (0666 less the umask); a replaced one, the old file's.
    pub fn create(dir: &Path) -> Option<File> {
        let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(CWD, dir, flags, Mode::from_raw_mode(0o666)).ok()?;
        Some(File::from(fd))
    }

    /// Gives `file` a fresh name in `dir`, then renames it over `target`.
    pub fn link_over(file: &File, dir: &Path, target: &Path) -> std::io::Result<()> {
        let from = format!("/proc/self/fd/{}", file.as_raw_fd());
        let stem = target
            .file_name()
            .map_or("file".into(), |n| n.to_string_lossy().into_owned());
        for attempt in 0..100u32 {
            let name = dir.join(format!(".{stem}.{}.{attempt}.tmp", std::process::id()));
            match rustix::fs::linkat(CWD, from.as_str(), CWD, &name, AtFlags::SYMLINK_FOLLOW) {
                Ok(()) => {}
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => return Err(e.into()),
            }
            return std::fs::rename(&name, target).inspect_err(|_| {
                let _ = std::fs::remove_file(&name);
            });
        }
        Err(std::io::Error::other("no free temporary name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    #[test]
    fn a_file_is_replaced_and_keeps_its_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_atomic(&path, b"first").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn a_missing_folder_is_named_by_the_system_error_alone() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_atomic(&dir.path().join("no/such/r.json"), b"x").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
        assert!(!e.to_string().contains(".tmp"), "{e}");
    }

    #[test]
    fn nothing_is_left_beside_the_file_when_a_write_fails() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails after the data is written.
        let path = dir.path().join("taken");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"x").unwrap();
        assert!(write_atomic(&path, b"data").is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("taken")]);
    }

    #[test]
    fn a_symlink_stays_and_its_target_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        let real = dir.path().join("real/prod.toml");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("prod.toml");
        std::os::unix::fs::symlink("real/prod.toml", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        // A dangling link: the file is created where it points.
        let dangling = dir.path().join("next.toml");
        std::os::unix::fs::symlink("real/next.toml", &dangling).unwrap();
        write_atomic(&dangling, b"made").unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("real/next.toml")).unwrap(),
            b"made"
        );
    }

    #[test]
    fn a_pipe_is_written_through_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"through").unwrap();
        assert_eq!(reader.join().unwrap(), b"through");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }
}
