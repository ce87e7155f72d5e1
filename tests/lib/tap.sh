# tap.sh - TAP output and sandbox helpers for tests/e2e/*.t (POSIX sh).
#
# Source it from a test:
#	HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
#	. "$HS_LIB/tap.sh"
#	plan 3
#	check 'postconf runs' postconf -d mail_version
#	check_eq 'two' "$(echo 2)" 2
#	test -d /tmp; ok $? '/tmp exists'
#	done_testing
#
# TAP
#   plan N                    print the plan "1..N"
#   skip_all REASON           plan nothing, say why, exit 0
#   ok STATUS MSG             pass if STATUS (an exit status, e.g. $?) is 0
#   check MSG CMD [ARG...]    run CMD (a command or shell function, no eval);
#                             pass if it exits 0; on failure its output
#                             (stdout and stderr, last 40 lines) is shown
#   check_eq MSG GOT WANT     pass if the strings are equal
#   skip REASON [N]           N (default 1) skipped tests
#   diag TEXT...              diagnostic line on stderr ("# TEXT")
#   note TEXT...              comment line on stdout (prove -v shows it)
#   bail_out REASON           "Bail out!": stop the whole test run
#   done_testing              exit 1 if a test failed, else 0
#
# Sandboxes (tests/lib/sandbox.sh)
#   sb_start NAME [name=value ...]
#	start a sandbox in a fresh "mktemp -d" directory and set NAME_DIR,
#	NAME_CONFIG, NAME_QUEUE, NAME_SMTP_PORT, NAME_SINK_PORT, NAME_SINK_DIR,
#	NAME_MAILLOG, NAME_SINK_PID, NAME_MAIL_OWNER (sandbox.env with SB_
#	replaced by NAME_). Returns 1 (with the reason on stderr) if the
#	sandbox does not start. NAME: letters, digits, _.
#   sb_stop NAME     stop it and remove its directory
#   sb_dir NAME      print its directory
#   sb_env NAME VAR  print SB_VAR of its sandbox.env, e.g. sb_env A QUEUE
#   sink_count NAME / sink_messages NAME   complete messages in the sink
#   sink_tokens NAME  X-Test-Token of each complete sink message, sorted (a
#		      message that arrived twice is listed twice)
#   sink_file NAME TOKEN  the sink file of the message with that
#		      X-Test-Token (false when none has arrived)
#   hold_count NAME / hold_files NAME      ready files below hold/
#   wait_sink NAME N [TIMEOUT] / wait_hold NAME N [TIMEOUT]
#   wait_until TIMEOUT CMD [ARG...]   run CMD every 0.1 s until it exits 0;
#				       false after TIMEOUT seconds
#   count_test OP N CMD [ARG...]       CMD's output, a number, compared
#				       with test(1)'s OP to N: for wait_until,
#				       which must run CMD each time (wait_until
#				       T test "$(CMD)" -eq N counts only once)
#   held_tokens CONFIG FILE...  X-Test-Token of each queue file (postcat -q)
#   sb_send_letter NAME TOKEN [LAST-LINE]   one short letter (Message-Id
#		      <TOKEN@holdscan.test>, X-Test-Token: TOKEN, LAST-LINE at
#		      the end of its body) from sender@example.org to
#		      rcpt@example.net, by SMTP to NAME; bails out if swaks fails
#   manifest_field FILE NAME   a string field of a sendmail.py manifest
#
# At exit (normal, error or signal) every sandbox still running is
# stopped, and the sandbox directories and $HS_TMP (a scratch directory
# for the test) are removed, unless HS_KEEP=1: then they stay for a look
# (their paths are printed), but the processes are stopped all the same.
#
# Also set: HS_TMP (the scratch directory), SANDBOX (path of sandbox.sh,
# for its other commands: sh "$SANDBOX" pids DIR, reconfigure, ...).
# HS_PYTHON names the Python interpreter for the helpers (default: the
# python3 on PATH).

: "${HS_LIB:?set HS_LIB to tests/lib before sourcing tap.sh}"
# Resolve python3 once: a pyenv shim on PATH costs 0.4 s per start.
HS_PYTHON=${HS_PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
SANDBOX="$HS_LIB/sandbox.sh"

_tap_n=0
_tap_failed=0
_tap_sandboxes=

# A scratch directory, searchable by the Postfix user (postcat and
# friends may read files here).
HS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hs-test.XXXXXX") || {
	echo "Bail out! mktemp failed"
	exit 1
}
chmod 0755 "$HS_TMP"

plan() {
	echo "1..$1"
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

_tap_pass() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1"
}

_tap_fail() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
	_tap_evidence
}

