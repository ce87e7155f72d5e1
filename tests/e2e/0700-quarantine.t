#!/bin/sh
# 0700-quarantine.t - the quarantine store and the holdscan tool, on real
# Postfix with holdscand.
#
# The "virus" is the test-only crashtest plugin in verdict mode: every
# message with an X-Test-Token header (all mail from sendmail.py) is
# infected and quarantined.
#  1. 21 messages of every kind are quarantined (files and index), none is
#     delivered; list (filters, the recipient index), show (envelope,
#     headers, no body unless --body), status.
#  2. A notice for each reaches the postmaster through Postfix's sendmail,
#     and no notice is the subject of a notice.
#  3. Released, each arrives at smtp-sink exactly once with its original
#     envelope (sender, recipients, RET, ENVID, NOTIFY, ORCPT) and content
#     (but for the X-Holdscan header), checked by sinkcheck.py; a second
#     release is refused; --to sends one to another address instead.
#  4. holdscan quarantine release killed with SIGKILL at random moments:
#     30 times while holdscand runs, 39 times (with its detached child)
#     while it is stopped, then holdscand finishes what was committed:
#     every message arrives exactly once; nothing is left in
#     holdscan/release/.
#  5. list while holdscand quarantines 300 messages: every answer is valid
#     and complete, counts only grow, holdscand logs no warning.
#  6. expire removes files and index entries together, and only the old.
#  7. After a reload, recipients of quarantined mail get their own notice.
#  8. With the shipped templates a notice quotes the marker and is itself
#     quarantined: it is not notified about (no loop); its text is right.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
SRC=$(cd "$HS_LIB/../.." && pwd)

plan 48

sb_start A || bail_out "sandbox did not start"

# holdscand submits notices with Postfix's sendmail as the mail owner, and
# postdrop (set-gid) then wants the sandbox's configuration directory
# listed in the default main.cf. This machine's /etc/postfix stays as it
# is: holdscand runs in a private mount namespace in which a copy of it
# with that one line is mounted over /etc/postfix.
unshare --mount true 2>/dev/null ||
    skip_all "unshare --mount is not permitted here"
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

# Notices that do not quote the reason (which is the marker itself).
cat >"$HS_TMP/pm.txt" <<'EOF'
From: holdscan <MAILER-DAEMON>
To: $postmaster
Subject: [test] $verdict: $subject

queue id: $queue_id
quarantine id: $quarantine_id
sender: $sender
recipients: $recipients
action: $action
EOF
cat >"$HS_TMP/rcpt.txt" <<'EOF'
From: holdscan <MAILER-DAEMON>
To: $to
Subject: [test] held back: $subject

for: $to
recipients: $recipients
reference: $quarantine_id
EOF

conf() {
	hs_conf A >/dev/null <<EOF
scanners = crashtest
plugin crashtest {
    mode = verdict
    verdict = infected
    marker = "X-Test-Token:"
}
notify_postmaster = ${4-infected}
postmaster_address = postmaster@admin.test
notify_postmaster_template = ${1:-$HS_TMP/pm.txt}
notify_recipient_template = ${2:-$HS_TMP/rcpt.txt}
notify_recipients = ${3:-}
# Batches of at most 50: section 5's lists see the 300 arrive in steps.
batch_max_messages = 50
EOF
}
conf
hs_run A || bail_out "holdscand did not start"

hsq() {
	# shellcheck disable=SC2153 # HOLDSCAN is holdscan.sh's
	"$HOLDSCAN" -c "$A_HS_CONF" quarantine "$@"
}
# jq EXPR - how many entries of a "list --json" on stdin make EXPR true (e).
jq_count() {
	"$HS_PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
print(sum(1 for e in d if eval(sys.argv[1])))' "$1"
}
# The quarantine id of queue id $1.
qid_of() {
	hsq list --json | "$HS_PYTHON" -c 'import json, sys
print("".join(e["id"] for e in json.load(sys.stdin)
    if e["queue_id"] == sys.argv[1]))' "$1"
}
held_count() {
	[ "$(hsq list --json --state held | jq_count "$1")" -ge "$2" ]
}
send() {
	prefix=$1
	shift
	"$HS_PYTHON" "$HS_LIB/sendmail.py" --token-prefix "$prefix" \
	    --manifest "$HS_TMP/$prefix.manifest" --dump "$HS_TMP/src" "$@" \
	    "127.0.0.1:$A_SMTP_PORT" >"$HS_TMP/send.$prefix" 2>&1 ||
	    bail_out "sendmail.py failed: $(tail -3 "$HS_TMP/send.$prefix")"
}
mkdir "$HS_TMP/src"
# Sink files carrying a token with this prefix.
token_files() {
	sink_messages A | xargs -r grep -l "^X-Test-Token: $1-"
}
token_count() {
	[ "$(token_files "$1" | wc -l)" -ge "$2" ]
}
notices_to() {
	sink_messages A | xargs -r grep -l "^X-Rcpt-Args: <$1>" |
	    xargs -r grep -l '^X-Mail-Args: <>'
}
count_notices_to() {
	[ "$(notices_to "$1" | wc -l)" -ge "$2" ]
}

