//! Spot and preemptible capacity: how often a replica is reclaimed, the notice it gets, and what
//! replaces it.

use crate::units::SimTime;

/// A pool whose replicas the cloud reclaims.
#[derive(Clone, Debug, PartialEq)]
pub struct Interruptions {
    /// Reclaims per replica-hour: each serving replica is reclaimed after an exponential time.
    pub rate_per_hour: f64,
    /// Warning before the reclaim, during which the replica takes no new work (AWS: 2 minutes).
    pub notice: SimTime,
    /// What happens to the lost capacity.
    pub replacement: Replacement,
    /// Pool-wide reclaims on top of the replicas' own: the cloud takes a share of the pool at
    /// once (a capacity crunch in the zone).
    pub correlated: Option<Correlated>,
}

/// Reclaims of several replicas at once: events at `rate_per_hour` per pool, each taking
/// `fraction` of the serving replicas (rounded up).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Correlated {
    pub rate_per_hour: f64,
    pub fraction: f64,
}

/// After a reclaim, spot capacity in the pool is gone for `delay` (the time the cloud takes to
/// have it again); then the pool asks for replicas up to its target again (`Retry`). `Fallback`
/// (SkyServe's dynamic fallback) also starts on-demand replicas of the same instance type in
/// pool `pool` (named `NAME/on-demand`) at once, for as long as the spot pool serves fewer
/// replicas than its target, and lets them go as spot replicas come back. `None`: the pool does
/// not replace what it lost (an autoscaling policy still may).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Replacement {
    Retry { delay: SimTime },
    Fallback { delay: SimTime, pool: usize },
    None,
}

impl Replacement {
    /// How long spot capacity stays gone after a reclaim (`None`: the pool does not ask again).
    pub fn delay(self) -> Option<SimTime> {
        match self {
            Replacement::Retry { delay } | Replacement::Fallback { delay, .. } => Some(delay),
            Replacement::None => None,
        }
    }

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Replacement::Retry { .. } => "retry",
            Replacement::Fallback { .. } => "on-demand",
            Replacement::None => "none",
        }
    }
}

/// The AWS Spot Instance Advisor's buckets give the share of instances of a type interrupted in
/// the trailing month. A bucket becomes the middle of its range (the open top one, ">20%", is
/// taken as 25 %), and that monthly probability `p` the hourly rate `-ln(1 - p) / 730` of an
/// exponential lifetime with the same chance of ending within a month (730 hours).
pub fn rate_from_bucket(bucket: &str) -> Option<f64> {
    let p = match bucket.trim() {
        "<5%" => 0.025,
        "5-10%" => 0.075,
        "10-15%" => 0.125,
        "15-20%" => 0.175,
        ">20%" => 0.25,
        _ => return None,
    };
    Some(-(1.0f64 - p).ln() / 730.0)
}

/// Notice before a reclaim, by cloud: AWS gives two minutes, GCP and Azure thirty seconds.
pub fn default_notice(cloud: &str) -> SimTime {
    match cloud {
        "aws" => SimTime::from_secs(120),
        _ => SimTime::from_secs(30),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_become_rates() {
        let r = rate_from_bucket("<5%").unwrap();
        // 2.5 % a month: about one reclaim per 29,000 replica-hours.
        assert!((1.0 / r - 28_835.0).abs() < 10.0, "{}", 1.0 / r);
        assert!(rate_from_bucket(">20%").unwrap() > rate_from_bucket("15-20%").unwrap());
        assert_eq!(rate_from_bucket("sometimes"), None);
    }
}
