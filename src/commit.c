/*
 * NAME
 *	commit - move a scanned batch from claimed/ to incoming, exactly once
 * DESCRIPTION
 *	For each batch (design.md, "Batch commit protocol"):
 *
 *	1. Every new queue file is written in holdscan's staging directory
 *	   (O_EXCL, the mail owner's, recomputed size record), set to ready
 *	   mode 0700 and made durable with one syncfs(2) for the batch (or an
 *	   fsync(2) per file). Quarantine copies are written and fsync'ed.
 *	   Giving a staging file its ready mode before the sync departs from
 *	   the letter of rule 7 but not its purpose: no Postfix program ever
 *	   looks into staging/, and the file reaches a queue Postfix scans
 *	   only by the rename in step 3, after the sync. It saves one sync
 *	   per batch.
 *	2. One synchronous Berkeley DB transaction records every message's
 *	   intent (original, staging file, target) together with any
 *	   quarantine index entries.
 *	3. Each staging file is renamed into incoming under the queue id its
 *	   inode and the current time give (RENAME_NOREPLACE; hash
 *	   directories created as Postfix does); each target directory is
 *	   fsync'ed once.
 *	4. The originals are unlinked from claimed/ and claimed/ fsync'ed;
 *	   then the journal entries are dropped and the locks released.
 *
 *	A crash at any point leaves either no journal entry (the originals
 *	go back to hold at start: a rescan) or one that says exactly what is
 *	left to do. Recovery: a staging file that still exists was not
 *	renamed (remove it, the original returns to hold); one that is gone
 *	was (remove the original). So a message is never lost and never
 *	delivered twice.
 *
 *	Set-aside messages are remembered durably first and then renamed
 *	back into hold, so they cannot loop.
 *
 *	This module must never unlink an original before its replacement
 *	(or quarantine copy) is durable and journaled, never overwrite an
 *	existing queue file, and never create a queue file Postfix's
 *	mail_owner does not own.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "claim.h"
#include "commit.h"
#include "log.h"
#include "xalloc.h"

#define TARGET_TRIES	100

static int
open_subdir(struct commit_ctx *c, const char *rel, char **error_r)
{
	int	 fd;

	if (queue_mkdirs(c->ql, c->qdirfd, rel) < 0 ||
	    (fd = openat(c->qdirfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		*error_r = xasprintf("%s/%s: %s", c->ql->queue_dir, rel,
		    strerror(errno));
		return (-1);
	}
	return (fd);
}

int
commit_init(struct commit_ctx *c, const struct queue_layout *ql,
    const struct hs_config *conf, int qdirfd, struct journal *j,
    struct aside *a, char **error_r)
{
	memset(c, 0, sizeof(*c));
	c->ql = ql;
	c->conf = conf;
	c->qdirfd = qdirfd;
	c->journal = j;
	c->aside = a;
	c->claimed_fd = c->staging_fd = c->release_fd = -1;
	c->as_root = geteuid() == 0;
	(void)snprintf(c->claimed, sizeof(c->claimed), "%s/claimed",
	    conf->holdscan_queue_subdir);
	(void)snprintf(c->staging, sizeof(c->staging), "%s/staging",
	    conf->holdscan_queue_subdir);
	(void)snprintf(c->release, sizeof(c->release), "%s/release",
	    conf->holdscan_queue_subdir);
	if ((c->claimed_fd = open_subdir(c, c->claimed, error_r)) < 0 ||
	    (c->staging_fd = open_subdir(c, c->staging, error_r)) < 0 ||
	    (c->release_fd = open_subdir(c, c->release, error_r)) < 0) {
		commit_clear(c);
		return (-1);
	}
	return (0);
}

void
commit_clear(struct commit_ctx *c)
{
	if (c->claimed_fd >= 0)
		(void)close(c->claimed_fd);
	if (c->staging_fd >= 0)
		(void)close(c->staging_fd);
	if (c->release_fd >= 0)
		(void)close(c->release_fd);
	c->claimed_fd = c->staging_fd = c->release_fd = -1;
}

static bool
makes_new_file(enum policy_action a)
{
	return (a == ACTION_DELIVER || a == ACTION_TAG || a == ACTION_CLEAN);
}

/* Write item's new queue file in staging/, ready mode; not yet durable. */
static int
write_staging(struct commit_ctx *c, struct commit_item *it)
{
	struct qfile_parts parts;
	struct qfile_error err;
	struct stat	 st;
	int		 fd, tries;

	(void)snprintf(it->sname, sizeof(it->sname), "%s", it->id);
	for (tries = 0;; tries++) {
		fd = openat(c->staging_fd, it->sname, O_WRONLY | O_CREAT |
		    O_EXCL | O_CLOEXEC, QUEUE_MODE_NEW);
		if (fd >= 0)
			break;
		/* A leftover of an interrupted batch of ours: nothing refers to it. */
		if (errno != EEXIST || tries > 0 ||
		    unlinkat(c->staging_fd, it->sname, 0) < 0) {
			(void)snprintf(it->why, sizeof(it->why), "create %s/%s: %s",
			    c->staging, it->sname, strerror(errno));
			return (-1);
		}
	}
	qfile_parts_of(it->qf, &parts);
	if (it->content != NULL) {
		parts.content = it->content;
		parts.ncontent = it->ncontent;
	}
	if (c->as_root && fchown(fd, c->ql->owner_uid, c->ql->owner_gid) < 0) {
		(void)snprintf(it->why, sizeof(it->why), "chown %s/%s: %s",
		    c->staging, it->sname, strerror(errno));
		goto fail;
	}
	if (qfile_write(fd, &parts, &err) < 0) {
		(void)snprintf(it->why, sizeof(it->why), "write %s/%s: %s",
		    c->staging, it->sname, err.text);
		goto fail;
	}
	if (fchmod(fd, QUEUE_MODE_READY | (it->extra_mode & S_IXGRP)) < 0 ||
	    fstat(fd, &st) < 0 ||
	    (c->conf->fsync_method == FSYNC_FILE && fsync(fd) < 0)) {
		(void)snprintf(it->why, sizeof(it->why), "finish %s/%s: %s",
		    c->staging, it->sname, strerror(errno));
		goto fail;
	}
	it->sfd = fd;
	it->sino = (uint64_t)st.st_ino;
	return (0);
fail:
	(void)close(fd);
	(void)unlinkat(c->staging_fd, it->sname, 0);
	return (-1);
}

