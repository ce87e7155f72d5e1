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
 *	A new queue file of a message delivered with verdict v gets the
 *	policy's copy_v addresses (configuration only, never a worker's
 *	word) as added recipients, each with DSN NOTIFY=NEVER (no bounce or
 *	delay notice about a copy goes to the sender), after the original's
 *	own; one log line names them.
 *
 *	With archive_directory, the content of each new queue file is also
 *	written there, DIR/YYYY-MM-DD/ID.eml (UTC; ID the original's hold
 *	name, so a message committed again replaces its copy), through a
 *	temporary name and a rename; best effort: a failure is a warning,
 *	the mail goes on.
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

#include "commit/claim.h"
#include "commit/commit.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/mailhdr.h"
#include "common/qfile.h"
#include "common/ruleconf.h"
#include "common/text.h"
#include "common/verdict.h"
#include "common/xalloc.h"

#define TARGET_TRIES	100

/*
 * What commit_batch() keeps for each message while it runs; everything
 * else it reads from and writes to the message itself.
 */
struct item {
	struct msg	*m;
	char		 sname[QUEUE_ID_SIZE + 8];	/* in staging/ */
	int		 sfd;
	uint64_t	 sino;
	char		 planned[QUEUE_ID_SIZE];	/* its id in incoming */
	char		 qpath[QUEUE_PATH_SIZE];	/* quarantine copy */
	int		 jkind;		/* journal kind, 0 if not journaled */
	uint64_t	 logseq;	/* its message log record, 0: none */
	struct quarantine_entry qe;	/* ACTION_QUARANTINE: its copy */
};

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
	c->claimed_fd = c->staging_fd = c->release_fd = c->intent_fd = -1;
	c->as_root = geteuid() == 0;
	(void)snprintf(c->claimed, sizeof(c->claimed), "%s/claimed",
	    conf->holdscan_queue_subdir);
	(void)snprintf(c->staging, sizeof(c->staging), "%s/staging",
	    conf->holdscan_queue_subdir);
	(void)snprintf(c->release, sizeof(c->release), "%s/release",
	    conf->holdscan_queue_subdir);
	(void)snprintf(c->intent, sizeof(c->intent), "%s/intent",
	    conf->holdscan_queue_subdir);
	if ((c->claimed_fd = open_subdir(c, c->claimed, error_r)) < 0 ||
	    (c->staging_fd = open_subdir(c, c->staging, error_r)) < 0 ||
	    (c->release_fd = open_subdir(c, c->release, error_r)) < 0 ||
	    (c->intent_fd = open_subdir(c, c->intent, error_r)) < 0) {
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
	if (c->intent_fd >= 0)
		(void)close(c->intent_fd);
	c->claimed_fd = c->staging_fd = c->release_fd = c->intent_fd = -1;
}

static bool
makes_new_file(enum policy_action a)
{
	return (a == ACTION_DELIVER || a == ACTION_TAG || a == ACTION_CLEAN);
}

/*
 * The envelope of m's new queue file: env[n] with an R record, preceded
 * by "A notify_flags=1" (NOTIFY=NEVER), for each address of the
 * policy's copy_<verdict> list, or of the copies m's worker named (its
 * rules'): of those, only the addresses the configuration lists for the
 * verdict (config_copy_listed()), and each once; NULL when there is
 * none. The records point into *store (owned by the caller, with the
 * array).
 */
static struct qfile_rec *
copy_envelope(const struct hs_config *conf, const struct msg *m,
    const struct qfile_rec *env, size_t n, size_t *n_r, char **store,
    struct buf *names)
{
	const char	*list;
	struct qfile_rec *v;
	char		*p, *save = NULL, *w, shown[120], needle[300];
	size_t		 k;

	*store = NULL;
	if ((unsigned)m->verdict >= VERDICT_COUNT)
		return (NULL);
	list = m->copies != NULL ? m->copies : conf->copy_to[m->verdict];
	if (list == NULL || list[0] == '\0')
		return (NULL);
	*store = p = xstrdup(list);
	v = xcalloc(n + 2 * CONFWORD_ADDRESSES_MAX, sizeof(*v));
	memcpy(v, env, n * sizeof(*v));
	k = n;
	for (w = strtok_r(p, ", \t", &save); w != NULL &&
	    k + 2 <= n + 2 * CONFWORD_ADDRESSES_MAX; w = strtok_r(NULL, ", \t",
	    &save)) {
		if (m->copies != NULL && !config_copy_listed(conf,
		    m->verdict, w, strlen(w))) {
			(void)snprintf(shown, sizeof(shown), "%s", w);
			(void)text_safe(shown, strlen(shown), false);
			hs_warnx("%s: copy to <%s> refused: in no copy_%s "
			    "list", m->id, shown, verdict_name(m->verdict));
			continue;
		}
		(void)snprintf(needle, sizeof(needle), "<%s>", w);
		if (names->data != NULL && strstr(names->data, needle) != NULL)
			continue;	/* once */
		v[k].type = QREC_ATTR;
		v[k].data = "notify_flags=1";
		v[k].len = 14;
		k++;
		v[k].type = QREC_RCPT;
		v[k].data = w;
		v[k].len = strlen(w);
		k++;
		buf_printf(names, "%s<%s>", names->len ? "," : "", w);
	}
	if (k == n) {
		free(v);
		free(*store);
		*store = NULL;
		return (NULL);
	}
	*n_r = k;
	return (v);
}

