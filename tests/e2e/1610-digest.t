#!/bin/sh
# 1610-digest.t - quarantine digests (issue 16, item 4): holdscan digest
# mails each recipient of quarantined mail exactly one digest listing its
# messages only, with release and delete links that verify; an altered,
# expired, wrong-recipient or wrong-action link is refused; a second run
# sends nothing new; a recipient whose quoted local part holds other
# addresses gets its digest itself, and nothing reaches those (issue 13,
# item 1); a subject's control characters never reach a digest.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 44

sb_start A || bail_out "sandbox did not start"

# holdscan digest submits with Postfix's sendmail as the mail owner, and
# postdrop (set-gid) wants the sandbox's configuration directory listed in
# the default main.cf: holdscan (and holdscand, for its own mail) run in a
# private mount namespace with a copy of /etc/postfix that has that line
# (as in 1310; the machine's /etc/postfix stays as it is).
unshare --mount true 2>/dev/null ||
    skip_all "unshare --mount is not permitted here"
mkdir "$HS_TMP/etc-postfix"
cp -a /etc/postfix/. "$HS_TMP/etc-postfix/"
echo "alternate_config_directories = $A_CONFIG" >"$HS_TMP/etc-postfix/main.cf"
for prog in holdscand holdscan; do
	cat >"$HS_TMP/$prog-ns" <<EOF
#!/bin/sh
exec unshare --mount sh -c 'mount --bind "\$0" /etc/postfix && exec "\$@"' \\
    "$HS_TMP/etc-postfix" "$HS_BUILD/$prog" "\$@"
EOF
	chmod 0755 "$HS_TMP/$prog-ns"
done
# shellcheck disable=SC2034 # hs_run (holdscan.sh) starts it
HOLDSCAND="$HS_TMP/holdscand-ns"
HS="$HS_TMP/holdscan-ns"
chmod 0755 "$HS_TMP"

# Mail from sender.example is quarantined by the deny list (blocked, the
# entry as reason): nothing of it can make the digests, which list the
# reasons, quarantined in turn.
conf=$(hs_conf A <<EOF
scanners = crashtest
plugin crashtest {
    mode = verdict
    verdict = infected
    marker = NEVER-IN-THESE-MESSAGES
}
digest_url = https://console.example/holdscan/
digest_key_file = $HS_TMP/digest.key
digest_from = quarantine@console.example
digest_html = yes
EOF
)

# --- the key ----------------------------------------------------------------
"$HS" -c "$conf" check-config >"$HS_TMP/cc1.out" 2>&1
check_eq 'check-config says the key is missing, with its fix' \
    "$(grep -c "^holdscan: warning: digest_url is set and digest_key_file $HS_TMP/digest.key does not exist; fix with: holdscan digest --init-key\$" \
    "$HS_TMP/cc1.out")" 1
check 'digest --init-key makes the key' "$HS" -c "$conf" digest --init-key
check_eq 'the key file is 0600, 64 hex digits' \
    "$(stat -c %a "$HS_TMP/digest.key") $(tr -d '\n' <"$HS_TMP/digest.key" |
    grep -cE '^[0-9a-f]{64}$')" "600 1"
"$HS" -c "$conf" digest --init-key >"$HS_TMP/init2.out" 2>&1
check_eq 'a second --init-key does not replace it' "$?" 1
"$HS" -c "$conf" check-config >"$HS_TMP/cc2.out" 2>&1
check_eq 'then check-config has nothing to say of digests' \
    "$(grep -c digest "$HS_TMP/cc2.out")" 0
chmod 0644 "$HS_TMP/digest.key"
"$HS" -c "$conf" check-config >"$HS_TMP/cc3.out" 2>&1
check_eq 'a key others can read is a problem, with its fix' \
    "$(grep -c "^holdscan: warning: digest_key_file $HS_TMP/digest.key: .*; fix with: chmod 0640 $HS_TMP/digest.key\$" \
    "$HS_TMP/cc3.out")" 1