static void
drop_staging(struct commit_ctx *c, struct commit_item *it)
{
	if (it->sfd >= 0) {
		(void)close(it->sfd);
		it->sfd = -1;
	}
	if (it->sname[0] != '\0') {
		(void)unlinkat(c->staging_fd, it->sname, 0);
		it->sname[0] = '\0';
	}
}

/* Put the original back into hold, unchanged. */
static void
return_item(struct commit_ctx *c, struct commit_item *it, const char *why)
{
	drop_staging(c, it);
	if (why != NULL && it->why[0] == '\0')
		(void)snprintf(it->why, sizeof(it->why), "%s", why);
	if (claim_return(c->ql, c->qdirfd, c->claimed, it->id) < 0) {
		/* Still safe in claimed/: recovery at the next start returns it. */
		(void)snprintf(it->why + strlen(it->why), sizeof(it->why) -
		    strlen(it->why), "; cannot return it to hold: %s",
		    strerror(errno));
		it->outcome = COMMIT_LEFT;
		return;
	}
	it->outcome = COMMIT_RETURNED;
}

/* Set aside: durable note first, then back to hold, where the watcher skips it. */
static void
set_aside(struct commit_ctx *c, struct commit_item *it)
{
	struct aside_entry e;
	char		*error = NULL;

	memset(&e, 0, sizeof(e));
	(void)snprintf(e.id, sizeof(e.id), "%s", it->id);
	e.ino = it->ino;
	e.when = time(NULL);
	(void)snprintf(e.reason, sizeof(e.reason), "%s%s%s",
	    it->verdict ? it->verdict : "", it->reason && *it->reason ? ": " : "",
	    it->reason ? it->reason : "");
	if (aside_put(c->aside, &e, &error) < 0) {
		(void)snprintf(it->why, sizeof(it->why), "%s", error);
		free(error);
		return_item(c, it, NULL);
		return;
	}
	if (claim_return(c->ql, c->qdirfd, c->claimed, it->id) < 0) {
		(void)snprintf(it->why, sizeof(it->why),
		    "cannot return to hold: %s", strerror(errno));
		it->outcome = COMMIT_RETURNED;
		return;
	}
	it->outcome = COMMIT_DONE;
}

