#!/usr/bin/env python3
"""logratio.py - throughput with the message log on and off, in one run.

    logratio.py BUILD_DIR RESULTS_DIR

One private Postfix with HOLD (tests/lib/sandbox.sh, bench.py's
Sandbox) and holdscand with the clamav plugin (the 3 test signatures,
bench.py's Holdscand). Each run puts BENCH_LOG_DRAIN (default 5,000)
2 KB messages on hold while holdscand is stopped, starts holdscand with
`message_log = no` (off) or the default (on), and times the drain from
"scanners ready" until hold is empty. Runs alternate in rounds of one
off and one on (off, on, then on, off, ...), BENCH_LOG_RUNS rounds
(default 7), all in the same sandbox and state directory, so that the
machine's noise and the file system's state hit both modes alike.

Before the first round the message log holds BENCH_LOG_PREFILL records
(default 1,000,000; written by tests/tools/msglog-bench into the state
directory, 8 MB cache, times in the last days): the "on" runs then write
into a log of the size a month of retention makes, not into an empty one.

Figures per mode (median, and every run): the drain rate (msgs/s), and
holdscand's own CPU per message (its process tree, from /proc, less its
start), which is far steadier on a shared machine than the rate; and
per round the ratio on / off. From the CPU figures, the ratio a
CPU-bound machine would show: the machine's CPU per message without the
log (from /proc/stat, not nice) over that plus the log's share of
holdscand's CPU. And the bytes written to disk per message (all whole
disks, /proc/diskstats) from the drain's start until the sink has every
message and a sync returned: the message log's index pages are where
its cost can hide from the CPU figures. Printed, and written to
RESULTS_DIR/logratio.json.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import bench

N = int(os.environ.get("BENCH_LOG_DRAIN", "5000"))
ROUNDS = int(os.environ.get("BENCH_LOG_RUNS", "7"))
PREFILL = int(os.environ.get("BENCH_LOG_PREFILL", "1000000"))


def one_run(build, sb, sigdir, msgfile, mode):
    """One drain of N held messages; returns (msgs/s, holdscand CPU ms per
    message, machine CPU ms per message, KiB written to disk per message
    from the drain's start until everything is delivered and synced)."""
    sb.empty_sink()
    bench.send(sb, msgfile, N)
    deadline = time.time() + 600
    while sb.hold_count() < N and time.time() < deadline:
        time.sleep(0.2)
    if sb.hold_count() < N:
        raise RuntimeError("only %d of %d messages on hold" %
                           (sb.hold_count(), N))
    extra = "message_log = no" if mode == "off" else ""
    hs = bench.Holdscand(build, sb, sigdir, extra)
    hs.start()
    cpu0 = hs.cpu()
    mcpu0 = bench.machine_cpu()
    disk0 = bench.disk_written()
    t0 = time.time()
    while sb.hold_count() > 0:
        if time.time() - t0 > 900:
            raise RuntimeError("hold did not empty in 900 s")
        time.sleep(0.05)
    t_hold = time.time() - t0
    mcpu = bench.machine_cpu() - mcpu0
    cpu = hs.stop() - cpu0
    bench.wait_sink(sb, N)
    os.sync()
    disk = bench.disk_written() - disk0
    return N / t_hold, cpu / N * 1000, mcpu / N * 1000, disk / N / 1024


def prefill(build, sb):
    """PREFILL records into the (not yet used) state directory."""
    state = os.path.join(sb.dir, "hs", "state")
    os.makedirs(state, exist_ok=True)
    shutil.chown(state, "postfix")
    os.chmod(state, 0o700)
    t = time.time()
    out = bench.run(["setpriv", "--reuid=postfix", "--regid=postfix",
                     "--clear-groups",
                     os.path.join(build, "tests", "tools", "msglog-bench"),
                     "-S", "-q", "-n", str(PREFILL), state]).stdout
    bench.log("logratio: %d records in the log in %.0f s" %
              (PREFILL, time.time() - t))
    return out


def spread(v):
    return "%.3f..%.3f" % (min(v), max(v))


def main(argv):
    build, results = argv[1], argv[2]
    os.makedirs(results, exist_ok=True)
    base = tempfile.mkdtemp(prefix="holdscan-logratio.")
    os.chmod(base, 0o755)
    sb = None
    runs = {"off": [], "on": []}
    ratios = []
    try:
        small, _ = bench.make_messages(base)
        sigs = os.path.join(base, "sigs-small")
        bench.run([sys.executable, bench.TESTDATA, "sigs", sigs])
        os.chmod(sigs, 0o755)
        for x in os.listdir(sigs):
            os.chmod(os.path.join(sigs, x), 0o644)
        sb = bench.Sandbox(base, "hold", hold=True)
        if PREFILL > 0:
            prefill(build, sb)
        for r in range(ROUNDS):
            order = ("off", "on") if r % 2 == 0 else ("on", "off")
            got = {}
            for mode in order:
                bench.log("logratio: round %d/%d, log %s" %
                          (r + 1, ROUNDS, mode))
                got[mode] = one_run(build, sb, sigs, small, mode)
                runs[mode].append(got[mode])
            ratios.append(got["on"][0] / got["off"][0])
    finally:
        if sb is not None:
            sb.stop()
        shutil.rmtree(base, ignore_errors=True)

    med = {m: [statistics.median(x[i] for x in runs[m]) for i in range(4)]
           for m in runs}
    fig = {
        "messages_per_run": N, "rounds": ROUNDS, "prefill_records": PREFILL,
        "runs": {m: [[round(v, 3) for v in x] for x in runs[m]] for m in runs},
        "rate_off": round(med["off"][0], 1), "rate_on": round(med["on"][0], 1),
        "ratio": round(med["on"][0] / med["off"][0], 3),
        "round_ratios": [round(x, 3) for x in ratios],
        "holdscand_cpu_ms_off": round(med["off"][1], 3),
        "holdscand_cpu_ms_on": round(med["on"][1], 3),
        "machine_cpu_ms_off": round(med["off"][2], 3),
        "machine_cpu_ms_on": round(med["on"][2], 3),
        "disk_kib_per_msg_off": round(med["off"][3], 2),
        "disk_kib_per_msg_on": round(med["on"][3], 2),
    }
    with open(os.path.join(results, "logratio.json"), "w") as f:
        json.dump(fig, f, indent=2)
    for m in ("off", "on"):
        print("drain, log %-3s: %.1f msgs/s (runs %s); holdscand CPU %.3f "
              "ms/msg (runs %s); machine CPU %.2f ms/msg; disk written %.1f KiB/msg" % (
                  m, med[m][0], " ".join("%.1f" % x[0] for x in runs[m]),
                  med[m][1], " ".join("%.3f" % x[1] for x in runs[m]),
                  med[m][2], med[m][3]))
    print("throughput ratio log on / off: %.3f (median rates; per round %s, "
          "spread %s; target >= 0.98)" % (fig["ratio"], " ".join(
              "%.3f" % x for x in ratios), spread(ratios)))
    extra = med["on"][1] - med["off"][1]
    print("holdscand CPU per message, log on - off: %+.3f ms (on / off %.3f); "
          "the log held %d records before the first run" % (
              extra, med["on"][1] / med["off"][1], PREFILL))
    # Where the machine is CPU-bound, the rates go as the CPU per message.
    print("CPU-bound estimate of the ratio: machine CPU per message without "
          "the log / (that + the log's share of holdscand's) = %.3f" % (
              med["off"][2] / (med["off"][2] + max(extra, 0))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
