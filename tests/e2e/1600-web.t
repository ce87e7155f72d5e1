#!/bin/sh
# 1600-web.t - the web console (issue 16): holdscan-web against a private
# Postfix and holdscand, through its API and in a real browser.
#
# The test-only crashtest plugin calls every message with an X-Test-Token
# header infected, so all mail from sendmail.py is quarantined: three
# messages to a.example, two to b.example. Accounts (holdscan web user):
# admin, alice (domain admin of a.example), bob (user: the first b.example
# message's first recipient), carol (user, for the login throttle).
# holdscan-web runs as the system user daemon (the test's web { user }).
#  1. holdscan web user: add, list, passwd, del, and bad input.
#  2. tests/lib/webapi.py: security headers, login, cookie flags, each
#     role's view of the quarantine (and its sender filter: an address,
#     a domain, a substring), the message log, traces and stats,
#     403/404 for another domain's mail, CSRF-less and wrong-CSRF POSTs,
#     hostile requests (huge body, bad JSON, path traversal, bad cookie),
#     the login throttle, logout.
#  3. tests/lib/webui.py in headless Chromium: markup in a subject and a
#     body stays text (no element made, no script run); log in as each role, open,
#     release (twice: "already released"), delete, search the log, open a
#     record's detail, statistics; domain admin refused another domain's
#     message. Screenshots in build/screenshots/.
#  4. The released message reaches the sink exactly once; the deleted one
#     never; holdscand's log has the audit lines with the account.
#  5. A second holdscan-web with session_lifetime = 2s: an expired
#     session is refused, GET and POST.
#  6. holdscand refuses a control connection from another user.
#  7. HTTPS with tls_certificate and tls_key: a Secure cookie, HSTS.
#  8. With holdscand stopped the API answers 503 and holdscan-web runs on.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/web.sh"

SRC=$(cd "$HS_LIB/../.." && pwd)
SHOTS=${HS_SCREENSHOTS:-$SRC/build/screenshots}
PW='correct horse battery'

[ -x "$HS_BUILD/holdscan-web" ] || bail_out "no $HS_BUILD/holdscan-web"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] ||
    ! /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
	skip_all "chromium, chromium-driver or python3-selenium is missing (make deps)"
fi
id daemon >/dev/null 2>&1 || skip_all "no system user daemon"

sb_start A || bail_out "sandbox did not start"
# Where holdscan-web (user daemon) can reach: not the 0700 sandbox.
WD=$(mktemp -d /tmp/hs-web.XXXXXX) || bail_out "mktemp"
chmod 0755 "$WD"
cp -r "$SRC/web" "$WD/ui"
PORT=$(web_free_port)
hs_conf A >/dev/null <<EOF
scanners = crashtest
plugin crashtest {
    mode = verdict
    verdict = infected
    marker = "X-Test-Token:"
}
web {
    listen = 127.0.0.1:$PORT
    user = daemon
    control_socket = $WD/run/control.sock
    document_root = $WD/ui
    accounts_file = $WD/web-users
}
EOF
CONF="$A_DIR/hs/holdscan.conf"
hs_run A || bail_out "holdscand did not start"

plan 107

# --- 1. accounts ---------------------------------------------------------------------------
hw() {
	_hw_name=$1
	shift
	"$HOLDSCAN" -c "$CONF" web user "$@" >"$HS_TMP/$_hw_name.out" \
	    2>"$HS_TMP/$_hw_name.err"
}
"$HS_PYTHON" "$HS_LIB/sendmail.py" --count 3 --token-prefix wa \
    --to-domain a.example --manifest "$HS_TMP/a.json" \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null || bail_out "sendmail a"
"$HS_PYTHON" "$HS_LIB/sendmail.py" --count 2 --token-prefix wb \
    --to-domain b.example --manifest "$HS_TMP/b.json" \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null || bail_out "sendmail b"
