#!/bin/sh
# 1530-farm-actions.t - actions across hosts on a farm's PostgreSQL
# (issue 15, item 4).
#
#  1. Schema version 2 (the requests table): holdscan db upgrade brings a
#     version-1 database up (one transaction), again does nothing; request
#     rows must name release or delete.
#  2. B's holdscand down: holdscan quarantine release on A of a message
#     quarantined on B writes a request row for B (with --to's
#     recipients and who asked), waits --wait, says the request is
#     queued (exit 75); B back: it carries it out, once (one delivery
#     at B's sink, to the --to address), and answers in the row.
#  3. B up: release on A prints "released on B as NEWID" (exit 0), one
#     delivery; delete on A: "deleted on B", the entry is deleted on B;
#     release of that deleted one: B's reason, exit 1. An id no host
#     has: no row, "no such message", exit 1.
#  4. A crash of B's holdscand after it claimed a request, before it
#     answered: made deterministic (B stopped; the row claimed by hand,
#     and for a second request the message released on B by hand too, as
#     if the crash came after the release), then B started: both are
#     answered, each message delivered exactly once, the second with the
#     queue id of its one release.
#  5. A real kill -9 of B's holdscand as soon as it has claimed a request
#     (a bounded race: before or after its release), started again: the
#     request answered, the message delivered exactly once.
#  6. holdscan quarantine list --all-hosts on A lists B's quarantined
#     messages from the database, each with its state (from the events
#     B shipped): released, deleted.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/pg.sh"

pg_available || skip_all "postgresql-15 is not installed (make deps)"
[ -f "$HS_BUILD/plugins/attachments.so" ] ||
    bail_out "no $HS_BUILD/plugins/attachments.so"

plan 42

TESTDATA="$HS_LIB/../tools/clamav-testdata.py"
MAIL="$HS_TMP/mail"
mkdir -p "$MAIL" || bail_out "mkdir $MAIL"
"$HS_PYTHON" - "$MAIL/blocked.eml" <<'PYTHON'
import sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "blocker@example.com"
m["To"] = "rcpt@example.net"
m["Subject"] = "the invoice you asked for"
m.set_content("see the attachment\n")
m.add_attachment(b"MZ not really a program " * 20, maintype="application",
                 subtype="octet-stream", filename="invoice.exe")
open(sys.argv[1], "wb").write(bytes(m))
PYTHON

pg_start P || bail_out "PostgreSQL did not start"
sb_start A || bail_out "sandbox A did not start"
sb_start B || bail_out "sandbox B did not start"
HOST_B=$(postconf -c "$B_CONFIG" -h myhostname)
CONF_A="$(sb_dir A)/hs/holdscan.conf"
CONF_B="$(sb_dir B)/hs/holdscan.conf"

for h in A B; do
	hs_conf $h >/dev/null <<-END
	scanners = attachments
	policy {
	    blocked = quarantine
	}
	rescan_interval = 1s
	database = "$P_PG_CONNINFO"
	END
done

# --- 1. the upgrade from version 1 ---------------------------------------------
# Version 1 is version 2 without the requests table: made by hand as an
# older holdscan left it.
"$HOLDSCAN" -c "$CONF_A" db init >"$HS_TMP/init" 2>&1
pg_sql P "DROP TABLE requests; UPDATE holdscan_schema SET version = 1"
check_eq 'a version-1 database' "$(pg_sql P \
    "SELECT version, to_regclass('requests') IS NULL FROM holdscan_schema")" \
    '1|t'
"$HOLDSCAN" -c "$CONF_A" db status >"$HS_TMP/status1" 2>&1
check 'db status: version 1 is old' grep -q \
    '^schema version: 1 (old: run holdscan db upgrade)$' "$HS_TMP/status1"
"$HOLDSCAN" -c "$CONF_A" db upgrade >"$HS_TMP/up" 2>&1
check_eq 'db upgrade: 1 -> 2' "$(cat "$HS_TMP/up")" \
    'schema version 2: upgraded from version 1'
check_eq 'the requests table is there, the version is 2' "$(pg_sql P \
    "SELECT version, to_regclass('requests') IS NOT NULL FROM holdscan_schema")" \
    '2|t'
"$HOLDSCAN" -c "$CONF_A" db upgrade >"$HS_TMP/up2" 2>&1
check_eq 'db upgrade again: nothing to do' "$(cat "$HS_TMP/up2")" \
    'schema version 2: already there'
pg_sql P "INSERT INTO requests (host, quarantine_id, action)
    VALUES ('x', 'y', 'expire')" >"$HS_TMP/bad" 2>&1
