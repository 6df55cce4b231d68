//! Measured kernel timings for one GPU under one serving engine and version: GEMMs, context and
//! generation attention, all-reduce and fused MoE, from NVIDIA AIConfigurator's performance
//! database (converted by `kernels/convert.py`; provenance in `kernels/SOURCE.md`).
//!
//! The files are compiled into the binary, so an installed `headroom` needs no data folder, and
//! each is parsed the first time a pool asks for it. Lookups interpolate linearly between
//! measured points and extrapolate in proportion beyond the last one (time grows with the work);
//! below the first point a kernel costs what the first point costs (its launch).

use std::sync::OnceLock;

use super::model::Precision;

/// A bundled kernel file: its GPU folder, engine, version and text.
struct Bundled {
    gpu: &'static str,
    engine: &'static str,
    version: &'static str,
    text: &'static str,
}

macro_rules! bundled {
    ($(($dir:literal, $gpu:literal, $engine:literal, $version:literal)),* $(,)?) => {
        &[$(Bundled {
            gpu: $gpu,
            engine: $engine,
            version: $version,
            text: include_str!(concat!("../../kernels/", $dir, "/", $engine, "-", $version, ".txt")),
        }),*]
    };
}

static BUNDLED: &[Bundled] = bundled![
    ("h100_sxm", "H100", "vllm", "0.24.0"),
    ("h100_sxm", "H100", "sglang", "0.5.14"),
    ("h100_sxm", "H100", "trtllm", "1.3.0rc20"),
    ("h200_sxm", "H200", "vllm", "0.24.0"),
    ("h200_sxm", "H200", "sglang", "0.5.14"),
    ("h200_sxm", "H200", "trtllm", "1.3.0rc20"),
    ("a100_sxm", "A100-80GB", "vllm", "0.14.0"),
    ("a100_sxm", "A100-80GB", "sglang", "0.5.10"),
    ("a100_sxm", "A100-80GB", "trtllm", "1.0.0"),
    ("l40s", "L40S", "vllm", "0.24.0"),
    ("l40s", "L40S", "sglang", "0.5.14"),
    ("l40s", "L40S", "trtllm", "1.3.0rc20"),
    ("b200_sxm", "B200", "vllm", "0.24.0"),
    ("b200_sxm", "B200", "sglang", "0.5.14"),
    ("b200_sxm", "B200", "trtllm", "1.3.0rc20"),
];

static PARSED: [OnceLock<KernelTable>; 15] = [const { OnceLock::new() }; 15];

/// The kernel tables measured for `engine` on `gpu` (a `pricing/gpus.csv` name): the bundled
/// version the engine's version maps to, or `None` when the GPU was not measured under it.
pub fn bundled(gpu: &str, engine: &str) -> Option<&'static KernelTable> {
    let i = BUNDLED
        .iter()
        .position(|b| b.gpu == gpu && b.engine == engine)?;
    let b = &BUNDLED[i];
    Some(PARSED[i].get_or_init(|| {
        KernelTable::parse(b.text).unwrap_or_else(|e| {
            panic!(
                "bundled kernels/{}-{}.txt for {}: {e}",
                b.engine, b.version, b.gpu
            )
        })
    }))
}

/// The GPUs that have kernel tables for `engine`, for messages.
pub fn gpus_measured(engine: &str) -> Vec<&'static str> {
    BUNDLED
        .iter()
        .filter(|b| b.engine == engine)
        .map(|b| b.gpu)
        .collect()
}

/// Linear interpolation on sorted `xs`: the bracketing index and weight, extrapolating beyond
/// the last point from the origin-proportional last point and clamping below the first.
#[inline]
fn bracket(xs: &[f64], x: f64) -> Bracket {
    let n = xs.len();
    if n == 1 || x <= xs[0] {
        return Bracket::Below;
    }
    if x >= xs[n - 1] {
        return Bracket::Beyond(x / xs[n - 1]);
    }
    let k = xs.partition_point(|&p| p <= x);
    let t = (x - xs[k - 1]) / (xs[k] - xs[k - 1]);
    Bracket::Between(k - 1, t)
}

