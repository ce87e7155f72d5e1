# torture.sh - shared parts of the kill tests in tests/torture/*.t (POSIX sh).
#
# Source after tap.sh and holdscan.sh:
#	. "$HS_LIB/torture.sh"
#	tt_init
#	sb_start A
#	tt_conf A <<-EOF
#	    max_in_flight = 2000
#	EOF
#
# The mail (tests/lib/mixsend.py): clean, infected (the EICAR test string,
# found by the test signatures of tests/tools/clamav-testdata.py: they
# are quarantined), big (over message_size_limit = TT_BIG_LIMIT: set
# aside in hold) and crash (crashtest.so crashes the worker that scans
# it; after scan_retry_limit attempts: set aside in hold).
#
#   tt_init               signatures, fault-shim files, counters; sets TT_*
#   tt_conf NAME          hs_conf with the torture configuration (clamav,
#                         crashtest, infected = quarantine, scan_failed =
#                         hold, message_size_limit) plus the lines on stdin
#   tt_send NAME PREFIX MIX [mixsend.py options...]
#                         mixsend.py in the background until TT_STOP exists
#                         (or --count); its pid in TT_SENDER, its manifest
#                         $HS_TMP/PREFIX.manifest
#   tt_event NAME TEXT    a "torture: ..." line in holdscand's log (so the
#                         lines around a failure show the kills)
#   tt_launch NAME [RULE] start holdscand without waiting for it (with RULE:
#                         under the fault shim with that one rule, see
#                         tests/fault/faultshim.c); sets NAME_HS_PID
#   tt_shim_fired PID     the fault shim killed PID (its log says so)
#   tt_kill_master NAME WHY   SIGKILL holdscand's master (not its scanners:
#                         they must follow by themselves) and wait, bounded,
#                         for all its processes to be gone
#   tt_stop NAME          hs_stop (SIGTERM), noting in the log when it took
#                         longer than 15 s and hs_stop had to kill it
#   tt_reap NAME          after holdscand died by itself: reap it and wait
#                         for its processes
#   tt_self_exit NAME     holdscand is found gone without a kill: say so
#                         (its last log lines), reap it, count it
#   tt_restart NAME       hs_run, up to 3 tries (counts failed starts)
#   tt_rand LOW HIGH      a random number from LOW to HIGH
#   tt_count KIND         one more kill of KIND (for the report)
#   tt_drained NAME       nothing left to do: claimed/, staging/, incoming,
#                         active, deferred and maildrop empty, and every
#                         file in hold set aside
#   tt_tally NAME TITLE   where every message went (tests/lib/tally.py);
#                         prints the table and the kills, appends them to
#                         $TT_RESULTS; failures with the holdscand log
#                         lines of each
#   tt_quarantine NAME ARGS...   holdscan -c NAME's config quarantine ARGS
#   tt_stat WHAT          a figure: failed_starts, slow_exits, tally_rc, or
#                         one of tally.py's summary (after tt_tally): sent
#                         deliv releas quar expired aside dup lost qbroken
#                         inqueue wrongway unknown failures
#                         files_without_entry
#
# TT_RESULTS (default: build/torture-results.txt beside HS_BUILD) collects
# the tables of every test of a "make torture" run.

TT_SHIM="$HS_BUILD/tests/fault/libfaultshim.so"
TT_CRASH_MARKER=HOLDSCAN-TORTURE-CRASH-7d1e
TT_BIG_LIMIT=200k
TT_BIG_SIZE=300000
TT_RESULTS=${TT_RESULTS:-$(dirname "$HS_BUILD")/torture-results.txt}
TT_STOP="$HS_TMP/stop-sending"
TT_SENDER=
_tt_kinds=

tt_init() {
	[ -f "$TT_SHIM" ] || bail_out "$TT_SHIM is missing (make progs)"
	[ -f "$HS_BUILD/plugins/clamav.so" ] ||
	    bail_out "$HS_BUILD/plugins/clamav.so is missing (make progs)"
	[ -f "$HS_BUILD/plugins/crashtest.so" ] ||
	    bail_out "$HS_BUILD/plugins/crashtest.so is missing (make progs)"
	"$HS_PYTHON" "$HS_LIB/../tools/clamav-testdata.py" sigs \
	    "$HS_TMP/sigs" || bail_out "clamav-testdata.py sigs failed"
	HS_FAULT_FILE="$HS_TMP/faults.rules"
	HS_FAULT_LOG="$HS_TMP/faults.log"
	export HS_FAULT_FILE HS_FAULT_LOG
	: >"$HS_FAULT_FILE"
	: >"$HS_FAULT_LOG"
	# holdscand's processes run as the mail owner and nobody.
	chmod 0666 "$HS_FAULT_LOG"
	chmod 0644 "$HS_FAULT_FILE"
	: >"$HS_TMP/kills"
	: >"$HS_TMP/expired"
	: >"$HS_TMP/released"
	tt_failed_starts=0
	tt_slow_stops=0
	tt_self_exits=0
	tt_watchdog_exits=0
	tt_slow_exits=0
	mkdir -p "$(dirname "$TT_RESULTS")"
}

