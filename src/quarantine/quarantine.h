/*
 * quarantine.h - the quarantine store: durable copies of original queue
 * files, sharded by date, with a Berkeley DB index in the state
 * environment (so that an index entry and the batch journal commit in one
 * transaction).
 *
 * Used by holdscand's master (store, index, check at start) and by the
 * holdscan tool (list, show, release, delete, expire, check), both as
 * the mail owner.
 */
#ifndef HS_QUARANTINE_H
#define HS_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <db.h>

#include "common/config.h"
#include "common/qfile.h"
#include "common/queue.h"
#include "state/statedb.h"

/* Longest subject kept in the index (bytes of UTF-8). */
#define QUARANTINE_SUBJECT_MAX	998

enum quarantine_state {
	QSTATE_HELD,		/* in the store, waiting for the admin */
	QSTATE_RELEASED,	/* a copy went to incoming; the file stays until expiry */
	QSTATE_DELETED,		/* the file is gone; the entry stays until expiry */
};

/*
 * One quarantined message. The fixed fields are inline; sender, rcpts,
 * subject and released_to are owned by the entry (quarantine_entry_clear).
 */
struct quarantine_entry {
	char		 qid[QUARANTINE_ID_SIZE];	/* "20261123T101502-3F2A1C0B7" */
	char		 relpath[QUARANTINE_ID_SIZE + 48];	/* "2026/11/23/<qid>" */
	char		 orig_id[QUEUE_ID_SIZE];
	char		 verdict[32];
	char		 reason[256];
	time_t		 arrival;
	time_t		 quarantined;
	uint64_t	 size;
	/* the index's own */
	enum quarantine_state state;
	time_t		 state_time;	/* last release or the delete */
	unsigned	 releases;	/* copies released so far */
	char		 new_id[QUEUE_ID_SIZE];	/* queue id of the last release */
	char		*sender;	/* "" for the null sender */
	char		**rcpts;	/* envelope recipients still to deliver */
	size_t		 nrcpts;
	char		*subject;	/* decoded for display, one line */
	char		*released_to;	/* "" or the --to addresses of the last release */
	/* not stored */
	bool		 existing;	/* quarantine_store(): quarantined already */
};

struct quarantine;

/*
 * quarantine_open() opens quarantine_directory and the index (primary
 * and both secondary indices, associated; created when missing, and the
 * secondaries rebuilt from the primary when they are empty).
 */
int	 quarantine_open(const struct hs_config *conf, struct statedb *sdb,
	    uid_t uid, gid_t gid, struct quarantine **q_r, char **error_r);
void	 quarantine_close(struct quarantine **q);
const char *quarantine_dir(const struct quarantine *q);
void	 quarantine_entry_clear(struct quarantine_entry *e);
const char *quarantine_state_name(enum quarantine_state s);

/*
 * quarantine_store() writes a copy of the queue file open on fd into
 * the store (under a temporary name, fsync'ed, renamed to its final name,
 * directory fsync'ed) and fills e from the envelope and headers; it is
 * not listed until quarantine_index(). 0, or -1 with *error_r.
 *
 * A message is quarantined once: when the index already has an entry
 * for the same original (the same queue id and arrival time, found
 * through the original's index) whose copy is byte for byte the file on
 * fd and that is not deleted, nothing is written, e is that entry and
 * e->existing is set (a batch that was interrupted and ran again, or a
 * message returned to hold after its copy was made).
 */
int	 quarantine_store(struct quarantine *q, int fd, const struct qfile *qf,
	    const char *orig_id, const char *verdict, const char *reason,
	    struct quarantine_entry *e, char **error_r);
/* Index a stored copy inside txn (state held). */
int	 quarantine_index(struct quarantine *q, DB_TXN *txn,
	    const struct quarantine_entry *e, char **error_r);
/*
 * quarantine_twin() finds an entry other than e itself for the same
 * original message (queue id and arrival) in state, within txn (may be
 * NULL): 1 and *twin filled (quarantine_entry_clear), 0 none, -1 error.
 */
int	 quarantine_twin(struct quarantine *q, DB_TXN *txn,
	    const struct quarantine_entry *e, enum quarantine_state state,
	    struct quarantine_entry *twin, char **error_r);
/* Remove a stored copy that was never indexed (its batch failed). */
void	 quarantine_discard(struct quarantine *q,
	    const struct quarantine_entry *e);

/*
 * Transactions of the index. quarantine_txn_begin() starts a write
 * transaction that never waits for a lock (DB_TXN_NOWAIT): a tool that
 * cannot get one at once gets QUARANTINE_BUSY, aborts and tries again,
 * so it can never make holdscand's batch commit a deadlock victim.
 */
enum quarantine_rc {
	QUARANTINE_OK = 0,
	QUARANTINE_NOTFOUND,
	QUARANTINE_BUSY,	/* lock not granted or deadlock: abort, retry */
	QUARANTINE_ERROR,
	QUARANTINE_UNCHANGED,	/* nothing to do: it was so already */
};
int	 quarantine_txn_begin(struct quarantine *q, DB_TXN **txn_r,
	    char **error_r);
/* Commit durably; on failure the transaction is gone. */
int	 quarantine_txn_commit(DB_TXN *txn, char **error_r);

