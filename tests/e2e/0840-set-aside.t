#!/bin/sh
# 0840-set-aside.t - the life cycle of mail set aside unscanned, on a real
# Postfix.
#
#  1. Rescan. A message over the clamav plugin's max_file_size (20k) is
#     "scan failed" and set aside in hold; holdscan status shows its age,
#     one attempt and what happens when. A reload without a change gives
#     new scanners: it is scanned once more (once, not in a loop), fails
#     again and is set aside again with two attempts and its first time
#     kept. A restart alone does not scan it again; a restart with another
#     max_file_size (30k, still too small) does, once. With max_file_size
#     raised and a reload it is scanned a fourth time and delivered, once;
#     the list forgets it.
#  2. set_aside_lifetime = 4s, set_aside_expiry_action = quarantine
#     (crashtest fails on a marker): the message waits in hold, then goes
#     into the quarantine exactly once, verdict scan-failed, nothing
#     delivered; holdscan quarantine release delivers it.
#  3. deliver-tagged: delivered once with the not-scanned header.
#  4. bounce: quarantined once, and the sender gets one DSN (multipart/
#     report, Status 5.7.0 for the recipient, the original's header but
#     not its body) from the null sender; the list forgets it once
#     Postfix has the notice.
#  5. The policy's own hold ("infected = hold") is never expired nor
#     scanned again.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

TESTDATA="$HS_LIB/../tools/clamav-testdata.py"
[ -r /usr/share/clamav-testfiles/clam.zip ] ||
    skip_all "clamav-testfiles is not installed (make deps)"
[ -f "$HS_BUILD/plugins/clamav.so" ] || bail_out "no $HS_BUILD/plugins/clamav.so"
unshare --mount true 2>/dev/null ||
    skip_all "unshare --mount is not permitted here"

plan 46

SIGS="$HS_TMP/sigs"
MAIL="$HS_TMP/mail"
if ! "$HS_PYTHON" "$TESTDATA" sigs "$SIGS" ||
    ! "$HS_PYTHON" "$TESTDATA" mail "$MAIL"; then
	bail_out "clamav-testdata.py failed"
fi

sb_start A || bail_out "sandbox did not start"

# The bounce is submitted with Postfix's sendmail as the mail owner:
# postdrop wants the sandbox's configuration directory listed in the
# default main.cf. As in 0700: a private mount namespace in which a copy
# of /etc/postfix with that line is mounted over it.
mkdir "$HS_TMP/etc-postfix"
cp -a /etc/postfix/. "$HS_TMP/etc-postfix/"
echo "alternate_config_directories = $A_CONFIG" >"$HS_TMP/etc-postfix/main.cf"
cat >"$HS_TMP/holdscand-ns" <<EOF
#!/bin/sh
exec unshare --mount sh -c 'mount --bind "\$0" /etc/postfix && exec "\$@"' \\
    "$HS_TMP/etc-postfix" "$HOLDSCAND" "\$@"
EOF
chmod 0755 "$HS_TMP/holdscand-ns"
HOLDSCAND="$HS_TMP/holdscand-ns"

