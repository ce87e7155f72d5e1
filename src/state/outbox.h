/*
 * outbox.h - the durable outbox of a farm: the sequence numbers of the
 * message log records still to be shipped to PostgreSQL, in the state
 * environment, written in the transaction that wrote the record.
 */
#ifndef HS_OUTBOX_H
#define HS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include <db.h>

#include "state/statedb.h"

#define OUTBOX_DB_NAME		"outbox.db"
#define OUTBOX_STAMP		16

/* One entry: a record's sequence number and the stamp of its last put. */
struct outbox_entry {
	uint64_t	 seq;
	unsigned char	 stamp[OUTBOX_STAMP];
};

struct outbox;

/*
 * outbox_open() opens (creates) the outbox of sdb's environment; one
 * handle is used by one thread at a time (holdscand's main thread puts,
 * the shipper's own handle takes). limit: outbox_put() keeps the entries
 * within the last limit sequence numbers. 0, or -1 with *error_r.
 */
int	 outbox_open(struct statedb *sdb, long limit, struct outbox **ob_r,
	    char **error_r);
void	 outbox_close(struct outbox **ob);
/*
 * outbox_put() marks record seq to be shipped (again), in txn, never
 * synced on its own. Beyond the limit it drops a few of the oldest
 * entries each time (one warning per overflow, counted). 0, or -1.
 */
int	 outbox_put(struct outbox *ob, DB_TXN *txn, uint64_t seq,
	    char **error_r);
/* The oldest entries, at most max, from a snapshot. 0, or -1. */
int	 outbox_take(struct outbox *ob, struct outbox_entry *v, size_t max,
	    size_t *n_r, char **error_r);
/*
 * outbox_done() removes the entries of v that were shipped, unless put
 * again since (another stamp: shipped again next time). Not synced: a
 * crash ships them again, which the database's unique key makes
 * harmless. 0, or -1 with *error_r.
 */
int	 outbox_done(struct outbox *ob, const struct outbox_entry *v,
	    size_t n, char **error_r);
/*
 * What this handle saw: entries dropped at the limit (a counter) and
 * the entries waiting (sequence numbers between the oldest and the
 * newest put; a gauge).
 */
uint64_t outbox_dropped(const struct outbox *ob);
uint64_t outbox_pending(const struct outbox *ob);

#endif
