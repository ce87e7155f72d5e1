#!/usr/bin/env python3
"""webhttp.py - every API call behind a screen of the web console, timed
through holdscan-web's HTTP API (issue 16, item 6).

    webhttp.py BASE_URL USER PASSWORD NOW NQ NM RUNS IDS_FILE JSON_OUT
    webhttp.py --farm BASE_URL USER PASSWORD KEYS_FILE RUNS JSON_OUT

Logs in (an admin session: cookie and CSRF token), then makes RUNS requests
of each kind below over loopback, each with other keys (the ones
tests/tools/webbench fill wrote: its senders, recipients, ids and times are
deterministic, made here the same way from NOW, NQ quarantine entries and
NM log records). IDS_FILE lists quarantine ids that have their files (for
the preview). One untimed round first (the caches as a running console
has them). A request that does not answer 200 with the JSON the screen
needs is counted as an error (and printed), never timed as a success.

Prints a table (median, p99 by nearest rank, the slowest, the first
request's time: caches cold, holdscand's kept statistics not yet made;
the mean answer size) and writes JSON_OUT: {"runs": RUNS, "calls":
[{"name", "path", "median_ms", "p99_ms", "max_ms", "first_ms", "bytes",
"errors", "slowest": the slowest request's path}]}. Exit 1 if any call failed.

--farm (tests/bench/webfarm.sh): the calls of a farm's console, answered
from PostgreSQL (src/web/farmview.c), with the keys of KEYS_FILE, a JSON
object drawn from the rows: "now", "hosts", "myhost" (the console's
host), "senders", "recipients", "ids" (queue ids), "remote" (quarantine
ids held on the other hosts), "sender_domains", "scoped" (true: a domain
admin's keys, where an hour or page 5 may be empty). USER may be an admin or a
domain admin (the keys are then from the rows of its domain): the same
calls, the same table and JSON_OUT.
Standard library only.
"""

import http.client
import json
import sys
import time
import urllib.parse

SENDERS, SENDER_DOMAINS, RCPTS, RCPT_DOMAINS = 20000, 200, 5000, 100
SPAN = 30 * 86400


def sender_of(i):
    i %= SENDERS
    return "user%u@sdomain%u.example" % (i, i % SENDER_DOMAINS)


def rcpt_of(i):
    if i % 50 == 7:
        return "abuse@rdomain0.example"
    r = (i * 13) % RCPTS
    return "rcpt%u@rdomain%u.example" % (r, r % RCPT_DOMAINS)


def orig_of(i):
    return "%08X%03X" % ((i * 7919) % 2**32, i % 4096)


def qid_of(i, t):
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + "-WB%08X" % i


class Session:
    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.cookie = None
        self.csrf = None

    def request(self, method, path, obj=None):
        h = {}
        body = None
        if self.cookie:
            h["Cookie"] = self.cookie
        if obj is not None:
            body = json.dumps(obj).encode()
            h["Content-Type"] = "application/json"
            if self.csrf:
                h["X-CSRF-Token"] = self.csrf
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.HTTPException, OSError):
                # The server closed a kept-alive connection: once more.
                self.conn.close()
                if attempt:
                    raise
        return r, data

    def login(self, user, password):
        r, data = self.request("POST", "/api/login",
                               {"name": user, "password": password})
        if r.status != 200:
            raise SystemExit("webhttp.py: login: %d %s" % (r.status, data[:200]))
        self.csrf = json.loads(data)["csrf"]
        self.cookie = r.getheader("Set-Cookie").split(";")[0]


