#!/bin/sh
# 1710-phishing.t - the html plugin's phishing net (issue 17 item 3) on a
# real Postfix, with scanners = attachments, html.
#
# Phase 1 (phishing_action = tag, the default): a phishing-looking HTML
# mail (link text www.bank.example going to evil.example, a form posting
# there, an iframe) arrives with one X-Holdscan-Phishing header naming
# both hosts and what else was found, and is otherwise byte-identical
# but for X-Holdscan; a clean HTML newsletter (links to its own site, its
# subdomains, a safe-listed tracker) arrives without that header,
# byte-identical but for X-Holdscan; a Shift_JIS part whose bytes break
# that charset is examined all the same, and libxml2's encoding errors
# stay out of the log. holdscand's log and "holdscan scan" show the html
# plugin's reason.
# Phase 2 (phishing_action = block, blocked = quarantine): the phishing
# mail is quarantined, nothing of it arrives, the newsletter still does;
# "holdscan scan" says blocked and quarantine.
# Phase 3 (blocked = deliver-cleaned): the phishing mail arrives with its
# HTML part replaced by holdscan's note, its text/plain part kept.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 22

sb_start A || bail_out "sandbox did not start"
QDIR=$(sb_dir A)/hs/quarantine
M="$HS_TMP/mail"
mkdir "$M" && chmod 0755 "$M"

# --- the messages ----------------------------------------------------------
cat >"$HS_TMP/phish.py" <<'EOF'
"""phish.py write DIR | send DIR HOST:PORT NAME... | check DIR NAME SINKFILE KIND"""
import base64
import email
import email.policy
import os
import smtplib
import sys

sys.path.insert(0, os.environ["HS_LIB"])
import sinkcheck  # noqa: E402

PHISH_HTML = (
    "<html><head><title>Account</title></head><body>\n"
    "<p>Dear customer, your account is locked.</p>\n"
    "<p>Unlock it at <a href=3D\"http://evil.example/unlock\">https://www.ba=\n"
    "nk.example/unlock</a> today.</p>\n"
    "<form action=3D\"https://evil.example/post\" method=3D\"post\">\n"
    "<input name=3D\"pin\" type=3D\"password\"></form>\n"
    "<iframe src=3D\"https://evil.example/frame\"></iframe>\n"
    "</body></html>\n")

NEWS_HTML = (
    "<!DOCTYPE html><html><body><h1>Shop news</h1>\n"
    "<p>New in at <a href=\"https://www.shop.example/new\">shop.example</a>,\n"
    "see <a href=\"https://shop.example/sale\">https://shop.example/sale</a>\n"
    "or <a href=\"https://click.tracker.example/r?u=1\">www.shop.example</a>.\n"
    "<a href=\"https://cdn.shop.example/more\">Read more</a>\n"
    "<img src=\"https://cdn.shop.example/logo.png\" alt=\"logo\"></p>\n"
    "<p><a href=\"mailto:news@shop.example\">news@shop.example</a></p>\n"
    "</body></html>\n")


def message(name, subject, html, qp):
    return ("From: %s <sender@example.org>\n"
            "To: rcpt@sink.test\n"
            "Date: Mon, 23 Nov 2026 10:00:00 +0000\n"
            "Message-ID: <%s@example.org>\n"
            "X-Test-Token: phish-%s\n"
            "Subject: %s\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/alternative; boundary=\"alt1710\"\n\n"
            "--alt1710\n"
            "Content-Type: text/plain; charset=us-ascii\n\n"
            "%s, see the HTML part.\n"
            "--alt1710\n"
            "Content-Type: text/html; charset=us-ascii\n"
            "%s\n"
            "%s"
            "--alt1710--\n" % (name, name, name, subject, subject,
                               "Content-Transfer-Encoding: quoted-printable\n"
                               if qp else "", html)).encode()


