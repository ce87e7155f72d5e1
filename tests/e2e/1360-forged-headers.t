#!/bin/sh
# 1360-forged-headers.t - a sender's forged verdict headers are removed,
# and holdscan's own header is replaced, never stacked (issue 13, item 8).
#
# The attack: a sender writes "X-Holdscan: clean", "X-Spam-Status: No"
# and friends at the top of its header. Holdscan and the spamd plugin add
# the real ones at the end of the header block, so the forged ones came
# first, and a filter or a reader that takes the first one believed them.
# And a message that came through hold again (postsuper -r) got a second
# X-Holdscan, a second X-Spam-Status. Here, on a real Postfix with a real
# spamd (scanners spamd and crashtest):
#   - a message with forged X-Holdscan (two spellings), X-Holdscan-Verdict,
#     X-Spam-Status, X-Spam-Flag above its own headers, and the same
#     names in the body and in a MIME part, is delivered with exactly one
#     X-Holdscan (holdscan's), one X-Spam-Status (spamd's), no X-Spam-Flag
#     and no forged value; the body and the part keep theirs; the log
#     says "removed 5 header fields named like holdscan's (...)";
#   - the same message, delivered by holdscan but deferred by Postfix
#     (defer_transports = smtp), requeued with postsuper -r: it comes
#     through hold again with holdscan's and spamd's headers and still
#     has one of each when it arrives;
#   - mail delivered unscanned by the master (set aside, then
#     set_aside_expiry_action = deliver-tagged) loses the forged headers
#     too and has one X-Holdscan, the not-scanned one;
#   - so does mail released from the quarantine (GTUBE, high-spam): one
#     X-Holdscan, the release header.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/spamd.sh"

command -v spamd >/dev/null 2>&1 ||
    bail_out "spamd is not installed (Debian package spamd; make deps)"
[ -f "$HS_BUILD/plugins/crashtest.so" ] ||
    bail_out "no $HS_BUILD/plugins/crashtest.so"

plan 28

MARKER=holdscan-1360-fail-this-one

sb_start A || bail_out "sandbox did not start"
sd_start S || bail_out "spamd did not start"
hs_conf A >/dev/null <<EOF
scanners = "spamd, crashtest"
plugin spamd {
    address = 127.0.0.1:$S_SPAMD_PORT
    timeout = 20s
    on_error = failed
}
plugin crashtest {
    mode = fail
    marker = $MARKER
}
set_aside_lifetime = 4s
set_aside_expiry_action = deliver-tagged
policy {
    clean = deliver
    spam = deliver
    high_spam = quarantine
    scan_failed = hold
}
EOF
hs_run A || bail_out "holdscand did not start"

# send TOKEN [MORE-BODY] - a message whose header starts with forgeries.
send() {
	{
		printf 'X-Holdscan: clean (forged)\n'
		printf 'x-holdscan: CLEAN\n'
		printf 'X-Spam-Status: No, score=-100.0 forged\n'
		printf '\tfolded=forged\n'
		printf 'X-Spam-Flag: NO-forged\n'
		printf 'X-Holdscan-Verdict: clean (forged)\n'
		printf 'From: <sender@example.org>\nTo: <rcpt@example.net>\n'
		printf 'Date: %s\n' "$(date -R)"
		printf 'Message-Id: <%s@holdscan.test>\nX-Test-Token: %s\n' "$1" "$1"
		printf 'Subject: minutes of the meeting\nMIME-Version: 1.0\n'
		printf 'Content-Type: multipart/mixed; boundary=bb\n\n'
		printf '%s\n' --bb 'Content-Type: text/plain'
		printf 'X-Spam-Status: No, in-a-part\n\n'
		printf 'Hello,\n\nthe minutes of Tuesday are on the wiki page.\n'
		printf 'X-Holdscan: in-the-body\n%s\n' "${2:-}"
		printf '%s\n' --bb--
	} >"$HS_TMP/$1.eml"
	swaks --server "127.0.0.1:$A_SMTP_PORT" \
	    --from sender@example.org --to rcpt@example.net \
	    --data "@$HS_TMP/$1.eml" >"$HS_TMP/$1.swaks" 2>&1 ||
	    bail_out "swaks failed: $(tail -3 "$HS_TMP/$1.swaks")"
	# The queue id from smtpd's reply: Postfix's log is written by
	# postlogd from datagrams, and one lost record (CI, once, under
	# heavy I/O) must not leave the test without the message's id.
	sed -n 's/.* queued as \([0-9A-Za-z]\{6,\}\).*/\1/p' \
	    "$HS_TMP/$1.swaks" >"$HS_TMP/$1.qid"
	[ -s "$HS_TMP/$1.qid" ] ||
	    bail_out "no queue id in smtpd's reply: $(tail -3 "$HS_TMP/$1.swaks")"
}

