#!/usr/bin/env python3
"""sinkcheck.py - check smtp-sink files against a sendmail.py manifest.

    sinkcheck.py [--added-header NAME]... MANIFEST SINKFILE...

Passes (exit 0) when every message of MANIFEST arrived exactly once among
the SINKFILEs, every SINKFILE is one of them, and each arrived intact:

  content   the message Postfix delivered, normalised as below, has the
            sha256 that the manifest gives for the message source;
  envelope  the sender, the set of recipients, RET/ENVID on MAIL and
            NOTIFY/ORCPT on each RCPT are the ones sendmail.py sent.

Normalisation of a sink file, in this order (each step checks that what
it removes is there, so a change in any of them makes the check fail):
  1. drop smtp-sink's own lines: X-Client-Addr, X-Client-Proto,
     X-Helo-Args, X-Mail-Args, X-Rcpt-Args and its three-line Received:
     header; the X-*-Args lines are the envelope as Postfix sent it;
  2. drop the Received: header that Postfix's smtpd prepended (it must
     name "(Postfix)");
  3. drop the empty line smtp-sink appends after the message;
  4. CRs: smtp-sink writes every byte except CR, and sendmail.py sends
     none inside lines, so only the CRLF line ends are gone, leaving the
     source's LF line ends;
  5. if the source had no final newline, drop the one newline that SMTP
     added (the DATA ends in CRLF.CRLF, so Postfix stores the last line as a
     complete line).
  6. with --added-header NAME (holdscan's X-Holdscan, say): the header
     block must end with exactly one NAME: field (in the order the options
     give, for several); it is removed. A message without a header/body
     separator gets one from the inserter, which is removed too.
What remains must be byte-identical to the source: Postfix must not have
added, removed, rewritten, folded or re-encoded anything.

Envelope: Postfix passes NOTIFY in its own order (compared as sets) and adds
ORCPT=rfc822;ADDRESS to a recipient that had none.

Prints one line per problem (the first SHOW of them) and a summary line on
stderr.
"""

import hashlib
import json
import re
import sys

SHOW = 20  # problems listed
SINK_PREFIX = (b"X-Client-Addr:", b"X-Client-Proto:", b"X-Helo-Args:",
               b"X-Mail-Args:", b"X-Rcpt-Args:")


class Bad(Exception):
    pass


def take_header(data, pos, name):
    """The header field starting at pos (name plus continuation lines):
    returns (field bytes, position after it)."""
    if not data.startswith(name, pos):
        raise Bad("expected %r at offset %d, found %r" %
                  (name.decode(), pos, data[pos:pos + 40]))
    end = data.find(b"\n", pos)
    while end >= 0 and data[end + 1:end + 2] in (b" ", b"\t"):
        end = data.find(b"\n", end + 1)
    if end < 0:
        raise Bad("file ends inside %r" % name.decode())
    return data[pos:end + 1], end + 1


def parse_args(text):
    """'<addr> A=B C=D' -> (addr, {A: B, C: D})"""
    m = re.match(r"<([^>]*)>(.*)$", text)
    if not m:
        raise Bad("cannot parse envelope arguments %r" % text)
    params = {}
    for p in m.group(2).split():
        k, _, v = p.partition("=")
        params[k.upper()] = v
    return m.group(1), params


def parse_sink_file(data):
    """Split a sink file: (mail args, [rcpt args], delivered message)."""
    pos = 0
    mail = None
    rcpts = []
    while data.startswith(SINK_PREFIX, pos):
        end = data.find(b"\n", pos)
        if end < 0:
            raise Bad("file ends inside smtp-sink's header")
        line = data[pos:end].decode("utf-8", "replace")
        name, _, value = line.partition(": ")
        if name == "X-Mail-Args":
            mail = parse_args(value)
        elif name == "X-Rcpt-Args":
            rcpts.append(parse_args(value))
        pos = end + 1
    if mail is None or not rcpts:
        raise Bad("no X-Mail-Args or X-Rcpt-Args: not an smtp-sink file")
    field, pos = take_header(data, pos, b"Received: ")
    if b"(smtp-sink)" not in field:
        raise Bad("smtp-sink's Received: header missing")
    field, pos = take_header(data, pos, b"Received: ")
    if b"(Postfix)" not in field:
        raise Bad("Postfix's Received: header missing: %r" % field[:80])
    if not data.endswith(b"\n") or len(data) <= pos:
        raise Bad("no empty line after the message")
    return mail, rcpts, data[pos:-1]


def token_of(message):
    """The X-Test-Token header value of a delivered message."""
    sep = message.find(b"\n\n")
    header = message if sep < 0 else message[:sep + 1]
    m = re.search(rb"^X-Test-Token: (\S+)\n", header, re.M)
    if not m:
        raise Bad("no X-Test-Token header")
    return m.group(1).decode("ascii", "replace")


