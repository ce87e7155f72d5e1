#!/bin/sh
# 1310-notice-recipients.t - a notice goes to exactly the one recipient it
# is for, whatever its address looks like (issue 13, item 1).
#
# The attack: a message quarantined with RCPT TO addresses whose quoted
# local parts hold other addresses,
#   <"attacker@evil.example,v1@victim1.example,x"@gw-domain>
#   <"Any <v3@victim3.example>"@gw-domain>
# Postfix keeps them unquoted; handed to sendmail as they are, each was
# read as an address list, and holdscand sent notices (from <>, with the
# attacker's Subject) to v1 and v3: an open relay for backscatter. Each
# notice must go to the quoted address itself, and nothing to the victims.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 6

sb_start A || bail_out "sandbox did not start"

# holdscand submits notices with Postfix's sendmail as the mail owner, and
# postdrop (set-gid) wants the sandbox's configuration directory listed in
# the default main.cf: holdscand runs in a private mount namespace in
# which a copy of /etc/postfix with that one line is mounted (0700 does
# the same; the machine's /etc/postfix stays as it is).
unshare --mount true 2>/dev/null ||
    skip_all "unshare --mount is not permitted here"
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

cat >"$HS_TMP/rcpt.txt" <<'EOF'
From: holdscan <MAILER-DAEMON>
To: $to
Subject: [test] held back: $subject

for: $to
EOF
chmod 0644 "$HS_TMP/rcpt.txt"
chmod 0755 "$HS_TMP"
hs_conf A >/dev/null <<EOF
scanners = crashtest
plugin crashtest {
    mode = verdict
    verdict = infected
    marker = BACKSCATTER-TEST
}
notify_postmaster = ""
notify_recipients = infected
notify_recipient_template = $HS_TMP/rcpt.txt
EOF
hs_run A || bail_out "holdscand did not start"

# The attacker's message, with the two addresses and an ordinary one.
"$HS_PYTHON" - "$A_SMTP_PORT" <<'EOF' || bail_out "could not send"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.ehlo("attacker.example")
s.mail("attacker@evil.example")
for r in ('"attacker@evil.example,v1@victim1.example,x"@gw-domain',
          '"Any <v3@victim3.example>"@gw-domain',
          'plain@gw-domain'):
    code, msg = s.rcpt(r)
    if code != 250:
        sys.exit("RCPT %s: %d %s" % (r, code, msg))
s.data(b"Subject: you won\r\n\r\nBACKSCATTER-TEST\r\n")
s.quit()
EOF

# The envelope recipient of each notice at the sink (smtp-sink's
# X-Rcpt-Args, its ORCPT= and NOTIFY= parameters cut off).
notices() {
	sink_messages A | xargs -r grep -l '^X-Mail-Args: <> ' |
	    xargs -r grep -h '^X-Rcpt-Args: ' |
	    sed 's/ ORCPT=.*//; s/ NOTIFY=.*//' | sort
}
check 'three notices, one per recipient' \
    wait_until 90 sh -c "[ \$(sh '$SANDBOX' sink-list '$A_DIR' |
    xargs -r grep -l '^X-Mail-Args: <> ' | wc -l) -ge 3 ]"
sleep 2
notices >"$HS_TMP/notices"
check_eq 'exactly three notices' "$(wc -l <"$HS_TMP/notices")" 3
check 'the first went to the quoted address itself' \
    grep -qxF 'X-Rcpt-Args: <"attacker@evil.example,v1@victim1.example,x"@gw-domain>' \
    "$HS_TMP/notices"
check 'the second went to the quoted address itself' \
    grep -qxF 'X-Rcpt-Args: <"Any <v3@victim3.example>"@gw-domain>' \
    "$HS_TMP/notices"
check_eq 'none reached a victim or the attacker' \
    "$(grep -cxF -e 'X-Rcpt-Args: <v1@victim1.example>' \
    -e 'X-Rcpt-Args: <v3@victim3.example>' \
    -e 'X-Rcpt-Args: <attacker@evil.example>' \
    -e 'X-Rcpt-Args: <x@gw-domain>' -e 'X-Rcpt-Args: <Any>' \
    "$HS_TMP/notices")" 0
check_eq 'nothing but the notices reached the sink' "$(sink_count A)" 3
hs_stop A
done_testing
