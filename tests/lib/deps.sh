#!/bin/sh
# deps.sh PKG... - install the Debian packages that are missing (as root).
#
# Never touches a package that is already installed; runs apt-get update
# only when something has to be installed. Postfix is preseeded to "No
# configuration" so that the install neither asks questions nor starts a
# system-wide mail service on port 25; no package installed here starts
# its service (policy-rc.d), and no service of the host is stopped.
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
# Leave the host's services as they are: a package installed here must not
# start its daemon (policy-rc.d, Debian's way to say so to invoke-rc.d and
# deb-systemd-invoke), and nothing already running is stopped. An
# existing policy-rc.d is put back afterwards.
POLICY=/usr/sbin/policy-rc.d
saved=
if [ -e "$POLICY" ] || [ -L "$POLICY" ]; then
	saved="$POLICY.holdscan-deps.$$"
	mv "$POLICY" "$saved"
fi
# shellcheck disable=SC2317 # called by the trap
restore() {
	rm -f "$POLICY"
	if [ -n "$saved" ]; then
		mv "$saved" "$POLICY"
	fi
}
trap restore EXIT
printf '#!/bin/sh\n# holdscan deps.sh: no service starts while it installs\nexit 101\n' \
    >"$POLICY"
chmod 0755 "$POLICY"
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
exit 0
