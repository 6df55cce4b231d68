//! The fuzzer: mutated scenario files and traces, run as `headroom simulate` runs them (load, the
//! work budget, the whole run), each checked for what a user is promised: an answer (0, 1 or 2),
//! no panic, no hang, bounded memory. A few of them also go through the real binary, whose exit
//! code and standard error are checked the same way.
//!
//! Seeds are the bundled scenarios (their horizon cut to 10 minutes, so that a run is short and
//! a mutation that lengthens it is what the budget must catch), the test fixtures (valid,
//! invalid and hostile) and the bundled traces. A mutation changes values (numbers to 0, -1,
//! 1e308, NaN, huge integers; durations to 0s, 1ns, 1000d; strings to junk), deletes or
//! duplicates keys, flips or cuts bytes, or corrupts a copy of a trace the scenario reads.
//!
//! `cargo test` runs it for 20 seconds; the campaign in the README is
//! `FUZZ_INPUTS=100000 cargo test --release --test fuzz`. Settings (environment):
//! `FUZZ_INPUTS` (stop after this many), `FUZZ_SECONDS` (or after this long; default 20 when
//! `FUZZ_INPUTS` is unset), `FUZZ_SEED`, `FUZZ_HANG_SECONDS` (default 20 for a campaign,
//! 60 for the test suite's short run on a shared machine, 200 in a debug build, which runs about
//! ten times slower), `FUZZ_MAX_GB` (default 2). A failing input is written to `target/fuzz-failures/` and the process exits 1.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use headroom::experiment::budget;
use headroom::experiment::run::{self, RunOptions};
use headroom::scenario;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use toml_edit::{DocumentMut, Item, Value};

/// One seed of the corpus: a scenario's text, the folder its paths resolve from, and a name.
struct Seed {
    name: String,
    text: String,
    dir: PathBuf,
}

/// What an input came to, as `simulate`'s exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    Ok = 0,
    Missed = 1,
    Refused = 2,
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut add = |dir: &Path, shorten: bool| {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            if shorten && let Ok(mut doc) = text.parse::<DocumentMut>() {
                // Short runs: the seed is what is mutated, not what is timed.
                if doc.contains_key("horizon") {
                    doc["horizon"] = toml_edit::value("10m");
                    if doc.contains_key("warmup") {
                        doc["warmup"] = toml_edit::value("1m");
                    }
                }
                if let Some(t) = doc.get_mut("training").and_then(Item::as_table_like_mut)
                    && t.contains_key("replications")
                {
                    t.insert("replications", toml_edit::value(3));
                }
                text = doc.to_string();
            }
            seeds.push(Seed {
                name: f.file_name().unwrap().to_string_lossy().into_owned(),
                text,
                dir: dir.to_path_buf(),
            });
        }
    };
    add(&root().join("scenarios"), true);
    for d in ["valid", "invalid", "hostile"] {
        add(&root().join("tests/fixtures").join(d), true);
    }
    seeds
}

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "1e308",
    "-1e308",
    "1e-300",
    "nan",
    "inf",
    "-inf",
    "0.5",
    "1e9",
    "1e6",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "65536",
    "100000",
    "3e9",
];
const STRINGS: &[&str] = &[
    "\"\"",
    "\"0s\"",
    "\"1ns\"",
    "\"1000d\"",
    "\"3650d\"",
    "\"99999999999d\"",
    "\"-1s\"",
    "\"1e400s\"",
    "\"x\"",
    "\"young-daly\"",
    "\"on-demand\"",
    "\"spot\"",
    "\"\\u0000\"",
    "\"ä\"",
    "\"../../../../etc/passwd\"",
    "\"/dev/zero\"",
    "\"scenarios\"",
];

/// Every value's path in `doc` (tables and inline tables walked).
fn value_paths(item: &Item, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Some(t) = item.as_table_like() {
        for (k, v) in t.iter() {
            prefix.push(k.to_string());
            out.push(prefix.clone());
            value_paths(v, prefix, out);
            prefix.pop();
        }
    }
}

fn at_path<'a>(doc: &'a mut DocumentMut, path: &[String]) -> Option<&'a mut Item> {
    let mut item = doc.as_item_mut();
    for k in path {
        item = item.as_table_like_mut()?.get_mut(k)?;
    }
    Some(item)
}

/// A value, number or string or a whole inline table, parsed from text.
fn value(text: &str) -> Option<Value> {
    text.parse::<Value>().ok()
}

fn pick<'a, T>(rng: &mut StdRng, xs: &'a [T]) -> &'a T {
    &xs[rng.random_range(0..xs.len())]
}

