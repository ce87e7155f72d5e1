/*
 * aside.h - messages set aside in the hold queue (scan failed, or a
 * policy said hold), and their life cycle.
 *
 * holdscand leaves a set-aside message alone while it is the same file,
 * with two exceptions for mail set aside because it could not be
 * scanned (verdict scan-failed): it scans it once more with each new
 * engine (see the epoch below), and after set_aside_lifetime it applies
 * set_aside_expiry_action. Mail the policy holds for another verdict is
 * the admin's (postsuper -H, -d, -r) and is never touched.
 *
 * An epoch names the scanners of an attempt: "DIGEST:RUN:GENERATION",
 * DIGEST a hash of what they scan with (the engines' description and
 * the effective configuration), RUN one start of holdscand, GENERATION
 * the engine generation of that run. Within one run every new
 * generation (new signatures, a reload) is a change; across a restart
 * only a different DIGEST is, so restarts alone never rescan.
 */
#ifndef HS_ASIDE_H
#define HS_ASIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/queue.h"
#include "state/statedb.h"

#define ASIDE_EPOCH_SIZE	64

enum aside_phase {
	ASIDE_HELD,		/* in hold, waiting (rescan, expiry, the admin) */
	ASIDE_BOUNCE,		/* expiring with action bounce: in hold until its
				   quarantine commit, then the sender's notice is
				   owed until Postfix has taken it */
};

struct aside_entry {
	char		 id[QUEUE_ID_SIZE];
	uint64_t	 ino;
	time_t		 when;		/* first set aside: the lifetime counts from here */
	time_t		 last;		/* the last attempt (0: as when) */
	unsigned	 attempts;	/* scans that ended in set aside */
	char		 epoch[ASIDE_EPOCH_SIZE];	/* scanners of the last attempt; "" unknown */
	enum aside_phase phase;
	char		 qid[QUARANTINE_ID_SIZE];	/* ASIDE_BOUNCE: its quarantine id, once known */
	char		 reason[256];	/* "VERDICT: reason" of the last attempt */
};

struct aside;

int	 aside_open(struct statedb *sdb, struct aside **a_r, char **error_r);
void	 aside_close(struct aside **a);
/*
 * The scanners' current epoch: aside_put() records it in entries that do
 * not name their own. Copied.
 */
void	 aside_set_epoch(struct aside *a, const char *epoch);
/*
 * aside_put() remembers (durably) one more attempt that ended in set
 * aside: a new entry (attempts 1), or, for the same file (id and inode)
 * already listed, the entry with its first time, phase and quarantine id
 * kept, its attempts counted on, and last, epoch and reason of this one.
 * e->when is the time of this attempt; an e->attempts other than 0 is
 * taken as it is. aside_update() writes e exactly as given.
 */
int	 aside_put(struct aside *a, const struct aside_entry *e, char **error_r);
int	 aside_update(struct aside *a, const struct aside_entry *e,
	    char **error_r);
/* One entry: 1 found, 0 not listed, -1 error. */
int	 aside_get(struct aside *a, const char *id, struct aside_entry *e,
	    char **error_r);
int	 aside_del(struct aside *a, const char *id, char **error_r);
/* Every entry; *v_r owned by the caller (free(3)). */
int	 aside_list(struct aside *a, struct aside_entry **v_r, size_t *n_r,
	    char **error_r);

/*
 * The life cycle, pure (unit tested). aside_failed(): set aside because
 * it could not be scanned (the only kind with a life cycle).
 * aside_expires(): when the lifetime (seconds; 0 never) ends, or 0.
 * aside_next(): what is due for e now: the epoch is the scanners' (""
 * while none is ready: no rescan), rescan false turns rescans off.
 */
enum aside_next {
	ASIDE_WAIT,		/* nothing yet */
	ASIDE_RESCAN,		/* scan it again: the scanners changed */
	ASIDE_EXPIRE,		/* its lifetime is over: the expiry action */
	ASIDE_NOTICE,		/* expired with bounce: the sender's notice is owed */
	ASIDE_ADMIN,		/* held by the policy: the admin's, never touched */
};
bool	 aside_failed(const struct aside_entry *e);
time_t	 aside_expires(const struct aside_entry *e, long lifetime_s);
enum aside_next aside_next(const struct aside_entry *e, time_t now,
	    long lifetime_s, const char *epoch, bool rescan);
/* Write an epoch into buf[ASIDE_EPOCH_SIZE]. */
void	 aside_epoch_make(char *buf, uint64_t digest, unsigned long long run,
	    unsigned generation);
/* Were scanners of epoch then replaced by those of epoch now? */
bool	 aside_epoch_changed(const char *then, const char *now);
/* Merge an earlier entry old (NULL: none) into the new attempt e. */
void	 aside_merge(const struct aside_entry *old, struct aside_entry *e,
	    const char *epoch);
/* The value format of aside.db, exposed for the unit tests. */
int	 aside_encode(const struct aside_entry *e, char *buf, size_t size);
int	 aside_decode(const char *id, size_t idlen, const void *data,
	    size_t len, struct aside_entry *e);

#endif
