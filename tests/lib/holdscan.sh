# holdscan.sh - run holdscand against a sandbox in tests/e2e/*.t (POSIX sh).
#
# Source after tap.sh:
#	. "$HS_LIB/holdscan.sh"
#	sb_start A
#	hs_start A <<-EOF
#	    scanners = crashtest
#	EOF
#
#   hs_conf NAME          write NAME's holdscan.conf (sandbox NAME's Postfix,
#                         state, quarantine, pid file and scanner_temp_directory
#                         in its directory,
#                         plugins from $HS_BUILD/plugins and the scanner
#                         program $HS_BUILD/holdscan-scanner, both copied
#                         there, worker_user nobody) plus the lines on
#                         stdin; prints its path
#   hs_conf_at DIR POSTFIX_CONFIG MAIL_OWNER   the same for the sandbox in
#                         DIR, without tap.sh
#   hs_start NAME         hs_conf, then start holdscand -f in the background
#                         (log: NAME_HS_LOG) and wait until its scanners are
#                         ready; sets NAME_HS_PID, NAME_HS_CONF, NAME_HS_LOG
#   hs_run NAME           start holdscand again with the existing config
#                         (with HS_PRELOAD set, holdscand alone runs with
#                         LD_PRELOAD=$HS_PRELOAD, e.g. the fault shim; with
#                         HS_ENV set, holdscand and what it starts run with
#                         these name=value words in their environment)
#   hs_stop NAME          SIGTERM, wait (bounded) for it and its scanners
#   hs_kill9 NAME         SIGKILL the master only (the scanners follow it)
#   hs_wait_log NAME TIMEOUT PATTERN   wait for a log line (grep -E)
#   hs_count_log NAME PATTERN          how many log lines match
#   hs_warnings_after NAME N  warning, fatal and panic lines in the log
#                         after its first N lines
#   hs_alive NAME         holdscand still running?
#   hs_procs NAME         pids of holdscand and every scanner process it made
#   hs_supervisor NAME    pid of its scanner supervisor (holdscand-super)
#   hs_scanner_parent NAME  pid of its scanner parent (the holdscand-scan
#                         that the supervisor started)
#   hs_workers NAME       pids of its scanner workers (the children of the
#                         scanner parent)
#   hs_memory NAME        "PROCS RSS PSS" of hs_procs' processes: how many
#                         there were, their VmRSS and their Pss summed, in kB
#                         (PSS is "-" without /proc/PID/smaps_rollup)
#   hs_stop_all           stop every daemon started here (tap.sh's exit trap)
#   hs_sink_file NAME TOKEN  the sink file of NAME holding the message whose
#                         X-Test-Token is TOKEN (fails when none does)
#   hs_quarantined NAME   how many files NAME's quarantine holds
#   hs_in_quarantine NAME ID  is the message with Message-ID <ID@...> in it?
#   at_least N CMD...     CMD's output is a number >= N (for wait_until)
#
# $HS_BUILD names the build directory (make check-e2e sets it).

: "${HS_BUILD:?set HS_BUILD to the build directory (make check-e2e does)}"
HOLDSCAND="$HS_BUILD/holdscand"
# shellcheck disable=SC2034 # used by the tests that source this file
HOLDSCAN="$HS_BUILD/holdscan"
_hs_daemons=

_hs_get() {
	eval "printf '%s' \"\${$1_$2:-}\""
}

# hs_plugins DIR - a copy of the build's plugins in DIR/plugins (root's,
# 0755), printed. The scanners load them as worker_user, who may not be
# able to reach the checkout (a clone below /root or a 0700 "mktemp -d").
# Each file is renamed into place: a running holdscand may have the old
# one mapped, and writing into it would change its code under it.
hs_plugins() {
	mkdir -p "$1/plugins" && chmod 0755 "$1/plugins" || return 1
	for _hp_so in "$HS_BUILD"/plugins/*.so; do
		_hp_dst="$1/plugins/${_hp_so##*/}"
		cp "$_hp_so" "$_hp_dst.new" && chmod 0644 "$_hp_dst.new" &&
		    mv -f "$_hp_dst.new" "$_hp_dst" || return 1
	done
	echo "$1/plugins"
}

# hs_scanner_program DIR - a copy of the build's scanner program in DIR
# (root's, 0755), printed: worker_user runs it, for the same reason as
# hs_plugins, and a running one is never written over either.
hs_scanner_program() {
	cp "$HS_BUILD/holdscan-scanner" "$1/holdscan-scanner.new" &&
	    chmod 0755 "$1/holdscan-scanner.new" &&
	    mv -f "$1/holdscan-scanner.new" "$1/holdscan-scanner" || return 1
	echo "$1/holdscan-scanner"
}

hs_conf() {
	hs_conf_at "$(sb_dir "$1")" "$(sb_env "$1" CONFIG)" \
	    "$(sb_env "$1" MAIL_OWNER)"
}