# --- 1. quarantined ---------------------------------------------------------
send q --variety --count 21 --seed 700
check 'all 21 messages are quarantined' wait_until 90 held_count \
    'e["subject"].startswith("test q-")' 21
hsq list --json >"$HS_TMP/q.list"
check_eq 'each entry is infected, held, with its file' \
    "$(jq_count 'e["verdict"] == "infected" and e["state"] == "held"' \
    <"$HS_TMP/q.list")" 21
check_eq 'the files are in the quarantine directory' \
    "$(find "$A_DIR/hs/quarantine" -type f | wc -l)" 21
check_eq 'the index knows every queue id that was sent' \
    "$("$HS_PYTHON" -c 'import json, sys
for e in json.load(open(sys.argv[1])):
    print(e["queue_id"])' "$HS_TMP/q.list" | sort | tr '\n' ' ')" \
    "$(manifest_field "$HS_TMP/q.manifest" queue_id | tr '\n' ' ')"
check_eq 'nothing was delivered' "$(token_files q | wc -l)" 0
check_eq 'nothing is left in hold' "$(hold_count A)" 0

# The message with DSN options (RET, ENVID; NOTIFY, ORCPT on each recipient).
"$HS_PYTHON" -c 'import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if any(o.startswith("ENVID=") for o in m["mail_options"]) and \
            len(m["recipients"]) == 3:
        print(m["token"], m["queue_id"], m["recipients"][1],
              [o for o in m["mail_options"] if o.startswith("ENVID=")][0])
        break' "$HS_TMP/q.manifest" >"$HS_TMP/dsn.msg"
read -r dsn_token dsn_queue_id dsn_rcpt dsn_envid <"$HS_TMP/dsn.msg"
dsn_qid=$(qid_of "$dsn_queue_id")
hsq show "$dsn_qid" >"$HS_TMP/show.out" 2>&1
check "show $dsn_qid: envelope with the DSN options" grep -q \
    "^dsn:          RET=[FH][UD][LR][LS] $dsn_envid\$" "$HS_TMP/show.out"
check_eq 'show: its three recipients with NOTIFY and ORCPT' \
    "$(grep -c '^recipient:    <.*> NOTIFY=.* ORCPT=rfc822;' "$HS_TMP/show.out")" 3
check 'show: its headers, verdict and reason' sh -c \
    "grep -q '^X-Test-Token: $dsn_token\$' '$HS_TMP/show.out' &&
    grep -q '^verdict:      infected\$' '$HS_TMP/show.out' &&
    grep -q '^reason:       X-Test-Token:\$' '$HS_TMP/show.out'"
body_in() {
	"$HS_PYTHON" -c 'import sys
src = open(sys.argv[1], "rb").read()
out = open(sys.argv[2], "rb").read()
body = src[src.index(b"\n\n") + 1:]
sys.exit(0 if len(body) > 40 and body in out else 1)' \
	    "$HS_TMP/src/$dsn_token.eml" "$1"
}
! body_in "$HS_TMP/show.out"
ok $? 'show: not the body'
hsq show --body "$dsn_qid" >"$HS_TMP/body.out" 2>&1
check 'show --body: the body, as sent' body_in "$HS_TMP/body.out"
check_eq "list --recipient $dsn_rcpt (any case): that one message" \
    "$(hsq list --recipient "$(echo "$dsn_rcpt" | tr '[:lower:]' '[:upper:]')" | awk '{ print $1 }')" \
    "$dsn_qid"
