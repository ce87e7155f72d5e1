#!/usr/bin/env python3
"""clamav-testdata.py - signatures and messages for the clamav plugin's tests.

    clamav-testdata.py sigs DIR          test signature databases into DIR
    clamav-testdata.py reload-sig DIR    add holdscan-reload.ndb to DIR
    clamav-testdata.py bad-sig DIR       add a malformed holdscan-bad.ndb
    clamav-testdata.py mail DIR          test messages into DIR (NAME.eml)
    clamav-testdata.py send HOST:PORT FROM TO FILE...
                                         send each file as one message and
                                         print "FILE QUEUEID" for each

No official ClamAV signatures exist offline, so the tests bring their own:
  holdscan-test.ndb   Holdscan.Test.EICAR, a body signature of the EICAR
                      test string (built here from its text, so no file
                      in the repository holds it)
  holdscan-test.hdb   hash signatures (md5:size:name) of files from Debian's
                      clamav-testfiles, computed now from the installed
                      files: Holdscan.Test.ClamExe (clam.exe),
                      Holdscan.Test.ClamPdf (clam.pdf)
  holdscan-reload.ndb Holdscan.Test.Reload, a body signature of RELOAD_MARKER,
                      added by the reload tests
  holdscan-bad.ndb    a malformed signature (bad hex), for failed loads
Files are written under a temporary name and renamed into place, so a
watcher never sees half a database.

Messages (LF line ends; each begins with a Received: header, as Postfix
stores them, unless said otherwise):
  clean          a plain text message
  clean-2k       about 2 KB of text        (for measurements)
  clean-50k      about 50 KB, text and a base64 attachment
  eicar-plain    the EICAR string in a text body
  eicar-b64      the EICAR file as a base64 attachment
  clam-zip       clam.zip (clam.exe inside) as an attachment
  nested-zip     outer.zip > inner.zip > clam.exe, built here with zipfile
  both           nested-zip's attachment and the EICAR attachment
  many-files     a zip with 300 small clean members
  reload         a text body holding RELOAD_MARKER
  nohint-eicar   eicar-b64 after 100 X-Pad header lines and without
                 MIME-Version: nothing libclamav takes for mail near the
                 start (it scans this as plain data unless told)
  mime-args      eicar-b64 with 300 empty parameters folded into its
                 Content-Type (libclamav's mail parser stops at 256:
                 Heuristics.Limits.Exceeded.EmailMIMEArguments)
  mime-args-clean  the same with a clean attachment
Standard library only.
"""

import base64
import hashlib
import io
import os
import re
import smtplib
import sys
import zipfile
from email.message import EmailMessage
from email.policy import default as default_policy

TESTFILES = os.environ.get("CLAMAV_TESTFILES", "/usr/share/clamav-testfiles")
# The EICAR test file, put together so that this source is not itself one.
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS"
         b"-TEST-FILE!$H+H*")
RELOAD_MARKER = b"HOLDSCAN-RELOAD-TEST-MARKER-5f1c9a"
RECEIVED = ("Received: from client.example (localhost [127.0.0.1])\n"
            "\tby mx.example (Postfix) with ESMTP id 4XyZ1abcdE\n"
            "\tfor <rcpt@example.net>; Mon,  6 Jan 2025 10:00:00 +0000"
            " (UTC)\n")


def write_atomic(path, data):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path)
                       + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def ndb_line(name, data):
    return "%s:0:*:%s\n" % (name, data.hex())


def hdb_line(name, path):
    with open(path, "rb") as f:
        data = f.read()
    return "%s:%d:%s\n" % (hashlib.md5(data).hexdigest(), len(data), name)


def cmd_sigs(d):
    os.makedirs(d, exist_ok=True)
    write_atomic(os.path.join(d, "holdscan-test.ndb"),
                 ndb_line("Holdscan.Test.EICAR", EICAR).encode())
    write_atomic(os.path.join(d, "holdscan-test.hdb"), (
        hdb_line("Holdscan.Test.ClamExe", os.path.join(TESTFILES, "clam.exe"))
        + hdb_line("Holdscan.Test.ClamPdf",
                   os.path.join(TESTFILES, "clam.pdf"))).encode())


def cmd_reload_sig(d):
    write_atomic(os.path.join(d, "holdscan-reload.ndb"),
                 ndb_line("Holdscan.Test.Reload", RELOAD_MARKER).encode())


def cmd_bad_sig(d):
    write_atomic(os.path.join(d, "holdscan-bad.ndb"),
                 b"Holdscan.Test.Bad:0:*:not-hex-at-all\n")


def zip_bytes(members):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, (2025, 1, 6, 10, 0, 0)), data)
    return b.getvalue()


