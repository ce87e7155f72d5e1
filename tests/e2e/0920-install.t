#!/bin/sh
# 0920-install.t - make install, the systemd units and the SysV script.
#
# 1. "make install DESTDIR=... PREFIX=/usr" (in its own build flavour, so
#    build/rel keeps its paths) installs exactly the expected tree with the
#    expected modes (the scanner program in /usr/lib/holdscan, each plugin
#    exporting its descriptor alone, every README file the manual pages
#    name in /usr/share/doc/holdscan); the paths compiled in and written into
#    the installed files are those of PREFIX=/usr; a second install keeps an
#    edited configuration file and puts the new one beside it as .dist.
#    Without DESTDIR (into a tree of its own, in a jail), make install
#    creates the users holdscan and holdscan-web (adduser, or useradd
#    without it) unless they exist, and chowns the mail owner's
#    directories.
# 2. "systemd-analyze verify" passes, without a word, on the installed
#    units (copies whose program paths point into DESTDIR), and
#    "systemd-analyze security" rates each 2.5 or better.
# 3. The installed SysV script starts holdscand (which detaches once its
#    scanners are ready), tells its status, reloads it, refuses a second
#    start quietly, stops it with its scanners, and fails a start with a
#    broken configuration. A stale pid file (naming a process that is
#    gone, locked by nobody) does not stop a start; a start that fails
#    once holdscand runs leaves none; one somebody holds locked stays.
# 4. holdscand runs under the unit's sandbox, reproduced here: a mount
#    namespace where everything is read-only but the unit's
#    ReadWritePaths (mapped to the sandbox's directories), no new
#    privileges, and the unit's capability bounding set. Mail flows. And
#    holdscan runs under the expiry unit's sandbox.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

SRC=$(cd "$HS_LIB/../.." && pwd)

plan 64

# --- 1. the tree -------------------------------------------------------------
D="$HS_TMP/destdir"
mkdir "$D"
# "make" then "make install PREFIX=/usr": the paths are compiled into
# src/common/paths.c (and the headers plugin's default rules_file) alone,
# so the install compiles those two and relinks, nothing else.
make -C "$SRC" --no-print-directory BUILD=install-test progs \
    >"$HS_TMP/make.out" 2>&1
ok $? 'make (PREFIX=/usr/local), in the install-test flavour' ||
    tail -n 20 "$HS_TMP/make.out" | sed 's/^/# /' >&2
make -C "$SRC" --no-print-directory -n V=1 BUILD=install-test PREFIX=/usr \
    DESTDIR="$D" install 2>&1 | tr -s ' \\\n' '\n' |
    sed -n 's|^\(.*\.c\)$|\1|p' | grep -v '^-' | sort -u >"$HS_TMP/compiled"
check_eq 'then make install PREFIX=/usr compiles paths.c and headers.c alone' \
    "$(cat "$HS_TMP/compiled")" "plugins/headers.c
src/common/paths.c"
check_eq 'tests/bench/__pycache__ is not in git' \
    "$(git -C "$SRC" ls-files 2>/dev/null | grep -c __pycache__)" 0
check 'and is ignored' git -C "$SRC" check-ignore -q \
    tests/bench/__pycache__/x.pyc
make -C "$SRC" --no-print-directory BUILD=install-test PREFIX=/usr \
    DESTDIR="$D" install >"$HS_TMP/install.out" 2>&1
ok $? 'make install DESTDIR=... PREFIX=/usr' ||
    tail -n 20 "$HS_TMP/install.out" | sed 's/^/# /' >&2

