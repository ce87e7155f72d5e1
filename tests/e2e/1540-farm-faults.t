#!/bin/sh
# 1540-farm-faults.t - a farm's faults (issue 15, item 5): a wrong
# password, PostgreSQL restarted in the middle of a request across hosts,
# and the owning host killed at exact points of the release it carries
# out for another host.
#
#  1. A wrong password (a role with scram-sha-256 in pg_hba.conf): A's
#     holdscand logs one line that says so (and never the password),
#     delivers its mail, logs it locally; holdscan log on A warns once
#     and shows the local log; db status exits 1. The right password:
#     connected, and every record waiting in the outbox arrives.
#  2. PostgreSQL restarted while a release of a message held on B,
#     issued on A with --wait, waits for B (B's holdscand frozen with
#     SIGSTOP until PostgreSQL is back, so that the restart comes between
#     the request and its claim): B's request thread reconnects and
#     finds the request, the tool on A reconnects and prints the answer
#     (exit 0), the message is delivered once.
#  3. PostgreSQL stopped as soon as B has claimed a request (a bounded
#     race: before or after B's release, its answer is lost either way),
#     started again: the request answered "released", delivered once.
#  4. B's holdscand killed by the fault shim at exact points of the
#     release it carries out for A's request: just before the rename of
#     the released copy into incoming (KILL), and just after it
#     (KILLAFTER). B started again: the claimed request is carried out
#     again, answered "released", the message delivered exactly once
#     and released once in B's quarantine index.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/pg.sh"

pg_available || skip_all "postgresql-15 is not installed (make deps)"
[ -f "$HS_BUILD/plugins/attachments.so" ] ||
    bail_out "no $HS_BUILD/plugins/attachments.so"
[ -f "$HS_BUILD/tests/fault/libfaultshim.so" ] ||
    skip_all "fault shim not built"

plan 30

TESTDATA="$HS_LIB/../tools/clamav-testdata.py"
MAIL="$HS_TMP/mail"
mkdir -p "$MAIL" || bail_out "mkdir $MAIL"
"$HS_PYTHON" - "$MAIL/blocked.eml" <<'PYTHON'
import sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "blocker@example.com"
m["To"] = "rcpt@example.net"
m["Subject"] = 'the "invoice" \\ you {asked}, for'  # quotes, a backslash
m.set_content("see the attachment\n")
m.add_attachment(b"MZ not really a program " * 20, maintype="application",
                 subtype="octet-stream", filename="invoice.exe")
open(sys.argv[1], "wb").write(bytes(m))
PYTHON

pg_start P || bail_out "PostgreSQL did not start"
sb_start A || bail_out "sandbox A did not start"
sb_start B || bail_out "sandbox B did not start"
HOST_A=$(postconf -c "$A_CONFIG" -h myhostname)
HOST_B=$(postconf -c "$B_CONFIG" -h myhostname)
CONF_A="$(sb_dir A)/hs/holdscan.conf"
CONF_B="$(sb_dir B)/hs/holdscan.conf"

# conf NAME CONNINFO - NAME's holdscan.conf with that database
conf() {
	hs_conf "$1" >/dev/null <<-END
	scanners = attachments
	policy {
	    blocked = quarantine
	}
	rescan_interval = 1s
	database = "$2"
	END
}
conf A "$P_PG_CONNINFO"
conf B "$P_PG_CONNINFO"
"$HOLDSCAN" -c "$CONF_A" db init >/dev/null 2>&1 ||
    bail_out "holdscan db init failed"

rows() {
	pg_sql P "SELECT count(*) FROM message_log WHERE host = '$1'"
}
rows_are() {
	[ "$(rows "$1")" = "$(sink_count "$2")" ]
}

