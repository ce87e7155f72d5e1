#!/bin/sh
# 1320-daemon-files.t - the files and memory of holdscand's master against
# other local users (issue 13, items 4, 7 and 10).
#
#  4. Any user could stop holdscand from starting: the pid file was 0644
#     and a read-only flock by nobody made holdscand exit 75 "already
#     running". A pid file that is not root's alone is made again (0600),
#     and one that is a symbolic link is refused, its target untouched.
#  7. The metrics file was written through a temporary file with a
#     predictable name (METRICS.tmp.PID), opened with O_TRUNC: a symbolic
#     link planted under that name made holdscand overwrite its target.
#  10. The master made itself dumpable again after dropping root: any
#     process of the mail owner could ptrace it or read its memory. Its
#     /proc files must stay root's.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 10

sb_start A || bail_out "sandbox did not start"
hs_conf A >/dev/null </dev/null
PIDFILE="$A_DIR/hs/holdscand.pid"

# --- 4. a pid file someone else holds a lock on ---------------------------
: >"$PIDFILE"
chmod 0644 "$PIDFILE"
# nobody takes a shared lock on it and keeps it (bounded: 120 s).
"$HS_PYTHON" - "$PIDFILE" <<'EOF' &
import fcntl, os, pwd, sys, time
pw = pwd.getpwnam("nobody")
os.setgid(pw.pw_gid)
os.setuid(pw.pw_uid)
f = open(sys.argv[1], "r")
fcntl.flock(f, fcntl.LOCK_SH)
time.sleep(120)
EOF
locker=$!
sleep 1
hs_run A >/dev/null 2>&1
check 'holdscand starts although nobody holds a lock on the old pid file' \
    hs_alive A
check_eq 'the pid file is root'"'"'s, mode 0600' \
    "$(stat -c '%U %a' "$PIDFILE")" "root 600"
check_eq 'and names the running master' "$(cat "$PIDFILE")" "$A_HS_PID"
kill "$locker" 2>/dev/null
wait "$locker" 2>/dev/null

# --- 10. not dumpable -------------------------------------------------------
check_eq "the master's /proc files are root's (not dumpable)" \
    "$(stat -c %U "/proc/$A_HS_PID/mem")" root
check 'the mail owner cannot read its memory map' \
    sh -c "! su -s /bin/sh '$A_MAIL_OWNER' -c 'cat /proc/$A_HS_PID/maps' \
    >/dev/null 2>&1"

# --- 7. a symbolic link where the metrics file's temporary file was ---------
METRICS="$A_DIR/hs/state/metrics.prom"
VICTIM="$A_DIR/hs/state/victim"
echo precious >"$VICTIM"
chown "$A_MAIL_OWNER" "$VICTIM"
ln -s "$VICTIM" "$METRICS.tmp.$A_HS_PID"
chown -h "$A_MAIL_OWNER" "$METRICS.tmp.$A_HS_PID"
before=$(stat -c %Y "$METRICS")
sleep 3
check_eq 'the planted link'"'"'s target is untouched' "$(cat "$VICTIM")" \
    precious
check 'the metrics file is still written' \
    test "$(stat -c %Y "$METRICS")" -gt "$before"
check_eq 'readable by a node exporter (0644)' "$(stat -c %a "$METRICS")" 644
hs_stop A

# --- 4. a pid file that is a symbolic link ------------------------------------
echo "do not touch" >"$HS_TMP/target"
rm -f "$PIDFILE"
ln -s "$HS_TMP/target" "$PIDFILE"
# (One that follows the link starts, and timeout stops it.)
timeout 20 "$HOLDSCAND" -f -c "$A_HS_CONF" >"$HS_TMP/symlink.log" 2>&1
check 'a pid file that is a symbolic link is refused' \
    grep -q 'fatal: pid file .*: Too many levels of symbolic links' \
    "$HS_TMP/symlink.log"
check_eq 'and its target is untouched' "$(cat "$HS_TMP/target")" \
    "do not touch"
done_testing