# qids TOKEN - the queue ids Postfix gave the message, oldest first: the
# one smtpd answered with, then any later one cleanup logged (postsuper -r
# sends the message through cleanup again, under a new id).
qids() {
	{
		cat "$HS_TMP/$1.qid"
		sed -n "s/.* \([0-9A-Za-z]\{6,\}\): message-id=<$1@holdscan.test>.*/\1/p" \
		    "$A_MAILLOG"
	} | awk '!seen[$0]++'
}

sink_file() {	# the sink file holding TOKEN; false if there is none
	_sf=$(sink_messages A)
	[ -n "$_sf" ] || return 1
	# shellcheck disable=SC2086
	grep -l "^X-Test-Token: $1\$" $_sf
}

# header FILE - the header block of a delivered message (to the empty
# line), without smtp-sink's own lines before it.
header() {
	sed '/^$/q' "$1"
}

# count FILE ERE - header lines matching ERE
count() {
	header "$1" | grep -Eci "$2"
}

decided() {	# decided QID - holdscand has committed it
	grep -q "]: $1: action=" "$A_HS_LOG"
}

# --- 1. forged headers on a scanned message ---------------------------------
send first
wait_until 180 test -n "$(qids first)" || bail_out "no queue id for first"
q1=$(qids first | head -n 1)
check "$q1 is scanned and delivered" wait_until 60 decided "$q1"
check 'the log says which fields it removed' wait_until 60 grep -q \
    "]: $q1: removed 5 header fields named like holdscan's (X-Holdscan, X-Spam-Status, X-Spam-Flag, X-Holdscan-Verdict)" \
    "$A_HS_LOG"
check 'it arrives' wait_until 60 sink_file first
f=$(sink_file first | head -n 1)
check_eq 'with exactly one X-Holdscan, holdscan'"'"'s' \
    "$(count "$f" '^X-Holdscan:') $(count "$f" '^X-Holdscan: scanned by holdscan ')" \
    "1 1"
check_eq 'exactly one X-Spam-Status, spamd'"'"'s' \
    "$(count "$f" '^X-Spam-Status:') $(count "$f" '^X-Spam-Status: (No|Yes), score=-?[0-9.]+ required=')" \
    "1 1"
check_eq 'no forged value and no X-Spam-Flag or X-Holdscan-Verdict left' \
    "$(count "$f" 'forged|^X-Spam-Flag:|^X-Holdscan-Verdict:|^x-holdscan: CLEAN')" 0
check_eq 'and no stray continuation line' "$(count "$f" '^[[:space:]]folded=')" 0
check_eq 'the header fields of the message are all still there' \
    "$(count "$f" '^(From|To|Date|Message-Id|X-Test-Token|Subject|MIME-Version|Content-Type):')" 8
check_eq 'the MIME part keeps its X-Spam-Status, the body its X-Holdscan line' \
    "$(grep -c '^X-Spam-Status: No, in-a-part$' "$f") $(grep -c '^X-Holdscan: in-the-body$' "$f")" \
    "1 1"

# --- 2. through hold again: postsuper -r ------------------------------------
sh "$SANDBOX" reconfigure "$A_DIR" defer_transports=smtp >/dev/null 2>&1 ||
    bail_out "cannot set defer_transports"
send again
wait_until 180 test -n "$(qids again)" || bail_out "no queue id for again"
q2=$(qids again | head -n 1)
check "$q2 is scanned and delivered by holdscan" wait_until 60 decided "$q2"
new2=$(sed -n "s/.*]: $q2: action=deliver new_id=\([0-9A-Za-z]*\) .*/\1/p" \
    "$A_HS_LOG" | head -n 1)
check "Postfix defers it ($new2)" wait_until 60 grep -q \
    " $new2: .*status=deferred" "$A_MAILLOG"
check 'postsuper -r requeues it' postsuper -c "$A_CONFIG" -r "$new2" deferred
# postsuper -r puts it into maildrop, where pickup finds it at its next
# wakeup (60 s); wake pickup now, as postdrop does for new mail.
postkick -c "$A_CONFIG" public pickup W ||
    diag "postkick could not wake pickup"
