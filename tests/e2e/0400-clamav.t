#!/bin/sh
# 0400-clamav.t - the clamav plugin in holdscand on a real Postfix.
#
# Test signatures (tests/tools/clamav-testdata.py: an EICAR body signature,
# hash signatures of clamav-testfiles computed now) and messages: clean
# mail is delivered with X-Holdscan; EICAR in a base64 attachment, clam.zip
# and clam.exe in a zip inside a zip are quarantined (the original queue
# file under quarantine_directory, nothing at the sink) and, after SIGHUP
# with "infected = drop", dropped; the log names the virus. Then an engine
# reload under load: while 500 unique messages flow, a broken database is
# added (the reload fails, the old engine stays), then a new signature
# (a SIGHUP reload that takes the directory change with it, then an
# inotify reload of a change alone); every message arrives once and a
# message matching the new signature is caught. Last, an unreadable
# database directory stops holdscand at start with a clear reason.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

TESTDATA="$HS_LIB/../tools/clamav-testdata.py"
[ -r /usr/share/clamav-testfiles/clam.zip ] ||
    skip_all "clamav-testfiles is not installed (make deps)"
[ -f "$HS_BUILD/plugins/clamav.so" ] || bail_out "no $HS_BUILD/plugins/clamav.so"

plan 35

SIGS="$HS_TMP/sigs"
MAIL="$HS_TMP/mail"
if ! "$HS_PYTHON" "$TESTDATA" sigs "$SIGS" ||
    ! "$HS_PYTHON" "$TESTDATA" mail "$MAIL"; then
	bail_out "clamav-testdata.py failed"
fi

sb_start A || bail_out "sandbox did not start"
hs_conf A >/dev/null <<EOF
scanners = clamav
plugin clamav {
    database_directory = $SIGS
    cache = no
}
policy {
    infected = quarantine
}
EOF
: >"$A_DIR/hs/holdscand.log"
hs_run A || bail_out "holdscand did not start"
check 'the engine is loaded in the scanner parent: 3 test signatures' \
    grep -Eq 'scanners ready: generation=1 clamav libclamav [0-9.]+, 3 signatures' \
    "$A_HS_LOG"

# send FILE... - send test messages; "NAME QUEUEID" lines on stdout
send() {
	_s_files=
	for _s in "$@"; do
		_s_files="$_s_files $MAIL/$_s.eml"
	done
	# shellcheck disable=SC2086
	"$HS_PYTHON" "$TESTDATA" send "127.0.0.1:$A_SMTP_PORT" \
	    sender@example.org rcpt@example.net $_s_files
}

# qid NAME FILE - the queue id send printed for NAME.eml
qid() {
	sed -n "s/^$1\.eml //p" "$2"
}

# sink_token TOKEN - sink files holding X-Test-Token: TOKEN
sink_token() {
	for _f in $(sink_messages A); do
		grep -l "^X-Test-Token: $1\$" "$_f"
	done
}

# action_logged ID ACTION VIRUS - holdscand's lines for ID say so
action_logged() {
	grep -Eq "]: $1: scanned verdict=infected action=$2 .*reason=\"$3[^\"]*\" plugins=clamav=infected:$3" \
	    "$A_HS_LOG" &&
	    grep -Eq "]: $1: action=$2 verdict=infected reason=\"$3" "$A_HS_LOG"
}

# 1. quarantine
send clean eicar-b64 clam-zip nested-zip >"$HS_TMP/q.ids" ||
    bail_out "sending failed"
check 'the clean message arrives' wait_sink A 1 90
check 'three messages are quarantined' \
    wait_until 30 count_test -eq 3 hs_count_log A ': action=quarantine verdict=infected'
