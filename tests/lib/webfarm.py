#!/usr/bin/env python3
"""webfarm.py - holdscan-web on a farm (PostgreSQL), checked through its API.

    webfarm.py up BASE_URL PASSWORD HOST_A HOST_B QA QB_REL QB_OTHER QB_DEL QB_UI
    webfarm.py again BASE_URL PASSWORD QB_REL
    webfarm.py big BASE_URL PASSWORD HOST_B QB_BIG
    webfarm.py queued BASE_URL PASSWORD HOST_B QB_OTHER QB_REL
    webfarm.py down BASE_URL PASSWORD HOST_A QA QB_REL

Accounts: admin (admin), alice (domain admin of a.example). QA is held on
host A (to a.example); on host B, QB_REL and QB_DEL are to a.example,
QB_OTHER to b.example, and QB_UI to a.example (for webfarmui.py), whose
body is a script. holdscan-web runs on A.

up: the quarantine list, the log, a trace and the statistics show both
hosts, each row with its host; B's message opens with its metadata, the
host that holds it and its preview, which B sent (headers, text); QB_UI's
script is its text, as it is; the admin releases QB_REL (done, with B's new queue
id) and deletes QB_DEL (done), each answered by B through the requests
table; alice sees a.example's rows of both hosts and none of b.example,
and the API refuses her QB_OTHER (404: open, trace, release).
again: a second release of QB_REL says "already".
big: QB_BIG, a message of 1.5 MB on B, opens on A with its headers and
the body's start: B sent its first 1 MiB, said cut.
queued (B's holdscand stopped): QB_REL opens with its metadata and no
preview, after the bounded wait, which says why; a bulk release of
QB_OTHER answers "queued" (B is known slow: at once), a second release at
once too, and so does a second open.
down (PostgreSQL stopped): the list and the log answer 200 with this
host's rows and a farm_error that says so; A's message still opens with
its headers; B's message is not found, and the answer says why.

Prints "ok<TAB>what" or "not ok<TAB>what<TAB>detail" per check and
"count<TAB>N" last (tests/e2e/1630-web-farm.t). Standard library only.
"""

import sys
import time
import urllib.parse

sys.path.insert(0, __import__("os").path.dirname(__file__))
from webapi import Client, check, held, results  # noqa: E402


def get(cl, path, **kw):
    q = ("?" + urllib.parse.urlencode(kw)) if kw else ""
    return cl.call("GET", path + q)[:2]