MARKER=HOLDSCAN-SET-ASIDE-MARKER-4e1b
# conf MAX_FILE_SIZE [LINES...] - holdscand's configuration (crashtest
# fails on the marker, or, with CRASHTEST=infected, calls it infected)
conf() {
	_c_max=$1
	_c_mode=fail
	[ -n "${CRASHTEST:-}" ] && _c_mode=verdict
	shift
	{
		cat <<EOF
scanners = "clamav, crashtest"
plugin clamav {
    database_directory = $SIGS
    max_file_size = $_c_max
    cache = no
}
plugin crashtest {
    mode = $_c_mode
    verdict = ${CRASHTEST:-infected}
    marker = $MARKER
}
EOF
		for _c_l in "$@"; do
			echo "$_c_l"
		done
	} | hs_conf A >/dev/null
}
# reload - SIGHUP, and wait for the new scanners. The log runs on across
# restarts and each restart counts generations from 1 again: wait for one
# more "scanners ready" line, whatever its generation.
reload() {
	_r_n=$(hs_count_log A 'scanners ready: generation=')
	kill -HUP "$A_HS_PID"
	wait_until 30 count_test -gt "$_r_n" \
	    hs_count_log A 'scanners ready: generation=' ||
	    diag "reload: no new scanners within 30 s"
}
# status_has ERE - a line of holdscan status matches it
status_has() {
	# shellcheck disable=SC2153 # HOLDSCAN is holdscan.sh's
	"$HOLDSCAN" -c "$A_HS_CONF" status >"$HS_TMP/status" 2>&1 &&
	    grep -Eq "$1" "$HS_TMP/status"
}
NONE_ASIDE='^set aside: +0 messages in hold$'
hsq() {
	"$HOLDSCAN" -c "$A_HS_CONF" quarantine "$@"
}
# send_marker TOKEN [SENDER] - a message with the marker in its body only;
# prints its queue id
send_marker() {
	"$HS_PYTHON" - "$A_SMTP_PORT" "$1" "${2-sender@example.org}" "$MARKER" <<'EOF'
import smtplib, sys
port, token, sender, marker = sys.argv[1:5]
msg = ("From: %s\nTo: rcpt@example.net\nSubject: set aside %s\n"
       "X-Test-Token: %s\n\nThe body holds the marker: %s\n"
       % (sender, token, token, marker))
with smtplib.SMTP("127.0.0.1", int(port), timeout=30) as s:
    s.mail(sender)
    s.rcpt("rcpt@example.net")
    code, resp = s.data(msg.encode())
    print(resp.decode().split()[-1])
EOF
}
# sink_with PATTERN - delivered messages (not notices) with a line matching it
sink_with() {
	sink_messages A | xargs -r grep -L '^X-Mail-Args: <>' |
	    xargs -r grep -l -e "$1"
}
count_sink_with() {
	sink_with "$1" | wc -l
}
qlist_count() {
	hsq list --json | "$HS_PYTHON" -c 'import json, sys
print(sum(1 for e in json.load(sys.stdin) if e["queue_id"] == sys.argv[1]
          and e["verdict"] == sys.argv[2]))' "$1" "$2"
}

# --- 1. rescan after a change ------------------------------------------------
conf 20k
hs_run A || bail_out "holdscand did not start"
"$HS_PYTHON" "$TESTDATA" send "127.0.0.1:$A_SMTP_PORT" sender@example.org \
    rcpt@example.net "$MAIL/clean-50k.eml" >"$HS_TMP/big.id" ||
    bail_out "sending failed"
big=$(awk '{ print $2 }' "$HS_TMP/big.id")
check "$big, over max_file_size, is set aside" hs_wait_log A 30 \
    "]: $big: action=hold verdict=scan-failed reason=\"Heuristics.Limits.Exceeded.MaxFileSize"
check "status lists it: since when, why" status_has \
    "^  $big +[0-9-]+ [0-9:]+  scan-failed: Heuristics.Limits.Exceeded.MaxFileSize"
check 'its age, one attempt, and what comes next' grep -Eq \
    '^ +age [0-9]+s, 1 attempt; scanned again when the scanners change, quarantine at [0-9-]+ [0-9:]+ \(in (5d|4d23h)\)$' \
    "$HS_TMP/status"
check_eq 'it is still in hold' "$(hold_count A)" 1

reload
check 'a reload gives new scanners: it is scanned once more' \
    hs_wait_log A 20 "]: $big: set aside [0-9smh]+ ago, 1 attempt: scanning it again"
check 'and set aside again' wait_until 60 count_test -eq 2 \
    hs_count_log A "]: $big: action=hold verdict=scan-failed"
sleep 3
check_eq 'once: not in a loop' \
    "$(hs_count_log A "]: $big: set aside .*scanning it again")" 1