tt_conf() {
	{
		cat <<-EOF
		scanners = "clamav, crashtest"
		plugin clamav {
		    database_directory = $HS_TMP/sigs
		}
		plugin crashtest {
		    marker = $TT_CRASH_MARKER
		    mode = crash
		}
		policy {
		    infected = quarantine
		    scan_failed = hold
		}
		message_size_limit = $TT_BIG_LIMIT
		# A tool killed while it held a Berkeley DB mutex leaves
		# holdscand stuck for good: its watchdog ends it (status 70)
		# and the restart recovers; sooner than the default 120s.
		daemon_timeout = 10s
		EOF
		cat
	} | hs_conf "$1" >/dev/null
}

# (bounded: a tool that hangs on a lock a killed one left is a failure
# to see, not a reason to hang the test)
tt_quarantine() {
	_tq_name=$1
	shift
	timeout -s KILL 120 "$HOLDSCAN" \
	    -c "$(sb_dir "$_tq_name")/hs/holdscan.conf" quarantine "$@"
}

tt_rand() {
	od -An -N4 -tu4 /dev/urandom | awk -v a="$1" -v b="$2" \
	    '{ print a + $1 % (b - a + 1) }'
}

tt_count() {
	echo "$1" >>"$HS_TMP/kills"
}

tt_event() {
	_te_log="$(sb_dir "$1")/hs/holdscand.log"
	echo "torture: $(date +%H:%M:%S.%N | cut -c1-12) $2" >>"$_te_log"
}

tt_send() {
	_ts_name=$1
	_ts_prefix=$2
	_ts_mix=$3
	shift 3
	rm -f "$TT_STOP"
	"$HS_PYTHON" "$HS_LIB/mixsend.py" --prefix "$_ts_prefix" \
	    --mix "$_ts_mix" --crash-marker "$TT_CRASH_MARKER" \
	    --big-size "$TT_BIG_SIZE" --stop-file "$TT_STOP" \
	    --manifest "$HS_TMP/$_ts_prefix.manifest" "$@" \
	    "127.0.0.1:$(sb_env "$_ts_name" SMTP_PORT)" \
	    >>"$HS_TMP/sender.log" 2>&1 &
	# shellcheck disable=SC2034 # for the tests
	TT_SENDER=$!
}

# tt_launch NAME [RULE] - like hs_run, without waiting for "scanners ready".
tt_launch() {
	_tl_dir=$(sb_dir "$1")
	_tl_conf="$_tl_dir/hs/holdscan.conf"
	_tl_log="$_tl_dir/hs/holdscand.log"
	if [ -n "${2:-}" ]; then
		echo "$2" >"$HS_FAULT_FILE.new"
		chmod 0644 "$HS_FAULT_FILE.new"
		mv -f "$HS_FAULT_FILE.new" "$HS_FAULT_FILE"
		env LD_PRELOAD="$TT_SHIM" "$HOLDSCAND" -f -c "$_tl_conf" \
		    >>"$_tl_log" 2>&1 &
	else
		"$HOLDSCAND" -f -c "$_tl_conf" >>"$_tl_log" 2>&1 &
	fi
	_tl_pid=$!
	eval "$1_HS_PID=$_tl_pid"
	eval "$1_HS_CONF='$_tl_conf'"
	eval "$1_HS_LOG='$_tl_log'"
	case " $_hs_daemons " in
	*" $1 "*) ;;
	*) _hs_daemons="$_hs_daemons $1" ;;
	esac
}

tt_shim_fired() {
	grep -q "^$1 [a-z]* KILL" "$HS_FAULT_LOG"
}

# _tt_gone PID... - none of them is running (zombies count as gone).
_tt_gone() {
	for _tg_p in "$@"; do
		if kill -0 "$_tg_p" 2>/dev/null &&
		    ! ps -o stat= -p "$_tg_p" 2>/dev/null | grep -q Z; then
			return 1
		fi
	done
	return 0
}