# _tap_evidence - at the first failure, the tail of each sandbox's logs on
# stderr: a failure in CI, where nothing is kept, carries its evidence.
_tap_evidence() {
	[ -z "$_tap_shown" ] || return 0
	_tap_shown=1
	for _te_n in $_tap_sandboxes; do
		[ -f "$HS_TMP/.sb.$_te_n.dir" ] || continue
		_te_d=$(cat "$HS_TMP/.sb.$_te_n.dir")
		_te_hs=
		eval "_te_hs=\${${_te_n}_HS_LOG:-}"
		for _te_f in "$_te_hs" "$_te_d/log/maillog"; do
			if [ -z "$_te_f" ] || [ ! -f "$_te_f" ]; then
				continue
			fi
			diag "last lines of $_te_n's $(basename "$_te_f"):"
			tail -n 25 "$_te_f" | cut -c1-300 | sed 's/^/#   /' >&2
		done
	done
}

# ok, check and check_eq return 0 if the test passed, 1 if it failed.
ok() {
	case $1 in
	''|*[!0-9]*) bail_out "ok: '$1' is not an exit status (ok STATUS MSG)" ;;
	esac
	if [ "$1" -eq 0 ]; then
		_tap_pass "$2"
	else
		_tap_fail "$2"
		diag "exit status $1"
		return 1
	fi
}

check() {
	_tap_msg=$1
	shift
	if "$@" >"$HS_TMP/.check.out" 2>&1; then
		_tap_pass "$_tap_msg"
	else
		_tap_rc=$?
		_tap_fail "$_tap_msg"
		diag "command: $* (exit status $_tap_rc)"
		tail -n 40 "$HS_TMP/.check.out" | sed 's/^/#   /' >&2
		return 1
	fi
}

check_eq() {
	if [ "$2" = "$3" ]; then
		_tap_pass "$1"
	else
		_tap_fail "$1"
		diag "got:  '$2'"
		diag "want: '$3'"
		return 1
	fi
}

skip() {
	_tap_i=${2:-1}
	while [ "$_tap_i" -gt 0 ]; do
		_tap_n=$((_tap_n + 1))
		echo "ok $_tap_n # skip $1"
		_tap_i=$((_tap_i - 1))
	done
}

diag() {
	echo "# $*" >&2
}

note() {
	echo "# $*"
}

bail_out() {
	_tap_evidence
	echo "Bail out! $*"
	exit 255
}

done_testing() {
	[ "$_tap_failed" -eq 0 ] || exit 1
	exit 0
}

# --- sandboxes ------------------------------------------------------------

sb_dir() {
	cat "$HS_TMP/.sb.$1.dir"
}

sb_start() {
	_sb_name=$1
	shift
	case $_sb_name in
	''|*[!A-Za-z0-9_]*) bail_out "sb_start: bad name '$_sb_name'" ;;
	esac
	_sb_dir=$(mktemp -d "${TMPDIR:-/tmp}/hs-$_sb_name.XXXXXX") || return 1
	echo "$_sb_dir" >"$HS_TMP/.sb.$_sb_name.dir"
	_tap_sandboxes="$_tap_sandboxes $_sb_name"
	if ! sh "$SANDBOX" start "$_sb_dir" "$@" >"$HS_TMP/.sb.$_sb_name.out" \
	    2>&1; then
		cat "$HS_TMP/.sb.$_sb_name.out" >&2
		return 1
	fi
	sed "s/^SB_/${_sb_name}_/" "$_sb_dir/sandbox.env" \
	    >"$HS_TMP/.sb.$_sb_name.env"
	# shellcheck disable=SC1090
	. "$HS_TMP/.sb.$_sb_name.env"
}

# _sb_forget NAME - drop NAME from the list the exit trap cleans up.
_sb_forget() {
	_sb_rest=
	for _sb_n in $_tap_sandboxes; do
		[ "$_sb_n" = "$1" ] || _sb_rest="$_sb_rest $_sb_n"
	done
	_tap_sandboxes=$_sb_rest
}

sb_stop() {
	_sb_dir=$(sb_dir "$1") || return 1
	sh "$SANDBOX" stop "$_sb_dir" || return 1
	_sb_forget "$1"
	if [ "${HS_KEEP:-0}" = 1 ]; then
		diag "HS_KEEP=1: kept $_sb_dir"
	else
		rm -rf "$_sb_dir"
	fi
}

# sb_env NAME VAR - the value of SB_VAR in NAME's sandbox.env (for tests
# that pick the sandbox by a name held in a variable).
sb_env() {
	sed -n "s/^SB_$2='\{0,1\}\([^']*\)'\{0,1\}\$/\1/p" \
	    "$(sb_dir "$1")/sandbox.env"
}

