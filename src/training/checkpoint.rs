//! One training job on capacity that can be taken away: checkpoints, interruptions, restarts,
//! the work lost in between, and the fallback to on-demand.
//!
//! The job needs `work_s` seconds of uninterrupted training on its instances. Every
//! `interval_s` of training it writes a checkpoint, which takes `checkpoint_s` (training pauses).
//! On spot, the job's instances are reclaimed as a Poisson process of `rate_per_hour` per
//! instance (the job stops when any one goes, so the job's rate is `instances × rate`); each
//! reclaim loses the training done since the last completed checkpoint (a checkpoint cut short
//! is lost too), and the job resumes after `restart_s` (new capacity, loading the checkpoint).
//! After `max_interruptions` reclaims, or once `deadline_s` has passed, it finishes on
//! on-demand capacity, where nothing is reclaimed.
//!
//! Time is accounted exactly: every second of the run is training that counts, training lost,
//! checkpointing, or restarting, on spot or on-demand.
//! [`young_daly`] gives the interval that minimizes the expected overhead to first order,
//! `sqrt(2 × checkpoint cost × mean time between interruptions)`.

use rand_distr::{Distribution, Exp};

/// What the job is and where it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Training time the job needs, seconds.
    pub work_s: f64,
    /// Training time between checkpoints; `f64::INFINITY` for none.
    pub interval_s: f64,
    pub checkpoint_s: f64,
    pub restart_s: f64,
    pub instances: u32,
    pub gpus_per_instance: u32,
    /// Reclaims per instance-hour on spot; 0 runs on on-demand from the start.
    pub rate_per_hour: f64,
    /// Prices an instance-hour on each market; the run reads none (see
    /// `experiment::costing::job_run_usd`).
    pub spot_usd_per_instance_hour: f64,
    pub on_demand_usd_per_instance_hour: f64,
    /// Fall back to on-demand after this many reclaims.
    pub max_interruptions: u32,
    /// Fall back to on-demand at the first restart after this time, seconds.
    pub deadline_s: f64,
}

/// How one run of the job went. Times in seconds.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Outcome {
    pub completion_s: f64,
    pub interruptions: u32,
    /// Training that counted (equals `work_s`).
    pub useful_s: f64,
    /// Training lost to reclaims (since the last checkpoint).
    pub lost_s: f64,
    pub checkpoint_s: f64,
    pub restart_s: f64,
    /// Wall time on spot and on on-demand capacity.
    pub spot_s: f64,
    pub on_demand_s: f64,
    /// The largest loss at one reclaim.
    pub max_lost_s: f64,
    pub fell_back: bool,
}

impl Outcome {
    /// GPU-hours paid for.
    pub fn gpu_hours(&self, plan: &Plan) -> f64 {
        self.completion_s / 3600.0 * f64::from(plan.instances * plan.gpus_per_instance)
    }
}

/// Expected reclaims of one run, to first order: each of the `work / interval` segments (with its
/// checkpoint) is tried until it runs a whole stretch without a reclaim, which takes
/// `e^(rate x segment) - 1` failed tries on average. Infinite when that overflows.
pub fn expected_reclaims(plan: &Plan) -> f64 {
    let rate_per_s = plan.rate_per_hour * f64::from(plan.instances) / 3600.0;
    if rate_per_s <= 0.0 {
        return 0.0;
    }
    let interval = plan.interval_s.min(plan.work_s);
    (plan.work_s / interval) * ((rate_per_s * (interval + plan.checkpoint_s)).exp() - 1.0)
}

/// The checkpoint interval that minimizes expected overhead to first order (Young 1974, Daly
/// 2006): `sqrt(2 × checkpoint_s × mtbi_s)`.
pub fn young_daly(checkpoint_s: f64, mtbi_s: f64) -> f64 {
    (2.0 * checkpoint_s * mtbi_s).sqrt()
}

/// The shortest interval [`run`] simulates, as a share of the work: `2^-40`. The run adds
/// intervals to the job's progress (at most `work_s`) in `f64`, whose 52 bits would not see an
/// interval below `work_s × 2^-53`: progress would stop and the run never end. Far above that,
/// whole checkpointed segments still go at once, so a run costs the same however short the
/// interval. Scenario validation keeps intervals at 1 s or more; this bounds direct callers.
pub const MIN_INTERVAL_SHARE: f64 = 1.0 / (1u64 << 40) as f64;

