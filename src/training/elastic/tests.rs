use proptest::prelude::*;
use rand::{RngExt, SeedableRng};

use super::*;
use crate::training::cluster::{ClusterStats, schedule};

const NEVER: Elastic = Elastic {
    checkpoint_interval_s: f64::INFINITY,
    restart_s: 0.0,
};

fn job(submit_s: f64, duration_s: f64, gpus: u32) -> ClusterJob {
    ClusterJob {
        submit_s,
        duration_s,
        gpus,
        priority: 0,
    }
}

/// `n` jobs arriving every 0–30 s, 1–500 s long, sizes drawn from `sizes`, priorities 0–2.
fn stream(seed: u64, n: usize, sizes: &[u32]) -> Vec<ClusterJob> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut t = 0.0;
    (0..n)
        .map(|_| {
            t += rng.random_range(0.0..30.0);
            let mut j = job(
                t,
                rng.random_range(1.0..500.0),
                sizes[rng.random_range(0..sizes.len())],
            );
            j.priority = rng.random_range(0..3);
            j
        })
        .collect()
}

fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-9)
}

const POLICIES: [Policy; 3] = [Policy::Fifo, Policy::Backfill, Policy::Priority];

#[test]
fn constant_capacity_gives_the_fixed_schedule() {
    // Sizes up to 64 on 32 GPUs: some jobs are rejected by both.
    let jobs = stream(3, 2000, &[1, 1, 2, 4, 8, 16, 64]);
    for policy in POLICIES {
        let fixed = schedule(&jobs, 32, policy);
        let e = run(&jobs, &Capacity::Steps(vec![(0.0, 32)]), policy, &NEVER);
        assert!(same(&e.first_start_s, &fixed.start_s), "{policy:?}");
        assert!(e.preemptions.iter().all(|&p| p == 0));
        let fixed_stats = ClusterStats::of(&jobs, &fixed);
        let stats = ElasticStats::of(&jobs, &e);
        assert_eq!(stats.gpu_hours.wasted, 0.0);
        // Provisioned GPU-hours are summed between events here, a product there.
        let mut cluster = stats.cluster.clone();
        assert!(close(
            cluster.gpu_hours_provisioned,
            fixed_stats.gpu_hours_provisioned,
            1e-12
        ));
        cluster.gpu_hours_provisioned = fixed_stats.gpu_hours_provisioned;
        assert_eq!(cluster, fixed_stats, "{policy:?}");
    }
}

#[test]
fn a_job_yields_to_a_capacity_drop_and_resumes_from_its_checkpoint() {
    // 8 GPUs; one job of 8 GPUs for 100 s, a checkpoint every 30 s of progress; capacity is
    // 0 from 50 s to 80 s. At 50 s it has 50 s of progress, 30 s checkpointed: it loses 20 s,
    // restarts at 80 s, pays 5 s, and runs the remaining 70 s.
    let jobs = [job(0.0, 100.0, 8)];
    let cap = Capacity::Steps(vec![(0.0, 8), (50.0, 0), (80.0, 8)]);
    let e = Elastic {
        checkpoint_interval_s: 30.0,
        restart_s: 5.0,
    };
    let s = run(&jobs, &cap, Policy::Fifo, &e);
    assert_eq!(s.first_start_s, vec![0.0]);
    assert_eq!(s.end_s, vec![155.0]);
    assert_eq!(s.preemptions, vec![1]);
    assert_eq!(
        s.runs,
        vec![
            Run {
                job: 0,
                start_s: 0.0,
                end_s: 50.0,
                restart_s: 0.0,
                kept_s: 30.0,
                preempted: true
            },
            Run {
                job: 0,
                start_s: 80.0,
                end_s: 155.0,
                restart_s: 5.0,
                kept_s: 70.0,
                preempted: false
            },
        ]
    );
    // GPU-seconds: 8 × (50 + 75) provisioned = 8 × 100 used + 8 × (20 + 5) wasted.
    let h = |gs: f64| gs / 3600.0;
    assert_eq!(
        s.gpu_hours,
        GpuHours {
            provisioned: h(1000.0),
            used: h(800.0),
            wasted: h(200.0),
            idle: 0.0
        }
    );
    assert_eq!(s.capacity_steps, vec![(0.0, 8), (50.0, 0), (80.0, 8)]);
    // Without checkpoints it starts over: 80 + 5 + 100.
    let e = Elastic {
        checkpoint_interval_s: f64::INFINITY,
        restart_s: 5.0,
    };
    let s = run(&jobs, &cap, Policy::Fifo, &e);
    assert_eq!(s.end_s, vec![185.0]);
    assert_eq!(s.gpu_hours.wasted, h(8.0 * 55.0));
}

