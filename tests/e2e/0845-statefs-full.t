#!/bin/sh
# 0845-statefs-full.t - the state file system fills up: holdscand neither
# crashes nor loses mail, waits, and works again by itself.
#
# state_directory is a small file system of its own, made here (root
# only) and unmounted at exit: part 1 an ext4 image on a loop device
# (tmpfs where that cannot be mounted, or with HS_STATEFS=tmpfs), part 2
# tmpfs.
#
# 1. Mail flows while the state file system fills to its last block and
#    is kept full (a filler takes whatever gets free). holdscand used to
#    die of SIGBUS here: Berkeley DB maps its region files (__db.NNN),
#    which it leaves sparse, and on a full file system the first store
#    into a page without a block behind it raises SIGBUS. Now holdscand
#    stays up and says why it pauses; mail waits in hold and nothing is
#    lost; killed with kill -9 and started again while full, it comes up
#    and stays up; once space is freed it works again by itself, every
#    message arrives exactly once, byte for byte, and it exits 0 on
#    SIGTERM.
# 2. A start while the (fresh) state file system is full. The starting
#    process (no -f, as an init script or systemd starts it) exits 0
#    and the pid file names the running daemon; it logs one warning that
#    names the full file system and what to do, and claims nothing (mail
#    waits in hold). The holdscan tool says the same and exits with an
#    error, not by a signal. Started with -f, holdscand waits the same
#    way; once space is freed it opens the state by itself and delivers
#    every message exactly once.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root (mount)"
mkdir "$HS_TMP/probe"
mount -t tmpfs -o size=1m tmpfs "$HS_TMP/probe" 2>/dev/null ||
    skip_all "cannot mount a tmpfs here"
umount "$HS_TMP/probe"
plan 31

# --- file systems of our own ---------------------------------------------------
# Unmounted at exit, after the daemons that use them have stopped.
_mounts=
statefs_cleanup() {
	_sc_rc=$?
	hs_stop_all
	for _sc_m in $_mounts; do
		umount "$_sc_m" 2>/dev/null || umount -l "$_sc_m" 2>/dev/null
	done
	(exit "$_sc_rc")
	_tap_cleanup
}
trap statefs_cleanup EXIT

# mount_statefs DIR ext4|tmpfs MB - a file system of MB megabytes on DIR,
# left as hs_conf made DIR: the mail owner's, mode 0700; its type in
# statefs_type.
_nimg=0
mount_statefs() {
	if [ "$2" = ext4 ]; then
		_nimg=$((_nimg + 1))
		_ms_img="$HS_TMP/state$_nimg.img"
		if truncate -s "${3}M" "$_ms_img" &&
		    mkfs.ext4 -q -F -m 0 "$_ms_img" >/dev/null 2>&1 &&
		    mount -o loop "$_ms_img" "$1" 2>/dev/null; then
			rmdir "$1/lost+found" 2>/dev/null
		else
			rm -f "$_ms_img"
			set -- "$1" tmpfs "$3"
		fi
	fi
	if [ "$2" = tmpfs ]; then
		mount -t tmpfs -o "size=${3}m,mode=0700" tmpfs "$1" || return 1
	fi
	_mounts="$1 $_mounts"
	statefs_type=$2
	chown "$A_MAIL_OWNER" "$1" && chmod 0700 "$1"
}

umount_statefs() {
	umount "$1" || return 1
	_um_rest=
	for _um_m in $_mounts; do
		[ "$_um_m" = "$1" ] || _um_rest="$_um_rest $_um_m"
	done
	_mounts=$_um_rest
}

# fill DIR - write zeros into DIR until its file system has no block left
# for anyone (root included: -m 0 and tmpfs keep no reserve).
_nfill=0
fill() {
	_nfill=$((_nfill + 1))
	dd if=/dev/zero of="$1/filler.$_nfill" bs=64k >/dev/null 2>&1
	return 0
}

avail_kb() {
	df -Pk "$1" | awk 'NR == 2 { print $4 }'
}

sb_start A || bail_out "sandbox did not start"
hs_conf A >/dev/null <<EOF
batch_max_wait = 20ms
EOF
state="$A_DIR/hs/state"
hs_log_from() {
	tail -n "+$(($1 + 1))" "$A_HS_LOG"
}

