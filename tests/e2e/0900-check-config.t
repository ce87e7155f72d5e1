#!/bin/sh
# 0900-check-config.t - holdscan check-config and holdscand's own refusals.
#
# 1. A Postfix without a HOLD rule (sandbox hold=no): check-config says so
#    in one line with the commands that fix it; running those commands
#    fixes it (check-config is then silent and mail is held). Rules that
#    hold only some mail, or that a non-HOLD rule shadows, are named with
#    their line; a table type that cannot be read is reported as such,
#    not as a problem.
# 2. holdscan/staging on another file system (a symbolic link to tmpfs):
#    check-config names it, holdscand refuses to start and says why; the
#    printed fix (rm) makes both happy.
# 3. Ownership and users: a state directory owned by root, a config file
#    writable by others, a missing worker_user, a worker_user that is the
#    mail owner: one line each, with the fix; holdscand refuses the same.
# 4. Configuration errors are reported with file and line, by check-config
#    and by holdscand -n alike (exit 78, EX_CONFIG).
# 5. Every finding carries its fix ("fix with:" commands or "fix:"), the
#    missing signatures (ClamAV without a database) among them, and
#    holdscand refuses to start without them, saying the same; a list
#    written as in main.cf (scanners = clamav, attachments, unquoted) is
#    taken; a plugin section not closed at the end of the file is an
#    error with its file and line; a postfix_config_directory without a
#    main.cf is an error with its fix, in check-config and when holdscand
#    starts.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 40

# problems NAME - run check-config for sandbox NAME: its output in $out
# (and $HS_TMP/cc.out), its exit status in $rc
problems() {
	rc=0
	"$HOLDSCAN" -c "$(sb_dir "$1")/hs/holdscan.conf" check-config \
	    >"$HS_TMP/cc.out" 2>&1 || rc=$?
	out=$(cat "$HS_TMP/cc.out")
}

# fix_of PATTERN - the command after "fix with: " on the line matching PATTERN
fix_of() {
	grep -e "$1" "$HS_TMP/cc.out" | sed -n 's/.*; fix with: //p' | head -n 1
}

# --- 1. no HOLD rule ----------------------------------------------------------
sb_start A hold=no || bail_out "sandbox did not start"
hs_conf A >/dev/null </dev/null
problems A
check_eq 'check-config exits 1 without a HOLD rule' "$rc" 1
check_eq 'one line, the HOLD rule missing, with the commands to fix it' \
    "$out" "holdscan: warning: $A_CONFIG/main.cf: header_checks is empty, so no mail is held for holdscand; fix with: echo '/^Received:/ HOLD' >>$A_CONFIG/header_checks && postconf -c $A_CONFIG -e 'header_checks = regexp:$A_CONFIG/header_checks' && postfix -c $A_CONFIG reload"
fix=$(fix_of 'header_checks is empty')
sh -c "$fix" >"$HS_TMP/fix.out" 2>&1
ok $? 'the printed fix runs'
problems A
check_eq 'after it check-config is silent and exits 0' "$rc:$out" "0:"
# Postfix re-reads main.cf once it is older than a second.
sleep 2
smtp-source -m 1 -f fix@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
check 'and mail is held again' wait_hold A 1 90

printf '/^Subject: free money/ REJECT\n/^From:/ HOLD\n' \
    >"$A_CONFIG/header_checks"
problems A
check_eq 'a HOLD rule that some mail escapes is a problem' "$rc:$out" \
    "1:holdscan: warning: header_checks = regexp:$A_CONFIG/header_checks has no HOLD rule that every message matches, so holdscand never sees mail; fix: add this line before any other rule in $A_CONFIG/header_checks: /^Received:/ HOLD (then run postfix -c $A_CONFIG reload)"
printf '# trusted relays\n/^Received: from/ OK\n/^Received:/ HOLD\n' \
    >"$A_CONFIG/header_checks"
problems A
check_eq 'a rule that shadows the HOLD rule is named by its line' "$rc:$out" \
    "1:holdscan: warning: header_checks: regexp:$A_CONFIG/header_checks, line 2 matches every Received: header before any HOLD rule does, so mail is not held for holdscand; fix: put the line /^Received:/ HOLD before line 2, then run postfix -c $A_CONFIG reload"