/* Write all of b to fd; -1 with errno. */
static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* archive_directory: a copy of the content m is delivered with. */
static void
archive_copy(const struct commit_ctx *c, const struct msg *m,
    const struct qfile_parts *parts)
{
	struct buf	 text = BUF_INIT;
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		 day[16], dir[4096], tmp[4200], path[4200];
	int		 fd = -1;

	if (c->conf->archive_directory == NULL ||
	    c->conf->archive_directory[0] == '\0' || m->no_archive)
		return;
	(void)gmtime_r(&now, &tm);
	(void)strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s",
	    c->conf->archive_directory, day) >= sizeof(dir) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, m->id) >=
	    sizeof(tmp) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s.eml", dir, m->id) >=
	    sizeof(path)) {
		hs_warnx("%s: archive: path too long", m->id);
		return;
	}
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		hs_warn("%s: archive: mkdir %s", m->id, dir);
		return;
	}
	qfile_content_text(parts->content, parts->ncontent, &text);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0640)) < 0)
		goto bad;
	if (write_all(fd, text.data ? text.data : "", text.len) < 0 ||
	    fsync(fd) < 0) {
		(void)close(fd);
		goto bad;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0)
		goto bad;
	hs_info("%s: archived as %s", m->id, path);
	buf_free(&text);
	return;
bad:
	hs_warn("%s: archive: %s", m->id, path);
	(void)unlink(tmp);
	buf_free(&text);
}

/* Write item's new queue file in staging/, ready mode; not yet durable. */
static int
write_staging(struct commit_ctx *c, struct item *it)
{
	struct qfile_parts parts;
	struct qfile_error err;
	struct qfile_rec *env = NULL;
	struct buf	 names = BUF_INIT;
	struct stat	 st;
	char		*store = NULL;
	size_t		 nenv = 0;
	int		 fd, tries;

	(void)snprintf(it->sname, sizeof(it->sname), "%s", it->m->id);
	for (tries = 0;; tries++) {
		fd = openat(c->staging_fd, it->sname, O_WRONLY | O_CREAT |
		    O_EXCL | O_CLOEXEC, QUEUE_MODE_NEW);
		if (fd >= 0)
			break;
		/* A leftover of an interrupted batch of ours: nothing refers to it. */
		if (errno != EEXIST || tries > 0 ||
		    unlinkat(c->staging_fd, it->sname, 0) < 0) {
			(void)snprintf(it->m->why, sizeof(it->m->why),
			    "create %s/%s: %s", c->staging, it->sname,
			    strerror(errno));
			return (-1);
		}
	}
	qfile_parts_of(it->m->qf, &parts);
	if (it->m->content != NULL) {
		parts.content = it->m->content;
		parts.ncontent = it->m->ncontent;
	}
	if ((env = copy_envelope(c->conf, it->m, parts.env, parts.nenv, &nenv,
	    &store, &names)) != NULL) {
		parts.env = env;
		parts.nenv = nenv;
	}
	if (c->as_root && fchown(fd, c->ql->owner_uid, c->ql->owner_gid) < 0) {
		(void)snprintf(it->m->why, sizeof(it->m->why), "chown %s/%s: %s",
		    c->staging, it->sname, strerror(errno));
		goto fail;
	}
	if (qfile_write(fd, &parts, &err) < 0) {
		(void)snprintf(it->m->why, sizeof(it->m->why), "write %s/%s: %s",
		    c->staging, it->sname, err.text);
		goto fail;
	}
	if (fchmod(fd, QUEUE_MODE_READY | (it->m->st.st_mode & S_IXGRP)) < 0 ||
	    fstat(fd, &st) < 0 ||
	    (c->conf->fsync_method == FSYNC_FILE && fsync(fd) < 0)) {
		(void)snprintf(it->m->why, sizeof(it->m->why),
		    "finish %s/%s: %s", c->staging, it->sname, strerror(errno));
		goto fail;
	}
	it->sfd = fd;
	it->sino = (uint64_t)st.st_ino;
	archive_copy(c, it->m, &parts);
	if (names.len > 0)
		hs_info("%s: copy to=%s verdict=%s", it->m->id, names.data,
		    verdict_name(it->m->verdict));
	free(env);
	free(store);
	buf_free(&names);
	return (0);
fail:
	(void)close(fd);
	(void)unlinkat(c->staging_fd, it->sname, 0);
	free(env);
	free(store);
	buf_free(&names);
	return (-1);
}

static void
drop_staging(struct commit_ctx *c, struct item *it)
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

/*
 * Put the original back into hold, unchanged; then drop its staging file.
 * In this order a crash in between leaves the original in hold and a
 * staging file that recovery removes; the other order could leave an
 * original in claimed/ without its staging file, which a journal entry
 * committed after all (a failed commit that reached the disk) would make
 * recovery take for a finished delivery.
 */
static void
return_item(struct commit_ctx *c, struct item *it, const char *why)
{
	if (why != NULL && it->m->why[0] == '\0')
		(void)snprintf(it->m->why, sizeof(it->m->why), "%s", why);
	if (claim_return(c->ql, c->qdirfd, c->claimed, it->m->id) < 0) {
		/* Still safe in claimed/: recovery at the next start returns it. */
		(void)snprintf(it->m->why + strlen(it->m->why),
		    sizeof(it->m->why) - strlen(it->m->why),
		    "; cannot return it to hold: %s", strerror(errno));
		it->m->outcome = COMMIT_LEFT;
		/* Keep the staging file: it tells recovery nothing was renamed. */
		if (it->sfd >= 0) {
			(void)close(it->sfd);
			it->sfd = -1;
		}
		return;
	}
	drop_staging(c, it);
	it->m->outcome = COMMIT_RETURNED;
}