def up(base, pw, host_a, host_b, qa, qrel, qother, qdel, qui):
    admin = Client(base)
    admin.login("admin", pw)
    st, j = held(admin)
    hosts = {e["id"]: e.get("host") for e in j.get("items", [])}
    check(st == 200 and hosts.get(qa) == host_a and
          hosts.get(qrel) == host_b and hosts.get(qother) == host_b and
          hosts.get(qdel) == host_b,
          "admin: the quarantine list holds both hosts' messages, each with its host",
          j)
    check("farm_error" not in j, "no farm_error while the database answers", j)
    st, j = held(admin, host=host_b)
    check(st == 200 and j["items"] and
          all(e["host"] == host_b for e in j["items"]) and j["total"] == 4,
          "the host filter: B's four only", j)
    st, j = get(admin, "/api/log", limit=100)
    lhosts = {m["host"] for m in j.get("items", [])}
    check(st == 200 and lhosts == {host_a, host_b},
          "the message log: records of both hosts", lhosts)
    st, j = get(admin, "/api/trace/" + qrel)
    check(st == 200 and len(j.get("items", [])) == 1 and
          j["items"][0]["host"] == host_b and
          j["items"][0]["quarantine_id"] == qrel,
          "a trace of B's message: B's record", j)
    st, j = get(admin, "/api/stats", hours=24)
    check(st == 200 and j.get("total", 0) >= 4 and
          sum(h.get("infected", 0) for h in j.get("hours", [])) >= 4,
          "statistics count both hosts' messages", j.get("total"))
    admin_stats, stats_at = j, time.monotonic()
    t0 = time.monotonic()
    st, j = get(admin, "/api/quarantine/" + qrel)
    took = time.monotonic() - t0
    check(st == 200 and j.get("held_on") == host_b and
          j["entry"]["id"] == qrel and j["entry"]["host"] == host_b and
          j["entry"]["state"] == "held" and j.get("file") is True,
          "B's message opens on A: its metadata and the host that holds it", j)
    check("X-Test-Token: %s" % "frel-0" in (j.get("headers") or "") and
          "Message frel-0" in (j.get("body") or "") and
          j.get("attachments") == [] and "preview_error" not in j and
          took < 8,
          "and its preview, which B sent: headers and text", (j, took))
    st, j = get(admin, "/api/quarantine/" + qrel, preview=0)
    check(st == 200 and j.get("held_on") == host_b and
          j["entry"]["id"] == qrel and "body" not in j and
          "headers" not in j and "preview_error" not in j,
          "preview=0: the entry and its host only", j)
    st, j = get(admin, "/api/quarantine/" + qui)
    check(st == 200 and "<script>document.title='pwned'</script>" in
          (j.get("body") or "") and "X-Test-Token: fui-0" in
          (j.get("headers") or ""),
          "a script in B's message: its text, as it is", j)
    st, j, _ = admin.call("POST", "/api/quarantine/%s/release" % qrel, {})
    check(st == 200 and j.get("outcome") == "done" and j.get("new_id") and
          j.get("host") == host_b and j.get("request"),
          "admin releases B's message from A: done by B, with its new id", j)
    print("released\t%s" % j.get("new_id"), file=sys.stderr)
    st, j, _ = admin.call("POST", "/api/quarantine/%s/delete" % qdel, {})
    check(st == 200 and j.get("outcome") == "done" and
          j.get("host") == host_b, "admin deletes another of B's: done", j)
    st, j, _ = admin.call("POST", "/api/quarantine/%s/release" % qdel, {})
    check(st == 409 and "deleted" in j.get("error", ""),
          "releasing the deleted one: B's reason (409)", (st, j))
    st, j, _ = admin.call("POST", "/api/quarantine/NOSUCHID/release", {})
    check(st == 404, "an id no host holds: 404", (st, j))
    st, j, _ = admin.call("POST", "/api/quarantine/%s/release" % qother,
                          {}, csrf=False)
    check(st == 403, "without the CSRF token: refused (403)", (st, j))

    alice = Client(base)
    alice.login("alice", pw)
    st, j = held(alice, state="")
    ids = {e["id"] for e in j.get("items", [])}
    doms = {r.split("@")[-1] for e in j.get("items", []) for r in e["recipients"]}
    check(st == 200 and qa in ids and qrel in ids and qdel in ids and
          qother not in ids and doms == {"a.example"},
          "alice (a.example): both hosts' a.example messages, no other domain",
          j)
    # A domain admin's pages come from the domain's own index (farmview.c's
    # QLIST_SCOPED): the same order, the total, a page past the first.
    order = [e["id"] for e in j.get("items", [])]
    times = [e.get("quarantined", 0) for e in j.get("items", [])]
    st, p = held(alice, state="", limit=1, offset=1)
    check(st == 200 and len(order) >= 3 and times == sorted(times, reverse=True) and
          [e["id"] for e in p.get("items", [])] == order[1:2] and
          p.get("total") == len(order) and j.get("total") == len(order),
          "alice's list: newest first, a second page of one is its second entry, "
          "the total on both", (order, p))
    st, p = held(alice, limit=1)
    check(st == 200 and len(p.get("items", [])) == 1 and
          p["items"][0]["id"] in order and p.get("total", 0) >= 1 and
          p.get("total", 0) <= len(order),
          "alice's held list: its first entry and the held total", p)
    st, j = get(alice, "/api/log", limit=100)
    doms = {r.split("@")[-1] for m in j.get("items", []) for r in m["recipients"]}
    check(st == 200 and doms == {"a.example"},
          "alice's message log: a.example only, on every host", doms)
    st, j = get(alice, "/api/quarantine/" + qother)
    check(st == 404, "alice cannot open B's b.example message (404)", (st, j))
    st, j = get(alice, "/api/trace/" + qother)
    check(st == 404, "nor trace it (404)", (st, j))
    st, j, _ = alice.call("POST", "/api/quarantine/%s/release" % qother, {})
    check(st == 404, "nor release it (404)", (st, j))
    st, j = get(alice, "/api/stats", hours=24)
    check(st == 200 and j.get("total") == 4,
          "alice's statistics: the four a.example messages", j.get("total"))
    st, j = get(admin, "/api/stats", hours=24)
    if time.monotonic() - stats_at > 50:    # a slow machine: kept 60 s
        admin_stats = dict(admin_stats, as_of=j.get("as_of"))
    check(st == 200 and j.get("as_of") and
          j.get("as_of") == admin_stats.get("as_of") and
          j.get("total") == admin_stats.get("total") and
          j.get("hours") == admin_stats.get("hours"),
          "the admin's statistics again: the answer kept (the same as_of), "
          "not alice's", (j.get("as_of"), admin_stats.get("as_of"),
                          j.get("total")))