printf '/^Received: from /\tHOLD\n' >"$A_CONFIG/header_checks"
problems A
check_eq 'mail from sendmail not held: said, not counted' "$rc:$out" \
    "0:holdscan: header_checks holds mail received by smtpd(8) but not mail submitted on this host with sendmail(1): that mail is delivered unscanned"
echo '/^Received:/ HOLD' >"$A_CONFIG/header_checks"
postconf -c "$A_CONFIG" -e \
    "header_checks = cidr:$A_CONFIG/nothing, pcre:$A_CONFIG/header_checks"
problems A
check_eq 'another table type cannot be verified: said, not counted' \
    "$rc:$out" "0:holdscan: header_checks: cannot verify that cidr:$A_CONFIG/nothing holds every message; make sure it has a rule like /^Received:/ HOLD"
postconf -c "$A_CONFIG" -e "header_checks = regexp:{ {/^Received:/ HOLD} }" \
    'receive_override_options = no_address_mappings, no_header_body_checks'
problems A
check_eq 'an inline table is read; receive_override_options is checked' \
    "$rc:$out" "1:holdscan: warning: $A_CONFIG/main.cf: receive_override_options = no_address_mappings, no_header_body_checks turns header_checks off, so no mail is held for holdscand; fix with: postconf -c $A_CONFIG -e 'receive_override_options = no_address_mappings' && postfix -c $A_CONFIG reload"
postconf -c "$A_CONFIG" -e "header_checks = regexp:$A_CONFIG/header_checks" \
    'receive_override_options ='
problems A
check_eq 'back to a good configuration' "$rc:$out" "0:"

# --- 2. staging on another file system ----------------------------------------
QSUB="$A_QUEUE/holdscan"
shm=
for d in /dev/shm /run; do
	[ -d "$d" ] && [ "$(stat -c %d "$d")" != "$(stat -c %d "$A_QUEUE/hold")" ] &&
	    shm=$(mktemp -d "$d/hs-staging.XXXXXX") && break
done
if [ -z "$shm" ]; then
	skip 'no other file system to put staging/ on' 7
else
	install -d -o "$A_MAIL_OWNER" -m 0700 "$QSUB" "$QSUB/claimed"
	chown "$A_MAIL_OWNER" "$shm"
	chmod 0700 "$shm"
	ln -s "$shm" "$QSUB/staging"
	problems A
	check_eq 'check-config: staging/ is a link to another file system' \
	    "$rc:$out" "1:holdscan: warning: $QSUB/staging is a symbolic link to another file system than $A_QUEUE/hold, and queue files can move only by rename(2) within one; holdscand creates it again as a directory when the link is gone; fix with: rm $QSUB/staging"
	rc=0
	"$HOLDSCAND" -f -c "$(sb_dir A)/hs/holdscan.conf" >"$HS_TMP/d.out" 2>&1 ||
	    rc=$?
	check_eq 'holdscand refuses to start (EX_CONFIG)' "$rc" 78
	check 'and says why' grep -q \
	    "fatal: $QSUB/staging is not on the file system of $A_QUEUE/hold; queue files can only move by rename" \
	    "$HS_TMP/d.out"
	check_eq 'nothing was created on the other file system' \
	    "$(find "$shm" -mindepth 1 | wc -l)" 0
	fix=$(fix_of 'staging is a symbolic link')
	sh -c "$fix"
	problems A
	check_eq 'after the printed fix check-config is silent' "$rc:$out" "0:"
	check 'and holdscand starts' hs_run A
	check_eq 'staging/ is now a directory on the queue file system' \
	    "$(stat -c '%F %d %U %a' "$QSUB/staging")" \
	    "directory $(stat -c %d "$A_QUEUE/hold") $A_MAIL_OWNER 700"
	hs_stop A
	rm -rf "$shm"
fi

# --- 3. ownership and users ---------------------------------------------------
STATE="$(sb_dir A)/hs/state"
CONF="$(sb_dir A)/hs/holdscan.conf"
chown root "$STATE"
chmod o+w "$CONF"
problems A
check_eq 'two problems, two lines, exit 1' "$rc:$(echo "$out" | wc -l)" "1:2"
check 'the config file writable by others' grep -qxF \
    "holdscan: warning: $CONF is writable by group or others, and holdscand refuses to start with it; fix with: chmod go-w $CONF" \
    "$HS_TMP/cc.out"
