#!/usr/bin/env python3
"""killat.py - SIGKILL a process when its log has shown COUNT matching lines.

    killat.py PID LOG OFFSET PATTERN COUNT TIMEOUT

Reads LOG from byte OFFSET on, every millisecond, and sends PID SIGKILL
as soon as COUNT lines containing PATTERN (a plain string) have been
written there; a shell loop polling with grep is far too slow to land
inside a recovery that takes 50 ms. Prints what happened, one line:
"killed after N lines", "gone after N lines" (PID ended first), or
"timeout after N lines" (TIMEOUT seconds passed; PID is then left
alone). Exit status 0 if it killed PID, 1 otherwise. Standard library
only.
"""

import os
import signal
import sys
import time


def alive(pid):
    """Running (a zombie, not reaped yet by its parent, is not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def main(argv):
    if len(argv) != 7:
        sys.stderr.write(__doc__)
        return 2
    pid, log, offset = int(argv[1]), argv[2], int(argv[3])
    pattern, want, timeout = argv[4].encode(), int(argv[5]), float(argv[6])
    deadline = time.monotonic() + timeout
    seen = 0
    rest = b""
    with open(log, "rb") as f:
        f.seek(offset)
        while True:
            data = f.read()
            if data:
                lines = (rest + data).split(b"\n")
                rest = lines.pop()
                seen += sum(1 for line in lines if pattern in line)
            if seen >= want:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    print("gone after %d lines" % seen)
                    return 1
                print("killed after %d lines" % seen)
                return 0
            if not alive(pid):
                print("gone after %d lines" % seen)
                return 1
            if time.monotonic() > deadline:
                print("timeout after %d lines" % seen)
                return 1
            time.sleep(0.001)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
