#!/bin/sh
# sandbox.sh - a private, throw-away Postfix instance for tests.
#
#   sandbox.sh start DIR [name=value ...]
#   sandbox.sh stop DIR
#   sandbox.sh reconfigure DIR name=value ...   (postconf -e, then reload)
#   sandbox.sh wait-sink DIR N [TIMEOUT]      (default TIMEOUT 60 s)
#   sandbox.sh wait-hold DIR N [TIMEOUT]
#   sandbox.sh sink-count DIR | sink-list DIR | hold-count DIR | hold-list DIR
#   sandbox.sh pids DIR          (running processes: master, its session, sink)
#   sandbox.sh running PID...    (those still running; zombies do not count)
#
# start builds under DIR a complete Postfix instance that relays every
# message to an smtp-sink on another loopback port, starts both, waits until
# smtpd answers, then writes DIR/sandbox.env (shell-sourceable, SB_ names)
# and prints it:
#
#   SB_DIR        DIR
#   SB_CONFIG     Postfix config directory (postfix -c / postconf -c)
#   SB_QUEUE      queue_directory
#   SB_SMTP_PORT  smtpd on 127.0.0.1
#   SB_SINK_PORT  smtp-sink on 127.0.0.1
#   SB_SINK_DIR   smtp-sink stores each message in its own file here
#   SB_MAILLOG    Postfix's log (maillog_file through postlogd)
#   SB_SINK_PID   smtp-sink's process id
#   SB_MAIL_OWNER mail_owner
#
# Every message gets a Received: header from smtpd, and header_checks holds
# every message with a Received: header, so all mail lands in the hold
# queue. The argument hold=no leaves header_checks out (mail flows straight
# through to the sink). Every other name=value is applied with
# "postconf -c CONFIG -e" after the defaults below, e.g.
# enable_long_queue_ids=yes hash_queue_names=hold,incoming,deferred,defer.
#
# DIR may be a fresh "mktemp -d" directory: start makes DIR itself root-owned
# mode 0755 (Postfix's daemons and smtp-sink run as mail_owner and open
# data_directory and the sink directory by absolute path), and refuses to
# run when a parent directory cannot be searched by mail_owner.
#
# stop stops Postfix (postfix stop, then waits for the master's pid, kills
# that pid and the rest of its session if they outlive the wait) and the
# sink (by its recorded pid). It is idempotent and works on a half-started
# DIR. Nothing is ever killed by name.
#
# reconfigure changes settings of a running instance (hold=yes|no too) and
# reloads it; use it rather than postconf -e + postfix reload, which would
# wait 1-2 s for the fresh main.cf to age (see backdate). It returns once
# the master has read the new main.cf (see wait_reloaded).
#
# sink-count counts complete messages: a file of the sink directory counts
# once smtp-sink has closed it (it writes messages while they arrive).
# hold-count counts ready files (regular, owner-executable) anywhere below
# the hold directory, hashed or not: cleanup renames a held file into hold
# before it has finished writing it and makes it executable last.
#
# Needs root, Postfix (postfix, postconf, smtp-sink), perl, ss, setpriv.
set -u

prog=sandbox.sh
# Names of the pieces below DIR.
ETC=etc			# config_directory: main.cf, master.cf, header_checks
QUEUE=queue		# queue_directory
DATA=data		# data_directory (owned by mail_owner)
SINK=sink		# smtp-sink's message files (owned by mail_owner)
LOG=log			# maillog, smtp-sink.log, postfix.log

die() {
	echo "$prog: $*" >&2
	exit 1
}

warn() {
	echo "$prog: $*" >&2
}

