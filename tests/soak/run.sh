#!/bin/sh
# run.sh - make soak: mail, kills, reloads and I/O faults for SOAK_SECONDS.
#
# A private Postfix sandbox (tests/lib/sandbox.sh) holds all mail;
# holdscand scans it with clamav (the test signatures of
# tests/tools/clamav-testdata.py), attachments and headers. For
# SOAK_SECONDS (default 600) a sender pushes, every 2 seconds,
# SOAK_BATCH (default 20) unique token-tagged messages with sendmail.py
# (every 30th round with --variety) and one message made from a template:
# infected (EICAR plain, EICAR base64, clam.zip, a nested zip, both),
# spam by a header rule (tagged), a blocked .exe attachment (cleaned), a
# 50 KB clean one. At random intervals (3 to 15 s) one event: kill -9 of
# holdscand and a restart, SIGHUP, kill -9 of a scanner worker, or a fault
# period (holdscand restarted under tests/fault/libfaultshim.so with one
# rule failing a system call with some probability for 8 to 20 s, then
# restarted without it). The first four events are one of each.
#
# Then the sender stops, the queue drains (bounded), and a table says what
# was sent (accepted by Postfix), delivered to the sink, quarantined,
# duplicated and lost, per kind of mail; the events; holdscand's memory
# (master and scanners, VmRSS and Pss summed) after the first minute of
# load (half the time in a short run) and when the load ends. The table is also written to
# $SOAK_RESULTS (default: build/soak-results.txt), holdscand's log, the
# maillog and the fault log to build/soak-logs/.
#
# Exit status 1 if a message was lost or came out more than once, an
# infected message was delivered, a clean one arrived changed (beyond
# X-Holdscan), holdscand is not running at the end, or hold or Postfix's
# queue is not empty.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
# shellcheck source=tests/lib/tap.sh disable=SC1091
. "$HS_LIB/tap.sh"
# shellcheck source=tests/lib/holdscan.sh disable=SC1091
. "$HS_LIB/holdscan.sh"

SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_BATCH=${SOAK_BATCH:-20}
BUILD_TOP=$(dirname "$HS_BUILD")
RESULTS=${SOAK_RESULTS:-$BUILD_TOP/soak-results.txt}
LOGS=$BUILD_TOP/soak-logs
TESTDATA="$HS_LIB/../tools/clamav-testdata.py"
SHIM="$HS_BUILD/tests/fault/libfaultshim.so"
DRAIN_SECONDS=300

die() {
	echo "soak: $*" >&2
	exit 1
}

say() {
	echo "soak: +$(($(date +%s) - start))s $*"
}

case $SOAK_SECONDS$SOAK_BATCH in
''|*[!0-9]*) die "SOAK_SECONDS and SOAK_BATCH must be numbers" ;;
esac
[ -r /usr/share/clamav-testfiles/clam.zip ] ||
    die "clamav-testfiles is not installed (make deps)"
for f in "$SHIM" "$HS_BUILD/plugins/clamav.so" \
    "$HS_BUILD/plugins/attachments.so" "$HS_BUILD/plugins/headers.so"; do
	[ -f "$f" ] || die "$f is missing (make)"
done

# rand LOW HIGH - a random number from LOW to HIGH.
rand() {
	od -An -N2 -tu2 /dev/urandom | awk -v a="$1" -v b="$2" \
	    '{ print a + $1 % (b - a + 1) }'
}

# --- set-up ---------------------------------------------------------------
SIGS=$HS_TMP/sigs
MAIL=$HS_TMP/mail
SENT=$HS_TMP/sent
mkdir -p "$SENT" "$HS_TMP/rules" "$LOGS" || die "mkdir failed"
if ! "$HS_PYTHON" "$TESTDATA" sigs "$SIGS" ||
    ! "$HS_PYTHON" "$TESTDATA" mail "$MAIL"; then
	die "clamav-testdata.py failed"
