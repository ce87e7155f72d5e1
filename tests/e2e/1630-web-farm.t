#!/bin/sh
# 1630-web-farm.t - the web console on a farm (issue 16: "works the same on
# one host and on a farm"): a private PostgreSQL 15, two sandboxes A and B
# (each a Postfix with holdscand shipping to it; the test-only crashtest
# plugin quarantines every test message) and holdscan-web on A, which reads
# the farm's tables with a role of its own that may SELECT message_log,
# message_events, holdscan_schema and requests and INSERT requests, no
# more (doc/farm.md).
#  1. tests/lib/webfarm.py up: the quarantine list, log, trace and
#     statistics on A show both hosts' messages, each with its host; B's
#     message opens on A with its metadata, the host that holds it and
#     its preview (headers, text: B sent the file's bytes through the
#     requests table, A parsed them; with preview=0 the entry only), a
#     script in B's message as its text; the admin's statistics asked
#     again are the kept answer (the same as_of), not alice's;
#     the admin releases one of B's (done, with B's new queue id) and
#     deletes another from A's console; releasing the deleted one gives
#     B's reason; a domain admin of a.example sees both hosts' a.example
#     rows and no other domain's, newest first with the total on a
#     page past the first, and cannot open, trace or release B's
#     b.example message (404).
#  2. B's sink gets the released message exactly once; the deleted and the
#     other never. B's holdscand logged the audit lines with the console
#     account (by=web:admin@A via=request:N), holdscan-web on A its own
#     with the host and request; one request row each, answered by B.
#     The preview: one row answered "previewed" with the file's bytes, no
#     audit line on B (its info line names the console account).
#  3. webfarm.py again: a second release says "already released"; still
#     one delivery.
#     A message of 1.5 MB on B: its preview on A has the headers and the
#     body's start (B sent the first 1 MiB, truncated in its row), said
#     cut; B's line says it sent the start of the file.
#  4. tests/lib/webfarmui.py in headless Chromium (when installed): B's
#     message in A's quarantine with its host, opened ("Held on B", its
#     headers, its body's script as text, not run),
#     released from the page (once at B's sink); the log shows both
#     hosts. Screenshots in build/screenshots-farm/.
#  5. B's holdscand stopped: B's message opens on A after the bounded
#     wait with its metadata and why there is no preview; a bulk release
#     of B's message from A's console is "queued", a second one at once
#     (B is not waited for again), and so is a second open; B back: both
#     answered (released, already), the message delivered once. Preview
#     rows asked over a minute ago are deleted by B (bytes and all).
#  6. PostgreSQL stopped: webfarm.py down: the list and the log answer
#     with A's messages and say that the farm's database is not
#     reachable; A's message still opens with its headers; B's release
#     answers 503. holdscan-web logged it once, and runs on.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/pg.sh"
. "$HS_LIB/web.sh"

SRC=$(cd "$HS_LIB/../.." && pwd)
SHOTS=${HS_SCREENSHOTS_FARM:-$SRC/build/screenshots-farm}
PW='correct horse battery'

pg_available || skip_all "postgresql-15 is not installed (make deps)"
[ -x "$HS_BUILD/holdscan-web" ] || bail_out "no $HS_BUILD/holdscan-web"
[ -f "$HS_BUILD/plugins/crashtest.so" ] ||
    bail_out "no $HS_BUILD/plugins/crashtest.so"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
id daemon >/dev/null 2>&1 || skip_all "no system user daemon"

plan 75

pg_start P || bail_out "PostgreSQL did not start"
sb_start A || bail_out "sandbox A did not start"
sb_start B || bail_out "sandbox B did not start"
HOST_A=$(postconf -c "$A_CONFIG" -h myhostname)
HOST_B=$(postconf -c "$B_CONFIG" -h myhostname)
CONF_A="$A_DIR/hs/holdscan.conf"
WD=$(mktemp -d /tmp/hs-web.XXXXXX) || bail_out "mktemp"
chmod 0755 "$WD"
cp -r "$SRC/web" "$WD/ui"
PORT=$(web_free_port)
for h in A B; do
	hs_conf $h >/dev/null <<-END
	scanners = crashtest
	plugin crashtest {
	    mode = verdict
	    verdict = infected
	    marker = "X-Test-Token:"
	}
	database = "$P_PG_CONNINFO"
	web {
	    listen = 127.0.0.1:$PORT
	    user = daemon
	    control_socket = $WD/run-$h/control.sock
	    document_root = $WD/ui
	    accounts_file = $WD/web-users
	    database = "host=$P_PG_DIR dbname=holdscan user=hsweb"
	}
	END
