//! The purchase model on problems small enough to solve by hand (the working is in the
//! comments), its error messages, and independence from the order of the types.

use headroom::optimize::purchase::{
    Limit, Period, Plan, Problem, PurchaseError, TypeOption, check, cost_of, reserved_marginals,
    solve, synthetic,
};
use headroom::pricing::Market;

fn ty(name: &str, capacity: f64, prices: [Option<f64>; 3]) -> TypeOption {
    let [on_demand, spot, reserved] = prices;
    TypeOption {
        name: name.to_string(),
        region: "us-east-1".to_string(),
        capacity,
        on_demand,
        spot,
        reserved,
    }
}

/// Periods of `(hours, demand)`, no headroom, no spot, no limits.
fn problem(periods: &[(f64, f64)], types: Vec<TypeOption>) -> Problem {
    Problem {
        periods: periods
            .iter()
            .map(|&(hours, demand)| Period {
                hours,
                demand,
                tighten: 1.0,
            })
            .collect(),
        types,
        headroom: 0.0,
        spot_share: 0.0,
        spare_replicas: 0,
        budget: None,
        limits: Vec::new(),
    }
}

fn solved(problem: &Problem) -> Plan {
    let plan = solve(problem).unwrap_or_else(|e| panic!("solvable: {e}"));
    check(problem, &plan).unwrap_or_else(|e| panic!("plan breaks a constraint: {e}"));
    plan
}

fn assert_close(got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-6, "got {got}, want {want}");
}

fn shadow(plan: &Plan, constraint: &str) -> f64 {
    plan.binding
        .iter()
        .find(|b| b.constraint == constraint)
        .unwrap_or_else(|| panic!("{constraint} binds: {:?}", plan.binding))
        .shadow_price
}

/// Two 10-hour periods of 10 req/s; "a" (10 req/s, $1 on-demand, $0.6 reserved) and "b"
/// (10 req/s, $0.9 on-demand only).
fn reserved_or_not(second_demand: f64) -> Problem {
    problem(
        &[(10.0, 10.0), (10.0, second_demand)],
        vec![
            ty("a", 10.0, [Some(1.0), None, Some(0.6)]),
            ty("b", 10.0, [Some(0.9), None, None]),
        ],
    )
}

#[test]
fn reserved_wins_when_needed_in_every_period() {
    // One replica in each period. On-demand b: 2 × 10 h × $0.9 = $18. One reserved a serves
    // both: 20 h × $0.6 = $12.
    let plan = solved(&reserved_or_not(10.0));
    assert_eq!(plan.reserved, vec![1, 0]);
    assert_eq!(plan.counts, vec![vec![[0, 0]; 2]; 2]);
    assert_close(plan.cost, 12.0);
    assert_close(plan.lp_bound, 12.0);
    assert_close(plan.gap, 0.0);
    assert_close(plan.period_cost[0], 6.0);
    assert_close(plan.period_cost[1], 6.0);
}

#[test]
fn on_demand_wins_when_needed_once() {
    // Only the first period needs a replica: reserved a still costs $12 (it is paid for all
    // 20 h), on-demand b for 10 h costs $9.
    let plan = solved(&reserved_or_not(0.0));
    assert_eq!(plan.reserved, vec![0, 0]);
    assert_eq!(plan.counts, vec![vec![[0, 0], [1, 0]], vec![[0, 0]; 2]]);
    assert_close(plan.cost, 9.0);
}

#[test]
fn spot_share_binds() {
    // 100 req/s for 1 h from "a" (10 req/s, $1 on-demand, $0.3 spot). Spot may carry at most
    // 50 %, so on-demand alone covers 50 req/s: 5 spot + 5 on-demand = $1.5 + $5 = $6.5 (all
    // spot would be $3).
    // Shadow prices: 1 req/s more demand, served by spot, costs a tenth of a spot replica
    // ($0.03) and raises the on-demand floor by half a req/s ($0.1 / 2 − $0.03 / 2 = $0.035):
    // $0.065. 1 req/s more allowed on spot swaps a tenth of on-demand ($0.1) for a tenth of
    // spot ($0.03), saving $0.07.
    let mut p = problem(
        &[(1.0, 100.0)],
        vec![ty("a", 10.0, [Some(1.0), Some(0.3), None])],
    );
    p.spot_share = 0.5;
    let plan = solved(&p);
    assert_eq!(plan.counts, vec![vec![[5, 5]]]);
    assert_close(plan.cost, 6.5);
    assert_close(shadow(&plan, "spot share, period 0"), -0.07);
    assert_close(shadow(&plan, "demand, period 0"), 0.065);
    let spot = plan
        .binding
        .iter()
        .find(|b| b.constraint.starts_with("spot"));
    assert_eq!(spot.unwrap().unit, "req/s more allowed on spot");
}