static void
entry_for(struct commit_ctx *c, const struct commit_item *it,
    struct journal_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = it->jkind;
	(void)snprintf(e->orig, sizeof(e->orig), "%s/%s", c->claimed, it->id);
	e->orig_ino = it->ino;
	if (it->jkind == JOURNAL_DELIVER) {
		(void)snprintf(e->staging, sizeof(e->staging), "%s/%s",
		    c->staging, it->sname);
		e->staging_ino = it->sino;
	}
}

/* A distinct directory to fsync after the renames. */
struct dirset {
	char		 (*rel)[QUEUE_PATH_SIZE];
	size_t		 n;
};

static void
dirset_add(struct dirset *ds, const char *rel)
{
	size_t	 i;

	for (i = 0; i < ds->n; i++)
		if (strcmp(ds->rel[i], rel) == 0)
			return;
	ds->rel = xreallocarray(ds->rel, ds->n + 1, sizeof(*ds->rel));
	(void)snprintf(ds->rel[ds->n++], QUEUE_PATH_SIZE, "%s", rel);
}

/*
 * Rename a file (name in dirfd, inode ino) into incoming under want, or
 * under the id its inode and the current time give, as Postfix's
 * mail_queue_enter() names new files.
 */
static int
publish_at(struct commit_ctx *c, int dirfd, const char *name, uint64_t ino,
    const char *want, char *new_id, struct dirset *ds, char *why,
    size_t whysize)
{
	struct timeval	 tv;
	char		 path[QUEUE_PATH_SIZE], dir[QUEUE_PATH_SIZE];
	bool		 use_want = want != NULL && want[0] != '\0';
	int		 tries, saved;

	for (tries = 0; tries < TARGET_TRIES; tries++) {
		if (use_want) {
			(void)snprintf(new_id, QUEUE_ID_SIZE, "%s", want);
		} else {
			(void)gettimeofday(&tv, NULL);
			queue_id_make(c->ql->long_ids, (ino_t)ino, &tv, new_id);
		}
		if (queue_path(c->ql, QUEUE_INCOMING, new_id, path) < 0 ||
		    queue_subdir(c->ql, QUEUE_INCOMING, new_id, dir) < 0)
			break;
		if (renameat2(dirfd, name, c->qdirfd, path,
		    RENAME_NOREPLACE) == 0) {
			dirset_add(ds, dir);
			return (0);
		}
		if (errno == ENOENT && strchr(dir, '/') != NULL &&
		    faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			/* A missing hash directory: create it, sync its parents later. */
			if (queue_mkdirs(c->ql, c->qdirfd, dir) < 0)
				break;
			dirset_add(ds, QUEUE_INCOMING);
			continue;
		}
		/* EEXIST: a mis-named file holds this id; try another time stamp. */
		if (errno != EEXIST)
			break;
		use_want = false;
	}
	saved = errno;
	(void)snprintf(why, whysize, "rename into %s: %s", QUEUE_INCOMING,
	    strerror(saved));
	new_id[0] = '\0';
	errno = saved;
	return (-1);
}

static int
publish(struct commit_ctx *c, struct commit_item *it, struct dirset *ds)
{
	return (publish_at(c, c->staging_fd, it->sname, it->sino, NULL,
	    it->new_id, ds, it->why, sizeof(it->why)));
}

int
commit_publish(struct commit_ctx *c, int dirfd, const char *name, uint64_t ino,
    const char *want, char *new_id, char *why, size_t whysize)
{
	struct dirset	 ds = { NULL, 0 };
	size_t		 i;
	int		 rc = 0;

	if (publish_at(c, dirfd, name, ino, want, new_id, &ds, why,
	    whysize) < 0) {
		int	 saved = errno;

		free(ds.rel);
		errno = saved;
		return (-1);
	}
	for (i = 0; i < ds.n; i++) {
		if (queue_fsync_dirat(c->qdirfd, ds.rel[i]) < 0) {
			(void)snprintf(why, whysize, "fsync %s/%s: %s",
			    c->ql->queue_dir, ds.rel[i], strerror(errno));
			rc = 1;
		}
	}
	free(ds.rel);
	return (rc);
}

