#!/usr/bin/env python3
"""syslogcap.py - run a command with a private /dev/log and keep what it logs.

    syslogcap.py LOGFILE COMMAND [ARG...]

For tests of what a program sends to syslog(3) (holdscan's audit lines):
the machine's own syslog is neither needed nor touched. COMMAND runs in a
mount namespace of its own (unshare --mount) in which /dev is a directory
made here: the device nodes null, zero, random, urandom and tty (the
machine's), and "log", a datagram socket this script reads while the
command runs. Each message is appended to LOGFILE as one line, as syslog
gets it ("<PRI>Mon DD HH:MM:SS ident[pid]: text"). Standard input,
output and error are the command's; the exit status is its own (125 if
it could not be started).

Needs root (mount). Standard library only.
"""

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading

NODES = ("null", "zero", "random", "urandom", "tty")


def make_dev(d):
    for name in NODES:
        st = os.stat("/dev/" + name)
        os.mknod(os.path.join(d, name), stat.S_IFCHR | 0o666, st.st_rdev)
        os.chmod(os.path.join(d, name), 0o666)


def reader(sock, out, stop):
    while True:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            if stop.is_set():
                return
            continue
        text = data.decode("utf-8", "replace").rstrip("\n\0")
        out.write(text.replace("\n", " ") + "\n")
        out.flush()


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    logfile, command = argv[1], argv[2:]
    d = tempfile.mkdtemp(prefix="hs-dev.")
    os.chmod(d, 0o755)
    try:
        make_dev(d)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(os.path.join(d, "log"))
        # Programs log after dropping privileges (holdscan: the mail owner).
        os.chmod(os.path.join(d, "log"), 0o666)
        sock.settimeout(0.2)
        stop = threading.Event()
        with open(logfile, "a") as out:
            t = threading.Thread(target=reader, args=(sock, out, stop))
            t.start()
            try:
                rc = subprocess.call(
                    ["unshare", "--mount", "sh", "-c",
                     'mount --bind "$0" /dev && exec "$@"', d] + command)
            except OSError as e:
                print("syslogcap.py: %s: %s" % (command[0], e),
                      file=sys.stderr)
                rc = 125
            # What was sent is queued on the socket: drained, then stop.
            stop.set()
            t.join()
        sock.close()
        return rc
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
