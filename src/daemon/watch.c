/*
 * NAME
 *	watch - inotify and rescans of the hold queue
 * DESCRIPTION
 *	Events are only hints: cleanup(8) renames a held file into hold
 *	while it is still mode 0600 (IN_MOVED_TO) and makes it ready later
 *	(IN_ATTRIB), postsuper -h moves in files that are ready already, and
 *	the kernel may drop events (IN_Q_OVERFLOW). So every hint is checked
 *	with lstat() as Postfix's mail_open_ok() does (valid queue id,
 *	regular file, owner rwx), plus one link and the mail owner, and a
 *	full rescan runs at start, on a timer and after an overflow. A
 *	rescan offers the oldest files first.
 *
 *	As Postfix's own queue scanners do (global/mail_scan_dir.c), every
 *	one-character directory below hold is taken for a hash directory and
 *	watched and scanned, whatever hash_queue_names and hash_queue_depth
 *	say: the layout can change while we run (postconf -e, postfix
 *	reload), and a file stays where an earlier layout put it until
 *	postsuper moves it. Candidates are offered at the path where they
 *	were found. Hash directories that appear later are added as they
 *	appear; removed ones are forgotten (IN_IGNORED).
 *
 *	postsuper(1), run by "postfix reload", moves held files when the
 *	hashing changes and renames them when long queue ids are turned off.
 *	A file already queued or in flight that shows up at another place
 *	(moved into a watched directory, or found in a new hash directory)
 *	is remembered, and offered from there once the master is done with
 *	the old name (watch_done(): its claim found it gone).
 *
 *	Files or hash directories where the layout the master holds would
 *	not put them raise a hint (watch_layout_hint()): main.cf may have
 *	changed.
 *
 *	Something odd in hold (a symlink, a hard link, a FIFO or directory
 *	named like a queue id, a file owned by someone else) is logged once
 *	and left alone. Files that are merely not ready yet are silent.
 *
 *	This module must never open, lock or move a queue file, never follow
 *	a symbolic link, and never descend more than QUEUE_HASH_DEPTH_MAX
 *	levels.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "daemon/watch.h"

#define COMPLAINED_MAX	10000
#define MOVED_MAX	65536

struct watch_dir {
	int		 wd;
	char		*rel;		/* "hold" or "hold/A/B" */
	int		 depth;		/* hash levels below hold */
};

struct pending {
	char		 id[QUEUE_ID_SIZE];
	char		 path[QUEUE_PATH_SIZE];
};

struct watch {
	const struct queue_layout *ql;	/* the master's, updated in place */
	int		 qdirfd;
	int		 ifd;
	bool		 hint;		/* hold is laid out otherwise than ql says */
	struct watch_dir *dirs;
	size_t		 ndirs;
	/* FIFO of candidates; queued ids are in 'known' with value 1 */
	struct pending	*q;
	size_t		 qhead, qlen, qcap;
	struct strmap	 known;		/* id -> 1 queued, 2 in flight */
	struct strmap	 complained;	/* id -> inode we logged about */
	struct strmap	 ignored;	/* id -> inode set aside */
	/* locked by someone else: look again at retry_at (CLOCK_MONOTONIC ms) */
	struct pending	*deferred;
	long		*retry_at;
	size_t		 ndeferred;
	/* known ids seen at another place: id -> index into moved */
	struct strmap	 moved_at;
	struct pending	*moved;
	size_t		 nmoved;
	/* moved ones the master is done with: looked at by watch_next() */
	struct pending	*recheck;
	size_t		 nrecheck;
};

#define KNOWN_QUEUED	1
#define KNOWN_FLIGHT	2