fi
cat >"$MAIL/blocked.eml" <<'EOF'
From: sender@example.org
To: rcpt@example.net
Subject: blocked
Message-ID: <blocked@example.org>
X-Test-Token: blocked
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="soak-boundary"

--soak-boundary
Content-Type: text/plain

See the attachment.
--soak-boundary
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="invoice.pdf.exe"
Content-Transfer-Encoding: base64

aGFybWxlc3MgdGV4dAo=
--soak-boundary--
EOF
echo '/^Subject: soak spam[0-9]+-/	spam	"soak spam"' \
    >"$HS_TMP/rules/header_rules"

HS_FAULT_FILE=$HS_TMP/faults
HS_FAULT_LOG=$HS_TMP/faults.log
export HS_FAULT_FILE HS_FAULT_LOG
: >"$HS_FAULT_FILE"
: >"$HS_FAULT_LOG"
# holdscand's processes run as postfix and nobody: they append here.
chmod 0666 "$HS_FAULT_LOG"

sb_start A || die "the sandbox did not start"
hs_conf A >/dev/null <<EOF
scanners = "clamav, attachments, headers"
plugin clamav {
    database_directory = $SIGS
}
plugin headers {
    rules_file = $HS_TMP/rules/header_rules
}
policy {
    infected = quarantine
    blocked = deliver-cleaned
    spam = tag
    scan_failed = quarantine
}
EOF
hs_run A || die "holdscand did not start"

# --- the sender -----------------------------------------------------------
# Tokens name the kind of mail: cN-K (sendmail.py), vN-K (sendmail.py
# --variety), and KINDN-TEMPLATE from templates (KIND:TEMPLATE below).
# Accepted tokens go to $SENT: sendmail.py's manifests (messages with a
# queue id) and others.txt ("TOKEN.eml QUEUEID" per accepted message).
TEMPLATES="inf:eicar-plain inf:eicar-b64 inf:clam-zip spam:clean \
inf:nested-zip blk:blocked inf:both big:clean-50k"

# make_msg TEMPLATE TOKEN FILE - TEMPLATE with its own token, Message-ID
# and Subject.
make_msg() {
	sed -e "s/^X-Test-Token: .*/X-Test-Token: $2/" \
	    -e "s/^Message-ID: .*/Message-ID: <$2@soak.test>/" \
	    -e "s/^Subject: .*/Subject: soak $2/" "$1" >"$3"
}

