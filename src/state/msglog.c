/*
 * NAME
 *	msglog - the message log (Berkeley DB, in the state environment)
 * DESCRIPTION
 *	One record per message holdscand finished (delivered, tagged,
 *	cleaned, quarantined, dropped), written by commit.c inside the
 *	batch's intent transaction, so that it is durable exactly when the
 *	intent is, with no sync of its own. A batch that recovery rolls back
 *	(the message goes back to hold, to be scanned again) has its record
 *	removed in recovery's transaction (msglog_retract()): the rescan
 *	logs it again. Four databases:
 *	  msglog.db         seq (8 bytes, big-endian) -> record
 *	  msglog-days.db    secondary (DB->associate, DB_DUPSORT), keys
 *	                    "t" + time (8 bytes BE), and "s" + day +
 *	                    sender, "r" + day + recipient (lower case),
 *	                    "i" + day + original and new queue id (and
 *	                    those of its releases), "q" + day + quarantine
 *	                    id, where day is the record's UTC day (4 bytes
 *	                    BE, days since 1970)
 *	  msglog-events.db  seq -> events (duplicates, in their order)
 *	  msglog-meta.db    "seq" -> the last sequence number given,
 *	                    "index" -> the index's format ("days")
 *	The day in the keys keeps the pages holdscand writes to a day's
 *	share of the index: without it each record put its ids, sender and
 *	recipients on random pages of an index of every day kept (250 MB at
 *	1,000,000 records), and once that outgrew the cache each key cost a
 *	page read and the write of an evicted one (issue 15: the log on/off
 *	ratio 0.92 with 1,000,000 records kept, 1.0 with none). A lookup by
 *	address or id reads one key per day that has records (30 by
 *	default), the days found with one seek a day in the "t" keys (so a
 *	record dated 2100 by a wrong clock adds one day, not the days
 *	between). An index of another format (the
 *	first, msglog-index.db, had no day) is rebuilt by
 *	msglog_rebuild_index() at holdscand's start. msglog_open() reads
 *	the format from a snapshot and then ties the index without a
 *	transaction, so that each holdscan command's open takes no lock
 *	(on the page of "seq" or the index's, which every batch writes);
 *	only a log without a format (a new one) has it written.
 *	The sequence number only grows (pruning never lowers it): with the
 *	host name it names a record everywhere. On a farm (database set)
 *	each change of a record (msglog_add(), an event, a corrected new
 *	id, a retraction) also puts its sequence number into the outbox
 *	(outbox.c) in the same transaction; msglog_open_reader() gives the
 *	shipper thread handles of its own to read what it ships.
 *
 *	A record is one line of tab-separated fields, in this order:
 *	  1 (the format), seq, time, host, original id, original inode, new
 *	  id, quarantine id, sender, recipients (comma-separated), size,
 *	  subject, client address, SASL user, verdict, action, reason,
 *	  plugins, ms in hold before the claim, ms of the scan, the queue
 *	  ids of its releases (space-separated).
 *	Backslash escapes "\\", "\t", "\n", "\r" and "\," keep
 *	separators out of fields. A reader takes format 1 with at least the
 *	first 20 of these fields (records written before the release ids
 *	have 20; later fields may follow). An event is "1, time, kind, new
 *	id, detail" the same way.
 *
 *	Concurrency: holdscand writes every record, with about six index
 *	keys, in its batch's intent transaction; holdscan log, trace and
 *	the web console (through holdscand's control socket) read while it
 *	does. A reader must never make that transaction wait for more than
 *	its own few steps, nor be part of a deadlock with it.
 *	  - msglog.db, msglog-events.db and msglog-meta.db are
 *	    DB_MULTIVERSION: a reader's snapshot transaction takes no locks
 *	    there. Their writes append (sequence numbers grow) or touch one
 *	    page ("seq"), so the page copies that MVCC makes are few.
 *	  - msglog-days.db is DB_READ_UNCOMMITTED, not DB_MULTIVERSION: its
 *	    keys land on random pages, and with MVCC every page a batch
 *	    touches was copied, the cache filled with versions and Berkeley
 *	    DB froze them to files (0.8 ms of CPU per record once the index
 *	    outgrew the 8 MB cache, against 0.06 ms without). Readers walk
 *	    it through a handle of their own that is not associated (its
 *	    data is the record's sequence number, so no record is read
 *	    under the index's lock) with record_walk()'s dirty walk: read
 *	    uncommitted (holdscand's write locks are downgraded once a put
 *	    is done, and a dirty read does not wait for those), in a
 *	    transaction that never waits for a lock (DB_TXN_NOWAIT: where it
 *	    would, the walk fails and is done again after a pause, at most
 *	    READ_TRIES times), job-control stops held off until its
 *	    snapshot and its cursor are closed.
 *	    A reader therefore holds a lock on one index page at a time,
 *	    only while its own code runs, and waits for nobody.
 *	  - Each record the walk names is read from the reader's snapshot,
 *	    begun before the walk; a sequence number above the snapshot's
 *	    last one (msglog-meta.db), or a record the snapshot does not
 *	    have, is not committed (or is pruned) and is skipped; a record
 *	    that is there is checked against the query again (its sender,
 *	    recipient, time, or the id looked for), since an uncommitted
 *	    key may name a committed record (a release's new id). Results
 *	    are as of the snapshot, but for a record whose pruning or
 *	    retraction is in flight, which may be missed.
 *	  - Readers collect what they found and close the walk before
 *	    calling back their caller (which may print to a pipe).
 *
 *	This module must never commit a transaction it was given, never
 *	sync the log in holdscand's path (its own transactions there, the
 *	prune and a corrected new id, commit without a sync), and never
 *	touch queue files.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/xalloc.h"
#include "state/msglog.h"
#include "state/outbox.h"
#include "state/record.h"

#define NFIELDS		20	/* at least; the 21st (later ids) may be missing */
#define NEVFIELDS	5
#define KEY_MAX		512
#define READ_TRIES	100	/* dirty walks that met a writer's lock */
#define READ_PAUSE_MS	20	/* the longest pause between two */
#define REBUILD_BATCH	500	/* records indexed per transaction */

struct msglog {
	struct statedb	*sdb;
	DB		*db;
	DB		*index;		/* associated: the writers' */
	DB		*keys;		/* the same file, not associated: readers' */
	DB		*events;
	DB		*meta;
	struct outbox	*outbox;	/* borrowed; NULL: no farm */
};

/* --- the value format -------------------------------------------------- */

/* The escapes: a character and the letter after the backslash. */
static const char escapes[][2] = {
	{ '\\', '\\' }, { '\t', 't' }, { '\n', 'n' }, { '\r', 'r' },
	{ ',', ',' },
};
#define NESCAPES	(sizeof(escapes) / sizeof(escapes[0]))

static void
put_escaped(struct buf *out, const char *s)
{
	size_t	 i;

	for (; s != NULL && *s; s++) {
		for (i = 0; i < NESCAPES && escapes[i][0] != *s; i++)
			;
		if (i < NESCAPES) {
			buf_putc(out, '\\');
			buf_putc(out, escapes[i][1]);
		} else {
			buf_putc(out, *s);
		}
	}
}

/* A field and the tab after it. */
static void
put_field(struct buf *out, const char *s)
{
	put_escaped(out, s);
	buf_putc(out, '\t');
}

