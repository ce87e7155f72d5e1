#!/bin/sh
# long.sh - make soak SOAK_LONG=1 (make soak-long): one holdscand, one hour,
# no restarts; how its memory grows per 100,000 messages.
#
# A private Postfix sandbox holds all mail; one holdscand (clamav with the
# test signatures, crashtest; infected = quarantine, scan_failed = hold,
# message_size_limit) scans it for SOAK_LONG_SECONDS (default 3600) while
# tests/lib/mixsend.py sends SOAK_LONG_RATE messages a second (default
# 50): clean mail, 2.5 % infected (quarantined), 0.4 % that crash their
# worker (set aside after the retries), 0.1 % over message_size_limit
# (set aside). holdscand is never restarted, reloaded or signalled; its
# workers are replaced as usual (crashes, worker_max_scans).
#
# Every SOAK_SAMPLE seconds (default 30) a sample: messages holdscand has
# claimed (its metrics), the master's VmRSS (and of it RssAnon, its heap,
# and RssFile, mapped files such as Berkeley DB's regions) and open
# descriptors, and VmRSS and Pss summed over the master and every scanner
# process (hs_memory). The samples go to build/soak-long-samples.txt. The memory
# slope is the least-squares fit of each figure against the messages
# claimed, in kB (descriptors: in descriptors) per 100,000 messages, over
# all samples and over the samples after the first tenth of the run (the
# warm-up: caches, the quarantine index, Berkeley DB's regions).
#
# Then the sender stops, the queue drains (bounded), and every message
# must have ended exactly once (tests/lib/tally.py). The report goes to
# $SOAK_RESULTS (default build/soak-results.txt) and is printed;
# holdscand's log and the mail log go to build/soak-logs/.
#
# Exit status 1 if holdscand died, a message was lost or came out twice,
# mail went the wrong way, or the queue did not drain. The slope is a
# figure, not a verdict.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
# shellcheck source=tests/lib/tap.sh disable=SC1091
. "$HS_LIB/tap.sh"
# shellcheck source=tests/lib/holdscan.sh disable=SC1091
. "$HS_LIB/holdscan.sh"
# shellcheck source=tests/lib/torture.sh disable=SC1091
. "$HS_LIB/torture.sh"

SECONDS_=${SOAK_LONG_SECONDS:-3600}
RATE=${SOAK_LONG_RATE:-50}
SAMPLE=${SOAK_SAMPLE:-30}
BUILD_TOP=$(dirname "$HS_BUILD")
RESULTS=${SOAK_RESULTS:-$BUILD_TOP/soak-results.txt}
SAMPLES=$BUILD_TOP/soak-long-samples.txt
LOGS=$BUILD_TOP/soak-logs
DRAIN_SECONDS=420
# tally.py's failures go with the torture tests' (tt_problems).
TT_RESULTS=$BUILD_TOP/soak-long-tally.txt

die() {
	echo "soak-long: $*" >&2
	exit 1
}
say() {
	echo "soak-long: +$(($(date +%s) - start))s $*"
}
case $SECONDS_$RATE$SAMPLE in
''|*[!0-9]*) die "SOAK_LONG_SECONDS, SOAK_LONG_RATE and SOAK_SAMPLE are numbers" ;;
esac
[ "$SAMPLE" -gt 0 ] || die "SOAK_SAMPLE must be at least 1"

mkdir -p "$LOGS" || die "mkdir $LOGS failed"
: >"$TT_RESULTS"
tt_init
sb_start A || die "the sandbox did not start"
tt_conf A <<EOF
batch_max_wait = 20ms
EOF
hs_run A || die "holdscand did not start"
pid=$A_HS_PID
start=$(date +%s)
deadline=$((start + SECONDS_))
tt_send A L clean=970,infected=25,big=1,crash=4 --rate "$RATE" --sessions 2
sender=$TT_SENDER
# Stop the sender too when this script ends early.
long_exit() {
	_rc=$?
	[ -z "$sender" ] || kill "$sender" 2>/dev/null
	(exit "$_rc")
	_tap_cleanup
}
trap long_exit EXIT
say "sandbox $A_DIR; holdscand $pid; $RATE messages/s for $SECONDS_ s," \
    "a sample every $SAMPLE s"

# claimed_total - messages holdscand has claimed (its metrics file).
claimed_total() {
	"$HOLDSCAN" -c "$A_HS_CONF" status --json 2>/dev/null |
	    "$HS_PYTHON" -c 'import json, sys
print(int(json.load(sys.stdin)["claimed_total"]))' 2>/dev/null || echo 0
}

# sample - "T CLAIMED MASTER_RSS MASTER_FDS PROCS RSS PSS MASTER_ANON
# MASTER_FILE" (kB): the master's RssAnon (its heap) and RssFile (mapped
# files: Berkeley DB's regions, libraries) tell a leak from a cache.
sample() {
	# shellcheck disable=SC2046 # three numbers
	set -- $(awk '/^(VmRSS|RssAnon|RssFile):/ { print $2 }' \
	    "/proc/$pid/status" 2>/dev/null)
	_fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null |
	    wc -l)
	echo "$(($(date +%s) - start)) $(claimed_total) ${1:-0} $_fds" \
	    "$(hs_memory A) ${2:-0} ${3:-0}"
}

