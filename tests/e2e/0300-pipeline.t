#!/bin/sh
# 0300-pipeline.t - hold -> holdscand -> incoming, exactly once, on real Postfix.
#
# 2,000 messages from smtp-source, 200 varied messages from sendmail.py
# (sizes to 5 MB, long header lines, 8-bit and binary-ish bodies, no final
# newline, up to 500 recipients, DSN options) and a few from swaks all
# arrive at smtp-sink exactly once, each with holdscan's header and
# otherwise byte-identical with envelope intact; hold, claimed/ and
# staging/ end empty; the log tells each message's story.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 12

sb_start A || bail_out "sandbox did not start"
hs_start A </dev/null
check 'holdscand is running' hs_alive A

# 1. Varied messages, checked byte for byte against what was sent.
"$HS_PYTHON" "$HS_LIB/sendmail.py" --variety --count 200 --seed 300 \
    --sessions 4 --token-prefix v --manifest "$HS_TMP/varied.json" \
    "127.0.0.1:$A_SMTP_PORT" >"$HS_TMP/send.out" 2>&1 ||
    bail_out "sendmail.py failed: $(tail -3 "$HS_TMP/send.out")"

# 2. Plain load from smtp-source (each message has a unique Message-Id).
smtp-source -s 8 -m 2000 -l 600 -f load@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >"$HS_TMP/source.out" 2>&1 ||
    bail_out "smtp-source failed: $(tail -3 "$HS_TMP/source.out")"

# 3. swaks, with an attachment and custom headers.
printf 'attached bytes\001\002\n' >"$HS_TMP/att.bin"
for i in 1 2 3 4 5; do
	swaks --silent 2 --server "127.0.0.1:$A_SMTP_PORT" \
	    --from "swaks@example.org" --to "rcpt$i@example.net" \
	    --header "X-Test-Token: swaks-$i" --header "Subject: swaks $i" \
	    --attach "$HS_TMP/att.bin" >>"$HS_TMP/swaks.out" 2>&1 ||
	    bail_out "swaks failed: $(tail -3 "$HS_TMP/swaks.out")"
done

total=2205
check "all $total messages arrive at the sink" wait_sink A $total 300
sleep 2
check_eq 'no message arrives twice' "$(sink_count A)" "$total"

# Sort the sink files by origin.
: >"$HS_TMP/varied.files"
: >"$HS_TMP/load.files"
: >"$HS_TMP/swaks.files"
for f in $(sink_messages A); do
	if grep -q '^X-Test-Token: v' "$f"; then
		echo "$f" >>"$HS_TMP/varied.files"
	elif grep -q '^X-Test-Token: swaks-' "$f"; then
		echo "$f" >>"$HS_TMP/swaks.files"
	else
		echo "$f" >>"$HS_TMP/load.files"
	fi
done

# shellcheck disable=SC2046
check 'varied messages: each once, byte-identical but for X-Holdscan, envelope intact' \
    "$HS_PYTHON" "$HS_LIB/sinkcheck.py" --added-header X-Holdscan \
    "$HS_TMP/varied.json" $(cat "$HS_TMP/varied.files")

check_eq 'smtp-source: 2000 distinct Message-Ids' \
    "$(xargs grep -h '^Message-Id:' <"$HS_TMP/load.files" | sort -u | wc -l)" 2000
check_eq 'smtp-source: every message carries the header once' \
    "$(xargs grep -hc '^X-Holdscan: scanned by holdscan' <"$HS_TMP/load.files" |
    sort | uniq -c | awk '{print $1 ":" $2}')" "2000:1"
check_eq 'swaks: five messages, each with the header' \
    "$(xargs grep -l '^X-Holdscan: scanned by holdscan' <"$HS_TMP/swaks.files" |
    wc -l)" 5

check_eq 'hold, claimed and staging are empty' \
    "$(find "$A_QUEUE/hold" "$A_QUEUE/holdscan" -type f ! -name state.id | wc -l)" 0

# One line per message per step: claimed, scanned, delivered under a new id.
id=$(grep -m1 ': claimed from=<load@example.org>' "$A_HS_LOG" |
    sed 's/.*holdscand\[[0-9]*\]: \([0-9A-Za-z]*\): .*/\1/')
check_eq "the log tells $id's story in three lines" \
    "$(grep "]: $id: " "$A_HS_LOG" | sed 's/.*: \([a-z]*\)[ =].*/\1/' | tr '\n' ' ')" \
    "claimed scanned action "
new=$(grep "]: $id: action=deliver" "$A_HS_LOG" | sed 's/.* new_id=\([^ ]*\) .*/\1/')
check "Postfix logged $id's new id $new as delivered" \
    grep -Eq "$new: to=<sink@example.net>.* status=sent" "$A_MAILLOG"
check_eq 'no warnings from holdscand' "$(hs_count_log A 'warning|fatal|panic')" 0
check_eq 'every claimed message was delivered' \
    "$(hs_count_log A ': claimed from=')" "$(hs_count_log A ': action=deliver new_id=')"

hs_stop A
done_testing
