//! Pools: workload, instance type, market, price, replicas and service.

use std::sync::Arc;

use crate::scenario::spanned::Spanned;

use super::{Checker, Entry, LlmModel, ModelEntry, ModelKind, Profiles};
use crate::fleet::{
    LlmServing, Pool, ScalingPolicy, ServiceModel, ServiceTime, Serving, TrackedMetric,
};
use crate::llm::Roofline;
use crate::pricing::{Catalog, InstanceType, Market};
use crate::scenario::raw;
use crate::workload::{Arrival, Workload};

impl Checker<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn pool(
        &mut self,
        name: &Spanned<String>,
        p: &raw::Pool,
        workloads_raw: &[Entry<Option<raw::Workload>>],
        workloads: &[Workload],
        models: &[ModelEntry],
        catalog: &Catalog,
        reserved_discount: f64,
        candidate_of: Option<usize>,
    ) -> Option<Pool> {
        let before = self.problems.len();
        let pool_name = name.get_ref();
        // Which workload.
        let workload = match &p.workload {
            _ if candidate_of.is_some() => candidate_of,
            Some(w) => {
                let idx = workloads_raw
                    .iter()
                    .position(|(n, _)| n.get_ref() == w.get_ref());
                if idx.is_none() {
                    let known: Vec<&str> = workloads_raw
                        .iter()
                        .map(|(n, _)| n.get_ref().as_str())
                        .collect();
                    self.error(
                        w.span(),
                        format!(
                            "no workload named {:?}; workloads are: {}",
                            w.get_ref(),
                            known.join(", ")
                        ),
                    );
                }
                idx
            }
            None if workloads_raw.len() == 1 => Some(0),
            None if workloads_raw.is_empty() => {
                self.error(
                    name.span(),
                    format!("pool {pool_name:?} has no workload to serve: the scenario has none; add a [workloads.NAME] table"),
                );
                None
            }
            None => {
                self.error(
                    name.span(),
                    format!("pool {pool_name:?} must say which workload it serves (`workload = \"...\"`): the scenario has several"),
                );
                None
            }
        };
        // Which instance type.
        let instance = match (&p.instance_type, &p.instance) {
            (Some(t), None) => self.catalog_instance(catalog, t, &p.region, &p.cloud),
            (None, Some(i)) => {
                for (field, v) in [("region", &p.region), ("cloud", &p.cloud)] {
                    if let Some(v) = v {
                        self.error(v.span(), format!("`{field}` applies to catalog instance types; an inline [instance] has none"));
                    }
                }
                self.inline_instance(i, pool_name)
            }
            (Some(t), Some(i)) => {
                self.error(i.span(), format!("pool {pool_name:?} sets both `instance_type` ({:?}) and an inline `instance`; keep one", t.get_ref()));
                None
            }
            (None, None) => {
                self.error(name.span(), format!("pool {pool_name:?} needs `instance_type` (from the catalog) or an inline `instance` table"));
                None
            }
        };
        let market = match &p.market {
            None => Market::OnDemand,
            Some(m) => Market::parse(m.get_ref()).unwrap_or_else(|| {
                self.error(
                    m.span(),
                    format!(
                        "unknown market {:?}; expected on-demand, spot or reserved",
                        m.get_ref()
                    ),
                );
                Market::OnDemand
            }),
        };
        let discount = match &p.reserved_discount {
            Some(d) => {
                if market != Market::Reserved {
                    self.error(d.span(), format!("reserved_discount applies to market = \"reserved\"; this pool is {market}"));
                }
                self.discount(d)
            }
            None => reserved_discount,
        };
        let replicas = match &p.replicas {
            None if candidate_of.is_some() => 1,
            None => {
                self.error(
                    name.span(),
                    format!("pool {pool_name:?} needs `replicas`, e.g. replicas = 2"),
                );
                0
            }
            Some(r) => match u32::try_from(*r.get_ref()) {
                Ok(n) if n <= super::MAX_REPLICAS => n,
                _ => {
                    self.error(
                        r.span(),
                        format!(
                            "replicas must be a whole number from 0 to {}, got {}",
                            super::MAX_REPLICAS,
                            r.get_ref()
                        ),
                    );
                    0
                }
            },
        };
        let price = instance.as_ref().and_then(|i| {
            let price = i.price_usd_per_hour(market, discount);
            if price.is_none() {
                let span = p.market.as_ref().map_or(name.span(), Spanned::span);
                self.error(
                    span,
                    format!(
                        "{} in {} has no {} price in {}; choose another market or region",
                        i.name,
                        i.region,
                        if market == Market::Spot {
                            "spot"
                        } else {
                            "on-demand"
                        },
                        catalog.name()
                    ),
                );
            }
            price
        });
        // The workload's model decides how replicas serve.
        let model_name = workload
            .and_then(|w| workloads_raw[w].1.as_ref())
            .map(|w| w.model.get_ref().clone());
        let kind = model_name
            .as_ref()
            .and_then(|m| models.iter().find(|(n, _)| n.get_ref() == m))
            .and_then(|(_, k)| k.as_ref());
        let serving = match (kind, &instance) {
            (Some(ModelKind::Llm(llm)), Some(inst)) => {
                let model = model_name.as_deref().unwrap_or_default();
                self.llm_pool(name, p, inst, model, llm)
            }
            (Some(ModelKind::Requests(profiles)), Some(inst)) => {
                if let Some(t) = &p.tensor_parallel {
                    self.error(
                        t.span(),
                        "`tensor_parallel` applies to pools of LLM models; use `gpus_per_replica`",
                    );
                }
                let model = model_name.as_deref().unwrap_or_default();
                self.request_pool(name, p, inst, model, profiles)
                    .map(|(gpus, s)| (gpus, Serving::Requests(s)))
            }
            _ => None,
        };
        // Trace-driven service needs a trace with service times.
        if let (Some((_, Serving::Requests(s))), Some(w)) = (&serving, workload)
            && matches!(s.time, ServiceTime::Trace { .. })
        {
            let traced = workloads
                .iter()
                .find(|wl| Some(&wl.name) == workloads_raw.get(w).map(|(n, _)| n.get_ref()))
                .is_some_and(|wl| matches!(&wl.arrival, Arrival::Trace(t) if t.service_time_column.is_some()));
            if !traced {
                let span = p.service.as_ref().map_or(name.span(), Spanned::span);
                self.error(span, "service kind \"trace\" needs the workload's arrival to be a trace with `service_time_column`");
            }
        }
        let scaling = self.scaling(p, replicas);
        let tracks_kv = scaling.as_ref().is_some_and(|s| {
            matches!(
                &s.policy,
                ScalingPolicy::TargetTracking(t) | ScalingPolicy::Predictive { tracking: t, .. }
                    if t.metric == TrackedMetric::KvCache
            )
        });
        if tracks_kv
            && !matches!(serving, Some((_, Serving::Llm(_))))
            && let Some(m) = p
                .autoscale
                .as_ref()
                .and_then(|a| a.get_ref().metric.as_ref())
        {
            self.error(
                m.span(),
                "metric \"kv-cache\" applies to pools of LLM models",
            );
        }
        let interruptions = instance
            .as_ref()
            .and_then(|i| self.interruptions(p, name, i, market));
        let spill_order = match &p.spill_order {
            None => u32::MAX,
            Some(v) => match u32::try_from(*v.get_ref()) {
                Ok(n) if n < u32::MAX => n,
                _ => {
                    self.error(
                        v.span(),
                        format!(
                            "`spill_order` must be a whole number from 0, got {}",
                            v.get_ref()
                        ),
                    );
                    u32::MAX
                }
            },
        };
        let weight = p
            .weight
            .as_ref()
            .map_or(Some(1.0), |w| self.positive(w, "weight"))
            .unwrap_or(1.0);
        let weights_bytes = match &serving {
            Some((_, Serving::Llm(l))) => Some(l.roofline.variant.weight_bytes()),
            _ => None,
        };
        let provisioning = instance
            .as_ref()
            .and_then(|i| self.provisioning(p, i, weights_bytes));
        if self.problems.len() > before {
            return None;
        }
        let instance = instance?;
        let (gpus_per_replica, serving) = serving?;
        let power = self.power(&instance);
        Some(Pool {
            name: pool_name.clone(),
            workload: workload?,
            market,
            replicas,
            gpus_per_replica,
            price_usd_per_hour: price?,
            serving,
            instance,
            scaling,
            interruptions,
            spill_order,
            weight,
            provisioning: provisioning?,
            power,
        })
    }

    /// What a GPU of `inst` draws: the calibrated profile for its GPU model if the scenario has
    /// one, else its TDP; `None` when neither is known.
    pub(super) fn power(&self, inst: &InstanceType) -> Option<crate::fleet::PowerModel> {
        if let Some((path, p)) = self
            .profiles
            .iter()
            .find(|(_, p)| p.gpu.eq_ignore_ascii_case(&inst.gpu_model) && p.power.is_some())
        {
            let f = p.power.as_ref().expect("checked");
            return Some(crate::fleet::PowerModel {
                idle_w: f.idle_w,
                dynamic_w: f.dynamic_w,
                source: crate::fleet::PowerSource::Profile(path.clone()),
            });
        }
        let tdp = self.gpus.find(&inst.gpu_model)?.tdp_watts?;
        Some(crate::fleet::PowerModel::from_tdp(tdp))
    }

    /// GPUs per replica: `gpus_per_replica` if set (it must divide the instance's GPUs or be a
    /// multiple of them), else `default`.
    fn gpus_per_replica(
        &mut self,
        v: Option<&Spanned<i64>>,
        field: &str,
        inst: &InstanceType,
        default: u32,
    ) -> Option<u32> {
        let Some(g) = v else { return Some(default) };
        let x = *g.get_ref();
        let count = i64::from(inst.gpu_count);
        if (1..=1024).contains(&x) && (count % x == 0 || x % count == 0) {
            Some(x as u32)
        } else {
            self.error(
                g.span(),
                format!("{field} must divide the instance's {count} GPUs or be a multiple of it, got {x}"),
            );
            None
        }
    }

    /// A request-level pool: the pool's own service model, or the model's profile for its GPU.
    fn request_pool(
        &mut self,
        name: &Spanned<String>,
        p: &raw::Pool,
        inst: &InstanceType,
        model: &str,
        profiles: &Profiles,
    ) -> Option<(u32, ServiceModel)> {
        let gpus = self.gpus_per_replica(
            p.gpus_per_replica.as_ref(),
            "gpus_per_replica",
            inst,
            inst.gpu_count,
        );
        let service = match &p.service {
            Some(s) => self.service(s),
            None => match profiles.iter().find(|(gpu, _)| *gpu == inst.gpu_model) {
                // An invalid profile was reported where it is written.
                Some((_, s)) => s.clone(),
                None => {
                    let span = p.instance_type.as_ref().map_or(name.span(), Spanned::span);
                    let have: Vec<&str> = profiles.iter().map(|(g, _)| g.as_str()).collect();
                    self.error(
                        span,
                        format!(
                            "model {model:?} has no service profile for GPU {:?} ({}); add [models.{model}.service.{}]{}",
                            inst.gpu_model,
                            inst.name,
                            inst.gpu_model,
                            if have.is_empty() { String::new() } else { format!(" or use an instance with {}", have.join(", ")) }
                        ),
                    );
                    None
                }
            },
        };
        // A calibrated profile for this GPU (and model, if it names one) replaces the model's
        // service time with the one measured; the pool's own `service`, if written, still wins.
        let service = match (service, &p.service) {
            (Some(mut s), None) => {
                if let Some(f) = self
                    .profiles
                    .iter()
                    .filter(|(_, pr)| pr.gpu.eq_ignore_ascii_case(&inst.gpu_model))
                    .filter(|(_, pr)| pr.model.as_deref().is_none_or(|m| m == model))
                    .find_map(|(_, pr)| pr.service.as_ref())
                {
                    s.time = ServiceTime::BatchLinear {
                        base: crate::units::SimTime::from_secs_f64(f.base_ms / 1e3),
                        per_item: crate::units::SimTime::from_secs_f64(f.per_item_ms / 1e3),
                    };
                }
                Some(s)
            }
            (s, _) => s,
        };
        Some((gpus?, service?))
    }

    /// An LLM pool: the model on `tensor_parallel` GPUs, which must hold its weights and at
    /// least one sequence of `max_model_len` in KV cache.
    fn llm_pool(
        &mut self,
        name: &Spanned<String>,
        p: &raw::Pool,
        inst: &InstanceType,
        model: &str,
        llm: &LlmModel,
    ) -> Option<(u32, Serving)> {
        if let Some(s) = &p.service {
            self.error(s.span(), format!("model {model:?} is an LLM, timed by its roofline; a pool cannot give it a `service`"));
            return None;
        }
        let at = p.instance_type.as_ref().map_or(name.span(), Spanned::span);
        let spec_name = match &p.gpu {
            Some(g) => g.get_ref().clone(),
            None => gpu_spec_name(inst),
        };
        let at = p.gpu.as_ref().map_or(at, Spanned::span);
        let Some(gpu) = self.gpus.find(&spec_name).cloned() else {
            let known: Vec<&str> = self
                .gpus
                .rows()
                .iter()
                .map(|g| g.gpu_model.as_str())
                .collect();
            self.error(
                at,
                format!(
                    "no GPU specification for {spec_name:?} ({}), which the LLM roofline needs; known: {}",
                    inst.name,
                    known.join(", ")
                ),
            );
            return None;
        };
        let tp_field = p.tensor_parallel.as_ref().or(p.gpus_per_replica.as_ref());
        let tp = self.gpus_per_replica(tp_field, "tensor_parallel", inst, 1)?;
        if let (Some(t), Some(g)) = (&p.tensor_parallel, &p.gpus_per_replica)
            && t.get_ref() != g.get_ref()
        {
            self.error(g.span(), "an LLM replica's GPUs are its tensor-parallel degree: give `tensor_parallel` alone");
            return None;
        }
        // A calibrated profile of this model on this GPU replaces the efficiency factors it
        // measured: prefill's share of peak compute, decode's share of peak bandwidth.
        let mut efficiency = llm.efficiency;
        let mut calibrated = None;
        if let Some((path, f)) = self
            .profiles
            .iter()
            .filter(|(_, pr)| pr.gpu.eq_ignore_ascii_case(&gpu.gpu_model))
            .filter(|(_, pr)| pr.model.as_deref().is_none_or(|m| m == model))
            .find_map(|(path, pr)| pr.llm.as_ref().map(|f| (path, f)))
        {
            calibrated = Some(path.clone());
            if let Some(c) = f.prefill_efficiency {
                efficiency.compute = c;
                efficiency.compute_8bit = c;
            }
            if let Some(m) = f.decode_efficiency {
                efficiency.memory = m;
            }
        }
        let roofline = Roofline {
            variant: llm.variant.clone(),
            gpu,
            tp,
            efficiency,
        };
        let s = llm.settings.on_gpu(&roofline.gpu);
        match roofline.memory_plan(
            s.gpu_memory_utilization,
            u64::from(s.max_batched_tokens),
            u64::from(s.max_model_len),
        ) {
            Ok(memory) => {
                let table = llm
                    .tables
                    .iter()
                    .find(|(_, t)| t.gpu == roofline.gpu.gpu_model && t.tp == tp)
                    .map(|(_, t)| Arc::clone(t));
                let (kernels, timing) = match (&table, &calibrated) {
                    (Some(t), _) => (None, format!("iteration table {}", t.path)),
                    // Factors measured on the user's own GPUs beat tables measured elsewhere.
                    (None, Some(path)) => (None, format!("roofline calibrated by profile {path}")),
                    (None, None) => kernel_timing(&roofline, &s),
                };
                Some((
                    tp,
                    Serving::Llm(Box::new(LlmServing {
                        table,
                        kernels,
                        timing,
                        roofline,
                        settings: s,
                        memory,
                    })),
                ))
            }
            Err(e) => {
                let at = tp_field.map_or(at, Spanned::span);
                self.error(at, format!("pool {:?}: {e}", name.get_ref()));
                None
            }
        }
    }

    pub(super) fn inline_instance(
        &mut self,
        i: &Spanned<raw::InlineInstance>,
        pool: &str,
    ) -> Option<InstanceType> {
        let i = i.get_ref();
        let gpu_count = match u32::try_from(*i.gpu_count.get_ref()) {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                self.error(
                    i.gpu_count.span(),
                    format!(
                        "gpu_count must be a whole number >= 1, got {}",
                        i.gpu_count.get_ref()
                    ),
                );
                None
            }
        };
        let price = |c: &mut Self, v: &Option<Spanned<f64>>, field: &str| -> Option<Option<f64>> {
            match v {
                None => Some(None),
                Some(p) if p.get_ref().is_finite() && *p.get_ref() >= 0.0 => {
                    Some(Some(*p.get_ref()))
                }
                Some(p) => {
                    c.error(
                        p.span(),
                        format!("{field} must be a price >= 0, got {}", p.get_ref()),
                    );
                    None
                }
            }
        };
        let on_demand = price(self, &i.on_demand_usd_per_hour, "on_demand_usd_per_hour");
        let spot = price(self, &i.spot_usd_per_hour, "spot_usd_per_hour");
        Some(InstanceType {
            cloud: "inline".into(),
            name: i.name.clone().unwrap_or_else(|| format!("{pool}-instance")),
            gpu_model: i.gpu_model.get_ref().clone(),
            gpu_count: gpu_count?,
            gpu_memory_gib: i.gpu_memory_gib,
            vcpus: None,
            memory_gib: None,
            region: "inline".into(),
            on_demand_usd_per_hour: on_demand?,
            spot_usd_per_hour: spot?,
        })
    }
}

