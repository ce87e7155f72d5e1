#!/bin/sh
# 1720-archives.t - the attachments plugin's archive walk, zip bomb limit
# and uuencoded names on a real Postfix (issue 17 item 5), with
# scanners = attachments and blocked = quarantine.
#
# The archives are made here with Python's zipfile and tarfile. A zip
# holding evil.exe is quarantined with the inner name in the reason, and
# so is a tar.gz holding one; a zip bomb (100 MB of zeros, about 100 KB
# sent) is blocked as such, holdscand and its workers go on, and the
# message sent after it is delivered; a text body with a uuencoded
# evil.exe is quarantined, and one with a uuencoded program named
# photo.jpg (by its decoded type); a clean zip arrives byte-identical but for
# X-Holdscan, and so does one with an encrypted entry (archive_encrypted
# = allow) until a restart with archive_encrypted = block quarantines
# the next.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 17

sb_start A || bail_out "sandbox did not start"

cat >"$HS_TMP/arc.py" <<'PY'
"""arc.py send DIR HOST:PORT NAME... | same DIR NAME SINKFILE"""
import binascii
import io
import os
import sys
import tarfile
import zipfile

sys.path.insert(0, os.environ["HS_LIB"])
from attmail import PE, TEXT, attach, main, multipart  # noqa: E402

B = "=_holdscan_1720"


def zipped(files, level=6):
    f = io.BytesIO()
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED,
                         compresslevel=level) as z:
        for name, data in files:
            z.writestr(name, data)
    return f.getvalue()


def bomb():
    """100 MB of zeros in one zip entry, written in pieces."""
    f = io.BytesIO()
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED,
                         compresslevel=9) as z:
        with z.open("zeros.txt", "w", force_zip64=False) as e:
            chunk = bytes(1024 * 1024)
            for _ in range(100):
                e.write(chunk)
    return f.getvalue()


def targz(files):
    f = io.BytesIO()
    with tarfile.open(fileobj=f, mode="w:gz") as t:
        for name, data in files:
            i = tarfile.TarInfo(name)
            i.size = len(data)
            i.mtime = 1700000000
            t.addfile(i, io.BytesIO(data))
    return f.getvalue()


def encrypted():
    """A zip whose one entry says it is encrypted (flag bit 0)."""
    z = bytearray(zipped([("secret.doc", b"\x12\x34" * 40)], level=0))
    z[6] |= 1                                   # local header flags
    cd = z.rfind(b"PK\x01\x02")
    z[cd + 8] |= 1                              # central directory flags
    return bytes(z)


def uuencoded(name, data):
    lines = "".join(binascii.b2a_uu(data[i:i + 45], backtick=True).decode()
                    for i in range(0, len(data), 45))
    return "begin 644 %s\n%s`\nend\n" % (name, lines)


def build(name):
    if name == "zipexe":
        return multipart([TEXT, attach("files.zip", "application/zip", zipped(
            [("readme.txt", b"read me\n"), ("tools/evil.exe", PE)]))], B)
    if name == "targz":
        return multipart([TEXT, attach("logs.tar.gz", "application/gzip",
                                       targz([("logs/a.log", b"x" * 500),
                                              ("logs/run.scr", b"y")]))], B)
    if name == "bomb":
        return multipart([TEXT, attach("bomb.zip", "application/zip",
                                       bomb())], B)
    if name == "uu":
        return ("Content-Type: text/plain; charset=us-ascii\n\n"
                "Hello,\nthe tool you asked for:\n\n" +
                uuencoded("evil.exe", PE) + "\nbye\n")
    if name == "uupe":
        return ("Content-Type: text/plain; charset=us-ascii\n\n"
                "Hello,\nthe photo:\n\n" + uuencoded("photo.jpg", PE) +
                "\nbye\n")
    if name == "clean":
        return multipart([TEXT, attach("report.zip", "application/zip", zipped(
            [("report.txt", b"all fine\n" * 100),
             ("data/table.csv", b"a,b\n1,2\n")]))], B)
    if name == "enc" or name == "enc2":
        return multipart([TEXT, attach("secret.zip", "application/zip",
                                       encrypted())], B)
    if name == "next":
        return "Content-Type: text/plain\n\nafter the bomb\n"
    raise SystemExit("unknown message " + name)


