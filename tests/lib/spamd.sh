# spamd.sh - a private SpamAssassin spamd for tests/e2e/*.t (POSIX sh).
#
# Source after tap.sh:
#	. "$HS_LIB/spamd.sh"
#	sd_start S || bail_out "spamd did not start"
#	... address = 127.0.0.1:$S_SPAMD_PORT ...
#	sd_stop S
#
#   sd_start NAME [PORT]  start spamd on 127.0.0.1:PORT (default: a free
#                         port), wait (bounded) until it answers PING and
#                         let it score one message (its first is slow);
#                         sets NAME_SPAMD_PORT, NAME_SPAMD_PID (the
#                         parent), NAME_SPAMD_DIR, NAME_SPAMD_LOG.
#                         Returns 1, with spamd's log, if it does not start.
#   sd_ping PORT          spamd on PORT answers PING (5 s at most)
#   sd_pids NAME          spamd's parent and its children
#   sd_stop NAME          SIGTERM to the parent, wait (bounded), then
#                         SIGKILL whatever of it is left, by pid
#   sd_pause NAME / sd_resume NAME   SIGSTOP / SIGCONT all its processes
#   sd_stop_all           stop every spamd started here (tap.sh's exit
#                         trap calls it)
#
# spamd runs offline and the same everywhere: the stock rules of the
# Debian package (/usr/share/spamassassin, -C; never sa-update's), a site
# directory of its own with Debian's .pre files (the loadplugin lines;
# not sa-compile.pre, whose compiled rules may be stale) and a local.cf
# that turns off Bayes, auto-learning, network tests and DNS; -L (local
# tests only), -x (no per-user configuration), its own home directory
# (-H), listening on loopback for loopback only. With SD_LEARN=1 set
# before sd_start, Bayes is on (its database NAME_SPAMD_DIR/home/bayes*)
# and spamd takes TELL (--allow-tell), so that it learns what it is told
# and nothing by itself. As root it runs as
# nobody (-u). It stays in the foreground, so $! is its pid; its log is
# NAME_SPAMD_LOG.

_sd_daemons=

_sd_get() {
	eval "printf '%s' \"\${$1_$2:-}\""
}

# A port from 10000 up to the kernel's ephemeral range that nothing uses.
_sd_port() {
	_sdp_low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range)
	[ "$_sdp_low" -gt 11000 ] || _sdp_low=61000
	while :; do
		_sdp_r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		_sdp_port=$((10000 + _sdp_r % (_sdp_low - 10000)))
		[ -z "$(ss -Htan "( sport = :$_sdp_port )" 2>/dev/null)" ] &&
		    break
	done
	echo "$_sdp_port"
}

sd_ping() {
	"$HS_PYTHON" - "$1" <<-'EOF' 2>/dev/null
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
	s.sendall(b"PING SPAMC/1.5\r\n\r\n")
	answer = s.makefile("rb").readline()
	sys.exit(0 if answer.startswith(b"SPAMD/") and b" 0 PONG" in answer else 1)
	EOF
}

# _sd_warm PORT - have spamd score one small message (60 s at most), so
# that a test's first message does not pay for spamd's warming up.
_sd_warm() {
	"$HS_PYTHON" - "$1" <<-'EOF' 2>/dev/null
	import socket, sys
	msg = b"Subject: warm up\n\nhello\n"
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
	s.sendall(b"SYMBOLS SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(msg) + msg)
	answer = s.makefile("rb").readline()
	sys.exit(0 if answer.startswith(b"SPAMD/") and b" 0 EX_OK" in answer else 1)
	EOF
}

# _sd_config DIR - the site configuration and home directory.
_sd_config() {
	mkdir -p "$1/site" "$1/home" || return 1
	for _sdc_f in /etc/spamassassin/*.pre; do
		case $_sdc_f in
		*/sa-compile.pre) ;;
		*) cp "$_sdc_f" "$1/site/" || return 1 ;;
		esac
	done
	cat >"$1/site/local.cf" <<-'EOF'
	# Written by tests/lib/spamd.sh: offline, deterministic, learns nothing.
	use_bayes 0
	bayes_auto_learn 0
	skip_rbl_checks 1
	dns_available no
	EOF
	if [ -n "${SD_LEARN:-}" ]; then
		# learns what it is told (TELL), nothing by itself
		cat >>"$1/site/local.cf" <<-EOF
		use_bayes 1
		bayes_path $1/home/bayes
		EOF
	fi
	chmod -R a+rX "$1"
	if [ "$(id -u)" -eq 0 ]; then
		chown nobody "$1/home"
	fi
}

