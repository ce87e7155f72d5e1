#!/bin/sh
# 1020-recovery.t - kill holdscand while it recovers a large interrupted
# batch, again and again: exactly once for every message.
#
# Rounds until RECOVERY_KILLS kills (default 100):
#  1. With holdscand stopped, hold is filled up to RECOVERY_HOLD messages
#     (default 1000; mixsend.py: clean, infected, big, crash).
#  2. holdscand starts with batches of RECOVERY_BATCH (default 500) and
#     claims all of hold at once; it is killed inside a big batch: at the
#     Nth rename into incoming (before or after it), the Nth unlink of a
#     claimed original, the Nth Berkeley DB log write (fault shim), or at
#     a random moment 50-1500 ms after start. What is left: hundreds of
#     claimed originals, journal entries, staging files.
#  3. Two to five times, holdscand is started and killed again while it
#     recovers that: after a random number of "recovery:" log lines
#     (tests/lib/killat.py), at a random 2-60 ms after start, or at the
#     Nth return to hold, staging unlink, claimed unlink or log write of
#     the recovery (fault shim).
#     Each kill is counted by where it landed: before recovery, during
#     recovery (recovery lines logged, "started:" not yet), after it.
#  4. holdscand runs normally for 1-4 s, and is killed at a random moment.
# Then holdscand runs normally until the queue drains, and every message
# must have ended exactly once (tests/lib/tally.py: delivered once,
# quarantined once, or set aside once; nothing lost, nothing twice). The
# counts and the kills by kind are printed and appended to
# build/torture-results.txt; failures are shown with holdscand's log lines.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/torture.sh"

KILLS=${RECOVERY_KILLS:-100}
HOLD=${RECOVERY_HOLD:-1000}
BATCH=${RECOVERY_BATCH:-500}
DRAIN=${TORTURE_DRAIN:-420}
case $KILLS$HOLD$BATCH$DRAIN in
*[!0-9]*) bail_out "RECOVERY_KILLS, RECOVERY_HOLD, RECOVERY_BATCH and" \
    "TORTURE_DRAIN are numbers" ;;
esac
plan 14

tt_init
sb_start A || bail_out "sandbox did not start"
tt_conf A <<EOF
batch_max_messages = $BATCH
batch_max_wait = 2s
max_in_flight = $((HOLD * 3))
EOF
hs_run A || bail_out "holdscand did not start"
hs_stop A
start=$(date +%s)
note "sandbox $A_DIR; hold $HOLD, batches of $BATCH; $KILLS kills to go"

kills() {
	wc -l <"$HS_TMP/kills"
}
ms_sleep() {
	sleep "$(awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }')"
}
claimed() {
	find "$A_QUEUE/holdscan/claimed" -type f | wc -l
}
dead() {
	! kill -0 "$A_HS_PID" 2>/dev/null ||
	    ps -o stat= -p "$A_HS_PID" | grep -q Z
}
# Log lines of this run (from byte $log_at on) that match $1.
run_lines() {
	tail -c "+$((log_at + 1))" "$A_HS_LOG" | grep -c -e "$1"
}
launch() {
	log_at=$(wc -c <"$A_HS_LOG" 2>/dev/null || echo 0)
	tt_launch A "$@"
}
# Where the kill of this run landed.
phase() {
	if [ "$(run_lines 'holdscand\[[0-9]*\]: started:')" -gt 0 ]; then
		echo "after recovery"
	elif [ "$(run_lines ': recovery: ')" -gt 0 ]; then
		echo "during recovery"
	else
		echo "before recovery began"
	fi
}
pick_rule() {
	echo "$1" | shuf -n 1 | while read -r _c _h _r _p; do
		echo "$_c $_h $(tt_rand "${_r%-*}" "${_r#*-}") $_p"
	done
}
rule_kind() {
	echo "$1" | awk '{ print $1, $2, $4 }'
}
# kill_run WHY KIND - kill -9 the master now, counted as KIND and where
# it landed; if it is gone already, that is counted instead.
kill_run() {
	_ph=$(phase)
	if dead; then
		tt_self_exit A
	else
		tt_kill_master A "$1"
		tt_count "$2, $_ph"
	fi
}
# shim_run WHAT RULE TIMEOUT - start under RULE; wait for it to die; kill
# it at the timeout (the rule did not fire).
shim_run() {
	tt_event A "$1: start under the fault shim: $2"
	launch "$2"
	if wait_until "$3" dead && ! tt_shim_fired "$A_HS_PID"; then
		tt_self_exit A
	elif dead; then
		_ph=$(phase)
		tt_reap A
		case $1 in
		recovery) tt_count "$1: fault shim, $(rule_kind "$2"), $_ph" ;;
		*) tt_count "$1: fault shim, $(rule_kind "$2")" ;;
		esac
		tt_event A "$1: died at: $2 ($_ph)"
	else
		kill_run "$1: shim rule did not fire: $2" \
		    "$1: kill -9 at a random moment"
	fi
}

# --- 2. a big batch, killed ---------------------------------------------------
batch_rules() {
	echo "rename KILLAFTER 1-$BATCH /incoming/
rename KILL 1-$BATCH /incoming/
rename KILLAFTER 1-$BATCH /incoming/
rename KILL 1-$BATCH /incoming/
unlink KILLAFTER 1-$BATCH /holdscan/claimed/
unlink KILL 1-$BATCH /holdscan/claimed/
write KILLAFTER 1-$((BATCH * 2)) /log.00"
}

