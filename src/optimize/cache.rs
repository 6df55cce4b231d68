//! The capacity cache on disk: one JSON file per curve, named by a hash of its key, holding the
//! key and the curve. The front ends open it and hand it to the planner as its
//! [`CurveStore`]; planning itself reads and writes no files.
//!
//! A stored curve is used only when its whole key matches, which includes the size and time of
//! change of a replayed trace file as they are now, so editing the trace measures again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::capacity::{Curve, CurveKey, CurveStore};

/// The folder curves are kept in, or none (`--no-cache`: measure every time, keep nothing).
#[derive(Clone, Debug, Default)]
pub struct CapacityCache {
    dir: Option<PathBuf>,
}

impl CapacityCache {
    /// Curves in `dir`; `None` keeps nothing.
    pub fn at(dir: Option<PathBuf>) -> CapacityCache {
        CapacityCache { dir }
    }
}

impl CurveStore for CapacityCache {
    fn get(&self, key: &CurveKey) -> Option<Curve> {
        let key = text(key);
        let text = std::fs::read_to_string(cache_file(self.dir.as_deref()?, &key)).ok()?;
        let c: Cached = serde_json::from_str(&text).ok()?;
        (c.key == key).then_some(c.curve)
    }

    /// Best effort: a cache that cannot be written only makes the next run slower.
    fn put(&mut self, key: &CurveKey, curve: &Curve) {
        let Some(dir) = self.dir.as_deref() else {
            return;
        };
        let _ = std::fs::create_dir_all(dir);
        let entry = Cached {
            key: text(key),
            curve: curve.clone(),
        };
        if let Ok(text) = serde_json::to_string_pretty(&entry)
            && let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir)
        {
            use std::io::Write;
            if tmp.write_all(text.as_bytes()).is_ok() {
                let _ = tmp.persist(cache_file(dir, &entry.key));
            }
        }
    }
}

/// The key as stored: with the trace file's size and time of change as they are now.
fn text(key: &CurveKey) -> String {
    let stamp = key.trace.as_ref().map_or(String::new(), |path| {
        let meta = std::fs::metadata(path).ok();
        format!(
            "{:?} {:?}",
            meta.as_ref().map(std::fs::Metadata::len),
            meta.and_then(|m| m.modified().ok())
        )
    });
    key.text(&stamp)
}

/// FNV-1a, stable across builds and platforms (the standard hasher is not promised to be).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Serialize, Deserialize)]
struct Cached {
    key: String,
    curve: Curve,
}

fn cache_file(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("capacity-{:016x}.json", fnv1a(key)))
}

/// The default cache folder: `$HEADROOM_CACHE`, else `$XDG_CACHE_HOME/headroom`, else
/// `~/.cache/headroom`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("HEADROOM_CACHE") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("headroom"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("headroom"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable() {
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
