#!/bin/sh
# 1550-message-log-readers.t - readers of the message log never hold up
# holdscand's commits (issue 15, item 6: the index without MVCC, read
# uncommitted by walks that never wait; see msglog.c).
#
# The log holds 100,000 records (tests/tools/msglog-bench, written before
# holdscand starts, times over the last 28 hours). First 200 messages
# flow through holdscand (batches of at most 20) with no reader: the
# slowest commit then is this machine's own. Then 400 more, while:
#  1. four readers run in a loop, each walking the index where holdscand
#     writes: the newest 100 (the last page of the time keys, where every
#     record goes), every record of the last day (a long scan, about
#     86,000 records, back from that page), the sender of the messages
#     that flow (the last page of its duplicates) and a trace; every run
#     answers (exit 0);
#  2. meanwhile long scans are stopped (SIGTSTP, in a process group of
#     their own so that the stop is not discarded) three times, 0.3 s
#     after they start, and left stopped for 3 s each: the stop takes
#     effect only after the walk (its snapshot and cursor closed), so
#     mail goes on; each, continued, prints its records;
#  3. every message reaches the sink, no commit took 1 s or more (the
#     last figure of holdscand's delays=; on a machine so busy that a
#     commit without readers took over 0.5 s, twice that), and the log has
#     one record per message, found by its sender.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

MSGLOG_BENCH="$HS_BUILD/tests/tools/msglog-bench"
[ -x "$MSGLOG_BENCH" ] || bail_out "no $MSGLOG_BENCH (make progs)"

plan 14

N=400
N0=200
PREFILL=100000
sb_start A || bail_out "sandbox did not start"
hs_conf A >/dev/null <<EOF
batch_max_messages = 20
EOF
state="$A_DIR/hs/state"
setpriv --reuid="$A_MAIL_OWNER" --regid="$A_MAIL_OWNER" --clear-groups \
    "$MSGLOG_BENCH" -S -q -n "$PREFILL" "$state" >"$HS_TMP/fill.out" 2>&1
check_eq "the log holds $PREFILL records before holdscand starts" "$?" 0
hs_run A || bail_out "holdscand did not start"
check 'holdscand is running' hs_alive A

# delays_since LINE - the delays= of holdscand's log lines after LINE
delays_since() {
	tail -n "+$(($1 + 1))" "$A_HS_LOG" | grep -o 'delays=[0-9./]*' |
	    sed 's/delays=//'
}
slowest_commit() {
	awk -F/ '$3 > m { m = $3 } END { printf "%.3f", m }' "$1"
}
log_start=$(wc -l <"$A_HS_LOG")
"$HS_PYTHON" "$HS_LIB/sendmail.py" --count "$N0" --sessions 4 \
    --token-prefix b --from alone@sendmail.test "127.0.0.1:$A_SMTP_PORT" \
    >"$HS_TMP/send0.out" 2>&1 || bail_out "sendmail.py failed"
check "$N0 messages without readers arrive at the sink" wait_sink A "$N0" 300
delays_since "$log_start" >"$HS_TMP/delays0"
base=$(slowest_commit "$HS_TMP/delays0")
note "without readers the slowest commit took $base s"
limit=$(awk -v b="$base" 'BEGIN { printf "%.3f", (b > 0.5 ? 2 * b : 1) }')
log_start=$(wc -l <"$A_HS_LOG")

# reader NAME ARG... - holdscan ARG... again and again until $HS_TMP/stop
# exists; one line per run in $HS_TMP/NAME.runs: "ok" or why not
reader() {
	_r_name=$1
	shift
	: >"$HS_TMP/$_r_name.runs"
	while [ ! -e "$HS_TMP/stop" ]; do
		if "$HOLDSCAN" -c "$A_HS_CONF" "$@" >"$HS_TMP/$_r_name.out" \
		    2>"$HS_TMP/$_r_name.err"; then
			echo ok >>"$HS_TMP/$_r_name.runs"
		else
			echo "failed: $(head -1 "$HS_TMP/$_r_name.err")" \
			    >>"$HS_TMP/$_r_name.runs"
		fi
		sleep 0.1
	done
}
half=$((PREFILL / 2))
traced=$(printf '%08X%03X' $((half * 7919 % 4294967295)) $((half % 4096)))
reader newest log --limit 100 &
r1=$!
reader day log --since 1d &
r2=$!
reader sender log --sender sender@sendmail.test &
r3=$!
reader trace trace "$traced" &
r4=$!

