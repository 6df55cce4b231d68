//! The search against brute force and against an exact MILP on tiny instances, and the
//! properties every plan has. Hand-worked cases are in `tests/integration/purchase.rs`.

use proptest::prelude::*;

use super::*;

/// The exact optimum by enumeration: every reserved vector, and per period (independent once
/// reserved is fixed) every on-demand and spot count up to what one period could use.
/// None when nothing is feasible.
fn brute_force(problem: &Problem) -> Option<f64> {
    let n = problem.types.len();
    let k = problem.spare_replicas;
    let most_needed = (0..problem.periods.len())
        .map(|p| problem.required(p))
        .fold(0.0, f64::max);
    let bound = |t: usize| (most_needed / problem.types[t].capacity).ceil() as u32 + k;
    let ranges = |offered: &dyn Fn(usize) -> bool| -> Vec<u32> {
        (0..n)
            .map(|t| if offered(t) { bound(t) } else { 0 })
            .collect()
    };
    let reserved_ranges = ranges(&|t| problem.types[t].reserved.is_some());
    let od_ranges = ranges(&|t| problem.types[t].on_demand.is_some());
    let spot_ranges = ranges(&|t| problem.types[t].spot.is_some());

    // Every period row, cheapest first.
    let mut rows: Vec<(f64, Vec<[u32; 2]>)> = Vec::new();
    for od in every_vector_below(&od_ranges) {
        for spot in every_vector_below(&spot_ranges) {
            let row: Vec<[u32; 2]> = (0..n).map(|t| [od[t], spot[t]]).collect();
            let per_hour: f64 = (0..n)
                .map(|t| {
                    let ty = &problem.types[t];
                    ty.on_demand.unwrap_or(0.0) * f64::from(od[t])
                        + ty.spot.unwrap_or(0.0) * f64::from(spot[t])
                })
                .sum();
            rows.push((per_hour, row));
        }
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));

    let mut best: Option<f64> = None;
    for reserved in every_vector_below(&reserved_ranges) {
        let mut total = 0.0;
        let mut counts = Vec::new();
        for p in 0..problem.periods.len() {
            let Some((_, row)) = rows
                .iter()
                .find(|(_, row)| feasible(problem, p, &reserved, row))
            else {
                total = f64::INFINITY;
                break;
            };
            counts.push(row.clone());
        }
        if total.is_finite() {
            total = cost_of(problem, &reserved, &counts);
            if problem.budget.is_none_or(|b| total <= b + 1e-9) {
                best = Some(best.map_or(total, |b: f64| b.min(total)));
            }
        }
    }
    best
}

/// Whether period `p` of `problem` is met by `reserved` and `row`, written out plainly.
fn feasible(problem: &Problem, p: usize, reserved: &[u32], row: &[[u32; 2]]) -> bool {
    let required = problem.required(p);
    let mut replicas = Vec::new();
    let (mut spot, mut firm) = (0.0, 0.0);
    for (t, ty) in problem.types.iter().enumerate() {
        for _ in 0..reserved[t] + row[t][0] + row[t][1] {
            replicas.push(ty.capacity);
        }
        spot += ty.capacity * f64::from(row[t][1]);
        firm += ty.capacity * f64::from(reserved[t] + row[t][0]);
    }
    replicas.sort_by(|a, b| b.total_cmp(a));
    let total: f64 = replicas.iter().sum();
    let lost: f64 = replicas.iter().take(problem.spare_replicas as usize).sum();
    let within_limits = problem.limits.iter().all(|limit| {
        let used: u32 = (0..problem.types.len())
            .map(|t| {
                [Market::Reserved, Market::OnDemand, Market::Spot]
                    .into_iter()
                    .zip([reserved[t], row[t][0], row[t][1]])
                    .filter(|&(m, _)| limit.covers(t, m))
                    .map(|(_, n)| n)
                    .sum::<u32>()
            })
            .sum();
        used <= limit.max
    });
    let spares_ok = required <= 0.0 || total - lost >= required - 1e-9;
    total >= required - 1e-9
        && spares_ok
        && (spot <= 0.0
            || (problem.spot_share > 0.0 && firm >= (1.0 - problem.spot_share) * required - 1e-9))
        && within_limits
}

