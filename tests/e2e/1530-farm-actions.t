#!/bin/sh
# 1530-farm-actions.t - actions across hosts on a farm's PostgreSQL
# (issue 15, item 4).
#
#  1. Schema version 2 (the requests table): holdscan db upgrade brings a
#     version-1 database up (one transaction), again does nothing; request
#     rows must name release or delete.
#  2. The tool's side of a request: a message quarantined on B, its
#     quarantine id unknown on A: holdscan quarantine release/delete on A
#     writes a request row for B (with --to's recipients and who asked),
#     waits --wait for the answer, and with none says the request is
#     queued (exit 75); with B's answer in the row (written here by
#     hand, as B's holdscand does not carry requests out yet) it prints
#     the outcome (exit 0) or B's error (exit 1). An id no host has: no
#     row, "no such message", exit 1.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/pg.sh"

pg_available || skip_all "postgresql-15 is not installed (make deps)"
[ -f "$HS_BUILD/plugins/attachments.so" ] ||
    bail_out "no $HS_BUILD/plugins/attachments.so"

plan 19

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

# --- 2. the tool's side of a request --------------------------------------------
hs_run B || bail_out "holdscand B did not start"
"$HS_PYTHON" "$TESTDATA" send "127.0.0.1:$B_SMTP_PORT" blocker@example.com \
    rcpt@example.net "$MAIL/blocked.eml" >"$HS_TMP/sent" ||
    bail_out "sending failed"
qid_b() {
	pg_sql P "SELECT quarantine_id FROM message_log
	    WHERE host = '$HOST_B' AND quarantine_id <> ''"
}
has_qid() {
	[ -n "$(qid_b)" ]
}
check 'B quarantines it, and ships its record' wait_until 60 has_qid
QID=$(qid_b)
"$HOLDSCAN" -c "$CONF_A" quarantine release "$QID" --to other@example.net \
    --wait 2s >"$HS_TMP/rel.out" 2>"$HS_TMP/rel.err"
check_eq 'release on A of a message of B: no answer in 2 s, exit 75' $? 75
check 'it says the request is queued for B' grep -q \
    "^$QID: request [0-9]* to release on $HOST_B is queued (no answer in 2s); it is carried out when holdscand on $HOST_B is back\$" \
    "$HS_TMP/rel.out"
check_eq 'the row: for B, release, the recipients, who asked, not claimed' \
    "$(pg_sql P "SELECT host, action, array_to_string(recipients, ','),
        requested_by LIKE 'root@%', claimed_at IS NULL FROM requests
        WHERE quarantine_id = '$QID'")" \
    "$HOST_B|release|other@example.net|t|t"
check_eq 'the message is still held on B' \
    "$("$HOLDSCAN" -c "$CONF_B" quarantine show --json "$QID" |
        "$HS_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["state"])')" \
    held
pg_sql P "DELETE FROM requests" >/dev/null

# answer SET - when a request row appears, answer it as B would
answer() {
	(
		i=0
		while [ $i -lt 100 ]; do
			id=$(pg_sql P "SELECT id FROM requests WHERE done_at IS NULL")
			if [ -n "$id" ]; then
				pg_sql P "UPDATE requests SET claimed_at = now(),
				    done_at = now(), $1 WHERE id = $id" >/dev/null
				exit 0
			fi
			sleep 0.1
			i=$((i + 1))
		done
	) &
	answer_pid=$!
}
answer "outcome = 'released', new_id = '4ZzZzZzZzZz'"
"$HOLDSCAN" -c "$CONF_A" quarantine release "$QID" >"$HS_TMP/rel2.out" 2>&1
check_eq 'B answers "released": exit 0' $? 0
check_eq 'the tool prints the host and the new id' "$(cat "$HS_TMP/rel2.out")" \
    "$QID: released on $HOST_B as 4ZzZzZzZzZz"
wait "$answer_pid"
answer "outcome = 'failed', error = 'deleted; there is nothing to release'"
"$HOLDSCAN" -c "$CONF_A" quarantine delete "$QID" >"$HS_TMP/del.out" \
    2>"$HS_TMP/del.err"
check_eq 'B answers "failed": exit 1' $? 1
check_eq "the tool prints B's error" "$(cat "$HS_TMP/del.err")" \
    "holdscan: $QID: delete on $HOST_B: not done: deleted; there is nothing to release"
wait "$answer_pid"
"$HOLDSCAN" -c "$CONF_A" quarantine delete --wait 1s NOSUCHID \
    >"$HS_TMP/none.out" 2>&1
check_eq 'an id no host has: exit 1' $? 1
check 'no such message' grep -q \
    '^holdscan: NOSUCHID: no such message in the quarantine$' "$HS_TMP/none.out"
check_eq 'requests: 2, both answered' "$(pg_sql P "SELECT count(*),
    count(done_at) FROM requests")" '2|2'

done_testing
