#!/bin/sh
# 0600-headers-spamd.t - header rules and a real spamd, on real Postfix.
#
# holdscand runs the headers plugin and then the spamd plugin against a
# real SpamAssassin spamd started here (offline: stock rules, no network
# tests, no Bayes; tests/lib/spamd.sh). Policy: blocked and high-spam
# are quarantined, spam and clean delivered, scan failed held.
#   - a broken rules file: holdscand refuses to start, naming FILE:LINE
#   - a folded Subject matching a rule (i flag): quarantined, the original
#     queue file in the quarantine directory, nothing at the sink, the log
#     names the rule's reason
#   - GTUBE: high-spam (score 1000), quarantined; a normal message:
#     delivered with X-Spam-Score (below 5) and X-Spam-Status
#   - an edit of the rules file applies by itself; an edit that breaks it
#     is refused and the old rules stay in force
#   - spamd frozen (SIGSTOP): the 10 s timeout holds, mail flows (on_error =
#     clean); spamd stopped: the same, at once; then on_error = failed
#     (SIGHUP): the message is held, not lost, and released by postsuper
#   - spamd back: scoring again; every message accounted for.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/spamd.sh"

command -v spamd >/dev/null 2>&1 ||
    bail_out "spamd is not installed (Debian package spamd; make deps)"

plan 34

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'

sb_start A || bail_out "sandbox did not start"
sd_start S || bail_out "spamd did not start"
note "spamd on 127.0.0.1:$S_SPAMD_PORT (pid $S_SPAMD_PID)"

# The rules live in a directory of their own: the plugin watches it.
RULES_DIR="$HS_TMP/rules"
RULES="$RULES_DIR/header_rules"
mkdir "$RULES_DIR" && chmod 0755 "$RULES_DIR"

write_conf() {	# write_conf ON_ERROR
	hs_conf A >/dev/null <<-EOF
	scanners = "headers, spamd"
	plugin headers {
	    rules_file = $RULES
	}
	plugin spamd {
	    address = 127.0.0.1:$S_SPAMD_PORT
	    timeout = 10s
	    on_error = $1
	}
	policy {
	    clean = deliver
	    spam = deliver
	    high_spam = quarantine
	    blocked = quarantine
	    scan_failed = hold
	}
	EOF
}

BODY='Hello,

the minutes of the meeting of Tuesday are on the wiki page now.
See you on Thursday.

Regards, Ann'

# send TOKEN HEADERS [BODY] - one message, Message-Id <TOKEN@holdscan.test>.
send() {
	{
		printf 'From: <sender@example.org>\nTo: <rcpt@example.net>\n'
		printf 'Date: %s\n' "$(date -R)"
		printf 'Message-Id: <%s@holdscan.test>\nX-Test-Token: %s\n' "$1" "$1"
		printf '%s\n\n' "$2"
		printf '%s\n' "${3:-$BODY}"
	} >"$HS_TMP/$1.eml"
	swaks --silent 2 --server "127.0.0.1:$A_SMTP_PORT" \
	    --from sender@example.org --to rcpt@example.net \
	    --data "@$HS_TMP/$1.eml" >>"$HS_TMP/swaks.out" 2>&1 ||
	    bail_out "swaks failed: $(tail -3 "$HS_TMP/swaks.out")"
}

# The queue id Postfix gave the message with TOKEN (cleanup's log line).
qid_of() {
	sed -n "s/.* \([0-9A-Za-z]\{6,\}\): message-id=<$1@holdscan.test>.*/\1/p" \
	    "$A_MAILLOG" | head -n 1
}

_decided() {
	_d_qid=$(qid_of "$1")
	[ -n "$_d_qid" ] && grep -q "]: $_d_qid: action=" "$A_HS_LOG"
}

# outcome TOKEN - wait until holdscand committed the message, then print
# its "scanned" and "action" log lines without the prefix.
outcome() {
	wait_until 60 _decided "$1" || { echo "no outcome for $1"; return; }
	_o_qid=$(qid_of "$1")
	grep -E "]: $_o_qid: (scanned|action)" "$A_HS_LOG" |
	    sed 's/.*]: [0-9A-Za-z]*: //'
}

sink_file() {	# the sink file holding TOKEN; false if there is none
	_sf=$(sink_messages A)
	[ -n "$_sf" ] || return 1
	# shellcheck disable=SC2086
	grep -l "^X-Test-Token: $1\$" $_sf
}

