/*
 * NAME
 *	record - get, put, delete and walk records of a Berkeley DB btree
 * DESCRIPTION
 *	The small layer the journal, the set-aside list and the quarantine
 *	index share: it fills and reads DBTs, turns DB_NOTFOUND into "not
 *	there", and owns the one cursor loop, with its transaction (a
 *	snapshot for readers that must never hold up holdscand's commits),
 *	its start (first key, a range, or one key's duplicates) and its
 *	clean-up on every path; forward, or backward (newest first when
 *	keys grow with time). A dirty walk (of a database opened with
 *	DB_READ_UNCOMMITTED, not DB_MULTIVERSION) reads uncommitted data
 *	and never waits for a lock: the operation that would wait fails
 *	instead (DB_LOCK_DEADLOCK or DB_LOCK_NOTGRANTED) and the caller
 *	walks again; a job-control stop (SIGTSTP, SIGTTIN, SIGTTOU) waits
 *	until its cursor is closed, so that a stopped reader holds no
 *	lock.
 *
 *	This module must never keep a cursor or a transaction open past a
 *	call, never hand out memory that Berkeley DB owns beyond one
 *	callback, and never interpret a value.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "state/record.h"

static void
dbt_in(DBT *d, const void *data, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)data;
	d->size = (u_int32_t)len;
}

void
record_key_u64(uint64_t v, unsigned char k[8])
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		k[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

uint64_t
record_u64(const void *k, size_t len)
{
	const unsigned char *p = k;
	uint64_t	 v = 0;
	size_t		 i;

	for (i = 0; i < len && i < 8; i++)
		v = (v << 8) | p[i];
	return (v);
}

int
record_get(DB *db, DB_TXN *txn, const void *key, size_t klen,
    u_int32_t flags, void **val_r, size_t *vlen_r, int *dberr_r)
{
	DBT	 k, v;
	int	 ret;

	dbt_in(&k, key, klen);
	memset(&v, 0, sizeof(v));
	v.flags = DB_DBT_MALLOC;
	if ((ret = db->get(db, txn, &k, &v, flags)) == DB_NOTFOUND)
		return (0);
	if (ret != 0) {
		*dberr_r = ret;
		return (-1);
	}
	*val_r = v.data;
	*vlen_r = v.size;
	return (1);
}

int
record_put(DB *db, DB_TXN *txn, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	DBT	 k, v;

	dbt_in(&k, key, klen);
	dbt_in(&v, val, vlen);
	return (db->put(db, txn, &k, &v, txn ? 0 : DB_AUTO_COMMIT));
}

int
record_del(DB *db, DB_TXN *txn, const void *key, size_t klen)
{
	DBT	 k;
	int	 ret;

	dbt_in(&k, key, klen);
	ret = db->del(db, txn, &k, txn ? 0 : DB_AUTO_COMMIT);
	return (ret == DB_NOTFOUND ? 0 : ret);
}

int
record_any(DB *db, DB_TXN *txn, int *dberr_r)
{
	DBC	*c = NULL;
	DBT	 k, v;
	int	 ret;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.flags = DB_DBT_MALLOC;
	v.flags = DB_DBT_PARTIAL;	/* no value read */
	if ((ret = db->cursor(db, txn, &c, 0)) == 0) {
		ret = c->get(c, &k, &v, DB_FIRST);
		(void)c->close(c);
	}
	free(k.data);
	if (ret == 0 || ret == DB_NOTFOUND)
		return (ret == 0);
	*dberr_r = ret;
	return (-1);
}

bool
record_stops_hold(sigset_t *old)
{
	sigset_t	 stops;

	return (sigemptyset(&stops) == 0 && sigaddset(&stops, SIGTSTP) == 0 &&
	    sigaddset(&stops, SIGTTIN) == 0 && sigaddset(&stops, SIGTTOU) == 0 &&
	    pthread_sigmask(SIG_BLOCK, &stops, old) == 0);
}

void
record_stops_release(bool held, const sigset_t *old)
{
	if (held)
		(void)pthread_sigmask(SIG_SETMASK, old, NULL);
}

int
record_walk(struct statedb *sdb, const struct record_walk *w, record_fn fn,
    void *arg)
{
	struct record	 r;
	DB_TXN		*txn = w->txn, *own = NULL;
	DBC		*cur = NULL;
	DBT		 key, pkey, val;
	sigset_t	 old;
	u_int32_t	 flag, next;
	void		*from = NULL;
	bool		 dirty = txn == NULL && w->dirty, masked = false;
	int		 ret;

	if (dirty) {
		/* Stopped with its cursor open, it would hold a page. */
		masked = record_stops_hold(&old);
		if ((ret = sdb->env->txn_begin(sdb->env, NULL, &own,
		    DB_READ_UNCOMMITTED | DB_TXN_NOWAIT)) != 0)
			goto done;
		txn = own;
	} else if (txn == NULL && w->snapshot) {
		if ((ret = sdb->env->txn_begin(sdb->env, NULL, &own,
		    DB_TXN_SNAPSHOT)) != 0)
			return (ret);
		txn = own;
	}
	if ((ret = w->db->cursor(w->db, txn, &cur, dirty ?
	    DB_READ_UNCOMMITTED : 0)) != 0)
		goto done;
	memset(&key, 0, sizeof(key));
	memset(&pkey, 0, sizeof(pkey));
	memset(&val, 0, sizeof(val));
	if (w->keys_only)
		val.flags = DB_DBT_PARTIAL;	/* dlen 0: no bytes of it */
	flag = w->reverse ? DB_LAST : DB_FIRST;
	next = w->reverse ? DB_PREV : DB_NEXT;
	if (w->from != NULL) {
		/* A range start may be replaced by the key found: a copy. */
		from = xmalloc(w->fromlen ? w->fromlen : 1);
		memcpy(from, w->from, w->fromlen);
		key.data = from;
		key.size = (u_int32_t)w->fromlen;
	}
	if (w->from != NULL && w->reverse) {
		/* Below from: the first key of its range, then back. */
		ret = w->secondary ? cur->pget(cur, &key, &pkey, &val,
		    DB_SET_RANGE) : cur->get(cur, &key, &val, DB_SET_RANGE);
		if (ret == 0)
			flag = DB_PREV;
		else if (ret != DB_NOTFOUND)
			goto done;
	} else if (w->from != NULL) {
		flag = w->exact ? DB_SET : DB_SET_RANGE;
		if (w->exact)
			next = DB_NEXT_DUP;
	}
	for (;;) {
		ret = w->secondary ? cur->pget(cur, &key, &pkey, &val, flag) :
		    cur->get(cur, &key, &val, flag);
		if (ret != 0)
			break;
		flag = next;
		memset(&r, 0, sizeof(r));
		r.key = key.data;
		r.klen = key.size;
		if (w->secondary) {
			r.pkey = pkey.data;
			r.pklen = pkey.size;
		}
		if (!w->keys_only) {
			r.val = val.data;
			r.vlen = val.size;
		}
		if (fn(arg, &r) != 0) {
			ret = 0;
			break;
		}
	}
	if (ret == DB_NOTFOUND)
		ret = 0;
done:
	if (cur != NULL)
		(void)cur->close(cur);
	if (own != NULL) {
		if (ret == 0)
			(void)own->commit(own, 0);
		else
			(void)own->abort(own);
	}
	record_stops_release(masked, &old);
	free(from);
	return (ret);
}
