#!/bin/sh
# benchlib.sh - shell helpers the bench scripts share (sourced by web.sh
# and webfarm.sh, which define die() and set HOLDSCAND and HSWEB).

# stop_pid PID - SIGTERM, then SIGKILL after 10 s; nothing for an empty PID
# shellcheck disable=SC2317 # the callers' exit traps call it
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	i=0
	while [ "$i" -lt 100 ] && kill -0 "$1" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null || :
	wait "$1" 2>/dev/null || :
}

# wait_up PID LOG NAME TENTHS CMD... - run CMD every 0.1 s until it
# succeeds; die()s (the caller's) with LOG's last lines when PID exits,
# or after TENTHS tries
wait_up() {
	_pid=$1 _log=$2 _name=$3 _max=$4
	shift 4
	i=0
	until "$@"; do
		kill -0 "$_pid" 2>/dev/null ||
		    die "$_name exited: $(tail -3 "$_log")"
		[ "$i" -lt "$_max" ] ||
		    die "$_name not up after $((_max / 10)) s"
		sleep 0.1
		i=$((i + 1))
	done
}

# start_pair CONF DIR PORT - holdscand, then holdscan-web, on CONF (logs
# DIR/holdscand.log and DIR/web.log), each waited for (its scanners
# ready; the console answering on 127.0.0.1:PORT); sets hs_pid and
# web_pid for the caller's cleanup.
start_pair() {
	"$HOLDSCAND" -f -c "$1" >"$2/holdscand.log" 2>&1 &
	hs_pid=$!
	wait_up "$hs_pid" "$2/holdscand.log" holdscand 1200 \
	    grep -q 'scanners ready' "$2/holdscand.log"
	"$HSWEB" -f -c "$1" >"$2/web.log" 2>&1 &
	web_pid=$!
	wait_up "$web_pid" "$2/web.log" holdscan-web 300 \
	    curl -sf -o /dev/null "http://127.0.0.1:$3/"
}

# kb PID FIELD - a field of /proc/PID/status, in kB
kb() {
	awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}