done
"$HOLDSCAN" -c "$CONF_A" db init >"$HS_TMP/init" 2>&1 ||
    bail_out "db init: $(cat "$HS_TMP/init")"
# holdscan-web's role: read the log, write requests; nothing else.
pg_sql P "CREATE ROLE hsweb LOGIN;
    GRANT SELECT ON holdscan_schema, message_log, message_events TO hsweb;
    GRANT SELECT, INSERT ON requests TO hsweb;
    GRANT USAGE ON SEQUENCE requests_id_seq TO hsweb" >/dev/null ||
    bail_out "the role hsweb"
hs_run A || bail_out "holdscand A did not start"
hs_run B || bail_out "holdscand B did not start"

# send HOST TOKEN DOMAIN - one test message to TOKEN.r0@DOMAIN through HOST
send() {
	_sp=$(eval "printf '%s' \"\$$1_SMTP_PORT\"")
	"$HS_PYTHON" "$HS_LIB/sendmail.py" --count 1 --token-prefix "$2" \
	    --to-domain "$3" "127.0.0.1:$_sp" >/dev/null ||
	    bail_out "sendmail $2"
}
send A fa a.example
send B frel a.example
send B fother b.example
send B fdel a.example
# webfarmui.py's: a script in its body, shown as text.
swaks --silent 2 --server "127.0.0.1:$B_SMTP_PORT" --from evil@sendmail.test \
    --to fui-0.r0@a.example --header "X-Test-Token: fui-0" \
    --header "Subject: test fui-0" \
    --body "<script>document.title='pwned'</script>" >/dev/null ||
    bail_out "swaks"
shipped() {
	[ "$(pg_sql P "SELECT count(*) FROM message_log
	    WHERE quarantine_id <> ''")" -ge 5 ]
}
check 'both hosts shipped their five quarantined messages' wait_until 60 shipped
qid() {
	pg_sql P "SELECT quarantine_id FROM message_log WHERE host = '$1'
	    AND recipients[1] LIKE '$2-0.%' ORDER BY seq DESC LIMIT 1"
}
QA=$(qid "$HOST_A" fa)
QREL=$(qid "$HOST_B" frel)
QOTHER=$(qid "$HOST_B" fother)
QDEL=$(qid "$HOST_B" fdel)
QUI=$(qid "$HOST_B" fui)
check_eq 'their quarantine ids' "$([ -n "$QA" ] && [ -n "$QREL" ] &&
    [ -n "$QOTHER" ] && [ -n "$QDEL" ] && [ -n "$QUI" ] && echo found)" found

echo "$PW" | "$HOLDSCAN" -c "$CONF_A" web user add admin --role admin \
    >/dev/null 2>&1 || bail_out "web user add admin"
echo "$PW" | "$HOLDSCAN" -c "$CONF_A" web user add alice --role domain \
    --domain a.example >/dev/null 2>&1 || bail_out "web user add alice"
WLOG="$HS_TMP/web.log"
web_start W "$CONF_A" "$WLOG" "http://127.0.0.1:$PORT/"
ok $? "holdscan-web on A answers"
check "it says it reads the farm's database as host A" \
    grep -q "the farm's database as host $HOST_A\$" "$WLOG"

# --- 1. the farm's view and actions ---------------------------------------------------
"$HS_PYTHON" "$HS_LIB/webfarm.py" up "http://127.0.0.1:$PORT" "$PW" \
    "$HOST_A" "$HOST_B" "$QA" "$QREL" "$QOTHER" "$QDEL" "$QUI" \
    >"$HS_TMP/up.out" 2>"$HS_TMP/up.err"
tap_lines "$HS_TMP/up.out" 24 "webfarm.py up"
grep -v "^released" "$HS_TMP/up.err" | tail -8 | sed "s/^/# /" >&2
NEW=$(sed -n 's/^released\t//p' "$HS_TMP/up.err")

