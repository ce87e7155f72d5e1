/*
 * NAME
 *	scratch - the scanner's private temporary directories
 * DESCRIPTION
 *	Plugins unpack parts of hostile mail into temporary files
 *	(libclamav does, for nearly every message). In a directory every
 *	user shares (/dev/shm, /tmp) anyone can fill the file system under
 *	them, so that scans fail, and what a killed worker left there stays
 *	for the next process of the worker user to read. So the scanner
 *	program gets a directory of its own, BASE/scanner.XXXXXX, mode 0700,
 *	in scanner_temp_directory (a directory of the worker user that
 *	holdscand makes, on /run, a tmpfs nobody else can write, by
 *	default); each worker gets worker.PID in it, 0700. The scanner
 *	parent removes a worker's directory when it has reaped the worker
 *	(killed or not), and its own when it stops. Its directory is locked
 *	(flock(2), inherited by its workers): at start, the SCRATCH_PREFIX
 *	directories in BASE that nobody holds locked are what dead scanner
 *	programs left, and are removed.
 *
 *	This module must never follow a symbolic link when it removes (it
 *	works with openat/unlinkat on directory descriptors it opened with
 *	O_NOFOLLOW), never remove anything that is not owned by the user it
 *	runs as, and never touch a directory another live scanner holds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "scanner/scratch.h"

#define REMOVE_DEPTH_MAX	300	/* libclamav nests up to 255 layers */
#define BUSY_TRIES		10	/* a dying scanner's workers: 0.5 s */

static int	 remove_at(int dirfd, const char *name, int depth,
		    char **error_r);

/* Remove everything in the directory fd (ours, opened O_NOFOLLOW). */
static int
empty_dir(int fd, const char *name, int depth, char **error_r)
{
	struct dirent	*de;
	DIR		*d;
	int		 dfd, rc = 0;

	if ((dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		*error_r = xasprintf("%s: dup: %s", name, strerror(errno));
		return (-1);
	}
	if ((d = fdopendir(dfd)) == NULL) {
		*error_r = xasprintf("%s: %s", name, strerror(errno));
		(void)close(dfd);
		return (-1);
	}
	while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = remove_at(fd, de->d_name, depth + 1, error_r);
	}
	if (rc == 0 && errno != 0) {
		*error_r = xasprintf("%s: %s", name, strerror(errno));
		rc = -1;
	}
	(void)closedir(d);
	return (rc);
}

static int
remove_at(int dirfd, const char *name, int depth, char **error_r)
{
	struct stat	 st, st2;
	int		 fd, rc;

	if (depth > REMOVE_DEPTH_MAX) {
		*error_r = xasprintf("%s: nested more than %d deep", name,
		    REMOVE_DEPTH_MAX);
		return (-1);
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return (0);
		*error_r = xasprintf("%s: %s", name, strerror(errno));
		return (-1);
	}
	if (st.st_uid != geteuid()) {
		*error_r = xasprintf("%s: owned by uid %lu, not by us; left "
		    "alone", name, (unsigned long)st.st_uid);
		return (-1);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT) {
			*error_r = xasprintf("%s: unlink: %s", name,
			    strerror(errno));
			return (-1);
		}
		return (0);
	}
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		*error_r = xasprintf("%s: %s", name, strerror(errno));
		return (-1);
	}
	/* The same directory as the one we looked at, still ours. */
	if (fstat(fd, &st2) < 0 || st2.st_dev != st.st_dev ||
	    st2.st_ino != st.st_ino || st2.st_uid != geteuid()) {
		*error_r = xasprintf("%s: changed while it was removed", name);
		(void)close(fd);
		return (-1);
	}
	/* A directory without write permission cannot be emptied. */
	if ((st2.st_mode & 0700) != 0700 && fchmod(fd, 0700) < 0) {
		*error_r = xasprintf("%s: chmod: %s", name, strerror(errno));
		(void)close(fd);
		return (-1);
	}
	rc = empty_dir(fd, name, depth, error_r);
	(void)close(fd);
	if (rc < 0)
		return (-1);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
		*error_r = xasprintf("%s: rmdir: %s", name, strerror(errno));
		return (-1);
	}
	return (0);
}