# hs_conf_at DIR POSTFIX_CONFIG MAIL_OWNER - hs_conf for the sandbox in
# DIR without tap.sh (the benchmarks use it)
hs_conf_at() {
	_hc_dir=$1
	mkdir -p "$_hc_dir/hs/state" "$_hc_dir/hs/quarantine"
	chown "$3" "$_hc_dir/hs/state" "$_hc_dir/hs/quarantine"
	chmod 0700 "$_hc_dir/hs/state" "$_hc_dir/hs/quarantine"
	{
		echo "postfix_config_directory = $2"
		echo "state_directory = $_hc_dir/hs/state"
		echo "state_region_directory = $_hc_dir/hs/regions"
		echo "quarantine_directory = $_hc_dir/hs/quarantine"
		echo "pid_file = $_hc_dir/hs/holdscand.pid"
		echo "metrics_file = $_hc_dir/hs/state/metrics.prom"
		echo "plugin_directory = $(hs_plugins "$_hc_dir/hs")"
		echo "scanner_program = $(hs_scanner_program "$_hc_dir/hs")"
		echo "scanner_temp_directory = $_hc_dir/hs/scantmp"
		echo "worker_user = nobody"
		echo "worker_count = 2"
		cat
	} >"$_hc_dir/hs/holdscan.conf"
	chmod 0644 "$_hc_dir/hs/holdscan.conf"
	echo "$_hc_dir/hs/holdscan.conf"
}

hs_run() {
	_hr_dir=$(sb_dir "$1")
	_hr_conf="$_hr_dir/hs/holdscan.conf"
	_hr_log="$_hr_dir/hs/holdscand.log"
	_hr_start=0
	[ -f "$_hr_log" ] && _hr_start=$(wc -l <"$_hr_log")
	# The log exists before the daemon's shell opens it, for the wait below
	: >>"$_hr_log"
	if [ -n "${HS_PRELOAD:-}" ]; then
		env LD_PRELOAD="$HS_PRELOAD" "$HOLDSCAND" -f -c "$_hr_conf" \
		    >>"$_hr_log" 2>&1 &
	elif [ -n "${HS_ENV:-}" ]; then
		# shellcheck disable=SC2086 # words, one name=value each
		env $HS_ENV "$HOLDSCAND" -f -c "$_hr_conf" >>"$_hr_log" 2>&1 &
	else
		"$HOLDSCAND" -f -c "$_hr_conf" >>"$_hr_log" 2>&1 &
	fi
	_hr_pid=$!
	eval "$1_HS_PID=$_hr_pid"
	eval "$1_HS_CONF='$_hr_conf'"
	eval "$1_HS_LOG='$_hr_log'"
	case " $_hs_daemons " in
	*" $1 "*) ;;
	*) _hs_daemons="$_hs_daemons $1" ;;
	esac
	# Ready when this run has said so (lines after the ones before it).
	_hr_i=0
	while [ "$_hr_i" -lt 300 ]; do
		if tail -n "+$((_hr_start + 1))" "$_hr_log" |
		    grep -q 'scanners ready'; then
			return 0
		fi
		if ! kill -0 "$_hr_pid" 2>/dev/null; then
			diag "holdscand $1 exited at start:"
			tail -n "+$((_hr_start + 1))" "$_hr_log" | sed 's/^/# /' >&2
			return 1
		fi
		sleep 0.1
		_hr_i=$((_hr_i + 1))
	done
	diag "holdscand $1 not ready after 30 s"
	return 1
}

hs_start() {
	hs_conf "$1" >/dev/null
	hs_run "$1"
}

# hs_procs NAME - the master and every process in its tree.
hs_procs() {
	_hp_pid=$(_hs_get "$1" HS_PID)
	[ -n "$_hp_pid" ] || return 0
	ps -eo pid=,ppid= | awk -v root="$_hp_pid" '
	    { parent[$1] = $2 }
	    END {
		keep[root] = 1; changed = 1
		while (changed) {
			changed = 0
			for (p in parent)
				if (!(p in keep) && (parent[p] in keep)) {
					keep[p] = 1; changed = 1
				}
		}
		for (p in keep) if (p in parent) print p
	    }'
}

# _hs_role NAME ROLE - its processes by role: "supervisor" (named
# holdscand-super), "parent" (a holdscand-scan whose parent is not one)
# and "worker" (a holdscand-scan whose parent is one)
_hs_role() {
	_hr_procs=" $(hs_procs "$1" | tr '\n' ' ') "
	ps -eo pid=,ppid=,comm= | awk -v procs="$_hr_procs" -v role="$2" '
	    { ppid[$1] = $2; comm[$1] = $3 }
	    END {
		for (p in comm) {
			if (!index(procs, " " p " "))
				continue
			scan = comm[p] == "holdscand-scan"
			pscan = comm[ppid[p]] == "holdscand-scan"
			if ((role == "supervisor" && comm[p] == "holdscand-super") ||
			    (role == "parent" && scan && !pscan) ||
			    (role == "worker" && scan && pscan))
				print p
		}
	    }'
}

