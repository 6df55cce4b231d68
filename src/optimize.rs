//! The optimizer: which fleet serves a workload within its SLO for the least money.
//!
//! Three steps, each checkable on its own: [`capacity`] measures, by simulation, the load a pool
//! of each candidate sustains within the SLO; [`purchase`] picks counts per period, type and
//! market by linear programming; [`plan`] verifies the purchase by simulating it and tightens the
//! periods that miss until it passes or cannot.

pub mod capacity;
pub mod demand;
pub mod plan;
pub mod purchase;
pub mod tracking;
pub mod write;
