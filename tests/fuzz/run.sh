#!/bin/sh
# run.sh BUILDDIR SECONDS NAME... - run each libFuzzer target for SECONDS.
#
# Each target starts from its committed seeds (tests/fuzz/corpus/NAME) and
# grows a scratch corpus under BUILDDIR; findings are written to
# BUILDDIR/findings/NAME/ and fail the run. Turn each finding into a
# regression seed by copying it into tests/fuzz/corpus/NAME/.
set -eu
build=$1 secs=$2
shift 2
status=0
for name in "$@"; do
	work="$build/corpus/$name"
	found="$build/findings/$name"
	mkdir -p "$work" "$found"
	echo "fuzz: $name for ${secs}s"
	if ! "$build/fuzz_$name" -max_total_time="$secs" -rss_limit_mb=2048 \
	    -timeout=10 -print_final_stats=1 -artifact_prefix="$found/" \
	    "$work" "tests/fuzz/corpus/$name" 2>"$build/fuzz_$name.log"; then
		echo "fuzz: $name: FINDING, see $found and $build/fuzz_$name.log"
		status=1
	fi
	grep -E '^stat::(number_of_executed_units|peak_rss_mb)' \
	    "$build/fuzz_$name.log" | sed "s/^/fuzz: $name: /"
done
exit $status
