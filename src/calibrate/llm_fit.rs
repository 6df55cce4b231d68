//! An LLM's efficiency factors from its request log, against the roofline of the pool it ran on.
//!
//! The log should come from a benchmark run at low concurrency (each row's `batch_size`, if
//! given, is the number of sequences decoding alongside it; else 1), so that:
//! - a request's time to first token is its prefill: the roofline's compute time for the prompt
//!   at an efficiency of 1, divided by the measured TTFT, is the compute efficiency. Fitted as a
//!   line through the origin over the requests whose prefill is compute-bound, which needs
//!   prompts of different lengths;
//! - its time per output token after the first is one decode step: the roofline's memory time
//!   for that step (weights plus KV at the mean context) over the measured time is the memory
//!   efficiency. A decode step's roofline time barely changes with context, so this one is the
//!   median of the per-request ratios, with the spread of the middle 80 % as its quality.

use super::fit::{self, Refusal};
use super::requests::Request;
use crate::llm::roofline::{Efficiency, Roofline, Step, StepModel};

/// Efficiency factors measured for one model on one GPU type.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmEfficiency {
    /// Of the compute bound (prefill), with the fit's R², when the data supports it.
    pub prefill: Result<(f64, f64), Refusal>,
    /// Of the memory bound (decode), with the p10 and p90 of the per-request ratios.
    pub decode: Result<(f64, f64, f64), Refusal>,
    pub requests: usize,
}

/// The roofline with every efficiency at 1 and no fixed costs: the hardware's bound.
fn bound(r: &Roofline) -> StepModel {
    let mut r = r.clone();
    r.efficiency = Efficiency {
        compute: 1.0,
        compute_8bit: 1.0,
        memory: 1.0,
        iteration_overhead_s: 0.0,
        ..r.efficiency
    };
    StepModel::new(&r)
}

/// Fits both factors from the log rows that have token counts and a TTFT.
pub fn fit_llm(roofline: &Roofline, log: &[Request]) -> LlmEfficiency {
    let model = bound(roofline);
    let rows: Vec<(&Request, u64, u64, f64)> = log
        .iter()
        .filter_map(|r| {
            let (n, m, ttft) = (r.input_tokens?, r.output_tokens?, r.ttft_s?);
            Some((r, n.round() as u64, m.round() as u64, ttft))
        })
        .filter(|(_, n, _, ttft)| *n > 0 && *ttft > 0.0)
        .collect();
    let (mut pre_x, mut pre_y) = (Vec::new(), Vec::new());
    let mut ratios = Vec::new();
    for (r, n, m, ttft) in &rows {
        let mut s = Step::default();
        s.add_prefill(0, *n, true);
        let parts = model.parts(&s);
        if parts.compute_s >= parts.memory_s {
            pre_x.push(parts.compute_s + parts.communication_s);
            pre_y.push(*ttft);
        }
        if *m >= 2 {
            let per_token = (r.latency_s - ttft) / (*m - 1) as f64;
            let batch = r.batch_size.unwrap_or(1.0).max(1.0).round() as u64;
            let mut d = Step::default();
            let context = n + m / 2;
            for _ in 0..batch {
                d.add_decode(context);
            }
            let parts = model.parts(&d);
            if per_token > 0.0 {
                ratios.push((parts.memory_s + parts.communication_s) / per_token);
            }
        }
    }
    let prefill = if pre_x.len() < 5 {
        Err(Refusal::TooFew {
            what: "compute-bound prefills (requests with a TTFT and a long enough prompt)".into(),
            n: pre_x.len(),
            need: 5,
        })
    } else {
        fit::efficiency(&pre_x, &pre_y).map(|f| (f.efficiency, f.line.r_squared))
    };
    let decode = if ratios.len() < 5 {
        Err(Refusal::TooFew {
            what: "requests with two or more output tokens and a TTFT".into(),
            n: ratios.len(),
            need: 5,
        })
    } else {
        let s = fit::summary(&ratios);
        let mut sorted = ratios.clone();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        if s.p50 > fit::MAX_EFFICIENCY {
            Err(Refusal::FasterThanRoofline {
                efficiency: s.p50,
                max: fit::MAX_EFFICIENCY,
            })
        } else {
            Ok((s.p50, at(0.1), at(0.9)))
        }
    };
    LlmEfficiency {
        prefill,
        decode,
        requests: rows.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::roofline::DEFAULT_EFFICIENCY;

    /// The 8B model on one L40S, as the scenario library has it.
    fn roofline() -> Roofline {
        let s = crate::scenario::parse(
            r#"version = 1
horizon = "1m"
[models.m]
architecture = "llama-3.1-8b"
[workloads.w]
model = "m"
arrival = { kind = "poisson", rate = 1 }
tokens = { input = { kind = "fixed", value = 500 }, output = { kind = "fixed", value = 100 } }
[pools.p]
instance_type = "g6e.xlarge"
region = "us-east-1"
replicas = 1
"#,
            "t.toml",
            std::path::Path::new("."),
            &[],
        )
        .expect("valid");
        match &s.pools()[0].serving {
            crate::fleet::Serving::Llm(l) => l.roofline.clone(),
            _ => unreachable!("an LLM pool"),
        }
    }

    #[test]
    fn known_factors_are_recovered_from_a_log_the_roofline_wrote() {
        let r = roofline();
        // A "real" GPU that reaches 55 % of peak compute and 72 % of peak bandwidth.
        let mut truth = r.clone();
        truth.efficiency = Efficiency {
            compute: 0.55,
            compute_8bit: 0.55,
            memory: 0.72,
            iteration_overhead_s: 0.0,
            ..DEFAULT_EFFICIENCY
        };
        let real = StepModel::new(&truth);
        let log: Vec<Request> = (0..40)
            .map(|i| {
                let n = 1000 + 250 * i as u64;
                let m = 64 + 8 * i as u64;
                let mut p = Step::default();
                p.add_prefill(0, n, true);
                let ttft = real.seconds(&p);
                let mut d = Step::default();
                d.add_decode(n + m / 2);
                let per = real.parts(&d).memory_s;
                Request {
                    timestamp_s: i as f64,
                    latency_s: ttft + per * (m - 1) as f64,
                    batch_size: None,
                    input_tokens: Some(n as f64),
                    output_tokens: Some(m as f64),
                    ttft_s: Some(ttft),
                }
            })
            .collect();
        let e = fit_llm(&r, &log);
        let (compute, r2) = e.prefill.unwrap();
        assert!((compute - 0.55).abs() < 0.01, "{compute}");
        assert!(r2 > 0.99, "{r2}");
        let (memory, lo, hi) = e.decode.unwrap();
        // The memory line at the mean context, against decode steps whose context grows: within 2 %.
        assert!((memory - 0.72).abs() < 0.72 * 0.02, "{memory}");
        assert!(lo <= memory && memory <= hi);
    }

    #[test]
    fn a_log_without_tokens_is_refused_by_name() {
        let log = vec![Request {
            timestamp_s: 0.0,
            latency_s: 1.0,
            batch_size: Some(1.0),
            input_tokens: None,
            output_tokens: None,
            ttft_s: None,
        }];
        let e = fit_llm(&roofline(), &log);
        assert!(matches!(e.prefill, Err(Refusal::TooFew { n: 0, .. })));
        assert!(matches!(e.decode, Err(Refusal::TooFew { n: 0, .. })));
    }
}