/// One mutation of `text`; may write a corrupt trace under `scratch`.
fn mutate(text: &str, dir: &Path, scratch: &Path, rng: &mut StdRng) -> String {
    let structural = rng.random_bool(0.85);
    if structural && let Ok(mut doc) = text.parse::<DocumentMut>() {
        let mut paths = Vec::new();
        value_paths(doc.as_item(), &mut Vec::new(), &mut paths);
        if paths.is_empty() {
            return text.to_string();
        }
        let times = if rng.random_bool(0.7) {
            1
        } else {
            rng.random_range(2..=4)
        };
        for _ in 0..times {
            let path = pick(rng, &paths).clone();
            let Some(item) = at_path(&mut doc, &path) else {
                continue;
            };
            // Mostly a value of the same kind (a number for a number, a duration for a
            // duration), so that most inputs load and run; sometimes anything.
            let choice = if rng.random_bool(0.15) {
                rng.random_range(0..10)
            } else if item.as_str().is_some_and(|s| s.ends_with(".csv")) {
                8
            } else if item.is_str() {
                [5, 5, 7, 9][rng.random_range(0..4)]
            } else if item.is_integer() || item.is_float() {
                [0, 1, 6, 6][rng.random_range(0..4)]
            } else {
                [7, 9][rng.random_range(0..2)]
            };
            match choice {
                0..=3 => {
                    if let Some(v) = value(pick::<&str>(rng, NUMBERS)) {
                        *item = Item::Value(v);
                    }
                }
                4 => {
                    if let Some(v) = value(pick::<&str>(rng, STRINGS)) {
                        *item = Item::Value(v);
                    }
                }
                5 => {
                    // A duration's number scaled, or a string changed.
                    let s = item.as_str().unwrap_or("").to_string();
                    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
                    let unit = &s[digits.len()..];
                    let new = if !digits.is_empty() && !unit.is_empty() {
                        let n: u64 = digits.parse().unwrap_or(1);
                        let f = *pick(rng, &[0u64, 1, 10, 1000, 1_000_000, 1_000_000_000_000]);
                        format!("\"{}{unit}\"", n.saturating_mul(f))
                    } else {
                        pick::<&str>(rng, STRINGS).to_string()
                    };
                    if let Some(v) = value(&new) {
                        *item = Item::Value(v);
                    }
                }
                6 => {
                    // Scale a number by a power of ten.
                    if let Some(x) = item.as_float() {
                        *item = toml_edit::value(x * 10f64.powi(rng.random_range(-12..=12)));
                    } else if let Some(x) = item.as_integer() {
                        *item =
                            toml_edit::value(x.saturating_mul(10i64.pow(rng.random_range(1..=9))));
                    }
                }
                7 => {
                    // Remove the key.
                    if let Some((last, parent)) = path.split_last()
                        && let Some(t) = at_path(&mut doc, parent).and_then(Item::as_table_like_mut)
                    {
                        t.remove(last);
                    }
                }
                8 => {
                    // A trace the scenario reads, corrupted.
                    if let Some(s) = item.as_str()
                        && s.ends_with(".csv")
                        && let Some(p) = corrupt_trace(&dir.join(s), scratch, rng)
                    {
                        *item = toml_edit::value(p.display().to_string());
                    }
                }
                _ => {
                    // A copy of a table under a new name (a second pool, workload, job).
                    if let Some((last, parent)) = path.split_last()
                        && let Some(t) = at_path(&mut doc, parent).and_then(Item::as_table_like_mut)
                        && let Some(v) = t.get(last).cloned()
                    {
                        t.insert(&format!("{last}-{}", rng.random_range(0..100)), v);
                    }
                }
            }
        }
        return doc.to_string();
    }
    // Bytes: flip, insert, delete or cut.
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..=4) {
        if bytes.is_empty() {
            break;
        }
        let i = rng.random_range(0..bytes.len());
        match rng.random_range(0..4) {
            0 => bytes[i] ^= 1 << rng.random_range(0..8),
            1 => bytes.insert(i, *pick(rng, b"=[]{}\",.0123456789e-\n#\\\xff")),
            2 => {
                bytes.remove(i);
            }
            _ => bytes.truncate(i),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A copy of the trace at `path` (its first rows), corrupted, under `scratch`.
fn corrupt_trace(path: &Path, scratch: &Path, rng: &mut StdRng) -> Option<PathBuf> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines: Vec<String> = text.lines().take(2000).map(String::from).collect();
    for _ in 0..rng.random_range(1..=5) {
        let i = rng.random_range(0..lines.len());
        let junk = pick(
            rng,
            &[
                "",
                "nan",
                "-1",
                "1e308",
                "x",
                ",,,,",
                "9999999999999999999",
                "\u{fffd}",
            ],
        );
        match rng.random_range(0..4) {
            0 => lines[i] = junk.to_string(),
            1 => {
                let mut cells: Vec<String> = lines[i].split(',').map(String::from).collect();
                let c = rng.random_range(0..cells.len());
                cells[c] = junk.to_string();
                lines[i] = cells.join(",");
            }
            2 => lines.insert(i, lines[i].clone()),
            _ => {
                let j = rng.random_range(0..lines.len());
                lines.swap(i, j);
            }
        }
    }
    let out = scratch.join(format!("trace-{}.csv", rng.random_range(0..u32::MAX)));
    std::fs::write(&out, lines.join("\n")).ok()?;
    Some(out)
}

/// Runs one input as `simulate` would; `None` means it panicked.
fn run_one(text: &str, dir: &Path) -> Option<Exit> {
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        let Ok(s) = scenario::parse(text, "fuzz.toml", dir, &[]) else {
            return Exit::Refused;
        };
        if budget::check(&s, 1, false).is_err() {
            return Exit::Refused;
        }
        match run::run(&s, &RunOptions::new(&s, 1)) {
            Ok(o) if o.verdict.passed() => Exit::Ok,
            Ok(_) => Exit::Missed,
            Err(_) => Exit::Refused,
        }
    }))
    .ok()
}

