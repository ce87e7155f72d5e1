/*
 * batch.h - messages in flight in the master, grouped into batches.
 *
 * A message is claimed, parsed (envelope), scanned by a worker and then
 * committed with the other messages of its batch. A batch is open while
 * it accepts messages; it closes when full (count or bytes), and it is
 * committed once every message in it is decided and it is closed, or has
 * waited batch_max_wait, or nothing else is waiting to join it.
 * Knows nothing of file formats or queue layout.
 */
#ifndef HS_BATCH_H
#define HS_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>

#include "common/config.h"
#include "common/qfile.h"
#include "common/queue.h"
#include "common/verdict.h"
#include "common/wire.h"

struct batch;

struct msg {
	TAILQ_ENTRY(msg) bentry;	/* in its batch */
	TAILQ_ENTRY(msg) sentry;	/* in the scan queue */
	struct batch	*batch;
	char		 id[QUEUE_ID_SIZE];
	char		 hold_path[QUEUE_PATH_SIZE];
	int		 fd;		/* claimed, locked */
	struct stat	 st;
	struct qfile	*qf;		/* the master's own parse */
	int		 failures;	/* worker crashes / timeouts on it */
	uint32_t	 generation;	/* the scanners of its last attempt */
	bool		 decided;
	bool		 scanning;
	bool		 suspect;	/* in scan when the scanner parent died */
	long		 t_claim_ms;	/* CLOCK_MONOTONIC */
	long		 t_scanned_ms;
	struct wire_result res;
	enum verdict	 verdict;
	enum policy_action action;
	char		 reason[256];
	/* new content (a worker's sealed memfd, or built by the master) */
	void		*map;
	size_t		 maplen;
	char		*built;		/* owned copy when the master built it */
	struct qfile_rec *content;
	size_t		 ncontent;
};

TAILQ_HEAD(msg_list, msg);

struct batch {
	TAILQ_ENTRY(batch) entry;
	struct msg_list	 msgs;
	size_t		 count;
	uint64_t	 bytes;
	size_t		 undecided;
	long		 opened_ms;
	bool		 closed;
	uint64_t	 seq;
};

TAILQ_HEAD(batch_list, batch);

struct msg	*msg_new(const char *id, const char *hold_path, int fd,
		    const struct stat *st, long now_ms);
/* Releases everything: mapping, parse, descriptor (and with it the lock). */
void		 msg_free(struct msg **m);
/*
 * msg_set_content() validates a worker's memfd (sealed, bounded size,
 * only N/L records) and maps it as m's new content. 0, or -1 with a
 * reason in why.
 */
int		 msg_set_content(struct msg *m, int memfd, size_t max_size,
		    char *why, size_t whysize);
/* Use text records the master built (takes ownership of buf's data). */
int		 msg_set_built(struct msg *m, struct buf *records, char *why,
		    size_t whysize);

struct batch	*batch_new(uint64_t seq, long now_ms);
void		 batch_add(struct batch *b, struct msg *m);
void		 batch_decided(struct batch *b);
bool		 batch_full(const struct batch *b, const struct hs_config *conf);
/*
 * Ready to commit: every message decided, and closed, or waited
 * batch_max_wait, or nothing more is coming (no candidates waiting).
 */
bool		 batch_ready(const struct batch *b, const struct hs_config *conf,
		    long now_ms, bool more_coming);
/* ms until the open batch's wait is over (0 if over), -1 if empty. */
long		 batch_wait_ms(const struct batch *b,
		    const struct hs_config *conf, long now_ms);
void		 batch_free(struct batch **b);

#endif
