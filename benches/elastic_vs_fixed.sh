#!/bin/bash
# day-1k as a fixed fleet against the same day with target tracking and spot interruptions
# (the elastic-fleet issue's speed figure), alternating, pinned to one core. Quote the medians.
#   benches/elastic_vs_fixed.sh [PAIRS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
B=target/release/headroom
for _ in $(seq "${1:-3}"); do
  /usr/bin/time -f "fixed %e s" taskset -c 1 $B simulate scenarios/day-1k.toml --threads 1 > /dev/null
  /usr/bin/time -f "elastic %e s" taskset -c 1 $B simulate scenarios/day-1k.toml --threads 1 \
    --set 'pools.l4.market="spot"' \
    --set 'pools.l4.autoscale={ policy = "target-tracking", target = 0.6, max = 120 }' \
    --set 'pools.l4.interruptions={ rate_per_hour = 0.1 }' > /dev/null
done
