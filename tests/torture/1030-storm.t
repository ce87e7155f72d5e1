#!/bin/sh
# 1030-storm.t - a restart storm: holdscand started and killed 50-650 ms
# later, STORM_RESTARTS times (default 200), while STORM_MESSAGES
# (default 30,000) messages arrive: exactly once for every message.
#
# mixsend.py sends STORM_MESSAGES messages as fast as Postfix takes them
# (four sessions; clean, infected, big and crash mail). Meanwhile
# holdscand is started (without waiting for it) and SIGKILLed a random
# STORM_MIN_MS to STORM_MAX_MS later (default 50 and 650), again and
# again; the next start waits only until the killed one's processes are
# gone. Each kill is counted by where it landed: before the scanners were
# ready, or with holdscand started (recovery done: "started:" logged),
# with or without messages committed by that run. Then holdscand runs
# normally until the queue drains, and every message accepted by Postfix
# must have ended exactly once (tests/lib/tally.py). The counts and the
# kills are printed and appended to build/torture-results.txt; failures
# are shown with holdscand's log lines.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/torture.sh"

RESTARTS=${STORM_RESTARTS:-200}
MESSAGES=${STORM_MESSAGES:-30000}
MIN_MS=${STORM_MIN_MS:-50}
MAX_MS=${STORM_MAX_MS:-650}
DRAIN=${TORTURE_DRAIN:-420}
case $RESTARTS$MESSAGES$MIN_MS$MAX_MS$DRAIN in
*[!0-9]*) bail_out "STORM_RESTARTS, STORM_MESSAGES, STORM_MIN_MS," \
    "STORM_MAX_MS and TORTURE_DRAIN are numbers" ;;
esac
plan 14

tt_init
sb_start A || bail_out "sandbox did not start"
tt_conf A <<EOF
batch_max_wait = 20ms
EOF
hs_run A || bail_out "holdscand did not start"
hs_stop A
start=$(date +%s)
tt_send A s clean=189,infected=8,big=1,crash=2 --count "$MESSAGES" \
    --sessions 4
sender=$TT_SENDER
note "sandbox $A_DIR; $MESSAGES messages; $RESTARTS restarts, each killed" \
    "$MIN_MS-$MAX_MS ms after its start"

# Log lines of this run (from byte $log_at on) that match $1.
run_lines() {
	tail -c "+$((log_at + 1))" "$A_HS_LOG" | grep -c -e "$1"
}
i=0
while [ "$i" -lt "$RESTARTS" ]; do
	i=$((i + 1))
	ms=$(tt_rand "$MIN_MS" "$MAX_MS")
	log_at=$(wc -c <"$A_HS_LOG")
	tt_launch A
	sleep "$(awk -v ms="$ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
	if ! kill -0 "$A_HS_PID" 2>/dev/null ||
	    ps -o stat= -p "$A_HS_PID" | grep -q Z; then
		tt_self_exit A
		continue
	fi
	tt_kill_master A "storm $i/$RESTARTS, $ms ms after start"
	if [ "$(run_lines 'holdscand\[[0-9]*\]: started:')" -eq 0 ]; then
		where="before recovery was done"
	elif [ "$(run_lines ': batch=[0-9]')" -eq 0 ]; then
		where="started, no batch committed yet"
	else
		where="started, batches committed"
	fi
	tt_count "storm: kill -9 $MIN_MS-$MAX_MS ms after start, $where"
	if [ $((i % 50)) -eq 0 ]; then
		note "+$(($(date +%s) - start))s: $i restarts;" \
		    "$(wc -l <"$HS_TMP/s.manifest") sent," \
		    "$(sink_count A) at the sink, $(hold_count A) in hold"
	fi
done
storm_time=$(($(date +%s) - start))
note "storm over in $storm_time s: $(wc -l <"$HS_TMP/s.manifest") sent so far"

tt_restart A
wait "$sender"
sed -n '$p' "$HS_TMP/sender.log" | sed 's/^/# /'
check_eq "$RESTARTS restarts killed, every start came up" \
    "$(tt_stat failed_starts)" 0
check_eq "holdscand's processes end with their master" \
    "$(tt_stat slow_exits)" 0
check_eq 'holdscand never exited by itself' "$(tt_stat self_exits)" 0
t0=$(date +%s)
check "the queue drains (within $DRAIN s)" wait_until "$DRAIN" tt_drained A
note "drained in $(($(date +%s) - t0)) s"
sleep 2

tt_tally A "1030-storm: $RESTARTS restarts killed $MIN_MS-$MAX_MS ms after start, $MESSAGES messages"
check_eq "all $MESSAGES messages were accepted" "$(tt_stat sent)" "$MESSAGES"
check_eq 'no message lost' "$(tt_stat lost)" 0
check_eq 'no message twice (delivered, quarantined or held)' \
    "$(tt_stat dup)" 0
check_eq 'each quarantine entry has its one file and each file its entry' \
    "$(tt_stat qbroken)/$(tt_stat files_without_entry)" 0/0
check_eq 'nothing left in the queue' "$(tt_stat inqueue)" 0
check_eq 'no infected mail delivered, no clean mail quarantined' \
    "$(tt_stat wrongway)" 0
check_eq 'nothing arrived that was not sent' "$(tt_stat unknown)" 0
check_eq "Postfix's corrupt queue is empty" \
    "$(find "$A_QUEUE/corrupt" -type f 2>/dev/null | wc -l)" 0

procs=$(hs_procs A)
hs_stop A
left=0
for p in $procs; do
	kill -0 "$p" 2>/dev/null && left=$((left + 1))
done
check_eq 'holdscand stops; no holdscan process is left' "$left" 0
check_eq 'tally.py found no failure' "$(tt_stat tally_rc)" 0
done_testing
