#!/bin/sh
# 1530-farm-actions.t - actions across hosts on a farm's PostgreSQL
# (issue 15, item 4).
#
#  1. Schema version 5: holdscan db upgrade brings a version-3 database
#     (with a request row in it) up, in one transaction: version 4's
#     preview action and its columns, the row kept; a version-2 database
#     (with a log row) up: the index on the lowered recipients is there
#     and finds the row, and version 5's indexes (the recipients'
#     domains, the quarantined rows, time and verdict); again it does
#     nothing; a version-1 database (no requests table) comes up too.
#     Request rows must name release, delete or preview.
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
#  7. Its filters (--state, --recipient any case, --sender, --verdict,
#     --since, --until) select in SQL; quarantine show on A of B's
#     message: its host and what B shipped (text and JSON: state
#     released with the new id); trace on A of B's quarantine id and of
#     its release's queue id: B's record and its release; an id no host
#     has: exit 1.
#  8. The plans (50,000 more rows, analyzed; auto_explain in the
#     private cluster): log --recipient, --sender, --since/--until,
#     trace and quarantine list --all-hosts --recipient each use their
#     index, and no query reads the table whole.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/pg.sh"

pg_available || skip_all "postgresql-15 is not installed (make deps)"
[ -f "$HS_BUILD/plugins/attachments.so" ] ||
    bail_out "no $HS_BUILD/plugins/attachments.so"

plan 73

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

# --- 1. the upgrade from versions 3, 2 and 1 ------------------------------------
# Version 4 is version 5 with version 1's index on the time and without
# version 5's indexes; version 3 is version 4 without the preview action,
# its columns and its index; version 2 is version 3 with version 1's index
# on the recipients as they are instead of holdscan_lower() and the index
# on release_ids: made by hand as the previous holdscans left them.
to_version4() {
	pg_sql P "DROP INDEX message_log_recipient_domains;
	    DROP INDEX IF EXISTS message_log_quarantined_trgm;
	    DROP INDEX message_log_quarantined;
	    DROP INDEX message_log_time_verdict;
	    DROP INDEX message_log_verdict_time;
	    DROP FUNCTION holdscan_domains(text[]);
	    DROP STATISTICS message_log_reason_lower, message_log_sender_lower,
	    message_log_subject_lower;
	    CREATE INDEX message_log_time ON message_log (time);
	    UPDATE holdscan_schema SET version = 4"
}
to_version3() {
	to_version4
	pg_sql P "DROP INDEX requests_preview;
	    ALTER TABLE requests DROP COLUMN content, DROP COLUMN truncated,
	    DROP CONSTRAINT requests_action_check,
	    ADD CONSTRAINT requests_action_check
	    CHECK (action IN ('release', 'delete'));
	    UPDATE holdscan_schema SET version = 3"
}
to_version2() {
	to_version3
	pg_sql P "DROP INDEX message_log_recipients_lower;
	    DROP INDEX message_log_release_ids;
	    DROP FUNCTION holdscan_lower(text[]);
	    CREATE INDEX message_log_recipients ON message_log
	    USING gin (recipients);
	    UPDATE holdscan_schema SET version = 2"
}
"$HOLDSCAN" -c "$CONF_A" db init >"$HS_TMP/init" 2>&1
to_version3
pg_sql P "INSERT INTO requests (host, quarantine_id, action)
    VALUES ('old.example', 'OLDQ', 'release')" >/dev/null
pg_sql P "INSERT INTO requests (host, quarantine_id, action)
    VALUES ('x', 'y', 'preview')" >"$HS_TMP/bad3" 2>&1
check 'a version-3 database: no preview requests' \
    grep -q 'violates check constraint' "$HS_TMP/bad3"
"$HOLDSCAN" -c "$CONF_A" db upgrade >"$HS_TMP/up3" 2>&1
check_eq 'db upgrade: 3 -> 5' "$(cat "$HS_TMP/up3")" \
    'schema version 5: upgraded from version 3'
check_eq 'version 5: a preview row with its bytes, the old row kept' \
    "$(pg_sql P "INSERT INTO requests (host, quarantine_id, action, content)
    VALUES ('x', 'y', 'preview', '\\x00ff'::bytea);
    SELECT version, to_regclass('requests_preview') IS NOT NULL,
    (SELECT string_agg(action || ':' || coalesce(encode(content, 'hex'),
    '-') || ':' || truncated, ' ' ORDER BY id) FROM requests)
    FROM holdscan_schema")" '5|t|release:-:false preview:00ff:false'
pg_sql P "DELETE FROM requests" >/dev/null
to_version2
pg_sql P "INSERT INTO message_log (host, seq, time, orig_id, recipients)
    VALUES ('old.example', 1, now(), 'OLDID', ARRAY['Old@Example.NET'])"
