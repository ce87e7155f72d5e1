#!/bin/sh
# 1750-rulesets.t - rulesets (issue 17 item 1) on a real Postfix with
# holdscand and the test spam check scoretest (its score is the
# message's X-Test-Score: header; spam from 5, high-spam from 10).
#
# policy: spam = tag, high_spam = quarantine. Rulesets:
#   domains: strict.example spam = quarantine; lax.example
#            spam_threshold = 8
#   clients: 10.9.0.0/16 switches every scanner off (a forged
#            Received: header naming it must not); 127.0.0.2: spam = drop
#   - two recipient domains with different policies: score 6 to
#     strict.example is quarantined, to other.example delivered tagged
#   - a per-domain threshold: score 6 to lax.example is clean and
#     delivered untagged; score 9 is spam, tagged
#   - mixed recipients (lax + strict), score 6: the strictest applies
#     (lowest threshold: spam; most careful action: quarantine)
#   - the client rule takes the queue file's client_address: from
#     127.0.0.2 the message is dropped, from 127.0.0.1 with a Received:
#     header naming 10.9.0.5 it is scanned and tagged
#   - a reload applies a changed ruleset; holdscan scan explains which
#     rule fired, with --client and --sasl simulating the envelope;
#     a bad regular expression is refused by check-config and reload
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

command -v swaks >/dev/null 2>&1 || bail_out "swaks is not installed"

plan 24

sb_start A || bail_out "sandbox did not start"
RULES_BASE='scanners = "scoretest"
policy {
    clean = deliver
    spam = tag
    high_spam = quarantine
    blocked = quarantine
    infected = quarantine
    scan_failed = hold
}'
rules() {
	cat <<EOF
$RULES_BASE
ruleset domains {
    rule strict {
        recipient = strict.example
        policy { spam = $1 }
    }
    rule lax {
        recipient = "lax.example, .lax.example"
        spam_threshold = 8
    }
}
ruleset clients {
    rule far {
        client = 10.9.0.0/16
        scanners = ""
    }
    rule second_loopback {
        client = 127.0.0.2
        policy { spam = drop }
    }
}
EOF
}
CONF=$(rules quarantine | hs_conf A)
hs_run A || bail_out "holdscand did not start"

# send TOKEN SCORE RCPT... - one message; SRC (env) the local address.
send() {
	_tok=$1 _score=$2
	shift 2
	{
		printf 'From: <s@sender.example>\nTo: <list@x.example>\n'
		printf 'Date: %s\nSubject: test %s\n' "$(date -R)" "$_tok"
		printf 'Message-Id: <%s@holdscan.test>\nX-Test-Token: %s\n' \
		    "$_tok" "$_tok"
		[ -n "${RECEIVED:-}" ] && printf 'Received: %s\n' "$RECEIVED"
		printf 'X-Test-Score: %s\n\nHello.\n' "$_score"
	} >"$HS_TMP/$_tok.eml"
	_to=$(echo "$@" | tr ' ' ',')
	swaks --silent 2 --server "127.0.0.1:$A_SMTP_PORT" \
	    --local-interface "${SRC:-127.0.0.1}" \
	    --from s@sender.example --to "$_to" \
	    --data "@$HS_TMP/$_tok.eml" >>"$HS_TMP/swaks.out" 2>&1 ||
	    bail_out "swaks failed: $(tail -3 "$HS_TMP/swaks.out")"
}

qid_of() {
	sed -n "s/.* \([0-9A-Za-z]\{6,\}\): message-id=<$1@holdscan.test>.*/\1/p" \
	    "$A_MAILLOG" | head -n 1
}

_decided() {
	_d_qid=$(qid_of "$1")
	[ -n "$_d_qid" ] && grep -q "]: $_d_qid: scanned " "$A_HS_LOG"
}

# outcome TOKEN - holdscand's scanned line on the message, from "verdict=".
outcome() {
	wait_until 90 _decided "$1" || { echo "no outcome for $1"; return; }
	_o_qid=$(qid_of "$1")
	grep -E "]: $_o_qid: scanned " "$A_HS_LOG" | sed 's/.*: scanned //'
}

sink_file() {
	_sf=$(sink_messages A)
	[ -n "$_sf" ] || return 1
	# shellcheck disable=SC2086
	grep -l "^X-Test-Token: $1\$" $_sf
}

_quarantined() {
	grep -rlq "X-Test-Token: $1" "$A_DIR/hs/quarantine"
}

delivered() {
	wait_until 30 sink_file "$1" >/dev/null
	sink_file "$1"
}

# 1. Two recipient domains, two policies.
send strict1 6 u@strict.example
send other1 6 u@other.example
check_eq 'score 6 to strict.example: spam, quarantined by its rule' \
    "$(outcome strict1 | grep -c '^verdict=spam action=quarantine .*plugins=scoretest=spam:score 6.0 rules=domains/strict$')" 1
check 'it is in the quarantine' wait_until 30 _quarantined strict1
check_eq 'score 6 to other.example: no rule, the policy tags it' \
    "$(outcome other1 | grep -c '^verdict=spam action=tag .*plugins=scoretest=spam:score 6.0$')" 1