sd_start() {
	_sds_name=$1
	_sds_want=${2:-}
	_sds_dir=$(_sd_get "$_sds_name" SPAMD_DIR)
	if [ -z "$_sds_dir" ]; then
		_sds_dir=$(mktemp -d "$HS_TMP/spamd.XXXXXX") || return 1
		_sd_config "$_sds_dir" || return 1
	fi
	_sds_user=
	[ "$(id -u)" -eq 0 ] && _sds_user="-u nobody"
	_sds_try=0
	while [ "$_sds_try" -lt 5 ]; do
		_sds_try=$((_sds_try + 1))
		_sds_port=${_sds_want:-$(_sd_port)}
		_sds_log="$_sds_dir/spamd.$_sds_port.log"
		# shellcheck disable=SC2086
		spamd -L -x $_sds_user ${SD_LEARN:+--allow-tell} \
		    -H "$_sds_dir/home" \
		    -C /usr/share/spamassassin \
		    --siteconfigpath="$_sds_dir/site" \
		    --listen="127.0.0.1:$_sds_port" --allowed-ips=127.0.0.1 \
		    --max-children=2 --min-children=1 --min-spare=1 \
		    --max-spare=2 --timeout-child=60 -s stderr \
		    >"$_sds_log" 2>&1 &
		_sds_pid=$!
		eval "${_sds_name}_SPAMD_PID=$_sds_pid"
		eval "${_sds_name}_SPAMD_PORT=$_sds_port"
		eval "${_sds_name}_SPAMD_DIR='$_sds_dir'"
		eval "${_sds_name}_SPAMD_LOG='$_sds_log'"
		case " $_sd_daemons " in
		*" $_sds_name "*) ;;
		*) _sd_daemons="$_sd_daemons $_sds_name" ;;
		esac
		# spamd compiles its rules first: seconds, more on a busy machine.
		_sds_i=0
		while [ "$_sds_i" -lt 600 ]; do
			kill -0 "$_sds_pid" 2>/dev/null || break
			if sd_ping "$_sds_port"; then
				_sd_warm "$_sds_port" && return 0
				diag "spamd $_sds_name answers PING but scores nothing"
				sd_stop "$_sds_name"
				break
			fi
			sleep 0.2
			_sds_i=$((_sds_i + 1))
		done
		if kill -0 "$_sds_pid" 2>/dev/null; then
			diag "spamd $_sds_name did not answer within 120 s"
			sd_stop "$_sds_name"
			break
		fi
		wait "$_sds_pid" 2>/dev/null
		# Someone took the port in the meantime: another one.
		grep -q 'Address already in use' "$_sds_log" &&
		    [ -z "$_sds_want" ] && continue
		break
	done
	diag "spamd $_sds_name did not start:"
	tail -n 20 "$_sds_log" | sed 's/^/#   /' >&2
	return 1
}

sd_pids() {
	_sdi_pid=$(_sd_get "$1" SPAMD_PID)
	[ -n "$_sdi_pid" ] || return 0
	echo "$_sdi_pid"
	ps -o pid= --ppid "$_sdi_pid" 2>/dev/null | tr -d ' '
}

sd_pause() {
	# shellcheck disable=SC2046
	kill -STOP $(sd_pids "$1") 2>/dev/null
}

sd_resume() {
	# shellcheck disable=SC2046
	kill -CONT $(sd_pids "$1") 2>/dev/null
}

sd_stop() {
	_sdt_pid=$(_sd_get "$1" SPAMD_PID)
	[ -n "$_sdt_pid" ] || return 0
	_sdt_all=$(sd_pids "$1")
	# shellcheck disable=SC2086
	kill -CONT $_sdt_all 2>/dev/null
	kill -TERM "$_sdt_pid" 2>/dev/null
	_sdt_i=0
	while [ "$_sdt_i" -lt 100 ]; do
		_sdt_left=
		for _sdt_p in $_sdt_all; do
			kill -0 "$_sdt_p" 2>/dev/null &&
			    ! ps -o stat= -p "$_sdt_p" | grep -q Z &&
			    _sdt_left="$_sdt_left $_sdt_p"
		done
		[ -z "$_sdt_left" ] && break
		sleep 0.1
		_sdt_i=$((_sdt_i + 1))
	done
	for _sdt_p in $_sdt_left; do
		kill -KILL "$_sdt_p" 2>/dev/null
	done
	wait "$_sdt_pid" 2>/dev/null
	eval "$1_SPAMD_PID="
	return 0
}

sd_stop_all() {
	for _sda in $_sd_daemons; do
		sd_stop "$_sda"
	done
}
