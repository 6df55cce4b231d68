//! The JSON of training jobs, the training cluster, and the bill.

use serde_json::{Value, json};

use crate::experiment::training::{Spread, TrainingSummary};
use crate::scenario::Scenario;
use crate::scenario::training_spec::ClusterCapacity;
use crate::training::elastic::Capacity;

fn finite(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

fn spread(s: &Spread) -> Value {
    json!({ "mean": finite(s.mean), "p50": finite(s.p50), "p90": finite(s.p90), "p99": finite(s.p99) })
}

pub fn to_value(sc: &Scenario, t: &TrainingSummary) -> Value {
    let spec = sc
        .training()
        .as_ref()
        .expect("a training summary has a spec");
    let jobs: Vec<Value> = spec
        .jobs
        .iter()
        .zip(&t.jobs)
        .map(|(j, s)| {
            let st = &j.step;
            json!({
                "name": j.name,
                "model": j.model,
                "parameters": j.job.shape.params,
                "instance_type": j.instance.name,
                "region": j.instance.region,
                "market": j.market.as_str(),
                "instances": j.instances,
                "gpus": j.gpus(),
                "parallelism": {
                    "data": j.job.parallel.data,
                    "tensor": j.job.parallel.tensor,
                    "pipeline": j.job.parallel.pipeline,
                    "micro_batch": j.job.parallel.micro_batch,
                    "virtual_stages": j.job.parallel.virtual_stages,
                },
                "compute_efficiency": j.job.compute_efficiency,
                "network_gbps": j.network_gbps,
                "steps": j.steps,
                "tokens": j.tokens,
                "step_s": {
                    "total": st.total_s(),
                    "compute": st.compute_s,
                    "pipeline_bubble": st.bubble_s,
                    "tensor_parallel_comm": st.tensor_comm_s,
                    "data_parallel_comm": st.data_comm_s,
                },
                "tokens_per_second": s.tokens_per_s,
                "mfu": s.mfu,
                "work_s": s.work_s,
                "checkpoint": {
                    "size_gb": j.checkpoint.size_gb,
                    "write_s": s.checkpoint_write_s,
                    "interval_s": finite(s.interval_s),
                    "young_daly_s": finite(s.young_daly_s),
                    "restart_s": j.checkpoint.restart_s,
                },
                "interruptions": {
                    "per_instance_hour": j.interruptions_per_hour,
                    "source": j.interruptions_source,
                    "mean_between_s": finite(s.mtbi_s),
                    "mean": s.interruptions_mean,
                    "fell_back_share": s.fell_back_share,
                },
                "completion_s": spread(&s.completion_s),
                "cost_usd": spread(&s.cost_usd),
                "cost_usd_by_market": s.cost_by_market_usd.iter().map(|(m, usd)| json!({ "market": m.as_str(), "usd": usd })).collect::<Vec<_>>(),
                "cost_usd_per_1m_tokens": s.cost_usd.mean / j.tokens * 1e6,
                "deadline_missed_share": s.deadline_missed_share,
                "gpu_hours": {
                    "paid": s.gpu_hours.paid,
                    "useful": s.gpu_hours.useful,
                    "checkpointing": s.gpu_hours.checkpointing,
                    "lost": s.gpu_hours.lost,
                    "restarting": s.gpu_hours.restarting,
                },
                "goodput": s.goodput(),
                "interval_check": s.interval_check.iter().map(|p| json!({
                    "interval_s": p.interval_s,
                    "completion_mean_s": p.completion_mean_s,
                    "cost_mean_usd": p.cost_mean_usd,
                })).collect::<Vec<_>>(),
                "best_interval_s": s.best_interval().map(|p| p.interval_s),
            })
        })
        .collect();
    let cluster = spec.cluster.as_ref().zip(t.cluster.as_ref()).map(|(cs, c)| {
        let st = &c.stats.cluster;
        json!({
            "policy": cs.policy.as_str(),
            "capacity": match &cs.capacity {
                ClusterCapacity::Own(Capacity::Steps(_)) => "fixed",
                ClusterCapacity::Own(Capacity::Autoscaled { .. }) => "autoscaled",
                ClusterCapacity::Shared { .. } => "shared",
            },
            "peak_gpus": c.peak_gpus,
            "jobs": c.jobs,
            "completed": c.completed,
            "rejected": st.rejected,
            "unfinished": c.stats.unfinished,
            "preemptions": c.stats.preemptions,
            "jct_s": { "p50": finite(st.jct_p50_s), "p90": finite(st.jct_p90_s), "p99": finite(st.jct_p99_s) },
            "queue_s": { "mean": finite(st.queue_mean_s), "p99": finite(st.queue_p99_s) },
            "makespan_s": st.makespan_s,
            "gpu_hours": {
                "provisioned": c.stats.gpu_hours.provisioned,
                "used": c.stats.gpu_hours.used,
                "wasted": c.stats.gpu_hours.wasted,
                "idle": c.stats.gpu_hours.idle,
            },
            "goodput": finite(c.goodput),
            "market": c.market.as_str(),
            "cost_usd": c.cost_usd,
            "cost_usd_per_job": c.cost_per_job(),
        })
    });
    json!({
        "replications": t.replications,
        "jobs": jobs,
        "cluster": cluster,
    })
}
