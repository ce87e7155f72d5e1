/*
 * NAME
 *	digestused - the file of used digest link tokens
 * DESCRIPTION
 *	One line per used token, "EXPIRY TOKID\n" (seconds since the
 *	epoch, 32 hex digits). A claim takes an exclusive flock of
 *	"FILE.lock", reads the file, and either finds the token (used) or
 *	appends it and fsyncs; when the file is new, or when expired lines are more than half of
 *	at least USED_PRUNE_MIN lines, it writes the live ones and the new
 *	one to "FILE.tmp", fsyncs it, renames it over the file and fsyncs
 *	the directory instead. A line that does not parse is dropped at the
 *	next rewrite, never trusted. Files are created 0600, opened without
 *	following symbolic links.
 *
 *	This module must never follow a symbolic link, grow without bound
 *	(a file larger than USED_FILE_MAX is an error, not a read), report
 *	a claim before it is on disk, or know anything of tokens beyond
 *	their id and expiry.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "web/digestused.h"

#define USED_FILE_MAX	(32 * 1024 * 1024)
#define USED_PRUNE_MIN	256

struct digestused {
	char	*path;
	char	*lock;
	char	*tmp;
};

struct digestused *
digestused_new(const char *path)
{
	struct digestused *u = xcalloc(1, sizeof(*u));

	u->path = xstrdup(path);
	u->lock = xasprintf("%s.lock", path);
	u->tmp = xasprintf("%s.tmp", path);
	return (u);
}

void
digestused_free(struct digestused **up)
{
	struct digestused *u = *up;

	if (u == NULL)
		return;
	free(u->path);
	free(u->lock);
	free(u->tmp);
	free(u);
	*up = NULL;
}

static int
ops_claim(void *arg, const char *tokid, time_t expiry, time_t now,
    char **error_r)
{
	return (digestused_claim(arg, tokid, expiry, now, error_r));
}

static int
ops_seen(void *arg, const char *tokid, time_t now, char **error_r)
{
	return (digestused_seen(arg, tokid, now, error_r));
}

void
digestused_ops(struct digestused *u, struct digestlink_used *ops)
{
	ops->claim = ops_claim;
	ops->seen = ops_seen;
	ops->arg = u;
}

/* The lock file, locked; -1 with *error_r. */
static int
lock_store(struct digestused *u, char **error_r)
{
	int	 fd;

	if ((fd = open(u->lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) < 0) {
		*error_r = xasprintf("%s: %s", u->lock, strerror(errno));
		return (-1);
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		*error_r = xasprintf("%s: flock: %s", u->lock, strerror(errno));
		(void)close(fd);
		return (-1);
	}
	return (fd);
}

/* The file's contents into b (nothing when it is not there: *absent). */
static int
read_store(struct digestused *u, struct buf *b, bool *absent, char **error_r)
{
	char		 chunk[8192];
	ssize_t		 r;
	int		 fd;

	*absent = false;
	if ((fd = open(u->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT) {
			*absent = true;
			return (0);
		}
		*error_r = xasprintf("%s: %s", u->path, strerror(errno));
		return (-1);
	}
	while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || b->len + (size_t)r > USED_FILE_MAX) {
			*error_r = xasprintf("%s: %s", u->path, r < 0 ?
			    strerror(errno) : "larger than 32 MB");
			(void)close(fd);
			return (-1);
		}
		buf_append(b, chunk, (size_t)r);
	}
	(void)close(fd);
	return (0);
}

/* One line: its expiry and token id, or false. */
static bool
parse_line(const char *s, size_t n, time_t *expiry_r, const char **tokid_r)
{
	char	*end;
	long long v;

	if (n < 34 || n > 60 || s[0] < '0' || s[0] > '9')
		return (false);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v <= 0 || *end != ' ' ||
	    (size_t)(end + 1 - s) + DIGESTLINK_TOKID_SIZE - 1 != n)
		return (false);
	*expiry_r = (time_t)v;
	*tokid_r = end + 1;
	return (true);
}

struct scan {
	size_t	 total, dead;
	bool	 found;
};

/*
 * Walk the lines of b: is tokid there and live; with keep, the live
 * lines other than skip's are copied into keep.
 */
static void
scan_store(const struct buf *b, const char *tokid, const char *skip,
    time_t now, struct scan *s, struct buf *keep)
{
	const char	*p = b->data, *end = b->data + b->len, *nl, *id;
	time_t		 ex;
	size_t		 idn = DIGESTLINK_TOKID_SIZE - 1;

	memset(s, 0, sizeof(*s));
	while (p != NULL && p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		s->total++;
		if (!parse_line(p, (size_t)(nl - p), &ex, &id) || ex <= now) {
			s->dead++;
		} else if (skip != NULL && strncmp(id, skip, idn) == 0) {
			s->dead++;
		} else {
			if (tokid != NULL && strncmp(id, tokid, idn) == 0)
				s->found = true;
			if (keep != NULL) {
				buf_append(keep, p, (size_t)(nl - p));
				buf_putc(keep, '\n');
			}
		}
		p = nl + 1;
	}
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += w;
		n -= (size_t)w;
	}
	return (0);
}

