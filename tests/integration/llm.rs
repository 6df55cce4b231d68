//! Token-level LLM serving through the whole engine.

use headroom::experiment;
use headroom::fleet;
use headroom::sim::{self, Metric};

use crate::support::load;

/// Decode runs (many iterations as one event, cut at arrivals) against timing every iteration
/// on its own: the same requests, tokens and latencies, up to the rounding of iteration ends to
/// the nanosecond.
#[test]
fn decode_runs_agree_with_single_steps() {
    for (name, overrides) in [
        ("llm-chat.toml", vec!["horizon=\"15m\""]),
        (
            "llm-fleet.toml",
            vec![
                "horizon=\"3m\"",
                "pools.h100.replicas=8",
                "workloads.api.arrival.rate=20",
            ],
        ),
    ] {
        let s = load(name, &overrides);
        let fast = experiment::run_seeded(&s, s.seed()).unwrap();
        let plain = sim::run_single_steps(&s, s.seed()).unwrap();
        let (f, p) = (&fast.total, &plain.total);
        for m in [
            Metric::Arrived,
            Metric::Completed,
            Metric::OutputTokens,
            Metric::InputTokens,
            Metric::Preemptions,
        ] {
            assert_eq!(f.get(m), p.get(m), "{name}: {m:?}");
        }
        for m in [
            Metric::LatencyMean,
            Metric::LatencyP99,
            Metric::TtftMean,
            Metric::TtftP99,
            Metric::TpotMean,
            Metric::TpotP99,
        ] {
            let (a, b) = (f.get(m), p.get(m));
            assert!(
                (a - b).abs() <= 1e-3 * b.abs() + 1e-3,
                "{name}: {m:?} {a} vs {b}"
            );
        }
        let (a, b) = (f.get(Metric::KvUtilization), p.get(Metric::KvUtilization));
        assert!(
            (a - b).abs() <= 0.05 * b,
            "{name}: KV utilization {a} vs {b}"
        );
        assert!(fast.events < plain.events, "{name}: runs save events");
    }
}

#[test]
fn kv_utilization_agrees_closely_with_single_steps() {
    let s = load(
        "llm-fleet.toml",
        &[
            "horizon=\"3m\"",
            "pools.h100.replicas=8",
            "workloads.api.arrival.rate=20",
        ],
    );
    let fast = experiment::run_seeded(&s, s.seed()).unwrap();
    let plain = sim::run_single_steps(&s, s.seed()).unwrap();
    let (a, b) = (
        fast.total.get(Metric::KvUtilization),
        plain.total.get(Metric::KvUtilization),
    );
    assert!((a - b).abs() <= 0.01 * b, "KV utilization {a} vs {b}");
}

/// The same H100 instance timed as the PCIe card (2.0 TB/s against the SXM module's 3.35 TB/s):
/// decode is memory-bound, so time per output token grows at least by the bandwidth ratio (more,
/// as the slower card also batches more and prefills slower).
#[test]
fn the_pool_gpu_override_retimes_the_replica() {
    let tpot = |gpu: &str| {
        let s = load(
            "llm-chat.toml",
            &[
                "horizon=\"12m\"",
                "pools.a100.replicas=0",
                "pools.l40s.replicas=0",
                &format!("pools.h100.gpu=\"{gpu}\""),
            ],
        );
        let fleet::Serving::Llm(l) = &s.pools()[0].serving else {
            panic!("an LLM pool")
        };
        assert_eq!(l.roofline.gpu.gpu_model, gpu);
        experiment::run_seeded(&s, s.seed())
            .unwrap()
            .total
            .get(Metric::TpotP50)
    };
    let (sxm, pcie) = (tpot("H100"), tpot("H100-PCIe"));
    let ratio = pcie / sxm;
    assert!(
        (1.5..2.5).contains(&ratio),
        "TPOT p50 {sxm} vs {pcie}: ratio {ratio}"
    );
}

