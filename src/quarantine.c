/*
 * NAME
 *	quarantine - durable copies of quarantined queue files
 * DESCRIPTION
 *	Each quarantined message is kept as a copy of its original queue
 *	file (envelope and content, exactly as Postfix wrote it) under
 *	quarantine_directory/YYYY/MM/DD/, written with O_EXCL, fsync'ed
 *	with its directory before the original may leave the queue.
 *
 *	This module must never remove a copy that an index entry refers to
 *	except through an explicit delete or expire, and never write outside
 *	quarantine_directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "quarantine.h"
#include "xalloc.h"

struct quarantine {
	char		*dir;
	int		 dirfd;
	uid_t		 uid;
	gid_t		 gid;
	struct statedb	*sdb;
};

int
quarantine_open(const struct hs_config *conf, struct statedb *sdb, uid_t uid,
    gid_t gid, struct quarantine **q_r, char **error_r)
{
	struct quarantine *q;
	int		 fd;

	if ((fd = open(conf->quarantine_directory, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0) {
		*error_r = xasprintf("quarantine_directory %s: %s",
		    conf->quarantine_directory, strerror(errno));
		return (-1);
	}
	q = xcalloc(1, sizeof(*q));
	q->dir = xstrdup(conf->quarantine_directory);
	q->dirfd = fd;
	q->uid = uid;
	q->gid = gid;
	q->sdb = sdb;
	*q_r = q;
	return (0);
}

void
quarantine_close(struct quarantine **qp)
{
	struct quarantine *q = *qp;

	if (q == NULL)
		return;
	(void)close(q->dirfd);
	free(q->dir);
	free(q);
	*qp = NULL;
}

static int
copy_fd(int in, int out)
{
	char	 buf[65536];
	off_t	 off = 0;
	ssize_t	 r, w, done;

	for (;;) {
		r = pread(in, buf, sizeof(buf), off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return (-1);
		if (r == 0)
			return (0);
		for (done = 0; done < r; done += w) {
			w = write(out, buf + done, (size_t)(r - done));
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0)
				return (-1);
		}
		off += r;
	}
}

int
quarantine_store(struct quarantine *q, int fd, const struct qfile *qf,
    const char *orig_id, const char *verdict, const char *reason,
    struct quarantine_entry *e, char **error_r)
{
	struct stat	 st;
	struct tm	 tm;
	char		 day[32], stamp[32];
	int		 out = -1, attempt, dfd = -1;
	time_t		 now = time(NULL);

	memset(e, 0, sizeof(*e));
	(void)gmtime_r(&now, &tm);
	(void)strftime(day, sizeof(day), "%Y/%m/%d", &tm);
	(void)strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	if (queue_mkdirs_owner(q->dirfd, day, q->uid, q->gid) < 0) {
		*error_r = xasprintf("quarantine %s/%s: %s", q->dir, day,
		    strerror(errno));
		return (-1);
	}
	for (attempt = 0; attempt < 100; attempt++) {
		if (attempt == 0)
			(void)snprintf(e->qid, sizeof(e->qid), "%s-%s", stamp,
			    orig_id);
		else
			(void)snprintf(e->qid, sizeof(e->qid), "%s-%s-%d", stamp,
			    orig_id, attempt);
		(void)snprintf(e->relpath, sizeof(e->relpath), "%s/%s", day,
		    e->qid);
		out = openat(q->dirfd, e->relpath, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (out >= 0 || errno != EEXIST)
			break;
	}
	if (out < 0) {
		*error_r = xasprintf("quarantine %s/%s: %s", q->dir, e->relpath,
		    strerror(errno));
		return (-1);
	}
	if ((geteuid() == 0 && fchown(out, q->uid, q->gid) < 0) ||
	    copy_fd(fd, out) < 0 || fsync(out) < 0 || fstat(out, &st) < 0 ||
	    (dfd = openat(q->dirfd, day, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(dfd) < 0) {
		*error_r = xasprintf("quarantine %s/%s: %s", q->dir, e->relpath,
		    strerror(errno));
		(void)close(out);
		if (dfd >= 0)
			(void)close(dfd);
		(void)unlinkat(q->dirfd, e->relpath, 0);
		return (-1);
	}
	(void)close(out);
	(void)close(dfd);
	(void)snprintf(e->orig_id, sizeof(e->orig_id), "%s", orig_id);
	(void)snprintf(e->verdict, sizeof(e->verdict), "%s", verdict);
	(void)snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
	e->arrival = qf ? (time_t)qf->arrival_sec : 0;
	e->quarantined = now;
	e->size = (uint64_t)st.st_size;
	return (0);
}

int
quarantine_index(struct quarantine *q, DB_TXN *txn,
    const struct quarantine_entry *e, char **error_r)
{
	(void)q;
	(void)txn;
	(void)e;
	(void)error_r;
	return (0);
}

void
quarantine_discard(struct quarantine *q, const struct quarantine_entry *e)
{
	(void)unlinkat(q->dirfd, e->relpath, 0);
}