static int
sync_batch(struct commit_ctx *c, struct commit_item *items, size_t n)
{
	size_t	 i;

	if (c->conf->fsync_method == FSYNC_SYNCFS) {
		for (i = 0; i < n; i++)
			if (items[i].sfd >= 0)
				return (syncfs(c->staging_fd));
		return (0);
	}
	return (0);	/* FSYNC_FILE: done per file in write_staging() */
}

int
commit_batch(struct commit_ctx *c, struct commit_item *items, size_t n,
    char **error_r)
{
	struct quarantine_entry *qe;
	struct journal_entry je;
	struct dirset	 ds = { NULL, 0 };
	DB_TXN		*txn = NULL;
	size_t		 i, published = 0, journaled = 0;
	bool		 unlinked = false;
	char		*error = NULL;

	qe = xcalloc(n ? n : 1, sizeof(*qe));
	for (i = 0; i < n; i++) {
		items[i].sfd = -1;
		items[i].sname[0] = '\0';
		items[i].why[0] = '\0';
		items[i].new_id[0] = '\0';
		items[i].quarantine_id[0] = '\0';
		items[i].jkind = 0;
		items[i].outcome = COMMIT_DONE;
	}

	/* 1. New files and quarantine copies; set-aside messages go back now. */
	for (i = 0; i < n; i++) {
		struct commit_item *it = &items[i];

		if (makes_new_file(it->action)) {
			if (write_staging(c, it) < 0)
				return_item(c, it, NULL);
			else
				it->jkind = JOURNAL_DELIVER;
		} else if (it->action == ACTION_DROP) {
			it->jkind = JOURNAL_DROP;
		} else if (it->action == ACTION_QUARANTINE && c->quarantine) {
			if (quarantine_store(c->quarantine, it->fd, it->qf, it->id,
			    it->verdict ? it->verdict : "", it->reason, &qe[i],
			    &error) < 0) {
				(void)snprintf(it->why, sizeof(it->why), "%s", error);
				free(error);
				error = NULL;
				return_item(c, it, NULL);
			} else {
				it->jkind = JOURNAL_QUARANTINE;
			}
		} else {
			set_aside(c, it);
		}
	}
	if (sync_batch(c, items, n) < 0) {
		*error_r = xasprintf("syncfs %s/%s: %s", c->ql->queue_dir,
		    c->staging, strerror(errno));
		goto fail_all;
	}

	/* 2. The intent, durably, with the quarantine index entries. */
	for (i = 0; i < n; i++)
		if (items[i].jkind != 0)
			journaled++;
	if (journaled > 0) {
		if (journal_begin(c->journal, &txn, error_r) < 0)
			goto fail_all;
		for (i = 0; i < n; i++) {
			if (items[i].jkind == 0)
				continue;
			entry_for(c, &items[i], &je);
			if (items[i].jkind == JOURNAL_QUARANTINE)
				(void)snprintf(je.extra, sizeof(je.extra), "%s",
				    qe[i].qid);
			if (journal_add(c->journal, txn, &je, error_r) < 0 ||
			    (items[i].jkind == JOURNAL_QUARANTINE &&
			    quarantine_index(c->quarantine, txn, &qe[i],
			    error_r) < 0))
				goto fail_all;
		}
		if (journal_commit(c->journal, txn, error_r) < 0) {
			txn = NULL;
			goto fail_all;
		}
		txn = NULL;
		for (i = 0; i < n; i++)
			if (items[i].jkind == JOURNAL_QUARANTINE)
				(void)snprintf(items[i].quarantine_id,
				    sizeof(items[i].quarantine_id), "%s",
				    qe[i].qid);
	}

	/* 3. Publish into incoming; sync each directory touched once. */
	for (i = 0; i < n; i++) {
		struct commit_item *it = &items[i];

		if (it->jkind != JOURNAL_DELIVER)
			continue;
		if (publish(c, it, &ds) == 0) {
			(void)close(it->sfd);
			it->sfd = -1;
			published++;
			continue;
		}
		/* Not renamed: as recovery would, undo and forget the intent. */
		entry_for(c, it, &je);
		return_item(c, it, NULL);
		if (journal_del(c->journal, &je, 1, &error) < 0)
			free(error);	/* recovery finds the staging file gone: no-op */
		error = NULL;
		it->jkind = 0;
	}
	for (i = 0; i < ds.n; i++) {
		size_t	 k;

		if (queue_fsync_dirat(c->qdirfd, ds.rel[i]) == 0)
			continue;
		/* Published but not known to be durable: let recovery decide. */
		for (k = 0; k < n; k++) {
			if (items[k].jkind == JOURNAL_DELIVER) {
				(void)snprintf(items[k].why, sizeof(items[k].why),
				    "fsync %s/%s: %s", c->ql->queue_dir, ds.rel[i],
				    strerror(errno));
				items[k].outcome = COMMIT_LEFT;
				items[k].jkind = 0;
			}
		}
		break;
	}

	/* 4. The originals go; then the intents. */
	for (i = 0; i < n; i++) {
		struct commit_item *it = &items[i];

		if (it->jkind == 0)
			continue;
		if (unlinkat(c->claimed_fd, it->id, 0) < 0 && errno != ENOENT) {
			(void)snprintf(it->why, sizeof(it->why), "unlink %s/%s: %s",
			    c->claimed, it->id, strerror(errno));
			it->outcome = COMMIT_LEFT;
			it->jkind = 0;
			continue;
		}
		unlinked = true;
	}
	if (unlinked && queue_fsync_dir(c->claimed_fd) < 0) {
		for (i = 0; i < n; i++)
			if (items[i].jkind != 0) {
				(void)snprintf(items[i].why, sizeof(items[i].why),
				    "fsync %s/%s: %s", c->ql->queue_dir, c->claimed,
				    strerror(errno));
				items[i].outcome = COMMIT_LEFT;
				items[i].jkind = 0;
			}
	}
	for (i = 0; i < n; i++) {
		if (items[i].jkind == 0)
			continue;
		entry_for(c, &items[i], &je);
		if (journal_del(c->journal, &je, 1, &error) < 0) {
			/* Done, but recovery will look at it again: harmless. */
			(void)snprintf(items[i].why, sizeof(items[i].why), "%s",
			    error);
			items[i].outcome = COMMIT_LEFT;
			free(error);
			error = NULL;
		}
	}
	for (i = 0; i < n; i++) {
		if (items[i].fd >= 0) {
			(void)close(items[i].fd);	/* releases the lock */
			items[i].fd = -1;
		}
		quarantine_entry_clear(&qe[i]);
	}
	free(ds.rel);
	free(qe);
	return ((int)published);

fail_all:
	journal_abort(txn);
	for (i = 0; i < n; i++) {
		if (items[i].jkind == JOURNAL_QUARANTINE)
			quarantine_discard(c->quarantine, &qe[i]);
		if (items[i].jkind != 0)
			return_item(c, &items[i], *error_r);
		items[i].jkind = 0;
		if (items[i].fd >= 0) {
			(void)close(items[i].fd);
			items[i].fd = -1;
		}
		quarantine_entry_clear(&qe[i]);
	}
	free(ds.rel);
	free(qe);
	return (-1);
}

