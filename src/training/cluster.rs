//! A shared training cluster's jobs and the policies that queue them: what a scenario and a job
//! trace describe. The scheduler that runs them is the sim layer's (`sim::cluster`), which
//! documents each policy.

/// A job of a cluster's stream. Times in seconds (a trace's from its first submission).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClusterJob {
    pub submit_s: f64,
    pub duration_s: f64,
    pub gpus: u32,
    /// Larger runs first under [`Policy::Priority`].
    pub priority: i32,
}

/// Which waiting job starts next: submission order (FIFO), FIFO with EASY backfill, or
/// priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Fifo,
    Backfill,
    Priority,
}

impl Policy {
    /// How scenario files name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Fifo => "fifo",
            Policy::Backfill => "backfill",
            Policy::Priority => "priority",
        }
    }

    pub fn parse(s: &str) -> Option<Policy> {
        match s {
            "fifo" => Some(Policy::Fifo),
            "backfill" | "fifo-backfill" => Some(Policy::Backfill),
            "priority" => Some(Policy::Priority),
            _ => None,
        }
    }
}
