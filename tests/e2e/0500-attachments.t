#!/bin/sh
# 0500-attachments.t - attachment rules, quarantine, deliver-cleaned and tag
# on a real Postfix, with scanners = attachments, crashtest.
#
# Phase 1 (blocked = quarantine, spam = tag): a .pdf.exe and a .scr
# attachment each leave their queue file in the quarantine directory and
# nothing at the sink; a message with crashtest's spam marker arrives with
# "[SPAM]" in front of its (folded) subject and the verdict header, one
# without a subject gets "Subject: [SPAM]"; clean mail with a PDF
# attachment arrives byte-identical but for X-Holdscan.
# Phase 2 (blocked = deliver-cleaned): the same kind of messages arrive
# with just the offending part replaced by a note; Python's email parser
# reads them as valid MIME without defects, every other part decodes to
# what was sent, and the whole message is byte-identical to the source with
# that part's text replaced. A non-multipart .exe cannot be cleaned and is
# quarantined, and the log says why.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 23

sb_start A || bail_out "sandbox did not start"

# --- the messages ----------------------------------------------------------
cat >"$HS_TMP/att.py" <<'EOF'
"""att.py send DIR HOST:PORT NAME... | check DIR KIND NAME SINKFILE [ARG]"""
import base64
import email
import email.policy
import os
import sys

sys.path.insert(0, os.environ["HS_LIB"])
import attmail  # noqa: E402
import sinkcheck  # noqa: E402

B = "=_holdscan_0500"


def b64(data):
    s = base64.b64encode(data).decode()
    return "".join(s[i:i + 76] + "\n" for i in range(0, len(s), 76))


def part(ctype, name, data):
    h = "Content-Type: %s" % ctype
    if name:
        h += '; name="%s"\nContent-Disposition: attachment; filename="%s"' % (
            name, name)
    return h + "\nContent-Transfer-Encoding: base64\n\n" + b64(data)


TEXT = ("Content-Type: text/plain; charset=us-ascii\n\n"
        "Hello,\nplease find the files attached.\n")
PDF = part("application/pdf", "report.pdf",
           b"%PDF-1.4\n" + bytes(range(256)) * 20 + b"\n%%EOF\n")
EXE = part("application/octet-stream", "invoice.pdf.exe",
           b"MZ\x90\x00\x03" + bytes(range(200)))
SCR = part("application/octet-stream", "setup.scr", b"screen saver " * 50)
ALT = ("Content-Type: multipart/alternative; boundary=\"alt\"\n\n"
       "--alt\nContent-Type: text/plain\n\nplain\n"
       "--alt\nContent-Type: text/html\n\n<p>html</p>\n--alt--\n")


def multipart(parts):
    return ("Content-Type: multipart/mixed; boundary=\"%s\"\n\n"
            "This is a multi-part message in MIME format.\n" % B +
            "".join("--%s\n%s" % (B, p if p.endswith("\n") else p + "\n")
                    for p in parts) +
            "--%s--\nepilogue\n" % B)


def message(token, subject, body):
    h = ("From: Sender <sender@example.org>\n"
         "To: rcpt@sink.test\n"
         "Date: Mon, 23 Nov 2026 10:00:00 +0000\n"
         "Message-ID: <%s@example.org>\n"
         "X-Test-Token: %s\n" % (token, token))
    if subject is not None:
        h += subject
    return (h + "MIME-Version: 1.0\n" + body).encode()


MESSAGES = {
    "pdfexe": ("Subject: your invoice\n", multipart([TEXT, PDF, EXE])),
    "scr": ("Subject: screen saver\n", multipart([TEXT, SCR])),
    "spam": ("Subject: cheap\n watches HOLDSCAN-SPAM-MARKER\n",
             "Content-Type: text/plain\n\nbuy now\n"),
    "nosubj": (None, "Content-Type: text/plain\n\nHOLDSCAN-SPAM-MARKER\n"),
    "clean": ("Subject: report\n", multipart([TEXT, PDF])),
    "pdfexe2": ("Subject: your invoice\n", multipart([TEXT, ALT, PDF, EXE])),
    "scr2": ("Subject: nested\n", multipart([
        TEXT, "Content-Type: multipart/mixed; boundary=\"in\"\n\n"
        "--in\n" + PDF + "--in\n" + SCR + "--in--\n"])),
    "single": ("Subject: bare\n",
               part("application/octet-stream", "tool.exe", b"MZ" * 40)),
}

