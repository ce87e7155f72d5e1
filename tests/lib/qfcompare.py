#!/usr/bin/env python3
"""qfcompare.py - compare queue files record by record through postcat.

    qfcompare.py -c CONFIG [-H 'Name: value'] [--pointers yes|no]
                 ORIG COPY [ORIG COPY ...]

For each pair, runs "postcat -v -o -d" on ORIG and COPY (-v shows the
pointer 'p' and padding 'w' records that postcat otherwise skips, -o the
byte offset of each record, -d its type) and checks that COPY's listing is
exactly the listing expected from ORIG:

  1. ORIG's records in file order (its dummy pointer records are followed
     in place, so its listing must have increasing offsets; a file with
     real pointer jumps is refused) with every 'p' and 'w' record dropped;
  2. with -H, plus one text record "Name: value" inserted at the end of
     the header block: before the first empty text record that does not
     follow a partial ('L') record, or before the X marker if the message
     has no empty line;
  3. offsets recomputed from the record sizes (each record's size is taken
     from ORIG's offsets; an inserted one is 1 type byte + its length
     bytes + its text), so every record after a dropped or inserted one
     moves by exactly that many bytes;
  4. the size record recomputed as Postfix defines it: data offset = offset
     of the first content record (just after M), data size = offset of X -
     data offset, recipient count, qmgr flags and sendopts as in ORIG,
     content length = data size (ORIG must have content length = data
     size, as cleanup writes files without milter body edits).
Everything else (type and printed value of every record, and the path
printed in postcat's section markers, which is normalised) must be equal.

--pointers yes|no additionally requires that every ORIG does / does not
contain pointer records (proving a milter-style file was really tested).

Prints the first differences of the first failing pairs and a summary on
stderr;
exit status 0 if all pairs match.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

T_SIZE, T_PTR, T_DTXT, T_NORM, T_CONT = 67, 112, 119, 78, 76
T_MESG, T_XTRA, T_END = 77, 88, 69
BATCH = 40  # files per postcat run
SHOW = 5  # failing pairs shown in detail


class Bad(Exception):
    pass


def postcat(config, paths):
    """Run postcat over paths; return {path: [(offset, type, text)]}.
    Batches keep the number of postcat runs (~25 ms each) small; a batch
    that fails is retried file by file to name the culprit."""
    out = {}
    for i in range(0, len(paths), BATCH):
        batch = paths[i:i + BATCH]
        try:
            out.update(postcat_batch(config, batch))
        except Bad:
            for p in batch:
                try:
                    out.update(postcat_batch(config, [p]))
                except Bad as e:
                    out[p] = e
    return out


def postcat_batch(config, paths):
    # The listing goes to a file: through a pipe, reading tens of MB in
    # 32 KB chunks would take longer than postcat itself.
    with tempfile.TemporaryFile() as listing:
        r = subprocess.run(["postcat", "-c", config, "-v", "-o", "-d"] +
                           paths, stdout=listing, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise Bad("postcat failed: %s" %
                      r.stderr.decode("utf-8", "replace").strip()[-300:])
        listing.seek(0)
        stdout = listing.read()
    listings = {}
    current = None
    starts = {b"*** ENVELOPE RECORDS " + p.encode() + b" ***": p
              for p in paths}
    # Split on LF only: binary content may hold other line-break bytes.
    for line in stdout.split(b"\n"):
        if line in starts:
            current = listings.setdefault(starts[line], [])
            continue
        # "   OFFSET TYPE TEXT"; TEXT starts with a record name or "***".
        parts = line.split(None, 2)
        if (len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit()
                and current is not None):
            text = parts[2]
            if text.startswith(b"*** "):
                # Section marker: "*** MESSAGE CONTENTS PATH ***"
                text = re.sub(rb" /\S+ \*\*\*$", b" FILE ***", text)
            current.append([int(parts[0]), int(parts[1]), text])
        elif line and current is not None:
            raise Bad("unexpected postcat line %r" % line[:80])
    for p in paths:
        if p not in listings or not listings[p]:
            raise Bad("%s: no records listed" % p)
    return listings


def rec_bytes(payload_len):
    """Type byte + length bytes (7 bits each) + payload."""
    lenbytes = 1
    v = payload_len
    while v >= 128:
        v >>= 7
        lenbytes += 1
    return 1 + lenbytes + payload_len


def size_fields(text):
    """The six numbers of a printed size record."""
    m = re.match(rb"message_size: (.*)$", text)
    if not m:
        raise Bad("first record is not a size record: %r" % text[:60])
    return [int(x) for x in m.group(1).split()]


def expected(orig, path, header):
    """The listing a copy of orig must have (see the module comment)."""
    if any(b[0] <= a[0] for a, b in zip(orig, orig[1:])):
        raise Bad("original not in file order (real pointer records?)")
    fsize = os.path.getsize(path)
    # Record sizes from the original's offsets; the last record ends the file.
    recs = []
    for i, (off, typ, text) in enumerate(orig):
        end = orig[i + 1][0] if i + 1 < len(orig) else fsize
        recs.append([end - off, typ, text])
    recs = [r for r in recs if r[1] not in (T_PTR, T_DTXT)]
    if header is not None:
        where = None
        start = next(i for i, r in enumerate(recs) if r[1] == T_MESG) + 1
        for i in range(start, len(recs)):
            if recs[i][1] == T_XTRA:
                where = i
                break
            if (recs[i][1] == T_NORM and recs[i][2] == b"regular_text: "
                    and recs[i - 1][1] != T_CONT):
                where = i
                break
        if where is None:
            raise Bad("no X record")
        hdr = header.encode()
        recs.insert(where, [rec_bytes(len(hdr)), T_NORM,
                            b"regular_text: " + hdr])
    # Offsets from sizes.
    out = []
    off = 0
    for size, typ, text in recs:
        out.append([off, typ, text])
        off += size
    # The size record.
    f = size_fields(out[0][2])
    if len(f) != 6 or f[4] != f[0]:
        raise Bad("original size record %s: want 6 fields and content "
                  "length = data size" % f)
    m_at = next(r[0] for r in out if r[1] == T_MESG)
    x_at = next(r[0] for r in out if r[1] == T_XTRA)
    data_offset = m_at + 2
    data_size = x_at - data_offset
    f = [data_size, data_offset, f[2], f[3], data_size, f[5]]
    out[0][2] = b"message_size: " + b" ".join(b"%15d" % v for v in f)
    return out


def compare(want, got):
    """Differences between two listings, at most five."""
    diffs = []
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else None
        g = got[i] if i < len(got) else None
        if w != g:
            diffs.append("record %d: want %r, got %r%s" % (
                i, show(w), show(g), where(w, g)))
            if len(diffs) == 5:
                break
    return diffs


def where(w, g):
    """Where the printed values of two records start to differ."""
    if w is None or g is None or w[2] == g[2]:
        return ""
    k = next((i for i, (a, b) in enumerate(zip(w[2], g[2])) if a != b),
             min(len(w[2]), len(g[2])))
    return " (values differ from byte %d: %r vs %r)" % (
        k, w[2][k:k + 20], g[2][k:k + 20])


def show(rec):
    if rec is None:
        return None
    return "%d %d %s" % (rec[0], rec[1], rec[2][:70].decode("latin-1"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-c", dest="config", required=True)
    ap.add_argument("-H", dest="header")
    ap.add_argument("--pointers", choices=("yes", "no"))
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    if len(args.files) % 2:
        ap.error("need ORIG COPY pairs")
    pairs = list(zip(args.files[0::2], args.files[1::2]))
    listings = postcat(args.config, sorted(set(args.files)))
    problems = 0
    with_ptr = 0
    for orig, copy in pairs:
        try:
            for p in (orig, copy):
                if isinstance(listings[p], Bad):
                    raise listings[p]
            has_ptr = any(r[1] == T_PTR for r in listings[orig])
            with_ptr += has_ptr
            if args.pointers == "yes" and not has_ptr:
                raise Bad("original has no pointer records")
            if args.pointers == "no" and has_ptr:
                raise Bad("original has pointer records")
            diffs = compare(expected(listings[orig], orig, args.header),
                            listings[copy])
            if diffs:
                raise Bad("copy differs:\n  " + "\n  ".join(diffs))
        except Bad as e:
            problems += 1
            if problems <= SHOW:
                print("qfcompare: %s vs %s: %s" % (orig, copy, e),
                      file=sys.stderr)
    if problems > SHOW:
        print("qfcompare: (%d more problems not shown)" % (problems - SHOW),
              file=sys.stderr)
    print("qfcompare: %d pairs, %d originals with pointer records, "
          "%d problems" % (len(pairs), with_ptr, problems), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
