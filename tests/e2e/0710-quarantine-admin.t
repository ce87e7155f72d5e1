#!/bin/sh
# 0710-quarantine-admin.t - the holdscan tool's other quarantine work, on
# real Postfix with holdscand: what 0700 does not cover.
#
# As in 0700, the test-only crashtest plugin calls every message with an
# X-Test-Token header (all mail from sendmail.py) infected.
#  1. holdscand's log line for a quarantined message names its
#     quarantine id; show --json is one JSON object.
#  2. delete: the file goes, the entry stays, marked deleted (list, show,
#     status); a second delete, a release of it and an unknown id fail
#     with their reason and exit 1; the others in the same command are
#     deleted all the same. Deletions and releases are logged to syslog
#     (a private /dev/log, tests/lib/syslogcap.py) in Postfix's manner:
#     "ID: action=release new_id=NEW to=ADDR uid=0".
#  3. scan FILE.eml with ClamAV and the test signatures: a clean and an
#     EICAR message, the exact verdicts and actions (--rcpt choosing a
#     domain's policy), exit 0; nothing changes in the queue or the
#     quarantine; a missing file fails.
#  4. quarantine check while holdscand runs: a file without index entry
#     that is a second copy of an indexed one (a batch interrupted and run
#     again) is removed (a young one is left alone, it may be a batch's,
#     and each check says it skipped it and claims no agreement for it),
#     an entry without its file is reported (exit 1) until deleted, the
#     file of a deleted entry and a temporary file are removed.
#  5. holdscand's start-up check: the same, and a copy of a message that
#     is still in hold (its batch did not commit) is removed; the message
#     is then quarantined once.
#  6. Bad input: unknown ids, bad durations and times, unknown options and
#     commands each give one clear line and exit 1 or 2, and change
#     nothing.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

TESTDATA="$HS_LIB/../tools/clamav-testdata.py"

plan 63

unshare --mount true 2>/dev/null ||
    skip_all "unshare --mount is not permitted here"
sb_start A || bail_out "sandbox did not start"
hs_conf A >/dev/null <<EOF
scanners = crashtest
plugin crashtest {
    mode = verdict
    verdict = infected
    marker = "X-Test-Token:"
}
EOF
hs_run A || bail_out "holdscand did not start"
Q="$A_DIR/hs/quarantine"

# hs NAME ARG... - holdscan with A's configuration: stdout in $HS_TMP/NAME.out,
# stderr in NAME.err; its exit status.
hs() {
	_hs_name=$1
	shift
	"$HOLDSCAN" -c "$A_HS_CONF" "$@" >"$HS_TMP/$_hs_name.out" \
	    2>"$HS_TMP/$_hs_name.err"
}
# logged NAME ARG... - the same with a private /dev/log: syslog lines are
# appended to $HS_TMP/syslog.
logged() {
	_lg_name=$1
	shift
	"$HS_PYTHON" "$HS_LIB/syslogcap.py" "$HS_TMP/syslog" \
	    "$HOLDSCAN" -c "$A_HS_CONF" "$@" >"$HS_TMP/$_lg_name.out" \
	    2>"$HS_TMP/$_lg_name.err"
}
out() {
	cat "$HS_TMP/$1.out"
}
# chk NAME - out, with the age of a skipped file as N
chk() {
	sed 's/, written [0-9][0-9]* s ago: /, written N s ago: /' "$HS_TMP/$1.out"
}
err() {
	cat "$HS_TMP/$1.err"
}
# How many entries of "quarantine list --json" make a Python expression
# on e true.
jq_count() {
	"$HOLDSCAN" -c "$A_HS_CONF" quarantine list --json | "$HS_PYTHON" -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin) if eval(sys.argv[1])))' "$1"
}
# A field of the entry with quarantine id $1.
entry() {
	"$HOLDSCAN" -c "$A_HS_CONF" quarantine list --json | "$HS_PYTHON" -c '
import json, sys
print("".join(str(e[sys.argv[2]]) for e in json.load(sys.stdin)
    if e["id"] == sys.argv[1]))' "$1" "$2"
}
held_at_least() {
	[ "$(jq_count 'e["state"] == "held"')" -ge "$1" ]
}
# The quarantine id of queue id $1.
qid_of() {
	"$HOLDSCAN" -c "$A_HS_CONF" quarantine list --json | "$HS_PYTHON" -c '
import json, sys
print("".join(e["id"] for e in json.load(sys.stdin)
    if e["queue_id"] == sys.argv[1]))' "$1"
}
# The quarantine's state: every entry (id, state) and every file.
snapshot() {
	{
		"$HOLDSCAN" -c "$A_HS_CONF" quarantine list --json |
		    "$HS_PYTHON" -c 'import json, sys
for e in json.load(sys.stdin):
    print(e["id"], e["state"], e["releases"])'
		(cd "$Q" && find . -type f | sort)
	} >"$HS_TMP/$1.snap"
}
send() {
	"$HS_PYTHON" "$HS_LIB/sendmail.py" --token-prefix "$1" --count "$2" \
	    --seed 710 --manifest "$HS_TMP/$1.manifest" \
	    "127.0.0.1:$A_SMTP_PORT" >"$HS_TMP/send.$1" 2>&1 ||
	    bail_out "sendmail.py failed: $(tail -3 "$HS_TMP/send.$1")"
}
# Queue ids of a manifest, in message order.
queue_ids() {
	"$HS_PYTHON" -c 'import json, sys
for line in open(sys.argv[1]):
    print(json.loads(line)["queue_id"])' "$HS_TMP/$1.manifest"
}