/* Does rel (relative to the queue dir) exist with inode ino? */
static int
exists_as(struct commit_ctx *c, const char *rel, uint64_t ino)
{
	struct stat	 st;

	if (fstatat(c->qdirfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return (errno == ENOENT ? 0 : -1);
	return ((uint64_t)st.st_ino == ino ? 1 : 0);
}

static const char *
base_name(const char *rel)
{
	const char	*s = strrchr(rel, '/');

	return (s ? s + 1 : rel);
}

static int
recover_entry(struct commit_ctx *c, const struct journal_entry *e)
{
	const char	*id = base_name(e->orig);
	int		 orig, staged;

	if ((orig = exists_as(c, e->orig, e->orig_ino)) < 0)
		return (-1);
	switch (e->kind) {
	case JOURNAL_DELIVER:
		if ((staged = exists_as(c, e->staging, e->staging_ino)) < 0)
			return (-1);
		if (staged) {
			/* Never renamed: undo; the original is scanned again. */
			if (unlinkat(c->qdirfd, e->staging, 0) < 0)
				return (-1);
			if (orig && claim_return(c->ql, c->qdirfd, c->claimed,
			    id) < 0)
				return (-1);
			hs_info("%s: recovery: batch interrupted before delivery, "
			    "returned to hold", id);
			return (0);
		}
		/* It is in incoming (or delivered already): finish below. */
		__attribute__((fallthrough));
	case JOURNAL_DROP:
	case JOURNAL_QUARANTINE:
		if (orig) {
			if (unlinkat(c->qdirfd, e->orig, 0) < 0)
				return (-1);
			hs_info("%s: recovery: finished interrupted %s", id,
			    e->kind == JOURNAL_DELIVER ? "delivery" :
			    e->kind == JOURNAL_DROP ? "drop" : "quarantine");
		}
		return (0);
	default:
		/* Not a batch's (releases are recovered by recover_release()). */
		return (1);
	}
}

/* Return what a crash left in claimed/ to hold; remove what it left in staging/. */
static int
recover_strays(struct commit_ctx *c)
{
	struct dirent	*de;
	DIR		*dir;
	int		 fd, rc = 0;

	if ((fd = openat(c->claimed_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || (dir = fdopendir(fd)) == NULL)
		return (-1);
	while ((de = readdir(dir)) != NULL) {
		if (!queue_id_ok(de->d_name))
			continue;
		if (claim_return(c->ql, c->qdirfd, c->claimed, de->d_name) < 0) {
			hs_warn("%s: recovery: cannot return %s/%s to hold",
			    de->d_name, c->claimed, de->d_name);
			rc = -1;
		} else {
			hs_info("%s: recovery: returned to hold", de->d_name);
		}
	}
	(void)closedir(dir);
	if ((fd = openat(c->staging_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || (dir = fdopendir(fd)) == NULL)
		return (-1);
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(c->staging_fd, de->d_name, 0) < 0 && errno != ENOENT)
			rc = -1;
	}
	(void)closedir(dir);
	if (queue_fsync_dir(c->claimed_fd) < 0 ||
	    queue_fsync_dir(c->staging_fd) < 0 ||
	    queue_fsync_dirat(c->qdirfd, QUEUE_HOLD) < 0)
		rc = -1;
	return (rc);
}

/* Is e a release of the holdscan tool (kind R, staging file in release/)? */
static bool
is_release(const struct commit_ctx *c, const struct journal_entry *e)
{
	size_t	 n = strlen(c->release);

	return (e->kind == JOURNAL_RELEASE &&
	    strncmp(e->staging, c->release, n) == 0 && e->staging[n] == '/');
}

/*
 * A release is decided once its entry is committed: finish it. The
 * staging file still there means it was not renamed yet: rename it now
 * (under the id the entry planned). Gone (or another inode under the
 * name): it was renamed. Returns 0 done, 1 renamed but not known to be
 * durable (keep the entry), -1 error.
 */
static int
recover_release(struct commit_ctx *c, const struct journal_entry *e,
    bool *published)
{
	const char	*want = e->target[0] ? base_name(e->target) : NULL;
	char		 new_id[QUEUE_ID_SIZE], why[256], *error = NULL;
	int		 staged, r;

	if ((staged = exists_as(c, e->staging, e->staging_ino)) < 0)
		return (-1);
	if (!staged)
		return (0);
	r = commit_publish(c, c->release_fd, base_name(e->staging),
	    e->staging_ino, want, new_id, why, sizeof(why));
	if (r < 0)
		return (errno == ENOENT ? 0 : -1);	/* ENOENT: done meanwhile */
	*published = true;
	if (c->quarantine != NULL && (want == NULL || strcmp(want, new_id)) &&
	    quarantine_set_new_id(c->quarantine, e->extra, new_id, &error) < 0) {
		hs_warnx("%s: %s", e->extra, error);
		free(error);
	}
	hs_info("%s: recovery: finished interrupted release new_id=%s",
	    e->extra, new_id);
	if (r > 0)
		hs_warnx("%s: %s", e->extra, why);
	return (r);
}

/*
 * Remove files in release/ that no journal entry names and nobody holds
 * locked: a release interrupted before its entry was committed (the
 * message is still held in the quarantine). The tool holds its staging
 * file locked from before it checks the name until it is done, so a
 * locked file is work in progress.
 */
static int
sweep_release(struct commit_ctx *c)
{
	struct journal_entry *v;
	struct dirent	*de;
	struct stat	 st, lst;
	DIR		*dir;
	char		 rel[QUEUE_PATH_SIZE], *error = NULL;
	size_t		 n, i;
	int		 fd, dfd, removed = 0;

	if ((dfd = openat(c->release_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || (dir = fdopendir(dfd)) == NULL) {
		if (dfd >= 0)
			(void)close(dfd);
		return (-1);
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((fd = openat(c->release_fd, de->d_name, O_RDONLY |
		    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
			continue;
		if (queue_lock_try(fd) < 0 || fstat(fd, &st) < 0 ||
		    fstatat(c->release_fd, de->d_name, &lst,
		    AT_SYMLINK_NOFOLLOW) < 0 || st.st_ino != lst.st_ino) {
			(void)close(fd);
			continue;
		}
		(void)snprintf(rel, sizeof(rel), "%s/%s", c->release, de->d_name);
		if (journal_list(c->journal, &v, &n, &error) < 0) {
			hs_warnx("%s", error);
			free(error);
			error = NULL;
			(void)close(fd);
			continue;
		}
		for (i = 0; i < n; i++)
			if (strcmp(v[i].staging, rel) == 0)
				break;
		if (i == n && unlinkat(c->release_fd, de->d_name, 0) == 0) {
			hs_info("recovery: removed %s/%s, a release interrupted "
			    "before it was committed", c->ql->queue_dir, rel);
			removed++;
		}
		free(v);
		(void)close(fd);
	}
	(void)closedir(dir);
	if (removed > 0 && queue_fsync_dir(c->release_fd) < 0)
		return (-1);
	return (0);
}

static int
recover_journal(struct commit_ctx *c, bool batches, bool strays,
    char **error_r)
{
	struct journal_entry *v = NULL;
	size_t		 n = 0, i;
	bool		 published = false;
	int		 r;

	if (journal_list(c->journal, &v, &n, error_r) < 0)
		return (-1);
	for (i = 0; i < n; i++) {
		if (is_release(c, &v[i]))
			r = recover_release(c, &v[i], &published);
		else if (batches && strncmp(v[i].orig, c->claimed,
		    strlen(c->claimed)) == 0)
			r = recover_entry(c, &v[i]);
		else
			continue;	/* someone else's */
		if (r < 0) {
			*error_r = xasprintf("recovery of %s: %s", v[i].orig,
			    strerror(errno));
			free(v);
			return (-1);
		}
		if (r == 0 && journal_del(c->journal, &v[i], 1, error_r) < 0) {
			free(v);
			return (-1);
		}
	}
	free(v);
	if (strays && sweep_release(c) < 0) {
		*error_r = xasprintf("recovery of %s/%s: %s", c->ql->queue_dir,
		    c->release, strerror(errno));
		return (-1);
	}
	if (published && queue_trigger(c->ql, "qmgr", "I") < 0)
		hs_debug("cannot wake qmgr: %s", strerror(errno));
	return (0);
}

int
commit_recover(struct commit_ctx *c, bool strays, char **error_r)
{
	if (recover_journal(c, true, strays, error_r) < 0)
		return (-1);
	if (strays && recover_strays(c) < 0) {
		*error_r = xasprintf("recovery of %s/%s: %s", c->ql->queue_dir,
		    c->claimed, strerror(errno));
		return (-1);
	}
	return (0);
}

int
commit_recover_releases(struct commit_ctx *c, char **error_r)
{
	return (recover_journal(c, false, true, error_r));
}

bool
commit_pending(struct commit_ctx *c)
{
	struct journal_entry *v = NULL;
	size_t		 n = 0, i;
	char		*error = NULL;
	bool		 any = false;

	if (journal_list(c->journal, &v, &n, &error) < 0) {
		free(error);
		return (true);
	}
	for (i = 0; i < n; i++)
		if (strncmp(v[i].orig, c->claimed, strlen(c->claimed)) == 0)
			any = true;
	free(v);
	return (any);
}
