/*
 * qaction.h - a release or a deletion from the quarantine carried out by
 * holdscand's master on behalf of someone (a web console account, a
 * digest link): the one path for both, with its audit line and its
 * message log event.
 */
#ifndef HS_QACTION_H
#define HS_QACTION_H

#include <stddef.h>

#include "common/queue.h"

struct commit_ctx;
struct hs_config;
struct msglog;
struct quarantine;

enum qaction_outcome {
	QACTION_DONE,		/* released (new_id) or deleted now */
	QACTION_ALREADY,	/* released (new_id, if known) or deleted before */
	QACTION_NOTFOUND,	/* no such message */
	QACTION_REFUSED,	/* released: deleted; deleted: -; *error_r */
	QACTION_PENDING,	/* not finished now: recovery finishes it, or
				   the entry is busy; try again; *error_r */
	QACTION_FAILED,		/* nothing happened; *error_r */
};

/* "done", "already", "not-found", "refused", "pending", "failed" */
const char *qaction_outcome_name(enum qaction_outcome o);

/*
 * qaction_release() releases qid to its original recipients (nto == 0)
 * or to[0..nto), through release_message(), and logs
 * "QID: action=release new_id=ID to=... by=WHO via=VIA" and its message
 * log event. who and via are the audit's (a console account and "web",
 * say). new_id gets the queue id. *error_r (owned by the caller) on
 * REFUSED, PENDING and FAILED.
 */
enum qaction_outcome qaction_release(struct commit_ctx *c, struct quarantine *q,
	    struct msglog *ml, const struct hs_config *conf, const char *qid,
	    const char *const *to, size_t nto, const char *who, const char *via,
	    char new_id[QUEUE_ID_SIZE], char **error_r);
/*
 * qaction_delete(): the same for a deletion through quarantine_delete()
 * ("QID: action=delete by=WHO via=VIA").
 */
enum qaction_outcome qaction_delete(struct quarantine *q, struct msglog *ml,
	    const char *qid, const char *who, const char *via, char **error_r);
/*
 * qaction_event() appends event kind ("released", "deleted") with new_id
 * and detail (who, how) to the message log record of qid (ml NULL: no
 * log), warning when it cannot: what qaction_release() and
 * qaction_delete() add; a request finished again after a crash adds it
 * for the change the crash may have cut off from its event.
 */
void	 qaction_event(struct msglog *ml, const char *qid, const char *kind,
	    const char *new_id, const char *detail);

#endif