send m 8
check '8 messages are quarantined' wait_until 60 held_at_least 8
queue_ids m >"$HS_TMP/m.ids"
: >"$HS_TMP/m.qids"
while read -r id; do
	echo "$id $(qid_of "$id")" >>"$HS_TMP/m.qids"
done <"$HS_TMP/m.ids"
# q N - the quarantine id of message N (1-8); qn N - its queue id
q() {
	sed -n "${1}s/.* //p" "$HS_TMP/m.qids"
}
qn() {
	sed -n "${1}s/ .*//p" "$HS_TMP/m.qids"
}
# path_of QID - the path of its file, as show says
path_of() {
	"$HOLDSCAN" -c "$A_HS_CONF" quarantine show "$1" | sed -n 's/^file: *//p'
}

# --- 1. the log line; show --json -------------------------------------------------
check_eq "holdscand's log line for $(qn 1) names its quarantine id" \
    "$(grep -c "]: $(qn 1): action=quarantine verdict=infected reason=\"X-Test-Token:\" quarantine_id=$(q 1)\$" "$A_HS_LOG")" 1
hs show quarantine show --json "$(q 1)"
check_eq 'show --json: one JSON object with the entry, its file, envelope and headers' \
    "$("$HS_PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d["id"], d["queue_id"], d["state"], d["verdict"], d["file"] == sys.argv[2],
    d["envelope"]["sender"], len(d["envelope"]["recipients"]),
    "X-Test-Token: m-0\n" in d["headers"], "body" in d)' \
    "$HS_TMP/show.out" "$(path_of "$(q 1)")" 2>&1)" \
    "$(q 1) $(qn 1) held infected True sender@sendmail.test 1 True False"

# --- 2. delete -------------------------------------------------------------------
d=$(q 1)
d_file=$(path_of "$d")
cp -p "$d_file" "$HS_TMP/d.copy"
: >"$HS_TMP/syslog"
logged del quarantine delete "$d"
check_eq "delete $d: said, exit 0" "$?:$(out del):$(err del)" "0:$d: deleted:"
test ! -e "$d_file"
ok $? 'its file is gone'
check_eq 'its entry stays, marked deleted' "$(entry "$d" state)" deleted
hs show quarantine show "$d"
check 'show says when it was deleted, and names no file problem' sh -c "
    grep -Eq '^state: +deleted [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\$' '$HS_TMP/show.out' &&
    [ ! -s '$HS_TMP/show.err' ]"
check_eq 'list --state held leaves it out' \
    "$("$HOLDSCAN" -c "$A_HS_CONF" quarantine list --state held | grep -c "^$d ")" 0
