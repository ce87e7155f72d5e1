#!/usr/bin/env python3
"""mixsend.py - send a steady mix of token-tagged test mail for torture runs.

    mixsend.py [options] HOST:PORT

Sends messages over --sessions SMTP connections until --count messages
were accepted, or until the file named by --stop-file exists. Each
message has a unique token PREFIX-KIND-N in "X-Test-Token:", in the
Subject ("torture TOKEN"), in the Message-ID and in the envelope
recipient (TOKEN@sink.test). The kinds, chosen in a fixed repeating
pattern by --mix (e.g. clean=90,infected=6,big=2,crash=2):

  clean     about 600 bytes of plain text
  infected  the EICAR test string in a plain-text body (the test
            signature of tests/tools/clamav-testdata.py finds it)
  big       --big-size bytes of text (set aside by message_size_limit)
  crash     a body holding --crash-marker (tests/plugins/crashtest.c
            crashes the worker that scans it)

Every accepted message (a 250 reply to DATA) is appended at once to the
--manifest file as "TOKEN KIND QUEUEID" (flushed per line, so the file is
complete whenever this program stops). A refused connection or a
temporary failure is retried; the message is then sent again under the
same token only if it was not accepted.

--rate limits the messages per second over all sessions (0: as fast as
Postfix takes them). Standard library only.
"""

import argparse
import os
import smtplib
import sys
import threading
import time

# The EICAR test file, put together so that this source is not itself one.
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS"
         "-TEST-FILE!$H+H*")
TEXT = ("The quick brown fox jumps over the lazy dog while the queue keeps "
        "moving.\n")


def body(kind, token, args):
    if kind == "infected":
        return "A test signature follows.\n" + EICAR + "\n"
    if kind == "big":
        line = "%s %s" % (token, TEXT)
        return line * (args.big_size // len(line) + 1)
    if kind == "crash":
        return "This one crashes the scanner: %s\n" % args.crash_marker
    return "%s\n%s" % (token, TEXT * 8)


def message(kind, token, args):
    return ("From: torture@example.org\n"
            "To: %s@sink.test\n"
            "Subject: torture %s\n"
            "Message-ID: <%s@torture.test>\n"
            "X-Test-Token: %s\n"
            "\n%s" % (token, token, token, token,
                      body(kind, token, args))).encode().replace(b"\n",
                                                                 b"\r\n")


class State:
    def __init__(self, args, pattern):
        self.args = args
        self.pattern = pattern
        self.lock = threading.Lock()
        self.next_n = 0
        self.accepted = 0
        self.errors = 0
        self.start = time.monotonic()
        self.manifest = open(args.manifest, "a", buffering=1)

    def stopping(self):
        if self.args.count and self.accepted >= self.args.count:
            return True
        return bool(self.args.stop_file) and os.path.exists(
            self.args.stop_file)

    def take(self):
        """The next message number, or None when done; keeps the rate."""
        with self.lock:
            if self.args.count and self.next_n >= self.args.count:
                return None
            n = self.next_n
            self.next_n += 1
        if self.args.rate > 0:
            due = self.start + n / self.args.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return n

    def done(self, token, kind, queue_id):
        with self.lock:
            self.manifest.write("%s %s %s\n" % (token, kind, queue_id))
            self.accepted += 1


def session(st):
    args = st.args
    smtp = None
    n = None
    while True:
        if n is None:
            if st.stopping():
                break
            n = st.take()
            if n is None:
                break
        kind = st.pattern[n % len(st.pattern)]
        token = "%s-%s-%d" % (args.prefix, kind, n)
        try:
            if smtp is None:
                smtp = smtplib.SMTP(args.host, args.port,
                                    local_hostname="mixsend.test",
                                    timeout=120)
            smtp.mail("torture@example.org")
            code, msg = smtp.rcpt("%s@sink.test" % token)
            if code != 250:
                raise smtplib.SMTPException("RCPT: %d %s" % (code, msg))
            code, msg = smtp.data(message(kind, token, args))
            if code != 250:
                raise smtplib.SMTPException("DATA: %d %s" % (code, msg))
            words = msg.decode("ascii", "replace").split()
            st.done(token, kind, words[-1] if words else "?")
            n = None
        except (OSError, smtplib.SMTPException) as e:
            with st.lock:
                st.errors += 1
            sys.stderr.write("mixsend.py: %s: %s\n" % (token, e))
            try:
                if smtp is not None:
                    smtp.close()
            except OSError:
                pass
            smtp = None
            if st.stopping():
                break
            time.sleep(0.5)
    if smtp is not None:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("server")
    ap.add_argument("--prefix", default="t")
    ap.add_argument("--count", type=int, default=0,
                    help="stop after this many (0: until --stop-file)")
    ap.add_argument("--stop-file")
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--sessions", type=int, default=2)
    ap.add_argument("--mix", default="clean=100")
    ap.add_argument("--big-size", type=int, default=300000)
    ap.add_argument("--crash-marker", default="HOLDSCAN-CRASHTEST-MARKER")
    ap.add_argument("--manifest", required=True)
    args = ap.parse_args()
    args.host, _, port = args.server.rpartition(":")
    if not args.host or not port.isdigit():
        ap.error("server must be HOST:PORT")
    args.port = int(port)
    if not args.count and not args.stop_file:
        ap.error("give --count or --stop-file")
    # The kinds spread evenly over each 100 (or sum) messages.
    weights = []
    for part in args.mix.split(","):
        kind, _, w = part.partition("=")
        if kind not in ("clean", "infected", "big", "crash") or \
                not w.isdigit():
            ap.error("bad --mix %s" % part)
        weights.append((kind, int(w)))
    total = sum(w for _, w in weights)
    pattern = []
    for i in range(total):
        # Largest remainder: the kind whose share is most behind goes next.
        best = max(weights, key=lambda kw: kw[1] * (i + 1) / total
                   - pattern.count(kw[0]))
        pattern.append(best[0])
    st = State(args, pattern)
    threads = [threading.Thread(target=session, args=(st,))
               for _ in range(max(1, args.sessions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    st.manifest.close()
    print("mixsend.py: %d accepted, %d errors" % (st.accepted, st.errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