static void
add_dir_watch(struct watch *w, const char *rel, int depth)
{
	char	 path[QUEUE_PATH_SIZE + 1024];
	size_t	 i;
	int	 wd;

	(void)snprintf(path, sizeof(path), "%s/%s", w->ql->queue_dir, rel);
	wd = inotify_add_watch(w->ifd, path, IN_MOVED_TO | IN_ATTRIB |
	    IN_CLOSE_WRITE | IN_CREATE | IN_DONT_FOLLOW | IN_EXCL_UNLINK);
	if (wd < 0) {
		hs_warn("watch: inotify_add_watch %s", path);
		return;
	}
	for (i = 0; i < w->ndirs; i++)
		if (w->dirs[i].wd == wd)
			return;
	w->dirs = xreallocarray(w->dirs, w->ndirs + 1, sizeof(*w->dirs));
	w->dirs[w->ndirs].wd = wd;
	w->dirs[w->ndirs].rel = xstrdup(rel);
	w->dirs[w->ndirs].depth = depth;
	w->ndirs++;
}

static struct watch_dir *
dir_by_wd(struct watch *w, int wd)
{
	size_t	 i;

	for (i = 0; i < w->ndirs; i++)
		if (w->dirs[i].wd == wd)
			return (&w->dirs[i]);
	return (NULL);
}

/* The kernel dropped wd's watch (IN_IGNORED): its directory is gone. */
static void
drop_dir(struct watch *w, int wd)
{
	size_t	 i;

	for (i = 0; i < w->ndirs; i++) {
		if (w->dirs[i].wd != wd)
			continue;
		free(w->dirs[i].rel);
		w->dirs[i] = w->dirs[--w->ndirs];
		return;
	}
}

/* Would the master's layout put hash directories at this depth of hold? */
static bool
dir_expected(const struct watch *w, int depth)
{
	return (depth < queue_hash_levels(w->ql, QUEUE_HOLD));
}

/* A candidate where the master's layout would not put it: a hint. */
static void
check_place(struct watch *w, const char *id, const char *path)
{
	char	 want[QUEUE_PATH_SIZE];

	if (queue_path(w->ql, QUEUE_HOLD, id, want) == 0 &&
	    strcmp(want, path) != 0)
		w->hint = true;
}

/* Remember that the known id was seen at path (moved there). */
static void
moved_note(struct watch *w, const char *id, const char *path)
{
	struct pending	*p;
	uint64_t	 i;

	if (strmap_get(&w->moved_at, id, &i)) {
		p = &w->moved[i];
	} else {
		if (w->nmoved >= MOVED_MAX)
			return;		/* the next rescan finds it */
		w->moved = xreallocarray(w->moved, w->nmoved + 1,
		    sizeof(*w->moved));
		p = &w->moved[w->nmoved];
		(void)snprintf(p->id, sizeof(p->id), "%s", id);
		strmap_put(&w->moved_at, id, (uint64_t)w->nmoved);
		w->nmoved++;
	}
	(void)snprintf(p->path, sizeof(p->path), "%s", path);
}

/* Take what moved_note() remembered about id, if anything. */
static bool
moved_take(struct watch *w, const char *id, struct pending *out)
{
	uint64_t	 i;
	size_t		 last;

	if (!strmap_get(&w->moved_at, id, &i))
		return (false);
	*out = w->moved[i];
	(void)strmap_del(&w->moved_at, id);
	last = --w->nmoved;
	if ((size_t)i != last) {
		w->moved[i] = w->moved[last];
		strmap_put(&w->moved_at, w->moved[i].id, i);
	}
	return (true);
}

static void
complain_once(struct watch *w, const char *id, ino_t ino, const char *path,
    const char *why)
{
	uint64_t	 prev;

	if (strmap_get(&w->complained, id, &prev) && prev == (uint64_t)ino)
		return;
	if (w->complained.used >= COMPLAINED_MAX)
		strmap_clear(&w->complained);
	strmap_put(&w->complained, id, (uint64_t)ino);
	hs_warnx("%s: %s/%s: %s; left alone", id, w->ql->queue_dir, path, why);
}

/*
 * Is path (relative to the queue dir) a file we should offer? Odd
 * things are logged once; not-ready files are silent.
 */
