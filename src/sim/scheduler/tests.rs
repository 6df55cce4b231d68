//! The scheduler against hand-worked steps: admission, chunking, preemption, multi-step runs.

use super::*;
use crate::units::SimTime;
use proptest::prelude::*;

fn cfg(kv_blocks: u64) -> LlmConfig {
    LlmConfig {
        max_seqs: 8,
        max_batched_tokens: 64,
        block_tokens: 4,
        kv_blocks,
        chunked_prefill: true,
        prefix_caching: true,
        prefix_block_tokens: 8,
        max_model_len: 512,
        scheduler: Scheduler::Mixed,
        admission: Admission::Preempt,
        request_overhead_ns: 0,
        request_cpu_ns: 0,
        scheduler_steps: 1,
    }
}

fn req(input: u32, output: u32) -> Request {
    Request {
        arrival: SimTime(0),
        traced_service: SimTime::ZERO,
        input_tokens: input,
        output_tokens: output,
        prefix: Request::NO_PREFIX,
    }
}

/// Runs the replica until it is idle; returns the outcomes and the tokens sampled.
fn drain(r: &mut LlmReplica) -> (Vec<Outcome>, u64) {
    let (mut out, mut sampled, mut now) = (Vec::new(), 0, 0);
    while let Some(p) = r.plan(&mut out, 1) {
        r.check();
        sampled += p.step.logits;
        now += 1;
        r.finish(now - 1, now, 1, &mut out);
        r.check();
    }
    (out, sampled)
}

/// Like `drain`, with decode runs of up to `max_run` iterations.
fn drain_runs(r: &mut LlmReplica, max_run: u32) -> (Vec<Outcome>, u64) {
    drain_runs_from(r, max_run, 0)
}

/// Like `drain_runs`, with the clock at `now`.
fn drain_runs_from(r: &mut LlmReplica, max_run: u32, mut now: u64) -> (Vec<Outcome>, u64) {
    let (mut out, mut sampled) = (Vec::new(), 0);
    while let Some(p) = r.plan(&mut out, max_run) {
        r.check();
        sampled += p.step.logits * u64::from(p.steps);
        now += 1;
        r.finish(now - 1, now, p.steps, &mut out);
        r.check();
    }
    (out, sampled)
}

#[test]
fn decode_runs_match_single_steps() {
    for max_run in [1, 2, 7, 1000] {
        let mut r = LlmReplica::new(cfg(1000));
        for (i, o) in [(10, 30), (20, 5), (5, 17)] {
            assert!(r.enqueue(&req(i, o), None));
        }
        let (out, sampled) = drain_runs(&mut r, max_run);
        assert_eq!(sampled, 52, "max_run {max_run}");
        assert_eq!(
            out.iter()
                .filter(|o| matches!(o, Outcome::Done { .. }))
                .count(),
            3
        );
        assert_eq!(r.used_blocks(), 0);
    }
}

/// (chunks, their summed gaps) of `out`'s inter-token gaps; (tokens after the first, their
/// summed time) of its finished requests.
fn gaps(out: &[Outcome]) -> ((u64, u64), (u64, u64)) {
    let mut g = (0, 0);
    let mut d = (0, 0);
    for o in out {
        match *o {
            Outcome::Gaps { gap, count } => {
                g.0 += count;
                g.1 += gap * count;
            }
            Outcome::Done {
                first_token,
                output_tokens,
                at,
                ..
            } => {
                d.0 += u64::from(output_tokens - 1);
                d.1 += at - first_token;
            }
            _ => {}
        }
    }
    (g, d)
}

