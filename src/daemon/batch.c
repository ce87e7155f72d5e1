/*
 * NAME
 *	batch - messages in flight grouped into batches
 * DESCRIPTION
 *	A batch owns the messages added to it (msg.c owns each message's
 *	resources) and counts them, their bytes and those still undecided.
 *
 *	The batching rule keeps a lone message's wait to the time of its
 *	scan (a batch is committed as soon as nothing else is waiting to
 *	join it) and lets a flood fill large batches.
 *
 *	This module must never touch queue files or decide policy.
 */
#include <stdlib.h>

#include "commit/msg.h"
#include "common/xalloc.h"
#include "daemon/batch.h"

struct batch *
batch_new(uint64_t seq, long now_ms)
{
	struct batch	*b = xcalloc(1, sizeof(*b));

	TAILQ_INIT(&b->msgs);
	b->seq = seq;
	b->opened_ms = now_ms;
	return (b);
}

void
batch_add(struct batch *b, struct msg *m)
{
	if (b->count == 0)
		b->opened_ms = m->t_claim_ms;
	TAILQ_INSERT_TAIL(&b->msgs, m, bentry);
	m->batch = b;
	b->count++;
	b->bytes += (uint64_t)m->st.st_size;
	b->undecided++;
}

void
batch_decided(struct batch *b)
{
	if (b->undecided > 0)
		b->undecided--;
}

bool
batch_full(const struct batch *b, const struct hs_config *conf)
{
	return (b->count >= (size_t)conf->batch_max_messages ||
	    b->bytes >= (uint64_t)conf->batch_max_bytes);
}

bool
batch_ready(const struct batch *b, const struct hs_config *conf, long now_ms,
    bool more_coming)
{
	if (b->count == 0 || b->undecided > 0)
		return (false);
	return (b->closed || batch_full(b, conf) || !more_coming ||
	    now_ms - b->opened_ms >= conf->batch_max_wait);
}

long
batch_wait_ms(const struct batch *b, const struct hs_config *conf, long now_ms)
{
	long	 left;

	if (b == NULL || b->count == 0)
		return (-1);
	left = b->opened_ms + conf->batch_max_wait - now_ms;
	return (left < 0 ? 0 : left);
}

void
batch_free(struct batch **bp)
{
	struct batch	*b = *bp;
	struct msg	*m;

	if (b == NULL)
		return;
	while ((m = TAILQ_FIRST(&b->msgs)) != NULL) {
		TAILQ_REMOVE(&b->msgs, m, bentry);
		msg_free(&m);
	}
	free(b);
	*bp = NULL;
}
