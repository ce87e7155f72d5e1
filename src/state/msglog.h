/*
 * msglog.h - the message log: one durable record per message holdscand
 * finished, in the state environment, written in the transaction of the
 * batch's commit intent; events (release, deletion, expiry) appended to
 * it later; pruned after message_log_retention.
 *
 * Records are keyed by a per-host sequence number that only grows (a
 * later outbox ships them by (host, seq)). The value format is
 * msglog_encode()'s, described in msglog.c and doc/holdscan.1.
 */
#ifndef HS_MSGLOG_H
#define HS_MSGLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <db.h>

#include "common/buf.h"
#include "state/statedb.h"

#define MSGLOG_DB_NAME		"msglog.db"
#define MSGLOG_INDEX_NAME	"msglog-days.db"	/* keys with their day */
#define MSGLOG_OLD_INDEX_NAME	"msglog-index.db"	/* before: removed */
#define MSGLOG_INDEX_FORMAT	"days"
#define MSGLOG_EVENTS_NAME	"msglog-events.db"
#define MSGLOG_META_NAME	"msglog-meta.db"
#define MSGLOG_SUBJECT_MAX	200
#define MSGLOG_FORMAT		1

/*
 * One record. Strings are NUL-terminated; in a decoded record they point
 * into the record's own storage (msglog_rec_clear() frees it).
 */
struct msglog_rec {
	uint64_t	 seq;		/* set by msglog_add() */
	time_t		 time;		/* when the batch committed */
	const char	*host;
	const char	*orig_id;	/* its id in hold */
	uint64_t	 orig_ino;
	const char	*new_id;	/* in incoming, or "" */
	const char	*quarantine_id;	/* or "" */
	const char	*sender;	/* "" for the null sender */
	const char	**rcpts;
	size_t		 nrcpts;
	uint64_t	 size;		/* of the queue file */
	const char	*subject;	/* sanitised, at most MSGLOG_SUBJECT_MAX */
	const char	*client;	/* client address, or "" */
	const char	*sasl_user;	/* or "" */
	const char	*verdict;
	const char	*action;
	const char	*reason;
	const char	*plugins;	/* "clamav=infected:Eicar headers=clean" */
	long		 queue_ms;	/* in hold before the claim */
	long		 scan_ms;	/* the scan */
	const char	*later_ids;	/* the ids of its releases, space-separated */
	/* private: storage of a decoded record */
	char		*store_;
};

/* One event appended to a record. */
struct msglog_event {
	time_t		 time;
	const char	*kind;		/* "released", "deleted", "expired" */
	const char	*new_id;	/* released: the new queue id */
	const char	*detail;	/* who, to whom; may be "" */
};

struct msglog;
struct outbox;

int	 msglog_open(struct statedb *sdb, struct msglog **ml_r, char **error_r);
/*
 * msglog_rebuild_index() makes the index of the records anew when it is
 * not of MSGLOG_INDEX_FORMAT (a log written by an older holdscand), in
 * transactions of a few thousand records, and removes the old index's
 * file; *n_r is the number of records it indexed (0: nothing to do).
 * holdscand calls it before msglog_open(), which otherwise refuses an
 * index of another format over records (it opens an empty log's).
 */
int	 msglog_rebuild_index(struct statedb *sdb, size_t *n_r,
	    char **error_r);
/*
 * msglog_open_reader() opens the records and events alone (no index):
 * msglog_get() and msglog_events() only, for a thread of its own (the
 * shipper's). 0, or -1 with *error_r.
 */
int	 msglog_open_reader(struct statedb *sdb, struct msglog **ml_r,
	    char **error_r);
/*
 * With an outbox (a farm, borrowed until msglog_close()), every change
 * of a record also puts its sequence number into ob, in the change's
 * transaction.
 */
void	 msglog_set_outbox(struct msglog *ml, struct outbox *ob);
void	 msglog_close(struct msglog **ml);

/*
 * msglog_encode() appends r's value to out; msglog_decode() parses one
 * (NUL-safe, bounded; -1 if malformed) into r, which owns a copy.
 */
