#!/usr/bin/env python3
"""sendmail.py - generate test messages and send them over SMTP.

    sendmail.py [options] HOST:PORT

Sends --count messages to HOST:PORT (a sandbox's smtpd) over --sessions
parallel SMTP connections. Standard library only; works with any Python 3.9+.

Every message carries a unique token, TOKEN-PREFIX-N (N counts from 0):
in the Subject ("test TOKEN"), in "X-Test-Token: TOKEN", in the Message-ID
and in each envelope recipient (TOKEN.rK@TO-DOMAIN), so a message can be
told apart in a queue file, a postcat listing or an smtp-sink file.

Without --variety every message is a small plain-text message. With
--variety the messages cover, deterministically for a given --seed (the
first VARIETY_SCHEDULE messages each force one case; any 50 or more
messages cover them all, later ones mix them at random):
  - sizes from 200 bytes to 5 MiB (MAX_SIZE);
  - header lines over 1,000 and over 10,000 characters, as one physical
    line ("unfolded") and as folded continuation lines;
  - 8-bit bodies (sent with BODY=8BITMIME) and binary-ish bodies holding
    every byte value except NUL and CR (SMTP would turn a bare CR into a
    space) with LF only as line end, long lines, lines starting with dots;
  - bodies whose last line has no final newline;
  - 1 to 500 recipients;
  - DSN options: RET=FULL|HDRS and ENVID= on MAIL, NOTIFY= and
    ORCPT=rfc822;... on RCPT;
  - MIME messages with base64 attachments;
  - messages with an empty body and with no body at all.

The "message source" is the message as generated, with LF line ends. On the
wire each LF becomes CRLF and smtplib dot-stuffs lines starting with "." and
terminates the data with CRLF.CRLF (adding a CRLF first when the source does
not end in a newline).

--manifest FILE writes one JSON object per message, in message order:
  n, token, queue_id (from smtpd's 250 reply), size (bytes of the source),
  sender, recipients, mail_options, rcpt_options (one list per recipient),
  features, final_newline (does the source end in LF?),
  sha256 (of the exact source), body_sha256 (of the source after the first
  empty line; "" when there is no body), header_bytes.
"""

import argparse
import base64
import hashlib
import json
import random
import smtplib
import sys
import threading

MAX_SIZE = 5 * 1024 * 1024
WORDS = (b"alpha bravo charlie delta echo foxtrot golf hotel india juliet "
         b"kilo lima mike november oscar papa quebec romeo sierra tango "
         b"uniform victor whiskey xray yankee zulu the of and to in is that "
         b"queue hold scan mail postfix record").split()
# 8-bit words: UTF-8 and Latin-1 encoded text.
WORDS_8BIT = [w.encode("utf-8") for w in
              "grüße übermäßig café naïve smørrebrød łódź crème "
              "東京 Ελλάδα".split()] + [b"caf\xe9", b"stra\xdfe", b"\xa9\xae"]

# The first messages of a --variety run each force one case, so that any
# run of at least len(VARIETY_SCHEDULE) messages covers all of them.
VARIETY_SCHEDULE = [
    {"size": 200},
    {"size": MAX_SIZE, "body": "mime"},
    {"long_header": 1500},
    {"long_header": 12000},
    {"folded_header": 1500},
    {"folded_header": 12000},
    {"body": "8bit"},
    {"body": "binary"},
    {"body": "text", "no_final_newline": True},
    {"body": "binary", "no_final_newline": True},
    {"rcpts": 500},
    {"rcpts": 3, "dsn": "full"},
    {"rcpts": 2, "dsn": "hdrs"},
    {"body": "mime"},
    {"body": "dots"},
    {"body": "longlines"},
    {"size": 1024 * 1024, "body": "text"},
    {"body": "none"},
    {"body": "empty"},
    {"body": "8bit", "no_final_newline": True, "dsn": "full",
     "long_header": 3000},
    {"body": "dots", "no_final_newline": True},
]


def word_line(rng, words, length):
    """A line of random words, about length bytes, without newline."""
    out = []
    n = 0
    while n < length:
        w = rng.choice(words)
        out.append(w)
        n += len(w) + 1
    return b" ".join(out)[:length].rstrip(b" ") or b"x"