NOTE = ("Content-Type: text/plain; charset=us-ascii\n"
        "Content-Transfer-Encoding: 7bit\n"
        "Content-Disposition: inline\n\n"
        "holdscan removed attachment %s: blocked: %s")


def differs(got, want):
    """Where two byte strings part, shown briefly."""
    i = 0
    while i < min(len(got), len(want)) and got[i] == want[i]:
        i += 1
    return "content differs at byte %d of %d (want %d): got %r, want %r" % (
        i, len(got), len(want), got[max(0, i - 40):i + 40],
        want[max(0, i - 40):i + 40])


def source(d, name):
    with open(os.path.join(d, name + ".eml"), "rb") as f:
        return f.read()


def send(d, server, names):
    attmail.send(server, [(os.path.join(d, name + ".eml"),
                           message("att-" + name, *MESSAGES[name]))
                          for name in names])


def delivered(path, added):
    with open(path, "rb") as f:
        _, _, m = sinkcheck.parse_sink_file(f.read())
    return m, sinkcheck.strip_added_headers(m, [a.encode() for a in added])


def leaves(msg):
    out = []
    for p in msg.walk():
        if p.is_multipart():
            continue
        out.append((p.get_content_type(), p.get_filename(),
                    p.get_payload(decode=True)))
    return out


def check(d, kind, name, path, arg=None):
    src = source(d, name)
    if kind == "same":
        _, m = delivered(path, ["X-Holdscan"])
        assert m == src, differs(m, src)
    elif kind == "tagged":
        full, m = delivered(path, ["X-Holdscan", "X-Holdscan-Verdict"])
        want = src.replace(b"Subject: ", b"Subject: [SPAM] ", 1)
        assert m == want, differs(m, want)
        assert (b"\nX-Holdscan-Verdict: spam (HOLDSCAN-SPAM-MARKER)\n"
                in full), "no verdict header"
    elif kind == "nosubj":
        full, m = delivered(path, ["X-Holdscan", "X-Holdscan-Verdict",
                                   "Subject"])
        assert m == src, differs(m, src)
        assert b"\nSubject: [SPAM]\n" in full, "no subject added"
    elif kind == "cleaned":
        fname, reason = arg.split("|", 1)
        full, m = delivered(path, ["X-Holdscan", "X-Holdscan-Verdict"])
        bad = [p for p in MESSAGES[name][1].split("--")
               if 'filename="%s"' % fname in p]
        assert len(bad) == 1
        body = bad[0][bad[0].index("Content-Type"):].rstrip("\n")
        want = src.replace(body.encode(), (NOTE % (fname, reason)).encode())
        assert want != src, "the part is not in the source"
        assert m == want, differs(m, want)
        got = email.message_from_bytes(full, policy=email.policy.default)
        sent = email.message_from_bytes(src, policy=email.policy.default)
        for p in got.walk():
            assert not p.defects, "defects: %r" % p.defects
        a, b = leaves(got), leaves(sent)
        assert len(a) == len(b), "%d parts, sent %d" % (len(a), len(b))
        for x, y in zip(a, b):
            if y[1] == fname:
                assert x[0] == "text/plain" and x[1] is None
                assert ("holdscan removed attachment %s" % fname).encode() \
                    in x[2]
            else:
                assert x == y, "part %r changed" % (y[1],)
    else:
        raise SystemExit("unknown check " + kind)


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        check(*sys.argv[2:])
EOF
export HS_LIB

att() {
	"$HS_PYTHON" "$HS_TMP/att.py" "$@"
}

quarantined() {
	hs_quarantined A
}

count_log() {
	hs_count_log A "$1"
}

# warnings_after N - warnings in holdscand's log after its first N lines
warnings_after() {
	tail -n "+$(($1 + 1))" "$A_HS_LOG" | grep -Ec 'warning|fatal|panic'
}

