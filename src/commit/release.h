/*
 * release.h - put a quarantined message back into Postfix's incoming
 * queue, exactly once, through the commit module's safe path.
 *
 * Used by the holdscan tool (as the mail owner). Recovery of a release
 * interrupted after its journal entry was committed is commit.c's
 * (commit_recover, commit_recover_releases).
 */
#ifndef HS_RELEASE_H
#define HS_RELEASE_H

#include <stdbool.h>
#include <stddef.h>

#include "commit/commit.h"
#include "common/queue.h"
#include "quarantine/quarantine.h"

enum release_rc {
	RELEASE_OK,		/* in incoming; new_id says as what */
	RELEASE_NOTFOUND,	/* no such quarantine id */
	RELEASE_ALREADY,	/* released before (new_id: as what); see again */
	RELEASE_DELETED,	/* deleted or expired: nothing to release */
	RELEASE_TWIN,		/* another entry of the same original message
				   was released already (*error_r says which);
				   see again */
	RELEASE_FAILED,		/* nothing happened; *error_r says why */
	RELEASE_PENDING,	/* decided and journaled, but not finished here:
				   recovery (holdscan or holdscand at start)
				   finishes it; *error_r says why */
};

struct release_opts {
	const char *const *to;	/* replace the envelope recipients, or NULL */
	size_t		 nto;
	bool		 again;	/* release a copy of a message released before */
	const char	*header_name;	/* header to add ("X-Holdscan"), or "" */
	const char	*strip_names;	/* fields removed first, or NULL: see
					   mailhdr_strip() */
};

/*
 * release_message() re-queues quarantined message qid: a new queue file
 * with the original envelope (or the recipients in o->to) and content
 * (without the header fields named in o->strip_names, which are logged,
 * plus one header line when o->header_name is set) is written in
 * holdscan's release directory inside the queue directory, made ready
 * and durable, then one durable transaction records the intent (journal
 * kind R, with the queue id it will get) and marks the entry released;
 * then the file is renamed into incoming and the journal entry dropped.
 * It is not scanned again. The caller wakes qmgr.
 */
enum release_rc release_message(struct commit_ctx *c, struct quarantine *q,
	    const char *qid, const struct release_opts *o,
	    char new_id[QUEUE_ID_SIZE], char **error_r);

#endif