/// One run of `plan`, interruptions drawn from `rng`. An interval shorter than
/// [`MIN_INTERVAL_SHARE`] of the work is simulated as that.
pub fn run<R: rand::Rng + ?Sized>(plan: &Plan, rng: &mut R) -> Outcome {
    let interval_s = plan.interval_s.max(plan.work_s * MIN_INTERVAL_SHARE);
    let mut o = Outcome::default();
    let mut t = 0.0; // wall clock
    let mut saved = 0.0; // training kept by the last checkpoint
    let mut spot = plan.rate_per_hour > 0.0;
    let job_rate_per_s = plan.rate_per_hour * f64::from(plan.instances) / 3600.0;
    let wall_on = |o: &mut Outcome, spot: bool, d: f64| {
        if spot {
            o.spot_s += d;
        } else {
            o.on_demand_s += d;
        }
    };
    loop {
        // The next reclaim, if on spot.
        let until_reclaim = if spot {
            Exp::new(job_rate_per_s)
                .expect("a positive rate")
                .sample(rng)
        } else {
            f64::INFINITY
        };
        // Train and checkpoint from `saved` until done or reclaimed.
        let mut elapsed = 0.0;
        let mut progress = saved;
        let mut reclaimed = false;
        while progress < plan.work_s {
            // Whole checkpointed segments that end before the reclaim, all at once (so a run
            // costs the same however short the interval).
            let checkpointed = (((plan.work_s - progress) / interval_s).ceil() - 1.0).max(0.0);
            let cycle = interval_s + plan.checkpoint_s;
            let k = checkpointed.min(((until_reclaim - elapsed) / cycle).floor());
            if k >= 1.0 {
                elapsed += k * cycle;
                progress += k * interval_s;
                o.checkpoint_s += k * plan.checkpoint_s;
                saved = progress;
                continue;
            }
            let segment = interval_s.min(plan.work_s - progress);
            let last = progress + segment >= plan.work_s;
            let ckpt = if last { 0.0 } else { plan.checkpoint_s };
            if elapsed + segment + ckpt > until_reclaim {
                // Reclaimed during this segment or its checkpoint: all of it is lost.
                let into = until_reclaim - elapsed;
                let trained = into.min(segment);
                o.lost_s += (progress - saved) + trained;
                o.max_lost_s = o.max_lost_s.max((progress - saved) + trained);
                o.checkpoint_s += (into - trained).max(0.0);
                elapsed = until_reclaim;
                reclaimed = true;
                break;
            }
            elapsed += segment + ckpt;
            progress += segment;
            o.checkpoint_s += ckpt;
            if !last {
                saved = progress;
            }
        }
        // Training that counted in this stretch was already added to lost if reclaimed.
        wall_on(&mut o, spot, elapsed);
        t += elapsed;
        if !reclaimed {
            o.useful_s = plan.work_s;
            break;
        }
        // Training from the last checkpoint before this stretch to `saved` counted.
        o.interruptions += 1;
        // Restart: new capacity, load the checkpoint.
        if o.interruptions >= plan.max_interruptions || t >= plan.deadline_s {
            spot = false;
            o.fell_back = true;
        }
        wall_on(&mut o, spot, plan.restart_s);
        o.restart_s += plan.restart_s;
        t += plan.restart_s;
    }
    o.completion_s = t;
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn plan() -> Plan {
        Plan {
            work_s: 100.0 * 3600.0,
            interval_s: 3600.0,
            checkpoint_s: 120.0,
            restart_s: 600.0,
            instances: 16,
            gpus_per_instance: 8,
            rate_per_hour: 0.01,
            spot_usd_per_instance_hour: 40.0,
            on_demand_usd_per_instance_hour: 98.0,
            max_interruptions: u32::MAX,
            deadline_s: f64::INFINITY,
        }
    }

    #[test]
    fn without_interruptions_time_is_work_plus_checkpoints_exactly() {
        let p = Plan {
            rate_per_hour: 0.0,
            ..plan()
        };
        let o = run(&p, &mut rand_pcg::Pcg64::seed_from_u64(1));
        // 100 h of work, a checkpoint after each of the first 99 hours.
        assert_eq!(o.completion_s, 100.0 * 3600.0 + 99.0 * 120.0);
        assert_eq!((o.interruptions, o.lost_s, o.restart_s), (0, 0.0, 0.0));
        assert_eq!((o.on_demand_s, o.spot_s), (o.completion_s, 0.0));
        let none = Plan {
            interval_s: f64::INFINITY,
            ..p
        };
        let o = run(&none, &mut rand_pcg::Pcg64::seed_from_u64(1));
        assert_eq!(o.completion_s, 100.0 * 3600.0, "work / throughput");
    }

    #[test]
    fn time_is_conserved_and_losses_bounded_by_one_interval() {
        let p = plan();
        for seed in 0..200 {
            let o = run(&p, &mut rand_pcg::Pcg64::seed_from_u64(seed));
            let parts = o.useful_s + o.lost_s + o.checkpoint_s + o.restart_s;
            assert!((parts - o.completion_s).abs() < 1e-6, "seed {seed}: {o:?}");
            assert!((o.spot_s + o.on_demand_s - o.completion_s).abs() < 1e-6);
            // A reclaim loses at most one interval of training (and the checkpoint it cut).
            assert!(o.max_lost_s <= p.interval_s + 1e-9, "seed {seed}: {o:?}");
            assert!(o.lost_s <= f64::from(o.interruptions) * p.interval_s + 1e-9);
        }
    }

    #[test]
    fn fallback_after_k_interruptions_runs_the_rest_on_demand() {
        let p = Plan {
            rate_per_hour: 0.2,
            max_interruptions: 3,
            ..plan()
        };
        let o = run(&p, &mut rand_pcg::Pcg64::seed_from_u64(7));
        assert_eq!(o.interruptions, 3);
        assert!(o.fell_back && o.on_demand_s > 0.0);
    }

    /// Issue 17: an interval below what adding to the job's progress in `f64` can see (as the
    /// Young/Daly interval of a checkpoint written at 1e27 GB/s is) made the run loop forever;
    /// each of these did. Run on a thread, so that a hang fails the test instead of stalling it.
    #[test]
    fn an_interval_too_short_for_the_clock_still_ends() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let outcomes: Vec<(Plan, Outcome)> = [1e-12, 1e-300, 0.0]
                .into_iter()
                .flat_map(|interval_s| {
                    let p = Plan {
                        interval_s,
                        checkpoint_s: 1e-25,
                        ..plan()
                    };
                    let mut rng = rand_pcg::Pcg64::seed_from_u64(17);
                    (0..20)
                        .map(|_| (p.clone(), run(&p, &mut rng)))
                        .collect::<Vec<_>>()
                })
                .collect();
            tx.send(outcomes).expect("the test waits");
        });
        let outcomes = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("every run ends within seconds");
        for (p, o) in outcomes {
            let parts = o.useful_s + o.lost_s + o.checkpoint_s + o.restart_s;
            assert!((parts - o.completion_s).abs() < 1e-6, "{p:?}: {o:?}");
            assert_eq!(o.useful_s, p.work_s);
            // Checkpointing all but continuously, a reclaim loses next to nothing.
            assert!(
                o.max_lost_s <= p.work_s * MIN_INTERVAL_SHARE * 1.000_001,
                "{o:?}"
            );
        }
    }

    #[test]
    fn the_young_daly_interval_is_near_the_simulated_best() {
        let p = plan();
        let mtbi = 3600.0 / (p.rate_per_hour * f64::from(p.instances));
        let yd = young_daly(p.checkpoint_s, mtbi);
        let mean_time = |interval: f64| {
            let q = Plan {
                interval_s: interval,
                ..p.clone()
            };
            let mut rng = rand_pcg::Pcg64::seed_from_u64(42);
            (0..400)
                .map(|_| run(&q, &mut rng).completion_s)
                .sum::<f64>()
                / 400.0
        };
        let at_yd = mean_time(yd);
        // Far shorter and far longer intervals both cost more than Young/Daly's.
        assert!(
            mean_time(yd / 8.0) > at_yd,
            "too frequent checkpoints cost more"
        );
        assert!(
            mean_time(yd * 8.0) > at_yd,
            "too rare checkpoints cost more"
        );
    }
}
