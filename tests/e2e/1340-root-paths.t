#!/bin/sh
# 1340-root-paths.t - what holdscand and the holdscan tool do as root with
# paths others can influence (issue 13, item 9).
#
# The configuration file was checked for its owner only after it had been
# parsed and its plugins loaded (the tool never checked it): a file that
# another user can change must be refused before anything in it is used.
# A missing state_directory was made with mkdir and then chown'ed by name:
# a link swapped in between would make root give a file away. It must be
# made and given away through descriptors only.
HS_LIB=$(cd "$(dirname "$0")/../lib" && pwd)
. "$HS_LIB/tap.sh"
. "$HS_LIB/holdscan.sh"

command -v strace >/dev/null || skip_all "strace is not installed"
plan 6

sb_start A || bail_out "sandbox did not start"
A_HS_CONF=$(echo "scanners = crashtest" | hs_conf A)

# --- a configuration file another user owns --------------------------------
cp "$A_HS_CONF" "$HS_TMP/theirs.conf"
chown nobody "$HS_TMP/theirs.conf"
chmod 0644 "$HS_TMP/theirs.conf"
chmod 0755 "$HS_TMP"
"$HOLDSCAN" -c "$HS_TMP/theirs.conf" quarantine list >"$HS_TMP/tool.out" 2>&1
rc=$?
check_eq 'holdscan refuses a configuration file nobody owns (EX_CONFIG)' \
    "$rc" 78
check 'and says why and how to fix it' grep -q \
    "theirs.conf is owned by uid $(id -u nobody), not root; fix with: chown root" \
    "$HS_TMP/tool.out"
timeout 30 strace -f -qq -e trace=openat -o "$HS_TMP/holdscand.strace" \
    "$HOLDSCAND" -f -c "$HS_TMP/theirs.conf" >"$HS_TMP/holdscand.out" 2>&1
rc=$?
check_eq 'holdscand refuses it too' "$rc" 78
check_eq 'before it has opened a plugin' \
    "$(grep -c '/plugins/[^"]*\.so"' "$HS_TMP/holdscand.strace")" 0

# --- a state directory holdscand creates -------------------------------------
rm -rf "$A_DIR/hs/state"
timeout 60 strace -f -qq -e trace=chown,lchown,fchown,fchownat,mkdir,mkdirat \
    -o "$HS_TMP/create.strace" "$HOLDSCAND" -f -c "$A_HS_CONF" \
    >"$HS_TMP/create.out" 2>&1 &
pid=$!
wait_until 30 test -d "$A_DIR/hs/state"
sleep 2
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check_eq 'the state directory is made and the mail owner'"'"'s' \
    "$(stat -c %U "$A_DIR/hs/state")" "$A_MAIL_OWNER"
check_eq 'given away by descriptor only, never chown by name' \
    "$(grep -E '^[0-9]+ +(chown|lchown)\(|fchownat\([^,]*, "[^"]+"' \
    "$HS_TMP/create.strace" | grep -c 'hs/state')" 0
done_testing