fn chat_with_table(scale: f64) -> headroom::scenario::Scenario {
    let dir = tempfile::tempdir().unwrap();
    let table =
        std::fs::read_to_string(crate::support::fixture("tables/synthetic-8b-h100.toml")).unwrap();
    let scaled = if scale == 1.0 {
        table
    } else {
        // Scale every time (the `ms` lists and the overhead).
        table
            .lines()
            .map(|l| {
                if let Some(rest) = l.strip_prefix("ms = [") {
                    let v: Vec<String> = rest
                        .trim_end_matches(']')
                        .split(',')
                        .map(|x| format!("{}", x.trim().parse::<f64>().unwrap() * scale))
                        .collect();
                    format!("ms = [{}]", v.join(", "))
                } else if l.starts_with("overhead_ms") {
                    format!("overhead_ms = {}", 0.5 * scale)
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let path = dir.path().join("t.toml");
    std::fs::write(&path, scaled).unwrap();
    let text = format!(
        r#"version = 1
seed = 9
horizon = "6m"
warmup = "1m"
[models.m]
architecture = "llama-3.1-8b"
iteration_tables = [{path:?}]
[workloads.chat]
model = "m"
arrival = {{ kind = "poisson", rate = 4 }}
tokens.input = {{ kind = "lognormal", mean = 1000, cv = 1.0 }}
tokens.output = {{ kind = "lognormal", mean = 200, cv = 1.0 }}
[pools.h100]
instance_type = "p5.4xlarge"
region = "us-east-1"
replicas = 1
"#
    );
    // The table is read while validating; the directory can go after.
    crate::support::parse(&text)
}

/// A measured table replaces the roofline: decode runs still agree with single steps (the
/// table sums a run in closed form), and doubling every measured time doubles time per token.
#[test]
fn a_measured_table_times_the_replica() {
    let s = chat_with_table(1.0);
    let fleet::Serving::Llm(l) = &s.pools()[0].serving else {
        panic!("an LLM pool")
    };
    assert!(l.table.is_some(), "the table applies to H100 at TP 1");
    let fast = experiment::run_seeded(&s, s.seed()).unwrap();
    let plain = sim::run_single_steps(&s, s.seed()).unwrap();
    for m in [Metric::OutputTokens, Metric::Completed] {
        assert_eq!(fast.total.get(m), plain.total.get(m), "{m:?}");
    }
    for m in [
        Metric::TtftP99,
        Metric::TpotMean,
        Metric::TpotP99,
        Metric::LatencyMean,
    ] {
        let (a, b) = (fast.total.get(m), plain.total.get(m));
        assert!((a - b).abs() <= 1e-3 * b.abs() + 1e-3, "{m:?} {a} vs {b}");
    }
    let roofline = {
        let none: Vec<toml::Value> = Vec::new();
        let s = s
            .apply(&[headroom::scenario::Edit::set(
                "models.m.iteration_tables",
                none,
            )])
            .unwrap();
        let fleet::Serving::Llm(l) = &s.pools()[0].serving else {
            panic!("an LLM pool")
        };
        assert!(l.table.is_none());
        experiment::run_seeded(&s, s.seed()).unwrap()
    };
    assert_ne!(
        roofline.total.get(Metric::TpotMean),
        fast.total.get(Metric::TpotMean),
        "the table, not the roofline, timed the run"
    );
    let slow = chat_with_table(2.0);
    let slow = experiment::run_seeded(&slow, slow.seed()).unwrap();
    let ratio = slow.total.get(Metric::TpotP50) / fast.total.get(Metric::TpotP50);
    assert!(
        (1.9..2.4).contains(&ratio),
        "doubling the table: TPOT p50 x{ratio}"
    );
}

/// `[gpus.NAME]` adds a GPU the bundled table lacks: Llama 3.1 70B in bf16 (131 GiB of
/// weights) fits on one 192 GB MI300X, which an inline instance then serves.
#[test]
fn a_scenario_gpu_extends_the_table() {
    let s = crate::support::parse(
        r#"version = 1
horizon = "2m"
[gpus.MI300X]
memory_gib = 178.8
memory_bandwidth_gb_per_s = 5300
dense_bf16_tflops = 1307
dense_fp8_tflops = 2615
interconnect_gb_per_s = 448
source = "AMD Instinct MI300X data sheet (192 GB = 178.8 GiB)"
[models.m]
architecture = "llama-3.1-70b"
serving = { max_model_len = 32768 }
[workloads.w]
model = "m"
arrival = { kind = "poisson", rate = 1 }
tokens = { input = { kind = "fixed", value = 500 }, output = { kind = "fixed", value = 100 } }
[pools.p]
instance = { gpu_model = "MI300X", gpu_count = 1, on_demand_usd_per_hour = 4.0 }
replicas = 1
"#,
    );
    let fleet::Serving::Llm(l) = &s.pools()[0].serving else {
        panic!("an LLM pool")
    };
    assert_eq!(
        (l.roofline.gpu.gpu_model.as_str(), l.roofline.tp),
        ("MI300X", 1)
    );
    // 0.9 x 178.8 GiB less 131.4 GiB of weights and activations: about 89,000 tokens of KV.
    assert!(
        (80_000..100_000).contains(&l.memory.kv_tokens),
        "{:?}",
        l.memory
    );
    let r = experiment::run_seeded(&s, s.seed()).unwrap();
    // Decode of 70B bf16 reads 141 GB of weights per step: at 5.3 TB/s x 0.6, about 44 ms.
    let tpot = r.total.get(Metric::TpotP50);
    assert!((40.0..60.0).contains(&tpot), "TPOT p50 {tpot} ms");
}

/// Measured figures replace a bundled GPU's for the scenario: H100 at PCIe bandwidth decodes
/// about as slowly as the PCIe card.
#[test]
fn a_scenario_gpu_overrides_a_bundled_one() {
    let tpot = |extra: &[&str]| {
        let mut o = vec![
            "horizon=\"12m\"",
            "pools.a100.replicas=0",
            "pools.l40s.replicas=0",
        ];
        o.extend_from_slice(extra);
        let s = load("llm-chat.toml", &o);
        experiment::run_seeded(&s, s.seed())
            .unwrap()
            .total
            .get(Metric::TpotP50)
    };
    let base = tpot(&[]);
    let slow = tpot(&["gpus.H100.memory_bandwidth_gb_per_s=2000"]);
    let pcie = tpot(&["pools.h100.gpu=\"H100-PCIe\""]);
    assert!(slow > 1.3 * base, "{base} -> {slow}");
    // The PCIe card also has less compute; bandwidth is most of the difference.
    assert!(slow < pcie && slow > 0.75 * pcie, "{slow} vs PCIe {pcie}");
}

/// The timing of each pool of an engine's model: kernels where the GPU was measured under the
/// engine, the roofline (with the reason) elsewhere, and the roofline on request.
#[test]
fn an_engine_times_its_pools_from_measured_kernels() {
    let timings = |overrides: &[&str]| {
        let mut all = vec!["models.llama-8b.engine=\"vllm\""];
        all.extend_from_slice(overrides);
        let s = load("llm-chat.toml", &all);
        s.pools()
            .iter()
            .map(|p| match &p.serving {
                fleet::Serving::Llm(l) => l.timing.clone(),
                _ => panic!("an LLM pool"),
            })
            .collect::<Vec<_>>()
    };
    let t = timings(&[]);
    assert!(t[0].starts_with("kernels: vllm 0.24.0 on H100"), "{t:?}");
    assert!(
        t[1].starts_with("kernels: vllm 0.14.0 on A100-80GB"),
        "{t:?}"
    );
    assert!(t[2].starts_with("kernels: vllm 0.24.0 on L40S"), "{t:?}");
    let t = timings(&["pools.h100.gpu=\"L4\""]);
    assert!(
        t[0].starts_with("roofline: no vllm kernel data for L4 (measured: H100"),
        "{t:?}"
    );
    let t = timings(&["models.llama-8b.serving.timing=\"roofline\""]);
    assert!(t[0].starts_with("roofline (vllm 0.24"), "{t:?}");
    // Without an engine: the engine-agnostic roofline, as before engines were named.
    let s = load("llm-chat.toml", &[]);
    let fleet::Serving::Llm(l) = &s.pools()[0].serving else {
        panic!("an LLM pool")
    };
    assert_eq!(l.timing, "roofline (engine-agnostic)");
}

/// Prompts that pause the decodes (vLLM V0, SGLang) stretch the time between tokens against a
/// scheduler that mixes prompt chunks into decode steps (vLLM V1), on the same kernels.
#[test]
fn prefill_first_scheduling_stretches_the_time_between_tokens() {
    let tpot = |scheduler: &str| {
        let s = load(
            "llm-chat.toml",
            &[
                "horizon=\"12m\"",
                "pools.a100.replicas=0",
                "pools.l40s.replicas=0",
                "models.llama-8b.engine=\"vllm\"",
                &format!("models.llama-8b.serving.scheduler=\"{scheduler}\""),
            ],
        );
        let t = experiment::run_seeded(&s, s.seed()).unwrap().total;
        (t.get(Metric::TpotP99), t.get(Metric::TtftP50))
    };
    let (mixed, first) = (tpot("mixed"), tpot("prefill-first"));
    // One H100 at this load is busy a fraction of the time: the pauses show in the tail of
    // TPOT, and prompts that jump the decodes start sooner.
    assert!(
        first.0 > 1.03 * mixed.0 && first.1 <= mixed.1,
        "TPOT p99, TTFT p50: prefill-first {first:?} vs mixed {mixed:?}"
    );
}

/// An offline run (every request at once) reports its rates over the makespan, whatever the
/// horizon says: the same figures with a horizon shorter and longer than the run.
#[test]
fn offline_runs_report_rates_over_the_makespan() {
    let run = |horizon: &str| {
        let s = crate::support::parse(&format!(
            r#"version = 1
horizon = "{horizon}"
interval = "{horizon}"
[models.m]
architecture = "llama-3.1-8b"
[workloads.w]
model = "m"
arrival = {{ kind = "batch", count = 600 }}
tokens = {{ input = {{ kind = "fixed", value = 512 }}, output = {{ kind = "fixed", value = 128 }} }}
[pools.p]
instance_type = "p5.4xlarge"
region = "us-east-1"
replicas = 1
"#
        ));
        experiment::run_seeded(&s, 1).unwrap()
    };
    let (short, long) = (run("5s"), run("2h"));
    let makespan = short.makespan.expect("an offline run").as_secs_f64();
    assert!(
        makespan > 5.0,
        "the batch outlasts the short horizon: {makespan}"
    );
    assert_eq!(short.makespan, long.makespan);
    for r in [&short, &long] {
        let t = &r.total;
        assert!((t.get(Metric::Throughput) - 600.0 / makespan).abs() < 1e-9);
        let util = r.pools[0].utilization;
        assert!((0.95..=1.0 + 1e-9).contains(&util), "utilization {util}");
    }
    // A run with arrivals over time keeps its horizon window.
    let open = experiment::run_seeded(&load("llm-chat.toml", &["horizon=\"5m\""]), 1).unwrap();
    assert!(open.makespan.is_none());
}

/// A batch of 400 small requests to one replica of Qwen3 0.6B under vLLM, with `cpu` of front
/// end per request and `dispatch` settings.
fn front_end_run(cpu: &str, dispatch: &str) -> headroom::sim::RunResult {
    let s = crate::support::parse(&format!(
        r#"version = 1
horizon = "1h"
[models.m]
architecture = "qwen3-0.6b"
engine = "vllm"
serving = {{ request_cpu = "{cpu}" }}
[workloads.w]
model = "m"
arrival = {{ kind = "batch", count = 400 }}
tokens = {{ input = {{ kind = "fixed", value = 64 }}, output = {{ kind = "fixed", value = 16 }} }}
dispatch = {{ {dispatch} }}
[pools.p]
instance_type = "p5.4xlarge"
region = "us-east-1"
replicas = 1
"#
    ));
    experiment::run_seeded(&s, 1).unwrap()
}

/// The front end takes one request at a time: with 10 ms of CPU per request, a replica of a
/// small model serves at most 100 requests a second however fast its GPU, and a batch of them
/// waits in the front end (time to first token about half the run); without it, several times
/// that.
#[test]
fn the_front_end_caps_the_request_rate() {
    let capped = front_end_run("10ms", "");
    let rate = capped.total.get(Metric::Throughput);
    assert!((90.0..=100.0).contains(&rate), "{rate} req/s");
    let makespan_ms = capped.makespan.expect("offline").as_secs_f64() * 1e3;
    let ttft = capped.total.get(Metric::TtftMean);
    assert!(
        (0.4..0.6).contains(&(ttft / makespan_ms)),
        "TTFT {ttft} ms of a {makespan_ms} ms run"
    );
    let free = front_end_run("0s", "").total.get(Metric::Throughput);
    assert!(free > 3.0 * rate, "{free} vs {rate} req/s");
}

/// Requests waiting in the front end count against the replica's queue: a batch of 400 into a
/// queue of 50 keeps 50 and turns the rest away, as it would without a front end.
#[test]
fn the_front_end_counts_against_the_queue() {
    for cpu in ["10ms", "0s"] {
        let t = front_end_run(cpu, "queue_capacity = 50").total;
        let (done, dropped) = (t.get(Metric::Completed), t.get(Metric::Dropped));
        assert_eq!(done + dropped, 400.0, "{cpu}");
        assert!((50.0..=60.0).contains(&done), "{cpu}: {done} served");
    }
}

/// A closed loop keeps its concurrency: one request in flight runs them back to back (the
/// makespan is the sum of their latencies), and four never have more than four in the system.
#[test]
fn a_closed_loop_keeps_its_concurrency() {
    let run = |concurrency: u32| {
        sim::run(
            &closed_loop(
                "",
                concurrency,
                60,
                r#"{ kind = "uniform", min = 100, max = 900 }"#,
                r#"{ kind = "uniform", min = 20, max = 200 }"#,
            ),
            1,
            None,
        )
        .unwrap()
    };
    let one = run(1);
    let t = &one.total;
    assert_eq!(t.get(Metric::Completed), 60.0);
    let makespan_ms = one.makespan.expect("a fixed set of requests").as_secs_f64() * 1e3;
    let sum_ms = t.get(Metric::LatencyMean) * 60.0;
    assert!(
        (makespan_ms - sum_ms).abs() < 0.01 * sum_ms,
        "back to back: makespan {makespan_ms} vs sum {sum_ms}"
    );
    let four = run(4);
    let in_system = four.total.get(Metric::MeanInSystem);
    assert!((3.0..=4.0 + 1e-9).contains(&in_system), "{in_system}");
    assert!(four.total.get(Metric::Throughput) > 2.0 * t.get(Metric::Throughput));
}

/// A closed loop of `count` requests by `concurrency` users on one H100 under vLLM (plus the
/// model lines `model`), with prompt and output lengths `input` and `output` (TOML tables).
fn closed_loop(
    model: &str,
    concurrency: u32,
    count: u32,
    input: &str,
    output: &str,
) -> headroom::scenario::Scenario {
    crate::support::parse(&format!(
        r#"version = 1
horizon = "1h"
[models.m]
architecture = "llama-3.1-8b"
engine = "vllm"
{model}
[workloads.w]
model = "m"
arrival = {{ kind = "closed", concurrency = {concurrency}, count = {count} }}
tokens = {{ input = {input}, output = {output} }}
[pools.p]
instance_type = "p5.4xlarge"
region = "us-east-1"
replicas = 1
"#
    ))
}

/// A closed loop whose requests fail at once (a full queue, a prompt too long) issues the next
/// in their place: every request is accounted for, and the run ends.
#[test]
fn a_closed_loop_survives_requests_that_fail_at_once() {
    for (serving, dispatch) in [
        ("max_seqs = 4", "{ queue_capacity = 2 }"),
        ("max_model_len = 1000", "{ policy = \"least-outstanding\" }"),
    ] {
        let s = crate::support::parse(&format!(
            r#"version = 1
horizon = "1h"
[models.m]
architecture = "llama-3.1-8b"
engine = "vllm"
serving = {{ {serving} }}
[workloads.w]
model = "m"
dispatch = {dispatch}
arrival = {{ kind = "closed", concurrency = 128, count = 400 }}
tokens = {{ input = {{ kind = "uniform", min = 500, max = 1500 }}, output = {{ kind = "fixed", value = 50 }} }}
[pools.p]
instance_type = "p5.4xlarge"
region = "us-east-1"
replicas = 1
"#
        ));
        let t = experiment::run_seeded(&s, 1).unwrap().total;
        assert_eq!(t.get(Metric::Arrived), 400.0, "{serving}");
        let failed = t.get(Metric::Dropped) + t.get(Metric::TimedOut);
        assert!(failed > 0.0, "{serving}: some fail");
        assert_eq!(t.get(Metric::Completed) + failed, 400.0, "{serving}");
    }
}

/// Multi-step scheduling (`scheduler_steps`, vLLM 0.6's `--num-scheduler-steps`): prompts that
/// arrive during a decode run wait for its steps, so the time to first token grows with them.
#[test]
fn multi_step_scheduling_holds_new_prompts() {
    let ttft = |steps: u32| {
        let s = load(
            "llm-chat.toml",
            &[
                "horizon=\"10m\"",
                "pools.a100.replicas=0",
                "pools.l40s.replicas=0",
                "models.llama-8b.engine=\"vllm\"",
                &format!("models.llama-8b.serving.scheduler_steps={steps}"),
            ],
        );
        experiment::run_seeded(&s, s.seed())
            .unwrap()
            .total
            .get(Metric::TtftMean)
    };
    let (one, ten) = (ttft(1), ttft(10));
    assert!(
        ten > one * 1.2,
        "TTFT mean: 1 step {one} ms, 10 steps {ten} ms"
    );
}

/// Inter-token latency is the gap between a request's output chunks: one token per step in
/// steady decoding (so its median is the time per output token), one chunk per run under
/// multi-step scheduling (so ten steps apart), while the time per output token stays a step.
#[test]
fn inter_token_latency_follows_what_streams() {
    let run = |steps: u32| {
        let model = format!("engine_version = \"0.6\"\nserving = {{ scheduler_steps = {steps} }}");
        let fixed = |n: u32| format!(r#"{{ kind = "fixed", value = {n} }}"#);
        let s = closed_loop(&model, 8, 40, &fixed(200), &fixed(400));
        experiment::run_seeded(&s, 1).unwrap().total
    };
    let one = run(1);
    let (itl, tpot) = (one.get(Metric::ItlP50), one.get(Metric::TpotP50));
    assert!(
        (itl / tpot - 1.0).abs() < 0.1,
        "one step: ITL {itl} ms, TPOT {tpot} ms"
    );
    let ten = run(10);
    let (itl, tpot) = (ten.get(Metric::ItlP50), ten.get(Metric::TpotP50));
    assert!(
        (8.0..=11.0).contains(&(itl / tpot)),
        "ten steps: ITL {itl} ms, TPOT {tpot} ms"
    );
    let mean = ten.get(Metric::ItlMean);
    assert!(
        (mean / ten.get(Metric::TpotMean) - 10.0).abs() < 2.0,
        "mean ITL {mean} ms"
    );
}

/// With replications, an LLM SLO (TTFT and TPOT targets, no end-to-end one) is judged by its
/// attainment as with one run; it used to pass whatever the attainment.
#[test]
fn an_llm_slo_missed_over_replications_is_missed() {
    let s = crate::support::load(
        "llm-chat.toml",
        &[r#"workloads.chat.slo={ ttft_p99 = "10ms", tpot_p99 = "100ms" }"#],
    );
    for replications in [1, 2] {
        let sum = crate::support::summarise(&s, replications);
        assert_eq!(sum.total.slo_met, Some(false), "{replications} runs");
        assert!(sum.total.attainment() < 0.5, "{}", sum.total.attainment());
    }
}

/// The time series of an LLM workload carries its TTFT and TPOT p99 per interval, close to the
/// run's own p99s; a request-level workload's has none.
#[test]
fn llm_series_carry_ttft_and_tpot() {
    let s = load("llm-chat.toml", &[]);
    let sum = crate::support::summarise(&s, 1);
    let rows = &sum.workload_series[0];
    assert!(
        rows.iter()
            .all(|r| r.ttft_p99_ms.is_finite() && r.tpot_p99_ms.is_finite())
    );
    let mean = |f: fn(&headroom::experiment::SeriesRow) -> f64| {
        rows.iter().map(f).sum::<f64>() / rows.len() as f64
    };
    for (series, headline) in [
        (mean(|r| r.ttft_p99_ms), sum.total.get(Metric::TtftP99).mean),
        (mean(|r| r.tpot_p99_ms), sum.total.get(Metric::TpotP99).mean),
    ] {
        assert!(
            (series / headline - 1.0).abs() < 0.3,
            "{series} against {headline}"
        );
    }
    let plain = crate::support::summarise(&load("mmc.toml", &["horizon=\"2h\""]), 1);
    assert!(plain.series.iter().all(|r| r.ttft_p99_ms.is_nan()));
}