# expected - "MODE PATH" of every file and directory make install makes
expected() {
	{
		echo '-rwxr-xr-x usr/sbin/holdscand'
		echo '-rwxr-xr-x usr/bin/holdscan'
		echo '-rwxr-xr-x usr/sbin/holdscan-web'
		for f in "$SRC"/web/*; do
			echo "-rw-r--r-- usr/share/holdscan/web/${f##*/}"
		done
		echo '-rwxr-xr-x usr/lib/holdscan/holdscan-scanner'
		for f in "$SRC"/plugins/*.c; do
			f=${f##*/}
			echo "-rw-r--r-- usr/lib/holdscan/plugins/${f%.c}.so"
		done
		(cd "$SRC/etc" && find . -type f) | sed 's|^\./|-rw-r--r-- etc/holdscan/|'
		for f in "$SRC"/doc/*.[158]; do
			f=${f##*/}
			echo "-rw-r--r-- usr/share/man/man${f##*.}/$f"
		done
		echo '-rw-r--r-- usr/share/doc/holdscan/README.md'
		echo '-rw-r--r-- usr/share/doc/holdscan/quickstart.md'
		echo '-rw-r--r-- usr/share/doc/holdscan/farm.md'
		echo '-rw-r--r-- usr/share/doc/holdscan/digest.md'
		echo '-rw-r--r-- usr/share/doc/holdscan/web.md'
		echo '-rw-r--r-- usr/share/doc/holdscan/security.md'
		echo '-rw-r--r-- lib/systemd/system/holdscan-web.service'
		echo '-rwxr-xr-x etc/init.d/holdscan-web'
		echo '-rw-r--r-- lib/systemd/system/holdscand.service'
		echo '-rw-r--r-- lib/systemd/system/holdscan-expire.service'
		echo '-rw-r--r-- lib/systemd/system/holdscan-expire.timer'
		echo '-rw-r--r-- lib/systemd/system/holdscan-digest.service'
		echo '-rw-r--r-- lib/systemd/system/holdscan-digest.timer'
		echo '-rwxr-xr-x etc/init.d/holdscand'
		echo '-rw-r--r-- etc/cron.d/holdscan'
		echo 'drwx------ var/lib/holdscan'
		echo 'drwx------ var/spool/holdscan/quarantine'
	} >"$HS_TMP/exp.files"
	# every parent directory, mode 0755
	sed 's/^[^ ]* //' "$HS_TMP/exp.files" | while read -r p; do
		while [ "${p%/*}" != "$p" ]; do
			p=${p%/*}
			echo "drwxr-xr-x $p"
		done
	done | grep -v -e ' var/lib/holdscan$' -e ' var/spool/holdscan/quarantine$'
	cat "$HS_TMP/exp.files"
}
expected | sort -k 2 -u >"$HS_TMP/tree.want"
(cd "$D" && find . -mindepth 1 -printf '%M %P\n') | sort -k 2 >"$HS_TMP/tree.got"
check_eq 'the installed tree is the expected one, modes included' \
    "$(diff "$HS_TMP/tree.want" "$HS_TMP/tree.got")" ""
check_eq 'every README file the manual pages name is installed' \
    "$(grep -ho '/usr/share/doc/holdscan/[A-Za-z_-]*\.md' \
    "$D"/usr/share/man/man*/* | sort -u | while read -r f; do
	[ -f "$D$f" ] || echo "missing $f"
    done)" ""
check_eq 'the test-only plugins and tools are not installed' \
    "$(find "$D" -name 'crashtest*' -o -name 'config-defaults' \
    -o -name '*fault*')" ""

check 'holdscand has the default config file of PREFIX=/usr compiled in' \
    grep -aq '/etc/holdscan/holdscan.conf' "$D/usr/sbin/holdscand"
check 'and the plugin directory' \
    grep -aq '/usr/lib/holdscan/plugins' "$D/usr/sbin/holdscand"
check 'and the scanner program' \
    grep -aq '/usr/lib/holdscan/holdscan-scanner' "$D/usr/sbin/holdscand"
check_eq 'and nothing of /usr/local' \
    "$(grep -ac /usr/local "$D/usr/sbin/holdscand" "$D/usr/bin/holdscan" \
    "$D/usr/lib/holdscan/holdscan-scanner" \
    "$D"/usr/lib/holdscan/plugins/*.so | grep -v ':0$')" ""
check_eq 'each installed plugin exports its descriptor, hs_plugin, alone' \
    "$(for so in "$D"/usr/lib/holdscan/plugins/*.so; do
	nm -D --defined-only "$so" | awk -v so="${so##*/}" '{ print so, $NF }'
    done)" \
    "$(for f in "$SRC"/plugins/*.c; do
	f=${f##*/}
	echo "${f%.c}.so hs_plugin"
    done)"