# pid_alive PID - true while a process with that pid runs. A zombie counts
# as gone: a daemonised master is reparented to pid 1, which need not reap
# it at once (here it does not).
pid_alive() {
	case $1 in
	''|*[!0-9]*) return 1 ;;
	esac
	# /proc/PID/stat is "pid (comm) state ..."
	[ -r "/proc/$1/stat" ] || return 1
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	state=${stat##*) }
	state=${state%% *}
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# pid_is PID NAME - true if PID is alive and its command name is NAME
# (guards against killing a recycled pid).
pid_is() {
	pid_alive "$1" || return 1
	[ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

# poll TENTHS CMD... - run CMD until it is true, every tenth of a second,
# at most TENTHS tenths of a second. True if it came true.
poll() {
	_poll_tenths=$1
	shift
	until "$@"; do
		[ "$_poll_tenths" -le 0 ] && return 1
		_poll_tenths=$((_poll_tenths - 1))
		sleep 0.1
	done
}

# none_alive PID... - true if none of the pids is alive
none_alive() {
	for p in "$@"; do
		pid_alive "$p" && return 1
	done
	return 0
}

# wait_gone TENTHS PID... - wait until none of the pids is alive, at most
# TENTHS tenths of a second. True if they are all gone.
wait_gone() {
	tenths=$1
	shift
	poll "$tenths" none_alive "$@"
}

# random_port - a random port from 10000 up to the start of the kernel's
# ephemeral range (so that outgoing connections never hold it); from
# 10000-60999 if that range starts too low to leave room.
random_port() {
	low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range)
	[ "$low" -gt 11000 ] || low=61000
	r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	echo $((10000 + r % (low - 10000)))
}

# port_free PORT - no socket of any state uses PORT.
port_free() {
	[ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]
}

# port_listening PORT PID - process PID listens on PORT.
port_listening() {
	case $(ss -Htlnp "( sport = :$1 )" 2>/dev/null) in
	*"pid=$2,"*) return 0 ;;
	esac
	return 1
}

# smtp_greets PORT - connect to 127.0.0.1:PORT and read a 220 greeting
# (bounded by a 5 second timeout).
smtp_greets() {
	perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
		    PeerPort => $ARGV[0], Proto => "tcp", Timeout => 5)
		    or exit 1;
		$SIG{ALRM} = sub { exit 1 };
		alarm 5;
		my $l = <$s>;
		exit 1 unless defined $l && $l =~ /^220[ -]/;
		print $s "QUIT\r\n";
		exit 0;' "$1" 2>/dev/null
}

# load_env DIR - set the SB_ variables from DIR/sandbox.env, or, when start
# did not get that far, from the fixed layout.
load_env() {
	SB_DIR=$1
	SB_CONFIG=$1/$ETC
	SB_QUEUE=$1/$QUEUE
	SB_SINK_DIR=$1/$SINK
	SB_SINK_PID=
	if [ -f "$1/sandbox.env" ]; then
		# shellcheck disable=SC1091
		. "$1/sandbox.env"
	elif [ -f "$1/sink.pid" ]; then
		SB_SINK_PID=$(cat "$1/sink.pid")
	fi
}

