#!/bin/sh
# 1380-worker-smuggle.t - a worker taken over cannot smuggle SMTP through
# the content it returns (issue 13, item 2).
#
# The attack: a compromised worker returns the message's content with
# "\r\n.\r\nMAIL FROM:<w@evil.example>\r\nRCPT TO:<injected@victim.example>
# \r\nDATA\r\n..." appended to its last line. The master checked only the
# record types, Postfix's smtp(8) sends a record as it is, and the next
# hop received a second message, for a recipient nobody gave. Here the
# test-only plugin smuggle takes each worker over (as code a message made
# run there would) and returns exactly that for a message with its marker,
# clean and to be delivered; on a real Postfix whose next hop is the sink:
#   - holdscand refuses the result ("QUEUEID: scanner result refused:
#     content record N holds an LF byte; scan failed"), each attempt;
#   - after scan_retry_limit attempts the message goes the scan-failed
#     way, here scan_failed = hold: it stays in hold, its content as the
#     sender sent it;
#   - the sink receives nothing for injected@victim.example, no smuggled
#     message and not the marked message;
#   - a message without the marker, which the taken-over worker returns
#     unchanged, is delivered as usual (the master refuses only what is
#     wrong);
#   - each worker that returned such a result (its pid from the plugin's
#     own log line) is killed at once ("pool: killing worker PID: its
#     result was refused; it may have been taken over"), not given
#     another message: by the time the message is held, none is alive;
#   - the same for the bare-CR variant ("\r.\r") and for a recipient
#     record in the content (mode cr, mode type), and for SMTP in the
#     header lines a worker gives for the master to insert (mode
#     headers: CONTENT_HEADERS);
#   - a worker that names a copy address the configuration does not
#     list (mode copy: injected@victim.example beside the configured
#     archive@sink.test, twice) gets only the configured one added, once,
#     and holdscand warns of the other.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

[ -f "$HS_BUILD/plugins/smuggle.so" ] ||
    bail_out "no $HS_BUILD/plugins/smuggle.so"

plan 38

MARKER=holdscan-1380-smuggle-this-one

sb_start A || bail_out "sandbox did not start"

# conf MODE - holdscand with the smuggling plugin in MODE.
conf() {
	hs_conf A >/dev/null <<EOF
scanners = smuggle
plugin smuggle {
    mode = $1
    marker = $MARKER
}
scan_retry_limit = 2
policy {
    clean = deliver
    scan_failed = hold
}
EOF
}

qid() {		# qid TOKEN - the queue id cleanup gave the message
	sed -n "s/.* \([0-9A-Za-z]\{6,\}\): message-id=<$1@holdscan.test>.*/\1/p" \
	    "$A_MAILLOG" | head -n 1
}

sink_has() {	# sink_has ERE - a delivered message matches ERE
	_sf=$(sink_messages A)
	[ -n "$_sf" ] || return 1
	# shellcheck disable=SC2086
	grep -Eqa "$1" $_sf
}

in_hold() {	# in_hold QID - the message is in hold
	hold_files A | grep -q "/$1\$"
}

