#!/bin/sh
# 1370-child-fds.t - holdscand's children hold only the descriptors they
# need (issue 13, item 3).
#
# The attack: workers held a read-write descriptor of the root-owned pid
# file (opened before the fork, never closed in the scanner), and a
# worker (uid nobody) rewrote it. Here holdscand runs detached, as an
# init script starts it (so the pid file, the ready pipe and log_file are
# all open in the master), with clamav (an inotify watch), attachments,
# headers and spamd, and mail scanned. Then /proc/PID/fd of the scanner
# supervisor, the scanner parent and each worker is read (readlink) and
# anything not on the list of what each needs fails the test:
#   supervisor     0-2, log_file, sockets (the master's, none other
#                  kept), its signalfd
#   scanner parent 0-2, log_file, sockets (its control socket), its
#                  signalfd and inotify, its scanner_temp_directory's
#                  scanner.* directory
#   worker         0-2, log_file, one socket (to the master)
# 0-2 may be /dev/null only (detached). Never the pid file, the metrics
# file, the queue directory, the state directory or its files, the
# master's signalfd or inotify, the ready pipe. The same after a SIGHUP
# reload and after a worker is killed and replaced; and the pid file is in
# no child's list at all (any descriptor, by device and inode too).
# Last, the scanner program itself, started by hand as worker_user with
# a root-only file open as descriptor 9 (not close-on-exec), closes it
# at its start.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

SRC=$(cd "$HS_LIB/../.." && pwd)
TESTDATA="$HS_LIB/../tools/clamav-testdata.py"
[ -r /usr/share/clamav-testfiles/clam.zip ] ||
    skip_all "clamav-testfiles is not installed (make deps)"
[ "$(id -u)" = 0 ] || skip_all "needs root (holdscand's own users)"

plan 32

SIGS="$HS_TMP/sigs"
"$HS_PYTHON" "$TESTDATA" sigs "$SIGS" >/dev/null ||
    bail_out "clamav-testdata.py failed"
RULES="$HS_TMP/rules"
mkdir "$RULES" && chmod 0755 "$RULES" && cp "$SRC/etc/header_rules" "$RULES/"
sb_start A || bail_out "sandbox did not start"
mkdir -p "$(sb_dir A)/hs/log"
chmod 0755 "$(sb_dir A)/hs/log"
chown "$A_MAIL_OWNER" "$(sb_dir A)/hs/log"
LOG="$(sb_dir A)/hs/log/mail.log"
PIDFILE="$(sb_dir A)/hs/holdscand.pid"
CONF=$(hs_conf A <<EOF
log_file = $LOG
batch_max_wait = 20ms
scanners = "clamav, attachments, headers, spamd"
plugin clamav {
    database_directory = $SIGS
    cache = no
}
plugin headers {
    rules_file = $RULES/header_rules
}
plugin spamd {
    address = 127.0.0.1:1
    timeout = 1s
}
EOF
)

# Detached, as an init script starts it: the ready pipe and the pid file.
"$HOLDSCAND" -c "$CONF" >"$HS_TMP/start.out" 2>&1 ||
    bail_out "holdscand did not start: $(cat "$HS_TMP/start.out")"
# shellcheck disable=SC2034 # for hs_* and the exit trap
A_HS_PID=$(cat "$PIDFILE")
# shellcheck disable=SC2034
A_HS_LOG=$LOG
_hs_daemons=" A"
smtp-source -m 3 -f all@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
check 'mail is scanned by all four plugins and delivered' wait_sink A 3 60

# fds PID - "FD TARGET" for each of PID's descriptors
fds() {
	for _f in /proc/"$1"/fd/*; do
		[ -e "$_f" ] || [ -L "$_f" ] || continue
		echo "${_f##*/} $(readlink "$_f")"
	done | sort -n
}

# unexpected ROLE PID - PID's descriptors that ROLE has no need of
unexpected() {
	fds "$2" | while read -r _n _t; do
		case "$_n:$_t" in
		[012]:/dev/null) continue ;;
		[012]:*) echo "$_n $_t"; continue ;;
		*:"$LOG") continue ;;
		*:socket:\[*\]) continue ;;
		esac
		case "$1:$_t" in
		supervisor:anon_inode:\[signalfd\]) ;;
		parent:anon_inode:\[signalfd\]) ;;
		parent:anon_inode:inotify) ;;
		parent:"$(sb_dir A)"/hs/scantmp/scanner.*) ;;
		*) echo "$_n $_t" ;;
		esac
	done
}

# sockets PID - how many sockets PID holds
sockets() {
	fds "$1" | grep -c ' socket:\['
}