"$HS_PYTHON" "$HS_LIB/sendmail.py" --count "$N" --sessions 4 \
    --token-prefix r "127.0.0.1:$A_SMTP_PORT" >"$HS_TMP/send.out" 2>&1 &
sender=$!

# stopped_scan I - a long scan in a process group of its own (a stop sent
# to an orphaned group is discarded), stopped (SIGTSTP) 0.3 s after it
# started, left stopped for 3 s, continued: "rc RC lines N" or "never
# stopped"
stopped_scan() {
	"$HS_PYTHON" - "$HS_TMP/stopped.$1" "$HOLDSCAN" -c "$A_HS_CONF" log \
	    --since 1d <<'EOF'
import signal, subprocess, sys, time
out = open(sys.argv[1], "w")
p = subprocess.Popen(sys.argv[2:], stdout=out, stderr=subprocess.DEVNULL,
                     process_group=0)
time.sleep(0.3)
p.send_signal(signal.SIGTSTP)
def stopped():
    try:
        with open("/proc/%d/stat" % p.pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False
deadline = time.time() + 30
while not stopped() and time.time() < deadline and p.poll() is None:
    time.sleep(0.05)
if not stopped():
    print("never stopped")
    p.send_signal(signal.SIGCONT)
    p.wait()
    sys.exit(0)
time.sleep(3)
p.send_signal(signal.SIGCONT)
rc = p.wait()
out.close()
print("rc %d lines %d" % (rc, sum(1 for _ in open(sys.argv[1]))))
EOF
}
: >"$HS_TMP/stopped"
for i in 1 2 3; do
	stopped_scan "$i" >>"$HS_TMP/stopped"
done

check "all $N messages arrive at the sink" wait_sink A "$((N0 + N))" 300
wait "$sender"
check_eq 'sendmail.py sent them all' "$?" 0
# The readers go on a little after the flow; then they stop.
sleep 1
touch "$HS_TMP/stop"
wait "$r1" "$r2" "$r3" "$r4"

for r in newest day sender trace; do
	runs=$(wc -l <"$HS_TMP/$r.runs")
	bad=$(grep -vc '^ok$' "$HS_TMP/$r.runs")
	check "reader $r: $runs runs during the flow, every one answered" \
	    test "$runs" -ge 1 -a "$bad" -eq 0
	[ "$bad" -eq 0 ] || sort "$HS_TMP/$r.runs" | uniq -c | sed 's/^/# /' >&2
done
check_eq 'the stopped long scans each stopped, then printed the last day' \
    "$(awk '$1 == "rc" && $2 == 0 && $4 > 80000 { n++ } END { print n + 0 }' \
    "$HS_TMP/stopped")" 3
sed 's/^/# stopped scan: /' "$HS_TMP/stopped" >&2

# holdscand's delays= per message: in hold / scan and batch / commit.
delays_since "$log_start" >"$HS_TMP/delays"
check_eq "one delays= line per message" "$(wc -l <"$HS_TMP/delays")" "$N"
slowest=$(slowest_commit "$HS_TMP/delays")
note "the slowest commit took $slowest s; the five slowest (hold/scan and batch/commit):"
sort -t/ -k3 -rn "$HS_TMP/delays" | head -5 | sed 's/^/#   /'
note "the median commit: $(sort -t/ -k3 -n "$HS_TMP/delays" |
    awk -F/ '{ c[NR] = $3 } END { print c[int((NR + 1) / 2)] }') s"
# shellcheck disable=SC2016 # awk's fields, not the shell's
check "no commit took $limit s or more (the slowest: $slowest s)" \
    awk -F/ -v l="$limit" '$3 >= l { bad = 1 } END { exit bad }' \
    "$HS_TMP/delays"
count_sender() {
	"$HOLDSCAN" -c "$A_HS_CONF" log --sender sender@sendmail.test | wc -l
}
check "the log has a record for each of the $N messages" \
    count_test -eq "$N" count_sender
check 'holdscand is still running' hs_alive A
done_testing
