#!/usr/bin/env bash
# headroom against SimPy on the same M/M/c (scenarios/mmc.toml), alternating runs on one core,
# so that the noise of a shared machine hits both alike. Prints medians and their ratio.
#
#   pip install simpy && cargo build --release && benches/side_by_side.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
bin=target/release/headroom
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
ours=(); theirs=()
for _ in $(seq "$rounds"); do
  ours+=("$(taskset -c 0 "$bin" simulate scenarios/mmc.toml -f json --threads 1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["requests_per_second"])')")
  theirs+=("$(taskset -c 0 python3 benches/simpy_mmc.py | sed -E 's/.* = ([0-9,]+) simulated.*/\1/; s/,//g')")
done
python3 - "${ours[*]}" "${theirs[*]}" <<'PY'
import statistics, sys
ours = [float(x) for x in sys.argv[1].split()]
theirs = [float(x) for x in sys.argv[2].split()]
mo, mt = statistics.median(ours), statistics.median(theirs)
print(f"headroom: median {mo/1e6:.2f} M simulated requests/s (runs: {', '.join(f'{x/1e6:.2f}' for x in ours)})")
print(f"SimPy:    median {mt/1e3:.1f} k simulated requests/s (runs: {', '.join(f'{x/1e3:.1f}' for x in theirs)})")
print(f"ratio:    {mo/mt:.0f}x")
PY
