//! The energy a fleet used over the measured window, from each pool's GPU-hours and power model
//! (see [`crate::fleet::power`]), and what it cost where the scenario prices it.

use crate::fleet::EnergySpec;
use crate::scenario::Scenario;
use crate::sim::Metric;

use super::Summary;

/// Energy over the window (means over replications).
#[derive(Clone, Debug, PartialEq)]
pub struct Energy {
    /// At the facility meter: the GPUs' energy times PUE.
    pub kwh: f64,
    /// Per pool, at the GPUs (before PUE); `NaN` for a pool with no power model.
    pub pool_gpu_kwh: Vec<f64>,
    /// Pools with no power model (no profile, no TDP in the specs), by name.
    pub unknown: Vec<String>,
    pub cost_usd: f64,
    pub carbon_kg: Option<f64>,
    pub wh_per_request: f64,
    /// Wh per 1,000 output tokens, for LLM workloads.
    pub wh_per_1k_output_tokens: Option<f64>,
    pub spec: EnergySpec,
}

/// The scenario's energy line, if it has an `[energy]` table.
pub fn energy(scenario: &Scenario, summary: &Summary) -> Option<Energy> {
    let spec = scenario.energy().clone()?;
    let mut pool_gpu_kwh = Vec::new();
    let mut unknown = Vec::new();
    for (p, ps) in scenario.pools().iter().zip(&summary.pools) {
        match &p.power {
            Some(m) => pool_gpu_kwh
                .push(m.gpu_kwh(ps.gpu_hours_busy + ps.gpu_hours_idle, ps.gpu_hours_busy)),
            None => {
                pool_gpu_kwh.push(f64::NAN);
                unknown.push(p.name.clone());
            }
        }
    }
    let kwh = pool_gpu_kwh.iter().filter(|x| x.is_finite()).sum::<f64>() * spec.pue;
    let t = &summary.total;
    let completed = t.get(Metric::Completed).mean;
    let out_tokens = t.get(Metric::OutputTokens).mean;
    Some(Energy {
        kwh,
        pool_gpu_kwh,
        unknown,
        cost_usd: kwh * spec.price_per_kwh,
        carbon_kg: spec.carbon_kg_per_kwh.map(|c| c * kwh),
        wh_per_request: kwh * 1000.0 / completed,
        wh_per_1k_output_tokens: (out_tokens > 0.0).then(|| kwh * 1000.0 / out_tokens * 1000.0),
        spec,
    })
}
