#!/bin/sh
# 0100-sandbox.t - the test sandbox itself (tests/lib/sandbox.sh).
#
# Two private Postfix instances run at once: A holds every message, B
# (hold=no) delivers straight to its sink. Varied messages (sendmail.py
# --variety: 200 B to 5 MiB, 10,000-character header lines, 8-bit and
# binary bodies, no final newline, up to 500 recipients, DSN options,
# attachments) go into A, all land in hold, postcat -q reads each, none
# reaches the sink; postsuper -H releases them and each arrives exactly
# once, intact. Then a third instance C with long queue ids and a hashed
# hold queue. At the end no process of any instance remains and the
# directories are gone.
#
# "Intact" (tests/lib/sinkcheck.py) means: after removing what smtp-sink
# adds (its X-*-Args lines, its Received: header, the empty line after the
# message) and the Received: header that Postfix's smtpd prepends, the
# message is byte-identical to the source sendmail.py generated, with LF
# line ends (smtp-sink drops the CRs of CRLF, and the source has no other
# CR); a source without a final newline arrives with one (SMTP DATA ends
# every line), and only that newline is removed before comparing. Postfix
# must not add, drop, fold or re-encode anything (sendmail.py sends no
# Bcc/Return-Path/Content-Length headers, which Postfix would drop). The
# envelope must match too: sender, recipients, RET/ENVID, NOTIFY/ORCPT.

HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
# shellcheck disable=SC1091
. "$HS_LIB/tap.sh"

N_A=60		# into A (held, then released)
N_B=30		# into B (straight through)
N_C=30		# into C (long ids, hashed hold)

plan 36

send() {	# send NAME PORT COUNT PREFIX: varied messages, manifest NAME.json
	"$HS_PYTHON" "$HS_LIB/sendmail.py" --variety --count "$3" --sessions 2 \
	    --seed 100 --token-prefix "$4" --manifest "$HS_TMP/$1.json" \
	    "127.0.0.1:$2"
}

# --- two instances at once -----------------------------------------------
check 'sandbox A starts (hold everything)' sb_start A
check 'sandbox B starts (hold=no)' sb_start B hold=no
if [ -z "${A_DIR:-}" ] || [ -z "${B_DIR:-}" ]; then
	bail_out "sandbox does not start"
fi

[ "$A_SMTP_PORT" != "$B_SMTP_PORT" ] && [ "$A_SINK_PORT" != "$B_SINK_PORT" ] &&
    [ "$A_QUEUE" != "$B_QUEUE" ] && [ "$A_MAILLOG" != "$B_MAILLOG" ] &&
    [ "$(postconf -c "$A_CONFIG" -h data_directory)" != \
    "$(postconf -c "$B_CONFIG" -h data_directory)" ]
ok $? 'A and B have their own ports, queue, data directory and log'
check_eq 'A holds on Received:' \
    "$(cat "$(postconf -c "$A_CONFIG" -h header_checks | sed 's/^regexp://')")" \
    '/^Received:/ HOLD'
check_eq 'B has no header_checks' "$(postconf -c "$B_CONFIG" -h header_checks)" ''
check_eq 'queue ids are short by default' \
    "$(postconf -c "$A_CONFIG" -h enable_long_queue_ids)" no

# --- A: everything is held -------------------------------------------------
check "$N_A varied messages sent into A" send A "$A_SMTP_PORT" "$N_A" a
check "all $N_A land in A's hold queue" wait_hold A "$N_A"
check_eq "A holds exactly $N_A files" "$(hold_count A)" "$N_A"
check_eq 'held files are named by the queue ids smtpd reported' \
    "$(hold_files A | sed 's|.*/||' | sort)" \
    "$(manifest_field "$HS_TMP/A.json" queue_id)"
# shellcheck disable=SC2046
check 'held names are short ids carrying their inode, hold not hashed' \
    "$HS_PYTHON" "$HS_LIB/queueid.py" "$A_QUEUE/hold" $(hold_files A)
# shellcheck disable=SC2046
check_eq 'postcat -q reads every held message (its X-Test-Token)' \
    "$(held_tokens "$A_CONFIG" $(hold_files A))" \
    "$(manifest_field "$HS_TMP/A.json" token)"