# --- 1. a wrong password -------------------------------------------------------------
pg_sql P "CREATE ROLE hsauth LOGIN PASSWORD 'Right-Pw-1';
    GRANT ALL ON ALL TABLES IN SCHEMA public TO hsauth;
    GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO hsauth" >/dev/null
{
	echo 'local all hsauth scram-sha-256'
	cat "$P_PG_DIR/data/pg_hba.conf"
} >"$HS_TMP/hba" && cat "$HS_TMP/hba" >"$P_PG_DIR/data/pg_hba.conf"
pg_sql P "SELECT pg_reload_conf()" >/dev/null
sleep 1
conf A "host=$P_PG_DIR dbname=holdscan user=hsauth password=Wrong-Pw-9"
start=0
[ -f "$(sb_dir A)/hs/holdscand.log" ] &&
    start=$(wc -l <"$(sb_dir A)/hs/holdscand.log")
hs_run A || bail_out "holdscand A did not start with a wrong password"
smtp-source -s 2 -m 10 -l 400 -f pw@example.org -t rcpt@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1 || bail_out "smtp-source failed"
check 'a wrong password: A delivers its mail' wait_sink A 10 60
sleep 6
tail -n "+$((start + 1))" "$A_HS_LOG" | grep database >"$HS_TMP/pw.log"
check_eq 'one line about the database, which says why' \
    "$(wc -l <"$HS_TMP/pw.log") $(grep -c 'password authentication failed for user "hsauth"' "$HS_TMP/pw.log")" \
    '1 1'
check_eq 'the password is in no log line' \
    "$(grep -c 'Wrong-Pw-9' "$A_HS_LOG")" 0
"$HOLDSCAN" -c "$CONF_A" log --sender pw@example.org >"$HS_TMP/pw.out" \
    2>"$HS_TMP/pw.err"
check_eq 'holdscan log: exit 0, the 10 messages from the local log' \
    "$?:$(grep -c 'pw@example.org' "$HS_TMP/pw.out")" '0:10'
check_eq 'and one warning that says why' \
    "$(wc -l <"$HS_TMP/pw.err") $(grep -c 'password authentication failed.*showing the log of this host only' "$HS_TMP/pw.err")" \
    '1 1'
"$HOLDSCAN" -c "$CONF_A" db status >"$HS_TMP/pw.status" 2>&1
check_eq 'db status: exit 1' $? 1
hs_stop A
conf A "host=$P_PG_DIR dbname=holdscan user=hsauth password=Right-Pw-1"
hs_run A || bail_out "holdscand A did not start"
check 'the right password: connected' hs_wait_log A 10 'database: connected'
check 'the records that waited arrive' wait_until 30 rows_are "$HOST_A" A

# --- 2. PostgreSQL restarted between a request and its claim ------------------------
: >"$HS_TMP/rules"
: >"$HS_TMP/faults.log"
chmod 0666 "$HS_TMP/faults.log"
B_ENV="HS_FAULT_FILE=$HS_TMP/rules HS_FAULT_LOG=$HS_TMP/faults.log LD_PRELOAD=$HS_BUILD/tests/fault/libfaultshim.so"
run_b() {
	HS_ENV=$B_ENV hs_run B
}
run_b || bail_out "holdscand B did not start"
more_qids() {
	[ "$(pg_sql P "SELECT count(*) FROM message_log
	    WHERE host = '$HOST_B' AND quarantine_id <> ''")" -gt "$1" ]
}
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
row() {
	pg_sql P "SELECT outcome, new_id, error FROM requests
	    WHERE quarantine_id = '$1' AND done_at IS NOT NULL"
}
answered() {
	[ -n "$(row "$1")" ]
}
requested() {
	[ "$(pg_sql P "SELECT count(*) FROM requests
	    WHERE quarantine_id = '$1'")" = 1 ]
}
claimed() {
	[ "$(pg_sql P "SELECT count(*) FROM requests
	    WHERE quarantine_id = '$1' AND claimed_at IS NOT NULL")" = 1 ]
}
releases_on_b() {
	"$HOLDSCAN" -c "$CONF_B" quarantine show --json "$1" |
	    "$HS_PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
print(d["state"], d["releases"], d["new_id"])'
}

