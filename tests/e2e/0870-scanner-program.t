#!/bin/sh
# 0870-scanner-program.t - the scanner program is the only holdscan
# program that loads plugins, libclamav and GMime, and plugins see
# nothing of holdscan but plugin.h (issue 12, items 1-3).
#
# 1. holdscand and holdscan link no libclamav, GMime, libdl or
#    libseccomp (readelf -d; nor does anything they link, ldd); the
#    scanner program links no libpq (a farm's database); and they call
#    no dlopen(3) (nm); holdscan-scanner does, so the checks can see them.
# 2. Each plugin exports its descriptor, hs_plugin, and nothing else,
#    and links its own libraries only (libclamav, libmagic, libarchive,
#    libytnef, PCRE2, libxml2, libc).
# 3. With every plugin configured and mail scanned by all of them,
#    holdscand's master and its scanner supervisor map no libclamav,
#    GMime, libdl or plugin (/proc/PID/maps); the scanner parent maps
#    them (so the reading of maps works).
# 4. A plugin built for plugin ABI 1 (the test plugin oldabi) is refused
#    by holdscan check-config, holdscand -n and holdscand's start, with
#    a message that names version 1 and version 2.
# 5. A bad plugin option is reported with its file and line by
#    check-config, holdscand -n and holdscand's start (exit 78), an option
#    no plugin has too; at SIGHUP the reload is refused with the same
#    line: no new engine, the running option still scans. Fixed, the
#    reload is taken.
# 6. No process running as root loads a plugin: with LD_DEBUG=files,
#    every process whose loader shows a plugin dlopen(3)ed ran as
#    worker_user (the owner of its LD_DEBUG_OUTPUT file), for holdscan
#    check-config, holdscan scan, holdscand -n and a running holdscand;
#    the root processes' files show no plugin, libclamav or GMime.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

SRC=$(cd "$HS_LIB/../.." && pwd)
TESTDATA="$HS_LIB/../tools/clamav-testdata.py"
[ -r /usr/share/clamav-testfiles/clam.zip ] ||
    skip_all "clamav-testfiles is not installed (make deps)"
PLUGINS=$(cd "$SRC/plugins" && for f in *.c; do echo "${f%.c}"; done)

plan $((6 + 2 * $(echo "$PLUGINS" | wc -w) + 1 + 2 + 5 + 3 + 11 + 8))

# needed FILE - the libraries FILE names as NEEDED, one a line
needed() {
	readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'
}

# --- 1. link lines ------------------------------------------------------------------
for p in holdscand holdscan; do
	check_eq "$p links no libclamav, GMime, libdl or libseccomp" \
	    "$(needed "$HS_BUILD/$p" | grep -E '^lib(clamav|gmime|dl|seccomp)[.-]')" ""
	check_eq "$p: nor does anything it links (ldd)" \
	    "$(ldd "$HS_BUILD/$p" | grep -E 'lib(clamav|gmime|dl|seccomp)[.-]')" ""
	check_eq "$p calls no dlopen(3)" \
	    "$(nm -D --undefined-only "$HS_BUILD/$p" |
	    grep -Ew 'dl(m?open|sym|vsym)')" ""
done

# libpq (a farm's database) is the master's and the tool's, never the
# scanner program's.
check_eq 'holdscan-scanner links no libpq (nor does anything it links)' \
    "$(ldd "$HS_BUILD/holdscan-scanner" | grep -E 'libpq[.]')" ""
check_eq 'so the check sees: holdscand and holdscan link libpq' \
    "$(needed "$HS_BUILD/holdscand" | grep -c '^libpq[.]'):$(needed \
    "$HS_BUILD/holdscan" | grep -c '^libpq[.]')" 1:1

# --- 2. the plugins ---------------------------------------------------------------
for n in $PLUGINS; do
	so="$HS_BUILD/plugins/$n.so"
	check_eq "$n.so exports hs_plugin alone" \
	    "$(nm -D --defined-only "$so" | awk '{ print $NF }')" hs_plugin
	check_eq "$n.so links its own libraries only" \
	    "$(needed "$so" |
	    grep -Ev '^(libc\.so\.6|libclamav\.so\.[0-9]+|libmagic\.so\.1|libarchive\.so\.13|libytnef\.so\.0|libpcre2-8\.so\.0|libxml2\.so\.2)$')" ""
done
check_eq 'so the checks see: clamav.so links libclamav, attachments.so libmagic, libarchive and libytnef, headers.so PCRE2, html.so libxml2, holdscan-scanner GMime, libseccomp and dlopen(3)' \
    "$(needed "$HS_BUILD/plugins/clamav.so" | grep -c '^libclamav'):$(needed \
    "$HS_BUILD/plugins/attachments.so" | grep -c '^lib\(magic\|archive\|ytnef\)\.'):$(needed \
    "$HS_BUILD/plugins/headers.so" | grep -c '^libpcre2-8'):$(needed \
    "$HS_BUILD/plugins/html.so" | grep -c '^libxml2'):$(needed \
    "$HS_BUILD/holdscan-scanner" | grep -c '^libgmime'):$(needed \
    "$HS_BUILD/holdscan-scanner" | grep -c '^libseccomp'):$(nm -D \
    --undefined-only "$HS_BUILD/holdscan-scanner" | grep -cw dlopen)" \
    "1:3:1:1:1:1:1"

