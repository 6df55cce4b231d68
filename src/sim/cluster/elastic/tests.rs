use proptest::prelude::*;
use rand::{RngExt, SeedableRng};

use super::*;
use crate::sim::cluster::tests::job;
use crate::sim::cluster::{ClusterStats, Job, schedule};

const NEVER: Elastic = Elastic {
    checkpoint_interval_s: f64::INFINITY,
    restart_s: 0.0,
};

fn s(secs: u64) -> SimTime {
    SimTime::from_secs(secs)
}

fn at(secs: &[u64]) -> Vec<Option<SimTime>> {
    secs.iter().map(|&x| Some(s(x))).collect()
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
        assert_eq!(e.first_start, fixed.start, "{policy:?}");
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
    let r = run(&jobs, &cap, Policy::Fifo, &e);
    assert_eq!(r.first_start, at(&[0]));
    assert_eq!(r.end, at(&[155]));
    assert_eq!(r.preemptions, vec![1]);
    assert_eq!(
        r.runs,
        vec![
            Run {
                job: 0,
                start: s(0),
                end: s(50),
                restart: s(0),
                kept: s(30),
                preempted: true
            },
            Run {
                job: 0,
                start: s(80),
                end: s(155),
                restart: s(5),
                kept: s(70),
                preempted: false
            },
        ]
    );
    // GPU-seconds: 8 × (50 + 75) provisioned = 8 × 100 used + 8 × (20 + 5) wasted.
    let h = |gs: f64| gs / 3600.0;
    assert_eq!(
        r.gpu_hours,
        GpuHours {
            provisioned: h(1000.0),
            used: h(800.0),
            wasted: h(200.0),
            idle: 0.0
        }
    );
    assert_eq!(r.capacity_steps, vec![(s(0), 8), (s(50), 0), (s(80), 8)]);
    // Without checkpoints it starts over: 80 + 5 + 100.
    let e = Elastic {
        checkpoint_interval_s: f64::INFINITY,
        restart_s: 5.0,
    };
    let r = run(&jobs, &cap, Policy::Fifo, &e);
    assert_eq!(r.end, at(&[185]));
    assert_eq!(r.gpu_hours.wasted, h(8.0 * 55.0));
}

#[test]
fn a_checkpoint_interval_under_a_nanosecond_is_one() {
    // 1e-12 s rounds to no time at all; taken as 1 ns, the job keeps all 50 s of its progress
    // (and the run does not divide by zero).
    let jobs = [job(0.0, 100.0, 8)];
    let cap = Capacity::Steps(vec![(0.0, 8), (50.0, 0), (80.0, 8)]);
    let e = Elastic {
        checkpoint_interval_s: 1e-12,
        restart_s: 5.0,
    };
    let r = run(&jobs, &cap, Policy::Fifo, &e);
    assert_eq!(r.runs[0].kept, s(50));
    assert_eq!(r.end, at(&[135]));
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
    let r = run(&jobs, &cap, Policy::Fifo, &NEVER);
    assert_eq!(r.preemptions, vec![0, 1, 1, 0]);
    assert_eq!(r.first_start, at(&[0, 1, 1, 100]));
    assert_eq!(r.end, at(&[100, 130, 130, 200]));
    // Under priority, D (priority 1) goes first and C waits for A.
    let mut jobs = jobs;
    jobs[3].priority = 1;
    let r = run(&jobs, &cap, Policy::Priority, &NEVER);
    assert_eq!(r.end, at(&[100, 130, 200, 130]));
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
    let r = run(&jobs, &cap, Policy::Fifo, &NEVER);
    assert_eq!(r.first_start, at(&[60, 1060]));
    assert_eq!(r.end, at(&[160, 1160]));
    assert_eq!(
        r.capacity_steps,
        vec![(s(0), 8), (s(760), 0), (s(1000), 16)]
    );
    // GPU-seconds: 8 × 760 + 16 × 160 provisioned, 8 × 100 + 16 × 100 used.
    let gs = |h: f64| h * 3600.0;
    assert!(close(gs(r.gpu_hours.provisioned), 8640.0, 1e-12));
    assert!(close(gs(r.gpu_hours.used), 2400.0, 1e-12));
    assert!(close(gs(r.gpu_hours.idle), 6240.0, 1e-12));
    assert_eq!(r.gpu_hours.wasted, 0.0);

    // A second job of 8 arriving while A's node is on its way does not ask again: the head
    // (A) is covered. It asks when it becomes the head at 60 s and starts at 120 s.
    let jobs = [job(0.0, 100.0, 8), job(10.0, 100.0, 8)];
    let r = run(&jobs, &cap, Policy::Fifo, &NEVER);
    assert_eq!(r.first_start, at(&[60, 120]));
    assert_eq!(r.capacity_steps, vec![(s(0), 8), (s(60), 16)]);

    // Jobs larger than max_nodes × 8 are rejected; min_nodes are held from the start.
    let cap = Capacity::Autoscaled {
        gpus_per_node: 8,
        min_nodes: 1,
        max_nodes: 2,
        provision_s: 60.0,
        idle_release_s: 0.0,
    };
    let jobs = [job(0.0, 100.0, 8), job(5.0, 100.0, 24)];
    let r = run(&jobs, &cap, Policy::Fifo, &NEVER);
    assert_eq!(r.first_start, vec![Some(s(0)), None]);
    assert_eq!(r.capacity_steps, vec![(s(0), 8)]);
}