sink_count() {
	sh "$SANDBOX" sink-count "$(sb_dir "$1")"
}

sink_messages() {
	sh "$SANDBOX" sink-list "$(sb_dir "$1")"
}

sink_tokens() {
	sink_messages "$1" | xargs -r grep -h -m 1 '^X-Test-Token: ' |
	    sed 's/^X-Test-Token: //' | sort
}

sink_file() {
	for _sf in $(sink_messages "$1"); do
		if grep -q "^X-Test-Token: $2\$" "$_sf"; then
			echo "$_sf"
			return 0
		fi
	done
	return 1
}

hold_count() {
	sh "$SANDBOX" hold-count "$(sb_dir "$1")"
}

hold_files() {
	sh "$SANDBOX" hold-list "$(sb_dir "$1")"
}

wait_sink() {
	sh "$SANDBOX" wait-sink "$(sb_dir "$1")" "$2" "${3:-60}" >/dev/null
}

wait_hold() {
	sh "$SANDBOX" wait-hold "$(sb_dir "$1")" "$2" "${3:-60}" >/dev/null
}

wait_until() {
	_wu_tenths=$(($1 * 10))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$_wu_tenths" -le 0 ] && return 1
		_wu_tenths=$((_wu_tenths - 1))
		sleep 0.1
	done
}

count_test() {
	_ct_op=$1
	_ct_n=$2
	shift 2
	_ct_v=$("$@") || return 1
	test "${_ct_v:-0}" "$_ct_op" "$_ct_n"
}

sb_send_letter() {
	{
		printf 'From: <sender@example.org>\nTo: <rcpt@example.net>\n'
		printf 'Date: %s\n' "$(date -R)"
		printf 'Message-Id: <%s@holdscan.test>\nX-Test-Token: %s\n' "$2" "$2"
		printf 'Subject: the figures\n\n'
		printf 'Hello,\n\nthe figures are attached.\n%s\n' "${3:-Regards}"
	} >"$HS_TMP/$2.eml"
	swaks --silent 2 --server "127.0.0.1:$(sb_env "$1" SMTP_PORT)" \
	    --from sender@example.org --to rcpt@example.net \
	    --data "@$HS_TMP/$2.eml" >>"$HS_TMP/swaks.out" 2>&1 ||
	    bail_out "swaks failed: $(tail -3 "$HS_TMP/swaks.out")"
}

# manifest_field FILE NAME - the string field NAME of every line of a
# sendmail.py manifest, sorted (json.dumps writes "NAME": "value").
manifest_field() {
	sed -n "s/.*\"$2\": \"\([^\"]*\)\".*/\1/p" "$1" | sort
}

# held_tokens CONFIG FILE... - the X-Test-Token of each queue file, read
# with "postcat -q QUEUEID" (by queue id, as an operator would), sorted; a
# postcat failure shows up as "postcat-failed".
held_tokens() {
	_ht_config=$1
	shift
	for _ht_f in "$@"; do
		postcat -c "$_ht_config" -q "${_ht_f##*/}" 2>/dev/null ||
		    echo "X-Test-Token: postcat-failed"
	done | sed -n 's/^X-Test-Token: //p' | sort
}

# The exit trap: stop all sandboxes at once (each stop takes up to a
# second), then remove the directories.
_tap_cleanup() {
	_tap_rc=$?
	# Daemons that use a sandbox stop first (tests/lib/holdscan.sh), and
	# the ones a test started for them (tests/lib/spamd.sh, pg.sh).
	if command -v web_stop_all >/dev/null 2>&1; then
		web_stop_all
	fi
	if command -v hs_stop_all >/dev/null 2>&1; then
		hs_stop_all
	fi
	if command -v sd_stop_all >/dev/null 2>&1; then
		sd_stop_all
	fi
	if command -v pg_stop_all >/dev/null 2>&1; then
		pg_stop_all
	fi
	for _sb_n in $_tap_sandboxes; do
		sh "$SANDBOX" stop "$(sb_dir "$_sb_n")" &
	done
	wait
	if [ "${HS_KEEP:-0}" = 1 ]; then
		for _sb_n in $_tap_sandboxes; do
			diag "HS_KEEP=1: kept $(sb_dir "$_sb_n")"
		done
		diag "HS_KEEP=1: kept $HS_TMP"
	else
		for _sb_n in $_tap_sandboxes; do
			rm -rf "$(sb_dir "$_sb_n")"
		done
		rm -rf "$HS_TMP"
	fi
	exit "$_tap_rc"
}
trap _tap_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