check_eq 'holdscan.conf shows the installed paths as defaults' \
    "$(grep -E '^#(plugin_directory|scanner_program|    rules_file) = ' \
    "$D/etc/holdscan/holdscan.conf")" \
    "#plugin_directory = /usr/lib/holdscan/plugins
#scanner_program = /usr/lib/holdscan/holdscan-scanner
#    rules_file = /etc/holdscan/header_rules"
check_eq 'so do the manual pages' \
    "$(cat "$D"/usr/share/man/man*/* | grep -c /usr/local)" 0
check 'the installed holdscan.conf is a valid configuration' \
    "$D/usr/sbin/holdscand" -n -c "$D/etc/holdscan/holdscan.conf"
check_eq 'the units and the SysV script start the installed programs' \
    "$(grep -h -e '^ExecStart=' -e '^DAEMON=' -e '^CONFIG=' \
    "$D"/lib/systemd/system/* "$D/etc/init.d/holdscand")" \
    "ExecStart=/usr/bin/holdscan digest
ExecStart=/usr/bin/holdscan quarantine expire --older-than 30d
ExecStart=/usr/sbin/holdscan-web
ExecStart=/usr/sbin/holdscand
DAEMON=/usr/sbin/holdscand
CONFIG=/etc/holdscan/holdscan.conf"
check_eq 'make install creates the directories of the defaults' \
    "$(grep -E '^#(state|quarantine)_directory = ' "$SRC/etc/holdscan.conf")" \
    "#state_directory = /var/lib/holdscan
#quarantine_directory = /var/spool/holdscan/quarantine"

echo 'verbose = yes' >>"$D/etc/holdscan/holdscan.conf"
cp "$D/etc/holdscan/holdscan.conf" "$HS_TMP/edited.conf"
make -C "$SRC" --no-print-directory BUILD=install-test PREFIX=/usr \
    DESTDIR="$D" install >"$HS_TMP/install2.out" 2>&1
ok $? 'make install again over an edited holdscan.conf'
check 'the edited file is kept' cmp "$D/etc/holdscan/holdscan.conf" \
    "$HS_TMP/edited.conf"
check 'and said so' grep -qx \
    "kept $D/etc/holdscan/holdscan.conf as it is; the new version is $D/etc/holdscan/holdscan.conf.dist" \
    "$HS_TMP/install2.out"
check_eq 'the new one is beside it as .dist; unchanged files get none' \
    "$(cd "$D/etc/holdscan" && ls)" \
    "$( (cd "$SRC/etc" && ls; echo holdscan.conf.dist) | LC_ALL=C sort)"

# Without DESTDIR, make install creates the system users holdscan and
# holdscan-web (issue 13 item 5), with adduser, or useradd where there
# is no adduser, unless they exist, and gives the mail owner its
# directories. Here into a tree of its own ($R, every directory set to
# one in it), with stubs of id, adduser, useradd and chown first on PATH
# that record their arguments, and in a mount namespace where all but
# $U is read-only: nothing of the host's can be touched.
U="$HS_TMP/users"
R="$U/root"
mkdir -p "$R" "$U/with-adduser" "$U/no-adduser"
cat >"$U/stub" <<'EOF'
#!/bin/sh
# a stub: records its name and arguments; id -u knows the users in
# passwd beside it, adduser and useradd add theirs there
U=$(dirname "$0")/..
echo "${0##*/} $*" >>"$U/calls"
case ${0##*/} in
id)	grep -qx "$2" "$U/passwd" || {
		echo "id: '$2': no such user" >&2
		exit 1
	}
	echo 999 ;;
adduser|useradd) eval "echo \"\${$#}\"" >>"$U/passwd" ;;
esac
exit 0
EOF
chmod 0755 "$U/stub"
for c in id adduser useradd chown; do
	ln -s ../stub "$U/with-adduser/$c"
done
for c in id useradd chown; do
	ln -s ../stub "$U/no-adduser/$c"
