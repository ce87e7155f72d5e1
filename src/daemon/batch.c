/*
 * NAME
 *	batch - bookkeeping of messages in flight and their batches
 * DESCRIPTION
 *	Owns each in-flight message's resources: the claimed descriptor
 *	(whose close releases Postfix's lock), the master's parse of the
 *	queue file and the new content a worker sent back. Content from a
 *	worker is trusted only after checking: the memfd must be sealed
 *	against writes and resizing (so the worker cannot change it after
 *	we checked it), no larger than allowed, and a well-formed stream of
 *	N/L records.
 *
 *	The batching rule keeps a lone message's wait to the time of its
 *	scan (a batch is committed as soon as nothing else is waiting to
 *	join it) and lets a flood fill large batches.
 *
 *	This module must never touch queue files or decide policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "daemon/batch.h"

struct msg *
msg_new(const char *id, const char *hold_path, int fd, const struct stat *st,
    long now_ms)
{
	struct msg	*m = xcalloc(1, sizeof(*m));

	(void)snprintf(m->id, sizeof(m->id), "%s", id);
	(void)snprintf(m->hold_path, sizeof(m->hold_path), "%s", hold_path);
	m->fd = fd;
	m->st = *st;
	m->t_claim_ms = now_ms;
	return (m);
}

static void
msg_drop_content(struct msg *m)
{
	if (m->map != NULL)
		(void)munmap(m->map, m->maplen);
	m->map = NULL;
	m->maplen = 0;
	free(m->built);
	m->built = NULL;
	free(m->content);
	m->content = NULL;
	m->ncontent = 0;
}

void
msg_free(struct msg **mp)
{
	struct msg	*m = *mp;

	if (m == NULL)
		return;
	msg_drop_content(m);
	qfile_free(&m->qf);
	if (m->fd >= 0)
		(void)close(m->fd);
	free(m);
	*mp = NULL;
}

int
msg_set_content(struct msg *m, int memfd, size_t max_size, char *why,
    size_t whysize)
{
	const int	 need = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
	struct qfile_error err;
	struct stat	 st;
	int		 seals;
	void		*p;

	msg_drop_content(m);
	if ((seals = fcntl(memfd, F_GET_SEALS)) < 0 || (seals & need) != need) {
		(void)snprintf(why, whysize, "content not sealed");
		return (-1);
	}
	if (fstat(memfd, &st) < 0 || st.st_size <= 0 ||
	    (uint64_t)st.st_size > max_size) {
		(void)snprintf(why, whysize, "content size %lld out of range",
		    (long long)st.st_size);
		return (-1);
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, memfd, 0);
	if (p == MAP_FAILED) {
		(void)snprintf(why, whysize, "mmap content: %s", strerror(errno));
		return (-1);
	}
	m->map = p;
	m->maplen = (size_t)st.st_size;
	if (qfile_records_decode(p, m->maplen, "NL", &m->content, &m->ncontent,
	    &err) < 0) {
		(void)snprintf(why, whysize, "bad content from worker: %s",
		    err.text);
		msg_drop_content(m);
		return (-1);
	}
	return (0);
}

int
msg_set_built(struct msg *m, struct buf *records, char *why, size_t whysize)
{
	struct qfile_error err;
	size_t		 len;

	msg_drop_content(m);
	m->built = buf_steal(records, &len);
	if (qfile_records_decode(m->built, len, "NL", &m->content, &m->ncontent,
	    &err) < 0) {
		(void)snprintf(why, whysize, "%s", err.text);
		msg_drop_content(m);
		return (-1);
	}
	return (0);
}

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
