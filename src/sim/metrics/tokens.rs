//! What LLM serving adds to the metrics: time to first token, time per output token, the
//! inter-token latency a streaming client sees, tokens, KV-cache use, preemptions and
//! prefix-cache hits.

use hdrhistogram::Histogram;

use super::{NS_PER_US, Recorder, SIGFIG, histogram, quantile_ms};
use crate::sim::result::Metric;

/// Token-level counts of one workload, over the requests that arrived in the window.
pub(super) struct TokenRec {
    ttft: Histogram<u64>,
    /// Per-request mean time between output tokens, microseconds.
    tpot: Histogram<u64>,
    /// Time between consecutive output chunks of a request, microseconds, over the chunks that
    /// came out in the window.
    itl: Histogram<u64>,
    ttft_sum_ns: u128,
    tpot_sum_ns: f64,
    itl_sum_ns: u128,
    pub ttft_within: u64,
    pub tpot_within: u64,
    input: u64,
    output: u64,
    prefix_hit: u64,
    prefix_prompt: u64,
    preemptions: u64,
}

impl TokenRec {
    pub fn new() -> TokenRec {
        TokenRec {
            ttft: histogram(SIGFIG),
            tpot: histogram(SIGFIG),
            itl: histogram(SIGFIG),
            ttft_sum_ns: 0,
            tpot_sum_ns: 0.0,
            itl_sum_ns: 0,
            ttft_within: 0,
            tpot_within: 0,
            input: 0,
            output: 0,
            prefix_hit: 0,
            prefix_prompt: 0,
            preemptions: 0,
        }
    }
}

impl Recorder {
    /// The first output token of a request that arrived at `arrival` came out at `at`.
    pub fn first_token(&mut self, w: usize, arrival: u64, at: u64) {
        let ttft = at - arrival;
        if at < self.horizon {
            self.workloads[w].iv_ttft.record(ttft / NS_PER_US);
        }
        if !self.counts(arrival) {
            return;
        }
        let rec = &mut self.workloads[w];
        rec.tokens.ttft_sum_ns += u128::from(ttft);
        rec.tokens
            .ttft
            .record(ttft / NS_PER_US)
            .expect("an auto-resizing histogram takes any u64");
        if rec
            .slo
            .and_then(|s| s.ttft_p99)
            .is_some_and(|t| ttft <= t.0)
        {
            rec.tokens.ttft_within += 1;
        }
    }

    /// An LLM request finished: end-to-end latency as for any request, then its tokens.
    #[allow(clippy::too_many_arguments)]
    pub fn llm_done(
        &mut self,
        w: usize,
        pool: usize,
        arrival: u64,
        first_token: u64,
        input: u32,
        output: u32,
        at: u64,
        timeout: u64,
    ) {
        self.completed(w, arrival, at, timeout);
        if at - arrival > timeout {
            return;
        }
        if output >= 2 && at < self.horizon {
            let tpot_us = (at - first_token) / u64::from(output - 1) / NS_PER_US;
            self.workloads[w].iv_tpot.record(tpot_us);
        }
        if !self.counts(arrival) {
            return;
        }
        self.pools[pool].output_tokens += u64::from(output);
        self.pools[pool].requests += 1;
        let rec = &mut self.workloads[w];
        rec.tokens.input += u64::from(input);
        rec.tokens.output += u64::from(output);
        let target = rec.slo.and_then(|s| s.tpot_p99);
        if output >= 2 {
            let tpot = (at - first_token) as f64 / f64::from(output - 1);
            rec.tokens.tpot_sum_ns += tpot;
            rec.tokens
                .tpot
                .record((tpot / NS_PER_US as f64).round() as u64)
                .expect("an auto-resizing histogram takes any u64");
            if target.is_some_and(|t| tpot <= t.0 as f64) {
                rec.tokens.tpot_within += 1;
            }
        } else if target.is_some() {
            // One token: no gaps between tokens, nothing to miss.
            rec.tokens.tpot_within += 1;
        }
    }

    /// `count` output chunks of workload `w` came out `gap` nanoseconds after their previous.
    pub fn gaps(&mut self, w: usize, gap: u64, count: u64) {
        if self.in_window {
            let t = &mut self.workloads[w].tokens;
            t.itl_sum_ns += u128::from(gap) * u128::from(count);
            t.itl
                .record_n(gap / NS_PER_US, count)
                .expect("an auto-resizing histogram takes any u64");
        }
    }