echo "# t claimed master_rss_kb master_fds procs rss_kb pss_kb" \
    "master_anon_kb master_file_kb" >"$SAMPLES"
died=no
next=$start
last_say=$start
while now=$(date +%s); [ "$now" -lt "$deadline" ]; do
	if ! hs_alive A; then
		died=yes
		say "holdscand $pid is gone; its last lines:"
		tail -n 5 "$A_HS_LOG" | sed 's/^/    /'
		break
	fi
	if [ "$now" -ge "$next" ]; then
		sample >>"$SAMPLES"
		next=$((next + SAMPLE))
	fi
	if [ $((now - last_say)) -ge 300 ]; then
		last_say=$now
		say "$(wc -l <"$HS_TMP/L.manifest") sent, $(sink_count A) at" \
		    "the sink; $(tail -n 1 "$SAMPLES")"
	fi
	sleep 1
done
[ "$died" = yes ] || sample >>"$SAMPLES"
touch "$TT_STOP"
wait "$sender"
sender=
say "sending stopped; waiting for the queue to drain"
t0=$(date +%s)
if [ "$died" = no ] && wait_until "$DRAIN_SECONDS" tt_drained A; then
	drained=yes
else
	drained=no
fi
drain_time=$(($(date +%s) - t0))
sleep 2
hs_alive A && [ "$died" = no ] || died=yes
tt_tally A "soak-long: $SECONDS_ s at $RATE/s, holdscand never restarted" \
    >/dev/null 2>&1

# fit COLUMN FROM - least squares of COLUMN against claimed (column 2),
# samples with t >= FROM: "SLOPE_PER_100K R2 N" (SLOPE in the column's
# unit per 100,000 messages).
fit() {
	awk -v c="$1" -v from="$2" '
	    /^#/ { next }
	    $1 >= from { x = $2; y = $c; n++; sx += x; sy += y; sxx += x * x;
		sxy += x * y; syy += y * y }
	    END {
		d = n * sxx - sx * sx
		if (n < 3 || d == 0) { print "- - " n + 0; exit }
		b = (n * sxy - sx * sy) / d
		r = (n * sxy - sx * sy)
		v = d * (n * syy - sy * sy)
		printf "%+.1f %.2f %d\n", b * 100000, (v > 0 ? r * r / v : 0), n
	    }' "$SAMPLES"
}
warm=$((SECONDS_ / 10))
row() {
	# $1 label, $2 column, $3 unit; then fit's words, twice
	# shellcheck disable=SC2046
	set -- "$1" "$2" "$3" $(fit "$2" 0) $(fit "$2" "$warm")
	printf '%-36s %12s %6s %4s   %12s %6s %4s  %s\n' "$1" "$4" "$5" "$6" \
	    "$7" "$8" "$9" "$3"
}
first=$(grep -v '^#' "$SAMPLES" | head -n 1)
last=$(tail -n 1 "$SAMPLES")
verdict=PASS
[ "$died" = no ] && [ "$drained" = yes ] && [ "$(tt_stat failures)" = 0 ] ||
    verdict=FAIL
{
	echo "holdscan soak-long: $SECONDS_ s, one holdscand (pid $pid), never" \
	    "restarted; ended $(date -u '+%Y-%m-%d %H:%M UTC'), $HOLDSCAND"
	echo "scanners clamav (test signatures), crashtest; 2 workers; mail at" \
	    "$RATE/s: 97 % clean, 2.5 % infected, 0.4 % crash a worker," \
	    "0.1 % over message_size_limit"
	echo
	echo "memory against messages claimed (least squares; per 100,000" \
	    "messages; r2 of the fit; samples every $SAMPLE s):"
	printf '%-36s %12s %6s %4s   %12s %6s %4s\n' '' 'all samples' r2 n \
	    "after ${warm}s" r2 n
	row 'master VmRSS' 3 'kB per 100,000 messages'
	row '  of it RssAnon (heap)' 8 'kB per 100,000 messages'
	row '  of it RssFile (mapped files)' 9 'kB per 100,000 messages'
	row 'master open descriptors' 4 'per 100,000 messages'
	row 'all processes VmRSS' 6 'kB per 100,000 messages'
	row 'all processes Pss' 7 'kB per 100,000 messages'
	echo "first sample: $first"
	echo "last sample:  $last"
	echo "(t claimed master_rss_kb master_fds procs rss_kb pss_kb" \
	    "master_anon_kb master_file_kb; all samples in $SAMPLES)"
	echo
	cat "$HS_TMP/table"
	echo "holdscand alive all along: $([ "$died" = no ] && echo yes ||
	    echo no); queue drained: $drained (${drain_time}s);" \
	    "failures: $(tt_stat failures)"
	echo "holdscand log: $(hs_count_log A 'warning:') warnings," \
	    "$(hs_count_log A 'fatal:|panic:') fatal/panic"
	echo "result: $verdict"
} >"$HS_TMP/report"
cp "$HS_TMP/report" "$RESULTS"
cp "$A_HS_LOG" "$LOGS/holdscand-long.log"
cp "$A_MAILLOG" "$LOGS/maillog-long"
echo
cat "$HS_TMP/report"
[ -s "$HS_TMP/problems" ] && head -n 40 "$HS_TMP/problems.txt"
echo "written to $RESULTS; samples in $SAMPLES; logs in $LOGS"
[ "$verdict" = PASS ]
