//! Advice on a scenario that loads: what runs but is likely not what was meant, said where it
//! is written (`file:line`) with what it costs. `simulate` and `validate` print it as warnings,
//! the JSON report lists it under `warnings` and the TUI's Overview shows it;
//! it never changes a result or an exit code.

use super::{Diagnostic, Scenario};

impl Scenario {
    /// Warnings about the scenario, in the order of its pools.
    pub fn advice(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for pool in self.pools() {
            // A fixed pool whose replicas fill their instances unevenly pays for idle GPUs
            // (`replicas` counts tensor-parallel groups, not instances).
            let per = pool.instance.gpu_count;
            if pool.scaling.is_some() || pool.replicas == 0 || pool.gpus_per_replica >= per {
                continue;
            }
            let used = pool.replicas * pool.gpus_per_replica;
            let bought = pool.instances() * per;
            let idle = bought - used;
            if idle == 0 {
                continue;
            }
            let fill = bought / pool.gpus_per_replica;
            out.push(self.diagnostic_at(
                &["pools", &pool.name, "replicas"],
                format!(
                    "pool {}: {} replica{} of {} GPU{} use {used} of the {bought} GPUs of {} {}; the {idle} idle GPU{} cost ${:.2}/h. `replicas = {fill}` uses them at the same price, or pick an instance type with fewer GPUs",
                    pool.name,
                    pool.replicas,
                    if pool.replicas == 1 { "" } else { "s" },
                    pool.gpus_per_replica,
                    if pool.gpus_per_replica == 1 { "" } else { "s" },
                    pool.instances(),
                    pool.instance.name,
                    if idle == 1 { "" } else { "s" },
                    f64::from(idle) * pool.price_usd_per_gpu_hour(),
                ),
            ));
        }
        out
    }
}