#[test]
fn every_token_after_the_first_is_one_gap_and_the_gaps_add_up() {
    // Mixed steps, a pause of the decodes for prompts, and preemptions (a small cache).
    for scheduler in [Scheduler::Mixed, Scheduler::PrefillFirst] {
        for kv in [1000, 30] {
            let mut r = LlmReplica::new(LlmConfig {
                scheduler,
                ..cfg(kv)
            });
            for (i, o) in [(40, 40), (10, 30), (40, 40), (5, 17)] {
                assert!(r.enqueue(&req(i, o), None));
            }
            let (out, _) = drain(&mut r);
            let (g, d) = gaps(&out);
            assert_eq!(g, d, "{scheduler:?}, {kv} blocks");
        }
    }
    // Decode runs: one gap per token still.
    let mut r = LlmReplica::new(cfg(1000));
    for (i, o) in [(10, 30), (20, 5), (5, 17)] {
        assert!(r.enqueue(&req(i, o), None));
    }
    let (out, _) = drain_runs(&mut r, 1000);
    assert_eq!(gaps(&out).0.0, 29 + 4 + 16);
}

#[test]
fn multi_step_scheduling_streams_a_chunk_per_scheduling() {
    let mut r = LlmReplica::new(LlmConfig {
        scheduler_steps: 4,
        ..cfg(1000)
    });
    assert!(r.enqueue(&req(10, 9), None));
    let (mut out, mut now) = (Vec::new(), 0);
    while let Some(p) = r.plan(&mut out, 1000) {
        // Each iteration takes 10 ns.
        r.finish(now, now + 10 * u64::from(p.steps), p.steps, &mut out);
        now += 10 * u64::from(p.steps);
    }
    // The first token, then 8 in one run of 8 iterations: two chunks of 4, 40 ns apart.
    assert_eq!(gaps(&out).0, (2, 80));
}

#[test]
fn one_request_prefills_in_chunks_then_decodes() {
    let mut r = LlmReplica::new(cfg(1000));
    assert!(r.enqueue(&req(100, 5), None));
    let (out, sampled) = drain(&mut r);
    // 100 prompt tokens in chunks of 64: 2 steps, the second yields the first token; 4 decodes.
    let first = out.iter().find_map(|o| match o {
        Outcome::FirstToken { at, .. } => Some(*at),
        _ => None,
    });
    assert_eq!(first, Some(2));
    assert!(matches!(
        out.last(),
        Some(Outcome::Done {
            at: 6,
            output_tokens: 5,
            ..
        })
    ));
    assert_eq!(sampled, 5);
    assert_eq!(r.used_blocks(), 0);
}

#[test]
fn a_full_cache_preempts_the_newest_and_everything_still_finishes() {
    // 30 blocks of 4 tokens: two requests of 40 + 40 tokens do not fit together.
    let mut r = LlmReplica::new(cfg(30));
    for _ in 0..2 {
        assert!(r.enqueue(&req(40, 40), None));
    }
    let (out, sampled) = drain(&mut r);
    let preempted = out
        .iter()
        .filter(|o| matches!(o, Outcome::Preempted))
        .count();
    let done = out
        .iter()
        .filter(|o| matches!(o, Outcome::Done { .. }))
        .count();
    assert!(preempted >= 1, "{out:?}");
    assert_eq!(done, 2);
    assert_eq!(sampled, 80, "no token is generated twice");
}

#[test]
fn cached_prefixes_skip_their_prefill() {
    let mut r = LlmReplica::new(cfg(1000));
    let prefix: Box<[u64]> = vec![7, 8, 9].into();
    assert!(r.enqueue(&req(30, 2), Some(prefix.clone())));
    drain(&mut r);
    assert!(r.enqueue(&req(30, 2), Some(prefix)));
    let (out, _) = drain(&mut r);
    // 30 tokens: 3 whole units of 8 are cached, all usable (the last token always runs).
    assert!(
        out.contains(&Outcome::PrefixLookup {
            hit: 24,
            prompt: 30
        }),
        "{out:?}"
    );
    assert_eq!(r.cached_units(&[7, 8, 9, 10]), 3);
}