# attack MODE WHAT REFUSAL - one marked and one plain message through a
# worker the plugin took over in MODE; 8 checks.
attack() {
	conf "$1"
	hs_run A || bail_out "holdscand did not start"
	sb_send_letter A "plain-$1"
	sb_send_letter A "marked-$1" "$MARKER"
	wait_until 60 test -n "$(qid "marked-$1")" ||
	    bail_out "no queue id for marked-$1"
	_q=$(qid "marked-$1")
	check "$2: holdscand refuses the result for $_q and says why" \
	    hs_wait_log A 60 \
	    "]: warning: $_q: scanner result refused: $3; scan failed\$" ||
	    diag "$(grep -a "$_q" "$A_HS_LOG")"
	check "$2: after scan_retry_limit attempts $_q is held, scan failed" \
	    hs_wait_log A 60 "]: $_q: action=hold verdict=scan-failed"
	# The workers that returned it, by their own log lines.
	_pids=$(sed -n "s/.*\[\([0-9]*\)\]: warning: smuggle: returning smuggled content for $_q\$/\1/p" \
	    "$A_HS_LOG" | sort -u | tr '\n' ' ')
	check "$2: each worker that returned it (${_pids:-none}) is killed" \
	    wait_until 60 all_gone "$_pids"
	check "$2: holdscand says why it killed each" \
	    all_logged "$_pids"
	check "$2: it is in hold" in_hold "$_q"
	check_eq "$2: its content is the sender's" \
	    "$(postcat -c "$A_CONFIG" -bq "$_q" 2>/dev/null | grep -ac "evil\\.example\|^$MARKER\$")" 1
	check "$2: the plain message is delivered" \
	    wait_until 60 sink_has "^X-Test-Token: plain-$1\$"
	# Whatever Postfix would have sent has had time to arrive.
	sleep 2
	check "$2: the sink has no injected recipient, message or marker" \
	    not_in_sink ||
	    diag "$(sink_messages A | xargs -r grep -Eah "$SMUGGLED")"
	hs_stop A
}

# all_gone PIDS - at least one pid, and none of them is running
all_gone() {
	[ -n "$1" ] || return 1
	for _p in $1; do
		kill -0 "$_p" 2>/dev/null && return 1
	done
	return 0
}

# all_logged PIDS - holdscand logged the kill of each
all_logged() {
	[ -n "$1" ] || return 1
	for _p in $1; do
		grep -q "]: warning: pool: killing worker $_p: its result was refused; it may have been taken over\$" \
		    "$A_HS_LOG" || return 1
	done
	return 0
}

SMUGGLED="injected@victim\\.example|HOLDSCAN-SMUGGLED|w@evil\\.example|$MARKER"
not_in_sink() {
	! sink_has "$SMUGGLED"
}

attack smuggle 'SMTP smuggled after CRLF.CRLF' \
    'content record [0-9]+ holds an LF byte'
check 'the plugin did take the workers over' \
    wait_until 60 grep -q 'smuggle: taking this worker over (mode smuggle)' "$A_HS_LOG"
attack cr 'bare CR.CR' \
    'content record [0-9]+ holds a CR byte the original has not there'
attack type 'a recipient record in the content' \
    'bad content from worker: .* is not one of the expected types "NL"\.'
attack headers 'SMTP in header lines for the master to insert' \
    'header line 2 is not a header field'

# mode copy: the master adds only the copies its configuration lists
hs_conf A >/dev/null <<EOF
scanners = smuggle
plugin smuggle {
    mode = copy
    marker = $MARKER
}
policy {
    clean = deliver
    copy_clean = archive@sink.test
}
EOF
hs_run A || bail_out "holdscand did not start"
sb_send_letter A "marked-copy" "$MARKER"
check 'copy: the message arrives' \
    wait_until 60 sink_has "^X-Test-Token: marked-copy\$"
# rcpt_args FILE - the sink file's envelope recipients, sorted, one line
rcpt_args() {
	grep -a '^X-Rcpt-Args:' "$1" | sed 's/^X-Rcpt-Args: *//; s/ ORCPT=[^ ]*//' |
	    sort | tr '\n' ' '
}
_cf=$(sink_file A marked-copy)
check_eq 'copy: two recipients, the letter'"'"'s and the configured copy' \
    "$(grep -ac '^X-Rcpt-Args:' "$_cf")" 2
check_eq 'copy: archive@sink.test among them, once' \
    "$(rcpt_args "$_cf" | grep -o '<archive@sink.test> NOTIFY=NEVER' | wc -l)" 1
check 'copy: nothing for the forged address' \
    sh -c "! grep -aq 'injected@victim' '$_cf'"
check 'copy: holdscand says it refused it' hs_wait_log A 20 \
    ': copy to <injected@victim.example> refused: in no copy_clean list$'
hs_stop A

