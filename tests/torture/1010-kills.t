#!/bin/sh
# 1010-kills.t - kill every kind of holdscan process, KILLS times in all,
# while mixed mail flows: exactly once for every message.
#
# mixsend.py sends TORTURE_RATE messages a second (default 30): clean,
# infected (EICAR; quarantined), big (over message_size_limit; set aside
# in hold) and crash (crashtest.so crashes the worker; set aside after
# scan_retry_limit attempts). Every 0 to 700 ms one event, until KILLS
# processes (default 900) were killed:
#   30 %  kill -9 of the master at a random moment; restart
#   15 %  the master restarted under the fault shim with one rule that
#         kills it at the Nth matching system call (a rename into
#         incoming, the unlink of a claimed original, a claim, a return
#         to hold, a Berkeley DB log write, the staging syncfs, the
#         quarantine copy's write or rename, a staging open), before or
#         after the call took effect; then restarted without the shim
#   10 %  kill -9 of the scanner parent (the master then restarts it or
#         exits; if it exits it is started again)
#   23 %  kill -9 of a scanner worker
#   22 %  kill -9 of the holdscan tool: quarantine release of a held
#         message, quarantine list --json, quarantine expire
#         --older-than 10-120 s; the process doing the work (the tool's
#         detached child) killed at a random moment, alone or with the
#         tool, or at an exact system call under the fault shim (tool
#         kills that miss the process do not count)
# Then the sender stops, holdscand (running normally) must drain the
# queue, and every message accepted by Postfix must have ended exactly
# once: delivered once to the sink, quarantined once (one index entry
# held, one file), released once by the test (delivered once, its entry
# released) or expired by the test's expire, or set aside once in hold;
# nothing lost, nothing twice, nothing the wrong way (infected mail never
# delivered unless released, clean mail never quarantined). The counts,
# and the kills by kind, are printed and appended to
# build/torture-results.txt; each failure is shown with its queue id and
# holdscand's log lines (build/torture-failures/ keeps them all).
#
# KILLS, TORTURE_RATE and TORTURE_DRAIN (seconds, default 420: recovery
# does not wake qmgr, whose own wake-up comes every 300 s) tune it.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/torture.sh"

KILLS=${KILLS:-900}
RATE=${TORTURE_RATE:-30}
DRAIN=${TORTURE_DRAIN:-420}
case $KILLS$RATE$DRAIN in
*[!0-9]*) bail_out "KILLS, TORTURE_RATE and TORTURE_DRAIN are numbers" ;;
esac
plan 15

tt_init
sb_start A || bail_out "sandbox did not start"
tt_conf A <<EOF
batch_max_wait = 20ms
EOF
hs_run A || bail_out "holdscand did not start"
start=$(date +%s)
tt_send A m clean=88,infected=8,big=2,crash=2 --rate "$RATE" --sessions 2
sender=$TT_SENDER
note "sandbox $A_DIR; mail at $RATE/s; $KILLS kills to go"

# --- the master -------------------------------------------------------------
ev_master() {
	tt_kill_master A random
	tt_count "master: kill -9 at a random moment"
	tt_restart A
}

MASTER_RULES='rename KILLAFTER 1-30 /incoming/
rename KILL 1-30 /incoming/
unlink KILLAFTER 1-30 /holdscan/claimed/
unlink KILL 1-30 /holdscan/claimed/
rename KILLAFTER 1-60 /holdscan/claimed/
rename KILLAFTER 1-3 /hold/
write KILLAFTER 1-40 /log.00
write KILL 1-40 /log.00
syncfs KILLAFTER 1-5 /holdscan/staging
syncfs KILL 1-5 /holdscan/staging
rename KILLAFTER 1-3 /quarantine/
write KILL 1-3 /quarantine/
open KILLAFTER 1-30 /holdscan/staging/'

# pick_rule RULES - one of RULES with its N range resolved: "CALL HOW N PATH".
pick_rule() {
	echo "$1" | shuf -n 1 | while read -r _c _h _r _p; do
		echo "$_c $_h $(tt_rand "${_r%-*}" "${_r#*-}") $_p"
	done
}

ev_master_shim() {
	rule=$(pick_rule "$MASTER_RULES")
	tt_stop A
	tt_event A "restart under the fault shim: $rule"
	tt_launch A "$rule"
	# It dies at the rule's call, or the rule did not come up in time.
	if wait_until 8 sh -c "! kill -0 $A_HS_PID 2>/dev/null ||
	    ps -o stat= -p $A_HS_PID | grep -q Z"; then
		if ! tt_shim_fired "$A_HS_PID"; then
			tt_self_exit A
		else
			tt_event A "holdscand died at: $rule"
			tt_reap A
			tt_count "master: fault shim, $(echo "$rule" |
			    awk '{ print $1, $2, $4 }')"
		fi
	else
		tt_kill_master A "shim rule did not fire: $rule"
		tt_count "master: kill -9 at a random moment"
	fi
	tt_restart A
}

