#!/bin/sh
# webfarm.sh - the web console's data at scale on a farm (issue 16, item
# 6): how fast holdscan-web's queries of the farm's PostgreSQL database
# (src/web/farmview.c) answer over BENCH_WEB_LOG (default 1,000,000)
# message_log rows of three hosts, about a tenth of them quarantined.
# make bench-web runs it after web.sh's one-host part (BENCH_WEB_FARM=no
# leaves it out); it runs alone too (as root, after make).
#
#  1. a private PostgreSQL 15 cluster (tests/lib/pg.sh: unix socket only,
#     fsync off, stopped by its pid), the schema by holdscan db init, and
#     the role holdscan_web with the grants of doc/farm.md;
#  2. the rows made by SQL (generate_series, a fixed seed): three hosts
#     (45 %, 35 %, 20 % of the mail), 30 days, senders and recipients
#     drawn log-uniformly (a few send and receive much, most little: 20,000
#     senders in 400 domains, 60 recipient domains of up to 2,000 users
#     each, one message in ten to two or three recipients), 3 % bounces
#     (sender <>), verdicts clean 80 %, spam 10 %, high-spam 5 % and
#     infected 3 % and blocked 2 % (those three quarantined: 10 %);
#     of the quarantined, 3 % released (an event and its new queue id),
#     2 % deleted, and those older than 25 days expired; then ANALYZE;
#  3. a Postfix sandbox (this host's name: the first host's) with
#     holdscand (the control socket) and holdscan-web on it, whose web {
#     database } is the role holdscan_web; an admin and a domain admin of
#     a middle-sized recipient domain;
#  4. tests/bench/webhttp.py --farm: every API call behind a screen,
#     BENCH_WEB_RUNS (default 200) times each, with keys drawn from the
#     rows (weighted as the mail is), as the admin and as the domain admin
#     (the scope condition): median, p99, max, first; then holdscan-web's
#     peak RSS. The figures go into BENCH_WEB_JSON (default
#     build/bench/web.json) as its "farm" section.
# Issue 16's target: every call < 100 ms median, < 300 ms p99.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
HS_BUILD=${HS_BUILD:-$src/build/rel}
NM=${BENCH_WEB_LOG:-1000000}
RUNS=${BENCH_WEB_RUNS:-200}
HOLDSCAN="$HS_BUILD/holdscan"
HOLDSCAND="$HS_BUILD/holdscand"
HSWEB="$HS_BUILD/holdscan-web"
JSON_OUT=${BENCH_WEB_JSON:-$src/build/bench/web.json}
DOMAIN=rdomain7.example

