#!/bin/sh
# 1620-digest-web.t - a digest's one-click links answered by holdscan-web
# (issue 16, items 4 and 5): a link works once, only before its expiry,
# only as signed, and never on a GET.
#
# Three messages are quarantined (the test-only crashtest plugin), two
# to alice@a.example, one to bob@b.example; holdscan digest --dry-run
# prints alice's digest with its links. Through holdscan-web:
#   GET /d/TOKEN redirects to the page; GET /api/digest/TOKEN says what
#   the link is for and changes nothing (the message stays held, the
#   link still works); POST releases the message to alice only, exactly
#   once at the sink, with an audit line naming the link's recipient; a
#   second POST (and a GET) is refused as used; an altered link is
#   refused; an expired one too; bob's message stays held. In headless
#   Chromium a delete link is opened and its button pressed ("Deleted."),
#   and opened again it says the link was used. Screenshots in
#   build/screenshots/.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"
. "$HS_LIB/web.sh"

SRC=$(cd "$HS_LIB/../.." && pwd)
SHOTS=${HS_SCREENSHOTS:-$SRC/build/screenshots}

[ -x "$HS_BUILD/holdscan-web" ] || bail_out "no $HS_BUILD/holdscan-web"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] ||
    ! /usr/bin/python3 -c 'import selenium' 2>/dev/null; then
	skip_all "chromium, chromium-driver or python3-selenium is missing (make deps)"
fi
id daemon >/dev/null 2>&1 || skip_all "no system user daemon"

plan 19

sb_start A || bail_out "sandbox did not start"
WD=$(mktemp -d /tmp/hs-dweb.XXXXXX) || bail_out "mktemp"
chmod 0755 "$WD"
cp -r "$SRC/web" "$WD/ui"
mkdir "$WD/used" && chown daemon "$WD/used"
PORT=$(web_free_port)
BASE="http://127.0.0.1:$PORT"
hs_conf A >/dev/null <<EOF
scanners = crashtest
plugin crashtest {
    mode = verdict
    verdict = infected
    marker = "X-Test-Token:"
}
digest_url = $BASE/
digest_key_file = $WD/digest.key
digest_used_file = $WD/used/digest-used
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

send() {
	swaks --silent 2 --server "127.0.0.1:$A_SMTP_PORT" \
	    --from sender@sendmail.test --to "$1" \
	    --header "X-Test-Token: $2" --header "Subject: digest $2" \
	    --body "body of $2" >/dev/null || bail_out "swaks $2"
}
send alice@a.example dw-1
send alice@a.example dw-2
send bob@b.example dw-3
wait_until 180 at_least 3 hs_quarantined A || bail_out "not quarantined"

# qid TOKEN - the quarantine id of our message with that X-Test-Token
qid() {
	"$HOLDSCAN" -c "$CONF" quarantine list --json | "$HS_PYTHON" -c '
import json, sys
for e in json.load(sys.stdin):
    if e.get("subject") == "digest " + sys.argv[1]:
        print(e["id"], e.get("state", ""))' "$1"
}
Q1=$(qid dw-1 | cut -d' ' -f1)
Q2=$(qid dw-2 | cut -d' ' -f1)
if [ -z "$Q1" ] || [ -z "$Q2" ]; then
	bail_out "no quarantine ids"
fi

"$HOLDSCAN" -c "$CONF" digest --init-key >/dev/null 2>&1 ||
    bail_out "digest --init-key"
"$HOLDSCAN" -c "$CONF" digest --dry-run --recipient alice@a.example \
    >"$HS_TMP/digest.out" 2>&1 || bail_out "digest --dry-run"
links=$(grep -o "$BASE/d/[A-Za-z0-9_-]*" "$HS_TMP/digest.out" | sort -u)
# Which link is which: ask the API (GET never uses a link up).
web_start W "$CONF" "$HS_TMP/web.log" "$BASE/index.html" ||
    bail_out "holdscan-web did not start"
for u in $links; do
	t=${u##*/d/}
	curl -s "$BASE/api/digest/$t" >"$HS_TMP/look.json"
	what=$("$HS_PYTHON" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["action"], j["id"])' "$HS_TMP/look.json")
	case $what in
	"release $Q1") REL1=$t ;;
	"delete $Q2") DEL2=$t ;;
	esac
done
if [ -z "${REL1:-}" ] || [ -z "${DEL2:-}" ]; then
	bail_out "links not found in the digest"
fi

# status METHOD PATH - the HTTP status
status() {
	if [ "$1" = POST ]; then
		curl -s -o "$HS_TMP/body" -w '%{http_code}' -X POST \
		    -H 'Content-Type: application/json' -d '{}' "$BASE$2"
	else
		curl -s -o "$HS_TMP/body" -w '%{http_code}' "$BASE$2"
	fi
}
held() {
	[ "$(qid "$1" | cut -d' ' -f2)" = held ]
}

