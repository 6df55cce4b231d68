//! How a replica's iterations are timed: by the roofline, or by a measured table.

use std::sync::Arc;

use super::roofline::{Roofline, Step, StepModel};
use super::table::IterationTable;

#[derive(Clone, Debug)]
// One per pool: the roofline's constants stay inline, off the heap, on the hot path.
#[allow(clippy::large_enum_variant)]
pub enum Timing {
    Roofline(StepModel),
    Table(Arc<IterationTable>),
}

impl Timing {
    /// The table when there is one, else the roofline.
    pub fn new(roofline: &Roofline, table: Option<&Arc<IterationTable>>) -> Timing {
        match table {
            Some(t) => Timing::Table(Arc::clone(t)),
            None => Timing::Roofline(StepModel::new(roofline)),
        }
    }

    /// Seconds one iteration takes.
    #[inline]
    pub fn seconds(&self, s: &Step) -> f64 {
        match self {
            Timing::Roofline(m) => m.seconds(s),
            Timing::Table(t) => t.seconds(s),
        }
    }

    /// Seconds of the first `j` iterations of a decode run that starts with `first`.
    pub fn run_seconds(&self, first: &Step, j: u32) -> f64 {
        match self {
            Timing::Roofline(m) => m.run_seconds(first, j),
            Timing::Table(t) => t.run_seconds(first, j),
        }
    }
}