def again(base, pw, qrel):
    admin = Client(base)
    admin.login("admin", pw)
    st, j, _ = admin.call("POST", "/api/quarantine/%s/release" % qrel, {})
    check(st == 200 and j.get("outcome") == "already",
          "a second release of B's message: already released", j)
    st, j = get(admin, "/api/quarantine/" + qrel)
    check(st == 200 and j["entry"]["state"] == "released",
          "and it shows as released (B's event, shipped)", j)


def big(base, pw, host_b, qbig):
    admin = Client(base)
    admin.login("admin", pw)
    st, j = get(admin, "/api/quarantine/" + qbig)
    body = j.get("body") or ""
    check(st == 200 and j.get("held_on") == host_b and j.get("file") is True
          and "X-Test-Token: fbig-0" in (j.get("headers") or "") and
          body.lstrip("\n").startswith("line 000000 of a big message") and
          j.get("body_truncated") is True and
          "first 1024 KiB" in j.get("preview_cut", "") and
          "preview_error" not in j,
          "a message of 1.5 MB on B: its headers and the body's start, "
          "said cut", (st, j.get("preview_error"), j.get("preview_cut"),
                       j.get("body_truncated"), j.get("file"), body[:40],
                       (j.get("headers") or "")[-80:]))


def queued(base, pw, host_b, qother, qrel):
    admin = Client(base)
    admin.login("admin", pw)
    t0 = time.monotonic()
    st, j = get(admin, "/api/quarantine/" + qrel)
    took = time.monotonic() - t0
    check(st == 200 and j.get("held_on") == host_b and
          "headers" not in j and not j.get("file") and
          "did not answer in" in j.get("preview_error", "") and
          8 <= took < 20,
          "B's holdscand down: its message opens with its metadata after "
          "the bounded wait, no preview, and says why", (st, j, took))
    t0 = time.monotonic()
    st, j, _ = admin.call("POST", "/api/quarantine/bulk",
                          {"action": "release", "ids": [qother]})
    r = (j.get("results") or [{}])[0]
    check(st == 200 and r.get("outcome") == "queued" and
          r.get("host") == host_b and r.get("request"),
          "B's holdscand down: a bulk release is queued for B", j)
    t1 = time.monotonic()
    st, j, _ = admin.call("POST", "/api/quarantine/%s/release" % qother, {})
    t2 = time.monotonic()
    check(st == 202 and j.get("outcome") == "queued" and t2 - t1 < 3,
          "a second one is queued at once (B did not answer the first "
          "in time: not waited for again)", (st, j, round(t2 - t1, 1),
                                             round(t1 - t0, 1)))
    st, j = get(admin, "/api/quarantine/" + qrel)
    t3 = time.monotonic()
    check(st == 200 and "did not answer within the last minute" in
          j.get("preview_error", "") and t3 - t2 < 3,
          "opened again: at once, B is not asked again", (st, j,
                                                           round(t3 - t2, 1)))


def down(base, pw, host_a, qa, qrel):
    admin = Client(base)
    admin.login("admin", pw)
    st, j = held(admin, state="")
    ids = {e["id"] for e in j.get("items", [])}
    check(st == 200 and qa in ids and qrel not in ids and
          "not reachable" in j.get("farm_error", ""),
          "database down: the list shows this host's, and says why", j)
    st, j = get(admin, "/api/log")
    check(st == 200 and "not reachable" in j.get("farm_error", "") and
          j.get("items") and all(m["host"] == host_a for m in j["items"]),
          "the message log too", j)
    st, j = get(admin, "/api/quarantine/" + qa)
    check(st == 200 and "X-Test-Token" in (j.get("headers") or ""),
          "A's message opens, with its headers", j)
    st, j = get(admin, "/api/quarantine/" + qrel)
    check(st == 404 and "not reachable" in j.get("farm_error", ""),
          "B's: not found here, and the answer says the database is down",
          (st, j))
    st, j, _ = admin.call("POST", "/api/quarantine/%s/release" % qrel, {})
    check(st == 503 and "not reachable" in j.get("error", ""),
          "releasing B's: 503, the database", (st, j))


def main():
    what = sys.argv[1]
    try:
        if what == "up":
            up(*sys.argv[2:11])
        elif what == "again":
            again(*sys.argv[2:5])
        elif what == "big":
            big(*sys.argv[2:6])
        elif what == "queued":
            queued(*sys.argv[2:7])
        else:
            down(*sys.argv[2:7])
    except Exception as e:  # a check that could not run: said, not hidden
        import traceback
        traceback.print_exc()
        check(False, "webfarm.py %s ran to its end" % what, repr(e))
    for good, w, detail in results:
        print("ok\t%s" % w if good else "not ok\t%s\t%s" % (w, detail))
    print("count\t%d" % len(results))


if __name__ == "__main__":
    main()