check_eq 'list --since 1h --reason x-test-token: all of them' \
    "$(hsq list --since 1h --reason x-test-token | wc -l)" 21
check_eq 'list --until 1h: none' "$(hsq list --until 1h | wc -l)" 0
"$HOLDSCAN" -c "$A_HS_CONF" status >"$HS_TMP/status.out" 2>&1
check 'status counts them' grep -q '^quarantine: *21 held' "$HS_TMP/status.out"

# --- 2. notices to the postmaster ----------------------------------------------
check 'a notice per message reaches the postmaster' wait_until 60 \
    count_notices_to postmaster@admin.test 21
sleep 2
notices_to postmaster@admin.test >"$HS_TMP/pm.files"
check_eq 'and only one per message' "$(wc -l <"$HS_TMP/pm.files")" 21
check_eq 'each names a quarantined message' \
    "$(xargs sed -n 's/^X-Holdscan-Notification: \([0-9A-Za-z]*\) (infected)$/\1/p' \
    <"$HS_TMP/pm.files" | sort | tr '\n' ' ')" \
    "$(manifest_field "$HS_TMP/q.manifest" queue_id | tr '\n' ' ')"
dsn_notice=$(xargs grep -l "^X-Holdscan-Notification: $dsn_queue_id " \
    <"$HS_TMP/pm.files")
check 'the notice has the right content' sh -c "
    grep -q '^Subject: \\[test\\] infected: test $dsn_token\$' '$dsn_notice' &&
    grep -q '^quarantine id: $dsn_qid\$' '$dsn_notice' &&
    grep -q '^sender: sender@sendmail.test\$' '$dsn_notice' &&
    grep -q '^recipients: .*$dsn_rcpt' '$dsn_notice' &&
    grep -q '^Auto-Submitted: auto-generated\$' '$dsn_notice'"
check_eq 'notices were scanned, and none was the subject of a notice' \
    "$(hs_count_log A 'notice sent to')" 21
# No more notices until part 7: they would double the mail to go through.
conf "" "" "" ""
kill -HUP "$A_HS_PID"
hs_wait_log A 10 'reload: configuration' || bail_out "holdscand did not reload"

# --- 3. release -------------------------------------------------------------------
to_queue_id=$("$HS_PYTHON" -c 'import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if len(m["recipients"]) == 1 and m["token"] != sys.argv[2]:
        print(m["queue_id"], m["token"]); break' "$HS_TMP/q.manifest" \
    "$dsn_token")
to_token=${to_queue_id#* }
to_qid=$(qid_of "${to_queue_id% *}")
# shellcheck disable=SC2046
hsq release $(hsq list --state held | awk -v skip="$to_qid" \
    '$1 != skip { print $1 }') >"$HS_TMP/release.out" 2>&1
check_eq 'release of 20 messages' \
    "$(grep -c ': released as [0-9A-Za-z]*$' "$HS_TMP/release.out")" 20
hsq release "$to_qid" --to other@elsewhere.test >>"$HS_TMP/release.out" 2>&1
check 'release --to' grep -q "^$to_qid: released as .* to other@elsewhere.test\$" \
    "$HS_TMP/release.out"
check 'all 21 arrive' wait_until 60 token_count q 21
sleep 2
token_files q | xargs grep -L "^X-Test-Token: $to_token\$" >"$HS_TMP/q.files"
grep -v "\"token\": \"$to_token\"" "$HS_TMP/q.manifest" >"$HS_TMP/q20.manifest"
# shellcheck disable=SC2046
check 'each exactly once, original envelope and content (sinkcheck)' \
    "$HS_PYTHON" "$HS_LIB/sinkcheck.py" --added-header X-Holdscan \
    "$HS_TMP/q20.manifest" $(cat "$HS_TMP/q.files")
to_file=$(token_files q | xargs grep -l "^X-Test-Token: $to_token\$")
check '--to: to the other address only, from the original sender' sh -c "
    [ \$(grep -c '^X-Rcpt-Args:' '$to_file') -eq 1 ] &&
    grep -q '^X-Rcpt-Args: <other@elsewhere.test>' '$to_file' &&
    grep -q '^X-Mail-Args: <sender@sendmail.test>' '$to_file' &&
    grep -q '^X-Holdscan: released from quarantine (infected)' '$to_file'"
hsq release "$dsn_qid" >"$HS_TMP/again.out" 2>&1
check_eq 'a second release is refused' "$?:$(cat "$HS_TMP/again.out")" \
    "1:holdscan: $dsn_qid: released already (as $(hsq show "$dsn_qid" |
    sed -n 's/^state: .* as \([0-9A-Za-z]*\) .*/\1/p')); --again releases another copy"