/* Set aside: durable note first, then back to hold, where the watcher skips it. */
static void
set_aside(struct commit_ctx *c, struct item *it)
{
	struct aside_entry e;
	char		*error = NULL;

	memset(&e, 0, sizeof(e));
	(void)snprintf(e.id, sizeof(e.id), "%s", it->m->id);
	e.ino = (uint64_t)it->m->st.st_ino;
	e.when = time(NULL);
	(void)snprintf(e.reason, sizeof(e.reason), "%s%s%s",
	    verdict_name(it->m->verdict), it->m->reason[0] ? ": " : "",
	    it->m->reason);
	if (aside_put(c->aside, &e, &error) < 0) {
		(void)snprintf(it->m->why, sizeof(it->m->why), "%s", error);
		free(error);
		return_item(c, it, NULL);
		return;
	}
	if (claim_return(c->ql, c->qdirfd, c->claimed, it->m->id) < 0) {
		(void)snprintf(it->m->why, sizeof(it->m->why),
		    "cannot return to hold: %s", strerror(errno));
		it->m->outcome = COMMIT_RETURNED;
		return;
	}
	it->m->outcome = COMMIT_DONE;
}

static void
entry_for(struct commit_ctx *c, const struct item *it,
    struct journal_entry *e)
{
	const char	*slash;