def text_lines(rng, words, nbytes, width=72):
    """Text lines (each ending in LF) of about nbytes in total."""
    lines = []
    n = 0
    while n < nbytes:
        line = word_line(rng, words, rng.randint(1, width)) + b"\n"
        lines.append(line)
        n += len(line)
    return b"".join(lines)


# Binary-ish: every byte value except NUL, CR and LF (LF only ends lines).
NO_NUL_CR_LF = bytes.maketrans(b"\x00\r\n", b"\x01\x0e\x0b")
ALL_BYTES_LINE = bytes(b for b in range(1, 256) if b not in (10, 13)) + b"\n"


def binary_lines(rng, nbytes):
    """Lines of random bytes (no NUL, CR or LF inside) ending in LF."""
    lines = [ALL_BYTES_LINE]
    n = len(ALL_BYTES_LINE)
    while n < nbytes:
        line = rng.randbytes(rng.randint(0, 200)).translate(NO_NUL_CR_LF)
        lines.append(line + b"\n")
        n += len(line) + 1
    return b"".join(lines)


def dot_lines(rng, nbytes):
    """Lines that need SMTP dot-stuffing: ".", "..", ".text", "..text"."""
    lines = [b".\n", b"..\n", b"...\n", b". \n", b".leading dot\n",
             b"..two dots\n"]
    n = sum(len(x) for x in lines)
    while n < nbytes:
        line = rng.choice([b".", b"..", b""]) + word_line(
            rng, WORDS, rng.randint(1, 60)) + b"\n"
        lines.append(line)
        n += len(line)
    return b"".join(lines)


def pad_to(body, have, want, rng, kind):
    """Append filler lines of the body's kind so the message is want bytes."""
    need = want - have
    if need <= 0:
        return body
    if kind == "binary":
        filler = binary_lines(rng, need)
    elif kind == "8bit":
        filler = text_lines(rng, WORDS_8BIT + WORDS, need)
    else:
        filler = text_lines(rng, WORDS, need)
    # Cut to size, ending in a newline.
    filler = filler[:need - 1] + b"\n"
    return body + filler


class Message:
    """One generated message and its envelope."""

    def __init__(self, n, token):
        self.n = n
        self.token = token
        self.sender = ""
        self.recipients = []
        self.mail_options = []
        self.rcpt_options = []
        self.features = []
        self.source = b""
        self.queue_id = None

    def manifest(self):
        sep = self.source.find(b"\n\n")
        body = b"" if sep < 0 else self.source[sep + 2:]
        return {
            "n": self.n,
            "token": self.token,
            "queue_id": self.queue_id,
            "size": len(self.source),
            "sender": self.sender,
            "recipients": self.recipients,
            "mail_options": self.mail_options,
            "rcpt_options": self.rcpt_options,
            "features": self.features,
            "final_newline": self.source.endswith(b"\n"),
            "sha256": hashlib.sha256(self.source).hexdigest(),
            "body_sha256": hashlib.sha256(body).hexdigest() if sep >= 0
            else "",
            "header_bytes": len(self.source) if sep < 0 else sep + 1,
        }


def random_case(rng):
    """Features of a message after the schedule: a random mix."""
    case = {}
    r = rng.random()
    if r < 0.01:
        case["size"] = rng.randint(512 * 1024, MAX_SIZE)
    elif r < 0.10:
        case["size"] = int(20000 * (25 ** rng.random()))   # 20 KB-500 KB
    else:
        case["size"] = int(200 * (100 ** rng.random()))    # 200 B-20 KB
    case["body"] = rng.choice(["text", "text", "text", "8bit", "binary",
                               "mime", "dots", "longlines", "empty"])
    if rng.random() < 0.15:
        case["no_final_newline"] = True
    if rng.random() < 0.1:
        case["long_header"] = rng.choice([1200, 11000])
    if rng.random() < 0.1:
        case["folded_header"] = rng.choice([1200, 11000])
    if rng.random() < 0.2:
        case["dsn"] = rng.choice(["full", "hdrs", "notify"])
    r = rng.random()
    if r < 0.7:
        case["rcpts"] = 1
    elif r < 0.95:
        case["rcpts"] = rng.randint(2, 5)
    else:
        case["rcpts"] = rng.randint(6, 60)
    return case


