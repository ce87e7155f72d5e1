#!/usr/bin/env python3
"""realistic.py - holdscan under realistic load (issue 18 item 4).

    realistic.py BUILD_DIR RESULTS_DIR

Part of make bench, after bench.py, with the same private Postfix
sandboxes, holdscand set-up and alternating runs (bench.py's classes):

  size mix    throughput alone vs with holdscan for messages whose sizes
              follow a distribution of real mail: by default the table
              SIZE_MIX below; with BENCH_SIZE_MIX=FILE the sizes Postfix
              logged (qmgr's "size=N") in a maillog of your own site.
  big         1 MB and 10 MB messages (base64 attachments), alone vs
              holdscan
  2M sigs     a synthetic database of BENCH_HUGE_SIGS signatures (default
              2,000,000: hashes and 5 % body signatures): libclamav's load
              time and memory for one engine (clamav-rawscan), holdscand's
              start time and the PSS of all its processes against that one
              engine; then mail at a steady rate while the signatures are
              reloaded (a new signature file and SIGHUP): the added latency
              before, during and after the reload, and a message with the
              new signature sent once the new engine is ready must be found
              (no message is scanned by a half-loaded engine: the old engine
              serves until the new one is complete).

The default size mix is an assumption, not a measurement: no corpus of
real mail is available offline here. It is a log-normal shape with a
median of 12 KB and a heavy tail (a tenth of messages over 100 KB, 1 in
100 over 1 MB), the shape that mail servers' own size logs usually show.
Measure your own with BENCH_SIZE_MIX=/var/log/mail.log.
"""

import base64
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import bench
from bench import (Holdscand, Sandbox, SANDBOX, log, machine_cpu, run,
                   wait_sink, percentile, paced_send)

RUNS = bench.RUNS
N_MIX = int(os.environ.get("BENCH_MIX_MESSAGES", "1500"))
N_1M = int(os.environ.get("BENCH_1M_MESSAGES", "150"))
N_10M = int(os.environ.get("BENCH_10M_MESSAGES", "15"))
HUGE = int(os.environ.get("BENCH_HUGE_SIGS", "2000000"))
RELOAD_RATE = float(os.environ.get("BENCH_RELOAD_RATE", "40"))
RELOAD_SECONDS = int(os.environ.get("BENCH_RELOAD_SECONDS", "60"))
PARTS = os.environ.get("BENCH_REALISTIC", "mix,big,huge").split(",")
SIZE_LIMIT = 30 * 1024 * 1024

# (upper bound in bytes, share of messages): the default mix.
SIZE_MIX = [(2 * 1024, 0.10), (4 * 1024, 0.12), (8 * 1024, 0.16),
            (16 * 1024, 0.17), (32 * 1024, 0.15), (64 * 1024, 0.10),
            (128 * 1024, 0.08), (512 * 1024, 0.07), (1024 * 1024, 0.04),
            (4 * 1024 * 1024, 0.01)]


