/*
 * msg.h - one held message in the master, from its claim to its commit.
 *
 * The same struct is claimed (claim.c gives the descriptor and status),
 * parsed, scanned (a worker's verdict and new content, or the master's
 * own decision), batched (daemon/batch.c), committed (commit_batch()
 * works on it directly and writes its outcome into it) and logged. No
 * stage copies it into a struct of its own.
 */
#ifndef HS_MSG_H
#define HS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/queue.h"
#include "common/verdict.h"
#include "quarantine/quarantine.h"

struct batch;
struct qfile;
struct qfile_rec;

/* What commit_batch() did with a message. */
enum commit_outcome {
	COMMIT_DONE,		/* delivered, dropped, quarantined or set aside */
	COMMIT_RETURNED,	/* back in hold, unchanged; why says why */
	COMMIT_LEFT,		/* not finished: the journal or claimed/ keeps it for
				   recovery (why says what failed) */
};

struct msg {
	/* The claim: set by msg_new(), never changed. */
	char		 id[QUEUE_ID_SIZE];	/* its name in hold and claimed/ */
	char		 hold_path[QUEUE_PATH_SIZE];
	struct stat	 st;		/* of the claimed file */
	int		 fd;		/* claimed, locked; commit_batch() closes it */
	struct qfile	*qf;		/* the master's own parse, owned */

	/* The decision: a worker's scan, or the master alone. */
	enum verdict	 verdict;
	enum policy_action action;
	char		 reason[256];
	char		 plugins[512];	/* each plugin's result, for the message log */
	/*
	 * A worker's copies (wire_result.copy_to: only the configured
	 * ones are added, commit.c), owned; NULL: the policy's copy_<verdict>
	 */
	char		*copies;
	bool		 no_archive;	/* the worker's rules say archive = no */
	uint32_t	 scan_us;	/* the scan's time */
	/*
	 * New content (a worker's sealed memfd, or built by the master),
	 * owned: content's records point into map, into built, or (with
	 * msg_set_headers()) into qf's own records and built's header lines.
	 */
	void		*map;
	size_t		 maplen;
	char		*built;
	struct qfile_rec *content;	/* NULL: deliver qf's own */
	size_t		 ncontent;

	/* The outcome, written by commit_batch(). */
	enum commit_outcome outcome;
	char		 new_id[QUEUE_ID_SIZE];	/* in incoming, when delivered */
	char		 quarantine_id[QUARANTINE_ID_SIZE];	/* when quarantined */
	char		 why[256];	/* COMMIT_RETURNED, COMMIT_LEFT */

	/* The pipeline's bookkeeping (daemon/pipeline.c, daemon/batch.c). */
	TAILQ_ENTRY(msg) bentry;	/* in its batch */
	TAILQ_ENTRY(msg) sentry;	/* in the scan queue */
	struct batch	*batch;
	int		 failures;	/* worker crashes / timeouts on it */
	uint32_t	 generation;	/* the scanners of its last attempt */
	bool		 decided;
	bool		 scanning;
	bool		 suspect;	/* in scan when the scanner parent died */
	long		 t_claim_ms;	/* CLOCK_MONOTONIC */
	long		 t_scanned_ms;
};

/*
 * msg_new() takes over fd (claimed and locked, or -1) and copies the
 * rest. msg_free() releases everything: the new content, the parse and
 * the descriptor (and with it Postfix's lock); NULL is fine.
 */
struct msg	*msg_new(const char *id, const char *hold_path, int fd,
		    const struct stat *st, long now_ms);
void		 msg_free(struct msg **m);
/*
 * How much a worker's content may be larger than the original: its
 * headers, a tag, the notes that replace removed parts.
 */
#define MSG_CONTENT_GROWTH	(4UL * 1024 * 1024)
/*
 * msg_set_content() validates a worker's memfd (sealed, at most max_size
 * bytes, only N/L records, and what qfile_content_check() asks against
 * m->qf's content: records of at most line_limit bytes, no CR/LF/NUL
 * the original has not, headers, at most MSG_CONTENT_GROWTH more bytes)
 * and maps it as m's new content. 0, or -1 with a reason in why and no
 * content kept.
 */
int		 msg_set_content(struct msg *m, int memfd, size_t max_size,
		    size_t line_limit, char *why, size_t whysize);
/*
 * msg_set_headers() makes m's new content the original's (m->qf) with
 * a worker's header lines ("Name: value\n"..., NUL-terminated within
 * size bytes) inserted at the end of its header block, and checks it as
 * msg_set_content() checks a worker's whole content. The new records
 * point into m->qf's: the original's bytes are not copied. 0, or -1 with
 * a reason in why and no content kept.
 */
int		 msg_set_headers(struct msg *m, const char *headers, size_t size,
		    size_t line_limit, char *why, size_t whysize);
/* Use text records the master built (takes ownership of buf's data). */
int		 msg_set_built(struct msg *m, struct buf *records, char *why,
		    size_t whysize);

#endif