/* Read one entry (in txn, for update when rmw). */
enum quarantine_rc quarantine_get(struct quarantine *q, DB_TXN *txn,
	    const char *qid, bool rmw, struct quarantine_entry *e,
	    char **error_r);
/* Write (replace) one entry in txn. */
enum quarantine_rc quarantine_put(struct quarantine *q, DB_TXN *txn,
	    const struct quarantine_entry *e, char **error_r);
/* Record the queue id a release ended up with (its own transaction). */
int	 quarantine_set_new_id(struct quarantine *q, const char *qid,
	    const char *new_id, char **error_r);

/* Open the stored copy read-only; -1 with errno. */
int	 quarantine_open_file(struct quarantine *q,
	    const struct quarantine_entry *e);

/*
 * What a sender filter matches (quarantine_sender_match()):
 *  - "user@example.org": that address, any case ("<>": the null sender);
 *  - "@example.org" or "example.org" (no "@", a dot, only the characters
 *    of a domain name): senders in that domain and its subdomains;
 *  - anything else: a substring of the sender, any case.
 * Addresses and domains are looked up in the sender index; a substring
 * has no index and is a walk (bound it with max_walk).
 */
enum quarantine_sender_kind {
	QSENDER_SUBSTRING,
	QSENDER_ADDRESS,
	QSENDER_DOMAIN,
};
/*
 * The kind of filter s is, and in *norm_r (malloc'ed, the caller's) the
 * text to match: the address or the domain in lower case, without "@"
 * before a domain; "" for "<>"; the substring as it is.
 */
enum quarantine_sender_kind quarantine_sender_match(const char *s,
	    char **norm_r);

/*
 * Queries, answered from a snapshot (a consistent view that takes no
 * read locks, so holdscand is never held up). With rcpt set the
 * recipient index is used, else with an address or domain as sender the
 * sender index, else the time index; entries come in time order (with a
 * domain: grouped by the sender's domain, each in time order). fn
 * returns non-zero to stop early.
 */
struct quarantine_query {
	time_t		 since;		/* 0: from the first */
	time_t		 until;		/* 0: to the last */
	const char	*rcpt;		/* exact address, any case */
	const char	*sender;	/* quarantine_sender_match()'s kinds */
	const char	*reason;	/* substring of verdict or reason, any case */
	const char	*subject;	/* substring, any case */
	int		 state;		/* enum quarantine_state, or -1 for any */
	size_t		 max_walk;	/* entries read at most (0: no bound) */
};
typedef int	(*quarantine_each_fn)(void *arg,
		    const struct quarantine_entry *e);
/* 0, 1 when the walk stopped at max_walk, or -1 with *error_r. */
int	 quarantine_list(struct quarantine *q, const struct quarantine_query *qq,
	    quarantine_each_fn fn, void *arg, char **error_r);
/* Entries and bytes per state. */
int	 quarantine_counts(struct quarantine *q, size_t count[3],
	    uint64_t bytes[3], char **error_r);

/*
 * quarantine_delete() marks the entry deleted (durably), then removes
 * its file. QUARANTINE_OK, UNCHANGED (it was deleted already; a file
 * left by an interrupted delete is removed all the same), NOTFOUND, or
 * ERROR.
 */
enum quarantine_rc quarantine_delete(struct quarantine *q, const char *qid,
	    char **error_r);
/*
 * quarantine_expire() removes every entry quarantined before cutoff and
 * its file: marked deleted first (durable), files removed, entries
 * removed. Counts what it removed.
 */
int	 quarantine_expire(struct quarantine *q, time_t cutoff, size_t *n_r,
	    uint64_t *bytes_r, char **error_r);

/*
 * quarantine_check() compares the store with the index and repairs what
 * a crash can leave, reporting one line per difference through report:
 *  - a temporary file (a copy interrupted before its batch committed):
 *    removed;
 *  - a file without an entry: if the original is still in the queue
 *    (hold/ or claimed/) with the same bytes, it is a copy of a batch
 *    that did not commit and is removed; otherwise it is indexed again
 *    from its own envelope and headers (it may be the only copy);
 *  - an entry marked deleted whose file is still there: removed;
 *  - an entry without its file: reported, never removed (the file
 *    system may only be missing; "holdscan quarantine delete" forgets
 *    it).
 * live: holdscand may be committing a batch right now, so files younger
 * than a few minutes that it would repair (temporary files, files
 * without an entry) are left alone and reported as skipped, one line
 * each: they are not judged, and a caller must not claim they agree.
 * Returns the number of problems that remain (reported, not repaired),
 * or -1 with *error_r.
 */
enum quarantine_finding {
	QCHECK_REPAIRED,	/* a difference, repaired */
	QCHECK_PROBLEM,		/* a difference left as it is */
	QCHECK_SKIPPED,		/* too recent to judge while holdscand runs */
};
typedef void	(*quarantine_report_fn)(void *arg,
		    enum quarantine_finding kind, const char *line);
int	 quarantine_check(struct quarantine *q, const struct queue_layout *ql,
	    int qdirfd, const char *claimed, bool live,
	    quarantine_report_fn report, void *arg, char **error_r);

/* Exposed for the unit tests: the value format of the primary index. */
void	 quarantine_encode(const struct quarantine_entry *e, struct buf *out);
int	 quarantine_decode(const void *data, size_t len,
	    struct quarantine_entry *e);

#endif
