#!/bin/sh
# 1390-worker-seccomp.t - a worker taken over can neither run a program,
# trace its parent nor open a connection (issue 13, item 5).
#
# The attack: code a message made run in a worker (a bug in GMime or
# libclamav) runs a shell, attaches to the scanner parent with ptrace (or
# opens its /proc/PID/mem) and connects out. Here the test-only plugin
# escape does that from the worker, for a message with its marker:
# execve("/bin/sh", "-c", "echo escaped >FILE"), ptrace(PTRACE_ATTACH) and
# open("/proc/PPID/mem") on the scanner parent, kill(PPID, 0), and
# socket(AF_INET) + connect() to a loopback listener this test opened; it
# logs what each returned and answers clean. On a real Postfix:
#   - under the seccomp filter (worker_seccomp = yes, the default) the
#     scanner parent says so ("network=none"); each attempt failed (exec,
#     ptrace, kill and socket with EPERM, /proc/PPID/mem refused), FILE
#     does not exist, the listener got no connection;
#   - the message is still scanned and delivered (not lost), and so is a
#     message without the marker;
#   - the control: reloaded with worker_seccomp = no (SIGHUP; the new
#     workers have no filter, and holdscand warns) the same message does
#     run the shell (FILE is there) and connect (the listener counts it),
#     so the
#     checks above can see an escape; ptrace and /proc/PPID/mem still
#     fail (the scanner parent is not dumpable);
#   - with the shipped plugins that scan content loaded beside escape
#     (clamav, attachments, headers, html: none declares that it needs
#     the network) the workers are just as confined: socket(AF_INET)
#     fails with EPERM, so a bug in libclamav, libarchive, GMime or
#     libxml2 cannot connect out either;
#   - with the spamd plugin loaded (it declares that it needs the
#     network) the workers may connect: spamd scores the message (an
#     X-Spam-Score header at the sink), but exec and ptrace still fail.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/spamd.sh"

SRC=$(cd "$HS_LIB/../.." && pwd)

[ -f "$HS_BUILD/plugins/escape.so" ] ||
    bail_out "no $HS_BUILD/plugins/escape.so"
command -v spamd >/dev/null 2>&1 ||
    bail_out "spamd is not installed (Debian package spamd; make deps)"

plan 27

MARKER=holdscan-1390-escape-from-here

sb_start A || bail_out "sandbox did not start"

# Where the shell the worker runs would write (worker_user may write
# there, so that the control can show it does when nothing stops it).
OUT="$(sb_dir A)/escape-out"
if ! mkdir -p "$OUT" || ! chmod 1777 "$OUT"; then
	bail_out "cannot make $OUT"
fi
ESCAPED="$OUT/escaped"

# The loopback listener: counts each connection in $CONNS; it ends by
# itself after 10 minutes, and at the end of the test by pid.
CONNS="$HS_TMP/connections"
: >"$CONNS"
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
s.settimeout(0.5)
with open(sys.argv[1] + ".new", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
import os
os.rename(sys.argv[1] + ".new", sys.argv[1])
end = time.time() + 600
while time.time() < end:
    try:
        c, a = s.accept()
    except socket.timeout:
        continue
    with open(sys.argv[2], "a") as f:
        f.write("connection from %s:%d\n" % a)
    c.close()
' "$HS_TMP/port" "$CONNS" &
LISTENER=$!
wait_until 60 test -s "$HS_TMP/port" || bail_out "the listener did not start"
PORT=$(cat "$HS_TMP/port")
note "listener on 127.0.0.1:$PORT (pid $LISTENER)"

# conf SECCOMP SCANNERS [SPAMD-PORT] - holdscand with the escape plugin.
conf() {
	hs_conf A >/dev/null <<EOF
scanners = "$2"
worker_seccomp = $1
plugin escape {
    marker = $MARKER
    exec_file = $ESCAPED
    connect_port = $PORT
}
plugin spamd {
    address = 127.0.0.1:${3:-783}
    timeout = 10s
    on_error = failed
}
policy {
    clean = deliver
    spam = deliver
    high_spam = deliver
    scan_failed = hold
}
EOF
}

sink_file() {	# sink_file TOKEN - the sink's file of the message TOKEN
	_sf=$(sink_messages A)
	[ -n "$_sf" ] || return 1
	# shellcheck disable=SC2086
	grep -la "^X-Test-Token: $1\$" $_sf | head -n 1
}

delivered() {	# delivered TOKEN - the sink has the message TOKEN
	[ -n "$(sink_file "$1")" ]
}

conns() {	# how many connections the listener has had
	wc -l <"$CONNS" | tr -d ' '
}

# says LINE PATTERN - LINE matches the shell pattern PATTERN
says() {
	# shellcheck disable=SC2254 # a pattern, on purpose
	case "$1" in
	$2) return 0 ;;
	esac
	return 1
}

# escape_line - what the worker said of its last escape
escape_line() {
	grep -a 'warning: escape: fork=' "$A_HS_LOG" | tail -n 1 |
	    sed 's/.*warning: escape: //'
}

# --- under the filter (the default) -----------------------------------------
conf yes escape
hs_run A || bail_out "holdscand did not start"
check 'the scanner parent says its workers run under the filter, no network' \
    wait_until 60 grep -q 'scanner: workers run under a seccomp filter network=none$' \
    "$A_HS_LOG"