# --- 3. a running holdscand with every plugin --------------------------------------
SIGS="$HS_TMP/sigs"
"$HS_PYTHON" "$TESTDATA" sigs "$SIGS" >/dev/null ||
    bail_out "clamav-testdata.py failed"
RULES="$HS_TMP/rules"
mkdir "$RULES" && chmod 0755 "$RULES" && cp "$SRC/etc/header_rules" "$RULES/"
sb_start A || bail_out "sandbox did not start"
CONF=$(hs_conf A <<EOF
batch_max_wait = 20ms
scanners = "clamav, attachments, headers, spamd"
plugin clamav {
    database_directory = $SIGS
    cache = no
}
plugin headers {
    rules_file = $RULES/header_rules
}
plugin spamd {
    address = 127.0.0.1:1
    timeout = 1s
}
EOF
)
hs_run A || bail_out "holdscand did not start"
smtp-source -m 3 -f all@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
check 'mail is scanned by all four plugins and delivered' wait_sink A 3 60
check_eq 'each by clamav, attachments, headers and spamd' \
    "$(hs_count_log A 'scanned verdict=clean .*plugins=clamav=clean attachments=clean headers=clean spamd=')" 3

# libs PID - what of interest PID maps: libclamav, GMime, libdl, plugins
libs() {
	awk '{ print $6 }' "/proc/$1/maps" |
	    grep -E '/(lib(clamav|gmime-3\.0|dl)[.-][^/]*|plugins/[^/]*\.so)$' |
	    sed 's|.*/||' | sort -u | tr '\n' ' '
}
check_eq 'the running master maps no libclamav, GMime, libdl or plugin' \
    "$(libs "$A_HS_PID")" ""
check_eq 'nor does the scanner supervisor' "$(libs "$(hs_supervisor A)")" ""
parent_libs=$(libs "$(hs_scanner_parent A)")
check "the scanner parent maps them ($parent_libs)" sh -c "
    echo '$parent_libs' | grep -q 'clamav.so' &&
    echo '$parent_libs' | grep -q 'libclamav' &&
    echo '$parent_libs' | grep -q 'libgmime'"
hs_stop A

# --- 4. a plugin of the old ABI ---------------------------------------------------
hs_conf A >/dev/null <<EOF
scanners = oldabi
EOF
want="$CONF: plugin oldabi: $(sb_dir A)/hs/plugins/oldabi.so: built for plugin ABI version 1, but this holdscan expects version 2; rebuild the plugin against this holdscan's holdscan/plugin.h"
rc=0
"$HOLDSCAN" -c "$CONF" check-config >"$HS_TMP/o.out" 2>&1 || rc=$?
check_eq 'check-config refuses a plugin of ABI 1, naming both versions' \
    "$rc:$(cat "$HS_TMP/o.out")" "78:$want"
rc=0
"$HOLDSCAND" -n -c "$CONF" >"$HS_TMP/o.out" 2>&1 || rc=$?
check_eq 'so does holdscand -n' "$rc:$(head -n 1 "$HS_TMP/o.out")" "78:$want"
rc=0
timeout 60 "$HOLDSCAND" -f -c "$CONF" >"$HS_TMP/o.out" 2>&1 || rc=$?
check_eq 'and holdscand does not start' \
    "$rc:$(head -n 1 "$HS_TMP/o.out"):$(sed -n '2s/^holdscand\[[0-9]*\]: //p' \
    "$HS_TMP/o.out")" "78:$want:fatal: $CONF: configuration errors, not started"

# --- 5. a bad plugin option ----------------------------------------------------------
# conf5 MARK DELAY - crashtest blocks what carries MARK, after DELAY
conf5() {
	hs_conf A >/dev/null <<EOF
batch_max_wait = 20ms
scanners = crashtest
plugin crashtest {
    mode = verdict
    verdict = blocked
    marker = $1
    delay_ms = $2
}
EOF
}
conf5 NEW-MARK soon
line=$(grep -n 'delay_ms = soon' "$CONF" | cut -d: -f1)
want="$CONF:$line: plugin crashtest: delay_ms = \"soon\": bad time (use a number with ms, s, m, h or d)"
rc=0
"$HOLDSCAN" -c "$CONF" check-config >"$HS_TMP/b.out" 2>&1 || rc=$?
check_eq 'check-config: a bad plugin option, with file and line' \
    "$rc:$(cat "$HS_TMP/b.out")" "78:$want"
rc=0
"$HOLDSCAND" -n -c "$CONF" >"$HS_TMP/b.out" 2>&1 || rc=$?
check_eq 'holdscand -n: the same' "$rc:$(head -n 1 "$HS_TMP/b.out")" "78:$want"
rc=0
timeout 60 "$HOLDSCAND" -f -c "$CONF" >"$HS_TMP/b.out" 2>&1 || rc=$?
check_eq 'holdscand refuses to start with it' \
    "$rc:$(head -n 1 "$HS_TMP/b.out")" "78:$want"
