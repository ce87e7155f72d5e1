#!/bin/sh
# 0800-faults.t - I/O faults while mail flows: no loss, no duplicate, the
# daemon logs one clear line, backs off and recovers when the fault clears.
#
# holdscand runs under tests/fault/faultshim (LD_PRELOAD). For each fault
# (a rule in the shim's control file), 20 messages are sent while it is
# active: holdscand must stay up, lose nothing (every message is in hold,
# in claimed/ or delivered), log the failure in one warning line, and,
# once the rule is removed, deliver every message exactly once (checked
# byte for byte) and say it works again.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

[ -f "$HS_BUILD/tests/fault/libfaultshim.so" ] ||
    skip_all "fault shim not built"
plan 58

HS_FAULT_FILE="$HS_TMP/faults"
HS_FAULT_LOG="$HS_TMP/faults.log"
export HS_FAULT_FILE HS_FAULT_LOG
# shellcheck disable=SC2034 # read by hs_run in holdscan.sh
HS_PRELOAD="$HS_BUILD/tests/fault/libfaultshim.so"
: >"$HS_FAULT_FILE"
: >"$HS_FAULT_LOG"
# holdscand's processes run as postfix and nobody: they append here.
chmod 0666 "$HS_FAULT_LOG"

sb_start A || bail_out "sandbox did not start"
hs_start A <<CONF || bail_out "holdscand did not start"
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

sent=0
# Everything is somewhere: delivered, in hold, claimed, or in Postfix's hands.
accounted() {
	[ $(($(sink_count A) + $(find "$A_QUEUE/hold" "$A_QUEUE/holdscan/claimed" \
	    "$A_QUEUE/incoming" "$A_QUEUE/active" -type f | wc -l))) -ge "$sent" ]
}

sink_with_token() {
	for _f in $(sink_messages A); do
		grep -l "^X-Test-Token: $1" "$_f"
	done
}

# scenario NAME RULE: 8 checks.
scenario() {
	name=$1
	rule=$2
	log_start=$(wc -l <"$A_HS_LOG")
	fault_start=$(wc -l <"$HS_FAULT_LOG")
	echo "$rule" >"$HS_FAULT_FILE"
	sleep 0.3
	"$HS_PYTHON" "$HS_LIB/sendmail.py" --count 20 --seed "$sent" \
	    --token-prefix "$name" --manifest "$HS_TMP/$name.json" \
	    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1 ||
	    bail_out "sendmail.py failed"
	sent=$((sent + 20))
	sleep 4
	check "$name: the fault was injected" \
	    test "$(wc -l <"$HS_FAULT_LOG")" -gt "$fault_start"
	check "$name: holdscand is still running" hs_alive A
	check "$name: no message is lost while it lasts" accounted
	# A checkpoint of the state environment that falls in the fault's
	# window (dblog: the log cannot be written) says so in its own line;
	# whether one falls there is timing, so it is not counted.
	warnings=$(tail -n "+$((log_start + 1))" "$A_HS_LOG" |
	    grep 'warning:' | grep -vc 'checkpoint: .*; the log files are kept until a checkpoint succeeds$' || true)
	check "$name: one clear warning line (got $warnings)" \
	    test "$warnings" -ge 1 -a "$warnings" -le 2
	: >"$HS_FAULT_FILE"
	check "$name: all delivered once the fault clears" \
	    wait_until 120 sh -c "[ \$(for f in \$(sh '$SANDBOX' sink-list \
	    '$A_DIR'); do grep -l '^X-Test-Token: $name' \$f; done |
	    wc -l) -ge 20 ]"
	# shellcheck disable=SC2046
	check "$name: each exactly once, byte-identical but for X-Holdscan" \
	    "$HS_PYTHON" "$HS_LIB/sinkcheck.py" --added-header X-Holdscan \
	    "$HS_TMP/$name.json" $(sink_with_token "$name")
	check "$name: holdscand says it works again" \
	    wait_until 60 sh -c "tail -n +$((log_start + 1)) '$A_HS_LOG' |
	    grep -Eq 'working again|reopened and recovered'"
	wait_until 30 sh -c "[ -z \"\$(find '$A_QUEUE/holdscan' -type f ! -name state.id)\" ]"
	check_eq "$name: nothing left in claimed/ or staging/" \
	    "$(find "$A_QUEUE/holdscan" -type f ! -name state.id | wc -l)" 0
}

scenario stagingwrite 'write ENOSPC always /holdscan/staging/'
scenario syncfs 'syncfs EIO always'
scenario rename 'rename EIO always /incoming/'
scenario dirsync 'fsync EIO always /incoming'
scenario unlink 'unlink EIO always /holdscan/claimed/'
scenario claimopen 'open EMFILE always /hold/'
scenario dblog 'write EIO always /log.00'

# Quarantine: the date directory cannot be made; then it can.
echo 'mkdir EIO always /quarantine/' >"$HS_FAULT_FILE"
sleep 0.3
printf 'Subject: q\n\nQUARANTINE-THIS-ONE\n' >"$HS_TMP/q.eml"
smtp-source -m 3 -F "$HS_TMP/q.eml" -f q@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
sleep 4
check 'quarantine mkdir: the messages are still in hold or claimed' \
    test "$(find "$A_QUEUE/hold" "$A_QUEUE/holdscan/claimed" -type f |
    wc -l)" -eq 3
: >"$HS_FAULT_FILE"
check 'quarantine mkdir: quarantined once it works' \
    wait_until 60 sh -c "[ \$(find '$A_DIR/hs/quarantine' -type f |
    wc -l) -eq 3 ]"

hs_stop A
done_testing