done
DIRS="PREFIX=$R/usr SYSCONFDIR=$R/etc/holdscan SYSTEMDDIR=$R/lib/systemd/system
INITDIR=$R/etc/init.d CRONDIR=$R/etc/cron.d STATEDIR=$R/var/lib/holdscan
QUARANTINEDIR=$R/var/spool/holdscan/quarantine MAIL_OWNER=hs-test-owner"
# The build first (its paths are $R's), outside the jail.
# shellcheck disable=SC2086 # DIRS is a list of words
make -C "$SRC" --no-print-directory BUILD=install-test $DIRS progs \
    >"$HS_TMP/make-users.out" 2>&1 ||
    tail -n 20 "$HS_TMP/make-users.out" | sed 's/^/# /' >&2
# install_users STUBS - make install, no DESTDIR, with the stubs in
# $U/STUBS first on PATH and no /usr/sbin (where adduser is), in the
# jail; what the stubs were called with in $U/calls
install_users() {
	: >"$U/calls"
	# shellcheck disable=SC2016,SC2086
	unshare -m --propagation private sh -c '
		set -e
		mount --bind "$1" "$1"
		mount -o remount,bind,ro /
		shift
		exec "$@"' jail "$U" env PATH="$U/$1:/usr/bin:/bin" \
	    make -C "$SRC" --no-print-directory BUILD=install-test $DIRS \
	    install >"$HS_TMP/install-users.out" 2>&1
}
: >"$U/passwd"
install_users with-adduser
check_eq 'no users yet: make install adds holdscan and holdscan-web with adduser' \
    "$?:$(cat "$U/calls")" "0:id -u hs-test-owner
id -u holdscan
adduser --quiet --system --group --no-create-home holdscan
id -u holdscan-web
adduser --quiet --system --group --no-create-home holdscan-web"
check 'into the tree given (the jail let nothing else be written)' \
    test -x "$R/usr/sbin/holdscand"
echo hs-test-owner >>"$U/passwd"
install_users with-adduser
check_eq 'again, the users there: none added; the mail owner gets its directories' \
    "$?:$(cat "$U/calls")" "0:id -u hs-test-owner
chown hs-test-owner: $R/var/lib/holdscan $R/var/spool/holdscan/quarantine
id -u holdscan
id -u holdscan-web"
echo hs-test-owner >"$U/passwd"
install_users no-adduser
check_eq 'without adduser: useradd, a system user and group, no home, no login' \
    "$?:$(grep -v '^id ' "$U/calls")" "0:chown hs-test-owner: $R/var/lib/holdscan $R/var/spool/holdscan/quarantine
useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin holdscan
useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin holdscan-web"

# --- 2. systemd-analyze verify --------------------------------------------------
U="$HS_TMP/units"
mkdir "$U"
for f in "$D"/lib/systemd/system/*; do
	sed -e "s|/usr/sbin/holdscand|$D/usr/sbin/holdscand|" \
	    -e "s|/usr/sbin/holdscan-web|$D/usr/sbin/holdscan-web|" \
	    -e "s|/usr/bin/holdscan |$D/usr/bin/holdscan |" "$f" >"$U/${f##*/}"
done
MANPATH="$D/usr/share/man" systemd-analyze verify "$U/holdscand.service" \
    "$U/holdscan-expire.service" "$U/holdscan-expire.timer" \
    "$U/holdscan-digest.service" "$U/holdscan-digest.timer" \
    "$U/holdscan-web.service" \
    >"$HS_TMP/verify.out" 2>&1
check_eq 'systemd-analyze verify: exit 0, no complaint' \
    "$?:$(cat "$HS_TMP/verify.out")" "0:"

# exposure UNIT - systemd-analyze security's overall exposure, times 10
exposure() {
	systemd-analyze security --offline=true "$1" 2>/dev/null |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9]*\)\.\([0-9]\).*/\1\2/p'
}
e=$(exposure "$U/holdscand.service")
check "holdscand.service's exposure is at most 2.5 (it is ${e:-?} tenths)" \
    test "${e:-99}" -le 25
e=$(exposure "$U/holdscan-expire.service")
check "holdscan-expire.service's exposure is at most 2.5 (it is ${e:-?} tenths)" \
    test "${e:-99}" -le 25
e=$(exposure "$U/holdscan-web.service")
check "holdscan-web.service's exposure is at most 2.5 (it is ${e:-?} tenths)" \
    test "${e:-99}" -le 25

