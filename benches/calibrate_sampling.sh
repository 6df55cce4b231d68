#!/usr/bin/env bash
# Sampling cost and steadiness of `headroom calibrate`, against the NVML stub
# (tests/fixtures/nvml_stub.c, two GPUs): CPU time per tick and lateness of each tick behind its
# due time, at 10 ms and 100 ms intervals. Real NVML reads cost more than the stub's (the driver
# does the work); this measures headroom's own share.
#
#   benches/calibrate_sampling.sh [SECONDS]   (default 20 s per interval)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
cargo build --release --quiet
stub=$(mktemp -d)/libnvidia-ml-stub.so
gcc -shared -fPIC -O2 -o "$stub" tests/fixtures/nvml_stub.c
for interval in 10ms 100ms; do
  echo "== interval $interval, ${secs}s, 2 GPUs"
  target/release/headroom calibrate --nvml-lib "$stub" --interval "$interval" \
    --duration "${secs}s" --out "$(dirname "$stub")/p-$interval.toml" 2>&1 | grep '^sampling:'
done