void
msglog_encode(const struct msglog_rec *r, struct buf *out)
{
	size_t	 i;

	buf_printf(out, "%d\t%" PRIu64 "\t%lld\t", MSGLOG_FORMAT, r->seq,
	    (long long)r->time);
	put_field(out, r->host);
	put_field(out, r->orig_id);
	buf_printf(out, "%" PRIu64 "\t", r->orig_ino);
	put_field(out, r->new_id);
	put_field(out, r->quarantine_id);
	put_field(out, r->sender);
	for (i = 0; i < r->nrcpts; i++) {
		if (i)
			buf_putc(out, ',');
		put_escaped(out, r->rcpts[i]);
	}
	buf_printf(out, "\t%" PRIu64 "\t", r->size);
	put_field(out, r->subject);
	put_field(out, r->client);
	put_field(out, r->sasl_user);
	put_field(out, r->verdict);
	put_field(out, r->action);
	put_field(out, r->reason);
	put_field(out, r->plugins);
	buf_printf(out, "%ld\t%ld\t", r->queue_ms, r->scan_ms);
	put_escaped(out, r->later_ids);
}

/* Undo put_escaped() in place; -1 on a bad escape. */
static int
unescape(char *s)
{
	char	*w = s;
	size_t	 i;

	for (; *s; s++) {
		if (*s != '\\') {
			*w++ = *s;
			continue;
		}
		s++;
		for (i = 0; i < NESCAPES && escapes[i][1] != *s; i++)
			;
		if (i == NESCAPES)
			return (-1);
		*w++ = escapes[i][0];
	}
	*w = '\0';
	return (0);
}

/*
 * Split a copy of data[len] at tabs into at most max fields (escaped
 * still); *store_r is the copy. Returns the number of fields, -1 if data
 * holds a NUL.
 */
static int
split_fields(const void *data, size_t len, char **f, int max, char **store_r)
{
	char	*s, *p;
	int	 n = 0;

	if (memchr(data, '\0', len) != NULL)
		return (-1);
	s = xmalloc(len + 1);
	memcpy(s, data, len);
	s[len] = '\0';
	*store_r = s;
	for (p = s; n < max; ) {
		f[n++] = p;
		if ((p = strchr(p, '\t')) == NULL)
			break;
		*p++ = '\0';
	}
	return (n);
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char	*end;

	if (!isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	*v = strtoull(s, &end, 10);
	return (errno || *end ? -1 : 0);
}

int
msglog_decode(const void *data, size_t len, struct msglog_rec *r)
{
	char		*f[NFIELDS + 2], *store = NULL, *p, **rc = NULL;
	uint64_t	 v[5];
	size_t		 n = 0, cap;
	int		 nf, i;

	memset(r, 0, sizeof(*r));
	nf = split_fields(data, len, f, NFIELDS + 2, &store);
	if (nf < NFIELDS || strcmp(f[0], "1") != 0)
		goto bad;
	if (nf == NFIELDS)
		f[nf++] = store + len;	/* "": no later ids */
	if (parse_u64(f[1], &r->seq) < 0 || parse_u64(f[2], &v[0]) < 0 ||
	    parse_u64(f[5], &r->orig_ino) < 0 || parse_u64(f[10], &r->size) < 0 ||
	    parse_u64(f[18], &v[1]) < 0 || parse_u64(f[19], &v[2]) < 0)
		goto bad;
	r->time = (time_t)v[0];
	r->queue_ms = (long)v[1];
	r->scan_ms = (long)v[2];
	/* The recipients: split at unescaped commas, then unescape each. */
	cap = 1;
	for (p = f[9]; *p; p++)
		if (*p == ',')
			cap++;
	rc = xcalloc(cap, sizeof(*rc));
	if (*f[9] != '\0') {
		for (p = f[9], rc[n++] = p; *p; p++) {
			if (*p == '\\' && p[1] != '\0') {
				p++;
				continue;
			}
			if (*p == ',') {
				*p = '\0';
				rc[n++] = p + 1;
			}
		}
	}
	for (i = 0; i < (int)n; i++)
		if (unescape(rc[i]) < 0)
			goto bad;
	for (i = 3; i <= NFIELDS; i++)
		if (i != 9 && unescape(f[i]) < 0)
			goto bad;
	r->host = f[3];
	r->orig_id = f[4];
	r->new_id = f[6];
	r->quarantine_id = f[7];
	r->sender = f[8];
	r->rcpts = (const char **)rc;
	r->nrcpts = n;
	r->subject = f[11];
	r->client = f[12];
	r->sasl_user = f[13];
	r->verdict = f[14];
	r->action = f[15];
	r->reason = f[16];
	r->plugins = f[17];
	r->later_ids = f[20];
	r->store_ = store;
	return (0);
bad:
	free(rc);
	free(store);
	memset(r, 0, sizeof(*r));
	return (-1);
}

void
msglog_rec_clear(struct msglog_rec *r)
{
	if (r->store_ != NULL) {
		free(r->store_);
		free((void *)r->rcpts);
	}
	memset(r, 0, sizeof(*r));
}

void
msglog_event_encode(const struct msglog_event *e, struct buf *out)
{
	buf_printf(out, "%d\t%lld\t", MSGLOG_FORMAT, (long long)e->time);
	put_field(out, e->kind);
	put_field(out, e->new_id);
	put_escaped(out, e->detail);
}

int
msglog_event_decode(const void *data, size_t len, struct msglog_event *e,
    char **store_r)
{
	char		*f[NEVFIELDS + 1], *store = NULL;
	uint64_t	 t;
	int		 nf, i;

	memset(e, 0, sizeof(*e));
	nf = split_fields(data, len, f, NEVFIELDS + 1, &store);
	if (nf < NEVFIELDS || strcmp(f[0], "1") != 0 ||
	    parse_u64(f[1], &t) < 0)
		goto bad;
	for (i = 2; i < NEVFIELDS; i++)
		if (unescape(f[i]) < 0)
			goto bad;
	e->time = (time_t)t;
	e->kind = f[2];
	e->new_id = f[3];
	e->detail = f[4];
	*store_r = store;
	return (0);
bad:
	free(store);
	return (-1);
}

/* --- keys ---------------------------------------------------------------- */

/* The UTC day of a record's time (days since 1970; 0 before it). */
static uint32_t
day_of(int64_t t)
{
	return (t > 0 ? (uint32_t)(t / 86400) : 0);
}

/*
 * An index key: prefix c, day (4 bytes BE) and s (lower case when fold),
 * in a new string that ends in a NUL not counted in *len_r.
 */
static char *
index_key(int c, uint32_t day, const char *s, bool fold, size_t *len_r)
{
	size_t	 n = strlen(s), i;
	char	*k;

	if (n > KEY_MAX)
		n = KEY_MAX;
	k = xmalloc(n + 6);
	k[0] = (char)c;
	k[1] = (char)(day >> 24);
	k[2] = (char)(day >> 16);
	k[3] = (char)(day >> 8);
	k[4] = (char)day;
	for (i = 0; i < n; i++)
		k[i + 5] = fold ? (char)tolower((unsigned char)s[i]) : s[i];
	k[n + 5] = '\0';
	*len_r = n + 5;
	return (k);
}

/* The secondary's keys of a record (DB->associate's callback). */
static int
index_keys(DB *sec, const DBT *pkey, const DBT *pdata, DBT *skey)
{
	struct msglog_rec r;
	DBT		*v;
	size_t		 n = 0, i, j, len, nmax;
	char		*k, *p, *q, *ids;
	unsigned char	 tk[9];
	uint32_t	 day;

	(void)sec;
	(void)pkey;
	if (msglog_decode(pdata->data, pdata->size, &r) < 0)
		return (DB_DONOTINDEX);
	day = day_of(r.time);
	ids = (char *)r.later_ids;	/* in r's own storage */
	nmax = r.nrcpts + 5;
	for (p = ids; *p; p++)
		if (*p == ' ')
			nmax++;
	nmax++;
	v = xcalloc(nmax, sizeof(*v));
	tk[0] = 't';
	record_key_u64((uint64_t)r.time, tk + 1);
	v[n].data = xmalloc(9);
	memcpy(v[n].data, tk, 9);
	v[n].size = 9;
	v[n++].flags = DB_DBT_APPMALLOC;
#define ADD(c, s, fold) do {						\
		k = index_key((c), day, (s), (fold), &len);		\
		for (j = 0; j < n; j++)					\
			if (v[j].size == len &&				\
			    memcmp(v[j].data, k, len) == 0)		\
				break;					\
		if (j < n) {						\
			free(k);					\
			break;						\
		}							\
		v[n].data = k;						\
		v[n].size = (u_int32_t)len;				\
		v[n++].flags = DB_DBT_APPMALLOC;			\
	} while (0)
	ADD('s', r.sender, true);
	for (i = 0; i < r.nrcpts; i++)
		ADD('r', r.rcpts[i], true);
	ADD('i', r.orig_id, false);
	if (r.new_id[0] != '\0')
		ADD('i', r.new_id, false);
	if (r.quarantine_id[0] != '\0')
		ADD('q', r.quarantine_id, false);
	/* The ids of its releases, space-separated. */
	for (p = ids; *p && n < nmax; p = q) {
		q = p + strcspn(p, " ");
		if (*q != '\0')
			*q++ = '\0';
		if (*p != '\0')
			ADD('i', p, false);
	}
#undef ADD
	msglog_rec_clear(&r);
	memset(skey, 0, sizeof(*skey));
	skey->data = v;
	skey->size = (u_int32_t)n;
	skey->flags = DB_DBT_MULTIPLE | DB_DBT_APPMALLOC;
	return (0);
}