/// Peak resident memory of this process so far, bytes (`VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn save_failure(kind: &str, n: u64, text: &str) -> PathBuf {
    let dir = root().join("target/fuzz-failures");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{kind}-{n}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn main() {
    let inputs: Option<u64> = env("FUZZ_INPUTS");
    let seconds: f64 = env("FUZZ_SECONDS").unwrap_or(if inputs.is_some() {
        f64::INFINITY
    } else {
        20.0
    });
    let seed: u64 = env("FUZZ_SEED").unwrap_or(1);
    // A debug build runs about ten times slower than a release one. The short run of the test
    // suite shares a busy CI machine, where the slowest admitted input (about 15 s of a core
    // alone) can stretch past 20 s without hanging: it calls 60 s a hang; the campaign, 20 s.
    let hang_default = match (cfg!(debug_assertions), inputs.is_some()) {
        (true, _) => 200.0,
        (false, true) => 20.0,
        (false, false) => 60.0,
    };
    let hang = Duration::from_secs_f64(env("FUZZ_HANG_SECONDS").unwrap_or(hang_default));
    let max_bytes = (env::<f64>("FUZZ_MAX_GB").unwrap_or(2.0) * 1e9) as u64;
    let seeds = corpus();
    let bundled = seeds
        .iter()
        .filter(|s| s.dir.ends_with("scenarios"))
        .count();
    let scratch = tempfile::tempdir().unwrap();
    mirror(scratch.path(), &seeds);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let began = Instant::now();
    let next = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let counts = Mutex::new([0u64; 3]);
    let slowest = Mutex::new((Duration::ZERO, String::new()));
    // What each worker is running, and since when: the watchdog's view.
    let current: Vec<Mutex<Option<(Instant, u64, String)>>> =
        (0..threads).map(|_| Mutex::new(None)).collect();
    println!(
        "fuzz: {} seeds, {threads} threads, seed {seed}, {}",
        seeds.len(),
        match inputs {
            Some(n) => format!("{n} inputs"),
            None => format!("{seconds} s"),
        }
    );
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                for c in &current {
                    if let Some((since, n, text)) = &*c.lock().unwrap()
                        && since.elapsed() > hang
                    {
                        let p = save_failure("hang", *n, text);
                        eprintln!(
                            "fuzz: HANG: input {n} ran over {hang:?}; saved to {}",
                            p.display()
                        );
                        std::process::exit(1);
                    }
                }
                let rss = peak_rss();
                if rss > max_bytes {
                    for c in &current {
                        if let Some((_, n, text)) = &*c.lock().unwrap() {
                            save_failure("memory", *n, text);
                        }
                    }
                    eprintln!(
                        "fuzz: MEMORY: {rss} bytes, over {max_bytes}; inputs in flight saved"
                    );
                    std::process::exit(1);
                }
            }
        });
        let workers: Vec<_> = (0..threads)
            .map(|w| {
                let (seeds, scratch, next, counts, slowest, current, done) = (
                    &seeds,
                    scratch.path(),
                    &next,
                    &counts,
                    &slowest,
                    &current,
                    &done,
                );
                s.spawn(move || {
                    // One rayon thread per worker: the workers are the parallelism.
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(1)
                        .build()
                        .unwrap();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if inputs.is_some_and(|max| n >= max)
                            || began.elapsed().as_secs_f64() > seconds
                        {
                            break;
                        }
                        let mut rng =
                            StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9).wrapping_add(n));
                        // The bundled scenarios (the first seeds) three times as often as
                        // the fixtures, most of which are refused however they are mutated.
                        let i = rng.random_range(0..seeds.len() + 2 * bundled);
                        let base = &seeds[if i < seeds.len() {
                            i
                        } else {
                            (i - seeds.len()) % bundled
                        }];
                        let text = mutate(&base.text, &base.dir, scratch, &mut rng);
                        *current[w].lock().unwrap() = Some((Instant::now(), n, text.clone()));
                        let t0 = Instant::now();
                        let exit = pool.install(|| run_one(&text, &base.dir));
                        let took = t0.elapsed();
                        *current[w].lock().unwrap() = None;
                        let Some(exit) = exit else {
                            let p = save_failure("panic", n, &text);
                            eprintln!(
                                "fuzz: PANIC on input {n} (from {}); saved to {}",
                                base.name,
                                p.display()
                            );
                            std::process::exit(1);
                        };
                        counts.lock().unwrap()[exit as usize] += 1;
                        let mut sl = slowest.lock().unwrap();
                        if took > sl.0 {
                            *sl = (took, base.name.clone());
                            // Kept to look at, not a failure.
                            save_failure("slowest", 0, &text);
                        }
                        drop(sl);
                        // One in fifty through the real binary: its exit code and stderr.
                        if n % 50 == 0 {
                            binary(&text, &base.dir, scratch, n, exit);
                        }
                    }
                    done.load(Ordering::Relaxed)
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    let c = counts.lock().unwrap();
    let total: u64 = c.iter().sum();
    let (slow, slow_seed) = slowest.lock().unwrap().clone();
    println!(
        "fuzz: {total} inputs in {:.0} s: exit 0 {}, exit 1 {}, exit 2 {}; 0 panics, 0 hangs (> {hang:?}); slowest {:.2} s (from {slow_seed}); peak memory {:.0} MB (limit {:.0})",
        began.elapsed().as_secs_f64(),
        c[0],
        c[1],
        c[2],
        slow.as_secs_f64(),
        peak_rss() as f64 / 1e6,
        max_bytes as f64 / 1e6,
    );
}