/// Checks a schedule against its jobs and the capacity it promised: GPUs in use never exceed
/// the capacity, runs are consistent with their jobs, and GPU-hours are conserved.
fn check(jobs: &[ClusterJob], r: &ElasticSchedule, e: &Elastic) {
    let timed = Job::all(jobs);
    // GPUs in use over time from the runs, checked after every change at a time and at every
    // capacity step.
    let mut changes: Vec<(SimTime, i64)> = Vec::new();
    for run in &r.runs {
        let g = i64::from(jobs[run.job].gpus);
        changes.push((run.start, g));
        changes.push((run.end, -g));
    }
    changes.extend(r.capacity_steps.iter().map(|&(t, _)| (t, 0)));
    changes.sort_by_key(|c| c.0);
    let capacity_at = |t: SimTime| {
        let i = r.capacity_steps.partition_point(|c| c.0 <= t);
        r.capacity_steps[i.max(1) - 1].1
    };
    let mut in_use = 0i64;
    for (i, &(t, d)) in changes.iter().enumerate() {
        in_use += d;
        if changes.get(i + 1).is_none_or(|n| n.0 > t) {
            assert!(in_use <= i64::from(capacity_at(t)), "{in_use} GPUs at {t}");
        }
    }
    assert_eq!(in_use, 0);
    // Runs: each job's runs follow each other, start after submission, keep what they claim;
    // on the integer clock, exactly.
    let interval = SimTime::from_secs_f64(e.checkpoint_interval_s).max(SimTime(1));
    let mut kept = vec![SimTime::ZERO; jobs.len()];
    let mut last_end = vec![SimTime::ZERO; jobs.len()];
    let mut preempted = vec![0; jobs.len()];
    let mut runs = r.runs.clone();
    runs.sort_by_key(|run| run.start);
    for run in &runs {
        let j = &timed[run.job];
        assert!(run.start >= j.submit && run.start >= last_end[run.job]);
        last_end[run.job] = run.end;
        if run.preempted {
            preempted[run.job] += 1;
            let trained = run
                .end
                .saturating_sub(run.start.saturating_add(run.restart));
            assert!(run.kept <= trained, "{run:?}");
            assert!(trained.0 - run.kept.0 < interval.0, "{run:?}");
        } else {
            assert_eq!(Some(run.end), r.end[run.job]);
        }
        kept[run.job] = kept[run.job].saturating_add(run.kept);
    }
    let mut used = 0.0;
    for (i, j) in timed.iter().enumerate() {
        assert_eq!(preempted[i], r.preemptions[i]);
        if r.end[i].is_some() {
            assert_eq!(kept[i], j.duration, "job {i}");
            used += j.duration.as_secs_f64() * f64::from(j.gpus) / 3600.0;
        }
    }
    // GPU-hours: the runs' and the idle integral add up to the capacity's.
    let h = r.gpu_hours;
    assert!(close(h.used, used, 1e-9), "{h:?} vs used {used}");
    assert!(
        close(h.used + h.wasted + h.idle, h.provisioned, 1e-6),
        "{h:?}"
    );
    let end = r
        .runs
        .iter()
        .map(|r| r.end)
        .fold(timed[0].submit, SimTime::max);
    let mut area = 0.0;
    for (i, &(t, c)) in r.capacity_steps.iter().enumerate() {
        let next = r.capacity_steps.get(i + 1).map_or(end, |n| n.0);
        area += f64::from(c) * next.saturating_sub(t).as_secs_f64() / 3600.0;
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
        let r = run(&jobs, &Capacity::Steps(steps.clone()), POLICIES[policy], &e);
        check(&jobs, &r, &e);
        for &(t, c) in &r.capacity_steps {
            let i = steps.partition_point(|s| SimTime::from_secs_f64(s.0) <= t);
            prop_assert_eq!(c, steps[i - 1].1);
        }
        let max = steps.iter().map(|s| s.1).max().unwrap();
        for (j, en) in jobs.iter().zip(&r.end) {
            if j.gpus <= min {
                prop_assert!(en.is_some());
            }
            if j.gpus > max {
                prop_assert!(en.is_none());
            }
        }
        prop_assert!(r.preemptions.iter().any(|&p| p > 0));
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
        let r = run(&jobs, &cap, POLICIES[policy], &NEVER);
        check(&jobs, &r, &NEVER);
        prop_assert!(r.capacity_steps.iter().all(|&(_, c)| c <= 8 * max_nodes));
        prop_assert!(r.preemptions.iter().all(|&p| p == 0));
        for (j, en) in jobs.iter().zip(&r.end) {
            prop_assert_eq!(en.is_none(), j.gpus > 8 * max_nodes);
        }
    }
}
