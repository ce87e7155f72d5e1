#!/bin/sh
# 1770-actions.t - more policy actions (issue 17 item 6) on a real
# Postfix, with scanners = attachments:
#
# - a subject tag per verdict: with blocked = deliver-cleaned and
#   subject_tag_blocked = "[CLEANED $verdict]", the cleaned message
#   arrives with that tag in front of its subject; a clean one keeps its
#   subject;
# - a copy to an address (archive, forward): copy_blocked and copy_clean
#   add recipients to the new queue file, from the configuration alone:
#   the cleaned copy reaches archive@ and forward@ besides its recipient,
#   with NOTIFY=NEVER (a copy never bounces to the sender); the clean
#   one reaches archive@ only; a quarantined message (infected-like
#   .exe alone: it cannot be cleaned) is copied to nobody; the log
#   names the copies;
# - archive_directory: the delivered content of the cleaned and the
#   clean message (not the quarantined one) is written there, by date;
# - a bad address in copy_spam is refused by check-config;
# - sender notices (notify_senders = blocked): the sender of a
#   quarantined .exe gets the shipped notice, from the null sender,
#   naming the message and what happened; notify_senders = spam is
#   refused by check-config (backscatter).
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 24

sb_start A || bail_out "sandbox did not start"
M="$HS_TMP/mail"
mkdir "$M" && chmod 0755 "$M"

cat >"$HS_TMP/act.py" <<'EOF'
"""act.py write DIR | send DIR HOST:PORT NAME..."""
import base64
import os
import smtplib
import sys


def message(name, subject, attachment):
    att = ""
    if attachment:
        att = ("--b1770\n"
               "Content-Type: application/octet-stream; name=\"%s\"\n"
               "Content-Disposition: attachment; filename=\"%s\"\n"
               "Content-Transfer-Encoding: base64\n\n%s" %
               (attachment, attachment,
                base64.encodebytes(b"MZ" + b"\0" * 64).decode()))
    return ("From: %s <sender@example.org>\n"
            "To: rcpt@sink.test\n"
            "Message-ID: <%s@example.org>\n"
            "X-Test-Token: act-%s\n"
            "Subject: %s\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=\"b1770\"\n\n"
            "--b1770\n"
            "Content-Type: text/plain\n\nHello.\n"
            "%s"
            "--b1770--\n" % (name, name, name, subject, att)).encode()


def single_exe(name):
    return ("From: %s <sender@example.org>\n"
            "To: rcpt@sink.test\n"
            "Message-ID: <%s@example.org>\n"
            "X-Test-Token: act-%s\n"
            "Subject: tool\n"
            "MIME-Version: 1.0\n"
            "Content-Type: application/octet-stream; name=\"tool.exe\"\n"
            "Content-Transfer-Encoding: base64\n\n%s" %
            (name, name, name,
             base64.encodebytes(b"MZ" + b"\0" * 64).decode())).encode()


MESSAGES = {
    "cleaned": lambda: message("cleaned", "your invoice", "invoice.pdf.exe"),
    "clean": lambda: message("clean", "hello there", None),
    "bare": lambda: single_exe("bare"),
    "bare2": lambda: single_exe("bare2"),
}

if __name__ == "__main__":
    d = sys.argv[2]
    if sys.argv[1] == "write":
        for name, make in MESSAGES.items():
            with open(os.path.join(d, name + ".eml"), "wb") as f:
                f.write(make())
    else:
        host, port = sys.argv[3].rsplit(":", 1)
        s = smtplib.SMTP(host, int(port))
        for name in sys.argv[4:]:
            with open(os.path.join(d, name + ".eml"), "rb") as f:
                m = f.read()
            s.sendmail("sender@example.org", ["rcpt@sink.test"],
                       m.replace(b"\n", b"\r\n"))
        s.quit()
EOF

act() {
	"$HS_PYTHON" "$HS_TMP/act.py" "$@"
}
act write "$M" || bail_out "cannot write the messages"

# rcpts FILE - the envelope recipients of a sink file, sorted, one line
rcpts() {
	grep -a '^X-Rcpt-Args:' "$1" | sed 's/^X-Rcpt-Args: *//' | sort |
	    tr '\n' ' '
}

ARCH="$HS_TMP/archive"
mkdir "$ARCH" && chown "$(sb_env A MAIL_OWNER)" "$ARCH" && chmod 0750 "$ARCH"
hs_start A <<-EOF || bail_out "holdscand did not start"
scanners = attachments
archive_directory = $ARCH
policy {
    blocked = deliver-cleaned
    subject_tag_blocked = "[CLEANED \$verdict]"
    copy_blocked = "archive@sink.test, forward@sink.test"
    copy_clean = archive@sink.test
}
EOF
act send "$M" "127.0.0.1:$A_SMTP_PORT" cleaned clean bare ||
    bail_out "sending failed"
check 'the cleaned and the clean message arrive' wait_sink A 2 60
check 'the bare .exe is quarantined' wait_until 60 hs_in_quarantine A bare
sleep 1
check_eq 'and nothing else arrives' "$(sink_count A)" 2
F1=$(sink_file A act-cleaned)
F2=$(sink_file A act-clean)
check_eq 'the cleaned one has the per-verdict subject tag' \
    "$(grep -a '^Subject:' "$F1")" "Subject: [CLEANED blocked] your invoice"
check 'and its attachment replaced' grep -qa \
    'holdscan removed attachment invoice.pdf.exe' "$F1"
check_eq 'the clean one keeps its subject' \
    "$(grep -a '^Subject:' "$F2")" "Subject: hello there"
