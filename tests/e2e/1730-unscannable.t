#!/bin/sh
# 1730-unscannable.t - what the attachments plugin cannot scan, size
# limits and TNEF on a real Postfix (issue 17 item 5), with scanners =
# attachments, max_attachment_size = 100K and blocked = quarantine.
#
# With the defaults, a message/partial piece is quarantined (partial_message
# = block) with that in the reason; an S/MIME enveloped-data message and
# a PGP/MIME multipart/encrypted one arrive byte-identical but for
# X-Holdscan (encrypted_message = allow); a 200 KiB attachment is
# quarantined, the reason naming it and its size; a winmail.dat (TNEF,
# built here per MS-OXTNEF) holding evil.exe is quarantined, the reason
# naming the file inside. After a restart with encrypted_message = block
# the same encrypted messages are quarantined, and nothing more arrives.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 12

sb_start A || bail_out "sandbox did not start"

cat >"$HS_TMP/unsc.py" <<'PY'
"""unsc.py send DIR HOST:PORT NAME... | same DIR NAME SINKFILE"""
import os
import sys

sys.path.insert(0, os.environ["HS_LIB"])
from attmail import TEXT, attach, b64, main, multipart, tnef  # noqa: E402

B = "=_holdscan_1730"
# the start of a CMS ContentInfo of type enveloped-data, then noise
CMS = (bytes([0x30, 0x82, 0x01, 0x00, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
              0xf7, 0x0d, 0x01, 0x07, 0x03, 0xa0, 0x80]) +
       bytes(i * 7 & 0xff for i in range(240)))
ARMOR = ("-----BEGIN PGP MESSAGE-----\n\n"
         "hQEMA5Zx0Fx0Zm9vAQf/dGhpcyBpcyBub3QgcmVhbGx5IGVuY3J5cHRlZA==\n"
         "=AbCd\n-----END PGP MESSAGE-----\n")


def build(name):
    if name == "partial":
        return ('Content-Type: message/partial; id="piece@example.org"; '
                "number=1; total=2\n\n"
                "From: Sender <sender@example.org>\nSubject: pieces\n"
                "Content-Type: multipart/mixed; boundary=x\n\n--x\n"
                "Content-Type: application/octet-stream; name=tool.e\n"
                "Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAE\n")
    if name in ("smime", "smime2"):
        return ("Content-Type: application/pkcs7-mime; "
                "smime-type=enveloped-data; name=smime.p7m\n"
                "Content-Disposition: attachment; filename=smime.p7m\n"
                "Content-Transfer-Encoding: base64\n\n" + b64(CMS))
    if name in ("pgp", "pgp2"):
        return ('Content-Type: multipart/encrypted; '
                'protocol="application/pgp-encrypted"; boundary="%s"\n\n'
                "--%s\nContent-Type: application/pgp-encrypted\n\n"
                "Version: 1\n\n--%s\nContent-Type: application/octet-stream; "
                'name="encrypted.asc"\n\n%s--%s--\n' % (B, B, B, ARMOR, B))
    if name == "big":
        return multipart([TEXT, attach("big.bin", "application/octet-stream",
                                       bytes(range(256)) * 800)], B)
    if name == "tnef":
        return multipart([TEXT, attach("winmail.dat", "application/ms-tnef",
                                       tnef([("report.txt", b"words\n"),
                                             ("evil.exe", b"MZ\x90\0")]))],
                         B)
    raise SystemExit("unknown message " + name)


if __name__ == "__main__":
    main("unsc-", build)
PY
export HS_LIB

unsc() {
	"$HS_PYTHON" "$HS_TMP/unsc.py" "$@"
}

start() {
	hs_start A <<-EOF
	scanners = attachments
	plugin attachments {
	    max_attachment_size = 100K
	    encrypted_message = $1
	}
	policy {
	    blocked = quarantine
	}
	EOF
}

start allow || bail_out "holdscand did not start"

unsc send "$HS_TMP" "127.0.0.1:$A_SMTP_PORT" partial smime pgp big tnef ||
    bail_out "sending failed"
check 'the S/MIME and PGP/MIME messages (encrypted_message = allow) arrive' \
    wait_sink A 2 60
check 'three messages are quarantined' \
    wait_until 60 at_least 3 hs_quarantined A
check 'message/partial is blocked by default, saying why' wait_until 30 grep -q \
    'verdict=blocked reason="message/partial: a message sent in pieces cannot be scanned (partial_message = block)"' \
    "$A_HS_LOG"
check 'a 200 KiB attachment: the reason names it and its size' wait_until 30 grep -q \
    'verdict=blocked reason="blocked attachment big.bin (204800 bytes, more than max_attachment_size 102400)"' \
    "$A_HS_LOG"
check 'a winmail.dat holding evil.exe: the reason names the file inside' \
    wait_until 30 grep -q 'verdict=blocked reason="blocked attachment name evil.exe inside winmail.dat (denied extension .exe)"' \
    "$A_HS_LOG"
hs_in_quarantine A unsc-partial && hs_in_quarantine A unsc-big &&
    hs_in_quarantine A unsc-tnef
ok $? 'the partial, oversized and TNEF messages are in the quarantine'
check 'S/MIME enveloped-data: byte-identical but for X-Holdscan' \
    unsc same "$HS_TMP" smime "$(hs_sink_file A unsc-smime)"
check 'PGP/MIME: byte-identical but for X-Holdscan' \
    unsc same "$HS_TMP" pgp "$(hs_sink_file A unsc-pgp)"

# encrypted_message = block (a restart): both are quarantined.
hs_stop A
start block || bail_out "holdscand did not restart"
unsc send "$HS_TMP" "127.0.0.1:$A_SMTP_PORT" smime2 pgp2 ||
    bail_out "sending failed"
check 'encrypted_message = block quarantines both' \
    wait_until 60 at_least 5 hs_quarantined A
check 'S/MIME: saying so' wait_until 30 grep -q \
    'verdict=blocked reason="encrypted message (S/MIME enveloped-data) cannot be scanned (encrypted_message = block)"' \
    "$A_HS_LOG"
check 'PGP/MIME: saying so' wait_until 30 grep -q \
    'verdict=blocked reason="encrypted message (PGP/MIME multipart/encrypted) cannot be scanned (encrypted_message = block)"' \
    "$A_HS_LOG"
check_eq 'nothing more arrived' "$(sink_count A)" 2
hs_stop A

done_testing
