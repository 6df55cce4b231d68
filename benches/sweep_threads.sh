#!/bin/bash
# A 1,000-point sweep with --threads 1 against --threads 2, alternating (the sweep issue's "uses
# both cores" figure: two threads at least 1.8x the speed of one). chat-assistant for 30 simulated
# minutes a point (a few ms each), three replica axes of ten values each. Prints each round's wall
# and CPU seconds, then the medians and their ratio; fails if the two outputs differ by a byte.
# Run it on an otherwise idle machine: anything else on the cores lowers the ratio.
#   benches/sweep_threads.sh [ROUNDS]
# HEADROOM=path/to/headroom skips the build and times that binary instead (to compare builds).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${HEADROOM:-}" ]; then
  cargo build --release --quiet
fi
B=${HEADROOM:-target/release/headroom}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sweep=(sweep scenarios/chat-assistant.toml --set 'horizon="30m"'
  --axis "pools.l40s-spot.replicas=$(seq -s, 0 9)"
  --axis "pools.l40s-ondemand.replicas=$(seq -s, 1 10)"
  --axis "pools.l40s-reserved.replicas=$(seq -s, 1 10)")

# Busy time of the whole machine so far (all cores, in clock ticks, the host's steal included).
busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
hz=$(getconf CLK_TCK)

# Runs the sweep with $1 threads; appends "wall cpu others" (seconds) to $tmp/t$1, where
# "others" is the CPU time the rest of the machine (and the host) took meanwhile.
timed() {
  local before after
  before=$(busy)
  /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$B" "${sweep[@]}" --threads "$1" > "$tmp/out$1.csv"
  after=$(busy)
  awk -v b="$before" -v a="$after" -v hz="$hz" '{ c = $2 + $3; o = (a - b) / hz - c
    printf "%.2f %.2f %.2f\n", $1, c, (o > 0 ? o : 0) }' "$tmp/time" >> "$tmp/t$1"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for r in $(seq "${1:-5}"); do
  timed 1
  timed 2
  read -r w1 c1 o1 < <(tail -n 1 "$tmp/t1")
  read -r w2 c2 o2 < <(tail -n 1 "$tmp/t2")
  if ! cmp -s "$tmp/out1.csv" "$tmp/out2.csv"; then
    echo "round $r: the outputs of 1 and 2 threads differ" >&2
    exit 1
  fi
  awk -v r="$r" -v w1="$w1" -v c1="$c1" -v o1="$o1" -v w2="$w2" -v c2="$c2" -v o2="$o2" 'BEGIN {
    printf "round %d: 1 thread %.2f s wall %.2f s CPU | 2 threads %.2f s wall %.2f s CPU (%.0f %%) | %.2fx",
      r, w1, c1, w2, c2, 100 * c2 / w2, w1 / w2
    printf " | others took %.2f s, %.2f s of CPU\n", o1, o2 }'
done
rows=$(($(wc -l < "$tmp/out1.csv") - 1))
m1=$(cut -d' ' -f1 "$tmp/t1" | median)
m2=$(cut -d' ' -f1 "$tmp/t2" | median)
cpu1=$(cut -d' ' -f2 "$tmp/t1" | median)
cpu2=$(cut -d' ' -f2 "$tmp/t2" | median)
others=$(cut -d' ' -f3 "$tmp/t2" | median)
awk -v n="$rows" -v m1="$m1" -v m2="$m2" -v c1="$cpu1" -v c2="$cpu2" -v o="$others" 'BEGIN {
  printf "%d points, outputs identical. Median wall: 1 thread %.2f s, 2 threads %.2f s: %.2fx (the issue asks >= 1.8x)\n",
    n, m1, m2, m1 / m2
  printf "Median CPU: 1 thread %.2f s, 2 threads %.2f s (%+.1f %% with 2 threads)\n", c1, c2, 100 * (c2 / c1 - 1)
  if (o > 0.05 * m2) printf "Other work took %.2f s of CPU during a 2-thread run (median): the machine was not idle\n", o }'
