# pg.sh - a private PostgreSQL 15 cluster for tests/e2e/*.t (POSIX sh).
#
# Source after tap.sh:
#	. "$HS_LIB/pg.sh"
#	pg_start P || bail_out "PostgreSQL did not start"
#	... database = "$P_PG_CONNINFO" ...
#	pg_stop P
#
#   pg_available          Debian's postgresql-15 is installed
#   pg_start NAME         the first time: initdb (as nobody: initdb
#                         refuses root) into a fresh directory and a
#                         database "holdscan" owned by the superuser
#                         "holdscan" (trust, unix socket only); then start
#                         postgres as nobody, listening on no TCP port
#                         (listen_addresses=''), its socket in the
#                         directory, and wait (bounded) until it answers.
#                         Sets NAME_PG_DIR, NAME_PG_PID, NAME_PG_CONNINFO
#                         ("host=DIR dbname=holdscan user=holdscan").
#                         Returns 1, with its log, if it does not start.
#   pg_stop NAME          SIGINT (fast shutdown) to its postmaster by pid,
#                         wait (bounded), then SIGKILL by pid
#   pg_sql NAME SQL       psql -Atq -c SQL on NAME's database
#   pg_pids NAME          its postmaster and the postmaster's children
#                         (to freeze it with SIGSTOP, by pid)
#   pg_stop_all           stop every cluster started here (tap.sh's exit
#                         trap calls it); the directories go with HS_TMP's
#                         cleanup unless HS_KEEP=1
#
# It never touches a system PostgreSQL: its own binaries are called by
# their full path, its own data directory and socket are in a temporary
# directory, and it stops nothing but the pid it started.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=${PG_USER:-nobody}
_pg_clusters=

_pg_get() {
	eval "printf '%s' \"\${$1_$2:-}\""
}

pg_available() {
	[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/postgres" ] &&
	    command -v psql >/dev/null 2>&1 && id "$PG_USER" >/dev/null 2>&1
}

# _pg_as CMD... - run CMD as PG_USER (exec'ed: $! is CMD's pid)
_pg_as() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" \
		    --clear-groups -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	_pgs_name=$1
	_pgs_dir=$(_pg_get "$_pgs_name" PG_DIR)
	if [ -z "$_pgs_dir" ]; then
		# Outside HS_TMP (0700, root's): the cluster's user and the
		# daemons that connect must reach the socket.
		_pgs_dir=$(mktemp -d /tmp/hs-pg.XXXXXX) || return 1
		chmod 0755 "$_pgs_dir"
		mkdir "$_pgs_dir/data" || return 1
		[ "$(id -u)" -eq 0 ] && chown -R "$PG_USER" "$_pgs_dir"
		if ! _pg_as "$PG_BIN/initdb" -D "$_pgs_dir/data" -U holdscan \
		    -A trust -E UTF8 --no-locale --no-sync \
		    >"$_pgs_dir/initdb.log" 2>&1; then
			diag "initdb failed:"
			sed 's/^/# /' "$_pgs_dir/initdb.log" >&2
			return 1
		fi
		eval "${_pgs_name}_PG_DIR='$_pgs_dir'"
		eval "${_pgs_name}_PG_CONNINFO='host=$_pgs_dir dbname=holdscan user=holdscan'"
		_pgs_new=1
	else
		_pgs_new=0
	fi
	_pg_as "$PG_BIN/postgres" -D "$_pgs_dir/data" -k "$_pgs_dir" \
	    -c listen_addresses= -c fsync=off -c max_connections=20 \
	    -c shared_buffers=16MB >>"$_pgs_dir/postgres.log" 2>&1 &
	_pgs_sub=$!
	eval "${_pgs_name}_PG_SUB=$_pgs_sub"
	case " $_pg_clusters " in
	*" $_pgs_name "*) ;;
	*) _pg_clusters="$_pg_clusters $_pgs_name" ;;
	esac
	_pgs_i=0
	_pgs_pid=
	while [ "$_pgs_i" -lt 300 ]; do
		# The postmaster's own pid (not the shell's that started it).
		if [ -z "$_pgs_pid" ] && [ -s "$_pgs_dir/data/postmaster.pid" ]; then
			_pgs_pid=$(head -n 1 "$_pgs_dir/data/postmaster.pid")
			eval "${_pgs_name}_PG_PID=$_pgs_pid"
		fi
		if [ -n "$_pgs_pid" ] && "$PG_BIN/pg_isready" -q \
		    -h "$_pgs_dir" -U holdscan -d postgres 2>/dev/null; then
			break
		fi
		if ! kill -0 "$_pgs_sub" 2>/dev/null; then
			diag "postgres exited at start:"
			sed 's/^/# /' "$_pgs_dir/postgres.log" >&2
			return 1
		fi
		sleep 0.1
		_pgs_i=$((_pgs_i + 1))
	done
	if [ "$_pgs_i" -ge 300 ]; then
		diag "postgres not ready after 30 s"
		return 1
	fi
	if [ "$_pgs_new" = 1 ] && ! psql -Atq -h "$_pgs_dir" -U holdscan \
	    -d postgres -c 'CREATE DATABASE holdscan' >/dev/null; then
		diag "CREATE DATABASE failed"
		return 1
	fi
	return 0
}

pg_stop() {
	_pgt_pid=$(_pg_get "$1" PG_PID)
	[ -n "$_pgt_pid" ] || return 0
	# A test may have frozen it (pg_pids): thaw it first.
	# shellcheck disable=SC2046 # pids, one a word
	kill -CONT $(pg_pids "$1") 2>/dev/null
	kill -INT "$_pgt_pid" 2>/dev/null
	_pgt_i=0
	while [ "$_pgt_i" -lt 150 ] && kill -0 "$_pgt_pid" 2>/dev/null; do
		sleep 0.1
		_pgt_i=$((_pgt_i + 1))
	done
	if kill -0 "$_pgt_pid" 2>/dev/null; then
		diag "postgres $1 ($_pgt_pid) still runs after 15 s; killing"
		kill -KILL "$_pgt_pid" 2>/dev/null
	fi
	wait "$(_pg_get "$1" PG_SUB)" 2>/dev/null
	eval "$1_PG_PID="
	return 0
}

pg_pids() {
	_pgp_pid=$(_pg_get "$1" PG_PID)
	[ -n "$_pgp_pid" ] || return 0
	echo "$_pgp_pid"
	ps -o pid= --ppid "$_pgp_pid"
}

pg_sql() {
	psql -Atq -h "$(_pg_get "$1" PG_DIR)" -U holdscan -d holdscan -c "$2"
}

pg_stop_all() {
	for _pga in $_pg_clusters; do
		pg_stop "$_pga"
		if [ "${HS_KEEP:-0}" = 1 ]; then
			diag "HS_KEEP=1: kept $(_pg_get "$_pga" PG_DIR)"
		else
			rm -rf "$(_pg_get "$_pga" PG_DIR)"
		fi
	done
}
