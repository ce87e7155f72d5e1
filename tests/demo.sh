#!/bin/sh
# demo.sh - see holdscan work: a private Postfix on loopback that holds all
# mail, holdscand releasing it, clean mail delivered and infected mail
# quarantined. Run by "make demo" (as root). Stops everything it started.
#
# Nothing outside a temporary directory is touched: the Postfix instance
# has its own configuration, queue and ports on 127.0.0.1, and its
# "internet" is an smtp-sink that stores what it receives.
set -eu

HS_BUILD=${HS_BUILD:?run me through make demo}
LIB=$(cd "$(dirname "$0")/lib" && pwd)
SANDBOX="$LIB/sandbox.sh"
# shellcheck source=lib/holdscan.sh
. "$LIB/holdscan.sh"
DEMO=$(mktemp -d /tmp/holdscan-demo.XXXXXX)
chmod 0755 "$DEMO"
SB="$DEMO/postfix"
HSPID=
WEBPID=

say() {
	printf '\n\033[1m== %s\033[0m\n' "$*"
}

cleanup() {
	if [ -n "$WEBPID" ] && kill -0 "$WEBPID" 2>/dev/null; then
		kill -TERM "$WEBPID" 2>/dev/null
		wait "$WEBPID" 2>/dev/null || true
	fi
	if [ -n "$HSPID" ] && kill -0 "$HSPID" 2>/dev/null; then
		kill -TERM "$HSPID" 2>/dev/null
		i=0
		while kill -0 "$HSPID" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
	fi
	sh "$SANDBOX" stop "$SB" >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" = 1 ]; then
		echo "KEEP=1: everything is in $DEMO"
	else
		rm -rf "$DEMO"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

wait_for() {	# wait_for SECONDS COMMAND...
	n=$(($1 * 10))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$n" -le 0 ] && return 1
		n=$((n - 1))
		sleep 0.1
	done
}

say "Starting a private Postfix on 127.0.0.1 with a header_checks HOLD rule"
sh "$SANDBOX" start "$SB" >"$DEMO/sandbox.out" 2>&1 || {
	cat "$DEMO/sandbox.out"
	exit 1
}
# shellcheck disable=SC1091
. "$SB/sandbox.env"
echo "Postfix:     $SB_CONFIG (smtpd on 127.0.0.1:$SB_SMTP_PORT)"
echo "HOLD rule:   $(cat "$SB_CONFIG/header_checks")"
echo "Relays to:   smtp-sink on 127.0.0.1:$SB_SINK_PORT, one file per message in $SB_SINK_DIR"

# Scanners: ClamAV with the test signatures (EICAR + clamav-testfiles
# hashes) when the plugin is built.
mkdir -p "$DEMO/hs/state" "$DEMO/hs/quarantine" "$DEMO/sigs"
chown "$SB_MAIL_OWNER" "$DEMO/hs/state" "$DEMO/hs/quarantine"
TESTDATA="$(dirname "$0")/tools/clamav-testdata.py"
scanners=
if [ -f "$HS_BUILD/plugins/clamav.so" ]; then
	python3 "$TESTDATA" sigs "$DEMO/sigs" >/dev/null
	python3 "$TESTDATA" mail "$DEMO/mail" >/dev/null
	chmod -R a+rX "$DEMO/sigs"
	scanners=clamav
fi
cat >"$DEMO/hs/holdscan.conf" <<EOF
postfix_config_directory = $SB_CONFIG
state_directory = $DEMO/hs/state
state_region_directory = $DEMO/hs/regions
quarantine_directory = $DEMO/hs/quarantine
pid_file = $DEMO/hs/holdscand.pid
metrics_file = $DEMO/hs/state/metrics.prom
plugin_directory = $(hs_plugins "$DEMO/hs")
scanner_program = $(hs_scanner_program "$DEMO/hs")
worker_user = nobody
scanners = $scanners
EOF
if [ -n "$scanners" ]; then
	cat >>"$DEMO/hs/holdscan.conf" <<EOF
plugin clamav {
    database_directory = $DEMO/sigs
}
EOF
fi
# The web console: as holdscan-web when make install made that user, else
# as daemon; its page from the source tree, copied where that user can read.
WEBUSER=holdscan-web
id "$WEBUSER" >/dev/null 2>&1 || WEBUSER=daemon
WEBPORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000))
cp -r "$(dirname "$0")/../web" "$DEMO/ui"
chmod -R a+rX "$DEMO/ui"
chmod 0755 "$DEMO/hs"
cat >>"$DEMO/hs/holdscan.conf" <<EOF
web {
    listen = 127.0.0.1:$WEBPORT
    user = $WEBUSER
    document_root = $DEMO/ui
    accounts_file = $DEMO/hs/web-users
}
EOF
chmod 0644 "$DEMO/hs/holdscan.conf"