check_eq 'a version-2 database' "$(pg_sql P \
    "SELECT version, to_regprocedure('holdscan_lower(text[])') IS NULL,
    to_regclass('message_log_recipients') IS NOT NULL FROM holdscan_schema")" \
    '2|t|t'
"$HOLDSCAN" -c "$CONF_A" db status >"$HS_TMP/status2" 2>&1
check 'db status: version 2 is old' grep -q \
    '^schema version: 2 (old: run holdscan db upgrade)$' "$HS_TMP/status2"
"$HOLDSCAN" -c "$CONF_A" log >"$HS_TMP/log2" 2>&1
check 'holdscan log on a version-2 database: one warning, the local log' \
    grep -q '^holdscan\[[0-9]*\]: warning: database: the schema is version 2, not 5 (run holdscan db upgrade); showing the log of this host only$' \
    "$HS_TMP/log2"
"$HOLDSCAN" -c "$CONF_A" db upgrade >"$HS_TMP/up" 2>&1
check_eq 'db upgrade: 2 -> 5' "$(cat "$HS_TMP/up")" \
    'schema version 5: upgraded from version 2'
check_eq 'version 5: the new indexes, not the old ones, the row kept' \
    "$(pg_sql P "SELECT version, to_regclass('message_log_recipients_lower')
    IS NOT NULL, to_regclass('message_log_release_ids') IS NOT NULL,
    to_regclass('message_log_recipients') IS NULL,
    to_regclass('message_log_recipient_domains') IS NOT NULL AND
    to_regclass('message_log_quarantined') IS NOT NULL AND
    to_regclass('message_log_time_verdict') IS NOT NULL AND
    to_regclass('message_log_verdict_time') IS NOT NULL AND
    to_regclass('message_log_quarantined_trgm') IS NOT NULL AND
    to_regclass('message_log_time') IS NULL AND
    (SELECT count(*) FROM pg_statistic_ext WHERE stxname IN
    ('message_log_reason_lower', 'message_log_sender_lower',
    'message_log_subject_lower')) = 3,
    (SELECT count(*) FROM message_log) FROM holdscan_schema")" '5|t|t|t|t|1'
"$HOLDSCAN" -c "$CONF_A" log --recipient old@example.net --json \
    >"$HS_TMP/log3" 2>&1
check_eq 'holdscan log --recipient finds the old row, any case' \
    "$("$HS_PYTHON" -c 'import json, sys
print(" ".join(r["host"] + ":" + r["queue_id"] for r in json.load(open(sys.argv[1]))))' \
    "$HS_TMP/log3" 2>&1)" 'old.example:OLDID'
"$HOLDSCAN" -c "$CONF_A" db upgrade >"$HS_TMP/up2" 2>&1
check_eq 'db upgrade again: nothing to do' "$(cat "$HS_TMP/up2")" \
    'schema version 5: already there'
# Version 1: version 2 without the requests table.
to_version2
pg_sql P "DROP TABLE requests; UPDATE holdscan_schema SET version = 1"
"$HOLDSCAN" -c "$CONF_A" db upgrade >"$HS_TMP/up1" 2>&1
check_eq 'db upgrade: 1 -> 5' "$(cat "$HS_TMP/up1")" \
    'schema version 5: upgraded from version 1'
check_eq 'the requests table and the new index are there' "$(pg_sql P \
    "SELECT version, to_regclass('requests') IS NOT NULL,
    to_regclass('message_log_recipients_lower') IS NOT NULL
    FROM holdscan_schema")" '5|t|t'
pg_sql P "DELETE FROM message_log" >/dev/null
pg_sql P "INSERT INTO requests (host, quarantine_id, action)
    VALUES ('x', 'y', 'expire')" >"$HS_TMP/bad" 2>&1
check 'an action other than release, delete or preview is refused' \
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
	wait_until 180 more_qids "$_n" || bail_out "B did not ship its record"
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
check 'it released the message: one delivery at B'"'"'s sink' wait_sink B 1 90
sleep 2
check_eq 'and only one' "$(sink_count B)" 1
check 'to the --to address' grep -rq '^X-Rcpt-Args: <other@example.net>' \
    "$B_SINK_DIR"
new1=$(row "$Q1" | cut -d'|' -f2)
check_eq 'the row: released, with the new queue id B logged' \
    "$(row "$Q1" | cut -d'|' -f1) $(hs_count_log B "$Q1: action=release new_id=$new1 to=other@example.net by=root@[^ ]* via=request:[0-9]*")" \
    'released 1'

