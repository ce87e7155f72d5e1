#!/bin/sh
# 1740-lists.t - allow and deny lists (issue 17 item 2) on a real Postfix
# with holdscand, a real spamd and clamav's test signatures.
#
# scanners = clamav, spamd; high_spam, infected and blocked quarantined.
#   - GTUBE from boss@trusted.example: high-spam, quarantined (no entry)
#   - holdscan list add allow sender boss@trusted.example, no reload: the
#     next GTUBE from it is delivered without spamd's headers (spamd
#     skipped, the master logs the entry), but its EICAR is still
#     quarantined as infected (an allow entry never skips a virus check)
#   - holdscan list add deny domain bad.example: a clean message from
#     a subdomain is blocked with the entry as its reason, quarantined;
#     list del undoes it: the next one is delivered
#   - a deny for the client network (127.0.0.1/32): a clean message is
#     blocked, but the allowed sender's passes (the sender is more specific)
#   - list show --json parses and holds what is left; bad values are usage
#     errors; holdscan scan --sender/--client shows the entry that applies,
#     and so does holdscan scan of a queue file (its envelope).
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/spamd.sh"

command -v spamd >/dev/null 2>&1 ||
    bail_out "spamd is not installed (Debian package spamd; make deps)"
hs_clamav_data "$HS_TMP/sigs" "$HS_TMP/mail"
chmod 0755 "$HS_TMP/sigs" "$HS_TMP/mail"
chmod 0644 "$HS_TMP/sigs"/* "$HS_TMP/mail"/*

plan 25

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
# shellcheck disable=SC2016 # the $ are EICAR's own
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'

sb_start A || bail_out "sandbox did not start"
sd_start S || bail_out "spamd did not start"
CONF=$(hs_conf A <<EOF
scanners = "clamav, spamd"
plugin clamav {
    database_directory = $HS_TMP/sigs
    cache = no
}
plugin spamd {
    address = 127.0.0.1:$S_SPAMD_PORT
    timeout = 20s
}
policy {
    clean = deliver
    spam = deliver
    high_spam = quarantine
    blocked = quarantine
    infected = quarantine
    scan_failed = hold
}
EOF
)
hs_run A || bail_out "holdscand did not start"

list() {
	"$HOLDSCAN" -c "$CONF" list "$@"
}

# send TOKEN FROM BODY - one message, Message-Id <TOKEN@holdscan.test>.
send() {
	{
		printf 'From: <%s>\nTo: <rcpt@example.net>\n' "$2"
		printf 'Date: %s\nSubject: test %s\n' "$(date -R)" "$1"
		printf 'Message-Id: <%s@holdscan.test>\nX-Test-Token: %s\n\n' \
		    "$1" "$1"
		printf '%s\n' "$3"
	} >"$HS_TMP/$1.eml"
	swaks --silent 2 --server "127.0.0.1:$A_SMTP_PORT" \
	    --from "$2" --to rcpt@example.net \
	    --data "@$HS_TMP/$1.eml" >>"$HS_TMP/swaks.out" 2>&1 ||
	    bail_out "swaks failed: $(tail -3 "$HS_TMP/swaks.out")"
}

qid_of() {
	sed -n "s/.* \([0-9A-Za-z]\{6,\}\): message-id=<$1@holdscan.test>.*/\1/p" \
	    "$A_MAILLOG" | head -n 1
}

_decided() {
	_d_qid=$(qid_of "$1")
	[ -n "$_d_qid" ] && grep -q "]: $_d_qid: action=" "$A_HS_LOG"
}

# outcome TOKEN - holdscand's lines on the message, without the prefix.
outcome() {
	wait_until 90 _decided "$1" || { echo "no outcome for $1"; return; }
	_o_qid=$(qid_of "$1")
	grep -E "]: $_o_qid: (list|scanned|action)" "$A_HS_LOG" |
	    sed 's/.*]: [0-9A-Za-z]*: //'
}

sink_file() {
	_sf=$(sink_messages A)
	[ -n "$_sf" ] || return 1
	# shellcheck disable=SC2086
	grep -l "^X-Test-Token: $1\$" $_sf
}

HAM='Hello,

the minutes of the meeting of Tuesday are on the wiki page now.

Regards, Ann'

# 1. No entry: GTUBE from the boss is high-spam.
send gtube1 boss@trusted.example "$GTUBE"
check_eq 'without an entry GTUBE is high-spam and quarantined' \
    "$(outcome gtube1 | grep -c '^scanned verdict=high-spam action=quarantine')" 1

# 2. An allow entry applies to the next message, without a reload.
list add allow sender 'Boss@Trusted.Example' --comment 'the boss' \
    >"$HS_TMP/add1.out" 2>&1
check_eq 'list add allow sender: lower-cased, added' "$(cat "$HS_TMP/add1.out")" \
    'allow sender boss@trusted.example: added to the allow list'
send gtube2 boss@trusted.example "$GTUBE"
out=$(outcome gtube2)
check_eq 'the master logs the allow entry it found' \
    "$(echo "$out" | grep -c '^list=allow entry="allow list: sender boss@trusted.example (added by root [0-9-]*: the boss)"')" 1
check_eq 'spamd is skipped, clamav is not: GTUBE delivered' \
    "$(echo "$out" | grep -c '^scanned verdict=clean action=deliver .*plugins=clamav=clean spamd=skipped list=allow')" 1
