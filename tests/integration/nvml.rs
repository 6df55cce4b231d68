//! `NvmlSource` through nvml-wrapper's real FFI path, against the stub library built from
//! `tests/fixtures/nvml_stub.c`, whose readings follow a script with known relationships.
//!
//! The stub keeps one call counter per GPU, shared by every `NvmlSource` in this process:
//! only `samples_follow_the_script` reads GPU 0 and only the ignored timing test reads GPU 1, so
//! their sequences do not interleave.

use std::time::Instant;

use headroom::calibrate::nvml::NvmlSource;
use headroom::calibrate::{GpuSource, SourceError};

use crate::support::{fixture, nvml_stub};

fn open_stub() -> NvmlSource {
    NvmlSource::open(Some(&nvml_stub())).expect("the stub loads")
}

#[test]
fn devices_and_system_come_from_the_stub() {
    let source = open_stub();
    let system = source.system().unwrap();
    assert_eq!(system.driver_version, "550.54.15");
    assert_eq!(system.cuda_version, "12.4");

    let devices = source.devices().unwrap();
    assert_eq!(devices.len(), 2);
    for (i, d) in devices.iter().enumerate() {
        assert_eq!(d.index, i as u32);
        assert_eq!(d.name, "NVIDIA L40S");
        assert_eq!(d.uuid, format!("GPU-stub-{i}"));
        assert_eq!(d.memory_total_mib, 46068.0);
        assert_eq!(d.power_limit_w, 350.0);
        assert_eq!(d.sm_clock_max_mhz, Some(2520.0));
        assert_eq!(d.memory_clock_max_mhz, Some(9001.0));
        assert_eq!(d.sm_count, Some(142));
    }
}

#[test]
fn samples_follow_the_script() {
    let source = open_stub();
    let samples: Vec<_> = (0..200)
        .map(|i| source.sample(0, f64::from(i) * 0.01).unwrap())
        .collect();

    for s in &samples {
        assert_eq!(s.device, 0);
        let u = (s.gpu_util * 100.0).round();
        assert!((0.0..=100.0).contains(&u), "{s:?}");
        assert!((s.gpu_util * 100.0 - u).abs() < 1e-9, "{s:?}");
        assert!(
            (s.power_w - (60.0 + 240.0 * s.gpu_util)).abs() < 1e-9,
            "{s:?}"
        );
        assert!(
            (s.memory_used_mib - (1000.0 + 400.0 * u)).abs() < 1e-9,
            "{s:?}"
        );
        assert!(
            (s.memory_util * 100.0 - (u / 2.0).floor()).abs() < 1e-9,
            "{s:?}"
        );
        assert_eq!(s.temperature_c, Some(40.0 + (u / 5.0).floor()), "{s:?}");
        assert_eq!(s.sm_clock_mhz, Some(1000.0 + 15.0 * u), "{s:?}");
        assert_eq!(s.memory_clock_mhz, Some(9001.0));
        let capped = if s.gpu_util > 0.90 { 0x4 } else { 0 };
        assert_eq!(s.throttle_reasons, capped, "{s:?}");
    }
    // Successive utilizations step by 37 % (mod 101): the stub advanced once per sample.
    for w in samples.windows(2) {
        let (a, b) = (w[0].gpu_util * 100.0, w[1].gpu_util * 100.0);
        assert_eq!((a.round() as i64 + 37) % 101, b.round() as i64);
    }
    // 200 samples cover every utilization from 0 to 100 %, so a fit has the whole range.
    let distinct: std::collections::BTreeSet<i64> = samples
        .iter()
        .map(|s| (s.gpu_util * 100.0).round() as i64)
        .collect();
    assert_eq!(distinct.len(), 101);
    // The energy counter grows by 10 ms at each sample's power.
    for w in samples.windows(2) {
        let (a, b) = (w[0].energy_j.unwrap(), w[1].energy_j.unwrap());
        assert!(
            (b - a - w[1].power_w * 0.01).abs() < 1e-9,
            "{a} J then {b} J"
        );
    }
}

#[test]
fn a_bad_path_is_no_library() {
    let missing = fixture("no-such-libnvidia-ml.so");
    let not_elf = fixture("nvml_stub.c");
    for path in [missing, not_elf] {
        match NvmlSource::open(Some(&path)) {
            Err(e @ SourceError::NoLibrary(_)) => {
                assert!(e.to_string().contains("HEADROOM_NVML_LIB"), "{e}")
            }
            other => panic!("{}: expected NoLibrary, got {other:?}", path.display()),
        }
    }
}

/// The cost of one sample through the FFI path, NVML itself aside. Run with
/// `cargo test --release --test integration nvml::sample_cost -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run by hand"]
fn sample_cost() {
    let source = open_stub();
    let n = 10_000;
    for _ in 0..1_000 {
        source.sample(1, 0.0).unwrap();
    }
    let start = Instant::now();
    for i in 0..n {
        std::hint::black_box(source.sample(1, f64::from(i)).unwrap());
    }
    let mean = start.elapsed() / n;
    println!("NvmlSource::sample against the stub: {mean:?} mean over {n} samples");
}