# --- 3. B up -----------------------------------------------------------------------
Q2=$(quarantine_on_b)
"$HOLDSCAN" -c "$CONF_A" quarantine release "$Q2" >"$HS_TMP/rel2.out" 2>&1
check_eq 'B up: release on A, exit 0' $? 0
new2=$(row "$Q2" | cut -d'|' -f2)
check_eq 'the tool prints the host and the new id' "$(cat "$HS_TMP/rel2.out")" \
    "$Q2: released on $HOST_B as $new2"
check 'delivered at B' wait_sink B 2 90
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
check 'B released Q5 before the "crash"' wait_sink B 3 90
hs_run B || bail_out "holdscand B did not start again"
check 'B back: both claimed requests answered' wait_until 30 answered "$Q5"
wait_until 30 answered "$Q4"
check_eq 'Q4 released, Q5 released with the id of its one release' \
    "$(row "$Q4" | cut -d'|' -f1) $(row "$Q5" | cut -d'|' -f1-2)" \
    "released released|$new5"
check 'B says it finished a claimed request' \
    hs_wait_log B 5 "$Q4: request=[0-9]* claimed before and not answered"
check 'four deliveries at B' wait_sink B 4 90
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
check 'five deliveries at B' wait_sink B 5 90
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
"$HOLDSCAN" -c "$CONF_A" quarantine list --all-hosts --reason x \
    >/dev/null 2>&1
check_eq '--all-hosts takes no --reason (exit 2)' $? 2