check_eq 'the cleaned one went to its recipient, archive@ and forward@' \
    "$(rcpts "$F1" | sed 's/ ORCPT=[^ ]*//g')" \
    "<archive@sink.test> NOTIFY=NEVER <forward@sink.test> NOTIFY=NEVER <rcpt@sink.test> "
check_eq 'the clean one to its recipient and archive@' \
    "$(rcpts "$F2" | sed 's/ ORCPT=[^ ]*//g')" \
    "<archive@sink.test> NOTIFY=NEVER <rcpt@sink.test> "
check 'the log names the copies of the cleaned one' wait_until 60 grep -q \
    ': copy to=<archive@sink.test>,<forward@sink.test> verdict=blocked$' \
    "$A_HS_LOG"
check_eq 'one copy line per delivered message, none for the quarantined one' \
    "$(grep -c ': copy to=' "$A_HS_LOG")" 2
DAY=$(date -u +%Y-%m-%d)
check_eq 'the archive holds the two delivered messages, by date' \
    "$(find "$ARCH/$DAY" -type f -name "*.eml" | wc -l)" 2
A1=$(grep -l '^X-Test-Token: act-cleaned$' "$ARCH/$DAY"/*.eml)
check 'the cleaned one as delivered: tagged, its attachment replaced' sh -c "
    grep -q '^Subject: \[CLEANED blocked\] your invoice\$' '$A1' &&
    grep -q 'holdscan removed attachment invoice.pdf.exe' '$A1' &&
    ! grep -q 'TVqQ\|TVo' '$A1'"
check 'the log says where' wait_until 60 grep -q ": archived as $ARCH/$DAY/" "$A_HS_LOG"
# shellcheck disable=SC2153 # HOLDSCAN is holdscan.sh's
"$HOLDSCAN" -c "$A_HS_CONF" scan "$M/cleaned.eml" >"$HS_TMP/scan1" 2>&1
check_eq 'holdscan scan shows the action and the copies' \
    "$(grep -E '^(action|copy to):' "$HS_TMP/scan1")" \
    "action:        deliver-cleaned
copy to:       archive@sink.test, forward@sink.test"
check_eq 'hold is empty' "$(hold_count A)" 0
check_eq 'no warnings from holdscand' "$(hs_warnings_after A 0)" 0
hs_stop A

CONF=$(hs_conf A <<-'EOF'
policy {
    copy_spam = "spam-copies@example.org, not-an-address"
}
EOF
)
# shellcheck disable=SC2153 # HOLDSCAN is holdscan.sh's
"$HOLDSCAN" -c "$CONF" check-config >"$HS_TMP/cc.out" 2>&1
check 'check-config refuses a bad copy address' \
    grep -q 'copy_spam = .*"not-an-address" is not a mail address' \
    "$HS_TMP/cc.out"
check 'and says where' grep -q 'holdscan.conf:[0-9]*:' "$HS_TMP/cc.out"

# --- sender notices ----------------------------------------------------------
SRC=$(cd "$HS_LIB/../.." && pwd)
cp "$SRC/etc/notify-sender.txt" "$HS_TMP/" && chmod 0644 "$HS_TMP/notify-sender.txt"
CONF=$(hs_conf A <<-EOF
policy {
    spam = tag
}
notify_senders = spam
EOF
)
"$HOLDSCAN" -c "$CONF" check-config >"$HS_TMP/cc2.out" 2>&1
check 'check-config refuses notices to the senders of spam' grep -q \
    'notify_senders.*backscatter' "$HS_TMP/cc2.out"
# holdscand submits notices with Postfix's sendmail as the mail owner, and
# postdrop (set-gid) wants the sandbox's configuration directory listed in
# the default main.cf: as in 1310, holdscand runs in a private mount
# namespace with a copy of /etc/postfix that has that one line.
if ! unshare --mount true 2>/dev/null; then
	skip "unshare --mount is not permitted here (sender notices)" 5
	done_testing
	exit 0
fi
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
hs_start A <<-EOF || bail_out "holdscand did not restart"
scanners = attachments
notify_senders = blocked
notify_sender_template = $HS_TMP/notify-sender.txt
EOF
act send "$M" "127.0.0.1:$A_SMTP_PORT" bare2 || bail_out "sending failed"
check 'the .exe is quarantined' wait_until 60 hs_in_quarantine A bare2
notice() {
	sink_messages A | xargs -r grep -l '^X-Rcpt-Args: <sender@example.org>' |
	    xargs -r grep -l '^X-Mail-Args: <>'
}
has_notice() {
	[ -n "$(notice)" ]
}
check 'its sender gets a notice, from the null sender' wait_until 60 \
    has_notice
N=$(notice | head -n 1)
QID=$(sed -n 's/.*: \([0-9A-F]*\): scanned verdict=blocked action=quarantine.*/\1/p' "$A_HS_LOG" | tail -n 1)
check 'the notice names the message and what happened' sh -c "
    grep -q '^Subject: Your message was not delivered as sent: tool\$' '$N' &&
    grep -q '^  what happened:  quarantine\$' '$N' &&
    grep -q '^  reference:      $QID\$' '$N' &&
    grep -q '^  to:             rcpt@sink.test\$' '$N' &&
    grep -q '^Auto-Submitted: auto-generated' '$N'"
check 'the log says it was sent' wait_until 60 grep -q \
    "$QID: notice sent to sender@example.org" "$A_HS_LOG"
check_eq 'no warnings from holdscand' "$(hs_warnings_after A 0)" 0
hs_stop A

done_testing