check_eq 'all 21 are marked released' \
    "$(hsq list --json --state released | jq_count 'True')" 21

# --- 4. kill -9 during release ------------------------------------------------------
# a) holdscand running: SIGKILL to holdscan at a random moment (the work
#    goes on in its detached child, which must not be killed inside the
#    state environment while holdscand uses it). The next holdscan finishes
#    what a killed one committed; one still held is released again, maybe
#    while the detached child is still at it (a race the index decides).
send k --count 30 --seed 701
send l --count 40 --seed 706
check '70 more are quarantined' wait_until 60 held_count \
    'e["subject"][:7] in ("test k-", "test l-")' 70
hsq list --json --state held | "$HS_PYTHON" -c 'import json, sys
for e in json.load(sys.stdin):
    print(e["id"], e["subject"][5])' >"$HS_TMP/kl.ids"
rand_ms() {
	r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	awk -v r="$r" -v max="$1" 'BEGIN { printf "%.3f", (r % max) / 1000 }'
}
again=0
grep ' k$' "$HS_TMP/kl.ids" | while read -r id _; do
	"$HOLDSCAN" -c "$A_HS_CONF" quarantine release "$id" \
	    >>"$HS_TMP/kill.out" 2>&1 &
	pid=$!
	sleep "$(rand_ms 300)"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if hsq show "$id" | grep -q '^state: *held$'; then
		again=$((again + 1))
		hsq release "$id" >>"$HS_TMP/kill.out" 2>&1
	fi
	echo "$again" >"$HS_TMP/kill.again"
done
note "holdscan killed 30 times; released again afterwards: $(cat "$HS_TMP/kill.again")"
check 'each of those 30 arrives' wait_until 60 token_count k 30
# b) holdscand stopped: SIGKILL to holdscan and its child, anywhere, also
#    inside Berkeley DB; nothing runs in between. Then holdscand starts:
#    it recovers the environment, finishes committed releases and removes
#    unfinished ones; what is still held is released once more.
hs_stop A
# How long one takes here, to kill the others anywhere in their run.
grep ' l$' "$HS_TMP/kl.ids" >"$HS_TMP/l.ids"
read -r first _ <"$HS_TMP/l.ids"
t0=$(date +%s%N)
hsq release "$first" >/dev/null 2>&1
ms=$((($(date +%s%N) - t0) / 1000000))
# (holdscan's "released as" lines so far are the k messages': start afresh.)
: >"$HS_TMP/kill.out"
sed 1d "$HS_TMP/l.ids" | while read -r id _; do
	"$HOLDSCAN" -c "$A_HS_CONF" quarantine release "$id" \
	    >>"$HS_TMP/kill.out" 2>&1 &
	pid=$!
	sleep "$(rand_ms "$ms")"
	# shellcheck disable=SC2046
	kill -KILL "$pid" $(pgrep -P "$pid") 2>/dev/null
	wait "$pid" 2>/dev/null
done
log_restart=$(wc -l <"$A_HS_LOG")
hs_run A || bail_out "holdscand did not restart"
tail -n "+$((log_restart + 1))" "$A_HS_LOG" >>"$HS_TMP/kill.out"
note "a release takes $ms ms; of 39 killed:" \
    "$(grep -c ': released as' "$HS_TMP/kill.out") released in" \
    "time, $(grep -c 'recovery: finished interrupted release' \
    "$HS_TMP/kill.out") committed and finished by the next holdscan or" \
    "holdscand, $(grep -c 'a release interrupted before it was committed' \
    "$HS_TMP/kill.out") begun and undone;" \
    "$(hsq list --state held | grep -c 'test l-') still held"
