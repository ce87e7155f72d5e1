#!/bin/sh
# 0820-worker-limits.t - scanner workers under memory, CPU and time limits.
#
# The test-only crashtest plugin misbehaves on a marker message: it
# allocates without end (worker_memory_limit stops it), loops without end
# (scan_time_limit stops it), aborts, or reports an error. Each time the
# message ends as the policy says for "scan failed" (here: quarantine),
# after scan_retry_limit attempts for a dead worker and at once for a
# plugin error; the daemon keeps going and every other message is delivered.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 17

sb_start A || bail_out "sandbox did not start"

# try MODE: send the marker and 10 plain messages; 3 checks; sets q to
# the number of files in the quarantine.
n=0
try() {
	mode=$1
	hs_conf A >/dev/null <<CONF
scan_time_limit = 1s
worker_memory_limit = 64M
scanners = crashtest
plugin crashtest {
    mode = $mode
    marker = MISBEHAVE-$mode
}
policy {
    scan_failed = quarantine
}
CONF
	hs_run A || bail_out "holdscand did not start"
	printf 'Subject: %s\n\nMISBEHAVE-%s\n' "$mode" "$mode" >"$HS_TMP/$mode.eml"
	smtp-source -m 1 -F "$HS_TMP/$mode.eml" -f "$mode@example.org" \
	    -t sink@example.net "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
	smtp-source -s 2 -m 10 -f plain@example.org -t sink@example.net \
	    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
	n=$((n + 10))
	check "$mode: the other messages are delivered" wait_sink A $n 60
	check "$mode: the marker ends as scan failed, quarantined" \
	    hs_wait_log A 30 "action=quarantine verdict=scan-failed"
	check "$mode: holdscand is still running" hs_alive A
	q=$(find "$A_DIR/hs/quarantine" -type f | wc -l)
	hs_stop A
	mv "$A_HS_LOG" "$HS_TMP/$mode.log"
}

try allocate
check_eq 'allocate: the worker hit its memory limit 3 times' \
    "$(grep -c 'scan attempt [0-9] failed' "$HS_TMP/allocate.log")" 3
try hang
check_eq 'hang: killed at the time limit 3 times' \
    "$(grep -c 'over its time limit, killing it' "$HS_TMP/hang.log")" 3
try abort
check_eq 'abort: 3 attempts' \
    "$(grep -c 'scan attempt [0-9] failed' "$HS_TMP/abort.log")" 3
try fail
check_eq 'fail: a plugin error is a verdict, not a crash: no retry' \
    "$(grep -c 'scan attempt' "$HS_TMP/fail.log")" 0
check_eq 'four quarantined messages in all' "$q" 4
done_testing