sed -i 's/^    delay_ms = soon$/    no_such_option = 1/' "$CONF"
rc=0
"$HOLDSCAN" -c "$CONF" check-config >"$HS_TMP/b.out" 2>&1 || rc=$?
check_eq 'check-config: an option no plugin has, with file and line' \
    "$rc:$(cat "$HS_TMP/b.out")" "78:$CONF:$line: no such option 'no_such_option'"

conf5 OLD-MARK 10ms
mv "$A_HS_LOG" "$HS_TMP/part3.log"
hs_run A || bail_out "holdscand did not start again"
conf5 NEW-MARK soon
kill -HUP "$A_HS_PID"
check 'at SIGHUP the reload is refused, the running configuration kept' \
    hs_wait_log A 30 "warning: reload: $CONF refused by the scanners, keeping the running configuration:"
# (one log line, the errors after the colon, "; " between them)
check_eq '... with the file and line of the bad option, on that one line' \
    "$(grep 'warning: reload: .* refused by the scanners' "$A_HS_LOG" | tail -n 1 |
    sed 's/^.*keeping the running configuration: //')" "$want"
# mark_sent MARK - send a message carrying MARK
mark_sent() {
	printf 'Subject: %s\n\n%s\n' "$1" "$1" >"$HS_TMP/$1.eml"
	smtp-source -m 1 -F "$HS_TMP/$1.eml" -f "$1@example.org" \
	    -t sink@example.net "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
}
mark_sent OLD-MARK
check 'the running option still scans: OLD-MARK is blocked' \
    hs_wait_log A 30 'action=quarantine verdict=blocked reason="OLD-MARK"'
check_eq 'and no new engine was built' \
    "$(hs_count_log A 'scanners ready: generation=2')" 0
conf5 NEW-MARK 10ms
kill -HUP "$A_HS_PID"
check 'fixed, the reload is taken' \
    hs_wait_log A 30 "reload: configuration $CONF re-read"
check 'and the scanners reload' hs_wait_log A 30 'scanners ready: generation=2'
mark_sent NEW-MARK
check 'with the new option: NEW-MARK is blocked' \
    hs_wait_log A 30 'action=quarantine verdict=blocked reason="NEW-MARK"'
hs_stop A

# --- 6. no process running as root loads a plugin -----------------------------------
DBG="$HS_TMP/lddebug"
mkdir "$DBG" && chmod 1777 "$DBG"
printf 'Subject: scan me\n\nNEW-MARK\n' >"$HS_TMP/scan.eml"
env LD_DEBUG=files LD_DEBUG_OUTPUT="$DBG/cc" \
    "$HOLDSCAN" -c "$CONF" check-config >/dev/null 2>&1
env LD_DEBUG=files LD_DEBUG_OUTPUT="$DBG/scan" \
    "$HOLDSCAN" -c "$CONF" scan "$HS_TMP/scan.eml" >"$HS_TMP/scan.out" 2>&1
check 'holdscan scan still scans (as worker_user)' \
    grep -qx 'crashtest      blocked: NEW-MARK' "$HS_TMP/scan.out"
env LD_DEBUG=files LD_DEBUG_OUTPUT="$DBG/n" \
    "$HOLDSCAND" -n -c "$CONF" >/dev/null 2>&1
# shellcheck disable=SC2034 # hs_run's
HS_ENV="LD_DEBUG=files LD_DEBUG_OUTPUT=$DBG/start"
hs_run A || bail_out "holdscand did not start with LD_DEBUG"
# shellcheck disable=SC2034
HS_ENV=
hs_stop A

# loaders WHAT - the LD_DEBUG files of WHAT whose process loaded a plugin
loaders() {
	grep -l -E 'file=[^ ]*/plugins/[^ /]*\.so \[[0-9]+\];  dynamically loaded' \
	    "$DBG/$1".* 2>/dev/null
}
for what in cc scan n start; do
	files=$(loaders "$what")
	check_eq "$what: plugins were loaded, each time by a process of worker_user" \
	    "$(if [ -n "$files" ]; then
		# shellcheck disable=SC2086
		stat -c %U $files | sort -u
	    fi)" nobody
done
roots=$(find "$DBG" -type f -user root | sort)
check "the root processes were seen too ($(echo "$roots" | wc -w) files)" \
    test "$(echo "$roots" | wc -w)" -ge 4
check_eq 'none of them loaded a plugin, libclamav or GMime' \
    "$(echo "$roots" | xargs grep -l -E '/plugins/[^ /]*\.so|libclamav|libgmime')" ""
check_eq 'holdscand -n was one of them: the master reads holdscan.conf as root' \
    "$(grep -l 'holdscand' "$DBG"/n.* | xargs stat -c %U | sort -u | head -n 1)" \
    root

done_testing