quarantined() {	# quarantine files holding TOKEN
	grep -rl "X-Test-Token: $1" "$A_DIR/hs/quarantine" 2>/dev/null
}

# 1. A broken rules file: holdscand does not start, and says where.
printf '# rules\n/^Subject:.*lottery winner/i blocked "lottery spam"\n/x/ blockd\n' \
    >"$RULES"
chmod 0644 "$RULES"
write_conf clean
timeout 60 "$HOLDSCAND" -f -c "$A_DIR/hs/holdscan.conf" \
    >"$HS_TMP/broken.out" 2>&1
rc=$?
check_eq 'holdscand refuses to start with a broken rules file' \
    "$([ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && echo refused || echo "rc=$rc")" \
    refused
check 'and names the file, the line and the mistake' \
    grep -q "$RULES:3: unknown verdict \"blockd\"" "$HS_TMP/broken.out"

# 2. Good rules; holdscand starts.
cat >"$RULES" <<'EOF'
# holdscan e2e rules
/^From:.*<boss@trusted\.example>$/	clean	"trusted"
/^Subject:.*lottery winner/i		blocked	"lottery spam"
EOF
hs_run A || bail_out "holdscand did not start"
check 'holdscand runs with headers and spamd' hs_alive A
check 'its scanners say what they loaded' grep -Eq \
    "scanners ready: generation=1 headers 2 rules from $RULES; spamd 127.0.0.1:$S_SPAMD_PORT" \
    "$A_HS_LOG"

# 3. A folded Subject matching a rule (any case): quarantined.
send lottery 'Subject: Congratulations, you are a
	LOTTERY Winner!'
out=$(outcome lottery)
check_eq 'the lottery message is blocked and quarantined, with the rule'"'"'s reason' \
    "$(echo "$out" | grep -c '^scanned verdict=blocked action=quarantine .*reason="lottery spam" plugins=headers=blocked:lottery spam')" 1
check_eq 'its original queue file is in the quarantine directory' \
    "$(quarantined lottery | wc -l)" 1
check 'the quarantined file is the original Postfix queue file' \
    postcat -c "$A_CONFIG" "$(quarantined lottery | head -n 1)"

# 4. GTUBE: high-spam, quarantined. 5. A normal message: delivered, scored.
send gtube 'Subject: test' "This is the GTUBE, the
	Generic
	Test for
	Unsolicited
	Bulk
	Email

$GTUBE
"
send ham 'Subject: minutes of the meeting'
send trusted 'Subject: you are a lottery winner
From: <boss@trusted.example>'
out=$(outcome gtube)
check_eq 'GTUBE scores about 1000 at spamd: high-spam, quarantined' \
    "$(echo "$out" | grep -c '^scanned verdict=high-spam action=quarantine .*reason="score=[0-9]\{3,\}\.[0-9] tests=[A-Z_,]*GTUBE')" 1
check_eq 'GTUBE is in the quarantine directory' "$(quarantined gtube | wc -l)" 1
out=$(outcome ham)
check_eq 'the normal message is clean and delivered' \
    "$(echo "$out" | grep -c '^action=deliver new_id=.* verdict=clean')" 1
wait_until 30 sink_file ham >/dev/null
f=$(sink_file ham)
score=$(sed -n 's/^X-Spam-Score: //p' "$f")
check 'it carries X-Spam-Score, below 5' \
    awk -v s="$score" 'BEGIN { exit !(s ~ /^-?[0-9]+\.[0-9]$/ && s < 5) }'
check_eq 'and X-Spam-Status: No, with the score and spam_score' \
    "$(grep -c "^X-Spam-Status: No, score=$score required=5.0 tests=" "$f")" 1
out=$(outcome trusted)
check_eq 'a clean rule placed first exempts its sender (first match wins)' \
    "$(echo "$out" | grep -c '^scanned verdict=clean .*plugins=headers=clean:trusted spamd=clean')" 1
check_eq 'the quarantined messages never reached the sink' \
    "$(sink_file lottery)$(sink_file gtube)" ""

# 6. Editing the rules applies by itself; a broken edit keeps the old rules.
cat >>"$RULES" <<'EOF'
/^Subject:.*quarterly figures/i		spam	"edited in"
EOF
check 'an edit of the rules file reloads the scanners' \
    hs_wait_log A 30 'scanners ready: generation=2 headers 3 rules'
send edited 'Subject: Quarterly figures'
check_eq 'the new rule applies' \
    "$(outcome edited | grep -c '^scanned verdict=spam action=deliver .*reason="edited in"')" 1