# A part whose declared charset its bytes break: libxml2's encoding errors
SJIS = ("From: sjis <sender@example.org>\n"
        "To: rcpt@sink.test\n"
        "Message-ID: <sjis@example.org>\n"
        "X-Test-Token: phish-sjis\n"
        "Subject: sjis\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/html; charset=shift_jis\n"
        "Content-Transfer-Encoding: base64\n\n" +
        base64.encodebytes(
            b"<html><head><meta charset=\"shift_jis\"></head><body>"
            b"\xff\xfe\x01\x02\x81" * 20 +
            b"<a href=\"http://evil.example/\">bank.example</a>"
            b"</body></html>\n").decode())

MESSAGES = {
    "sjis": lambda: SJIS.encode(),
    "phish": lambda: message("phish", "Your account", PHISH_HTML, True),
    "news": lambda: message("news", "Shop news", NEWS_HTML, False),
}
for i in ("2", "3"):
    MESSAGES["phish" + i] = (lambda i=i: message(
        "phish" + i, "Your account", PHISH_HTML, True))
    MESSAGES["news" + i] = (lambda i=i: message(
        "news" + i, "Shop news", NEWS_HTML, False))


def write(d):
    for name, make in MESSAGES.items():
        with open(os.path.join(d, name + ".eml"), "wb") as f:
            f.write(make())


def send(d, server, names):
    host, port = server.rsplit(":", 1)
    s = smtplib.SMTP(host, int(port))
    for name in names:
        with open(os.path.join(d, name + ".eml"), "rb") as f:
            m = f.read()
        s.sendmail("sender@example.org", ["rcpt@sink.test"],
                   m.replace(b"\n", b"\r\n"))
    s.quit()


def check(d, name, path, kind):
    with open(os.path.join(d, name + ".eml"), "rb") as f:
        src = f.read()
    with open(path, "rb") as f:
        _, _, full = sinkcheck.parse_sink_file(f.read())
    if kind == "tagged":
        m = sinkcheck.strip_added_headers(
            full, [b"X-Holdscan", b"X-Holdscan-Phishing"])
        assert m == src, "content changed"
        want = (b"\nX-Holdscan-Phishing: suspected (link text shows "
                b"www.bank.example, goes to evil.example; form posting to "
                b"evil.example; iframe)\n")
        assert want in full, "no phishing header: %r" % full[:2000]
    elif kind == "same":
        m = sinkcheck.strip_added_headers(full, [b"X-Holdscan"])
        assert m == src, "content changed"
        assert b"X-Holdscan-Phishing" not in full, "phishing header"
    elif kind == "cleaned":
        got = email.message_from_bytes(full, policy=email.policy.default)
        parts = [p for p in got.walk() if not p.is_multipart()]
        assert len(parts) == 2, "%d parts" % len(parts)
        text = parts[0].get_content().strip()
        assert text == "Your account, see the HTML part.", text
        note = parts[1].get_content()
        assert parts[1].get_content_type() == "text/plain", "not a note"
        assert "holdscan removed" in note and "evil.example" in note, note
        assert b"<form" not in full and b"unlock" not in full
    else:
        raise SystemExit("unknown check " + kind)


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2])
    elif sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        check(*sys.argv[2:])
EOF
export HS_LIB

phish() {
	"$HS_PYTHON" "$HS_TMP/phish.py" "$@"
}

