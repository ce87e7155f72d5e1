#!/bin/sh
# 0930-docs.t - the manual pages: they render without warnings, and they
# document every parameter and every plugin option with its default.
#
# tests/tools/config-defaults prints what an empty holdscan.conf gives
# (every top-level parameter, scanners, the policy section) and the
# option table of every plugin in plugins/ (not the test-only ones); each
# must be in holdscan.conf(5) as "NAME (default: VALUE)", the options in
# their plugin's section ("NAME PLUGIN"). So a new parameter or option
# cannot go undocumented, nor a changed default unnoticed.
#
# doc/quickstart.md (issue 14 items 3 and 10) says what an admin is left
# to find otherwise: notifications (off by default, the settings that
# turn them on, an example), metrics.prom (its default place, which a node
# exporter cannot read, where to put it instead, and the mode the file
# gets, the one src/common/metrics.c gives it), and signatures offline.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

SRC=$(cd "$HS_LIB/../.." && pwd)
PAGES="$SRC/doc/holdscand.8 $SRC/doc/holdscan.1 $SRC/doc/holdscan.conf.5 $SRC/doc/holdscan-web.8"
PLUGINS=$(cd "$SRC/plugins" && for f in *.c; do echo "${f%.c}"; done)

plan $((2 * 4 + 4 + 6))

for page in $PAGES; do
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" \
	    >"$HS_TMP/page.txt" 2>"$HS_TMP/page.err"
	check_eq "${page##*/} renders with man without warnings" \
	    "$(cat "$HS_TMP/page.err")" ""
	groff -ww -man -z "$page" >"$HS_TMP/groff.err" 2>&1
	check_eq "${page##*/} passes groff -ww -z" "$(cat "$HS_TMP/groff.err")" ""
done

# The page as text, one long line per paragraph start; "\-" is "-".
LC_ALL=C MANWIDTH=1000 man -l "$SRC/doc/holdscan.conf.5" 2>/dev/null |
    col -b >"$HS_TMP/conf5.txt"
# shellcheck disable=SC2086
"$HS_BUILD/tests/tools/config-defaults" $PLUGINS >"$HS_TMP/defaults" 2>&1
ok $? "config-defaults lists the defaults of the plugins: $PLUGINS"

# Compiled-in paths appear in the pages as those of PREFIX=/usr/local.
sysconfdir=$(sed -n 's/^# sysconfdir //p' "$HS_TMP/defaults")
plugindir=$(sed -n 's/^# plugindir //p' "$HS_TMP/defaults")
libexecdir=$(sed -n 's/^# libexecdir //p' "$HS_TMP/defaults")
sed -e "s|$sysconfdir|/usr/local/etc/holdscan|g" \
    -e "s|$plugindir|/usr/local/lib/holdscan/plugins|g" \
    -e "s|$libexecdir/holdscan-scanner|/usr/local/lib/holdscan/holdscan-scanner|g" \
    -e '/^#/d' "$HS_TMP/defaults" >"$HS_TMP/expected"

# section TITLE - the text of the page's section TITLE (to the next one)
section() {
	awk -v t="$1" '/^[A-Z]/ { on = ($0 == t) } on' "$HS_TMP/conf5.txt"
}

# Each "name = value": "name (default: value)" in the right section.
: >"$HS_TMP/missing"
plugin=
while IFS= read -r line; do
	case $line in
	'plugin '*' {')
		plugin=${line#plugin }
		plugin=${plugin% \{}
		section "$(echo "$plugin" | tr '[:lower:]' '[:upper:]') PLUGIN" \
		    >"$HS_TMP/where"
		continue ;;
	'policy {')
		section POLICY >"$HS_TMP/where"
		plugin=policy
		continue ;;
	'web {')
		section "WEB CONSOLE" >"$HS_TMP/where"
		plugin=web
		continue ;;
	'}')
		plugin=
		continue ;;
	esac
	[ -n "$plugin" ] || cp "$HS_TMP/conf5.txt" "$HS_TMP/where"
	name=$(echo "$line" | sed 's/^ *\([^ ]*\) =.*/\1/')
	value=$(echo "$line" | sed 's/^[^=]*= *//; s/^"\(.*\)"$/\1/')
	[ -n "$value" ] || value=empty
	grep -qF "$name (default: $value)" "$HS_TMP/where" ||
	    echo "${plugin:+$plugin: }$name (default: $value)" >>"$HS_TMP/missing"
