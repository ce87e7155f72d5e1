#!/bin/sh
# log.sh - make bench-log: the figures of the message log and of a farm
# (issue 15, item 6), each part alone:
#
#  1. the embedded log, BENCH_LOG_RECORDS records (default 1,000,000)
#     written by tests/tools/msglog-bench as holdscand's batches write
#     them (200 to a transaction, holdscand's 8 MB cache; commits not
#     synced, which costs no CPU of the log's): CPU per record for each
#     100,000, the first and the last side by side, and the queries in
#     that process; then, as root, in the state directory of a private
#     Postfix's configuration, the whole `holdscan log --recipient`,
#     `--sender`, `--since --until` (one hour) and `holdscan trace ID`
#     commands over those records, BENCH_LOG_TOOL_RUNS times each
#     (default 5): the first run and the median, in ms of wall time
#     (process start, configuration, postconf, the environment's open,
#     the query, the output to a file), and the median CPU time of the
#     command (user + system); not root: msglog-write.sh alone;
#  2. the throughput ratio with the log on and off (tests/bench/
#     logratio.py): one Postfix with HOLD, BENCH_LOG_DRAIN messages
#     (default 5,000) put on hold while holdscand is stopped, then
#     drained, alternating message_log = no and the default in
#     BENCH_LOG_RUNS rounds (default 7), the log holding
#     BENCH_LOG_PREFILL records (default 1,000,000) before the first;
#     the ratio of the median rates with its spread over the rounds,
#     and holdscand's CPU per message with the log on and off;
#  3. PostgreSQL (a private cluster, tests/lib/pg.sh): the shipping rate
#     of holdscand's shipper (tests/tools/farm-bench ship,
#     BENCH_SHIP_RECORDS, default 100,000), then the same queries as 1
#     over BENCH_LOG_RECORDS rows (made by SQL with the same values; e2e
#     1530 checks that each uses its index).
#
# BENCH_LOG_PARTS (default "embedded,ratio,pg") picks the parts. Results
# in build/bench/log.txt.
set -eu
: "${HS_BUILD:?run me through make bench-log}"
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
results=${BENCH_RESULTS:-$(dirname "$HS_BUILD")/bench}
PARTS=${BENCH_LOG_PARTS:-embedded,ratio,pg}
N=${BENCH_LOG_RECORDS:-1000000}
TOOL_RUNS=${BENCH_LOG_TOOL_RUNS:-5}
SHIP=${BENCH_SHIP_RECORDS:-100000}
FARM="$HS_BUILD/tests/tools/farm-bench"
mkdir -p "$results"
out="$results/log.txt"
: >"$out"

say() {
	echo "$*" | tee -a "$out"
}

T=$(mktemp -d "${TMPDIR:-/tmp}/hs-logbench.XXXXXX")
chmod 0755 "$T"
# shellcheck disable=SC2317 # the exit trap calls it
cleanup() {
	pg_stop_all 2>/dev/null || :
	[ -d "$T/pf" ] && sh "$src/tests/lib/sandbox.sh" stop "$T/pf" \
	    >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}
median() {
	sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'
}
# tool_time LABEL ARG... - TOOL_RUNS runs of "holdscan -c $conf ARG...":
# the first and the median wall time, the median CPU time (user and
# system, from /usr/bin/time: steadier than the wall on a busy machine)
# and the output's lines
tool_time() {
	label=$1
	shift
	: >"$T/times"
	: >"$T/cpu"
	i=0
	while [ "$i" -lt "$TOOL_RUNS" ]; do
		t0=$(now_ms)
		/usr/bin/time -f '%U %S' -o "$T/time" "$HS_BUILD/holdscan" \
		    -c "$conf" "$@" >"$T/out" 2>"$T/err" ||
		    say "holdscan $*: $(cat "$T/err")"
		echo $(($(now_ms) - t0)) >>"$T/times"
		awk '{ printf "%d\n", ($1 + $2) * 1000 }' "$T/time" >>"$T/cpu"
		i=$((i + 1))
	done
	say "$(printf '%-38s first %4d ms, median %4d ms wall, %3d ms CPU, %s lines' \
	    "$label" "$(head -1 "$T/times")" "$(median <"$T/times")" \
	    "$(median <"$T/cpu")" "$(wc -l <"$T/out" | tr -d ' ')")"
}

