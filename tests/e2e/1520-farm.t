#!/bin/sh
# 1520-farm.t - a farm: two hosts ship their message logs to one private
# PostgreSQL 15 (issue 15, items 3 and 5).
#
#  1. holdscan db init creates the schema, and again (another host) does
#     nothing; so does db upgrade; holdscan db status says version 5.
#  2. Hosts A and B (two Postfix instances, two holdscands, different
#     myhostname) take mail: every message of both is in message_log
#     exactly once (rows per host = sink deliveries, no (host, queue id)
#     twice), and each says "connected" once.
#     holdscan log on A reads both hosts' records from the database,
#     with a host column.
#  3. A's holdscand killed with SIGKILL while it ships, started again:
#     still exactly once.
#  4. PostgreSQL stopped (by pid) for HS_PG_OUTAGE seconds (default 60)
#     under mail flow (ten messages to each host every 5 s): every round
#     is delivered while it is down, each host warns once, the outbox
#     metric grows; PostgreSQL back: one info line each, every row
#     arrives, no duplicates, the outbox is empty. While it is down,
#     holdscan log warns and shows the local log.
#  5. A database that does not exist: one line that says so, mail
#     delivered and logged locally (holdscan log), db status exits 1.
#     A conninfo libpq cannot parse: one line too.
#  6. A schema newer than this holdscan's: db upgrade refuses it, db
#     status says so.
#  7. A hung database (every PostgreSQL process stopped with SIGSTOP):
#     mail flows, holdscand stops at once all the same; thawed, every
#     row arrives once.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/pg.sh"

pg_available || skip_all "postgresql-15 is not installed (make deps)"

plan 42

pg_start P || bail_out "PostgreSQL did not start"
sb_start A || bail_out "sandbox A did not start"
sb_start B || bail_out "sandbox B did not start"
HOST_A=$(postconf -c "$A_CONFIG" -h myhostname)
HOST_B=$(postconf -c "$B_CONFIG" -h myhostname)
CONF_A="$(sb_dir A)/hs/holdscan.conf"
CONF_B="$(sb_dir B)/hs/holdscan.conf"
METRICS_A="$(sb_dir A)/hs/state/metrics.prom"

# conf NAME [CONNINFO [LINE]] - NAME's holdscan.conf with the farm's
# database
conf() {
	hs_conf "$1" >/dev/null <<-END
	rescan_interval = 1s
	database = "${2:-$P_PG_CONNINFO}"
	${3:-}
	END
}
conf A
conf B

# --- 1. the schema ---------------------------------------------------------------
"$HOLDSCAN" -c "$CONF_A" db init >"$HS_TMP/init1" 2>&1
check_eq 'db init creates the schema' "$(cat "$HS_TMP/init1")" \
    'schema version 5: created'
"$HOLDSCAN" -c "$CONF_B" db init >"$HS_TMP/init2" 2>&1
check_eq 'db init again (another host): nothing to do' \
    "$(cat "$HS_TMP/init2")" 'schema version 5: already there'
"$HOLDSCAN" -c "$CONF_B" db upgrade >"$HS_TMP/up" 2>&1
check_eq 'db upgrade at the current version: nothing to do' \
    "$(cat "$HS_TMP/up")" 'schema version 5: already there'
"$HOLDSCAN" -c "$CONF_A" db status >"$HS_TMP/status" 2>&1
check 'db status: connected, version 5' grep -q '^schema version: 5$' \
    "$HS_TMP/status"

# --- 2. two hosts ----------------------------------------------------------------
hs_run A || bail_out "holdscand A did not start"
hs_run B || bail_out "holdscand B did not start"

rows() {
	pg_sql P "SELECT count(*) FROM message_log WHERE host = '$1'"
}
# dups - (host, queue id) pairs with more than one row
dups() {
	pg_sql P "SELECT count(*) FROM (SELECT host, orig_id FROM message_log
	    GROUP BY host, orig_id HAVING count(*) > 1) d"
}
rows_are() {
	[ "$(rows "$1")" = "$(sink_count "$2")" ]
}
send() {
	smtp-source -s 4 -m "$2" -l 400 -f "farm@example.org" \
	    -t "rcpt@example.net" "127.0.0.1:$(sb_env "$1" SMTP_PORT)" \
	    >>"$HS_TMP/source.out" 2>&1 || bail_out "smtp-source failed"
}

send A 60
send B 40
check 'A delivers its 60' wait_sink A 60 60
check 'B delivers its 40' wait_sink B 40 60
check 'the central log has every message of A' \
    wait_until 30 rows_are "$HOST_A" A