"$HOLDSCAN" -c "$A_HS_CONF" status --json >"$HS_TMP/status.json" 2>&1
check_eq 'two attempts, its first time kept' "$("$HS_PYTHON" -c 'import json, sys
e = json.load(open(sys.argv[1]))["set_aside"][0]
print(e["queue_id"], e["attempts"], e["last_attempt"] > e["since"] or e["last_attempt"] == e["since"], e["in_hold"], e["state"], e["expiry_action"], e["rescan"])' "$HS_TMP/status.json")" \
    "$big 2 True True scan-failed quarantine True"

# A restart alone is no change: nothing is scanned again (restart storms
# cost nothing). A restart with another configuration is one.
hs_stop A
hs_run A || bail_out "holdscand did not start again"
sleep 3
check_eq 'a restart without a change does not scan it again' \
    "$(hs_count_log A "]: $big: scanned verdict=")" 2
hs_stop A
conf 30k
hs_run A || bail_out "holdscand did not start again"
check 'a restart with max_file_size = 30k does, once; still too big' \
    wait_until 30 count_test -eq 3 \
    hs_count_log A "]: $big: action=hold verdict=scan-failed"

conf 25M
reload
check 'max_file_size raised, reloaded: scanned again and delivered' \
    hs_wait_log A 30 "]: $big: no longer set aside: action=deliver verdict=clean"
check 'it arrives' wait_until 30 count_test -eq 1 count_sink_with '^X-Test-Token: clamav-clean-50k'
sleep 1
check_eq 'once' "$(count_sink_with '^X-Test-Token: clamav-clean-50k')" 1
check_eq 'hold is empty' "$(hold_count A)" 0
check 'the list has forgotten it' status_has "$NONE_ASIDE"
check_eq 'four scans in all' \
    "$(hs_count_log A "]: $big: scanned verdict=")" 4

# --- 2. expiry: quarantine -------------------------------------------------------
conf 25M "set_aside_lifetime = 4s"
reload
id=$(send_marker expire-q)
check "$id is set aside (crashtest fails on it)" hs_wait_log A 30 \
    "]: $id: action=hold verdict=scan-failed"
check 'and waits in hold, to be quarantined' status_has \
    '1 attempt; scanned again when the scanners change, quarantine at .* \(in [0-4]s\)$'
check 'after set_aside_lifetime it is quarantined' hs_wait_log A 30 \
    "]: $id: action=quarantine verdict=scan-failed reason=\"[^\"]*crashtest fail; set aside [0-9]+s, 1 attempt, set_aside_lifetime 4s\" quarantine_id="
check 'the log said why first' grep -Eq \
    "]: $id: set aside [0-9]+s ago, 1 attempt: set_aside_lifetime is over; expiry_action=quarantine" \
    "$A_HS_LOG"
sleep 3
check_eq 'exactly once: one entry in the quarantine, verdict scan-failed' \
    "$(qlist_count "$id" scan-failed)" 1
check_eq 'one quarantine line in the log' \
    "$(hs_count_log A "]: $id: action=quarantine")" 1
check_eq 'nothing delivered, nothing left in hold' \
    "$(count_sink_with '^X-Test-Token: expire-q$') $(hold_count A)" "0 0"
