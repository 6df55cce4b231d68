//! The training section of the table report (80 columns): jobs and the cluster.

use std::fmt::Write;

use super::format::{clip, pct, thousands, usd, usd_unit};
use crate::experiment::cluster::ClusterSummary;
use crate::experiment::training::{JobSummary, TrainingSummary};
use crate::scenario::Scenario;
use crate::scenario::training_spec::{ClusterCapacity, JobStream, TrainingJob};
use crate::training::elastic::Capacity;

/// Seconds as hours (`111.2 h`), minutes under two hours (`47m`), seconds under two minutes.
pub fn hours(s: f64) -> String {
    let s = s.max(0.0);
    if !s.is_finite() {
        "none".into()
    } else if s >= 7200.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 120.0 {
        format!("{:.0}m", s / 60.0)
    } else {
        format!("{s:.1}s")
    }
}

/// Large dollar figures short: `$1.23M`, `$45.6k`, else with cents.
pub fn usd_short(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x.abs() >= 1e6 {
        format!("${:.2}M", x / 1e6)
    } else if x.abs() >= 1e4 {
        format!("${:.1}k", x / 1e3)
    } else {
        usd(x)
    }
}

pub fn render(out: &mut String, sc: &Scenario, t: &TrainingSummary) {
    let spec = sc
        .training()
        .as_ref()
        .expect("a training summary has a spec");
    if !spec.jobs.is_empty() {
        jobs(out, &spec.jobs, t);
    }
    if let (Some(cs), Some(c)) = (&spec.cluster, &t.cluster) {
        cluster(out, cs, c);
    }
}

fn jobs(out: &mut String, specs: &[TrainingJob], t: &TrainingSummary) {
    let _ = writeln!(
        out,
        "{:<16} {:>5} {:<9} {:>7} {:>8} {:>4} {:>8} {:>6} {:>6}",
        "TRAINING JOB", "GPUS", "MARKET", "STEP S", "TOKENS/S", "MFU", "WORK", "CKPT", "EVERY"
    );
    for (j, s) in specs.iter().zip(&t.jobs) {
        let _ = writeln!(
            out,
            "{:<16} {:>5} {:<9} {:>7.2} {:>8} {:>4} {:>8} {:>6} {:>6}",
            clip(&j.name, 16),
            j.gpus(),
            j.market.as_str(),
            j.step.total_s(),
            compact(s.tokens_per_s),
            pct(s.mfu),
            hours(s.work_s),
            hours(s.checkpoint_write_s),
            hours(s.interval_s),
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<16} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>8}",
        "REPLICATED",
        "TIME P50",
        "TIME P90",
        "COST P50",
        "COST P90",
        "RECLAIMS",
        "GOODPUT",
        "$/1M TOK"
    );
    for (j, s) in specs.iter().zip(&t.jobs) {
        let _ = writeln!(
            out,
            "{:<16} {:>8} {:>8} {:>8} {:>8} {:>8.1} {:>7} {:>8}",
            clip(&j.name, 16),
            hours(s.completion_s.p50),
            hours(s.completion_s.p90),
            usd_short(s.cost_usd.p50),
            usd_short(s.cost_usd.p90),
            s.interruptions_mean,
            pct(s.goodput()),
            usd_unit(s.cost_usd.mean / j.tokens * 1e6),
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "{:<16} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6}",
        "GPU-HOURS", "PAID", "USEFUL", "CHECKPT", "LOST", "RESTART", "FELLBACK", "LATE"
    );
    for (j, s) in specs.iter().zip(&t.jobs) {
        let g = s.gpu_hours;
        let _ = writeln!(
            out,
            "{:<16} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6}",
            clip(&j.name, 16),
            thousands(g.paid),
            thousands(g.useful),
            thousands(g.checkpointing),
            thousands(g.lost),
            thousands(g.restarting),
            pct(s.fell_back_share),
            s.deadline_missed_share.map_or("-".into(), pct),
        );
    }
    let _ = writeln!(
        out,
        "(means over {} replications per job; LATE: past the deadline)",
        t.replications
    );
    for (j, s) in specs.iter().zip(&t.jobs) {
        job_notes(out, j, s);
    }
    out.push('\n');
}

/// A spot job's reclaim rate and the check of its checkpoint interval.
fn job_notes(out: &mut String, j: &TrainingJob, s: &JobSummary) {
    if j.interruptions_per_hour <= 0.0 {
        return;
    }
    let _ = writeln!(
        out,
        "{}: a reclaim every {} ({})",
        j.name,
        hours(s.mtbi_s),
        j.interruptions_source
    );
    let Some(best) = s.best_interval() else {
        return;
    };
    let at_yd = s
        .interval_check
        .iter()
        .find(|p| (p.interval_s - s.young_daly_s).abs() < 1e-6 * s.young_daly_s);
    if let Some(yd) = at_yd {
        let _ = writeln!(
            out,
            "  Young/Daly {}: mean {}, {} · best of {} checked: {}, {:+.2}%",
            hours(s.young_daly_s),
            hours(yd.completion_mean_s),
            usd_short(yd.cost_mean_usd),
            s.interval_check.len(),
            hours(best.interval_s),
            (best.completion_mean_s / yd.completion_mean_s - 1.0) * 100.0,
        );
    }
}

fn cluster(
    out: &mut String,
    spec: &crate::scenario::training_spec::ClusterSpec,
    c: &ClusterSummary,
) {
    let source = match &spec.stream {
        JobStream::Trace { path, .. } => format!("trace {path}"),
        JobStream::Synthetic { .. } => "synthetic stream".into(),
    };
    let capacity = match &spec.capacity {
        ClusterCapacity::Own(Capacity::Steps(steps)) => format!("{} GPUs", steps[0].1),
        ClusterCapacity::Own(Capacity::Autoscaled {
            gpus_per_node,
            min_nodes,
            max_nodes,
            ..
        }) => format!(
            "{}-{} GPUs autoscaled (peak {})",
            min_nodes * gpus_per_node,
            max_nodes * gpus_per_node,
            c.peak_gpus
        ),
        ClusterCapacity::Shared { .. } => format!("serving's idle GPUs (peak {})", c.peak_gpus),
    };
    let st = &c.stats.cluster;
    let _ = writeln!(
        out,
        "CLUSTER   {source}: {} jobs, {} on {capacity}",
        thousands(c.jobs as f64),
        spec.policy.as_str()
    );
    let _ = writeln!(
        out,
        "  completion p50 {} · p90 {} · p99 {} · makespan {}",
        hours(st.jct_p50_s),
        hours(st.jct_p90_s),
        hours(st.jct_p99_s),
        hours(st.makespan_s)
    );
    let _ = writeln!(
        out,
        "  queueing mean {} · p99 {} · {} never ran · {} preemptions",
        hours(st.queue_mean_s),
        hours(st.queue_p99_s),
        thousands((st.rejected + c.stats.unfinished) as f64),
        thousands(c.stats.preemptions as f64)
    );
    let g = c.stats.gpu_hours;
    let _ = writeln!(
        out,
        "  GPU-h {} provisioned = {} used + {} wasted + {} idle",
        thousands(g.provisioned),
        thousands(g.used),
        thousands(g.wasted),
        thousands(g.idle)
    );
    let on = match &spec.instance {
        Some(i) => format!("on {} {}", i.name, c.market),
        None => "at the shared pools' GPU price".into(),
    };
    let _ = writeln!(
        out,
        "  goodput {} · {} {on} ({} per job)",
        pct(c.goodput),
        usd_short(c.cost_usd),
        usd(c.cost_per_job())
    );
    out.push('\n');
}

fn compact(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.0}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}
