"""attmail.py - messages with attachments for the e2e tests (1720, 1730).

    import attmail          (with $HS_LIB on sys.path)

b64(data)                    base64 in 76-character lines
attach(name, ctype, data)    a named attachment part, base64
multipart(parts, boundary)   a multipart/mixed body of those parts
message(token, subject, body)  the whole message: fixed headers with
                             Message-ID <TOKEN@example.org> and
                             X-Test-Token TOKEN, then body (bytes, LF)
send(server, messages)       [(path, bytes)]: each written to path and
                             sent to HOST:PORT over SMTP (CRLF line ends)
same(want_path, sink_path)   exit with a message unless the sink file's
                             message is want_path's, but for X-Holdscan
tnef(files)                  a TNEF stream (winmail.dat) holding files
                             [(name, data)], built per MS-OXTNEF
main(prefix, build)          a test's script: "send DIR HOST:PORT NAME..."
                             sends message(PREFIX + NAME, NAME, build(NAME))
                             for each, kept as DIR/NAME.eml; "same DIR NAME
                             SINKFILE" checks one with same()
PE, TEXT                     a PE header libmagic recognises; a text part
"""
import base64
import os
import smtplib
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sinkcheck  # noqa: E402

# a PE header libmagic recognises: DOS stub to 0x40, "PE", i386, one
# section, an optional header of 0xe0 bytes, executable, PE32
PE = (b"MZ\x90" + bytes(0x39) + b"\x40\x00\x00\x00" + b"PE\x00\x00" +
      b"\x4c\x01\x01\x00" + bytes(12) + b"\xe0\x00\x02\x01" +
      b"\x0b\x01" + bytes(0xde))

TEXT = ("Content-Type: text/plain; charset=us-ascii\n\n"
        "Hello,\nplease find the files attached.\n")


def b64(data):
    s = base64.b64encode(data).decode()
    return "".join(s[i:i + 76] + "\n" for i in range(0, len(s), 76))


def attach(name, ctype, data):
    return ('Content-Type: %s; name="%s"\n'
            'Content-Disposition: attachment; filename="%s"\n'
            "Content-Transfer-Encoding: base64\n\n%s" % (ctype, name, name,
                                                         b64(data)))


def multipart(parts, boundary):
    return ("Content-Type: multipart/mixed; boundary=\"%s\"\n\n"
            "This is a multi-part message in MIME format.\n" % boundary +
            "".join("--%s\n%s" % (boundary, p) for p in parts) +
            "--%s--\n" % boundary)


def message(token, subject, body):
    return ("From: Sender <sender@example.org>\n"
            "To: rcpt@sink.test\n"
            "Date: Mon, 23 Nov 2026 10:00:00 +0000\n"
            "Message-ID: <%s@example.org>\n"
            "X-Test-Token: %s\n"
            "Subject: %s\n"
            "MIME-Version: 1.0\n" % (token, token, subject) + body).encode()


def send(server, messages):
    host, port = server.rsplit(":", 1)
    s = smtplib.SMTP(host, int(port))
    for path, m in messages:
        with open(path, "wb") as f:
            f.write(m)
        # smtplib sends bytes as they are: give it CRLF line ends
        s.sendmail("sender@example.org", ["rcpt@sink.test"],
                   m.replace(b"\n", b"\r\n"))
    s.quit()


def same(want_path, sink_path):
    with open(want_path, "rb") as f:
        want = f.read()
    with open(sink_path, "rb") as f:
        _, _, got = sinkcheck.parse_sink_file(f.read())
    got = sinkcheck.strip_added_headers(got, [b"X-Holdscan"])
    if got.replace(b"\r\n", b"\n") != want:
        raise SystemExit("%s: delivered message differs" % want_path)


def _tnef_attr(level, attr_id, data):
    return (bytes([level]) + struct.pack("<II", attr_id, len(data)) + data +
            struct.pack("<H", sum(data) & 0xffff))


def tnef(files):
    """Signature, key, attTnefVersion, attOemCodepage; per file
    attAttachRenddata (which starts an attachment), attAttachTitle and
    attAttachData."""
    b = struct.pack("<IH", 0x223e9f78, 1)
    b += _tnef_attr(1, 0x00089006, bytes([0, 0, 1, 0]))
    b += _tnef_attr(1, 0x00069007, bytes([0xe4, 4, 0, 0, 0, 0, 0, 0]))
    for name, data in files:
        b += _tnef_attr(2, 0x00069002, bytes([1, 0, 0xff, 0xff, 0xff, 0xff]) +
                        bytes(8))
        b += _tnef_attr(2, 0x00018010, name.encode() + b"\0")
        b += _tnef_attr(2, 0x0006800f, data)
    return b


def main(prefix, build):
    d = sys.argv[2]
    if sys.argv[1] == "send":
        send(sys.argv[3], [(os.path.join(d, n + ".eml"),
                            message(prefix + n, n, build(n)))
                           for n in sys.argv[4:]])
    else:
        same(os.path.join(d, sys.argv[3] + ".eml"), sys.argv[4])