"$HS" -c "$conf" digest --dry-run >"$HS_TMP/dry0.out" 2>&1
check_eq 'and digest refuses to use it' "$?" 78
chmod 0600 "$HS_TMP/digest.key"
# A key file behind a symbolic link is refused, and said with its fix.
mv "$HS_TMP/digest.key" "$HS_TMP/digest.real"
ln -s "$HS_TMP/digest.real" "$HS_TMP/digest.key"
"$HS" -c "$conf" check-config >"$HS_TMP/cc4.out" 2>&1
check_eq 'a key behind a symbolic link is a problem, with its fix' \
    "$(grep -c "^holdscan: warning: digest_key_file $HS_TMP/digest.key: .*; fix: make $HS_TMP/digest.key a regular file (not a symbolic link)" \
    "$HS_TMP/cc4.out")" 1
rm "$HS_TMP/digest.key"
mv "$HS_TMP/digest.real" "$HS_TMP/digest.key"

hs_run A || bail_out "holdscand did not start"
"$HS" -c "$conf" list add deny domain sender.example >/dev/null 2>&1 ||
    bail_out "holdscan list add failed"

# --- quarantined mail for several recipients --------------------------------
# send FROM SUBJECT BODY RCPT... (the subject may hold raw bytes: \033)
send() {
	"$HS_PYTHON" - "$A_SMTP_PORT" "$@" <<'EOF' || bail_out "could not send"
import smtplib, sys
port, sender, subject, body = sys.argv[1:5]
s = smtplib.SMTP("127.0.0.1", int(port))
s.ehlo("client.example")
s.mail(sender)
for r in sys.argv[5:]:
    code, msg = s.rcpt(r)
    if code != 250:
        sys.exit("RCPT %s: %d %s" % (r, code, msg))
subject = subject.encode().replace(b"\\033", b"\033").replace(b"\\007",
                                                             b"\007")
s.data(b"From: <" + sender.encode() + b">\r\nSubject: " + subject +
       b"\r\n\r\n" + body.encode() + b"\r\n")
s.quit()
EOF
}
QUOTED='"evil@victim.example,z"@a.example'
send s1@sender.example 'alice one' hello alice@a.example
send s2@sender.example 'alice two \033]0;pwned\007' hello \
    alice@a.example
send s3@sender.example 'bob one' hello bob@b.example
send s4@sender.example 'for both <b>&</b>' hello alice@a.example \
    bob@b.example
send s5@sender.example 'quoted one' hello "$QUOTED"
send s6@other.example 'clean one' 'nothing to see' alice@a.example

held() {
	"$HS" -c "$conf" quarantine list --state held 2>/dev/null | wc -l
}
check 'five messages are quarantined' wait_until 90 at_least 5 held
check 'the clean one is delivered' wait_sink A 1 60
check_eq 'nothing else reached the sink' "$(sink_count A)" 1

# --- a dry run --------------------------------------------------------------
"$HS" -c "$conf" digest --dry-run >"$HS_TMP/dry.out" 2>"$HS_TMP/dry.err"
check_eq 'digest --dry-run succeeds' "$?" 0
check_eq 'it shows three digests' \
    "$(grep -c '^--- digest to ' "$HS_TMP/dry.out")" 3
sleep 3
check_eq 'and sends nothing' "$(sink_count A)" 1

# --- the digests ------------------------------------------------------------
"$HS" -c "$conf" digest >"$HS_TMP/run1.out" 2>"$HS_TMP/run1.err"
check_eq 'holdscan digest succeeds' "$?" 0
check_eq 'it reports three sent' \
    "$(grep -c 'status=sent' "$HS_TMP/run1.out")" 3
check 'the digests arrive' wait_sink A 4 90
sleep 2

