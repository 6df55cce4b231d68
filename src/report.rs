//! Reports of an experiment: a table for people, JSON as the machine contract, CSV for
//! spreadsheets. Every format is a pure function of the [`Summary`] (plus the [`RunInfo`] of the
//! run, which JSON keeps apart so that the rest is byte-identical between runs with one seed).

pub mod bill;
pub mod calibrate;
pub mod csv;
pub mod format;
pub mod json;
pub mod optimize;
pub mod sweep;
pub mod table;
pub mod training;

use crate::experiment::Summary;
use crate::experiment::bill::Bill;
use crate::experiment::training::TrainingSummary;
use crate::scenario::Scenario;

/// How the run went, as opposed to what it found: varies from run to run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunInfo {
    pub wall_seconds: f64,
    pub threads: usize,
}

/// Everything a report needs.
pub struct Report<'a> {
    pub scenario: &'a Scenario,
    /// Serving's results; `None` for a scenario that only trains.
    pub summary: Option<&'a Summary>,
    pub training: Option<&'a TrainingSummary>,
    pub bill: Option<&'a Bill>,
    pub run: RunInfo,
}
