#!/usr/bin/env python3
"""tally.py - where did every message of a torture run end up?

    tally.py --manifest FILE [--manifest FILE...] --queue QUEUE_DIR
             --quarantine QDIR --qlist LIST.json --sink-list FILE
             [--expired FILE] [--released FILE] [--problems FILE]
             [--summary FILE]

--manifest   "TOKEN KIND QUEUEID" per message Postfix accepted
             (tests/lib/mixsend.py); KIND is clean, infected, big or crash
--queue      Postfix's queue directory: set-aside mail is in hold/; any
             copy in holdscan/claimed, holdscan/staging, incoming, active,
             deferred, maildrop or corrupt is counted as "in the queue"
--quarantine holdscand's quarantine_directory (YYYY/MM/DD/QID files)
--qlist      the output of "holdscan quarantine list --json" (all states)
--sink-list  the complete smtp-sink files, one path a line
--expired    "CUTOFF SNAPSHOT.json" per "quarantine expire" the test ran:
             an entry of that snapshot quarantined before CUTOFF (epoch
             seconds) may have been expired by it
--released   "QUARANTINE_ID TOKEN" per "quarantine release" the test
             started (finished, killed or refused)
--status     the output of "holdscan status --json": a file in hold that
             is not in its set_aside list is still waiting ("in queue")

Each message (its token in X-Test-Token, in a sink file, in a queue
file, in a quarantine copy; "torture TOKEN" as the subject of an index
entry) ends in exactly one of these, or it is a failure:
  delivered    one copy at the sink, no held quarantine entry, nothing
               in the queue (a quarantined message released by the test
               counts here: one copy, its entry released, or expired)
  quarantined  one index entry, held, and its one file; not delivered
  expired      no entry (or one marked deleted) and no file, not
               delivered, and a snapshot before an expire had it
               quarantined before that expire's cutoff
  set aside    exactly one copy in hold, set aside by holdscand; not
               delivered, not quarantined
Failures:
  duplicate    more than one of the above, or two copies of one
               (delivered twice, two entries or files, two in hold)
  lost         none of them
  quarantine   an entry without its file or a file without an entry
               (inconsistent store; a duplicate or loss waiting to happen)
  in queue     still in claimed/, staging/, incoming, active, deferred,
               or in hold without being set aside
  wrong way    infected mail delivered without a release; clean mail
               quarantined; big or crash mail delivered or quarantined
Also reported, not failures: set-aside clean or infected mail (scans
that failed after worker kills), leftover .tmp copies, the files of
deleted entries.

Prints a table; --problems gets "TOKEN KIND QUEUEID CLASS DETAIL" per
failure; --summary gets one "name=value" line per figure. Exit status 1
if there was any failure, 0 otherwise. Standard library only.
"""

import argparse
import collections
import json
import os
import re
import sys

TOKEN_RE = re.compile(rb"X-Test-Token: ([A-Za-z0-9_.-]+)")
KINDS = ("clean", "infected", "big", "crash")
QUEUE_OTHER = ("holdscan/claimed", "holdscan/staging", "incoming", "active",
               "deferred", "maildrop", "corrupt")


def token_of(path, limit=65536):
    """The token of a text file (a sink file: "X-Test-Token:" line)."""
    try:
        with open(path, "rb") as f:
            m = TOKEN_RE.search(f.read(limit))
    except OSError:
        return None
    return m.group(1).decode() if m else None