check 'the state directory owned by root' grep -qxF \
    "holdscan: warning: state_directory $STATE is owned by root, not by mail_owner $A_MAIL_OWNER, and holdscand refuses to start with it; fix with: chown -R $A_MAIL_OWNER:$(id -gn "$A_MAIL_OWNER") $STATE" \
    "$HS_TMP/cc.out"
rc=0
"$HOLDSCAND" -f -c "$CONF" >"$HS_TMP/d.out" 2>&1 || rc=$?
check_eq 'holdscand refuses it too' "$rc:$(sed 's/^holdscand\[[0-9]*\]: //' \
    "$HS_TMP/d.out")" \
    "78:fatal: $CONF is writable by group or others; fix with: chmod go-w $CONF"
sed -n 's/.*; fix with: //p' "$HS_TMP/cc.out" | while read -r cmd; do
	sh -c "$cmd"
done
problems A
check_eq 'the printed fixes fix both' "$rc:$out" "0:"

REGIONS="$(sb_dir A)/hs/regions"
mkdir -p "$REGIONS"
chown root "$REGIONS"
chmod 0755 "$REGIONS"
problems A
check_eq 'a state_region_directory that is not the mail owner'"'"'s alone: one problem' \
    "$rc:$(echo "$out" | wc -l)" "1:1"
check 'what it costs, and its fix' grep -qxF \
    "holdscan: warning: state_region_directory $REGIONS is not a directory of mail_owner $A_MAIL_OWNER's alone (owner root, mode 0755): the state environment's shared memory stays in state_directory, which costs disk writes; fix with: chown $A_MAIL_OWNER:$(id -gn "$A_MAIL_OWNER") $REGIONS; chmod 0700 $REGIONS" \
    "$HS_TMP/cc.out"
sed -n 's/.*; fix with: //p' "$HS_TMP/cc.out" | while read -r cmd; do
	sh -c "$cmd"
done
problems A
check_eq 'the printed fix fixes it' "$rc:$out" "0:"

echo 'worker_user = hs-no-such-user' >>"$CONF"
problems A
check_eq 'a missing worker_user, with the command that creates it' \
    "$rc:$out" "1:holdscan: warning: worker_user hs-no-such-user does not exist; fix with: adduser --system --group --no-create-home hs-no-such-user"
echo "worker_user = $A_MAIL_OWNER" >>"$CONF"
problems A
check 'worker_user may not be the mail owner' grep -q \
    "^holdscan: warning: worker_user $A_MAIL_OWNER is Postfix's mail_owner;" \
    "$HS_TMP/cc.out"

# --- 4. configuration errors ----------------------------------------------------
hs_conf A >/dev/null <<EOF
batch_max_wait = soon
scanners = nosuch
EOF
line=$(grep -n '^batch_max_wait = soon$' "$CONF" | cut -d: -f1)
rc=0
"$HOLDSCAN" -c "$CONF" check-config >"$HS_TMP/e.out" 2>&1 || rc=$?
check_eq 'check-config: errors with file and line, exit 78' "$rc:$(cat \
    "$HS_TMP/e.out")" "78:$CONF: plugin nosuch: $(sed -n 's/^plugin_directory = //p' "$CONF")/nosuch.so: No such file or directory
$CONF:$line: batch_max_wait = \"soon\": bad time (use a number with ms, s, m, h or d)"
rc=0
"$HOLDSCAND" -n -c "$CONF" >"$HS_TMP/n.out" 2>&1 || rc=$?
check_eq 'holdscand -n reports the same' "$rc:$(head -n 2 "$HS_TMP/n.out")" \
    "78:$(cat "$HS_TMP/e.out")"

# --- 5. every finding with its fix; config syntax traps -------------------------
NOSIGS="$(sb_dir A)/hs/nosigs"
mkdir -p "$NOSIGS"
chmod 0755 "$NOSIGS"
hs_conf A >/dev/null <<EOF
scanners = clamav, attachments
strip_header_names = X-Spam-Status, X-Virus-Status
plugin clamav {
    database_directory = $NOSIGS
}
EOF
problems A
check_eq 'an unquoted list as in main.cf is taken: problems, not errors' \
    "$rc" 1