# A hostile one: markup in the subject and the body, shown as text only.
swaks --silent 2 --server "127.0.0.1:$A_SMTP_PORT" --from evil@sendmail.test \
    --to evil@c.example --header "X-Test-Token: evil-0" \
    --header "Subject: <img src=x onerror=document.title='pwned'>" \
    --body "<script>document.title='pwned'</script>" >/dev/null ||
    bail_out "swaks"
BOB=$(sed -n '1s/.*"recipients": \["\([^"]*\)".*/\1/p' "$HS_TMP/b.json")

echo "$PW" | hw add1 add admin --role admin
ok $? "web user add admin --role admin"
echo "$PW" | hw add2 add alice --role domain --domain a.example
ok $? "web user add alice --role domain --domain a.example"
echo "$PW" | hw add3 add bob --role user --address "$BOB"
ok $? "web user add bob --role user --address $BOB"
echo "other" | hw add4 add carol --role user --address carol@c.example
ok $? "web user add carol"
echo "$PW" | hw pw passwd carol
ok $? "web user passwd carol"
hw list list
check_eq "web user list" "$(cat "$HS_TMP/list.out")" "admin admin
alice domain domain=a.example
bob user address=$BOB
carol user address=carol@c.example"
check_eq "the file: root's, group daemon, 0640, yescrypt hashes" \
    "$(stat -c '%U %G %a' "$WD/web-users") $(grep -c ':[$]y[$]' "$WD/web-users")" \
    "root daemon 640 4"
check_eq "no password is in the file" "$(grep -c "$PW" "$WD/web-users")" 0
echo "$PW" | hw dup add alice --role admin
check_eq "add of an existing name: exit 1, says so" \
    "$? $(grep -c 'exists already' "$HS_TMP/dup.err")" "1 1"
echo "$PW" | hw bad1 add 'Bad Name' --role admin
check_eq "a bad name: exit 2" "$?" 2
echo "$PW" | hw bad2 add dave --role domain
check_eq "a domain admin without --domain: exit 2" "$?" 2
echo "$PW" | hw bad3 add dave --role user --address 'not an address'
check_eq "a user with a bad --address: exit 2" "$?" 2
echo "$PW" | hw dave add dave --role user --address dave@a.example &&
    hw del del dave
ok $? "web user del"
hw del2 del dave
check_eq "del of an unknown account: exit 1" "$?" 1

# --- start holdscan-web --------------------------------------------------------------------
wait_until 60 sh -c "[ \$(find '$A_DIR/hs/quarantine' -type f | wc -l) -ge 6 ]"
ok $? "the six messages are quarantined"
WLOG="$HS_TMP/web.log"
web_start W "$CONF" "$WLOG" "http://127.0.0.1:$PORT/"
ok $? "holdscan-web answers on 127.0.0.1:$PORT"
WPID=$W_WEB_PID
check_eq "it runs as daemon, not root" \
    "$(ps -o user= -p "$WPID" | tr -d ' ')" daemon
check_eq "the control socket: mode 0666 (SO_PEERCRED decides)" \
    "$(stat -c '%a %F' "$WD/run/control.sock")" "666 socket"

# --- 2. the API --------------------------------------------------------------------------
"$HS_PYTHON" "$HS_LIB/webapi.py" checks "http://127.0.0.1:$PORT" "$PW" \
    >"$HS_TMP/api.out" 2>"$HS_TMP/api.err"
tap_lines "$HS_TMP/api.out" 43 webapi.py
kill -0 "$WPID" 2>/dev/null
ok $? "holdscan-web survived the hostile requests"

