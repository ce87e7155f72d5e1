#!/bin/sh
# 1460-status-stopped.t - holdscan status tells the truth while holdscand
# is stopped (issue 14, item 6).
#
# It said "0 waiting" with 4 messages in hold, showed the last run's
# counters as if they were current, and no last error. Now hold is counted
# there and then, the figures are labelled as those of the last run, and
# the last error is shown (or "none"). And status --json gives JSON (an
# object naming the error, exit 78) when the configuration file cannot
# be read or Postfix is not where it says.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 14

sb_start A || bail_out "sandbox did not start"
hs_start A </dev/null || bail_out "holdscand did not start"
smtp-source -m 3 -f a@example.org -t b@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
wait_sink A 3 || bail_out "mail did not flow"
# (the metrics file is written once a second)
current() {
	"$HOLDSCAN" -c "$A_HS_CONF" status >"$HS_TMP/running" &&
	    grep -qx 'processed:        3 messages in [0-9]* batches' \
	    "$HS_TMP/running"
}
check 'running: the figures are current' wait_until 60 current
check 'running: no error, and it says so' grep -qx \
    'last error:       none' "$HS_TMP/running"
hs_stop A

# Four messages arrive while it is stopped.
smtp-source -m 4 -f a@example.org -t b@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
wait_hold A 4 || bail_out "messages did not reach hold"
"$HOLDSCAN" -c "$A_HS_CONF" status >"$HS_TMP/stopped"
check 'stopped: holdscand is not running' grep -qx \
    'holdscand:        not running' "$HS_TMP/stopped"
check 'stopped: the 4 held messages are counted, and nothing takes them' \
    grep -qx 'hold queue:       4 waiting (counted now: nothing takes them while holdscand is stopped)' \
    "$HS_TMP/stopped"
check 'stopped: the figures are those of the last run' grep -q \
    '^processed:        3 messages in [0-9]* batches (its last run, figures of 20[0-9-]* [0-9:]*)$' \
    "$HS_TMP/stopped"
check 'stopped: the last error line is there' grep -q '^last error:' \
    "$HS_TMP/stopped"
json=$("$HOLDSCAN" -c "$A_HS_CONF" status --json)
check_eq 'status --json: the live count and where the figures come from' \
    "$(printf '%s' "$json" | "$HS_PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
print(d["running"], d["hold_queue_depth"], d["figures_from"], d["in_flight"])')" \
    "False 4 last-run 0"
# It starts, and takes them.
hs_run A >/dev/null 2>&1 || bail_out "holdscand did not start again"
check 'started again, it delivers them' wait_sink A 7
hs_stop A

# status --json when it cannot start at all (issue 14, item 5): still one
# JSON object on stdout, naming the error, for monitoring; exit 78 and
# the fatal line on stderr as without --json.
# json_error CONFIG [AS_USER] - status --json's exit status, its "error"
# (or what python said of stdout) and its stderr (the pid in it as PID),
# on one line; JE_CMD names another command than status
json_error() {
	_je_rc=0
	# shellcheck disable=SC2086
	if [ -n "${2:-}" ]; then
		setpriv --reuid="$2" --regid="$2" --clear-groups \
		    "$HOLDSCAN" -c "$1" ${JE_CMD:-status} --json >"$HS_TMP/je.out" \
		    2>"$HS_TMP/je.err" || _je_rc=$?
	else
		"$HOLDSCAN" -c "$1" ${JE_CMD:-status} --json >"$HS_TMP/je.out" \
		    2>"$HS_TMP/je.err" || _je_rc=$?
	fi
	printf '%s|%s|%s' "$_je_rc" "$("$HS_PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(sorted(d), d["error"])' "$HS_TMP/je.out" 2>&1 | tail -n 1)" \
	    "$(sed 's/^holdscan\[[0-9]*\]/holdscan[PID]/' "$HS_TMP/je.err")"
}
check_eq 'no configuration file: exit 78, {"error": ...} naming it' \
    "$(json_error "$HS_TMP/none.conf")" \
    "78|['error'] $HS_TMP/none.conf: No such file or directory|holdscan[PID]: fatal: $HS_TMP/none.conf: No such file or directory"
cp "$A_HS_CONF" "$HS_TMP/secret.conf"
chmod 0600 "$HS_TMP/secret.conf"
check_eq 'one the mail owner cannot read: the same, Permission denied' \
    "$(json_error "$HS_TMP/secret.conf" "$A_MAIL_OWNER")" \
    "78|['error'] $HS_TMP/secret.conf: Permission denied|holdscan[PID]: fatal: $HS_TMP/secret.conf: Permission denied"
sed "s|^postfix_config_directory = .*|postfix_config_directory = $HS_TMP/no-postfix|" \
    "$A_HS_CONF" >"$HS_TMP/nopf.conf"
chmod 0644 "$HS_TMP/nopf.conf"
check_eq 'no Postfix in postfix_config_directory: exit 78, the error as JSON' \
    "$(json_error "$HS_TMP/nopf.conf" | sed 's/ failed: [^|]*/ failed: .../g')" \
    "78|['error'] postconf -c $HS_TMP/no-postfix failed: ...|holdscan[PID]: fatal: postconf -c $HS_TMP/no-postfix failed: ..."
# Every command that takes --json answers so, not status alone.
for JE_CMD in "quarantine list" "log" "list show"; do
	check_eq "$JE_CMD --json without a configuration file: the same" \
	    "$(json_error "$HS_TMP/none.conf")" \
	    "78|['error'] $HS_TMP/none.conf: No such file or directory|holdscan[PID]: fatal: $HS_TMP/none.conf: No such file or directory"
done
done_testing