    pub fn preempted(&mut self, w: usize) {
        if self.in_window {
            self.workloads[w].tokens.preemptions += 1;
        }
    }

    pub fn prefix_lookup(&mut self, w: usize, hit: u32, prompt: u32) {
        if self.in_window {
            let t = &mut self.workloads[w].tokens;
            t.prefix_hit += u64::from(hit);
            t.prefix_prompt += u64::from(prompt);
        }
    }

    /// Block-nanoseconds of KV use to add to `pool`'s integral now (the ramp of a decode run,
    /// whose level is held at its start).
    pub fn kv_area(&mut self, pool: usize, area: f64) {
        let kv = &mut self.pools[pool].kv;
        let a = area.round() as u128;
        kv.interval += a;
        if self.in_window {
            kv.window += a;
        }
    }

    /// A replica of `pool` went from `before` to `after` KV blocks in use.
    pub fn kv_blocks(&mut self, pool: usize, before: u64, after: u64, now: u64) {
        if before != after {
            let in_window = self.in_window;
            let kv = &mut self.pools[pool].kv;
            kv.settle(now, in_window);
            kv.value = kv.value + after - before;
        }
    }
}

/// Fills the token-level metrics of a scope from its workloads' records. `gpu_seconds` is the
/// window's GPU time of the scope's pools; `kv` (used block-time, capacity
/// block-time) its KV-cache integrals.
pub(super) fn fill(
    v: &mut [f64; Metric::COUNT],
    recs: &[&TokenRec],
    window_s: f64,
    gpu_seconds: f64,
    kv: (f64, f64),
) {
    let sum = |f: fn(&TokenRec) -> u64| recs.iter().map(|r| f(r)).sum::<u64>() as f64;
    let ttft_n = recs.iter().map(|r| r.ttft.len()).sum::<u64>() as f64;
    if ttft_n == 0.0 {
        return; // not an LLM scope: every token metric stays NaN
    }
    let merged = |f: fn(&TokenRec) -> &Histogram<u64>| {
        let mut h = f(recs[0]).clone();
        for r in &recs[1..] {
            h.add(f(r)).expect("auto-resizing histograms add");
        }
        h
    };
    let (ttft, tpot, itl) = (merged(|r| &r.ttft), merged(|r| &r.tpot), merged(|r| &r.itl));
    let mut set = |m: Metric, x: f64| v[m.index()] = x;
    set(
        Metric::TtftMean,
        recs.iter().map(|r| r.ttft_sum_ns).sum::<u128>() as f64 / 1e6 / ttft_n,
    );
    set(Metric::TtftP50, quantile_ms(&ttft, 0.5));
    set(Metric::TtftP90, quantile_ms(&ttft, 0.9));
    set(Metric::TtftP99, quantile_ms(&ttft, 0.99));
    set(
        Metric::TpotMean,
        recs.iter().map(|r| r.tpot_sum_ns).sum::<f64>() / 1e6 / tpot.len() as f64,
    );
    set(Metric::TpotP50, quantile_ms(&tpot, 0.5));
    set(Metric::TpotP90, quantile_ms(&tpot, 0.9));
    set(Metric::TpotP99, quantile_ms(&tpot, 0.99));
    set(
        Metric::ItlMean,
        recs.iter().map(|r| r.itl_sum_ns).sum::<u128>() as f64 / 1e6 / itl.len() as f64,
    );
    set(Metric::ItlP50, quantile_ms(&itl, 0.5));
    set(Metric::ItlP90, quantile_ms(&itl, 0.9));
    set(Metric::ItlP99, quantile_ms(&itl, 0.99));
    let (input, output) = (sum(|r| r.input), sum(|r| r.output));
    set(Metric::InputTokens, input);
    set(Metric::OutputTokens, output);
    set(Metric::OutputTokensPerSecond, output / window_s);
    set(Metric::OutputTokensPerGpuSecond, output / gpu_seconds);
    set(Metric::KvUtilization, kv.0 / kv.1);
    set(Metric::Preemptions, sum(|r| r.preemptions));
    let prompt = sum(|r| r.prefix_prompt);
    set(
        Metric::PrefixHitRate,
        if prompt > 0.0 {
            sum(|r| r.prefix_hit) / prompt
        } else {
            f64::NAN
        },
    );
}
