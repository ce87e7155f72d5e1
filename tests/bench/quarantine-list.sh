#!/bin/sh
# quarantine-list.sh - how fast "holdscan quarantine list" answers over a
# large quarantine (make bench runs it; it also runs alone, as root, after
# make: sh tests/bench/quarantine-list.sh).
#
# A private Postfix instance (tests/lib/sandbox.sh, for the queue layout
# the tool asks postconf for) and a quarantine of its own, filled by
# tests/tools/quarantine-fill with BENCH_QUARANTINE (default 10,000)
# synthetic messages over the last 30 days. Then each of
#	holdscan quarantine list --recipient ADDRESS   (an ordinary recipient,
#	                                                and the frequent one)
#	holdscan quarantine list --since 1d
#	holdscan quarantine list
#	holdscan quarantine list --json
# is run BENCH_LIST_RUNS (default 5) times as root, as an admin would; the
# median wall time of the whole command (configuration, postconf, the
# state environment, the query, the output to a file) is printed, e.g.
#	quarantine list --recipient (10,000 entries): 0.031 s, 10 matches
# The numbers of matches are checked against what quarantine-fill put in:
# a wrong answer fails (exit 1) however fast it came.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
HS_BUILD=${HS_BUILD:-$src/build/rel}
N=${BENCH_QUARANTINE:-10000}
RUNS=${BENCH_LIST_RUNS:-5}
HOLDSCAN="$HS_BUILD/holdscan"
FILL="$HS_BUILD/tests/tools/quarantine-fill"

die() {
	echo "quarantine-list.sh: $*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "run me as root (a private Postfix instance)"
for f in "$HOLDSCAN" "$FILL"; do
	[ -x "$f" ] || die "no $f: run make first"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/hs-qbench.XXXXXX")
chmod 0755 "$T"
# shellcheck disable=SC2317 # the exit trap calls it
cleanup() {
	sh "$src/tests/lib/sandbox.sh" stop "$T/pf" >/dev/null 2>&1 || :
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

sh "$src/tests/lib/sandbox.sh" start "$T/pf" hold=no >"$T/sandbox.out" 2>&1 ||
    die "the Postfix sandbox did not start: $(tail -3 "$T/sandbox.out")"
# shellcheck disable=SC1091
. "$T/pf/sandbox.env"
. "$src/tests/lib/holdscan.sh"
conf=$(hs_conf_at "$T/pf" "$SB_CONFIG" "$SB_MAIL_OWNER" </dev/null)

# now_ms - milliseconds since the epoch
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}
# thousands N - 10000 as 10,000
thousands() {
	echo "$1" | sed -e :a -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'
}

t0=$(now_ms)
setpriv --reuid="$SB_MAIL_OWNER" --regid="$SB_MAIL_OWNER" --clear-groups \
    "$FILL" -c "$conf" -n "$N" >"$T/fill.out" 2>"$T/fill.err" ||
    die "quarantine-fill failed: $(cat "$T/fill.err")"
fill_ms=$(($(now_ms) - t0))
read -r _ typical typical_n <<EOF
$(grep '^typical ' "$T/fill.out")
EOF
read -r _ heavy heavy_n <<EOF
$(grep '^heavy ' "$T/fill.out")
EOF
entries="$(thousands "$N") entries"
echo "quarantine-fill ($entries, files and index): $(awk -v ms="$fill_ms" \
    'BEGIN { printf "%.1f", ms / 1000 }') s"

# The first run opens the state environment and makes holdscan's
# directories in the queue: not counted.
"$HOLDSCAN" -c "$conf" quarantine list >/dev/null

status=0
# median FILE - the median of the millisecond figures in FILE, in seconds
median() {
	sort -n "$1" | awk '{ t[NR] = $1 }
	    END { printf "%.3f", t[int((NR + 1) / 2)] / 1000 }'
}
# measure LABEL WANT ARG... - median time of RUNS runs of
# "holdscan quarantine list ARG..."; WANT: the number of lines it must
# print ("" if not known)
measure() {
	label=$1
	want=$2
	shift 2
	: >"$T/times"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		t0=$(now_ms)
		"$HOLDSCAN" -c "$conf" quarantine list "$@" \
		    >"$T/list.out" 2>"$T/list.err" ||
		    die "holdscan quarantine list $*: $(cat "$T/list.err")"
		echo $(($(now_ms) - t0)) >>"$T/times"
		i=$((i + 1))
	done
	case " $* " in
	*" --json "*)
		got=$(python3 -c 'import json, sys
print(len(json.load(open(sys.argv[1]))))' "$T/list.out") ;;
	*)
		got=$(wc -l <"$T/list.out") ;;
	esac
	echo "quarantine list $label ($entries): $(median "$T/times") s," \
	    "$got matches"
	if [ -n "$want" ] && [ "$got" -ne "$want" ]; then
		echo "quarantine-list.sh: $label: $got matches, but" \
		    "quarantine-fill put in $want" >&2
		status=1
	fi
}

measure "--recipient" "$typical_n" --recipient "$typical"
measure "--recipient (frequent address)" "$heavy_n" --recipient "$heavy"
measure "--since 1d" "" --since 1d
measure "(all)" "$N"
measure "--json (all)" "$N" --json
# Every run starts with asking Postfix for the queue layout: how much of
# the time that is.
: >"$T/times"
i=0
while [ "$i" -lt "$RUNS" ]; do
	t0=$(now_ms)
	postconf -c "$SB_CONFIG" -x -h queue_directory mail_owner \
	    enable_long_queue_ids hash_queue_names hash_queue_depth myhostname \
	    line_length_limit >/dev/null
	echo $(($(now_ms) - t0)) >>"$T/times"
	i=$((i + 1))
done
echo "(median of $RUNS runs each, wall time of the whole command, of which" \
    "$(median "$T/times") s is postconf; the recipients: $typical," \
    "$heavy)"
exit "$status"
