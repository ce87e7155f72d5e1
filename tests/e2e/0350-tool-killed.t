#!/bin/sh
# 0350-tool-killed.t - a holdscan tool killed inside the state environment
# does not stop holdscand for good (issue 19; found by make torture).
#
# A tool killed while it held Berkeley DB locks (a quarantine expire or
# release in its write transaction) left them held: holdscand's next
# commit that needed the same pages waited for ever, moved no mail and did
# not even obey SIGTERM. Killed while it held a region *mutex*, it leaves
# every later Berkeley DB call of every process waiting for ever, and
# nothing but recovery frees it. holdscand must get dead processes' locks
# back by itself, and when it is stuck on a mutex its watchdog
# (daemon_timeout) must end it so that the restart (systemd's
# Restart=on-failure; here the test) recovers. No message may be lost or
# quarantined twice.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

[ -f "$HS_BUILD/tests/fault/libfaultshim.so" ] ||
    skip_all "fault shim not built"
plan 12

sb_start A || bail_out "sandbox did not start"
hs_start A <<EOF2 || bail_out "holdscand did not start"
daemon_timeout = 10s
scanners = crashtest
plugin crashtest {
    mode = verdict
    verdict = infected
    marker = QUARANTINE-THIS-ONE
}
policy {
    infected = quarantine
}
EOF2
printf 'Subject: q\n\nQUARANTINE-THIS-ONE\n' >"$HS_TMP/q.eml"
# quarantined_ids - the distinct messages of ours quarantined: by the
# daemon's commit, or by a recovery that finished a quarantine the
# watchdog's exit interrupted after its intent was committed (that one
# says "recovery: finished interrupted quarantine", not action=)
quarantined_ids() {
	sed -n -e 's/.*: \([0-9A-F]*\): action=quarantine verdict=infected.*/\1/p' \
	    -e 's/.*: \([0-9A-F]*\): recovery: finished interrupted quarantine.*/\1/p' \
	    "$A_HS_LOG" | sort -u
}
# quarantined N - N distinct messages of ours were quarantined
quarantined() {
	[ "$(quarantined_ids | wc -l)" -ge "$1" ]
}
# quarantined_or_gone N - that, or holdscand's watchdog ended it
quarantined_or_gone() {
	quarantined "$1" || ! hs_alive A
}
n=0
restarts=0
round() {
	name=$1
	rule=$2
	shift 2
	smtp-source -m 3 -F "$HS_TMP/q.eml" -f q@example.org \
	    -t sink@example.net "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
	n=$((n + 3))
	wait_until 180 quarantined "$n" || bail_out "not quarantined"
	sleep 2	# expire --older-than=1s: older
	echo "$rule" >"$HS_TMP/rules"
	: >"$HS_TMP/faults.log"
	chmod 0666 "$HS_TMP/faults.log"
	env HS_FAULT_FILE="$HS_TMP/rules" HS_FAULT_LOG="$HS_TMP/faults.log" \
	    LD_PRELOAD="$HS_BUILD/tests/fault/libfaultshim.so" \
	    "$HOLDSCAN" -c "$A_HS_CONF" quarantine "$@" >/dev/null 2>&1
	check "$name: the tool was killed inside the state environment" \
	    grep -q KILL "$HS_TMP/faults.log"
	# More mail to quarantine: the commit needs the index's pages.
	smtp-source -m 3 -F "$HS_TMP/q.eml" -f q@example.org \
	    -t sink@example.net "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
	n=$((n + 3))
	wait_until 60 quarantined_or_gone "$n"
	if ! hs_alive A; then
		restarts=$((restarts + 1))
		pid=$A_HS_PID
		wait "$pid"
		status=$?
		check "$name: stuck, holdscand's watchdog ended it (status 70, why logged)" \
		    sh -c "[ $status -eq 70 ] && grep -q 'event loop has not come round for daemon_timeout' '$A_HS_LOG'"
		hs_run A || bail_out "holdscand did not start again"
	else
		ok 0 "$name: not stuck on a mutex: no watchdog needed"
	fi
	check "$name: holdscand quarantines on (within 60 s)" \
	    wait_until 60 quarantined "$n"
}
round expire 'write KILLAFTER 1 /log.00' expire --older-than=1s
round release 'write KILLAFTER 1 /log.00' release "$("$HOLDSCAN" -c \
    "$A_HS_CONF" quarantine list --json | "$HS_PYTHON" -c \
    'import json, sys; print(json.load(sys.stdin)[-1]["id"])')"
diag "watchdog restarts: $restarts"

# A release killed right after its rename into incoming, before it woke
# qmgr: the next holdscan's recovery wakes it, so the message is
# delivered now, not at qmgr's own scan up to 5 minutes later.
qid=$("$HOLDSCAN" -c "$A_HS_CONF" quarantine list --json --state held |
    "$HS_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
before=$(sink_count A)
echo 'rename KILLAFTER 1 /incoming/' >"$HS_TMP/rules"
: >"$HS_TMP/faults.log"
env HS_FAULT_FILE="$HS_TMP/rules" HS_FAULT_LOG="$HS_TMP/faults.log" \
    LD_PRELOAD="$HS_BUILD/tests/fault/libfaultshim.so" \
    "$HOLDSCAN" -c "$A_HS_CONF" quarantine release "$qid" >/dev/null 2>&1
check 'a release killed right after its rename into incoming' \
    grep -q KILL "$HS_TMP/faults.log"
"$HOLDSCAN" -c "$A_HS_CONF" quarantine list >/dev/null 2>&1
check 'the next holdscan wakes qmgr: delivered within 30 s' \
    wait_sink A $((before + 1)) 30
check_eq 'every message was quarantined, none lost' \
    "$(quarantined_ids | wc -l)" "$n"
check_eq 'nothing is left in hold' "$(hold_count A)" 0
check 'holdscand is still there' hs_alive A
t0=$(date +%s)
hs_stop A
check 'and stops when told (SIGTERM, within 15 s)' \
    test $(($(date +%s) - t0)) -lt 15
done_testing