# sender - send until $HS_TMP/stop-sending exists (or, should this
# script be gone, until $hard_stop).
sender() {
	_round=0
	_next=$(date +%s)
	while [ ! -e "$HS_TMP/stop-sending" ] &&
	    [ "$(date +%s)" -lt "$hard_stop" ]; do
		_round=$((_round + 1))
		_kind=c
		_variety=
		if [ $((_round % 30)) -eq 0 ]; then
			_kind=v
			_variety=--variety
		fi
		# shellcheck disable=SC2086
		"$HS_PYTHON" "$HS_LIB/sendmail.py" --count "$SOAK_BATCH" \
		    $_variety --seed "$_round" --token-prefix "$_kind$_round" \
		    --manifest "$SENT/$_kind$_round.json" \
		    "127.0.0.1:$A_SMTP_PORT" >>"$HS_TMP/sender.log" 2>&1
		_tpl=$(echo "$TEMPLATES" | cut -d ' ' -f $((_round % 8 + 1)))
		_token=${_tpl%%:*}$_round-${_tpl#*:}
		_tpl=${_tpl#*:}
		make_msg "$MAIL/$_tpl.eml" "$_token" "$HS_TMP/$_token.eml" &&
		    "$HS_PYTHON" "$TESTDATA" send "127.0.0.1:$A_SMTP_PORT" \
		    sender@example.org rcpt@example.net \
		    "$HS_TMP/$_token.eml" >>"$SENT/others.txt" \
		    2>>"$HS_TMP/sender.log"
		rm -f "$HS_TMP/$_token.eml"
		# One round every 2 s; a late round starts the next at once.
		_next=$((_next + 2))
		_now=$(date +%s)
		if [ "$_now" -lt "$_next" ]; then
			sleep $((_next - _now))
		else
			_next=$_now
		fi
	done
}

start=$(date +%s)
deadline=$((start + SOAK_SECONDS))
hard_stop=$((deadline + 60))
sender &
sender_pid=$!
# Stop the sender too when this script ends early (tap.sh's trap stops
# holdscand and the sandbox).
soak_exit() {
	_soak_rc=$?
	[ -z "$sender_pid" ] || kill "$sender_pid" 2>/dev/null
	(exit "$_soak_rc")
	_tap_cleanup
}
trap soak_exit EXIT
say "sandbox $A_DIR, Postfix on 127.0.0.1:$A_SMTP_PORT; sending for" \
    "$SOAK_SECONDS s"

# --- events ---------------------------------------------------------------
kills=0 reloads=0 reloads_seen=0 worker_kills=0 fault_periods=0
failed_restarts=0 self_exits=0 faults=0 fault_rules=
FAULT_RULES='write ENOSPC p0.3 /holdscan/staging/
syncfs EIO p0.3
fsync EIO p0.2
rename EIO p0.2 /incoming/
unlink EIO p0.3 /holdscan/claimed/
open EMFILE p0.2 /hold/
write EIO p0.05 /log.00
write ENOSPC p0.5 /quarantine/'

# restart - start holdscand (with HS_PRELOAD if set); up to 3 tries.
restart() {
	_try=1
	until hs_run A; do
		failed_restarts=$((failed_restarts + 1))
		hs_stop A
		[ "$_try" -ge 3 ] && return 1
		_try=$((_try + 1))
		sleep 1
	done
}

# log_count_above PATTERN N - holdscand's log has more than N such lines.
log_count_above() {
	[ "$(hs_count_log A "$1")" -gt "$2" ]
}

ev_kill() {
	_old=$A_HS_PID
	hs_kill9 A
	kills=$((kills + 1))
	restart
	say "kill -9 holdscand $_old; restarted as $A_HS_PID"
}

ev_reload() {
	_gens=$(hs_count_log A 'scanners ready: generation=')
	kill -HUP "$A_HS_PID"
	reloads=$((reloads + 1))
	if wait_until 20 log_count_above 'scanners ready: generation=' "$_gens"
	then
		reloads_seen=$((reloads_seen + 1))
		say "SIGHUP holdscand $A_HS_PID: new scanner generation"
	else
		say "SIGHUP holdscand $A_HS_PID: no new generation in 20 s"
	fi
}

ev_worker_kill() {
	_w=$(hs_workers A | shuf -n 1)
	if [ -z "$_w" ]; then
		say "no scanner worker to kill"
		return
	fi
	kill -KILL "$_w"
	worker_kills=$((worker_kills + 1))
	say "kill -9 scanner worker $_w"
}

# ev_fault SECONDS - a fault period, never past the deadline.
ev_fault() {
	_rule=$(echo "$FAULT_RULES" | shuf -n 1)
	_len=$(rand 8 20)
	_left=$((events_end - $(date +%s)))
	[ "$_len" -gt "$_left" ] && _len=$_left
	[ "$_len" -lt 2 ] && _len=2
	_before=$(wc -l <"$HS_FAULT_LOG")
	hs_stop A
	# hs_run reads HS_PRELOAD.
	HS_PRELOAD=$SHIM
	restart
	# shellcheck disable=SC2034
	HS_PRELOAD=
	echo "$_rule" >"$HS_FAULT_FILE"
	fault_periods=$((fault_periods + 1))
	say "fault period, ${_len}s: $_rule (holdscand $A_HS_PID)"
	sleep "$_len"
	: >"$HS_FAULT_FILE"
	sleep 1
	_n=$(($(wc -l <"$HS_FAULT_LOG") - _before))
	faults=$((faults + _n))
	fault_rules="$fault_rules
    $_n x $_rule"
	hs_stop A
	restart
	say "fault period over: $_n calls failed; holdscand restarted as" \
	    "$A_HS_PID"
}

# hs_uptime - seconds since holdscand started (0: not running).
hs_uptime() {
	_up=$(ps -o etimes= -p "$A_HS_PID" 2>/dev/null | tr -d ' ')
	echo "${_up:-0}"
}

# mem_sample - "PROCS RSS PSS PID AGE" of the running holdscand.
mem_sample() {
	echo "$(hs_memory A) $A_HS_PID $(hs_uptime)"
}

# Memory: once the load has run a minute (half the time in a short run),
# of a holdscand that has run SETTLE seconds (no events while waiting for
# that, at most SETTLE seconds); and at the end of the load, QUIET seconds
# after the last event.
mem_at=$((start + (SOAK_SECONDS < 120 ? SOAK_SECONDS / 2 : 60)))
SETTLE=$((SOAK_SECONDS < 120 ? 10 : 20))
QUIET=$((SOAK_SECONDS / 20))
events_end=$((deadline - QUIET))
mem_start=
mem_wait=
events=0
next_event=$((start + $(rand 3 15)))
last_status=$start
while now=$(date +%s); [ "$now" -lt "$deadline" ]; do
	if ! hs_alive A; then
		self_exits=$((self_exits + 1))
		say "holdscand $A_HS_PID is gone; its last lines:"
		tail -n 5 "$A_HS_LOG" | sed 's/^/    /'
		restart
	fi
	if [ -z "$mem_start" ] && [ "$now" -ge "$mem_at" ]; then
		[ -n "$mem_wait" ] || mem_wait=$((now + SETTLE))
		if [ "$(hs_uptime)" -ge "$SETTLE" ] || [ "$now" -ge "$mem_wait" ]
		then
			mem_start="$(mem_sample) $((now - start))"
		fi
	elif [ "$now" -ge "$next_event" ] && [ "$now" -lt "$events_end" ]; then
		if [ "$events" -lt 4 ]; then
			r=$((events * 25 + 1))
		else
			r=$(rand 1 100)
		fi
		if [ "$r" -le 25 ]; then
			ev_kill
		elif [ "$r" -le 50 ]; then
			ev_reload
		elif [ "$r" -le 75 ]; then
			ev_worker_kill
		else
			ev_fault
		fi
		events=$((events + 1))
		next_event=$(($(date +%s) + $(rand 3 15)))
	fi
	if [ $((now - last_status)) -ge 60 ]; then
		last_status=$now
		say "$(cat "$SENT"/*.json 2>/dev/null | wc -l) sent by" \
		    "sendmail.py, $(sink_count A) at the sink, $(hold_count A)" \
		    "in hold"
	fi
	sleep 1
done

# --- the end --------------------------------------------------------------
touch "$HS_TMP/stop-sending"
wait "$sender_pid"
sender_pid=
[ -n "$mem_start" ] || mem_start="$(mem_sample) $((now - start))"
mem_end="$(mem_sample) $(($(date +%s) - start))"
say "sending stopped; waiting for the queue to drain"

queue_files() {
	find "$A_QUEUE/hold" "$A_QUEUE/holdscan" "$A_QUEUE/incoming" \
	    "$A_QUEUE/active" "$A_QUEUE/deferred" "$A_QUEUE/maildrop" -type f \
	    ! -name state.id
}
drained() {
	[ -z "$(queue_files)" ]
}
t0=$(date +%s)
wait_until "$DRAIN_SECONDS" drained
drain_time=$(($(date +%s) - t0))
sleep 1
if hs_alive A; then alive=yes; else alive=no; fi
hold_left=$(find "$A_QUEUE/hold" "$A_QUEUE/holdscan" -type f ! -name state.id | wc -l)
queue_left=$(queue_files | wc -l)
corrupt=$(find "$A_QUEUE/corrupt" -type f 2>/dev/null | wc -l)

# Tokens: accepted, delivered, quarantined (one line per copy).
cat "$SENT"/*.json >"$HS_TMP/manifest.json" 2>/dev/null
{
	manifest_field "$HS_TMP/manifest.json" token
	sed -n 's/\.eml [0-9A-Za-z]*$//p' "$SENT/others.txt" 2>/dev/null
} | sort >"$HS_TMP/sent.tokens"
sink_tokens A >"$HS_TMP/delivered.tokens"
# A copy that postcat cannot read counts as "postcat-failed".
find "$A_DIR/hs/quarantine" -type f | while read -r f; do
	postcat -c "$A_CONFIG" -h "$f" 2>/dev/null ||
	    echo "X-Test-Token: postcat-failed"
done | sed -n 's/^X-Test-Token: //p' | sort >"$HS_TMP/quarantined.tokens"
unreadable=$(grep -c '^postcat-failed$' "$HS_TMP/quarantined.tokens")

# Delivered clean sendmail.py messages must be intact, byte for byte.
grep -h -E '^[cv][0-9]+-' "$HS_TMP/delivered.tokens" | sort -u \
    >"$HS_TMP/intact.want"
sed 's/.*/"token": "&"/' "$HS_TMP/intact.want" |
    grep -F -f - "$HS_TMP/manifest.json" >"$HS_TMP/intact.json"
sink_messages A | xargs -r grep -l -m 1 -E '^X-Test-Token: [cv][0-9]+-' \
    >"$HS_TMP/intact.files"
# shellcheck disable=SC2046
if "$HS_PYTHON" "$HS_LIB/sinkcheck.py" --added-header X-Holdscan \
    "$HS_TMP/intact.json" $(cat "$HS_TMP/intact.files") \
    >"$HS_TMP/sinkcheck.out" 2>&1; then
	intact=yes
else
	intact=no
fi

# --- the report -----------------------------------------------------------
mb() {
	[ "$1" = - ] && { echo -; return; }
	awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}
mem_row() {
	# $1 label, then PROCS RSS PSS PID AGE T
	printf '%-34s %5s %8s %8s %8s %7ss\n' "$1 (t=$7 s)" "$2" "$(mb "$3")" \
	    "$(mb "$4")" "$5" "$6"
}
warnings=$(hs_count_log A 'warning:')
fatals=$(hs_count_log A 'fatal:|panic:')
attempts=$(hs_count_log A ': scan attempt [0-9]+ failed')
scan_failed=$(hs_count_log A ': scan failed: ')
recovered=$(hs_count_log A 'working again|reopened and recovered')

awk -v out="$HS_TMP/tally" '
    FILENAME == ARGV[1] { sent[$1] = 1; next }
    FILENAME == ARGV[2] { del[$1]++; next }
    { qua[$1]++ }
    function kind(t) { sub(/[0-9].*/, "", t); return t }
    END {
	split("c v big spam blk inf", order, " ")
	name["c"] = "clean"; name["v"] = "clean, --variety"
	name["big"] = "clean, 50 KB"; name["spam"] = "spam (tag)"
	name["blk"] = "blocked (cleaned)"; name["inf"] = "infected"
	for (t in sent) {
		k = kind(t); d = del[t] + 0; q = qua[t] + 0
		S[k]++; D[k] += (d > 0); Q[k] += (q > 0)
		if (d > 1 || (d > 0 && q > 0)) DUP[k]++
		if (d + q == 0) L[k]++
		if ((k == "inf") ? (d > 0) : (q > 0)) W[k]++
		if (q > 1) QQ++
	}
	for (t in del) if (!(t in sent)) X++
	for (t in qua) if (!(t in sent)) X++
	printf "%-20s %7s %10s %12s %11s %6s %10s\n", "mail", "sent", \
	    "delivered", "quarantined", "duplicated", "lost", "wrong-way"
	for (i = 1; i <= 6; i++) {
		k = order[i]
		printf "%-20s %7d %10d %12d %11d %6d %10d\n", name[k], S[k], \
		    D[k], Q[k], DUP[k], L[k], W[k]
		s += S[k]; d2 += D[k]; q2 += Q[k]; u += DUP[k]; l += L[k]
		if (k == "inf") wi += W[k]; else wc += W[k]
	}
	printf "%-20s %7d %10d %12d %11d %6d %10d\n", "total", s, d2, q2, \
	    u, l, wi + wc
	print s, u, l, wi, wc, QQ + 0, X + 0 > out
    }' "$HS_TMP/sent.tokens" "$HS_TMP/delivered.tokens" \
    "$HS_TMP/quarantined.tokens" >"$HS_TMP/table"
read -r sent dup lost infected_delivered clean_quarantined quarantined_twice \
    unknown <"$HS_TMP/tally"

verdict=PASS
[ "$dup" -eq 0 ] && [ "$lost" -eq 0 ] && [ "$infected_delivered" -eq 0 ] &&
    [ "$sent" -gt 0 ] && [ "$alive" = yes ] && [ "$hold_left" -eq 0 ] &&
    [ "$queue_left" -eq 0 ] && [ "$intact" = yes ] || verdict=FAIL

{
	echo "holdscan soak: $SOAK_SECONDS s, ended $(date -u '+%Y-%m-%d %H:%M UTC'), $HOLDSCAND"
	echo "scanners clamav (test signatures), attachments, headers; 2 workers;" \
	    "$SOAK_BATCH sendmail.py messages + 1 from a template every 2 s"
	echo
	cat "$HS_TMP/table"
	echo "(sent: accepted by Postfix; duplicated: delivered twice, or" \
	    "delivered and quarantined; lost: neither)"
	echo "wrong-way: $infected_delivered infected delivered," \
	    "$clean_quarantined other mail quarantined"
	echo "quarantined twice (a copy per attempt): $quarantined_twice;" \
	    "delivered or quarantined but never sent: $unknown;" \
	    "unreadable quarantine copies: $unreadable"
	echo "clean sendmail.py mail byte-identical at the sink (sinkcheck.py):" \
	    "$intact ($(tail -n 1 "$HS_TMP/sinkcheck.out"))"
	echo
	printf '%-34s %6s\n' events count
	printf '%-34s %6d\n' 'kill -9 holdscand, restart' "$kills"
	printf '%-34s %6d   (%d with a new scanner generation)\n' \
	    'SIGHUP reload' "$reloads" "$reloads_seen"
	printf '%-34s %6d\n' 'kill -9 scanner worker' "$worker_kills"
	printf '%-34s %6d   (%d failed system calls)\n' \
	    'fault period (restart with shim)' "$fault_periods" "$faults"
	printf '%-34s %6d\n' 'failed restarts' "$failed_restarts" \
	    'holdscand exited by itself' "$self_exits"
	[ -n "$fault_rules" ] && echo "fault rules:$fault_rules"
	echo
	printf '%-34s %5s %8s %8s %8s %8s\n' 'holdscand memory' procs \
	    'RSS MB' 'PSS MB' pid uptime
	# shellcheck disable=SC2086
	mem_row 'early in the load' $mem_start
	# shellcheck disable=SC2086
	mem_row 'at the end of the load' $mem_end
	echo
	echo "holdscand log: $warnings warnings, $fatals fatal/panic," \
	    "$attempts failed scan attempts, $scan_failed scan failed," \
	    "$recovered recoveries"
	echo "end: holdscand running: $alive; hold+claimed+staging:" \
	    "$hold_left files; Postfix queues: $queue_left files (drained in" \
	    "${drain_time}s); corrupt: $corrupt"
	echo "result: $verdict"
} >"$HS_TMP/report"
cp "$HS_TMP/report" "$RESULTS"
cp "$A_HS_LOG" "$LOGS/holdscand.log"
cp "$A_MAILLOG" "$LOGS/maillog"
cp "$HS_FAULT_LOG" "$LOGS/faults.log"
cp "$HS_TMP/sender.log" "$LOGS/sender.log" 2>/dev/null
cp "$HS_TMP/sinkcheck.out" "$LOGS/sinkcheck.out"
echo
cat "$HS_TMP/report"
echo "written to $RESULTS; logs in $LOGS"
[ "$verdict" = PASS ]
