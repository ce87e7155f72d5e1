#!/bin/sh
# 1765-highlight-phishing.t - highlight_phishing (MailScanner's
# "Highlight Phishing Fraud", issue 17 item 3) and html_disarm and
# highlight_phishing per rule (issue 17 item 1) on a real Postfix, with
# scanners = attachments, html (phishing_action = tag: the mail is clean).
#
# policy { highlight_phishing = clean }, and a ruleset:
#   customers.test: html_disarm = clean (and the policy's highlighting)
#   dev.test:       highlight_phishing = "" (nothing changes)
# The same HTML mail (a link whose text shows www.mybank.example and
# goes to evil.example, a link to 192.0.2.7, a fine link, a <script>,
# and an <a> text with markup characters in its href's host) goes to
# three recipients, one message each:
#   - plain.test: the HTML part has a warning after each suspicious
#     link, escaped, the fine link without one, the script still there;
#     the text/plain part byte for byte;
#   - customers.test: the warnings, and the script gone;
#   - dev.test: byte-identical but for holdscan's headers.
# The log and "holdscan scan --rcpt" say what was highlighted and which
# rule decided.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 14

sb_start A || bail_out "sandbox did not start"
M="$HS_TMP/mail"
mkdir "$M" && chmod 0755 "$M"

cat >"$HS_TMP/hl.py" <<'EOF'
"""hl.py write DIR | send DIR HOST:PORT NAME RCPT | check DIR NAME FILE KIND"""
import email
import email.policy
import os
import smtplib
import sys

sys.path.insert(0, os.environ["HS_LIB"])
import sinkcheck  # noqa: E402

HTML = (
    "<html><body>\n"
    "<p>Please confirm your account at "
    "<a href=\"http://evil.example/login\">www.mybank.example</a> today.</p>\n"
    "<p>Or <a href=\"http://192.0.2.7/confirm\">click here</a>.</p>\n"
    "<p>Our <a href=\"https://www.shop.example/\">www.shop.example</a>.</p>\n"
    "<p><a href=\"http://x&lt;b&gt;y.example/\">www.mybank.example</a></p>\n"
    "<script>steal()</script>\n"
    "</body></html>\n")

TEXT = "Please confirm your account at www.mybank.example today.\n"

NAMES = ("plain", "customers", "dev")


def message(name):
    return ("From: Bank <sender@example.org>\n"
            "To: rcpt@%s.test\n"
            "Message-ID: <hl-%s@example.org>\n"
            "X-Test-Token: hl-%s\n"
            "Subject: confirm %s\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/alternative; boundary=\"alt1765\"\n\n"
            "--alt1765\n"
            "Content-Type: text/plain; charset=us-ascii\n\n%s"
            "--alt1765\n"
            "Content-Type: text/html; charset=us-ascii\n\n%s"
            "--alt1765--\n" % (name, name, name, name, TEXT, HTML)).encode()


def write(d):
    for name in NAMES:
        with open(os.path.join(d, name + ".eml"), "wb") as f:
            f.write(message(name))


def send(d, server, name, rcpt):
    host, port = server.rsplit(":", 1)
    with open(os.path.join(d, name + ".eml"), "rb") as f:
        m = f.read()
    s = smtplib.SMTP(host, int(port))
    s.sendmail("sender@example.org", [rcpt], m.replace(b"\n", b"\r\n"))
    s.quit()


WARN1 = ("<a href=\"http://evil.example/login\">www.mybank.example</a>"
         "<span class=\"holdscan-phishing\" "
         "style=\"color:#b00000;font-weight:bold\"> [holdscan: this link may "
         "be fraud: shows www.mybank.example, goes to evil.example]</span>")
WARN2 = ("[holdscan: this link may be fraud: goes to numeric host "
         "192.0.2.7]</span>")
WARN3 = ("[holdscan: this link may be fraud: shows www.mybank.example, "
         "goes to x&lt;b&gt;y.example]</span>")