/// The value at `x` of the points `(xs, ys)`: linear between them, the first one's below,
/// in proportion to `x` beyond the last (see [`bracket`]).
#[inline]
pub fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    match bracket(xs, x) {
        Bracket::Below => ys[0],
        Bracket::Between(i, t) => ys[i] + t * (ys[i + 1] - ys[i]),
        Bracket::Beyond(ratio) => ys[ys.len() - 1] * ratio,
    }
}

#[derive(Clone, Copy, Debug)]
enum Bracket {
    Below,
    Between(usize, f64),
    /// Past the last point: the last point's value times this ratio.
    Beyond(f64),
}

/// Values on a `rows x cols` grid, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub rows: Vec<f64>,
    pub cols: Vec<f64>,
    values: Vec<f64>,
}

impl Grid {
    /// Interpolated along columns at row `r`.
    fn along_cols(&self, r: usize, col: f64) -> f64 {
        interpolate(&self.cols, self.row(r), col)
    }

    /// Bilinear value at (`row`, `col`), seconds.
    pub fn at(&self, row: f64, col: f64) -> f64 {
        let last = self.rows.len() - 1;
        match bracket(&self.rows, row) {
            Bracket::Below => self.along_cols(0, col),
            Bracket::Between(r, t) => {
                let a = self.along_cols(r, col);
                a + t * (self.along_cols(r + 1, col) - a)
            }
            Bracket::Beyond(ratio) => self.along_cols(last, col) * ratio,
        }
    }

    /// The values along the columns of row `r`.
    pub fn row(&self, r: usize) -> &[f64] {
        let n = self.cols.len();
        &self.values[r * n..(r + 1) * n]
    }

    /// How [`Grid::at`] weighs the rows at `row`: `(r, weight of r, weight of r + 1)`.
    pub fn row_weights(&self, row: f64) -> (usize, f64, f64) {
        match bracket(&self.rows, row) {
            Bracket::Below => (0, 1.0, 0.0),
            Bracket::Between(r, t) => (r, 1.0 - t, t),
            Bracket::Beyond(ratio) => (self.rows.len() - 1, ratio, 0.0),
        }
    }
}

/// Attention timings for one head layout on one KV-cache format, per layer: rows are batch sizes,
/// columns sequence lengths (context: the prompt length; generation: keys attended).
#[derive(Clone, Debug, PartialEq)]
pub struct Attention {
    pub kv_cache: Precision,
    pub heads: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    pub grid: Grid,
}

/// GEMM timings of one dtype: rows are the token count M, one column per (N, K).
#[derive(Clone, Debug, PartialEq)]
pub struct Gemm {
    pub dtype: Precision,
    /// Sorted distinct N and K of the grid; `values[m][n_index * ks.len() + k_index]`.
    ns: Vec<f64>,
    ks: Vec<f64>,
    values: Vec<Vec<f64>>,
}

/// Fused-MoE timings of one configuration against the tokens in the step.
#[derive(Clone, Debug, PartialEq)]
pub struct Moe {
    pub dtype: Precision,
    pub hidden: u32,
    pub intermediate: u32,
    pub experts: u32,
    pub top_k: u32,
    pub tp: u32,
    pub tokens: Vec<f64>,
    pub seconds: Vec<f64>,
}

/// FP8 activation quantization before a GEMM: seconds by input width K (rows) and token count
/// M (columns).
#[derive(Clone, Debug, PartialEq)]
pub struct Quantize {
    ms: Vec<f64>,
    ks: Vec<f64>,
    values: Vec<Vec<f64>>,
}

impl Quantize {
    /// Seconds to quantize `m` tokens of width `k`, linear in K and M between measured points.
    pub fn seconds(&self, k: f64, m: f64) -> f64 {
        let at = |r: usize| interpolate(&self.ms, &self.values[r], m);
        match bracket(&self.ks, k) {
            Bracket::Below => at(0),
            Bracket::Between(i, t) => at(i) + t * (at(i + 1) - at(i)),
            Bracket::Beyond(r) => at(self.ks.len() - 1) * r,
        }
    }
}