# Make qmgr scan everything it may deliver; held mail must stay put.
postqueue -c "$A_CONFIG" -f
sleep 1
check_eq 'nothing reached the sink' "$(sink_count A)" 0
check_eq 'nothing in incoming, active or deferred' \
    "$(find "$A_QUEUE/incoming" "$A_QUEUE/active" "$A_QUEUE/deferred" \
    -type f | wc -l)" 0

# --- A: release ------------------------------------------------------------
check 'postsuper -H ALL releases them' postsuper -c "$A_CONFIG" -H ALL
check "all $N_A arrive at the sink" wait_sink A "$N_A"
# shellcheck disable=SC2046
check 'each arrived exactly once, content and envelope intact' \
    "$HS_PYTHON" "$HS_LIB/sinkcheck.py" "$HS_TMP/A.json" $(sink_messages A)
check_eq 'A holds nothing now' "$(hold_count A)" 0

# --- B: straight through ---------------------------------------------------
check "$N_B varied messages sent into B" send B "$B_SMTP_PORT" "$N_B" b
check "all $N_B arrive at B's sink" wait_sink B "$N_B"
# shellcheck disable=SC2046
check 'B: each exactly once, intact' \
    "$HS_PYTHON" "$HS_LIB/sinkcheck.py" "$HS_TMP/B.json" $(sink_messages B)
check_eq 'B held nothing' "$(hold_count B)" 0
# shellcheck disable=SC2046
check "A's sink still holds A's messages only" \
    "$HS_PYTHON" "$HS_LIB/sinkcheck.py" "$HS_TMP/A.json" $(sink_messages A)

# --- C: long queue ids, hashed hold queue ----------------------------------
check 'sandbox C starts (long ids, hold hashed at depth 2)' sb_start C \
    enable_long_queue_ids=yes hash_queue_names=hold,incoming,deferred,defer \
    hash_queue_depth=2
if [ -z "${C_DIR:-}" ]; then
	bail_out "sandbox C does not start"
fi
check "$N_C varied messages sent into C" send C "$C_SMTP_PORT" "$N_C" c
check "all $N_C land in C's hold queue" wait_hold C "$N_C"
check_eq 'every held file sits two directory levels below hold' \
    "$(find "$C_QUEUE/hold" -mindepth 3 -maxdepth 3 -type f | wc -l)" "$N_C"
# shellcheck disable=SC2046
check 'long ids carry their inode and time, hashed by their microseconds' \
    "$HS_PYTHON" "$HS_LIB/queueid.py" --long --depth 2 "$C_QUEUE/hold" \
    $(hold_files C)
# shellcheck disable=SC2046
check_eq 'postcat -q reads every held message' \
    "$(held_tokens "$C_CONFIG" $(hold_files C))" \
    "$(manifest_field "$HS_TMP/C.json" token)"
check 'postsuper -H ALL releases them' postsuper -c "$C_CONFIG" -H ALL
check "all $N_C arrive at the sink" wait_sink C "$N_C"
# shellcheck disable=SC2046
check 'C: each exactly once, intact' \
    "$HS_PYTHON" "$HS_LIB/sinkcheck.py" "$HS_TMP/C.json" $(sink_messages C)

# --- stop: nothing left behind ---------------------------------------------
pids=
dirs=
for name in A B C; do
	pids="$pids $(sh "$SANDBOX" pids "$(sb_dir "$name")")"
	dirs="$dirs $(sb_dir "$name")"
done
# Each instance: master, pickup, qmgr, postlogd at least, and the sink.
[ "$(echo "$pids" | wc -w)" -ge 15 ] &&
    echo "$pids" | grep -qw "$A_SINK_PID" &&
    echo "$pids" | grep -qw "$(tr -d ' ' <"$A_QUEUE/pid/master.pid")"
ok $? 'the instances have running processes (masters, children, sinks)'
stop_all() {
	sb_stop A && sb_stop B && sb_stop C
}
check 'all three stop' stop_all
# shellcheck disable=SC2086
check_eq 'no process of theirs remains' "$(sh "$SANDBOX" running $pids)" ''
# shellcheck disable=SC2086
check_eq 'their directories are gone' "$(ls -d $dirs 2>/dev/null)" ''

done_testing
