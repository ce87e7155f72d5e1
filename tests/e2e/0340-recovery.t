#!/bin/sh
# 0340-recovery.t - kills at exact system calls during and around recovery,
# a second instance, and a lost or damaged state directory: every message
# arrives exactly once, or is set aside for the admin when holdscand cannot
# know whether it was delivered; never lost, never twice.
#
# Each scenario puts 5 messages in hold while holdscand is stopped (so that
# they form one batch when it starts), then runs holdscand under the fault
# shim (tests/fault/faultshim.c) with a rule that SIGKILLs it at one exact
# system call, possibly several times, and finally runs it cleanly.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

[ -f "$HS_BUILD/tests/fault/libfaultshim.so" ] ||
    skip_all "fault shim not built"
plan 62

HS_FAULT_FILE="$HS_TMP/faults"
HS_FAULT_LOG="$HS_TMP/faults.log"
export HS_FAULT_FILE HS_FAULT_LOG
: >"$HS_FAULT_FILE"
: >"$HS_FAULT_LOG"
chmod 0666 "$HS_FAULT_LOG"

sb_start A || bail_out "sandbox did not start"
hs_conf A >/dev/null <<CONF
batch_max_wait = 1s
scanners = crashtest
plugin crashtest {
    mode = verdict
    verdict = infected
    marker = QUARANTINE-THIS-ONE
}
policy {
    infected = quarantine
}
CONF
STATE="$A_DIR/hs/state"

# send_held NAME [N] - N (5) messages into hold, token prefix NAME.
send_held() {
	"$HS_PYTHON" "$HS_LIB/sendmail.py" --count "${2:-5}" --seed 7 \
	    --token-prefix "$1" --manifest "$HS_TMP/$1.json" \
	    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1 ||
	    bail_out "sendmail.py failed"
	wait_until 60 sh -c "[ \$(find '$A_QUEUE/hold' -type f | wc -l) -ge \
	    ${2:-5} ]" || bail_out "messages did not reach hold"
}

# run_killed RULE... - holdscand under the shim with these rules until a
# rule kills it; true when the kill happened (bounded: 60 s).
run_killed() {
	: >"$HS_FAULT_FILE"
	for _r in "$@"; do
		echo "$_r" >>"$HS_FAULT_FILE"
	done
	_rk_faults=$(grep -c KILL "$HS_FAULT_LOG")
	HS_PRELOAD="$HS_BUILD/tests/fault/libfaultshim.so" hs_run A \
	    >/dev/null 2>&1 || true
	_rk_pid=$A_HS_PID
	wait_until 60 sh -c "! kill -0 $_rk_pid 2>/dev/null"
	wait "$_rk_pid" 2>/dev/null
	A_HS_PID=
	: >"$HS_FAULT_FILE"
	[ "$(grep -c KILL "$HS_FAULT_LOG")" -gt "$_rk_faults" ]
}

# with_token NAME - the sink files of scenario NAME
with_token() {
	for _f in $(sink_messages A); do
		grep -l "^X-Test-Token: $1" "$_f"
	done
}

token_count() {
	with_token "$1" | wc -l
}

# delivered NAME - every message of NAME arrived exactly once, intact
delivered() {
	# shellcheck disable=SC2046
	"$HS_PYTHON" "$HS_LIB/sinkcheck.py" --added-header X-Holdscan \
	    "$HS_TMP/$1.json" $(with_token "$1")
}

queue_clean() {
	[ "$(find "$A_QUEUE/hold" "$A_QUEUE/holdscan/claimed" \
	    "$A_QUEUE/holdscan/staging" "$A_QUEUE/holdscan/intent" -type f |
	    wc -l)" -eq 0 ]
}

# finish NAME - a clean run, then NAME's 5 messages each once (2 checks).
finish() {
	hs_run A >/dev/null 2>&1 || bail_out "holdscand did not start cleanly"
	check "$1: all 5 delivered after a clean start" \
	    wait_until 90 sh -c "[ \$(for f in \$(sh '$SANDBOX' sink-list \
	    '$A_DIR'); do grep -l '^X-Test-Token: $1' \$f; done | wc -l) -ge 5 ]"
	sleep 1
	check "$1: each exactly once, byte-identical" delivered "$1"
	wait_until 30 queue_clean
	hs_stop A
}

