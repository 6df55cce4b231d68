#!/usr/bin/env python3
"""Converts NVIDIA AIConfigurator's measured kernel tables into headroom's kernel files.

Development-time only: headroom reads the files this writes, in Rust, with no Python.

    pip download --no-deps aiconfigurator-core==0.12.0 -d /tmp/aic
    unzip -q /tmp/aic/aiconfigurator_core-0.12.0-*.whl -d /tmp/aic/x
    pip install pyarrow pandas
    python3 kernels/convert.py /tmp/aic/x/aiconfigurator_core/systems/data kernels

One file per (GPU, engine, version): `kernels/<gpu>/<engine>-<version>.txt`. What it keeps, and
why (see kernels/SOURCE.md for the format):

- GEMMs (bf16 and fp8 per-tensor) on the whole (N, K) grid from 256 up, so any dense decoder's
  projections interpolate, at the even token counts M of the grid (the odd M = 2^k + 1 points
  that show tile edges are left out);
- context (prefill) and generation (decode) attention, head_dim 64 and 128, no sliding window,
  for the per-GPU head counts of the bundled models at tensor parallel 1, 2, 4 and 8; a missing
  point (the collector ran out of memory at large batch x length) is filled from the largest
  measured batch at the same length, scaled by batch;
- the engine's own all-reduce (CUDA-graph variant) by message size and GPU count, else NCCL's;
- FP8 activation quantization before each FP8 GEMM, by token count and K: the static
  scaling kernel, plus the extra cost of computing the scale per token at run time under vLLM
  and SGLang (which quantize activations dynamically); TensorRT-LLM's FP8 checkpoints
  (ModelOpt) carry static activation scales;
- fused MoE for the bundled mixture of experts (Mixtral: hidden 4096, intermediate 14336, 8
  experts, top-2), where measured.
Latencies are written in microseconds with 4 significant digits.
"""

import math
import sys
from pathlib import Path

import pandas as pd

PACKAGE = "aiconfigurator-core 0.12.0"

# AIConfigurator system folder -> headroom's GPU name (pricing/gpus.csv).
GPUS = {
    "h100_sxm": "H100",
    "h200_sxm": "H200",
    "a100_sxm": "A100-80GB",
    "l40s": "L40S",
    "b200_sxm": "B200",
}
ENGINES = ["vllm", "sglang", "trtllm"]

# (heads, kv_heads, head_dim) of the bundled models (models/*.toml).
MODELS = [
    (64, 8, 128),  # llama-2-70b, llama-3.1-70b
    (32, 32, 128),  # llama-2-7b
    (128, 8, 128),  # llama-3.1-405b
    (32, 8, 128),  # llama-3.1-8b, mistral-7b, mixtral-8x7b
    (32, 8, 64),  # llama-3.2-1b
    (24, 8, 128),  # llama-3.2-3b
    (28, 4, 128),  # qwen2.5-7b
    (40, 8, 128),  # qwen3-14b (qwen3-8b is 32/8/128)
]
MOE = [(4096, 14336, 8, 2)]  # (hidden, intermediate, experts, top-k): mixtral-8x7b

GEMM_DTYPES = {"bfloat16": "bf16", "fp8": "fp8"}
KV_DTYPES = {"bfloat16": "bf16", "fp8": "fp8"}