# --- 2. the mail and the audit ----------------------------------------------------------
check 'the released message reaches B'"'"'s sink' wait_sink B 1 90
sleep 3
check_eq 'exactly once, and nothing else' "$(sink_count B)" 1
check 'it is the released one' grep -rq '^X-Test-Token: frel-0$' "$B_SINK_DIR"
check_eq "nothing at A's sink" "$(sink_count A)" 0
check_eq "B's audit line: released for the console's admin, by request" \
    "$(hs_count_log B "$QREL: action=release new_id=$NEW by=web:admin@$HOST_A via=request:[0-9]+")" 1
check_eq "B's audit line of the deletion" \
    "$(hs_count_log B "$QDEL: action=delete by=web:admin@$HOST_A via=request:[0-9]+")" 1
check_eq "holdscan-web's lines on A: the account, the host, the request" \
    "$(grep -Ec "web: release id=$QREL user=admin host=$HOST_B request=[0-9]+ outcome=released" "$WLOG") $(grep -Ec "web: delete id=$QDEL user=admin host=$HOST_B request=[0-9]+ outcome=deleted" "$WLOG")" \
    '1 1'
check_eq 'the requests: one release and one delete answered, one refused' \
    "$(pg_sql P "SELECT action || ':' || outcome FROM requests
    WHERE action <> 'preview' ORDER BY id" | tr '\n' ' ')" \
    'release:released delete:deleted release:failed '
check_eq 'the previews: answered by B with the stored bytes, whole' \
    "$(pg_sql P "SELECT quarantine_id, outcome,
    position('X-Test-Token: ' IN encode(content, 'escape')) > 0, truncated
    FROM requests WHERE action = 'preview' ORDER BY id" | tr '\n' ' ')" \
    "$QREL|previewed|t|f $QUI|previewed|t|f "
check_eq "no audit line for a preview on B; its info line with the account" \
    "$(hs_count_log B "$QREL: action=preview") $(hs_count_log B "$QREL: request=[0-9]+ action=preview requested_by=web:admin@$HOST_A: [0-9]+ bytes sent")" \
    '0 1'
check_eq "holdscan-web's line on A for the preview" \
    "$(grep -Ec "web: preview id=$QREL user=admin host=$HOST_B request=[0-9]+ outcome=previewed" "$WLOG")" 1
check_eq 'none for b.example, none for A' "$(pg_sql P "SELECT count(*)
    FROM requests WHERE quarantine_id = '$QOTHER' OR host = '$HOST_A'")" 0

# --- 3. again ------------------------------------------------------------------------------
released_shipped() {
	[ "$(pg_sql P "SELECT count(*) FROM message_events e JOIN message_log m
	    USING (host, seq) WHERE m.quarantine_id = '$QREL'
	    AND e.kind = 'released'")" -ge 1 ]
}
check "B shipped the release's event" wait_until 30 released_shipped
"$HS_PYTHON" "$HS_LIB/webfarm.py" again "http://127.0.0.1:$PORT" "$PW" \
    "$QREL" >"$HS_TMP/again.out" 2>&1
tap_lines "$HS_TMP/again.out" 2 "webfarm.py again"
sleep 2
check_eq 'still one delivery' "$(sink_count B)" 1
# A message larger than the preview's bound (1 MiB) on B.
"$HS_PYTHON" - "127.0.0.1:$B_SMTP_PORT" <<'END' || bail_out "the big message"
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
body = "".join("line %06d of a big message, alpha bravo charlie delta echo\n"
               % i for i in range(25000))
msg = ("From: <sender@sendmail.test>\nTo: <fbig-0.r0@b.example>\n"
       "Subject: test fbig-0\nX-Test-Token: fbig-0\n\n" + body)
with smtplib.SMTP(host, int(port)) as s:
    s.sendmail("sender@sendmail.test", ["fbig-0.r0@b.example"],
               msg.replace("\n", "\r\n"))
END
big_shipped() { [ -n "$(qid "$HOST_B" fbig)" ]; }
wait_until 180 big_shipped || bail_out "B did not ship the big message"
QBIG=$(qid "$HOST_B" fbig)
"$HS_PYTHON" "$HS_LIB/webfarm.py" big "http://127.0.0.1:$PORT" "$PW" \
    "$HOST_B" "$QBIG" >"$HS_TMP/big.out" 2>&1
