#!/usr/bin/env bash
# Run the main job on the embedded default: build the dataset from real EURUSD bars,
# then run site.yml against inventories/local (S3 server on loopback, CPU torch).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
DATASET=.demo/inf/eurusd_h1_features.parquet

echo "== Building the demo dataset from the EURUSD hourly bars of the backtesting package"
"$VENV/bin/python" tools/make_dataset.py --from-backtesting --out "$DATASET"

echo "== Running site.yml on the embedded default (inventories/local)"
start=$(date +%s)
status=0
"$VENV/bin/ansible-playbook" site.yml -i inventories/local "$@" || status=$?
echo "== Main job finished in $(( $(date +%s) - start )) s with exit status $status"

log_dir=${MT5CRS_VERIFY_LOG_DIR:-logs/verify}
# The newest summary is this run's: the callback writes one per run, even a failed one.
summary=
for candidate in "$log_dir"/*.summary.txt; do
    if [ -f "$candidate" ] && { [ -z "$summary" ] || [ "$candidate" -nt "$summary" ]; }; then
        summary=$candidate
    fi
done
if [ -n "$summary" ]; then
    echo "== Verify log summary: $summary"
    cat "$summary"
fi
echo "== The S3 server keeps running for the next run; stop it with: make demo-stop"
exit "$status"
