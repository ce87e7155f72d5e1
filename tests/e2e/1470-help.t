#!/bin/sh
# 1470-help.t - both programs answer --help and --version, and every
# command's --help works without a configuration file (issue 14, item 7).
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

plan 9

v=$(sed -n 's/^VERSION[[:space:]]*=[[:space:]]*//p' "$HS_LIB/../../Makefile")
check_eq 'holdscan --version' "$("$HOLDSCAN" --version 2>&1; echo "rc=$?")" \
    "holdscan $v
rc=0"
check_eq 'holdscand --version and -V' \
    "$("$HOLDSCAND" --version 2>&1; "$HOLDSCAND" -V 2>&1; echo "rc=$?")" \
    "holdscand $v
holdscand $v
rc=0"
check 'holdscan --help: the commands, on stdout, exit 0' sh -c \
    "'$HOLDSCAN' --help 2>/dev/null | grep -q '^  quarantine release'"
check 'holdscand --help and -h: the options, on stdout, exit 0' sh -c \
    "'$HOLDSCAND' --help 2>/dev/null | grep -q '^  -n ' &&
    '$HOLDSCAND' -h 2>/dev/null | grep -q '^  -f '"
# Every command of the list, with a configuration file that is not there.
"$HOLDSCAN" --help 2>/dev/null | sed -n 's/^  \([a-z-]*\)\( [a-z]*\)\{0,1\}\( .*\)\{0,1\}$/\1\2/p' |
    sed 's/ \[.*//; s/ [A-Z-].*//' >"$HS_TMP/commands"
check 'the list names every command' test "$(wc -l <"$HS_TMP/commands")" -ge 9
bad=0
while read -r c; do
	# shellcheck disable=SC2086 # one or two words
	out=$("$HOLDSCAN" -c /nonexistent/holdscan.conf $c --help 2>&1)
	rc=$?
	case $rc:$out in
	"0:usage: holdscan [-c config_file] $c"*) ;;
	*) diag "$c --help: exit $rc: $out"; bad=$((bad + 1)) ;;
	esac
done <"$HS_TMP/commands"
check_eq "every command's --help without a configuration file" "$bad" 0
# As an unprivileged user too (a copy nobody can reach: the checkout may
# be in a directory only root can enter).
chmod 0755 "$HS_TMP"
mkdir -m 0755 "$HS_TMP/pub"
cp "$HOLDSCAN" "$HS_TMP/pub/holdscan"
check 'as nobody' su -s /bin/sh nobody -c \
    "'$HS_TMP/pub/holdscan' -c /nonexistent quarantine list --help >/dev/null"
check_eq 'a wrong option is still a usage error (exit 2)' \
    "$("$HOLDSCAN" --bogus >/dev/null 2>&1; echo $?)" 2
check_eq 'and for holdscand (EX_USAGE)' \
    "$("$HOLDSCAND" --bogus >/dev/null 2>&1; echo $?)" 64
done_testing
