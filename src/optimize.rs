//! The optimizer: which fleet serves a workload within its SLO for the least money.
//!
//! A [`planner::Planner`] runs the steps, each checkable on its own: [`capacity`] measures, by
//! simulation, the load a pool of each candidate sustains within the SLO; [`buy`] and
//! [`purchase`] pick counts per period, type and market by linear programming; [`verify`]
//! simulates the purchase, and the planner tightens the periods that miss until it passes or
//! cannot. [`plan`] is what comes out; [`cache`] keeps capacity curves on disk for the front
//! ends.

pub mod buy;
pub mod cache;
pub mod capacity;
pub mod demand;
pub mod plan;
pub mod planner;
pub mod purchase;
pub mod tracking;
pub mod verify;
pub mod write;