hs_supervisor() {
	_hs_role "$1" supervisor
}

hs_scanner_parent() {
	_hs_role "$1" parent
}

hs_workers() {
	_hs_role "$1" worker
}

hs_memory() {
	for _hm_p in $(hs_procs "$1"); do
		cat "/proc/$_hm_p/status" "/proc/$_hm_p/smaps_rollup" 2>/dev/null
	done | awk '
	    /^VmRSS:/ { n++; rss += $2 }
	    /^Pss:/ { pss += $2; havepss = 1 }
	    END { print n + 0, rss + 0, (havepss ? pss : "-") }'
}

hs_alive() {
	_ha_pid=$(_hs_get "$1" HS_PID)
	[ -n "$_ha_pid" ] && kill -0 "$_ha_pid" 2>/dev/null &&
	    ! ps -o stat= -p "$_ha_pid" | grep -q Z
}

hs_stop() {
	_hs_pid=$(_hs_get "$1" HS_PID)
	[ -n "$_hs_pid" ] || return 0
	_hs_procs=$(hs_procs "$1")
	kill -TERM "$_hs_pid" 2>/dev/null
	_hs_i=0
	while [ "$_hs_i" -lt 150 ] && kill -0 "$_hs_pid" 2>/dev/null; do
		sleep 0.1
		_hs_i=$((_hs_i + 1))
	done
	if kill -0 "$_hs_pid" 2>/dev/null; then
		diag "holdscand $1 ($_hs_pid) ignored SIGTERM for 15 s; killing"
		kill -KILL "$_hs_pid" 2>/dev/null
	fi
	wait "$_hs_pid" 2>/dev/null
	# The scanners die with the master; make sure, by pid.
	_hs_i=0
	while [ "$_hs_i" -lt 50 ]; do
		_hs_left=
		for _hs_p in $_hs_procs; do
			kill -0 "$_hs_p" 2>/dev/null && _hs_left="$_hs_left $_hs_p"
		done
		[ -z "$_hs_left" ] && break
		sleep 0.1
		_hs_i=$((_hs_i + 1))
	done
	for _hs_p in $_hs_left; do
		kill -KILL "$_hs_p" 2>/dev/null
	done
	eval "$1_HS_PID="
	return 0
}

hs_kill9() {
	_hk_pid=$(_hs_get "$1" HS_PID)
	[ -n "$_hk_pid" ] || return 1
	kill -KILL "$_hk_pid" 2>/dev/null
	wait "$_hk_pid" 2>/dev/null
	eval "$1_HS_PID="
	return 0
}

hs_wait_log() {
	_hw_log=$(_hs_get "$1" HS_LOG)
	wait_until "$2" grep -Eq "$3" "$_hw_log"
}

hs_count_log() {
	grep -Ec "$2" "$(_hs_get "$1" HS_LOG)" || true
}

hs_warnings_after() {
	tail -n "+$(($2 + 1))" "$(_hs_get "$1" HS_LOG)" |
	    grep -Ec 'warning|fatal|panic' || true
}

hs_stop_all() {
	for _hsa in $_hs_daemons; do
		hs_stop "$_hsa"
	done
}

# hs_clamav_data SIGS MAIL - the test signatures into SIGS and the test
# messages into MAIL (clamav-testdata.py); before plan: skips the script
# without clamav-testfiles, stops it without the clamav plugin.
hs_clamav_data() {
	[ -r /usr/share/clamav-testfiles/clam.zip ] ||
	    skip_all "clamav-testfiles is not installed (make deps)"
	[ -f "$HS_BUILD/plugins/clamav.so" ] ||
	    bail_out "no $HS_BUILD/plugins/clamav.so"
	if ! "$HS_PYTHON" "$HS_LIB/../tools/clamav-testdata.py" sigs "$1" \
	    >/dev/null ||
	    ! "$HS_PYTHON" "$HS_LIB/../tools/clamav-testdata.py" mail "$2" \
	    >/dev/null; then
		bail_out "clamav-testdata.py failed"
	fi
}

hs_sink_file() {
	for _hsf in $(sink_messages "$1"); do
		if grep -q "^X-Test-Token: $2\$" "$_hsf"; then
			echo "$_hsf"
			return 0
		fi
	done
	return 1
}

hs_quarantined() {
	find "$(sb_dir "$1")/hs/quarantine" -type f | wc -l | tr -d ' '
}

hs_in_quarantine() {
	find "$(sb_dir "$1")/hs/quarantine" -type f \
	    -exec grep -la "Message-ID: <$2@" {} + | grep -q .
}

at_least() {
	_al_n=$1
	shift
	[ "$("$@")" -ge "$_al_n" ]
}