phish write "$M" || bail_out "cannot write the messages"
chmod 0644 "$M"/*

# in_quarantine ID - the quarantine holds the message <ID@example.org>
in_quarantine() {
	grep -rqa "Message-ID: <$1@" "$QDIR"
}

# start_html ACTION BLOCKED - holdscand with phishing_action = ACTION and
# the policy's blocked = BLOCKED
start_html() {
	hs_start A <<-EOF
	scanners = "attachments, html"
	plugin html {
	    phishing_action = $1
	    phishing_safe_sites = "tracker.example"
	}
	policy {
	    blocked = $2
	}
	EOF
}

REASON='phishing suspected: link text shows www.bank.example, goes to evil.example (and more); iframe'

# --- phase 1: tag ------------------------------------------------------------
start_html tag quarantine || bail_out "holdscand did not start"
phish send "$M" "127.0.0.1:$A_SMTP_PORT" phish news sjis ||
    bail_out "sending failed"
check 'tag: the three messages arrive at the sink' wait_sink A 3 60
check 'the phishing mail has X-Holdscan-Phishing naming both hosts, nothing else changed' \
    phish check "$M" phish "$(sink_file A phish-phish)" tagged
check 'the newsletter has no phishing header and is unchanged' \
    phish check "$M" news "$(sink_file A phish-news)" same
check "the log has the html plugin's reason, verdict clean, action deliver" \
    wait_until 60 grep -q "scanned verdict=clean action=deliver .*html=clean:$REASON" \
    "$A_HS_LOG"
"$HOLDSCAN" -c "$A_HS_CONF" scan "$M/phish.eml" >"$HS_TMP/scan1" 2>&1
check "holdscan scan shows the html plugin's reason" \
    grep -q "html.*clean.*$REASON" "$HS_TMP/scan1"
check 'and the header it would add' grep -q \
    'X-Holdscan-Phishing: suspected (link text shows www.bank.example, goes to evil.example' \
    "$HS_TMP/scan1"
"$HOLDSCAN" -c "$A_HS_CONF" scan "$M/news.eml" >"$HS_TMP/scan2" 2>&1
check_eq 'holdscan scan: the newsletter is delivered' \
    "$(sed -n 's/^action: *//p' "$HS_TMP/scan2")" "deliver"
check 'with no html reason' sh -c "! grep -q 'phishing' '$HS_TMP/scan2'"
check 'a part whose bytes break its charset is examined all the same' \
    grep -q '^X-Holdscan-Phishing: suspected (link text shows bank.example, goes to evil.example)' \
    "$(sink_file A phish-sjis)"
check "and libxml2's encoding errors do not reach the log" \
    sh -c "! grep -q 'encoding error' '$A_HS_LOG'"
check_eq 'hold is empty' "$(hold_count A)" 0
check_eq 'no warnings from holdscand' "$(hs_warnings_after A 0)" 0
hs_stop A
phase2=$(wc -l <"$A_HS_LOG")

# --- phase 2: block -> quarantine ----------------------------------------------
start_html block quarantine || bail_out "holdscand did not restart"
phish send "$M" "127.0.0.1:$A_SMTP_PORT" phish2 news2 || bail_out "sending failed"
check 'block: the phishing mail is quarantined' wait_until 60 in_quarantine phish2
check 'the newsletter arrives' wait_sink A 4 60
sleep 1
check_eq 'and nothing else' "$(sink_count A)" 4
check_eq 'the quarantine holds it alone' "$(find "$QDIR" -type f | wc -l)" 1
check 'the log: blocked, quarantined, with the reason' wait_until 60 grep -q \
    "action=quarantine verdict=blocked reason=\"$REASON\"" "$A_HS_LOG"
"$HOLDSCAN" -c "$A_HS_CONF" scan "$M/phish2.eml" >"$HS_TMP/scan3" 2>&1
check_eq 'holdscan scan says quarantine' \
    "$(sed -n 's/^action: *//p' "$HS_TMP/scan3")" "quarantine"
check 'and names the html plugin and its reason' \
    grep -q "html.*blocked.*$REASON" "$HS_TMP/scan3"
check_eq 'no warnings from holdscand' "$(hs_warnings_after A "$phase2")" 0
hs_stop A

# --- phase 3: block -> deliver-cleaned ---------------------------------------
start_html block deliver-cleaned || bail_out "holdscand did not restart"
phish send "$M" "127.0.0.1:$A_SMTP_PORT" phish3 || bail_out "sending failed"
check 'deliver-cleaned: the phishing mail arrives' wait_sink A 5 60
check 'its HTML part replaced by the note, its text part kept' \
    phish check "$M" phish3 "$(sink_file A phish-phish3)" cleaned
hs_stop A

done_testing