/* Replace the file with text: FILE.tmp, fsync, rename, fsync the directory. */
static int
rewrite_store(struct digestused *u, const struct buf *text, char **error_r)
{
	char	*dir;
	int	 fd, dfd;

	(void)unlink(u->tmp);
	if ((fd = open(u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0) {
		*error_r = xasprintf("%s: %s", u->tmp, strerror(errno));
		return (-1);
	}
	if (write_all(fd, text->data ? text->data : "", text->len) < 0 ||
	    fsync(fd) < 0) {
		*error_r = xasprintf("%s: %s", u->tmp, strerror(errno));
		(void)close(fd);
		(void)unlink(u->tmp);
		return (-1);
	}
	if (close(fd) < 0 || rename(u->tmp, u->path) < 0) {
		*error_r = xasprintf("%s: %s", u->path, strerror(errno));
		(void)unlink(u->tmp);
		return (-1);
	}
	dir = xstrdup(u->path);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(dfd) < 0) {
		*error_r = xasprintf("%s: %s", dir, strerror(errno));
		if (dfd >= 0)
			(void)close(dfd);
		free(dir);
		return (-1);
	}
	(void)close(dfd);
	free(dir);
	return (0);
}

static int
append_store(struct digestused *u, const char *line, char **error_r)
{
	int	 fd;

	if ((fd = open(u->path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0) {
		*error_r = xasprintf("%s: %s", u->path, strerror(errno));
		return (-1);
	}
	if (write_all(fd, line, strlen(line)) < 0 || fsync(fd) < 0) {
		*error_r = xasprintf("%s: %s", u->path, strerror(errno));
		(void)close(fd);
		return (-1);
	}
	if (close(fd) < 0) {
		*error_r = xasprintf("%s: %s", u->path, strerror(errno));
		return (-1);
	}
	return (0);
}

static bool
tokid_ok(const char *tokid)
{
	size_t	 n = strspn(tokid, "0123456789abcdef");

	return (n == DIGESTLINK_TOKID_SIZE - 1 && tokid[n] == '\0');
}

int
digestused_claim(struct digestused *u, const char *tokid, time_t expiry,
    time_t now, char **error_r)
{
	struct buf	 b = BUF_INIT, keep = BUF_INIT;
	struct scan	 s;
	char		 line[64];
	int		 lfd, rc = -1;
	bool		 absent;

	if (!tokid_ok(tokid) || expiry <= 0) {
		*error_r = xstrdup("not a token id");
		return (-1);
	}
	(void)snprintf(line, sizeof(line), "%lld %s\n", (long long)expiry,
	    tokid);
	if ((lfd = lock_store(u, error_r)) < 0)
		return (-1);
	if (read_store(u, &b, &absent, error_r) < 0)
		goto out;
	scan_store(&b, tokid, NULL, now, &s, NULL);
	if (s.found) {
		rc = 1;
		goto out;
	}
	/* A new file goes in by rename, its directory synced, as a rewrite. */
	if (absent || (s.total >= USED_PRUNE_MIN && s.dead * 2 > s.total)) {
		scan_store(&b, NULL, NULL, now, &s, &keep);
		buf_append(&keep, line, strlen(line));
		rc = rewrite_store(u, &keep, error_r);
	} else {
		rc = append_store(u, line, error_r);
	}
out:
	(void)close(lfd);
	buf_free(&b);
	buf_free(&keep);
	return (rc);
}

int
digestused_seen(struct digestused *u, const char *tokid, time_t now,
    char **error_r)
{
	struct buf	 b = BUF_INIT;
	struct scan	 s;
	int		 lfd, rc = -1;
	bool		 absent;

	if (!tokid_ok(tokid)) {
		*error_r = xstrdup("not a token id");
		return (-1);
	}
	if ((lfd = lock_store(u, error_r)) < 0)
		return (-1);
	if (read_store(u, &b, &absent, error_r) == 0) {
		scan_store(&b, tokid, NULL, now, &s, NULL);
		rc = s.found ? 1 : 0;
	}
	(void)close(lfd);
	buf_free(&b);
	return (rc);
}

int
digestused_unclaim(struct digestused *u, const char *tokid, time_t now,
    char **error_r)
{
	struct buf	 b = BUF_INIT, keep = BUF_INIT;
	struct scan	 s;
	int		 lfd, rc = -1;
	bool		 absent;

	if (!tokid_ok(tokid)) {
		*error_r = xstrdup("not a token id");
		return (-1);
	}
	if ((lfd = lock_store(u, error_r)) < 0)
		return (-1);
	if (read_store(u, &b, &absent, error_r) == 0) {
		scan_store(&b, NULL, tokid, now, &s, &keep);
		rc = rewrite_store(u, &keep, error_r);
	}
	(void)close(lfd);
	buf_free(&b);
	buf_free(&keep);
	return (rc);
}