/// One GPU's kernel timings under one engine version.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTable {
    pub gpu: String,
    pub engine: String,
    pub version: String,
    /// Where each op's data came from (engine versions within the database).
    pub provenance: String,
    pub gemm_m: Vec<f64>,
    pub gemms: Vec<Gemm>,
    pub context: Vec<Attention>,
    pub generation: Vec<Attention>,
    /// Message sizes (bytes) and, per GPU count, seconds.
    pub allreduce_bytes: Vec<f64>,
    pub allreduce: Vec<(u32, Vec<f64>)>,
    pub moe: Vec<Moe>,
    /// FP8 activation quantization, where measured.
    pub quantize: Option<Quantize>,
}

fn precision(s: &str) -> Result<Precision, String> {
    Precision::parse(s).ok_or_else(|| format!("unknown dtype {s:?}"))
}

fn numbers(words: &[&str]) -> Result<Vec<f64>, String> {
    words
        .iter()
        .map(|w| {
            if *w == "-" {
                Ok(f64::NAN)
            } else {
                w.parse::<f64>().map_err(|_| format!("not a number: {w:?}"))
            }
        })
        .collect()
}

fn micro(v: Vec<f64>) -> Vec<f64> {
    v.into_iter().map(|x| x * 1e-6).collect()
}

/// Fills gaps (`NaN`) along a row from its neighbours: the previous value, or the next.
fn fill_gaps(v: &mut [f64]) {
    for i in 1..v.len() {
        if v[i].is_nan() {
            v[i] = v[i - 1];
        }
    }
    for i in (0..v.len().saturating_sub(1)).rev() {
        if v[i].is_nan() {
            v[i] = v[i + 1];
        }
    }
}

