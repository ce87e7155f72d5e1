/*
 * NAME
 *	check - compare the quarantine's files with its index, and repair
 * DESCRIPTION
 *	Files against the index (a file without entry: removed when it is
 *	a leftover of a batch that did not commit or a second copy of an
 *	indexed message, else indexed again; a file of a deleted entry:
 *	removed) and the index against the files (an entry without its
 *	file: reported). While holdscand runs (live), files too recent to
 *	judge are reported as skipped, not judged.
 *
 *	This file must never remove the only copy of a message, and never
 *	say the store and the index agree about a file it did not judge.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "quarantine/internal.h"
#include "state/record.h"


/* --- consistency check ------------------------------------------------------- */

struct check {
	struct quarantine *q;
	const struct queue_layout *ql;
	int		 qdirfd;
	const char	*claimed;
	bool		 live;
	time_t		 now;
	quarantine_report_fn report;
	void		*arg;
	int		 problems;
};

static void
say(struct check *ck, bool problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(struct check *ck, bool problem, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (problem)
		ck->problems++;
	ck->report(ck->arg, problem ? QCHECK_PROBLEM : QCHECK_REPAIRED, line);
}

/*
 * A file holdscand may be writing or committing right now: not judged,
 * but said, so that nobody takes the silence for agreement.
 */
static void
skipped(struct check *ck, const char *name, const struct stat *st,
    const char *what)
{
	char		 line[1024];
	long long	 age = (long long)(ck->now - st->st_mtime);

	(void)snprintf(line, sizeof(line), "%s: %s, written %lld s ago: not "
	    "judged while holdscand runs (its batch may still be committing); "
	    "files are judged from %d minutes of age", name, what,
	    age < 0 ? 0 : age, Q_CHECK_GRACE / 60);
	ck->report(ck->arg, QCHECK_SKIPPED, line);
}

/* The original queue id in a quarantine id "STAMP-ID[-N]". */
static bool
orig_of(const char *qid, char *id, size_t size)
{
	const char	*p = strchr(qid, '-');
	size_t		 n;

	if (p == NULL)
		return (false);
	p++;
	n = strcspn(p, "-");
	if (n == 0 || n >= size)
		return (false);
	(void)snprintf(id, size, "%.*s", (int)n, p);
	return (queue_id_ok(id));
}

static time_t
stamp_time(const char *qid)
{
	struct tm	 tm;
	const char	*end;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(qid, "%Y%m%dT%H%M%S", &tm)) == NULL || *end != '-')
		return (0);
	return (timegm(&tm));
}

/* A file with no entry, that is not a copy of a queued message: index it. */
static void
reindex(struct check *ck, const struct stat *st, const char *relpath,
    const char *qid, const struct qfile *qf, const char *unreadable)
{
	struct quarantine_entry e;
	char		*error = NULL;
	enum quarantine_rc rc;
	int		 tries;

	memset(&e, 0, sizeof(e));
	(void)snprintf(e.qid, sizeof(e.qid), "%s", qid);
	(void)snprintf(e.relpath, sizeof(e.relpath), "%s", relpath);
	if (!orig_of(qid, e.orig_id, sizeof(e.orig_id)))
		e.orig_id[0] = '\0';
	(void)snprintf(e.verdict, sizeof(e.verdict), "unknown");
	if (qf != NULL) {
		q_fill_from_qfile(&e, qf);
		(void)snprintf(e.reason, sizeof(e.reason), "recovered by the "
		    "quarantine check (no index entry)");
	} else {
		e.sender = xstrdup("");
		e.subject = xstrdup("");
		e.rcpts = xcalloc(1, sizeof(*e.rcpts));
		(void)snprintf(e.reason, sizeof(e.reason), "recovered by the "
		    "quarantine check (no index entry); unreadable: %s",
		    unreadable);
	}
	e.released_to = xstrdup("");
	e.state = QSTATE_HELD;
	e.quarantined = stamp_time(qid);
	if (e.quarantined == 0)
		e.quarantined = st->st_mtime;
	e.size = (uint64_t)st->st_size;
	for (tries = 0; tries < Q_RETRIES; tries++) {
		DB_TXN	*txn;

		if (quarantine_txn_begin(ck->q, &txn, &error) < 0)
			break;
		rc = quarantine_put(ck->q, txn, &e, &error);
		if (rc == QUARANTINE_OK) {
			if (quarantine_txn_commit(txn, &error) < 0)
				break;
			say(ck, false, "%s: file without index entry: indexed "
			    "again (sender <%s>, %zu recipient%s)", qid, e.sender,
			    e.nrcpts, e.nrcpts == 1 ? "" : "s");
			quarantine_entry_clear(&e);
			return;
		}
		(void)txn->abort(txn);
		if (rc != QUARANTINE_BUSY)
			break;
		free(error);
		error = NULL;
		q_pause();
	}
	say(ck, true, "%s: file without index entry, cannot index it: %s", qid,
	    error ? error : "index busy");
	free(error);
	quarantine_entry_clear(&e);
}