case ",$PARTS," in
*,embedded,*)
	say "== embedded message log, $N records"
	if [ "$(id -u)" -ne 0 ]; then
		BENCH_MSGLOG=$N sh "$here/msglog-write.sh" | tee -a "$out"
		say "holdscan log and trace: not measured (run me as root)"
	else
		sh "$src/tests/lib/sandbox.sh" start "$T/pf" hold=no \
		    >"$T/sandbox.out" 2>&1 || {
			say "the Postfix sandbox did not start: \
$(tail -3 "$T/sandbox.out")"
			exit 1
		}
		# shellcheck disable=SC1091
		. "$T/pf/sandbox.env"
		. "$src/tests/lib/holdscan.sh"
		conf=$(hs_conf_at "$T/pf" "$SB_CONFIG" "$SB_MAIL_OWNER" </dev/null)
		# Beyond 100,000 records, commits without a sync (-S), as
		# msglog-write.sh: the same CPU is counted.
		set --
		[ "$N" -gt 100000 ] && set -- -S
		setpriv --reuid="$SB_MAIL_OWNER" --regid="$SB_MAIL_OWNER" \
		    --clear-groups "$HS_BUILD/tests/tools/msglog-bench" \
		    "$@" -n "$N" "$T/pf/hs/state" | tee -a "$out"
		now=$(date +%s)
		half=$((N / 2))
		trace_id=$(printf '%08X%03X' $((half * 7919 % 4294967295)) \
		    $((half % 4096)))
		say "-- the holdscan commands over $N records ($TOOL_RUNS runs each, whole command)"
		tool_time "holdscan log --recipient" log \
		    --recipient rcpt13@domain7.example
		tool_time "holdscan log --sender" log \
		    --sender user7@domain7.example
		tool_time "holdscan log --since --until (1 hour)" log \
		    --since "@$((now - 3600))" --until "@$now"
		tool_time "holdscan trace ID" trace "$trace_id"
		say "(targets: log < 100 ms, trace < 50 ms)"
		sh "$src/tests/lib/sandbox.sh" stop "$T/pf" >/dev/null 2>&1 || :
		rm -rf "$T/pf"
	fi
	;;
esac

case ",$PARTS," in
*,ratio,*)
	say "== throughput with the message log on and off"
	python3 "$here/logratio.py" "$HS_BUILD" "$results" | tee -a "$out"
	;;
esac

case ",$PARTS," in
*,pg,*)
	# pg.sh's helpers, without tap.sh
	diag() {
		echo "# $*" >&2
	}
	. "$src/tests/lib/pg.sh"
	pg_available || { say "pg: postgresql-15 is not installed"; exit 1; }
	pg_start P || { say "pg: PostgreSQL did not start"; exit 1; }
	"$FARM" init "$P_PG_CONNINFO"
	say "== PostgreSQL 15 (private cluster, unix socket, fsync off)"
	mkdir "$T/state"
	"$FARM" ship -n "$SHIP" "$T/state" "$P_PG_CONNINFO" 2>/dev/null |
	    tee -a "$out"
	# 1,000,000 rows with the values of msglog-bench's records.
	t0=$(date +%s)
	pg_sql P "TRUNCATE message_log;
	    INSERT INTO message_log (host, seq, time, orig_id, orig_inode,
	    new_id, quarantine_id, sender, recipients, size, subject,
	    client_address, verdict, action, plugins, hold_ms, scan_ms)
	    SELECT 'bench.example.org', i, now() - ($N - i) * interval '1 s',
	    upper(lpad(to_hex(i * 7919 % 4294967295), 8, '0')) ||
	    upper(lpad(to_hex(i % 4096), 3, '0')), i,
	    upper(lpad(to_hex(i * 104729 % 4294967295), 8, '0')) ||
	    upper(lpad(to_hex((i + 1) % 4096), 3, '0')), '',
	    'user' || i % 2000 || '@domain' || i % 40 || '.example',
	    CASE WHEN i % 20 = 0 THEN ARRAY['rcpt' || i * 13 % 2000 ||
	    '@domain' || i * 7 % 40 || '.example', 'abuse@domain0.example']
	    ELSE ARRAY['rcpt' || i * 13 % 2000 || '@domain' || i * 7 % 40 ||
	    '.example'] END, 2048, 'Your invoice for the month of November',
	    '192.0.2.25', 'clean', 'deliver',
	    'clamav=clean attachments=clean headers=clean', 120, 2
	    FROM generate_series(0::bigint, $N - 1) i" >/dev/null
	pg_sql P "VACUUM ANALYZE message_log" >/dev/null
	say "pg: $N rows made and analyzed in $(($(date +%s) - t0)) s"
	now=$(date +%s)
	half=$((N / 2))
	trace_id=$(printf '%08X%03X' $((half * 7919 % 4294967295)) $((half % 4096)))
	"$FARM" query "$P_PG_CONNINFO" rcpt13@domain7.example \
	    user7@domain7.example $((now - 3600)) "$now" "$trace_id" |
	    tee -a "$out"
	pg_stop P
	;;
esac
echo "results: $out"
