#!/bin/sh
# 1410-deps.t - make check and make demo leave the host's services as they
# were (issue 14, item 11).
#
# tests/lib/deps.sh stopped the system's postfix, spamd and clamav-daemon
# whenever it installed a package. Now a package it installs may not start
# a service (policy-rc.d says 101 to invoke-rc.d while apt-get runs), no
# service is stopped, and a policy-rc.d the host had is put back as it
# was. apt-get and dpkg-query are replaced here by fakes on PATH that
# record what they saw; nothing is installed.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"

plan 4

POLICY=/usr/sbin/policy-rc.d
# The host's own policy (Docker images have one), to compare afterwards.
had=no
if [ -e "$POLICY" ] || [ -L "$POLICY" ]; then
	had=yes
	cp -P "$POLICY" "$HS_TMP/policy.before"
fi

FAKE="$HS_TMP/bin"
mkdir "$FAKE"
cat >"$FAKE/dpkg-query" <<'EOF'
#!/bin/sh
exit 1
EOF
cat >"$FAKE/debconf-set-selections" <<'EOF'
#!/bin/sh
cat >/dev/null
EOF
cat >"$FAKE/apt-get" <<EOF
#!/bin/sh
# What invoke-rc.d would learn: may a service start now?
if [ "\$1" = install ] || [ "\$2" = install ] || [ "\$3" = install ]; then
	$POLICY postfix start
	echo "policy \$?" >>"$HS_TMP/apt.log"
fi
echo "apt-get \$*" >>"$HS_TMP/apt.log"
EOF
chmod 0755 "$FAKE"/*
# The old script ran /etc/init.d/SERVICE stop: strace records what runs.
PATH="$FAKE:$PATH" strace -f -qq -e trace=execve -o "$HS_TMP/exec.log" \
    sh "$HS_LIB/deps.sh" holdscan-fake-package >"$HS_TMP/deps.out" 2>&1
check_eq 'deps.sh installs the missing package' \
    "$(grep -c 'apt-get install .*holdscan-fake-package' "$HS_TMP/apt.log")" 1
check_eq 'while it installs, no service may start (policy-rc.d: 101)' \
    "$(sed -n 's/^policy //p' "$HS_TMP/apt.log")" 101
if [ "$had" = yes ]; then
	check "afterwards the host's own policy-rc.d is back as it was" \
	    cmp -s "$POLICY" "$HS_TMP/policy.before"
else
	check 'afterwards there is no policy-rc.d again' test ! -e "$POLICY"
fi
check_eq 'no init script was run (nothing stopped)' \
    "$(grep -c 'execve("/etc/init.d/' "$HS_TMP/exec.log")" 0
done_testing
