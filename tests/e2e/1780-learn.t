#!/bin/sh
# 1780-learn.t - spam learning (issue 17 item 6): "holdscan learn
# spam|ham ID|FILE" teaches spamd (SpamAssassin's TELL, through the
# spamd plugin's learn hook in "holdscan-scanner learn", as worker_user).
#
# A private spamd takes TELL into its own Bayes database (SD_LEARN=1 in
# tests/lib/spamd.sh). A message quarantined by holdscand (an .exe) is
# learnt as spam by its quarantine ID: spamd says it learnt it, and its
# Bayes database counts one spam; learnt again, spamd knew it already;
# a message file is learnt as ham (one ham counted). With no scanner that
# can learn, holdscan learn says so and exits 3; an unknown ID is an
# error; "quarantine release --learn-ham" releases it and teaches spamd
# it was ham; with spamd stopped, the plugin's error is shown and the exit
# status is 1.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/spamd.sh"

command -v spamd >/dev/null 2>&1 ||
    bail_out "spamd is not installed (Debian package spamd; make deps)"
command -v sa-learn >/dev/null 2>&1 ||
    bail_out "sa-learn is not installed (Debian package spamassassin)"

plan 18

sb_start A || bail_out "sandbox did not start"
SD_LEARN=1 sd_start S || bail_out "spamd did not start"
M="$HS_TMP/mail"
mkdir "$M" && chmod 0755 "$M"

# exe NAME - a message with an .exe attachment (blocked: quarantined)
exe() {
	cat <<-EOF
	From: $1 <sender@example.org>
	To: rcpt@sink.test
	Message-ID: <$1@example.org>
	X-Test-Token: learn-$1
	Subject: cheap watches $1
	MIME-Version: 1.0
	Content-Type: multipart/mixed; boundary="b1780"

	--b1780
	Content-Type: text/plain

	Buy cheap replica watches now, best prices, click the attachment.
	--b1780
	Content-Type: application/octet-stream; name="offer.exe"
	Content-Disposition: attachment; filename="offer.exe"
	Content-Transfer-Encoding: base64

	TVoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
	--b1780--
	EOF
}
exe spam1 >"$M/spam1.eml"
cat >"$M/ham1.eml" <<-'EOF'
From: Alice <alice@example.org>
To: rcpt@sink.test
Message-ID: <ham1@example.org>
Subject: minutes of the meeting

Hello, here are the minutes of Tuesday's meeting about the budget.
Regards, Alice
EOF
chmod 0644 "$M"/*

# magic WHAT - what spamd's Bayes database counts: nspam or nham
magic() {
	sa-learn --siteconfigpath="$S_SPAMD_DIR/site" --dump magic 2>/dev/null |
	    awk -v w="$1" '$0 ~ "non-token data: " w "$" { print $3 }'
}

hs_start A <<-EOF || bail_out "holdscand did not start"
scanners = "attachments, spamd"
plugin spamd {
    address = 127.0.0.1:$S_SPAMD_PORT
}
EOF
"$HS_PYTHON" - "$A_SMTP_PORT" "$M/spam1.eml" <<'EOF' || bail_out "sending failed"
import smtplib, sys
with open(sys.argv[2], "rb") as f:
    m = f.read()
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.sendmail("sender@example.org", ["rcpt@sink.test"], m.replace(b"\n", b"\r\n"))
s.quit()
EOF
check 'the .exe message is quarantined' wait_until 60 hs_in_quarantine A spam1
wait_until 30 grep -q ' action=quarantine verdict=blocked .*quarantine_id=' \
    "$A_HS_LOG"
QID=$(sed -n 's/.* action=quarantine verdict=blocked .*quarantine_id=\([^ ]*\).*/\1/p' \
    "$A_HS_LOG" | head -n 1)
check 'its quarantine ID is in the log' test -n "$QID"

rc=0
"$HOLDSCAN" -c "$A_HS_CONF" learn spam "$QID" >"$HS_TMP/l1" 2>&1 || rc=$?
check_eq 'holdscan learn spam ID: exit 0' "$rc" 0
check_eq 'spamd learnt it' "$(cat "$HS_TMP/l1")" "$QID: spamd: learnt"
check_eq 'its Bayes database counts one spam' "$(magic nspam)" 1
rc=0
"$HOLDSCAN" -c "$A_HS_CONF" learn spam "$QID" >"$HS_TMP/l2" 2>&1 || rc=$?
check_eq 'learnt again: spamd knew it' "$rc:$(cat "$HS_TMP/l2")" \
    "0:$QID: spamd: known already (nothing to learn)"
check_eq 'still one spam' "$(magic nspam)" 1

rc=0
"$HOLDSCAN" -c "$A_HS_CONF" learn ham "$M/ham1.eml" >"$HS_TMP/l3" 2>&1 || rc=$?
check_eq 'holdscan learn ham FILE: learnt' "$rc:$(cat "$HS_TMP/l3")" \
    "0:$M/ham1.eml: spamd: learnt"
check_eq 'one ham counted' "$(magic nham)" 1

rc=0
"$HOLDSCAN" -c "$A_HS_CONF" learn spam NOSUCHID >"$HS_TMP/l4" 2>&1 || rc=$?
check 'an unknown ID is an error' sh -c "[ $rc -ne 0 ] &&
    grep -q 'NOSUCHID: no such file, nor message in the quarantine' '$HS_TMP/l4'"
rc=0
"$HOLDSCAN" -c "$A_HS_CONF" learn maybe "$QID" >"$HS_TMP/l5" 2>&1 || rc=$?
check_eq 'neither spam nor ham: usage error' "$rc" 2

# released as a false positive: --learn-ham teaches spamd it was ham
rc=0
"$HOLDSCAN" -c "$A_HS_CONF" quarantine release --learn-ham "$QID" \
    >"$HS_TMP/l8" 2>&1 || rc=$?
check_eq 'quarantine release --learn-ham: exit 0' "$rc" 0
check 'it is released, and learnt as ham' sh -c "
    grep -q '^$QID: released as [0-9A-Za-z]*\$' '$HS_TMP/l8' &&
    grep -q '^$QID: spamd: learnt\$' '$HS_TMP/l8'"
check_eq 'the Bayes database now counts it as ham' \
    "$(magic nspam):$(magic nham)" "0:2"
check 'and the released copy arrives' wait_sink A 1 60
hs_stop A

CONF=$(hs_conf A <<-EOF
scanners = attachments
EOF
)
rc=0
# shellcheck disable=SC2153 # HOLDSCAN is holdscan.sh's
"$HOLDSCAN" -c "$CONF" learn ham "$M/ham1.eml" >"$HS_TMP/l6" 2>&1 || rc=$?
check_eq 'no scanner that learns: exit 3, and it says so' \
    "$rc:$(cat "$HS_TMP/l6")" \
    "3:$M/ham1.eml: no scanner can learn (spamd is not in scanners)"

sd_stop S
CONF=$(hs_conf A <<-EOF
scanners = spamd
plugin spamd {
    address = 127.0.0.1:$S_SPAMD_PORT
    timeout = 2s
}
EOF
)
rc=0
"$HOLDSCAN" -c "$CONF" learn ham "$M/ham1.eml" >"$HS_TMP/l7" 2>&1 || rc=$?
check_eq 'spamd down: exit 1' "$rc" 1
check 'and the reason' grep -q \
    "^$M/ham1.eml: spamd: not learnt: spamd 127.0.0.1:$S_SPAMD_PORT: " \
    "$HS_TMP/l7"

done_testing