def qf_token_of(path):
    """The token of a Postfix queue file: read it record by record (type
    byte, length in 7-bit groups, payload) up to the header line."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    i, n = 0, len(data)
    while i < n:
        rtype = data[i]
        i += 1
        length, shift = 0, 0
        while i < n:
            b = data[i]
            i += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        payload = data[i:i + length]
        i += length
        if rtype in b"NL" and payload.startswith(b"X-Test-Token: "):
            m = TOKEN_RE.match(payload)
            return m.group(1).decode() if m else None
        if rtype == ord("X"):
            break
    return None


def walk_files(top):
    for root, _dirs, files in os.walk(top):
        for name in files:
            yield os.path.join(root, name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", action="append", default=[])
    ap.add_argument("--queue", required=True)
    ap.add_argument("--quarantine", required=True)
    ap.add_argument("--qlist", required=True)
    ap.add_argument("--sink-list", required=True)
    ap.add_argument("--expired")
    ap.add_argument("--released")
    ap.add_argument("--status")
    ap.add_argument("--problems")
    ap.add_argument("--summary")
    args = ap.parse_args()

    sent = {}
    for path in args.manifest:
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) == 3:
                    sent[w[0]] = (w[1], w[2])

    delivered = collections.Counter()
    with open(args.sink_list) as f:
        for line in f:
            t = token_of(line.strip())
            delivered[t or "(no token)"] += 1

    hold = collections.Counter()
    inqueue = collections.defaultdict(list)
    aside = None
    if args.status:
        with open(args.status) as f:
            aside = {a["queue_id"] for a in json.load(f)["set_aside"]}
    for path in walk_files(os.path.join(args.queue, "hold")):
        t = qf_token_of(path)
        if aside is not None and os.path.basename(path) not in aside:
            inqueue[t or "(no token)"].append("hold")
        else:
            hold[t or "(no token)"] += 1
    for sub in QUEUE_OTHER:
        for path in walk_files(os.path.join(args.queue, sub)):
            t = qf_token_of(path)
            inqueue[t or "(no token)"].append(sub)

    qfiles = collections.defaultdict(list)	# token -> [qid]
    tmpfiles = 0
    for path in walk_files(args.quarantine):
        name = os.path.basename(path)
        if name.endswith(".tmp"):
            tmpfiles += 1
            continue
        t = qf_token_of(path)
        qfiles[t or "(no token)"].append(name)
    qfile_ids = {q for v in qfiles.values() for q in v}

    with open(args.qlist) as f:
        entries = json.load(f)
    qentries = collections.defaultdict(list)	# token -> [entry]
    for e in entries:
        subj = e.get("subject", "")
        t = subj[len("torture "):] if subj.startswith("torture ") else None
        qentries[t or "(no token)"].append(e)

    may_expire = set()
    if args.expired and os.path.exists(args.expired):
        with open(args.expired) as f:
            for line in f:
                w = line.split()
                if len(w) != 2 or not os.path.exists(w[1]):
                    continue
                cutoff = int(w[0])
                try:
                    with open(w[1]) as s:
                        snap = json.load(s)
                except ValueError:
                    continue
                for e in snap:
                    subj = e.get("subject", "")
                    if subj.startswith("torture ") and \
                            e.get("quarantined", cutoff) < cutoff:
                        may_expire.add(subj[len("torture "):])
    released = set()
    if args.released and os.path.exists(args.released):
        with open(args.released) as f:
            for line in f:
                w = line.split()
                if len(w) == 2:
                    released.add(w[1])

    S = collections.Counter()		# (kind, outcome) -> n
    problems = []
    deleted_files = 0

    def problem(token, kind, qid, cls, detail):
        problems.append((token, kind, qid, cls, detail))
        S[(kind, cls)] += 1

    for token, (kind, qid) in sorted(sent.items()):
        S[(kind, "sent")] += 1
        d = delivered.get(token, 0)
        h = hold.get(token, 0)
        ents = qentries.get(token, [])
        files = qfiles.get(token, [])
        held = [e for e in ents if e["state"] == "held"]
        rel = [e for e in ents if e["state"] == "released"]
        dele = [e for e in ents if e["state"] == "deleted"]
        detail = "delivered=%d hold=%d entries=%s files=%s" % (
            d, h, ",".join("%s:%s" % (e["id"], e["state"]) for e in ents)
            or "-", ",".join(files) or "-")
        if inqueue.get(token):
            detail += " queue=" + ",".join(inqueue[token])
            problem(token, kind, qid, "in queue", detail)
            continue
        # Entries and files must pair up (a deleted entry may lose its file).
        ent_ids = {e["id"] for e in ents}
        live_ids = {e["id"] for e in held + rel}
        broken = [i for i in live_ids if i not in files] + \
            [q for q in files if q not in ent_ids]
        deleted_files += len([e for e in dele if e["id"] in files])
        if broken:
            problem(token, kind, qid, "quarantine", detail)
            continue
        outcomes = (d > 0) + (len(held) > 0) + (h > 0)
        if outcomes > 1 or d > 1 or len(held) > 1 or h > 1 or \
                len(rel) > 1 or (rel and held):
            problem(token, kind, qid, "duplicate", detail)
            continue
        if outcomes == 0:
            if (dele or not ents) and token in may_expire:
                S[(kind, "expired")] += 1
                continue
            problem(token, kind, qid, "lost", detail)
            continue
        if d == 1:
            ok = kind == "clean" or (kind == "infected" and
                                     (rel or token in released))
            if rel and token not in released:
                ok = False
            if not ok:
                problem(token, kind, qid, "wrong way", detail)
                continue
            S[(kind, "released" if kind == "infected" else "delivered")] \
                += 1
        elif held:
            if kind != "infected":
                problem(token, kind, qid, "wrong way", detail)
                continue
            S[(kind, "quarantined")] += 1
        else:
            S[(kind, "set aside")] += 1

    # Mail nobody sent (or sent by a run whose manifest is missing).
    unknown = sum(n for t, n in delivered.items() if t not in sent) + \
        sum(n for t, n in hold.items() if t not in sent) + \
        sum(len(v) for t, v in qfiles.items() if t not in sent)
    orphan_entries = sum(len(v) for t, v in qentries.items()
                         if t not in sent)
    for t, n in sorted(delivered.items()):
        if t not in sent:
            problems.append((t, "?", "?", "unknown", "delivered=%d" % n))
    for t, n in sorted(hold.items()):
        if t not in sent:
            problems.append((t, "?", "?", "unknown", "hold=%d" % n))
    for t, v in sorted(qfiles.items()):
        if t not in sent:
            problems.append((t, "?", "?", "unknown",
                             "files=" + ",".join(v)))
    entry_ids = {e["id"] for e in entries}
    files_without_entry = len(qfile_ids - entry_ids)

    cols = ("sent", "delivered", "released", "quarantined", "expired",
            "set aside", "duplicate", "lost", "quarantine", "in queue",
            "wrong way")
    heads = ("sent", "deliv", "releas", "quar", "expired", "aside", "dup",
             "lost", "qbroken", "inqueue", "wrongway")
    print("%-10s" % "kind" + "".join("%9s" % h for h in heads))
    tot = collections.Counter()
    for k in KINDS:
        print("%-10s" % k + "".join("%9d" % S[(k, c)] for c in cols))
        for c in cols:
            tot[c] += S[(k, c)]
    print("%-10s" % "total" + "".join("%9d" % tot[c] for c in cols))
    print("(delivered: at the sink once; released: quarantined, released "
          "by the test, delivered once; set aside: left in hold)")
    print("not sent but found: %d; index entries of unknown mail: %d; "
          "quarantine files without entry: %d; leftover .tmp copies: %d; "
          "files of deleted entries: %d" % (unknown, orphan_entries,
                                            files_without_entry, tmpfiles,
                                            deleted_files))
    failures = tot["duplicate"] + tot["lost"] + tot["quarantine"] + \
        tot["in queue"] + tot["wrong way"] + unknown
    if args.problems:
        with open(args.problems, "w") as f:
            for p in problems:
                f.write("%s %s %s %s %s\n" % (p[0], p[1], p[2],
                                              p[3].replace(" ", "-"), p[4]))
    if args.summary:
        with open(args.summary, "w") as f:
            for c, h in zip(cols, heads):
                f.write("%s=%d\n" % (h, tot[c]))
            f.write("unknown=%d\nfailures=%d\n" % (unknown, failures))
            f.write("files_without_entry=%d\n" % files_without_entry)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
