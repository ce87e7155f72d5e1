#!/bin/sh
# log.sh - make bench-log: the figures of the message log and of a farm
# (issue 15, item 6), each part alone:
#
#  1. the embedded log (tests/bench/msglog-write.sh, BENCH_LOG_RECORDS
#     records, default 1,000,000): CPU per record of the write, then
#     holdscan log's queries (recipient, sender, the last hour) and a
#     trace over all of them;
#  2. the throughput ratio with the log on and off: bench.py's drain
#     phase (BENCH_LOG_DRAIN messages, default 4,000, put on hold while
#     holdscand is stopped, then drained), alternating message_log = no
#     and the default, BENCH_LOG_RUNS times each (default 2); the ratio
#     of the median rates, and holdscand's CPU per 1,000 messages;
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
DRAIN=${BENCH_LOG_DRAIN:-4000}
RUNS=${BENCH_LOG_RUNS:-2}
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
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

case ",$PARTS," in
*,embedded,*)
	say "== embedded message log, $N records"
	BENCH_MSGLOG=$N sh "$here/msglog-write.sh" | tee -a "$out"
	;;
esac

case ",$PARTS," in
*,ratio,*)
	say "== throughput with the message log on and off (drain of $DRAIN messages, $RUNS runs each)"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		i=$((i + 1))
		for mode in off on; do
			extra=
			[ "$mode" = off ] && extra="message_log = no"
			BENCH_PHASES=drain BENCH_DRAIN=$DRAIN \
			    BENCH_HS_EXTRA=$extra BENCH_SIGSETS=small \
			    python3 "$here/bench.py" "$HS_BUILD" \
			    "$T/ratio-$mode-$i" >/dev/null
		done
	done
	python3 - "$T" "$RUNS" <<'PYTHON' | tee -a "$out"
import json, os, statistics, sys
base, runs = sys.argv[1], int(sys.argv[2])
def get(mode):
    return [json.load(open(os.path.join(base, "ratio-%s-%d" % (mode, i),
                                        "results.json")))["drain"]
            for i in range(1, runs + 1)]
off, on = get("off"), get("on")
r_off = statistics.median(d["hold_msgs_per_s"] for d in off)
r_on = statistics.median(d["hold_msgs_per_s"] for d in on)
c_off = statistics.median(d["holdscand_cpu_s_per_1000"] for d in off)
c_on = statistics.median(d["holdscand_cpu_s_per_1000"] for d in on)
print("drain, log off: %.1f msgs/s (runs %s), holdscand CPU %.2f s/1000"
      % (r_off, " ".join("%.1f" % d["hold_msgs_per_s"] for d in off), c_off))
print("drain, log on:  %.1f msgs/s (runs %s), holdscand CPU %.2f s/1000"
      % (r_on, " ".join("%.1f" % d["hold_msgs_per_s"] for d in on), c_on))
print("throughput ratio log on / off: %.3f (target >= 0.98); "
      "holdscand CPU on / off: %.3f" % (r_on / r_off, c_on / c_off))
PYTHON
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
