#!/bin/sh
# deps.sh PKG... - install the Debian packages that are missing (as root).
#
# Never touches a package that is already installed; runs apt-get update
# only when something has to be installed. Postfix is preseeded to "No
# configuration" so that the install neither asks questions nor starts a
# system-wide mail service on port 25.
set -eu

missing=
for p in "$@"; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run 'make deps' as root, or: apt-get install$missing" >&2
	exit 1
fi

echo "deps: installing:$missing"
echo "postfix postfix/main_mailer_type select No configuration" |
	debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian starts the packaged daemons; holdscan's tests run their own
# private instances on loopback and need none of them.
for svc in postfix spamassassin spamd clamav-daemon; do
	if [ -x "/etc/init.d/$svc" ]; then
		"/etc/init.d/$svc" stop >/dev/null 2>&1 || true
	fi
done
exit 0