hs status status
check 'status counts it' grep -Eq '^quarantine: +7 held \([0-9.]+K?\), 0 released \(0\), 1 deleted$' \
    "$HS_TMP/status.out"
check_eq 'the deletion is in syslog, Postfix style' \
    "$(sed -n 's/^<[0-9]*>[A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]* holdscan\[[0-9]*\]: //p' "$HS_TMP/syslog")" \
    "$d: action=delete uid=0"
hs del2 quarantine delete "$d"
check_eq 'a second delete fails: exit 1, the reason, nothing on stdout' \
    "$?:$(out del2):$(err del2)" "1::holdscan: $d: deleted already"
hs rel quarantine release "$d"
check_eq 'a release of it fails' "$?:$(err rel)" \
    "1:holdscan: $d: deleted; there is nothing to release"
hs del3 quarantine delete NOSUCHID "$(q 2)"
check_eq 'delete of an unknown id and another: exit 1, the unknown named' \
    "$?:$(err del3)" "1:holdscan: NOSUCHID: no such message in the quarantine"
check_eq 'and the other is deleted all the same' "$(out del3):$(entry "$(q 2)" state)" \
    "$(q 2): deleted:deleted"
: >"$HS_TMP/syslog"
logged rel2 quarantine release "$(q 3)" --to other@elsewhere.test
new_id=$(sed -n "s/^$(q 3): released as \([0-9A-Za-z]*\) to other@elsewhere.test\$/\1/p" \
    "$HS_TMP/rel2.out")
check "release --to: exit 0, the new queue id" test -n "$new_id"
check_eq 'the release is in syslog, Postfix style' \
    "$(sed -n 's/^<[0-9]*>[A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]* holdscan\[[0-9]*\]: //p' "$HS_TMP/syslog")" \
    "$(q 3): action=release new_id=$new_id to=other@elsewhere.test uid=0"
sink_has() {
	sink_messages A | xargs -r grep -l "^X-Test-Token: m-2\$" |
	    xargs -r grep -l '^X-Rcpt-Args: <other@elsewhere.test>' | grep -q .
}
check 'it arrives, to the other address' wait_until 60 sink_has
check "Postfix's log has the new queue id, from the original sender" grep -q \
    ": $new_id: from=<sender@sendmail.test>" "$A_MAILLOG"

# --- 3. scan ---------------------------------------------------------------------
if [ -r /usr/share/clamav-testfiles/clam.zip ] &&
    [ -f "$HS_BUILD/plugins/clamav.so" ] &&
    "$HS_PYTHON" "$TESTDATA" sigs "$HS_TMP/sigs" &&
    "$HS_PYTHON" "$TESTDATA" mail "$HS_TMP/mail"; then
	grep -E '^(postfix_config_directory|state_directory|quarantine_directory|pid_file|metrics_file|plugin_directory|scanner_program|worker_user) ' \
	    "$A_HS_CONF" >"$HS_TMP/scan.conf"
	cat >>"$HS_TMP/scan.conf" <<EOF
scanners = clamav
plugin clamav {
    database_directory = $HS_TMP/sigs
    cache = no
}
domain "drop.test" {
    infected = drop
}
EOF
	chmod 0644 "$HS_TMP/scan.conf"
	snapshot before
	sinks_before=$(sink_count A)
	# scan NAME FILE ARG... - holdscan scan; the first line's figures
	scan() {
		_sc_name=$1
		_sc_file=$2
		shift 2
		"$HOLDSCAN" -c "$HS_TMP/scan.conf" scan "$@" "$_sc_file" \
		    >"$HS_TMP/$_sc_name.out" 2>"$HS_TMP/$_sc_name.err"
	}
	sizes() {
		"$HS_PYTHON" -c 'import sys
d = open(sys.argv[1], "rb").read()
print("%s: %d bytes, %d header bytes" % (sys.argv[1], len(d),
    d.index(b"\n\n") + 2))' "$1"
	}
	clean="$HS_TMP/mail/clean.eml"
	eicar="$HS_TMP/mail/eicar-b64.eml"
	scan clean "$clean"
	check_eq 'scan clean.eml: exit 0, clean, deliver' "$?:$(out clean)" \
	    "0:$(sizes "$clean")
