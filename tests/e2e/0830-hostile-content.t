#!/bin/sh
# 0830-hostile-content.t - hostile MIME through the real scanners.
#
# With clamav and attachments configured, these messages each end as the
# policy says (delivered, or quarantined: "scan failed" is quarantined
# here) within the time limit; nothing stays in hold, the daemon keeps
# going, and clean mail sent after them is delivered:
#   MIME nested 1,000 deep; a 10 MB header block; broken base64; a zip
#   bomb (zips nested 6 deep, ~10^11 bytes expanded); 100,000 parts.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

[ -f "$HS_BUILD/plugins/clamav.so" ] || skip_all "clamav plugin not built"
[ -f "$HS_BUILD/plugins/attachments.so" ] ||
    skip_all "attachments plugin not built"
plan 13

TESTDATA=$(cd "$(dirname "$0")/../tools" && pwd)/clamav-testdata.py
"$HS_PYTHON" "$TESTDATA" sigs "$HS_TMP/sigs" >/dev/null
chmod -R a+rX "$HS_TMP/sigs"

# Postfix must let the big header block through as a header, and the deep
# nesting through (its own mime_nesting_limit, 100, would refuse it).
sb_start A header_size_limit=20000000 message_size_limit=0 \
    mime_nesting_limit=2000 ||
    bail_out "sandbox did not start"
# scan_time_limit is the default, 60 s: the 100,000 parts take libclamav
# about 6 s on a quiet machine, but over 20 s once on a loaded CI machine,
# where the worker was killed and the retry logged a warning.
hs_start A <<CONF || bail_out "holdscand did not start"
scan_time_limit = 60s
worker_memory_limit = 512M
scanners = "clamav, attachments"
plugin clamav {
    database_directory = $HS_TMP/sigs
    reload_on_change = no
}
policy {
    scan_failed = quarantine
}
CONF

"$HS_PYTHON" - "$HS_TMP" <<'PY'
import io, os, sys, zipfile
d = sys.argv[1]
def write(name, text):
    with open(os.path.join(d, name + ".eml"), "w") as f:
        f.write(text)
H = "From: hostile@example.org\nTo: sink@example.net\nMIME-Version: 1.0\n"
# 1. MIME nested 1,000 deep.
s = [H + "Subject: deep\n"]
for i in range(1000):
    s.append('Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i))
s.append("Content-Type: text/plain\n\nbottom\n")
for i in reversed(range(1000)):
    s.append("--b%d--\n" % i)
write("deep", "".join(s))
# 2. A 10 MB header block.
line = "X-Filler: " + "x" * 90 + "\n"
write("bigheader", H + "Subject: big header\n" + line * 100000 +
      "\nsmall body\n")
# 3. Broken base64.
write("badb64", H + 'Subject: bad base64\nContent-Type: multipart/mixed; '
      'boundary="z"\n\n--z\nContent-Type: text/plain\n\nhi\n--z\n'
      'Content-Type: application/octet-stream; name="x.bin"\n'
      'Content-Transfer-Encoding: base64\n\n' +
      ("@@@!!!***not base64 at all===\n" * 2000) + "--z--\n")
# 4. A zip bomb: 1 MB of zeros, then 6 levels of 10 copies each.
def zipped(entries):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return b.getvalue()
blob = zipped([("zeros.bin", b"\0" * (1 << 20))])
for level in range(6):
    blob = zipped([("l%d_%d.zip" % (level, i), blob) for i in range(10)])
import base64
write("zipbomb", H + 'Subject: zip bomb\nContent-Type: multipart/mixed; '
      'boundary="z"\n\n--z\nContent-Type: text/plain\n\nsee attached\n--z\n'
      'Content-Type: application/zip; name="bomb.zip"\n'
      'Content-Transfer-Encoding: base64\n\n' +
      base64.encodebytes(blob).decode() + "--z--\n")
# 5. 100,000 parts.
parts = "".join("--p\nContent-Type: text/plain\n\n%d\n" % i
                for i in range(100000))
write("manyparts", H + 'Subject: many parts\nContent-Type: multipart/mixed; '
      'boundary="p"\n\n' + parts + "--p--\n")
PY

for m in deep bigheader badb64 zipbomb manyparts; do
	smtp-source -m 1 -F "$HS_TMP/$m.eml" -f "$m@example.org" \
	    -t sink@example.net "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
done
smtp-source -s 2 -m 20 -f clean@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1

# Each hostile message is decided: delivered (to the sink) or quarantined.
decided() {
	grep -Eq "claimed from=<$1@example.org>" "$A_HS_LOG" || return 1
	id=$(grep "claimed from=<$1@example.org>" "$A_HS_LOG" |
	    sed 's/.*\]: \([0-9A-Za-z]*\): .*/\1/' | tail -1)
	grep -Eq "]: $id: action=(deliver|quarantine|tag|deliver-cleaned|drop)" \
	    "$A_HS_LOG"
}
for m in deep bigheader badb64 zipbomb manyparts; do
	check "$m: decided within the time limits" wait_until 200 decided "$m"
done
check 'the 20 clean messages are delivered' wait_sink A 20 200
check 'holdscand is still running' hs_alive A
check_eq 'nothing is left in hold or claimed/' \
    "$(find "$A_QUEUE/hold" "$A_QUEUE/holdscan" -type f ! -name state.id | wc -l)" 0
check_eq 'no worker was killed by the kernel (OOM) or a signal other than ours' \
    "$(grep -c 'killed by signal' "$A_HS_LOG" || true)" 0
for m in deep zipbomb manyparts; do
	check "$m: not delivered as if clean" \
	    sh -c "! grep -l 'X-Mail-Args: <$m@example.org>' \
	    \$(sh '$SANDBOX' sink-list '$A_DIR') 2>/dev/null | grep -q ."
done
note "$(grep -E 'scanned verdict' "$A_HS_LOG" | grep -v 'verdict=clean action=deliver scan=[0-9.]*ms$' |
    sed 's/.*\]: //' | cut -c1-160)"
check_eq 'no warnings' "$(grep -c 'warning:' "$A_HS_LOG" || true)" 0
hs_stop A
done_testing