/// The GPU specification of a catalog instance. The catalogs call every H100 "H100"; the PCIe
/// card (Lambda's `gpu_1x_h100_pcie`) and the NVL part (Azure's `Standard_NC*_H100_v5`) differ
/// enough from the SXM module to have rows of their own.
fn gpu_spec_name(inst: &InstanceType) -> String {
    let name = inst.name.to_ascii_lowercase();
    match inst.gpu_model.as_str() {
        "H100" if name.contains("pcie") => "H100-PCIe".to_string(),
        "H100" if inst.cloud == "azure" && name.starts_with("standard_nc") => {
            "H100-NVL".to_string()
        }
        other => other.to_string(),
    }
}

/// Kernel-table timing for the engine on this GPU, or the roofline with the reason.
fn kernel_timing(
    roofline: &Roofline,
    s: &crate::llm::Settings,
) -> (Option<Arc<crate::llm::KernelModel>>, String) {
    let engine = s.engine;
    if !engine.has_kernels() {
        return (None, "roofline (engine-agnostic)".to_string());
    }
    if s.force_roofline {
        return (
            None,
            format!("roofline ({}; timing = \"roofline\")", engine.label()),
        );
    }
    let gpu = &roofline.gpu.gpu_model;
    let Some(table) = crate::llm::kernels::bundled(gpu, engine.kind.as_str()) else {
        return (
            None,
            format!(
                "roofline: no {} kernel data for {gpu} (measured: {})",
                engine.kind.as_str(),
                crate::llm::kernels::gpus_measured(engine.kind.as_str()).join(", ")
            ),
        );
    };
    match crate::llm::KernelModel::new(
        table,
        &roofline.variant,
        &roofline.gpu,
        roofline.tp,
        s.overhead,
    ) {
        Ok(k) => {
            let timing = k.description.clone();
            (Some(Arc::new(k)), timing)
        }
        Err(why) => (
            None,
            format!(
                "roofline: {} {} kernels on {gpu} cannot time this model ({why})",
                table.engine, table.version
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(cloud: &str, name: &str, gpu: &str) -> InstanceType {
        InstanceType {
            cloud: cloud.into(),
            name: name.into(),
            gpu_model: gpu.into(),
            gpu_count: 1,
            gpu_memory_gib: None,
            vcpus: None,
            memory_gib: None,
            region: "r".into(),
            on_demand_usd_per_hour: None,
            spot_usd_per_hour: None,
        }
    }

    #[test]
    fn h100_variants_get_their_own_specs() {
        let cases = [
            ("lambda", "gpu_1x_h100_pcie", "H100", "H100-PCIe"),
            ("lambda", "gpu_1x_h100_sxm5", "H100", "H100"),
            ("azure", "Standard_NC40ads_H100_v5", "H100", "H100-NVL"),
            ("azure", "Standard_ND96isr_H100_v5", "H100", "H100"),
            ("aws", "p5.48xlarge", "H100", "H100"),
            ("aws", "g6e.xlarge", "L40S", "L40S"),
        ];
        for (cloud, name, gpu, want) in cases {
            assert_eq!(gpu_spec_name(&inst(cloud, name, gpu)), want, "{name}");
        }
    }
}
