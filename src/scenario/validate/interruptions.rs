//! A spot pool's interruptions, and the on-demand pools its fallback runs in.

use crate::scenario::spanned::Spanned;

use super::Checker;
use crate::fleet::interruptions::{default_notice, rate_from_bucket};
use crate::fleet::{Correlated, Interruptions, Replacement};
use crate::pricing::{InstanceType, Market, spot_interruption_bucket};
use crate::scenario::raw;
use crate::units::SimTime;

/// Most reclaims an hour a spot replica may see: one a minute, far above any cloud's (the
/// Spot Instance Advisor's worst bucket is about one in ten hours), and low enough that a
/// typo cannot fill a run with reclaims.
const MAX_RATE_PER_HOUR: f64 = 60.0;

impl Checker<'_> {
    /// A spot pool's reclaims, if it has an `interruptions` table.
    pub(super) fn interruptions(
        &mut self,
        p: &raw::Pool,
        name: &Spanned<String>,
        inst: &InstanceType,
        market: Market,
    ) -> Option<Interruptions> {
        let v = p.interruptions.as_ref()?;
        if market != Market::Spot {
            self.error(
                v.span(),
                format!(
                    "`interruptions` apply to spot pools; pool {:?} is {market}",
                    name.get_ref()
                ),
            );
            return None;
        }
        let v = v.get_ref();
        let rate_per_hour = match &v.rate_per_hour {
            Some(r) if (0.0..=MAX_RATE_PER_HOUR).contains(r.get_ref()) => *r.get_ref(),
            Some(r) => {
                self.error(
                    r.span(),
                    format!(
                        "`rate_per_hour` must be from 0 to {MAX_RATE_PER_HOUR}, got {}",
                        r.get_ref()
                    ),
                );
                return None;
            }
            None => match spot_interruption_bucket(&inst.cloud, &inst.name, &inst.region)
                .and_then(rate_from_bucket)
            {
                Some(r) => r,
                None => {
                    self.error(
                        p.interruptions.as_ref().expect("some").span(),
                        format!(
                            "no Spot Instance Advisor bucket for {} in {}; set `rate_per_hour`",
                            inst.name, inst.region
                        ),
                    );
                    return None;
                }
            },
        };
        let retry_delay = v
            .retry_delay
            .as_ref()
            .map_or(SimTime::from_secs(300), |d| d.get_ref().0);
        let replacement = match v.replacement.as_ref().map(|r| r.get_ref().as_str()) {
            None | Some("retry") => Replacement::Retry { delay: retry_delay },
            // The fallback pool's index is set once every pool is known.
            Some("on-demand") => Replacement::Fallback {
                delay: retry_delay,
                pool: usize::MAX,
            },
            Some("none") => Replacement::None,
            Some(other) => {
                self.error(
                    v.replacement.as_ref().expect("some").span(),
                    format!("unknown replacement {other:?}; expected retry, on-demand or none"),
                );
                return None;
            }
        };
        let correlated = match &v.correlated {
            None => None,
            Some(c) => {
                let c = c.get_ref();
                let (rate, fraction) = (*c.rate_per_hour.get_ref(), *c.fraction.get_ref());
                if !(0.0..=MAX_RATE_PER_HOUR).contains(&rate) {
                    self.error(
                        c.rate_per_hour.span(),
                        format!(
                            "`correlated.rate_per_hour` must be from 0 to {MAX_RATE_PER_HOUR}, got {rate}"
                        ),
                    );
                    return None;
                }
                if !(fraction > 0.0 && fraction <= 1.0) {
                    self.error(
                        c.fraction.span(),
                        format!("`correlated.fraction` must be in (0, 1], got {fraction}"),
                    );
                    return None;
                }
                Some(Correlated {
                    rate_per_hour: rate,
                    fraction,
                })
            }
        };
        Some(Interruptions {
            rate_per_hour,
            notice: v
                .notice
                .as_ref()
                .map_or_else(|| default_notice(&inst.cloud), |d| d.get_ref().0),
            replacement,
            correlated,
        })
    }
}

impl Checker<'_> {
    /// Adds, for each spot pool that falls back to on-demand, the pool its fallback replicas run
    /// in: the same instance type and serving, on-demand, no replicas of its own.
    pub(super) fn fallback_pools(
        &mut self,
        pools: &mut Vec<crate::fleet::Pool>,
        raw: &[(Spanned<String>, Option<raw::Pool>)],
    ) {
        for i in 0..pools.len() {
            let Some(Interruptions {
                replacement: Replacement::Fallback { delay, .. },
                ..
            }) = pools[i].interruptions
            else {
                continue;
            };
            let spot = &pools[i];
            let Some(price) = spot.instance.on_demand_usd_per_hour else {
                let span = raw
                    .iter()
                    .find(|(n, _)| n.get_ref() == &spot.name)
                    .and_then(|(_, p)| {
                        p.as_ref()?
                            .interruptions
                            .as_ref()?
                            .get_ref()
                            .replacement
                            .as_ref()
                    })
                    .map_or(0..0, Spanned::span);
                self.error(
                    span,
                    format!(
                        "{} in {} has no on-demand price to fall back to; use replacement = \"retry\"",
                        spot.instance.name, spot.instance.region
                    ),
                );
                continue;
            };
            let fallback = crate::fleet::Pool {
                name: format!("{}/on-demand", spot.name),
                market: Market::OnDemand,
                replicas: 0,
                price_usd_per_hour: price,
                scaling: None,
                interruptions: None,
                provisioning: crate::fleet::Provisioning {
                    warm_pool: None,
                    ..spot.provisioning.clone()
                },
                ..spot.clone()
            };
            let index = pools.len();
            pools.push(fallback);
            if let Some(int) = &mut pools[i].interruptions {
                int.replacement = Replacement::Fallback { delay, pool: index };
            }
        }
    }
}