# finish_published NAME - start holdscand after a kill that left NAME's 5
# new files published: each delivered within 30 s (recovery woke qmgr),
# recovery names each new queue id, each exactly once (3 checks); then
# stop it. log_start is where that start's log lines begin.
finish_published() {
	log_start=$(wc -l <"$A_HS_LOG")
	hs_run A >/dev/null 2>&1 || bail_out "holdscand did not start"
	check "$1: delivered within 30 s (recovery woke qmgr)" \
	    wait_until 30 sh -c "[ \$(for f in \$(sh '$SANDBOX' sink-list \
	    '$A_DIR'); do grep -l '^X-Test-Token: $1' \$f; done |
	    wc -l) -ge 5 ]"
	check_eq "$1: recovery names the new queue id of each" \
	    "$(tail -n "+$((log_start + 1))" "$A_HS_LOG" |
	    grep -c 'finished interrupted delivery new_id=[0-9A-Za-z]')" 5
	sleep 1
	check "$1: each exactly once" delivered "$1"
	hs_stop A
}

# --- 1. a batch interrupted, recovered, re-claimed, killed again --------
# Old journals forgot the recovered entries without a flush: they came
# back after the second kill, and the third start took the re-claimed
# originals for delivered ones and removed them.
send_held undo
check 'undo: killed at the first rename into incoming' \
    run_killed 'rename KILL 1 /incoming/'
check_eq 'undo: the batch was journaled, nothing published' \
    "$(find "$A_QUEUE/incoming" -type f | wc -l)" 0
check 'undo: recovered, all 5 claimed again, killed before the next commit' \
    run_killed 'rename KILLAFTER 5 /holdscan/claimed/'
finish undo

send_held undo2
check 'undo2: killed at the first rename into incoming' \
    run_killed 'rename KILL 1 /incoming/'
check 'undo2: recovered, scanned again, killed at its next staging file' \
    run_killed 'open KILL 1 /holdscan/staging/'
finish undo2

# --- 2. a kill inside recovery's undo ------------------------------------
# Recovery used to remove the staging file before it returned the
# original: a kill in between left entry + original without staging file.
send_held midundo
check 'midundo: killed at the first rename into incoming' \
    run_killed 'rename KILL 1 /incoming/'
check 'midundo: killed in recovery, returning the original to hold' \
    run_killed 'rename KILL 1 /hold/'
check 'midundo: killed in recovery, removing a staging file' \
    run_killed 'unlink KILL 1 /holdscan/staging/'
finish midundo

# --- 3. a kill inside the run-time undo of a failed rename ---------------
send_held rtundo
check 'rtundo: rename into incoming fails once, killed while undoing' \
    run_killed 'rename EIO 1 /incoming/' 'rename KILL 1 /hold/'
finish rtundo

# --- 4. killed after publishing: recovery finishes and wakes qmgr --------
send_held published
check 'published: killed at the first unlink of an original' \
    run_killed 'unlink KILL 1 /holdscan/claimed/'
check_eq 'published: all 5 new files are in incoming' \
    "$(find "$A_QUEUE/incoming" -type f | wc -l)" 5
finish_published published

# --- 4b. the same, then a restart of the machine empties -----------------
# state_region_directory: the journal's entries committed before the
# kill are in the log, not only in the lost cache; recovery finds them.
send_held reboot
check 'reboot: killed at the first unlink of an original' \
    run_killed 'unlink KILL 1 /holdscan/claimed/'