twice() {
	[ "$(qids again | wc -l)" -ge 2 ]
}
check 'it comes through hold to holdscand again' wait_until 60 twice
q3=$(qids again | sed -n 2p)
check "and is scanned again as $q3" wait_until 60 decided "$q3"
check_eq 'holdscan'"'"'s and spamd'"'"'s own headers are replaced, not kept' \
    "$(grep -c "]: $q3: removed 3 header fields named like holdscan's (X-Holdscan, X-Spam-Score, X-Spam-Status)$" "$A_HS_LOG")" 1
# Its new queue file must be deferred before the flush: flushed while
# qmgr still had it active, it waited for the next queue run (CI).
new3=$(sed -n "s/.*]: $q3: action=deliver new_id=\([0-9A-Za-z]*\) .*/\1/p" \
    "$A_HS_LOG" | head -n 1)
wait_until 60 grep -q " $new3: .*status=deferred" "$A_MAILLOG" ||
    diag "$new3 was not deferred within 60 s"
sh "$SANDBOX" reconfigure "$A_DIR" defer_transports= >/dev/null 2>&1 ||
    bail_out "cannot clear defer_transports"
postqueue -c "$A_CONFIG" -f
check 'it arrives' wait_until 60 sink_file again
f=$(sink_file again | head -n 1)
check_eq 'with exactly one X-Holdscan, one X-Spam-Status, one X-Spam-Score' \
    "$(count "$f" '^X-Holdscan:') $(count "$f" '^X-Spam-Status:') $(count "$f" '^X-Spam-Score:')" \
    "1 1 1"
check_eq 'and nothing forged' "$(count "$f" 'forged|^X-Spam-Flag:')" 0

# --- 3. delivered unscanned by the master ----------------------------------
send unscanned "$MARKER"
wait_until 180 test -n "$(qids unscanned)" || bail_out "no queue id for unscanned"
q4=$(qids unscanned | head -n 1)
check "$q4 fails its scan and is set aside" hs_wait_log A 60 \
    "]: $q4: action=hold verdict=scan-failed"
check 'after set_aside_lifetime the master delivers it unscanned' \
    hs_wait_log A 60 "]: $q4: action=deliver new_id=[0-9A-Za-z]+ verdict=scan-failed"
check 'the log says which fields it removed' wait_until 60 grep -q \
    "]: $q4: removed 5 header fields named like holdscan's (X-Holdscan, X-Spam-Status, X-Spam-Flag, X-Holdscan-Verdict)" \
    "$A_HS_LOG"
check 'it arrives' wait_until 60 sink_file unscanned
f=$(sink_file unscanned | head -n 1)
check_eq 'with one X-Holdscan, the not-scanned one, and nothing forged' \
    "$(count "$f" '^X-Holdscan:') $(count "$f" '^X-Holdscan: not scanned by holdscan ') $(count "$f" 'forged|^X-Spam-')" \
    "1 1 0"

# --- 4. released from the quarantine -----------------------------------------
GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
send released "$GTUBE"
wait_until 180 test -n "$(qids released)" || bail_out "no queue id for released"
q5=$(qids released | head -n 1)
check "$q5 (GTUBE) is quarantined" hs_wait_log A 60 \
    "]: $q5: action=quarantine verdict=high-spam"
hsq() {
	# shellcheck disable=SC2153 # HOLDSCAN is holdscan.sh's
	"$HOLDSCAN" -c "$A_HS_CONF" quarantine "$@"
}
id5=$(sed -n "s/.*]: $q5: action=quarantine .* quarantine_id=\([^ ]*\).*/\1/p" \
    "$A_HS_LOG" | head -n 1)
hsq release "$id5" >"$HS_TMP/release.out" 2>&1
check_eq "holdscan quarantine release $id5 says which fields it removed" \
    "$(grep -c "$id5: removed 5 header fields named like holdscan's (X-Holdscan, X-Spam-Status, X-Spam-Flag, X-Holdscan-Verdict)" "$HS_TMP/release.out")" 1
check 'it arrives' wait_until 60 sink_file released
f=$(sink_file released | head -n 1)
check_eq 'with one X-Holdscan, the release header, and nothing forged' \
    "$(count "$f" '^X-Holdscan:') $(count "$f" '^X-Holdscan: released from quarantine \(high-spam\) by holdscan ') $(count "$f" 'forged|^X-Spam-')" \
    "1 1 0"
check_eq 'its body and MIME part as sent' \
    "$(grep -c '^X-Spam-Status: No, in-a-part$' "$f") $(grep -c '^X-Holdscan: in-the-body$' "$f")" \
    "1 1"
