#!/usr/bin/env python3
"""queueid.py - check queue file names against Postfix's naming rules.

    queueid.py [--long] [--depth N] QUEUE_DIR FILE...

QUEUE_DIR is one queue directory (e.g. $queue_directory/hold) and each FILE
a queue file below it. Passes (exit 0) when every FILE

  - has a valid queue id as its name (mail_queue_id_ok: [A-Za-z0-9_]);
  - is a short id (default: 5 upper-case hex digits of the microseconds,
    then the inode number in upper-case hex) or, with --long, a long id
    (seconds in base 52, at least 6 digits; microseconds in base 52, 4
    digits; "z"; the inode number in base 51), alphabet
    0-9 B-D F-H J-N P-T V-Z b-d f-h j-n p-t v-z;
  - carries its own inode number in the name;
  - (long ids) has a time within 120 s of the file's mtime;
  - sits in the hash directories Postfix computes: --depth N levels
    (default 0: not hashed), one character each, taken from the id for
    short ids and from the microseconds as 5 upper-case hex digits for
    long ids ("_" beyond the end).

Prints one line per problem and a summary on stderr.
"""

import argparse
import os
import re
import sys

ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"


def from_base(text, base):
    v = 0
    for ch in text:
        d = ALPHABET.find(ch)
        if d < 0 or d >= base:
            raise ValueError("%r is not a base-%d digit" % (ch, base))
        v = v * base + d
    return v


def decode(name, long_ids):
    """(seconds or None, microseconds, inode) from a queue id."""
    if not re.match(r"^[A-Za-z0-9_]{1,255}$", name):
        raise ValueError("not a valid queue id")
    if long_ids:
        z = name.rfind("z")
        if z < 10:
            raise ValueError("no long-id separator 'z' at index >= 10")
        return (from_base(name[:z - 4], 52), from_base(name[z - 4:z], 52),
                from_base(name[z + 1:], 51))
    if not re.match(r"^[0-9A-F]{6,}$", name):
        raise ValueError("not a short id (upper-case hex)")
    return None, int(name[:5], 16), int(name[5:], 16)


def check(path, base, long_ids, depth):
    name = os.path.basename(path)
    sec, usec, inode = decode(name, long_ids)
    if usec >= 1000000:
        raise ValueError("microseconds %d out of range" % usec)
    st = os.lstat(path)
    if st.st_ino != inode:
        raise ValueError("name says inode %d, file has %d" %
                         (inode, st.st_ino))
    if sec is not None and abs(sec - st.st_mtime) > 120:
        raise ValueError("id time %d, mtime %d" % (sec, st.st_mtime))
    key = "%05X" % usec if long_ids else name
    want = [key[i] if i < len(key) else "_" for i in range(depth)]
    rel = os.path.relpath(path, base).split(os.sep)
    if rel[:-1] != want:
        raise ValueError("in %s/, expected %s/" %
                         ("/".join(rel[:-1]) or ".", "/".join(want) or "."))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--long", action="store_true", help="long queue ids")
    ap.add_argument("--depth", type=int, default=0,
                    help="hash_queue_depth (0: queue not hashed)")
    ap.add_argument("queue_dir")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    problems = 0
    for path in args.files:
        try:
            check(path, args.queue_dir, args.long, args.depth)
        except (ValueError, OSError) as e:
            problems += 1
            print("queueid: %s: %s" % (path, e), file=sys.stderr)
    print("queueid: %d files, %d problems" % (len(args.files), problems),
          file=sys.stderr)
    return 1 if problems or not args.files else 0


if __name__ == "__main__":
    sys.exit(main())
