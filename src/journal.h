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

#include "queue.h"
#include "statedb.h"

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
int	 journal_commit(struct journal *j, DB_TXN *txn, char **error_r);
void	 journal_abort(DB_TXN *txn);
/* Record n entries in one durable transaction (all or nothing). */
int	 journal_put(struct journal *j, const struct journal_entry *e,
	    size_t n, char **error_r);
/* Forget n entries in one transaction; need not be durable (recovery is idempotent). */
int	 journal_del(struct journal *j, const struct journal_entry *e,
	    size_t n, char **error_r);
/* Every live entry; *entries_r is owned by the caller (free(3)). */
int	 journal_list(struct journal *j, struct journal_entry **entries_r,
	    size_t *n_r, char **error_r);

#endif
