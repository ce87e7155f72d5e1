#!/bin/sh
# 1725-rule-files.t - MailScanner-format filename and filetype rule files
# in the attachments plugin (issue 17 item 5), on a real Postfix, with
# the example files holdscan ships (etc/filename.rules, etc/filetype.rules)
# and blocked = quarantine.
#
# A .docm attachment is quarantined by a filename rule, with the rule's
# line and report text in the reason; an .exe by another; a program named
# data.bin (deny_types empty, so only the rule can catch it) by a filetype
# rule on libmagic's description; a PDF arrives. A rule file with a bad
# line makes holdscand reload fail and name the line, and the rules
# running go on; holdscan scan explains the decision without Postfix.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 12

SRC=$(cd "$HS_LIB/../.." && pwd)
sb_start A || bail_out "sandbox did not start"

# The scanner parent reads the files: put them where it can.
cp "$SRC/etc/filename.rules" "$SRC/etc/filetype.rules" "$HS_TMP/"
chmod 0644 "$HS_TMP/filename.rules" "$HS_TMP/filetype.rules"

cat >"$HS_TMP/rf.py" <<'PY'
"""rf.py send DIR HOST:PORT NAME..."""
import os
import sys

sys.path.insert(0, os.environ["HS_LIB"])
from attmail import PE, TEXT, attach, main, multipart  # noqa: E402

B = "=_holdscan_1725"


def build(name):
    if name == "docm" or name == "docm2":
        return multipart([TEXT, attach("budget.docm",
                                       "application/octet-stream",
                                       b"PK\x03\x04" + bytes(60))], B)
    if name == "exe":
        return multipart([TEXT, attach("tool.exe",
                                       "application/octet-stream",
                                       b"harmless bytes")], B)
    if name == "bin":
        return multipart([TEXT, attach("data.bin",
                                       "application/octet-stream", PE)], B)
    if name == "pdf":
        return multipart([TEXT, attach("report.pdf", "application/pdf",
                                       b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n")],
                         B)
    raise SystemExit("unknown message " + name)


if __name__ == "__main__":
    main("rf-", build)
PY
export HS_LIB

rf() {
	"$HS_PYTHON" "$HS_TMP/rf.py" "$@"
}

quarantined() {
	hs_quarantined A
}

CONF=$(hs_conf A <<EOF
scanners = attachments
plugin attachments {
    deny_types = ""
    filename_rules = $HS_TMP/filename.rules
    filetype_rules = $HS_TMP/filetype.rules
}
policy {
    blocked = quarantine
}
EOF
)
hs_run A || bail_out "holdscand did not start"

rf send "$HS_TMP" "127.0.0.1:$A_SMTP_PORT" docm exe bin pdf ||
    bail_out "sending failed"
check 'the PDF arrives' wait_sink A 1 60
check 'the other three are quarantined' wait_until 60 at_least 3 quarantined
check 'a .docm: by the filename rule on macros, its line and report text' \
    wait_until 60 grep -q 'verdict=blocked reason="blocked attachment name budget.docm (filename rule line 10: Documents with macros are not accepted by mail)"' \
    "$A_HS_LOG"
check 'an .exe: by the filename rule on programs' \
    wait_until 60 grep -q 'verdict=blocked reason="blocked attachment name tool.exe (filename rule line 9: Programs and scripts are not accepted by mail)"' \
    "$A_HS_LOG"
check 'a program named data.bin: by the filetype rule on what libmagic says' \
    wait_until 60 grep -q 'verdict=blocked reason="blocked attachment data.bin (detected type filetype rule line 7: Programs are not accepted by mail)"' \
    "$A_HS_LOG"

# holdscan scan decides the same without a queue.
"$HOLDSCAN" -c "$CONF" scan "$HS_TMP/docm.eml" >"$HS_TMP/scan.out" 2>&1
check 'holdscan scan names the rule' grep -q \
    'filename rule line 10: Documents with macros are not accepted by mail' \
    "$HS_TMP/scan.out"

# A bad line: the reload fails and says where; the running rules go on.
printf 'quarantine\t\\.zip$\t-\t-\n' >>"$HS_TMP/filename.rules"
rc=0
"$HOLDSCAND" -c "$CONF" reload >"$HS_TMP/reload.out" 2>&1 || rc=$?
check 'holdscand reload refuses a rule file with a bad line' test "$rc" -ne 0
check 'the log names the file and the line' wait_until 60 grep -q \
    "$HS_TMP/filename.rules: line 13: action \"quarantine\"" "$A_HS_LOG" \
    "$HS_TMP/reload.out"
rf send "$HS_TMP" "127.0.0.1:$A_SMTP_PORT" docm2 || bail_out "sending failed"
check 'the rules running go on: the next .docm is quarantined' \
    wait_until 60 at_least 4 quarantined
check_eq 'by the same rule' "$(grep -c 'action=quarantine verdict=blocked reason="blocked attachment name budget.docm (filename rule line 10: ' "$A_HS_LOG")" 2
check 'holdscand is still running' hs_alive A
# stdout_null - every worker's stdin and stdout are /dev/null, not
# holdscand's (here its log): libytnef prints to stdout
stdout_null() {
	_sn_w=$(hs_workers A)
	[ -n "$_sn_w" ] || return 1
	for _sn_p in $_sn_w; do
		[ "$(readlink "/proc/$_sn_p/fd/1")" = /dev/null ] &&
		    [ "$(readlink "/proc/$_sn_p/fd/0")" = /dev/null ] || return 1
	done
}
check "the workers' stdin and stdout are /dev/null, not holdscand's" \
    stdout_null
hs_stop A

done_testing