# shellcheck disable=SC2046
hsq release $(hsq list --json --state held | "$HS_PYTHON" -c 'import json, sys
print(" ".join(e["id"] for e in json.load(sys.stdin)
    if e["subject"].startswith("test l-")))') >>"$HS_TMP/kill.out" 2>&1
check 'each of those 40 arrives' wait_until 60 token_count l 40
sleep 3
cat "$HS_TMP/k.manifest" "$HS_TMP/l.manifest" >"$HS_TMP/kl.manifest"
# shellcheck disable=SC2046
check 'exactly once, all 70 (sinkcheck)' "$HS_PYTHON" "$HS_LIB/sinkcheck.py" \
    --added-header X-Holdscan "$HS_TMP/kl.manifest" $(token_files k) \
    $(token_files l)
# A detached child of a killed holdscan may still be at its release
# under load: each look follows a holdscan command (whose open finishes
# or sweeps what is left), for up to 20 s.
release_empty() {
	hsq list >/dev/null
	[ "$(find "$A_QUEUE/holdscan/release" -type f | wc -l)" -eq 0 ]
}
check 'nothing left in holdscan/release/' wait_until 60 release_empty ||
	find "$A_QUEUE/holdscan/release" -type f -ls | sed 's/^/# /' >&2
check_eq 'all are marked released' \
    "$(hsq list --json --state held | jq_count 'e["subject"][:7] in ("test k-", "test l-")')" 0

# --- 5. list while holdscand writes --------------------------------------------------
# (A killed holdscan leaves the environment to be recovered by the next
# opener; holdscand then says it opens it again. From here on, nothing.)
log_start=$(wc -l <"$A_HS_LOG")
send w --count 300 --seed 702 &
sender=$!
# As fast as it goes (the answers are looked at afterwards).
i=0
: >"$HS_TMP/lists.bad"
: >"$HS_TMP/lists.times"
while [ "$i" -lt 40 ]; do
	t0=$(date +%s%N)
	hsq list --json >"$HS_TMP/live.$i.json" 2>"$HS_TMP/live.$i.err" ||
	    echo "list $i failed: $(cat "$HS_TMP/live.$i.err")" >>"$HS_TMP/lists.bad"
	echo "list $i: started $(((t0 / 1000000) % 100000)) ms, took $((($(date +%s%N) - t0) / 1000000)) ms" >>"$HS_TMP/lists.times"
	[ $((i % 4)) -eq 0 ] && { hsq list --recipient w-7.r0@sink.test \
	    >/dev/null 2>>"$HS_TMP/lists.bad" ||
	    echo "list --recipient failed" >>"$HS_TMP/lists.bad"; }
	i=$((i + 1))
done
wait "$sender"
i=0
prev=0
: >"$HS_TMP/lists.seen"
while [ "$i" -lt 40 ]; do
	cat "$HS_TMP/live.$i.err" >>"$HS_TMP/lists.bad"
	n=$(jq_count 'e["subject"].startswith("test w-")' \
	    <"$HS_TMP/live.$i.json" 2>>"$HS_TMP/lists.bad")
	[ -n "$n" ] && [ "$n" -lt "$prev" ] &&
	    echo "count went down: $prev -> $n" >>"$HS_TMP/lists.bad"
	prev=${n:-$prev}
	echo "$prev" >>"$HS_TMP/lists.seen"
	i=$((i + 1))
done
note "the lists saw $(uniq <"$HS_TMP/lists.seen" | tr '\n' ' ')of 300"
check_eq 'every list answer was valid, and counts only grew' \
    "$(cat "$HS_TMP/lists.bad")" ""
check 'some lists ran while holdscand was writing (saw some, not all)' \
    grep -Eqx '[1-9][0-9]?|[12][0-9][0-9]' "$HS_TMP/lists.seen" || {
	paste -d' ' "$HS_TMP/lists.times" "$HS_TMP/lists.seen" |
	    sed 's/^/# /' >&2
	grep -E 'batch=[0-9]+ ' "$A_HS_LOG" | tail -n 20 | cut -c1-200 |
	    sed 's/^/# /' >&2
}
check 'all 300 are quarantined' wait_until 90 held_count \
    'e["subject"].startswith("test w-")' 300
tail -n "+$((log_start + 1))" "$A_HS_LOG" | grep -E 'warning|fatal' \
    >"$HS_TMP/w.warnings"
check_eq 'holdscand logged no warnings' "$(wc -l <"$HS_TMP/w.warnings")" 0 ||
	head -n 10 "$HS_TMP/w.warnings" | sed 's/^/# /' >&2

# --- 6. expire ---------------------------------------------------------------------
sleep 3
t_new=$(date +%s)
send e --count 5 --seed 703
check '5 new ones are quarantined' wait_until 60 held_count \
    'e["subject"].startswith("test e-")' 5
age=$(($(date +%s) - t_new + 1))
hsq expire --older-than "${age}s" >"$HS_TMP/expire.out" 2>&1
check_eq 'expire removes all but the new ones' \
    "$(sed 's/ (.*//' "$HS_TMP/expire.out")" "expired 391 messages"
check_eq 'their files went with them' \
    "$(find "$A_DIR/hs/quarantine" -type f | wc -l)" 5
check_eq 'the index has the new ones only' \
    "$(hsq list --json | jq_count 'e["subject"].startswith("test e-")'):$(hsq list --json | jq_count 'True')" \
    '5:5'
check 'quarantine check: files and index agree' sh -c \
    "'$HOLDSCAN' -c '$A_HS_CONF' quarantine check | grep -qx 'quarantine: files and index agree'"

# --- 7. recipient notices, after a reload ---------------------------------------------
conf "$HS_TMP/pm.txt" "$HS_TMP/rcpt.txt" infected
kill -HUP "$A_HS_PID"
check 'holdscand re-reads its configuration' wait_until 60 sh -c \
    "[ \$(grep -c 'reload: configuration' '$A_HS_LOG') -ge 2 ]"
send r --count 1 --seed 704
r_rcpt=$(sed -n 's/.*"recipients": \["\([^"]*\)".*/\1/p' "$HS_TMP/r.manifest")
check "the recipient $r_rcpt gets a notice" wait_until 60 count_notices_to \
    "$r_rcpt" 1
r_qid=$(qid_of "$(manifest_field "$HS_TMP/r.manifest" queue_id)")
r_notice=$(notices_to "$r_rcpt")
check 'its notice names the message and nobody else' sh -c "
    grep -q '^To: $r_rcpt\$' '$r_notice' &&
    grep -q '^for: $r_rcpt\$' '$r_notice' &&
    grep -q '^recipients: $r_rcpt\$' '$r_notice' &&
    grep -q '^reference: $r_qid\$' '$r_notice'"

# --- 8. the shipped templates; a notice that is itself quarantined ----------------------
# (copied: holdscand reads them as the mail owner, who may not reach the
# checkout)
cp "$SRC/etc/notify-postmaster.txt" "$SRC/etc/notify-recipient.txt" "$HS_TMP/"
conf "$HS_TMP/notify-postmaster.txt" "$HS_TMP/notify-recipient.txt" infected
kill -HUP "$A_HS_PID"
sleep 1
sent_before=$(hs_count_log A 'notice sent to')
send z --count 1 --seed 705
z_queue_id=$(manifest_field "$HS_TMP/z.manifest" queue_id)
nulls() {
	[ "$(hsq list --json | jq_count 'e["sender"] == ""')" -ge 2 ]
}
check 'both notices quote the marker and are quarantined' wait_until 60 nulls
sleep 3
check_eq 'no notice about a notice' \
    "$(( $(hs_count_log A 'notice sent to') - sent_before ))" 2
z_qid=$(qid_of "$z_queue_id")
pm_notice=$(hsq list --json | "$HS_PYTHON" -c 'import json, sys
print("".join(e["id"] for e in json.load(sys.stdin) if e["sender"] == ""
    and e["subject"].startswith("[holdscan] infected: test z-0")))')
hsq show --body "$pm_notice" >"$HS_TMP/notice.out" 2>&1
check 'the shipped postmaster notice reads right' sh -c "
    grep -q '^X-Holdscan-Notification: $z_queue_id (infected)\$' '$HS_TMP/notice.out' &&
    grep -q '^  quarantine id:  $z_qid\$' '$HS_TMP/notice.out' &&
    grep -q '^  reason:         X-Test-Token:\$' '$HS_TMP/notice.out' &&
    grep -q '^    holdscan quarantine release $z_qid\$' '$HS_TMP/notice.out'"

hs_stop A
done_testing
