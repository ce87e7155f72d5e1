/*
 * NAME
 *	store - the quarantine's files: store, open, delete, expire
 * DESCRIPTION
 *	Each quarantined message is kept as a copy of its original queue
 *	file (envelope and content, exactly as Postfix wrote it) under
 *	quarantine_directory/YYYY/MM/DD/<qid>. The copy is written under
 *	"<qid>.tmp", fsync'ed, renamed to its name and the directory
 *	fsync'ed, all before the original may leave the queue; so a file
 *	with a quarantine id for a name is always complete. A message that
 *	is in the index already (an interrupted batch ran again) is not
 *	copied twice. A delete or an expiry marks the entry first, durably,
 *	then removes the file, then (expiry) the entry.
 *
 *	This file must never remove a copy that an index entry in state
 *	held or released refers to except through an explicit delete or
 *	expire, never remove a file that may be the only copy of a message,
 *	and never write outside quarantine_directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/mailhdr.h"
#include "common/xalloc.h"
#include "quarantine/internal.h"
#include "state/record.h"


/* --- store ------------------------------------------------------------------- */

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

/* Envelope and headers of a queue file into e (sender, recipients, subject). */
void
q_fill_from_qfile(struct quarantine_entry *e, const struct qfile *qf)
{
	struct buf	 subj = BUF_INIT;
	size_t		 i;

	e->sender = xstrdup(qf->sender ? qf->sender : "");
	e->rcpts = xcalloc(qf->nrcpts + 1, sizeof(*e->rcpts));
	for (i = 0; i < qf->nrcpts; i++)
		if (qf->rcpts[i].state == QREC_RCPT)
			e->rcpts[e->nrcpts++] = xstrdup(qf->rcpts[i].address);
	mailhdr_subject(qf, QUARANTINE_SUBJECT_MAX, &subj);
	e->subject = xstrdup(subj.data ? subj.data : "");
	buf_free(&subj);
	e->arrival = (time_t)qf->arrival_sec;
}