fn type_option() -> impl Strategy<Value = TypeOption> {
    (
        8u32..=20,
        prop::option::weighted(0.8, 10u32..=60),
        prop::option::weighted(0.6, 3u32..=30),
        prop::option::weighted(0.6, 6u32..=45),
    )
        .prop_map(|(capacity, od, spot, reserved)| TypeOption {
            name: String::new(),
            region: "r".to_string(),
            capacity: f64::from(capacity),
            on_demand: od.map(|c| f64::from(c) / 10.0),
            spot: spot.map(|c| f64::from(c) / 10.0),
            reserved: reserved.map(|c| f64::from(c) / 10.0),
        })
}

/// Tiny instances: up to 3 periods and 3 types, up to 24 req/s, sometimes a spare replica,
/// a spot share and a limit.
fn tiny_problem() -> impl Strategy<Value = Problem> {
    (
        prop::collection::vec((1u32..=4, 0u32..=24), 1..=3),
        prop::collection::vec(type_option(), 1..=3),
        0u32..=2,
        prop::sample::select(vec![0.0, 0.3, 0.5, 1.0]),
        0u32..=1,
        prop::option::weighted(0.4, (any::<u8>(), 0usize..4, 0u32..=4)),
    )
        .prop_map(
            |(periods, mut types, headroom, spot_share, spares, limit)| {
                for (i, ty) in types.iter_mut().enumerate() {
                    ty.name = format!("t{i}");
                }
                let n = types.len();
                let limits = limit
                    .map(|(mask, markets, max)| Limit {
                        name: "l".to_string(),
                        types: (0..n).filter(|t| mask & (1 << t) != 0).collect(),
                        markets: match markets {
                            0 => vec![],
                            1 => vec![Market::Spot],
                            2 => vec![Market::Reserved],
                            _ => vec![Market::OnDemand, Market::Reserved],
                        },
                        max,
                    })
                    .into_iter()
                    .collect();
                Problem {
                    periods: periods
                        .into_iter()
                        .map(|(hours, demand)| Period {
                            hours: f64::from(hours),
                            demand: f64::from(demand),
                            tighten: 1.0,
                        })
                        .collect(),
                    types,
                    headroom: f64::from(headroom) / 10.0,
                    spot_share,
                    spare_replicas: spares,
                    budget: None,
                    limits,
                }
            },
        )
}