# _tt_daemon_pids NAME - every holdscand process of NAME's configuration
# (the master and the scanner processes it forked, which keep its command
# line), found by that unique path; a master that died no longer leads to
# its children through the process tree.
_tt_daemon_pids() {
	_tdp_conf="$(sb_dir "$1")/hs/holdscan.conf"
	ps -eo pid=,comm=,args= | awk -v c="-c $_tdp_conf" \
	    '$2 == "holdscand" && index($0, c) { print $1 }'
}

# _tt_wait_procs NAME PIDS - wait up to 10 s for PIDS (holdscand's other
# processes) to end after its master died; kill the rest, by pid.
_tt_wait_procs() {
	# shellcheck disable=SC2086
	if ! wait_until 10 _tt_gone $2; then
		tt_slow_exits=$((tt_slow_exits + 1))
		tt_event "$1" "processes still running 10 s after the master" \
		    "died: $2; killed"
		diag "holdscand's processes outlived its master by 10 s: $2"
		for _tw_p in $2; do
			kill -KILL "$_tw_p" 2>/dev/null
		done
	fi
}

tt_kill_master() {
	_tk_pid=$(_hs_get "$1" HS_PID)
	[ -n "$_tk_pid" ] || return 1
	_tk_procs=$(hs_procs "$1")
	tt_event "$1" "kill -9 master $_tk_pid ($2)"
	kill -KILL "$_tk_pid" 2>/dev/null
	wait "$_tk_pid" 2>/dev/null
	eval "$1_HS_PID="
	_tt_wait_procs "$1" "$_tk_procs $(_tt_daemon_pids "$1")"
	return 0
}

tt_stop() {
	_ts_pid=$(_hs_get "$1" HS_PID)
	[ -n "$_ts_pid" ] || return 0
	tt_event "$1" "SIGTERM to master $_ts_pid"
	kill -TERM "$_ts_pid" 2>/dev/null
	if wait_until 15 _tt_gone "$_ts_pid"; then
		_tt_watchdog "$1" "$_ts_pid"
		hs_stop "$1"
		return 0
	fi
	# Where it is stuck, before it is killed.
	tt_slow_stops=$((tt_slow_stops + 1))
	_ts_keep="$(dirname "$TT_RESULTS")/torture-failures"
	mkdir -p "$_ts_keep"
	{
		echo "$(basename "$0"): holdscand $_ts_pid ignored SIGTERM for" \
		    "15 s; wchan $(cat "/proc/$_ts_pid/wchan" 2>/dev/null)," \
		    "state $(ps -o stat= -p "$_ts_pid"); its kernel stack:"
		sed 's/^/    /' "/proc/$_ts_pid/stack" 2>/dev/null
		echo "  the test's last events before the SIGTERM:"
		grep '^torture:' "$(sb_dir "$1")/hs/holdscand.log" | tail -n 8 |
		    sed 's/^/    /'
		echo "  its last lines:"
		grep "holdscand\[$_ts_pid\]" "$(sb_dir "$1")/hs/holdscand.log" |
		    tail -n 8 | sed 's/^/    /'
	} | tee -a "$_ts_keep/slow-stops.txt" | sed 's/^/# /' >&2
	tt_event "$1" "master $_ts_pid did not stop in 15 s after SIGTERM;" \
	    "killed"
	tt_kill_master "$1" "ignored SIGTERM for 15 s"
}

tt_reap() {
	_tr_pid=$(_hs_get "$1" HS_PID)
	[ -n "$_tr_pid" ] || return 0
	_tr_procs=$(hs_procs "$1")
	wait "$_tr_pid" 2>/dev/null
	eval "$1_HS_PID="
	_tt_wait_procs "$1" "$_tr_procs $(_tt_daemon_pids "$1")"
}

# _tt_watchdog NAME PID - did PID end by its watchdog (daemon_timeout)?
# Counted apart: the documented way out of a Berkeley DB mutex that a
# killed tool left held, not a failure (no mail may be lost by it).
_tt_watchdog() {
	grep -q "holdscand\[$2\]: fatal: the event loop has not come round" \
	    "$(sb_dir "$1")/hs/holdscand.log" || return 1
	tt_watchdog_exits=$((tt_watchdog_exits + 1))
	tt_event "$1" "holdscand $2 ended by its watchdog (daemon_timeout)"
	return 0
}

