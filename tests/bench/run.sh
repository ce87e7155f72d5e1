#!/bin/sh
# run.sh - make bench: every benchmark, figures printed and written to
# build/bench/. Sizes can be scaled down for a quick look with BENCH_RUNS,
# BENCH_MESSAGES, BENCH_LARGE_MESSAGES, BENCH_DRAIN, BENCH_HASH_SIGS,
# BENCH_BODY_SIGS, BENCH_LATENCY_SECONDS (see bench.py).
#
# BENCH_FS says where the queues, the state and the sinks live:
#   journal  (default) a fresh ext4 file system with a journal, Debian's
#            default for /var, in an image file on a loop device that is
#            unmounted and removed at the end;
#   here     $TMPDIR as it is. This machine's root file system is ext4
#            *without* a journal, where the kernel's inode allocator skips
#            every inode deleted in the last 5 s (find_inode_bit /
#            recently_deleted) for each new file: at hundreds of messages
#            a second that alone cost holdscand's master half its CPU
#            (doc/performance.md). Postfix alone pays it too.
# When the loop mount is not possible (not root, no loop device) the
# bench says so and runs "here".
#
# BENCH_REST=no stops after bench.py's figures. BENCH_WEB=no leaves out
# the web console's queries (web.sh and its farm part, also make
# bench-web: about 5 minutes and 2 GB of temporary files).
set -eu
: "${HS_BUILD:?run me through make bench}"
here=$(cd "$(dirname "$0")" && pwd)
results=${BENCH_RESULTS:-$(dirname "$HS_BUILD")/bench}
mkdir -p "$results"

fs=${BENCH_FS:-journal}
img=
mnt=
loopdev=
cleanup() {
	if [ -n "$mnt" ]; then
		umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
		rmdir "$mnt" 2>/dev/null || true
	fi
	[ -z "$loopdev" ] || losetup -d "$loopdev" 2>/dev/null || true
	[ -z "$img" ] || rm -f "$img"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$fs" = journal ]; then
	img=$(mktemp "${BENCH_IMG_DIR:-/var/tmp}/holdscan-bench.XXXXXX.img")
	mnt=$(mktemp -d /tmp/holdscan-bench-fs.XXXXXX)
	if truncate -s "${BENCH_FS_SIZE:-6G}" "$img" &&
	    mkfs.ext4 -q -F -O has_journal "$img" >/dev/null 2>&1 &&
	    loopdev=$(losetup --direct-io="${BENCH_LOOP_DIO:-on}" -f --show \
	    "$img" 2>/dev/null) && mount "$loopdev" "$mnt" 2>/dev/null; then
		chmod 1777 "$mnt"
		TMPDIR=$mnt
		export TMPDIR
		echo "bench: file system: ext4 with a journal (loop device $loopdev, direct I/O ${BENCH_LOOP_DIO:-on}, $img)"
	else
		echo "bench: cannot mount an ext4 image (not root, or no loop device): running on $(df -PT "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $2}') at ${TMPDIR:-/tmp}"
		rmdir "$mnt" 2>/dev/null || true
		mnt=
		[ -z "$loopdev" ] || losetup -d "$loopdev" 2>/dev/null || true
		loopdev=
		rm -f "$img"
		img=
		fs=here
	fi
fi
if [ "$fs" = here ]; then
	echo "bench: file system: ${TMPDIR:-/tmp} as it is ($(findmnt -no FSTYPE,OPTIONS -T "${TMPDIR:-/tmp}" 2>/dev/null || echo unknown))"
fi
BENCH_FS_USED=$fs
export BENCH_FS_USED
python3 "$here/bench.py" "$HS_BUILD" "$results"
# BENCH_REST=no: only bench.py (e.g. for an A/B of its quiet phase).
if [ "${BENCH_REST:-}" = no ]; then
	echo "results: $results/results.txt"
	exit 0
fi
# Realistic load (issue 18 item 4): a size mix, 1 MB and 10 MB messages,
# 2,000,000 signatures and a reload under load. BENCH_REALISTIC=no skips
# it; BENCH_REALISTIC=mix,big,huge chooses parts.
if [ "${BENCH_REALISTIC:-}" != no ]; then
	(cd "$here" && python3 realistic.py "$HS_BUILD" "$results")
fi
# The content rules' CPU against clamav alone (issue 17 item 8).
(cd "$here" && python3 content.py "$HS_BUILD" "$results")
if [ -f "$here/quarantine-list.sh" ]; then
	sh "$here/quarantine-list.sh" | tee "$results/quarantine-list.txt"
fi
if [ -f "$here/log.sh" ]; then
	sh "$here/log.sh"
fi
# The web console's queries at scale (issue 16 item 6).
if [ "${BENCH_WEB:-}" != no ] && [ -f "$here/web.sh" ]; then
	sh "$here/web.sh" | tee "$results/web.txt"
fi
echo "results: $results/results.txt"