# start_blocked ACTION - holdscand with blocked = ACTION, spam = tag
start_blocked() {
	hs_start A <<-EOF
	scanners = "attachments, crashtest"
	plugin crashtest {
	    mode = verdict
	    verdict = spam
	    marker = HOLDSCAN-SPAM-MARKER
	}
	policy {
	    blocked = $1
	    spam = tag
	}
	EOF
}

# --- phase 1: quarantine and tag ---------------------------------------------
start_blocked quarantine || bail_out "holdscand did not start"

att send "$HS_TMP" "127.0.0.1:$A_SMTP_PORT" pdfexe scr spam nosubj clean ||
    bail_out "sending failed"
check 'tagged and clean mail arrives at the sink' wait_sink A 3 60
check 'two messages are quarantined' wait_until 60 at_least 2 quarantined
sleep 1
check_eq 'nothing else arrives' "$(sink_count A)" 3
check 'the .pdf.exe is blocked as a double extension' wait_until 60 grep -q \
    'action=quarantine verdict=blocked reason="blocked attachment name invoice.pdf.exe (double extension)"' \
    "$A_HS_LOG"
check 'the .scr is blocked by its extension' wait_until 60 grep -q \
    'action=quarantine verdict=blocked reason="blocked attachment name setup.scr (denied extension .scr)"' \
    "$A_HS_LOG"
check 'the quarantine holds the .pdf.exe message' \
    hs_in_quarantine A att-pdfexe
check 'the quarantine holds the .scr message' \
    hs_in_quarantine A att-scr
check 'spam: subject tagged (folded), verdict header, nothing else changed' \
    att check "$HS_TMP" tagged spam "$(hs_sink_file A att-spam)"
check 'spam without a subject: "Subject: [SPAM]" added' \
    att check "$HS_TMP" nosubj nosubj "$(hs_sink_file A att-nosubj)"
check 'clean mail with a PDF: byte-identical but for X-Holdscan' \
    att check "$HS_TMP" same clean "$(hs_sink_file A att-clean)"
check_eq 'hold is empty' "$(hold_count A)" 0
check_eq 'no warnings from holdscand' "$(warnings_after 0)" 0
hs_stop A
phase2=$(wc -l <"$A_HS_LOG")

# --- phase 2: deliver-cleaned ------------------------------------------------
start_blocked deliver-cleaned || bail_out "holdscand did not restart"

att send "$HS_TMP" "127.0.0.1:$A_SMTP_PORT" pdfexe2 scr2 single ||
    bail_out "sending failed"
check 'the cleaned messages arrive' wait_sink A 5 60
check 'the bare .exe is quarantined' wait_until 60 at_least 3 quarantined
sleep 1
check_eq 'nothing else arrives' "$(sink_count A)" 5
check '.pdf.exe replaced; valid MIME; everything else byte-identical' \
    att check "$HS_TMP" cleaned pdfexe2 "$(hs_sink_file A att-pdfexe2)" \
    'invoice.pdf.exe|blocked attachment name invoice.pdf.exe (double extension)'
check '.scr in a nested multipart replaced; the PDF beside it kept' \
    att check "$HS_TMP" cleaned scr2 "$(hs_sink_file A att-scr2)" \
    'setup.scr|blocked attachment name setup.scr (denied extension .scr)'
check 'the log names what was removed' wait_until 60 grep -q \
    'removed="invoice.pdf.exe: blocked: blocked attachment name invoice.pdf.exe (double extension)"' \
    "$A_HS_LOG"
check_eq 'two messages delivered cleaned' \
    "$(count_log ': action=deliver-cleaned new_id=')" 2
check 'the bare .exe: the log says why it was not cleaned' wait_until 60 grep -q \
    'cannot deliver cleaned: part tool.exe is the body of the message itself, not a part of a multipart; action=quarantine instead' \
    "$A_HS_LOG"
check 'and it is quarantined' \
    hs_in_quarantine A att-single
check_eq 'no warnings from holdscand' "$(warnings_after "$phase2")" 0
hs_stop A
check_eq 'hold, claimed and staging are empty' \
    "$(find "$A_QUEUE/hold" "$A_QUEUE/holdscan" -type f ! -name state.id | wc -l)" 0

done_testing