clamav         clean
verdict:       clean
action:        deliver"
	scan eicar "$eicar"
	check_eq 'scan eicar-b64.eml: exit 0, infected, quarantine' "$?:$(out eicar)" \
	    "0:$(sizes "$eicar")
clamav         infected: Holdscan.Test.EICAR.UNOFFICIAL
verdict:       infected: Holdscan.Test.EICAR.UNOFFICIAL
action:        quarantine"
	scan eicar2 "$eicar" --sender a@example.org --rcpt b@drop.test \
	    --rcpt=c@drop.test
	check_eq "--rcpt in a domain with its own policy: that domain's action" \
	    "$?:$(tail -1 "$HS_TMP/eicar2.out")" "0:action:        drop"
	check 'the scans said nothing but that the signatures were loaded' sh -c "
	    ! cat '$HS_TMP/clean.err' '$HS_TMP/eicar.err' '$HS_TMP/eicar2.err' |
	    grep -v ': clamav: loaded 3 signatures from '"
	scan none "$HS_TMP/mail/no-such.eml"
	check_eq 'scan of a missing file: exit 1, why' "$?:$(err none)" \
	    "1:holdscan: $HS_TMP/mail/no-such.eml: No such file or directory"
	snapshot after
	check_eq 'scan changed nothing in the quarantine' \
	    "$(diff "$HS_TMP/before.snap" "$HS_TMP/after.snap")" ""
	sleep 1
	check_eq 'nor in the queue, nor sent anything' \
	    "$(hold_count A):$(find "$A_QUEUE/incoming" "$A_QUEUE/active" \
	    "$A_QUEUE/holdscan" -type f ! -name state.id | wc -l):$(sink_count A)" \
	    "0:0:$sinks_before"
else
	skip 'no ClamAV test files or clamav plugin' 7
fi

# --- 4. quarantine check while holdscand runs -----------------------------------
hs chk0 quarantine check
check_eq 'check: files and index agree' "$?:$(out chk0)" \
    "0:quarantine: files and index agree"
