/*
 * NAME
 *	release - re-queue a quarantined message, exactly once
 * DESCRIPTION
 *	A release follows the batch commit protocol of commit.c, for one
 *	message, from the quarantine copy instead of a claimed original:
 *
 *	1. The new queue file is written in holdscan/release/ (on the queue
 *	   file system; O_EXCL, the mail owner's, mode 0600), locked with
 *	   flock(2) until its entry is committed (a recovery's sweep leaves
 *	   a locked file alone), fsync'ed, given its ready mode 0700 and
 *	   fsync'ed again. Its queue id is planned
 *	   from its inode and the current time.
 *	2. One durable Berkeley DB transaction (that never waits for a lock:
 *	   a busy index is retried) checks that the entry is still held,
 *	   marks it released with the planned id, and records the intent in
 *	   the journal (kind R: staging file, inode, target, quarantine id).
 *	3. The lock is released (qmgr skips a locked file in incoming and
 *	   puts it off), the file renamed into incoming under the planned id
 *	   (RENAME_NOREPLACE), the directory fsync'ed, qmgr woken, and then
 *	   the journal entry dropped.
 *
 *	A crash before 2 leaves an unlocked staging file that no journal
 *	entry names (removed by the next recovery) and the message still
 *	held: release it again. A crash after 2 leaves an entry that says
 *	the release is decided: recovery (this tool or holdscand, at start)
 *	renames the staging file if it is still there; if it is gone, it
 *	was renamed, and recovery only wakes qmgr (the process that renamed
 *	it may have died before it did). A file is renamed at most
 *	once, so a message is never delivered twice, and never lost.
 *
 *	This module must never write a queue file the mail owner does not
 *	own, never put a file into incoming before it is durable and
 *	journaled, and never release a message the index does not say is
 *	held (unless asked to release another copy).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "commit/release.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/mailhdr.h"
#include "common/qfile.h"
#include "common/xalloc.h"
#include "state/journal.h"

#define RELEASE_TRIES	500		/* busy index: 500 x 10 ms at most */

/* The staging file: name in c->release, locked descriptor, inode. */
struct staged {
	char		 name[64];
	int		 fd;
	uint64_t	 ino;
};

static void
staged_drop(struct commit_ctx *c, struct staged *s)
{
	if (s->fd >= 0) {
		(void)unlinkat(c->release_fd, s->name, 0);
		(void)close(s->fd);
		s->fd = -1;
	}
}

/*
 * Create the staging file, locked, and make sure the name is still ours
 * after the lock (a recovery may have removed a file it found unlocked).
 */
