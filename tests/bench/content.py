#!/usr/bin/env python3
"""content.py - the content rules' CPU against clamav alone (issue 17 item 8).

    content.py BUILD_DIR RESULTS_DIR

For the bench's 2 KB and 50 KB messages and an HTML newsletter (about
33 KB: tables, 80 links, images by reference), the scanner plugins are
run as a worker runs them (tests/tools/plugin-scan: the plugins' scan
hooks in one process, one MIME walk per message shared by them,
BENCH_CONTENT_SCANS scans, the median scan's process CPU): clamav alone with the
test signatures, against clamav, attachments (default rules, plus the
shipped filename.rules and filetype.rules), html (phishing net) and
headers (the shipped header_rules) together; and the same four with
each plugin walking the MIME tree for itself (plugin-scan -w, as before
the walk was shared). BENCH_CONTENT_RUNS runs (default 21) alternate the
three, and each figure is the median. Printed per message: clamav
alone, each plugin's share, all of them, the ratio (target <= 1.3) and
the ratio without the shared walk; content.json has each run's ratio
and the 10th-percentile scans' too. Written to RESULTS_DIR/content.json
and content.txt.
"""

import json
import os
import random
import re
import subprocess
import sys

import bench

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..")
SCANS = int(os.environ.get("BENCH_CONTENT_SCANS", "300"))
RUNS = int(os.environ.get("BENCH_CONTENT_RUNS", "21"))


def newsletter(path):
    rnd = random.Random(3)
    words = ["offer", "spring", "garden", "news", "members", "event", "free",
             "shipping", "new", "collection", "read", "more", "today"]
    rows = []
    for i in range(80):
        text = " ".join(rnd.choice(words) for _ in range(30))
        rows.append('<tr><td><img src="https://cdn.shop.example/i/%d.jpg" '
                    'alt="item %d" width="120"></td><td><h3>%s</h3><p>%s '
                    '<a href="https://shop.example/item/%d?utm_source=news">'
                    'shop.example/item/%d</a></p></td></tr>'
                    % (i, i, text[:40], text, i, i))
    html = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>"
            "td{font-family:sans-serif}</style></head><body><table>"
            + "\n".join(rows) + "</table><p><a href=\"https://shop.example/"
            "unsubscribe\">Unsubscribe</a></p></body></html>")
    with open(path, "w") as f:
        f.write("Subject: Spring news\nFrom: news@shop.example\n"
                "To: sink@example.net\nMIME-Version: 1.0\n"
                "Content-Type: multipart/alternative; boundary=\"nl\"\n\n"
                "--nl\nContent-Type: text/plain; charset=utf-8\n\n"
                "Spring news from the shop.\n\n--nl\n"
                "Content-Type: text/html; charset=utf-8\n\n" + html +
                "\n--nl--\n")


def scan(build, plugins, msg, shared=True):
    """CPU us per scan: the process's, and each plugin's."""
    cmd = [os.path.join(build, "tests", "tools", "plugin-scan"), "-n",
           str(SCANS)]
    if not shared:
        cmd.append("-w")
    for name, opts in plugins:
        for o in opts:
            cmd += ["-o", name + ":" + o]
    out = subprocess.run(cmd + [",".join(p for p, _ in plugins), msg],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"cpu \d+ us, median (\d+) us, p10 (\d+) us", out)
    if m is None:
        raise RuntimeError("plugin-scan: %r" % out)
    each = {p: int(c) for p, c in
            re.findall(r"^    (\w+): .*\(cpu \d+ us, median (\d+) us, "
                       r"p10 \d+ us\)$", out, re.M)}
    return int(m.group(1)), each, int(m.group(2))


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def main(argv):
    build, results = argv[1], argv[2]
    tmp = os.path.join(results, "content-tmp")
    os.makedirs(tmp, exist_ok=True)
    small, large = bench.make_messages(tmp)
    news = os.path.join(tmp, "newsletter.eml")
    newsletter(news)
    sigs = os.path.join(tmp, "sigs")
    subprocess.run([sys.executable, bench.TESTDATA, "sigs", sigs], check=True,
                   capture_output=True)
    etc = os.path.abspath(os.path.join(SRC, "etc"))
    plugins = [
        ("clamav", ["database_directory=" + sigs, "cache=no"]),
        ("attachments", ["filename_rules=" + os.path.join(etc, "filename.rules"),
                         "filetype_rules=" + os.path.join(etc, "filetype.rules")]),
        ("html", []),
        ("headers", ["rules_file=" + os.path.join(etc, "header_rules")]),
    ]
    fig = {"scans": SCANS, "runs": RUNS, "messages": {}}
    lines = ["content rules against clamav alone (plugin-scan, %d scans, "
             "median of %d alternating runs, CPU us per message)"
             % (SCANS, RUNS),
             "%-18s %7s %8s %7s %7s %7s %6s %9s" % (
                 "message", "clamav", "attach.", "html", "headers", "all",
                 "ratio", "unshared")]
    for name, path in (("2 KB", small), ("50 KB", large),
                       ("newsletter", news)):
        alone, together, each, unshared, q_alone, q_all = [], [], {}, [], [], []
        for _ in range(RUNS):
            cpu, _, q = scan(build, plugins[:1], path)
            alone.append(cpu)
            q_alone.append(q)
            cpu, per, q = scan(build, plugins, path)
            together.append(cpu)
            q_all.append(q)
            for p, c in per.items():
                each.setdefault(p, []).append(c)
            unshared.append(scan(build, plugins, path, shared=False)[0])
        us = {p: median(c) for p, c in each.items()}
        base, total = median(alone), median(together)
        ratio = total / base
        quiet = median(q_all) / median(q_alone)
        fig["messages"][name] = dict(
            us, clamav_alone=base, all=total, ratio=round(ratio, 3),
            ratio_runs=[round(t / a, 3) for a, t in zip(alone, together)],
            all_unshared=median(unshared),
            ratio_unshared=round(median(unshared) / base, 3),
            clamav_alone_p10=median(q_alone), all_p10=median(q_all),
            ratio_p10=round(quiet, 3), bytes=os.path.getsize(path))
        lines.append("%-18s %7d %8d %7d %7d %7d %6.2f %9.2f" % (
            "%s (%d KB)" % (name, os.path.getsize(path) // 1024),
            base, us["attachments"], us["html"], us["headers"], total,
            ratio, median(unshared) / base))
    lines.append("(target: all <= 1.3 x clamav alone; all: the four plugins "
                 "in one process sharing one MIME walk per message, as a "
                 "worker runs them; unshared: the ratio with each plugin "
                 "walking for itself; content.json has each run's ratio and "
                 "the 10th-percentile scans)")
    with open(os.path.join(results, "content.json"), "w") as f:
        json.dump(fig, f, indent=2)
    with open(os.path.join(results, "content.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