Q1=$(quarantine_on_b)
check_eq 'a subject with quotes, a backslash, braces and a comma arrives as it is' \
    "$(pg_sql P "SELECT subject FROM message_log WHERE quarantine_id = '$Q1'")" \
    'the "invoice" \ you {asked}, for'
before=$(sink_count B)
kill -STOP "$B_HS_PID"
"$HOLDSCAN" -c "$CONF_A" quarantine release "$Q1" --wait 60s \
    >"$HS_TMP/r1.out" 2>"$HS_TMP/r1.err" &
tool=$!
wait_until 60 requested "$Q1" || diag "no request row for $Q1"
pg_stop P
sleep 1
pg_start P || bail_out "PostgreSQL did not start again"
kill -CONT "$B_HS_PID"
wait "$tool"
check_eq 'PostgreSQL restarted mid-request: the tool on A waited it out (exit 0)' \
    $? 0
new1=$(row "$Q1" | cut -d'|' -f2)
check_eq 'and prints the answer' "$(cat "$HS_TMP/r1.out")" \
    "$Q1: released on $HOST_B as $new1"
check 'B delivered it' wait_sink B $((before + 1)) 30
sleep 2
check_eq 'once' "$(sink_count B)" $((before + 1))

# --- 3. PostgreSQL stopped right after the claim -----------------------------------------
Q2=$(quarantine_on_b)
before=$(sink_count B)
"$HOLDSCAN" -c "$CONF_A" quarantine release "$Q2" --wait 0s >/dev/null 2>&1
i=0
while [ $i -lt 500 ] && ! claimed "$Q2"; do
	i=$((i + 1))
done
pg_stop P
diag "PostgreSQL stopped after the claim; B's log since: $(grep -c "$Q2: action=release" "$B_HS_LOG") release line(s)"
sleep 2
pg_start P || bail_out "PostgreSQL did not start again"
check 'back: the claimed request is answered' wait_until 30 answered "$Q2"
check_eq 'released' "$(row "$Q2" | cut -d'|' -f1)" released
check 'B delivered it' wait_sink B $((before + 1)) 30
sleep 2
check_eq 'once' "$(sink_count B)" $((before + 1))

# --- 4. B killed at exact points of the release -------------------------------------------
# killed_round NAME RULE - a release on A of a message held on B, with B
# killed by RULE in its release path; B started again
killed_round() {
	_q=$(quarantine_on_b)
	_before=$(sink_count B)
	echo "$2" >"$HS_TMP/rules"
	: >"$HS_TMP/faults.log"
	sleep 0.3
	"$HOLDSCAN" -c "$CONF_A" quarantine release "$_q" --wait 0s \
	    >/dev/null 2>&1
	_pid=$B_HS_PID
	wait_until 30 sh -c "! kill -0 $_pid 2>/dev/null"
	wait "$_pid" 2>/dev/null
	check "$1: B was killed in its release (the shim's KILL line)" \
	    grep -q "KILL.*/incoming/" "$HS_TMP/faults.log"
	check_eq "$1: the request is claimed, not answered" \
	    "$(claimed "$_q" && echo claimed) $(answered "$_q" || echo open)" \
	    'claimed open'
	: >"$HS_TMP/rules"
	run_b || bail_out "holdscand B did not start again"
	check "$1: B back: the request answered" wait_until 30 answered "$_q"
	_new=$(row "$_q" | cut -d'|' -f2)
	check_eq "$1: released, once in B's index, with the id of that release" \
	    "$(row "$_q" | cut -d'|' -f1) $(releases_on_b "$_q")" \
	    "released released 1 $_new"
	check "$1: delivered" wait_sink B $((_before + 1)) 30
	sleep 3
	check_eq "$1: exactly once" "$(sink_count B)" $((_before + 1))
}
killed_round 'before the rename into incoming' 'rename KILL 1 /incoming/'
killed_round 'after the rename into incoming' 'rename KILLAFTER 1 /incoming/'
check_eq 'every request answered' "$(pg_sql P "SELECT count(*) FROM requests
    WHERE done_at IS NULL")" 0

done_testing