fn with(scheduler: Scheduler, admission: Admission, kv_blocks: u64) -> LlmReplica {
    LlmReplica::new(LlmConfig {
        scheduler,
        admission,
        ..cfg(kv_blocks)
    })
}

/// Steps until the replica is idle: (prefill tokens, decode sequences) of each, and outcomes.
fn steps(r: &mut LlmReplica) -> (Vec<(u64, u64)>, Vec<Outcome>) {
    let (mut out, mut shape, mut now) = (Vec::new(), Vec::new(), 0);
    while let Some(p) = r.plan(&mut out, 1) {
        r.check();
        shape.push((p.step.prefill_tokens, p.step.decode_seqs));
        now += 1;
        r.finish(now - 1, now, 1, &mut out);
    }
    (shape, out)
}

#[test]
fn prefill_first_pauses_decodes_while_a_prompt_runs() {
    for (scheduler, mixed_steps) in [(Scheduler::Mixed, true), (Scheduler::PrefillFirst, false)] {
        let mut r = with(scheduler, Admission::Preempt, 1000);
        assert!(r.enqueue(&req(10, 20), None));
        let mut out = Vec::new();
        for _ in 0..3 {
            let _ = r.plan(&mut out, 1).unwrap();
            r.finish(0, 1, 1, &mut out);
        }
        // A second prompt of 100 tokens arrives while the first decodes: two chunks of 64.
        assert!(r.enqueue(&req(100, 5), None));
        let (shape, _) = steps(&mut r);
        let mixed = shape.iter().any(|&(p, d)| p > 0 && d > 0);
        assert_eq!(mixed, mixed_steps, "{scheduler:?}: {shape:?}");
        if !mixed_steps {
            assert_eq!(&shape[..2], &[(64, 0), (36, 0)], "{shape:?}");
        }
    }
}

#[test]
fn reserving_admission_never_preempts() {
    // 30 blocks of 4 tokens: two requests of 40 + 40 tokens do not fit together.
    for (admission, preempts) in [(Admission::Preempt, true), (Admission::Reserve, false)] {
        let mut r = with(Scheduler::Mixed, admission, 30);
        for _ in 0..2 {
            assert!(r.enqueue(&req(40, 40), None));
        }
        let (_, out) = steps(&mut r);
        let preempted = out.iter().any(|o| matches!(o, Outcome::Preempted));
        assert_eq!(preempted, preempts, "{admission:?}");
        assert_eq!(
            out.iter()
                .filter(|o| matches!(o, Outcome::Done { .. }))
                .count(),
            2
        );
    }
    // Publishing a prompt's prefix keeps the reservation for its output.
    let mut r = with(Scheduler::Mixed, Admission::Reserve, 30);
    assert!(r.enqueue(&req(40, 40), Some(vec![1, 2, 3, 4, 5].into())));
    assert!(r.enqueue(&req(40, 30), Some(vec![11, 12, 13, 14, 15].into())));
    let (_, out) = steps(&mut r);
    assert!(
        !out.iter().any(|o| matches!(o, Outcome::Preempted)),
        "{out:?}"
    );
}

#[test]
fn token_ratio_admission_keeps_room_for_outputs_to_come() {
    // 100 blocks of 4 tokens = 400 tokens. Requests of 20 + 100: greedy admission takes all
    // eight at once (160 prompt tokens fit) and must preempt as outputs grow; the ratio
    // (0.7 of 100 outputs) admits fewer at first.
    let admitted_first = |admission| {
        let mut r = LlmReplica::new(LlmConfig {
            admission,
            max_batched_tokens: 512,
            ..cfg(100)
        });
        for _ in 0..8 {
            assert!(r.enqueue(&req(20, 100), None));
        }
        let mut out = Vec::new();
        let _ = r.plan(&mut out, 1).unwrap();
        r.running_len()
    };
    assert_eq!(admitted_first(Admission::Preempt), 8);
    let ratio = admitted_first(Admission::SGLANG);
    // Each admission needs 20 + 70 tokens free after the promises before it: 4 fit in 400.
    assert_eq!(ratio, 4);
}