sb_send_letter A plain-1
sb_send_letter A marked-1 "$MARKER"
check 'the escape was tried' hs_wait_log A 60 'warning: escape: fork='
LINE=$(escape_line)
note "under the filter: $LINE"
check 'fork failed with EPERM (no process to outlive the worker)' \
    says "$LINE" 'fork=EPERM *'
check 'exec failed with EPERM' \
    says "$LINE" '*exec=EPERM *'
check 'ptrace of the scanner parent failed with EPERM' \
    says "$LINE" '*ptrace=EPERM *'
check '/proc/PPID/mem could not be opened' \
    says "$LINE" '* procmem=E[A-Z]* *'
check 'kill of the scanner parent failed with EPERM' \
    says "$LINE" '*kill=EPERM *'
check 'socket(AF_INET) failed with EPERM, nothing to connect' \
    says "$LINE" '*socket=EPERM connect=-'
check 'the marked message is delivered all the same' \
    wait_until 60 delivered marked-1
check 'and the plain one' wait_until 60 delivered plain-1
sleep 1
check 'the shell did not run: no file it would have written' \
    test ! -e "$ESCAPED"
check_eq 'the listener got no connection' "$(conns)" 0

# --- the control: no filter (a reload: new workers without it) --------------
conf no escape
kill -HUP "$A_HS_PID"
check 'a reload to worker_seccomp = no: holdscand warns' \
    hs_wait_log A 30 'warning: scanner: worker_seccomp = no: workers run without a seccomp filter'
hs_wait_log A 30 'scanners ready: generation=2 ' ||
    bail_out "no new generation after the reload"
sb_send_letter A marked-2 "$MARKER"
check 'control: the marked message is delivered' \
    wait_until 60 delivered marked-2
LINE=$(escape_line)
note "without the filter: $LINE"
check 'control: the shell ran and wrote its file' \
    wait_until 60 test -s "$ESCAPED"
check 'control: the connection reached the listener' \
    wait_until 60 count_test -ge 1 conns
check 'control: fork worked' says "$LINE" 'fork=ok *'
check 'control: ptrace and /proc/PPID/mem still fail (not dumpable)' \
    says "$LINE" '*ptrace=EPERM procmem=E*'
hs_stop A
rm -f "$ESCAPED"

# --- the shipped scanners but spamd: none needs the network ----------------
if [ -r /usr/share/clamav-testfiles/clam.zip ] &&
    "$HS_PYTHON" "$HS_LIB/../tools/clamav-testdata.py" sigs "$HS_TMP/sigs" \
    >/dev/null; then
	RULES="$HS_TMP/rules"
	mkdir "$RULES" && chmod 0755 "$RULES" &&
	    cp "$SRC/etc/header_rules" "$RULES/"
	mv "$A_HS_LOG" "$HS_TMP/part12.log"
	before=$(conns)
	hs_conf A >/dev/null <<EOF
scanners = "clamav, attachments, headers, html, escape"
plugin escape {
    marker = $MARKER
    exec_file = $ESCAPED
    connect_port = $PORT
}
plugin clamav {
    database_directory = $HS_TMP/sigs
    cache = no
}
plugin headers {
    rules_file = $RULES/header_rules
}
policy {
    clean = deliver
    scan_failed = hold
}
EOF
	hs_run A || bail_out "holdscand did not start"
	check 'clamav, attachments, headers, html: the workers get no network' \
	    wait_until 60 grep -q 'scanner: workers run under a seccomp filter network=none$' \
	    "$A_HS_LOG"
	sb_send_letter A marked-4 "$MARKER"
	check 'with them: the marked message is delivered' \
	    wait_until 60 delivered marked-4
	LINE=$(escape_line)
	note "with clamav, attachments, headers, html: $LINE"
	check 'with them: fork, exec, ptrace, kill and socket(AF_INET) fail' \
	    says "$LINE" 'fork=EPERM exec=EPERM ptrace=EPERM procmem=E* kill=EPERM socket=EPERM connect=-'
	check_eq 'with them: no shell, no new connection' \
	    "$(test -e "$ESCAPED" && echo shell):$(conns)" ":$before"
	hs_stop A
else
	skip "clamav-testfiles is not installed (make deps)" 4
fi

# --- a plugin that needs the network: spamd ---------------------------------
sd_start S || bail_out "spamd did not start"
conf yes "escape, spamd" "$S_SPAMD_PORT"
hs_run A || bail_out "holdscand did not start"
check 'the scanner parent names spamd as the plugin that needs the network' \
    wait_until 60 grep -q 'scanner: workers run under a seccomp filter network=spamd$' \
    "$A_HS_LOG"
sb_send_letter A marked-3 "$MARKER"
scored() {	# scored TOKEN - delivered with spamd's X-Spam-Score
	_sc=$(sink_file "$1") && [ -n "$_sc" ] &&
	    grep -qa '^X-Spam-Score: ' "$_sc"
}
check 'with spamd: the message is scored by spamd and delivered' \
    wait_until 60 scored marked-3
LINE=$(escape_line)
note "with spamd: $LINE"
check 'with spamd: exec and ptrace still fail, a socket connects' \
    says "$LINE" 'fork=EPERM exec=EPERM ptrace=EPERM *socket=ok connect=ok'
check 'with spamd: still no shell' test ! -e "$ESCAPED"
hs_stop A
sd_stop S

kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null
check_eq 'every message handled: each delivered' \
    "$(for t in plain-1 marked-1 marked-2 marked-3 marked-4; do sink_file "$t"; done | wc -l | tr -d ' ')" 5