check 'reboot: the regions were in state_region_directory, linked' \
    sh -c "[ -L '$STATE/__db.001' ] &&
    [ -n \"\$(find '$A_DIR/hs/regions' -type f -name '__db.*')\" ]"
rm -rf "$A_DIR/hs/regions"/*
finish_published reboot
check_eq 'reboot: holdscand said the shared memory was gone, and why' \
    "$(tail -n "+$((log_start + 1))" "$A_HS_LOG" |
    grep -c 'shared memory of its Berkeley DB environment is gone (a restart')" 1

# --- 5. a quarantined message: killed after its copy, before its batch ---
printf 'Subject: q\n\nQUARANTINE-THIS-ONE\n' >"$HS_TMP/q.eml"
smtp-source -m 1 -F "$HS_TMP/q.eml" -f q@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
wait_hold A 1 || bail_out "quarantine message not held"
check 'quarantine: killed after the copy, before the journal commit' \
    run_killed 'rename KILLAFTER 1 /quarantine/'
hs_run A >/dev/null 2>&1 || bail_out "holdscand did not start"
check 'quarantine: quarantined in the end' \
    wait_until 30 sh -c "'$HOLDSCAN' -c '$A_HS_CONF' quarantine list |
    grep -q q@example.org"
hs_stop A
check_eq 'quarantine: one index entry' \
    "$("$HOLDSCAN" -c "$A_HS_CONF" quarantine list | grep -c q@example.org)" 1
check_eq 'quarantine: one file in the store' \
    "$(find "$A_DIR/hs/quarantine" -type f | wc -l)" 1

# --- 6. a second instance on the same queue ------------------------------
hs_run A >/dev/null 2>&1 || bail_out "holdscand did not start"
sed -e "s|^pid_file = .*|pid_file = $HS_TMP/second.pid|" \
    -e "s|^state_directory = .*|state_directory = $HS_TMP/state2|" \
    -e "s|^metrics_file = .*|metrics_file = $HS_TMP/state2/metrics.prom|" \
    "$A_HS_CONF" >"$HS_TMP/second.conf"
mkdir -p "$HS_TMP/state2"
chown "$A_MAIL_OWNER" "$HS_TMP/state2"
chmod 0700 "$HS_TMP/state2"
"$HS_PYTHON" "$HS_LIB/sendmail.py" --count 30 --seed 9 --token-prefix second \
    --manifest "$HS_TMP/second.json" "127.0.0.1:$A_SMTP_PORT" \
    >/dev/null 2>&1 &
sender=$!
refused=0
i=0
while [ "$i" -lt 5 ]; do
	# (A second instance that starts would run until timeout stops it.)
	timeout 20 "$HOLDSCAND" -f -c "$HS_TMP/second.conf" \
	    >"$HS_TMP/second.$i.log" 2>&1
	rc=$?
	if [ "$rc" -eq 75 ] && grep -q "another holdscand (pid $A_HS_PID)" \
	    "$HS_TMP/second.$i.log"; then
		refused=$((refused + 1))
	else
		diag "second instance, try $i: exit $rc: $(cat "$HS_TMP/second.$i.log")"
	fi
	i=$((i + 1))
done
wait "$sender"
check_eq 'second instance: refused 5 times, naming the running one' \
    "$refused" 5
sed -i "s|^holdscan_queue_subdir = .*||" "$HS_TMP/second.conf"
echo "holdscan_queue_subdir = other" >>"$HS_TMP/second.conf"
timeout 20 "$HOLDSCAND" -f -c "$HS_TMP/second.conf" >"$HS_TMP/second.x.log" 2>&1
check_eq 'second instance with another holdscan_queue_subdir: refused too' \
    "$?" 75
check 'second instance: every message once' \
    wait_until 60 sh -c "[ \$(for f in \$(sh '$SANDBOX' sink-list \
    '$A_DIR'); do grep -l '^X-Test-Token: second' \$f; done | wc -l) -ge 30 ]"
sleep 1
check 'second instance: exactly once' delivered second
hs_stop A

# --- 7. the state directory lost after publishing ------------------------
lost_state() {
	name=$1
	what=$2
	send_held "$name"
	check "$name: killed at the first unlink of an original" \
	    run_killed 'unlink KILL 1 /holdscan/claimed/'
	case $what in
	all) find "$STATE" -mindepth 1 -delete ;;
	logs) find "$STATE" -name 'log.*' -delete ;;
	esac
	log_start=$(wc -l <"$A_HS_LOG")
	hs_run A >/dev/null 2>&1 || bail_out "holdscand did not start"
	postqueue -c "$A_CONFIG" -f >/dev/null 2>&1
	check "$name: the 5 published copies are delivered" \
	    wait_until 60 sh -c "[ \$(for f in \$(sh '$SANDBOX' sink-list \
	    '$A_DIR'); do grep -l '^X-Test-Token: $name' \$f; done |
	    wc -l) -ge 5 ]"
	sleep 3
	check "$name: nothing twice, nothing lost" delivered "$name"
	check_eq "$name: the 5 originals are set aside in hold" \
	    "$(find "$A_QUEUE/hold" -type f | wc -l)" 5
	check "$name: said loudly, with what to do" \
	    sh -c "tail -n +$((log_start + 1)) '$A_HS_LOG' |
	    grep -q 'warning: recovery: 5 messages of an interrupted batch'"
	check_eq "$name: holdscan status lists them with postsuper advice" \
	    "$("$HOLDSCAN" -c "$A_HS_CONF" status | grep -c 'journal lost.*postsuper -d')" 5
	hs_stop A
	# The admin checked the mail log: they were delivered.
	find "$A_QUEUE/hold" -type f | while read -r f; do
		postsuper -c "$A_CONFIG" -d "${f##*/}" hold >/dev/null 2>&1
	done
}
lost_state lostall all
check 'lostall: the loss of the state directory was reported' \
    wait_until 60 grep -q 'has no record of the queue' "$A_HS_LOG"
