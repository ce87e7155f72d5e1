#!/bin/sh
# 1726-rename-rules.t - "rename" in a MailScanner-format filename rule
# file (issue 17 item 5: allow, deny and rename), on a real Postfix,
# with scanners = attachments and blocked = deliver-cleaned.
#
# filename.rules: rename \.html?$, deny \.exe$. One message carries a
# text part, an HTML attachment named with RFC 2231 continuations and a
# quoted filename= ("page one.html"), and tool.exe. At the sink: the
# HTML attachment is there, its content byte for byte, its
# Content-Disposition filename= and Content-Type name= both
# "page one.html.disarmed" (no name*, no old name), its other
# parameters and fields kept; tool.exe is replaced by holdscan's note;
# the text part is as it was. A message whose only fault is a renamed
# attachment arrives renamed, nothing removed. The log says what was
# renamed and why; holdscan scan shows it. With blocked = quarantine
# the same rule quarantines (rename is deliver-cleaned's).
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 12

sb_start A || bail_out "sandbox did not start"
M="$HS_TMP/mail"
mkdir "$M" && chmod 0755 "$M"
printf 'rename\t\\.html?$\tHTML file\tHTML attachments are renamed\ndeny\t\\.exe$\tProgram\t-\n' \
    >"$HS_TMP/filename.rules"
chmod 0644 "$HS_TMP/filename.rules"

cat >"$HS_TMP/rn.py" <<'EOF'
"""rn.py write DIR | send DIR HOST:PORT NAME... | check DIR NAME FILE KIND"""
import email
import email.policy
import os
import smtplib
import sys

sys.path.insert(0, os.environ["HS_LIB"])
import sinkcheck  # noqa: E402

HTML = "<html><body><p>the page</p></body></html>\n"
TEXT = "Hello,\nthe page is attached.\n"


def message(name, exe):
    parts = ["Content-Type: text/plain; charset=us-ascii\n\n" + TEXT,
             "Content-Type: text/html; charset=us-ascii;\n"
             " name*0*=utf-8''page%20o;\n"
             " name*1*=ne.html\n"
             "Content-Disposition: attachment; filename=\"page one.html\";"
             " size=43\n"
             "Content-ID: <page@example.org>\n\n" + HTML]
    if exe:
        parts.append("Content-Type: application/octet-stream; "
                     "name=\"tool.exe\"\n"
                     "Content-Disposition: attachment; filename=\"tool.exe\""
                     "\n\nharmless bytes\n")
    return ("From: Sender <sender@example.org>\n"
            "To: rcpt@sink.test\n"
            "Message-ID: <rn-%s@example.org>\n"
            "X-Test-Token: rn-%s\n"
            "Subject: %s\n"
            "MIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=\"b1726\"\n\n" %
            (name, name, name) +
            "".join("--b1726\n" + p for p in parts) +
            "--b1726--\n").encode()


MESSAGES = {"both": lambda: message("both", True),
            "html": lambda: message("html", False),
            "quar": lambda: message("quar", False)}


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
    with open(path, "rb") as f:
        _, _, full = sinkcheck.parse_sink_file(f.read())
    got = email.message_from_bytes(full, policy=email.policy.default)
    parts = [p for p in got.walk() if not p.is_multipart()]
    want = 3 if kind == "both" else 2
    assert len(parts) == want, "%d parts" % len(parts)
    assert parts[0].get_content() == TEXT.rstrip("\n"), parts[0].get_content()
    h = parts[1]
    assert h.get_filename() == "page one.html.disarmed", h.get_filename()
    assert h.get_param("name") == "page one.html.disarmed", h.get_param("name")
    assert h.get_content_type() == "text/html", h.get_content_type()
    assert h.get_param("charset") == "us-ascii", h.get_param("charset")
    assert h.get_param("size", header="content-disposition") == "43"
    assert h["Content-ID"] == "<page@example.org>", h["Content-ID"]
    assert h.get_content() == HTML.rstrip("\n"), repr(h.get_content())
    raw = full.decode()
    assert "name*" not in raw and '"page one.html"' not in raw, raw
    if kind == "both":
        note = parts[2].get_content()
        assert note.startswith("holdscan removed attachment tool.exe: "
                               "blocked: "), note
        assert "harmless bytes" not in raw, raw


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2])
    elif sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        check(*sys.argv[2:])
EOF
export HS_LIB

rn() {
	"$HS_PYTHON" "$HS_TMP/rn.py" "$@"
}

rn write "$M" || bail_out "cannot write the messages"
chmod 0644 "$M"/*

# start_rn ACTION - holdscand with the rule file, blocked = ACTION
start_rn() {
	hs_start A <<-EOF
	scanners = attachments
	plugin attachments {
	    filename_rules = $HS_TMP/filename.rules
	}
	policy {
	    blocked = $1
	}
	EOF
}

start_rn deliver-cleaned || bail_out "holdscand did not start"
rn send "$M" "127.0.0.1:$A_SMTP_PORT" both html || bail_out "sending failed"
check 'both messages arrive at the sink' wait_sink A 2 90
check 'the HTML attachment is renamed (both names, RFC 2231 too), its content and other fields kept; tool.exe removed' \
    rn check "$M" both "$(sink_file A rn-both)" both
check 'an attachment to rename alone: renamed, nothing removed' \
    rn check "$M" html "$(sink_file A rn-html)" html
check 'the log says what was renamed, and why' wait_until 60 grep -q \
    'scanned verdict=blocked action=deliver-cleaned .*renamed="page one.html to page one.html.disarmed: attachment name page one.html to be renamed (filename rule line 1: rename: HTML attachments are renamed)"' \
    "$A_HS_LOG"
check 'and what was removed beside it' wait_until 60 grep -q \
    'scanned verdict=blocked action=deliver-cleaned .*removed="tool.exe: blocked: blocked attachment name tool.exe (filename rule line 2: Program)" renamed="page one.html to ' \
    "$A_HS_LOG"
check_eq 'hold is empty' "$(hold_count A)" 0
check_eq 'no warnings from holdscand' "$(hs_warnings_after A 0)" 0
"$HOLDSCAN" -c "$A_HS_CONF" scan "$M/both.eml" >"$HS_TMP/scan1" 2>&1
check 'holdscan scan shows the renaming' grep -q \
    '^renamed: *page one.html to page one.html.disarmed: attachment name page one.html to be renamed (filename rule line 1: rename: HTML attachments are renamed)' \
    "$HS_TMP/scan1"
check 'and the removal' grep -q \
    '^cleaned: *removed tool.exe: blocked: ' "$HS_TMP/scan1"
check_eq 'and deliver-cleaned' \
    "$(sed -n 's/^action: *//p' "$HS_TMP/scan1")" deliver-cleaned
hs_stop A

# blocked = quarantine: the rename rule blocks, nothing is renamed
start_rn quarantine || bail_out "holdscand did not restart"
rn send "$M" "127.0.0.1:$A_SMTP_PORT" quar || bail_out "sending failed"
check 'with blocked = quarantine the message is quarantined' \
    wait_until 60 at_least 1 hs_quarantined A
check_eq 'and nothing more arrives' "$(sink_count A)" 2
hs_stop A

done_testing