check 'an action other than release or delete is refused' \
    grep -q 'violates check constraint' "$HS_TMP/bad"
check_eq 'and one that is, kept' "$(pg_sql P "INSERT INTO requests
    (host, quarantine_id, action) VALUES ('x', 'y', 'delete')
    RETURNING claimed_at IS NULL AND done_at IS NULL")" t
pg_sql P "DELETE FROM requests" >/dev/null

# --- 2. B's holdscand down ------------------------------------------------------
hs_run B || bail_out "holdscand B did not start"
# quarantine_on_b - send one more blocked message to B; its quarantine id
quarantine_on_b() {
	_n=$(pg_sql P "SELECT count(*) FROM message_log
	    WHERE host = '$HOST_B' AND quarantine_id <> ''")
	"$HS_PYTHON" "$TESTDATA" send "127.0.0.1:$B_SMTP_PORT" \
	    blocker@example.com rcpt@example.net "$MAIL/blocked.eml" \
	    >>"$HS_TMP/sent" || bail_out "sending failed"
	wait_until 60 more_qids "$_n" || bail_out "B did not ship its record"
	pg_sql P "SELECT quarantine_id FROM message_log
	    WHERE host = '$HOST_B' AND quarantine_id <> '' ORDER BY seq DESC
	    LIMIT 1"
}
more_qids() {
	[ "$(pg_sql P "SELECT count(*) FROM message_log
	    WHERE host = '$HOST_B' AND quarantine_id <> ''")" -gt "$1" ]
}
state_on_b() {
	"$HOLDSCAN" -c "$CONF_B" quarantine show --json "$1" |
	    "$HS_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["state"])'
}
row() {
	pg_sql P "SELECT outcome, new_id, error FROM requests
	    WHERE quarantine_id = '$1' AND done_at IS NOT NULL"
}
answered() {
	[ -n "$(row "$1")" ]
}

Q1=$(quarantine_on_b)
hs_stop B
"$HOLDSCAN" -c "$CONF_A" quarantine release "$Q1" --to other@example.net \
    --wait 2s >"$HS_TMP/rel.out" 2>"$HS_TMP/rel.err"
check_eq 'B down: release on A waits 2 s, exit 75' $? 75
check 'it says the request is queued for B' grep -q \
    "^$Q1: request [0-9]* to release on $HOST_B is queued (no answer in 2s); it is carried out when holdscand on $HOST_B is back\$" \
    "$HS_TMP/rel.out"
check_eq 'the row: for B, release, the recipients, who asked, not claimed' \
    "$(pg_sql P "SELECT host, action, array_to_string(recipients, ','),
        requested_by LIKE 'root@%', claimed_at IS NULL FROM requests
        WHERE quarantine_id = '$Q1'")" \
    "$HOST_B|release|other@example.net|t|t"
check_eq 'the message is still held on B' "$(state_on_b "$Q1")" held
hs_run B || bail_out "holdscand B did not start again"
check 'B back: it answers the request' wait_until 30 answered "$Q1"
check 'it released the message: one delivery at B'"'"'s sink' wait_sink B 1 30
sleep 2
check_eq 'and only one' "$(sink_count B)" 1
check 'to the --to address' grep -rq '^X-Rcpt-Args: <other@example.net>' \
    "$B_SINK_DIR"
new1=$(row "$Q1" | cut -d'|' -f2)
check_eq 'the row: released, with the new queue id B logged' \
    "$(row "$Q1" | cut -d'|' -f1) $(hs_count_log B "$Q1: action=release request=[0-9]* requested_by=root@[^ ]* new_id=$new1")" \
    'released 1'

# --- 3. B up -----------------------------------------------------------------------
Q2=$(quarantine_on_b)
"$HOLDSCAN" -c "$CONF_A" quarantine release "$Q2" >"$HS_TMP/rel2.out" 2>&1
check_eq 'B up: release on A, exit 0' $? 0
new2=$(row "$Q2" | cut -d'|' -f2)
check_eq 'the tool prints the host and the new id' "$(cat "$HS_TMP/rel2.out")" \
    "$Q2: released on $HOST_B as $new2"
check 'delivered at B' wait_sink B 2 30
check_eq 'released on B' "$(state_on_b "$Q2")" released
Q3=$(quarantine_on_b)
"$HOLDSCAN" -c "$CONF_A" quarantine delete "$Q3" >"$HS_TMP/del.out" 2>&1
check_eq 'delete on A: exit 0' $? 0
check_eq 'it says so' "$(cat "$HS_TMP/del.out")" "$Q3: deleted on $HOST_B"
check_eq 'deleted on B' "$(state_on_b "$Q3")" deleted
"$HOLDSCAN" -c "$CONF_A" quarantine release "$Q3" >"$HS_TMP/rel3.out" \
    2>"$HS_TMP/rel3.err"
check_eq 'release of the deleted one: exit 1' $? 1
check_eq "the tool prints B's reason" "$(cat "$HS_TMP/rel3.err")" \
    "holdscan: $Q3: release on $HOST_B: not done: deleted; there is nothing to release"
"$HOLDSCAN" -c "$CONF_A" quarantine delete --wait 1s NOSUCHID \
    >"$HS_TMP/none.out" 2>&1
check_eq 'an id no host has: exit 1' $? 1
check 'no such message' grep -q \
    '^holdscan: NOSUCHID: no such message in the quarantine$' "$HS_TMP/none.out"

# --- 4. a crash after the claim ----------------------------------------------------
Q4=$(quarantine_on_b)
Q5=$(quarantine_on_b)
hs_stop B
for q in "$Q4" "$Q5"; do
	"$HOLDSCAN" -c "$CONF_A" quarantine release "$q" --wait 0s \
	    >/dev/null 2>&1
done
pg_sql P "UPDATE requests SET claimed_at = now()
    WHERE quarantine_id IN ('$Q4', '$Q5')" >/dev/null
# Q5: the crash came after B released it, before it answered.
"$HOLDSCAN" -c "$CONF_B" quarantine release "$Q5" >"$HS_TMP/rel5.out" 2>&1
new5=$(sed -n "s/^$Q5: released as \([A-Za-z0-9]*\)\$/\1/p" "$HS_TMP/rel5.out")
check 'B released Q5 before the "crash"' wait_sink B 3 30
hs_run B || bail_out "holdscand B did not start again"
check 'B back: both claimed requests answered' wait_until 30 answered "$Q5"
wait_until 30 answered "$Q4"
check_eq 'Q4 released, Q5 released with the id of its one release' \
    "$(row "$Q4" | cut -d'|' -f1) $(row "$Q5" | cut -d'|' -f1-2)" \
    "released released|$new5"
check 'B says it finished a claimed request' \
    hs_wait_log B 5 "$Q4: request=[0-9]* claimed before and not answered"
check 'four deliveries at B' wait_sink B 4 30
sleep 3
check_eq 'exactly four: each message once' "$(sink_count B)" 4
check_eq 'every request answered' "$(pg_sql P "SELECT count(*) FROM requests
    WHERE done_at IS NULL")" 0

# --- 5. kill -9 right after the claim --------------------------------------------
Q6=$(quarantine_on_b)
claimed() {
	[ "$(pg_sql P "SELECT count(*) FROM requests
	    WHERE quarantine_id = '$Q6' AND claimed_at IS NOT NULL")" = 1 ]
}
"$HOLDSCAN" -c "$CONF_A" quarantine release "$Q6" --wait 0s >/dev/null 2>&1
i=0
while [ $i -lt 500 ] && ! claimed; do
	i=$((i + 1))
done
hs_kill9 B
check 'B claimed it, and was killed' claimed
diag "killed B after the claim; answered before the kill: $(row "$Q6")"
hs_run B || bail_out "holdscand B did not start again"
check 'B back: the request answered' wait_until 30 answered "$Q6"
check_eq 'released' "$(row "$Q6" | cut -d'|' -f1)" released
check 'five deliveries at B' wait_sink B 5 30
sleep 3
check_eq 'exactly five: the killed one once' "$(sink_count B)" 5

# --- 6. list --all-hosts ------------------------------------------------------------
states() {
	"$HOLDSCAN" -c "$CONF_A" quarantine list --all-hosts --json |
	    "$HS_PYTHON" -c '
import json, sys
d = {(r["host"], r["id"]): r["state"] for r in json.load(sys.stdin)}
print(" ".join(d.get((sys.argv[1], q), "-") for q in sys.argv[2:]))' \
	    "$HOST_B" "$Q1" "$Q2" "$Q3" "$Q6"
}
shipped_states() {
	[ "$(states)" = "released released deleted released" ]
}
check 'list --all-hosts on A: B'"'"'s messages, with their states' \
    wait_until 30 shipped_states
"$HOLDSCAN" -c "$CONF_A" quarantine list --all-hosts >"$HS_TMP/all.txt" 2>&1
check_eq 'in text, one line each, beginning with the host' \
    "$(grep -c "^$HOST_B 20" "$HS_TMP/all.txt")" 6
"$HOLDSCAN" -c "$CONF_A" quarantine list --all-hosts --state held \
    >/dev/null 2>&1
check_eq '--all-hosts takes --json only (exit 2)' $? 2

done_testing