def mix_from_maillog(path):
    """Size classes and shares from the size=N of qmgr's lines."""
    sizes = []
    with open(path, errors="replace") as f:
        for line in f:
            if "/qmgr[" in line or " qmgr[" in line:
                m = re.search(r" size=(\d+),", line)
                if m:
                    sizes.append(int(m.group(1)))
    if len(sizes) < 100:
        raise RuntimeError("%s: only %d qmgr size= lines" % (path, len(sizes)))
    sizes.sort()
    classes = []
    for q in (0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0):
        classes.append(sizes[min(len(sizes) - 1, int(q * len(sizes)) - 1)])
    out, prev = [], 0.0
    for q, s in zip((0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
                    classes):
        out.append((max(s, 512), q - prev))
        prev = q
    return out


def make_message(path, size, rnd):
    """A message of about size bytes: text, and a base64 attachment for
    anything over 6 KB (as real mail of that size mostly is)."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    with open(path, "w") as f:
        f.write("Subject: bench %d\nFrom: bench@example.org\n"
                "To: sink@example.net\nMIME-Version: 1.0\n" % size)
        if size <= 6 * 1024:
            f.write("\n")
            while f.tell() < size:
                f.write(" ".join(rnd.choice(words) for _ in range(12)) + "\n")
            return
        f.write("Content-Type: multipart/mixed; boundary=\"b1\"\n\n"
                "--b1\nContent-Type: text/plain\n\n")
        while f.tell() < 2048:
            f.write(" ".join(rnd.choice(words) for _ in range(12)) + "\n")
        raw = max(1024, (size - 2600) * 3 // 4)
        f.write("\n--b1\nContent-Type: application/octet-stream; "
                "name=\"data.bin\"\nContent-Transfer-Encoding: base64\n"
                "Content-Disposition: attachment; filename=\"data.bin\"\n\n")
        f.write(base64.encodebytes(rnd.randbytes(raw)).decode())
        f.write("\n--b1--\n")


def send_mix(sb, files):
    """Send every (file, count) at once, a few sessions each."""
    procs = []
    for path, count in files:
        if count <= 0:
            continue
        procs.append(subprocess.Popen(
            ["smtp-source", "-s", "2", "-m", str(count), "-F", path,
             "-f", "bench@example.org", "-t", "sink@example.net",
             "127.0.0.1:%d" % sb.port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError("smtp-source failed")


def timed(sb, files):
    total = sum(c for _, c in files)
    sb.empty_sink()
    cpu0 = machine_cpu()
    t0 = time.time()
    send_mix(sb, files)
    t1 = wait_sink(sb, total, timeout=1800)
    return total / (t1 - t0), (machine_cpu() - cpu0) / total * 1000


def compare(alone, holdsb, hs, files):
    """Alternating runs; medians and spreads."""
    a, h, ac, hc = [], [], [], []
    for r in range(RUNS):
        x, c = timed(alone, files)
        a.append(x)
        ac.append(c)
        x, c = timed(holdsb, files)
        h.append(x)
        hc.append(c)
    med = statistics.median
    return {
        "messages": sum(c for _, c in files),
        "alone_msgs_per_s": round(med(a), 2),
        "holdscan_msgs_per_s": round(med(h), 2),
        "ratio": round(med(h) / med(a), 3),
        "ratio_spread": [round(min(x / y for x, y in zip(h, a)), 3),
                         round(max(x / y for x, y in zip(h, a)), 3)],
        "machine_cpu_ms_per_msg_alone": round(med(ac), 2),
        "machine_cpu_ms_per_msg_holdscan": round(med(hc), 2),
    }


def rawscan_engine(build, sigdir, msgfile):
    """Load time and peak RSS of one engine in one process."""
    tmp = tempfile.mkdtemp(prefix="hs-rawscan.", dir="/dev/shm")
    t0 = time.time()
    p = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M",
                        os.path.join(build, "tests", "tools", "clamav-rawscan"),
                        "-n", "1", "-t", tmp, sigdir, msgfile],
                       capture_output=True, text=True, check=True)
    took = time.time() - t0
    subprocess.run(["rm", "-rf", tmp])
    rss = int(re.search(r"maxrss_kb=(\d+)", p.stderr).group(1)) / 1024
    return took, rss


def huge(build, holdsb, base, small):
    """2M signatures: memory, load time, and a reload under load."""
    sigdir = os.path.join(base, "sigs-huge")
    nbody = HUGE // 20
    log("bench: generating %d hash + %d body signatures" % (HUGE - nbody, nbody))
    bench.make_synthetic_sigs(sigdir, HUGE - nbody, nbody)
    load_s, one_rss = rawscan_engine(build, sigdir, small)
    fig = {"signatures": HUGE, "one_engine_load_s": round(load_s, 1),
           "one_engine_rss_mb": round(one_rss, 1)}
    hs = Holdscand(build, holdsb, sigdir,
                   bench.HS_EXTRA + "\nworker_count = 4\n")
    # SIGHUP rebuilds the engine (the bench's default is no).
    with open(hs.conf) as f:
        conf = f.read().replace("reload_on_change = no",
                                "reload_on_change = yes")
    with open(hs.conf, "w") as f:
        f.write(conf)
    t0 = time.time()
    hs.start()
    fig["holdscand_start_s"] = round(time.time() - t0, 1)
    time.sleep(2)
    rss, pss = hs.memory()
    fig["holdscand_rss_mb"] = round(rss, 1)
    fig["holdscand_pss_mb"] = round(pss, 1)
    fig["pss_per_engine"] = round(pss / one_rss, 2)

    # Mail at a steady rate; a reload a third of the way through.
    holdsb.empty_sink()
    offset = os.path.getsize(hs.log)
    marker = "HOLDSCAN-BENCH-NEW-SIGNATURE-%d" % os.getpid()
    newsig = os.path.join(sigdir, "bench-new.ndb")
    infected = os.path.join(base, "new-sig.eml")
    with open(infected, "w") as f:
        f.write("Subject: new signature\nFrom: bench@example.org\n"
                "To: sink@example.net\n\n%s\n" % marker)
    log("bench: %.0f msgs/s for %d s, signatures reloaded after %d s" %
        (RELOAD_RATE, RELOAD_SECONDS, RELOAD_SECONDS // 3))
    result = {}

    def flow():
        result["n"] = paced_send(holdsb, small, RELOAD_RATE, RELOAD_SECONDS)
    th = threading.Thread(target=flow)
    t_start = time.time()
    th.start()
    time.sleep(RELOAD_SECONDS // 3)
    with open(newsig + ".tmp", "w") as f:
        f.write("Bench.New.Signature:0:*:%s\n" % marker.encode().hex())
    os.chmod(newsig + ".tmp", 0o644)
    os.replace(newsig + ".tmp", newsig)
    t_reload = time.time()
    off_reload = os.path.getsize(hs.log)
    hs.proc.send_signal(signal.SIGHUP)
    ready = None
    off_ready = None
    while time.time() < t_reload + 600:
        with open(hs.log) as f:
            f.seek(offset)
            text = f.read()
        if re.search(r"reloaded \d+ signatures", text):
            ready = time.time()
            time.sleep(2)   # and the new workers' first messages
            off_ready = os.path.getsize(hs.log)
            break
        if "reload failed" in text:
            break
        time.sleep(0.1)
    fig["reload_s"] = round(ready - t_reload, 1) if ready else None
    sent_new = False
    if ready is not None:
        time.sleep(1)
        run(["smtp-source", "-m", "1", "-F", infected, "-f",
             "bench@example.org", "-t", "sink@example.net",
             "127.0.0.1:%d" % holdsb.port])
        sent_new = True
    th.join()
    wait_sink(holdsb, result["n"], timeout=900)
    time.sleep(2)
    hs_cpu = hs.stop()
    # The messages committed between the SIGHUP and 2 s after the new
    # engine was ready are "during" the reload.
    with open(hs.log) as f:
        f.seek(offset)
        text = f.read()
    during, other = [], []
    pos = offset
    for line in text.splitlines(True):
        where = pos
        pos += len(line.encode())
        if " new_id=" in line and " delay=" in line:
            d = float(line.split(" delay=")[1].split()[0])
            if off_ready is not None and off_reload <= where < off_ready:
                during.append(d)
            else:
                other.append(d)
    fig["messages"] = result["n"]
    fig["rate_msgs_per_s"] = RELOAD_RATE
    fig["p99_during_reload_s"] = round(percentile(during, 0.99), 3) if during else None
    fig["messages_during_reload"] = len(during)
    fig["p99_otherwise_s"] = round(percentile(other, 0.99), 3) if other else None
    fig["failed_scans"] = len(re.findall(r"verdict=failed", text))
    fig["new_signature_found"] = bool(
        sent_new and re.search(r"Bench\.New\.Signature", text))
    fig["holdscand_cpu_s"] = round(hs_cpu, 1)
    return fig


def main(argv):
    build, results = argv[1], argv[2]
    os.makedirs(results, exist_ok=True)
    base = tempfile.mkdtemp(prefix="holdscan-realistic.")
    os.chmod(base, 0o755)
    fig = {"runs": RUNS}
    alone = holdsb = None
    rnd = random.Random(11)
    try:
        small, _ = bench.make_messages(base)
        sigs = os.path.join(base, "sigs-small")
        run([sys.executable, bench.TESTDATA, "sigs", sigs])
        os.chmod(sigs, 0o755)
        for x in os.listdir(sigs):
            os.chmod(os.path.join(sigs, x), 0o644)
        limit = "message_size_limit=%d" % SIZE_LIMIT
        alone_dir = os.path.join(base, "alone")
        hold_dir = os.path.join(base, "hold")
        alone = start_sandbox(alone_dir, ["hold=no", limit])
        holdsb = start_sandbox(hold_dir, [limit])
        hs = Holdscand(build, holdsb, sigs, bench.HS_EXTRA)
        hs.start()
        if "mix" in PARTS:
            path = os.environ.get("BENCH_SIZE_MIX", "")
            mix = mix_from_maillog(path) if path else SIZE_MIX
            fig["mix_source"] = path or "built-in assumption (see realistic.py)"
            files, mean = [], 0.0
            for i, (size, share) in enumerate(mix):
                p = os.path.join(base, "mix-%d.eml" % i)
                make_message(p, size, rnd)
                files.append((p, int(round(N_MIX * share))))
                mean += share * os.path.getsize(p)
            fig["mix_mean_kb"] = round(mean / 1024, 1)
            log("bench: size mix, %d messages, mean %.0f KB" %
                (sum(c for _, c in files), mean / 1024))
            fig["mix"] = compare(alone, holdsb, hs, files)
        if "big" in PARTS:
            for name, size, count in (("1m", 1024 * 1024, N_1M),
                                      ("10m", 10 * 1024 * 1024, N_10M)):
                p = os.path.join(base, "big-%s.eml" % name)
                make_message(p, size, rnd)
                log("bench: %s messages, %d" % (name, count))
                fig["big_" + name] = compare(alone, holdsb, hs,
                                             [(p, count)])
        hs.stop()
        if "huge" in PARTS:
            fig["huge"] = huge(build, holdsb, base, small)
    finally:
        for sb in (alone, holdsb):
            if sb is not None:
                sb.stop()
        subprocess.run(["rm", "-rf", base])
    with open(os.path.join(results, "realistic.json"), "w") as f:
        json.dump(fig, f, indent=2)
    lines = report(fig)
    with open(os.path.join(results, "realistic.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def start_sandbox(d, settings):
    sb = Sandbox.__new__(Sandbox)
    out = run(["sh", SANDBOX, "start", d] + settings).stdout
    sb.dir = d
    sb.env = {}
    for line in out.splitlines():
        if "=" in line and line.startswith("SB_"):
            k, _, v = line.partition("=")
            sb.env[k] = v.strip("'")
    sb.port = int(sb.env["SB_SMTP_PORT"])
    sb.queue = sb.env["SB_QUEUE"]
    sb.config = sb.env["SB_CONFIG"]
    sb.sink = sb.env["SB_SINK_DIR"]
    sb.maillog = sb.env["SB_MAILLOG"]
    return sb


def report(fig):
    L = ["holdscan realistic load (%d alternating runs each, medians)"
         % fig["runs"]]
    for key, name in (("mix", "size mix (mean %s KB)" % fig.get("mix_mean_kb")),
                      ("big_1m", "1 MB messages"), ("big_10m", "10 MB messages")):
        r = fig.get(key)
        if r:
            L.append("%-26s alone %7.2f/s  holdscan %7.2f/s  ratio %.3f "
                     "(%.2f..%.2f)  machine CPU ms/msg %.1f -> %.1f" % (
                         name, r["alone_msgs_per_s"], r["holdscan_msgs_per_s"],
                         r["ratio"], r["ratio_spread"][0], r["ratio_spread"][1],
                         r["machine_cpu_ms_per_msg_alone"],
                         r["machine_cpu_ms_per_msg_holdscan"]))
    if "mix_source" in fig:
        L.append("  size mix from: %s" % fig["mix_source"])
    h = fig.get("huge")
    if h:
        L.append("%d signatures: one engine loads in %.1f s, RSS %.0f MB; "
                 "holdscand starts in %.1f s, its processes' PSS %.0f MB "
                 "(%.2f x one engine; target <= 1.2), RSS sum %.0f MB" % (
                     h["signatures"], h["one_engine_load_s"],
                     h["one_engine_rss_mb"], h["holdscand_start_s"],
                     h["holdscand_pss_mb"], h["pss_per_engine"],
                     h["holdscand_rss_mb"]))
        L.append("reload under load at %.0f msgs/s: new engine ready after "
                 "%s s; p99 added latency %s s during the reload (%d "
                 "messages; target < 1 s), %s s otherwise; failed scans %d; "
                 "the new signature found once ready: %s" % (
                     h["rate_msgs_per_s"], h["reload_s"],
                     h["p99_during_reload_s"], h["messages_during_reload"],
                     h["p99_otherwise_s"], h["failed_scans"],
                     "yes" if h["new_signature_found"] else "NO"))
    return L


if __name__ == "__main__":
    sys.exit(main(sys.argv))
