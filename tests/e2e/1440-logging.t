#!/bin/sh
# 1440-logging.t - without syslog, holdscand still says what it does and
# why it failed (issue 14, item 4).
#
# "its reason is in the mail log" pointed at a log that does not exist on
# a host without rsyslog or journald. Now: log_file (as Postfix's
# maillog_file) takes holdscand's lines and the tool's audit lines, and a
# start that fails after holdscand detached says why on the terminal that
# started it.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 7

sb_start A || bail_out "sandbox did not start"
# In a directory of the mail owner's, so that after a rotation it can
# create the file again (as the docs say).
mkdir -p "$(sb_dir A)/hs/log"
chmod 0755 "$(sb_dir A)/hs/log"
chown "$A_MAIL_OWNER" "$(sb_dir A)/hs/log"
LOG="$(sb_dir A)/hs/log/mail.log"
CONF=$(hs_conf A <<EOF
log_file = $LOG
EOF
)
PIDFILE="$(sb_dir A)/hs/holdscand.pid"

# Detached, as an init script starts it.
"$HOLDSCAND" -c "$CONF" >"$HS_TMP/start.out" 2>&1
check_eq 'holdscand detaches once ready (exit 0, nothing said)' \
    "$?:$(cat "$HS_TMP/start.out")" "0:"
pid=$(cat "$PIDFILE")
# shellcheck disable=SC2034 # for hs_stop and the exit trap
A_HS_PID=$pid
_hs_daemons=" A"
check 'its lines are in log_file, in syslog'"'"'s form' grep -Eq \
    "^[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [^ ]+ holdscand\\[$pid\\]: started: " \
    "$LOG"
check_eq 'log_file is the mail owner'"'"'s, mode 0640' \
    "$(stat -c '%U %a' "$LOG")" "$A_MAIL_OWNER 640"
smtp-source -m 2 -f a@example.org -t b@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
check 'the messages'"'"' lines follow' wait_until 30 sh -c \
    "[ \$(grep -c ': action=deliver new_id=' '$LOG') -ge 2 ]"
# A rotation: SIGHUP, and holdscand writes to the new file.
mv "$LOG" "$LOG.1"
kill -HUP "$pid"
check 'after a rotation and SIGHUP, a new log_file' wait_until 60 \
    grep -q 'reload: configuration .* re-read' "$LOG"
hs_stop A

# A start that fails after holdscand detached (its pid file cannot be
# made): the reason is on the terminal, and the exit status is not 0.
sed "s|^pid_file = .*|pid_file = $HS_TMP/no/such/dir/holdscand.pid|" "$CONF" \
    >"$HS_TMP/bad.conf"
chmod 0644 "$HS_TMP/bad.conf"
"$HOLDSCAND" -c "$HS_TMP/bad.conf" >"$HS_TMP/bad.out" 2>&1
rc=$?
check 'a failed start: not 0' test "$rc" -ne 0
check 'and the reason is on the terminal' grep -q \
    "^holdscand: fatal: pid file $HS_TMP/no/such/dir/holdscand.pid: No such file or directory" \
    "$HS_TMP/bad.out"
done_testing