#[test]
fn the_latest_started_yield_first_and_requeue_in_submission_order() {
    // A (4 GPUs) starts at 0; B and C (2 each) both start at 1. D (2) arrives at 15.
    let jobs = [
        job(0.0, 100.0, 4),
        job(1.0, 100.0, 2),
        job(1.0, 100.0, 2),
        job(15.0, 100.0, 2),
    ];
    // 8 → 6 at 10 s: C goes (same start as B, larger index). 6 → 4 at 20 s: B goes.
    // 4 → 8 at 30 s: B and C, ahead of D in submission order, take the 4 free GPUs.
    let cap = Capacity::Steps(vec![(0.0, 8), (10.0, 6), (20.0, 4), (30.0, 8)]);
    let s = run(&jobs, &cap, Policy::Fifo, &NEVER);
    assert_eq!(s.preemptions, vec![0, 1, 1, 0]);
    assert_eq!(s.first_start_s, vec![0.0, 1.0, 1.0, 100.0]);
    assert_eq!(s.end_s, vec![100.0, 130.0, 130.0, 200.0]);
    // Under priority, D (priority 1) goes first and C waits for A.
    let mut jobs = jobs;
    jobs[3].priority = 1;
    let s = run(&jobs, &cap, Policy::Priority, &NEVER);
    assert_eq!(s.end_s, vec![100.0, 130.0, 200.0, 130.0]);
}

#[test]
fn an_autoscaled_cluster_provisions_for_the_head_and_releases_idle_nodes() {
    // 8-GPU nodes, none held at first, 60 s to provision, released after 600 s idle.
    let cap = Capacity::Autoscaled {
        gpus_per_node: 8,
        min_nodes: 0,
        max_nodes: 4,
        provision_s: 60.0,
        idle_release_s: 600.0,
    };
    // A (8 GPUs, 100 s) at 0 s starts at 60 s when its node arrives and ends at 160 s; the
    // node is released at 760 s. B (16 GPUs) at 1000 s asks for two nodes: 1060 s to 1160 s.
    let jobs = [job(0.0, 100.0, 8), job(1000.0, 100.0, 16)];
    let s = run(&jobs, &cap, Policy::Fifo, &NEVER);
    assert_eq!(s.first_start_s, vec![60.0, 1060.0]);
    assert_eq!(s.end_s, vec![160.0, 1160.0]);
    assert_eq!(s.capacity_steps, vec![(0.0, 8), (760.0, 0), (1000.0, 16)]);
    // GPU-seconds: 8 × 760 + 16 × 160 provisioned, 8 × 100 + 16 × 100 used.
    let gs = |h: f64| h * 3600.0;
    assert!(close(gs(s.gpu_hours.provisioned), 8640.0, 1e-12));
    assert!(close(gs(s.gpu_hours.used), 2400.0, 1e-12));
    assert!(close(gs(s.gpu_hours.idle), 6240.0, 1e-12));
    assert_eq!(s.gpu_hours.wasted, 0.0);

    // A second job of 8 arriving while A's node is on its way does not ask again: the head
    // (A) is covered. It asks when it becomes the head at 60 s and starts at 120 s.
    let jobs = [job(0.0, 100.0, 8), job(10.0, 100.0, 8)];
    let s = run(&jobs, &cap, Policy::Fifo, &NEVER);
    assert_eq!(s.first_start_s, vec![60.0, 120.0]);
    assert_eq!(s.capacity_steps, vec![(0.0, 8), (60.0, 16)]);

    // Jobs larger than max_nodes × 8 are rejected; min_nodes are held from the start.
    let cap = Capacity::Autoscaled {
        gpus_per_node: 8,
        min_nodes: 1,
        max_nodes: 2,
        provision_s: 60.0,
        idle_release_s: 0.0,
    };
    let jobs = [job(0.0, 100.0, 8), job(5.0, 100.0, 24)];
    let s = run(&jobs, &cap, Policy::Fifo, &NEVER);
    assert_eq!(s.first_start_s[0], 0.0);
    assert!(s.first_start_s[1].is_nan());
    assert_eq!(s.capacity_steps, vec![(0.0, 8)]);
}

