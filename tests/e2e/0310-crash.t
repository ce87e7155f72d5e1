#!/bin/sh
# 0310-crash.t - kill -9 holdscand at random moments while mail flows.
#
# A sender keeps smtp-source runs going while holdscand is killed with
# SIGKILL KILLS times (default 30; make torture uses 500) at random
# moments and restarted each time. In the end every message Postfix
# accepted (its cleanup logged the Message-Id) arrives at the sink exactly
# once; hold, claimed/ and staging/ are empty; Postfix's corrupt queue is
# empty; every queue file still anywhere in the queue reads cleanly with
# postcat; and no holdscan process is left over.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

KILLS=${KILLS:-30}
plan 9

sb_start A || bail_out "sandbox did not start"
hs_start A <<EOF || bail_out "holdscand did not start"
batch_max_wait = 20ms
EOF

# The sender: smtp-source runs of 100 messages until told to stop.
: >"$HS_TMP/sender.log"
(
	while [ ! -e "$HS_TMP/stop-sending" ]; do
		smtp-source -s 4 -m 100 -l 800 -f crash@example.org \
		    -t sink@example.net "127.0.0.1:$A_SMTP_PORT" \
		    >>"$HS_TMP/sender.log" 2>&1 || sleep 0.2
	done
) &
sender=$!

# Random pauses from 0 to 700 ms between a restart and the next kill.
rand_ms() {
	od -An -N2 -tu2 /dev/urandom | awk '{print $1 % 700}'
}
killed=0
failed_restarts=0
while [ "$killed" -lt "$KILLS" ]; do
	ms=$(rand_ms)
	sleep "$(printf '0.%03d' "$ms")"
	hs_kill9 A
	killed=$((killed + 1))
	hs_run A || failed_restarts=$((failed_restarts + 1))
done
touch "$HS_TMP/stop-sending"
wait "$sender"

check_eq "$KILLS kills, every restart came up" "$failed_restarts" 0

# Everything Postfix accepted, by Message-Id (cleanup logs each once).
accepted() {
	sed -n 's/.*\/cleanup\[[0-9]*\]: [0-9A-Za-z]*: message-id=<\(.*@.*\)>$/\1/p' \
	    "$A_MAILLOG" | sort -u
}
# A restart runs recovery and rescans hold, so all of it must drain.
drained() {
	[ "$(find "$A_QUEUE/hold" "$A_QUEUE/holdscan" "$A_QUEUE/incoming" \
	    "$A_QUEUE/active" -type f ! -name state.id | wc -l)" -eq 0 ] &&
	    [ "$(sink_count A)" -ge "$(accepted | wc -l)" ]
}
check 'the queue drains after the last restart' wait_until 180 drained
sleep 2
n=$(accepted | wc -l)
note "Postfix accepted $n messages; holdscand was killed $killed times"

for f in $(sink_messages A); do
	sed -n 's/^Message-Id: <\(.*\)>$/\1/p' "$f"
done | sort >"$HS_TMP/arrived"
accepted >"$HS_TMP/accepted"
check_eq 'no message arrived twice' "$(uniq -d "$HS_TMP/arrived" | wc -l)" 0
check_eq 'every accepted message arrived' \
    "$(comm -23 "$HS_TMP/accepted" "$HS_TMP/arrived" | wc -l)" 0
check_eq 'nothing arrived that was not sent' \
    "$(uniq "$HS_TMP/arrived" | comm -13 "$HS_TMP/accepted" - | wc -l)" 0
check_eq 'hold, claimed and staging are empty' \
    "$(find "$A_QUEUE/hold" "$A_QUEUE/holdscan" -type f ! -name state.id | wc -l)" 0
check_eq "Postfix's corrupt queue is empty" \
    "$(find "$A_QUEUE/corrupt" -type f 2>/dev/null | wc -l)" 0

# Queue files anywhere in Postfix's message queues (deferred, say).
find "$A_QUEUE/incoming" "$A_QUEUE/active" "$A_QUEUE/deferred" \
    "$A_QUEUE/hold" "$A_QUEUE/maildrop" -type f >"$HS_TMP/left" 2>/dev/null
bad=0
while read -r f; do
	postcat -c "$A_CONFIG" "$f" >/dev/null 2>&1 || bad=$((bad + 1))
done <"$HS_TMP/left"
note "$(wc -l <"$HS_TMP/left") queue files left in Postfix's queues"
check_eq 'every queue file left reads cleanly with postcat' "$bad" 0

procs=$(hs_procs A)
hs_stop A
left=0
for p in $procs; do
	kill -0 "$p" 2>/dev/null && left=$((left + 1))
done
check_eq 'no holdscan process is left' "$left" 0
done_testing
