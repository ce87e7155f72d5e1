#!/usr/bin/env python3
"""content.py - the content rules' CPU against clamav alone (issue 17 item 8).

    content.py BUILD_DIR RESULTS_DIR

For the bench's 2 KB and 50 KB messages and an HTML newsletter (about
60 KB: tables, 80 links, images by reference), each scanner plugin is
run as a worker runs it (tests/tools/plugin-scan: the plugin's scan hook
with the host's MIME walk, BENCH_CONTENT_SCANS scans, process CPU per
scan): clamav with the test signatures, then attachments (default rules,
plus the shipped filename.rules and filetype.rules), html (phishing net)
and headers (the shipped header_rules). Printed per message: clamav
alone, all of them, and the ratio (target <= 1.3), with each plugin's
share. Written to RESULTS_DIR/content.json and content.txt.
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


def cpu_us(build, plugin, opts, msg):
    cmd = [os.path.join(build, "tests", "tools", "plugin-scan"), "-n",
           str(SCANS)]
    for o in opts:
        cmd += ["-o", o]
    out = subprocess.run(cmd + [plugin, msg], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"cpu (\d+) us", out)
    if m is None:
        raise RuntimeError("plugin-scan %s: %r" % (plugin, out))
    return int(m.group(1))


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
    fig = {"scans": SCANS, "messages": {}}
    lines = ["content rules against clamav alone (plugin-scan, %d scans "
             "each, CPU us per message)" % SCANS,
             "%-16s %9s %12s %9s %9s %9s %7s" % ("message", "clamav",
                                               "attachments", "html",
                                               "headers", "all", "ratio")]
    for name, path in (("2 KB", small), ("50 KB", large),
                       ("newsletter", news)):
        us = {p: cpu_us(build, p, o, path) for p, o in plugins}
        total = sum(us.values())
        ratio = total / us["clamav"]
        fig["messages"][name] = dict(us, all=total, ratio=round(ratio, 3),
                                     bytes=os.path.getsize(path))
        lines.append("%-16s %9d %12d %9d %9d %9d %7.2f" % (
            "%s (%d KB)" % (name, os.path.getsize(path) // 1024),
            us["clamav"], us["attachments"], us["html"], us["headers"],
            total, ratio))
    lines.append("(target: all <= 1.3 x clamav alone; each plugin walks the "
                 "MIME tree itself)")
    with open(os.path.join(results, "content.json"), "w") as f:
        json.dump(fig, f, indent=2)
    with open(os.path.join(results, "content.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
