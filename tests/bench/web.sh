#!/bin/sh
# web.sh - the web console's data at scale (issue 16, item 6): how fast
# the queries behind each screen answer over BENCH_WEB_QUARANTINE
# (default 100,000) quarantined messages and BENCH_WEB_LOG (default
# 1,000,000) message log records. make bench-web runs it alone (as root,
# after make); make bench runs it too with BENCH_WEB=yes.
#
# A private Postfix instance (tests/lib/sandbox.sh: the queue layout the
# tool asks postconf for) and a state environment of its own, filled in
# bulk, not through Postfix: tests/tools/quarantine-fill puts 1,000
# messages with their files into the quarantine (for the detail screen),
# tests/tools/webbench fill adds the rest of the entries (index only) and
# the log records. Then:
#   1. webbench query: each query the screens need, in one process that
#      keeps the environment open as holdscan-web will, BENCH_WEB_RUNS
#      (default 200) times with other keys each time: median and p99;
#   2. the holdscan tool's paths for the same screens (holdscan log,
#      quarantine list --json, quarantine show --json, trace --json),
#      BENCH_WEB_TOOL_RUNS (default 10) times each: median and p99 (the
#      slowest) wall time of the whole command (process start,
#      configuration, postconf, opening the environment, the query, the
#      JSON to a file).
#   3. holdscand on that environment (its settings: an 8 MB cache) and
#      holdscan-web (user daemon) in front of it: every API call behind a
#      screen through HTTP over loopback with a logged-in admin session
#      (tests/bench/webhttp.py), BENCH_WEB_RUNS times each: median, p99,
#      written to BENCH_WEB_JSON (default build/bench/web.json); then
#      holdscan-web's peak RSS (VmHWM) and PSS (smaps_rollup).
#   4. unless BENCH_WEB_FARM=no: the same on a farm's PostgreSQL
#      (tests/bench/webfarm.sh, its "farm" section in BENCH_WEB_JSON),
#      once this part's processes are stopped.
# Issue 16's target: every call behind a screen < 100 ms median, < 300 ms
# p99; holdscan-web under 50 MB.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
HS_BUILD=${HS_BUILD:-$src/build/rel}
NQ=${BENCH_WEB_QUARANTINE:-100000}
NM=${BENCH_WEB_LOG:-1000000}
RUNS=${BENCH_WEB_RUNS:-200}
TOOL_RUNS=${BENCH_WEB_TOOL_RUNS:-10}
HOLDSCAN="$HS_BUILD/holdscan"
HOLDSCAND="$HS_BUILD/holdscand"
HSWEB="$HS_BUILD/holdscan-web"
JSON_OUT=${BENCH_WEB_JSON:-$src/build/bench/web.json}
FILL="$HS_BUILD/tests/tools/quarantine-fill"
WEBBENCH="$HS_BUILD/tests/tools/webbench"