# --- the scanners -----------------------------------------------------------
# The scanner parent (holdscan-scanner, under the root supervisor that
# no process of worker_user can kill).
scanner_parent() {
	hs_scanner_parent A | head -n 1
}

parent_exits=0
ev_scanner_parent() {
	sp=$(scanner_parent)
	[ -n "$sp" ] || return 1
	gens=$(hs_count_log A 'scanners ready')
	tt_event A "kill -9 scanner parent $sp"
	kill -KILL "$sp" 2>/dev/null || return 1
	tt_count "scanner parent"
	# A new scanner generation, or the master gives up.
	if wait_until 10 sh -c "! kill -0 $A_HS_PID 2>/dev/null ||
	    ps -o stat= -p $A_HS_PID | grep -q Z ||
	    [ \$(grep -c 'scanners ready' $A_HS_LOG) -gt $gens ]"; then
		:
	fi
	if ! hs_alive A; then
		parent_exits=$((parent_exits + 1))
		tt_event A "master exited after its scanner parent was killed"
		tt_reap A
		tt_restart A
	fi
	return 0
}

ev_worker() {
	w=$(hs_workers A | shuf -n 1)
	[ -n "$w" ] || return 1
	tt_event A "kill -9 scanner worker $w"
	kill -KILL "$w" 2>/dev/null || return 1
	tt_count "scanner worker"
}

# --- the tool ---------------------------------------------------------------
RELEASE_RULES='rename KILLAFTER 1 /incoming/
rename KILL 1 /incoming/
write KILL 1-6 /log.00
write KILLAFTER 1-6 /log.00
open KILLAFTER 1 /holdscan/release/
fsync KILLAFTER 1-2 /holdscan/release/
unlink KILLAFTER 1 /holdscan/release/'
EXPIRE_RULES='unlink KILLAFTER 1-5 /quarantine/
unlink KILL 1-5 /quarantine/
write KILL 1-10 /log.00
write KILLAFTER 1-10 /log.00'
LIST_RULES='open KILLAFTER 1-10 /hs/state/
write KILL 1-3 /hs/state/'
TOOL_RULES=$HS_TMP/tool.rules
tool_ms=60	# a tool run's typical length, measured as it goes

# run_tool NAME RULES ARGS... - run "holdscan quarantine ARGS", killed at a
# random moment (60 %) or under the fault shim at one of RULES; counts
# the kill if it hit. The tool does its work in a detached child (a
# process of its own session that ignores the signals meant to stop the
# tool), so that child is what is killed: at random, alone (as a crash or
# the OOM killer would) or with the tool; under the shim, at the rule's
# call (the tool then says "killed by signal 9").
run_tool() {
	_name=$1
	_rules=$2
	shift 2
	_t0=$(date +%s%N)
	_rc=0
	if [ "$(tt_rand 1 100)" -le 60 ]; then
		_how=random
		"$HOLDSCAN" -c "$A_HS_CONF" quarantine "$@" \
		    >"$HS_TMP/tool.out" 2>&1 &
		_pid=$!
		sleep "$(awk -v ms="$(tt_rand 0 $((tool_ms * 12 / 10)))" \
		    'BEGIN { printf "%.3f", ms / 1000 }')"
		_child=$(ps -o pid= --ppid "$_pid" | tr -d ' ')
		if [ -n "$_child" ] && kill -KILL "$_child" 2>/dev/null; then
			_how="random, its worker child"
			if [ "$(tt_rand 1 100)" -le 30 ]; then
				kill -KILL "$_pid" 2>/dev/null
				_how="random, the tool and its worker child"
			fi
			_rc=137
		fi
		if ! wait_until 120 _tt_gone "$_pid"; then
			diag "holdscan quarantine $* still runs after 120 s; killed"
			kill -KILL "$_pid" 2>/dev/null
		fi
		wait "$_pid" 2>/dev/null
	else
		_rule=$(pick_rule "$_rules")
		_how="fault shim, $(echo "$_rule" | awk '{ print $1, $2, $4 }')"
		echo "$_rule" >"$TOOL_RULES"
		chmod 0644 "$TOOL_RULES"
		env HS_FAULT_FILE="$TOOL_RULES" LD_PRELOAD="$TT_SHIM" \
		    timeout -s KILL 120 "$HOLDSCAN" -c "$A_HS_CONF" quarantine \
		    "$@" >"$HS_TMP/tool.out" 2>&1
		grep -q 'killed by signal 9' "$HS_TMP/tool.out" && _rc=137
	fi
	_ms=$((($(date +%s%N) - _t0) / 1000000))
	if [ "$_rc" -eq 137 ]; then
		tt_count "tool: quarantine $_name, $_how"
		tt_event A "holdscan quarantine $* killed ($_how)"
	elif [ "$_how" = random ] && [ "$_ms" -gt 0 ]; then
		# It finished first: learn how long a run takes.
		tool_ms=$(((tool_ms * 3 + _ms) / 4))
	fi
}