/// No type has a price in any market.
fn nothing_offered(problem: &Problem) -> bool {
    problem
        .types
        .iter()
        .all(|t| t.on_demand.is_none() && t.spot.is_none() && t.reserved.is_none())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Every plan passes `check`, costs what `cost_of` says, sits above the LP bound, and on
    /// these tiny instances is the brute-force optimum, which the proven bound never exceeds; an error means brute force finds no
    /// plan either. The MILP path (microlp here, HiGHS under the feature) reaches the optimum.
    #[test]
    fn plans_are_valid_and_optimal_on_tiny_instances(problem in tiny_problem()) {
        let exact = brute_force(&problem);
        match solve(&problem) {
            Ok(plan) => {
                prop_assert!(check(&problem, &plan).is_ok(), "{:?}", check(&problem, &plan));
                let cost = cost_of(&problem, &plan.reserved, &plan.counts);
                prop_assert!((plan.cost - cost).abs() <= 1e-9 * cost.max(1.0));
                prop_assert!(plan.cost >= plan.lp_bound - 1e-9 * cost.max(1.0));
                let exact = exact.expect("brute force finds a plan when the search does");
                prop_assert!(
                    plan.cost <= exact * (1.0 + 1e-9) + 1e-9,
                    "search {} vs optimum {exact}", plan.cost
                );
                // The bound proven by the search is a bound, and at least the LP's.
                prop_assert!(
                    plan.bound <= exact * (1.0 + 1e-6) + 1e-9,
                    "bound {} above the optimum {exact}", plan.bound
                );
                prop_assert!(plan.bound >= plan.lp_bound - 1e-9 * cost.max(1.0));
                let (reserved, counts) = refine(
                    &problem, good_lp::microlp, (plan.reserved.clone(), plan.counts.clone()), 0.0,
                );
                prop_assert!(check_counts(&problem, &reserved, &counts).is_ok());
                let milp = cost_of(&problem, &reserved, &counts);
                prop_assert!((milp - exact).abs() <= 1e-6 * exact.max(1.0), "MILP {milp} vs {exact}");
            }
            // A problem that offers nothing to buy is refused as invalid, even when its demand
            // is zero and buying nothing would do.
            Err(PurchaseError::Invalid(_)) => prop_assert!(nothing_offered(&problem)),
            Err(e) => prop_assert!(exact.is_none(), "{e} but brute force found {exact:?}"),
        }
    }

    /// With the exhaustive pass off, the rounding and local search alone still give valid
    /// plans whenever one exists (they need not be optimal on instances this small).
    #[test]
    fn local_search_alone_gives_valid_plans(problem in tiny_problem()) {
        let exact = brute_force(&problem);
        match solve_with(&problem, 0) {
            Ok(plan) => {
                prop_assert!(check(&problem, &plan).is_ok(), "{:?}", check(&problem, &plan));
                let exact = exact.expect("brute force finds a plan when the search does");
                prop_assert!(plan.cost >= exact * (1.0 - 1e-9) - 1e-9);
            }
            // A problem that offers nothing to buy is refused as invalid, even when its demand
            // is zero and buying nothing would do.
            Err(PurchaseError::Invalid(_)) => prop_assert!(nothing_offered(&problem)),
            Err(e) => prop_assert!(exact.is_none(), "{e} but brute force found {exact:?}"),
        }
    }

    /// A budget between the optimum and just below it is met or refused accordingly.
    #[test]
    fn budget_is_met_or_refused(problem in tiny_problem(), below in any::<bool>()) {
        let Ok(plan) = solve(&problem) else { return Ok(()) };
        prop_assume!(plan.cost > 1.0);
        let budget = if below { plan.cost - 0.5 } else { plan.cost };
        let limited = Problem { budget: Some(budget), ..problem.clone() };
        match solve(&limited) {
            Ok(p) => {
                prop_assert!(!below);
                prop_assert!(check(&limited, &p).is_ok());
            }
            Err(e) => {
                prop_assert!(below, "{e}");
                prop_assert!(e.to_string().contains("over the budget"), "{e}");
            }
        }
    }
}

#[test]
fn benchmark_shape_is_within_one_percent_of_the_lp_bound() {
    for spares in [0, 1] {
        let problem = Problem {
            spare_replicas: spares,
            ..synthetic(24, 30, 1)
        };
        let plan = solve(&problem).unwrap();
        check(&problem, &plan).unwrap();
        assert!(plan.gap < 0.01, "N+{spares}: gap {}", plan.gap);
        assert!(!plan.binding.is_empty());
    }
}

#[test]
fn canonical_order_round_trips() {
    let problem = synthetic(2, 7, 5);
    let canon = Canonical::new(&problem);
    let names: Vec<&str> = canon
        .problem
        .types
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]));
    for limit in &canon.problem.limits {
        let original = problem
            .limits
            .iter()
            .find(|l| l.name == limit.name)
            .unwrap();
        let mut back: Vec<usize> = limit.types.iter().map(|&t| canon.order[t]).collect();
        back.sort_unstable();
        let mut want = original.types.clone();
        want.sort_unstable();
        assert_eq!(back, want);
    }
}

/// Found by the property test: zero demand and no type offered in any market is refused as
/// invalid rather than planned as "buy nothing".
#[test]
fn nothing_to_buy_is_invalid() {
    let problem = Problem {
        periods: vec![Period {
            hours: 1.0,
            demand: 0.0,
            tighten: 1.0,
        }],
        types: vec![TypeOption {
            name: "t0".into(),
            region: "r".into(),
            capacity: 8.0,
            on_demand: None,
            spot: None,
            reserved: None,
        }],
        headroom: 0.0,
        spot_share: 0.0,
        spare_replicas: 0,
        budget: None,
        limits: vec![],
    };
    assert!(nothing_offered(&problem));
    assert!(matches!(solve(&problem), Err(PurchaseError::Invalid(_))));
}
