//! headroom: a capacity planner and simulator for GPU fleets that serve ML inference.
//!
//! Layers, lower never importing higher: [`units`], [`rng`], [`bundled`] → [`pricing`], [`costs`], [`fleet`],
//! [`workload`], [`training`] → [`scenario`] → [`sim`], [`calibrate`] → [`experiment`] → [`sweep`], [`optimize`] → [`report`]
//! → [`cli`], [`tui`].
//! The library is what the CLI, the tests and the benches drive.

pub mod atomic_file;
pub mod bundled;
pub mod calibrate;
pub mod cli;
pub mod costs;
pub mod data_file;
pub mod experiment;
pub mod fleet;
pub mod llm;
pub mod optimize;
pub mod pricing;
pub mod profile;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod sweep;
pub mod training;
pub mod tui;
pub mod units;
pub mod workload;

pub use scenario::{Scenario, load};
pub use sim::{RunResult, run};