static bool
check_candidate(struct watch *w, const char *id, const char *path,
    struct stat *st)
{
	if (fstatat(w->qdirfd, path, st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			hs_warn("watch: %s/%s", w->ql->queue_dir, path);
		return (false);
	}
	if (S_ISLNK(st->st_mode)) {
		complain_once(w, id, st->st_ino, path, "symbolic link");
		return (false);
	}
	if (S_ISDIR(st->st_mode)) {
		complain_once(w, id, st->st_ino, path,
		    "directory named like a queue file");
		return (false);
	}
	if (!S_ISREG(st->st_mode)) {
		complain_once(w, id, st->st_ino, path, "not a regular file");
		return (false);
	}
	if ((st->st_mode & S_IRWXU) != QUEUE_MODE_READY)
		return (false);		/* cleanup(8) is still writing it */
	if (st->st_nlink != 1) {
		complain_once(w, id, st->st_ino, path, "has more than one link");
		return (false);
	}
	if (st->st_uid != w->ql->owner_uid) {
		complain_once(w, id, st->st_ino, path,
		    "not owned by the mail owner");
		return (false);
	}
	if (watch_is_ignored(w, id, st->st_ino))
		return (false);
	return (true);
}

static void
enqueue(struct watch *w, const char *id, const char *path)
{
	struct pending	*p;

	if (w->qlen == w->qcap) {
		struct pending	*nq;
		size_t		 i, ncap = w->qcap ? w->qcap * 2 : 256;

		nq = xcalloc(ncap, sizeof(*nq));
		for (i = 0; i < w->qlen; i++)
			nq[i] = w->q[(w->qhead + i) % w->qcap];
		free(w->q);
		w->q = nq;
		w->qcap = ncap;
		w->qhead = 0;
	}
	p = &w->q[(w->qhead + w->qlen) % w->qcap];
	(void)snprintf(p->id, sizeof(p->id), "%s", id);
	(void)snprintf(p->path, sizeof(p->path), "%s", path);
	w->qlen++;
	strmap_put(&w->known, id, KNOWN_QUEUED);
	check_place(w, id, path);
}

/*
 * A hint about rel/name (or, with rel "", the path name): queue it if it
 * is a new, ready candidate. moved_in: it was renamed there; if its id is
 * known already, it moved (postsuper) or is a new file with a reused id.
 */
static void
consider(struct watch *w, const char *rel, const char *name, bool moved_in)
{
	struct stat	 st;
	char		 path[QUEUE_PATH_SIZE];
	const char	*base;
	int		 n;

	n = *rel ? snprintf(path, sizeof(path), "%s/%s", rel, name) :
	    snprintf(path, sizeof(path), "%s", name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (!queue_id_ok(base))
		return;
	if (strmap_get(&w->known, base, NULL)) {
		if (moved_in)
			moved_note(w, base, path);
		return;
	}
	if (check_candidate(w, base, path, &st))
		enqueue(w, base, path);
}

struct found {
	struct timespec	 mtime;
	char		 name[QUEUE_ID_SIZE];
};

static int
found_cmp(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return (x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1);
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return (x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1);
	return (strcmp(x->name, y->name));
}

/*
 * Read one directory level: queue its ready files oldest first, descend
 * into hash dirs. fresh: the directory was just created, so a known id
 * in it was moved there.
 */
static void
scan_dir(struct watch *w, const char *rel, int depth, bool fresh)
{
	struct found	*f = NULL;
	struct dirent	*de;
	struct stat	 st;
	char		 path[QUEUE_PATH_SIZE];
	size_t		 n = 0, cap = 0, i;
	DIR		*dir;
	int		 fd;

	if ((fd = openat(w->qdirfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || (dir = fdopendir(fd)) == NULL) {
		if (errno != ENOENT)
			hs_warn("watch: open %s/%s", w->ql->queue_dir, rel);
		if (fd >= 0)
			(void)close(fd);
		return;
	}
	while ((errno = 0, de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", rel,
		    de->d_name) >= sizeof(path))
			continue;
		/*
		 * Postfix's scanners descend into every one-character name,
		 * whatever the hashing is now (mail_scan_dir_next()).
		 */
		if (depth < QUEUE_HASH_DEPTH_MAX && strlen(de->d_name) == 1 &&
		    (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)) {
			if (fstatat(w->qdirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode)) {
				if (!dir_expected(w, depth))
					w->hint = true;
				add_dir_watch(w, path, depth + 1);
				scan_dir(w, path, depth + 1, fresh);
				continue;
			}
		}
		if (!queue_id_ok(de->d_name))
			continue;
		if (strmap_get(&w->known, de->d_name, NULL)) {
			if (fresh)
				moved_note(w, de->d_name, path);
			continue;
		}
		if (!check_candidate(w, de->d_name, path, &st))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			f = xreallocarray(f, cap, sizeof(*f));
		}
		f[n].mtime = st.st_mtim;
		(void)snprintf(f[n].name, sizeof(f[n].name), "%s", de->d_name);
		n++;
	}
	if (errno != 0)
		hs_warn("watch: readdir %s/%s", w->ql->queue_dir, rel);
	(void)closedir(dir);
	if (n > 1)
		qsort(f, n, sizeof(*f), found_cmp);
	for (i = 0; i < n; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", rel, f[i].name);
		enqueue(w, f[i].name, path);
	}
	free(f);
}

int
watch_open(const struct queue_layout *ql, int qdirfd, struct watch **w_r)
{
	struct watch	*w = xcalloc(1, sizeof(*w));

	w->ql = ql;
	w->qdirfd = qdirfd;
	if ((w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		int	 saved = errno;

		free(w);
		errno = saved;
		return (-1);
	}
	add_dir_watch(w, QUEUE_HOLD, 0);
	if (w->ndirs == 0) {
		int	 saved = errno;

		(void)close(w->ifd);
		free(w);
		errno = saved;
		return (-1);
	}
	*w_r = w;
	return (0);
}

void
watch_close(struct watch **wp)
{
	struct watch	*w = *wp;
	size_t		 i;

	if (w == NULL)
		return;
	(void)close(w->ifd);
	for (i = 0; i < w->ndirs; i++)
		free(w->dirs[i].rel);
	free(w->dirs);
	free(w->q);
	free(w->deferred);
	free(w->retry_at);
	free(w->moved);
	free(w->recheck);
	strmap_clear(&w->moved_at);
	strmap_clear(&w->known);
	strmap_clear(&w->complained);
	strmap_clear(&w->ignored);
	free(w);
	*wp = NULL;
}

int
watch_fd(const struct watch *w)
{
	return (w->ifd);
}

void
watch_rescan(struct watch *w)
{
	scan_dir(w, QUEUE_HOLD, 0, false);
}

bool
watch_layout_hint(struct watch *w)
{
	bool	 hint = w->hint;

	w->hint = false;
	return (hint);
}

void
watch_handle(struct watch *w)
{
	char		 buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct watch_dir *d;
	bool		 overflow = false;
	ssize_t		 n;
	char		*p;

	for (;;) {
		n = read(w->ifd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				hs_warn("watch: read inotify");
			break;
		}
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				overflow = true;
				continue;
			}
			if (ev->mask & IN_IGNORED) {
				drop_dir(w, ev->wd);
				continue;
			}
			if (ev->len == 0 || (d = dir_by_wd(w, ev->wd)) == NULL)
				continue;
			if (ev->mask & IN_ISDIR) {
				char	 rel[QUEUE_PATH_SIZE];
				int	 depth = d->depth;	/* d moves when dirs grows */

				if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
				    depth < QUEUE_HASH_DEPTH_MAX &&
				    strlen(ev->name) == 1 &&
				    (size_t)snprintf(rel, sizeof(rel), "%s/%s",
				    d->rel, ev->name) < sizeof(rel)) {
					if (!dir_expected(w, depth))
						w->hint = true;
					add_dir_watch(w, rel, depth + 1);
					scan_dir(w, rel, depth + 1, true);
				}
				continue;
			}
			consider(w, d->rel, ev->name,
			    (ev->mask & IN_MOVED_TO) != 0);
		}
	}
	if (overflow) {
		hs_warnx("watch: inotify event queue overflowed; rescanning hold");
		watch_rescan(w);
	}
}

