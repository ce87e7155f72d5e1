#!/bin/sh
# run.sh - make bench: every benchmark, figures printed and written to
# build/bench/. Sizes can be scaled down for a quick look with BENCH_RUNS,
# BENCH_MESSAGES, BENCH_LARGE_MESSAGES, BENCH_DRAIN, BENCH_HASH_SIGS,
# BENCH_BODY_SIGS, BENCH_LATENCY_SECONDS (see bench.py).
set -eu
: "${HS_BUILD:?run me through make bench}"
here=$(cd "$(dirname "$0")" && pwd)
results=${BENCH_RESULTS:-$(dirname "$HS_BUILD")/bench}
mkdir -p "$results"
python3 "$here/bench.py" "$HS_BUILD" "$results"
if [ -f "$here/quarantine-list.sh" ]; then
	sh "$here/quarantine-list.sh" | tee "$results/quarantine-list.txt"
fi
if [ -f "$here/log.sh" ]; then
	sh "$here/log.sh"
fi
echo "results: $results/results.txt"
