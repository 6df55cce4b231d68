//! A realistic synthetic purchase problem, for the benchmark, the tests and demos.
//!
//! Demand is diurnal: `800 + 400 sin(2π (h − 8) / 24)` req/s (400 at night, 1,200 in the
//! afternoon) with ±3 % noise; 10 % headroom. Types have log-uniform capacities of 5 to 80
//! req/s; on-demand costs $0.12 per req/s-hour ±15 %; spot is 35 % of on-demand ±10 % (every
//! fifth type has none); reserved is 60 % of on-demand (every seventh type has none). Spot may
//! be at most 40 % of required capacity. Limits: the type with the cheapest on-demand capacity
//! is capped at 6 replicas, spot in the first region at 12, reserved in the last at 8.

use rand::RngExt;

use super::{Limit, Period, Problem, TypeOption};
use crate::pricing::Market;
use crate::rng::substream;

const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

pub(super) fn problem(periods: usize, types: usize, seed: u64) -> Problem {
    let mut rng = substream(seed, "purchase/demand");
    let periods = (0..periods)
        .map(|h| {
            let phase = 2.0 * std::f64::consts::PI * (h as f64 - 8.0) / 24.0;
            let noise = rng.random_range(0.97..1.03);
            Period {
                hours: 1.0,
                demand: (800.0 + 400.0 * phase.sin()) * noise,
                tighten: 1.0,
            }
        })
        .collect();
    let mut rng = substream(seed, "purchase/types");
    let types: Vec<TypeOption> = (0..types)
        .map(|i| {
            let capacity = 5.0 * 16f64.powf(rng.random_range(0.0..1.0));
            let on_demand = 0.12 * capacity * rng.random_range(0.85..1.15);
            let spot = 0.35 * on_demand * rng.random_range(0.9..1.1);
            TypeOption {
                name: format!("gpu{i:02}"),
                region: REGIONS[i % REGIONS.len()].to_string(),
                capacity,
                on_demand: Some(on_demand),
                spot: (i % 5 != 4).then_some(spot),
                reserved: (i % 7 != 6).then_some(0.6 * on_demand),
            }
        })
        .collect();
    let mut limits = Vec::new();
    if let Some(cheapest) = (0..types.len()).min_by(|&a, &b| {
        let ratio = |t: usize| types[t].on_demand.unwrap_or(f64::INFINITY) / types[t].capacity;
        ratio(a).total_cmp(&ratio(b))
    }) {
        limits.push(Limit {
            name: types[cheapest].name.clone(),
            types: vec![cheapest],
            markets: Vec::new(),
            max: 6,
        });
    }
    let in_region = |r: usize| -> Vec<usize> {
        (0..types.len())
            .filter(|&t| types[t].region == REGIONS[r])
            .collect()
    };
    limits.push(Limit {
        name: format!("spot {}", REGIONS[0]),
        types: in_region(0),
        markets: vec![Market::Spot],
        max: 12,
    });
    limits.push(Limit {
        name: format!("reserved {}", REGIONS[2]),
        types: in_region(2),
        markets: vec![Market::Reserved],
        max: 8,
    });
    Problem {
        periods,
        types,
        headroom: 0.1,
        spot_share: 0.4,
        spare_replicas: 0,
        budget: None,
        limits,
    }
}
