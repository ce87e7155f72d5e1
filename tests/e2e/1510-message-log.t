#!/bin/sh
# 1510-message-log.t - the message log, holdscan log and holdscan trace,
# on real Postfix with holdscand (issue 15, items 1 and 2).
#
#  1. A clean message, an EICAR (the tests' own signature) and a blocked
#     attachment: holdscan log lists all three with their verdict,
#     action, sender and recipient; --json parses, with the fields;
#     --sender, --verdict, --action, --since, --until, --limit filter.
#  2. holdscan trace by the original id, by the new id and by the
#     quarantine id tells the story; an id holdscan never saw is said so
#     (exit 1).
#  3. holdscand killed with SIGKILL while it works through 60 held
#     messages, then started again: every message reaches the sink once,
#     and the log has exactly one record per delivered message (its
#     original queue id once, its new id the one the sink got).
#     Killed (fault shim) at the first rename into incoming, after the
#     batch's intent and records were committed: the records are there;
#     recovery takes the batch back to hold and its records with it; the
#     rescan logs each message once.
#  4. A release of the quarantined EICAR: trace shows it, with its new id.
#  5. A short message_log_retention: holdscand prunes the old records.
#     A message set aside (too large) has no record: trace says it is
#     set aside, not finished.
#  6. A damaged msglog.db does not stop the mail: holdscand says the log
#     is off and delivers; holdscan log says it cannot read it; the
#     quarantine commands work.
#  7. message_log = no: mail flows, nothing is logged, and trace says
#     why it knows nothing.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

TESTDATA="$HS_LIB/../tools/clamav-testdata.py"
[ -r /usr/share/clamav-testfiles/clam.zip ] ||
    skip_all "clamav-testfiles is not installed (make deps)"
[ -f "$HS_BUILD/plugins/clamav.so" ] || bail_out "no $HS_BUILD/plugins/clamav.so"

plan 50

SIGS="$HS_TMP/sigs"
MAIL="$HS_TMP/mail"
if ! "$HS_PYTHON" "$TESTDATA" sigs "$SIGS" ||
    ! "$HS_PYTHON" "$TESTDATA" mail "$MAIL"; then
	bail_out "clamav-testdata.py failed"
fi
# A message with an .exe attachment, which the attachments plugin blocks.
"$HS_PYTHON" - "$MAIL/blocked.eml" <<'EOF'
import sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "blocker@example.com"
m["To"] = "rcpt@example.net"
m["Subject"] = "the invoice you asked for"
m["X-Test-Token"] = "blocked-1"
m.set_content("see the attachment\n")
m.add_attachment(b"MZ not really a program " * 20, maintype="application",
                 subtype="octet-stream", filename="invoice.exe")
open(sys.argv[1], "wb").write(bytes(m))
EOF

sb_start A || bail_out "sandbox did not start"
conf() {
	hs_conf A >/dev/null <<EOF
scanners = "clamav, attachments"
plugin clamav {
    database_directory = $SIGS
    cache = no
}
policy {
    infected = quarantine
    blocked = quarantine
}
rescan_interval = 1s
$1
EOF
}
conf ""
hs_run A || bail_out "holdscand did not start"

hslog() {
	"$HOLDSCAN" -c "$A_HS_CONF" log "$@"
}
trace() {
	"$HOLDSCAN" -c "$A_HS_CONF" trace "$@"
}
# send FROM TO NAME... - "NAME.eml QUEUEID" for each
send() {
	_s_from=$1
	_s_to=$2
	shift 2
	_s_files=
	for _s in "$@"; do
		_s_files="$_s_files $MAIL/$_s.eml"
	done
	# shellcheck disable=SC2086
	"$HS_PYTHON" "$TESTDATA" send "127.0.0.1:$A_SMTP_PORT" \
	    "$_s_from" "$_s_to" $_s_files
}
qid() {
	sed -n "s/^$1\.eml //p" "$HS_TMP/sent"
}
# jsonq EXPR - EXPR (python, d = the JSON on stdin) printed
jsonq() {
	"$HS_PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
print(" ".join(str(x) for x in r) if isinstance(r, list) else r)' "$1"
}
records() {
	[ "$(hslog --json | jsonq 'len(d)')" -ge "$1" ]
}

# --- 1. three messages, three records --------------------------------------
{
	send clean@example.org rcpt@example.net clean
	send sender@example.org rcpt@example.net eicar-plain
	send blocker@example.com rcpt@example.net blocked
} >"$HS_TMP/sent" || bail_out "sending failed"
clean_id=$(qid clean)
eicar_id=$(qid eicar-plain)
blocked_id=$(qid blocked)
check 'the log has a record for each of the three' wait_until 60 records 3
hslog >"$HS_TMP/log.txt" 2>&1
check_eq 'one line per message' "$(wc -l <"$HS_TMP/log.txt")" 3
check 'the clean message: delivered, from its sender to its recipient' \
    grep -Eq "^[-0-9]+ [0-9:]+ +$clean_id +[A-Za-z0-9]+ +clean +deliver +clean@example.org +rcpt@example.net" \
    "$HS_TMP/log.txt"