# --- 3. the browser ------------------------------------------------------------------------
# The ids, from holdscan (as root, read-only): the first two to a.example
# and the first to b.example.
"$HOLDSCAN" -c "$CONF" quarantine list --json >"$HS_TMP/q.json" 2>/dev/null
qid_of() {
	"$HS_PYTHON" -c 'import json,sys
for e in json.load(open(sys.argv[1])):
    if any(r.startswith(sys.argv[2] + ".") or r.split("@")[0] == sys.argv[2]
           for r in e.get("rcpts", e.get("recipients", []))):
        print(e["id"]); break' "$HS_TMP/q.json" "$1"
}
REL=$(qid_of wa-0)
DEL=$(qid_of wa-1)
OTHER=$(qid_of wb-0)
EVIL=$(qid_of evil)
check_eq "the ids to work on" "$([ -n "$REL" ] && [ -n "$DEL" ] &&
    [ -n "$OTHER" ] && [ -n "$EVIL" ] && echo found)" found
rm -rf "$SHOTS"
/usr/bin/python3 "$HS_LIB/webui.py" "http://127.0.0.1:$PORT" "$PW" "$SHOTS" \
    "$REL" "$DEL" "$OTHER" "$EVIL" >"$HS_TMP/ui.out" 2>"$HS_TMP/ui.err"
tap_lines "$HS_TMP/ui.out" 19 webui.py
grep -v "^released" "$HS_TMP/ui.err" | tail -5 | sed "s/^/# /" >&2
check_eq "screenshots of each screen" \
    "$(find "$SHOTS" -name '[0-9][0-9]-*.png' -size +2k | wc -l | tr -d ' ')" 13

