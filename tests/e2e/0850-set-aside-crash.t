#!/bin/sh
# 0850-set-aside-crash.t - the expiry of set-aside mail is exactly once
# across a kill -9 at an exact system call (tests/fault/faultshim: KILL
# before the call, KILLAFTER once it took effect).
#
# crashtest fails on a marker, so the message is set aside; with
# set_aside_lifetime = 6s its expiry is due soon after. Once it is set
# aside, a rule kills holdscand at one step of the expiry's commit:
#   a. right after the claim (hold -> holdscan/claimed/);
#   b. right after the quarantine copy got its name, before the journal
#      transaction that indexes it;
#   c. after that transaction, before the original is removed;
#   d. with set_aside_expiry_action = bounce: after the original is
#      removed, before the notice to the sender was handed to Postfix.
# holdscand is started again without the rule. Each time the message
# ends up once in the quarantine (one index entry, one file), never
# delivered, nothing left in hold or claimed/, the set-aside list
# forgets it; in d the sender gets exactly one bounce.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

[ -f "$HS_BUILD/tests/fault/libfaultshim.so" ] ||
    skip_all "fault shim not built"
unshare --mount true 2>/dev/null ||
    skip_all "unshare --mount is not permitted here"
plan 31

HS_FAULT_FILE="$HS_TMP/faults"
HS_FAULT_LOG="$HS_TMP/faults.log"
export HS_FAULT_FILE HS_FAULT_LOG
# shellcheck disable=SC2034 # read by hs_run in holdscan.sh
HS_PRELOAD="$HS_BUILD/tests/fault/libfaultshim.so"
: >"$HS_FAULT_FILE"
: >"$HS_FAULT_LOG"
chmod 0666 "$HS_FAULT_LOG"

sb_start A || bail_out "sandbox did not start"

# The bounce goes through Postfix's sendmail as the mail owner (see 0700).
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

MARKER=HOLDSCAN-SET-ASIDE-CRASH-MARKER-77d0
conf() {
	hs_conf A >/dev/null <<EOF
scanners = crashtest
plugin crashtest {
    mode = fail
    marker = $MARKER
}
set_aside_lifetime = 6s
set_aside_expiry_action = $1
EOF
}
send_marker() {
	"$HS_PYTHON" - "$A_SMTP_PORT" "$1" "$MARKER" <<'EOF'
import smtplib, sys
port, token, marker = sys.argv[1:4]
msg = ("From: crash@example.org\nTo: rcpt@example.net\nSubject: %s\n"
       "X-Test-Token: %s\n\nThe body holds the marker: %s\n"
       % (token, token, marker))
with smtplib.SMTP("127.0.0.1", int(port), timeout=30) as s:
    s.mail("crash@example.org")
    s.rcpt("rcpt@example.net")
    code, resp = s.data(msg.encode())
    print(resp.decode().split()[-1])
EOF
}
dead() {
	! hs_alive A
}
qentries() {
	# shellcheck disable=SC2153 # HOLDSCAN is holdscan.sh's
	"$HOLDSCAN" -c "$A_HS_CONF" quarantine list --json |
	    "$HS_PYTHON" -c 'import json, sys
print(sum(1 for e in json.load(sys.stdin) if e["queue_id"] == sys.argv[1]
          and e["verdict"] == "scan-failed"))' "$1"
}
qfiles() {
	find "$A_DIR/hs/quarantine" -type f -name "*-$1" | wc -l
}
left() {
	find "$A_QUEUE/hold" "$A_QUEUE/holdscan/claimed" -type f -name "$1" |
	    wc -l
}
delivered() {
	sink_messages A | xargs -r grep -L '^X-Mail-Args: <>' |
	    xargs -r grep -l "^X-Test-Token: $1\$" | wc -l
}
bounces() {
	sink_messages A | xargs -r grep -l '^X-Mail-Args: <>' |
	    xargs -r grep -l "^X-Postfix-Queue-ID: $1\$" | wc -l
}
forgotten() {
	"$HOLDSCAN" -c "$A_HS_CONF" status 2>&1 |
	    grep -Eq '^set aside: +0 messages in hold$' &&
	    ! "$HOLDSCAN" -c "$A_HS_CONF" status 2>&1 | grep -q '^bounced:'
}

# scenario NAME ACTION RULE: 7 checks (8 with bounce)
scenario() {
	name=$1
	conf "$2"
	hs_run A || bail_out "holdscand did not start"
	id=$(send_marker "crash-$name")
	hs_wait_log A 30 "]: $id: action=hold verdict=scan-failed" ||
	    bail_out "$name: $id was not set aside"
	faults=$(wc -l <"$HS_FAULT_LOG")
	echo "$3" >"$HS_FAULT_FILE"
	check "$name: holdscand is killed during the expiry ($3)" \
	    wait_until 40 dead
	wait "$A_HS_PID" 2>/dev/null
	check_eq "$name: at that call" \
	    "$(tail -n "+$((faults + 1))" "$HS_FAULT_LOG" | wc -l)" 1
	: >"$HS_FAULT_FILE"
	sleep 0.3
	hs_run A || bail_out "holdscand did not start again"
	check "$name: after the restart it is in the quarantine" \
	    wait_until 40 count_test -ge 1 qentries "$id"
	if [ "$2" = bounce ]; then
		check "$name: and the sender gets the bounce" \
		    wait_until 60 count_test -ge 1 bounces "$id"
	fi
	check "$name: the set-aside list forgets it" wait_until 30 forgotten
	sleep 2
	check_eq "$name: exactly once: one index entry, one file" \
	    "$(qentries "$id") $(qfiles "$id")" "1 1"
	check_eq "$name: not in hold nor claimed, never delivered" \
	    "$(left "$id") $(delivered "crash-$name")" "0 0"
	if [ "$2" = bounce ]; then
		check_eq "$name: one bounce" "$(bounces "$id")" 1
	else
		check_eq "$name: no bounce" "$(bounces "$id")" 0
	fi
	hs_stop A
}

scenario claimed quarantine 'rename KILLAFTER 1 /holdscan/claimed/'
scenario copied quarantine 'rename KILLAFTER 1 /hs/quarantine/'
scenario journaled quarantine 'unlink KILL 1 /holdscan/claimed/'
scenario bounced bounce 'unlink KILLAFTER 1 /holdscan/claimed/'
check 'the restarts recovered what each kill left' sh -c \
    "grep -q 'recovery: returned to hold' '$A_HS_LOG' &&
    grep -q 'recovery: finished interrupted quarantine' '$A_HS_LOG'"
check 'the bounce owed across the kill was sent from the quarantine copy' \
    grep -Eq 'bounce: notice to <crash@example.org> queued \(quarantine_id=[0-9T]+-' \
    "$A_HS_LOG"
done_testing