check 'the EICAR: infected, quarantined' \
    grep -Eq " $eicar_id +[A-Za-z0-9_.-]+ +infected +quarantine +sender@example.org +rcpt@example.net" \
    "$HS_TMP/log.txt"
check 'the attachment: blocked, quarantined' \
    grep -Eq " $blocked_id +[A-Za-z0-9_.-]+ +blocked +quarantine +blocker@example.com +rcpt@example.net +the invoice you asked for" \
    "$HS_TMP/log.txt"
check_eq 'newest first' "$(awk '{ print $3 }' "$HS_TMP/log.txt" | tr '\n' ' ')" \
    "$blocked_id $eicar_id $clean_id "
hslog --json >"$HS_TMP/log.json"
check_eq '--json parses, with the fields of each' "$(jsonq '[
    (e["queue_id"], e["verdict"], e["action"], e["sender"], e["recipients"][0],
     bool(e["new_id"]), bool(e["quarantine_id"]), e["host"] != "",
     e["size"] > 0, "clamav=" in e["plugins"])
    for e in d]' <"$HS_TMP/log.json" | sed 's/), (/) (/g' | tr -d "'")" \
    "($blocked_id, blocked, quarantine, blocker@example.com, rcpt@example.net, False, True, True, True, True) ($eicar_id, infected, quarantine, sender@example.org, rcpt@example.net, False, True, True, True, True) ($clean_id, clean, deliver, clean@example.org, rcpt@example.net, True, False, True, True, True)"
check_eq 'the EICAR record names its signature' \
    "$(jsonq '[e["reason"] for e in d if e["verdict"] == "infected"]' <"$HS_TMP/log.json")" \
    "Holdscan.Test.EICAR.UNOFFICIAL"
check_eq 'the client address is in the record' \
    "$(jsonq '[e["client_address"] for e in d][0]' <"$HS_TMP/log.json")" \
    "127.0.0.1"
check_eq '--sender CLEAN@example.org: the clean one' \
    "$(hslog --json --sender CLEAN@example.org | jsonq '[e["queue_id"] for e in d]')" \
    "$clean_id"
check_eq '--verdict infected: the EICAR' \
    "$(hslog --json --verdict infected | jsonq '[e["queue_id"] for e in d]')" \
    "$eicar_id"
check_eq '--action quarantine --recipient <rcpt@example.net>: two' \
    "$(hslog --json --action quarantine --recipient '<rcpt@example.net>' | jsonq 'len(d)')" 2
check_eq '--since 1h: all three' "$(hslog --since 1h | wc -l)" 3
check_eq '--until 1h: none' "$(hslog --until 1h | wc -l)" 0
check_eq '--limit 1: the newest' "$(hslog --limit 1 | awk '{ print $3 }')" \
    "$blocked_id"

# --- 2. trace ------------------------------------------------------------------
clean_new=$(jsonq '[e["new_id"] for e in d if e["verdict"] == "clean"]' <"$HS_TMP/log.json")
eicar_qid=$(jsonq '[e["quarantine_id"] for e in d if e["verdict"] == "infected"]' <"$HS_TMP/log.json")
trace "$clean_id" >"$HS_TMP/t1" 2>&1
check "trace $clean_id (original id): held, verdict, delivered as the new id" \
    sh -c "grep -q 'held in the hold queue as $clean_id' '$HS_TMP/t1' &&
    grep -q 'verdict=clean action=deliver' '$HS_TMP/t1' &&
    grep -q 'plugins: clamav=clean' '$HS_TMP/t1' &&
    grep -q 'delivered as $clean_new' '$HS_TMP/t1'"
trace "$clean_new:" >"$HS_TMP/t2" 2>&1
check_eq "trace $clean_new: (new id, as Postfix logs it): the same story" \
    "$(cat "$HS_TMP/t2")" "$(cat "$HS_TMP/t1")"
trace "$eicar_qid" >"$HS_TMP/t3" 2>&1
check "trace $eicar_qid (quarantine id): infected, quarantined" \
    sh -c "grep -q '^$eicar_id: message log record' '$HS_TMP/t3' &&
    grep -q 'verdict=infected action=quarantine reason=\"Holdscan.Test.EICAR' '$HS_TMP/t3' &&
    grep -q 'quarantined as $eicar_qid' '$HS_TMP/t3'"
trace NOSUCHID123 >"$HS_TMP/t4" 2>&1
check_eq 'trace of an id holdscan never saw: exit 1' "$?" 1
check 'trace says it was not seen' grep -q \
    'NOSUCHID123: not seen by holdscan' "$HS_TMP/t4"

# --- 3. kill -9 in the middle of the flow --------------------------------------
hs_stop A
conf "batch_max_messages = 10"
"$HS_PYTHON" "$HS_LIB/sendmail.py" --token-prefix k --count 200 \
    --manifest "$HS_TMP/k.manifest" "127.0.0.1:$A_SMTP_PORT" \
    >"$HS_TMP/send.k" 2>&1 || bail_out "sendmail.py failed"
held200() {
	[ "$(hold_count A)" -ge 200 ]
}
check 'the 200 wait in hold' wait_until 60 held200
# Three times: start, wait for a batch or two, kill -9.
middle=0
for round in 1 2 3; do
	hs_run A || bail_out "holdscand did not start"
	before=$(hs_count_log A 'batch=[0-9]+ messages=')
	more_batches() {
		[ "$(hs_count_log A 'batch=[0-9]+ messages=')" -gt "$before" ]
	}
	wait_until 30 more_batches
	hs_kill9 A
	left=$(hold_count A)
	claimed=$(find "$A_QUEUE/holdscan/claimed" -type f | wc -l)
	diag "round $round: killed with $left in hold and $claimed claimed"
	[ "$claimed" -gt 0 ] && middle=$((middle + 1))
done
check 'the kills came in the middle: messages were claimed' \
    test "$middle" -gt 0
check 'holdscand starts again after the kills' hs_run A
hold_empty() {
	[ "$(hold_count A)" -eq 0 ]
}
sink_count() {
	[ "$(sink_messages A | wc -l)" -ge "$1" ]
}
check 'hold empties' wait_until 120 hold_empty
check 'all 201 clean messages reach the sink' wait_until 120 sink_count 201
sleep 2
hslog --json --action deliver >"$HS_TMP/k.json"
check_eq 'one deliver record per message at the sink' \
    "$(jsonq 'len(d)' <"$HS_TMP/k.json")" "$(sink_messages A | wc -l)"
check_eq 'each queue id that was sent: exactly one record' \
    "$(jsonq '[q for q in sorted(e["queue_id"] for e in d)]' <"$HS_TMP/k.json" |
    tr ' ' '\n' | grep -v "^$clean_id\$" | tr '\n' ' ')" \
    "$(manifest_field "$HS_TMP/k.manifest" queue_id | tr '\n' ' ')"
