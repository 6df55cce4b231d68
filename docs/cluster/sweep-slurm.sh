#!/bin/bash
# A headroom sweep as a Slurm job array: each task runs one shard, then one merge.
#
#   sbatch docs/cluster/sweep-slurm.sh                    # submits the array (8 tasks)
#   sbatch --dependency=afterok:JOBID --wrap \
#     "headroom merge results/shard-*.csv -o results/sweep.csv"
#
# Outside Slurm (for a try on one machine) it runs the tasks one after another and merges:
#   SHARDS=3 docs/cluster/sweep-slurm.sh
#
#SBATCH --job-name=headroom-sweep
#SBATCH --array=1-8
#SBATCH --cpus-per-task=2
#SBATCH --time=00:30:00
#SBATCH --output=results/slurm-%A_%a.out
set -euo pipefail

HEADROOM=${HEADROOM:-headroom}
SCENARIO=${SCENARIO:-scenarios/chat-assistant.toml}
OUT=${OUT:-results}
AXES=(
  --axis "pools.l40s-spot.replicas=0,1,2,3,4"
  --axis "models.assistant-8b.service.L40S.max_batch=2,4,8,16"
)
EXTRA=(${EXTRA:-})
mkdir -p "$OUT"

shard() { # shard K of N
  "$HEADROOM" sweep "$SCENARIO" "${AXES[@]}" "${EXTRA[@]}" \
    --threads "${SLURM_CPUS_PER_TASK:-2}" --shard "$1/$2" -o "$OUT/shard-$1.csv"
}

if [[ -n "${SLURM_ARRAY_TASK_ID:-}" ]]; then
  shard "$SLURM_ARRAY_TASK_ID" "$SLURM_ARRAY_TASK_COUNT"
else
  n=${SHARDS:-8}
  for k in $(seq 1 "$n"); do shard "$k" "$n"; done
  "$HEADROOM" merge "$OUT"/shard-*.csv -o "$OUT/sweep.csv"
fi