int
scratch_remove(int dirfd, const char *name, char **error_r)
{
	return (remove_at(dirfd, name, 0, error_r));
}

/* base: a directory of ours (not a link) open to nobody else; its fd. */
static int
open_base(const char *base, char **error_r)
{
	struct stat	 st;
	int		 fd;

	if ((fd = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		*error_r = xasprintf("scanner_temp_directory %s: %s%s", base,
		    strerror(errno), errno == ENOENT ? " (holdscand makes it "
		    "at start)" : errno == ELOOP || errno == ENOTDIR ?
		    " (a symbolic link or not a directory)" : "");
		return (-1);
	}
	if (fstat(fd, &st) < 0) {
		*error_r = xasprintf("scanner_temp_directory %s: %s", base,
		    strerror(errno));
		(void)close(fd);
		return (-1);
	}
	if (st.st_uid != geteuid()) {
		*error_r = xasprintf("scanner_temp_directory %s is owned by uid "
		    "%lu, not by uid %lu that the scanners run as", base,
		    (unsigned long)st.st_uid, (unsigned long)geteuid());
		(void)close(fd);
		return (-1);
	}
	if ((st.st_mode & 07777) != 0700) {
		*error_r = xasprintf("scanner_temp_directory %s has mode %04o, "
		    "not 0700", base, (unsigned)(st.st_mode & 07777));
		(void)close(fd);
		return (-1);
	}
	return (fd);
}

static void
pause_ms(long ms)
{
	struct timespec	 ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Remove what dead scanner programs left in base (bfd, which we hold
 * locked): the SCRATCH_PREFIX directories that no process holds locked.
 * One that is held may belong to the workers of a scanner that has just
 * died (they die with it, a moment later): waited for a little. What
 * cannot be removed is said in the log, and does not stop us.
 */
static void
remove_leftovers(int bfd, const char *base)
{
	struct dirent	*de;
	char		*why = NULL;
	DIR		*d;
	int		 dfd, fd, tries;
	bool		 locked;

	if ((dfd = fcntl(bfd, F_DUPFD_CLOEXEC, 3)) < 0 ||
	    (d = fdopendir(dfd)) == NULL) {
		hs_warn("scanner_temp_directory %s", base);
		if (dfd >= 0)
			(void)close(dfd);
		return;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, SCRATCH_PREFIX,
		    sizeof(SCRATCH_PREFIX) - 1) != 0)
			continue;
		locked = false;
		if ((fd = openat(bfd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) < 0) {
			/* Not a directory (of ours): removed as it is. */
			locked = true;
		} else {
			for (tries = 0; !locked; tries++) {
				if (flock(fd, LOCK_EX | LOCK_NB) == 0)
					locked = true;
				else if (errno != EWOULDBLOCK ||
				    tries == BUSY_TRIES)
					break;
				else
					pause_ms(50);
			}
		}
		if (locked && scratch_remove(bfd, de->d_name, &why) < 0) {
			hs_warnx("scanner_temp_directory %s: %s", base, why);
			free(why);
			why = NULL;
		} else if (locked) {
			hs_debug("removed %s/%s, left by a scanner that is gone",
			    base, de->d_name);
		}
		if (fd >= 0)
			(void)close(fd);
	}
	if (errno != 0)
		hs_warn("scanner_temp_directory %s", base);
	(void)closedir(d);
}

/* A private directory in /dev/shm (a tmpfs) or /tmp: s->path, s->fd. */
static int
open_fallback(struct scratch *s, char **error_r)
{
	struct statfs	 sf;
	const char	*where = "/tmp";

	if (statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC &&
	    access("/dev/shm", W_OK | X_OK) == 0)
		where = "/dev/shm";
	s->path = xasprintf("%s/" SCRATCH_FALLBACK "XXXXXX", where);
	if (mkdtemp(s->path) == NULL) {
		*error_r = xasprintf("cannot make a private directory in %s: %s",
		    where, strerror(errno));
		free(s->path);
		s->path = NULL;
		return (-1);
	}
	if ((s->fd = open(s->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		*error_r = xasprintf("%s: %s", s->path, strerror(errno));
		(void)rmdir(s->path);
		free(s->path);
		s->path = NULL;
		return (-1);
	}
	s->fallback = true;
	return (0);
}

int
scratch_open(struct scratch *s, const char *base, bool fallback,
    char **error_r)
{
	char	*name, *why = NULL;
	int	 bfd;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if ((bfd = open_base(base, &why)) < 0) {
		if (!fallback) {
			*error_r = why;
			return (-1);
		}
		free(why);
		return (open_fallback(s, error_r));
	}
	/* One scanner at a time here: no leftover is taken for ours. */
	if (flock(bfd, LOCK_EX) < 0) {
		*error_r = xasprintf("scanner_temp_directory %s: flock: %s",
		    base, strerror(errno));
		(void)close(bfd);
		return (-1);
	}
	remove_leftovers(bfd, base);
	s->path = xasprintf("%s/" SCRATCH_PREFIX "XXXXXX", base);
	if (mkdtemp(s->path) == NULL) {
		*error_r = xasprintf("scanner_temp_directory %s: mkdtemp: %s",
		    base, strerror(errno));
		goto fail;
	}
	name = strrchr(s->path, '/') + 1;
	if ((s->fd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || flock(s->fd, LOCK_EX | LOCK_NB) < 0) {
		*error_r = xasprintf("%s: %s", s->path, strerror(errno));
		if (s->fd >= 0)
			(void)close(s->fd);
		s->fd = -1;
		(void)unlinkat(bfd, name, AT_REMOVEDIR);
		goto fail;
	}
	(void)close(bfd);	/* and its lock */
	return (0);
fail:
	free(s->path);
	s->path = NULL;
	(void)close(bfd);
	return (-1);
}

int
scratch_worker(struct scratch *s, pid_t pid, char **dir_r, char **error_r)
{
	char	 name[32];

	(void)snprintf(name, sizeof(name), "worker.%ld", (long)pid);
	if (mkdirat(s->fd, name, 0700) < 0) {
		*error_r = xasprintf("%s/%s: %s", s->path, name,
		    strerror(errno));
		return (-1);
	}
	*dir_r = xasprintf("%s/%s", s->path, name);
	return (0);
}

int
scratch_worker_done(struct scratch *s, pid_t pid, char **error_r)
{
	char	 name[32];

	if (s->fd < 0)
		return (0);
	(void)snprintf(name, sizeof(name), "worker.%ld", (long)pid);
	if (scratch_remove(s->fd, name, error_r) < 0) {
		char	*why = *error_r;

		*error_r = xasprintf("%s: %s", s->path, why);
		free(why);
		return (-1);
	}
	return (0);
}

int
scratch_close(struct scratch *s, char **error_r)
{
	char	*slash, *why;
	int	 pfd, rc = 0;

	if (s->fd < 0)
		return (0);
	slash = strrchr(s->path, '/');
	*slash = '\0';
	if ((pfd = open(s->path[0] ? s->path : "/", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0) {
		*error_r = xasprintf("%s: %s", s->path, strerror(errno));
		rc = -1;
	} else {
		if (scratch_remove(pfd, slash + 1, &why) < 0) {
			*error_r = xasprintf("%s/%s", s->path, why);
			free(why);
			rc = -1;
		}
		(void)close(pfd);
	}
	*slash = '/';
	(void)close(s->fd);
	free(s->path);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	return (rc);
}
