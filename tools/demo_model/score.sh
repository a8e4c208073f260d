#!/usr/bin/env bash
# Scores a DuoGen model on the shapes suite at several base seeds:
#   tools/demo_model/score.sh [MODEL_DIR] [OUT_DIR] [SEEDS...]
# (defaults: models/shapes-demo, build/shapes-score, seeds 1 2 3). Each seed is one
# `duogen bench` run of the 200 items and its `duogen bench shapes` table (Markdown).
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-models/shapes-demo}
out=${2:-build/shapes-score}
shift $(( $# > 2 ? 2 : $# ))
seeds=("$@")
[[ ${#seeds[@]} -gt 0 ]] || seeds=(1 2 3)
duogen=${DUOGEN:-build/duogen}
for seed in "${seeds[@]}"; do
  run="$out/seed-$seed"
  "$duogen" -v warn bench --model "$model" --suite benchmarks/shapes/shapes.jsonl --out "$run" \
    --seed "$seed" --resume
  echo "## seed $seed"
  "$duogen" -v warn bench shapes --run "$run"
done
