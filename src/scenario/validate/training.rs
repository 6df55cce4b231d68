//! `[training]`: jobs on their own instances (model, work, parallelism, precision, market,
//! checkpoints) and a shared cluster (job stream, capacity, policy).

use std::path::Path;

use crate::scenario::spanned::Spanned;

use super::Checker;
use crate::fleet::Pool;
use crate::fleet::interruptions::rate_from_bucket;
use crate::pricing::{Catalog, InstanceType, LookupError, Market, spot_interruption_bucket};
use crate::scenario::raw::training as raw;
use crate::scenario::training_spec::*;
use crate::training::checkpoint;
use crate::training::{
    DEFAULT_COMPUTE_EFFICIENCY, DEFAULT_FP8_COMPUTE_EFFICIENCY, Hardware, Job, Parallelism,
    Precision, Shape, step_time,
};

/// Share of the gradient all-reduce hidden under the backward pass when the file does not say
/// (PyTorch DDP and Megatron overlap bucketed all-reduces with the backward pass).
pub const DEFAULT_OVERLAP: f64 = 0.5;

/// Most GPUs a job may have (a million: beyond any cluster built).
const MAX_GPUS: u64 = 1_000_000;

impl Checker<'_> {
    pub(super) fn training(
        &mut self,
        t: &Spanned<raw::Training>,
        catalog: &Catalog,
        reserved_discount: f64,
        pools: &[Pool],
        base: &Path,
    ) -> Option<TrainingSpec> {
        let before = self.problems.len();
        let raw = t.get_ref();
        if raw.jobs.is_empty() && raw.cluster.is_none() {
            self.error(
                t.span(),
                "[training] needs a job ([training.jobs.NAME]) or a [training.cluster]",
            );
        }
        // In the file's order, as the report lists them.
        let mut entries: Vec<_> = raw.jobs.iter().collect();
        entries.sort_by_key(|(name, _)| name.span().start);
        let jobs: Vec<Option<TrainingJob>> = entries
            .into_iter()
            .map(|(name, j)| self.training_job(name, j, catalog, reserved_discount))
            .collect();
        let cluster = raw
            .cluster
            .as_ref()
            .map(|c| self.cluster(c, catalog, reserved_discount, pools, base));
        let replications = match &raw.replications {
            Some(r) => self.count(&Some(r.clone()), "replications", 1, 100_000),
            None => Some(DEFAULT_REPLICATIONS),
        };
        if self.problems.len() > before {
            return None;
        }
        Some(TrainingSpec {
            replications: replications?,
            jobs: jobs.into_iter().flatten().collect(),
            cluster: cluster.flatten(),
        })
    }

    pub(super) fn catalog_instance(
        &mut self,
        catalog: &Catalog,
        t: &Spanned<String>,
        region: &Option<Spanned<String>>,
        cloud: &Option<Spanned<String>>,
    ) -> Option<InstanceType> {
        match catalog.find(
            t.get_ref(),
            region.as_ref().map(|r| r.get_ref().as_str()),
            cloud.as_ref().map(|c| c.get_ref().as_str()),
        ) {
            Ok(i) => Some(i.clone()),
            Err(e) => {
                let span = match &e {
                    LookupError::NotInRegion { .. } => {
                        region.as_ref().map_or(t.span(), Spanned::span)
                    }
                    _ => t.span(),
                };
                self.error(span, e.to_string());
                None
            }
        }
    }

    /// The market and its price per instance-hour.
    pub(super) fn market_price(
        &mut self,
        m: &Option<Spanned<String>>,
        inst: &InstanceType,
        at: &Spanned<String>,
        reserved_discount: f64,
    ) -> Option<(Market, f64)> {
        let market = match m {
            None => Market::OnDemand,
            Some(m) => match Market::parse(m.get_ref()) {
                Some(x) => x,
                None => {
                    self.error(
                        m.span(),
                        format!(
                            "unknown market {:?}; expected on-demand, spot or reserved",
                            m.get_ref()
                        ),
                    );
                    return None;
                }
            },
        };
        match inst.price_usd_per_hour(market, reserved_discount) {
            Some(p) => Some((market, p)),
            None => {
                let span = m.as_ref().map_or(at.span(), Spanned::span);
                self.error(
                    span,
                    format!(
                        "the catalog has no {market} price for {} in {}",
                        inst.name, inst.region
                    ),
                );
                None
            }
        }
    }

    pub(super) fn whole(&mut self, v: &Spanned<i64>, field: &str, min: i64) -> Option<u32> {
        let x = *v.get_ref();
        if (min..=i64::from(u32::MAX)).contains(&x) {
            Some(x as u32)
        } else {
            self.error(
                v.span(),
                format!("`{field}` must be a whole number >= {min}, got {x}"),
            );
            None
        }
    }

    fn training_job(
        &mut self,
        name: &Spanned<String>,
        j: &Spanned<raw::Job>,
        catalog: &Catalog,
        reserved_discount: f64,
    ) -> Option<TrainingJob> {
        let before = self.problems.len();
        let at = j.span();
        let j = j.get_ref();
        let job_name = name.get_ref();
        let (model, shape) = match (&j.architecture, &j.shape) {
            (Some(a), None) => match self.bundled_architecture(a) {
                Some(arch) => {
                    let mut s = Shape::new(arch.layers, arch.hidden, arch.vocab);
                    s.params = arch.total_params();
                    (arch.name.clone(), Some(s))
                }
                None => (String::new(), None),
            },
            (None, Some(s)) => {
                let s = s.get_ref();
                let l = self.whole(&s.layers, "layers", 1);
                let h = self.whole(&s.hidden, "hidden", 1);
                let v = self.whole(&s.vocab, "vocab", 1);
                let params = s.params.as_ref().and_then(|p| self.positive(p, "params"));
                let shape = match (l, h, v) {
                    (Some(l), Some(h), Some(v)) => {
                        let mut shape = Shape::new(l, h, v);
                        if let Some(p) = params {
                            shape.params = p;
                        }
                        Some(shape)
                    }
                    _ => None,
                };
                ("shape".to_string(), shape)
            }
            (Some(a), Some(_)) => {
                self.error(
                    a.span(),
                    "give `architecture` (a bundled model) or `shape` (written out), not both",
                );
                (String::new(), None)
            }
            (None, None) => {
                self.error(
                    name.span(),
                    format!("training job {job_name:?} needs `architecture` (a bundled model) or `shape` (layers, hidden, vocab, params)"),
                );
                (String::new(), None)
            }
        };
        let seq_len = self.whole(&j.seq_len, "seq_len", 1);
        let global_batch = self.whole(&j.global_batch, "global_batch", 1);
        let inst = self.catalog_instance(catalog, &j.instance_type, &j.region, &j.cloud);
        let instances = self.whole(&j.instances, "instances", 1);
        let market = inst
            .as_ref()
            .and_then(|i| self.market_price(&j.market, i, &j.instance_type, reserved_discount));
        let tensor = self.count(&j.tensor, "tensor", 1, 1024);
        let pipeline = self.count(&j.pipeline, "pipeline", 1, 1024);
        let micro_batch = self.count(&j.micro_batch, "micro_batch", 1, 1 << 20);
        let virtual_stages = self.count(&j.virtual_stages, "virtual_stages", 1, 1024);
        let precision = match &j.precision {
            None => Some(Precision::Bf16Mixed),
            Some(p) => Precision::parse(p.get_ref()).or_else(|| {
                self.error(
                    p.span(),
                    format!(
                        "unknown precision {:?}; expected fp32, bf16 (mixed) or fp8",
                        p.get_ref()
                    ),
                );
                None
            }),
        };
        let efficiency_default = if precision == Some(Precision::Fp8) {
            DEFAULT_FP8_COMPUTE_EFFICIENCY
        } else {
            DEFAULT_COMPUTE_EFFICIENCY
        };
        let compute_efficiency = self.fraction(
            &j.compute_efficiency,
            "compute_efficiency",
            efficiency_default,
        );
        let overlap = match &j.overlap {
            Some(o) if !(0.0..=1.0).contains(o.get_ref()) => {
                self.error(
                    o.span(),
                    format!("`overlap` is a fraction in [0, 1], got {}", o.get_ref()),
                );
                None
            }
            Some(o) => Some(*o.get_ref()),
            None => Some(DEFAULT_OVERLAP),
        };
        let runs_per_day = j
            .runs_per_day
            .as_ref()
            .and_then(|r| self.at_least_zero(r, "runs_per_day"));
        // The GPU and the network.
        let gpu = inst
            .as_ref()
            .and_then(|i| match self.gpus.find(&i.gpu_model) {
                Some(g) => Some(g.clone()),
                None => {
                    self.error(
                        j.instance_type.span(),
                        format!(
                            "no GPU specification for {:?} (the GPU of {}); add a [gpus.{}] table",
                            i.gpu_model, i.name, i.gpu_model
                        ),
                    );
                    None
                }
            });
        let network_gbps = match (&j.network_gbps, &inst) {
            (Some(n), _) => self.positive(n, "network_gbps"),
            (None, Some(i)) => crate::pricing::network::network_gbps(&i.cloud, &i.name)
                .or_else(|| {
                    self.error(
                        j.instance_type.span(),
                        format!(
                            "no network bandwidth for {} in pricing/network.csv; set `network_gbps`",
                            i.name
                        ),
                    );
                    None
                }),
            (None, None) => None,
        };
        // Parallelism: the data-parallel degree is what the GPUs leave after tensor x pipeline.
        let mut parallel = None;
        if let (Some(i), Some(n), Some(t), Some(p), Some(mb), Some(v), Some(b)) = (
            &inst,
            instances,
            tensor,
            pipeline,
            micro_batch,
            virtual_stages,
            global_batch,
        ) {
            let gpus = u64::from(n) * u64::from(i.gpu_count);
            if gpus > MAX_GPUS {
                self.error(
                    j.instances.span(),
                    format!("{gpus} GPUs is more than a job can have here (at most {MAX_GPUS})"),
                );
            } else if gpus % u64::from(t * p) != 0 {
                self.error(
                    j.instances.span(),
                    format!(
                        "{gpus} GPUs ({n} × {} per {}) do not split into tensor {t} × pipeline {p} groups; make GPUs a multiple of {}",
                        i.gpu_count,
                        i.name,
                        t * p
                    ),
                );
            } else if t > i.gpu_count {
                let span = j.tensor.as_ref().map_or(at.clone(), Spanned::span);
                self.error(
                    span,
                    format!(
                        "tensor parallelism {t} spans more GPUs than one {} has ({}); keep it within a node",
                        i.name, i.gpu_count
                    ),
                );
            } else {
                let d = (gpus / u64::from(t * p)) as u32;
                if u64::from(b) % (u64::from(d) * u64::from(mb)) != 0 {
                    self.error(
                        j.global_batch.span(),
                        format!(
                            "global_batch {b} does not split over {d} data-parallel replicas of micro-batches of {mb}; make it a multiple of {}",
                            u64::from(d) * u64::from(mb)
                        ),
                    );
                } else {
                    parallel = Some(Parallelism {
                        data: d,
                        tensor: t,
                        pipeline: p,
                        micro_batch: mb,
                        virtual_stages: v,
                    });
                }
            }
        }
        // The work.
        let steps = match (&j.tokens, &j.steps, seq_len, global_batch) {
            (Some(t), None, Some(s), Some(b)) => self
                .positive(t, "tokens")
                .map(|t| (t / (f64::from(s) * f64::from(b))).ceil()),
            (None, Some(n), _, _) => self.positive(n, "steps").map(f64::ceil),
            (Some(t), Some(_), _, _) => {
                self.error(t.span(), "give `tokens` or `steps`, not both");
                None
            }
            (None, None, _, _) => {
                self.error(
                    name.span(),
                    format!("training job {job_name:?} needs its work: `tokens` or `steps`"),
                );
                None
            }
            _ => None,
        };
        let ckpt = self.checkpoint(j, shape.as_ref(), precision);
        // Reclaims on spot.
        let interruptions = match (&inst, &market) {
            (Some(i), Some((Market::Spot, _))) => match &j.interruptions_per_hour {
                Some(r) if r.get_ref().is_finite() && *r.get_ref() >= 0.0 => {
                    Some((*r.get_ref(), "the scenario".to_string()))
                }
                Some(r) => {
                    self.error(
                        r.span(),
                        format!("`interruptions_per_hour` must be >= 0, got {}", r.get_ref()),
                    );
                    None
                }
                None => match spot_interruption_bucket(&i.cloud, &i.name, &i.region) {
                    Some(b) => rate_from_bucket(b)
                        .map(|r| (r, format!("Spot Instance Advisor bucket {b}"))),
                    None => {
                        self.error(
                            j.market.as_ref().map_or(at.clone(), Spanned::span),
                            format!(
                                "no Spot Instance Advisor bucket for {} in {}; set `interruptions_per_hour`",
                                i.name, i.region
                            ),
                        );
                        None
                    }
                },
            },
            (_, Some(_)) => {
                if let Some(r) = &j.interruptions_per_hour {
                    self.error(r.span(), "`interruptions_per_hour` applies to spot jobs");
                }
                Some((0.0, String::new()))
            }
            _ => None,
        };
        if self.problems.len() > before {
            return None;
        }
        if precision == Some(Precision::Fp8)
            && let Some(g) = &gpu
            && g.dense_fp8_tflops.is_none()
        {
            self.error(
                j.precision.as_ref().map_or(at.clone(), Spanned::span),
                format!(
                    "{} has no fp8 tensor cores (fp8 needs Hopper, Ada or later); use bf16",
                    g.gpu_model
                ),
            );
            return None;
        }
        let (inst, gpu, precision) = (inst?, gpu?, precision?);
        let (market, price) = market?;
        let network_gbps = network_gbps?;
        let hardware = Hardware {
            peak_flops: match precision {
                Precision::Fp8 => gpu.peak_flops(crate::llm::Precision::Fp8),
                Precision::Fp32 => gpu.peak_flops(crate::llm::Precision::Fp32),
                Precision::Bf16Mixed => gpu.peak_bf16_flops(),
            },
            intra_node_bytes_per_s: gpu.interconnect_bytes_per_s(),
            inter_node_bytes_per_s: network_gbps * 1e9 / 8.0 / f64::from(inst.gpu_count),
            gpus_per_node: inst.gpu_count,
        };
        let job = Job {
            shape: shape?,
            seq_len: seq_len?,
            global_batch: global_batch?,
            parallel: parallel?,
            precision,
            compute_efficiency: compute_efficiency?,
            overlap: overlap?,
            recompute: j.recompute.unwrap_or(false),
        };
        let mut job = job;
        let mut step = step_time(&job, &hardware);
        if let Some(m) = &j.measured_step {
            // Compute and bubble scale as 1 / efficiency; communication does not.
            let measured = m.get_ref().0.as_secs_f64();
            let comm = step.tensor_comm_s + step.data_comm_s;
            let scaled = (step.compute_s + step.bubble_s) * job.compute_efficiency;
            let efficiency = scaled / (measured - comm);
            if j.compute_efficiency.is_some() {
                self.error(
                    m.span(),
                    "give `compute_efficiency` or `measured_step`, not both",
                );
                return None;
            }
            if !(measured > comm && efficiency <= 1.0) {
                self.error(
                    m.span(),
                    format!(
                        "a step of {measured:.3} s is faster than this job can run on {} (communication alone takes {comm:.3} s, compute at full peak {:.3} s)",
                        inst.name, scaled
                    ),
                );
                return None;
            }
            job.compute_efficiency = efficiency;
            step = step_time(&job, &hardware);
        }
        let steps = steps?;
        let (rate, source) = interruptions?;
        let tj = TrainingJob {
            name: job_name.clone(),
            model,
            tokens: steps * f64::from(job.seq_len) * f64::from(job.global_batch),
            steps,
            step,
            job,
            hardware,
            on_demand_usd_per_instance_hour: inst.on_demand_usd_per_hour.unwrap_or(price),
            power: self.power(&inst),
            instance: inst,
            instances: instances?,
            market,
            usd_per_instance_hour: price,
            interruptions_per_hour: rate,
            interruptions_source: source,
            network_gbps,
            checkpoint: ckpt?,
            runs_per_day,
        };
        let interval_s = tj.interval_s();
        if tj.checkpoint.interval == Interval::YoungDaly
            && (interval_s.is_nan() || interval_s < MIN_CHECKPOINT_INTERVAL_S)
        {
            self.error(
                j.checkpoint.as_ref().map_or(name.span(), Spanned::span),
                format!(
                    "training job {job_name:?} would checkpoint every {:.1e} s: the Young/Daly interval for a checkpoint written in {:.1e} s (size_gb / write_gb_per_s) and a reclaim every {:.1} h; an interval is at least {MIN_CHECKPOINT_INTERVAL_S} s: check checkpoint.write_gb_per_s and size_gb, or give checkpoint.interval such as \"30m\"",
                    interval_s,
                    tj.checkpoint.write_s(),
                    tj.mtbi_s() / 3600.0,
                ),
            );
            return None;
        }
        let reclaims = checkpoint::expected_reclaims(&tj.plan(interval_s));
        let bounded = f64::from(tj.checkpoint.max_interruptions) <= MAX_EXPECTED_RECLAIMS
            || tj.checkpoint.deadline_s.is_finite();
        if !bounded && (reclaims.is_nan() || reclaims > MAX_EXPECTED_RECLAIMS) {
            self.error(
                name.span(),
                format!(
                    "training job {job_name:?} would be reclaimed {} times before it finishes (one reclaim every {:.1} h, {:.1} h of training between checkpoints); checkpoint more often, or set checkpoint.max_interruptions",
                    if reclaims.is_finite() {
                        format!("about {reclaims:.1e}")
                    } else {
                        format!("more than {MAX_EXPECTED_RECLAIMS:.0e}")
                    },
                    tj.mtbi_s() / 3600.0,
                    interval_s.min(tj.work_s()) / 3600.0
                ),
            );
            return None;
        }
        Some(tj)
    }

    fn checkpoint(
        &mut self,
        j: &raw::Job,
        shape: Option<&Shape>,
        precision: Option<Precision>,
    ) -> Option<CheckpointSpec> {
        let c = j.checkpoint.as_ref().map(Spanned::get_ref);
        let size_gb = match c.and_then(|c| c.size_gb.as_ref()) {
            Some(s) => self.positive(s, "size_gb"),
            None => shape.map(|s| {
                let bytes = if precision == Some(Precision::Fp32) {
                    CHECKPOINT_BYTES_PER_PARAM_FP32
                } else {
                    CHECKPOINT_BYTES_PER_PARAM
                };
                s.params * bytes / 1e9
            }),
        };
        let write_gb_per_s = match c.and_then(|c| c.write_gb_per_s.as_ref()) {
            Some(w) => self.positive(w, "write_gb_per_s"),
            None => Some(DEFAULT_WRITE_GB_PER_S),
        };
        let spot = j.market.as_ref().and_then(|m| Market::parse(m.get_ref())) == Some(Market::Spot);
        let interval = match c.and_then(|c| c.interval.as_ref()) {
            None if spot => Some(Interval::YoungDaly),
            None => Some(Interval::None),
            Some(i) => match i.get_ref().as_str() {
                "young-daly" if !spot => {
                    self.error(
                        i.span(),
                        "\"young-daly\" needs reclaims to weigh checkpoints against, and this job is not on spot; give a duration such as \"1h\", or \"none\"",
                    );
                    None
                }
                "young-daly" => Some(Interval::YoungDaly),
                "none" => Some(Interval::None),
                s => match crate::units::parse_duration(s) {
                    Ok(d) if d.as_secs_f64() >= MIN_CHECKPOINT_INTERVAL_S => {
                        Some(Interval::Every(d.as_secs_f64()))
                    }
                    _ => {
                        self.error(
                            i.span(),
                            format!("`interval` is a duration of training of at least 1s such as \"30m\", \"young-daly\" or \"none\"; got {s:?}"),
                        );
                        None
                    }
                },
            },
        };
        let restart_s = c
            .and_then(|c| c.restart.as_ref())
            .map_or(DEFAULT_RESTART_S, |r| r.get_ref().0.as_secs_f64());
        let max_interruptions = match c.and_then(|c| c.max_interruptions.as_ref()) {
            Some(m) => self.whole(m, "max_interruptions", 1),
            None => Some(u32::MAX),
        };
        let deadline_s = c
            .and_then(|c| c.deadline.as_ref())
            .map_or(f64::INFINITY, |d| d.get_ref().0.as_secs_f64());
        Some(CheckpointSpec {
            size_gb: size_gb?,
            write_gb_per_s: write_gb_per_s?,
            interval: interval?,
            restart_s,
            max_interruptions: max_interruptions?,
            deadline_s,
        })
    }
}
