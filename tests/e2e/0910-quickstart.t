#!/bin/sh
# 0910-quickstart.t - doc/quickstart.md, replayed against a sandbox that
# starts as a stock Postfix (no HOLD rule), and the privilege drop.
#
# The commands are taken from the quick start as written (and fail the
# test if they are not there any more); paths of the real system
# (/etc/postfix, /etc/holdscan/holdscan.conf) become the sandbox's, and
# "postconf", "postfix", "sendmail", "postsuper", "postcat" get the
# sandbox's "-c"/"-C". What the quick start shows as output is compared
# with what happens: holdscand -n, the log lines, the ps listing (the
# master as mail_owner, the scanners as worker_user, every uid and gid
# dropped for good), holdscan status, a message set aside and released
# with postsuper -H, a scanners change and a typo with the SysV script's
# reload and restart, the expiry by cron without systemd, and turning
# holdscan off.
#
# Signatures offline (step 3): the database directory starts empty, and
# check-config names the missing signatures with their fix, holdscand
# refuses to start; then the quick start's own commands write a local.hdb
# by hand (and sigtool --md5, when installed, gives the same line), and
# the quick start's EICAR attachment is caught by that signature
# (Local.EICAR.UNOFFICIAL). worker_user is nobody.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

SRC=$(cd "$HS_LIB/../.." && pwd)
QS="$SRC/doc/quickstart.md"
[ -f "$HS_BUILD/plugins/clamav.so" ] ||
    bail_out "no $HS_BUILD/plugins/clamav.so"

plan 51

# doc_line ERE - the one line of the quick start that matches ERE exactly
doc_line() {
	_dl=$(grep -Ex -- "$1" "$QS")
	if [ -z "$_dl" ] || [ "$(printf '%s\n' "$_dl" | wc -l)" -ne 1 ]; then
		echo "quick start: no single line matching $1" >&2
		return 1
	fi
	printf '%s\n' "$_dl"
}