/* --- open, close --------------------------------------------------------- */

static int	 index_format_ok(struct msglog *, DB_TXN *);
static bool	 format_current(struct msglog *);

int
msglog_open(struct statedb *sdb, struct msglog **ml_r, char **error_r)
{
	struct msglog	*ml = xcalloc(1, sizeof(*ml));
	DB_TXN		*txn = NULL;
	int		 ret;

	ml->sdb = sdb;
	if (statedb_open_db_flags(sdb, MSGLOG_DB_NAME, 0, DB_MULTIVERSION,
	    &ml->db, error_r) < 0 ||
	    statedb_open_db_flags(sdb, MSGLOG_INDEX_NAME, DB_DUP | DB_DUPSORT,
	    DB_READ_UNCOMMITTED, &ml->index, error_r) < 0 ||
	    statedb_open_db_flags(sdb, MSGLOG_INDEX_NAME, DB_DUP | DB_DUPSORT,
	    DB_READ_UNCOMMITTED, &ml->keys, error_r) < 0 ||
	    statedb_open_db_flags(sdb, MSGLOG_EVENTS_NAME, DB_DUP,
	    DB_MULTIVERSION, &ml->events, error_r) < 0 ||
	    statedb_open_db_flags(sdb, MSGLOG_META_NAME, 0, DB_MULTIVERSION,
	    &ml->meta, error_r) < 0) {
		int	 err = errno;

		msglog_close(&ml);
		errno = err;
		return (-1);
	}
	/*
	 * Nearly every open (each holdscan command's) finds the index of
	 * this format: seen from a snapshot, which takes no lock, it needs
	 * no write lock on the page whose "seq" holdscand's batches write,
	 * nor a read of the index, whose pages they write.
	 */
	if (format_current(ml)) {
		/*
		 * An index of this format is filled (holdscand's start saw
		 * to it): tied without a transaction, it takes no lock.
		 */
		if ((ret = ml->db->associate(ml->db, NULL, ml->index,
		    index_keys, 0)) != 0) {
			*error_r = xasprintf("%s: message log: %s", sdb->dir,
			    db_strerror(ret));
			msglog_close(&ml);
			errno = ret > 0 ? ret : EIO;
			return (-1);
		}
		*ml_r = ml;
		return (0);
	}
	if ((ret = sdb->env->txn_begin(sdb->env, NULL, &txn, 0)) != 0 ||
	    (ret = index_format_ok(ml, txn)) != 0 ||
	    (ret = ml->db->associate(ml->db, txn, ml->index, index_keys,
	    DB_CREATE)) != 0 ||
	    (ret = txn->commit(txn, 0)) != 0) {
		if (txn != NULL && ret != 0)
			(void)txn->abort(txn);
		*error_r = ret == DB_OLD_VERSION ? xasprintf("%s: message log: "
		    "its index is of an older holdscand; holdscand makes it "
		    "anew when it starts", sdb->dir) : xasprintf("%s: message "
		    "log: %s", sdb->dir, db_strerror(ret));
		msglog_close(&ml);
		errno = ret > 0 ? ret : EIO;
		return (-1);
	}
	*ml_r = ml;
	return (0);
}

/* Is the index of MSGLOG_INDEX_FORMAT, as a snapshot sees it now? */
static bool
format_current(struct msglog *ml)
{
	DB_TXN	*snap = NULL;
	void	*val = NULL;
	size_t	 len = 0;
	int	 ret = 0, found;
	bool	 ok;

	if (ml->sdb->env->txn_begin(ml->sdb->env, NULL, &snap,
	    DB_TXN_SNAPSHOT) != 0)
		return (false);
	found = record_get(ml->meta, snap, "index", 5, 0, &val, &len, &ret);
	ok = found > 0 && len == strlen(MSGLOG_INDEX_FORMAT) &&
	    memcmp(val, MSGLOG_INDEX_FORMAT, len) == 0;
	free(val);
	(void)snap->commit(snap, 0);
	return (ok);
}

/*
 * In txn: 0 when the index is of MSGLOG_INDEX_FORMAT (an empty log's
 * becomes so), DB_OLD_VERSION when records were indexed otherwise, or a
 * Berkeley DB error.
 */
static int
index_format_ok(struct msglog *ml, DB_TXN *txn)
{
	void	*val = NULL;
	size_t	 len = 0;
	int	 ret = 0, found, some;

	found = record_get(ml->meta, txn, "index", 5, DB_RMW, &val, &len,
	    &ret);
	if (found < 0)
		return (ret);
	if (found > 0 && len == strlen(MSGLOG_INDEX_FORMAT) &&
	    memcmp(val, MSGLOG_INDEX_FORMAT, len) == 0) {
		free(val);
		return (0);
	}
	free(val);
	if ((some = record_any(ml->db, txn, &ret)) < 0)
		return (ret);
	if (some)
		return (DB_OLD_VERSION);
	return (record_put(ml->meta, txn, "index", 5, MSGLOG_INDEX_FORMAT,
	    strlen(MSGLOG_INDEX_FORMAT)));
}