static void
check_file(struct check *ck, int dayfd, const char *day, const char *name)
{
	struct quarantine_entry e;
	struct stat	 st;
	char		 relpath[QUARANTINE_ID_SIZE + 64], orig[QUEUE_ID_SIZE];
	char		 qpath[QUEUE_PATH_SIZE], *error = NULL;
	char		 twin[QUARANTINE_ID_SIZE];
	struct qfile_error err;
	struct qfile	*qf;
	size_t		 len = strlen(name);
	enum quarantine_rc rc;
	int		 fd, r;
	bool		 young;

	if ((size_t)snprintf(relpath, sizeof(relpath), "%s/%s", day, name) >=
	    sizeof(relpath))
		return;
	if (fstatat(dayfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;		/* gone meanwhile: an expiry or a delete */
	if (!S_ISREG(st.st_mode)) {
		say(ck, true, "%s: not a regular file (in %s); remove it, or "
		    "move it out of the quarantine", name, day);
		return;
	}
	young = ck->live && ck->now - st.st_mtime < Q_CHECK_GRACE;
	if (len > strlen(Q_TMP_SUFFIX) && strcmp(name + len -
	    strlen(Q_TMP_SUFFIX), Q_TMP_SUFFIX) == 0) {
		if (young) {
			skipped(ck, name, &st, "incomplete copy");
			return;
		}
		if (unlinkat(dayfd, name, 0) == 0)
			say(ck, false, "%.*s: removed an incomplete copy (its batch "
			    "did not commit; the message stayed in the queue)",
			    (int)(len - strlen(Q_TMP_SUFFIX)), name);
		return;
	}
	rc = quarantine_get(ck->q, NULL, name, false, &e, &error);
	if (rc == QUARANTINE_OK) {
		if (e.state == QSTATE_DELETED && unlinkat(dayfd, name, 0) == 0)
			say(ck, false, "%s: removed the file of a deleted entry "
			    "(an interrupted delete)", name);
		quarantine_entry_clear(&e);
		return;
	}
	if (rc != QUARANTINE_NOTFOUND) {
		say(ck, true, "%s: %s", name, error);
		free(error);
		return;
	}
	if (young) {
		skipped(ck, name, &st, "file without index entry");
		return;
	}
	if ((fd = openat(dayfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			say(ck, true, "%s: file without index entry, cannot "
			    "read it: %s (the files belong to the mail owner)",
			    name, strerror(errno));
		return;
	}
	/* A copy whose batch did not commit: the original is still queued. */
	if (orig_of(name, orig, sizeof(orig)) &&
	    ((queue_path(ck->ql, QUEUE_HOLD, orig, qpath) == 0 &&
	    q_same_bytes(fd, &st, ck->qdirfd, qpath)) ||
	    ((size_t)snprintf(qpath, sizeof(qpath), "%s/%s", ck->claimed,
	    orig) < sizeof(qpath) && q_same_bytes(fd, &st, ck->qdirfd, qpath)))) {
		if (unlinkat(dayfd, name, 0) == 0)
			say(ck, false, "%s: removed a copy of %s, which is still "
			    "in the queue (%s; its batch did not commit)", name,
			    orig, qpath);
		(void)close(fd);
		return;
	}
	/*
	 * A copy whose batch did not commit and then ran again, on this day
	 * or another: the original's index knows the copy that counts.
	 */
	qf = NULL;
	if (qfile_read_fd(fd, Q_FILE_MAX, &qf, &err) < 0)
		qf = NULL;
	if (qf != NULL && orig_of(name, orig, sizeof(orig))) {
		r = q_quarantined_already(ck->q, fd, orig, (time_t)qf->arrival_sec,
		    name, twin, sizeof(twin), &error);
		if (r < 0) {
			say(ck, true, "%s: %s", name, error);
			free(error);
		} else if (r > 0 && unlinkat(dayfd, name, 0) == 0) {
			say(ck, false, "%s: removed a second copy of %s, "
			    "quarantined already as %s (its batch was interrupted "
			    "and ran again)", name, orig, twin);
		}
		if (r != 0) {
			qfile_free(&qf);
			(void)close(fd);
			return;
		}
	}
	reindex(ck, &st, relpath, name, qf, err.text);
	qfile_free(&qf);
	(void)close(fd);
}

static bool
all_digits(const char *s, size_t n)
{
	size_t	 i;

	if (strlen(s) != n)
		return (false);
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return (false);
	return (true);
}

/*
 * Walk YYYY/MM/DD below dirfd (level 0 is the top, rel relative to
 * dirfd) and check each file of a day directory.
 */
static void
walk_level(struct check *ck, int dirfd, const char *rel, int level)
{
	static const size_t width[] = { 4, 2, 2 };
	struct dirent	*de;
	DIR		*dir;
	int		 fd;
	char		 path[64];

	if ((fd = openat(dirfd, level == 0 ? "." : rel, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return;
	if ((dir = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (level == 3) {
			check_file(ck, fd, rel, de->d_name);
			continue;
		}
		if (!all_digits(de->d_name, width[level]))
			continue;
		(void)snprintf(path, sizeof(path), "%s%s%s", rel, level ? "/" : "",
		    de->d_name);
		walk_level(ck, dirfd, path, level + 1);
	}
	(void)closedir(dir);
}

/* The snapshot is a moment old: is the entry still there and not deleted? */
static bool
still_missing(struct quarantine *q, const struct quarantine_entry *old)
{
	struct quarantine_entry e;
	char		*error = NULL;
	bool		 missing;

	if (quarantine_get(q, NULL, old->qid, false, &e, &error) !=
	    QUARANTINE_OK) {
		free(error);
		return (false);
	}
	missing = e.state != QSTATE_DELETED &&
	    faccessat(q->dirfd, e.relpath, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT;
	quarantine_entry_clear(&e);
	return (missing);
}

/* One index entry against the store: its file must be there. */
static int
check_entry(void *arg, const struct record *r)
{
	struct check	*ck = arg;
	struct quarantine *q = ck->q;
	struct quarantine_entry e;
	struct stat	 st;

	if (quarantine_decode(r->val, r->vlen, &e) < 0) {
		say(ck, true, "%.*s: malformed index entry",
		    (int)(r->klen > 200 ? 200 : r->klen), (const char *)r->key);
		return (0);
	}
	if (e.state != QSTATE_DELETED &&
	    fstatat(q->dirfd, e.relpath, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT && still_missing(q, &e))
		say(ck, true, "%s: index entry (%s, from <%s>) without its "
		    "file %s/%s; \"holdscan quarantine delete %s\" "
		    "forgets it", e.qid, quarantine_state_name(e.state),
		    e.sender, q->dir, e.relpath, e.qid);
	quarantine_entry_clear(&e);
	return (0);
}

int
quarantine_check(struct quarantine *q, const struct queue_layout *ql,
    int qdirfd, const char *claimed, bool live, quarantine_report_fn report,
    void *arg, char **error_r)
{
	struct record_walk w;
	struct check	 ck;
	int		 ret;

	memset(&ck, 0, sizeof(ck));
	ck.q = q;
	ck.ql = ql;
	ck.qdirfd = qdirfd;
	ck.claimed = claimed;
	ck.live = live;
	ck.now = time(NULL);
	ck.report = report;
	ck.arg = arg;
	/* Files against the index. */
	walk_level(&ck, q->dirfd, "", 0);
	/* The index against the files, from a snapshot. */
	memset(&w, 0, sizeof(w));
	w.db = q->db;
	w.snapshot = true;
	if ((ret = record_walk(q->sdb, &w, check_entry, &ck)) != 0) {
		*error_r = xasprintf("quarantine index: %s", db_strerror(ret));
		return (-1);
	}
	return (ck.problems);
}
