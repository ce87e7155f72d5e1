#!/bin/sh
# 0320-races.t - locks, postsuper and a crashing worker, while holdscand runs.
#
# 1. A held file locked by another process (flock, the lock style Debian's
#    Postfix uses) is not touched while the lock is held, and is delivered
#    soon after it is released.
# 2. postsuper -h, -H, -d and -r on held messages while holdscand works on
#    the same queue: no error, and every message is delivered exactly once
#    or was deleted by postsuper -d; nothing is duplicated or lost.
# 3. A worker that crashes on a marker message (the test-only crashtest
#    plugin): the marker is set aside after 3 tries (still in hold, listed
#    by holdscan status); every other message is delivered.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 17

sb_start A || bail_out "sandbox did not start"
hs_conf A >/dev/null <<EOF
scanners = crashtest
plugin crashtest {
    mode = crash
    marker = CRASH-ME-PLEASE
}
EOF

# --- 1. a locked held file ---------------------------------------------------
smtp-source -m 1 -f lock@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
check 'a message is held' wait_hold A 1 90
held=$(hold_files A)
id=${held##*/}
ino=$(stat -c %i "$held")
# The locker holds the lock itself, so killing it releases the lock.
"$HS_PYTHON" -c 'import fcntl, sys, time
f = open(sys.argv[1])
fcntl.flock(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(600)' "$held" >"$HS_TMP/locker.out" 2>&1 </dev/null &
locker=$!
wait_until 60 grep -q locked "$HS_TMP/locker.out" ||
    bail_out "could not lock $held"

hs_run A || bail_out "holdscand did not start"
sleep 3
check_eq "the locked file $id is still in hold, untouched" \
    "$(stat -c %i "$held" 2>/dev/null)" "$ino"
check_eq 'holdscand did not claim it' "$(hs_count_log A "$id: claimed")" 0
kill "$locker"
wait "$locker" 2>/dev/null
check 'after the lock goes it is delivered' wait_sink A 1 90
check_eq 'and claimed exactly once' "$(hs_count_log A "$id: claimed")" 1

# --- 2. postsuper while holdscand runs ---------------------------------------
# Scan slowly (the crashtest plugin sleeps on every message) and claim
# only a few at a time, so postsuper and holdscand work on the same hold
# queue at the same time.
hs_stop A
hs_conf A >/dev/null <<EOF
max_in_flight = 6
batch_max_messages = 3
scanners = crashtest
plugin crashtest {
    mode = sleep
    sleep_ms = 30ms
    marker = Message-Id
}
EOF
log_start=$(wc -l <"$A_MAILLOG")
smtp-source -s 4 -m 300 -f race@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
check 'the race messages are held' wait_hold A 300 60
hold_files A >"$HS_TMP/race.files"
# postsuper works from the last file hold lists, holdscand claims from
# the first: they meet on the way, however loaded the machine (from the
# same end, a loaded machine once let holdscand claim all 300 first).
tac "$HS_TMP/race.files" >"$HS_TMP/race.rev"
hs_run A || bail_out "holdscand did not start"
: >"$HS_TMP/postsuper.err"
i=0
while read -r f; do
	q=${f##*/}
	case $((i % 4)) in
	0) postsuper -c "$A_CONFIG" -d "$q" hold ;;
	1) postsuper -c "$A_CONFIG" -H "$q" ;;
	2) postsuper -c "$A_CONFIG" -r "$q" hold ;;
	3) postsuper -c "$A_CONFIG" -h "$q" ;;
	esac 2>>"$HS_TMP/postsuper.err"
	i=$((i + 1))
done <"$HS_TMP/race.rev"
# -H and -r need a push: qmgr scans deferred, pickup scans maildrop.
postqueue -c "$A_CONFIG" -f
postkick -c "$A_CONFIG" public pickup W