	memset(e, 0, sizeof(*e));
	e->kind = it->jkind;
	(void)snprintf(e->orig, sizeof(e->orig), "%s/%s", c->claimed, it->m->id);
	e->orig_ino = (uint64_t)it->m->st.st_ino;
	if (it->jkind == JOURNAL_DELIVER) {
		(void)snprintf(e->staging, sizeof(e->staging), "%s/%s",
		    c->staging, it->sname);
		e->staging_ino = it->sino;
		if (it->planned[0] != '\0' && queue_path(c->ql, QUEUE_INCOMING,
		    it->planned, e->target) < 0)
			e->target[0] = '\0';
	} else if (it->jkind == JOURNAL_QUARANTINE && it->qpath[0] != '\0') {
		/* target: the copy, relative to quarantine_directory */
		(void)snprintf(e->target, sizeof(e->target), "%s", it->qpath);
		slash = strrchr(it->qpath, '/');
		(void)snprintf(e->extra, sizeof(e->extra), "%s",
		    slash ? slash + 1 : it->qpath);
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
sync_batch(struct commit_ctx *c, struct item *items, size_t n)
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

/*
 * Step 1: each message's new file (or quarantine copy) is written; a
 * set-aside message goes back to hold now. Not yet durable.
 */
static void
stage_all(struct commit_ctx *c, struct item *items, size_t n)
{
	char		*error = NULL;
	size_t		 i;

	for (i = 0; i < n; i++) {
		struct item *it = &items[i];

		if (makes_new_file(it->m->action)) {
			if (write_staging(c, it) < 0)
				return_item(c, it, NULL);
			else
				it->jkind = JOURNAL_DELIVER;
		} else if (it->m->action == ACTION_DROP) {
			it->jkind = JOURNAL_DROP;
		} else if (it->m->action == ACTION_QUARANTINE && c->quarantine) {
			if (quarantine_store(c->quarantine, it->m->fd, it->m->qf,
			    it->m->id, verdict_name(it->m->verdict),
			    it->m->reason, &it->qe, &error) < 0) {
				(void)snprintf(it->m->why, sizeof(it->m->why),
				    "%s", error);
				free(error);
				error = NULL;
				return_item(c, it, NULL);
			} else {
				it->jkind = JOURNAL_QUARANTINE;
				(void)snprintf(it->qpath, sizeof(it->qpath), "%s",
				    it->qe.relpath);
				if (it->qe.existing)
					hs_info("%s: quarantined already as %s "
					    "(an interrupted batch ran again)",
					    it->m->id, it->qe.qid);
			}
		} else {
			set_aside(c, it);
		}
	}
}

/* The queue id each new file will get in incoming, planned before it is journaled. */
static void
plan_targets(struct commit_ctx *c, struct item *items, size_t n)
{
	struct timeval	 tv;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (items[i].jkind != JOURNAL_DELIVER)
			continue;
		(void)gettimeofday(&tv, NULL);
		queue_id_make(c->ql->long_ids, (ino_t)items[i].sino, &tv,
		    items[i].planned);
	}
}

/*
 * The intent record: the batch's journal entries as a small file in
 * intent/, on the queue file system, written before the journal commit
 * and removed when the batch is done. It is not synced: with the journal
 * intact it is never needed; it tells recovery what the batch did when
 * the journal was lost or replaced (see commit_recover()).
 */
static int
write_intent(struct commit_ctx *c, const struct item *items, size_t n,
    char *name, size_t namesize, char **error_r)
{
	struct journal_entry je;
	struct buf	 out = BUF_INIT, line = BUF_INIT;
	struct timeval	 tv;
	size_t		 i;
	ssize_t		 w;
	int		 fd = -1, tries, saved;

	for (i = 0; i < n; i++) {
		if (items[i].jkind == 0)
			continue;
		entry_for(c, &items[i], &je);
		journal_entry_text(&je, &line);
		buf_append(&out, line.data, line.len);
		buf_putc(&out, '\n');
	}
	for (tries = 0; tries < 100 && fd < 0; tries++) {
		(void)gettimeofday(&tv, NULL);
		(void)snprintf(name, namesize, "%lx.%06lx.%ld.%d",
		    (unsigned long)tv.tv_sec, (unsigned long)tv.tv_usec,
		    (long)getpid(), tries);
		fd = openat(c->intent_fd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		goto fail;
	for (i = 0; i < out.len; i += (size_t)w) {
		if ((w = write(fd, out.data + i, out.len - i)) < 0 &&
		    errno == EINTR) {
			w = 0;
			continue;
		}
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			goto fail;
		}
	}
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	buf_free(&out);
	buf_free(&line);
	return (0);
fail:
	saved = errno;
	if (fd >= 0) {
		(void)close(fd);
		(void)unlinkat(c->intent_fd, name, 0);
	}
	*error_r = xasprintf("intent record %s/%s/%s: %s", c->ql->queue_dir,
	    c->intent, name, strerror(saved));
	buf_free(&out);
	buf_free(&line);
	errno = saved;
	return (-1);
}

/*
 * The message log's record of a journaled message, in the batch's
 * transaction: it is durable exactly when the intent is.
 */
static int
log_item(struct commit_ctx *c, DB_TXN *txn, struct item *it, char **error_r)
{
	const struct msg *m = it->m;
	const struct qfile *qf = m->qf;
	struct msglog_rec r;
	struct buf	 subject = BUF_INIT;
	struct timespec	 mono, real;
	const char	**rcpts;
	const char	*v;
	long		 now_mono_ms, in_flight;
	size_t		 i, n = 0;
	int		 rc;

	if (c->msglog == NULL)
		return (0);
	memset(&r, 0, sizeof(r));
	if (clock_gettime(CLOCK_MONOTONIC, &mono) < 0 ||
	    clock_gettime(CLOCK_REALTIME, &real) < 0) {
		*error_r = xasprintf("message log: clock_gettime: %s",
		    strerror(errno));
		return (-1);
	}
	now_mono_ms = (long)mono.tv_sec * 1000 + mono.tv_nsec / 1000000;
	in_flight = now_mono_ms - m->t_claim_ms;
	r.time = real.tv_sec;
	r.host = c->ql->myhostname != NULL ? c->ql->myhostname : "";
	r.orig_id = m->id;
	r.orig_ino = (uint64_t)m->st.st_ino;
	r.new_id = it->jkind == JOURNAL_DELIVER ? it->planned : "";
	r.quarantine_id = it->jkind == JOURNAL_QUARANTINE ? it->qe.qid : "";
	r.sender = qf != NULL && qf->sender != NULL ? qf->sender : "";
	rcpts = xcalloc(qf != NULL && qf->nrcpts ? qf->nrcpts : 1,
	    sizeof(*rcpts));
	for (i = 0; qf != NULL && i < qf->nrcpts; i++)
		if (qf->rcpts[i].state != QREC_DRCP)
			rcpts[n++] = qf->rcpts[i].address;
	r.rcpts = rcpts;
	r.nrcpts = n;
	r.size = (uint64_t)m->st.st_size;
	if (qf != NULL)
		mailhdr_subject(qf, MSGLOG_SUBJECT_MAX, &subject);
	buf_putc(&subject, '\0');
	subject.len = text_safe(subject.data, subject.len - 1, false);
	r.subject = subject.data;
	r.client = qf != NULL && (v = qfile_attr(qf, "client_address")) ?
	    v : "";
	r.sasl_user = qf != NULL && (v = qfile_attr(qf, "sasl_username")) ?
	    v : "";
	r.verdict = verdict_name(m->verdict);
	r.action = confword_action_name(m->action);
	r.reason = m->reason;
	r.plugins = m->plugins;
	r.scan_ms = (long)(m->scan_us / 1000);
	/* In hold until the claim: the age at commit less the time since. */
	r.queue_ms = qf != NULL && qf->arrival_sec > 0 ?
	    ((long)real.tv_sec - qf->arrival_sec) * 1000 +
	    real.tv_nsec / 1000000 - qf->arrival_usec / 1000 - in_flight : 0;
	if (r.queue_ms < 0)
		r.queue_ms = 0;
	rc = msglog_add(c->msglog, txn, &r, error_r);
	it->logseq = rc == 0 ? r.seq : 0;
	buf_free(&subject);
	free(rcpts);
	return (rc);
}

/*
 * Step 2: the intent record, then one synchronous transaction with every
 * message's journal entry, its message log record and the quarantine
 * index entries.
 */
static int
journal_batch(struct commit_ctx *c, struct item *items, size_t n,
    char *intent, size_t intentsize, char **error_r)
{
	struct journal_entry je;
	DB_TXN		*txn = NULL;
	size_t		 i;

	plan_targets(c, items, n);
	if (write_intent(c, items, n, intent, intentsize, error_r) < 0) {
		intent[0] = '\0';
		return (-1);
	}
	if (journal_begin(c->journal, &txn, error_r) < 0)
		return (-1);
	for (i = 0; i < n; i++) {
		if (items[i].jkind == 0)
			continue;
		entry_for(c, &items[i], &je);
		/* A message quarantined already is indexed already. */
		if (journal_add(c->journal, txn, &je, error_r) < 0 ||
		    log_item(c, txn, &items[i], error_r) < 0 ||
		    (items[i].jkind == JOURNAL_QUARANTINE &&
		    !items[i].qe.existing && quarantine_index(c->quarantine,
		    txn, &items[i].qe, error_r) < 0)) {
			journal_abort(txn);
			return (-1);
		}
	}
	if (journal_commit(c->journal, txn, error_r) < 0)
		return (-1);
	for (i = 0; i < n; i++)
		if (items[i].jkind == JOURNAL_QUARANTINE)
			(void)snprintf(items[i].m->quarantine_id,
			    sizeof(items[i].m->quarantine_id), "%s",
			    items[i].qe.qid);
	return (0);
}

/*
 * Forget a journaled message's entry durably because what it intended
 * did not happen (the message goes back to hold): its message log record
 * goes in the same transaction, so that the log never says it was
 * delivered; the rescan logs it again.
 */
static int
forget_undone(struct commit_ctx *c, const struct journal_entry *e,
    char **error_r)
{
	DB_TXN		*txn = NULL;
	const char	*id = strrchr(e->orig, '/');

	if (c->msglog == NULL)
		return (journal_del_sync(c->journal, e, 1, error_r));
	id = id != NULL ? id + 1 : e->orig;
	if (journal_begin(c->journal, &txn, error_r) < 0)
		return (-1);
	if (journal_remove(c->journal, txn, e, error_r) < 0 ||
	    msglog_retract(c->msglog, txn, id, e->orig_ino, error_r) < 0) {
		journal_abort(txn);
		return (-1);
	}
	return (journal_commit(c->journal, txn, error_r));
}

/*
 * Undo a journaled delivery whose new file was not renamed into incoming.
 * The entry goes first, durably: a crash after that leaves the original
 * in claimed/ and the staging file in staging/ with no entry, which
 * recovery puts right (original back to hold, staging file removed).
 * The other order would let a recovery find the entry, the original and
 * no staging file, and conclude the delivery had happened.
 */
static void
undo_item(struct commit_ctx *c, struct item *it)
{
	struct journal_entry je;
	char		*error = NULL;

	entry_for(c, it, &je);
	if (forget_undone(c, &je, &error) < 0) {
		/* Everything stays as it is: recovery undoes it. */
		(void)snprintf(it->m->why + strlen(it->m->why),
		    sizeof(it->m->why) - strlen(it->m->why), "; %s", error);
		free(error);
		it->m->outcome = COMMIT_LEFT;
		it->jkind = 0;
		return;
	}
	it->jkind = 0;
	/* Back to hold first, then the staging file (see return_item()). */
	return_item(c, it, NULL);
}

/*
 * Published under another id than the planned one (taken meanwhile): the
 * message log says which. Not synced: a crash may leave the planned id.
 */
static void
log_new_id(struct commit_ctx *c, const struct item *it)
{
	char	*error = NULL;

	if (c->msglog == NULL || it->logseq == 0)
		return;
	if (msglog_set_new_id(c->msglog, it->logseq, it->m->new_id,
	    &error) < 0) {
		hs_warnx("%s: %s", it->m->id, error);
		free(error);
	}
}

/*
 * A message of an interrupted batch whose journal was lost goes back to
 * hold, unpublished: a record the lost batch wrote goes (durably) too.
 */
static void
log_retract_lost(struct commit_ctx *c, const char *id, uint64_t ino)
{
	DB_TXN	*txn = NULL;
	char	*error = NULL;

	if (c->msglog == NULL || c->journal == NULL)
		return;
	if (journal_begin(c->journal, &txn, &error) < 0)
		goto fail;
	if (msglog_retract(c->msglog, txn, id, ino, &error) < 0) {
		journal_abort(txn);
		goto fail;
	}
	if (journal_commit(c->journal, txn, &error) < 0)
		goto fail;
	return;
fail:
	hs_warnx("%s: recovery: %s", id, error);
	free(error);
}

/* Step 3: publish into incoming; sync each directory touched once. */
static size_t
publish_all(struct commit_ctx *c, struct item *items, size_t n)
{
	struct dirset	 ds = { NULL, 0 };
	size_t		 i, k, published = 0;

	for (i = 0; i < n; i++) {
		struct item *it = &items[i];

		if (it->jkind != JOURNAL_DELIVER)
			continue;
		if (publish_at(c, c->staging_fd, it->sname, it->sino, it->planned,
		    it->m->new_id, &ds, it->m->why, sizeof(it->m->why)) == 0) {
			if (strcmp(it->m->new_id, it->planned) != 0)
				log_new_id(c, it);
			(void)close(it->sfd);
			it->sfd = -1;
			it->sname[0] = '\0';	/* renamed: nothing left to drop */
			published++;
			continue;
		}
		undo_item(c, it);
	}
	for (i = 0; i < ds.n; i++) {
		if (queue_fsync_dirat(c->qdirfd, ds.rel[i]) == 0)
			continue;
		/* Published but not known to be durable: let recovery decide. */
		for (k = 0; k < n; k++) {
			if (items[k].jkind == JOURNAL_DELIVER) {
				(void)snprintf(items[k].m->why,
				    sizeof(items[k].m->why), "fsync %s/%s: %s",
				    c->ql->queue_dir, ds.rel[i],
				    strerror(errno));
				items[k].m->outcome = COMMIT_LEFT;
				items[k].jkind = 0;
			}
		}
		break;
	}
	free(ds.rel);
	return (published);
}

/* Step 4: the originals go (durably); then the intents. */
static void
finish_all(struct commit_ctx *c, struct item *items, size_t n,
    const char *intent)
{
	struct journal_entry *je;
	size_t		 i, k = 0;
	bool		 unlinked = false;
	char		*error = NULL;

	for (i = 0; i < n; i++) {
		struct item *it = &items[i];

		if (it->jkind == 0)
			continue;
		if (unlinkat(c->claimed_fd, it->m->id, 0) < 0 &&
		    errno != ENOENT) {
			(void)snprintf(it->m->why, sizeof(it->m->why),
			    "unlink %s/%s: %s", c->claimed, it->m->id,
			    strerror(errno));
			it->m->outcome = COMMIT_LEFT;
			it->jkind = 0;
			continue;
		}
		unlinked = true;
	}
	if (unlinked && queue_fsync_dir(c->claimed_fd) < 0) {
		for (i = 0; i < n; i++)
			if (items[i].jkind != 0) {
				(void)snprintf(items[i].m->why,
				    sizeof(items[i].m->why), "fsync %s/%s: %s",
				    c->ql->queue_dir, c->claimed,
				    strerror(errno));
				items[i].m->outcome = COMMIT_LEFT;
				items[i].jkind = 0;
			}
	}
	je = xcalloc(n ? n : 1, sizeof(*je));
	for (i = 0; i < n; i++)
		if (items[i].jkind != 0)
			entry_for(c, &items[i], &je[k++]);
	/* One transaction; durable with the next batch or journal_settle(). */
	if (k > 0 && journal_del(c->journal, je, k, &error) < 0) {
		/* Done, but recovery will look at them again: harmless. */
		for (i = 0; i < n; i++) {
			if (items[i].jkind == 0)
				continue;
			(void)snprintf(items[i].m->why,
			    sizeof(items[i].m->why), "%s", error);
			items[i].m->outcome = COMMIT_LEFT;
		}
		free(error);
	}
	free(je);
	/*
	 * What is left unfinished is in the journal; the intent record only
	 * stands in for a lost journal during the batch, and must not outlive
	 * it (a message returned to hold may be claimed again).
	 */
	if (intent[0] != '\0' && unlinkat(c->intent_fd, intent, 0) < 0 &&
	    errno != ENOENT)
		hs_warn("cannot remove the intent record %s/%s/%s",
		    c->ql->queue_dir, c->intent, intent);
}

int
commit_batch(struct commit_ctx *c, struct msg **msgs, size_t n,
    char **error_r)
{
	struct item	*items;
	size_t		 i, journaled = 0;
	size_t		 published = 0;
	char		 intent[64] = "";

	items = xcalloc(n ? n : 1, sizeof(*items));
	for (i = 0; i < n; i++) {
		items[i].m = msgs[i];
		items[i].sfd = -1;
		items[i].m->why[0] = '\0';
		items[i].m->new_id[0] = '\0';
		items[i].m->quarantine_id[0] = '\0';
		items[i].m->outcome = COMMIT_DONE;
	}

	/* 1. New files and quarantine copies, durable. */
	stage_all(c, items, n);
	if (sync_batch(c, items, n) < 0) {
		*error_r = xasprintf("syncfs %s/%s: %s", c->ql->queue_dir,
		    c->staging, strerror(errno));
		goto fail_all;
	}
	/* 2. The intent, durably, with the quarantine index entries. */
	for (i = 0; i < n; i++)
		if (items[i].jkind != 0)
			journaled++;
	if (journaled > 0 && journal_batch(c, items, n, intent,
	    sizeof(intent), error_r) < 0)
		goto fail_all;
	/* 3. Into incoming. */
	published = publish_all(c, items, n);
	/* 4. The originals go; then the intents. */
	finish_all(c, items, n, intent);
	for (i = 0; i < n; i++) {
		if (items[i].m->fd >= 0) {
			(void)close(items[i].m->fd);	/* releases the lock */
			items[i].m->fd = -1;
		}
		quarantine_entry_clear(&items[i].qe);
	}
	free(items);
	return ((int)published);

fail_all:
	/* Nothing was journaled (the transaction aborted): plain returns. */
	for (i = 0; i < n; i++) {
		if (items[i].jkind == JOURNAL_QUARANTINE &&
		    !items[i].qe.existing)
			quarantine_discard(c->quarantine, &items[i].qe);
		if (items[i].jkind != 0)
			return_item(c, &items[i], *error_r);
		items[i].jkind = 0;
		if (items[i].m->fd >= 0) {
			(void)close(items[i].m->fd);
			items[i].m->fd = -1;
		}
		quarantine_entry_clear(&items[i].qe);
	}
	if (intent[0] != '\0')
		(void)unlinkat(c->intent_fd, intent, 0);
	free(items);
	return (-1);
}

int
commit_settle(struct commit_ctx *c, const char *id, char **error_r)
{
	char	 key[QUEUE_PATH_SIZE];

	(void)snprintf(key, sizeof(key), "%s/%s", c->claimed, id);
	return (journal_settle(c->journal, key, error_r));
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

/* What recovery did, for the caller's wake-up of qmgr and the log. */
struct recovery {
	struct journal_entry *done;	/* finished: forget after the fsync */
	size_t		 ndone;
	bool		 unlinked;	/* claimed/ needs an fsync */
	bool		 published;	/* something is in incoming: wake qmgr */
};

static void
recovery_done(struct recovery *rs, const struct journal_entry *e)
{
	rs->done = xreallocarray(rs->done, rs->ndone + 1, sizeof(*rs->done));
	rs->done[rs->ndone++] = *e;
}

/*
 * A batch's entry. A staging file still there was never renamed: undo,
 * forgetting the entry durably first (see undo_item()), then the
 * original back to hold, then the staging file. Gone, it was renamed
 * (nothing else removes a journaled staging file): finish by removing
 * the original; the entry is forgotten after claimed/ is synced.
 * Returns 0, 1 (not a batch entry), or -1 with errno.
 */
static int
recover_entry(struct commit_ctx *c, const struct journal_entry *e,
    struct recovery *rs)
{
	const char	*id = base_name(e->orig);
	char		*error = NULL;
	int		 orig, staged, there;

	if (!queue_id_ok(id)) {
		/* A damaged entry: it names no claimed file; keep it, say so. */
		hs_warnx("recovery: journal entry %s does not name a queue file; "
		    "left as it is", e->orig);
		return (1);
	}
	if ((orig = exists_as(c, e->orig, e->orig_ino)) < 0)
		return (-1);
	switch (e->kind) {
	case JOURNAL_DELIVER:
		if ((staged = exists_as(c, e->staging, e->staging_ino)) < 0)
			return (-1);
		if (staged) {
			if (forget_undone(c, e, &error) < 0) {
				hs_warnx("%s: recovery: %s", id, error);
				free(error);
				errno = EIO;
				return (-1);
			}
			if (orig && claim_return(c->ql, c->qdirfd, c->claimed,
			    id) < 0)
				return (-1);
			if (unlinkat(c->qdirfd, e->staging, 0) < 0 &&
			    errno != ENOENT)
				return (-1);
			if (orig)
				hs_info("%s: recovery: batch interrupted before "
				    "delivery; returned to hold", id);
			else
				hs_warnx("%s: recovery: batch interrupted before "
				    "delivery, but the original is no longer in "
				    "%s/%s; removed its unpublished new file",
				    id, c->ql->queue_dir, c->claimed);
			return (0);
		}
		/* It is in incoming (or delivered already): finish below. */
		__attribute__((fallthrough));
	case JOURNAL_DROP:
	case JOURNAL_QUARANTINE:
		if (orig) {
			if (unlinkat(c->qdirfd, e->orig, 0) < 0)
				return (-1);
			rs->unlinked = true;
			if (e->kind == JOURNAL_DELIVER) {
				there = e->target[0] != '\0' ?
				    exists_as(c, e->target, e->staging_ino) : 0;
				hs_info("%s: recovery: finished interrupted delivery "
				    "new_id=%s%s", id, e->target[0] ?
				    base_name(e->target) : "?", there > 0 ? "" :
				    " (no longer in incoming: Postfix has it)");
				if (there > 0)
					rs->published = true;
			} else {
				hs_info("%s: recovery: finished interrupted %s%s%s",
				    id, e->kind == JOURNAL_DROP ? "drop" :
				    "quarantine", e->extra[0] ?
				    " quarantine_id=" : "", e->extra);
			}
		}
		recovery_done(rs, e);
		return (0);
	default:
		/* Not a batch's (releases are recovered by recover_release()). */
		return (1);
	}
}

/* Is the file claimed/name held locked by a live process (a claim in flight)? */
static bool
claimed_locked(struct commit_ctx *c, const char *name)
{
	int	 fd, locked;

	if ((fd = openat(c->claimed_fd, name, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) < 0)
		return (false);
	locked = queue_lock_test(fd) == 1;
	(void)close(fd);
	return (locked);
}

/*
 * Return what a crash left in claimed/ to hold; remove what it left in
 * staging/. A file someone holds locked is not returned: a live process
 * (another holdscand that got round the queue lock, say) is working on it.
 */
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
		if (claimed_locked(c, de->d_name)) {
			hs_warnx("%s: recovery: %s/%s is locked by another "
			    "process; left where it is", de->d_name, c->claimed,
			    de->d_name);
			continue;
		}
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

/*
 * An intent record's entry whose original is still in claimed/ although
 * the journal has no entry for it: the journal was lost or replaced (or a
 * crash came between an undo's forgetting and its return to hold). If
 * the new file was never published (the staging file is still there, or
 * the entry made no new file), returning the original to hold is right,
 * and the stray pass does it: at worst the message is scanned again (a
 * quarantine copy is found again, not made twice). If it was published,
 * the message was very likely delivered already: set it aside in hold,
 * loudly, for the admin, rather than deliver it twice or lose it.
 */
static int
recover_intent_entry(struct commit_ctx *c, const struct journal_entry *e,
    size_t *aside_n)
{
	struct aside_entry ae;
	const char	*id = base_name(e->orig);
	char		*error = NULL;
	int		 orig, staged;

	if (strncmp(e->orig, c->claimed, strlen(c->claimed)) != 0 ||
	    !queue_id_ok(id))
		return (0);
	if ((orig = exists_as(c, e->orig, e->orig_ino)) <= 0)
		return (orig);
	if (claimed_locked(c, id))
		return (0);
	if (e->kind != JOURNAL_DELIVER) {
		hs_warnx("%s: recovery: the journal has no entry for this "
		    "message of an interrupted batch (%s); nothing was "
		    "published: it is scanned again", id, e->kind ==
		    JOURNAL_QUARANTINE ? "quarantine" : "drop");
		log_retract_lost(c, id, e->orig_ino);
		return (0);
	}
	if ((staged = exists_as(c, e->staging, e->staging_ino)) < 0)
		return (-1);
	if (staged) {
		hs_warnx("%s: recovery: the journal has no entry for this "
		    "message of an interrupted batch; its new file was not "
		    "published: it is scanned again", id);
		log_retract_lost(c, id, e->orig_ino);
		return (0);
	}
	memset(&ae, 0, sizeof(ae));
	(void)snprintf(ae.id, sizeof(ae.id), "%s", id);
	ae.ino = e->orig_ino;
	ae.when = time(NULL);
	(void)snprintf(ae.reason, sizeof(ae.reason), "journal lost: published "
	    "as %s, probably delivered; check the mail log for it, then "
	    "postsuper -d %s or postsuper -r %s (scan, deliver again)",
	    e->target[0] ? base_name(e->target) : "?", id, id);
	if (c->aside == NULL || aside_put(c->aside, &ae, &error) < 0) {
		hs_warnx("%s: recovery: %s; left in %s/%s", id,
		    error ? error : "no set-aside list", c->ql->queue_dir,
		    c->claimed);
		free(error);
		errno = EIO;
		return (-1);
	}
	if (claim_return(c->ql, c->qdirfd, c->claimed, id) < 0)
		return (-1);
	hs_warnx("%s: recovery: the journal has no entry for this message of "
	    "an interrupted batch, and its new queue file new_id=%s had been "
	    "published: it was probably delivered. Set aside in hold: check "
	    "the mail log, then postsuper -d %s or postsuper -r %s", id,
	    e->target[0] ? base_name(e->target) : "?", id, id);
	(*aside_n)++;
	return (0);
}

/* Every intent record left in intent/: see recover_intent_entry(). */
static int
recover_intents(struct commit_ctx *c, size_t *aside_n)
{
	struct journal_entry e;
	struct dirent	*de;
	struct stat	 st;
	DIR		*dir;
	char		*data, *line, *nl;
	ssize_t		 r;
	int		 fd, dfd, rc = 0;

	if ((dfd = openat(c->intent_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return (-1);
	if ((dir = fdopendir(dfd)) == NULL) {
		(void)close(dfd);
		return (-1);
	}
	while ((de = readdir(dir)) != NULL && rc == 0) {
		if (de->d_name[0] == '.')
			continue;
		if ((fd = openat(c->intent_fd, de->d_name, O_RDONLY |
		    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0 ||
		    fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_size > 64 * 1024 * 1024) {
			hs_warnx("recovery: %s/%s/%s: not an intent record; "
			    "ignored", c->ql->queue_dir, c->intent, de->d_name);
			if (fd >= 0)
				(void)close(fd);
			continue;
		}
		data = xmalloc((size_t)st.st_size + 1);
		r = pread(fd, data, (size_t)st.st_size, 0);
		(void)close(fd);
		if (r < 0) {
			free(data);
			rc = -1;
			break;
		}
		data[r] = '\0';
		for (line = data; *line != '\0' && rc == 0; line = nl) {
			if ((nl = strchr(line, '\n')) == NULL)
				break;	/* a torn last line: its batch never committed */
			*nl++ = '\0';
			if (journal_entry_parse(line, strlen(line), &e) < 0)
				continue;
			if (recover_intent_entry(c, &e, aside_n) < 0)
				rc = -1;
		}
		free(data);
		if (rc == 0 && unlinkat(c->intent_fd, de->d_name, 0) < 0 &&
		    errno != ENOENT)
			rc = -1;
	}
	(void)closedir(dir);
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
 * name): it was renamed, maybe by a process killed before it woke qmgr,
 * so *published is set either way. Returns 0 done, 1 renamed but not
 * known to be durable (keep the entry), -1 error.
 */
static int
recover_release(struct commit_ctx *c, const struct journal_entry *e,
    bool *published)
{
	/* The planned id, if the entry (read from the disk) has a sound one. */
	const char	*want = e->target[0] && queue_id_ok(base_name(e->target)) ?
			    base_name(e->target) : NULL;
	char		 new_id[QUEUE_ID_SIZE], why[256], *error = NULL;
	int		 staged, r;

	if ((staged = exists_as(c, e->staging, e->staging_ino)) < 0)
		return (-1);
	if (!staged) {
		/*
		 * Renamed by a process that may have died before it woke
		 * qmgr: wake it (cheap), or the message waits in incoming
		 * for qmgr's own scan, up to 5 minutes.
		 */
		*published = true;
		return (0);
	}
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
	struct recovery	 rs;
	struct journal_entry *v = NULL;
	size_t		 n = 0, i;
	bool		 published = false;
	int		 r;

	memset(&rs, 0, sizeof(rs));
	if (journal_list(c->journal, &v, &n, error_r) < 0)
		return (-1);
	for (i = 0; i < n; i++) {
		if (is_release(c, &v[i])) {
			if ((r = recover_release(c, &v[i], &published)) == 0)
				recovery_done(&rs, &v[i]);
		} else if (batches && strncmp(v[i].orig, c->claimed,
		    strlen(c->claimed)) == 0) {
			r = recover_entry(c, &v[i], &rs);
		} else {
			continue;	/* someone else's */
		}
		if (r < 0) {
			*error_r = xasprintf("recovery of %s: %s", v[i].orig,
			    strerror(errno));
			goto fail;
		}
	}
	/* Originals removed durably before their entries are forgotten. */
	if (rs.unlinked && queue_fsync_dir(c->claimed_fd) < 0) {
		*error_r = xasprintf("recovery: fsync %s/%s: %s",
		    c->ql->queue_dir, c->claimed, strerror(errno));
		goto fail;
	}
	if (rs.ndone > 0 && (journal_del(c->journal, rs.done, rs.ndone,
	    error_r) < 0 || journal_flush(c->journal, error_r) < 0))
		goto fail;
	free(v);
	free(rs.done);
	if (strays && sweep_release(c) < 0) {
		*error_r = xasprintf("recovery of %s/%s: %s", c->ql->queue_dir,
		    c->release, strerror(errno));
		return (-1);
	}
	if ((published || rs.published) && queue_trigger(c->ql, "qmgr",
	    "I") < 0)
		hs_debug("cannot wake qmgr: %s", strerror(errno));
	return (0);
fail:
	free(v);
	free(rs.done);
	return (-1);
}

int
commit_recover(struct commit_ctx *c, bool strays, char **error_r)
{
	size_t	 aside_n = 0;

	if (recover_journal(c, true, strays, error_r) < 0)
		return (-1);
	if (!strays)
		return (0);
	if (recover_intents(c, &aside_n) < 0) {
		*error_r = xasprintf("recovery of %s/%s: %s", c->ql->queue_dir,
		    c->intent, strerror(errno));
		return (-1);
	}
	if (aside_n > 0)
		hs_warnx("recovery: %zu message%s of an interrupted batch had no "
		    "journal entry although its new queue file was published "
		    "(was %s lost or replaced?): set aside in hold, listed by "
		    "\"holdscan status\"; see RECOVERY in holdscand(8)", aside_n,
		    aside_n == 1 ? "" : "s", c->conf->state_directory);
	if (recover_strays(c) < 0) {
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