/* Look at the moved files the master is done with under their old name. */
static void
recheck_moved(struct watch *w)
{
	size_t	 i, n = w->nrecheck;

	w->nrecheck = 0;
	for (i = 0; i < n; i++)
		consider(w, "", w->recheck[i].path, false);
}

bool
watch_next(struct watch *w, struct watch_candidate *c)
{
	struct pending	*p;

	recheck_moved(w);
	while (w->qlen > 0) {
		p = &w->q[w->qhead];
		w->qhead = (w->qhead + 1) % w->qcap;
		w->qlen--;
		memcpy(c->id, p->id, sizeof(c->id));
		memcpy(c->path, p->path, sizeof(c->path));
		strmap_put(&w->known, c->id, KNOWN_FLIGHT);
		return (true);
	}
	return (false);
}

void
watch_defer(struct watch *w, const struct watch_candidate *c, long now_ms,
    long delay_ms)
{
	w->deferred = xreallocarray(w->deferred, w->ndeferred + 1,
	    sizeof(*w->deferred));
	w->retry_at = xreallocarray(w->retry_at, w->ndeferred + 1,
	    sizeof(*w->retry_at));
	memcpy(w->deferred[w->ndeferred].id, c->id, sizeof(c->id));
	memcpy(w->deferred[w->ndeferred].path, c->path, sizeof(c->path));
	w->retry_at[w->ndeferred] = now_ms + delay_ms;
	w->ndeferred++;
	strmap_put(&w->known, c->id, KNOWN_QUEUED);
}