# digest_for ADDR - the sink files of digests whose envelope recipient is ADDR
# (smtp-sink's X-Rcpt-Args, its ORCPT= and NOTIFY= parameters cut off)
digest_for() {
	for _df in $(sink_messages A | xargs -r grep -l \
	    '^Subject: Quarantine digest'); do
		sed -n 's/^X-Rcpt-Args: //p' "$_df" |
		    sed 's/ ORCPT=.*//; s/ NOTIFY=.*//' |
		    grep -qxF "<$1>" && echo "$_df"
	done
}
check_eq 'four messages at the sink: the clean one and three digests' \
    "$(sink_count A)" 4
check_eq 'alice gets exactly one digest' \
    "$(digest_for alice@a.example | wc -l)" 1
check_eq 'bob gets exactly one digest' "$(digest_for bob@b.example | wc -l)" 1
check_eq 'the quoted address gets its own' \
    "$(digest_for "$QUOTED" | wc -l)" 1
check_eq 'nothing went to the addresses inside the quoted one' \
    "$(sink_messages A | xargs -r grep -lF -e \
    'X-Rcpt-Args: <evil@victim.example>' -e 'X-Rcpt-Args: <z@a.example>' |
    wc -l)" 0
alice=$(digest_for alice@a.example)
bob=$(digest_for bob@b.example)
check_eq "alice's lists her three messages" \
    "$(grep -c -e '^   Subject: alice one$' -e '^   Subject: alice two' \
    -e '^   Subject: for both <b>&</b>$' "$alice")" 3
check_eq "alice's lists nobody else's" \
    "$(grep -c -e 'bob one' -e 'quoted one' -e 'clean one' "$alice")" 0
check_eq "bob's lists his two messages and no other" \
    "$(grep -c '^   Subject: ' "$bob") $(grep -c -e '^   Subject: bob one$' \
    -e '^   Subject: for both <b>&</b>$' "$bob")" "2 2"
# The HTML alternative: the same links, every text escaped.
sed -n '/^Content-Type: text\/html/,$p' "$alice" >"$HS_TMP/alice.html"
check "alice's digest has an HTML part with the subject escaped" \
    grep -qF '<td>for both &lt;b&gt;&amp;&lt;/b&gt;</td>' "$HS_TMP/alice.html"
check_eq 'and no markup from a subject in it' \
    "$(grep -c -e '<b>' -e '</b>' "$HS_TMP/alice.html")" 0
check 'a subject with control characters is shown safe' \
    grep -q '^   Subject: alice two .\]0;pwned.\{0,1\}$' "$alice"
check_eq 'no escape or bell byte reaches a digest' \
    "$(grep -c -e "$(printf '\033')" -e "$(printf '\007')" "$alice")" 0
check 'the digest says the verdict and the reason' \
    grep -q '^   Verdict: blocked (deny list: domain sender.example' "$alice"

# --- the links --------------------------------------------------------------
grep -o 'https://console.example/holdscan/d/[A-Za-z0-9_-]*' "$alice" |
    sort -u >"$HS_TMP/alice.links"
check_eq "the HTML part's links are the text's" \
    "$(grep -o 'href="[^"]*"' "$HS_TMP/alice.html" | sed 's/^href="//; s/"$//' |
    sort)" "$(sed -n 's/^   \(Release\|Delete\): *//p' "$alice" | sort)"
check_eq 'alice has a release and a delete link for each message' \
    "$(grep -c . "$HS_TMP/alice.links") $(grep -c '^   Release: https' \
    "$alice") $(grep -c '^   Delete:  https' "$alice")" "6 3 3"
n=0
while read -r link; do
	"$HS" -c "$conf" digest --check-link "$link" \
	    --recipient alice@a.example >"$HS_TMP/check.out" 2>&1 &&
	    grep -qx 'link: valid' "$HS_TMP/check.out" &&
	    grep -qx 'recipient: alice@a.example' "$HS_TMP/check.out" &&
	    grep -qx 'message: held' "$HS_TMP/check.out" && n=$((n + 1))