lost_state lostlogs logs

# --- 8. a quarantined message whose state was lost after its commit -----
# The copy and its index entry were committed, the original was not yet
# removed, and then the state directory went: the index is rebuilt from
# the store, and the message, scanned again, is found quarantined already.
: >"$HS_TMP/q2.eml"
printf 'Subject: q2\n\nQUARANTINE-THIS-ONE again\n' >"$HS_TMP/q2.eml"
smtp-source -m 1 -F "$HS_TMP/q2.eml" -f q2@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
wait_hold A 1 || bail_out "quarantine message not held"
check 'q-lost: killed after the commit, at the unlink of the original' \
    run_killed 'unlink KILL 1 /holdscan/claimed/'
find "$STATE" -mindepth 1 -delete
hs_run A >/dev/null 2>&1 || bail_out "holdscand did not start"
check 'q-lost: the original is dealt with' \
    wait_until 30 sh -c "[ \$(find '$A_QUEUE/hold' '$A_QUEUE/holdscan/claimed' \
    -type f | wc -l) -eq 0 ]"
hs_stop A
check_eq 'q-lost: one index entry for it' \
    "$("$HOLDSCAN" -c "$A_HS_CONF" quarantine list | grep -c q2@example.org)" 1
check_eq 'q-lost: one file in the store for it' \
    "$(grep -rl 'QUARANTINE-THIS-ONE again' "$A_DIR/hs/quarantine" | wc -l)" 1

# Two entries of one original (as an older holdscan could leave, or a copy
# that differs): the second release is refused unless asked --again.
qfile=$(grep -rl 'QUARANTINE-THIS-ONE again' "$A_DIR/hs/quarantine")
qname=${qfile##*/}
twin="19990101T000000-${qname#*-}"
mkdir -p "$A_DIR/hs/quarantine/1999/01/01"
sed 's/QUARANTINE-THIS-ONE again/QUARANTINE-THIS-ONE agaiN/' "$qfile" \
    >"$A_DIR/hs/quarantine/1999/01/01/$twin"
chown -R "$A_MAIL_OWNER" "$A_DIR/hs/quarantine/1999"
"$HOLDSCAN" -c "$A_HS_CONF" quarantine check >/dev/null 2>&1
check_eq 'twin: indexed as a second entry of the same original' \
    "$("$HOLDSCAN" -c "$A_HS_CONF" quarantine list | grep -c q2@example.org)" 2
check 'twin: the first release works' \
    "$HOLDSCAN" -c "$A_HS_CONF" quarantine release "$qname"
out=$("$HOLDSCAN" -c "$A_HS_CONF" quarantine release "$twin" 2>&1)
check 'twin: the second is refused, naming the first' \
    sh -c "printf '%s' '$out' | grep -q 'other copy $qname was released'"
check 'twin: --again releases it all the same' \
    "$HOLDSCAN" -c "$A_HS_CONF" quarantine release --again "$twin"

# --- 9. a damaged journal ----------------------------------------------------
hs_run A >/dev/null 2>&1 || bail_out "holdscand did not start"
hs_stop A
size=$(stat -c %s "$STATE/journal.db")
dd if=/dev/urandom of="$STATE/journal.db" bs=1 count=4096 seek=0 \
    conv=notrunc 2>/dev/null
"$HOLDSCAND" -f -c "$A_HS_CONF" >"$HS_TMP/damaged.log" 2>&1
rc=$?
check 'damaged: refuses to start' test "$rc" -ne 0
check 'damaged: names the file and points to RECOVERY in holdscand(8)' \
    sh -c "grep 'fatal:' '$HS_TMP/damaged.log' | grep 'journal.db' |
    grep -q 'RECOVERY in holdscand(8)'"
note "journal.db was $size bytes; holdscand said: $(grep fatal: \
    "$HS_TMP/damaged.log" | head -1)"
# The documented way out: move the journal aside and start.
mv "$STATE/journal.db" "$STATE/journal.db.damaged"
send_held damaged
hs_run A >/dev/null 2>&1
check 'damaged: starts once the journal is moved aside' hs_alive A
check 'damaged: mail flows again' \
    wait_until 60 sh -c "[ \$(for f in \$(sh '$SANDBOX' sink-list \
    '$A_DIR'); do grep -l '^X-Test-Token: damaged' \$f; done | wc -l) -ge 5 ]"
sleep 1
check 'damaged: exactly once' delivered damaged
hs_stop A
done_testing