# --- 3. the SysV script ------------------------------------------------------------
sb_start A || bail_out "sandbox did not start"
# (the scanners read it as nobody, who may not reach the checkout)
mkdir -p "$HS_TMP/rules"
cp "$SRC/etc/header_rules" "$HS_TMP/rules/"
CONF=$(hs_conf A <<EOF
scanners = headers
plugin headers {
    rules_file = $HS_TMP/rules/header_rules
}
EOF
)
PIDFILE="$(sb_dir A)/hs/holdscand.pid"
INIT="$HS_TMP/holdscand.init"
sed -e "s|^DAEMON=.*|DAEMON=$D/usr/sbin/holdscand|" \
    -e "s|^DEFAULTS=.*|DEFAULTS=$HS_TMP/default|" \
    "$D/etc/init.d/holdscand" >"$INIT"
echo "CONFIG=$CONF" >"$HS_TMP/default"

sh "$INIT" start >"$HS_TMP/init.out" 2>&1
check_eq 'init start: exit 0' "$?" 0
pid=$(cat "$PIDFILE" 2>/dev/null)
# So hs_procs, hs_stop and the exit trap (hs_stop_all) know this daemon.
# shellcheck disable=SC2034
A_HS_PID=$pid
_hs_daemons=" A"
check_eq 'the pid file names the running master, a process of mail_owner' \
    "$(ps -o user= -p "$pid" 2>/dev/null)" "$A_MAIL_OWNER"
check_eq 'and its scanners are up (supervisor, 1 parent + 2 workers)' \
    "$(hs_procs A | wc -l)" 5
sh "$INIT" status >"$HS_TMP/status.out" 2>&1
check_eq 'init status: running, exit 0' "$?:$(grep -c 'is running' \
    "$HS_TMP/status.out")" "0:1"
sh "$INIT" start >/dev/null 2>&1
check_eq 'init start again: exit 0, the same master' \
    "$?:$(cat "$PIDFILE")" "0:$pid"
gen() {
	sed -n 's/^holdscan_engine_info{generation="\([0-9]*\)".*/\1/p' \
	    "$(sb_dir A)/hs/state/metrics.prom" 2>/dev/null
}
sh "$INIT" reload >/dev/null 2>&1
check_eq 'init reload: exit 0' "$?" 0
engine_reloaded() { [ "$(gen)" = 2 ]; }
check 'the scanners were reloaded (engine generation 2)' \
    wait_until 60 engine_reloaded
# A typo, then reload and restart: refused, with the error, and the
# running daemon is left as it is (issue 14, item 5).
cp "$CONF" "$HS_TMP/good.conf"
echo 'batch_max_wait = soon' >>"$CONF"
sh "$INIT" reload >"$HS_TMP/reload.out" 2>&1
check_eq 'init reload with a typo: exit 1' "$?" 1
check 'and it shows the error' grep -q \
    "$CONF:[0-9]*: batch_max_wait = \"soon\": bad time" "$HS_TMP/reload.out"
sh "$INIT" restart >"$HS_TMP/restart.out" 2>&1
check_eq 'init restart with a typo: exit 1, the same master still running' \
    "$?:$(cat "$PIDFILE")" "1:$pid"
check 'which still runs' kill -0 "$pid"
cp "$HS_TMP/good.conf" "$CONF"
procs=$(hs_procs A)
sh "$INIT" stop >/dev/null 2>&1
check_eq 'init stop: exit 0' "$?" 0
# none_left PID... - none of these processes runs any more
none_left() {
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	return 0
}
# shellcheck disable=SC2086
check 'master and scanners are gone' wait_until 60 none_left $procs
sh "$INIT" status >/dev/null 2>&1
check_eq 'init status: not running, exit 3' "$?" 3