/* The index keys of the records after key *from, in one transaction. */
static int
rebuild_step(struct statedb *sdb, DB *db, DB *index, unsigned char from[8],
    bool *first, size_t *n_r, bool *done_r)
{
	DB_TXN	*txn = NULL;
	DBC	*c = NULL;
	DBT	 k, v, sk, one, pk;
	size_t	 n = 0;
	u_int32_t i;
	int	 ret, cb;

	*done_r = false;
	if ((ret = sdb->env->txn_begin(sdb->env, NULL, &txn, 0)) != 0)
		return (ret);
	if ((ret = db->cursor(db, txn, &c, 0)) != 0)
		goto out;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	if (*first) {
		ret = c->get(c, &k, &v, DB_FIRST);
	} else {
		k.data = from;
		k.size = 8;
		if ((ret = c->get(c, &k, &v, DB_SET_RANGE)) == 0 &&
		    k.size == 8 && memcmp(k.data, from, 8) == 0)
			ret = c->get(c, &k, &v, DB_NEXT);
	}
	for (; ret == 0 && n < REBUILD_BATCH; ret = c->get(c, &k, &v,
	    DB_NEXT)) {
		if (k.size != 8)
			continue;
		memcpy(from, k.data, 8);
		*first = false;
		n++;
		memset(&sk, 0, sizeof(sk));
		if ((cb = index_keys(index, &k, &v, &sk)) == DB_DONOTINDEX)
			continue;
		for (i = 0; i < sk.size && ret == 0; i++) {
			one = ((DBT *)sk.data)[i];
			one.flags = 0;
			memset(&pk, 0, sizeof(pk));
			pk.data = from;
			pk.size = 8;
			ret = index->put(index, txn, &one, &pk, 0);
			if (ret == DB_KEYEXIST)
				ret = 0;
		}
		for (i = 0; i < sk.size; i++)
			free(((DBT *)sk.data)[i].data);
		free(sk.data);
		if (ret != 0)
			goto out;
	}
	if (ret == DB_NOTFOUND) {
		*done_r = true;
		ret = 0;
	}
out:
	if (c != NULL)
		(void)c->close(c);
	if (ret == 0)
		ret = txn->commit(txn, DB_TXN_NOSYNC);
	else
		(void)txn->abort(txn);
	if (ret == 0)
		*n_r += n;
	return (ret);
}

int
msglog_rebuild_index(struct statedb *sdb, size_t *n_r, char **error_r)
{
	DB		*db = NULL, *index = NULL, *meta = NULL;
	DB_TXN		*txn = NULL;
	unsigned char	 from[8];
	void		*val = NULL;
	size_t		 len = 0;
	bool		 first = true, done = false;
	int		 ret = 0, found;

	*n_r = 0;
	if (statedb_open_db_flags(sdb, MSGLOG_META_NAME, 0, DB_MULTIVERSION,
	    &meta, error_r) < 0)
		return (-1);
	found = record_get(meta, NULL, "index", 5, 0, &val, &len, &ret);
	if (found > 0 && len == strlen(MSGLOG_INDEX_FORMAT) &&
	    memcmp(val, MSGLOG_INDEX_FORMAT, len) == 0)
		done = true;
	free(val);
	if (found < 0)
		goto fail;
	if (!done) {
		/* Anew: a rebuild cut short left part of one. */
		ret = sdb->env->dbremove(sdb->env, NULL, MSGLOG_INDEX_NAME,
		    NULL, DB_AUTO_COMMIT);
		if (ret != 0 && ret != ENOENT)
			goto fail;
		if (statedb_open_db_flags(sdb, MSGLOG_DB_NAME, 0,
		    DB_MULTIVERSION, &db, error_r) < 0 ||
		    statedb_open_db_flags(sdb, MSGLOG_INDEX_NAME, DB_DUP |
		    DB_DUPSORT, DB_READ_UNCOMMITTED, &index, error_r) < 0)
			goto fail_closed;
		while (!done)
			if ((ret = rebuild_step(sdb, db, index, from, &first,
			    n_r, &done)) != 0)
				goto fail;
		if ((ret = sdb->env->txn_begin(sdb->env, NULL, &txn, 0)) != 0 ||
		    (ret = record_put(meta, txn, "index", 5,
		    MSGLOG_INDEX_FORMAT, strlen(MSGLOG_INDEX_FORMAT))) != 0 ||
		    (ret = txn->commit(txn, 0)) != 0) {
			if (txn != NULL && ret != 0)
				(void)txn->abort(txn);
			goto fail;
		}
	}
	/* The old index, once nobody has it open (else at the next start). */
	(void)sdb->env->dbremove(sdb->env, NULL, MSGLOG_OLD_INDEX_NAME, NULL,
	    DB_AUTO_COMMIT);
	if (index != NULL)
		(void)index->close(index, 0);
	if (db != NULL)
		(void)db->close(db, 0);
	(void)meta->close(meta, 0);
	return (0);
fail:
	*error_r = xasprintf("%s: message log: rebuild the index: %s",
	    sdb->dir, db_strerror(ret));
	errno = ret > 0 ? ret : EIO;
fail_closed:
	if (index != NULL)
		(void)index->close(index, 0);
	if (db != NULL)
		(void)db->close(db, 0);
	(void)meta->close(meta, 0);
	return (-1);
}

int
msglog_open_reader(struct statedb *sdb, struct msglog **ml_r, char **error_r)
{
	struct msglog	*ml = xcalloc(1, sizeof(*ml));

	ml->sdb = sdb;
	if (statedb_open_db_flags(sdb, MSGLOG_DB_NAME, 0, DB_MULTIVERSION,
	    &ml->db, error_r) < 0 ||
	    statedb_open_db_flags(sdb, MSGLOG_EVENTS_NAME, DB_DUP,
	    DB_MULTIVERSION, &ml->events, error_r) < 0) {
		int	 err = errno;

		msglog_close(&ml);
		errno = err;
		return (-1);
	}
	*ml_r = ml;
	return (0);
}

void
msglog_set_outbox(struct msglog *ml, struct outbox *ob)
{
	ml->outbox = ob;
}

/* The change of record seq goes to the outbox too (a farm), in txn. */
static int
to_outbox(struct msglog *ml, DB_TXN *txn, uint64_t seq, char **error_r)
{
	if (ml->outbox == NULL)
		return (0);
	return (outbox_put(ml->outbox, txn, seq, error_r));
}

void
msglog_close(struct msglog **mlp)
{
	struct msglog	*ml = *mlp;

	if (ml == NULL)
		return;
	/* Secondaries first. */
	if (ml->index != NULL)
		(void)ml->index->close(ml->index, 0);
	if (ml->keys != NULL)
		(void)ml->keys->close(ml->keys, 0);
	if (ml->db != NULL)
		(void)ml->db->close(ml->db, 0);
	if (ml->events != NULL)
		(void)ml->events->close(ml->events, 0);
	if (ml->meta != NULL)
		(void)ml->meta->close(ml->meta, 0);
	free(ml);
	*mlp = NULL;
}

static int
db_fail(char **error_r, const char *what, int ret)
{
	*error_r = xasprintf("message log: %s: %s", what, db_strerror(ret));
	errno = ret > 0 ? ret : EIO;
	return (-1);
}

/* --- writing ------------------------------------------------------------- */

int
msglog_add(struct msglog *ml, DB_TXN *txn, struct msglog_rec *r,
    char **error_r)
{
	struct buf	 val = BUF_INIT;
	unsigned char	 k[8];
	void		*old = NULL;
	size_t		 oldlen = 0;
	int		 ret = 0, found;

	found = record_get(ml->meta, txn, "seq", 3, DB_RMW, &old, &oldlen,
	    &ret);
	if (found < 0)
		return (db_fail(error_r, "read the sequence", ret));
	r->seq = found && oldlen == 8 ? record_u64(old, 8) + 1 : 1;
	free(old);
	record_key_u64(r->seq, k);
	if ((ret = record_put(ml->meta, txn, "seq", 3, k, 8)) != 0)
		return (db_fail(error_r, "write the sequence", ret));
	msglog_encode(r, &val);
	ret = record_put(ml->db, txn, k, 8, val.data, val.len);
	buf_free(&val);
	if (ret != 0)
		return (db_fail(error_r, "write", ret));
	return (to_outbox(ml, txn, r->seq, error_r));
}

