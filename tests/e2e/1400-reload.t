#!/bin/sh
# 1400-reload.t - a reload applies what it can and says so; what it
# cannot apply, it refuses visibly (issue 14, items 1 and 5).
#
# The admin's steps, on a private Postfix and holdscand:
#  1. scanners "clamav, attachments, headers": a header rule blocks a
#     "lottery winner" message (quarantined);
#  2. headers taken out, "holdscand reload": exit 0, a new generation
#     with the new list in the log, and the same kind of message is now
#     delivered;
#  3. headers put back: applied the same way, blocked again;
#  4. worker_count changed: applied, the pool grows;
#  5. a typo: "holdscand reload" exits non-zero with the error, the
#     daemon runs on (same pid) and scans with the old configuration;
#     The same typo sent as a bare SIGHUP (logrotate, kill -HUP): one
#     warning line in the log, with the error;
#  6. a plugin that fails to initialise (found only by the daemon):
#     refused, non-zero, the reason shown, the old generation scans on;
#  7. a setting that needs a restart (state_directory): refused,
#     non-zero, naming it, one log line;
#  8. the SysV init script: reload applies a good file; reload and
#     restart with a typo exit non-zero with the error, and the same
#     daemon (same pid) runs on; so does a reload of a setting that
#     needs a restart, and a restart with a plugin that cannot start
#     (holdscand -t starts the plugins);
#  9. the same number of scanners, another list (the issue's own case):
#     "clamav, attachments, headers" -> "clamav, attachments, spamd" with
#     a private spamd: the header rule no longer decides (a lottery
#     message delivered) and spamd does (GTUBE quarantined as high-spam);
# 10. "holdscand reload" without a running holdscand says so (exit 69).
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/spamd.sh"

TESTDATA="$HS_LIB/../tools/clamav-testdata.py"
SRC=$(cd "$HS_LIB/../.." && pwd)
[ -r /usr/share/clamav-testfiles/clam.zip ] ||
    skip_all "clamav-testfiles is not installed (make deps)"
[ -f "$HS_BUILD/plugins/clamav.so" ] || bail_out "no $HS_BUILD/plugins/clamav.so"
command -v spamd >/dev/null 2>&1 ||
    bail_out "spamd is not installed (Debian package spamd; make deps)"

plan 64

SIGS="$HS_TMP/sigs"
"$HS_PYTHON" "$TESTDATA" sigs "$SIGS" || bail_out "clamav-testdata.py failed"
# The rules live where the scanners (nobody) can read them.
mkdir -p "$HS_TMP/rules"
chmod 0755 "$HS_TMP" "$HS_TMP/rules"
printf '/^Subject:.*lottery winner/i blocked "lottery spam"\n' \
    >"$HS_TMP/rules/header_rules"
chmod 0644 "$HS_TMP/rules/header_rules"

sb_start A || bail_out "sandbox did not start"

# conf SCANNERS [LINE...] - holdscan.conf with these scanners and lines
conf() {
	_c_scanners=$1
	shift
	hs_conf A >/dev/null <<EOF
scanners = "$_c_scanners"
plugin clamav {
    database_directory = $SIGS
    cache = no
}
plugin headers {
    rules_file = $HS_TMP/rules/header_rules
}
$(for l in "$@"; do echo "$l"; done)
EOF
}
conf "clamav, attachments, headers"
CONF="$(sb_dir A)/hs/holdscan.conf"
PIDFILE="$(sb_dir A)/hs/holdscand.pid"
hs_run A || bail_out "holdscand did not start"
pid=$A_HS_PID
check 'generation 1 runs clamav, attachments and headers' \
    grep -Eq 'scanners ready: generation=1 clamav .*; attachments .*; headers ' \
    "$A_HS_LOG"

# lottery TOKEN - send a message the header rule blocks, tagged TOKEN
lottery() {
	printf 'Subject: lottery winner %s\nX-Test-Token: %s\n\nbody %s\n' \
	    "$1" "$1" "$1" >"$HS_TMP/$1.eml"
	smtp-source -m 1 -F "$HS_TMP/$1.eml" -f "$1@example.org" \
	    -t sink@example.net "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
}
# delivered TOKEN - the message TOKEN is at the sink
delivered() {
	for _f in $(sink_messages A); do
		grep -q "^X-Test-Token: $1\$" "$_f" && return 0
	done
	return 1
}
blocked() {
	hs_wait_log A 30 "scanned verdict=blocked action=quarantine .*reason=\"lottery spam\".*headers=blocked"
}
# reload - holdscand reload; its output in $HS_TMP/reload.out, status in $rc
reload() {
	rc=0
	"$HOLDSCAND" -c "$CONF" reload >"$HS_TMP/reload.out" 2>&1 || rc=$?
}
quarantined() {
	hs_count_log A 'scanned verdict=blocked action=quarantine .*reason="lottery spam"'
}

