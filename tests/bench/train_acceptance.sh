#!/usr/bin/env bash
# The full learning runs behind issue 3's acceptance, as JSON lines (one per
# run): evidence accumulation to the stop criterion (< 7 % error on 8 fresh
# batches) within 1000 iterations for 5 seeds and three algorithms, and
# pattern generation for 2000 iterations. Usage:
#   tests/bench/train_acceptance.sh [BUILD_DIR] > results.jsonl
set -euo pipefail
build="${1:-build}"
eprop="$build/bin/eprop"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

run() {  # task algorithm seed max_iterations
  local final
  final=$("$eprop" train --local --task "$1" --algorithm "$2" --seed "$3" \
            --max-iterations "$4" --output json --out "$out/$1_$2_$3" | tail -n 1)
  echo "{\"task\":\"$1\",\"algorithm\":\"$2\",\"seed\":$3,${final#\{}"
}

for algorithm in eprop_random eprop_symmetric bptt; do
  for seed in 1 2 3 4 5; do
    run evidence_accumulation "$algorithm" "$seed" 1000
  done
done
for algorithm in eprop_random eprop_symmetric bptt; do
  for seed in 1 2 3; do
    run pattern_generation "$algorithm" "$seed" 2000
  done
done