done <"$HS_TMP/alice.links"
check_eq "each of alice's links verifies, for her, on a held message" "$n" 6

release=$(sed -n 's/^   Release: //p' "$alice" | head -1)
"$HS" -c "$conf" digest --check-link "$release" --action delete \
    >"$HS_TMP/act.out" 2>&1
check_eq 'a release link is refused as a delete link' \
    "$? $(head -1 "$HS_TMP/act.out")" \
    "1 link: refused: the link is for another action"
"$HS" -c "$conf" digest --check-link "$release" --recipient bob@b.example \
    >"$HS_TMP/who.out" 2>&1
check_eq "alice's link is refused for bob" \
    "$? $(head -1 "$HS_TMP/who.out")" \
    "1 link: refused: the link is for another recipient"

# Altered: one character of the token changed (the last, then one inside).
for pos in last middle; do
	altered=$("$HS_PYTHON" - "$release" "$pos" <<'EOF'
import sys
url, pos = sys.argv[1], sys.argv[2]
head, tok = url.rsplit("/d/", 1)
i = len(tok) - 1 if pos == "last" else len(tok) // 2
c = "B" if tok[i] != "B" else "C"
print(head + "/d/" + tok[:i] + c + tok[i + 1:])
EOF
)
	"$HS" -c "$conf" digest --check-link "$altered" >"$HS_TMP/alt.out" 2>&1
	rc=$?
	case "$(head -1 "$HS_TMP/alt.out")" in
	"link: refused: the link was altered"*|\
	"link: refused: this is not a digest link")
		ok=yes ;;
	*)	ok=no ;;
	esac
	check_eq "an altered link ($pos character) is refused" "$rc $ok" "1 yes"
done

# Expired: a link made to live four seconds, checked five seconds later.
"$HS" -c "$conf" digest --dry-run --link-lifetime 4s \
    --since 1d --recipient bob@b.example >"$HS_TMP/short.out" 2>&1
short=$(sed -n 's/^   Release: //p' "$HS_TMP/short.out" | head -1)
"$HS" -c "$conf" digest --check-link "$short" >"$HS_TMP/short1.out" 2>&1
check_eq 'a short-lived link is valid at first' "$? $(head -1 \
    "$HS_TMP/short1.out")" "0 link: valid"
sleep 5
"$HS" -c "$conf" digest --check-link "$short" >"$HS_TMP/short2.out" 2>&1
check_eq 'and refused once it has expired' "$? $(head -1 \
    "$HS_TMP/short2.out")" "1 link: refused: the link has expired"

# A link signed with another key is refused as altered.
mv "$HS_TMP/digest.key" "$HS_TMP/digest.key.old"
"$HS" -c "$conf" digest --init-key >/dev/null 2>&1
"$HS" -c "$conf" digest --check-link "$release" >"$HS_TMP/newkey.out" 2>&1
check_eq 'after a new key, an old link is refused' \
    "$? $(head -1 "$HS_TMP/newkey.out")" \
    "1 link: refused: the link was altered (its signature does not match)"
mv -f "$HS_TMP/digest.key.old" "$HS_TMP/digest.key"

# --- a second run -----------------------------------------------------------
"$HS" -c "$conf" digest >"$HS_TMP/run2.out" 2>&1
check_eq 'a second run sends nothing new' \
    "$? $(cat "$HS_TMP/run2.out")" \
    "0 digest: nothing held since the last digest"
sleep 3
check_eq 'and nothing more reached the sink' "$(sink_count A)" 4
check_eq 'no warnings from holdscand' "$(hs_warnings_after A 0)" 0
check 'the key never appears in the log' \
    sh -c "! grep -qF '$(cat "$HS_TMP/digest.key")' '$A_HS_LOG' \
    '$HS_TMP/run1.out' '$HS_TMP/run1.err' '$A_MAILLOG'"
hs_stop A
done_testing