check 'and every message of B' wait_until 30 rows_are "$HOST_B" B
check_eq 'no message twice' "$(dups)" 0
check_eq 'each host said "connected" once' \
    "$(hs_count_log A 'database: connected') $(hs_count_log B 'database: connected')" \
    '1 1'
check_eq 'a row carries the sender and recipients' \
    "$(pg_sql P "SELECT DISTINCT sender || ' ' ||
        array_to_string(recipients, ',') FROM message_log
        WHERE host = '$HOST_B'")" 'farm@example.org rcpt@example.net'

"$HOLDSCAN" -c "$CONF_A" log --sender farm@example.org --json \
    >"$HS_TMP/central.json" 2>"$HS_TMP/central.err"
check_eq 'holdscan log on A reads every host from the database (--json)' \
    "$("$HS_PYTHON" -c '
import collections, json, sys
n = collections.Counter(r["host"] for r in json.load(open(sys.argv[1])))
print(" ".join("%d" % n[h] for h in sys.argv[2:]))' \
    "$HS_TMP/central.json" "$HOST_A" "$HOST_B")" '60 40'
"$HOLDSCAN" -c "$CONF_A" log --sender farm@example.org \
    >"$HS_TMP/central.txt" 2>&1
check_eq 'and in text, with a host column' \
    "$(grep -c "^$HOST_B " "$HS_TMP/central.txt")" 40

# --- 3. kill -9 while shipping --------------------------------------------------
# Small batches: the records reach the outbox a few at a time, and the
# kill comes after the first rows arrived, with most still to ship.
hs_stop A
conf A "" "batch_max_messages = 10"
send A 300
check 'the 300 wait in hold' wait_hold A 300 60
hs_run A || bail_out "holdscand A did not start"
shipping() {
	[ "$(rows "$HOST_A")" -gt 60 ]
}
wait_until 60 shipping
at=$(rows "$HOST_A")
hs_kill9 A
diag "killed A with $at of 360 rows shipped"
hs_run A || bail_out "holdscand A did not start again"
check 'A delivers all 360' wait_sink A 360 90
check 'after the kill: every message of A in the central log' \
    wait_until 60 rows_are "$HOST_A" A
check_eq 'after the kill: none twice' "$(dups)" 0

# --- 4. PostgreSQL down under mail flow -------------------------------------------
# HS_PG_OUTAGE seconds (default 60), with mail flowing all along: ten
# messages to each host every 5 s, each round delivered before the next.
OUTAGE=${HS_PG_OUTAGE:-60}
a_before=$(sink_count A)
b_before=$(sink_count B)
pg_stop P
down_at=$(date +%s)
sent=0
late=0
rounds=0
while [ $(($(date +%s) - down_at)) -lt $((OUTAGE - 5)) ]; do
	t0=$(date +%s)
	send A 10
	send B 10
	sent=$((sent + 10))
	rounds=$((rounds + 1))
	wait_sink A $((a_before + sent)) 30 || late=$((late + 1))
	wait_sink B $((b_before + sent)) 30 || late=$((late + 1))
	[ "$rounds" = 1 ] && "$HOLDSCAN" -c "$CONF_A" log --limit 3 \
	    >"$HS_TMP/local.txt" 2>"$HS_TMP/local.err" &&
	    wc -l <"$HS_TMP/local.txt" >"$HS_TMP/local.n"
	left=$((5 - ($(date +%s) - t0)))
	[ "$left" -gt 0 ] && sleep "$left"
done
diag "database down $(($(date +%s) - down_at)) s: $rounds rounds, $sent messages to each host"
check_eq 'mail flowed while the database was down: every round delivered at once' \
    "$late $((rounds >= OUTAGE / 10))" '0 1'
check_eq 'A and B delivered all of it' \
    "$(($(sink_count A) - a_before)) $(($(sink_count B) - b_before))" \
    "$sent $sent"
outbox_grew() {
	grep -Eq '^holdscan_outbox_pending [1-9]' "$METRICS_A" &&
	    grep -q '^holdscan_database_up 0' "$METRICS_A"
}
check 'A: the outbox grows, the database is down (metrics)' \
    wait_until 60 outbox_grew
check_eq 'holdscan log while the database is down: this host'"'"'s log' \
    "$(cat "$HS_TMP/local.n" 2>/dev/null)" 3
check 'with a warning that says so' grep -q \
    'warning: database: .*showing the log of this host only' "$HS_TMP/local.err"