check_eq 'the new ids are all different' \
    "$(jsonq 'len(set(e["new_id"] for e in d))' <"$HS_TMP/k.json")" \
    "$(jsonq 'len(d)' <"$HS_TMP/k.json")"

# Killed just after the journal transaction: recovery rolls back.
if [ -f "$HS_BUILD/tests/fault/libfaultshim.so" ]; then
	HS_FAULT_FILE="$HS_TMP/faults"
	HS_FAULT_LOG="$HS_TMP/faults.log"
	export HS_FAULT_FILE HS_FAULT_LOG
	: >"$HS_FAULT_FILE"
	: >"$HS_FAULT_LOG"
	chmod 0666 "$HS_FAULT_LOG"
	hs_stop A
	"$HS_PYTHON" "$HS_LIB/sendmail.py" --token-prefix u --count 5 \
	    --manifest "$HS_TMP/u.manifest" "127.0.0.1:$A_SMTP_PORT" \
	    >"$HS_TMP/send.u" 2>&1 || bail_out "sendmail.py failed"
	held5() {
		[ "$(hold_count A)" -ge 5 ]
	}
	wait_until 180 held5 || bail_out "messages did not reach hold"
	echo 'rename KILL 1 /incoming/' >"$HS_FAULT_FILE"
	HS_PRELOAD="$HS_BUILD/tests/fault/libfaultshim.so" hs_run A \
	    >/dev/null 2>&1 || true
	wait_until 60 sh -c "! kill -0 $A_HS_PID 2>/dev/null"
	wait "$A_HS_PID" 2>/dev/null
	A_HS_PID=
	: >"$HS_FAULT_FILE"
	check 'killed at the first rename into incoming' grep -q KILL \
	    "$HS_FAULT_LOG"
	u_ids=$(manifest_field "$HS_TMP/u.manifest" queue_id | tr '\n' ' ')
	u_records() {
		hslog --json | "$HS_PYTHON" -c 'import json, sys
ids = set(sys.argv[1].split())
print(len([e for e in json.load(sys.stdin) if e["queue_id"] in ids]))' "$u_ids"
	}
	check_eq 'the intent transaction wrote their records' "$(u_records)" 5
	hs_run A || bail_out "holdscand did not start"
	u_delivered() {
		[ "$(sink_messages A | xargs -r grep -l '^X-Test-Token: u-' |
		    wc -l)" -ge 5 ]
	}
	check 'recovered and scanned again, the 5 are delivered' \
	    wait_until 60 u_delivered
	sleep 1
	check_eq 'one record each: the rolled back ones are gone' \
	    "$(u_records)" 5
	check 'recovery said it returned them to hold' wait_until 60 grep -q \
	    'recovery: batch interrupted before delivery; returned to hold' \
	    "$A_HS_LOG"
