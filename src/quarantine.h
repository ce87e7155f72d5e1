/*
 * quarantine.h - the quarantine store: durable copies of original queue
 * files, sharded by date, with a Berkeley DB index in the state
 * environment (so that an index entry and the batch journal commit in one
 * transaction).
 */
#ifndef HS_QUARANTINE_H
#define HS_QUARANTINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <db.h>

#include "config.h"
#include "qfile.h"
#include "queue.h"
#include "statedb.h"

#define QUARANTINE_ID_SIZE	320

struct quarantine_entry {
	char		 qid[QUARANTINE_ID_SIZE];	/* "20261123T101502-3F2A1C0B7" */
	char		 relpath[QUARANTINE_ID_SIZE + 48];	/* "2026/11/23/<qid>" */
	char		 orig_id[QUEUE_ID_SIZE];
	char		 verdict[32];
	char		 reason[256];
	time_t		 arrival;
	time_t		 quarantined;
	uint64_t	 size;
};

struct quarantine;

int	 quarantine_open(const struct hs_config *conf, struct statedb *sdb,
	    uid_t uid, gid_t gid, struct quarantine **q_r, char **error_r);
void	 quarantine_close(struct quarantine **q);
/*
 * quarantine_store() writes a copy of the queue file open on fd into
 * the store and makes it durable (file and directory fsync'ed); it is not
 * listed until quarantine_index(). 0, or -1 with *error_r.
 */
int	 quarantine_store(struct quarantine *q, int fd, const struct qfile *qf,
	    const char *orig_id, const char *verdict, const char *reason,
	    struct quarantine_entry *e, char **error_r);
/* Index a stored copy inside txn. */
int	 quarantine_index(struct quarantine *q, DB_TXN *txn,
	    const struct quarantine_entry *e, char **error_r);
/* Remove a stored copy that was never indexed (its batch failed). */
void	 quarantine_discard(struct quarantine *q,
	    const struct quarantine_entry *e);

#endif