impl KernelTable {
    /// Parses the format `kernels/convert.py` writes (see `kernels/SOURCE.md`).
    pub fn parse(text: &str) -> Result<KernelTable, String> {
        let mut t = KernelTable {
            gpu: String::new(),
            engine: String::new(),
            version: String::new(),
            provenance: String::new(),
            gemm_m: Vec::new(),
            gemms: Vec::new(),
            context: Vec::new(),
            generation: Vec::new(),
            allreduce_bytes: Vec::new(),
            allreduce: Vec::new(),
            moe: Vec::new(),
            quantize: None,
        };
        let mut quant_m = Vec::new();
        let (mut ctx_axes, mut gen_axes) = ((vec![], vec![]), (vec![], vec![]));
        let mut gemm_rows: Vec<(Precision, f64, f64, Vec<f64>)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let w: Vec<&str> = line.split_whitespace().collect();
            let fail = |e: String| format!("line {}: {e}", n + 1);
            let Some(&key) = w.first() else { continue };
            match key {
                k if k.starts_with('#') => {}
                "kernels" if w.get(1) != Some(&"1") => {
                    return Err(fail("this headroom reads kernel tables of format 1".into()));
                }
                "kernels" => {}
                "gpu" => t.gpu = w[1..].join(" "),
                "engine" if w.len() == 3 => {
                    t.engine = w[1].to_string();
                    t.version = w[2].to_string();
                }
                "from" => {
                    if !t.provenance.is_empty() {
                        t.provenance.push(' ');
                    }
                    t.provenance.push_str(&w[1..].join(" "));
                }
                "gemm_m" => t.gemm_m = numbers(&w[1..]).map_err(fail)?,
                "gemm" if w.len() == 4 + t.gemm_m.len() => {
                    let dtype = precision(w[1]).map_err(fail)?;
                    let nk = numbers(&w[2..4]).map_err(fail)?;
                    let mut v = micro(numbers(&w[4..]).map_err(fail)?);
                    fill_gaps(&mut v);
                    gemm_rows.push((dtype, nk[0], nk[1], v));
                }
                "ctx_b" => ctx_axes.0 = numbers(&w[1..]).map_err(fail)?,
                "ctx_s" => ctx_axes.1 = numbers(&w[1..]).map_err(fail)?,
                "gen_b" => gen_axes.0 = numbers(&w[1..]).map_err(fail)?,
                "gen_s" => gen_axes.1 = numbers(&w[1..]).map_err(fail)?,
                "ctx" | "gen" if w.len() >= 5 => {
                    let axes = if key == "ctx" { &ctx_axes } else { &gen_axes };
                    let dims = numbers(&w[2..5]).map_err(fail)?;
                    let mut values = micro(numbers(&w[5..]).map_err(fail)?);
                    if values.len() != axes.0.len() * axes.1.len() || axes.0.is_empty() {
                        return Err(fail(format!(
                            "{} values for a {} x {} grid",
                            values.len(),
                            axes.0.len(),
                            axes.1.len()
                        )));
                    }
                    for row in values.chunks_mut(axes.1.len()) {
                        fill_gaps(row);
                    }
                    let a = Attention {
                        kv_cache: precision(w[1]).map_err(fail)?,
                        heads: dims[0] as u32,
                        kv_heads: dims[1] as u32,
                        head_dim: dims[2] as u32,
                        grid: Grid {
                            rows: axes.0.clone(),
                            cols: axes.1.clone(),
                            values,
                        },
                    };
                    if key == "ctx" {
                        t.context.push(a);
                    } else {
                        t.generation.push(a);
                    }
                }
                "quant_m" => quant_m = numbers(&w[1..]).map_err(fail)?,
                "quant" if w.len() == 2 + quant_m.len() => {
                    let mut v = micro(numbers(&w[2..]).map_err(fail)?);
                    fill_gaps(&mut v);
                    let k = numbers(&w[1..2]).map_err(fail)?[0];
                    let q = t.quantize.get_or_insert_with(|| Quantize {
                        ms: quant_m.clone(),
                        ks: Vec::new(),
                        values: Vec::new(),
                    });
                    if q.ks.last().is_some_and(|&last| k <= last) {
                        return Err(fail("quant rows must grow in K".into()));
                    }
                    q.ks.push(k);
                    q.values.push(v);
                }
                "allreduce_bytes" => t.allreduce_bytes = numbers(&w[1..]).map_err(fail)?,
                "allreduce" if w.len() == 2 + t.allreduce_bytes.len() => {
                    let gpus = w[1].parse().map_err(|_| fail("bad GPU count".into()))?;
                    let mut v = micro(numbers(&w[2..]).map_err(fail)?);
                    fill_gaps(&mut v);
                    t.allreduce.push((gpus, v));
                }
                "moe" if w.len() >= 8 => {
                    let dims = numbers(&w[2..7]).map_err(fail)?;
                    let mut tokens = Vec::new();
                    let mut seconds = Vec::new();
                    for pair in &w[7..] {
                        let (a, b) = pair
                            .split_once(':')
                            .ok_or_else(|| fail(format!("expected TOKENS:US, got {pair:?}")))?;
                        tokens.push(numbers(&[a]).map_err(fail)?[0]);
                        seconds.push(numbers(&[b]).map_err(fail)?[0] * 1e-6);
                    }
                    t.moe.push(Moe {
                        dtype: precision(w[1]).map_err(fail)?,
                        hidden: dims[0] as u32,
                        intermediate: dims[1] as u32,
                        experts: dims[2] as u32,
                        top_k: dims[3] as u32,
                        tp: dims[4] as u32,
                        tokens,
                        seconds,
                    });
                }
                _ => return Err(fail(format!("unexpected line starting {key:?}"))),
            }
        }
        for dtype in [Precision::Bf16, Precision::Fp8] {
            let rows: Vec<_> = gemm_rows.iter().filter(|r| r.0 == dtype).collect();
            if rows.is_empty() {
                continue;
            }
            let mut ns: Vec<f64> = rows.iter().map(|r| r.1).collect();
            let mut ks: Vec<f64> = rows.iter().map(|r| r.2).collect();
            for v in [&mut ns, &mut ks] {
                v.sort_by(f64::total_cmp);
                v.dedup();
            }
            let mut values = vec![vec![f64::NAN; ns.len() * ks.len()]; t.gemm_m.len()];
            for (_, n, k, v) in &rows {
                let i = ns.partition_point(|x| x < n) * ks.len() + ks.partition_point(|x| x < k);
                for (m, value) in v.iter().enumerate() {
                    values[m][i] = *value;
                }
            }
            // A shape too large to measure (65536 x 65536): scale the next smaller K's time.
            for row in &mut values {
                for i in 0..ns.len() {
                    for j in 1..ks.len() {
                        let (at, before) = (i * ks.len() + j, i * ks.len() + j - 1);
                        if row[at].is_nan() {
                            row[at] = row[before] * ks[j] / ks[j - 1];
                        }
                    }
                }
            }
            if values.iter().flatten().any(|v| v.is_nan()) {
                return Err(format!("gemm {dtype}: the (N, K) grid has holes"));
            }
            t.gemms.push(Gemm {
                dtype,
                ns,
                ks,
                values,
            });
        }
        if t.gpu.is_empty() || t.engine.is_empty() || t.gemm_m.is_empty() || t.gemms.is_empty() {
            return Err("missing the gpu, engine or gemm lines".into());
        }
        Ok(t)
    }

    /// The GEMM table for `dtype`, if measured.
    pub fn gemm(&self, dtype: Precision) -> Option<&Gemm> {
        self.gemms.iter().find(|g| g.dtype == dtype)
    }

    /// Seconds of one all-reduce of `bytes` over `gpus` GPUs (`None` without data for that
    /// count).
    pub fn allreduce_seconds(&self, gpus: u32, bytes: f64) -> Option<f64> {
        let (_, v) = self.allreduce.iter().find(|(g, _)| *g == gpus)?;
        Some(interpolate(&self.allreduce_bytes, v, bytes))
    }

    /// The attention table for this head layout and KV format, or the nearest one scaled to it:
    /// context attention scales with query heads (its work), generation attention with KV heads
    /// (the bytes it reads). The flag says whether it was scaled.
    pub fn attention(
        &self,
        generation: bool,
        kv_cache: Precision,
        heads: u32,
        kv_heads: u32,
        head_dim: u32,
    ) -> Option<(&Attention, f64, bool)> {
        let list = if generation {
            &self.generation
        } else {
            &self.context
        };
        let kv_cache = match kv_cache {
            Precision::Fp16 => Precision::Bf16,
            p => p,
        };
        let same: Vec<&Attention> = list.iter().filter(|a| a.kv_cache == kv_cache).collect();
        if let Some(a) = same
            .iter()
            .find(|a| (a.heads, a.kv_heads, a.head_dim) == (heads, kv_heads, head_dim))
        {
            return Some((a, 1.0, false));
        }
        let work = |h: u32, kv: u32, d: u32| {
            let per_head = if generation { kv } else { h };
            f64::from(per_head) * f64::from(d)
        };
        let want = work(heads, kv_heads, head_dim);
        let group = f64::from(heads) / f64::from(kv_heads.max(1));
        // Nearest by head_dim, then grouping (queries per KV head), then size.
        let best = same.iter().min_by(|a, b| {
            let key = |x: &&Attention| {
                let g = f64::from(x.heads) / f64::from(x.kv_heads.max(1));
                (
                    (x.head_dim != head_dim) as u8,
                    (g / group).ln().abs(),
                    (work(x.heads, x.kv_heads, x.head_dim) / want).ln().abs(),
                )
            };
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })?;
        let scale = want / work(best.heads, best.kv_heads, best.head_dim);
        Some((best, scale, true))
    }

    /// The fused-MoE table for this configuration, if measured.
    pub fn moe(
        &self,
        dtype: Precision,
        hidden: u32,
        inter: u32,
        experts: u32,
        top_k: u32,
        tp: u32,
    ) -> Option<&Moe> {
        self.moe.iter().find(|m| {
            (m.dtype, m.hidden, m.intermediate, m.experts, m.top_k, m.tp)
                == (dtype, hidden, inter, experts, top_k, tp)
        })
    }
}