done <"$HS_TMP/expected"
check_eq 'holdscan.conf(5) documents every parameter and option with its default' \
    "$(cat "$HS_TMP/missing")" ""
check_eq 'and the parameters checked are not few' \
    "$(test "$(grep -c ' = ' "$HS_TMP/expected")" -gt 50 && echo yes)" yes

# The pages name the same commands as the program ("quarantine list":
# both words).
"$HS_BUILD/holdscan" 2>"$HS_TMP/usage"
sed -n 's/^  \([a-z][a-z-]*\( [a-z][a-z]*\)\{0,1\}\).*/\1/p' "$HS_TMP/usage" \
    >"$HS_TMP/commands"
missing=
while read -r c; do
	grep -q "^\\\\fBholdscan\\\\fR .*\\\\fB$(echo "$c" | sed 's/-/\\\\-/g')" \
	    "$SRC/doc/holdscan.1" || missing="$missing, $c"
done <"$HS_TMP/commands"
check_eq "holdscan(1)'s synopsis has every command the program knows ($(wc -l <"$HS_TMP/commands"))" \
    "${missing#, }" ""

# --- the quick start -----------------------------------------------------------
QS="$SRC/doc/quickstart.md"
# qs_section TITLE-ERE - the quick start's section whose "## " title matches
qs_section() {
	awk -v t="$1" '/^## / { on = ($0 ~ t) } on' "$QS"
}
qs_section '^## [0-9]+\. Notifications$' >"$HS_TMP/qs.notify"
check_eq 'quick start: notifications are off by default, and which settings turn them on' \
    "$(grep -c -e 'notify_postmaster' -e 'notify_recipients' -e 'empty by default' \
    "$HS_TMP/qs.notify" | sed 's/^[1-9][0-9]*$/yes/')" yes
# shellcheck disable=SC2016 # sed's own addresses
check_eq 'with an example whose lines are parameters holdscan knows' \
    "$(sed -n '/^```$/,/^```$/p' "$HS_TMP/qs.notify" | grep ' = ' |
    sed 's/ =.*//' | while read -r n; do
	grep -q "^$n = " "$HS_TMP/defaults" || echo "$n"
    done)" ""
qs_section '^## [0-9]+\. Metrics' >"$HS_TMP/qs.metrics"
default=$(sed -n 's/^metrics_file = //p' "$HS_TMP/defaults")
check 'quick start: metrics.prom, where it is by default' grep -qF \
    "\`$default\`" "$HS_TMP/qs.metrics"
# shellcheck disable=SC2016 # the inner shell's $1
check 'why a node exporter cannot read it there, and where to put it' sh -c \
    'tr "\n" " " <"$1" | grep -q "node exporter[^.]*cannot read" &&
    grep -q "/var/lib/prometheus/node-exporter" "$1"' sh "$HS_TMP/qs.metrics"
mode=$(sed -n 's/.*fchmod(fd, \(0[0-7]*\)).*/\1/p' "$SRC/src/common/metrics.c")
check "the mode the file gets, as metrics.c gives it ($mode)" grep -q \
    "mode $mode" "$HS_TMP/qs.metrics"
# shellcheck disable=SC2016 # the inner shell's $1
check 'quick start: signatures offline, and that holdscand waits for them' \
    sh -c 'grep -q "^### Offline" "$1" &&
    grep -q "Without signatures holdscand does not start" "$1"' sh "$QS"

done_testing
