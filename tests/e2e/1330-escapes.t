#!/bin/sh
# 1330-escapes.t - escape sequences in mail never reach a terminal or the
# log as such (issue 13, item 6).
#
# A sender address with ESC and BEL that smtpd accepted appeared raw in
# holdscand's "claimed from=" line (Postfix logs '?' for them); a Subject
# with the C1 control U+009B (CSI) reached "holdscan quarantine list" and
# "show" on a terminal; "holdscan status" printed set-aside reasons raw.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

command -v script >/dev/null || skip_all "script(1) is not installed"
plan 6

sb_start A || bail_out "sandbox did not start"
hs_start A <<EOF || bail_out "holdscand did not start"
scanners = crashtest
plugin crashtest {
    mode = verdict
    verdict = infected
    marker = ESCAPE-TEST
}
EOF

"$HS_PYTHON" - "$A_SMTP_PORT" <<'EOF' || bail_out "could not send"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.ehlo("evil.example")
# ESC, BEL and the C1 control CSI (U+009B, UTF-8 c2 9b), as SMTPUTF8 allows.
sender = '"\x1b]0;pwned\x07\u009b31mred"@evil.example'
code, msg = s.mail(sender, ["SMTPUTF8"])
if code != 250:
    sys.exit("MAIL FROM: %d %s" % (code, msg))
s.rcpt("user@example.net")
s.data("Subject: clear\u009b2Jscreen\r\n\r\nESCAPE-TEST\r\n".encode())
s.quit()
EOF

check 'the message is quarantined' wait_until 60 sh -c \
    "'$HOLDSCAN' -c '$A_HS_CONF' quarantine list | grep -q evil.example"
# The bytes that would act on a terminal: ESC, BEL, and CSI (C1) in UTF-8.
cat >"$HS_TMP/escapes.py" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
sys.exit(0 if any(b in data for b in (b"\x1b", b"\x07", b"\xc2\x9b")) else 1)
EOF
no_escapes() {
	! "$HS_PYTHON" "$HS_TMP/escapes.py" "$1"
}
grep 'claimed from=' "$A_HS_LOG" >"$HS_TMP/claimed"
check 'the log line names the sender' grep -q 'evil.example' "$HS_TMP/claimed"
check 'with no escape sequence in it' no_escapes "$HS_TMP/claimed"
qid=$("$HOLDSCAN" -c "$A_HS_CONF" quarantine list --json | "$HS_PYTHON" -c \
    'import json, sys; print(json.load(sys.stdin)[0]["id"])')
# On a terminal: script(1) gives the tool one.
script -qec "'$HOLDSCAN' -c '$A_HS_CONF' quarantine list" /dev/null \
    >"$HS_TMP/list.tty" 2>&1
script -qec "'$HOLDSCAN' -c '$A_HS_CONF' quarantine show '$qid'" /dev/null \
    >"$HS_TMP/show.tty" 2>&1
check 'quarantine list on a terminal shows it' grep -q 'clear' "$HS_TMP/list.tty"
check 'with no escape sequence' no_escapes "$HS_TMP/list.tty"
check 'nor does quarantine show' no_escapes "$HS_TMP/show.tty"
hs_stop A
done_testing
