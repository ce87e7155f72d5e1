#!/bin/sh
# 1550-message-log-readers.t - readers of the message log never hold up
# holdscand's commits (issue 15, item 6: the index without MVCC, read
# uncommitted by walks that never wait; see msglog.c).
#
# The log holds 100,000 records (tests/tools/msglog-bench, written before
# holdscand starts, times over the last 28 hours). While 400 messages flow
# through holdscand in batches of at most 20:
#  1. four readers run in a loop, each walking the index where holdscand
#     writes: the newest 100 (the last page of the time keys, where every
#     record goes), every record of the last day (a long scan, about
#     86,000 records, back from that page), the sender of the messages
#     that flow (the last page of its duplicates) and a trace; every run
#     answers (exit 0);
#  2. meanwhile long scans are stopped (SIGTSTP) three times and left
#     stopped for 3 s each: the stop takes effect only after the walk
#     (its snapshot and cursor closed), so mail goes on; each, continued,
#     prints its records;
#  3. every message reaches the sink, no commit took 1 s or more (the
#     last figure of holdscand's delays=), and the log has one record per
#     message, found by its sender.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

MSGLOG_BENCH="$HS_BUILD/tests/tools/msglog-bench"
[ -x "$MSGLOG_BENCH" ] || bail_out "no $MSGLOG_BENCH (make progs)"

plan 13

N=400
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

# stopped_scan I - a long scan stopped (SIGTSTP) 0.3 s after it started,
# left stopped for 3 s, continued; "ok LINES" or what went wrong
stopped_scan() {
	"$HOLDSCAN" -c "$A_HS_CONF" log --since 1d >"$HS_TMP/stopped.$1" \
	    2>"$HS_TMP/stopped.$1.err" &
	_ss_pid=$!
	sleep 0.3
	kill -TSTP "$_ss_pid" 2>/dev/null
	_ss_i=0
	until ps -o stat= -p "$_ss_pid" | grep -q T; do
		_ss_i=$((_ss_i + 1))
		if [ "$_ss_i" -gt 300 ]; then
			echo "never stopped"
			kill -CONT "$_ss_pid" 2>/dev/null
			wait "$_ss_pid"
			return
		fi
		sleep 0.1
	done
	sleep 3
	kill -CONT "$_ss_pid"
	wait "$_ss_pid"
	_ss_rc=$?
	echo "rc $_ss_rc lines $(wc -l <"$HS_TMP/stopped.$1")"
}
: >"$HS_TMP/stopped"
for i in 1 2 3; do
	stopped_scan "$i" >>"$HS_TMP/stopped"
done

check "all $N messages arrive at the sink" wait_sink A "$N" 300
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
tail -n "+$((log_start + 1))" "$A_HS_LOG" | grep -o 'delays=[0-9./]*' |
    sed 's/delays=//' >"$HS_TMP/delays"
check_eq "one delays= line per message" "$(wc -l <"$HS_TMP/delays")" "$N"
slowest=$(awk -F/ '$3 > m { m = $3 } END { printf "%.3f", m }' \
    "$HS_TMP/delays")
note "the slowest commit took $slowest s"
check "no commit took 1 s or more (the slowest: $slowest s)" \
    awk -F/ '$3 >= 1 { bad = 1 } END { exit bad }' "$HS_TMP/delays"
count_sender() {
	"$HOLDSCAN" -c "$A_HS_CONF" log --sender sender@sendmail.test | wc -l
}
check "the log has a record for each of the $N messages" \
    count_test -eq "$N" count_sender
check 'holdscand is still running' hs_alive A
done_testing