# --- 7. filters, show and trace across hosts -----------------------------------------
# One more on B from another sender to another recipient: held.
n=$(pg_sql P "SELECT count(*) FROM message_log
    WHERE host = '$HOST_B' AND quarantine_id <> ''")
"$HS_PYTHON" "$TESTDATA" send "127.0.0.1:$B_SMTP_PORT" \
    other-sender@example.com Someone@Example.NET "$MAIL/blocked.eml" \
    >>"$HS_TMP/sent" || bail_out "sending failed"
wait_until 180 more_qids "$n" || bail_out "B did not ship its record"
Q7=$(pg_sql P "SELECT quarantine_id FROM message_log
    WHERE host = '$HOST_B' AND quarantine_id <> '' ORDER BY seq DESC LIMIT 1")
# ids FILTERS... - the ids quarantine list --all-hosts FILTERS lists on A
ids() {
	"$HOLDSCAN" -c "$CONF_A" quarantine list --all-hosts --json "$@" |
	    "$HS_PYTHON" -c '
import json, sys
print(" ".join(sorted(r["id"] for r in json.load(sys.stdin))))'
}
sorted() {
	printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'
}
check_eq '--state held: the new one only' "$(ids --state held)" "$Q7"
check_eq '--state deleted' "$(ids --state deleted)" "$Q3"
check_eq '--recipient, any case' "$(ids --recipient someone@EXAMPLE.net)" "$Q7"
check_eq '--sender' "$(ids --sender BLOCKER@example.com)" \
    "$(sorted "$Q1" "$Q2" "$Q3" "$Q4" "$Q5" "$Q6")"
verdict7=$(pg_sql P "SELECT verdict FROM message_log
    WHERE quarantine_id = '$Q7'")
check_eq '--verdict (its verdict, in capitals), --since 1h' \
    "$(ids --verdict "$(echo "$verdict7" | tr '[:lower:]' '[:upper:]')" --since 1h \
    --sender other-sender@example.com)" "$Q7"
check_eq '--until a day ago: none' "$(ids --until 1d)" ''
check_eq '--verdict clean: none' "$(ids --verdict clean)" ''

"$HOLDSCAN" -c "$CONF_A" quarantine show "$Q7" >"$HS_TMP/show7" 2>&1
check_eq 'quarantine show on A of B'"'"'s message: exit 0' $? 0
check 'it says which host holds it' grep -q \
    "^host: *$HOST_B (from the farm's database; the file, its headers and body are on that host)\$" \
    "$HS_TMP/show7"
check 'held, from other-sender, to Someone' sh -c \
    "grep -q '^state: *held\$' '$HS_TMP/show7' &&
    grep -q '^sender: *<other-sender@example.com>\$' '$HS_TMP/show7' &&
    grep -q '^recipient: *<Someone@Example.NET>\$' '$HS_TMP/show7'"
check_eq 'show --json of a released one: host, state, its new id' \
    "$("$HOLDSCAN" -c "$CONF_A" quarantine show --json "$Q1" |
    "$HS_PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
print(d["host"], d["id"], d["state"], d["new_id"])')" \
    "$HOST_B $Q1 released $new1"

"$HOLDSCAN" -c "$CONF_A" trace "$Q1" >"$HS_TMP/trace1" 2>&1
check_eq 'trace on A of B'"'"'s message: exit 0' $? 0
check 'its record, of B, from the database' grep -q \
    "^[A-Za-z0-9]*: message log record [0-9]* of $HOST_B (from the farm's database: the message is on that host)\$" \
    "$HS_TMP/trace1"
check 'its release, with the new id' grep -q \
    " released from the quarantine as $new1" "$HS_TMP/trace1"
"$HOLDSCAN" -c "$CONF_A" trace "$new1" >"$HS_TMP/trace2" 2>&1
check_eq 'trace of the released copy'"'"'s queue id finds the same story' \
    "$(grep -c "of $HOST_B (from the farm" "$HS_TMP/trace2") $(grep -c "quarantined as $Q1" "$HS_TMP/trace2")" \
    '1 1'
"$HOLDSCAN" -c "$CONF_A" trace NOSUCHID >"$HS_TMP/trace3" 2>&1
check_eq 'trace of an id no host has: exit 1' $? 1

# --- 8. the plans: each filter on its index --------------------------------------------
# 50,000 rows of a made-up host (30 days, 5,000 senders, 7,000
# recipients), analyzed: on a table that size a query the index cannot
# answer scans the table. auto_explain logs the plan of every statement
# of a new session.
pg_sql P "INSERT INTO message_log (host, seq, time, orig_id, new_id,
    quarantine_id, sender, recipients, verdict, action)
    SELECT 'bulk.example', i, now() - i * interval '50 seconds', 'O' || i,
    CASE WHEN i % 10 = 0 THEN '' ELSE 'N' || i END,
    CASE WHEN i % 10 = 0 THEN 'Q' || i ELSE '' END,
    'sender' || i % 5000 || '@example.com',
    ARRAY['Rcpt' || i % 7000 || '@example.net', 'x' || i % 300 || '@example.org'],
    CASE WHEN i % 10 = 0 THEN 'blocked' ELSE 'clean' END, 'deliver'
    FROM generate_series(1, 50000) i; ANALYZE message_log" >/dev/null
cat >>"$P_PG_DIR/data/postgresql.conf" <<'END'
session_preload_libraries = 'auto_explain'
auto_explain.log_min_duration = 0
END
pg_sql P "SELECT pg_reload_conf()" >/dev/null
PGLOG="$P_PG_DIR/postgres.log"
# plan_of NAME ARGS... - holdscan ARGS on A; the server's log of its
# statements into $HS_TMP/plan.NAME
plan_of() {
	_from=$(wc -l <"$PGLOG")
	_name=$1
	shift
	"$HOLDSCAN" -c "$CONF_A" "$@" >"$HS_TMP/out.$_name" 2>&1
	sleep 0.5
	tail -n +"$((_from + 1))" "$PGLOG" >"$HS_TMP/plan.$_name"
}
plan_of rcpt log --recipient SOMEONE@example.net
check 'log --recipient: the GIN index on the lowered recipients' grep -q \
    'Bitmap Index Scan on message_log_recipients_lower' "$HS_TMP/plan.rcpt"
check_eq 'and it finds B'"'"'s message' "$(grep -c "$HOST_B" "$HS_TMP/out.rcpt")" 1
plan_of sender log --sender Sender77@example.com
check 'log --sender: the index on lower(sender)' grep -Eq \
    'Index Scan (on|using) message_log_sender' "$HS_TMP/plan.sender"
check_eq 'and it finds the 10 rows' "$(grep -c bulk.example "$HS_TMP/out.sender")" 10
plan_of time log --since 2d --until 1d
check 'log --since --until: the index on time' grep -Eq \
    'Index Scan (Backward )?(on|using) message_log_time' "$HS_TMP/plan.time"
plan_of trace trace "$new1"
check 'trace: the indexes of the ids and of release_ids' sh -c \
    "grep -q 'Bitmap Index Scan on message_log_release_ids' '$HS_TMP/plan.trace' &&
    grep -q 'Bitmap Index Scan on message_log_orig_id' '$HS_TMP/plan.trace'"
plan_of qrcpt quarantine list --all-hosts --recipient rcpt70@example.net
check 'quarantine list --all-hosts --recipient: the same index' grep -q \
    'Bitmap Index Scan on message_log_recipients_lower' "$HS_TMP/plan.qrcpt"
for f in rcpt sender time trace qrcpt; do
	grep -q 'Seq Scan on message_log' "$HS_TMP/plan.$f" &&
	    diag "$f: a sequential scan: $(cat "$HS_TMP/plan.$f")"
done
check_eq 'no query scanned message_log whole' \
    "$(cat "$HS_TMP"/plan.* | grep -c 'Seq Scan on message_log')" 0

done_testing