if __name__ == "__main__":
    main("arc-", build)
PY
export HS_LIB

arc() {
	"$HS_PYTHON" "$HS_TMP/arc.py" "$@"
}

quarantined() {
	hs_quarantined A
}

in_quarantine() {
	hs_in_quarantine A "arc-$1"
}

start() {
	hs_start A <<-EOF
	scanners = attachments
	plugin attachments {
	    archive_encrypted = $1
	}
	policy {
	    blocked = quarantine
	}
	EOF
}

start allow || bail_out "holdscand did not start"

arc send "$HS_TMP" "127.0.0.1:$A_SMTP_PORT" zipexe targz uu uupe clean enc ||
    bail_out "sending failed"
check 'the clean zip and the encrypted one (allowed) arrive' wait_sink A 2 60
check 'four messages are quarantined' wait_until 60 at_least 4 quarantined
check 'a zip holding evil.exe: the reason names the inner file' wait_until 60 grep -q \
    'verdict=blocked reason="blocked attachment name tools/evil.exe inside files.zip (denied extension .exe)"' \
    "$A_HS_LOG"
check 'a tar.gz holding a .scr: the reason names it' wait_until 60 grep -q \
    'verdict=blocked reason="blocked attachment name logs/run.scr inside logs.tar.gz (denied extension .scr)"' \
    "$A_HS_LOG"
check 'a uuencoded evil.exe in a text body is blocked' wait_until 60 grep -q \
    'verdict=blocked reason="blocked attachment name evil.exe uuencoded in the text (denied extension .exe)"' \
    "$A_HS_LOG"
check 'a uuencoded program named photo.jpg is blocked by its decoded type' \
    wait_until 60 grep -q 'verdict=blocked reason="blocked attachment photo.jpg uuencoded in the text (detected type pe: application/vnd.microsoft.portable-executable)"' \
    "$A_HS_LOG"
in_quarantine zipexe && in_quarantine targz && in_quarantine uu &&
    in_quarantine uupe
ok $? 'the zip, tar.gz and uuencode messages are in the quarantine'
check 'the clean zip: byte-identical but for X-Holdscan' \
    arc same "$HS_TMP" clean "$(hs_sink_file A arc-clean)"
check 'the encrypted zip (allowed) arrives' \
    arc same "$HS_TMP" enc "$(hs_sink_file A arc-enc)"

# The bomb first, alone; then the next message.
workers=$(hs_workers A | sort | tr '\n' ' ')
[ -n "$workers" ] || bail_out "no scanner workers found"
start_s=$(date +%s)
arc send "$HS_TMP" "127.0.0.1:$A_SMTP_PORT" bomb || bail_out "sending failed"
check 'the zip bomb is quarantined' wait_until 60 at_least 5 quarantined
check 'as a zip bomb' wait_until 60 grep -q \
    'verdict=blocked reason="blocked attachment bomb.zip (zip bomb: expands beyond archive_max_ratio, 100 times its size)"' \
    "$A_HS_LOG"
check 'within seconds' test $(($(date +%s) - start_s)) -lt 30
check 'holdscand is still running' hs_alive A
check_eq 'its workers are the same (none died)' \
    "$(hs_workers A | sort | tr '\n' ' ')" "$workers"
arc send "$HS_TMP" "127.0.0.1:$A_SMTP_PORT" next || bail_out "sending failed"
check 'the message after the bomb is delivered' wait_sink A 3 60

# archive_encrypted = block (a restart): the encrypted zip is blocked.
hs_stop A
start block || bail_out "holdscand did not restart"
arc send "$HS_TMP" "127.0.0.1:$A_SMTP_PORT" enc2 || bail_out "sending failed"
check 'archive_encrypted = block quarantines the encrypted zip' \
    wait_until 60 at_least 6 quarantined
check 'saying so' wait_until 60 grep -q \
    'verdict=blocked reason="blocked attachment secret.zip (encrypted archive: entry secret.doc inside secret.zip)"' \
    "$A_HS_LOG"
hs_stop A

done_testing