left=$((OUTAGE - ($(date +%s) - down_at)))
[ "$left" -gt 0 ] && sleep "$left"
check_eq 'each host warned once that the database is gone' \
    "$(hs_count_log A 'warning: database: ') $(hs_count_log B 'warning: database: ')" \
    '1 1'
pg_start P || bail_out "PostgreSQL did not start again"
check 'back: every message of A arrives' wait_until 60 rows_are "$HOST_A" A
check 'and every message of B' wait_until 60 rows_are "$HOST_B" B
check_eq 'none twice' "$(dups)" 0
back() {
	[ "$(hs_count_log A 'database: reachable again') $(hs_count_log B \
	    'database: reachable again')" = '1 1' ]
}
check 'each host said once that it is back' wait_until 60 back
check 'A: the outbox is empty again (metrics)' wait_until 60 grep -q \
    '^holdscan_outbox_pending 0' "$METRICS_A"

# --- 5. a database that does not exist, a conninfo libpq cannot parse -------------
# wrong_db WHAT CONNINFO N OUT - restart B with CONNINFO, send N messages,
# check they are delivered, and after a few seconds of retries put B's
# log lines about the database into OUT.
wrong_db() {
	hs_stop B
	conf B "$2"
	_wd_start=$(wc -l <"$(sb_dir B)/hs/holdscand.log")
	hs_run B || bail_out "holdscand B did not start with $1"
	_wd_before=$(sink_count B)
	send B "$3"
	check "B delivers with $1" wait_sink B $((_wd_before + $3)) 60
	sleep 6
	tail -n "+$((_wd_start + 1))" "$(sb_dir B)/hs/holdscand.log" |
	    grep 'database' >"$4"
}
wrong_db 'a wrong database' "host=$P_PG_DIR dbname=nosuchdb user=holdscan" 10 \
    "$HS_TMP/wrongdb"
check_eq 'one line about it' "$(wc -l <"$HS_TMP/wrongdb")" 1
check 'which says why' grep -q 'database "nosuchdb" does not exist' \
    "$HS_TMP/wrongdb"
"$HOLDSCAN" -c "$CONF_B" log --limit 200 --sender farm@example.org \
    >"$HS_TMP/blog" 2>&1
check_eq 'the local log has every message of B' \
    "$(grep -c 'farm@example.org' "$HS_TMP/blog")" "$(sink_count B)"
"$HOLDSCAN" -c "$CONF_B" db status >"$HS_TMP/bstatus" 2>&1
check_eq 'db status with the wrong database: exit 1' "$?" 1

wrong_db 'a bad conninfo' "host=$P_PG_DIR dbname=holdscan nosuchoption=1" 5 \
    "$HS_TMP/badinfo"
check_eq 'one line about the bad conninfo, which names the option' \
    "$(wc -l <"$HS_TMP/badinfo") $(grep -c 'nosuchoption' "$HS_TMP/badinfo")" \
    '1 1'

# --- 6. a schema from the future --------------------------------------------------------
version=$(pg_sql P 'SELECT version FROM holdscan_schema')
pg_sql P 'UPDATE holdscan_schema SET version = 99'
"$HOLDSCAN" -c "$CONF_A" db upgrade >"$HS_TMP/up99" 2>&1
check_eq 'db upgrade refuses a newer schema' "$?" 1
check 'and says why' grep -q 'version 99, newer than this holdscan' "$HS_TMP/up99"
"$HOLDSCAN" -c "$CONF_A" db status >"$HS_TMP/st99" 2>&1
check 'db status says so' grep -q '^schema version: 99 (newer than this holdscan)' \
    "$HS_TMP/st99"
pg_sql P "UPDATE holdscan_schema SET version = $version"

# --- 7. a hung database ------------------------------------------------------------
a_before=$(sink_count A)
pids=$(pg_pids P)
# shellcheck disable=SC2086 # pids, one a word
kill -STOP $pids
send A 20
check 'A delivers while the database hangs' wait_sink A $((a_before + 20)) 60
t0=$(date +%s)
hs_stop A
check_eq 'holdscand stops at once though its database hangs' \
    "$(($(date +%s) - t0 <= 3))" 1
# shellcheck disable=SC2086 # pids, one a word
kill -CONT $pids
hs_run A || bail_out "holdscand A did not start again"
check 'thawed: every message of A arrives' wait_until 60 rows_are "$HOST_A" A
check_eq 'none twice' "$(dups)" 0
