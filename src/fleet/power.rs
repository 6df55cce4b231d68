//! What a pool's GPUs draw, and the energy a run used.
//!
//! A GPU draws `idle_w + dynamic_w × utilization`. A calibrated profile gives both terms
//! (`headroom calibrate`); without one, the spec's TDP does: idle at [`IDLE_SHARE_OF_TDP`] of TDP
//! (a serving replica with its model loaded, clocks up, waiting), TDP at full utilization. Over a
//! run, a pool's energy is `idle_w × paid GPU-hours + dynamic_w × busy GPU-hours`, times the
//! facility's PUE: utilization enters only through busy time, so the simulator needs no
//! per-event power bookkeeping.

/// Idle draw as a share of TDP when no profile says: NVML readings of loaded, waiting inference
/// GPUs (model in memory, clocks not parked) sit at roughly a fifth to a third of TDP.
pub const IDLE_SHARE_OF_TDP: f64 = 0.25;

/// Where a pool's power figures came from.
#[derive(Clone, Debug, PartialEq)]
pub enum PowerSource {
    /// A calibrated GPU profile, by its path as the scenario wrote it.
    Profile(String),
    /// The GPU's TDP from the bundled specs.
    Tdp,
}

/// Watts per GPU.
#[derive(Clone, Debug, PartialEq)]
pub struct PowerModel {
    pub idle_w: f64,
    pub dynamic_w: f64,
    pub source: PowerSource,
}

impl PowerModel {
    pub fn from_tdp(tdp_w: f64) -> PowerModel {
        let idle_w = tdp_w * IDLE_SHARE_OF_TDP;
        PowerModel {
            idle_w,
            dynamic_w: tdp_w - idle_w,
            source: PowerSource::Tdp,
        }
    }

    /// Kilowatt-hours at the GPUs (before PUE) for `paid` GPU-hours of which `busy` were busy.
    pub fn gpu_kwh(&self, paid_gpu_h: f64, busy_gpu_h: f64) -> f64 {
        (self.idle_w * paid_gpu_h + self.dynamic_w * busy_gpu_h) / 1000.0
    }
}

/// What energy costs where the fleet is owned: `[energy]` in a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct EnergySpec {
    /// Dollars per kWh drawn from the grid.
    pub price_per_kwh: f64,
    /// Kilograms of CO2-equivalent per kWh, if stated.
    pub carbon_kg_per_kwh: Option<f64>,
    /// Power usage effectiveness: facility energy over IT energy (1.0 counts the GPUs alone).
    pub pue: f64,
    /// The fleet is owned, so energy is a line of the bill; on cloud instances it is shown
    /// beside the bill (their prices include power).
    pub owned: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_is_idle_over_paid_time_plus_dynamic_over_busy_time() {
        let p = PowerModel::from_tdp(400.0);
        assert_eq!((p.idle_w, p.dynamic_w), (100.0, 300.0));
        // 10 GPU-hours paid, 4 busy: 100 W × 10 h + 300 W × 4 h = 2.2 kWh.
        assert!((p.gpu_kwh(10.0, 4.0) - 2.2).abs() < 1e-12);
    }
}