impl Gemm {
    /// Seconds at each of the table's token counts for an (N, K) GEMM, bilinear in N and K
    /// (proportional beyond the grid's largest N or K).
    pub fn by_tokens(&self, n: f64, k: f64) -> Vec<f64> {
        let (bn, bk) = (bracket(&self.ns, n), bracket(&self.ks, k));
        let nk = self.ks.len();
        self.values
            .iter()
            .map(|row| {
                let at = |i: usize, j: usize| row[i * nk + j];
                let along_k = |i: usize| match bk {
                    Bracket::Below => at(i, 0),
                    Bracket::Between(j, t) => at(i, j) + t * (at(i, j + 1) - at(i, j)),
                    Bracket::Beyond(r) => at(i, nk - 1) * r,
                };
                match bn {
                    Bracket::Below => along_k(0),
                    Bracket::Between(i, t) => {
                        let a = along_k(i);
                        a + t * (along_k(i + 1) - a)
                    }
                    Bracket::Beyond(r) => along_k(self.ns.len() - 1) * r,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_file_parses_and_covers_the_bundled_models() {
        for b in BUNDLED {
            let t = bundled(b.gpu, b.engine).expect("bundled");
            assert_eq!(
                (t.engine.as_str(), t.version.as_str()),
                (b.engine, b.version)
            );
            assert_eq!(t.gpu, b.gpu);
            assert!(t.gemm(Precision::Bf16).is_some(), "{} {}", b.gpu, b.engine);
            // Llama 3.1 8B at TP 1: 32 query heads, 8 KV heads, head_dim 128.
            for generation in [false, true] {
                let (_, scale, _) = t
                    .attention(generation, Precision::Bf16, 32, 8, 128)
                    .expect("attention");
                assert!(scale > 0.0);
            }
        }
    }

    #[test]
    fn lookups_interpolate_and_grow_with_the_work() {
        let t = bundled("H100", "vllm").unwrap();
        let g = t.gemm(Precision::Bf16).unwrap();
        let small = g.by_tokens(4096.0, 4096.0);
        let big = g.by_tokens(14336.0, 4096.0);
        for (a, b) in small.iter().zip(&big) {
            assert!(b >= a, "a wider GEMM is not faster: {a} vs {b}");
        }
        // 4096 x 4096 at M = 4096: ~138 GFLOP; H100 runs bf16 at 600-990 TFLOP/s.
        let m = t.gemm_m.iter().position(|&m| m == 4096.0).unwrap();
        let tflops = 2.0 * 4096f64.powi(3) / small[m] / 1e12;
        assert!((500.0..990.0).contains(&tflops), "{tflops} TFLOP/s");
        let (a, _, scaled) = t.attention(true, Precision::Bf16, 32, 8, 128).unwrap();
        assert!(!scaled);
        let (short, long) = (a.grid.at(64.0, 1024.0), a.grid.at(64.0, 4096.0));
        assert!(
            long > 2.0 * short,
            "decode attention reads 4x the keys: {short} vs {long}"
        );
        assert!(t.allreduce_seconds(2, 1e6).unwrap() > t.allreduce_seconds(2, 1e3).unwrap());
        assert!(t.allreduce_seconds(3, 1e6).is_none());
        // Quantizing 4096 tokens of width 4096 moves ~50 MB: tens of microseconds, more than one
        // token's few, and more again for a wider input between measured widths.
        let q = t.quantize.as_ref().expect("H100 measures FP8 quantization");
        let (one, many) = (q.seconds(4096.0, 1.0), q.seconds(4096.0, 4096.0));
        assert!(one > 0.5e-6 && one < 20e-6, "{one}");
        assert!(many > 10e-6 && many < 1e-3 && many > one, "{many}");
        assert!(q.seconds(11000.0, 4096.0) > many);
    }

    #[test]
    fn a_missing_head_layout_is_scaled_from_the_nearest() {
        let t = bundled("H100", "vllm").unwrap();
        // Qwen2.5 7B at TP 1: 28 query heads, 4 KV heads; not measured.
        let (a, scale, scaled) = t.attention(false, Precision::Bf16, 28, 4, 128).unwrap();
        assert!(scaled);
        assert!((scale - 28.0 / f64::from(a.heads)).abs() < 1e-12);
    }

    #[test]
    fn malformed_files_are_refused() {
        assert!(KernelTable::parse("kernels 2\n").is_err());
        assert!(KernelTable::parse("kernels 1\ngpu H100\nfoo 1\n").is_err());
        assert!(KernelTable::parse("kernels 1\ngpu H100\nengine vllm 1\n").is_err());
    }
}