# Accounting by Message-Id: what cleanup accepted since the race began
# (queue id, Message-Id), and the queue ids postsuper removed.
accepted() {
	tail -n "+$((log_start + 1))" "$A_MAILLOG" |
	    sed -n 's/.*\/cleanup\[[0-9]*\]: \([0-9A-Za-z]*\): message-id=<\(.*\)>$/\1 \2/p'
}
removed_ids() {
	tail -n "+$((log_start + 1))" "$A_MAILLOG" |
	    sed -n 's/.*\/postsuper\[[0-9]*\]: \([0-9A-Za-z]*\): removed$/\1/p' |
	    sort -u
}
settled() {
	[ "$(find "$A_QUEUE/hold" "$A_QUEUE/holdscan" "$A_QUEUE/incoming" \
	    "$A_QUEUE/active" "$A_QUEUE/deferred" "$A_QUEUE/maildrop" \
	    -type f ! -name state.id | wc -l)" -eq 0 ]
}
check 'all queues drain' wait_until 120 settled
sleep 2
# A message requeued by -r gets a new queue id (and keeps its Message-Id).
removed_ids >"$HS_TMP/removed.qids"
accepted | awk 'NR==FNR { gone[$1] = 1; next } ($1 in gone) { print $2 }' \
    "$HS_TMP/removed.qids" - | sort -u >"$HS_TMP/removed.mids"
accepted | awk '{ print $2 }' | sort -u >"$HS_TMP/all.mids"
comm -23 "$HS_TMP/all.mids" "$HS_TMP/removed.mids" >"$HS_TMP/expected.mids"
for f in $(sink_messages A); do
	grep -q '^X-Mail-Args: <race@example.org>' "$f" &&
	    sed -n 's/^Message-Id: <\(.*\)>$/\1/p' "$f"
done | sort >"$HS_TMP/arrived.mids"
note "$(wc -l <"$HS_TMP/removed.mids") deleted by postsuper -d," \
    "$(wc -l <"$HS_TMP/expected.mids") to deliver"
# postsuper reports what it did on stderr ("ID: removed", "Deleted: 1
# message"); anything else would be an error.
check_eq 'postsuper reported no errors' \
    "$(grep -Eiv '^postsuper: ((Deleted|Placed on hold|Released from hold|Requeued): [0-9]+ messages?|[0-9A-Za-z]+: (removed|placed on hold|released from hold|requeued))$' \
    "$HS_TMP/postsuper.err")" ""
check 'postsuper deleted, released and requeued some' \
    grep -q ': requeued$' "$HS_TMP/postsuper.err"
check_eq 'no race message arrived twice' \
    "$(uniq -d "$HS_TMP/arrived.mids" | wc -l)" 0
check_eq 'every message not deleted arrived' \
    "$(comm -3 "$HS_TMP/expected.mids" "$HS_TMP/arrived.mids" | wc -l)" 0
check_eq 'holdscand logged no warnings' "$(hs_count_log A 'warning|fatal')" 0

# --- 3. a worker that crashes on a marker -------------------------------------
hs_stop A
hs_conf A >/dev/null <<EOF
scanners = crashtest
plugin crashtest {
    mode = crash
    marker = CRASH-ME-PLEASE
}
EOF
hs_run A || bail_out "holdscand did not start"
before=$(sink_count A)
printf 'Subject: marker\n\nCRASH-ME-PLEASE\n' >"$HS_TMP/marker.eml"
smtp-source -m 1 -F "$HS_TMP/marker.eml" -f marker@example.org \
    -t sink@example.net "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
smtp-source -s 2 -m 40 -f after@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
check 'the 40 other messages are delivered' wait_sink A $((before + 40)) 60
check 'the marker is set aside after 3 attempts' \
    hs_wait_log A 20 'scan failed: 3 scan attempts failed.*action=hold'
marker=$(grep 'scan failed: 3 scan attempts' "$A_HS_LOG" |
    sed 's/.*\]: \([0-9A-Za-z]*\): .*/\1/' | tail -1)
check_eq 'it is still in hold and nothing else is' \
    "$(hold_files A | sed 's|.*/||')" "$marker"
"$HOLDSCAN" -c "$A_HS_CONF" status >"$HS_TMP/status.out" 2>&1
check "holdscan status lists $marker as scan failed" \
    grep -Eq "^  $marker .*scan-failed: 3 scan attempts failed" "$HS_TMP/status.out"
# No loop: a restart leaves it alone.
hs_stop A
hs_run A || bail_out "holdscand did not restart"
sleep 2
check_eq 'after a restart it is not scanned again' \
    "$(hs_count_log A "$marker: claimed")" 1

hs_stop A
done_testing
