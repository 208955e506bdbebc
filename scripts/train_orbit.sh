#!/usr/bin/env bash
# Learners whose motion can fly (issue 13): SAC-PER and SAC-PER-UA with the orbit motion action
# (modes.motion_action = orbit), seeds 0-2, 20000 steps, evaluated every 1000 steps on 5 validation
# episodes (seeds 1000000-1000004); each run keeps best.pt, its best validation evaluation.
# Two runs at a time (one per core); finished runs are skipped. Then:
#   .venv/bin/python scripts/select_policy.py docs/results/runs/orbit-*   # the choice, on validation only
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/results/runs
run() {   # algo seed
    local dir="$out/orbit-$1-I10-J3-s$2"
    if [[ -f "$dir/best.pt" && -f "$dir/eval.csv" ]] && grep -q '^20000,' "$dir/eval.csv"; then
        echo "done: $dir"; return
    fi
    local resume=()
    [[ -f "$dir/resume.pt" ]] && resume=(--resume)
    .venv/bin/uav-mec train --algo "$1" --motion orbit --steps 20000 --seed "$2" --eval-every 1000 \
        --eval-episodes 5 --out "$dir" --no-progress "${resume[@]}"
}
for seed in 0 1 2; do
    run sac-per-ua "$seed" &
    run sac-per "$seed" &
    wait
done