# holds_pidfile PID - does PID hold the pid file (by name, or by device
# and inode, should it have been renamed)?
holds_pidfile() {
	_want=$(stat -L -c '%d:%i' "$PIDFILE")
	for _f in /proc/"$1"/fd/*; do
		[ "$(stat -L -c '%d:%i' "$_f" 2>/dev/null)" = "$_want" ] &&
		    return 0
	done
	return 1
}

# check_children WHEN - the lists of the supervisor, the scanner parent
# and each worker (as diag), and the checks
check_children() {
	_sv=$(hs_supervisor A)
	_sp=$(hs_scanner_parent A)
	_ws=$(hs_workers A)
	diag "$1: supervisor $_sv:"
	fds "$_sv" | while read -r _l; do diag "  $_l"; done
	diag "$1: scanner parent $_sp:"
	fds "$_sp" | while read -r _l; do diag "  $_l"; done
	for _w in $_ws; do
		diag "$1: worker $_w:"
		fds "$_w" | while read -r _l; do diag "  $_l"; done
	done
	check_eq "$1: the supervisor holds nothing it does not need" \
	    "$(unexpected supervisor "$_sv")" ""
	check_eq "$1: the supervisor holds one socket (the master's)" \
	    "$(sockets "$_sv")" 1
	check_eq "$1: the scanner parent holds nothing it does not need" \
	    "$(unexpected parent "$_sp")" ""
	check_eq "$1: the scanner parent holds one socket (its control socket)" \
	    "$(sockets "$_sp")" 1
	check_eq "$1: two workers" "$(echo "$_ws" | wc -w)" 2
	_bad=
	_socks=
	for _w in $_ws; do
		_bad="$_bad$(unexpected worker "$_w" | sed "s/^/$_w: /")"
		_socks="$_socks $(sockets "$_w")"
	done
	check_eq "$1: no worker holds anything it does not need" "$_bad" ""
	check_eq "$1: each worker holds one socket (to the master)" \
	    "$_socks" "$(for _w in $_ws; do printf ' 1'; done)"
	_bad=
	for _p in $(hs_procs A); do
		[ "$_p" = "$A_HS_PID" ] && continue
		holds_pidfile "$_p" && _bad="$_bad $_p"
	done
	check_eq "$1: no child of holdscand holds the pid file" "$_bad" ""
}

check 'so the check sees: the master holds the pid file' \
    holds_pidfile "$A_HS_PID"
check_children 'at start'

# --- after a SIGHUP reload --------------------------------------------------
kill -HUP "$A_HS_PID"
check 'SIGHUP: a new engine generation' \
    hs_wait_log A 30 'scanners ready: generation=2 '
sleep 1
check_children 'after SIGHUP'

# --- after a worker is killed and replaced -----------------------------------
old=$(hs_workers A)
victim=$(echo "$old" | head -n 1)
kill -KILL "$victim"
replaced() {
	_n=$(hs_workers A)
	[ "$(echo "$_n" | wc -w)" -eq 2 ] &&
	    ! echo "$_n" | grep -qx "$victim"
}
check 'a killed worker is replaced' wait_until 30 replaced
smtp-source -m 2 -f all@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
wait_sink A 5 60 || diag "mail after the kill not delivered"
check_children 'after a worker was killed'
hs_stop A

# --- the scanner program handed a descriptor it was not meant to have ---------
# As a careless caller would: a root-only file open as descriptor 9, not
# close-on-exec, when worker_user's holdscan-scanner starts; it scans
# (a spamd that never answers keeps it at it) and holds nothing but
# what its command line names.
SECRET="$HS_TMP/secret"
echo 'root only' >"$SECRET"
chmod 0600 "$SECRET"
asnobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}
asnobody sh -c 'echo rewritten >&9' 9<>"$SECRET" 2>/dev/null
check_eq 'the attack: given the descriptor, worker_user rewrites the file' \
    "$(cat "$SECRET")" rewritten
"$HS_PYTHON" -c '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
time.sleep(60)' >"$HS_TMP/port" &
hang=$!
wait_until 60 test -s "$HS_TMP/port" || bail_out "no silent spamd"
sed -e 's/^scanners = .*/scanners = spamd/' \
    -e "s/address = 127.0.0.1:1\$/address = 127.0.0.1:$(cat "$HS_TMP/port")/" \
    -e 's/timeout = 1s/timeout = 20s/' "$CONF" >"$HS_TMP/scan.conf"
printf 'Subject: hang\n\nbody\n' >"$HS_TMP/hang.eml"
chmod 0644 "$HS_TMP/scan.conf" "$HS_TMP/hang.eml"
# shellcheck disable=SC2094 # 9<> is the secret's, not scan.conf's
setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$(sb_dir A)/hs/holdscan-scanner" -l holdscan -c "$HS_TMP/scan.conf" \
    -d 3 -u nobody scan hang.eml 3<"$HS_TMP/scan.conf" 9<>"$SECRET" \
    <"$HS_TMP/hang.eml" >"$HS_TMP/scan.out" 2>&1 &
scanprog=$!
talking() {
	fds "$scanprog" | grep -q ' socket:\['
}
check 'holdscan-scanner scans (connected to spamd)' wait_until 60 talking
diag "holdscan-scanner scan $scanprog:"
fds "$scanprog" | while read -r _l; do diag "  $_l"; done
check_eq 'it closed descriptor 9 at its start' \
    "$(fds "$scanprog" | awk '$1 == 9')" ""
check 'nor holds the root-only file under another number' sh -c \
    "! ls -l /proc/$scanprog/fd/ | grep -qF '$SECRET'"
kill "$scanprog" "$hang" 2>/dev/null
wait "$scanprog" "$hang" 2>/dev/null || :
