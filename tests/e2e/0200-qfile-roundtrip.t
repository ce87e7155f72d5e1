#!/bin/sh
# 0200-qfile-roundtrip.t - the queue-file library against real Postfix files.
#
# Real held queue files (sendmail.py --variety: 200 B to 5 MiB, long and
# folded headers, 8-bit and binary bodies, no final newline, 500
# recipients, DSN records, attachments) are read and written back by
# $HS_BUILD/tests/tools/qfile-roundtrip:
#
#	qfile-roundtrip [-H 'Name: value'] IN OUT
#
# which writes OUT (O_EXCL) from IN, with -H inserting a header at the end
# of the header block, and exits 1 with "qfile-roundtrip: IN: reason" on
# error. For each held file it runs twice:
#
#   unchanged  OUT must be byte-identical to IN (cmp) - except on the milter
#              instance, where cleanup writes dummy pointer records that
#              the library drops: there every copy must differ;
#   -H         with 'X-Holdscan: roundtrip'.
#
# Then tests/lib/qfcompare.py compares "postcat -v -o -d" of original and
# copy record by record: same types and values, pointer/padding records
# dropped, the header inserted before the header/body separator, every
# offset shifted by exactly the bytes dropped or inserted before it, and
# the size record recomputed (data size, data offset, content length;
# recipient count, flags, sendopts kept). See qfcompare.py for the rules.
#
# Three instances: default (short ids, flat hold), long ids with hold
# hashed at depth 2, and milter-enabled (an unreachable milter with
# milter_default_action = accept, so cleanup writes the pointer records).
# Plus error handling: existing OUT, truncated and non-queue input.

HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
# shellcheck disable=SC1091
. "$HS_LIB/tap.sh"

TOOL=${HS_BUILD:-}/tests/tools/qfile-roundtrip
if [ -z "${HS_BUILD:-}" ] || [ ! -x "$TOOL" ]; then
	skip_all "qfile-roundtrip not built (${TOOL})"
fi

N=200			# varied messages per instance
HDR='X-Holdscan: roundtrip'

plan 30

# roundtrip NAME POINTERS [name=value ...] - 7 tests: start a sandbox with
# the settings, hold N varied messages, round-trip each held file twice,
# compare. POINTERS (yes|no): whether the held files have pointer records.
roundtrip() {
	name=$1
	pointers=$2
	shift 2
	if ! check "$name: sandbox starts" sb_start "$name" "$@"; then
		skip "$name: no sandbox" 6
		return
	fi
	port=$(sb_env "$name" SMTP_PORT)
	config=$(sb_env "$name" CONFIG)
	check "$name: $N varied messages sent" "$HS_PYTHON" \
	    "$HS_LIB/sendmail.py" --variety --count "$N" --sessions 2 \
	    --seed 200 --token-prefix "$name" 127.0.0.1:"$port"
	check "$name: all $N held" wait_hold "$name" "$N"

	out=$HS_TMP/$name
	mkdir "$out"
	failed=0
	identical=0
	pairs0=
	pairsH=
	for f in $(hold_files "$name"); do
		id=${f##*/}
		"$TOOL" "$f" "$out/$id.0" 2>>"$out/errors" ||
		    failed=$((failed + 1))
		"$TOOL" -H "$HDR" "$f" "$out/$id.H" 2>>"$out/errors" ||
		    failed=$((failed + 1))
		cmp -s "$f" "$out/$id.0" && identical=$((identical + 1))
		pairs0="$pairs0 $f $out/$id.0"
		pairsH="$pairsH $f $out/$id.H"
	done
	check_eq "$name: qfile-roundtrip copies every held file, twice" \
	    "$failed" 0 || head -n 5 "$out/errors" | sed 's/^/# /' >&2
	if [ "$pointers" = no ]; then
		check_eq "$name: every unchanged copy is byte-identical (cmp)" \
		    "$identical" "$N"
	else
		check_eq "$name: every unchanged copy differs (pointers dropped)" \
		    "$identical" 0
	fi
	# shellcheck disable=SC2086
	check "$name: postcat: unchanged copy = original, record for record" \
	    "$HS_PYTHON" "$HS_LIB/qfcompare.py" -c "$config" \
	    --pointers "$pointers" $pairs0
	# shellcheck disable=SC2086
	check "$name: postcat: -H copy = original + '$HDR'" \
	    "$HS_PYTHON" "$HS_LIB/qfcompare.py" -c "$config" -H "$HDR" $pairsH
}

roundtrip plain no
roundtrip long no enable_long_queue_ids=yes \
    hash_queue_names=hold,incoming,deferred,defer hash_queue_depth=2
roundtrip milter yes non_smtpd_milters=inet:127.0.0.1:1 \
    smtpd_milters=inet:127.0.0.1:1 milter_default_action=accept

# Make sure the long-id instance really had what it is named for.
# shellcheck disable=SC2046
check 'long: held files have long ids and sit in hashed directories' \
    "$HS_PYTHON" "$HS_LIB/queueid.py" --long --depth 2 \
    "$(sb_env long QUEUE)/hold" $(hold_files long)

# --- error handling ---------------------------------------------------------
# fails_cleanly IN OUT: exit status 1, stderr "qfile-roundtrip: IN: reason",
# no OUT left behind.
fails_cleanly() {
	"$TOOL" "$1" "$2" 2>"$HS_TMP/err"
	rc=$?
	err=$(cat "$HS_TMP/err")
	echo "exit status $rc, stderr: $err"
	[ "$rc" -eq 1 ] || return 1
	case $err in
	"qfile-roundtrip: $1: "?*) ;;
	*) return 1 ;;
	esac
	[ ! -e "$2" ]
}

orig=$(hold_files plain | head -n 1)
copy=$HS_TMP/plain/${orig##*/}.0
"$TOOL" "$orig" "$copy" 2>"$HS_TMP/err"
check_eq 'existing OUT: exit status 1 (O_EXCL)' "$?" 1
check 'existing OUT: left as it was' cmp "$orig" "$copy"
check 'existing OUT: says qfile-roundtrip: ...' grep -q '^qfile-roundtrip: ' \
    "$HS_TMP/err"

size=$(wc -c <"$orig")
head -c $((size / 2)) "$orig" >"$HS_TMP/truncated"
check 'truncated queue file: fails cleanly' \
    fails_cleanly "$HS_TMP/truncated" "$HS_TMP/out.truncated"
head -c $((size - 2)) "$orig" >"$HS_TMP/no-end"
check 'queue file without its E record: fails cleanly' \
    fails_cleanly "$HS_TMP/no-end" "$HS_TMP/out.no-end"
printf 'From: someone\n\nnot a queue file\n' >"$HS_TMP/text"
check 'a plain text file: fails cleanly' \
    fails_cleanly "$HS_TMP/text" "$HS_TMP/out.text"
: >"$HS_TMP/empty"
check 'an empty file: fails cleanly' \
    fails_cleanly "$HS_TMP/empty" "$HS_TMP/out.empty"
check 'a missing file: fails cleanly' \
    fails_cleanly "$HS_TMP/missing" "$HS_TMP/out.missing"

done_testing