#[test]
fn invalid_settings_are_named() {
    let e = Capacity::Steps(vec![(0.0, 8), (0.0, 4)]).validate();
    assert_eq!(
        e,
        Err(ElasticError::StepTime {
            index: 1,
            time_s: 0.0
        })
    );
    let e = Elastic {
        checkpoint_interval_s: 0.0,
        restart_s: 1.0,
    }
    .validate()
    .unwrap_err();
    assert!(
        e.to_string().starts_with("checkpoint_interval_s is 0"),
        "{e}"
    );
}

/// Checks a schedule against its jobs and the capacity it promised: GPUs in use never exceed
/// the capacity, runs are consistent with their jobs, and GPU-hours are conserved.
fn check(jobs: &[ClusterJob], s: &ElasticSchedule, e: &Elastic) {
    // GPUs in use over time from the runs, checked after every change at a time and at every
    // capacity step.
    let mut changes: Vec<(f64, i64)> = Vec::new();
    for r in &s.runs {
        let g = i64::from(jobs[r.job].gpus);
        changes.push((r.start_s, g));
        changes.push((r.end_s, -g));
    }
    changes.extend(s.capacity_steps.iter().map(|&(t, _)| (t, 0)));
    changes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let capacity_at = |t: f64| {
        let i = s.capacity_steps.partition_point(|c| c.0 <= t);
        s.capacity_steps[i.max(1) - 1].1
    };
    let mut in_use = 0i64;
    for (i, &(t, d)) in changes.iter().enumerate() {
        in_use += d;
        if changes.get(i + 1).is_none_or(|n| n.0 > t) {
            assert!(
                in_use <= i64::from(capacity_at(t)),
                "{in_use} GPUs at {t} s"
            );
        }
    }
    assert_eq!(in_use, 0);
    // Runs: each job's runs follow each other, start after submission, keep what they claim.
    let mut kept = vec![0.0; jobs.len()];
    let mut last_end = vec![f64::NEG_INFINITY; jobs.len()];
    let mut preempted = vec![0; jobs.len()];
    let mut runs = s.runs.clone();
    runs.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    for r in &runs {
        let j = &jobs[r.job];
        assert!(r.start_s >= j.submit_s && r.start_s >= last_end[r.job]);
        last_end[r.job] = r.end_s;
        assert!(r.kept_s >= 0.0);
        if r.preempted {
            preempted[r.job] += 1;
            let lost = (r.end_s - r.start_s - r.restart_s).max(0.0) - r.kept_s;
            assert!(
                lost >= -1e-9 && lost <= e.checkpoint_interval_s + 1e-9,
                "{r:?}"
            );
        } else {
            assert_eq!(r.end_s, s.end_s[r.job]);
        }
        kept[r.job] += r.kept_s;
    }
    let mut used = 0.0;
    for (i, j) in jobs.iter().enumerate() {
        assert_eq!(preempted[i], s.preemptions[i]);
        if !s.end_s[i].is_nan() {
            assert!(close(kept[i], j.duration_s, 1e-9), "job {i}");
            used += j.duration_s * f64::from(j.gpus) / 3600.0;
        }
    }
    // GPU-hours: the runs' and the idle integral add up to the capacity's.
    let h = s.gpu_hours;
    assert!(close(h.used, used, 1e-9), "{h:?} vs used {used}");
    assert!(
        close(h.used + h.wasted + h.idle, h.provisioned, 1e-6),
        "{h:?}"
    );
    let end = s
        .runs
        .iter()
        .map(|r| r.end_s)
        .fold(jobs[0].submit_s, f64::max);
    let mut area = 0.0;
    for (i, &(t, c)) in s.capacity_steps.iter().enumerate() {
        let next = s.capacity_steps.get(i + 1).map_or(end, |n| n.0);
        area += f64::from(c) * (next - t) / 3600.0;
    }
    assert!(close(area, h.provisioned, 1e-6), "{area} vs {h:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn yielding_keeps_capacity_and_conserves_gpu_hours(
        seed in any::<u64>(),
        policy in 0..3usize,
        interval in prop_oneof![Just(f64::INFINITY), 5.0..200.0f64],
        restart_s in 0.0..60.0f64,
    ) {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        // 400 jobs over about 100 min; capacity 8–40 GPUs changing every 0–300 s; jobs of 16 may
        // strand when it ends low, and jobs of 64 never run.
        let jobs = stream(seed, 400, &[1, 1, 2, 4, 8, 8, 16, 64]);
        let mut steps = vec![(0.0, 32)];
        let mut t = 0.0;
        for _ in 0..60 {
            t += rng.random_range(1.0..300.0);
            steps.push((t, rng.random_range(8..=40)));
        }
        let min = steps.iter().map(|s| s.1).min().unwrap();
        let e = Elastic { checkpoint_interval_s: interval, restart_s };
        let s = run(&jobs, &Capacity::Steps(steps.clone()), POLICIES[policy], &e);
        check(&jobs, &s, &e);
        for &(t, c) in &s.capacity_steps {
            let i = steps.partition_point(|s| s.0 <= t);
            prop_assert_eq!(c, steps[i - 1].1);
        }
        let max = steps.iter().map(|s| s.1).max().unwrap();
        for (j, en) in jobs.iter().zip(&s.end_s) {
            if j.gpus <= min {
                prop_assert!(!en.is_nan());
            }
            if j.gpus > max {
                prop_assert!(en.is_nan());
            }
        }
        prop_assert!(s.preemptions.iter().any(|&p| p > 0));
    }

    #[test]
    fn autoscaling_stays_within_its_nodes_and_finishes_every_job(
        seed in any::<u64>(),
        policy in 0..3usize,
        min_nodes in 0..3u32,
        extra_nodes in 1..6u32,
        provision_s in 0.0..400.0f64,
        idle_release_s in prop_oneof![Just(f64::INFINITY), 0.0..900.0f64],
    ) {
        let jobs = stream(seed, 400, &[1, 1, 2, 4, 8, 8, 16, 64]);
        let max_nodes = min_nodes + extra_nodes;
        let cap = Capacity::Autoscaled {
            gpus_per_node: 8,
            min_nodes,
            max_nodes,
            provision_s,
            idle_release_s,
        };
        let s = run(&jobs, &cap, POLICIES[policy], &NEVER);
        check(&jobs, &s, &NEVER);
        prop_assert!(s.capacity_steps.iter().all(|&(_, c)| c <= 8 * max_nodes));
        prop_assert!(s.preemptions.iter().all(|&p| p == 0));
        for (j, en) in jobs.iter().zip(&s.end_s) {
            prop_assert_eq!(en.is_nan(), j.gpus > 8 * max_nodes);
        }
    }
}
