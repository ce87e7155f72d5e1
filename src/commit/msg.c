/*
 * NAME
 *	msg - a held message in the master, from claim to commit
 * DESCRIPTION
 *	Owns each claimed message's resources: the claimed descriptor
 *	(whose close releases Postfix's lock), the master's parse of the
 *	queue file and the new content a worker sent back or the master
 *	built. Content from a worker is trusted only after checking: the
 *	memfd must be sealed against writes and resizing (so the worker
 *	cannot change it after we checked it), no larger than allowed, a
 *	well-formed stream of N/L records, and content Postfix may send as
 *	it is (qfile_content_check(): no CR, LF or NUL a worker put into a
 *	record, which Postfix's smtp(8) would send as they are and with
 *	which a worker could append SMTP commands, another message and
 *	other recipients; lines within the line length limit; headers in
 *	the header block; a bounded size).
 *
 *	This module must never touch a queue file by name, never decide
 *	policy, and never keep a worker's memfd it has not checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit/msg.h"
#include "common/buf.h"
#include "common/qfile.h"
#include "common/xalloc.h"

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
	free(m->copies);
	qfile_free(&m->qf);
	if (m->fd >= 0)
		(void)close(m->fd);
	free(m);
	*mp = NULL;
}

int
msg_set_content(struct msg *m, int memfd, size_t max_size,
    size_t line_limit, char *why, size_t whysize)
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
	if (qfile_content_check(m->content, m->ncontent,
	    m->qf != NULL ? m->qf->content : NULL,
	    m->qf != NULL ? m->qf->ncontent : 0, line_limit,
	    (m->qf != NULL ? m->qf->content_bytes : 0) + MSG_CONTENT_GROWTH,
	    why, whysize) < 0) {
		msg_drop_content(m);
		return (-1);
	}
	return (0);
}

/*
 * Header lines as a worker may add them: one or more fields, each a
 * header line and its continuation lines, every line ended by LF and
 * none empty (which would end the header block early).
 */
static int
headers_check(const char *text, char *why, size_t whysize)
{
	const char	*p = text, *nl;
	size_t		 line = 1;
	bool		 cont;

	if (*p == '\0') {
		(void)snprintf(why, whysize, "no header lines");
		return (-1);
	}
	for (; *p != '\0'; p = nl + 1, line++) {
		if ((nl = strchr(p, '\n')) == NULL) {
			(void)snprintf(why, whysize, "header line %zu not "
			    "ended", line);
			return (-1);
		}
		cont = line > 1 && (*p == ' ' || *p == '\t');
		if (nl == p || (!cont &&
		    !qfile_is_header_line(p, (size_t)(nl - p)))) {
			(void)snprintf(why, whysize, "header line %zu is not a "
			    "header field", line);
			return (-1);
		}
	}
	return (0);
}

int
msg_set_headers(struct msg *m, const char *headers, size_t size,
    size_t line_limit, char *why, size_t whysize)
{
	const struct qfile_rec *orig;
	struct qfile_rec *hrecs = NULL;
	size_t		 norig, nh, end;

	msg_drop_content(m);
	if (m->qf == NULL) {
		(void)snprintf(why, whysize, "no original content");
		return (-1);
	}
	if (memchr(headers, '\0', size) == NULL) {
		(void)snprintf(why, whysize, "header lines not terminated");
		return (-1);
	}
	if (headers_check(headers, why, whysize) < 0)
		return (-1);
	/*
	 * The new content is the original's records with the header lines'
	 * records between them: the records point into m->qf (kept until
	 * msg_free()) and into m->built (the header lines' copy), so that
	 * the message's bytes are not copied once more. What is written is
	 * what qfile_insert_headers() would encode.
	 */
	orig = m->qf->content;
	norig = m->qf->ncontent;
	end = qfile_header_end(orig, norig);
	m->built = xstrdup(headers);
	nh = qfile_text_records(m->built, strlen(m->built), line_limit, &hrecs);
	m->ncontent = norig + nh;
	m->content = xreallocarray(NULL, m->ncontent, sizeof(*m->content));
	memcpy(m->content, orig, end * sizeof(*orig));
	memcpy(m->content + end, hrecs, nh * sizeof(*hrecs));
	memcpy(m->content + end + nh, orig + end, (norig - end) * sizeof(*orig));
	free(hrecs);
	if (qfile_content_check(m->content, m->ncontent, orig, norig,
	    line_limit, m->qf->content_bytes + MSG_CONTENT_GROWTH, why,
	    whysize) < 0) {
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
