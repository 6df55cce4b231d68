//! The event queue alone, in the classic "hold" model: a queue of `n` pending events where each
//! step pops the earliest and schedules a new one a random time later. Reports hold operations
//! (one pop plus one push) per second for queue sizes met in practice: a handful of replicas,
//! a large pool, and thousands.
//!
//! `cargo bench --bench event_queue`. For comparison, `std/N` runs the same hold model on a bare
//! `std::collections::BinaryHeap` keyed the same way (time, then sequence number): the cost of
//! the queue's own bookkeeping (sequence numbers, slots) is the difference.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use headroom::rng::substream;
use headroom::sim::event::{Event, EventQueue};
use headroom::units::SimTime;
use rand::RngExt;

const STEPS: u64 = 100_000;

fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_queue/hold");
    g.throughput(Throughput::Elements(STEPS));
    for n in [8usize, 64, 1024, 16_384] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_batched_ref(
                || {
                    let mut rng = substream(1, "bench");
                    let mut q = EventQueue::new(1);
                    for i in 0..n {
                        q.push(
                            SimTime(rng.random_range(0..1_000_000)),
                            Event::BatchDone { replica: i as u32 },
                        );
                    }
                    (q, rng)
                },
                |(q, rng)| {
                    for _ in 0..STEPS {
                        let (t, e) = q.pop().expect("the queue holds n events");
                        q.push(SimTime(t.0 + rng.random_range(0..1_000_000)), e);
                    }
                },
                criterion::BatchSize::LargeInput,
            );
        });
    }
    for n in [8usize, 64, 1024, 16_384] {
        g.bench_with_input(BenchmarkId::new("std", n), &n, |b, &n| {
            b.iter_batched_ref(
                || {
                    let mut rng = substream(1, "bench");
                    let mut q = BinaryHeap::new();
                    let mut seq = 0u64;
                    for i in 0..n {
                        seq += 1;
                        let t: u64 = rng.random_range(0..1_000_000);
                        q.push(Reverse((t, seq, Event::BatchDone { replica: i as u32 })));
                    }
                    (q, rng, seq)
                },
                |(q, rng, seq)| {
                    for _ in 0..STEPS {
                        let Reverse((t, _, e)) = q.pop().expect("the queue holds n events");
                        *seq += 1;
                        q.push(Reverse((t + rng.random_range(0..1_000_000), *seq, e)));
                    }
                },
                criterion::BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, hold);
criterion_main!(benches);