die() {
	echo "webfarm.sh: $*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "run me as root (a private Postfix instance)"
for f in "$HOLDSCAN" "$HOLDSCAND" "$HSWEB"; do
	[ -x "$f" ] || die "no $f: run make first"
done
# pg.sh's diagnostics, without tap.sh
diag() {
	echo "# $*" >&2
}
. "$src/tests/lib/pg.sh"
pg_available || die "postgresql-15 is not installed (make deps)"

T=$(mktemp -d "${TMPDIR:-/tmp}/hs-webfarm.XXXXXX")
chmod 0755 "$T"
hs_pid=
web_pid=
# shellcheck disable=SC1091
. "$here/benchlib.sh"
# shellcheck disable=SC2317 # the exit trap calls it
cleanup() {
	stop_pid "$web_pid"
	stop_pid "$hs_pid"
	pg_stop_all 2>/dev/null || :
	sh "$src/tests/lib/sandbox.sh" stop "$T/pf" >/dev/null 2>&1 || :
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

sh "$src/tests/lib/sandbox.sh" start "$T/pf" hold=no >"$T/sandbox.out" 2>&1 ||
    die "the Postfix sandbox did not start: $(tail -3 "$T/sandbox.out")"
# shellcheck disable=SC1091
. "$T/pf/sandbox.env"
. "$src/tests/lib/holdscan.sh"
myhost=$(postconf -c "$SB_CONFIG" -h myhostname)
pg_start P || die "PostgreSQL did not start"
conf=$(hs_conf_at "$T/pf" "$SB_CONFIG" "$SB_MAIL_OWNER" </dev/null)

W="$T/web"
mkdir -p "$W/run"
chmod 0755 "$W" "$W/run"
cp -r "$src/web" "$W/ui"
port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
{
	echo 'scanners = crashtest'
	echo 'plugin crashtest {'
	echo '    mode = verdict'
	echo '    verdict = infected'
	echo '    marker = "X-Test-Token:"'
	echo '}'
	echo "database = \"$P_PG_CONNINFO\""
	echo 'web {'
	echo "    listen = 127.0.0.1:$port"
	echo '    user = daemon'
	echo "    control_socket = $W/run/control.sock"
	echo "    document_root = $W/ui"
	echo "    accounts_file = $W/web-users"
	echo "    database = \"host=$P_PG_DIR dbname=holdscan user=holdscan_web\""
	echo '}'
} >>"$conf"
"$HOLDSCAN" -c "$conf" db init >"$T/init" 2>&1 ||
    die "holdscan db init: $(cat "$T/init")"
pg_sql P "CREATE ROLE holdscan_web LOGIN;
    GRANT SELECT ON holdscan_schema, message_log, message_events
    TO holdscan_web;
    GRANT SELECT, INSERT ON requests TO holdscan_web;
    GRANT USAGE ON SEQUENCE requests_id_seq TO holdscan_web" >/dev/null ||
    die "the role holdscan_web"

echo "web bench, farm: $NM message_log rows of 3 hosts, PostgreSQL 15" \
    "(private cluster, unix socket, fsync off, shared_buffers 16MB)"
t0=$(date +%s)
# r[1..9]: one draw each per row; g.t: the row's time, evenly over the 30
# days before now, with a minute's jitter.
pg_sql P "SELECT setseed(0.16);
INSERT INTO message_log (host, seq, time, orig_id, orig_inode, new_id,
    quarantine_id, sender, recipients, size, subject, client_address,
    verdict, action, reason, plugins, hold_ms, scan_ms)
SELECT CASE WHEN r[1] < 0.45 THEN '$myhost'
    WHEN r[1] < 0.80 THEN 'mx2.bench.example' ELSE 'mx3.bench.example' END,
  i, t, oid, i,
  CASE WHEN v <> 'q' THEN upper(lpad(to_hex(i * 104729 % 4294967291), 8, '0'))
    || upper(lpad(to_hex((i + 1) % 4096), 3, '0')) ELSE '' END,
  CASE WHEN v = 'q' THEN to_char(t AT TIME ZONE 'UTC',
    'YYYYMMDD\"T\"HH24MISS') || '-' || oid ELSE '' END,
  CASE WHEN r[2] < 0.03 THEN '' ELSE 'user' || s || '@sdomain' || s % 400
    || '.example' END,
  CASE WHEN r[6] < 0.9 THEN ARRAY[rc]
    WHEN r[6] < 0.97 THEN ARRAY[rc, 'u' || (u + 7) % 2000 || '@rdomain' || d
      || '.example']
    ELSE ARRAY[rc, 'u' || (u + 7) % 2000 || '@rdomain' || d || '.example',
      'u' || (u * 3 + 1) % 2000 || '@rdomain' || (d + 1) % 60 || '.example']
  END,
  1000 + (r[7] * r[7] * 2000000)::bigint,
  (ARRAY['Your invoice ', 'Meeting on ', 'Re: order ', 'Newsletter ',
    'Delivery notice ', 'Account statement '])[1 + i % 6] || i % 997,
  '198.51.100.' || s % 250, verdict,
  CASE WHEN v = 'q' THEN 'quarantine' WHEN verdict = 'spam' THEN 'tag'
    ELSE 'deliver' END,
  CASE verdict WHEN 'infected' THEN (ARRAY['Eicar-Test-Signature',
      'Win.Trojan.Agent-1234', 'Doc.Dropper.Emotet-42',
      'Html.Phishing.Bank-77'])[1 + i % 4]
    WHEN 'blocked' THEN (ARRAY['attachment: .exe denied',
      'attachment: double extension', 'attachment: .js denied'])[1 + i % 3]
    WHEN 'high-spam' THEN 'spamd: score ' || (10 + i % 20)
    WHEN 'spam' THEN 'spamd: score ' || (5 + i % 5) ELSE '' END,
  'clamav=' || CASE verdict WHEN 'infected' THEN 'infected' ELSE 'clean' END
    || ' attachments=clean spamd=' || CASE WHEN verdict IN ('spam',
    'high-spam') THEN verdict ELSE 'clean' END,
  (r[8] * 400)::bigint, (r[9] * 80)::bigint
FROM (SELECT i, r, t, oid, s, d, u,
    'u' || u || '@rdomain' || d || '.example' AS rc,
    CASE WHEN r[3] < 0.80 THEN 'clean' WHEN r[3] < 0.90 THEN 'spam'
      WHEN r[3] < 0.95 THEN 'high-spam' WHEN r[3] < 0.98 THEN 'infected'
      ELSE 'blocked' END AS verdict,
    CASE WHEN r[3] >= 0.90 THEN 'q' ELSE 'd' END AS v
  FROM (SELECT i, r,
      now() - interval '30 days' + (i * (30 * 86400.0 / $NM) - r[4] * 60)
        * interval '1 second' AS t,
      upper(lpad(to_hex(i * 7919 % 4294967291), 8, '0'))
        || upper(lpad(to_hex(i % 4096), 3, '0')) AS oid,
      floor(exp(r[2] * ln(20000)))::int - 1 AS s,
      floor(exp(r[5] * ln(60)))::int - 1 AS d,
      floor(exp(r[6] * ln(2000)))::int - 1 AS u
    FROM (SELECT i, ARRAY[random(), random(), random(), random(), random(),
        random(), random(), random(), random()] AS r
      FROM generate_series(1::bigint, $NM) i) a) b) c" >/dev/null ||
    die "the rows"
# The quarantined: 3 % released (an event, the new queue id), 2 %
# deleted, those older than 25 days expired.
pg_sql P "SELECT setseed(0.61);
CREATE TEMP TABLE fate AS SELECT host, seq, time, orig_id,
    CASE WHEN x < 0.03 THEN 'released' WHEN x < 0.05 THEN 'deleted'
      WHEN time < now() - interval '25 days' THEN 'expired' END AS kind
  FROM (SELECT host, seq, time, orig_id, random() AS x FROM message_log
    WHERE quarantine_id <> '') q;
INSERT INTO message_events (host, seq, n, time, kind, new_id, detail)
  SELECT host, seq, 1, time + interval '2 hours', kind,
    CASE WHEN kind = 'released' THEN 'R' || orig_id ELSE '' END,
    CASE kind WHEN 'released' THEN 'by=web:admin' WHEN 'deleted'
      THEN 'by=web:admin' ELSE 'retention' END
  FROM fate WHERE kind IS NOT NULL;
UPDATE message_log m SET release_ids = ARRAY['R' || m.orig_id]
  FROM fate f WHERE f.kind = 'released' AND m.host = f.host
  AND m.seq = f.seq" >/dev/null || die "the events"
for t in message_log message_events; do
	pg_sql P "VACUUM ANALYZE $t" >/dev/null || die "ANALYZE $t"
done
pg_sql P "SELECT 'rows: ' || count(*) || ', quarantined ' ||
    count(*) FILTER (WHERE quarantine_id <> '') || ', hosts ' ||
    count(DISTINCT host) || ', senders ' || count(DISTINCT sender) ||
    ', to $DOMAIN ' || count(*) FILTER (WHERE EXISTS (SELECT 1 FROM
    unnest(recipients) r WHERE r LIKE '%@$DOMAIN')) FROM message_log"
pg_sql P "SELECT 'events: ' || string_agg(kind || ' ' || n, ', ') FROM
    (SELECT kind, count(*) n FROM message_events GROUP BY 1 ORDER BY 1) e"
echo "made in $(($(date +%s) - t0)) s; database" \
    "$(pg_sql P "SELECT pg_size_pretty(pg_database_size('holdscan'))")"

# The keys the requests use, drawn from the rows (a busy sender or
# recipient as often as the mail has it): the admin's from every row, the
# domain admin's from the rows to $DOMAIN.
keys() {
	pg_sql P "SELECT setseed(0.3); SELECT json_build_object(
	'now', extract(epoch FROM now())::bigint,
	'hosts', (SELECT json_agg(DISTINCT host) FROM message_log),
	'myhost', '$myhost',
	'domain', '$DOMAIN',
	'scoped', $2,
	'senders', (SELECT json_agg(sender) FROM (SELECT sender FROM message_log
	    TABLESAMPLE BERNOULLI (1) REPEATABLE (1) WHERE sender <> '' $1
	    ORDER BY random() LIMIT 400) s),
	'recipients', (SELECT json_agg(r) FROM (SELECT recipients[1] r FROM
	    message_log TABLESAMPLE BERNOULLI (1) REPEATABLE (2) WHERE true $1
	    ORDER BY random() LIMIT 400) s),
	'ids', (SELECT json_agg(orig_id) FROM (SELECT orig_id FROM message_log
	    TABLESAMPLE BERNOULLI (1) REPEATABLE (3) WHERE true $1
	    ORDER BY random() LIMIT 400) s),
	'remote', (SELECT json_agg(quarantine_id) FROM (SELECT quarantine_id
	    FROM message_log TABLESAMPLE BERNOULLI (5) REPEATABLE (4)
	    WHERE quarantine_id <> '' AND host <> '$myhost' $1
	    ORDER BY random() LIMIT 400) s),
	'sender_domains', (SELECT json_agg(d) FROM (SELECT substring(sender
	    FROM '@.*\$') d FROM message_log TABLESAMPLE BERNOULLI (1)
	    REPEATABLE (5) WHERE sender <> '' $1 ORDER BY random()
	    LIMIT 400) s))" | tail -n 1
}
keys "" false >"$T/keys-admin.json"
keys "AND EXISTS (SELECT 1 FROM unnest(recipients) r
    WHERE lower(r) LIKE '%@$DOMAIN')" true >"$T/keys-domain.json"