# check_dir DIR - DIR must be a plain path (Postfix's configuration syntax
# knows no quoting) whose parents mail_owner can search.
check_dir() {
	case $1 in
	/*) ;;
	*) die "$1: need an absolute path" ;;
	esac
	case $1 in
	*[!A-Za-z0-9._/-]*) die "$1: only A-Z a-z 0-9 . _ / - allowed in the path" ;;
	esac
	d=$(dirname "$1")
	while :; do
		if ! setpriv --reuid="$owner" --regid="$owner" --clear-groups \
		    test -x "$d"; then
			die "$d: not searchable by $owner; Postfix cannot" \
			    "work below it (use e.g. /tmp, or chmod o+x)"
		fi
		[ "$d" = / ] && break
		d=$(dirname "$d")
	done
}

# write_config DIR SMTP_PORT SINK_PORT HOLD - write main.cf, master.cf and
# header_checks.
write_config() {
	dir=$1
	etc=$dir/$ETC
	cat >"$etc/main.cf" <<EOF
# Written by tests/lib/sandbox.sh for a private test instance.
compatibility_level = 3.6
queue_directory = $dir/$QUEUE
data_directory = $dir/$DATA
mail_owner = $owner
myhostname = sandbox-$2.test
mydomain = sandbox.test
myorigin = \$myhostname
syslog_name = postfix-sb$2
maillog_file = $dir/$LOG/maillog
maillog_file_prefixes = $dir/$LOG

# Loopback only; relay every message to the sink.
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
relayhost = [127.0.0.1]:$3
smtp_dns_support_level = disabled
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
smtpd_peername_lookup = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
biff = no
notify_classes =

# Keep content as sent: no header rewriting for loopback clients, no MIME
# conversion, no line folding, no size limit; one SMTP transaction per
# message even with many recipients.
local_header_rewrite_clients =
disable_mime_output_conversion = yes
smtp_line_length_limit = 0
message_size_limit = 0
mailbox_size_limit = 0
smtpd_recipient_limit = 1000
default_destination_recipient_limit = 1000

# Fast and deterministic: no flow-control pauses (qmgr never takes held
# mail, so it must not be able to throttle intake) or error sleeps, quick
# retries (queue_run_delay: mail released with postsuper -H is delivered
# within a second), no client rate limits, process counts for 2 cores.
in_flow_delay = 0
smtpd_error_sleep_time = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connection_cache_on_demand = yes
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
default_process_limit = 20
delay_warning_time = 0
EOF
	if [ "$4" = yes ]; then
		echo '/^Received:/ HOLD' >"$etc/header_checks"
		echo "header_checks = regexp:$etc/header_checks" \
		    >>"$etc/main.cf"
	fi

	# No chroot anywhere; wakeup times as in Debian's master.cf.
	cat >"$etc/master.cf" <<EOF
# Written by tests/lib/sandbox.sh for a private test instance.
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$2 inet n      -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# make_queue DIR - create the queue directories the way Postfix's
# "post-install create-missing" would (same list, owners and modes, read
# from $meta_directory/postfix-files), and mark the queue for a quick
# start. "postfix start" would do this itself, but its integrity check
# runs postconf some twenty times and makes a fresh start take 1.5 s
# instead of 0.1 s; on a fresh queue there is nothing else to check.
make_queue() {
	# Lines look like "$queue_directory/hold:d:$mail_owner:-:700:ucr".
	cat "$meta/postfix-files" "$meta"/postfix-files.d/*.files 2>/dev/null |
	    awk -F: '$1 ~ /^\$queue_directory\// && $2 == "d" {
		print substr($1, 18), $3, $4, $5 }' |
	    while read -r name user grp mode; do
		[ "$user" = "\$mail_owner" ] && user=$owner
		[ "$grp" = "\$setgid_group" ] && grp=$setgid_group
		# "-" leaves the group alone: root's, as we create it.
		[ "$grp" = - ] && grp=root
		install -d -o "$user" -g "$grp" -m "$mode" \
		    "$1/$QUEUE/$name" || return 1
	    done || return 1
	[ -d "$1/$QUEUE/hold" ] && [ -d "$1/$QUEUE/public" ] || return 1
	: >"$1/$QUEUE/quick-start"
}

# start_sink DIR PORT - start smtp-sink on 127.0.0.1:PORT, record its pid
# in DIR/sink.pid at once (so stop finds it whatever happens next), and
# wait until it listens. Returns 2 if the port was taken, 1 on other
# failures.
start_sink() {
	# -u: drop root for mail_owner; -d: one file per message, named by
	# the time plus a random number; 256: listen backlog.
	smtp-sink -u "$owner" -d "$1/$SINK/%Y%m%d%H%M%S." \
	    "127.0.0.1:$2" 256 </dev/null >>"$1/$LOG/smtp-sink.log" 2>&1 &
	sink_pid=$!
	echo "$sink_pid" >"$1/sink.pid"
	# Wait until our sink (not just anyone) listens.
	tenths=50
	while ! port_listening "$2" "$sink_pid"; do
		if ! pid_alive "$sink_pid"; then
			grep -q 'in use' "$1/$LOG/smtp-sink.log" && return 2
			return 1
		fi
		[ "$tenths" -le 0 ] && return 1
		tenths=$((tenths - 1))
		sleep 0.1
	done
}

# failed DIR WHAT - report a failed start with everything that helps, stop
# what was started, exit 1.
failed() {
	warn "start failed: $2"
	for f in "$1/$LOG/postfix.log" "$1/$LOG/maillog" \
	    "$1/$LOG/smtp-sink.log"; do
		if [ -s "$f" ]; then
			echo "--- $f" >&2
			tail -n 50 "$f" >&2
		fi
	done
	if [ -f "$1/$ETC/main.cf" ]; then
		# Postfix commands print errors only to a terminal (and to
		# the log, which needs a running postlogd): lend them one.
		echo "--- postfix -c $1/$ETC check" >&2
		if command -v script >/dev/null 2>&1; then
			script -qec "postfix -c $1/$ETC check" /dev/null \
			    </dev/null 2>&1 | tail -n 20 >&2
		else
			postfix -c "$1/$ETC" check 2>&1 | tail -n 20 >&2
		fi
	fi
	do_stop "$1"
	exit 1
}

do_start() {
	[ $# -ge 1 ] || die "usage: $prog start DIR [name=value ...]"
	dir=$1
	shift
	[ "$(id -u)" -eq 0 ] || die "start: must run as root"
	for c in postfix postconf smtp-sink perl ss setpriv; do
		command -v "$c" >/dev/null 2>&1 || die "start: $c not found"
	done
	# Compiled-in values (one postconf run: each takes 30 ms).
	vals=$(postconf -d -h mail_owner setgid_group meta_directory) ||
	    die "start: postconf -d failed"
	owner=$(echo "$vals" | sed -n 1p)
	setgid_group=$(echo "$vals" | sed -n 2p)
	meta=$(echo "$vals" | sed -n 3p)

	hold=yes
	for a in "$@"; do
		check_setting "$a"
		case $a in
		hold=*) hold=${a#hold=} ;;
		esac
	done

	mkdir -p "$dir" || die "mkdir $dir failed"
	dir=$(cd "$dir" && pwd -P) || die "$dir: cannot resolve"
	check_dir "$dir"
	[ -e "$dir/$ETC/main.cf" ] &&
	    die "$dir: already holds a sandbox (stop it, use a fresh DIR)"
	# Root-owned and not group/other writable, as Postfix wants its
	# root-owned directories; DATA and SINK belong to mail_owner.
	if ! { chown root:root "$dir" &&
	    chmod 0755 "$dir" &&
	    mkdir -p "$dir/$ETC" "$dir/$QUEUE" "$dir/$LOG" "$dir/$DATA" \
	    "$dir/$SINK" &&
	    chmod 0755 "$dir/$ETC" "$dir/$QUEUE" "$dir/$LOG" "$dir/$SINK" &&
	    chmod 0700 "$dir/$DATA" &&
	    chown "$owner:" "$dir/$DATA" "$dir/$SINK"; }; then
		die "cannot set up the directories below $dir"
	fi

	make_queue "$dir" || die "cannot create the queue directories"

	# Pick two free ports; if someone grabs one between the check and
	# the bind, try again with new ones.
	attempt=1
	while :; do
		smtp_port=$(random_port)
		sink_port=$(random_port)
		if [ "$smtp_port" != "$sink_port" ] && port_free "$smtp_port" &&
		    port_free "$sink_port"; then
			start_sink "$dir" "$sink_port"
			rc=$?
			if [ "$rc" -eq 0 ]; then
				write_config "$dir" "$smtp_port" "$sink_port" \
				    "$hold"
				apply_settings "$dir" "$@"
				backdate "$dir/$ETC"/*
				if postfix -c "$dir/$ETC" start </dev/null \
				    >>"$dir/$LOG/postfix.log" 2>&1; then
					break
				fi
				grep -q 'in use' "$dir/$LOG/maillog" \
				    2>/dev/null || failed "$dir" "postfix start"
				rc=2
			fi
			[ "$rc" -eq 2 ] || failed "$dir" "smtp-sink did not start"
			do_stop "$dir"
			mv "$dir/$LOG/maillog" "$dir/$LOG/maillog.$attempt" \
			    2>/dev/null
		fi
		attempt=$((attempt + 1))
		[ "$attempt" -le 5 ] || failed "$dir" "no free ports found"
	done

	# master listens once "postfix start" returns; smtpd is spawned on
	# the first connection.
	tenths=100
	until smtp_greets "$smtp_port"; do
		[ "$tenths" -le 0 ] && failed "$dir" "smtpd does not answer"
		tenths=$((tenths - 1))
		sleep 0.1
	done

	{
		echo "SB_DIR='$dir'"
		echo "SB_CONFIG='$dir/$ETC'"
		echo "SB_QUEUE='$(postconf -c "$dir/$ETC" -h queue_directory)'"
		echo "SB_SMTP_PORT=$smtp_port"
		echo "SB_SINK_PORT=$sink_port"
		echo "SB_SINK_DIR='$dir/$SINK'"
		echo "SB_MAILLOG='$dir/$LOG/maillog'"
		echo "SB_SINK_PID=$(cat "$dir/sink.pid")"
		echo "SB_MAIL_OWNER='$owner'"
	} >"$dir/sandbox.env.tmp" && mv "$dir/sandbox.env.tmp" "$dir/sandbox.env"
	cat "$dir/sandbox.env"
}

# backdate FILE... - set the modification time 10 s back. Postfix reads
# main.cf again and again, 0.3 s apart, until its mtime is more than a
# second old (util/dict.c, dict_load_file_xt: a guard against half-written
# files); every
# program and daemon does so, and a fresh start would take 2.5 s.
backdate() {
	touch -d "@$(($(date +%s) - 10))" "$@"
}

# apply_settings DIR name=value... - the caller's settings, after ours.
apply_settings() {
	d=$1
	shift
	for a in "$@"; do
		case $a in
		hold=*) ;;
		*) postconf -c "$d/$ETC" -e "$a" ||
		    failed "$d" "postconf -e $a" ;;
		esac
	done
}

# check_setting ARG - die unless ARG is hold=yes, hold=no or name=value
# with a known Postfix parameter name.
check_setting() {
	case $1 in
	hold=yes|hold=no) ;;
	[a-z]*=*)
		# postconf only warns about unknown names: a typo would
		# silently test the defaults.
		if [ -n "$(postconf -d "${1%%=*}" 2>&1 >/dev/null)" ]; then
			die "${1%%=*}: unknown Postfix parameter"
		fi ;;
	*)
		die "$1: expected name=value" ;;
	esac
}

# do_reconfigure DIR name=value... - change settings of a running sandbox
# and reload it (hold=yes|no switches the HOLD rule on or off).
do_reconfigure() {
	[ $# -ge 2 ] || die "usage: $prog reconfigure DIR name=value ..."
	load_env "$1"
	shift
	[ -f "$SB_CONFIG/main.cf" ] || die "$SB_DIR: no sandbox here"
	for a in "$@"; do
		check_setting "$a"
	done
	for a in "$@"; do
		case $a in
		hold=yes)
			echo '/^Received:/ HOLD' >"$SB_CONFIG/header_checks"
			a="header_checks = regexp:$SB_CONFIG/header_checks" ;;
		hold=no)
			a="header_checks =" ;;
		esac
		postconf -c "$SB_CONFIG" -e "$a" || die "postconf -e $a failed"
	done
	backdate "$SB_CONFIG"/*
	mp=$(master_pid)
	[ -n "$mp" ] || die "$SB_DIR: Postfix's master is not running"
	before=$(reload_lines "$mp")
	postfix -c "$SB_CONFIG" reload </dev/null \
	    >>"$SB_DIR/$LOG/postfix.log" 2>&1 || die "postfix reload failed"
	wait_reloaded "$mp" "$before"
}

# reload_lines MASTER_PID - how many reloads that master has logged
reload_lines() {
	n=$(grep -c "/master\[$1\]: reload -- " "$SB_MAILLOG" 2>/dev/null)
	echo "${n:-0}"
}

# wait_reloaded MASTER_PID BEFORE - wait (at most 60 s) until the master
# has handled the reload: "postfix reload" only signals it, and the
# master reads main.cf when it gets round to the signal, after logging
# "reload --". A caller that writes a main.cf Postfix cannot read right
# after a reload would otherwise have the master read that one: it exits
# (or hangs) and Postfix accepts no more mail (seen on a loaded CI
# machine). Handled = a new "reload --" line and the master back waiting
# in its event loop (/proc/PID/wchan).
wait_reloaded() {
	poll 600 reloaded "$1" "$2" ||
	    die "master $1 has not handled the reload within 60 s"
}

# reloaded MASTER_PID BEFORE - wait_reloaded's test; stops the script if
# the master has exited
reloaded() {
	pid_is "$1" master || die "master $1 exited on reload"
	[ "$(reload_lines "$1")" -gt "$2" ] &&
	    [ "$(cat "/proc/$1/wchan" 2>/dev/null)" = do_epoll_wait ]
}

do_stop() {
	[ $# -eq 1 ] || die "usage: $prog stop DIR"
	[ -d "$1" ] || return 0
	load_env "$1"

	# Postfix: "postfix stop" signals the master and waits up to 5 s;
	# then make sure the master and every process of its session (the
	# master calls setsid, its children stay in its session) are gone.
	mpid=$(master_pid)
	if [ -n "$mpid" ]; then
		timeout 30 postfix -c "$SB_CONFIG" stop </dev/null \
		    >>"$SB_DIR/$LOG/postfix.log" 2>&1
		if ! wait_gone 50 "$mpid"; then
			warn "master $mpid still running, killing it"
			kill -KILL "$mpid" 2>/dev/null
		fi
		# The master's children, by pid.
		rest=$(ps -e -o pid= -o sid= | awk -v s="$mpid" \
		    '$2 == s { print $1 }')
		if [ -n "$rest" ]; then
			# shellcheck disable=SC2086
			kill -TERM $rest 2>/dev/null
			# shellcheck disable=SC2086
			wait_gone 30 $rest || kill -KILL $rest 2>/dev/null
		fi
	fi

	# The sink, by its recorded pid.
	if pid_is "$SB_SINK_PID" smtp-sink; then
		kill -TERM "$SB_SINK_PID" 2>/dev/null
		if ! wait_gone 50 "$SB_SINK_PID"; then
			kill -KILL "$SB_SINK_PID" 2>/dev/null
			wait_gone 20 "$SB_SINK_PID" ||
			    warn "smtp-sink $SB_SINK_PID survives SIGKILL"
		fi
	fi
	return 0
}

# sink_list DIR - the complete message files of the sink, one path a line.
# A file is complete once it is no longer open in smtp-sink (it is created
# at MAIL FROM and written while the message arrives), and not empty (a
# file just created is on disk a moment before it shows up among the open
# files).
sink_list() {
	load_env "$1"
	[ -d "$SB_SINK_DIR" ] || die "$SB_SINK_DIR: no such directory"
	open_files=
	if pid_alive "$SB_SINK_PID"; then
		for fd in "/proc/$SB_SINK_PID/fd"/*; do
			open_files="$open_files
$(readlink "$fd" 2>/dev/null)"
		done
	fi
	find "$SB_SINK_DIR" -type f -size +0 | sort | while read -r f; do
		case $open_files in
		*"
$f"*) ;;
		*) echo "$f" ;;
		esac
	done
}

# hold_list DIR - ready files below the hold directory, one path a line.
hold_list() {
	load_env "$1"
	[ -d "$SB_QUEUE/hold" ] || return 0
	find "$SB_QUEUE/hold" -type f -perm -u+x | sort
}

# master_pid - the running master's pid from SB_QUEUE/pid/master.pid, or
# nothing.
master_pid() {
	[ -f "$SB_QUEUE/pid/master.pid" ] || return 0
	mp=$(awk '{ print $1; exit }' "$SB_QUEUE/pid/master.pid")
	pid_is "$mp" master && echo "$mp"
}

# list_pids DIR - the running processes of the sandbox: the master, every
# process of its session, the sink.
list_pids() {
	load_env "$1"
	mp=$(master_pid)
	if [ -n "$mp" ]; then
		ps -e -o pid= -o sid= | awk -v s="$mp" '$2 == s { print $1 }'
	fi
	pid_alive "$SB_SINK_PID" && echo "$SB_SINK_PID"
	return 0
}

# running PID... - those of the pids that still run (zombies do not).
running() {
	for p in "$@"; do
		pid_alive "$p" && echo "$p"
	done
	return 0
}

# wait_count WHAT DIR N [TIMEOUT] - wait until "WHAT DIR" lists at least N
# lines; at most TIMEOUT seconds (default 60). Prints the last count.
wait_count() {
	what=$1
	[ $# -ge 3 ] || die "usage: $prog wait-${what%_list} DIR N [TIMEOUT]"
	dir=$2
	n=$3
	if poll $((${4:-60} * 10)) count_reached; then
		echo "$have"
		return 0
	fi
	warn "timeout: ${what%_list} has $have of $n"
	echo "$have"
	return 1
}

# count_reached - wait_count's test: "$what $dir" lists at least $n lines
# (the count in $have)
count_reached() {
	have=$($what "$dir" | wc -l)
	[ "$have" -ge "$n" ]
}

[ $# -ge 1 ] || die "usage: $prog start|stop|reconfigure|wait-sink|wait-hold|sink-count|sink-list|hold-count|hold-list|pids DIR ..."
cmd=$1
shift
case $cmd in
start)		do_start "$@" ;;
stop)		do_stop "$@" ;;
wait-sink)	wait_count sink_list "$@" ;;
wait-hold)	wait_count hold_list "$@" ;;
sink-list)	sink_list "$1" ;;
sink-count)	sink_list "$1" | wc -l ;;
hold-list)	hold_list "$1" ;;
hold-count)	hold_list "$1" | wc -l ;;
reconfigure)	do_reconfigure "$@" ;;
pids)		list_pids "$1" ;;
running)	running "$@" ;;
*)		die "unknown command: $cmd" ;;
esac