check 'the signatures missing are a finding' grep -q \
    "^holdscan: warning: plugin clamav.*no signature databases in $NOSIGS" \
    "$HS_TMP/cc.out"
check 'with its fix: freshclam, or offline signature files' grep -q \
    "no signature databases in $NOSIGS.*; fix: run freshclam; offline, put signature files there: a .hdb made with sigtool --md5" \
    "$HS_TMP/cc.out"
check_eq 'every finding printed carries a fix' \
    "$(grep 'warning:' "$HS_TMP/cc.out" | grep -v -e '; fix: ' -e '; fix with: ')" ""
"$HOLDSCAND" -n -c "$CONF" >"$HS_TMP/n2.out" 2>&1
check_eq 'holdscand -n shows both lists as taken' \
    "$(grep '^scanners = ' "$HS_TMP/n2.out"; grep '^strip_header_names = ' \
    "$HS_TMP/n2.out")" "scanners = \"clamav, attachments\"
strip_header_names = \"X-Spam-Status, X-Virus-Status\""
rc=0
timeout 120 "$HOLDSCAND" -f -c "$CONF" >"$HS_TMP/d2.out" 2>&1 || rc=$?
check 'holdscand refuses to start without signatures, saying how to fix it' \
    grep -q 'no signature databases in .*; fix: run freshclam' "$HS_TMP/d2.out" ||
    sed 's/^/# /' "$HS_TMP/d2.out" >&2
printf 'plugin attachments {\n    deny_extensions = exe, com\n' >>"$CONF"
line=$(grep -n '^plugin attachments {$' "$CONF" | cut -d: -f1)
rc=0
"$HOLDSCAN" -c "$CONF" check-config >"$HS_TMP/e.out" 2>&1 || rc=$?
check_eq 'a section not closed at the end of the file: an error, exit 78' \
    "$rc:$(cat "$HS_TMP/e.out")" \
    "78:$CONF:$line: this section is not closed: a \"}\" is missing before the end of the file"
rc=0
"$HOLDSCAND" -n -c "$CONF" >"$HS_TMP/n.out" 2>&1 || rc=$?
check_eq 'holdscand -n says the same' "$rc:$(head -n 1 "$HS_TMP/n.out")" \
    "78:$(cat "$HS_TMP/e.out")"
# No Postfix where postfix_config_directory says: the fix says what to set.
hs_conf A >/dev/null </dev/null
sed "s|^postfix_config_directory = .*|postfix_config_directory = $HS_TMP/no-postfix|" \
    "$CONF" >"$HS_TMP/nopf.conf"
chmod 0644 "$HS_TMP/nopf.conf"
rc=0
"$HOLDSCAN" -c "$HS_TMP/nopf.conf" check-config >"$HS_TMP/e.out" 2>&1 || rc=$?
check_eq 'no main.cf in postfix_config_directory: exit 78, with its fix' \
    "$rc:$(grep -c "postconf -c $HS_TMP/no-postfix failed: .*; fix: set postfix_config_directory in $HS_TMP/nopf.conf to the directory of the main.cf of a Postfix installed here" \
    "$HS_TMP/e.out")" "78:1"
# holdscand itself stops there with the same fix (issue 14 item 3), on
# the terminal that started it.
rc=0
"$HOLDSCAND" -c "$HS_TMP/nopf.conf" >"$HS_TMP/d.out" 2>&1 || rc=$?
check_eq 'holdscand with no main.cf there: exit 78, the same fix as check-config' \
    "$rc:$(sed -n 's/^holdscand[^:]*: fatal: postconf -c .* failed: .*\(; fix: .*\)/\1/p' \
    "$HS_TMP/d.out")" \
    "78:$(sed -n 's/^holdscan\[[0-9]*\]: fatal: postconf -c .* failed: .*\(; fix: .*\)/\1/p' \
    "$HS_TMP/e.out" | grep "in $HS_TMP/nopf.conf to the directory of the main.cf")"

done_testing