# --- 1. the header rule blocks ----------------------------------------------
lottery L1
check 'with headers, the lottery message is blocked and quarantined' blocked

# --- 2. headers taken out ------------------------------------------------------
conf "clamav, attachments"
reload
check_eq 'reload without headers: exit 0' "$rc" 0
check 'it says the configuration was taken, with the new scanners' grep -q \
    "^holdscand: reload: configuration $CONF re-read: scanners clamav, attachments, 2 workers\$" \
    "$HS_TMP/reload.out"
check 'the log shows the new list' hs_wait_log A 10 \
    'scanner: scanners clamav, attachments \(were clamav, attachments, headers\)'
check 'and a new generation without headers' grep -Eq \
    'scanners ready: generation=2 clamav [^;]*; attachments [^;]*$' "$A_HS_LOG"
lottery L2
check 'the same kind of message is now delivered' wait_until 30 delivered L2
check_eq 'and not quarantined' "$(quarantined)" 1

# --- 3. headers put back ---------------------------------------------------------
conf "clamav, attachments, headers"
reload
check_eq 'reload with headers again: exit 0' "$rc" 0
check 'generation 3 runs headers again' hs_wait_log A 10 \
    'scanners ready: generation=3 clamav .*; attachments .*; headers '
lottery L3
check 'blocked again' wait_until 30 sh -c "[ \$(grep -c 'scanned verdict=blocked action=quarantine .*reason=\"lottery spam\"' '$A_HS_LOG') -eq 2 ]"
check_eq 'the daemon is the one started at first' "$(cat "$PIDFILE")" "$pid"

# --- 4. worker_count -------------------------------------------------------------
conf "clamav, attachments, headers" "worker_count = 3"
reload
check_eq 'reload with worker_count = 3: exit 0' "$rc:$(grep -c ', 3 workers$' \
    "$HS_TMP/reload.out")" "0:1"
check 'the log says so' hs_wait_log A 10 'scanner workers: 3 \(were 2\)'
three_workers() { [ "$(hs_workers A | wc -l)" -eq 3 ]; }
check 'and the pool has 3 workers' wait_until 60 three_workers

# --- 5. a typo -------------------------------------------------------------------
cp "$CONF" "$HS_TMP/good.conf"
echo 'batch_max_wait = soon' >>"$CONF"
warnings=$(hs_count_log A 'warning')
reload
check_eq 'reload with a typo: exit 78' "$rc" 78
check 'it shows the error with file and line' grep -q \
    "$CONF:[0-9]*: batch_max_wait = \"soon\": bad time" "$HS_TMP/reload.out"
check 'and that holdscand runs on' grep -q \
    'configuration errors, not reloaded; holdscand runs on' "$HS_TMP/reload.out"
check_eq 'the daemon was not signalled (nothing in its log)' \
    "$(hs_count_log A 'warning')" "$warnings"
check 'holdscand still runs, the same process' sh -c \
    "kill -0 $pid && [ \"\$(cat '$PIDFILE')\" = $pid ]"
# The typo does not blind the admin nor monitoring (issue 14 item 5).
rc=0
"$HOLDSCAN" -c "$CONF" status --json >"$HS_TMP/st.json" 2>"$HS_TMP/st.err" ||
    rc=$?
check_eq 'with the typo, status --json: exit 0, running, the error in config_errors' \
    "$rc:$("$HS_PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["running"], "bad time" in d["config_errors"])' "$HS_TMP/st.json")" \
    "0:True True"
check 'and one warning on stderr naming the file' grep -q \
    "^holdscan: warning: $CONF has errors" "$HS_TMP/st.err"