/*
 * Rewrite record k in txn: its new id replaced (new_id), or one more id
 * it was released as (more_id). 0 or a Berkeley DB error (DB_NOTFOUND
 * when there is no such record, EINVAL when it is malformed).
 */
static int
rewrite(struct msglog *ml, DB_TXN *txn, const unsigned char k[8],
    const char *new_id, const char *more_id)
{
	struct msglog_rec r;
	struct buf	 val = BUF_INIT, ids = BUF_INIT;
	void		*old = NULL;
	size_t		 oldlen = 0;
	int		 ret = 0, found;

	if ((found = record_get(ml->db, txn, k, 8, DB_RMW, &old, &oldlen,
	    &ret)) <= 0)
		return (found == 0 ? DB_NOTFOUND : ret);
	ret = msglog_decode(old, oldlen, &r);
	free(old);
	if (ret < 0)
		return (EINVAL);
	if (new_id != NULL)
		r.new_id = new_id;
	if (more_id != NULL) {
		buf_printf(&ids, "%s%s%s", r.later_ids, r.later_ids[0] ? " " :
		    "", more_id);
		r.later_ids = ids.data;
	}
	msglog_encode(&r, &val);
	msglog_rec_clear(&r);
	ret = record_put(ml->db, txn, k, 8, val.data, val.len);
	buf_free(&val);
	buf_free(&ids);
	return (ret);
}

int
msglog_set_new_id(struct msglog *ml, uint64_t seq, const char *new_id,
    char **error_r)
{
	DB_TXN		*txn = NULL;
	unsigned char	 k[8];
	int		 ret;

	record_key_u64(seq, k);
	if ((ret = ml->sdb->env->txn_begin(ml->sdb->env, NULL, &txn, 0)) != 0)
		return (db_fail(error_r, "begin", ret));
	if ((ret = rewrite(ml, txn, k, new_id, NULL)) != 0) {
		(void)txn->abort(txn);
		return (db_fail(error_r, "correct the new id", ret));
	}
	if (to_outbox(ml, txn, seq, error_r) < 0) {
		(void)txn->abort(txn);
		return (-1);
	}
	if ((ret = txn->commit(txn, DB_TXN_NOSYNC)) != 0)
		return (db_fail(error_r, "commit", ret));
	return (0);
}

/* Collects the primary keys of an index key's records. */
struct seqs {
	uint64_t	*v;
	size_t		 n;
	uint64_t	 ino;		/* retract: only records with this inode */
	bool		 by_ino;
};

static int
collect_seq(void *arg, const struct record *r)
{
	struct seqs	*s = arg;
	struct msglog_rec rec;

	if (s->by_ino) {
		if (msglog_decode(r->val, r->vlen, &rec) < 0)
			return (0);
		if (rec.orig_ino != s->ino) {
			msglog_rec_clear(&rec);
			return (0);
		}
		msglog_rec_clear(&rec);
	}
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = record_u64(r->pkey, r->pklen);
	return (0);
}

/* The first "t" key a walk meets, if it is one. */
struct tkey {
	bool		 found;
	uint64_t	 t;
};

static int
first_t(void *arg, const struct record *r)
{
	struct tkey	*k = arg;

	if (r->klen == 9 && ((const char *)r->key)[0] == 't') {
		k->found = true;
		k->t = record_u64((const char *)r->key + 1, 8);
	}
	return (1);
}

/* The days that have records, ascending. */
struct days {
	uint32_t	*v;
	size_t		 n;
};

static int
day_cmp(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

/*
 * The days that have records, from the "t" keys: one seek a day (to the
 * first key of the next day), so a clock that once said 1970 or 2100
 * costs one more day, not the days between. In txn, or (txn NULL) by
 * dirty walks, which fail rather than wait (see busy()). 0 or a
 * Berkeley DB error.
 */
static int
days_of(struct msglog *ml, DB_TXN *txn, struct days *d)
{
	struct record_walk w;
	struct tkey	 k;
	unsigned char	 from[9];
	uint64_t	 next = 0;
	uint32_t	 day;
	size_t		 i, n;
	int		 ret;

	d->v = NULL;
	d->n = 0;
	for (;;) {
		memset(&w, 0, sizeof(w));
		w.db = txn != NULL ? ml->index : ml->keys;
		w.secondary = txn != NULL;
		w.txn = txn;
		w.dirty = txn == NULL;
		w.keys_only = true;
		from[0] = 't';
		record_key_u64(next, from + 1);
		w.from = from;
		w.fromlen = sizeof(from);
		k.found = false;
		if ((ret = record_walk(ml->sdb, &w, first_t, &k)) != 0) {
			free(d->v);
			d->v = NULL;
			d->n = 0;
			return (ret);
		}
		if (!k.found)
			break;
		day = day_of((int64_t)k.t);
		d->v = xreallocarray(d->v, d->n + 1, sizeof(*d->v));
		d->v[d->n++] = day;
		/* A time before 1970 sorts last and is day 0: the end. */
		if (k.t > (uint64_t)INT64_MAX)
			break;
		next = (k.t / 86400 + 1) * 86400;
	}
	if (d->n > 1)
		qsort(d->v, d->n, sizeof(*d->v), day_cmp);
	for (i = n = 0; i < d->n; i++)
		if (n == 0 || d->v[n - 1] != d->v[i])
			d->v[n++] = d->v[i];
	d->n = n;
	return (0);
}

/*
 * The records naming index key c + id on any day, in txn, for each
 * prefix c of prefixes in turn until one names some (the days read
 * once).
 */
static int
seqs_of(struct msglog *ml, DB_TXN *txn, const char *prefixes, const char *id,
    struct seqs *s)
{
	struct record_walk w;
	struct days	 d;
	size_t		 len, i;
	const char	*c;
	char		*k;
	int		 ret;

	if ((ret = days_of(ml, txn, &d)) != 0)
		return (ret);
	for (c = prefixes; ret == 0 && *c != '\0' && s->n == 0; c++) {
		for (i = d.n; ret == 0 && i > 0; i--) {
			k = index_key(*c, d.v[i - 1], id, *c == 's' ||
			    *c == 'r', &len);
			memset(&w, 0, sizeof(w));
			w.db = ml->index;
			w.secondary = true;
			w.txn = txn;
			w.from = k;
			w.fromlen = len;
			w.exact = true;
			w.keys_only = !s->by_ino;
			ret = record_walk(ml->sdb, &w, collect_seq, s);
			free(k);
		}
	}
	free(d.v);
	return (ret);
}

static uint64_t
max_seq(const struct seqs *s)
{
	uint64_t	 m = 0;
	size_t		 i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] > m)
			m = s->v[i];
	return (m);
}