/// 100 req/s for 1 h; "cheap" (20 req/s, $1) at most 3 replicas; "pricey" (10 req/s, $0.8).
fn limited(demands: &[f64]) -> Problem {
    let periods: Vec<(f64, f64)> = demands.iter().map(|&d| (1.0, d)).collect();
    let mut p = problem(
        &periods,
        vec![
            ty("cheap", 20.0, [Some(1.0), None, None]),
            ty("pricey", 10.0, [Some(0.8), None, None]),
        ],
    );
    p.limits.push(Limit {
        name: "cheap".to_string(),
        types: vec![0],
        markets: Vec::new(),
        max: 3,
    });
    p
}

#[test]
fn availability_limit_forces_a_pricier_type() {
    // Unlimited: 5 cheap = $5 ($0.05 per req/s against $0.08). Limited to 3 cheap (60 req/s),
    // the other 40 req/s take 4 pricey: $3 + $3.2 = $6.2. One more cheap replica would
    // replace two pricey ones: $1.6 − $1 = $0.6 saved.
    let plan = solved(&limited(&[100.0]));
    assert_eq!(plan.counts, vec![vec![[3, 0], [4, 0]]]);
    assert_close(plan.cost, 6.2);
    assert_close(shadow(&plan, "availability cheap"), -0.6);
}

#[test]
fn availability_shortfall_names_the_period() {
    // With pricey also capped at 2, at most 3 × 20 + 2 × 10 = 80 req/s: enough for period 0
    // (50 req/s), not for period 1 (100 req/s).
    let mut p = limited(&[50.0, 100.0]);
    p.limits.push(Limit {
        name: "pricey".to_string(),
        types: vec![1],
        markets: vec![Market::OnDemand],
        max: 2,
    });
    let err = solve(&p).unwrap_err();
    let PurchaseError::Availability {
        period,
        needed,
        max,
        spares: 0,
    } = err
    else {
        panic!("an availability error: {err}");
    };
    assert_eq!(period, 1);
    assert_close(needed, 100.0);
    assert_close(max, 80.0);
    assert!(
        err.to_string().starts_with(
            "period 1 needs 100.0 req/s but the availability limits allow at most 80.0 req/s"
        ),
        "{err}"
    );
}

#[test]
fn a_spot_share_too_small_for_spot_only_types_is_named() {
    // Only spot is offered and spot may be at most 30 % of the 100 req/s.
    let mut p = problem(
        &[(1.0, 100.0)],
        vec![ty("a", 10.0, [None, Some(0.3), None])],
    );
    p.spot_share = 0.3;
    let err = solve(&p).unwrap_err();
    assert!(
        matches!(err, PurchaseError::SpotShare { period: 0, .. }),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(
            "period 0 needs 70.0 req/s on demand or reserved (spot may carry at most 30 % of \
             its required capacity) but the markets offered and the availability limits allow \
             at most 0.0 req/s there"
        ),
        "{err}"
    );
}

#[test]
fn budget_below_the_cheapest_plan_is_refused() {
    // The cheapest plan costs $12 (see reserved_wins_when_needed_in_every_period).
    let mut p = reserved_or_not(10.0);
    p.budget = Some(10.0);
    let err = solve(&p).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the cheapest plan costs at least $12.00, over the budget $10.00"
    );
    p.budget = Some(12.0);
    assert_close(solved(&p).cost, 12.0);
}

#[test]
fn spare_replica_uses_the_exact_rule() {
    // 100 req/s for 1 h; "big" (50 req/s, $2) and "small" (10 req/s, $0.5). Without spares:
    // 2 big = $4. Surviving the loss of any one replica (the largest is the worst):
    //   0 big: 10 s − 10 ≥ 100 → 11 small = $5.5
    //   1 big: 50 + 10 s − 50 ≥ 100 → 10 small: $7;  2 big: 5 small: $6.5;  3 big: $6.
    // "Demand plus the largest type" (150 req/s) would have bought 3 big for $6.
    let mut p = problem(
        &[(1.0, 100.0)],
        vec![
            ty("big", 50.0, [Some(2.0), None, None]),
            ty("small", 10.0, [Some(0.5), None, None]),
        ],
    );
    assert_close(solved(&p).cost, 4.0);
    p.spare_replicas = 1;
    let plan = solved(&p);
    assert_eq!(plan.counts, vec![vec![[0, 0], [11, 0]]]);
    assert_close(plan.cost, 5.5);
    // The LP bound uses Σ n c R / (R + k c) ≥ R: small gives 10 × 100 / 110 per replica,
    // so 11 small ($5.5) is also the LP optimum.
    assert_close(plan.lp_bound, 5.5);

    let mut short = plan.clone();
    short.counts[0][1][0] = 10;
    short.cost = cost_of(&p, &short.reserved, &short.counts);
    short.period_cost = vec![short.cost];
    short.lp_bound = 0.0;
    let err = check(&p, &short).unwrap_err();
    assert!(err.contains("N+1, period 0"), "{err}");
}

