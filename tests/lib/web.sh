# web.sh - start and stop holdscan-web for tests/e2e/*.t (POSIX sh); source
# it after tap.sh and holdscan.sh.
#
#   web_start NAME CONF LOG URL [CURL-OPTION]
#                                 holdscan-web -f -c CONF in the background,
#                                 logging to LOG; ready when URL answers
#                                 (10 s); sets NAME_WEB_PID
#   web_stop NAME                 SIGTERM by pid, then SIGKILL after 5 s
#   web_free_port                 a loopback TCP port nothing listens on now
#   web_stop_all                  every one started here (tap.sh's exit trap)
#   tap_lines FILE COUNT WHAT     a checker's (webapi.py, webui.py,
#                                 webfarm.py) "ok"/"not ok" lines as tests
_web_daemons=

web_start() {
	"$HS_BUILD/holdscan-web" -f -c "$2" >>"$3" 2>&1 &
	eval "$1_WEB_PID=$!"
	_web_daemons="$_web_daemons $1"
	wait_until 30 curl -sf ${5:+"$5"} -o /dev/null "$4"
}

web_free_port() {
	"$HS_PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

web_stop() {
	_ws_pid=$(eval "printf '%s' \"\${$1_WEB_PID:-}\"")
	[ -n "$_ws_pid" ] || return 0
	kill -TERM "$_ws_pid" 2>/dev/null
	_ws_i=0
	while [ "$_ws_i" -lt 50 ] && kill -0 "$_ws_pid" 2>/dev/null; do
		sleep 0.1
		_ws_i=$((_ws_i + 1))
	done
	kill -KILL "$_ws_pid" 2>/dev/null
	wait "$_ws_pid" 2>/dev/null
	eval "$1_WEB_PID="
	return 0
}

web_stop_all() {
	for _wsa in $_web_daemons; do
		web_stop "$_wsa"
	done
}

# tap_lines FILE COUNT WHAT - each "ok"/"not ok" line of a checker as a test,
# then one that it made COUNT checks (it did not stop half-way)
tap_lines() {
	_tl_n=0
	while IFS="$(printf '\t')" read -r _tl_st _tl_what _tl_detail; do
		case $_tl_st in
		ok) ok 0 "$_tl_what" ;;
		'not ok') ok 1 "$_tl_what"; diag "$_tl_detail" ;;
		count) _tl_n=$_tl_what ;;
		esac
	done <"$1"
	check_eq "$3 made all its $2 checks" "$_tl_n" "$2"
}
