//! EASY backfill: the reservation of the blocked head of the queue, and which later jobs may
//! start now without delaying it. Shared by the fixed and the elastic cluster.

use crate::units::SimTime;

/// Waiting jobs tried per backfill pass.
pub const BACKFILL_DEPTH: usize = 500;

/// One EASY backfill pass: the blocked head's reservation and the GPUs left to hand out.
pub(crate) struct Easy {
    now: SimTime,
    /// The earliest time enough GPUs are free for the head ([`SimTime::MAX`]: never).
    shadow: SimTime,
    /// GPUs beyond the head's need at `shadow`, which a backfilled job may hold past it.
    extra: u32,
    pub(crate) free: u32,
}

impl Easy {
    /// The reservation for a head needing `need` GPUs, with `free` free now and `ends` (time,
    /// GPUs) coming free later. Every GPU freed at the shadow time counts, so the result does
    /// not depend on the order of `ends`.
    pub(crate) fn behind(now: SimTime, free: u32, need: u32, ends: &mut [(SimTime, u32)]) -> Easy {
        ends.sort_by_key(|e| e.0);
        let mut avail = free;
        let mut shadow = None;
        for &(t, g) in ends.iter() {
            if shadow.is_some_and(|s| t > s) {
                break;
            }
            avail += g;
            if shadow.is_none() && avail >= need {
                shadow = Some(t);
            }
        }
        Easy {
            now,
            shadow: shadow.unwrap_or(SimTime::MAX),
            extra: avail.saturating_sub(need),
            free,
        }
    }

    /// Whether a waiting job of `gpus` that runs for `run` may start now without delaying the
    /// head; if so, it takes its GPUs.
    pub(crate) fn admit(&mut self, gpus: u32, run: SimTime) -> bool {
        let ends_in_time = self.now.saturating_add(run) <= self.shadow;
        if gpus > self.free || !(ends_in_time || gpus <= self.extra) {
            return false;
        }
        if !ends_in_time {
            self.extra -= gpus;
        }
        self.free -= gpus;
        true
    }
}