say "Starting holdscand (as root; it drops to postfix, its workers to nobody)"
"$HS_BUILD/holdscand" -f -c "$DEMO/hs/holdscan.conf" >"$DEMO/holdscand.log" 2>&1 &
HSPID=$!
wait_for 30 grep -q 'scanners ready' "$DEMO/holdscand.log" || {
	cat "$DEMO/holdscand.log"
	exit 1
}
cat "$DEMO/holdscand.log"
ps -o user=,pid=,args= --ppid "$HSPID" -p "$HSPID" 2>/dev/null | sed 's/^/  /' || true

say "Sending 3 clean messages and, if ClamAV is loaded, 2 infected ones"
for i in 1 2 3; do
	swaks --silent 2 --server "127.0.0.1:$SB_SMTP_PORT" --from alice@example.org \
	    --to "bob$i@example.net" --header "Subject: hello $i" \
	    --body "Clean message number $i." >/dev/null
done
expected=3
if [ -n "$scanners" ]; then
	echo "  eicar-b64: the EICAR test file as a base64 attachment"
	echo "  nested-zip: clam.exe inside a zip inside a zip"
	python3 "$TESTDATA" send "127.0.0.1:$SB_SMTP_PORT" mallory@example.org \
	    carol@example.net "$DEMO/mail/eicar-b64.eml" \
	    "$DEMO/mail/nested-zip.eml" >/dev/null
fi

wait_for 30 sh -c "[ \$(sh '$SANDBOX' sink-count '$SB') -ge $expected ]" || true
if [ -n "$scanners" ]; then
	wait_for 30 sh -c "[ \$(grep -c 'action=quarantine' \
	    '$DEMO/holdscand.log') -ge 2 ]" || true
fi
sleep 1

say "What holdscand logged (one line per message per step)"
grep -v 'started\|ready' "$DEMO/holdscand.log" || true

say "Delivered to the sink: $(sh "$SANDBOX" sink-count "$SB") messages"
for f in $(sh "$SANDBOX" sink-list "$SB"); do
	echo "--- $(basename "$f")"
	grep -E '^(X-Mail-Args|X-Rcpt-Args|Subject|X-Holdscan):' "$f" | sed 's/^/    /'
done

if [ -n "$scanners" ]; then
	say "Quarantined"
	if "$HS_BUILD/holdscan" -c "$DEMO/hs/holdscan.conf" quarantine list \
	    >"$DEMO/qlist" 2>/dev/null; then
		cat "$DEMO/qlist"
	else
		find "$DEMO/hs/quarantine" -type f | sed "s|$DEMO/hs/quarantine/|    |"
	fi
	grep 'action=quarantine' "$DEMO/holdscand.log" | sed 's/^/    /'
fi

say "Hold queue now: $(sh "$SANDBOX" hold-count "$SB") messages"
"$HS_BUILD/holdscan" -c "$DEMO/hs/holdscan.conf" status || true

if [ -x "$HS_BUILD/holdscan-web" ]; then
	say "The web console"
	echo "demo-password" | "$HS_BUILD/holdscan" -c "$DEMO/hs/holdscan.conf" \
	    web user add demo --role admin >/dev/null
	"$HS_BUILD/holdscan-web" -f -c "$DEMO/hs/holdscan.conf" \
	    >"$DEMO/holdscan-web.log" 2>&1 &
	WEBPID=$!
	if wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$WEBPORT/"; then
		echo "URL:    http://127.0.0.1:$WEBPORT/ (holdscan-web as $WEBUSER;"
		echo "        from elsewhere: ssh -L $WEBPORT:127.0.0.1:$WEBPORT this-host)"
		echo "Login:  demo / demo-password (admin)"
		if [ -t 0 ]; then
			printf 'Press Enter to stop everything. '
			read -r _
		else
			echo "(DEMO_WEB_SECONDS=600 make demo keeps it up that long)"
			sleep "${DEMO_WEB_SECONDS:-0}"
		fi
	else
		cat "$DEMO/holdscan-web.log"
	fi
fi

say "Stopping holdscand and Postfix"