#[test]
fn over_long_prompts_are_rejected() {
    let mut r = LlmReplica::new(cfg(1000));
    assert!(!r.enqueue(&req(512, 1), None));
    assert!(r.enqueue(&req(511, 100), None));
    let (out, _) = drain(&mut r);
    assert!(matches!(
        out.last(),
        Some(Outcome::Done {
            output_tokens: 1,
            ..
        })
    ));
}

proptest! {
    /// KV use never exceeds capacity, blocks are conserved, every admitted request finishes
    /// exactly once with all its tokens (preempted ones resume), and no token is sampled twice,
    /// under every scheduler and admission policy.
    #[test]
    fn kv_admission_and_token_conservation(
        kv_blocks in 130u64..400,
        max_seqs in 1u32..10,
        budget in 8u32..128,
        chunked in any::<bool>(),
        caching in any::<bool>(),
        requests in proptest::collection::vec(
            (1u32..300, 1u32..120, proptest::collection::vec(0u64..6, 0..6), 0u32..4),
            1..40,
        ),
        max_run in 1u32..50,
        cut in 0u32..1000,
        prefill_first in any::<bool>(),
        admission in 0usize..3,
    ) {
        let budget = if chunked { budget } else { 512 };
        let admission = [Admission::Preempt, Admission::Reserve, Admission::SGLANG][admission];
        let mut r = LlmReplica::new(LlmConfig {
            max_seqs,
            max_batched_tokens: budget,
            block_tokens: 4,
            kv_blocks,
            chunked_prefill: chunked,
            prefix_caching: caching,
            prefix_block_tokens: 8,
            max_model_len: 512,
            scheduler: if prefill_first { Scheduler::PrefillFirst } else { Scheduler::Mixed },
            admission,
            request_overhead_ns: 0,
            request_cpu_ns: 0,
            scheduler_steps: 1,
        });
        let (mut out, mut sampled, mut now, mut want) = (Vec::new(), 0u64, 0u64, 0u64);
        let mut accepted = 0;
        for (i, (input, output, prefix, gap)) in requests.iter().enumerate() {
            let prefix: Option<Box<[u64]>> = (!prefix.is_empty()).then(|| prefix.clone().into());
            if r.enqueue(&req(*input, *output), prefix) {
                accepted += 1;
                want += u64::from((*output).min(512 - input.max(&1)).max(1));
            }
            // Run a few iterations between arrivals.
            for _ in 0..*gap {
                if r.is_busy() { break; }
                if let Some(p) = r.plan(&mut out, max_run) {
                    r.check();
                    // A run may be cut short, as an arrival would cut it.
                    let steps = if p.steps > 1 { 1 + (cut % p.steps) } else { 1 };
                    sampled += p.step.logits * u64::from(steps);
                    now += 1;
                    r.finish(now - 1, now, steps, &mut out);
                    r.check();
                }
            }
            let _ = i;
        }
        let (rest, more) = drain_runs_from(&mut r, max_run, now);
        out.extend(rest);
        sampled += more;
        let done: u64 = out.iter().filter_map(|o| match o {
            Outcome::Done { output_tokens, .. } => Some(u64::from(*output_tokens)),
            _ => None,
        }).sum();
        let finished = out.iter().filter(|o| matches!(o, Outcome::Done { .. })).count();
        prop_assert_eq!(finished, accepted);
        prop_assert_eq!(done, want);
        prop_assert_eq!(sampled, want);
        prop_assert!(!r.has_work());
        prop_assert_eq!(r.used_blocks(), 0);
        prop_assert_eq!(r.outstanding_tokens(), 0);
        if admission == Admission::Reserve {
            prop_assert!(!out.iter().any(|o| matches!(o, Outcome::Preempted)), "reserve never preempts");
        }
    }
}