rc=0
"$HOLDSCAN" -c "$CONF" quarantine list >/dev/null 2>&1 || rc=$?
check_eq 'quarantine list works too' "$rc" 0
rc=0
"$HOLDSCAN" -c "$CONF" quarantine delete NOSUCHID >/dev/null 2>&1 || rc=$?
check_eq 'but a change (quarantine delete) is refused: exit 78' "$rc" 78
lottery L5
check 'and scans with the old configuration (headers): blocked' \
    wait_until 30 sh -c "[ \$(grep -c 'scanned verdict=blocked action=quarantine .*reason=\"lottery spam\"' '$A_HS_LOG') -eq 3 ]"
# A bare SIGHUP with the typo: refused, and said once, on one line.
lines=$(wc -l <"$A_HS_LOG")
kill -HUP "$pid"
check 'a bare SIGHUP with the typo: refused in the log' hs_wait_log A 30 \
    "warning: reload: $CONF has errors, keeping the running configuration: $CONF:[0-9]*: batch_max_wait = \"soon\": bad time"
sleep 1
check_eq 'said once, on one line: the only new warning, the only line naming the error' \
    "$(hs_warnings_after A "$lines"):$(tail -n "+$((lines + 1))" "$A_HS_LOG" |
    grep -c 'batch_max_wait')" "1:1"
cp "$HS_TMP/good.conf" "$CONF"

# --- 6. a plugin that fails to initialise ---------------------------------------
sed -i "s|rules_file = .*|rules_file = $HS_TMP/rules/missing|" "$CONF"
reload
check_eq 'reload with a rules file that does not exist: exit 78' "$rc" 78
check 'the reason is shown: the new scanners could not start' grep -q \
    "refused by the scanners, keeping the running configuration: the new scanners could not start, still using generation 4: plugin headers: .*missing" \
    "$HS_TMP/reload.out"
check_eq 'one log line says so' "$(hs_count_log A \
    'warning: reload: .* refused by the scanners, keeping the running configuration: the new scanners could not start')" 1
check_eq 'no new generation' "$(hs_count_log A 'scanners ready: generation=5')" 0
lottery L6
check 'the old generation scans on: blocked' \
    wait_until 30 sh -c "[ \$(grep -c 'scanned verdict=blocked action=quarantine .*reason=\"lottery spam\"' '$A_HS_LOG') -eq 4 ]"
cp "$HS_TMP/good.conf" "$CONF"

# --- 7. a setting that needs a restart -------------------------------------------
echo "state_directory = $(sb_dir A)/hs/state2" >>"$CONF"
reload
check_eq 'reload with another state_directory: exit 78' "$rc" 78
check 'it names the setting' grep -q \
    "state_directory changed, which takes a restart of holdscand; keeping the running configuration" \
    "$HS_TMP/reload.out"
check_eq 'one log line names it' "$(hs_count_log A \
    'warning: reload: .*: state_directory changed, which takes a restart')" 1
check 'holdscand still runs' kill -0 "$pid"
cp "$HS_TMP/good.conf" "$CONF"

# --- 8. the SysV init script -----------------------------------------------------
INIT="$HS_TMP/holdscand.init"
sed -e "s|^DAEMON=.*|DAEMON=$HOLDSCAND|" \
    -e "s|^DEFAULTS=.*|DEFAULTS=$HS_TMP/default|" \
    "$SRC/init/holdscand.init" >"$INIT"
echo "CONFIG=$CONF" >"$HS_TMP/default"
conf "clamav, attachments"
sh "$INIT" reload >"$HS_TMP/init.out" 2>&1
check_eq 'init reload of a good file: exit 0' "$?" 0
check 'the change is applied' hs_wait_log A 10 \
    'scanners ready: generation=5 clamav [^;]*; attachments [^;]*$'
cp "$CONF" "$HS_TMP/good.conf"
echo 'batch_max_wait = soon' >>"$CONF"
sh "$INIT" reload >"$HS_TMP/init.out" 2>&1
check_eq 'init reload with a typo: exit 1' "$?" 1
check 'and it shows the error' grep -q \
    "$CONF:[0-9]*: batch_max_wait = \"soon\": bad time" "$HS_TMP/init.out"
sh "$INIT" restart >"$HS_TMP/init.out" 2>&1
check_eq 'init restart with a typo: exit 1, the same master' \
    "$?:$(cat "$PIDFILE")" "1:$pid"
check 'which still runs' kill -0 "$pid"
cp "$HS_TMP/good.conf" "$CONF"
echo "state_directory = $(sb_dir A)/hs/state2" >>"$CONF"
sh "$INIT" reload >"$HS_TMP/init.out" 2>&1
check_eq 'init reload of a setting that needs a restart: exit 1' "$?" 1
check 'and it names the setting' grep -q 'state_directory changed' \
    "$HS_TMP/init.out"