def calls(now, nq, nm, ids):
    """(name, function of the run number -> path, check of the answer)."""
    def q(path, **kw):
        return path + "?" + urllib.parse.urlencode(kw)

    def entry_t(i):
        return now - SPAN + i * SPAN // nq

    has_items = lambda j: isinstance(j.get("items"), list)
    some_items = lambda j: has_items(j) and len(j["items"]) > 0
    return [
        ("log: by sender, page of 50",
         lambda x: q("/api/log", sender=sender_of(x), limit=50), some_items),
        ("log: by recipient, page of 50",
         lambda x: q("/api/log", recipient=rcpt_of(x * 2 + 1), limit=50),
         some_items),
        ("log: one hour, page of 50",
         lambda x: q("/api/log", since=now - SPAN + (x % (SPAN // 3600)) * 3600,
                     until=now - SPAN + (x % (SPAN // 3600)) * 3600 + 3600,
                     limit=50), some_items),
        ("log: newest page of 50",
         lambda x: q("/api/log", limit=50), some_items),
        ("log: by queue id",
         lambda x: q("/api/log", id=orig_of(x % nm + 0x100000), limit=50),
         some_items),
        ("message detail: trace by queue id",
         lambda x: "/api/trace/" + orig_of(x % nm + 0x100000), some_items),
        ("quarantine: first page of 50 (held)",
         lambda x: q("/api/quarantine", state="held", limit=50), some_items),
        ("quarantine: by recipient",
         lambda x: q("/api/quarantine", state="held", recipient=rcpt_of(x * 2 + 1),
                     limit=50), has_items),
        ("quarantine: by sender address",
         lambda x: q("/api/quarantine", state="held", sender=sender_of(x * 31),
                     limit=50), some_items),
        ("quarantine: by sender domain",
         lambda x: q("/api/quarantine", state="held",
                     sender="@sdomain%u.example" % (x % SENDER_DOMAINS),
                     limit=50), some_items),
        ("quarantine: by sender substring (bounded)",
         lambda x: q("/api/quarantine", state="held",
                     sender="user%u@" % (x % SENDERS), limit=50), has_items),
        ("quarantine: by subject substring (bounded)",
         lambda x: q("/api/quarantine", state="held",
                     subject="invoice %u " % (x % nq), limit=50), has_items),
        ("quarantine: by reason, page of 50",
         lambda x: q("/api/quarantine", state="held", reason="EICAR", limit=50),
         some_items),
        ("quarantine: last day, page of 50",
         lambda x: q("/api/quarantine", state="held",
                     since=now - 86400 - x % 86400, limit=50), some_items),
        ("quarantine: entry by id (no file)",
         lambda x: "/api/quarantine/" + qid_of(x % nq, entry_t(x % nq)),
         lambda j: "entry" in j),
        ("quarantine: preview (entry and file)",
         lambda x: "/api/quarantine/" + ids[x % len(ids)],
         lambda j: "entry" in j and "headers" in j),
        ("stats: 24 hours",
         lambda x: q("/api/stats", hours=24), same_hours(24)),
        ("stats: 7 days",
         lambda x: q("/api/stats", hours=168), same_hours(168)),
    ]


def farm_calls(k):
    """The farm's calls: (name, function of the run number -> path, check)."""
    def q(path, **kw):
        return path + "?" + urllib.parse.urlencode(kw)

    def pick(key, x):
        return k[key][x % len(k[key])]

    now = k["now"]
    others = [h for h in k["hosts"] if h != k["myhost"]] or k["hosts"]
    has_items = lambda j: isinstance(j.get("items"), list)
    some_items = lambda j: has_items(j) and len(j["items"]) > 0
    # A domain admin's hour, or page 5, may be empty (a small domain).
    some_seen = has_items if k.get("scoped") else some_items
    hour = lambda x: now - SPAN + 3600 + (x % (SPAN // 3600 - 2)) * 3600
    return [
        ("log: by sender, page of 50",
         lambda x: q("/api/log", sender=pick("senders", x), limit=50),
         some_items),
        ("log: by recipient, page of 50",
         lambda x: q("/api/log", recipient=pick("recipients", x), limit=50),
         some_items),
        ("log: one hour, page of 50",
         lambda x: q("/api/log", since=hour(x), until=hour(x) + 3600,
                     limit=50), some_seen),
        ("log: newest page of 50",
         lambda x: q("/api/log", limit=50), some_items),
        ("log: newest of one host, page of 50",
         lambda x: q("/api/log", host=others[x % len(others)], limit=50),
         some_items),
        ("log: by queue id",
         lambda x: q("/api/log", id=pick("ids", x), limit=50), some_items),
        ("message detail: trace by queue id",
         lambda x: "/api/trace/" + pick("ids", x), some_items),
        ("quarantine: first page of 50 (held)",
         lambda x: q("/api/quarantine", state="held", limit=50), some_items),
        ("quarantine: page 5 of 50 (held)",
         lambda x: q("/api/quarantine", state="held", offset=200, limit=50),
         some_seen),
        ("quarantine: one host, first page (held)",
         lambda x: q("/api/quarantine", state="held",
                     host=others[x % len(others)], limit=50), some_items),
        ("quarantine: by recipient",
         lambda x: q("/api/quarantine", state="held",
                     recipient=pick("recipients", x), limit=50), has_items),
        ("quarantine: by sender address",
         lambda x: q("/api/quarantine", state="held",
                     sender=pick("senders", x), limit=50), has_items),
        ("quarantine: by sender domain",
         lambda x: q("/api/quarantine", state="held",
                     sender=pick("sender_domains", x), limit=50), has_items),
        ("quarantine: by reason, page of 50",
         lambda x: q("/api/quarantine", state="held", reason="Trojan",
                     limit=50), some_items),
        ("quarantine: last day, page of 50",
         lambda x: q("/api/quarantine", state="held",
                     since=now - 86400 - x % 3600, limit=50), some_items),
        # The entry only: the bench's other hosts have no holdscand to
        # send a preview (e2e 1630 times a real one).
        ("quarantine: another host's message (entry)",
         lambda x: "/api/quarantine/" + pick("remote", x) + "?preview=0",
         lambda j: "entry" in j and j.get("held_on") in others),
        ("stats: 24 hours",
         lambda x: q("/api/stats", hours=24), same_hours(24)),
        ("stats: 7 days",
         lambda x: q("/api/stats", hours=168), same_hours(168)),
    ]


def same_hours(n):
    """The answer has n hours, and each hour it shares with the first
    whole answer (not partial: holdscand's walk; later ones come from its
    kept hours) has the same counts."""
    first = {}

    def ok(j):
        hours = j.get("hours")
        if not isinstance(hours, list) or len(hours) != n:
            return False
        if j.get("partial"):
            return True		# the oldest hours are short: nothing to compare
        rows = {h["start"]: h for h in hours}
        if not first:
            first.update(rows)
            return True
        return all(first[t] == rows[t] for t in rows if t in first)
    return ok


def pct(v, p):
    v = sorted(v)
    r = max(1, (len(v) * p + 99) // 100)
    return v[r - 1]


def main():
    farm = len(sys.argv) > 1 and sys.argv[1] == "--farm"
    if farm and len(sys.argv) == 8:
        base, user, pw = sys.argv[2:5]
        with open(sys.argv[5]) as f:
            keys = json.load(f)
        runs, json_out = int(sys.argv[6]), sys.argv[7]
        todo = farm_calls(keys)
    elif not farm and len(sys.argv) == 10:
        base, user, pw = sys.argv[1:4]
        now, nq, nm, runs = (int(a) for a in sys.argv[4:8])
        with open(sys.argv[8]) as f:
            ids = [l.strip() for l in f if l.strip()]
        if not ids:
            raise SystemExit("webhttp.py: no quarantine id with a file")
        json_out = sys.argv[9]
        todo = calls(now, nq, nm, ids)
    else:
        raise SystemExit(__doc__)
    s = Session(base)
    s.login(user, pw)
    out = []
    failed = False
    print("%-44s %9s %9s %9s %9s %8s %s" % ("API call (HTTP, %s session)" %
          user, "median", "p99", "max", "first", "bytes", "errors"))
    for name, path_of, ok in todo:
        times, sizes, errors, first_ms = [], [], 0, None
        slowest = (0, None)
        for run in range(runs + 1):
            path = path_of(run * 7919 + 13)
            t0 = time.monotonic()
            r, data = s.request("GET", path)
            ms = (time.monotonic() - t0) * 1000
            try:
                j = json.loads(data)
                good = r.status == 200 and ok(j)
            except ValueError:
                good = False
            if not good:
                errors += 1
                if errors <= 3:
                    print("webhttp.py: %s: %s -> %d %s" % (name, path, r.status,
                          data[:160]), file=sys.stderr)
                continue
            if run > 0:		# run 0: untimed (but shown: a cold cache)
                times.append(ms)
                sizes.append(len(data))
                slowest = max(slowest, (ms, path))
            else:
                first_ms = ms
        if not times:
            failed = True
            print("%-44s %9s %9s %9s %8s %d" % (name, "-", "-", "-", "-", errors))
            out.append({"name": name, "errors": errors})
            continue
        failed = failed or errors > 0
        med = pct(times, 50) if len(times) % 2 else \
            (sorted(times)[len(times) // 2 - 1] + sorted(times)[len(times) // 2]) / 2
        row = {"name": name, "path": path_of(13).split("?")[0],
               "median_ms": round(med, 2), "p99_ms": round(pct(times, 99), 2),
               "max_ms": round(max(times), 2), "requests": len(times),
               "bytes": int(sum(sizes) / len(sizes)), "errors": errors,
               "first_ms": round(first_ms, 2) if first_ms is not None else None,
               "slowest": slowest[1]}
        out.append(row)
        print("%-44s %6.1f ms %6.1f ms %6.1f ms %6s ms %8d %d" % (name,
              row["median_ms"], row["p99_ms"], row["max_ms"],
              "%.1f" % first_ms if first_ms is not None else "-",
              row["bytes"], errors))
    with open(json_out, "w") as f:
        json.dump({"runs": runs, "calls": out}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