def head_combos():
    out = set()
    for heads, kv, hd in MODELS:
        for tp in (1, 2, 4, 8):
            if heads % tp == 0:
                out.add((heads // tp, max(kv // tp, 1), hd))
    return sorted(out)


def us(ms):
    v = float(ms) * 1000.0
    return f"{v:.4g}"


def versions(root, gpu, op, engine):
    d = root / gpu / op / engine
    if not d.is_dir():
        return []
    return sorted(p.name for p in d.iterdir() if any(p.glob("*.parquet")))


def vkey(v):
    parts = []
    for piece in v.replace("rc", ".").replace("post", ".").split("."):
        parts.append(int(piece) if piece.isdigit() else 0)
    return parts


def newest(vs):
    return max(vs, key=vkey) if vs else None


def nearest_not_after(vs, version):
    older = [v for v in vs if vkey(v) <= vkey(version)]
    return newest(older) or newest(vs)


def grid_rows(d, xcol, ycol, xs, ys):
    """Latency on the xs x ys grid; a missing point is filled from the largest measured x at that
    y scaled by x, else from the largest measured y at that x scaled by y. Returns (rows, filled,
    missing)."""
    table = {(int(r[xcol]), int(r[ycol])): r["latency"] for _, r in d.iterrows()}
    rows, filled, missing = [], 0, 0
    for x in xs:
        row = []
        for y in ys:
            v = table.get((x, y))
            if v is None or not math.isfinite(v):
                below = [(bx, table[(bx, y)]) for bx in xs if bx < x and (bx, y) in table]
                shorter = [(by, table[(x, by)]) for by in ys if by < y and (x, by) in table]
                if below:
                    bx, bv = below[-1]
                    v = bv * x / bx
                    filled += 1
                elif shorter:
                    # No smaller batch measured at this length: scale the longest measured one.
                    by, bv = shorter[-1]
                    v = bv * y / by
                    filled += 1
                else:
                    missing += 1
                    row.append("-")
                    continue
            row.append(us(v))
        rows.append(row)
    return rows, filled, missing


def gemm_lines(path):
    d = pd.read_parquet(path)
    lines = []
    d = d[d.gemm_dtype.isin(GEMM_DTYPES.keys())]
    ms = sorted(m for m in d.m.unique() if m in KEEP_M)
    lines.append("gemm_m " + " ".join(str(m) for m in ms))
    for dtype, name in GEMM_DTYPES.items():
        sub = d[d.gemm_dtype == dtype]
        if sub.empty:
            continue
        # One kernel per dtype: the one the engine picks by default is the one with most rows.
        kernel = sub.kernel_source.value_counts().idxmax()
        sub = sub[sub.kernel_source == kernel]
        sub = sub[(sub.n >= 256) & (sub.k >= 256)]
        lines.append(f"# gemm {name}: {kernel}")
        by = sub.groupby(["n", "k"])
        for (n, k), g in sorted(by, key=lambda t: t[0]):
            lat = dict(zip(g.m, g.latency))
            vals = [us(lat[m]) if m in lat else "-" for m in ms]
            lines.append(f"gemm {name} {n} {k} " + " ".join(vals))
    return lines


def attention_lines(path, kind, notes):
    d = pd.read_parquet(path)
    if "window_size" in d.columns:
        d = d[d.window_size == 0]
    if "beam_width" in d.columns:
        d = d[d.beam_width == 1]
    d = d[d.attn_dtype == "bfloat16"] if kind == "ctx" else d
    kernel = d.kernel_source.value_counts().idxmax()
    d = d[d.kernel_source == kernel]
    lines = [f"# {kind} attention: {kernel}"]
    bs = sorted(int(b) for b in d.batch_size.unique())
    if kind == "ctx":
        ys = sorted(int(s) for s in d.isl.unique())
        lines.append("ctx_b " + " ".join(map(str, bs)))
        lines.append("ctx_s " + " ".join(map(str, ys)))
        ycol = "isl"
    else:
        ys = sorted(int(s) for s in d.step.unique())
        lines.append("gen_b " + " ".join(map(str, bs)))
        # The collector's `step` is the KV already cached; the query attends to step + 1 keys.
        lines.append("gen_s " + " ".join(str(s + 1) for s in ys))
        ycol = "step"
    for kv_dtype, kv_name in KV_DTYPES.items():
        for heads, kv, hd in head_combos():
            sub = d[
                (d.kv_cache_dtype == kv_dtype)
                & (d.num_heads == heads)
                & (d.num_key_value_heads == kv)
                & (d.head_dim == hd)
            ]
            if sub.empty:
                continue
            sub = sub.groupby(["batch_size", ycol], as_index=False).latency.median()
            rows, filled, missing = grid_rows(sub, "batch_size", ycol, bs, ys)
            if missing > len(bs) * len(ys) // 2:
                continue
            notes.append((filled, missing, len(bs) * len(ys)))
            flat = [v for r in rows for v in r]
            lines.append(f"{kind} {kv_name} {heads} {kv} {hd} " + " ".join(flat))
    return lines


def allreduce_lines(root, gpu, engine, version):
    vs = versions(root, gpu, "comm", engine)
    v = nearest_not_after(vs, version) if vs else None
    if v is not None:
        d = pd.read_parquet(root / gpu / "comm" / engine / v / "custom_allreduce_perf.parquet")
        graph = [k for k in d.kernel_source.unique() if "graph" in k.lower()]
        kernel = graph[0] if graph else d.kernel_source.value_counts().idxmax()
        d = d[d.kernel_source == kernel]
        what = f"{engine} {v} {kernel}"
    else:
        nv = newest(versions(root, gpu, "comm", "nccl"))
        d = pd.read_parquet(root / gpu / "comm" / "nccl" / nv / "nccl_perf.parquet")
        d = d[(d.op_name == "all_reduce") & (d.nccl_dtype == "half")]
        what = f"nccl {nv}"
    sizes = sorted(int(s) for s in d.message_size.unique())
    lines = [f"# all-reduce: {what}", "allreduce_bytes " + " ".join(map(str, sizes))]
    for tp in sorted(d.num_gpus.unique()):
        lat = dict(zip(d[d.num_gpus == tp].message_size, d[d.num_gpus == tp].latency))
        lines.append(f"allreduce {tp} " + " ".join(us(lat[s]) if s in lat else "-" for s in sizes))
    return lines, what


# Token counts kept for GEMMs and quantization: a coarser grid than measured (time is close to
# linear between these points; the odd M = 2^k + 1 points that show tile edges are left out).
KEEP_M = {1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 160, 192, 224, 256, 384, 512, 768, 1024, 1536,
          2048, 3072, 4096, 6144, 8192, 16384, 32768}


def quant_lines(root, gpu, engine, version):
    vs = versions(root, gpu, "quantize", engine)
    if not vs:
        return [], None
    v = nearest_not_after(vs, version)
    base = root / gpu / "quantize" / engine / v
    d = pd.read_parquet(base / "scale_matrix_perf.parquet")
    d = d[d.quant_dtype == "fp8"]
    what = f"{engine} {v} {d.kernel_source.iloc[0]}"
    lat = d.groupby(["k", "m"]).latency.median()
    if engine != "trtllm":
        c = pd.read_parquet(base / "computescale_perf.parquet")
        c = c[c.quant_dtype == "fp8"].groupby(["k", "m"]).latency.median()
        lat = lat.add(c, fill_value=0.0)
        what += " + dynamic scale"
    ms = sorted(int(m) for m in d.m.unique() if m in KEEP_M)
    lines = [f"# fp8 activation quantization: {what}", "quant_m " + " ".join(map(str, ms))]
    for k in sorted(int(k) for k in d.k.unique()):
        lines.append(f"quant {k} " + " ".join(us(lat[(k, m)]) if (k, m) in lat else "-" for m in ms))
    return lines, f"{engine} {v}"


def moe_lines(root, gpu, engine, version):
    vs = versions(root, gpu, "moe", engine)
    if not vs:
        return [], None
    v = nearest_not_after(vs, version)
    d = pd.read_parquet(root / gpu / "moe" / engine / v / "moe_perf.parquet")
    d = d[(d.moe_ep_size == 1) & (d.distribution == "balanced")]
    lines = []
    for hidden, inter, experts, topk in MOE:
        sub = d[(d.hidden_size == hidden) & (d.inter_size == inter) & (d.num_experts == experts) & (d.topk == topk)]
        for dtype, name in GEMM_DTYPES.items():
            s2 = sub[sub.moe_dtype == dtype]
            if s2.empty:
                continue
            # Several kernels are measured for some dtypes; keep the fastest (the one an engine
            # tuned for the GPU would pick).
            kernel = s2.groupby("kernel_source").latency.median().idxmin()
            s2 = s2[s2.kernel_source == kernel]
            for tp in sorted(s2.moe_tp_size.unique()):
                s3 = s2[s2.moe_tp_size == tp].groupby("num_tokens").latency.median()
                toks = " ".join(f"{int(t)}:{us(l)}" for t, l in s3.items())
                lines.append(f"# moe {name} tp {tp}: {kernel}")
                lines.append(f"moe {name} {hidden} {inter} {experts} {topk} {tp} {toks}")
    return lines, f"{engine} {v}"


def convert(root, out):
    written = []
    for gpu, name in GPUS.items():
        for engine in ENGINES:
            gv = versions(root, gpu, "gemm", engine)
            av = versions(root, gpu, "attention", engine)
            if not gv or not av:
                continue
            version = newest(av)
            gemm_v = nearest_not_after(gv, version)
            notes = []
            lines = [
                "# headroom kernel table, converted by kernels/convert.py from NVIDIA AIConfigurator's",
                f"# performance database ({PACKAGE}, Apache-2.0): systems/data/{gpu}/<op>/{engine}/<version>.",
                "# Latencies in microseconds. See kernels/SOURCE.md for the format.",
                "kernels 1",
                f"gpu {name}",
                f"engine {engine} {version}",
                f"from gemm={engine}/{gemm_v} attention={engine}/{version}",
            ]
            lines += gemm_lines(root / gpu / "gemm" / engine / gemm_v / "gemm_perf.parquet")
            base = root / gpu / "attention" / engine / version
            lines += attention_lines(base / "context_attention_perf.parquet", "ctx", notes)
            lines += attention_lines(base / "generation_attention_perf.parquet", "gen", notes)
            ar, ar_from = allreduce_lines(root, gpu, engine, version)
            lines += ar
            moe, moe_from = moe_lines(root, gpu, engine, version)
            lines += moe
            quant, quant_from = quant_lines(root, gpu, engine, version)
            lines += quant
            lines.insert(7, f"from allreduce={ar_from} moe={moe_from} quant={quant_from}")
            path = out / gpu / f"{engine}-{version}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")
            written.append((path, path.stat().st_size, notes))
    for path, size, notes in written:
        filled = sum(n[0] for n in notes)
        missing = sum(n[1] for n in notes)
        points = sum(n[2] for n in notes)
        print(f"{path}: {size / 1024:.0f} KiB; attention: {len(notes)} tables, {points} points, "
              f"{filled} filled, {missing} missing")
    print(f"total {sum(s for _, s, _ in written) / 1024:.0f} KiB in {len(written)} files")


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
