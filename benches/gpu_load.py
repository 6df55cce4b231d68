"""A small GPU load for `headroom calibrate` on a machine with an NVIDIA GPU and PyTorch.

Runs batched matrix products (compute-bound, like a prefill or a request-level model's batch) and
a memory-bound decode-like loop (a large matrix-vector product per step, like reading the weights
once per token), at varying batch sizes and with idle gaps, so that utilization spreads from idle
to full and power can be fitted against it. Writes a request log that calibrate joins:
`timestamp,batch_size,latency_ms` (one row per batch).

    headroom calibrate --interval 100ms --log gpu_load.csv --out profiles/MYGPU.toml \
        -- python3 benches/gpu_load.py gpu_load.csv 120
"""

import csv
import sys
import time

import torch


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "gpu_load.csv"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 120.0
    dev = torch.device("cuda")
    # One "item" of a batch: a 4096-wide layer applied to 512 tokens, in bf16.
    w = torch.randn(4096, 4096, device=dev, dtype=torch.bfloat16)
    big = torch.randn(16384, 16384, device=dev, dtype=torch.bfloat16)  # 512 MiB of "weights"
    v = torch.randn(16384, 1, device=dev, dtype=torch.bfloat16)
    rows = []
    start = time.time()
    sizes = [1, 2, 4, 8, 16]
    k = 0
    while time.time() - start < seconds:
        phase = k % 12
        if phase < 8:
            b = sizes[k % len(sizes)]
            x = torch.randn(b * 512, 4096, device=dev, dtype=torch.bfloat16)
            torch.cuda.synchronize()
            t0 = time.time()
            for _ in range(8):
                x = x @ w
            torch.cuda.synchronize()
            rows.append((t0, b, (time.time() - t0) * 1e3))
        elif phase < 11:
            # Decode-like: memory-bound steps.
            for _ in range(200):
                v = big @ v
                v = v / v.norm()
            torch.cuda.synchronize()
        else:
            time.sleep(2.0)  # idle, for the fit's intercept
        k += 1
    with open(out, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["timestamp", "batch_size", "latency_ms"])
        for t, b, ms in rows:
            wr.writerow([f"{t:.6f}", b, f"{ms:.3f}"])


if __name__ == "__main__":
    main()