check 'the list has forgotten it' status_has "$NONE_ASIDE"
qid=$(hsq list --json | "$HS_PYTHON" -c 'import json, sys
print("".join(e["id"] for e in json.load(sys.stdin) if e["queue_id"] == sys.argv[1]))' "$id")
hsq release "$qid" >"$HS_TMP/release.out" 2>&1
check "the admin can release it ($qid)" wait_until 60 count_test -eq 1 \
    count_sink_with '^X-Test-Token: expire-q$'

# --- 3. expiry: deliver-tagged -----------------------------------------------
conf 25M "set_aside_lifetime = 4s" "set_aside_expiry_action = deliver-tagged"
reload
id=$(send_marker expire-d)
check "$id is set aside" hs_wait_log A 30 "]: $id: action=hold verdict=scan-failed"
check 'after its lifetime it is delivered' hs_wait_log A 30 \
    "]: $id: action=deliver new_id=[0-9A-Za-z]+ verdict=scan-failed"
check 'it arrives' wait_until 30 count_test -eq 1 count_sink_with '^X-Test-Token: expire-d$'
f=$(sink_with '^X-Test-Token: expire-d$')
check 'with the not-scanned header and why' grep -Eq \
    "^X-Holdscan: not scanned by holdscan .* \(crashtest fail; set aside [0-9]+s, 1 attempt, set_aside_lifetime 4s\)" "$f"
sleep 2
check_eq 'once; nothing in the quarantine for it' \
    "$(count_sink_with '^X-Test-Token: expire-d$') $(qlist_count "$id" scan-failed)" "1 0"

# --- 4. expiry: bounce -----------------------------------------------------------
conf 25M "set_aside_lifetime = 4s" "set_aside_expiry_action = bounce"
reload
id=$(send_marker expire-b bouncer@example.org)
check "$id is set aside" hs_wait_log A 30 "]: $id: action=hold verdict=scan-failed"
check 'after its lifetime it is quarantined' hs_wait_log A 30 \
    "]: $id: action=quarantine verdict=scan-failed"
check 'and Postfix takes the notice to the sender' hs_wait_log A 30 \
    "]: $id: bounce: the notice to the sender is queued by Postfix"
bounces() {
	sink_messages A | xargs -r grep -l "^X-Rcpt-Args: <bouncer@example.org>" |
	    xargs -r grep -l '^X-Mail-Args: <>' |
	    xargs -r grep -l "^X-Postfix-Queue-ID: $id\$"
}
bounce_count() {
	bounces | wc -l
}
check 'the bounce arrives' wait_until 60 count_test -ge 1 bounce_count
f=$(bounces | head -1)
check 'a DSN: multipart/report with a delivery-status part' sh -c \
    "grep -q '^Content-Type: multipart/report; report-type=delivery-status;' '$f' &&
    grep -q '^Content-Type: message/delivery-status' '$f' &&
    grep -q '^Subject: Undelivered Mail Returned to Sender' '$f'"
check 'failed for the recipient, Status 5.7.0, why' sh -c \
    "grep -q '^Final-Recipient: rfc822; rcpt@example.net' '$f' &&
    grep -q '^Action: failed' '$f' && grep -q '^Status: 5.7.0' '$f' &&
    grep -Eq '^Diagnostic-Code: X-Holdscan; could not be scanned \(crashtest fail\); held [0-9]+s, 1 attempt' '$f'"
check 'the original header, not its body' sh -c \
    "grep -q '^X-Test-Token: expire-b' '$f' && ! grep -q '$MARKER' '$f'"
sleep 3
check_eq 'one bounce, one quarantine entry, nothing delivered' \
    "$(bounces | wc -l) $(qlist_count "$id" scan-failed) $(count_sink_with '^X-Test-Token: expire-b$')" \
    "1 1 0"
check 'the list has forgotten it' status_has "$NONE_ASIDE"
# A message from the null sender gets no bounce (never a bounce of a bounce).
id=$(send_marker expire-null "")
check "$id from <> expires into the quarantine" hs_wait_log A 30 \
    "]: $id: action=quarantine verdict=scan-failed"
check 'without a notice' hs_wait_log A 20 "]: $id: bounce: no notice is due"
check_eq 'kept in the quarantine' "$(qlist_count "$id" scan-failed)" 1

# --- 5. the policy's own hold is the admin's -------------------------------------
CRASHTEST=infected
conf 25M "set_aside_lifetime = 2s" "policy {" \
    "    infected = hold" "}"
reload
id=$(send_marker held-by-policy)
check "$id is held by the policy" hs_wait_log A 30 "]: $id: action=hold verdict=infected"
reload
sleep 5
check_eq 'neither scanned again nor expired' \
    "$(hs_count_log A "]: $id: (set aside .* ago|action=quarantine)") $(hold_count A)" "0 1"
check 'status: held by the policy, yours' status_has \
    '^ +age [0-9]+s, 1 attempt; held by the policy: yours to release or delete$'

hs_stop A
check_eq 'holdscand logged no warning about the set-aside list' \
    "$(grep -c 'set-aside list' "$A_HS_LOG")" 0
done_testing