wait_until 30 sink_file gtube2 >/dev/null
f=$(sink_file gtube2)
check 'the allowed GTUBE reached the sink' test -n "$f"
check_eq 'without spamd'"'"'s headers' "$(grep -c '^X-Spam-' "$f")" 0
check 'no reload happened' sh -c "! grep -qi 'reload' '$A_HS_LOG'"

# 3. An allow entry never skips the virus check.
send eicar1 boss@trusted.example "$EICAR"
check_eq 'the allowed sender'"'"'s EICAR is infected and quarantined' \
    "$(outcome eicar1 | grep -c '^scanned verdict=infected action=quarantine .*spamd=skipped list=allow')" 1
check_eq 'and never reaches the sink' "$(sink_file eicar1)" ""

# 4. A deny entry for a domain: its subdomains' clean mail is blocked.
list add deny domain .Bad.Example >/dev/null 2>&1
send deny1 news@mail.bad.example "$HAM"
out=$(outcome deny1)
check_eq 'a denied domain'"'"'s clean message is blocked with the entry as reason' \
    "$(echo "$out" | grep -c '^scanned verdict=blocked action=quarantine .*reason="deny list: domain bad.example (added by root [0-9-]*)" plugins=clamav=clean spamd=clean.* list=deny')" 1
check 'it is in the quarantine' \
    grep -rlq 'X-Test-Token: deny1' "$A_DIR/hs/quarantine"
send like1 a@notbad.example "$HAM"
check_eq 'a domain that only ends like it is not denied' \
    "$(outcome like1 | grep -c '^scanned verdict=clean action=deliver')" 1

# 5. list del undoes it.
list del deny domain bad.example >"$HS_TMP/del.out" 2>&1
check_eq 'list del says so' "$(cat "$HS_TMP/del.out")" \
    'deny domain bad.example: removed'
send deny2 news@mail.bad.example "$HAM"
check_eq 'the next message from that domain is delivered' \
    "$(outcome deny2 | grep -c '^scanned verdict=clean action=deliver')" 1
list del deny domain bad.example >/dev/null 2>&1
check_eq 'deleting it again fails (exit 1)' "$?" 1

# 6. A network entry; the more specific sender entry beats it.
list add deny network 127.0.0.1 >/dev/null 2>&1
send net1 someone@example.org "$HAM"
check_eq 'a denied client network blocks a clean message' \
    "$(outcome net1 | grep -c '^scanned verdict=blocked .*reason="deny list: network 127.0.0.1/32')" 1
send net2 boss@trusted.example "$HAM"
check_eq 'the allowed sender from that network wins (most specific)' \
    "$(outcome net2 | grep -c '^scanned verdict=clean action=deliver .*list=allow')" 1

# 7. list show --json; bad values.
list show --json >"$HS_TMP/show.json" 2>&1
check_eq 'list show --json parses and holds both entries' \
    "$("$HS_PYTHON" -c 'import json,sys; v=json.load(open(sys.argv[1])); print(" ".join("%s:%s:%s:%s" % (e["list"], e["type"], e["value"], e["comment"]) for e in v))' "$HS_TMP/show.json")" \
    'deny:network:127.0.0.1/32: allow:sender:boss@trusted.example:the boss'
list show >"$HS_TMP/show.txt" 2>&1
check_eq 'list show: one line an entry, with when, by whom and the comment' \
    "$(grep -Ec '^(deny   network  127\.0\.0\.1/32 .* root +|allow  sender   boss@trusted\.example .* root +the boss)$' "$HS_TMP/show.txt")/$(wc -l <"$HS_TMP/show.txt")" \
    2/2
list del deny network 127.0.0.1/32 >/dev/null 2>&1
list add deny network 192.0.2.0/33 >"$HS_TMP/bad.out" 2>&1
check_eq 'a bad network is a usage error (exit 2)' "$?" 2
check 'which says what a network looks like' \
    grep -q 'not a network (CIDR' "$HS_TMP/bad.out"
list add maybe sender a@b >/dev/null 2>&1
check_eq 'an unknown list is a usage error' "$?" 2

# 8. holdscan scan shows the entry that applies.
"$HOLDSCAN" -c "$CONF" scan --sender boss@trusted.example --client 192.0.2.1 \
    "$HS_TMP/gtube1.eml" >"$HS_TMP/scan.out" 2>&1
check_eq 'holdscan scan names the allow entry' \
    "$(grep -c '^list: *allow list: sender boss@trusted.example (added by root [0-9-]*: the boss) (spam checks skipped)' "$HS_TMP/scan.out")" 1
check_eq 'and decides as holdscand does' \
    "$(grep -c '^verdict: *clean' "$HS_TMP/scan.out")/$(grep -c '^spamd *clean: not run' "$HS_TMP/scan.out")" 1/1
qf=$(grep -rl 'X-Test-Token: eicar1' "$A_DIR/hs/quarantine" | head -n 1)
"$HOLDSCAN" -c "$CONF" scan "$qf" >"$HS_TMP/scanqf.out" 2>&1
check_eq 'a quarantined queue file is scanned with its own envelope' \
    "$(grep -c '^list: *allow list: sender boss@trusted.example' "$HS_TMP/scanqf.out")/$(grep -c '^verdict: *infected' "$HS_TMP/scanqf.out")" 1/1
done_testing