# A file without an entry that is a second copy of an indexed one (as a
# batch that was interrupted after writing it and ran again leaves it),
# old enough not to be a batch's; another one just written, which a live
# check must leave alone. (A file without entry that is the only copy is
# indexed again: unit test test_check_repairs_and_reports_one_line_each.)
o_file=$(path_of "$(q 4)")
day=${o_file%/*}
orphan="$(q 4)-7"
cp -p "$o_file" "$day/$orphan"
touch -d '10 minutes ago' "$day/$orphan"
young="$(q 4)-8"
cp -p "$o_file" "$day/$young"
touch "$day/$young"
# An entry without its file.
gone=$(q 5)
gone_file=$(path_of "$gone")
rm "$gone_file"
# The file of a deleted entry (an interrupted delete), and a temporary.
cp -p "$HS_TMP/d.copy" "$d_file"
touch -d '10 minutes ago' "$d_file"
tmp="$(q 6)-3"
cp "$o_file" "$day/$tmp.tmp"
touch -d '10 minutes ago' "$day/$tmp.tmp"
hs chk1 quarantine check
check_eq 'check: exit 1 (a problem is left)' "$?" 1
skipped_young="skipped: $young: file without index entry, written N s ago: not judged while holdscand runs (its batch may still be committing); files are judged from 5 minutes of age"
skipped_one="quarantine: 1 file skipped, too recent to judge while holdscand runs; check again later"
check_eq 'check: one line for each, repaired, not repaired or skipped' \
    "$(chk chk1 | sort)" "$(sort <<EOF
problem: $gone: index entry (held, from <sender@sendmail.test>) without its file $gone_file; "holdscan quarantine delete $gone" forgets it
repaired: $d: removed the file of a deleted entry (an interrupted delete)
repaired: $orphan: removed a second copy of $(qn 4), quarantined already as $(q 4) (its batch was interrupted and ran again)
repaired: $tmp: removed an incomplete copy (its batch did not commit; the message stayed in the queue)
$skipped_young
$skipped_one
EOF
)"
check_eq 'the second copy is gone and not listed; the first is still held' \
    "$(entry "$orphan" state):$(test -e "$day/$orphan" || echo gone):$(entry "$(q 4)" state)" \
    ":gone:held"
check_eq 'the young one is left alone: not indexed, still there' \
    "$(entry "$young" state):$(test -f "$day/$young" && echo there)" ":there"
check_eq 'the deleted entry has no file again, the temporary is gone' \
    "$(test -e "$d_file" || echo gone):$(test -e "$day/$tmp.tmp" || echo gone)" \
    "gone:gone"
hs show2 quarantine show "$gone"
check_eq 'show of the entry without file: what the index knows, exit 1' \
    "$?:$(sed -n 's/^state: *//p' "$HS_TMP/show2.out"):$(err show2)" \
    "1:held:holdscan: $gone_file: No such file or directory"
hs chk2 quarantine check
check_eq 'check again: the same problem and the same skipped file, nothing else' \
    "$?:$(chk chk2)" "1:$skipped_young
problem: $gone: index entry (held, from <sender@sendmail.test>) without its file $gone_file; \"holdscan quarantine delete $gone\" forgets it
$skipped_one"
hs del4 quarantine delete "$gone"
hs chk3 quarantine check
check_eq 'deleted, it is forgotten; the young file is said to be skipped' \
    "$(out del4):$?:$(chk chk3)" "$gone: deleted:0:$skipped_young
$skipped_one
quarantine: the other files and the index agree"
check 'no agreement is claimed while a file was skipped' \
    sh -c "! grep -q 'files and index agree' '$HS_TMP/chk3.out'"
# A file the mail owner cannot read: reported, not skipped in silence.
cp "$o_file" "$day/$(q 4)-9"
chown root:root "$day/$(q 4)-9"
chmod 0600 "$day/$(q 4)-9"
touch -d '10 minutes ago' "$day/$(q 4)-9"
hs chk5 quarantine check
check_eq 'a file without entry that cannot be read is a problem' "$?:$(chk chk5 | sort)" \
    "1:$(sort <<EOF
problem: $(q 4)-9: file without index entry, cannot read it: Permission denied (the files belong to the mail owner)
$skipped_young
$skipped_one
EOF
)"
rm "$day/$(q 4)-9"

# --- 5. holdscand's check at start ------------------------------------------------
hs_stop A
# A message that holdscand has not seen stays in hold; a copy of it in the
# quarantine, as a batch that did not commit would leave it.
send s 1
check 'with holdscand stopped, a new message stays in hold' wait_hold A 1
s_id=$(queue_ids s)
# (Its name from another time: the real one may get the same second's.)
s_copy="$day/20200101T000000-$s_id"
cp -p "$(hold_files A)" "$s_copy"
gone2=$(q 7)
gone2_file=$(path_of "$gone2")
rm "$gone2_file"
tmp2="$(q 8)-4"
cp -p "$o_file" "$day/$tmp2.tmp"
log_start=$(wc -l <"$A_HS_LOG")
hs_run A || bail_out "holdscand did not restart"
tail -n "+$((log_start + 1))" "$A_HS_LOG" |
    sed -n 's/^holdscand\[[0-9]*\]: \(.*quarantine check: \)/\1/p' |
    sort >"$HS_TMP/start.check"
check_eq "holdscand's check at start: a line for each, the problem a warning" \
    "$(cat "$HS_TMP/start.check")" "$(sort <<EOF
quarantine check: ${s_copy##*/}: removed a copy of $s_id, which is still in the queue (hold/$s_id; its batch did not commit)
quarantine check: $tmp2: removed an incomplete copy (its batch did not commit; the message stayed in the queue)
quarantine check: $young: removed a second copy of $(qn 4), quarantined already as $(q 4) (its batch was interrupted and ran again)
warning: quarantine check: $gone2: index entry (held, from <sender@sendmail.test>) without its file $gone2_file; "holdscan quarantine delete $gone2" forgets it
EOF
)"
check_eq 'the copy and the temporary are gone' \
    "$(test -e "$s_copy" || echo gone):$(test -e "$day/$tmp2.tmp" || echo gone)" \
    "gone:gone"