void	 msglog_encode(const struct msglog_rec *r, struct buf *out);
int	 msglog_decode(const void *data, size_t len, struct msglog_rec *r);
void	 msglog_rec_clear(struct msglog_rec *r);
void	 msglog_event_encode(const struct msglog_event *e, struct buf *out);
/* The event's strings point into data's copy in *store_r (caller frees). */
int	 msglog_event_decode(const void *data, size_t len,
	    struct msglog_event *e, char **store_r);

/*
 * msglog_add() writes r in txn (the batch's) with the next sequence
 * number (put into r->seq) and its index keys. 0, or -1 with *error_r.
 */
int	 msglog_add(struct msglog *ml, DB_TXN *txn, struct msglog_rec *r,
	    char **error_r);
/*
 * msglog_retract() removes, in txn, the newest record of the message
 * orig_id with inode orig_ino (a batch recovery rolled back: it will be
 * scanned again and logged again) and its events. 1 removed, 0 none, -1.
 */
int	 msglog_retract(struct msglog *ml, DB_TXN *txn, const char *orig_id,
	    uint64_t orig_ino, char **error_r);
/*
 * msglog_set_new_id() corrects the new queue id of record seq (the file
 * was published under another id than the one planned), in a transaction
 * of its own that is not synced. 0, or -1 with *error_r.
 */
int	 msglog_set_new_id(struct msglog *ml, uint64_t seq, const char *new_id,
	    char **error_r);
/*
 * msglog_append_event() appends e to the newest record that names id (a
 * quarantine id or a queue id), in txn (NULL: its own); e's new id (a
 * release's) then finds the record too. 1 appended, 0 no such record, -1.
 */
int	 msglog_append_event(struct msglog *ml, DB_TXN *txn, const char *id,
	    const struct msglog_event *e, char **error_r);

/* A query of holdscan log; NULL / 0 fields do not filter. */
struct msglog_query {
	time_t		 since, until;
	const char	*sender;	/* exact, case-insensitive */
	const char	*rcpt;		/* exact, case-insensitive */
	const char	*verdict;
	const char	*action;
	size_t		 limit;		/* 0: all */
	/*
	 * Each record to fn during the walk (its snapshot open: fn must be
	 * quick and never wait, as holdscand's control socket's are), so
	 * that fn stopping stops the walk; else the walk's records are
	 * kept and given to fn after it.
	 */
	bool		 stream;
};
/* Called with a record borrowed for the call; non-zero stops. */
typedef int	(*msglog_fn)(void *arg, const struct msglog_rec *r);
/* Matching records, newest first. 0, or -1 with *error_r. */
int	 msglog_query(struct msglog *ml, const struct msglog_query *q,
	    msglog_fn fn, void *arg, char **error_r);
/*
 * msglog_find() calls fn for each record naming id (original, new or
 * quarantine id), oldest first; *n_r counts them. 0, or -1.
 */
int	 msglog_find(struct msglog *ml, const char *id, msglog_fn fn,
	    void *arg, size_t *n_r, char **error_r);
/*
 * msglog_get() reads record seq from a snapshot into r (msglog_rec_clear()
 * it): 1, 0 when there is none, -1 with *error_r.
 */
int	 msglog_get(struct msglog *ml, uint64_t seq, struct msglog_rec *r,
	    char **error_r);
/* Each event of record seq, in order. */
typedef int	(*msglog_event_fn)(void *arg, const struct msglog_event *e);
int	 msglog_events(struct msglog *ml, uint64_t seq, msglog_event_fn fn,
	    void *arg, char **error_r);
/*
 * msglog_prune() removes at most max records older than cutoff (and their
 * events) in one transaction, oldest first; *n_r says how many. 0, or -1.
 */
int	 msglog_prune(struct msglog *ml, time_t cutoff, size_t max,
	    size_t *n_r, char **error_r);
/* Records in the log (a walk of the keys). */
int	 msglog_count(struct msglog *ml, size_t *n_r, char **error_r);

#endif
