#!/bin/sh
# run.sh - make bench: every benchmark, figures printed and written to
# build/bench/. Sizes can be scaled down for a quick look with BENCH_RUNS,
# BENCH_MESSAGES, BENCH_LARGE_MESSAGES, BENCH_DRAIN, BENCH_HASH_SIGS,
# BENCH_BODY_SIGS, BENCH_LATENCY_SECONDS (see bench.py). BENCH_WEB=yes adds
# the web console's queries (web.sh, also make bench-web).
set -eu
: "${HS_BUILD:?run me through make bench}"
here=$(cd "$(dirname "$0")" && pwd)
results=${BENCH_RESULTS:-$(dirname "$HS_BUILD")/bench}
mkdir -p "$results"
python3 "$here/bench.py" "$HS_BUILD" "$results"
if [ -f "$here/quarantine-list.sh" ]; then
	sh "$here/quarantine-list.sh" | tee "$results/quarantine-list.txt"
fi
if [ -f "$here/msglog-write.sh" ]; then
	sh "$here/msglog-write.sh" | tee "$results/msglog-write.txt"
fi
# The web console's queries at scale: optional (several minutes and ~1 GB).
if [ "${BENCH_WEB:-}" = yes ] && [ -f "$here/web.sh" ]; then
	sh "$here/web.sh" | tee "$results/web.txt"
fi
echo "results: $results/results.txt"
