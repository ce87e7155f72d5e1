#!/bin/sh
# 0810-hostile-files.t - odd and malformed things in the hold queue.
#
# With holdscand rescanning hold every second, each of these is handled
# once and never loops, and the daemon stays up:
#   malformed queue files (truncated, lying length, five length bytes,
#   missing end record, pointer loop) go to Postfix's corrupt queue, as
#   qmgr would do, with one log line each;
#   a symlink, a hard link, a FIFO, a directory named like a queue id and a
#   root-owned file are left alone, with one log line each;
#   a file not yet ready (0600) and a name that is no queue id are ignored
#   silently; files that appear and vanish at once cause no warning;
#   a real Milter-edited file (pointer records into a heap after E) and a
#   plain one are delivered.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

DATA=$(cd "$(dirname "$0")/../data" && pwd)
CORPUS=$(cd "$(dirname "$0")/../fuzz/corpus/qfile" && pwd)
plan 23

sb_start A || bail_out "sandbox did not start"
H="$A_QUEUE/hold"
owner=$A_MAIL_OWNER

# put NAME FILE [MODE] - a file in hold as cleanup would leave it.
put() {
	cp "$2" "$H/$1" && chown "$owner:" "$H/$1" && chmod "${3:-0700}" "$H/$1"
}
plain="$DATA/held-plain.qf"
size=$(stat -c %s "$plain")

head -c $((size / 2)) "$plain" >"$HS_TMP/truncated"
put TRUNC1 "$HS_TMP/truncated"
# The T record's length byte claims 120 bytes: the records run into each other.
"$HS_PYTHON" -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[98] = 120
open(sys.argv[2], "wb").write(d)' "$plain" "$HS_TMP/lying"
put LYING1 "$HS_TMP/lying"
put FIVELEN1 "$CORPUS/crafted-five-length-bytes.qf"
head -c $((size - 2)) "$plain" >"$HS_TMP/noend"
put NOEND1 "$HS_TMP/noend"
put LOOP1 "$CORPUS/crafted-pointer-loop.qf"

ln -s "$plain" "$H/SYMLINK1"
put HARD1 "$plain"
ln "$H/HARD1" "$A_QUEUE/HARD1.link"
mkfifo "$H/FIFO1"
chown "$owner:" "$H/FIFO1"
mkdir "$H/DIR1"
cp "$plain" "$H/ROOTOWNED1"
chmod 0700 "$H/ROOTOWNED1"
put NOTREADY1 "$plain" 0600
put bad.name "$plain"

put MILTER1 "$DATA/held-milter-edit.qf"
put PLAIN1 "$plain"

hs_start A <<CONF || bail_out "holdscand did not start"
rescan_interval = 1s
CONF
# Things that come and go while holdscand watches.
i=0
while [ $i -lt 200 ]; do
	cp "$plain" "$H/VANISH$i.tmp" && chown "$owner:" "$H/VANISH$i.tmp" &&
	    chmod 0700 "$H/VANISH$i.tmp" &&
	    mv "$H/VANISH$i.tmp" "$H/VANISH$i" && rm -f "$H/VANISH$i"
	i=$((i + 1))
done
sleep 5	# several rescans

check 'holdscand is still running' hs_alive A
for f in TRUNC1 LYING1 FIVELEN1 NOEND1 LOOP1; do
	check "$f is in Postfix's corrupt queue" test -f "$A_QUEUE/corrupt/$f"
	check_eq "$f: logged once, as corrupt" \
	    "$(hs_count_log A "$f: corrupt queue file: ")" 1
done
for f in SYMLINK1 HARD1 FIFO1 DIR1 ROOTOWNED1; do
	check_eq "$f: left alone, logged once, after 5 rescans" \
	    "$(hs_count_log A "$f: .*left alone")" 1
done
check 'the FIFO and the hard link are still there' \
    test -p "$H/FIFO1" -a -f "$H/HARD1" -a -h "$H/SYMLINK1"
check_eq 'the 0600 file and the bad name are ignored silently' \
    "$(hs_count_log A 'NOTREADY1|bad\.name')" 0
check 'NOTREADY1 is delivered once cleanup "finishes" it (chmod 0700)' \
    sh -c "chmod 0700 '$H/NOTREADY1' && sleep 0.1"
vanished=$(hs_count_log A 'VANISH[0-9]+: claimed')
check 'the Milter-edited, the plain and the finished file are delivered' \
    wait_sink A $((3 + vanished)) 30
# holdscand claims most of them before rm can remove them; that is fine.
check_eq 'files that vanish cause no warning' \
    "$(grep 'warning' "$A_HS_LOG" | grep -c 'VANISH' || true)" 0
check_eq 'each one holdscand claimed first was delivered' \
    "$(hs_count_log A 'VANISH[0-9]+: claimed')" \
    "$(hs_count_log A 'VANISH[0-9]+: action=deliver new_id=')"
check_eq 'no warnings but the ones above' \
    "$(grep 'warning' "$A_HS_LOG" | grep -Evc 'corrupt queue file|left alone' || true)" 0

hs_stop A
done_testing