int
msglog_retract(struct msglog *ml, DB_TXN *txn, const char *orig_id,
    uint64_t orig_ino, char **error_r)
{
	struct seqs	 s = { NULL, 0, orig_ino, true };
	unsigned char	 k[8];
	uint64_t	 seq;
	int		 ret;

	if ((ret = seqs_of(ml, txn, "i", orig_id, &s)) != 0) {
		free(s.v);
		return (db_fail(error_r, "find a record", ret));
	}
	if (s.n == 0) {
		free(s.v);
		return (0);
	}
	seq = max_seq(&s);
	record_key_u64(seq, k);
	free(s.v);
	if ((ret = record_del(ml->db, txn, k, 8)) != 0 ||
	    (ret = record_del(ml->events, txn, k, 8)) != 0)
		return (db_fail(error_r, "remove a record", ret));
	/* A record shipped already is removed from the database too. */
	if (to_outbox(ml, txn, seq, error_r) < 0)
		return (-1);
	return (1);
}

int
msglog_append_event(struct msglog *ml, DB_TXN *txn, const char *id,
    const struct msglog_event *e, char **error_r)
{
	struct seqs	 s = { NULL, 0, 0, false };
	struct buf	 val = BUF_INIT;
	DB_TXN		*own = NULL;
	unsigned char	 k[8];
	DBT		 key, data;
	int		 ret;

	if (txn == NULL) {
		if ((ret = ml->sdb->env->txn_begin(ml->sdb->env, NULL, &own,
		    0)) != 0)
			return (db_fail(error_r, "begin", ret));
		txn = own;
	}
	/* Its quarantine id, else its queue ids. */
	if ((ret = seqs_of(ml, txn, "qi", id, &s)) != 0)
		goto fail;
	if (s.n == 0) {
		free(s.v);
		if (own != NULL && (ret = own->commit(own, 0)) != 0)
			return (db_fail(error_r, "commit", ret));
		return (0);
	}
	record_key_u64(max_seq(&s), k);
	free(s.v);
	s.v = NULL;
	msglog_event_encode(e, &val);
	memset(&key, 0, sizeof(key));
	memset(&data, 0, sizeof(data));
	key.data = k;
	key.size = 8;
	data.data = val.data;
	data.size = (u_int32_t)val.len;
	ret = ml->events->put(ml->events, txn, &key, &data, 0);
	buf_free(&val);
	/* A release's new id finds the record too. */
	if (ret == 0 && e->new_id != NULL && e->new_id[0] != '\0')
		ret = rewrite(ml, txn, k, NULL, e->new_id);
	if (ret != 0)
		goto fail;
	if (to_outbox(ml, txn, record_u64(k, 8), error_r) < 0) {
		if (own != NULL)
			(void)own->abort(own);
		return (-1);
	}
	if (own != NULL && (ret = own->commit(own, 0)) != 0) {
		own = NULL;
		goto fail;
	}
	return (1);
fail:
	free(s.v);
	if (own != NULL)
		(void)own->abort(own);
	return (db_fail(error_r, "append an event", ret));
}

/* --- reading ------------------------------------------------------------- */

/* Does the record match q (besides what the walk chose)? */
static bool
matches(const struct msglog_query *q, const struct msglog_rec *r)
{
	size_t	 i;

	if (q->since && r->time < q->since)
		return (false);
	if (q->until && r->time > q->until)
		return (false);
	if (q->sender && strcasecmp(q->sender, r->sender) != 0)
		return (false);
	if (q->verdict && strcasecmp(q->verdict, r->verdict) != 0)
		return (false);
	if (q->action && strcasecmp(q->action, r->action) != 0)
		return (false);
	if (q->rcpt) {
		for (i = 0; i < r->nrcpts; i++)
			if (strcasecmp(q->rcpt, r->rcpts[i]) == 0)
				break;
		if (i == r->nrcpts)
			return (false);
	}
	return (true);
}

/* Does the record bear id (original, new, quarantine or a release's)? */
static bool
names(const struct msglog_rec *r, const char *id)
{
	const char	*p;
	size_t		 n = strlen(id);

	if (n == 0)
		return (false);
	if (strcmp(r->orig_id, id) == 0 || strcmp(r->new_id, id) == 0 ||
	    strcmp(r->quarantine_id, id) == 0)
		return (true);
	for (p = r->later_ids; (p = strstr(p, id)) != NULL; p += n)
		if ((p == r->later_ids || p[-1] == ' ') &&
		    (p[n] == '\0' || p[n] == ' '))
			return (true);
	return (false);
}

/*
 * A reader's walks: the snapshot the records are read from, the last
 * sequence number in it, and the records found, decoded, for sorting.
 */
struct recs {
	struct msglog	*ml;
	DB_TXN		*snap;
	uint64_t	 last;		/* the snapshot's last sequence number */
	int		 err;		/* a Berkeley DB error reading a record */
	struct msglog_rec *v;
	size_t		 n;
	const struct msglog_query *q;
	const char	*id;		/* a trace: records that bear it */
	bool		 bad;
	bool		 by_time;	/* walking the "t" keys: stop past them */
	msglog_fn	 fn;		/* set: each match to fn as it comes, */
	void		*arg;		/* none kept (the walk is in order) */
	const char	*only;		/* set: stop at a key other than this */
	size_t		 onlylen;
	bool		 stop;		/* fn said so, or the limit: no more walks */
};

/* One index entry of a dirty walk: its record, from the snapshot. */
static int
collect_rec(void *arg, const struct record *r)
{
	struct recs	*rs = arg;
	struct msglog_rec rec;
	void		*val = NULL;
	size_t		 len = 0;
	int		 found, ret = 0;

	/* Backward over the "t" keys: done below since, or at the limit. */
	if (rs->by_time && (r->klen != 9 || ((const char *)r->key)[0] != 't' ||
	    record_u64((const char *)r->key + 1, 8) < (uint64_t)rs->q->since ||
	    (rs->q->limit > 0 && rs->n >= rs->q->limit)))
		return (1);
	/* Backward over one key's duplicates: done past them, or at the limit. */
	if (rs->only != NULL && (r->klen != rs->onlylen ||
	    memcmp(r->key, rs->only, rs->onlylen) != 0 ||
	    (rs->q->limit > 0 && rs->n >= rs->q->limit)))
		return (1);
	if (r->vlen != 8) {
		rs->bad = true;
		return (0);
	}
	/* Not committed when the snapshot began (or later): not there. */
	if (record_u64(r->val, 8) > rs->last)
		return (0);
	found = record_get(rs->ml->db, rs->snap, r->val, 8, 0, &val, &len,
	    &ret);
	if (found < 0) {
		rs->err = ret;
		return (1);
	}
	if (found == 0)
		return (0);	/* pruned, retracted, or not committed */
	ret = msglog_decode(val, len, &rec);
	free(val);
	if (ret < 0) {
		rs->bad = true;
		return (0);
	}
	/* The key may be uncommitted: the record must say it too. */
	if ((rs->q != NULL && !matches(rs->q, &rec)) ||
	    (rs->id != NULL && !names(&rec, rs->id))) {
		msglog_rec_clear(&rec);
		return (0);
	}
	if (rs->fn != NULL) {
		int	 stop = rs->fn(rs->arg, &rec);

		msglog_rec_clear(&rec);
		rs->n++;
		if (stop != 0 || (rs->q != NULL && rs->q->limit > 0 &&
		    rs->n >= rs->q->limit))
			rs->stop = true;
		return (stop);
	}
	rs->v = xreallocarray(rs->v, rs->n + 1, sizeof(*rs->v));
	rs->v[rs->n++] = rec;
	return (0);
}

static int
newest_first(const void *a, const void *b)
{
	const struct msglog_rec *x = a, *y = b;

	return (x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0);
}

