//! A shared training cluster: the whole Philly trace (82,247 jobs,
//! `scenarios/traces/philly_2017_jobs.csv`) on 512 GPUs, each policy, and with backfill on two
//! elastic capacities: autoscaled 8-GPU nodes (0 to 64, 300 s to provision, released after
//! 600 s idle) and a daily step function (512 GPUs by night, 256 from 08:00 to 20:00, when
//! serving takes the rest) that makes training yield. All on one core (the scheduler is
//! sequential). Target: under 5 s. Prints each run's headline figures once.
//!
//! `cargo bench --bench cluster -- --warm-up-time 1 --measurement-time 10`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use headroom::sim::cluster::elastic::{self, ElasticStats};
use headroom::sim::cluster::{ClusterStats, schedule};
use headroom::training::cluster::Policy;
use headroom::training::elastic::{Capacity, Elastic};
use headroom::training::trace;

fn headline(name: &str, st: &ClusterStats) -> String {
    format!(
        "{name}: {} jobs ({} never ran), JCT p50 {:.1} h p90 {:.1} h p99 {:.1} h, queue mean {:.1} h, makespan {:.1} d, utilization {:.1} %",
        st.jobs,
        st.rejected,
        st.jct_p50_s / 3600.0,
        st.jct_p90_s / 3600.0,
        st.jct_p99_s / 3600.0,
        st.queue_mean_s / 3600.0,
        st.makespan_s / 86400.0,
        100.0 * st.gpu_hours_used / st.gpu_hours_provisioned
    )
}

fn cluster(c: &mut Criterion) {
    let jobs = trace::read(Path::new("scenarios/traces/philly_2017_jobs.csv")).expect("the trace");
    let mut g = c.benchmark_group("cluster/philly_512");
    g.sample_size(10);
    for (name, policy) in [
        ("fifo", Policy::Fifo),
        ("backfill", Policy::Backfill),
        ("priority", Policy::Priority),
    ] {
        let s = schedule(&jobs, 512, policy);
        eprintln!("{}", headline(name, &ClusterStats::of(&jobs, &s)));
        g.bench_function(name, |b| b.iter(|| schedule(black_box(&jobs), 512, policy)));
    }
    g.finish();

    let autoscaled = Capacity::Autoscaled {
        gpus_per_node: 8,
        min_nodes: 0,
        max_nodes: 64,
        provision_s: 300.0,
        idle_release_s: 600.0,
    };
    let day = 86400.0;
    let days = (jobs.last().map_or(0.0, |j| j.submit_s) / day).ceil() as usize + 30;
    let diurnal = Capacity::Steps(
        (0..days)
            .flat_map(|d| {
                let t = d as f64 * day;
                [(t, 512), (t + 8.0 * 3600.0, 256), (t + 20.0 * 3600.0, 512)]
            })
            .collect(),
    );
    let hourly_checkpoints = Elastic {
        checkpoint_interval_s: 3600.0,
        restart_s: 300.0,
    };
    let mut g = c.benchmark_group("cluster/philly_elastic");
    g.sample_size(10);
    for (name, capacity) in [
        ("autoscaled_backfill", autoscaled),
        ("diurnal_backfill", diurnal),
    ] {
        let s = elastic::run(&jobs, &capacity, Policy::Backfill, &hourly_checkpoints);
        let st = ElasticStats::of(&jobs, &s);
        let h = st.gpu_hours;
        eprintln!(
            "{}; {} preemptions, {} unfinished; GPU-hours provisioned {:.0}, used {:.0}, wasted {:.0}, idle {:.0}",
            headline(name, &st.cluster),
            st.preemptions,
            st.unfinished,
            h.provisioned,
            h.used,
            h.wasted,
            h.idle
        );
        g.bench_function(name, |b| {
            b.iter(|| {
                elastic::run(
                    black_box(&jobs),
                    &capacity,
                    Policy::Backfill,
                    &hourly_checkpoints,
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, cluster);
criterion_main!(benches);
