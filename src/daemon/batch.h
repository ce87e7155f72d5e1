/*
 * batch.h - messages in flight in the master, grouped into batches.
 *
 * A message (commit/msg.h) is claimed, parsed, scanned by a worker and
 * then committed with the other messages of its batch. A batch is open
 * while it accepts messages; it closes when full (count or bytes), and
 * it is committed once every message in it is decided and it is closed,
 * or has waited batch_max_wait, or nothing else is waiting to join it.
 * Knows nothing of file formats or queue layout: only counts, sizes and
 * times.
 */
#ifndef HS_BATCH_H
#define HS_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "common/config.h"

struct msg;

TAILQ_HEAD(msg_list, msg);

struct batch {
	TAILQ_ENTRY(batch) entry;
	struct msg_list	 msgs;		/* owned: batch_free() frees them */
	size_t		 count;
	uint64_t	 bytes;
	size_t		 undecided;
	long		 opened_ms;
	bool		 closed;
	uint64_t	 seq;
};

TAILQ_HEAD(batch_list, batch);

struct batch	*batch_new(uint64_t seq, long now_ms);
/* The batch owns m from now on. */
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
/* Frees b and every message in it. */
void		 batch_free(struct batch **b);

#endif