/// The folders of the seeds, and their parents, under `scratch/mirror` as folders of links to
/// what the real ones hold: a file written there resolves `traces/x.csv` and `../tables/y`
/// as the seed did, and nothing is written into the source tree.
fn mirror(scratch: &Path, seeds: &[Seed]) {
    let root = root();
    for s in seeds {
        let rel = s.dir.strip_prefix(&root).unwrap();
        for d in [Some(rel), rel.parent()].into_iter().flatten() {
            let to = scratch.join("mirror").join(d);
            std::fs::create_dir_all(&to).unwrap();
            for e in std::fs::read_dir(root.join(d)).unwrap() {
                let e = e.unwrap();
                let link = to.join(e.file_name());
                if !link.exists() {
                    let _ = std::os::unix::fs::symlink(e.path(), link);
                }
            }
        }
    }
}

/// Runs `text` through the built binary (in the mirror of the seed's folder, so its paths
/// resolve): the same exit code as in-process, and no panic message.
fn binary(text: &str, dir: &Path, scratch: &Path, n: u64, expected: Exit) {
    let Some(bin) = option_env!("CARGO_BIN_EXE_headroom") else {
        return;
    };
    let rel = dir.strip_prefix(root()).unwrap();
    let file = scratch
        .join("mirror")
        .join(rel)
        .join(format!("fuzz-{n}.toml"));
    if std::fs::write(&file, text).is_err() {
        return;
    }
    let out = std::process::Command::new(bin)
        .args(["simulate", "--threads", "1"])
        .arg(&file)
        .current_dir(scratch)
        .output();
    let _ = std::fs::remove_file(&file);
    let out = out.expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    if code != Some(expected as i32) || err.contains("panicked") {
        let p = save_failure("binary", n, text);
        eprintln!(
            "fuzz: the binary exited {code:?} (in-process {}) on input {n}; saved to {}\n{err}",
            expected as i32,
            p.display()
        );
        std::process::exit(1);
    }
}