static int
staged_create(struct commit_ctx *c, struct staged *s, char **error_r)
{
	struct timeval	 tv;
	struct stat	 st, lst;
	int		 tries;

	for (tries = 0; tries < 100; tries++) {
		(void)gettimeofday(&tv, NULL);
		(void)snprintf(s->name, sizeof(s->name), "%ld.%ld.%d",
		    (long)getpid(), (long)tv.tv_usec, tries);
		s->fd = openat(c->release_fd, s->name, O_WRONLY | O_CREAT |
		    O_EXCL | O_CLOEXEC, QUEUE_MODE_NEW);
		if (s->fd < 0) {
			if (errno == EEXIST)
				continue;
			break;
		}
		if (queue_lock_try(s->fd) == 0 && fstat(s->fd, &st) == 0 &&
		    fstatat(c->release_fd, s->name, &lst,
		    AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == lst.st_ino) {
			s->ino = (uint64_t)st.st_ino;
			return (0);
		}
		(void)close(s->fd);
		s->fd = -1;
	}
	*error_r = xasprintf("create a file in %s/%s: %s", c->ql->queue_dir,
	    c->release, strerror(errno));
	return (-1);
}

static int
staged_write(struct commit_ctx *c, struct staged *s,
    const struct qfile_parts *parts, char **error_r)
{
	struct qfile_error err;

	if (c->as_root && fchown(s->fd, c->ql->owner_uid, c->ql->owner_gid) < 0) {
		*error_r = xasprintf("chown %s/%s: %s", c->release, s->name,
		    strerror(errno));
		return (-1);
	}
	if (qfile_write(s->fd, parts, &err) < 0) {
		*error_r = xasprintf("write %s/%s: %s", c->release, s->name,
		    err.text);
		return (-1);
	}
	/* Ready only once durable (rule 7), then durable again. */
	if (fsync(s->fd) < 0 || fchmod(s->fd, QUEUE_MODE_READY) < 0 ||
	    fsync(s->fd) < 0) {
		*error_r = xasprintf("finish %s/%s: %s", c->release, s->name,
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/* Recipient records and the ones that qualify them. */
static bool
is_rcpt_record(const struct qfile_rec *r)
{
	switch (r->type) {
	case QREC_RCPT:
	case QREC_DONE:
	case QREC_DRCP:
	case QREC_ORCP:
	case QREC_DSN_ORCPT:
	case QREC_DSN_NOTIFY:
		return (true);
	case QREC_ATTR:
		return ((r->len >= 14 && strncmp(r->data, "dsn_orig_rcpt=",
		    14) == 0) || (r->len >= 13 && strncmp(r->data,
		    "notify_flags=", 13) == 0));
	default:
		return (false);
	}
}

/* A segment without its recipients, plus R records for to[] (if add). */
static struct qfile_rec *
replace_rcpts(const struct qfile_rec *recs, size_t n, const char *const *to,
    size_t nto, bool add, size_t *n_r)
{
	struct qfile_rec *v = xcalloc(n + nto + 1, sizeof(*v));
	size_t		 i, k = 0;

	for (i = 0; i < n; i++)
		if (!is_rcpt_record(&recs[i]))
			v[k++] = recs[i];
	for (i = 0; add && i < nto; i++) {
		v[k].type = QREC_RCPT;
		v[k].data = to[i];
		v[k].len = strlen(to[i]);
		k++;
	}
	*n_r = k;
	return (v);
}

/* The header line that says where this copy comes from, or NULL. */
static char *
release_header(const struct commit_ctx *c, const struct quarantine_entry *e,
    const char *name)
{
	if (name == NULL || name[0] == '\0')
		return (NULL);
	return (xasprintf("%s: released from quarantine (%s) by holdscan %s "
	    "on %s\n", name, e->verdict[0] ? e->verdict : "unknown", HS_VERSION,
	    c->ql->myhostname));
}

/* Is the entry's state one we may release from? */
static enum release_rc
releasable(const struct quarantine_entry *e, const struct release_opts *o)
{
	if (e->state == QSTATE_DELETED)
		return (RELEASE_DELETED);
	if (e->state == QSTATE_RELEASED && !o->again)
		return (RELEASE_ALREADY);
	return (RELEASE_OK);
}

/*
 * The same original message quarantined twice (by a holdscan older than
 * the original's index, say): one release of it is enough unless asked
 * again. RELEASE_OK (with *error_r set: the index was busy, try again),
 * RELEASE_TWIN (*error_r says which) or RELEASE_FAILED with *error_r.
 */
static enum release_rc
released_twin(struct quarantine *q, DB_TXN *txn,
    const struct quarantine_entry *e, const struct release_opts *o,
    char **error_r)
{
	struct quarantine_entry twin;
	char		*error = NULL;
	int		 r;

	*error_r = NULL;
	if (o->again)
		return (RELEASE_OK);
	if ((r = quarantine_twin(q, txn, e, QSTATE_RELEASED, &twin,
	    &error)) == 0)
		return (RELEASE_OK);
	if (r < 0) {
		*error_r = error;
		return (strstr(error, "DB_LOCK_NOTGRANTED") != NULL ||
		    strstr(error, "DB_LOCK_DEADLOCK") != NULL ? RELEASE_OK :
		    RELEASE_FAILED);
	}
	*error_r = xasprintf("the same message was quarantined twice, and its "
	    "other copy %s was released already (as %s)", twin.qid,
	    twin.new_id[0] ? twin.new_id : "?");
	quarantine_entry_clear(&twin);
	return (RELEASE_TWIN);
}

static void
pause_release(void)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };

	(void)nanosleep(&ts, NULL);
}

static char *
join(const char *const *v, size_t n)
{
	struct buf	 b = BUF_INIT;
	size_t		 i;

	for (i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", v[i]);
	buf_putc(&b, '\0');
	return (buf_steal(&b, NULL));
}

/*
 * Step 2: one transaction that checks the state, marks the entry released
 * and journals the intent. Retried while the index is busy.
 */
static enum release_rc
decide(struct commit_ctx *c, struct quarantine *q, const char *qid,
    const struct release_opts *o, const struct staged *s, const char *planned,
    const char *target, char *old_id, char **error_r)
{
	struct quarantine_entry e;
	struct journal_entry je;
	enum quarantine_rc qrc;
	enum release_rc rrc;
	DB_TXN		*txn;
	char		*error = NULL;
	int		 tries;

	memset(&je, 0, sizeof(je));
	je.kind = JOURNAL_RELEASE;
	(void)snprintf(je.orig, sizeof(je.orig), "%s/%s", c->release, s->name);
	(void)snprintf(je.staging, sizeof(je.staging), "%s/%s", c->release,
	    s->name);
	je.orig_ino = je.staging_ino = s->ino;
	(void)snprintf(je.target, sizeof(je.target), "%s", target);
	(void)snprintf(je.extra, sizeof(je.extra), "%s", qid);
	for (tries = 0; tries < RELEASE_TRIES; tries++) {
		if (quarantine_txn_begin(q, &txn, error_r) < 0)
			return (RELEASE_FAILED);
		qrc = quarantine_get(q, txn, qid, true, &e, &error);
		if (qrc == QUARANTINE_OK) {
			if ((rrc = releasable(&e, o)) != RELEASE_OK) {
				(void)snprintf(old_id, QUEUE_ID_SIZE, "%s",
				    e.new_id);
				quarantine_entry_clear(&e);
				(void)txn->abort(txn);
				return (rrc);
			}
			if ((rrc = released_twin(q, txn, &e, o, error_r)) !=
			    RELEASE_OK || *error_r != NULL) {
				quarantine_entry_clear(&e);
				(void)txn->abort(txn);
				if (rrc == RELEASE_OK) {
					/* The index was busy: try again. */
					free(*error_r);
					*error_r = NULL;
					pause_release();
					continue;
				}
				return (rrc);
			}
			e.state = QSTATE_RELEASED;
			e.state_time = time(NULL);
			e.releases++;
			(void)snprintf(e.new_id, sizeof(e.new_id), "%s", planned);
			free(e.released_to);
			e.released_to = join(o->to, o->nto);
			qrc = quarantine_put(q, txn, &e, &error);
			quarantine_entry_clear(&e);
		}
		if (qrc == QUARANTINE_OK) {
			if (journal_add(c->journal, txn, &je, &error) < 0) {
				qrc = QUARANTINE_ERROR;
			} else {
				/* Commit is the decision: from here on, only forward. */
				if (journal_commit(c->journal, txn, error_r) < 0)
					return (RELEASE_FAILED);
				return (RELEASE_OK);
			}
		}
		(void)txn->abort(txn);
		if (qrc == QUARANTINE_NOTFOUND) {
			free(error);
			return (RELEASE_NOTFOUND);
		}
		if (qrc != QUARANTINE_BUSY) {
			*error_r = error;
			return (RELEASE_FAILED);
		}
		free(error);
		error = NULL;
		{
			struct timespec	 ts = { 0, 10 * 1000 * 1000 };

			(void)nanosleep(&ts, NULL);
		}
	}
	*error_r = xasprintf("quarantine index busy for %d tries", RELEASE_TRIES);
	return (RELEASE_FAILED);
}

enum release_rc
release_message(struct commit_ctx *c, struct quarantine *q, const char *qid,
    const struct release_opts *o, char new_id[QUEUE_ID_SIZE], char **error_r)
{
	struct quarantine_entry e;
	struct qfile_parts parts;
	struct qfile_error err;
	struct qfile	*qf = NULL;
	struct qfile_rec *env = NULL, *extra = NULL, *content = NULL;
	struct staged	 s = { "", -1, 0 };
	struct qfile_rec *stripped = NULL;
	const struct qfile_rec *kept;
	struct buf	 recs = BUF_INIT, names = BUF_INIT;
	struct timeval	 tv;
	struct journal_entry je;
	enum quarantine_rc qrc;
	enum release_rc	 rc;
	char		 planned[QUEUE_ID_SIZE], target[QUEUE_PATH_SIZE];
	char		 why[256], *hdr = NULL, *error = NULL;
	size_t		 nkept = 0, removed = 0;
	int		 fd, r;

	new_id[0] = '\0';
	qrc = quarantine_get(q, NULL, qid, false, &e, error_r);
	if (qrc == QUARANTINE_NOTFOUND)
		return (RELEASE_NOTFOUND);
	if (qrc != QUARANTINE_OK)
		return (RELEASE_FAILED);
	if ((rc = releasable(&e, o)) != RELEASE_OK) {
		(void)snprintf(new_id, QUEUE_ID_SIZE, "%s", e.new_id);
		quarantine_entry_clear(&e);
		return (rc);
	}

	/* 1. The new queue file, from the copy. */
	rc = RELEASE_FAILED;
	if ((fd = quarantine_open_file(q, &e)) < 0) {
		*error_r = xasprintf("%s/%s: %s", quarantine_dir(q), e.relpath,
		    strerror(errno));
		goto done;
	}
	r = qfile_read_fd(fd, SIZE_MAX, &qf, &err);
	(void)close(fd);
	if (r < 0) {
		*error_r = xasprintf("%s/%s: %s", quarantine_dir(q), e.relpath,
		    err.text);
		goto done;
	}
	qfile_parts_of(qf, &parts);
	kept = qf->content;
	nkept = qf->ncontent;
	if (o->nto > 0) {
		env = replace_rcpts(qf->env, qf->nenv, o->to, o->nto, true,
		    &parts.nenv);
		extra = replace_rcpts(qf->extra, qf->nextra, NULL, 0, false,
		    &parts.nextra);
		parts.env = env;
		parts.extra = extra;
	}
	/* A sender's forged verdicts go, holdscan's header is replaced. */
	if (o->strip_names != NULL && (removed = mailhdr_strip(qf->content,
	    qf->ncontent, o->strip_names, qf->sender != NULL &&
	    qf->sender[0] == '\0' ? MAILHDR_NOTICE : NULL, &stripped, &nkept,
	    &names)) > 0)
		kept = stripped;
	if (removed > 0)
		hs_info("%s: removed %zu header field%s named like holdscan's "
		    "(%s)", qid, removed, removed == 1 ? "" : "s", names.data);
	if ((hdr = release_header(c, &e, o->header_name)) != NULL ||
	    removed > 0) {
		qfile_insert_headers(kept, nkept, qfile_header_end(kept, nkept),
		    hdr, c->ql->line_limit, &recs);
		if (qfile_records_decode(recs.data ? recs.data : "", recs.len,
		    "NL", &content, &parts.ncontent, &err) < 0) {
			*error_r = xasprintf("%s: new content: %s", qid, err.text);
			goto done;
		}
		parts.content = content;
	}
	if (staged_create(c, &s, error_r) < 0)
		goto done;
	if (staged_write(c, &s, &parts, error_r) < 0) {
		staged_drop(c, &s);
		goto done;
	}
	(void)gettimeofday(&tv, NULL);
	queue_id_make(c->ql->long_ids, (ino_t)s.ino, &tv, planned);
	if (queue_path(c->ql, QUEUE_INCOMING, planned, target) < 0) {
		*error_r = xasprintf("%s: no path for queue id %s", qid, planned);
		staged_drop(c, &s);
		goto done;
	}

	/* 2. The decision, durable. */
	rc = decide(c, q, qid, o, &s, planned, target, new_id, error_r);
	if (rc != RELEASE_OK) {
		staged_drop(c, &s);
		goto done;
	}

	/*
	 * 3. Into incoming; then the intent is done. The lock goes first: it
	 * only kept a recovery's sweep from taking the file for an abandoned
	 * one before the entry was committed, and a file still locked in
	 * incoming is one qmgr skips ("still being delivered") and puts off
	 * for a minute or more when another process wakes it meanwhile.
	 */
	(void)close(s.fd);
	s.fd = -1;
	r = commit_publish(c, c->release_fd, s.name, s.ino, planned, new_id,
	    why, sizeof(why));
	if (r < 0 && errno == ENOENT) {
		/* Recovery by another process published it meanwhile. */
		(void)snprintf(new_id, QUEUE_ID_SIZE, "%s", planned);
	} else if (r != 0) {
		*error_r = xasprintf("%s: release is committed but not finished "
		    "(%s); holdscan or holdscand finishes it at their next start",
		    qid, why);
		rc = RELEASE_PENDING;
		goto done;
	}
	/*
	 * qmgr is woken before the entry is dropped: killed in between, the
	 * entry is still there and recovery wakes qmgr again.
	 */
	if (queue_trigger(c->ql, "qmgr", "I") < 0)
		hs_warnx("%s: cannot wake qmgr (%s); it finds the mail within 5 "
		    "minutes", qid, strerror(errno));
	memset(&je, 0, sizeof(je));
	(void)snprintf(je.orig, sizeof(je.orig), "%s/%s", c->release, s.name);
	if (journal_del(c->journal, &je, 1, &error) < 0) {
		hs_warnx("%s: %s (recovery clears it)", qid, error);
		free(error);
		error = NULL;
	}
	if (strcmp(new_id, planned) != 0 &&
	    quarantine_set_new_id(q, qid, new_id, &error) < 0) {
		hs_warnx("%s: %s", qid, error);
		free(error);
	}
	rc = RELEASE_OK;

done:
	quarantine_entry_clear(&e);
	qfile_free(&qf);
	free(env);
	free(extra);
	free(content);
	free(hdr);
	free(stripped);
	buf_free(&recs);
	buf_free(&names);
	return (rc);
}
