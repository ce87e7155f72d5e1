/*
 * journal.h - the intent journal: what a batch is about to do, made
 * durable before it does it, so that recovery can finish it exactly once.
 *
 * Only holdscand's master and the holdscan tool (as the mail owner) use it.
 */
#ifndef HS_JOURNAL_H
#define HS_JOURNAL_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/queue.h"
#include "state/statedb.h"

enum journal_kind {
	JOURNAL_DELIVER = 'D',		/* new file replaces the original */
	JOURNAL_DROP = 'X',		/* original goes, nothing replaces it */
	JOURNAL_QUARANTINE = 'Q',	/* original copied to the quarantine, then goes */
	JOURNAL_RELEASE = 'R',		/* quarantined copy re-queued (holdscan tool) */
};

/*
 * One message's intent. Paths are relative to queue_directory; empty
 * when not used. The key (orig) is unique among live entries.
 */
struct journal_entry {
	int		 kind;
	char		 orig[QUEUE_PATH_SIZE];		/* "holdscan/claimed/ID" */
	uint64_t	 orig_ino;
	char		 staging[QUEUE_PATH_SIZE];	/* "holdscan/staging/NAME" */
	uint64_t	 staging_ino;
	char		 target[QUEUE_PATH_SIZE];	/* "incoming/[h/]NEWID" */
	char		 extra[QUEUE_PATH_SIZE];	/* quarantine id, if any */
};

struct journal;

/* The database file in the state environment. */
#define JOURNAL_DB_NAME	"journal.db"

/* Open (create) the journal database in the environment. */
int	 journal_open(struct statedb *sdb, struct journal **j_r,
	    char **error_r);
void	 journal_close(struct journal **j);
/*
 * A batch's own transaction, so that other records (quarantine index
 * entries) commit atomically with the journal: journal_begin(), then
 * journal_add() per entry, then journal_commit() (synchronous) or
 * journal_abort().
 */
int	 journal_begin(struct journal *j, DB_TXN **txn_r, char **error_r);
int	 journal_add(struct journal *j, DB_TXN *txn,
	    const struct journal_entry *e, char **error_r);
/* journal_remove() forgets one entry inside such a transaction. */
int	 journal_remove(struct journal *j, DB_TXN *txn,
	    const struct journal_entry *e, char **error_r);
int	 journal_commit(struct journal *j, DB_TXN *txn, char **error_r);
void	 journal_abort(DB_TXN *txn);
/* Record n entries in one durable transaction (all or nothing). */
int	 journal_put(struct journal *j, const struct journal_entry *e,
	    size_t n, char **error_r);
/*
 * Forget n entries in one transaction. journal_del() does not wait for
 * the disk: a crash may bring the entries back, which is harmless while
 * the files they name are gone. So that a returned entry can never match
 * a later claim of the same file, journal_settle() makes a forgotten
 * entry with key orig durable before that name is claimed again (it
 * costs a log flush only when such an entry is pending), and undo paths
 * use journal_del_sync(), which is durable before it returns.
 */
int	 journal_del(struct journal *j, const struct journal_entry *e,
	    size_t n, char **error_r);
int	 journal_del_sync(struct journal *j, const struct journal_entry *e,
	    size_t n, char **error_r);
int	 journal_settle(struct journal *j, const char *orig, char **error_r);
/* Make every change so far durable. */
int	 journal_flush(struct journal *j, char **error_r);
/*
 * An entry as one line of text (no newline) and back: the journal's own
 * value format, also used for the intent records on the queue file
 * system (commit.c). journal_entry_parse() returns -1 if malformed.
 */
void	 journal_entry_text(const struct journal_entry *e, struct buf *out);
int	 journal_entry_parse(const char *data, size_t len,
	    struct journal_entry *e);
/* Every live entry; *entries_r is owned by the caller (free(3)). */
int	 journal_list(struct journal *j, struct journal_entry **entries_r,
	    size_t *n_r, char **error_r);

#endif