# --- 1. full while mail flows ----------------------------------------------------
mount_statefs "$state" "${HS_STATEFS:-ext4}" 48 ||
    bail_out "cannot mount a file system on $state"
note "part 1: state_directory on $statefs_type, 48 MB"
hs_run A || bail_out "holdscand did not start"
# The master's child: it would die with the master.
scanner_parent() {
	ps -o pid= --ppid "$A_HS_PID" | tr -d ' '
}
scanner1=$(scanner_parent)

: >"$HS_TMP/sender.log"
(
	i=0
	while [ ! -e "$HS_TMP/stop-sending" ]; do
		"$HS_PYTHON" "$HS_LIB/sendmail.py" --count 20 --seed "$i" \
		    --token-prefix "full$i-" --manifest "$HS_TMP/full.$i.json" \
		    "127.0.0.1:$A_SMTP_PORT" >>"$HS_TMP/sender.log" 2>&1
		i=$((i + 1))
		sleep 0.3
	done
) &
sender=$!
check 'mail flows before the state file system fills' wait_sink A 20 60

log_full=$(wc -l <"$A_HS_LOG")
# The filler keeps it full: whatever gets free (Berkeley DB removing a
# log file or its regions) is taken again within 0.2 s.
(
	while [ ! -e "$HS_TMP/stop-filling" ]; do
		[ "$(avail_kb "$state")" -gt 0 ] && fill "$state"
		sleep 0.2
	done
) &
filler=$!
full() {
	[ "$(avail_kb "$state")" -eq 0 ]
}
check 'the state file system fills up' wait_until 60 full

sleep 12
check 'holdscand is still running while it is full (no SIGBUS)' hs_alive A
check_eq 'its scanner processes are the same' "$(scanner_parent)" \
    "$scanner1"
hs_log_from "$log_full" >"$HS_TMP/full.log"
check 'it says that the state file system is full' \
    grep -Eq 'warning: .*(No space left on device|no space left on its file system)' \
    "$HS_TMP/full.log"
held() {
	[ "$(hold_count A)" -gt 0 ]
}
check 'mail waits in hold' wait_until 60 held

# A start while full that needs recovery (Berkeley DB's region files are
# removed and made again) must not exit either.
log_restart=$(wc -l <"$A_HS_LOG")
hs_kill9 A
check 'killed with kill -9, it starts again while the state is full' hs_run A
sleep 8
check 'and stays up' hs_alive A
check_eq 'no fatal error' "$(hs_log_from "$log_restart" | grep -c 'fatal:')" 0

touch "$HS_TMP/stop-sending"
wait "$sender"
cat "$HS_TMP"/full.*.json >"$HS_TMP/full.json"
sent=$(wc -l <"$HS_TMP/full.json")
note "$sent messages sent, $(hold_count A) in hold while full"
accounted() {
	[ $(($(sink_count A) + $(find "$A_QUEUE/hold" \
	    "$A_QUEUE/holdscan/claimed" "$A_QUEUE/incoming" \
	    "$A_QUEUE/active" "$A_QUEUE/deferred" -type f | wc -l))) -ge "$sent" ]
}
check 'nothing is lost while it is full' accounted

log_freed=$(wc -l <"$A_HS_LOG")
touch "$HS_TMP/stop-filling"
wait "$filler"
rm -f "$state"/filler.*
note "space freed: $(avail_kb "$state") kB available"
again() {
	hs_log_from "$log_freed" |
	    grep -Eq 'working again|reopened and recovered|state environment .* opened'
}
check 'once space is freed it works again by itself' wait_until 90 again
all_arrived() {
	[ "$(sink_count A)" -ge "$sent" ]
}
check "all $sent messages arrive" wait_until 120 all_arrived
sleep 1
# shellcheck disable=SC2046
check 'each exactly once, byte-identical but for X-Holdscan' \
    "$HS_PYTHON" "$HS_LIB/sinkcheck.py" --added-header X-Holdscan \
    "$HS_TMP/full.json" $(sink_messages A)
check_eq 'nothing is left in claimed/ or staging/' \
    "$(find "$A_QUEUE/holdscan" -type f ! -name state.id | wc -l)" 0