big_batch() {
	if [ "$(tt_rand 1 100)" -le 70 ]; then
		shim_run "big batch" "$(pick_rule "$(batch_rules)")" 40
		return
	fi
	# Everything is claimed at once; the batches take a second or more.
	_ms=$(tt_rand 50 1500)
	launch
	ms_sleep "$_ms"
	if dead; then
		tt_self_exit A
		return
	fi
	tt_kill_master A "big batch: $_ms ms after start, $(claimed) claimed"
	tt_count "big batch: kill -9 50-1500 ms after start"
}

# --- 3. kills during recovery -------------------------------------------------
# recovery_rules CLAIMED STAGED - the calls of a recovery of that much:
# returns of originals to hold, unlinks of staging files (an interrupted
# batch undone) and of claimed originals (a delivery finished), the
# journal's log writes; the staging unlinks twice as likely.
recovery_rules() {
	if [ "$2" -gt 0 ]; then
		echo "unlink KILLAFTER 1-$2 /holdscan/staging/
unlink KILLAFTER 1-$2 /holdscan/staging/
unlink KILL 1-$2 /holdscan/staging/"
	fi
	if [ "$1" -gt 0 ]; then
		echo "rename KILLAFTER 1-$1 /hold/
rename KILL 1-$1 /hold/
unlink KILLAFTER 1-$1 /holdscan/claimed/
unlink KILL 1-$1 /holdscan/claimed/"
	fi
	echo "write KILLAFTER 1-$(($1 + $2 + 1)) /log.00"
}

recovery_kill() {
	_claimed=$(claimed)
	_staged=$(find "$A_QUEUE/holdscan/staging" -type f | wc -l)
	_left=$((_claimed + _staged))
	r=$(tt_rand 1 100)
	if [ "$r" -le 45 ]; then
		shim_run recovery \
		    "$(pick_rule "$(recovery_rules "$_claimed" "$_staged")")" 20
	elif [ "$r" -le 80 ] && [ "$_left" -gt 0 ]; then
		# After a random number of the recovery's log lines (killat.py
		# watches the log every millisecond).
		_n=$(tt_rand 1 $((_left * 9 / 10 + 1)))
		launch
		tt_event A "recovery: kill -9 after $_n recovery lines"
		_how=$("$HS_PYTHON" "$HS_LIB/killat.py" "$A_HS_PID" "$A_HS_LOG" \
		    "$log_at" ': recovery: ' "$_n" 10)
		case $_how in
		killed*)
			_ph=$(phase)
			tt_event A "killed master $A_HS_PID ($_how)"
			tt_reap A
			tt_count "recovery: kill -9 after N recovery lines, $_ph"
			;;
		*)
			kill_run "recovery: $_how, not $_n" \
			    "recovery: kill -9 after N recovery lines"
			;;
		esac
	else
		_ms=$(tt_rand 2 60)
		launch
		ms_sleep "$_ms"
		kill_run "recovery: $_ms ms after start" \
		    "recovery: kill -9 2-60 ms after start"
	fi
}

# --- the rounds ---------------------------------------------------------------
round=0
while [ "$(kills)" -lt "$KILLS" ]; do
	round=$((round + 1))
	# 1. Hold filled up, holdscand stopped.
	want=$((HOLD - $(hold_count A) - $(claimed)))
	if [ "$want" -gt 0 ]; then
		tt_send A "r$round" clean=90,infected=6,big=2,crash=2 \
		    --count "$want" --sessions 4
		wait "$TT_SENDER"
	fi
	tt_event A "round $round: $(hold_count A) in hold, $(claimed) claimed"
	big_batch
	note "round $round: killed in a batch with $(claimed) claimed," \
	    "$(find "$A_QUEUE/holdscan/staging" -type f | wc -l) staged;" \
	    "$(kills) kills so far"
	# 3. Killed while recovering.
	n=$(tt_rand 2 5)
	while [ "$n" -gt 0 ] && [ "$(kills)" -lt "$KILLS" ]; do
		recovery_kill
		n=$((n - 1))
	done
	# 4. A while of normal work, then a kill at a random moment.
	[ "$(kills)" -lt "$KILLS" ] || break
	tt_restart A
	ms_sleep "$(tt_rand 1000 4000)"
	if dead; then
		tt_self_exit A
	else
		tt_kill_master A "end of round $round"
		tt_count "master: kill -9 at a random moment"
	fi
done
kill_time=$(($(date +%s) - start))

tt_restart A
during=$(grep -c ', during recovery$' "$HS_TMP/kills")
check_eq "$KILLS kills, every restart came up" "$(tt_stat failed_starts)" 0
check_eq "holdscand's processes end with their master" \
    "$(tt_stat slow_exits)" 0
check_eq 'holdscand never exited by itself' "$(tt_stat self_exits)" 0
check "kills landed during recovery ($during)" test "$during" -gt 0
t0=$(date +%s)
check "the queue drains (within $DRAIN s)" wait_until "$DRAIN" tt_drained A
note "$round rounds in $kill_time s; drained in $(($(date +%s) - t0)) s"
sleep 2

tt_tally A "1020-recovery: $KILLS kills, hold $HOLD, batches of $BATCH"
check_eq 'no message lost' "$(tt_stat lost)" 0
check_eq 'no message twice (delivered, quarantined or held)' \
    "$(tt_stat dup)" 0
check_eq 'each quarantine entry has its one file and each file its entry' \
    "$(tt_stat qbroken)/$(tt_stat files_without_entry)" 0/0
check_eq 'nothing left in the queue' "$(tt_stat inqueue)" 0
check_eq 'no infected mail delivered, no clean mail quarantined' \
    "$(tt_stat wrongway)" 0
check_eq 'nothing arrived that was not sent' "$(tt_stat unknown)" 0
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