f=$(sink_token clamav-clean)
check 'the clean message carries X-Holdscan' grep -q '^X-Holdscan: scanned by holdscan' "$f"
check_eq 'the clean message was scanned clean by clamav' \
    "$(grep -c "]: $(qid clean "$HS_TMP/q.ids"): scanned verdict=clean action=deliver .*plugins=clamav=clean" "$A_HS_LOG")" 1
for m in eicar-b64:Holdscan.Test.EICAR clam-zip:Holdscan.Test.ClamExe \
    nested-zip:Holdscan.Test.ClamExe; do
	name=${m%%:*}
	virus=${m#*:}
	id=$(qid "$name" "$HS_TMP/q.ids")
	check "$name ($id): quarantined, the log names $virus" \
	    action_logged "$id" quarantine "$virus"
	qf=$(find "$A_DIR/hs/quarantine" -type f -name "*-$id")
	check_eq "$name: the original queue file is in the quarantine" \
	    "$(postcat -c "$A_CONFIG" "$qf" 2>/dev/null | sed -n 's/^X-Test-Token: //p')" \
	    "clamav-$name"
done
check_eq 'nothing infected reached the sink' "$(sink_count A)" 1

# 2. drop, after SIGHUP re-reads the policy
sed 's/infected = quarantine/infected = drop/' "$A_HS_CONF" >"$A_HS_CONF.new" &&
    mv "$A_HS_CONF.new" "$A_HS_CONF" && chmod 0644 "$A_HS_CONF"
kill -HUP "$A_HS_PID"
check 'SIGHUP: a new engine generation' \
    hs_wait_log A 20 'scanners ready: generation=2 clamav libclamav [0-9.]+, 3 signatures'
send eicar-b64 clam-zip nested-zip eicar-plain >"$HS_TMP/d.ids" ||
    bail_out "sending failed"
check 'four messages are dropped' \
    wait_until 30 count_test -eq 4 hs_count_log A ': action=drop verdict=infected'
for m in eicar-b64:Holdscan.Test.EICAR clam-zip:Holdscan.Test.ClamExe \
    nested-zip:Holdscan.Test.ClamExe eicar-plain:Holdscan.Test.EICAR; do
	name=${m%%:*}
	virus=${m#*:}
	id=$(qid "$name" "$HS_TMP/d.ids")
	check "$name ($id): dropped, the log names $virus" \
	    action_logged "$id" drop "$virus"
done
check_eq 'dropped: nothing at the sink, nothing new in the quarantine' \
    "$(sink_count A) $(find "$A_DIR/hs/quarantine" -type f | wc -l)" "1 3"

# 3. reloads under load; the new database files are made beforehand and
# renamed into place (the same file system), so that the reloads happen
# early in the flow.
mkdir "$HS_TMP/stage-bad" "$HS_TMP/stage-new"
if ! "$HS_PYTHON" "$TESTDATA" bad-sig "$HS_TMP/stage-bad" ||
    ! "$HS_PYTHON" "$TESTDATA" reload-sig "$HS_TMP/stage-new"; then
	bail_out "clamav-testdata.py failed"
fi
"$HS_PYTHON" "$HS_LIB/sendmail.py" --count 500 --sessions 1 --seed 400 \
    --token-prefix load --manifest "$HS_TMP/load.json" \
    "127.0.0.1:$A_SMTP_PORT" >"$HS_TMP/load.out" 2>&1 &
sender=$!
t0=$(date +%s.%N)
wait_sink A 11 60 || diag "the load did not start flowing"
# A broken database: the reload fails, the old engine stays.
mv "$HS_TMP/stage-bad/holdscan-bad.ndb" "$SIGS/"
kill -HUP "$A_HS_PID"
check 'a broken database: reload failed, old engine kept, file named' \
    hs_wait_log A 20 'reload failed, still using generation 2: clamav: bad database .*/holdscan-bad.ndb: Malformed database'
# The fix and a new signature: SIGHUP at once (inotify would after 2 s).
rm -f "$SIGS/holdscan-bad.ndb"
mv "$HS_TMP/stage-new/holdscan-reload.ndb" "$SIGS/"
kill -HUP "$A_HS_PID"
check 'SIGHUP with the new signature: generation 3, 4 signatures' \
    hs_wait_log A 20 'scanners ready: generation=3 clamav libclamav [0-9.]+, 4 signatures'
during=$(sink_count A)
check "under load: generation 3 came with $during of 501 messages at the sink" \
    test "$during" -lt 501
# Generation 3 was built from the files as they were at SIGHUP: the
# change inotify saw before it is in it, not built a second time (which
# kept the new generation's workers from being spawned meanwhile).
gen3_line=$(grep -n 'scanners ready: generation=3 ' "$A_HS_LOG" | cut -d: -f1)
sleep 3
check_eq 'SIGHUP took the directory change: no inotify reload after it' \
    "$(tail -n "+${gen3_line:-1}" "$A_HS_LOG" |
    grep -c 'signatures changed, reloading')" 0
# A change alone: the same file renamed into place again.
cp "$SIGS/holdscan-reload.ndb" "$HS_TMP/stage-new/again.ndb"
mv "$HS_TMP/stage-new/again.ndb" "$SIGS/holdscan-reload.ndb"
check 'the directory change alone: inotify reload' \
    hs_wait_log A 20 'signatures changed, reloading'
check 'generation 4 ready' \
    hs_wait_log A 20 'scanners ready: generation=4 clamav libclamav [0-9.]+, 4 signatures'
wait "$sender"
ok $? 'sendmail.py sent 500 messages'
check 'all 500 messages arrive' wait_sink A 501 120
note "the 500 messages took $(awk "BEGIN { print $(date +%s.%N) - $t0 }") s"
send reload >"$HS_TMP/r.ids" || bail_out "sending failed"
id=$(qid reload "$HS_TMP/r.ids")
check "a message matching the new signature ($id) is caught" \
    wait_until 30 action_logged "$id" drop Holdscan.Test.Reload
sleep 1
check_eq 'no message arrived twice, the caught one not at all' \
    "$(sink_count A)" 501
sink_messages A | xargs grep -l '^X-Test-Token: load-' >"$HS_TMP/load.files"
# shellcheck disable=SC2046
check 'each exactly once, byte-identical but for X-Holdscan' \
    "$HS_PYTHON" "$HS_LIB/sinkcheck.py" --added-header X-Holdscan \
    "$HS_TMP/load.json" $(cat "$HS_TMP/load.files")
check_eq 'no message was scanned other than clean or infected' \
    "$(grep -c ': scanned verdict=' "$A_HS_LOG") $(grep -Ec ': scanned verdict=(clean|infected) ' "$A_HS_LOG")" \
    "509 509"
check_eq 'hold, claimed and staging are empty' \
    "$(find "$A_QUEUE/hold" "$A_QUEUE/holdscan" -type f ! -name state.id | wc -l)" 0
check_eq 'no warnings but the failed reload' \
    "$(grep -E 'warning|fatal|panic' "$A_HS_LOG" | grep -vc 'reload failed')" 0
hs_stop A

# 4. An unreadable database directory stops holdscand at start.
mkdir "$HS_TMP/locked" && cp "$SIGS"/*.ndb "$HS_TMP/locked/" &&
    chmod 0700 "$HS_TMP/locked"
sed "s|database_directory = .*|database_directory = $HS_TMP/locked|" \
    "$A_HS_CONF" >"$A_HS_CONF.new" && mv "$A_HS_CONF.new" "$A_HS_CONF" &&
    chmod 0644 "$A_HS_CONF"
hs_run A 2>/dev/null
check_eq 'holdscand refuses to start' "$?" 1
check 'the reason names the directory' \
    wait_until 60 grep -q "fatal: plugin clamav: database_directory $HS_TMP/locked: Permission denied" \
    "$A_HS_LOG"
done_testing