check_eq 'GET /d/TOKEN redirects to the page for it' \
    "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$BASE/d/$REL1")" \
    "303 $BASE/#/digest/$REL1"
check_eq 'GET /api/digest/TOKEN says what the link is for' \
    "$(status GET "/api/digest/$REL1") $(tr -d ' ' <"$HS_TMP/body" | grep -o '"recipient":"[^"]*"')" \
    '200 "recipient":"alice@a.example"'
check 'after GETs the message is still held (a GET never acts)' held dw-1
before=$(sink_count A)
check_eq 'POST /api/digest/TOKEN releases it' \
    "$(status POST "/api/digest/$REL1") $(tr -d ' ' <"$HS_TMP/body" | grep -o '"outcome":"[^"]*"')" \
    '200 "outcome":"done"'
check 'it reaches the sink' wait_sink A $((before + 1)) 30
check_eq 'a second POST is refused: the link was used' \
    "$(status POST "/api/digest/$REL1")" 410
check 'saying so' grep -q 'used already' "$HS_TMP/body"
check_eq 'and a GET of it too' "$(status GET "/api/digest/$REL1")" 410
sleep 3
check_eq 'the sink got it exactly once' \
    "$(grep -l 'X-Test-Token: dw-1' "$A_SINK_DIR"/* 2>/dev/null | wc -l)" 1
check 'released to alice only' sh -c "grep -l 'X-Test-Token: dw-1' \
    '$A_SINK_DIR'/* | xargs grep -il 'alice@a.example' >/dev/null"
check 'the audit line names the link recipient' wait_until 60 grep -q \
    "$Q1: action=release new_id=.* by=digest:alice@a.example via=web" \
    "$A_HS_LOG"

# An altered link: one character of the signature changed.
last=$(printf '%s' "$DEL2" | tail -c 1)
if [ "$last" = A ]; then repl=B; else repl=A; fi
ALT="$(printf '%s' "$DEL2" | sed 's/.$//')$repl"
check_eq 'an altered link is refused' "$(status POST "/api/digest/$ALT")" 403
check 'as altered' grep -q 'altered' "$HS_TMP/body"
check 'and the message stays held' held dw-2

# An expired link.
"$HOLDSCAN" -c "$CONF" digest --dry-run --recipient alice@a.example \
    --link-lifetime 1s >"$HS_TMP/short.out" 2>&1
SHORT=$(grep -o "/d/[A-Za-z0-9_-]*" "$HS_TMP/short.out" | head -1)
sleep 2
check_eq 'an expired link is refused' "$(status POST "/api/digest${SHORT#/d}")" 410
check 'as expired' grep -q 'expired' "$HS_TMP/body"

# In the browser: a delete link, pressed once, then opened again.
cat >"$HS_TMP/ui.py" <<'PY'
import os, sys, tempfile
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
url, shots = sys.argv[1], sys.argv[2]
os.makedirs(shots, exist_ok=True)
o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
          "--disable-dev-shm-usage", "--window-size=1000,700",
          "--user-data-dir=" + tempfile.mkdtemp(prefix="hs-chromium."),
          "--no-first-run", "--disable-extensions"):
    o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
d.set_page_load_timeout(30)
w = WebDriverWait(d, 15)
try:
    d.get(url)
    b = w.until(EC.element_to_be_clickable((By.ID, "digest-act")))
    d.save_screenshot(os.path.join(shots, "digest-link.png"))
    b.click()
    w.until(lambda x: x.find_element(By.ID, "digest-outcome").text != "")
    print("first:", d.find_element(By.ID, "digest-outcome").text)
    d.save_screenshot(os.path.join(shots, "digest-link-done.png"))
    d.get("about:blank")
    d.get(url)
    e = w.until(EC.presence_of_element_located((By.ID, "digest-error")))
    print("again:", e.text)
finally:
    d.quit()
PY
/usr/bin/python3 "$HS_TMP/ui.py" "$BASE/d/$DEL2" "$SHOTS" >"$HS_TMP/ui.out" 2>&1
check 'in the browser the delete link deletes it' grep -qx 'first: Deleted.' \
    "$HS_TMP/ui.out"
check 'opened again, the page says the link was used' grep -q \
    '^again: This link does not work: .*used already' "$HS_TMP/ui.out"
check_eq "the deleted message is no longer held, bob's still is" \
    "$(qid dw-2 | cut -d' ' -f2) $(qid dw-3 | cut -d' ' -f2)" "deleted held"
web_stop W
hs_stop A
rm -rf "$WD"

done_testing
