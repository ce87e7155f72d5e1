#!/bin/sh
# 1420-scan-decides.t - holdscan scan says what holdscand does (issue 14
# item 2): both decide through scan_decide() and policy_final().
#
# scanners = clamav, attachments, headers; blocked = deliver-cleaned,
# infected = quarantine. Four messages, each through "holdscan scan" and
# through the live daemon on a real Postfix:
#   clean                 deliver
#   a header rule's hit   quarantine: the headers plugin cannot scan single
#                         parts, so deliver-cleaned falls back (scan says why)
#   an .exe attachment    deliver-cleaned (the attachments plugin cleans it)
#   EICAR                 quarantine (infected)
# The action holdscan scan prints is the one in holdscand's "scanned" line,
# for each. And holdscan scan needs no Postfix: with a configuration that
# names a Postfix directory that does not exist, no state or quarantine
# directory, and no postconf in PATH, it prints the same.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

TESTDATA="$HS_LIB/../tools/clamav-testdata.py"
hs_clamav_data "$HS_TMP/sigs" "$HS_TMP/mail"

plan 15

sb_start A || bail_out "sandbox did not start"
M="$HS_TMP/mail"
printf 'From: a@example.org\nTo: rcpt@sink.test\nSubject: lottery win\nMIME-Version: 1.0\nContent-Type: text/plain\n\nYou won.\n' \
    >"$M/rule.eml"
{
	printf 'From: a@example.org\nTo: rcpt@sink.test\nSubject: invoice\n'
	printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1420"\n\n'
	printf -- '--b1420\nContent-Type: text/plain\n\nSee attached.\n'
	printf -- '--b1420\nContent-Type: application/octet-stream; name="invoice.exe"\n'
	printf 'Content-Disposition: attachment; filename="invoice.exe"\n'
	printf 'Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA\n'
	printf -- '--b1420--\n'
} >"$M/exe.eml"
RULES_DIR="$HS_TMP/rules"
mkdir "$RULES_DIR" && chmod 0755 "$RULES_DIR"
echo '/^Subject: lottery/ blocked "lottery"' >"$RULES_DIR/header_rules"
chmod 0644 "$RULES_DIR/header_rules"
chmod 0755 "$HS_TMP/sigs" "$M"
chmod 0644 "$HS_TMP/sigs"/* "$M"/*

CONF=$(hs_conf A <<EOF
scanners = clamav, attachments, headers
plugin clamav {
    database_directory = $HS_TMP/sigs
    cache = no
}
plugin headers {
    rules_file = $RULES_DIR/header_rules
}
policy {
    blocked = deliver-cleaned
    infected = quarantine
}
EOF
)

# The same configuration with no Postfix behind it.
sed -e 's|^postfix_config_directory = .*|postfix_config_directory = /nonexistent/postfix|' \
    -e 's|^state_directory = .*|state_directory = /nonexistent/state|' \
    -e 's|^quarantine_directory = .*|quarantine_directory = /nonexistent/quarantine|' \
    "$CONF" >"$HS_TMP/nopostfix.conf"
chmod 0644 "$HS_TMP/nopostfix.conf"

# action_of FILE - the action holdscan scan printed
action_of() {
	sed -n 's/^action: *//p' "$1"
}

for n in clean rule exe eicar; do
	case $n in
	eicar) f="$M/eicar-b64.eml" ;;
	*) f="$M/$n.eml" ;;
	esac
	"$HOLDSCAN" -c "$CONF" scan "$f" >"$HS_TMP/$n.scan" 2>"$HS_TMP/$n.err" ||
	    sed 's/^/# /' "$HS_TMP/$n.err" >&2
	env PATH=/nonexistent "$HOLDSCAN" -c "$HS_TMP/nopostfix.conf" scan "$f" \
	    >"$HS_TMP/$n.nopf" 2>"$HS_TMP/$n.nopf.err"
	echo "$?" >"$HS_TMP/$n.nopf.rc"
done

check_eq 'scan: clean mail is delivered' "$(action_of "$HS_TMP/clean.scan")" \
    "deliver"
check_eq 'scan: a header rule hit cannot be cleaned: quarantine, and why' \
    "$(action_of "$HS_TMP/rule.scan")" \
    "quarantine (not deliver-cleaned: plugin headers cannot scan single parts)"
check_eq 'scan: an .exe attachment is cleaned' \
    "$(action_of "$HS_TMP/exe.scan")" "deliver-cleaned"
check 'and scan says what it removed' grep -q '^cleaned: .*invoice.exe' \
    "$HS_TMP/exe.scan"
check_eq 'scan: EICAR is quarantined' "$(action_of "$HS_TMP/eicar.scan")" \
    "quarantine"
check_eq 'without Postfix (no queue, no main.cf, no postconf): exit 0 each' \
    "$(cat "$HS_TMP/clean.nopf.rc" "$HS_TMP/rule.nopf.rc" \
    "$HS_TMP/exe.nopf.rc" "$HS_TMP/eicar.nopf.rc" | tr '\n' ' ')" "0 0 0 0 "
check_eq 'and the same output, word for word' \
    "$(cat "$HS_TMP/clean.nopf" "$HS_TMP/rule.nopf" "$HS_TMP/exe.nopf" \
    "$HS_TMP/eicar.nopf")" \
    "$(cat "$HS_TMP/clean.scan" "$HS_TMP/rule.scan" "$HS_TMP/exe.scan" \
    "$HS_TMP/eicar.scan")"
check_eq 'the verdicts without Postfix' \
    "$(grep -h '^verdict:' "$HS_TMP/clean.nopf" "$HS_TMP/rule.nopf" \
    "$HS_TMP/exe.nopf" "$HS_TMP/eicar.nopf" | sed 's/^verdict: *//;s/:.*//')" \
    "clean
blocked
blocked
infected"

# --- the live daemon -----------------------------------------------------------
hs_run A || bail_out "holdscand did not start"
"$HS_PYTHON" "$TESTDATA" send "127.0.0.1:$A_SMTP_PORT" sender@example.org \
    rcpt@sink.test "$M/clean.eml" "$M/rule.eml" "$M/exe.eml" \
    "$M/eicar-b64.eml" >"$HS_TMP/sent" 2>&1
ok $? 'four messages sent' || sed 's/^/# /' "$HS_TMP/sent" >&2

# daemon_action FILE - the action holdscand's scanned line gives FILE's message
daemon_action() {
	_id=$(awk -v f="$1" '$1 == f { print $2 }' "$HS_TMP/sent")
	[ -n "$_id" ] || return 1
	wait_until 60 grep -q "$_id: scanned " "$A_HS_LOG" || return 1
	sed -n "s/.*$_id: scanned verdict=[^ ]* action=\([^ ]*\) .*/\1/p" \
	    "$A_HS_LOG" | head -n 1
}

for n in clean rule exe eicar; do
	case $n in
	eicar) f=eicar-b64.eml ;;
	*) f=$n.eml ;;
	esac
	d=$(daemon_action "$f")
	s=$(action_of "$HS_TMP/$n.scan" | sed 's/ (.*//')
	check_eq "$n: holdscand does what holdscan scan said ($s)" "$d" "$s"
done
check 'holdscand logged why the header rule hit was not cleaned' wait_until 60 grep -q \
    'cannot deliver cleaned: plugin headers cannot scan single parts; action=quarantine instead' \
    "$A_HS_LOG"
check 'the cleaned message reached the sink' wait_sink A 2 60

done_testing