# A stale pid file (issue 14, item 4): one naming a process that is gone,
# as a crash or a failed start leaves it (an older one, 0644), does not
# stop a start: the script removes it first (holdscand would make it
# again itself, saying so in its log, here log_file).
sh -c 'exit 0' &
dead=$!
wait "$dead"
echo "$dead" >"$PIDFILE"
chmod 0644 "$PIDFILE"
{ cat "$CONF"; echo "log_file = $HS_TMP/stale.log"; } >"$HS_TMP/stale.conf"
chmod 0644 "$HS_TMP/stale.conf"
echo "CONFIG=$HS_TMP/stale.conf" >"$HS_TMP/default"
sh "$INIT" start >"$HS_TMP/init.out" 2>&1
check_eq 'init start over a stale pid file naming a dead process: exit 0' \
    "$?" 0
pid=$(cat "$PIDFILE" 2>/dev/null)
# shellcheck disable=SC2034
A_HS_PID=$pid
check_eq 'the pid file now names the new master (not the dead pid), 0600' \
    "$([ "$pid" != "$dead" ] && ps -o user= -p "$pid"):$(stat -c %a \
    "$PIDFILE")" "$A_MAIL_OWNER:600"
check_eq 'it was a new file: holdscand did not have to make it again' \
    "$(grep -c "holdscand\[$pid\]: started: " "$HS_TMP/stale.log"):$(grep -c \
    'was not root' "$HS_TMP/stale.log")" "1:0"
procs=$(hs_procs A)
sh "$INIT" stop >/dev/null 2>&1
# shellcheck disable=SC2086
check 'init stop: master and scanners gone' wait_until 60 none_left $procs
echo "CONFIG=$CONF" >"$HS_TMP/default"
# A failed start (a rules file that is missing stops a start, not the
# check of the configuration) leaves no pid file behind.
sed "s|rules_file = .*|rules_file = $HS_TMP/rules/missing|" "$CONF" \
    >"$HS_TMP/norules.conf"