#[test]
fn check_names_every_broken_constraint() {
    let mut p = problem(
        &[(1.0, 100.0)],
        vec![ty("a", 10.0, [Some(1.0), Some(0.3), None])],
    );
    p.spot_share = 0.5;
    let mut plan = solved(&p);
    plan.counts[0][0] = [3, 6];
    let err = check(&p, &plan).unwrap_err();
    assert!(err.contains("demand, period 0"), "{err}");
    assert!(err.contains("spot share, period 0"), "{err}");
    assert!(err.contains("cost 6.5 but the counts cost"), "{err}");
}

#[test]
fn tighten_scales_the_required_capacity() {
    // 10 req/s with 10 % headroom, tightened 1.5×: 16.5 req/s, so 2 replicas of 10 req/s.
    let mut p = problem(&[(1.0, 10.0)], vec![ty("a", 10.0, [Some(1.0), None, None])]);
    p.headroom = 0.1;
    p.periods[0].tighten = 1.5;
    assert_eq!(solved(&p).counts, vec![vec![[2, 0]]]);
}

#[test]
fn reserved_marginals_price_one_more_instance() {
    // 20 req/s in both periods of reserved_or_not: two reserved a ($24) is optimal.
    let p = problem(
        &[(10.0, 20.0), (10.0, 20.0)],
        vec![
            ty("a", 10.0, [Some(1.0), None, Some(0.6)]),
            ty("b", 10.0, [Some(0.9), None, None]),
        ],
    );
    let plan = solved(&p);
    assert_eq!(plan.reserved, vec![2, 0]);
    // A third reserved a saves nothing and costs 20 h × $0.6; b is not offered reserved.
    let marginals = reserved_marginals(&p, &plan);
    assert_eq!(marginals.len(), 1);
    assert_eq!(marginals[0].0, 0);
    assert_close(marginals[0].1, 12.0);
    // From one reserved a plus on-demand b ($12 + 2 × $9 = $30), a second reserved a replaces
    // $18 of on-demand for $12: a saving of $6.
    let mut one = plan.clone();
    one.reserved = vec![1, 0];
    one.counts = vec![vec![[0, 0], [1, 0]]; 2];
    let marginals = reserved_marginals(&p, &one);
    assert_eq!(marginals.len(), 1);
    assert_close(marginals[0].1, -6.0);
}

#[test]
fn invalid_input_is_reported_all_at_once() {
    let mut p = problem(&[(1.0, -5.0)], vec![ty("a", 0.0, [Some(1.0), None, None])]);
    p.spot_share = 1.5;
    p.limits.push(Limit {
        name: "x".to_string(),
        types: vec![9],
        markets: Vec::new(),
        max: 1,
    });
    let PurchaseError::Invalid(problems) = solve(&p).unwrap_err() else {
        panic!("invalid input is Invalid");
    };
    assert_eq!(problems.len(), 4, "{problems:?}");
}

#[test]
fn the_order_of_types_does_not_change_the_plan() {
    let mut base = synthetic(8, 12, 7);
    // An exact twin of the most used type under another name: a tie only a name-based order
    // can break.
    let first = solved(&base);
    let used = |t: usize| {
        let on_demand_and_spot: u32 = first.counts.iter().map(|row| row[t][0] + row[t][1]).sum();
        on_demand_and_spot + first.reserved[t]
    };
    let most_used = (0..base.types.len()).max_by_key(|&t| used(t)).unwrap();
    let mut twin = base.types[most_used].clone();
    twin.name = "zz-twin".to_string();
    base.types.push(twin);
    let plan = solved(&base);
    let n = base.types.len();
    for order in [
        (0..n).rev().collect::<Vec<_>>(),
        (0..n).map(|i| (i + 5) % n).collect(),
    ] {
        // order[new] = old
        let mut position = vec![0; n];
        for (new, &old) in order.iter().enumerate() {
            position[old] = new;
        }
        let mut permuted = base.clone();
        permuted.types = order.iter().map(|&old| base.types[old].clone()).collect();
        for limit in &mut permuted.limits {
            limit.types = limit.types.iter().map(|&old| position[old]).collect();
        }
        let other = solved(&permuted);
        assert!((other.cost - plan.cost).abs() <= 1e-9 * plan.cost);
        for (new, &old) in order.iter().enumerate() {
            assert_eq!(other.reserved[new], plan.reserved[old]);
            for p in 0..base.periods.len() {
                assert_eq!(other.counts[p][new], plan.counts[p][old]);
            }
        }
    }
}