# --- 4. the mail -----------------------------------------------------------------------
sink_has() {
	grep -l "^X-Test-Token: $1\$" "$A_SINK_DIR"/* 2>/dev/null | wc -l |
	    tr -d ' '
}
wait_until 60 sh -c "grep -q '^X-Test-Token: wa-0\$' '$A_SINK_DIR'/* 2>/dev/null"
ok $? "the released message reaches the sink"
sleep 3
check_eq "exactly once" "$(sink_has wa-0)" 1
check_eq "the deleted and the others never" \
    "$(sink_has wa-1)$(sink_has wa-2)$(sink_has wb-0)$(sink_has wb-1)" 0000
check_eq "holdscand's audit line: release by admin via web" \
    "$(hs_count_log A "$REL: action=release new_id=[0-9A-Za-z]+ by=admin via=web")" 1
check_eq "holdscand's audit line: delete by admin via web" \
    "$(hs_count_log A "$DEL: action=delete by=admin via=web")" 1
check_eq "holdscan quarantine show: released and deleted" \
    "$("$HOLDSCAN" -c "$CONF" quarantine show --json "$REL" |
    grep -o '"state":"[a-z]*"') $("$HOLDSCAN" -c "$CONF" quarantine show \
    --json "$DEL" | grep -o '"state":"[a-z]*"')" \
    '"state":"released" "state":"deleted"'
check_eq "holdscan-web logged logins and the CSRF refusals" \
    "$(grep -c 'web: login user=admin' "$WLOG") $(grep -c 'without the CSRF token' "$WLOG")" \
    "$(grep -c 'web: login user=admin' "$WLOG") 2"

# --- 5. an expired session -----------------------------------------------------------------
PORT2=$(web_free_port)
sed -e "s/listen = 127.0.0.1:$PORT/listen = 127.0.0.1:$PORT2/" \
    -e 's/^web {/web {\n    session_lifetime = 2s/' "$CONF" >"$WD/short.conf"
chmod 0644 "$WD/short.conf"
web_start W2 "$WD/short.conf" "$HS_TMP/web2.log" "http://127.0.0.1:$PORT2/"
ok $? "a second holdscan-web with session_lifetime = 2s"
"$HS_PYTHON" "$HS_LIB/webapi.py" expiry "http://127.0.0.1:$PORT2" "$PW" \
    >"$HS_TMP/exp.out" 2>&1
tap_lines "$HS_TMP/exp.out" 4 "webapi.py expiry"

# --- 6. another user on the control socket ----------------------------------------------------
n0=$(hs_count_log A 'control: refused a connection from uid')
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(b"{\"op\":\"qlist\",\"by\":\"x\",\"scope\":{\"role\":\"admin\"}}\n")
    sys.stdout.write(s.recv(100).decode())
except OSError:
    pass' "$WD/run/control.sock" \
    >"$HS_TMP/nobody.out" 2>&1
check_eq "holdscand answers nobody nothing" "$(cat "$HS_TMP/nobody.out")" ""
wait_until 30 sh -c "[ \$(grep -c 'control: refused a connection from uid' \
    '$A_HS_LOG') -gt $n0 ]"
ok $? "and logs the refusal"
# ctl LINE - send one line to the control socket as root, print the answer
ctl() {
	/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().readline().strip())' "$WD/run/control.sock" "$1"
}
check_eq "the control socket: a line that is not JSON is 400" \
    "$(ctl 'not json {' | grep -o '"status":[0-9]*')" '"status":400'
check_eq "a request without a scope is 400" \
    "$(ctl '{"op":"qlist","by":"x"}' | grep -o '"status":[0-9]*')" '"status":400'
check_eq "holdscand enforces the scope itself: a user sees their one message" \
    "$(ctl '{"op":"qlist","by":"x","scope":{"role":"user","addresses":["evil@c.example"]}}' |
    grep -o '"total":[0-9]*')" '"total":1'

# --- 7. HTTPS -----------------------------------------------------------------------------
PORT3=$(web_free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -keyout "$WD/key.pem" -out "$WD/cert.pem" >/dev/null 2>&1
chmod 0600 "$WD/key.pem"
sed -e "s/listen = 127.0.0.1:$PORT/listen = 127.0.0.1:$PORT3/" \
    -e "s|^web {|web {\n    tls_certificate = $WD/cert.pem\n    tls_key = $WD/key.pem|" \
    "$CONF" >"$WD/tls.conf"
chmod 0644 "$WD/tls.conf"
web_start W3 "$WD/tls.conf" "$HS_TMP/web3.log" "https://127.0.0.1:$PORT3/" -k
ok $? "holdscan-web with tls_certificate answers HTTPS (the key read before it became daemon)"
curl -sk -D "$HS_TMP/tls.h" -o /dev/null -H 'Content-Type: application/json' \
    --data "{\"name\":\"admin\",\"password\":\"$PW\"}" \
    "https://127.0.0.1:$PORT3/api/login"
check_eq "over HTTPS: the cookie is Secure, and HSTS is sent" \
    "$(grep -ci '^set-cookie:.*; Secure' "$HS_TMP/tls.h") $(grep -ci '^strict-transport-security: max-age=' "$HS_TMP/tls.h")" \
    "1 1"
web_stop W3

# --- 8. holdscand away ----------------------------------------------------------------------
cp "$CONF" "$HS_TMP/conf.orig"
sed 's/^    user = daemon$/    user = nobody/' "$HS_TMP/conf.orig" >"$CONF"
"$HOLDSCAND" -c "$CONF" reload >"$HS_TMP/reload.out" 2>&1
rc=$?
check_eq "a reload that changes web { user } is refused: it takes a restart" \
    "$([ "$rc" -ne 0 ] && echo refused) $(grep -c 'web_user changed' "$HS_TMP/reload.out")" \
    "refused 1"
cp "$HS_TMP/conf.orig" "$CONF"
curl -s -c "$HS_TMP/jar" -o /dev/null -H 'Content-Type: application/json' \
    --data "{\"name\":\"admin\",\"password\":\"$PW\"}" \
    "http://127.0.0.1:$PORT/api/login"
hs_stop A
check_eq "holdscand stopped: the API says 503, holdscan-web runs on" \
    "$(curl -s -b "$HS_TMP/jar" -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$PORT/api/quarantine") $(kill -0 "$WPID" && echo alive)" \
    "503 alive"

web_stop W
web_stop W2
rm -rf "$WD"
done_testing
