#!/bin/sh
# benchlib.sh - shell helpers the bench scripts share (sourced by web.sh
# and webfarm.sh).

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
