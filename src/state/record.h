/*
 * record.h - records (key -> value) in a Berkeley DB btree of the state
 * environment: get, put, delete, and a walk.
 *
 * The journal, the set-aside list and the quarantine index keep their own
 * value formats; this is what they share: the handling of DBTs, of
 * DB_NOTFOUND, and the one cursor loop (over a snapshot, so that a reader
 * never holds up holdscand's commits).
 */
#ifndef HS_RECORD_H
#define HS_RECORD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <db.h>

#include "state/statedb.h"

/*
 * record_get() reads key's value in txn (NULL: its own) with flags
 * (DB_RMW to read for update): 1 and *val_r (malloc'ed, the caller's)
 * when found, 0 when not, -1 with the Berkeley DB error in *dberr_r.
 * record_put() writes it (replacing), record_del() removes it (a missing
 * key is not an error); both return 0 or the Berkeley DB error. Without
 * txn they run in a transaction of their own (the database must have been
 * opened with DB_AUTO_COMMIT, as statedb_open_db() does).
 */
int	 record_get(DB *db, DB_TXN *txn, const void *key, size_t klen,
	    u_int32_t flags, void **val_r, size_t *vlen_r, int *dberr_r);
int	 record_put(DB *db, DB_TXN *txn, const void *key, size_t klen,
	    const void *val, size_t vlen);
int	 record_del(DB *db, DB_TXN *txn, const void *key, size_t klen);
/*
 * record_any() tells whether db has a record, as txn sees it (a snapshot
 * takes no lock): 1, 0, or -1 with the Berkeley DB error in *dberr_r.
 */
int	 record_any(DB *db, DB_TXN *txn, int *dberr_r);

/*
 * record_key_u64() writes v as an 8-byte big-endian key (keys in number
 * order); record_u64() reads one back (at most 8 bytes of k).
 */
void	 record_key_u64(uint64_t v, unsigned char k[8]);
uint64_t record_u64(const void *k, size_t len);

/* One record as a walk sees it, borrowed for one call. */
struct record {
	const void	*key;		/* the key of db (a secondary's key) */
	size_t		 klen;
	const void	*pkey;		/* with a secondary: the primary's key */
	size_t		 pklen;
	const void	*val;		/* the (primary's) value; NULL with keys_only */
	size_t		 vlen;
};

/* What to walk. */
struct record_walk {
	DB		*db;		/* a primary, or a secondary index */
	bool		 secondary;	/* db is associated: records carry pkey */
	DB_TXN		*txn;		/* walk within txn; NULL: see snapshot */
	bool		 snapshot;	/* without txn: a snapshot (DB_MULTIVERSION
					   databases), else no transaction */
	bool		 dirty;		/* without txn: read uncommitted, never
					   waiting for a lock (DB_READ_UNCOMMITTED
					   databases; see record_walk()) */
	const void	*from;		/* the first key (DB_SET_RANGE), or NULL */
	size_t		 fromlen;
	bool		 exact;		/* only the records whose key is from (its
					   duplicates) */
	bool		 keys_only;	/* values are not read */
	bool		 reverse;	/* from the last key down: with from, the
					   keys below it (exact is not used) */
};

/*
 * record_walk() calls fn for each record in key order until fn returns
 * non-zero (which stops the walk; it is not an error). Returns 0, or the
 * Berkeley DB error. A dirty walk returns DB_LOCK_DEADLOCK or
 * DB_LOCK_NOTGRANTED where it would have waited for a writer's lock (it
 * never waits, so it never holds up a writer for longer than its own
 * steps): the caller discards what it saw and walks again. fn runs with
 * the cursor on its page: it must not wait for anything (other
 * snapshot reads are fine).
 */
typedef int	(*record_fn)(void *arg, const struct record *r);
/*
 * record_stops_hold() blocks the job-control stops (SIGTSTP, SIGTTIN,
 * SIGTTOU) in the calling thread, the mask before in *old: true if it
 * did. record_stops_release(held, old) restores it (a stop that came
 * meanwhile takes effect then). Around a reader's transactions, so
 * that a stopped reader holds neither a lock nor an old snapshot.
 */
bool	 record_stops_hold(sigset_t *old);
void	 record_stops_release(bool held, const sigset_t *old);
int	 record_walk(struct statedb *sdb, const struct record_walk *w,
	    record_fn fn, void *arg);

#endif
