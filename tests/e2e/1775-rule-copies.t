#!/bin/sh
# 1775-rule-copies.t - copy_<verdict> and archive per rule (issue 17
# item 1: rulesets switch the actions' settings per rule), on a real
# Postfix with scanners = attachments.
#
# policy { copy_clean = archive@sink.test }, archive_directory set, and
# a rule for vip.test: copy_clean = vip-archive@sink.test, archive = no.
#   - clean mail to plain.test: a copy to archive@ (NOTIFY=NEVER), and
#     archived;
#   - clean mail to vip.test: a copy to vip-archive@ only, not archived;
#   - clean mail to both: the union of the copies, archived (plain.test's
#     rule does not say no);
#   - the worker names the copies, the master adds only configured ones:
#     no warning, one copy line per message;
#   - holdscan scan --rcpt shows the rule, the copies and the archive.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

command -v swaks >/dev/null 2>&1 || bail_out "swaks is not installed"

plan 11

sb_start A || bail_out "sandbox did not start"
M="$HS_TMP/mail"
mkdir "$M" && chmod 0755 "$M"
for n in plain vip both; do
	printf 'From: sender@example.org\nTo: rcpt@%s.test\nSubject: %s\nMessage-ID: <rc-%s@example.org>\nX-Test-Token: rc-%s\n\nhello\n' \
	    "$n" "$n" "$n" "$n" >"$M/$n.eml"
done
chmod 0644 "$M"/*

# rcpts FILE - the envelope recipients of a sink file, sorted, one line
rcpts() {
	grep -a '^X-Rcpt-Args:' "$1" | sed 's/^X-Rcpt-Args: *//' | sort |
	    sed 's/ ORCPT=[^ ]*//g' | tr '\n' ' '
}

ARCH="$HS_TMP/archive"
mkdir "$ARCH" && chown "$(sb_env A MAIL_OWNER)" "$ARCH" && chmod 0750 "$ARCH"
hs_start A <<-EOF || bail_out "holdscand did not start"
scanners = attachments
archive_directory = $ARCH
policy {
    copy_clean = archive@sink.test
}
ruleset copies {
    rule vip {
        recipient = vip.test
        policy {
            copy_clean = vip-archive@sink.test
            archive = no
        }
    }
}
EOF
send() {
	swaks --silent 2 --server 127.0.0.1 --port "$A_SMTP_PORT" \
	    --from sender@example.org --to "$2" --data "@$M/$1.eml" ||
	    bail_out "sending $1 failed"
}
send plain rcpt@plain.test
send vip rcpt@vip.test
send both rcpt@plain.test,rcpt@vip.test
check 'the three messages arrive' wait_sink A 3 60
check_eq 'plain.test: a copy to the policy'"'"'s address' \
    "$(rcpts "$(sink_file A rc-plain)")" \
    "<archive@sink.test> NOTIFY=NEVER <rcpt@plain.test> "
check_eq 'vip.test: to the rule'"'"'s address instead' \
    "$(rcpts "$(sink_file A rc-vip)")" \
    "<rcpt@vip.test> <vip-archive@sink.test> NOTIFY=NEVER "
check_eq 'both: the union of the copies' \
    "$(rcpts "$(sink_file A rc-both)")" \
    "<archive@sink.test> NOTIFY=NEVER <rcpt@plain.test> <rcpt@vip.test> <vip-archive@sink.test> NOTIFY=NEVER "
DAY=$(date -u +%Y-%m-%d)
check 'the archive holds plain.test'"'"'s and the mixed one' sh -c "
    grep -lq '^X-Test-Token: rc-plain\$' '$ARCH/$DAY'/*.eml &&
    grep -lq '^X-Test-Token: rc-both\$' '$ARCH/$DAY'/*.eml"
check 'but not vip.test'"'"'s (archive = no)' sh -c \
    "! grep -lq '^X-Test-Token: rc-vip\$' '$ARCH/$DAY'/*.eml"
check_eq 'one copy line per message' "$(grep -c ': copy to=' "$A_HS_LOG")" 3
check 'the log names the rule' wait_until 60 grep -q \
    'scanned verdict=clean action=deliver .*rules=copies/vip' "$A_HS_LOG"
check_eq 'no warnings from holdscand (no copy refused)' \
    "$(hs_warnings_after A 0)" 0
"$HOLDSCAN" -c "$A_HS_CONF" scan --rcpt rcpt@vip.test "$M/vip.eml" \
    >"$HS_TMP/scan1" 2>&1
check 'holdscan scan: the rule with its copies and archive' grep -q \
    '^rule: *rcpt@vip.test: ruleset copies rule vip copy_clean="vip-archive@sink.test" archive=no' \
    "$HS_TMP/scan1"
check_eq 'and what the master would do' \
    "$(grep -E '^(copy to|archive):' "$HS_TMP/scan1")" \
    "copy to:       vip-archive@sink.test
archive:       no (the rules say archive = no)"
hs_stop A

done_testing