s_quarantined() {
	[ -n "$(qid_of "$s_id")" ] && [ "$(hold_count A)" -eq 0 ]
}
check 'the message in hold is quarantined after all' wait_until 30 s_quarantined
check_eq 'once' "$(jq_count "e['queue_id'] == '$s_id'")" 1
hs chk4 quarantine check
check_eq 'the tool sees what holdscand reported, no more' "$?:$(out chk4)" \
    "1:problem: $gone2: index entry (held, from <sender@sendmail.test>) without its file $gone2_file; \"holdscan quarantine delete $gone2\" forgets it"
hs del5 quarantine delete "$gone2"
check_eq 'holdscand logged no other warning' \
    "$(tail -n "+$((log_start + 1))" "$A_HS_LOG" | grep -E 'warning|fatal' |
    grep -vc "quarantine check: $gone2: ")" 0

# --- 6. bad input ------------------------------------------------------------------
snapshot before6
# bad EXIT STDERR ARG... - holdscan ARG... exits EXIT and says STDERR
# (its first line; a usage error adds the command's usage), nothing on stdout
bad() {
	_bd_rc=$1
	_bd_err=$2
	shift 2
	hs bad "$@"
	check_eq "holdscan $*: exit $_bd_rc, one line" \
	    "$?:$(out bad):$(head -1 "$HS_TMP/bad.err")" "$_bd_rc::$_bd_err"
}
bad 1 'holdscan: NOSUCHID: no such message in the quarantine' \
    quarantine show NOSUCHID
bad 1 'holdscan: NOSUCHID: no such message in the quarantine' \
    quarantine release NOSUCHID
bad 2 'holdscan: quarantine expire: --older-than soon: not a duration (use 30d, 12h, 90m)' \
    quarantine expire --older-than soon
bad 2 'holdscan: quarantine expire: --older-than 0s: less than a second' \
    quarantine expire --older-than 0s
bad 2 'holdscan: quarantine expire: --older-than is required' \
    quarantine expire
bad 2 'holdscan: quarantine expire: unknown option "--older"' \
    quarantine expire --older 30d
bad 2 'holdscan: quarantine list: --since someday: not a time (use 2026-11-23, "2026-11-23 10:15", 2h, 7d, @EPOCH)' \
    quarantine list --since someday
bad 2 'holdscan: quarantine list: --state lost: use held, released or deleted' \
    quarantine list --state lost
bad 2 'holdscan: quarantine list: unknown option "--frobnicate"' \
    quarantine list --frobnicate
check_eq 'a usage error shows that command'"'"'s usage, not all of them' \
    "$(sed 1d "$HS_TMP/bad.err")" \
    'usage: holdscan [-c config_file] quarantine list [--since T] [--until T] [--recipient R] [--sender S] [--reason X] [--state S] [--json] [--all-hosts [--verdict V]]'
bad 2 'holdscan: quarantine list: --recipient needs a value' \
    quarantine list --recipient
bad 2 'holdscan: quarantine delete: unknown option "--force"' \
    quarantine delete --force "$(q 8)"
bad 2 'holdscan: quarantine release: --to needs an address' \
    quarantine release "$(q 8)" --to
bad 2 'holdscan: quarantine release: --to a b@x.test: white space, a control character or <>' \
    quarantine release "$(q 8)" --to 'a b@x.test'
bad 2 'holdscan: quarantine show: unexpected argument "other"' \
    quarantine show "$(q 8)" other
bad 2 'holdscan: quarantine check: unknown option "--repair"' \
    quarantine check --repair
bad 2 'holdscan: status: unexpected argument "now"' status now
bad 2 'holdscan: scan: unknown option "--frob"' scan --frob x.eml
bad 2 'holdscan: unknown command "quarantine frob"' quarantine frob
snapshot after6
check_eq 'none of them changed anything' \
    "$(diff "$HS_TMP/before6.snap" "$HS_TMP/after6.snap")" ""

hs_stop A
done_testing