die() {
	echo "web.sh: $*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "run me as root (a private Postfix instance)"
for f in "$HOLDSCAN" "$HOLDSCAND" "$HSWEB" "$FILL" "$WEBBENCH"; do
	[ -x "$f" ] || die "no $f: run make first"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/hs-webbench.XXXXXX")
chmod 0755 "$T"
hs_pid=
web_pid=
# shellcheck disable=SC1091
. "$here/benchlib.sh"
# shellcheck disable=SC2317 # the exit trap calls it
cleanup() {
	stop_pid "$web_pid"
	stop_pid "$hs_pid"
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
conf=$(hs_conf_at "$T/pf" "$SB_CONFIG" "$SB_MAIL_OWNER" </dev/null)

as_owner() {
	setpriv --reuid="$SB_MAIL_OWNER" --regid="$SB_MAIL_OWNER" \
	    --clear-groups "$@"
}

echo "web bench: $NQ quarantined messages, $NM message log records"
as_owner "$FILL" -c "$conf" -n 1000 >"$T/fill.out" 2>"$T/fill.err" ||
    die "quarantine-fill failed: $(cat "$T/fill.err")"
# The bulk fill runs with a cache of 256 MB (a DB_CONFIG of its own): with
# holdscand's 8 MB, a million random index keys take most of an hour. The
# queries then run on a new environment region with holdscand's settings
# (the regions are removed after the clean close; the data stays). Such a
# cache needs more mutexes than statedb's room of 32,768 (one per hash
# bucket of the cache): without mutex_set_max the open fails with "unable
# to join the environment".
state="$T/pf/hs/state"
rm -f "$state"/__db.0*
printf 'set_cachesize 0 268435456 1\nmutex_set_max 131072\nset_tx_max 10000\n' \
    >"$state/DB_CONFIG"
as_owner "$WEBBENCH" fill -c "$conf" -q "$((NQ - 1000))" -m "$NM" \
    >"$T/webfill.out" 2>"$T/webfill.err" ||
    die "webbench fill failed: $(cat "$T/webfill.err")"
rm -f "$state/DB_CONFIG" "$state"/__db.0*
sed -n 's/^webbench fill: /fill: /p' "$T/webfill.out"
now=$(sed -n 's/^now //p' "$T/webfill.out")
du -sh "$state" | awk '{ print "state environment: " $1 }'

echo "--- the queries behind the screens, in one process ($RUNS runs each)"
as_owner "$WEBBENCH" query -c "$conf" -t "$now" -q "$((NQ - 1000))" \
    -m "$NM" -r "$RUNS" 2>"$T/query.err" || die "webbench query failed: \
$(cat "$T/query.err")"

# --- the tool's paths ---------------------------------------------------
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}
# stats FILE - "median X ms  p99 Y ms" of the millisecond figures in FILE
stats() {
	sort -n "$1" | awk '{ t[NR] = $1 }
	    END { r = int((NR * 99 + 99) / 100); if (r < 1) r = 1;
	    printf "median %5d ms  p99 %5d ms", t[int((NR + 1) / 2)], t[r] }'
}
status=0
# measure LABEL ARG... - TOOL_RUNS runs of "holdscan ARG..."
measure() {
	label=$1
	shift
	: >"$T/times"
	i=0
	while [ "$i" -lt "$TOOL_RUNS" ]; do
		t0=$(now_ms)
		"$HOLDSCAN" -c "$conf" "$@" >"$T/out" 2>"$T/err" || {
			echo "web.sh: holdscan $*: $(cat "$T/err")" >&2
			status=1
		}
		echo $(($(now_ms) - t0)) >>"$T/times"
		i=$((i + 1))
	done
	printf '%-52s %s  %s bytes\n' "$label" "$(stats "$T/times")" \
	    "$(wc -c <"$T/out" | tr -d ' ')"
}
"$HOLDSCAN" -c "$conf" quarantine list --recipient nobody@nowhere \
    >/dev/null 2>&1 || :
# A message quarantine-fill stored (with its file; webbench's ids have -WB),
# and a logged one by its queue id (webbench's record NM/2).
first=$("$HOLDSCAN" -c "$conf" quarantine list --since 40d 2>/dev/null |
    awk '$1 !~ /-WB/ { print $1; exit }')
[ -n "$first" ] || die "no quarantine entry to show"
half=$((NM / 2 + 1048576))
logged=$(printf '%08X%03X' $((half * 7919 % 4294967296)) $((half % 4096)))
echo "--- the holdscan tool's paths ($TOOL_RUNS runs each, whole command)"
measure "holdscan log --sender --limit 50 --json" log \
    --sender user4711@sdomain111.example --limit 50 --json
measure "holdscan log --recipient --limit 50 --json" log \
    --recipient rcpt13@rdomain13.example --limit 50 --json
measure "holdscan log --since --until (1h) --limit 50 --json" log \
    --since "@$((now - 86400 * 3))" --until "@$((now - 86400 * 3 + 3600))" \
    --limit 50 --json
measure "holdscan log --limit 50 --json" log --limit 50 --json
measure "quarantine list --recipient --json" quarantine list \
    --recipient rcpt13@rdomain13.example --json
measure "quarantine list --since 1h --json" quarantine list --since 1h --json
measure "quarantine list --reason EICAR --since 1d --json" quarantine list \
    --reason EICAR --since 1d --json
measure "quarantine show --json ID" quarantine show --json "$first"
measure "trace --json QUEUEID" trace --json "$logged"
echo "(median and p99 of wall time; target of issue 16: < 100 ms median," \
    "< 300 ms p99 for every call behind a screen)"

# --- holdscan-web's HTTP API ----------------------------------------------
W="$T/web"
mkdir -p "$W/run"
chmod 0755 "$W" "$W/run"
cp -r "$src/web" "$W/ui"
port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
{
	# The fill spans 30 days: holdscand's pruning must not take its oldest.
	echo 'message_log_retention = 60d'
	echo 'scanners = crashtest'
	echo 'plugin crashtest {'
	echo '    mode = verdict'
	echo '    verdict = infected'
	echo '    marker = "X-Test-Token:"'
	echo '}'
	echo 'web {'
	echo "    listen = 127.0.0.1:$port"
	echo '    user = daemon'
	echo "    control_socket = $W/run/control.sock"
	echo "    document_root = $W/ui"
	echo "    accounts_file = $W/web-users"
	echo '}'
} >>"$conf"
pw="bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
echo "$pw" | "$HOLDSCAN" -c "$conf" web user add admin --role admin \
    >/dev/null 2>"$T/user.err" || die "web user add: $(cat "$T/user.err")"
start_pair "$conf" "$T" "$port"
# The quarantined messages that have their files (the preview's).
"$HOLDSCAN" -c "$conf" quarantine list --since 40d 2>/dev/null |
    awk '$1 !~ /-WB/ && $1 ~ /^[0-9]+T[0-9]+-/ { print $1 }' >"$T/ids"
echo "--- holdscan-web's HTTP API ($RUNS requests each, admin session," \
    "keep-alive, loopback)"
echo "holdscan-web at start: RSS $(kb "$web_pid" VmRSS) kB"
mkdir -p "$(dirname "$JSON_OUT")"
python3 "$here/webhttp.py" "http://127.0.0.1:$port" admin "$pw" "$now" \
    "$((NQ - 1000))" "$NM" "$RUNS" "$T/ids" "$JSON_OUT" || {
	echo "web.sh: webhttp.py: some API calls failed" >&2
	status=1
}
hwm=$(kb "$web_pid" VmHWM)
rss=$(kb "$web_pid" VmRSS)
pss=$(awk '$1 == "Pss:" { print $2 }' "/proc/$web_pid/smaps_rollup")
hs_hwm=$(kb "$hs_pid" VmHWM)
echo "holdscan-web after the run: peak RSS (VmHWM) $hwm kB, RSS $rss kB," \
    "PSS $pss kB (target: < 50 MB)"
echo "holdscand's master after the run: peak RSS (VmHWM) $hs_hwm kB"
python3 -c 'import json, sys
p, hwm, rss, pss, hs, nq, nm = sys.argv[1:]
with open(p) as f:
    j = json.load(f)
j["holdscan_web_kb"] = {"vmhwm": int(hwm), "vmrss": int(rss), "pss": int(pss)}
j["holdscand_master_vmhwm_kb"] = int(hs)
j["quarantined"], j["log_records"] = int(nq), int(nm)
with open(p, "w") as f:
    json.dump(j, f, indent=1)' "$JSON_OUT" "$hwm" "$rss" "$pss" "$hs_hwm" \
    "$NQ" "$NM"
if [ "$hwm" -ge 51200 ]; then
	echo "web.sh: holdscan-web's peak RSS is over 50 MB" >&2
	status=1
fi
echo "holdscan-web: $(grep -c 'warning' "$T/web.log" || :) warnings;" \
    "holdscand: $(grep -c 'control' "$T/holdscand.log" || :) control lines"
echo "(HTTP: each request's wall time at the client; JSON: $JSON_OUT)"

# --- the farm's queries ------------------------------------------------------
if [ "${BENCH_WEB_FARM:-yes}" != no ]; then
	stop_pid "$web_pid"
	stop_pid "$hs_pid"
	web_pid=
	hs_pid=
	sh "$src/tests/lib/sandbox.sh" stop "$T/pf" >/dev/null 2>&1 || :
	if [ -x /usr/lib/postgresql/15/bin/postgres ]; then
		HS_BUILD=$HS_BUILD BENCH_WEB_JSON=$JSON_OUT \
		    sh "$here/webfarm.sh" || status=1
	else
		echo "web bench, farm: not measured (postgresql-15 is not" \
		    "installed: make deps)"
	fi
fi
exit "$status"