f=$(delivered other1)
check 'the tagged one reached the sink' test -n "$f"
check_eq 'with the subject tag' "$(grep -c '^Subject: \[SPAM\] test other1' "$f")" 1

# 2. A per-domain spam threshold.
send lax6 6 u@mail.lax.example
check_eq 'score 6 to a lax.example subdomain: clean under its threshold 8' \
    "$(outcome lax6 | grep -c "^verdict=clean action=deliver .*plugins=scoretest=clean:clean by the rules' thresholds (score 6.0; the plugin said spam) rules=domains/lax\$")" 1
f=$(delivered lax6)
check 'delivered' test -n "$f"
check_eq 'untagged' "$(grep -c '^Subject: test lax6' "$f")" 1
send lax9 9 u@lax.example
check_eq 'score 9 to lax.example: spam, tagged' \
    "$(outcome lax9 | grep -c '^verdict=spam action=tag .*rules=domains/lax$')" 1

# 3. Mixed recipients: the strictest rule.
send mixed1 6 u@lax.example v@strict.example
check_eq 'lax + strict, score 6: spam (lowest threshold), quarantined' \
    "$(outcome mixed1 | grep -c '^verdict=spam action=quarantine .*rules=strictest:domains/lax,domains/strict$')" 1
check 'it is in the quarantine, for both' wait_until 30 _quarantined mixed1
check_eq 'and not delivered to either' "$(sink_file mixed1)" ""

# 4. The client rule reads the queue file's client_address.
SRC=127.0.0.2 send second1 6 u@other.example
check_eq 'from 127.0.0.2: the rule on 127.0.0.2 drops the spam' \
    "$(outcome second1 | grep -c '^verdict=spam action=drop .*rules=clients/second_loopback$')" 1
RECEIVED='from relay.far.example ([10.9.0.5]) by mx.example' \
    send forged1 6 u@other.example
check_eq 'from 127.0.0.1 with a Received: naming 10.9.0.5: scanned, tagged' \
    "$(outcome forged1 | grep -c '^verdict=spam action=tag .*plugins=scoretest=spam:score 6.0$')" 1
check_eq 'no rule fired for it' "$(outcome forged1 | grep -c 'rules=')" 0

# 5. holdscan scan explains, and simulates the envelope.
"$HOLDSCAN" -c "$CONF" scan --sender s@sender.example --client 10.9.0.5 \
    --sasl ann --rcpt u@lax.example "$HS_TMP/lax6.eml" >"$HS_TMP/scan1.out" 2>&1
check_eq 'holdscan scan shows the simulated envelope' \
    "$(grep -c '^envelope: *sender <s@sender.example>, client 10.9.0.5, sasl ann$' "$HS_TMP/scan1.out")" 1
check_eq 'the rules that fired, with their settings' \
    "$(grep -c '^rule: *u@lax.example: ruleset domains rule lax spam_threshold=8; ruleset clients rule far scanners=""$' "$HS_TMP/scan1.out")" 1
check_eq 'the scanner they switched off' \
    "$(grep -c '^scoretest *clean: not run (switched off by the rules)$' "$HS_TMP/scan1.out")" 1
"$HOLDSCAN" -c "$CONF" scan --client 192.0.2.1 --rcpt u@lax.example \
    --rcpt v@strict.example "$HS_TMP/mixed1.eml" >"$HS_TMP/scan2.out" 2>&1
check_eq 'holdscan scan of mixed recipients: the strictest, and why' \
    "$(grep -c -e '^rule: *recipients under different rules: the strictest applies$' \
    -e '^rule: *v@strict.example: ruleset domains rule strict spam=quarantine$' \
    -e '^action: *quarantine$' "$HS_TMP/scan2.out")" 3

# 6. A reload applies a changed ruleset; a bad one is refused.
rules tag >"$CONF.new" && chmod 0644 "$CONF.new"
sed -n '1,/^scanners/p' "$CONF" | grep -v '^scanners' >"$CONF.head"
cat "$CONF.head" "$CONF.new" >"$CONF"
rc=0
"$HOLDSCAND" -c "$CONF" reload >"$HS_TMP/reload.out" 2>&1 || rc=$?
check_eq 'holdscand reload of the changed ruleset: exit 0' "$rc" 0
send strict2 6 u@strict.example
check_eq 'after the reload, score 6 to strict.example is tagged' \
    "$(outcome strict2 | grep -c '^verdict=spam action=tag .*rules=domains/strict$')" 1
sed -i 's/recipient = strict.example/recipient = '"'"'\/strict(\/'"'"'/' "$CONF"
"$HOLDSCAN" -c "$CONF" check-config >"$HS_TMP/cc.out" 2>&1
check 'check-config names the bad regular expression' \
    grep -q 'ruleset domains rule strict: recipient: /strict(/: missing closing parenthesis' "$HS_TMP/cc.out"
rc=0
"$HOLDSCAND" -c "$CONF" reload >"$HS_TMP/reload2.out" 2>&1 || rc=$?
check 'holdscand reload refuses it' test "$rc" -ne 0
send strict3 6 u@strict.example
check_eq 'and the running rules go on: tagged' \
    "$(outcome strict3 | grep -c '^verdict=spam action=tag .*rules=domains/strict$')" 1
