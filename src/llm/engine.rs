//! Serving engines: what makes vLLM, SGLang and TensorRT-LLM behave differently under load.
//!
//! An engine version brings a scheduler (whether prompt chunks share a step with decodes, or
//! prompts pause them), an admission policy (what happens when the KV cache runs out), CPU time
//! per step and per request, default settings, and the kernel tables measured under it
//! (`kernels/`). `generic` is the engine-agnostic default: the roofline, vLLM V1's scheduling and
//! no CPU overheads, as headroom modelled every engine before engines were named.
//!
//! Default settings follow each engine's documented defaults (sources in
//! `docs/llm-capacity-notes.md` and vLLM's `arg_utils.py`): vLLM V1's API server schedules 1,024
//! sequences and 8,192 tokens per step with chunked prefill on a GPU of 70 GiB or more other than
//! the A100, else 256 and 2,048; vLLM V0 runs whole prompts first; SGLang prefills first in chunks of 8,192
//! tokens and admits by its new-token ratio (0.7 decaying to 0.14 over 600 steps); TensorRT-LLM
//! mixes context and generation in one step with 8,192 tokens and 2,048 sequences and reserves
//! each request's whole KV at admission (GUARANTEED_NO_EVICT).
//!
//! CPU time per step, per sequence in the step, and per request (HTTP, tokenization, detokenizing)
//! is fitted per engine version on the calibration rows of `docs/llm-load-validation.csv`
//! (`cargo run --release --example llm_load_validation -- --fit`), on a grid, each quantity only
//! where the rows can tell it apart: the cost per step needs a time per output token at low load,
//! its growth with sequences a second run at another load, the front end a time to first token.
//! The front end includes the sources' HTTP clients and gateways; a leaner deployment sets
//! `request_overhead`. vLLM's front end up to 0.19 also spends 10 ms of CPU per request, one
//! request at a time (its API server is one process; 0.6 and 0.11 assumed alike): kvcached's
//! offline run of Qwen3 0.6B on an H100 under 0.19 is capped at 95 req/s by it, and its times to
//! first token and per output token follow. Under 0.30, silybench's closed loops of up to 472
//! users meet a 2 s p99 time to first token, which a serial front end of more than about 4 ms
//! per request could not: 0.24 (the newest known) has no front-end limit, and its delay is 0.11's
//! fitted 40 ms plus 10 ms. vLLM 0.6 schedules every step as a V0 engine does (Vidur's profiles: 1.4 ms plus
//! 0.15 ms per sequence), or, with multi-step scheduling, the fitted cost at ten steps per
//! scheduling, linear in 1 / steps between: Lambda's single-step runs (held out) land within
//! 12 % on throughput. Its fitted delay per request (5 ms) is small because a prompt that
//! arrives during a multi-step run waits for the run, which the simulator plays out. A version without rows of its own takes its family's fitted neighbour
//! (vLLM 0.19 and 0.24 that of 0.11, SGLang 0.4 that of 0.5, TensorRT-LLM 1.x that of 1.2);
//! TensorRT-LLM 0.16 has only an offline row, which cannot tell CPU time from scheduling, and
//! keeps a tenth of the V0 engine's cost.

use super::ops::StepOverhead;