tt_self_exit() {
	_tx_pid=$(_hs_get "$1" HS_PID)
	if _tt_watchdog "$1" "$_tx_pid"; then
		tt_reap "$1"
		return 0
	fi
	wait "$_tx_pid" 2>/dev/null
	_tx_rc=$?
	# The fault shim's own SIGKILL, from a rule that fired after the
	# round had stopped waiting for it (a loaded machine): a kill of the
	# test's, counted as such, not holdscand leaving by itself.
	if [ "$_tx_rc" -eq 137 ] &&
	    grep -q "^$_tx_pid [a-z]* KILL" "$HS_FAULT_LOG" 2>/dev/null; then
		tt_count "fault shim: a rule that fired late ($(grep \
		    "^$_tx_pid [a-z]* KILL" "$HS_FAULT_LOG" | head -n 1 |
		    cut -d' ' -f2-3))"
		tt_event "$1" "holdscand $_tx_pid killed late by the fault shim"
		tt_reap "$1"
		return 0
	fi
	tt_self_exits=$((tt_self_exits + 1))
	diag "holdscand $_tx_pid exited by itself (wait status $_tx_rc;" \
	    "above 128: killed by signal $((_tx_rc - 128))); its fatal" \
	    "lines, the fault shim's lines for it, and its last lines:"
	{
		grep -E "holdscand\[$_tx_pid\]: (fatal|panic)" \
		    "$(sb_dir "$1")/hs/holdscand.log" | tail -n 3
		grep "^$_tx_pid " "$HS_FAULT_LOG" | tail -n 3
		grep "holdscand\[$_tx_pid\]" "$(sb_dir "$1")/hs/holdscand.log" |
		    tail -n 4
	} | sed 's/^/#   /' >&2
	tt_event "$1" "holdscand $_tx_pid is gone by itself"
	tt_reap "$1"
}

tt_restart() {
	_tr_try=1
	: >"$HS_FAULT_FILE"
	until hs_run "$1"; do
		tt_failed_starts=$((tt_failed_starts + 1))
		tt_event "$1" "start failed (try $_tr_try)"
		tt_reap "$1"
		[ "$_tr_try" -ge 3 ] && return 1
		_tr_try=$((_tr_try + 1))
		sleep 1
	done
}

tt_drained() {
	_td_q=$(sb_env "$1" QUEUE)
	[ -z "$(find "$_td_q/holdscan/claimed" "$_td_q/holdscan/staging" \
	    "$_td_q/incoming" "$_td_q/active" "$_td_q/deferred" \
	    "$_td_q/maildrop" -type f 2>/dev/null | head -n 1)" ] || return 1
	_td_hold=$(find "$_td_q/hold" -type f | wc -l)
	_td_aside=$("$HOLDSCAN" -c "$(sb_dir "$1")/hs/holdscan.conf" status \
	    --json 2>/dev/null | "$HS_PYTHON" -c \
	    'import json, sys; print(len(json.load(sys.stdin)["set_aside"]))')
	[ "$_td_hold" -eq "${_td_aside:--1}" ]
}

# tt_kills - "KIND COUNT" per kind of kill, and the total.
tt_kills() {
	sort "$HS_TMP/kills" | uniq -c |
	    awk '{ n = $1; $1 = ""; sub(/^ /, ""); printf "  %-44s %6d\n", $0, n;
		t += n }
		END { printf "  %-44s %6d\n", "total", t }'
}

