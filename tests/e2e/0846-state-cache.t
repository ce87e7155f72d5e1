#!/bin/sh
# 0846-state-cache.t - state_cache_size: Berkeley DB's cache for the state
# environment (issue 15: the message log's day index outgrew the fixed
# 8 MB cache, and the disk written per message doubled).
#
# holdscand makes the environment with the size asked for; a start with
# another size makes it again (the message log keeps its records, mail
# flows after it) and says so in one line; a reload that changes it is
# refused, naming it. (statedb_remake()'s refusal while another process
# has the environment open: tests/unit/test_statedb.c.)
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 9

sb_start A || bail_out "sandbox did not start"
hs_conf A >/dev/null <<EOF
state_cache_size = 8M
EOF
state="$A_DIR/hs/state"
# The region files' size in MB (all their blocks are allocated).
regions_mb() {
	du -cm "$state"/__db.0* | awk 'END { print $1 }'
}
records() {
	"$HOLDSCAN" -c "$A_HS_CONF" log --json | "$HS_PYTHON" -c \
	    'import json, sys; print(len(json.load(sys.stdin)))'
}

hs_run A || bail_out "holdscand did not start"
smtp-source -m 3 -f a@example.org -t b@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
wait_sink A 3 || bail_out "mail did not flow"
mb=$(regions_mb)
check "made with 8M: its regions take $mb MB (< 20)" test "$mb" -lt 20
check_eq 'nothing made again at the first start' \
    "$(hs_count_log A 'made again for state_cache_size')" 0
check_eq 'the message log has the 3 messages' "$(records)" 3
hs_stop A

sed -i 's/^state_cache_size = 8M$/state_cache_size = 32M/' "$A_HS_CONF"
hs_run A || bail_out "holdscand did not start again"
check 'a start with 32M makes it again, and says so in one line' \
    hs_wait_log A 10 "state environment $state made again for state_cache_size = 32M \\(its cache was 10 MB\\)"
mb=$(regions_mb)
check "its regions now take $mb MB (> 40)" test "$mb" -gt 40
check_eq 'the message log kept its 3 records' "$(records)" 3
smtp-source -m 2 -f a@example.org -t b@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
check 'mail flows after it' wait_sink A 5

sed -i 's/^state_cache_size = 32M$/state_cache_size = 16M/' "$A_HS_CONF"
rc=0
"$HOLDSCAND" -c "$A_HS_CONF" reload >"$HS_TMP/reload.out" 2>&1 || rc=$?
check_eq 'a reload that changes it: exit 78' "$rc" 78
check 'naming it' grep -q \
    "state_cache_size changed, which takes a restart of holdscand" \
    "$HS_TMP/reload.out"
hs_stop A
done_testing
