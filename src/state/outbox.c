/*
 * NAME
 *	outbox - the durable outbox of a farm (Berkeley DB, state environment)
 * DESCRIPTION
 *	When database is set, each change of the message log (a record
 *	written, an event appended, a new id corrected, a record retracted)
 *	puts the record's sequence number here, in the same transaction:
 *	durable exactly when the change is, with no sync of its own. The
 *	shipper (daemon/shipper.c) takes the oldest entries, ships the
 *	records as they are then, and removes the entries it shipped.
 *
 *	  outbox.db   seq (8 bytes, big-endian) -> stamp (16 bytes: the
 *	              time in ns and a counter of the handle)
 *
 *	The stamp tells the shipper whether an entry was put again while
 *	it shipped (an event appended meanwhile): such an entry stays.
 *
 *	The outbox is bounded by sequence numbers: entries older than the
 *	newest minus outbox_limit are dropped, a few at each put, so that
 *	a long outage costs a bounded disk and bounded work per message.
 *	The first drop of an overflow logs one warning; the count is a
 *	metric. Dropped records stay in the local message log.
 *
 *	This module must never commit a transaction it was given, never
 *	sync, never read the message log itself, and never log more than
 *	one line per overflow.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "state/outbox.h"
#include "state/record.h"

/* Oldest entries removed per put beyond the limit, at most. */
#define DROP_PER_PUT	16

struct outbox {
	struct statedb	*sdb;
	DB		*db;
	uint64_t	 limit;
	uint64_t	 counter;	/* of the stamps */
	uint64_t	 dropped;
	uint64_t	 pending;
	uint64_t	 newest;	/* the highest seq put */
	bool		 overflowing;	/* warned for this overflow */
};

static int
db_fail(char **error_r, const char *what, int ret)
{
	*error_r = xasprintf("outbox: %s: %s", what, db_strerror(ret));
	errno = ret > 0 ? ret : EIO;
	return (-1);
}

int
outbox_open(struct statedb *sdb, long limit, struct outbox **ob_r,
    char **error_r)
{
	struct outbox	*ob = xcalloc(1, sizeof(*ob));

	ob->sdb = sdb;
	ob->limit = limit > 0 ? (uint64_t)limit : 1;
	if (statedb_open_db_flags(sdb, OUTBOX_DB_NAME, 0, DB_MULTIVERSION,
	    &ob->db, error_r) < 0) {
		int	 err = errno;

		free(ob);
		errno = err;
		return (-1);
	}
	*ob_r = ob;
	return (0);
}

void
outbox_close(struct outbox **obp)
{
	struct outbox	*ob = *obp;

	if (ob == NULL)
		return;
	if (ob->db != NULL)
		(void)ob->db->close(ob->db, 0);
	free(ob);
	*obp = NULL;
}

/*
 * Beyond the limit: remove up to DROP_PER_PUT entries below newest -
 * limit + 1, oldest first, in txn. Sets ob->pending from the oldest
 * entry left.
 */
static int
bound(struct outbox *ob, DB_TXN *txn, uint64_t newest)
{
	DBC		*c = NULL;
	DBT		 k, v;
	unsigned char	 kb[8];
	uint64_t	 oldest, floor;
	int		 ret, n = 0;

	floor = newest >= ob->limit ? newest - ob->limit + 1 : 0;
	if ((ret = ob->db->cursor(ob->db, txn, &c, 0)) != 0)
		return (ret);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = kb;
	k.ulen = sizeof(kb);
	k.flags = DB_DBT_USERMEM;
	v.flags = DB_DBT_PARTIAL;	/* dlen 0: no bytes of it */
	oldest = newest;
	while ((ret = c->get(c, &k, &v, DB_NEXT)) == 0) {
		oldest = record_u64(kb, k.size);
		if (oldest >= floor || n >= DROP_PER_PUT)
			break;
		if ((ret = c->del(c, 0)) != 0)
			break;
		n++;
		ob->dropped++;
	}
	(void)c->close(c);
	if (ret != 0 && ret != DB_NOTFOUND)
		return (ret);
	if (n > 0 && !ob->overflowing) {
		hs_warnx("outbox: more than outbox_limit=%llu records wait to "
		    "be shipped to the database: the oldest are dropped "
		    "from the outbox (they stay in this host's message log; "
		    "counted in holdscan_outbox_dropped_total); see farm.md",
		    (unsigned long long)ob->limit);
		ob->overflowing = true;
	} else if (n == 0 && oldest >= floor && newest - oldest + 1 <
	    ob->limit) {
		ob->overflowing = false;
	}
	ob->pending = newest - oldest + 1;
	return (0);
}

