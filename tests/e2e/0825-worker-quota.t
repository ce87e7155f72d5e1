#!/bin/sh
# 0825-worker-quota.t - a worker that retires after its scan quota costs
# no message a failed scan attempt.
#
# With worker_max_scans = 1 every worker exits after its first message,
# and with scan_retry_limit = 1 a single failed attempt would make a
# message "scan failed" (set aside in hold under scan_failed = hold). A
# worker's planned exit must never count: 300 messages, each scanned by
# a worker of its own, are all delivered exactly once, byte for byte,
# and none is set aside or marked failed.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 7

N=300
sb_start A || bail_out "sandbox did not start"
hs_start A <<EOF || bail_out "holdscand did not start"
worker_max_scans = 1
scan_retry_limit = 1
batch_max_wait = 20ms
verbose = yes
policy {
    scan_failed = hold
}
EOF

"$HS_PYTHON" "$HS_LIB/sendmail.py" --count $N --sessions 4 \
    --token-prefix q --manifest "$HS_TMP/sent.json" \
    "127.0.0.1:$A_SMTP_PORT" >"$HS_TMP/send.out" 2>&1 ||
    bail_out "sendmail.py failed: $(tail -3 "$HS_TMP/send.out")"

check "all $N messages arrive at the sink" wait_sink A $N 120
sleep 1
# shellcheck disable=SC2046
check 'each arrived once, byte for byte, envelope intact' \
    "$HS_PYTHON" "$HS_LIB/sinkcheck.py" --added-header X-Holdscan \
    "$HS_TMP/sent.json" $(sink_messages A)
check_eq 'no scan attempt failed' \
    "$(hs_count_log A 'scan attempt [0-9]+ failed')" 0
check_eq 'no message is "scan failed"' \
    "$(hs_count_log A 'scan failed|verdict=scan-failed')" 0
check_eq 'nothing set aside: hold, claimed and staging are empty' \
    "$(find "$A_QUEUE/hold" "$A_QUEUE/holdscan" -type f ! -name state.id | wc -l)" 0
# The quota was in force: a worker for every message.
started=$(hs_count_log A 'pool: worker [0-9]+ started')
check "workers retired after one scan ($started started for $N messages)" \
    test "$started" -ge $N
check 'holdscand is still running' hs_alive A
done_testing