tt_tally() {
	_tt_name=$1
	_tt_title=$2
	_tt_dir=$(sb_dir "$_tt_name")
	sink_messages "$_tt_name" >"$HS_TMP/sink.list"
	tt_quarantine "$_tt_name" list --json >"$HS_TMP/qlist.json" ||
	    diag "holdscan quarantine list --json failed"
	"$HOLDSCAN" -c "$_tt_dir/hs/holdscan.conf" status --json \
	    >"$HS_TMP/status.json" 2>/dev/null ||
	    diag "holdscan status --json failed"
	set --
	for _tt_m in "$HS_TMP"/*.manifest; do
		set -- "$@" --manifest "$_tt_m"
	done
	"$HS_PYTHON" "$HS_LIB/tally.py" "$@" \
	    --queue "$(sb_env "$_tt_name" QUEUE)" \
	    --quarantine "$_tt_dir/hs/quarantine" --qlist "$HS_TMP/qlist.json" \
	    --status "$HS_TMP/status.json" --sink-list "$HS_TMP/sink.list" \
	    --expired "$HS_TMP/expired" --released "$HS_TMP/released" \
	    --problems "$HS_TMP/problems" --summary "$HS_TMP/summary" \
	    >"$HS_TMP/table"
	tt_tally_rc=$?
	{
		echo "== $_tt_title ($(date -u '+%Y-%m-%d %H:%M UTC'))"
		cat "$HS_TMP/table"
		echo "kills:"
		tt_kills
		echo "failed starts: $tt_failed_starts; holdscand processes" \
		    "alive 10 s after their master died: $tt_slow_exits;" \
		    "SIGTERM not obeyed in 15 s: $tt_slow_stops; exited by" \
		    "itself: $tt_self_exits; ended by the watchdog after a" \
		    "killed tool left a Berkeley DB mutex held: $tt_watchdog_exits"
		echo "failures: $(wc -l <"$HS_TMP/problems")"
		echo
	} >"$HS_TMP/report"
	sed 's/^/# /' "$HS_TMP/report"
	cat "$HS_TMP/report" >>"$TT_RESULTS"
	[ -s "$HS_TMP/problems" ] && tt_problems "$_tt_name"
	return 0
}

tt_stat() {
	case $1 in
	failed_starts) echo "$tt_failed_starts" ;;
	slow_exits) echo "$tt_slow_exits" ;;
	slow_stops) echo "$tt_slow_stops" ;;
	self_exits) echo "$tt_self_exits" ;;
	watchdog_exits) echo "$tt_watchdog_exits" ;;
	tally_rc) echo "$tt_tally_rc" ;;
	*) sed -n "s/^$1=//p" "$HS_TMP/summary" 2>/dev/null ;;
	esac
}

# tt_problems NAME - each failure with the holdscand log lines of its
# queue id (and of the ids it got), the kills, starts and errors between
# its first and its last line, and the lines after the last; all of it
# also kept in build/torture-failures/ with holdscand's log and maillog.
tt_problems() {
	_tp_log="$(sb_dir "$1")/hs/holdscand.log"
	_tp_keep="$(dirname "$TT_RESULTS")/torture-failures"
	mkdir -p "$_tp_keep"
	_tp_n=0
	while read -r _tp_token _tp_kind _tp_qid _tp_class _tp_detail; do
		_tp_n=$((_tp_n + 1))
		echo "$_tp_class: $_tp_token ($_tp_kind, queue id $_tp_qid)" \
		    "$_tp_detail"
		[ "$_tp_qid" = "?" ] && continue
		[ "$_tp_n" -le 200 ] || continue	# the log lines of 200 are enough
		# The ids this message got (new_id= of a delivery).
		_tp_ids=$(grep -E "(^|[^A-Z0-9])$_tp_qid:" "$_tp_log" |
		    sed -n 's/.* new_id=\([0-9A-Za-z]*\).*/\1/p' | sort -u |
		    tr '\n' '|')
		echo "  holdscand log lines of $_tp_qid ${_tp_ids:+(and $_tp_ids)}:"
		grep -n -E "(^|[^A-Z0-9])($_tp_ids$_tp_qid)([^A-Za-z0-9]|$)" \
		    "$_tp_log" >"$HS_TMP/problem.lines"
		tail -n 30 "$HS_TMP/problem.lines" | sed 's/^/    /'
		# What happened to holdscand between its first and last line.
		_tp_lines=$(cut -d: -f1 "$HS_TMP/problem.lines")
		_tp_first=$(echo "$_tp_lines" | head -n 1)
		_tp_last=$(echo "$_tp_lines" | tail -n 1)
		[ -n "$_tp_first" ] || continue
		echo "  kills, starts and errors from line $_tp_first to" \
		    "$_tp_last (and 3 lines after):"
		sed -n "${_tp_first},$((_tp_last + 3))p" "$_tp_log" |
		    grep -E '^torture:|\]: started:|fatal|panic|warning: (state|journal)|BDB[0-9]' |
		    tail -n 20 | sed 's/^/    /'
		echo "  the lines after its last one:"
		sed -n "$((_tp_last + 1)),$((_tp_last + 3))p" "$_tp_log" |
		    sed 's/^/    /'
	done <"$HS_TMP/problems" >"$HS_TMP/problems.txt"
	cp "$HS_TMP/problems.txt" "$_tp_keep/$(basename "$0" .t).txt"
	cp "$_tp_log" "$_tp_keep/$(basename "$0" .t).holdscand.log"
	cp "$(sb_env "$1" MAILLOG)" "$_tp_keep/$(basename "$0" .t).maillog"
	# The first 40 in the test's output; all of them in the file.
	head -n 400 "$HS_TMP/problems.txt" | awk '
	    /^[a-z]/ { n++ } n <= 40' | sed 's/^/# /' >&2
	diag "$_tp_n failures; all of them, holdscand's log and the mail log" \
	    "in $_tp_keep/"
}