# stop_fg - SIGTERM, then the exit status of the holdscand -f that hs_run
# started (our child), waiting at most 30 s.
stop_fg() {
	_sf_pid=$A_HS_PID
	kill -TERM "$_sf_pid"
	wait_until 30 sh -c "! kill -0 $_sf_pid 2>/dev/null ||
	    ps -o stat= -p $_sf_pid | grep -q Z" || return 1
	wait "$_sf_pid"
	_sf_rc=$?
	A_HS_PID=
	return "$_sf_rc"
}
check 'it exits 0 on SIGTERM' stop_fg

# --- 2. a start while full ---------------------------------------------------------
umount_statefs "$state" || bail_out "cannot unmount $state"
mount_statefs "$state" tmpfs 24 || bail_out "cannot mount tmpfs on $state"
note "part 2: a fresh state_directory on $statefs_type, 24 MB, full"
fill "$state"
check_eq 'the fresh state file system is full' "$(avail_kb "$state")" 0

# As an init script or systemd (Type=forking) starts it.
timeout 60 "$HS_PYTHON" "$HS_LIB/syslogcap.py" "$HS_TMP/syslog" \
    "$HOLDSCAND" -c "$A_HS_CONF" >"$HS_TMP/start.out" 2>&1
check_eq 'the starting process exits 0: started, as far as init knows' "$?" 0
dpid=$(cat "$A_DIR/hs/holdscand.pid" 2>/dev/null)
check 'the pid file names the running daemon' kill -0 "${dpid:-0}"
check 'it logged why it waits: the file system is full, free space there' \
    grep -Eq "holdscand\[$dpid\]: warning: cannot open the state environment: \
$state: no space left on its file system .*free some there" "$HS_TMP/syslog"
check 'and that it claims nothing until then' \
    grep -q "started: .*nothing is claimed until the state environment opens" \
    "$HS_TMP/syslog"

tool_fails() {
	"$HOLDSCAN" -c "$A_HS_CONF" "$@" >"$HS_TMP/tool.out" 2>&1
	_tf_rc=$?
	cat "$HS_TMP/tool.out"
	[ "$_tf_rc" -ne 0 ] && [ "$_tf_rc" -lt 126 ] &&
	    grep -q 'no space left on its file system' "$HS_TMP/tool.out"
}
check 'holdscan status: a clear error, no crash' tool_fails status
check 'holdscan quarantine list: a clear error, no crash' \
    tool_fails quarantine list

kill -TERM "$dpid"
check 'the daemon stops on SIGTERM' wait_until 30 sh -c "! kill -0 $dpid"

# With -f, to follow it to the end.
log_start=$(wc -l <"$A_HS_LOG")
check 'holdscand -f starts while the state file system is full' hs_run A
"$HS_PYTHON" "$HS_LIB/sendmail.py" --count 10 --seed 1000 \
    --token-prefix waits- --manifest "$HS_TMP/waits.json" \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1 || bail_out "sendmail.py failed"
sleep 6
check_eq 'the 10 messages wait in hold' "$(hold_count A)" 10
check 'holdscand is still running' hs_alive A
check_eq 'one warning while it waits, not one per attempt' \
    "$(hs_log_from "$log_start" |
    grep -c 'warning: cannot open the state environment')" 1

log_freed=$(wc -l <"$A_HS_LOG")
rm -f "$state"/filler.*
opened() {
	hs_log_from "$log_freed" | grep -q "state environment $state opened" &&
	    hs_log_from "$log_freed" | grep -q 'working again after'
}
check 'once space is freed it opens the state by itself' wait_until 60 opened
waits_arrived() {
	[ "$(sink_tokens A | grep -c '^waits-')" -ge 10 ]
}
check 'the 10 messages arrive' wait_until 60 waits_arrived
sleep 1
# shellcheck disable=SC2046
check 'each exactly once, byte-identical but for X-Holdscan' \
    "$HS_PYTHON" "$HS_LIB/sinkcheck.py" --added-header X-Holdscan \
    "$HS_TMP/waits.json" $(for f in $(sink_messages A); do
	grep -l '^X-Test-Token: waits-' "$f"; done)
check 'it exits 0 on SIGTERM' stop_fg
done_testing