static void
recs_free(struct recs *rs)
{
	size_t	 i;

	for (i = 0; i < rs->n; i++)
		msglog_rec_clear(&rs->v[i]);
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
}

/* One walk of the index: from key from (its duplicates when exact). */
struct iwalk {
	const void	*from;
	size_t		 fromlen;
	bool		 exact;
	bool		 reverse;	/* back from below from */
	const char	*only;		/* reverse: stop past this key's records */
	size_t		 onlylen;
};

/* A dirty walk met a writer's lock (it does not wait for it). */
static bool
busy(int ret)
{
	return (ret == DB_LOCK_DEADLOCK || ret == DB_LOCK_NOTGRANTED);
}

/* The pause after a dirty walk's tries-th meeting with a writer's lock. */
static void
read_pause(int tries)
{
	struct timespec	 ts;

	ts.tv_sec = 0;
	ts.tv_nsec = (tries < READ_PAUSE_MS ? tries : READ_PAUSE_MS) * 1000000L;
	(void)nanosleep(&ts, NULL);
}

/*
 * The snapshot, then walks w[0..n) of the index into rs, again (after a
 * pause, from an empty rs and a new snapshot) while a walk meets a
 * writer's lock, at most READ_TRIES times. 0 or a Berkeley DB error.
 */
static int
index_walks(struct msglog *ml, const struct iwalk *w, size_t n,
    struct recs *rs)
{
	struct record_walk rw;
	sigset_t	 old;
	void		*val = NULL;
	size_t		 len = 0, i;
	int		 ret = 0, tries, found;
	bool		 held;

	/* Not stopped (^Z) with its snapshot open: a stop waits for the end. */
	held = record_stops_hold(&old);
	for (tries = 1; ; tries++) {
		rs->ml = ml;
		rs->err = 0;
		rs->bad = false;
		rs->stop = false;
		if ((ret = ml->sdb->env->txn_begin(ml->sdb->env, NULL,
		    &rs->snap, DB_TXN_SNAPSHOT)) != 0)
			break;
		found = record_get(ml->meta, rs->snap, "seq", 3, 0, &val, &len,
		    &ret);
		rs->last = found > 0 && len == 8 ? record_u64(val, 8) : 0;
		free(val);
		val = NULL;
		for (i = 0; found >= 0 && i < n && !rs->stop; i++) {
			rs->only = w[i].only;
			rs->onlylen = w[i].onlylen;
			memset(&rw, 0, sizeof(rw));
			rw.db = ml->keys;
			rw.dirty = true;
			rw.from = w[i].from;
			rw.fromlen = w[i].fromlen;
			rw.exact = w[i].exact;
			rw.reverse = w[i].reverse;
			if ((ret = record_walk(ml->sdb, &rw, collect_rec,
			    rs)) == 0)
				ret = rs->err;
			if (ret != 0)
				break;
		}
		(void)rs->snap->commit(rs->snap, 0);
		rs->snap = NULL;
		/* Streamed records went to fn already: never twice. */
		if (!busy(ret) || tries == READ_TRIES || rs->fn != NULL)
			break;
		recs_free(rs);
		read_pause(tries);
	}
	record_stops_release(held, &old);
	return (ret);
}

/*
 * A reader's days of the records (days_of() by dirty walks, again after
 * a pause while it meets a writer's lock). 0 or a Berkeley DB error.
 */
static int
reader_days(struct msglog *ml, struct days *d)
{
	int		 ret, tries;

	for (tries = 1; ; tries++) {
		ret = days_of(ml, NULL, d);
		if (!busy(ret) || tries == READ_TRIES)
			return (ret);
		read_pause(tries);
	}
}

/*
 * The walks of key c + s on each of the days of d in [lo, hi], newest
 * first, in *w_r and their keys in *k_r (free each, then both arrays):
 * reverse walks over each key's records (newest first) when reverse,
 * else exact ones. The number of walks.
 */
static size_t
day_walks(int c, const char *s, bool fold, const struct days *d,
    uint32_t lo, uint32_t hi, bool reverse, struct iwalk **w_r,
    char ***k_r)
{
	struct iwalk	*w;
	char		**k;
	size_t		 n = 0, len, i;

	*w_r = NULL;
	*k_r = NULL;
	if (d->n == 0)
		return (0);
	w = xcalloc(d->n, sizeof(*w));
	k = xcalloc(d->n, sizeof(*k));
	for (i = d->n; i > 0; i--) {
		if (d->v[i - 1] < lo || d->v[i - 1] > hi)
			continue;
		k[n] = index_key(c, d->v[i - 1], s, fold, &len);
		w[n].from = k[n];
		if (reverse) {
			/* Below the key and a NUL: its last record first. */
			w[n].fromlen = len + 1;
			w[n].reverse = true;
			w[n].only = k[n];
			w[n].onlylen = len;
		} else {
			w[n].fromlen = len;
			w[n].exact = true;
		}
		n++;
	}
	*w_r = w;
	*k_r = k;
	return (n);
}

static void
day_walks_free(struct iwalk *w, char **k, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(k[i]);
	free(k);
	free(w);
}

/* After the walks: an error (ret), or rs sorted by cmp (if any). 0 or -1. */
static int
walked(struct recs *rs, int ret, int (*cmp)(const void *, const void *),
    char **error_r)
{
	if (ret != 0) {
		recs_free(rs);
		return (db_fail(error_r, busy(ret) ? "read (a writer kept "
		    "the index locked)" : "read", ret));
	}
	if (rs->n > 1 && cmp != NULL)
		qsort(rs->v, rs->n, sizeof(*rs->v), cmp);
	return (0);
}

int
msglog_query(struct msglog *ml, const struct msglog_query *q, msglog_fn fn,
    void *arg, char **error_r)
{
	struct recs	 rs;
	struct iwalk	 w, *dw = NULL;
	unsigned char	 tk[9];
	char		**dk = NULL;
	size_t		 i, nw = 1;
	struct days	 days;
	int		 ret;

	memset(&rs, 0, sizeof(rs));
	rs.q = q;
	memset(&w, 0, sizeof(w));
	if (q->stream) {
		rs.fn = fn;
		rs.arg = arg;
	}
	if (q->sender != NULL || q->rcpt != NULL) {
		/*
		 * One address's records: its index key's duplicates on each
		 * day, which are sorted by sequence number. Streamed: the
		 * days newest first, each backward from below its key and a
		 * NUL (the first key past its duplicates), each record to fn
		 * at once, so a page reads a page. Else kept, then sorted
		 * newest first (see walked()). Only the days of the range
		 * asked for.
		 */
		if ((ret = reader_days(ml, &days)) != 0)
			return (db_fail(error_r, busy(ret) ? "read (a writer "
			    "kept the index locked)" : "read", ret));
		nw = day_walks(q->rcpt != NULL ? 'r' : 's', q->rcpt != NULL ?
		    q->rcpt : q->sender, true, &days,
		    q->since > 0 ? day_of(q->since) : 0,
		    q->until > 0 ? day_of(q->until) : UINT32_MAX, q->stream,
		    &dw, &dk);
		free(days.v);
	} else {
		/*
		 * A time range: the "t" keys below until + 1 (all of them:
		 * below "u"), newest first; the walk stops at since, at the
		 * limit or (streamed) when fn says so, so "the last 20"
		 * reads 20 records.
		 */
		tk[0] = q->until > 0 ? 't' : 'u';
		record_key_u64(q->until > 0 ? (uint64_t)q->until + 1 : 0, tk + 1);
		rs.by_time = true;
		w.from = tk;
		w.fromlen = sizeof(tk);
		w.reverse = true;
	}
	ret = nw > 0 ? index_walks(ml, dw != NULL ? dw : &w, nw, &rs) : 0;
	day_walks_free(dw, dk, dw != NULL ? nw : 0);
	if (q->stream)		/* nothing kept */
		return (ret != 0 ? db_fail(error_r, busy(ret) ? "read (a "
		    "writer kept the index locked)" : "read", ret) : 0);
	if (walked(&rs, ret, rs.by_time ? NULL : newest_first, error_r) < 0)
		return (-1);
	/* Not streamed: the walk is over (its snapshot too), now fn. */
	for (i = 0; i < rs.n && (q->limit == 0 || i < q->limit); i++)
		if (fn(arg, &rs.v[i]) != 0)
			break;
	recs_free(&rs);
	return (0);
}