printf '/unterminated blocked\n' >>"$RULES"
check 'a broken edit is refused, naming the line' hs_wait_log A 30 \
    "reload failed.*headers: $RULES:5: unterminated regular expression"
send lottery2 'Subject: lottery winner'
check_eq 'and the rules in force stay' \
    "$(outcome lottery2 | grep -c '^scanned verdict=blocked action=quarantine')" 1
sed -i '$d' "$RULES"
check 'the mended file is loaded again' \
    hs_wait_log A 30 'scanners ready: generation=3 headers 3 rules'

# 7. spamd frozen: the timeout holds and mail flows (on_error = clean).
sd_pause S
t0=$(date +%s)
send frozen 'Subject: while spamd sleeps'
out=$(outcome frozen)
t1=$(date +%s)
sd_resume S
check_eq 'spamd not answering: clean after the 10 s timeout, delivered' \
    "$(echo "$out" | grep -c '^scanned verdict=clean .*spamd=clean:spamd 127.0.0.1:[0-9]*: no answer: timed out (timeout 10s)')" 1
check 'within the timeout plus a few seconds' test $((t1 - t0)) -le 25
check 'holdscand warned about it' hs_wait_log A 5 \
    'warning: spamd: 127.0.0.1:[0-9]*: no answer: timed out.*treated as clean'

# 8. spamd stopped: mail keeps flowing, marked as not checked.
sd_stop S
spamd_down() {
	! sd_ping "$S_SPAMD_PORT"
}
check 'spamd is down' spamd_down
for i in 1 2 3; do
	send "down$i" "Subject: spamd is down $i"
done
check 'all three arrive at the sink' wait_until 60 sh -c \
    "[ \$(grep -l '^X-Test-Token: down' $A_SINK_DIR/* 2>/dev/null | wc -l) -eq 3 ]"
f=$(sink_file down2)
check_eq 'marked "not checked", without a score' \
    "$(grep -c '^X-Spam-Status: No, not checked (spamd error)$' "$f")/$(grep -c '^X-Spam-Score:' "$f")" \
    "1/0"
check_eq 'the log says why' \
    "$(outcome down3 | grep -c 'spamd=clean:spamd 127.0.0.1:[0-9]*: connect: Connection refused')" 1

# 9. on_error = failed (SIGHUP): the message is held, not lost.
write_conf failed
kill -HUP "$A_HS_PID"
check 'SIGHUP re-reads the options' hs_wait_log A 30 \
    'scanners ready: generation=[0-9]+ .*on_error=failed'
send failed 'Subject: spamd is still down'
check_eq 'spamd down with on_error = failed: scan failed, held' \
    "$(outcome failed | grep -c '^action=hold verdict=scan-failed')" 1
qid=$(qid_of failed)
check 'the message waits in hold' test -n "$(find "$A_QUEUE/hold" -name "$qid" -type f)"
postsuper -c "$A_CONFIG" -H "$qid" >/dev/null 2>&1
postqueue -c "$A_CONFIG" -f >/dev/null 2>&1
check 'postsuper -H releases it to the sink' wait_until 60 sh -c \
    "grep -q '^X-Test-Token: failed\$' $A_SINK_DIR/* 2>/dev/null"

# 10. spamd back on the same port: scoring again.
sd_start S "$S_SPAMD_PORT" || bail_out "spamd did not restart"
send back 'Subject: spamd is back' "
$GTUBE
"
check_eq 'spamd back: GTUBE is quarantined again' \
    "$(outcome back | grep -c '^scanned verdict=high-spam action=quarantine')" 1

# Every message accounted for: 9 at the sink, 4 quarantined, none left.
sleep 1
# shellcheck disable=SC2046
check_eq 'sink: ham trusted edited frozen down1-3 failed, once each' \
    "$(grep -h '^X-Test-Token:' $(sink_messages A) | sort | tr '\n' ' ')" \
    "X-Test-Token: down1 X-Test-Token: down2 X-Test-Token: down3 X-Test-Token: edited X-Test-Token: failed X-Test-Token: frozen X-Test-Token: ham X-Test-Token: trusted "
check_eq 'quarantine: lottery lottery2 gtube back' \
    "$(find "$A_DIR/hs/quarantine" -type f | wc -l)" 4
check_eq 'hold, claimed and staging are empty' \
    "$(find "$A_QUEUE/hold" "$A_QUEUE/holdscan" -type f ! -name state.id | wc -l)" 0

hs_stop A
sd_stop S
done_testing