def message(name, body, attachments=(), received=True):
    m = EmailMessage(policy=default_policy.clone(linesep="\n"))
    m["From"] = "sender@example.org"
    m["To"] = "rcpt@example.net"
    m["Subject"] = "clamav test " + name
    m["Message-ID"] = "<clamav-test-%s@example.org>" % name
    m["X-Test-Token"] = "clamav-" + name
    m.set_content(body)
    for fname, data in attachments:
        m.add_attachment(data, maintype="application",
                         subtype="octet-stream", filename=fname)
    text = m.as_bytes()
    return (RECEIVED.encode() if received else b"") + text


def many_params(data, n=300):
    """n empty parameters folded into the top-level Content-Type."""
    out, k = re.subn(rb'(\nContent-Type: multipart/mixed; boundary="[^"]*")',
                     lambda m: m.group(1) + b';\n\tx=""' * n, data, count=1)
    if k != 1:
        raise SystemExit("many_params: no multipart Content-Type")
    return out


def words(n, seed):
    out = []
    i = seed
    while sum(len(w) + 1 for w in out) < n:
        i = (i * 1103515245 + 12345) % (1 << 31)
        out.append("w%x" % (i % 65521))
    lines = [" ".join(out[k:k + 10]) for k in range(0, len(out), 10)]
    return "\n".join(lines) + "\n"


def cmd_mail(d):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(TESTFILES, "clam.zip"), "rb") as f:
        clam_zip = f.read()
    with open(os.path.join(TESTFILES, "clam.exe"), "rb") as f:
        clam_exe = f.read()
    nested = zip_bytes([("inner.zip", zip_bytes([("clam.exe", clam_exe)]))])
    msgs = {
        "clean": message("clean", "Hello, nothing to see here.\n"),
        "clean-2k": message("clean-2k", words(1800, 2)),
        "clean-50k": message("clean-50k", words(30000, 50),
                             [("data.bin", words(18000, 51).encode())]),
        "eicar-plain": message("eicar-plain", "The test file:\n"
                               + EICAR.decode() + "\n"),
        "eicar-b64": message("eicar-b64", "See attachment.\n",
                             [("eicar.com", EICAR)]),
        "clam-zip": message("clam-zip", "See attachment.\n",
                            [("clam.zip", clam_zip)]),
        "nested-zip": message("nested-zip", "See attachment.\n",
                              [("outer.zip", nested)]),
        "both": message("both", "Two attachments.\n",
                        [("outer.zip", nested), ("eicar.com", EICAR)]),
        "many-files": message("many-files", "Many members.\n",
                              [("many.zip", zip_bytes(
                                  [("f%02d.txt" % i, b"clean %d\n" % i)
                                   for i in range(300)]))]),
        "reload": message("reload", "Marker: " + RELOAD_MARKER.decode()
                          + "\n"),
    }
    pad = b"".join(b"X-Pad-%d: %s\n" % (i, b"p" * 70) for i in range(100))
    msgs["nohint-eicar"] = pad + message("nohint-eicar", "See attachment.\n",
                                         [("eicar.com", EICAR)],
                                         received=False).replace(
                                             b"MIME-Version: 1.0\n", b"")
    for name, attachment in (("mime-args", EICAR),
                             ("mime-args-clean", b"nothing here\n")):
        msgs[name] = many_params(message(name, "See attachment.\n",
                                         [("a.bin", attachment)]))
    for name, data in msgs.items():
        write_atomic(os.path.join(d, name + ".eml"), data)


def cmd_send(server, sender, rcpt, files):
    host, port = server.rsplit(":", 1)
    with smtplib.SMTP(host, int(port), timeout=30) as s:
        for path in files:
            with open(path, "rb") as f:
                data = f.read()
            s.mail(sender)
            code, resp = s.rcpt(rcpt)
            if code != 250:
                raise SystemExit("%s: RCPT: %d %s" % (path, code, resp))
            code, resp = s.data(data)
            if code != 250:
                raise SystemExit("%s: DATA: %d %s" % (path, code, resp))
            # "2.0.0 Ok: queued as QUEUEID"
            print(os.path.basename(path), resp.decode().split()[-1])


def main(argv):
    if len(argv) >= 3 and argv[1] == "sigs":
        cmd_sigs(argv[2])
    elif len(argv) >= 3 and argv[1] == "reload-sig":
        cmd_reload_sig(argv[2])
    elif len(argv) >= 3 and argv[1] == "bad-sig":
        cmd_bad_sig(argv[2])
    elif len(argv) >= 3 and argv[1] == "mail":
        cmd_mail(argv[2])
    elif len(argv) >= 6 and argv[1] == "send":
        cmd_send(argv[2], argv[3], argv[4], argv[5:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
