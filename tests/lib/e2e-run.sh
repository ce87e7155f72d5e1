#!/bin/sh
# e2e-run.sh - prove's --exec for one end-to-end script: runs it as
# before (its TAP to prove, its diagnostics to the terminal) and keeps a
# copy of both in $HS_E2E_LOGS, so that e2e-failures.sh can show a failed
# script's diagnostics again at the end of the run, where a CI log's tail
# has them. It must never change what the script sees or its exit status.
t=$1
log="$HS_E2E_LOGS/$(basename "$t" .t)"
: >"$log.out"
: >"$log.err"
rm -f "$log.fifo"
mkfifo "$log.fifo" || exit 1
tee -a "$log.err" <"$log.fifo" >&2 &
tee_pid=$!
{ sh "$t" 2>"$log.fifo"; echo "$?" >"$log.rc"; } | tee -a "$log.out"
wait "$tee_pid"
rm -f "$log.fifo"
exit "$(cat "$log.rc")"
