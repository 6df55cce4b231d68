//! How a replica's iterations are timed: by the roofline, by a measured iteration table, or by
//! measured kernels.

use std::sync::Arc;

use super::ops::{KernelModel, StepOverhead};
use super::roofline::{Roofline, Step, StepModel};
use super::table::IterationTable;

#[derive(Clone, Debug)]
// One per pool: the roofline's constants stay inline, off the heap, on the hot path.
#[allow(clippy::large_enum_variant)]
pub enum Timing {
    /// The roofline, plus the engine's CPU time per step.
    Roofline(StepModel, StepOverhead),
    Table(Arc<IterationTable>),
    Kernels(Arc<KernelModel>),
}

impl Timing {
    /// The iteration table when there is one, else the kernel model, else the roofline.
    pub fn new(
        roofline: &Roofline,
        table: Option<&Arc<IterationTable>>,
        kernels: Option<&Arc<KernelModel>>,
        overhead: StepOverhead,
    ) -> Timing {
        match (table, kernels) {
            (Some(t), _) => Timing::Table(Arc::clone(t)),
            (None, Some(k)) => Timing::Kernels(Arc::clone(k)),
            (None, None) => Timing::Roofline(StepModel::new(roofline), overhead),
        }
    }

    /// Seconds one iteration takes.
    #[inline]
    pub fn seconds(&self, s: &Step) -> f64 {
        match self {
            Timing::Roofline(m, o) => m.seconds(s) + o.seconds(s),
            Timing::Table(t) => t.seconds(s),
            Timing::Kernels(k) => k.seconds(s),
        }
    }

    /// Seconds of the first `j` iterations of a decode run that starts with `first`.
    pub fn run_seconds(&self, first: &Step, j: u32) -> f64 {
        match self {
            Timing::Roofline(m, o) => m.run_seconds(first, j) + f64::from(j) * o.seconds(first),
            Timing::Table(t) => t.run_seconds(first, j),
            Timing::Kernels(k) => k.run_seconds(first, j),
        }
    }
}
