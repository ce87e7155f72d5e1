#!/bin/sh
# e2e-failures.sh DIR - after a failed e2e run, each script that failed
# (a non-zero exit or a "not ok"): its failed checks and the last lines of
# its diagnostics, so that they stand at the end of the output. Reads
# only what e2e-run.sh kept; never fails itself.
dir=$1
for rc in "$dir"/*.rc; do
	[ -f "$rc" ] || continue
	log=${rc%.rc}
	name=$(basename "$log")
	if [ "$(cat "$rc")" = 0 ] && ! grep -q '^not ok' "$log.out"; then
		continue
	fi
	echo "=== $name: exit $(cat "$rc")"
	grep '^not ok' "$log.out" | head -n 20
	echo "--- its diagnostics (last 60 lines):"
	tail -n 60 "$log.err" | cut -c1-400
done
exit 0