# doc_block ERE [N] - the Nth (default: first) fenced block that begins
# after the line matching ERE
doc_block() {
	awk -v re="$1" -v n="${2:-1}" '
	    /^```/ {
		inb = !inb
		if (inb && found)
			k++
		else if (!inb && found && k == n)
			exit
		next
	    }
	    !found && $0 ~ re { found = 1; next }
	    found && inb && k == n { print }' "$QS"
}

SIGS="$HS_TMP/sigs"
if ! mkdir "$SIGS" || ! chmod 0755 "$SIGS"; then
	bail_out "cannot make $SIGS"
fi
sb_start A hold=no || bail_out "sandbox did not start"
CONF=$(hs_conf A <<EOF
plugin clamav {
    database_directory = $SIGS
}
EOF
)
LOCAL=$(postconf -c "$A_CONFIG" -h myhostname)

# sandbox CMD - a quick start command line made to work on the sandbox
sandbox() {
	printf '%s\n' "$1" | sed -e "s|/etc/holdscan/holdscan.conf|$CONF|g" \
	    -e "s|/etc/postfix|$A_CONFIG|g" \
	    -e "s|postconf -e|postconf -c $A_CONFIG -e|" \
	    -e "s|^postfix reload|postfix -c $A_CONFIG reload|" \
	    -e "s|sendmail root|sendmail -C $A_CONFIG root|" \
	    -e "s|^postsuper |postsuper -c $A_CONFIG |" \
	    -e "s|^postcat -q|postcat -c $A_CONFIG -q|" \
	    -e "s|^postqueue -f|postqueue -c $A_CONFIG -f|" \
	    -e "s|^holdscan |$HOLDSCAN -c $CONF |" \
	    -e "s|/var/lib/clamav|$SIGS|g" \
	    -e "s|/root/eicar.com|$HS_TMP/eicar.com|g"
}

# run_doc ERE - run the quick start's command line that matches ERE
run_doc() {
	_rd=$(doc_line "$1") || return 1
	_rd=$(sandbox "${_rd%%#*}")
	[ -n "$_rd" ] || return 1
	sh -c "$_rd"
}

# --- 4. configure -------------------------------------------------------------
check 'step 4: turn ClamAV on' run_doc "echo 'scanners = clamav' >>/etc/holdscan/holdscan.conf"
# (as hs_conf does: a plugin directory and scanner program worker_user
# can reach, for holdscand -n has the scanner program check the plugins)
printf 'plugin_directory = %s\nscanner_program = %s\nworker_user = nobody\nscanners = clamav\n' \
    "$(sb_dir A)/hs/plugins" "$(sb_dir A)/hs/holdscan-scanner" \
    >"$HS_TMP/only.conf"
# shellcheck disable=SC2016
check_eq 'holdscand -n prints what the quick start shows' \
    "$("$HOLDSCAND" -n -c "$HS_TMP/only.conf" 2>"$HS_TMP/only.err" |
    grep -v -e '^plugin_directory' -e '^scanner_program' -e '^worker_user')" \
    "$(doc_block '^`holdscand -n` prints what the file sets')"
check_eq '... and says nothing else' "$(cat "$HS_TMP/only.err")" ""

# --- 5, 6, 7. the HOLD rule, check, start ------------------------------------------
"$HOLDSCAN" -c "$CONF" check-config >"$HS_TMP/cc1" 2>&1
check 'before the HOLD rule, check-config names the missing rule' grep -q \
    "warning: $A_CONFIG/main.cf: header_checks is empty" "$HS_TMP/cc1"
check 'step 3: and the missing signatures, with the fix' grep -q \
    "warning: plugin clamav.*no signature databases in $SIGS .*; fix: run freshclam; offline, " \
    "$HS_TMP/cc1"
rc=0
timeout 120 "$HOLDSCAND" -f -c "$CONF" >"$HS_TMP/nosigs.out" 2>&1 || rc=$?
check_eq 'step 3: without signatures holdscand does not start, and says why' \
    "$([ "$rc" -ne 0 ] && echo refused):$(grep -c \
    'no signature databases in .*; fix: ' "$HS_TMP/nosigs.out")" "refused:1"
# Offline: the quick start's own signature file, written by hand.
check 'step 3 offline: the EICAR test file' \
    run_doc "  printf '%s' 'X5O.*' >/root/eicar\\.com"
check 'step 3 offline: its line in local.hdb' \
    run_doc '  echo "\$\(md5sum </root/eicar\.com .*:Local\.EICAR" >/var/lib/clamav/local\.hdb'
check 'step 3 offline: readable by the scanners' \
    run_doc '  chmod 0644 /var/lib/clamav/local\.hdb'
if command -v sigtool >/dev/null 2>&1; then
	check_eq 'sigtool --md5 gives the same hash and size' \
	    "$(sigtool --md5 "$HS_TMP/eicar.com" | cut -d: -f1,2)" \
	    "$(cut -d: -f1,2 "$SIGS/local.hdb")"
else
	check_eq 'the hash and size of the EICAR file (no sigtool here)' \
	    "$(cut -d: -f1,2 "$SIGS/local.hdb")" \
	    "44d88612fea8a8f36de82e1278abb02f:68"
fi
check 'step 5: the HOLD rule' run_doc "echo '/\^Received:/ HOLD' >>/etc/postfix/header_checks"
check 'step 5: header_checks' run_doc "postconf -e 'header_checks = regexp:/etc/postfix/header_checks'"
"$HOLDSCAN" -c "$CONF" check-config >"$HS_TMP/cc2" 2>&1
check_eq 'step 6: check-config is silent and exits 0' \
    "$?:$(cat "$HS_TMP/cc2")" "0:"
check 'step 7: holdscand starts' hs_run A
doc_block '^## 7\. Start' | grep -v '^systemctl ' >"$HS_TMP/step7"
check_eq 'step 7: what is not systemctl' "$(cat "$HS_TMP/step7")" \
    'postfix reload'
check 'step 7: postfix reload' sh -c "$(sandbox "$(cat "$HS_TMP/step7")")"
sleep 2		# Postfix takes a main.cf once it is a second old

# The processes and their users, with the quick start's own ps command.
PS=$(doc_line 'ps -o user,pid,ppid,args -C holdscand,holdscand-super,holdscand-scan')
procs=" $(hs_procs A | tr '\n' ' ') "
sh -c "$PS" >"$HS_TMP/ps.all"
ok $? "step 7: $PS"
awk -v want="$procs" 'index(want, " " $2 " ")' "$HS_TMP/ps.all" \
    >"$HS_TMP/ps.ours"
check_eq 'ps: the master runs as mail_owner' \
    "$(awk -v m="$A_HS_PID" '$2 == m { print $1 }' "$HS_TMP/ps.ours")" \
    "$A_MAIL_OWNER"
check_eq 'ps: the supervisor runs as root, the scanner parent and 2 workers as worker_user' \
    "$(awk -v m="$A_HS_PID" '$2 != m { print $1 }' "$HS_TMP/ps.ours" |
    sort | uniq -c | sed 's/^ *//')" "3 nobody
1 root"
check_eq 'ps: under the names the quick start lists' \
    "$(ps -o comm= -p "$(echo "$procs" | xargs | tr ' ' ,)" | sort | uniq -c |
    sed 's/^ *//' | tr '\n' ' ')" "1 holdscand 3 holdscand-scan 1 holdscand-super "
# ids PID - real, effective, saved and file-system uid, the same for the
# gid, and the supplementary groups
ids() {
	sed -n 's/^\(Uid\|Gid\|Groups\):[[:space:]]*//p' "/proc/$1/status" |
	    tr -s ' \t' '  ' | sed 's/ *$//'
}
uid=$(id -u "$A_MAIL_OWNER")
gid=$(id -g "$A_MAIL_OWNER")
check_eq 'the master dropped every uid and gid, and its groups' \
    "$(ids "$A_HS_PID")" "$uid $uid $uid $uid
$gid $gid $gid $gid
$gid"
sup=$(hs_supervisor A)
check_eq 'the supervisor: root without supplementary groups, CAP_SETUID and CAP_SETGID only' \
    "$(ids "$sup"; sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$sup/status")" \
    "0 0 0 0
0 0 0 0

00000000000000c0"
bad=
for p in $procs; do
	[ "$p" = "$A_HS_PID" ] || [ "$p" = "$sup" ] && continue
	[ "$(ids "$p")" = "65534 65534 65534 65534
65534 65534 65534 65534
65534" ] || bad="$bad $p"
done
check_eq 'so did every scanner process (nobody:nogroup)' "$bad" ""

# --- 8. a clean message and a virus ---------------------------------------------------
before=$(sink_count A)
check 'step 8: a clean message' run_doc "printf 'Subject: holdscan test.*' [|] sendmail root"
check 'it is delivered' wait_sink A $((before + 1)) 30
id=$(sed -n 's/.*postfix-sb[0-9]*\/pickup\[[0-9]*\]: \([0-9A-Za-z]*\): uid=0 from=<root>$/\1/p' \
    "$A_MAILLOG" | tail -n 1)
check 'pickup logged it as the quick start shows' test -n "$id"
check 'holdscand logged claimed, scanned and the hand-over' grep -Eq \
    "]: $id: claimed from=<root@$LOCAL> size=[0-9]+ nrcpt=1$" "$A_HS_LOG"
grep -Eq "]: $id: scanned verdict=clean action=deliver scan=[0-9.]+ms plugins=clamav=clean$" \
    "$A_HS_LOG"
ok $? "$id: scanned verdict=clean action=deliver ... plugins=clamav=clean"
new=$(sed -n "s/.*]: $id: action=deliver new_id=\([0-9A-Za-z]*\) verdict=clean delay=[0-9.]* delays=[0-9.]*\/[0-9.]*\/[0-9.]*$/\1/p" \
    "$A_HS_LOG")
check "$id: action=deliver new_id=... verdict=clean delay=... delays=.../.../..." \
    test -n "$new"
check "grep $new finds its delivery in Postfix's log" grep -Eq \
    "/smtp\[[0-9]+\]: $new: to=<root@$LOCAL>,.* status=sent" "$A_MAILLOG"
f=$(grep -l '^Subject: holdscan test$' "$A_SINK_DIR"/* | head -n 1)
check_eq 'the delivered message carries the scan header' \
    "$(grep '^X-Holdscan: ' "$f")" \
    "X-Holdscan: scanned by holdscan $(sed -n 's/^VERSION[[:space:]]*= *//p' \
    "$SRC/Makefile") on $LOCAL"

doc_block "^detects, as an attachment:" | sed -n '2,/^EOF$/p' | sed '$d' \
    >"$HS_TMP/eicar.eml"
check 'step 8: the EICAR message is in the quick start' grep -q \
    '^Content-Transfer-Encoding: base64$' "$HS_TMP/eicar.eml"
sendmail -C "$A_CONFIG" root <"$HS_TMP/eicar.eml"
eicar_done() {
	grep -Eq ": action=quarantine verdict=infected reason=\"Local\.EICAR\.UNOFFICIAL\" quarantine_id=[0-9]{8}T[0-9]{6}-[0-9A-Za-z]+$" \
	    "$A_HS_LOG"
}
check 'and quarantined by the local signature, with the name step 3 gives' \
    wait_until 30 eicar_done

# --- 9, 10. status, a message set aside, postsuper -H --------------------------------
# status_form - holdscan status as the quick start shows it (figures
# that vary replaced with theirs)
status_form() {
	run_doc 'holdscan status' 2>&1 |
	    sed -e 's/pid [0-9]*, up [0-9]* s/pid 4711, up 300 s/' \
	    -e 's/^\(engine: *\)clamav .*/\1clamav .../' \
	    -e 's/^\(quarantine: *1 held\) ([0-9.]*[KMG]\{0,1\})/\1 (968)/'
}
status_as_shown() {
	[ "$(status_form)" = "$(doc_block '^holdscan status$')" ]
}
wait_until 60 status_as_shown
check_eq 'step 9: holdscan status, in the quick start'"'"'s form' \
    "$(status_form)" "$(doc_block '^holdscan status$')"

# Too large to scan: "scan failed", and the policy holds it.
echo 'message_size_limit = 1k' >>"$CONF"
kill -HUP "$A_HS_PID"
hs_wait_log A 10 'reload: configuration .* re-read'
before=$(sink_count A)
head -c 4000 /dev/zero | tr '\0' x | fold -w 70 |
    sed '1i Subject: too big' | sendmail -C "$A_CONFIG" root
set_aside() { grep -q '^set aside: *1 message in hold' "$HS_TMP/status"; }
status_set_aside() {
	"$HOLDSCAN" -c "$CONF" status >"$HS_TMP/status" 2>&1 && set_aside
}
check 'step 10: holdscan status lists a message too large to scan' \
    wait_until 30 status_set_aside
check 'with the line the quick start shows' grep -qx \
    'set aside:        1 message in hold (postsuper -H ID releases unscanned, -d deletes)' \
    "$HS_TMP/status"
held=$(awk '/^set aside/ { getline; print $1 }' "$HS_TMP/status")
check "$held is still in hold, listed with its reason" grep -Eq \
    "^  $held +[0-9-]+ [0-9:]+  scan-failed: message larger than message_size_limit$" \
    "$HS_TMP/status"
# The second line in the quick start's form: age, attempts, what comes next.
form=$(doc_line ' +age 2h5m, 1 attempt; .*' |
    sed -e 's/age 2h5m/age [0-9]+s/' \
    -e 's/ at 2025-01-11 10:00 (in 4d21h)$/ at [0-9-]+ [0-9:]+ \\(in (5d|4d23h)\\)/')
check 'its age, attempts and what happens when, as the quick start shows' \
    grep -Eq "^$form\$" "$HS_TMP/status"
# The quick start's postcat, postsuper -H and postqueue -f, on that id.
for re in 'postcat -q 3F2A1C0B7 +[|] less +# .*' 'postsuper -H 3F2A1C0B7 +# .*'; do
	line=$(doc_line "$re" | sed "s/3F2A1C0B7/$held/; s/ *#.*//; s/ *| less//")
	sh -c "$(sandbox "$line")" >"$HS_TMP/cmd.out" 2>&1
done
check 'postcat -q showed it, postsuper -H released it' grep -q \
    "^postsuper: $held: released from hold" "$HS_TMP/cmd.out"
# shellcheck disable=SC2016
doc_line '.*\(`postqueue -f` to run it now\).*' >/dev/null &&
    sh -c "$(sandbox 'postqueue -f')"
check 'postsuper -H delivers it, unscanned' wait_sink A $((before + 1)) 30
check_eq 'and it did not go back on hold' "$(hold_count A)" 0

# --- 11. day to day: a scanners change, a typo, with the SysV script ---------------------
INIT="$HS_TMP/holdscand.init"
sed -e "s|^DAEMON=.*|DAEMON=$HOLDSCAND|" \
    -e "s|^DEFAULTS=.*|DEFAULTS=$HS_TMP/default|" \
    "$SRC/init/holdscand.init" >"$INIT"
echo "CONFIG=$CONF" >"$HS_TMP/default"
pid=$A_HS_PID
# day_doc - the quick start's "after changing holdscan.conf" line, with the
# SysV script: its output in $HS_TMP/day.out, its exit status in $rc
day_doc() {
	_dd=$(grep -q "holdscan check-config && systemctl" "$QS" >/dev/null &&
	    echo "holdscan check-config && /etc/init.d/holdscand reload")
	_dd=$(sandbox "$_dd" | sed "s|/etc/init.d/holdscand|sh $INIT|")
	rc=0
	sh -c "$_dd" >"$HS_TMP/day.out" 2>&1 || rc=$?
}
cp "$CONF" "$HS_TMP/good.conf"
sed -i 's/^scanners = clamav$/scanners = clamav, attachments/' "$CONF"
check 'step 11: the scanners list extended as in main.cf, unquoted' \
    grep -qx 'scanners = clamav, attachments' "$CONF"
day_doc
check_eq 'step 11: check-config and the reload succeed' "$rc" 0
check 'the reload applies the new scanners list' hs_wait_log A 30 \
    'scanners ready: generation=[0-9]* clamav [^;]*; attachments [^;]*$'
cp "$CONF" "$HS_TMP/good.conf"
echo 'batch_max_wait = soon' >>"$CONF"
day_doc
check 'step 11: a typo: check-config and the reload fail' test "$rc" -ne 0
check 'and says where' grep -q "$CONF:[0-9]*: batch_max_wait" "$HS_TMP/day.out"
rc=0
sh "$INIT" restart >"$HS_TMP/day.out" 2>&1 || rc=$?
check_eq 'a restart with the typo fails too, and leaves holdscand running' \
    "$rc:$(kill -0 "$pid" 2>/dev/null && echo up)" "1:up"
cp "$HS_TMP/good.conf" "$CONF"

# --- 7. expiry without systemd: the cron line -----------------------------------------
# shellcheck disable=SC2016 # the quick start's backquotes, not a command
doc_line '.*`/etc/cron.d/holdscan` in place, which runs `holdscan quarantine expire' \
    >/dev/null
check 'the quick start names the cron file' test $? -eq 0
cronline=$(grep -v '^#' "$SRC/init/holdscan.cron" | grep 'quarantine expire')
check_eq 'init/holdscan.cron expires as the mail owner when systemd is not there' \
    "$(printf '%s\n' "$cronline" | cut -d' ' -f6- | sed 's/ >.*//')" \
    'postfix [ -d /run/systemd/system ] || /usr/bin/holdscan quarantine expire --older-than 30d'
cmd=$(printf '%s\n' "$cronline" | cut -d' ' -f7- |
    sed -e "s|\[ -d /run/systemd/system \]|[ -d $HS_TMP/no-systemd ]|" \
    -e "s|/usr/bin/holdscan |$HOLDSCAN -c $CONF |" -e 's|30d|1s|')
sleep 2
# qcount - how many messages holdscan quarantine list lists
qcount() {
	"$HOLDSCAN" -c "$CONF" quarantine list | grep -Ec '^[0-9]{8}T[0-9]{6}-'
}
before_q=$(qcount)
sh -c "$cmd"
check_eq 'the cron line (30d made 1s) expires the quarantined EICAR message' \
    "$before_q:$(qcount)" "1:0"

# --- turning it off ---------------------------------------------------------------------
hs_stop A
doc_block '^then let holdscand empty the hold queue' |
    grep -v -e '^systemctl' -e '^postsuper' >"$HS_TMP/off.sh"
while read -r line; do
	sh -c "$(sandbox "${line%%#*}")" >/dev/null 2>&1
done <"$HS_TMP/off.sh"
sleep 2
before=$(sink_count A)
smtp-source -m 1 -f off@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
check 'turned off, mail goes straight through' wait_sink A $((before + 1)) 30

done_testing