long
watch_tick(struct watch *w, long now_ms)
{
	struct pending	 m;
	long		 next = -1;
	size_t		 i = 0;

	while (i < w->ndeferred) {
		if (w->retry_at[i] <= now_ms) {
			struct pending	 p = w->deferred[i];

			w->deferred[i] = w->deferred[w->ndeferred - 1];
			w->retry_at[i] = w->retry_at[w->ndeferred - 1];
			w->ndeferred--;
			(void)strmap_del(&w->known, p.id);
			if (moved_take(w, p.id, &m))
				consider(w, "", m.path, false);
			if (!strmap_get(&w->known, p.id, NULL))
				consider(w, "", p.path, false);
			continue;
		}
		if (next < 0 || w->retry_at[i] - now_ms < next)
			next = w->retry_at[i] - now_ms;
		i++;
	}
	return (next);
}

void
watch_done(struct watch *w, const char *id)
{
	struct pending	 p;

	(void)strmap_del(&w->known, id);
	/*
	 * Seen moving: look at it from watch_next() on, once the master has
	 * finished with the old name (it may set it aside right after this).
	 */
	if (moved_take(w, id, &p)) {
		w->recheck = xreallocarray(w->recheck, w->nrecheck + 1,
		    sizeof(*w->recheck));
		w->recheck[w->nrecheck++] = p;
	}
}

size_t
watch_pending(const struct watch *w)
{
	return (w->qlen + w->nrecheck);
}

void
watch_ignore(struct watch *w, const char *id, ino_t ino)
{
	strmap_put(&w->ignored, id, (uint64_t)ino);
}

void
watch_unignore(struct watch *w, const char *id)
{
	(void)strmap_del(&w->ignored, id);
}

bool
watch_is_ignored(const struct watch *w, const char *id, ino_t ino)
{
	uint64_t	 v;

	return (strmap_get(&w->ignored, id, &v) && v == (uint64_t)ino);
}
