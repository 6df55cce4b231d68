//! A shared training cluster: the whole Philly trace (82,247 jobs,
//! `scenarios/traces/philly_2017_jobs.csv`) on 512 GPUs, each policy, on one core (the
//! scheduler is sequential). Target: under 5 s. Prints each policy's headline figures once.
//!
//! `cargo bench --bench cluster -- --warm-up-time 1 --measurement-time 10`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use headroom::training::cluster::{ClusterStats, Policy, schedule};
use headroom::training::trace;

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
        let st = ClusterStats::of(&jobs, &s);
        eprintln!(
            "{name}: {} jobs ({} too large), JCT p50 {:.1} h p90 {:.1} h p99 {:.1} h, queue mean {:.1} h, makespan {:.1} d, utilization {:.1} %",
            st.jobs,
            st.rejected,
            st.jct_p50_s / 3600.0,
            st.jct_p90_s / 3600.0,
            st.jct_p99_s / 3600.0,
            st.queue_mean_s / 3600.0,
            st.makespan_s / 86400.0,
            100.0 * st.gpu_hours_used / st.gpu_hours_provisioned
        );
        g.bench_function(name, |b| b.iter(|| schedule(black_box(&jobs), 512, policy)));
    }
    g.finish();
}

criterion_group!(benches, cluster);
criterion_main!(benches);
