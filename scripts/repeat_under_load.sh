#!/usr/bin/env bash
# Issue 20's "Done when": the rogue-publisher test and the determinism tests, N rounds in a row
# (default 20), with two busy loops beside them (both cores of a 2-core machine taken).
#   scripts/repeat_under_load.sh [ROUNDS] [LOG_DIR]
# Stops at the first failing round; each round's pytest output is in LOG_DIR/round_K.log and a
# line per round in LOG_DIR/summary.txt. Run after `make setup` (the tests use the installed copy).
set -u
rounds=${1:-20}
logs=${2:-$(mktemp -d /tmp/uav_mec_repeat.XXXXXX)}
cd "$(dirname "$0")/.."
mkdir -p "$logs"
python3 -c "while True: pass" & busy1=$!
python3 -c "while True: pass" & busy2=$!
trap 'kill $busy1 $busy2 2>/dev/null' EXIT
for k in $(seq 1 "$rounds"); do
  start=$(date +%s)
  .venv/bin/pytest -q -p no:cacheprovider \
    "test/nodes/test_bad_input.py::test_a_rogue_publisher_changes_no_number_of_the_run" \
    test/nodes/test_determinism.py > "$logs/round_$k.log" 2>&1
  rc=$?
  echo "round $k: exit $rc, $(( $(date +%s) - start )) s, $(tail -1 "$logs/round_$k.log")" | tee -a "$logs/summary.txt"
  if [ $rc -ne 0 ]; then
    echo "stopped: round $k failed (log: $logs/round_$k.log)" | tee -a "$logs/summary.txt"
    exit 1
  fi
done
echo "$rounds rounds in a row passed (logs: $logs)" | tee -a "$logs/summary.txt"