tap_lines "$HS_TMP/big.out" 1 "webfarm.py big"
check_eq "its row: the first 1 MiB, truncated; B's line says so" \
    "$(pg_sql P "SELECT length(content), truncated FROM requests
    WHERE action = 'preview' AND quarantine_id = '$QBIG'") $(hs_count_log B \
    "$QBIG: request=[0-9]+ action=preview requested_by=web:admin@$HOST_A: 1048576 bytes sent \(the start of the file\)")" \
    '1048576|t 1'

# --- 4. the browser ----------------------------------------------------------------------
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] &&
    /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
	rm -rf "$SHOTS"
	/usr/bin/python3 "$HS_LIB/webfarmui.py" "http://127.0.0.1:$PORT" "$PW" \
	    "$SHOTS" "$HOST_A" "$HOST_B" "$QUI" >"$HS_TMP/ui.out" \
	    2>"$HS_TMP/ui.err"
	tap_lines "$HS_TMP/ui.out" 6 webfarmui.py
	NEWUI=$(sed -n 's/^released\t//p' "$HS_TMP/ui.err")
	check 'the one released in the browser reaches B'"'"'s sink' \
	    wait_sink B 2 90
	sleep 2
	check_eq 'once, with its audit line on B' "$(sink_count B) $(hs_count_log B \
	    "$QUI: action=release new_id=$NEWUI by=web:admin@$HOST_A via=request:[0-9]+")" \
	    '2 1'
else
	skip "chromium, chromium-driver or python3-selenium is missing" 9
fi

# --- 5. the owner down: queued, then carried out once ------------------------------------
hs_stop B
"$HS_PYTHON" "$HS_LIB/webfarm.py" queued "http://127.0.0.1:$PORT" "$PW" \
    "$HOST_B" "$QOTHER" "$QREL" >"$HS_TMP/queued.out" 2>&1
tap_lines "$HS_TMP/queued.out" 4 "webfarm.py queued"
hs_run B || bail_out "holdscand B did not start again"
both_answered() {
	[ "$(pg_sql P "SELECT count(*) FROM requests
	    WHERE quarantine_id = '$QOTHER' AND done_at IS NOT NULL")" -eq 2 ]
}
check 'B back: it answers both requests' wait_until 30 both_answered
fother_at_b() {
	grep -l '^X-Test-Token: fother-0$' "$B_SINK_DIR"/* 2>/dev/null | wc -l |
	    tr -d ' '
}
wait_until 30 sh -c "grep -q '^X-Test-Token: fother-0\$' '$B_SINK_DIR'/* 2>/dev/null"
sleep 2
check_eq 'delivered once: released, then already' "$(fother_at_b) $(pg_sql P \
    "SELECT string_agg(outcome, ' ' ORDER BY id) FROM requests
    WHERE quarantine_id = '$QOTHER'")" '1 released already'
# Preview rows asked over a minute ago go, answered or not (made older
# here rather than waited for); release and delete rows stay.
ACTS=$(pg_sql P "SELECT count(*) FROM requests WHERE action <> 'preview'")
pg_sql P "UPDATE requests SET requested_at = now() - interval '2 minutes'
    WHERE action = 'preview' AND quarantine_id = '$QREL'" >/dev/null
old_previews_gone() {
	[ "$(pg_sql P "SELECT count(*) FROM requests WHERE action = 'preview'
	    AND quarantine_id = '$QREL'")" -eq 0 ]
}
check "B deletes its preview rows asked over a minute ago" \
    wait_until 60 old_previews_gone
check_eq "every release and delete row stays" \
    "$(pg_sql P "SELECT count(*) FROM requests WHERE action <> 'preview'")" \
    "$ACTS"

# --- 6. PostgreSQL down -----------------------------------------------------------------------
pg_stop P
"$HS_PYTHON" "$HS_LIB/webfarm.py" down "http://127.0.0.1:$PORT" "$PW" \
    "$HOST_A" "$QA" "$QREL" >"$HS_TMP/down.out" 2>&1
tap_lines "$HS_TMP/down.out" 5 "webfarm.py down"
check_eq "holdscan-web logged the outage once" \
    "$(grep -c "web: the farm's database: .*; the console shows this host only until it is back" "$WLOG")" 1
kill -0 "$W_WEB_PID" 2>/dev/null
ok $? "holdscan-web runs on"
web_stop W
rm -rf "$WD"