check 'the same daemon runs on' sh -c \
    "kill -0 $pid && [ \"\$(cat '$PIDFILE')\" = $pid ]"
rc=0
"$HOLDSCAND" -t -c "$HS_TMP/good.conf" >"$HS_TMP/test.out" 2>&1 || rc=$?
check_eq 'holdscand -t of a good file: exit 0, nothing said' \
    "$rc:$(wc -c <"$HS_TMP/test.out")" "0:0"
conf "clamav, attachments, headers"
sed -i "s|rules_file = .*|rules_file = $HS_TMP/rules/missing|" "$CONF"
sh "$INIT" restart >"$HS_TMP/init.out" 2>&1
check_eq 'init restart with a plugin that cannot start: exit 1, the same master' \
    "$?:$(cat "$PIDFILE")" "1:$pid"
check 'and it shows why (holdscand -t started the plugin)' grep -q \
    "plugin headers, started as worker_user nobody: .*rules/missing" \
    "$HS_TMP/init.out"
cp "$HS_TMP/good.conf" "$CONF"
lottery L8
check 'it scans with the last configuration taken (no headers): delivered' \
    wait_until 30 delivered L8

# Every lottery message accounted for: 2 delivered, 4 quarantined.
none_delivered() {
	for t in "$@"; do
		delivered "$t" && return 1
	done
	return 0
}
check 'L1, L3, L5 and L6 were not delivered' none_delivered L1 L3 L5 L6
check_eq 'four were quarantined' "$(quarantined)" 4
# --- 9. the same number of scanners, another list --------------------------------
sd_start S || bail_out "spamd did not start"
conf "clamav, attachments, headers"
reload
check_eq 'headers back in the list: reload exit 0' "$rc" 0
check 'generation 6 runs headers' hs_wait_log A 10 \
    'scanners ready: generation=6 clamav .*; attachments .*; headers '
lottery L9
check 'the header rule blocks again' wait_until 30 sh -c "[ \$(grep -c 'scanned verdict=blocked action=quarantine .*reason=\"lottery spam\"' '$A_HS_LOG') -eq 5 ]"
conf "clamav, attachments, spamd" "plugin spamd {" \
    "    address = 127.0.0.1:$S_SPAMD_PORT" "    timeout = 20s" "}"
reload
check_eq 'headers replaced by spamd, the same count: reload exit 0, the new list said' \
    "$rc:$(cat "$HS_TMP/reload.out")" \
    "0:holdscand: reload: configuration $CONF re-read: scanners clamav, attachments, spamd, 2 workers"
check 'the log shows the new list' hs_wait_log A 10 \
    'scanner: scanners clamav, attachments, spamd \(were clamav, attachments, headers\)'
check 'and a new generation with spamd, without headers' hs_wait_log A 10 \
    "scanners ready: generation=7 clamav [^;]*; attachments [^;]*; spamd 127\\.0\\.0\\.1:$S_SPAMD_PORT [^;]*\$"
lottery L10
check 'headers no longer decides: the lottery message is delivered' \
    wait_until 60 delivered L10
check 'and spamd scanned it' grep -Eq \
    'scanned verdict=.*plugins=clamav=clean attachments=clean spamd=' \
    "$A_HS_LOG"
GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
printf 'Subject: gtube\nX-Test-Token: G1\n\n%s\n' "$GTUBE" >"$HS_TMP/G1.eml"
smtp-source -m 1 -F "$HS_TMP/G1.eml" -f G1@example.org \
    -t sink@example.net "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
check 'spamd decides: GTUBE is high-spam, quarantined' hs_wait_log A 60 \
    'scanned verdict=high-spam action=quarantine .*reason="score=[0-9]+\.[0-9] tests=[A-Z_,]*GTUBE'
check 'L9 and the GTUBE message were not delivered' none_delivered L9 G1
check_eq 'five lottery messages were quarantined' "$(quarantined)" 5
check_eq 'no fatal or panic in the log' \
    "$(grep -Ec 'fatal|panic' "$A_HS_LOG")" 0
hs_stop A
reload
check_eq 'holdscand reload without a running holdscand: exit 69, said so' \
    "$rc:$(grep -c 'holdscand is not running' "$HS_TMP/reload.out")" "69:1"
done_testing
