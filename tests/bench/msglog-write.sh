#!/bin/sh
# msglog-write.sh - the message log's cost: CPU per record of its write in
# the batch's transaction, and the time of holdscan log's and trace's
# queries, over BENCH_MSGLOG (default 100,000) synthetic records written
# by tests/tools/msglog-bench into a state environment of its own (a
# temporary directory; nothing of a live holdscand is touched). Runs
# alone, after make: sh tests/bench/msglog-write.sh. Prints, e.g.
#	msglog write: 100000 records, 0.031 ms CPU per record
#	msglog query --sender (100000 records): 1.2 ms, 50 matches
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
HS_BUILD=${HS_BUILD:-$src/build/rel}
N=${BENCH_MSGLOG:-100000}
BENCH="$HS_BUILD/tests/tools/msglog-bench"

[ -x "$BENCH" ] || { echo "msglog-write.sh: no $BENCH: run make first" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/hs-mlbench.XXXXXX")
# shellcheck disable=SC2317 # the exit trap calls it
cleanup() {
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
# Beyond 100,000 records, commits without a sync (-S): the same CPU is
# counted, and the run does not wait for thousands of fsyncs.
if [ "$N" -gt 100000 ]; then
	"$BENCH" -S -n "$N" "$T"
else
	"$BENCH" -n "$N" "$T"
fi
