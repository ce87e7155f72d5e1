#!/usr/bin/env python3
"""webapi.py - holdscan-web's API and HTTP hardening, checked from outside.

    webapi.py checks BASE_URL PASSWORD
    webapi.py expiry BASE_URL PASSWORD

Accounts (made by the test): admin (admin), alice (domain a.example), bob
(user, the first recipient of the first message to b.example), carol (user,
for the login throttle). All have PASSWORD. The quarantine holds messages
to a.example and to b.example, all held.

Prints one line per check: "ok<TAB>what" or "not ok<TAB>what<TAB>detail",
and "count<TAB>N" last. Standard library only.
"""

import http.client
import json
import sys
import time
import urllib.parse

results = []


def check(cond, what, detail=""):
    results.append((bool(cond), what, str(detail)[:300]))


class Client:
    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.cookie = None
        self.csrf = None

    def raw(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=20)
        h = dict(headers or {})
        if self.cookie and "Cookie" not in h:
            h["Cookie"] = self.cookie
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def call(self, method, path, obj=None, csrf=True, ctype="application/json"):
        h = {}
        body = None
        if method == "POST":
            body = json.dumps(obj or {}).encode()
            h["Content-Type"] = ctype
            if csrf and self.csrf:
                h["X-CSRF-Token"] = self.csrf
        r, data = self.raw(method, path, body, h)
        try:
            j = json.loads(data or b"{}")
        except ValueError:
            j = {"_raw": data[:200]}
        return r.status, j, r

    def login(self, name, password):
        st, j, r = self.call("POST", "/api/login",
                             {"name": name, "password": password}, csrf=False)
        if st == 200:
            sc = r.getheader("Set-Cookie") or ""
            self.cookie = sc.split(";")[0]
            self.csrf = j.get("csrf")
        return st, j, r


def held(cl, **kw):
    q = urllib.parse.urlencode(dict({"state": "held", "limit": 500}, **kw))
    st, j, _ = cl.call("GET", "/api/quarantine?" + q)
    return st, j


def domain_of(entry):
    return {r.split("@")[-1] for r in entry["recipients"]}