def build(n, args):
    """Generate message n. Everything comes from a random generator seeded
    by (seed, n), so a message does not depend on the others or on the
    number of sessions."""
    rng = random.Random("%d/%d" % (args.seed, n))
    token = "%s-%d" % (args.token_prefix, n)
    m = Message(n, token)
    if not args.variety:
        case = {"size": 600, "body": "text"}
    elif n < len(VARIETY_SCHEDULE):
        case = dict(VARIETY_SCHEDULE[n])
    else:
        case = random_case(rng)
    kind = case.get("body", "text")
    m.features = sorted("%s=%s" % kv for kv in case.items())

    # Envelope.
    m.sender = args.sender
    nrcpt = case.get("rcpts", 1)
    m.recipients = ["%s.r%d@%s" % (token, k, args.to_domain)
                    for k in range(nrcpt)]
    m.rcpt_options = [[] for _ in m.recipients]
    dsn = case.get("dsn")
    if dsn in ("full", "hdrs"):
        m.mail_options += ["RET=" + dsn.upper(), "ENVID=env-" + token]
    if dsn:
        notify = {"full": "SUCCESS,FAILURE", "hdrs": "NEVER",
                  "notify": "DELAY,FAILURE"}[dsn]
        for k, opts in enumerate(m.rcpt_options):
            opts.append("NOTIFY=" + notify)
            if dsn != "notify" or k % 2 == 0:
                opts.append("ORCPT=rfc822;orig.%s.%d@orig.test" % (token, k))
    if kind in ("8bit", "binary"):
        m.mail_options.append("BODY=8BITMIME")

    # Header.
    hdr = [
        b"From: <" + m.sender.encode() + b">",
        b"To: " + b", ".join(r.encode() for r in m.recipients[:3]),
        b"Subject: test " + token.encode(),
        b"Date: Thu, 01 Jan 2026 00:00:00 +0000",
        b"Message-ID: <" + token.encode() + b"@sendmail.test>",
        b"X-Test-Token: " + token.encode(),
    ]
    if "long_header" in case:
        # One physical line, far over RFC 5322's 998.
        hdr.append(b"X-Long-Unfolded: " +
                   word_line(rng, WORDS, case["long_header"]))
    if "folded_header" in case:
        want = case["folded_header"]
        parts = [b"X-Long-Folded: start"]
        total = len(parts[0])
        while total < want:
            part = b"\t" + word_line(rng, WORDS, rng.randint(20, 76))
            parts.append(part)
            total += len(part) + 1
        hdr.append(b"\n".join(parts))
    boundary = b"=_boundary_" + token.encode()
    if kind == "mime":
        hdr += [b"MIME-Version: 1.0",
                b'Content-Type: multipart/mixed; boundary="' + boundary +
                b'"']
    elif kind == "8bit":
        hdr += [b"MIME-Version: 1.0",
                b"Content-Type: text/plain; charset=utf-8",
                b"Content-Transfer-Encoding: 8bit"]
    header = b"\n".join(hdr) + b"\n"

    # Body.
    size = case.get("size", rng.randint(300, 3000))
    if kind == "none":
        m.source = header
    elif kind == "empty":
        m.source = header + b"\n"
    elif kind == "mime":
        text = text_lines(rng, WORDS, 300)
        head = (b"This is a multi-part message in MIME format.\n\n--" +
                boundary + b"\nContent-Type: text/plain\n\n" + text +
                b"\n--" + boundary +
                b"\nContent-Type: application/octet-stream\n"
                b"Content-Transfer-Encoding: base64\n"
                b'Content-Disposition: attachment; filename="data.bin"\n\n')
        tail = b"\n--" + boundary + b"--\n"
        fixed = len(header) + 1 + len(head) + len(tail)
        # base64: 4 output bytes per 3 input bytes, plus a LF per 76.
        raw = max(0, (size - fixed) * 57 // 77)
        b64 = base64.encodebytes(rng.randbytes(raw)).rstrip(b"\n")
        m.source = header + b"\n" + head + b64 + tail
        # Make up the exact size with an epilogue after the last boundary.
        m.source = pad_to(m.source, len(m.source), size, rng, "text")
    else:
        if kind == "8bit":
            body = text_lines(rng, WORDS_8BIT + WORDS, 200)
        elif kind == "binary":
            body = binary_lines(rng, 400)
        elif kind == "dots":
            body = dot_lines(rng, 300)
        elif kind == "longlines":
            # Lines over line_length_limit (2048): stored as L records.
            # The last one has undeclared 8-bit bytes (no BODY=8BITMIME).
            body = (word_line(rng, WORDS, 3000) + b"\n" +
                    word_line(rng, WORDS, 12000) + b"\n" +
                    rng.randbytes(5000).translate(NO_NUL_CR_LF) + b"\n")
        else:
            body = b"Message " + token.encode() + b"\n"
        body = pad_to(body, len(header) + 1 + len(body), size, rng, kind)
        m.source = header + b"\n" + body
    if case.get("no_final_newline"):
        # The last line keeps its text; only the newline(s) go.
        m.source = m.source.rstrip(b"\n") or b"x"
    return m


def wire(source):
    """The DATA bytes before smtplib's dot-stuffing: LF becomes CRLF."""
    return source.replace(b"\n", b"\r\n")


def send_session(host, port, messages, errors):
    """Send messages over one SMTP connection; record the queue ids."""
    try:
        smtp = smtplib.SMTP(host, port, local_hostname="sendmail.test",
                            timeout=120)
    except OSError as e:
        errors.append("connect %s:%d: %s" % (host, port, e))
        return
    try:
        code, msg = smtp.ehlo()
        if code != 250:
            raise smtplib.SMTPException("EHLO: %d %s" % (code, msg))
        for m in messages:
            code, msg = smtp.mail(m.sender, m.mail_options)
            if code != 250:
                raise smtplib.SMTPException("%s: MAIL: %d %s" %
                                            (m.token, code, msg))
            for rcpt, opts in zip(m.recipients, m.rcpt_options):
                code, msg = smtp.rcpt(rcpt, opts)
                if code != 250:
                    raise smtplib.SMTPException("%s: RCPT %s: %d %s" %
                                                (m.token, rcpt, code, msg))
            code, msg = smtp.data(wire(m.source))
            if code != 250:
                raise smtplib.SMTPException("%s: DATA: %d %s" %
                                            (m.token, code, msg))
            # Postfix: "2.0.0 Ok: queued as QUEUEID"
            words = msg.decode("ascii", "replace").split()
            if len(words) >= 2 and words[-2] == "as":
                m.queue_id = words[-1]
        smtp.quit()
    except (OSError, smtplib.SMTPException) as e:
        errors.append(str(e))
        try:
            smtp.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(
        description="Generate test messages and send them over SMTP.")
    ap.add_argument("server", help="HOST:PORT of the SMTP server")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--variety", action="store_true",
                    help="cover sizes, long headers, 8-bit, binary, DSN, "
                    "many recipients, attachments")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sessions", type=int, default=1,
                    help="parallel SMTP connections")
    ap.add_argument("--token-prefix", default=None,
                    help="default: s SEED")
    ap.add_argument("--from", dest="sender", default="sender@sendmail.test")
    ap.add_argument("--to-domain", default="sink.test")
    ap.add_argument("--manifest", help="write one JSON line per message")
    ap.add_argument("--dump", metavar="DIR",
                    help="also write each message source to DIR/TOKEN.eml")
    args = ap.parse_args()
    if args.token_prefix is None:
        args.token_prefix = "s%d" % args.seed
    host, _, port = args.server.rpartition(":")
    if not host or not port.isdigit():
        ap.error("server must be HOST:PORT")
    if args.count < 0 or args.sessions < 1:
        ap.error("bad --count or --sessions")

    messages = [build(n, args) for n in range(args.count)]
    if args.dump:
        for m in messages:
            with open("%s/%s.eml" % (args.dump, m.token), "wb") as f:
                f.write(m.source)

    # Message n goes to session n % sessions, in order.
    errors = []
    threads = []
    for s in range(min(args.sessions, max(1, args.count))):
        t = threading.Thread(target=send_session, args=(
            host, int(port), messages[s::args.sessions], errors))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()

    if args.manifest:
        with open(args.manifest, "w") as f:
            for m in messages:
                if m.queue_id is not None:
                    f.write(json.dumps(m.manifest(), sort_keys=True) + "\n")
    for e in errors:
        print("sendmail.py: %s" % e, file=sys.stderr)
    unsent = sum(1 for m in messages if m.queue_id is None)
    if errors or unsent:
        print("sendmail.py: %d of %d messages not accepted" %
              (unsent, len(messages)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
