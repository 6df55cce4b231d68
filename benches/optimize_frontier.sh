#!/bin/bash
# The optimizer's frontier: the verified plan of optimize-chat.toml at several p99 targets, with
# both baselines, and the wall time of each end-to-end run (capacity measured afresh: each
# target has its own cache key; a private cache folder keeps earlier runs out of it).
#   benches/optimize_frontier.sh [TARGETS...]   (default: 1.2s 1.5s 2s 3s 5s)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
B=target/release/headroom
CACHE=$(mktemp -d)
trap 'rm -rf "$CACHE"' EXIT
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(1.2s 1.5s 2s 3s 5s)
printf "%-8s %-7s %12s %10s %10s %14s %14s %8s\n" target passed "\$/day" "p99 ms" "gap %" "peak-od \$/day" "single \$/day" "wall s"
for t in "${TARGETS[@]}"; do
  start=$(date +%s.%N)
  $B optimize scenarios/optimize-chat.toml --cache-dir "$CACHE" --no-tracking -q -f json \
    --set "workloads.chat.slo.p99=\"$t\"" > "$CACHE/out.json" || true
  end=$(date +%s.%N)
  python3 - "$t" "$start" "$end" "$CACHE/out.json" <<'PY'
import json, sys
t, start, end, path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
v = json.load(open(path))
r = v["rounds"][-1]
b = {x["name"].split(" (")[0]: x["cost_per_day"] for x in v["baselines"]}
peak = next(c for n, c in b.items() if "peak" in n)
single = next(c for n, c in b.items() if "single type with" in n)
print(f"{t:<8} {str(v['passed']):<7} {v['cost_per_day']:12.2f} {r['p99_ms']:10.0f} {100*v['gap']:10.2f} {peak:14.2f} {single:14.2f} {end-start:8.1f}")
PY
done