/// Which engine family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Generic,
    Vllm,
    Sglang,
    Trtllm,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Generic => "generic",
            EngineKind::Vllm => "vllm",
            EngineKind::Sglang => "sglang",
            EngineKind::Trtllm => "trtllm",
        }
    }

    pub const ALL: [EngineKind; 4] = [
        EngineKind::Generic,
        EngineKind::Vllm,
        EngineKind::Sglang,
        EngineKind::Trtllm,
    ];

    pub fn parse(s: &str) -> Option<EngineKind> {
        EngineKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How an iteration is composed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheduler {
    /// Running sequences first (decodes and prompt chunks), then new prompts, in one step
    /// (vLLM V1, TensorRT-LLM in-flight batching).
    Mixed,
    /// While prompts wait and fit, a step runs only prompts (chunks) and the decodes pause
    /// (vLLM V0, Orca, SGLang's default).
    PrefillFirst,
}

impl Scheduler {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheduler::Mixed => "mixed",
            Scheduler::PrefillFirst => "prefill-first",
        }
    }

    pub fn parse(s: &str) -> Option<Scheduler> {
        [Scheduler::Mixed, Scheduler::PrefillFirst]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What a replica does about KV memory when admitting requests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Admission {
    /// Admit while the first chunk fits; when a running sequence needs a block and none is free,
    /// preempt the newest by recomputation (vLLM; TensorRT-LLM's MAX_UTILIZATION).
    Preempt,
    /// Admit only when the whole prompt and output fit, reserved at once; never preempt
    /// (TensorRT-LLM's GUARANTEED_NO_EVICT).
    Reserve,
    /// Admit when the free KV covers the prompt plus `ratio` of every output still to come
    /// (SGLang): the ratio starts at `init`, falls by `(init - min) / decay_steps` per decode
    /// step, and goes back to `init` when a sequence is preempted.
    TokenRatio {
        init: f64,
        min: f64,
        decay_steps: f64,
    },
}

impl Admission {
    pub fn as_str(self) -> &'static str {
        match self {
            Admission::Preempt => "preempt",
            Admission::Reserve => "reserve",
            Admission::TokenRatio { .. } => "token-ratio",
        }
    }

    pub const SGLANG: Admission = Admission::TokenRatio {
        init: 0.7,
        min: 0.14,
        decay_steps: 600.0,
    };

    pub fn parse(s: &str) -> Option<Admission> {
        [Admission::Preempt, Admission::Reserve, Admission::SGLANG]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One engine version's behaviour and defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Engine {
    pub kind: EngineKind,
    pub version: &'static str,
    pub scheduler: Scheduler,
    pub admission: Admission,
    /// CPU per step at one step per scheduling.
    pub overhead: StepOverhead,
    /// With multi-step scheduling (vLLM 0.6): the CPU per step measured at this many steps per
    /// scheduling; between, linear in 1 / steps (what is spread over the steps shrinks so).
    pub multi_step: Option<(u32, StepOverhead)>,
    /// Front end per request (HTTP, tokenization, detokenizing the last token), seconds: added
    /// to time to first token and to end-to-end latency.
    pub request_overhead_s: f64,
    /// CPU the front end spends on each request, one at a time (vLLM's API server is one
    /// process): a request reaches the engine only after those before it, so a replica takes at
    /// most `1 / request_cpu_s` requests per second. 0: unlimited.
    pub request_cpu_s: f64,
    pub max_seqs: u32,
    pub max_batched_tokens: u32,
    /// Sequences and tokens per step on a GPU of 70 GiB or more other than the A100, where the
    /// engine defaults to larger steps (vLLM V1's API server: 1,024 and 8,192).
    pub large_gpu_batch: Option<(u32, u32)>,
    pub chunked_prefill: bool,
}

/// A V0-style engine scheduling every step (Vidur's profiles of vLLM V0 on an A100: scheduling,
/// sampling and output processing).
const V0_OVERHEAD: StepOverhead = StepOverhead {
    fixed_s: 1.4e-3,
    per_seq_s: 0.15e-3,
};
/// vLLM 0.6 with ten steps per scheduling (`--num-scheduler-steps 10`), fitted.
const VLLM_0_6_OVERHEAD: StepOverhead = StepOverhead {
    fixed_s: 0.5e-3,
    per_seq_s: 40e-6,
};
/// vLLM V1 (0.11), fitted.
const VLLM_V1_OVERHEAD: StepOverhead = StepOverhead {
    fixed_s: 1.0e-3,
    per_seq_s: 0.0,
};
/// SGLang 0.3, fitted.
const SGLANG_0_3_OVERHEAD: StepOverhead = StepOverhead {
    fixed_s: 0.0,
    per_seq_s: 40e-6,
};
/// SGLang 0.5 (overlap scheduler), fitted per step.
const SGLANG_OVERHEAD: StepOverhead = StepOverhead {
    fixed_s: 0.25e-3,
    per_seq_s: 15e-6,
};
/// TensorRT-LLM 1.2, fitted per step.
const TRTLLM_OVERHEAD: StepOverhead = StepOverhead {
    fixed_s: 1.0e-3,
    per_seq_s: 15e-6,
};
/// A tenth of a V0-style engine's (Vidur), for a version without a row to fit.
const LEAN_OVERHEAD: StepOverhead = StepOverhead {
    fixed_s: 0.14e-3,
    per_seq_s: 15e-6,
};

const GENERIC: Engine = Engine {
    kind: EngineKind::Generic,
    version: "roofline",
    scheduler: Scheduler::Mixed,
    admission: Admission::Preempt,
    overhead: StepOverhead {
        fixed_s: 0.0,
        per_seq_s: 0.0,
    },
    multi_step: None,
    request_overhead_s: 0.0,
    request_cpu_s: 0.0,
    max_seqs: 256,
    max_batched_tokens: 8192,
    large_gpu_batch: None,
    chunked_prefill: true,
};

const VLLM_V1: Engine = Engine {
    kind: EngineKind::Vllm,
    version: "0.24",
    scheduler: Scheduler::Mixed,
    admission: Admission::Preempt,
    overhead: VLLM_V1_OVERHEAD,
    multi_step: None,
    request_overhead_s: 50e-3,
    request_cpu_s: 0.0,
    max_seqs: 256,
    max_batched_tokens: 2048,
    large_gpu_batch: Some((1024, 8192)),
    chunked_prefill: true,
};

/// vLLM V1 up to 0.19, whose API server took 10 ms of CPU per request, one at a time (the
/// fitted delay drops by as much, so low-load times stay).
const VLLM_V1_SERIAL_FRONT_END: Engine = Engine {
    request_overhead_s: 40e-3,
    request_cpu_s: 10e-3,
    ..VLLM_V1
};

const SGLANG: Engine = Engine {
    kind: EngineKind::Sglang,
    version: "0.5",
    scheduler: Scheduler::PrefillFirst,
    admission: Admission::SGLANG,
    overhead: SGLANG_OVERHEAD,
    multi_step: None,
    request_overhead_s: 20e-3,
    request_cpu_s: 0.0,
    max_seqs: 1024,
    max_batched_tokens: 8192,
    large_gpu_batch: None,
    chunked_prefill: true,
};

const TRTLLM: Engine = Engine {
    kind: EngineKind::Trtllm,
    version: "1.3",
    scheduler: Scheduler::Mixed,
    admission: Admission::Reserve,
    overhead: TRTLLM_OVERHEAD,
    multi_step: None,
    request_overhead_s: 40e-3,
    request_cpu_s: 0.0,
    max_seqs: 2048,
    max_batched_tokens: 8192,
    large_gpu_batch: None,
    chunked_prefill: false,
};

/// Every known engine version; the last of each kind is its default.
pub const KNOWN: &[Engine] = &[
    GENERIC,
    Engine {
        version: "0.6",
        scheduler: Scheduler::PrefillFirst,
        overhead: V0_OVERHEAD,
        multi_step: Some((10, VLLM_0_6_OVERHEAD)),
        request_overhead_s: 5e-3,
        request_cpu_s: 10e-3,
        chunked_prefill: false,
        // V0 ran a prompt whole, in a step of up to max(max_model_len, 2,048) tokens.
        max_batched_tokens: 8192,
        large_gpu_batch: None,
        ..VLLM_V1
    },
    Engine {
        version: "0.11",
        ..VLLM_V1_SERIAL_FRONT_END
    },
    Engine {
        version: "0.19",
        ..VLLM_V1_SERIAL_FRONT_END
    },
    VLLM_V1,
    Engine {
        version: "0.3",
        overhead: SGLANG_0_3_OVERHEAD,
        request_overhead_s: 10e-3,
        ..SGLANG
    },
    Engine {
        version: "0.4",
        ..SGLANG
    },
    SGLANG,
    Engine {
        version: "0.16",
        // No published time to first token at low load to fit against.
        overhead: LEAN_OVERHEAD,
        request_overhead_s: 2e-3,
        ..TRTLLM
    },
    Engine {
        version: "1.0",
        ..TRTLLM
    },
    Engine {
        version: "1.2",
        ..TRTLLM
    },
    TRTLLM,
];

impl Engine {
    /// The engine-agnostic default.
    pub const GENERIC: Engine = GENERIC;

    /// `kind` at `version` (its newest known version when `None`), or the known versions.
    pub fn find(kind: EngineKind, version: Option<&str>) -> Result<Engine, Vec<&'static str>> {
        let mut of_kind = KNOWN.iter().filter(|e| e.kind == kind);
        match version {
            None => Ok(*of_kind.next_back().expect("every kind has a version")),
            Some(v) => of_kind
                .clone()
                .find(|e| e.version == v)
                .copied()
                .ok_or_else(|| of_kind.map(|e| e.version).collect()),
        }
    }

    /// CPU per step with `steps` decode steps per scheduling.
    pub fn overhead_at(&self, steps: u32) -> StepOverhead {
        match self.multi_step {
            Some((k, multi)) if steps == k => multi,
            Some((k, multi)) if steps > 1 && k > 1 => {
                let t = (1.0 - 1.0 / f64::from(steps)) / (1.0 - 1.0 / f64::from(k));
                let at = |one: f64, many: f64| (one + t * (many - one)).max(0.0);
                StepOverhead {
                    fixed_s: at(self.overhead.fixed_s, multi.fixed_s),
                    per_seq_s: at(self.overhead.per_seq_s, multi.per_seq_s),
                }
            }
            _ => self.overhead,
        }
    }

    /// Whether kernel tables time its steps (where the GPU was measured under this engine): all
    /// but the engine-agnostic default.
    pub fn has_kernels(&self) -> bool {
        self.kind != EngineKind::Generic
    }

    /// `vllm 0.24`, for reports.
    pub fn label(&self) -> String {
        match self.kind {
            EngineKind::Generic => "generic (roofline)".into(),
            k => format!("{} {}", k.as_str(), self.version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_defaults_to_its_newest_version_and_unknown_ones_list_the_known() {
        assert_eq!(
            Engine::find(EngineKind::Vllm, None).unwrap().version,
            "0.24"
        );
        assert_eq!(
            Engine::find(EngineKind::Vllm, Some("0.6"))
                .unwrap()
                .scheduler,
            Scheduler::PrefillFirst
        );
        let known = Engine::find(EngineKind::Trtllm, Some("9.9")).unwrap_err();
        assert_eq!(known, vec!["0.16", "1.0", "1.2", "1.3"]);
        assert_eq!(
            Engine::find(EngineKind::Generic, None).unwrap(),
            Engine::GENERIC
        );
    }

    #[test]
    fn multi_step_scheduling_spreads_cpu_over_the_steps() {
        let v06 = Engine::find(EngineKind::Vllm, Some("0.6")).unwrap();
        let (one, five, ten) = (v06.overhead_at(1), v06.overhead_at(5), v06.overhead_at(10));
        assert_eq!(one, v06.overhead);
        assert_eq!(ten, v06.multi_step.unwrap().1);
        for (a, b, c) in [
            (one.fixed_s, five.fixed_s, ten.fixed_s),
            (one.per_seq_s, five.per_seq_s, ten.per_seq_s),
        ] {
            assert!(a > b && b > c, "{a} {b} {c}");
            // Linear in 1 / steps: five steps is 8/9 of the way from one step to ten.
            assert!((b - (a + (c - a) * 8.0 / 9.0)).abs() < 1e-12);
        }
        // Engines without multi-step scheduling keep their cost.
        let v1 = Engine::find(EngineKind::Vllm, None).unwrap();
        assert_eq!(v1.overhead_at(10), v1.overhead);
    }
}