chmod 0644 "$HS_TMP/norules.conf"
echo "CONFIG=$HS_TMP/norules.conf" >"$HS_TMP/default"
sh "$INIT" start >"$HS_TMP/init.out" 2>&1
check_eq 'init start that fails once holdscand runs: exit 1, a fatal line with the reason' \
    "$?:$(grep -c "holdscand: fatal: .*$HS_TMP/rules/missing.* (scanner parent [0-9]* exited while starting" \
    "$HS_TMP/init.out")" "1:1"
check 'and no pid file is left' test ! -e "$PIDFILE"
echo "CONFIG=$CONF" >"$HS_TMP/default"
# A pid file somebody holds locked (a holdscand that runs, though its pid
# file names a process that is gone) is not stale: it stays, and the
# start fails saying why.
echo "$dead" >"$PIDFILE"
chmod 0600 "$PIDFILE"
sh -c 'exec 9<"$1" && flock 9 && exec sleep 600' locker "$PIDFILE" &
locker=$!
check 'a process holds the pid file locked' wait_until 30 sh -c \
    "! flock -n '$PIDFILE' true"
sh "$INIT" start >"$HS_TMP/init.out" 2>&1
check_eq 'init start while another holds the pid file: exit 1, said why' \
    "$?:$(grep -c "holdscand is already running (pid $dead, $PIDFILE)" \
    "$HS_TMP/init.out")" "1:1"
check_eq 'and the pid file is left as it was' "$(cat "$PIDFILE")" "$dead"
kill "$locker"
wait "$locker" 2>/dev/null
rm -f "$PIDFILE"

echo 'batch_max_wait = soon' >>"$CONF"
sh "$INIT" start >"$HS_TMP/init.out" 2>&1
check_eq 'init start with a broken configuration: exit 1' "$?" 1
check 'and the error is shown' grep -q \
    "$CONF:[0-9]*: batch_max_wait = \"soon\": bad time" "$HS_TMP/init.out"
sed -i '/^batch_max_wait = soon$/d' "$CONF"

# --- 4. the unit's sandbox ---------------------------------------------------------
UNIT="$D/lib/systemd/system/holdscand.service"
check_eq "the unit's writable paths are the queue, state and quarantine" \
    "$(sed -n 's/^ReadWritePaths=//p' "$UNIT")" \
    "/var/spool/postfix -/var/lib/holdscan -/var/spool/holdscan/quarantine"
check_eq "and its runtime directory, for the pid file (not all of /run)" \
    "$(sed -n 's/^RuntimeDirectory=//p' "$UNIT"):$(sed -n 's/^PIDFile=//p' \
    "$UNIT")" "holdscan:/run/holdscan/holdscand.pid"
check_eq 'NoNewPrivileges=yes, ProtectSystem=strict' \
    "$(grep -c -e '^NoNewPrivileges=yes$' -e '^ProtectSystem=strict$' "$UNIT")" 2

# caps UNIT - the unit's CapabilityBoundingSet as setpriv's --bounding-set
caps() {
	sed -n 's/^CapabilityBoundingSet=//p' "$1" | tr 'A-Z ' 'a-z\n' |
	    sed -n 's/^cap_/+/p' | paste -sd, | sed 's/^/-all,/; s/,$//'
}

# jail UNIT CMD... - run CMD as the unit would: everything read-only but
# the unit's ReadWritePaths and RuntimeDirectory, each mapped to the
# sandbox's counterpart, with no new privileges, the unit's capability
# bounding set, and as its User= (the mail owner here) if it names one.
# (Its SystemCallFilter= cannot be reproduced without systemd; every
# system call holdscand makes was checked against @system-service.)
jail() {
	_j_unit=$1
	shift
	_j_binds=
	_j_user=
	if [ -n "$(sed -n 's/^User=//p' "$_j_unit")" ]; then
		_j_user="--reuid=$A_MAIL_OWNER --regid=$A_MAIL_OWNER --clear-groups"
	fi
	# one line, a list of paths
	# shellcheck disable=SC2013
	for p in $(sed -n 's/^ReadWritePaths=//p' "$_j_unit") \
	    $(sed -n 's|^RuntimeDirectory=|/run/|p' "$_j_unit"); do
		case ${p#-} in
		/var/spool/postfix) p=$A_QUEUE ;;
		/var/lib/holdscan) p=$(sb_dir A)/hs/state ;;
		/run/holdscan/state) p=$(sb_dir A)/hs/regions ;;
		/var/spool/holdscan/quarantine) p=$(sb_dir A)/hs/quarantine ;;
		/run/holdscan) p=$(sb_dir A)/hs ;;
		*) echo "unexpected ReadWritePaths entry $p" >&2; return 1 ;;
		esac
		_j_binds="$_j_binds $p"
	done
	# $_j_user is a list of options: split it into words.
	# shellcheck disable=SC2016,SC2086
	unshare -m --propagation private sh -c '
		set -e
		for p in $1; do mount --bind "$p" "$p"; done
		mount -o remount,bind,ro /
		shift
		exec "$@"' jail "$_j_binds" \
	    setpriv --no-new-privs --bounding-set "$(caps "$_j_unit")" \
	    $_j_user "$@"
}

jail "$UNIT" sh -c 'touch /var/tmp/hs-jail-test' 2>/dev/null
check_eq 'in the jail the rest of the file system is read-only' "$?" 1
before=$(sink_count A)
jail "$UNIT" "$D/usr/sbin/holdscand" -c "$CONF" >"$HS_TMP/jail.out" 2>&1
check_eq 'holdscand starts in the jail (exit 0 once ready)' \
    "$?:$(cat "$HS_TMP/jail.out")" "0:"
pid=$(cat "$PIDFILE")
# shellcheck disable=SC2034
A_HS_PID=$pid
smtp-source -m 5 -f jail@example.org -t sink@example.net \
    "127.0.0.1:$A_SMTP_PORT" >/dev/null 2>&1
check 'and mail flows through it' wait_sink A $((before + 5)) 30
check_eq 'its master cannot gain privileges (NoNewPrivs)' \
    "$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' "/proc/$pid/status")" 1
check_eq "and has the unit's capability bounding set" \
    "$(capsh --decode="$(sed -n 's/^CapBnd:[[:space:]]*//p' \
    "/proc/$pid/status")" | sed 's/^[^=]*=//' | tr , '\n' | sort)" \
    "$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z ' 'a-z\n' |
    sort)"
hs_stop A
check 'holdscan runs in the expiry unit'"'"'s jail' \
    jail "$D/lib/systemd/system/holdscan-expire.service" \
    "$D/usr/bin/holdscan" -c "$CONF" status

done_testing