int
outbox_put(struct outbox *ob, DB_TXN *txn, uint64_t seq, char **error_r)
{
	struct timespec	 ts;
	unsigned char	 k[8], stamp[OUTBOX_STAMP];
	uint64_t	 ns;
	int		 ret;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return (db_fail(error_r, "clock_gettime", errno));
	ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	record_key_u64(ns, stamp);
	record_key_u64(++ob->counter, stamp + 8);
	record_key_u64(seq, k);
	/*
	 * The oldest first, then the new entry: locks are taken in key
	 * order, as outbox_done() takes them, so the two never deadlock.
	 */
	if (seq > ob->newest)
		ob->newest = seq;
	if ((ret = bound(ob, txn, ob->newest)) != 0)
		return (db_fail(error_r, "bound", ret));
	if ((ret = record_put(ob->db, txn, k, 8, stamp, sizeof(stamp))) != 0)
		return (db_fail(error_r, "put", ret));
	return (0);
}

struct taker {
	struct outbox_entry *v;
	size_t		 max, n;
};

static int
take_one(void *arg, const struct record *r)
{
	struct taker	*t = arg;

	if (t->n >= t->max)
		return (1);
	t->v[t->n].seq = record_u64(r->key, r->klen);
	memset(t->v[t->n].stamp, 0, OUTBOX_STAMP);
	memcpy(t->v[t->n].stamp, r->val, r->vlen < OUTBOX_STAMP ? r->vlen :
	    OUTBOX_STAMP);
	t->n++;
	return (0);
}

int
outbox_take(struct outbox *ob, struct outbox_entry *v, size_t max,
    size_t *n_r, char **error_r)
{
	struct taker	 t = { v, max, 0 };
	struct record_walk w;
	int		 ret;

	memset(&w, 0, sizeof(w));
	w.db = ob->db;
	w.snapshot = true;
	if ((ret = record_walk(ob->sdb, &w, take_one, &t)) != 0)
		return (db_fail(error_r, "read", ret));
	*n_r = t.n;
	return (0);
}

int
outbox_done(struct outbox *ob, const struct outbox_entry *v, size_t n,
    char **error_r)
{
	DB_TXN		*txn = NULL;
	unsigned char	 k[8];
	void		*cur;
	size_t		 i, len;
	int		 ret = 0, found;

	if (n == 0)
		return (0);
	if ((ret = ob->sdb->env->txn_begin(ob->sdb->env, NULL, &txn, 0)) != 0)
		return (db_fail(error_r, "begin", ret));
	for (i = 0; i < n; i++) {
		record_key_u64(v[i].seq, k);
		cur = NULL;
		found = record_get(ob->db, txn, k, 8, DB_RMW, &cur, &len, &ret);
		if (found < 0)
			goto fail;
		/* Put again while it was shipped: ship it again. */
		if (found && len == OUTBOX_STAMP &&
		    memcmp(cur, v[i].stamp, OUTBOX_STAMP) == 0 &&
		    (ret = record_del(ob->db, txn, k, 8)) != 0) {
			free(cur);
			goto fail;
		}
		free(cur);
	}
	if ((ret = txn->commit(txn, DB_TXN_NOSYNC)) != 0)
		return (db_fail(error_r, "commit", ret));
	return (0);
fail:
	(void)txn->abort(txn);
	return (db_fail(error_r, "remove shipped entries", ret));
}

uint64_t
outbox_dropped(const struct outbox *ob)
{
	return (ob->dropped);
}

uint64_t
outbox_pending(const struct outbox *ob)
{
	return (ob->pending);
}