/* Is the file at relpath (under dirfd) byte for byte the same as fd's? */
bool
q_same_bytes(int fd, const struct stat *st, int dirfd, const char *relpath)
{
	struct stat	 ost;
	char		 a[65536], b[65536];
	off_t		 off = 0;
	ssize_t		 ra, rb;
	int		 ofd;
	bool		 same = false;

	if ((ofd = openat(dirfd, relpath, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return (false);
	if (fstat(ofd, &ost) < 0 || ost.st_size != st->st_size)
		goto done;
	for (;;) {
		ra = pread(fd, a, sizeof(a), off);
		rb = pread(ofd, b, sizeof(b), off);
		if (ra < 0 || rb < 0 || ra != rb)
			goto done;
		if (ra == 0)
			break;
		if (memcmp(a, b, (size_t)ra) != 0)
			goto done;
		off += ra;
	}
	same = true;
done:
	(void)close(ofd);
	return (same);
}

/* A copy in the store of the file on fd, not deleted: its qid. */
struct same_copy {
	struct quarantine *q;
	int		 fd;
	struct stat	 st;
	char		 qid[QUARANTINE_ID_SIZE];
};

static int
same_copy_fn(void *arg, const struct quarantine_entry *e)
{
	struct same_copy *sc = arg;

	if (e->state == QSTATE_DELETED ||
	    !q_same_bytes(sc->fd, &sc->st, sc->q->dirfd, e->relpath))
		return (0);
	(void)snprintf(sc->qid, sizeof(sc->qid), "%s", e->qid);
	return (1);
}

/*
 * Is the file on fd (original orig_id, arrival) quarantined already, as
 * a copy that is byte for byte the same? 1 (its qid in qid_r), 0, -1.
 */
int
q_quarantined_already(struct quarantine *q, int fd, const char *orig_id,
    time_t arrival, const char *except, char *qid_r, size_t size,
    char **error_r)
{
	struct same_copy sc;

	memset(&sc, 0, sizeof(sc));
	sc.q = q;
	sc.fd = fd;
	if (fstat(fd, &sc.st) < 0) {
		*error_r = xasprintf("quarantine: fstat: %s", strerror(errno));
		return (-1);
	}
	if (q_each_of_original(q, NULL, orig_id, arrival, except, same_copy_fn,
	    &sc, error_r) < 0)
		return (-1);
	if (sc.qid[0] == '\0')
		return (0);
	(void)snprintf(qid_r, size, "%s", sc.qid);
	return (1);
}

int
quarantine_store(struct quarantine *q, int fd, const struct qfile *qf,
    const char *orig_id, const char *verdict, const char *reason,
    struct quarantine_entry *e, char **error_r)
{
	struct stat	 st;
	struct tm	 tm;
	char		 day[32], stamp[32], tmp[sizeof(e->relpath) + 8];
	int		 out = -1, attempt, dfd = -1;
	time_t		 now = time(NULL);

	memset(e, 0, sizeof(*e));
	/* Quarantined already (an interrupted batch ran again)? Then that copy. */
	if (qf != NULL) {
		char	 qid[QUARANTINE_ID_SIZE];
		int	 r;

		r = q_quarantined_already(q, fd, orig_id, (time_t)qf->arrival_sec,
		    "", qid, sizeof(qid), error_r);
		if (r < 0)
			return (-1);
		if (r > 0) {
			if (quarantine_get(q, NULL, qid, false, e, error_r) !=
			    QUARANTINE_OK)
				return (-1);
			e->existing = true;
			return (0);
		}
	}
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
		(void)snprintf(tmp, sizeof(tmp), "%s" Q_TMP_SUFFIX, e->relpath);
		if (faccessat(q->dirfd, e->relpath, F_OK,
		    AT_SYMLINK_NOFOLLOW) == 0) {
			errno = EEXIST;
			continue;
		}
		out = openat(q->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
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
	    renameat2(q->dirfd, tmp, q->dirfd, e->relpath,
	    RENAME_NOREPLACE) < 0 ||
	    (dfd = openat(q->dirfd, day, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(dfd) < 0) {
		*error_r = xasprintf("quarantine %s/%s: %s", q->dir, e->relpath,
		    strerror(errno));
		(void)close(out);
		if (dfd >= 0)
			(void)close(dfd);
		(void)unlinkat(q->dirfd, tmp, 0);
		return (-1);
	}
	(void)close(out);
	(void)close(dfd);
	(void)snprintf(e->orig_id, sizeof(e->orig_id), "%s", orig_id);
	(void)snprintf(e->verdict, sizeof(e->verdict), "%s", verdict);
	(void)snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
	if (qf != NULL) {
		q_fill_from_qfile(e, qf);
	} else {
		e->sender = xstrdup("");
		e->subject = xstrdup("");
		e->rcpts = xcalloc(1, sizeof(*e->rcpts));
	}
	e->released_to = xstrdup("");
	e->state = QSTATE_HELD;
	e->quarantined = now;
	e->size = (uint64_t)st.st_size;
	return (0);
}

void
quarantine_discard(struct quarantine *q, const struct quarantine_entry *e)
{
	(void)unlinkat(q->dirfd, e->relpath, 0);
}

int
quarantine_open_file(struct quarantine *q, const struct quarantine_entry *e)
{
	return (openat(q->dirfd, e->relpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
}

/* --- delete, expire ---------------------------------------------------------- */

/* "YYYY/MM/DD" of a relative path "YYYY/MM/DD/qid". */
static void
day_of(const char *relpath, char *day, size_t size)
{
	const char	*slash = strrchr(relpath, '/');

	(void)snprintf(day, size, "%.*s", slash ? (int)(slash - relpath) : 0,
	    relpath);
}

/* The unlink has happened; making it durable is best effort. */
static void
sync_day(struct quarantine *q, const char *relpath)
{
	char	 day[64];

	day_of(relpath, day, sizeof(day));
	if (day[0] != '\0')
		(void)queue_fsync_dirat(q->dirfd, day);
}

static enum quarantine_rc
mod_delete(struct quarantine_entry *e, void *arg)
{
	(void)arg;
	if (e->state == QSTATE_DELETED)
		return (QUARANTINE_UNCHANGED);
	e->state = QSTATE_DELETED;
	e->state_time = time(NULL);
	return (QUARANTINE_OK);
}

enum quarantine_rc
quarantine_delete(struct quarantine *q, const char *qid, char **error_r)
{
	struct quarantine_entry e;
	enum quarantine_rc rc;

	rc = q_modify(q, qid, mod_delete, NULL, &e, error_r);
	if (rc != QUARANTINE_OK && rc != QUARANTINE_UNCHANGED)
		return (rc);
	if (unlinkat(q->dirfd, e.relpath, 0) < 0 && errno != ENOENT) {
		*error_r = xasprintf("%s/%s: %s", q->dir, e.relpath,
		    strerror(errno));
		quarantine_entry_clear(&e);
		return (QUARANTINE_ERROR);
	}
	sync_day(q, e.relpath);
	quarantine_entry_clear(&e);
	return (rc);
}

/* The ids quarantined before cutoff, oldest first, at most max. */
/* expiring()'s walk: ids quarantined before cutoff, at most max. */
struct expiring {
	time_t		 cutoff;
	size_t		 max;
	char		**ids;
	size_t		 n;
};

static int
expiring_step(void *arg, const struct record *r)
{
	struct expiring	*ex = arg;

	if (ex->n >= ex->max || r->klen != 8 || q_bytes_time(r->key) >= ex->cutoff)
		return (1);
	ex->ids = xreallocarray(ex->ids, ex->n + 1, sizeof(*ex->ids));
	ex->ids[ex->n++] = xstrndup(r->pkey, r->pklen);
	return (0);
}

static int
expiring(struct quarantine *q, time_t cutoff, char ***ids_r, size_t *n_r,
    size_t max, char **error_r)
{
	struct expiring	 ex = { cutoff, max, NULL, 0 };
	struct record_walk w;
	int		 ret;

	memset(&w, 0, sizeof(w));
	w.db = q->by_time;
	w.secondary = true;
	w.snapshot = true;
	w.keys_only = true;	/* the primary's key is all we need */
	if ((ret = record_walk(q->sdb, &w, expiring_step, &ex)) != 0) {
		while (ex.n > 0)
			free(ex.ids[--ex.n]);
		free(ex.ids);
		*error_r = xasprintf("quarantine index: %s", db_strerror(ret));
		return (-1);
	}
	*ids_r = ex.ids;
	*n_r = ex.n;
	return (0);
}

/* Remove the day, month and year directories of relpath if empty and old. */
static void
prune_dirs(struct quarantine *q, const char *relpath)
{
	char		 d[64], today[16];
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		*slash;

	/* holdscand writes into today's directory: never race it there. */
	(void)gmtime_r(&now, &tm);
	(void)strftime(today, sizeof(today), "%Y/%m/%d", &tm);
	day_of(relpath, d, sizeof(d));
	if (strcmp(d, today) >= 0)
		return;
	while (d[0] != '\0') {
		if (unlinkat(q->dirfd, d, AT_REMOVEDIR) < 0)
			return;
		if ((slash = strrchr(d, '/')) == NULL)
			break;
		*slash = '\0';
		if (strncmp(today, d, strlen(d)) == 0)
			return;	/* this month or year is still in use */
	}
}

static void
free_ids(char **ids, size_t n)
{
	while (n > 0)
		free(ids[--n]);
	free(ids);
}

int
quarantine_expire(struct quarantine *q, time_t cutoff, size_t *n_r,
    uint64_t *bytes_r, char **error_r)
{
	struct quarantine_entry e;
	enum quarantine_rc rc;
	DB_TXN		*txn;
	char		**ids = NULL, *first = NULL;
	size_t		 n = 0, i;
	int		 ret, tries;

	*n_r = 0;
	*bytes_r = 0;
	for (;;) {
		if (expiring(q, cutoff, &ids, &n, Q_EXPIRE_CHUNK, error_r) < 0) {
			free(first);
			return (-1);
		}
		if (n == 0) {
			free(ids);
			free(first);
			return (0);
		}
		/* The last round removed them all; a repeat means a broken index. */
		if (first != NULL && strcmp(first, ids[0]) == 0) {
			*error_r = xasprintf("quarantine index: %s stays in the "
			    "time index after its removal; run holdscan "
			    "quarantine check", first);
			free(first);
			free_ids(ids, n);
			return (-1);
		}
		free(first);
		first = xstrdup(ids[0]);
		/* 1. Marked deleted, durably: a crash now leaves no doubt. */
		for (i = 0; i < n; i++) {
			rc = q_modify(q, ids[i], mod_delete, NULL, &e, error_r);
			if (rc == QUARANTINE_ERROR) {
				free(first);
				free_ids(ids, n);
				return (-1);
			}
			if (rc == QUARANTINE_NOTFOUND)
				continue;
			/* 2. The file. */
			if (unlinkat(q->dirfd, e.relpath, 0) == 0) {
				*bytes_r += e.size;
				sync_day(q, e.relpath);
			} else if (errno != ENOENT) {
				*error_r = xasprintf("%s/%s: %s", q->dir,
				    e.relpath, strerror(errno));
				quarantine_entry_clear(&e);
				free(first);
				free_ids(ids, n);
				return (-1);
			}
			prune_dirs(q, e.relpath);
			quarantine_entry_clear(&e);
		}
		/* 3. The entries (and with them the secondary keys). */
		for (tries = 0; tries < Q_RETRIES; tries++) {
			if (quarantine_txn_begin(q, &txn, error_r) < 0) {
				free(first);
				free_ids(ids, n);
				return (-1);
			}
			for (i = 0, ret = 0; i < n && ret == 0; i++)
				ret = record_del(q->db, txn, ids[i],
				    strlen(ids[i]));
			if (ret == 0) {
				/* Need not be durable: a repeat finds them deleted. */
				if ((ret = txn->commit(txn, DB_TXN_NOSYNC)) == 0)
					break;
				txn = NULL;
			}
			if (txn != NULL)
				(void)txn->abort(txn);
			if (q_rc_of(ret) != QUARANTINE_BUSY) {
				*error_r = xasprintf("quarantine index: %s",
				    db_strerror(ret));
				free(first);
				free_ids(ids, n);
				return (-1);
			}
			q_pause();
		}
		if (tries == Q_RETRIES) {
			*error_r = xasprintf("quarantine index: still busy after "
			    "%d tries", Q_RETRIES);
			free(first);
			free_ids(ids, n);
			return (-1);
		}
		*n_r += n;
		free_ids(ids, n);
		ids = NULL;
	}
}