def main_checks(base, pw):
    anon = Client(base)
    r, data = anon.raw("GET", "/")
    csp = r.getheader("Content-Security-Policy") or ""
    check(r.status == 200 and b"app.js" in data, "GET / serves the page")
    check("default-src 'self'" in csp and "script-src 'self'" in csp and
          "unsafe-inline" not in csp, "strict Content-Security-Policy", csp)
    check(r.getheader("X-Content-Type-Options") == "nosniff" and
          r.getheader("X-Frame-Options") == "DENY", "nosniff, frame headers")
    st, _, _ = anon.call("GET", "/api/quarantine")
    check(st == 401, "the API without a session: 401", st)

    st, _, _ = Client(base).login("admin", pw + "x")
    check(st == 401, "a wrong password: 401", st)
    admin = Client(base)
    st, j, r = admin.login("admin", pw)
    sc = r.getheader("Set-Cookie") or ""
    check(st == 200 and j.get("role") == "admin" and
          len(j.get("csrf", "")) == 64, "admin logs in, gets a CSRF token", j)
    check("HttpOnly" in sc and "SameSite=Strict" in sc and
          len(admin.cookie or "") > 64, "the cookie is HttpOnly, SameSite=Strict", sc)

    st, j = held(admin)
    items = j.get("items", [])
    a_items = [e for e in items if domain_of(e) == {"a.example"}]
    b_items = [e for e in items if domain_of(e) == {"b.example"}]
    check(st == 200 and len(a_items) >= 3 and len(b_items) >= 2,
          "admin sees the held messages of both domains", (st, len(items)))
    # The sender filter: an address and a domain (the sender index), a
    # substring (a bounded walk); each the same set as the page shows.
    def ids_where(pred):
        return sorted(e["id"] for e in items if pred((e.get("sender") or "").lower()))
    def ids_for(sender):
        st, j, _ = admin.call("GET", "/api/quarantine?state=held&sender=" +
                              urllib.parse.quote(sender))
        return st, sorted(e["id"] for e in j.get("items", [])), j
    evil = ids_where(lambda s: s == "evil@sendmail.test")
    st, got, j = ids_for("EVIL@sendmail.test")
    check(st == 200 and got == evil and len(evil) == 1 and j.get("exact") is True,
          "quarantine by sender address (any case)", (st, got, evil, j.get("exact")))
    dom = ids_where(lambda s: s.endswith("@sendmail.test") or s.endswith(".sendmail.test"))
    st, got, j = ids_for("@sendmail.test")
    check(st == 200 and got == dom and len(dom) >= 1,
          "quarantine by sender domain", (st, got, dom))
    st, got, j = ids_for("vil@")
    check(st == 200 and got == evil and j.get("partial") is False and
          j.get("walk_limit", 0) > 0, "quarantine by sender substring (a bounded walk)",
          (st, got, j.get("partial"), j.get("walk_limit")))
    if not a_items or not b_items:
        return
    def by_token(items, token):
        for e in items:
            if any(r.startswith(token + ".") for r in e["recipients"]):
                return e
        return items[0]
    b_entry = by_token(b_items, "wb-0")     # bob's
    b_id = b_entry["id"]
    a_id = by_token(a_items, "wa-2")["id"]  # the UI works on wa-0, wa-1

    alice = Client(base)
    alice.login("alice", pw)
    st, j = held(alice)
    doms = set()
    for e in j.get("items", []):
        doms |= domain_of(e)
    check(st == 200 and doms == {"a.example"} and
          j.get("total") == len(a_items),
          "domain admin alice sees a.example's mail only", (st, doms, j.get("total")))
    st, j, _ = alice.call("GET", "/api/quarantine/" + b_id)
    check(st == 404, "alice cannot open b.example's message (404)", (st, j))
    st, j, _ = alice.call("POST", "/api/quarantine/%s/release" % b_id)
    check(st == 404, "alice cannot release it (404)", (st, j))
    st, j, _ = alice.call("POST", "/api/quarantine/%s/delete" % b_id)
    check(st == 404, "nor delete it (404)", (st, j))
    st, j, _ = alice.call("POST", "/api/quarantine/%s/release" % a_id,
                          {"to": ["someone@b.example"]})
    check(st == 403, "alice cannot release to another domain's address (403)", (st, j))
    st, j, _ = alice.call("POST", "/api/quarantine/bulk",
                          {"action": "delete", "ids": [b_id]})
    check(st == 200 and "error" in j["results"][0],
          "a bulk delete of it is refused too", j)
    st, j, _ = admin.call("GET", "/api/quarantine/" + b_id)
    check(st == 200 and j["entry"]["state"] == "held",
          "b.example's message is still held", (st, j.get("entry", {}).get("state")))
    check("X-Test-Token:" in j.get("headers", "") and
          isinstance(j.get("attachments"), list),
          "the preview has the headers and an attachment list", list(j))

    st, j, _ = alice.call("GET", "/api/log?limit=500")
    doms = set()
    for m in j.get("items", []):
        doms |= {r.split("@")[-1] for r in m["recipients"]}
    check(st == 200 and doms == {"a.example"}, "alice's message log: a.example only", (st, doms))
    st, j, _ = admin.call("GET", "/api/log?" + urllib.parse.urlencode(
        {"recipient": b_entry["recipients"][0]}))
    check(st == 200 and len(j.get("items", [])) == 1 and
          j["items"][0]["quarantine_id"] == b_id,
          "admin finds b's record by recipient", j)
    st, j, _ = admin.call("GET", "/api/trace/" + b_entry["orig_id"])
    check(st == 200 and j["items"][0]["quarantine_id"] == b_id and
          "plugins" in j["items"][0], "trace by the old queue id", j)
    st, j, _ = alice.call("GET", "/api/trace/" + b_entry["orig_id"])
    check(st == 404, "alice cannot trace it (404)", (st, j))
    st, j, _ = admin.call("GET", "/api/stats?hours=24")
    infected = sum(h.get("infected", 0) for h in j.get("hours", []))
    check(st == 200 and infected >= 5 and len(j.get("hours", [])) == 24 and
          "metrics" in j, "stats: 24 hours, the infected counted, metrics", (st, infected))
    st, j, _ = admin.call("GET", "/api/stats?hours=168")
    check(st == 200 and len(j.get("hours", [])) == 168, "stats over 7 days", st)

    bob = Client(base)
    bob.login("bob", pw)
    st, j = held(bob)
    check(st == 200 and j.get("total") == 1 and
          j["items"][0]["id"] == b_id, "user bob sees the one message addressed to him", j)

    # CSRF
    csrf = admin.csrf
    admin.csrf = None
    st, j, _ = admin.call("POST", "/api/quarantine/%s/delete" % a_id)
    check(st == 403, "a POST without the CSRF token: 403", (st, j))
    admin.csrf = "0" * 64
    st, j, _ = admin.call("POST", "/api/quarantine/%s/delete" % a_id)
    check(st == 403, "a POST with a wrong CSRF token: 403", (st, j))
    admin.csrf = csrf
    st, j, _ = admin.call("POST", "/api/quarantine/%s/delete" % a_id,
                          ctype="text/plain")
    check(st == 415, "a POST that is not application/json: 415", st)
    st, j, _ = admin.call("GET", "/api/quarantine/" + a_id)
    check(st == 200 and j["entry"]["state"] == "held", "and the message is still held", j.get("entry"))

    # Hostile requests
    r, _ = admin.raw("POST", "/api/quarantine/bulk", b"x" * 200000,
                     {"Content-Type": "application/json", "X-CSRF-Token": csrf})
    check(r.status == 413, "a 200 kB body: 413", r.status)
    r, _ = admin.raw("POST", "/api/quarantine/bulk", b"{\"action\": ",
                     {"Content-Type": "application/json", "X-CSRF-Token": csrf})
    check(r.status == 400, "bad JSON: 400", r.status)
    r, _ = admin.raw("POST", "/api/quarantine/bulk", b"[1,2]",
                     {"Content-Type": "application/json", "X-CSRF-Token": csrf})
    check(r.status == 400, "JSON that is not an object: 400", r.status)
    r, _ = anon.raw("GET", "/api/me", headers={"Cookie": "hs_session=" + "A" * 5000})
    check(r.status in (400, 401, 431), "a bad cookie: 4xx", r.status)
    bad = [anon.raw("GET", p)[0].status for p in
           ("/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
            "/.hidden.js", "/app.js/../../etc/passwd", "/x//y.js", "/../web-users",
            "/%2e%2e/web-users", "/ui/../web-users")]
    check(all(s in (400, 404) for s in bad), "path traversal and odd names: 400/404", bad)
    r, _ = anon.raw("DELETE", "/api/me")
    check(r.status == 405, "an unknown method: 405", r.status)
    st, j, _ = admin.call("GET", "/api/quarantine?since=abc")
    check(st == 400, "a bad number: 400", st)
    st, j, _ = admin.call("GET", "/api/quarantine/" + "x" * 200)
    check(st in (400, 404), "an overlong id: 4xx", st)
    st, j, _ = admin.call("GET", "/api/me")
    check(st == 200, "holdscan-web still answers after all that", st)

    # The login throttle: 5 failures, then even the right password is refused.
    sts = [Client(base).login("carol", "wrong")[0] for _ in range(5)]
    st, _, _ = Client(base).login("carol", pw)
    check(sts == [401] * 5 and st == 429,
          "after 5 failed logins the right password is refused (429)", (sts, st))

    # A bulk delete by admin: one known, one not.
    other_b = by_token(b_items, "wb-1")["id"]
    st, j, _ = admin.call("POST", "/api/quarantine/bulk",
                          {"action": "delete", "ids": [other_b, "20990101T000000-NOSUCH"]})
    res = j.get("results", [{}, {}])
    check(st == 200 and res[0].get("outcome") == "done" and
          "error" in res[1], "admin's bulk delete: one done, one not found", j)
    st, j, _ = admin.call("GET", "/api/quarantine/" + other_b)
    check(st == 200 and j["entry"]["state"] == "deleted", "and it is deleted", j.get("entry"))

    # Logout ends the session.
    st, _, _ = bob.call("POST", "/api/logout")
    st2, _, _ = bob.call("GET", "/api/me")
    check(st == 200 and st2 == 401, "logout ends the session", (st, st2))


def expiry_checks(base, pw):
    cl = Client(base)
    st, j, _ = cl.login("admin", pw)
    check(st == 200, "login (session_lifetime 2s)", st)
    st, _, _ = cl.call("GET", "/api/me")
    check(st == 200, "the session works at once", st)
    time.sleep(3)
    st, _, _ = cl.call("GET", "/api/me")
    check(st == 401, "expired: GET refused (401)", st)
    st, _, _ = cl.call("POST", "/api/quarantine/bulk",
                       {"action": "delete", "ids": ["x"]})
    check(st == 401, "expired: POST with its CSRF token refused (401)", st)


def main():
    mode, base, pw = sys.argv[1:4]
    try:
        (main_checks if mode == "checks" else expiry_checks)(base, pw)
    except Exception as e:  # a crash is a failed check, not a silent pass
        check(False, "the checks ran to the end", repr(e))
    for good, what, detail in results:
        print("%s\t%s%s" % ("ok" if good else "not ok", what,
                            "" if good else "\t" + detail))
    print("count\t%d" % len(results))


if __name__ == "__main__":
    main()