pw="bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
echo "$pw" | "$HOLDSCAN" -c "$conf" web user add admin --role admin \
    >/dev/null 2>"$T/user.err" || die "web user add: $(cat "$T/user.err")"
echo "$pw" | "$HOLDSCAN" -c "$conf" web user add dadmin --role domain \
    --domain "$DOMAIN" >/dev/null 2>"$T/user.err" ||
    die "web user add: $(cat "$T/user.err")"
start_pair "$conf" "$T" "$port"
grep -q "the farm's database as host $myhost\$" "$T/web.log" ||
    die "holdscan-web does not read the farm: $(tail -3 "$T/web.log")"
status=0
for who in admin dadmin; do
	echo "--- holdscan-web's HTTP API on the farm's database ($RUNS" \
	    "requests each, $who session, keep-alive, loopback)"
	python3 "$here/webhttp.py" --farm "http://127.0.0.1:$port" "$who" \
	    "$pw" "$T/keys-$([ "$who" = admin ] && echo admin || echo domain).json" \
	    "$RUNS" "$T/farm-$who.json" || {
		echo "webfarm.sh: webhttp.py: some API calls failed ($who)" >&2
		status=1
	}
done
hwm=$(kb "$web_pid" VmHWM)
rss=$(kb "$web_pid" VmRSS)
echo "holdscan-web after the run: peak RSS (VmHWM) $hwm kB, RSS $rss kB"
mkdir -p "$(dirname "$JSON_OUT")"
python3 -c 'import json, os, sys
p, a, d, hwm, rss, nm, q = sys.argv[1:]
j = {}
if os.path.exists(p):
    with open(p) as f:
        j = json.load(f)
farm = {"log_rows": int(nm), "quarantined": int(q), "hosts": 3,
        "holdscan_web_kb": {"vmhwm": int(hwm), "vmrss": int(rss)}}
for key, path in (("admin", a), ("domain_admin", d)):
    if os.path.exists(path):
        with open(path) as f:
            farm[key] = json.load(f)["calls"]
j["farm"] = farm
with open(p, "w") as f:
    json.dump(j, f, indent=1)' "$JSON_OUT" "$T/farm-admin.json" \
    "$T/farm-dadmin.json" "$hwm" "$rss" "$NM" \
    "$(pg_sql P "SELECT count(*) FROM message_log WHERE quarantine_id <> ''")"
if [ -n "$(grep 'warning' "$T/web.log" || :)" ]; then
	echo "webfarm.sh: holdscan-web's warnings:" >&2
	grep 'warning' "$T/web.log" | tail -5 >&2
fi
echo "(HTTP: each request's wall time at the client; JSON: $JSON_OUT," \
    "section farm)"
exit "$status"