static int
oldest_first(const void *a, const void *b)
{
	return (-newest_first(a, b));
}

int
msglog_find(struct msglog *ml, const char *id, msglog_fn fn, void *arg,
    size_t *n_r, char **error_r)
{
	struct recs	 rs;
	struct iwalk	*w[2];
	size_t		 i, j, n[2] = { 0, 0 };
	char		**k[2] = { NULL, NULL };
	struct days	 days;
	int		 ret, c;
	static const int prefixes[] = { 'i', 'q' };

	memset(&rs, 0, sizeof(rs));
	rs.id = id;
	w[0] = w[1] = NULL;
	/* Its ids and its quarantine id on each day. */
	if ((ret = reader_days(ml, &days)) == 0) {
		for (c = 0; c < 2; c++)
			n[c] = day_walks(prefixes[c], id, false, &days, 0,
			    UINT32_MAX, false, &w[c], &k[c]);
		free(days.v);
		if (n[0] > 0) {
			w[0] = xreallocarray(w[0], n[0] + n[1], sizeof(*w[0]));
			for (i = 0; i < n[1]; i++)
				w[0][n[0] + i] = w[1][i];
			ret = index_walks(ml, w[0], n[0] + n[1], &rs);
		}
		for (c = 0; c < 2; c++)
			day_walks_free(w[c], k[c], n[c]);
	}
	if (walked(&rs, ret, oldest_first, error_r) < 0)
		return (-1);
	*n_r = 0;
	for (i = 0; i < rs.n; i++) {
		/* One record may be found by two of its ids. */
		for (j = 0; j < i; j++)
			if (rs.v[j].seq == rs.v[i].seq)
				break;
		if (j < i)
			continue;
		(*n_r)++;
		if (fn(arg, &rs.v[i]) != 0)
			break;
	}
	recs_free(&rs);
	return (0);
}

struct evwalk {
	msglog_event_fn	 fn;
	void		*arg;
};

static int
each_event(void *arg, const struct record *r)
{
	struct evwalk	*ew = arg;
	struct msglog_event e;
	char		*store;
	int		 rc;

	if (msglog_event_decode(r->val, r->vlen, &e, &store) < 0)
		return (0);
	rc = ew->fn(ew->arg, &e);
	free(store);
	return (rc);
}

int
msglog_events(struct msglog *ml, uint64_t seq, msglog_event_fn fn, void *arg,
    char **error_r)
{
	struct evwalk	 ew = { fn, arg };
	struct record_walk w;
	unsigned char	 k[8];
	int		 ret;

	record_key_u64(seq, k);
	memset(&w, 0, sizeof(w));
	w.db = ml->events;
	w.snapshot = true;
	w.from = k;
	w.fromlen = 8;
	w.exact = true;
	if ((ret = record_walk(ml->sdb, &w, each_event, &ew)) != 0)
		return (db_fail(error_r, "read events", ret));
	return (0);
}

int
msglog_get(struct msglog *ml, uint64_t seq, struct msglog_rec *r,
    char **error_r)
{
	DB_TXN		*txn = NULL;
	unsigned char	 k[8];
	void		*val = NULL;
	size_t		 len = 0;
	int		 ret = 0, found;

	record_key_u64(seq, k);
	if ((ret = ml->sdb->env->txn_begin(ml->sdb->env, NULL, &txn,
	    DB_TXN_SNAPSHOT)) != 0)
		return (db_fail(error_r, "begin", ret));
	found = record_get(ml->db, txn, k, 8, 0, &val, &len, &ret);
	(void)txn->commit(txn, 0);
	if (found < 0)
		return (db_fail(error_r, "read", ret));
	if (found == 0)
		return (0);
	ret = msglog_decode(val, len, r);
	free(val);
	if (ret < 0) {
		*error_r = xasprintf("message log: record %" PRIu64
		    " is malformed", seq);
		errno = EINVAL;
		return (-1);
	}
	return (1);
}

/* --- pruning ------------------------------------------------------------- */

struct pruner {
	time_t		 cutoff;
	size_t		 max;
	uint64_t	*v;
	size_t		 n;
};

static int
old_one(void *arg, const struct record *r)
{
	struct pruner	*p = arg;
	struct msglog_rec rec;
	bool		 old;

	if (p->n >= p->max)
		return (1);
	if (msglog_decode(r->val, r->vlen, &rec) < 0) {
		old = true;	/* unreadable: nothing to keep */
	} else {
		old = rec.time < p->cutoff;
		msglog_rec_clear(&rec);
	}
	if (!old)
		return (1);	/* in sequence order: the rest is newer */
	p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
	p->v[p->n++] = record_u64(r->key, r->klen);
	return (0);
}

int
msglog_prune(struct msglog *ml, time_t cutoff, size_t max, size_t *n_r,
    char **error_r)
{
	struct pruner	 p = { cutoff, max, NULL, 0 };
	struct record_walk w;
	DB_TXN		*txn = NULL;
	unsigned char	 k[8];
	size_t		 i;
	int		 ret;

	*n_r = 0;
	if ((ret = ml->sdb->env->txn_begin(ml->sdb->env, NULL, &txn, 0)) != 0)
		return (db_fail(error_r, "begin", ret));
	memset(&w, 0, sizeof(w));
	w.db = ml->db;
	w.txn = txn;
	if ((ret = record_walk(ml->sdb, &w, old_one, &p)) != 0)
		goto fail;
	for (i = 0; i < p.n; i++) {
		record_key_u64(p.v[i], k);
		if ((ret = record_del(ml->db, txn, k, 8)) != 0 ||
		    (ret = record_del(ml->events, txn, k, 8)) != 0)
			goto fail;
	}
	/* Not synced: a crash may bring pruned records back, to go again. */
	if ((ret = txn->commit(txn, DB_TXN_NOSYNC)) != 0) {
		txn = NULL;
		goto fail;
	}
	*n_r = p.n;
	free(p.v);
	return (0);
fail:
	if (txn != NULL)
		(void)txn->abort(txn);
	free(p.v);
	return (db_fail(error_r, "prune", ret));
}

static int
count_one(void *arg, const struct record *r)
{
	(void)r;
	(*(size_t *)arg)++;
	return (0);
}

int
msglog_count(struct msglog *ml, size_t *n_r, char **error_r)
{
	struct record_walk w;
	int		 ret;

	*n_r = 0;
	memset(&w, 0, sizeof(w));
	w.db = ml->db;
	w.snapshot = true;
	w.keys_only = true;
	if ((ret = record_walk(ml->sdb, &w, count_one, n_r)) != 0)
		return (db_fail(error_r, "count", ret));
	return (0);
}