def check_envelope(want, mail, rcpts):
    """Compare the envelope as delivered with the manifest entry."""
    sender, mparams = mail
    if sender != want["sender"]:
        raise Bad("sender %r, sent %r" % (sender, want["sender"]))
    for opt in want["mail_options"]:
        k, _, v = opt.partition("=")
        if k in ("RET", "ENVID") and mparams.get(k) != v:
            raise Bad("MAIL %s=%r, sent %r" % (k, mparams.get(k), v))
    for k in ("RET", "ENVID"):
        if k in mparams and not any(o.startswith(k + "=")
                                    for o in want["mail_options"]):
            raise Bad("MAIL %s=%s appeared" % (k, mparams[k]))
    got = {}
    for addr, params in rcpts:
        if addr in got:
            raise Bad("recipient %s delivered twice" % addr)
        got[addr] = params
    if sorted(got) != sorted(want["recipients"]):
        missing = sorted(set(want["recipients"]) - set(got))
        extra = sorted(set(got) - set(want["recipients"]))
        raise Bad("recipients differ: missing %s, extra %s" %
                  (missing[:5], extra[:5]))
    for addr, opts in zip(want["recipients"], want["rcpt_options"]):
        sent = dict(o.split("=", 1) for o in opts)
        params = got[addr]
        if "NOTIFY" in sent or "NOTIFY" in params:
            a = set(sent.get("NOTIFY", "").split(","))
            b = set(params.get("NOTIFY", "").split(","))
            if a != b:
                raise Bad("%s: NOTIFY=%s, sent %s" %
                          (addr, params.get("NOTIFY"), sent.get("NOTIFY")))
        orcpt = sent.get("ORCPT", "rfc822;" + addr)
        if params.get("ORCPT") != orcpt:
            raise Bad("%s: ORCPT=%s, expected %s" %
                      (addr, params.get("ORCPT"), orcpt))


HEADER_RE = re.compile(rb"[!-9;-~]+[ \t]*:")


def strip_added_headers(message, names):
    """Remove the header fields names (bytes, in order) that an inserter
    put at the end of the header block; fail if they are not exactly there.
    The header block ends as in Postfix's cleanup: at the first line that
    is empty, or neither a header nor a continuation of one."""
    if not names:
        return message
    lines = message.splitlines(keepends=True)
    fields = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line in (b"\n", b""):
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        elif HEADER_RE.match(line):
            fields.append(line)
        else:
            break
        i += 1
    rest = b"".join(lines[i:])
    if len(fields) < len(names):
        raise Bad("fewer header fields than added headers")
    tail = fields[len(fields) - len(names):]
    for field, name in zip(tail, names):
        if not field.startswith(name + b":"):
            raise Bad("expected added header %r at the end of the header, "
                      "found %r" % (name.decode(), field[:60]))
    for field in fields[:len(fields) - len(names)]:
        for name in names:
            if field.lower().startswith(name.lower() + b":"):
                raise Bad("%s appears more than once" % name.decode())
    return b"".join(fields[:len(fields) - len(names)]) + rest


def check_content(want, message):
    """Compare the delivered message with the source's hash."""
    if not want["final_newline"]:
        if not message.endswith(b"\n"):
            raise Bad("last line not terminated")
        message = message[:-1]
    if len(message) != want["size"]:
        raise Bad("size %d, sent %d" % (len(message), want["size"]))
    if hashlib.sha256(message).hexdigest() != want["sha256"]:
        raise Bad("content differs (size equal)")


def main(argv):
    added = []
    while len(argv) > 2 and argv[1] == "--added-header":
        added.append(argv[2].encode())
        argv = argv[:1] + argv[3:]
    if len(argv) < 2:
        print("usage: sinkcheck.py [--added-header NAME]... MANIFEST "
              "SINKFILE...", file=sys.stderr)
        return 2
    manifest = {}
    with open(argv[1]) as f:
        for line in f:
            entry = json.loads(line)
            manifest[entry["token"]] = entry
    seen = {}
    problems = []
    for path in argv[2:]:
        try:
            with open(path, "rb") as f:
                data = f.read()
            mail, rcpts, message = parse_sink_file(data)
            token = token_of(message)
            if token not in manifest:
                raise Bad("unknown token %s" % token)
            if token in seen:
                raise Bad("%s arrived twice (also %s)" % (token, seen[token]))
            seen[token] = path
            want = manifest[token]
            check_envelope(want, mail, rcpts)
            check_content(want, strip_added_headers(message, added))
        except (Bad, OSError) as e:
            problems.append("%s: %s" % (path, e))
    for token in sorted(set(manifest) - set(seen)):
        problems.append("%s (queue id %s): did not arrive" %
                        (token, manifest[token].get("queue_id")))
    for p in problems[:SHOW]:
        print("sinkcheck: " + p, file=sys.stderr)
    if len(problems) > SHOW:
        print("sinkcheck: (%d more problems not shown)" %
              (len(problems) - SHOW), file=sys.stderr)
    print("sinkcheck: %d messages in the manifest, %d files, %d problems" %
          (len(manifest), len(argv) - 2, len(problems)), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
