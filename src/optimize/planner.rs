//! From a scenario's `[optimize]` table to a verified plan, in steps: measure the demand and
//! each candidate's capacity, buy, verify the purchase by simulating it, tighten the hours that
//! missed the SLO, buy again.
//!
//! A [`Planner`] reads and writes no files and prints nothing: the front end hands it the
//! scenario's text and a [`CurveStore`] (the capacity cache), and hears how the steps go as
//! [`Step`] events, which it turns into text (`report::optimize::progress`).

use super::buy::{self, Purchase};
use super::capacity::{self, CurveStore};
use super::demand::{self, PERIODS};
use super::plan::{Candidate, Outcome, Round};
use super::purchase::{self, PurchaseError};
use super::verify::{self, Verification};
use super::write;
use crate::scenario::{LoadError, OptimizeSpec, Scenario};
use crate::sim::SimError;
use crate::workload::TraceError;

/// How much a missed hour's required capacity grows per round; the hour before grows half as
/// much, since its replicas must already serve when the missed hour starts.
const TIGHTEN: f64 = 0.10;
/// Purchases in a row that tightening leaves unchanged before the loop gives up.
const MOST_UNCHANGED: usize = 50;

/// Why no plan came out.
#[derive(Debug, thiserror::Error)]
pub enum OptimizeError {
    #[error("the scenario has no [optimize] table; see the README's `optimize` section")]
    NoSpec,
    #[error("the scenario was not loaded from a file")]
    NoFile,
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error("candidate {0} sustains no load within the SLO at any measured pool size")]
    NoCapacity(String),
    #[error("the workload's demand is zero in every hour: nothing to plan")]
    NoDemand,
    #[error(
        "the verification window of round {0} saw no arrivals; lengthen [optimize] verify.horizon"
    )]
    NoArrivals(usize),
    #[error(transparent)]
    Purchase(#[from] PurchaseError),
    #[error(transparent)]
    Write(#[from] write::WriteError),
    #[error("the written plan does not load (a bug): {0}")]
    Load(#[from] LoadError),
}

/// What happened, as the steps go.
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    /// The demand by hour of the day is known: its quietest and busiest hours, req/s.
    Demand { lowest: f64, highest: f64 },
    /// Capacity at the SLO is about to be measured (or read from the store).
    Measuring {
        candidates: usize,
        pool_sizes: usize,
    },
    /// One candidate's capacity curve.
    Capacity(&'a Candidate),
    /// A purchase for round `round`; `unchanged` when it is the last verified one again (it is
    /// tightened further rather than simulated again).
    Bought {
        round: usize,
        purchase: &'a Purchase,
        unchanged: bool,
    },
    /// Round `round`'s purchase as simulated.
    Verified { round: usize, result: &'a Round },
    /// The required capacity of each hour, as a multiple of its demand's, for the next purchase.
    Tightened(&'a Tightening),
}

/// How much more capacity than measured each hour of the day is bought for (`>= 1`); raised
/// where verification missed.
#[derive(Clone, Debug, PartialEq)]
pub struct Tightening(pub [f64; PERIODS]);

impl Default for Tightening {
    fn default() -> Tightening {
        Tightening([1.0; PERIODS])
    }
}

impl Tightening {
    /// Raises the missed hours, and half as much the hour before each.
    fn raise(&mut self, missed: &[usize]) {
        for &p in missed {
            self.0[p] *= 1.0 + TIGHTEN;
            let before = (p + PERIODS - 1) % PERIODS;
            self.0[before] *= 1.0 + TIGHTEN / 2.0;
        }
    }
}

/// A purchase and how it verified.
struct Verified {
    purchase: Purchase,
    verification: Verification,
    tightening: Tightening,
}

/// The optimizer of one scenario.
pub struct Planner<'a> {
    scenario: &'a Scenario,
    spec: &'a OptimizeSpec,
    /// The scenario's text, which the plan is written over (its comments kept) to verify it.
    text: &'a str,
    /// `--set` overrides the scenario was loaded with (re-applied to the written plan).
    overrides: &'a [String],
}

impl<'a> Planner<'a> {
    /// A planner for `scenario`, loaded from a file whose text is `text` (or an edit of it not
    /// yet saved) with `overrides`.
    pub fn new(
        scenario: &'a Scenario,
        text: &'a str,
        overrides: &'a [String],
    ) -> Result<Planner<'a>, OptimizeError> {
        let spec = scenario.optimize().as_ref().ok_or(OptimizeError::NoSpec)?;
        scenario.path().as_ref().ok_or(OptimizeError::NoFile)?;
        Ok(Planner {
            scenario,
            spec,
            text,
            overrides,
        })
    }

    /// The demand by hour of the day, req/s.
    pub fn demand(&self) -> Result<Vec<f64>, OptimizeError> {
        let workload = &self.scenario.workloads()[self.spec.workload];
        let demand = demand::hourly(workload, self.spec.peak_percentile)?;
        if demand.iter().all(|&d| d <= 0.0) {
            return Err(OptimizeError::NoDemand);
        }
        Ok(demand)
    }

    /// Each candidate with its capacity curve: from `store` where it has it, else measured (and
    /// put there).
    pub fn measure(&self, store: &mut dyn CurveStore) -> Result<Vec<Candidate>, OptimizeError> {
        let curves = capacity::curves(self.scenario, store)?;
        Ok(buy::candidates(self.spec, curves))
    }

    /// The cheapest purchase for `demand`, each hour's required capacity raised by `tightening`.
    pub fn buy(
        &self,
        candidates: &[Candidate],
        demand: &[f64],
        tightening: &Tightening,
    ) -> Result<Purchase, PurchaseError> {
        let workload = &self.scenario.workloads()[self.spec.workload];
        buy::cheapest(self.spec, workload, candidates, demand, &tightening.0)
    }

    /// Writes `purchase` over the scenario's text and simulates it as round `round`.
    pub fn verify(
        &self,
        candidates: &[Candidate],
        purchase: &Purchase,
        round: usize,
    ) -> Result<Verification, OptimizeError> {
        let names: Vec<String> = candidates.iter().map(|c| c.name.clone()).collect();
        let workload = &self.scenario.workloads()[self.spec.workload];
        let text = write::scenario_text(
            self.text,
            self.overrides,
            &workload.name,
            self.scenario.workloads().len() == 1,
            &names,
            &purchase.pools,
            &format!(
                "Pools planned by `headroom optimize` (${:.2} per day in the purchase model).",
                purchase.plan.cost
            ),
        )?;
        verify::verify(self.scenario, self.spec, text, &purchase.plan, round)
    }

    /// `tightening` raised for the hours `round` missed.
    pub fn tighten(&self, tightening: &Tightening, round: &Round) -> Tightening {
        let mut next = tightening.clone();
        next.raise(&round.missed);
        next
    }

    /// Runs the steps until a round passes, the rounds run out, or tightening stops finding a
    /// plan or changing it; `on` hears each step.
    pub fn run(
        &self,
        store: &mut dyn CurveStore,
        on: &mut dyn FnMut(Step),
    ) -> Result<Outcome, OptimizeError> {
        let demand = self.demand()?;
        on(Step::Demand {
            lowest: demand.iter().cloned().fold(f64::INFINITY, f64::min),
            highest: demand.iter().cloned().fold(0.0, f64::max),
        });
        on(Step::Measuring {
            candidates: self.spec.candidates.len(),
            pool_sizes: self.spec.capacity.pool_sizes.len(),
        });
        let candidates = self.measure(store)?;
        for c in &candidates {
            if c.curve.best_per_replica() <= 0.0 {
                return Err(OptimizeError::NoCapacity(c.name.clone()));
            }
            on(Step::Capacity(c));
        }
        let mut tightening = Tightening::default();
        let mut rounds: Vec<Round> = Vec::new();
        let mut last: Option<Verified> = None;
        let mut stopped = None;
        let mut unchanged = 0;
        loop {
            let round = rounds.len() + 1;
            let purchase = match self.buy(&candidates, &demand, &tightening) {
                Ok(x) => x,
                // A tightened model with no plan ends the loop; the last verified plan stands.
                Err(e) if last.is_some() => {
                    stopped = Some(format!("tightening stopped: {e}"));
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            let same = last
                .as_ref()
                .is_some_and(|l| l.purchase.pools == purchase.pools);
            on(Step::Bought {
                round,
                purchase: &purchase,
                unchanged: same,
            });
            if same {
                // Same purchase as the last round: tighten further rather than simulate it again.
                unchanged += 1;
                if unchanged > MOST_UNCHANGED {
                    stopped = Some("tightening no longer changes the plan".into());
                    break;
                }
                tightening = self.tighten(&tightening, rounds.last().expect("a round"));
                on(Step::Tightened(&tightening));
                continue;
            }
            unchanged = 0;
            let verification = self.verify(&candidates, &purchase, round)?;
            on(Step::Verified {
                round,
                result: &verification.round,
            });
            rounds.push(verification.round.clone());
            last = Some(Verified {
                purchase,
                verification,
                tightening: tightening.clone(),
            });
            let missed = &rounds.last().expect("a round").missed;
            if missed.is_empty() || rounds.len() as u32 >= self.spec.verify.rounds {
                break;
            }
            tightening = self.tighten(&tightening, rounds.last().expect("a round"));
            on(Step::Tightened(&tightening));
        }
        let v = last.expect("a verified round");
        let passed = rounds.last().is_some_and(|r| r.missed.is_empty());
        let baselines = buy::baselines(
            self.spec,
            &candidates,
            &demand,
            &v.tightening.0,
            v.purchase.single,
        );
        let reserved_marginals =
            purchase::reserved_marginals(&v.purchase.problem, &v.purchase.plan);
        Ok(Outcome {
            demand,
            candidates,
            problem: v.purchase.problem,
            plan: v.purchase.plan,
            pools: v.purchase.pools,
            rounds,
            passed,
            stopped,
            verification: v.verification.summary,
            verified_scenario: v.verification.scenario,
            scenario_text: v.verification.text,
            baselines,
            reserved_marginals,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_hour_is_raised_and_the_hour_before_half_as_much() {
        let mut t = Tightening::default();
        t.raise(&[0, 5]);
        assert_eq!(t.0[0], 1.1);
        assert_eq!(t.0[23], 1.05);
        assert_eq!(t.0[4], 1.05);
        assert_eq!(t.0[5], 1.1);
        assert_eq!(t.0[1], 1.0);
    }
}