def check(d, name, path, kind):
    with open(os.path.join(d, name + ".eml"), "rb") as f:
        src = f.read()
    with open(path, "rb") as f:
        _, _, full = sinkcheck.parse_sink_file(f.read())
    if kind == "same":
        m = sinkcheck.strip_added_headers(full, [b"X-Holdscan",
                                                 b"X-Holdscan-Phishing"])
        assert m == src, "content changed"
        return
    got = email.message_from_bytes(full, policy=email.policy.default)
    parts = [p for p in got.walk() if not p.is_multipart()]
    assert len(parts) == 2, "%d parts" % len(parts)
    assert parts[0].get_content() == TEXT.rstrip("\n"), parts[0].get_content()
    h = parts[1]
    assert h.get_content_type() == "text/html", h.get_content_type()
    html = h.get_content()
    for w in (WARN1, WARN2, WARN3):
        assert w in html, "%r not in %r" % (w, html)
    assert html.count("holdscan-phishing") == 3, html
    assert ("<a href=\"https://www.shop.example/\">www.shop.example</a>."
            in html), html
    assert "<b>" not in html, html
    if kind == "highlighted":
        assert "<script>steal()</script>" in html, html
    elif kind == "disarmed":
        assert "script" not in html and "steal" not in html, html
    else:
        raise SystemExit("unknown check " + kind)


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2])
    elif sys.argv[1] == "send":
        send(*sys.argv[2:])
    else:
        check(*sys.argv[2:])
EOF
export HS_LIB

hl() {
	"$HS_PYTHON" "$HS_TMP/hl.py" "$@"
}

hl write "$M" || bail_out "cannot write the messages"
chmod 0644 "$M"/*

hs_start A <<-EOF || bail_out "holdscand did not start"
scanners = "attachments, html"
policy {
    highlight_phishing = clean
}
ruleset html {
    rule customers {
        recipient = customers.test
        policy { html_disarm = clean }
    }
    rule dev {
        recipient = dev.test
        policy { highlight_phishing = "" }
    }
}
EOF
for n in plain customers dev; do
	hl send "$M" "127.0.0.1:$A_SMTP_PORT" "$n" "rcpt@$n.test" ||
	    bail_out "sending $n failed"
done
check 'the three messages arrive at the sink' wait_sink A 3 90
check 'policy: the suspicious links are highlighted, escaped; the rest as it was' \
    hl check "$M" plain "$(sink_file A hl-plain)" highlighted
check 'a rule adds html_disarm: highlighted and disarmed' \
    hl check "$M" customers "$(sink_file A hl-customers)" disarmed
check 'a rule switches highlighting off: byte-identical but for X-Holdscan' \
    hl check "$M" dev "$(sink_file A hl-dev)" same
check 'the log says what was highlighted' wait_until 60 grep -q \
    'verdict=clean action=deliver .*disarmed="3 suspicious links highlighted"' \
    "$A_HS_LOG"
check 'and, for customers.test, disarmed and highlighted by the rule' \
    wait_until 60 grep -q \
    'verdict=clean action=deliver .*rules=html/customers disarmed="1 HTML part disarmed (1 element or attribute removed); 3 suspicious links highlighted"' \
    "$A_HS_LOG"
check 'the dev.test message was not rewritten' wait_until 60 grep -q \
    'verdict=clean action=deliver .*rules=html/dev' "$A_HS_LOG"
check_eq 'only two messages were rewritten' \
    "$(grep -c 'disarmed="' "$A_HS_LOG")" 2
check_eq 'hold is empty' "$(hold_count A)" 0
check_eq 'no warnings from holdscand' "$(hs_warnings_after A 0)" 0

"$HOLDSCAN" -c "$A_HS_CONF" scan --rcpt rcpt@customers.test \
    "$M/customers.eml" >"$HS_TMP/scan1" 2>&1
check 'holdscan scan names the rule and its setting' grep -q \
    '^rule: *rcpt@customers.test: ruleset html rule customers html_disarm="clean"' \
    "$HS_TMP/scan1"
check 'and what it would do to the HTML' grep -q \
    '^html: *1 HTML part disarmed (1 element or attribute removed); 3 suspicious links highlighted' \
    "$HS_TMP/scan1"
"$HOLDSCAN" -c "$A_HS_CONF" scan --rcpt rcpt@dev.test "$M/dev.eml" \
    >"$HS_TMP/scan2" 2>&1
check 'holdscan scan: the dev rule switches highlighting off' grep -q \
    '^rule: *rcpt@dev.test: ruleset html rule dev highlight_phishing=""' \
    "$HS_TMP/scan2"
check 'and nothing would change in the HTML' sh -c \
    "! grep -q '^html:' '$HS_TMP/scan2'"
hs_stop A

done_testing