else
	skip 'fault shim not built' 4
fi

# --- 4. release ------------------------------------------------------------------
"$HOLDSCAN" -c "$A_HS_CONF" quarantine release "$eicar_qid" >"$HS_TMP/rel" 2>&1
released_as=$(sed -n "s/^$eicar_qid: released as \([A-Za-z0-9]*\).*/\1/p" "$HS_TMP/rel")
check "release of $eicar_qid gives a new id" test -n "$released_as"
trace "$eicar_id" >"$HS_TMP/t5" 2>&1
check 'trace shows the release with its new id' grep -q \
    "released from the quarantine as $released_as" "$HS_TMP/t5"
trace "$released_as" >"$HS_TMP/t6" 2>&1
check_eq "trace $released_as (the released copy's id): the same story" \
    "$(cat "$HS_TMP/t6")" "$(cat "$HS_TMP/t5")"
check_eq 'and --json has the event' \
    "$(trace --json "$eicar_qid" | jsonq '[v["kind"] + ":" + v["new_id"] for v in d[0]["events"]]')" \
    "released:$released_as"

# --- 5. retention ----------------------------------------------------------------
hs_stop A
conf "message_log_retention = 2s
message_size_limit = 20k"
sleep 3
check 'holdscand starts with a retention of 2s' hs_run A
no_records() {
	[ "$(hslog --json | jsonq 'len(d)')" -eq 0 ]
}
check 'the old records are pruned' wait_until 30 no_records
check 'holdscand says so' grep -Eq \
    'message log: [0-9]+ records older than message_log_retention removed' \
    "$A_HS_LOG"
# A message set aside (too large to scan) is not finished: no record.
big_id=$(send big@example.org rcpt@example.net clean-50k | sed -n 's/^clean-50k\.eml //p')
check "trace $big_id (set aside): exit 0" wait_until 30 trace "$big_id"
trace "$big_id" >"$HS_TMP/t7" 2>&1
check 'trace says it is set aside, not finished' grep -q \
    "^$big_id: not finished: set aside in the hold queue since .*, 1 attempt: scan-failed" \
    "$HS_TMP/t7"

# --- 6. a damaged message log ----------------------------------------------------
hs_stop A
head -c 8192 /dev/urandom >"$A_DIR/hs/state/msglog.db"
check 'holdscand starts with a damaged msglog.db' hs_run A
check 'and says the message log is off' wait_until 60 grep -q \
    'the message log is off until holdscand can open it' "$A_HS_LOG"
before=$(sink_messages A | wc -l)
send clean@example.org rcpt@example.net clean >/dev/null ||
    bail_out "sending failed"
check 'mail still flows' wait_until 60 sink_count $((before + 1))
hslog >"$HS_TMP/damaged" 2>&1
check 'holdscan log says it cannot read the log (exit 1)' sh -c \
    "[ $? -eq 1 ] && grep -q 'the message log cannot be read' '$HS_TMP/damaged'"
check 'holdscan quarantine list works all the same' \
    "$HOLDSCAN" -c "$A_HS_CONF" quarantine list

# --- 7. message_log = no ---------------------------------------------------------
hs_stop A
rm -f "$A_DIR/hs/state"/msglog*.db
conf "message_log = no"
check 'holdscand starts with message_log = no' hs_run A
before=$(sink_messages A | wc -l)
off_id=$(send off@example.org rcpt@example.net clean | sed -n 's/^clean\.eml //p')
check 'mail flows' wait_until 60 sink_count $((before + 1))
trace "$off_id" >"$HS_TMP/t8" 2>&1
check 'nothing is logged, and trace says why' sh -c \
    "[ $? -eq 1 ] && [ \"\$(\"$HOLDSCAN\" -c '$A_HS_CONF' log | wc -l)\" -eq 0 ] &&
    grep -q '^holdscan: $off_id: not seen by holdscan (.*; message_log = no)' '$HS_TMP/t8'"
