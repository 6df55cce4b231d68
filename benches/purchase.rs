//! The purchase model at its design size: 24 hourly periods × 30 instance types × 3 markets,
//! diurnal demand of 400 to 1,200 req/s, a few availability limits
//! (`headroom::optimize::purchase::synthetic`). Solved plain and with one spare replica (N+1),
//! and the marginal value of one more reserved replica per type. The gap to the LP bound of
//! each plan is printed once.
//!
//! `cargo bench --bench purchase -- --warm-up-time 1 --measurement-time 5`. Target: a plan
//! within 1 % of the LP bound in well under a second.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use headroom::optimize::purchase::{Problem, reserved_marginals, solve, synthetic};

fn purchase(c: &mut Criterion) {
    let mut g = c.benchmark_group("purchase/24x30");
    for spares in [0, 1] {
        let problem = Problem {
            spare_replicas: spares,
            ..synthetic(24, 30, 1)
        };
        let plan = solve(&problem).expect("the synthetic problem is feasible");
        eprintln!(
            "purchase 24x30, N+{spares}: cost ${:.2}, LP bound ${:.2}, gap {:.3} %",
            plan.cost,
            plan.lp_bound,
            100.0 * plan.gap
        );
        g.bench_function(format!("solve/N+{spares}"), |b| {
            b.iter(|| solve(black_box(&problem)))
        });
        if spares == 0 {
            g.bench_function("reserved_marginals", |b| {
                b.iter(|| reserved_marginals(black_box(&problem), black_box(&plan)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, purchase);
criterion_main!(benches);
