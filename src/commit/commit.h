/*
 * commit.h - the batch commit protocol and crash recovery.
 *
 * The only module that creates, renames or removes queue files (besides
 * claim.c, which only moves originals between hold and claimed).
 */
#ifndef HS_COMMIT_H
#define HS_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "commit/msg.h"
#include "common/config.h"
#include "common/qfile.h"
#include "common/queue.h"
#include "quarantine/quarantine.h"
#include "state/aside.h"
#include "state/journal.h"
#include "state/msglog.h"

struct commit_ctx {
	const struct queue_layout *ql;
	const struct hs_config *conf;
	int		 qdirfd;		/* queue_directory */
	int		 claimed_fd;
	int		 staging_fd;
	int		 release_fd;
	int		 intent_fd;
	char		 claimed[QUEUE_PATH_SIZE];	/* "holdscan/claimed" */
	char		 staging[QUEUE_PATH_SIZE];	/* "holdscan/staging" */
	char		 release[QUEUE_PATH_SIZE];	/* "holdscan/release" (the tool's) */
	char		 intent[QUEUE_PATH_SIZE];	/* "holdscan/intent" */
	struct journal	*journal;
	struct aside	*aside;
	struct quarantine *quarantine;	/* NULL: quarantine = set aside */
	struct msglog	*msglog;	/* NULL: message_log = no */
	bool		 as_root;	/* chown new files to the mail owner */
};

/*
 * commit_init() creates holdscan's directories inside the queue directory
 * (mode 0700, the mail owner's) when missing, and opens them: claimed/,
 * staging/ and intent/ (holdscand's) and release/ (the holdscan tool's
 * staging directory for quarantine releases).
 */
int	 commit_init(struct commit_ctx *c, const struct queue_layout *ql,
	    const struct hs_config *conf, int qdirfd, struct journal *j,
	    struct aside *a, char **error_r);
void	 commit_clear(struct commit_ctx *c);
/*
 * commit_batch() runs the protocol for the n messages msgs[] (claimed,
 * decided: action, verdict, reason, new content if any) and writes each
 * one's outcome, new_id, quarantine_id and why into it. It closes each
 * message's descriptor (m->fd = -1), releasing its lock. Returns the
 * number of new files in incoming (the caller wakes qmgr when > 0), or
 * -1 when the batch as a whole failed (every message is back in hold;
 * *error_r says why: the caller backs off).
 */
int	 commit_batch(struct commit_ctx *c, struct msg **msgs, size_t n,
	    char **error_r);
/*
 * commit_settle() makes durable any forgetting of a journal entry for
 * the claimed file id (one forgotten without a flush could come back
 * after a crash and match a new claim of that name): call it before
 * claiming id. 0, or -1 with *error_r.
 */
int	 commit_settle(struct commit_ctx *c, const char *id, char **error_r);
/*
 * commit_recover() finishes or undoes what the journal says was in
 * progress: holdscand's batches and the holdscan tool's releases. With
 * strays (only at start, before any claim), also reads the intent
 * records a batch left in intent/: a message they name that is still in
 * claimed/ without a journal entry (the journal was lost) goes back to
 * hold if its new file was never published, and is set aside (aside
 * list, reason given) if it was, so that it is neither lost nor
 * delivered twice. Then it returns every other unlocked file left in
 * claimed/ to hold, removes every file left in staging/ and every
 * unlocked file in release/ that no journal entry names.
 * commit_recover_releases() does only the releases' part (the holdscan
 * tool, at its start: holdscand may be working on its own entries).
 * Returns 0, or -1 with *error_r.
 */
int	 commit_recover(struct commit_ctx *c, bool strays, char **error_r);
int	 commit_recover_releases(struct commit_ctx *c, char **error_r);
/*
 * commit_publish() renames the ready, durable queue file name (in the
 * directory dirfd, with inode ino) into incoming under the queue id want
 * (if not NULL and free), else under an id its inode and the current time
 * give, never replacing a file; creates hash directories as Postfix does
 * and fsyncs the directories it changed. new_id[QUEUE_ID_SIZE] gets the
 * id. Returns 0, or -1 with errno (ENOENT: the file is gone, someone
 * else published it) and why.
 */
int	 commit_publish(struct commit_ctx *c, int dirfd, const char *name,
	    uint64_t ino, const char *want, char *new_id, char *why,
	    size_t whysize);
/* Journal entries still open (a failed unlink or fsync): recovery needed. */
bool	 commit_pending(struct commit_ctx *c);

#endif