# A held entry of the quarantine: "ID TOKEN" (nothing if none).
pick_held() {
	tt_quarantine A list --json --state held 2>/dev/null |
	    "$HS_PYTHON" -c 'import json, random, sys
try:
    held = [e for e in json.load(sys.stdin)
            if e["subject"].startswith("torture ")]
except ValueError:
    held = []
if held:
    e = random.choice(held)
    print(e["id"], e["subject"][len("torture "):])'
}

ev_tool() {
	r=$(tt_rand 1 100)
	if [ "$r" -le 50 ]; then
		held=$(pick_held)
		[ -n "$held" ] || return 1
		echo "$held" >>"$HS_TMP/released"
		run_tool release "$RELEASE_RULES" release "${held%% *}"
	elif [ "$r" -le 75 ]; then
		run_tool list "$LIST_RULES" list --json
	else
		older=$(tt_rand 10 120)
		n=$(wc -l <"$HS_TMP/expired")
		tt_quarantine A list --json >"$HS_TMP/snap.$n.json" 2>/dev/null ||
		    return 1
		run_tool expire "$EXPIRE_RULES" expire "--older-than=${older}s"
		echo "$(($(date +%s) - older)) $HS_TMP/snap.$n.json" \
		    >>"$HS_TMP/expired"
	fi
}

# --- the events -------------------------------------------------------------
kills() {
	wc -l <"$HS_TMP/kills"
}
last_report=$start
while [ "$(kills)" -lt "$KILLS" ]; do
	sleep "$(awk -v ms="$(tt_rand 0 700)" 'BEGIN { printf "%.3f", ms / 1000 }')"
	if ! hs_alive A; then
		tt_self_exit A
		tt_restart A
		continue
	fi
	r=$(tt_rand 1 100)
	if [ "$r" -le 30 ]; then
		ev_master
	elif [ "$r" -le 45 ]; then
		ev_master_shim
	elif [ "$r" -le 55 ]; then
		ev_scanner_parent
	elif [ "$r" -le 78 ]; then
		ev_worker
	else
		ev_tool
	fi
	now=$(date +%s)
	if [ $((now - last_report)) -ge 60 ]; then
		last_report=$now
		note "+$((now - start))s: $(kills) kills," \
		    "$(cat "$HS_TMP"/*.manifest | wc -l) sent," \
		    "$(sink_count A) at the sink, $(hold_count A) in hold"
	fi
done
touch "$TT_STOP"
wait "$sender"
sed -n '$p' "$HS_TMP/sender.log" | sed 's/^/# /'
kill_time=$(($(date +%s) - start))

hs_alive A || { tt_reap A; tt_restart A; }
check_eq "$KILLS kills, every restart came up" "$(tt_stat failed_starts)" 0
check_eq "holdscand's processes end with their master" "$(tt_stat slow_exits)" 0
check_eq 'holdscand stops within 15 s of SIGTERM' "$(tt_stat slow_stops)" 0
check_eq 'holdscand never exited by itself' "$(tt_stat self_exits)" 0
t0=$(date +%s)
check "the queue drains (within $DRAIN s)" wait_until "$DRAIN" tt_drained A
note "drained in $(($(date +%s) - t0)) s; the kills took $kill_time s;" \
    "the master exited $parent_exits times after its scanner parent was killed"
sleep 2

tt_tally A "1010-kills: $KILLS kills while mail flows ($RATE/s)"
check_eq 'no message lost' "$(tt_stat lost)" 0
check_eq 'no message twice (delivered, quarantined or held)' \
    "$(tt_stat dup)" 0
check_eq 'each quarantine entry has its one file and each file its entry' \
    "$(tt_stat qbroken)/$(tt_stat files_without_entry)" 0/0
check_eq 'nothing left in the queue' "$(tt_stat inqueue)" 0
check_eq 'no infected mail delivered, no clean mail quarantined' \
    "$(tt_stat wrongway)" 0
check_eq 'nothing arrived that was not sent' "$(tt_stat unknown)" 0
check 'mail was delivered, quarantined, released and set aside' \
    test "$(tt_stat quar)" -gt 0 -a "$(tt_stat releas)" -gt 0 -a \
    "$(tt_stat aside)" -gt 0 -a "$(tt_stat deliv)" -gt 0
check_eq "Postfix's corrupt queue is empty" \
    "$(find "$A_QUEUE/corrupt" -type f 2>/dev/null | wc -l)" 0

procs=$(hs_procs A)
hs_stop A
left=0
for p in $procs; do
	kill -0 "$p" 2>/dev/null && left=$((left + 1))
done
check_eq 'holdscand stops; no holdscan process is left' "$left" 0
check_eq 'tally.py found no failure' "$(tt_stat tally_rc)" 0
done_testing
