/*
 * NAME
 *	regions - where the state environment's shared memory lives
 * DESCRIPTION
 *	Berkeley DB's region files (__db.001 ...) hold the environment's
 *	shared memory. Kept in state_directory, every page the cache or
 *	the locks touch is a dirty page of a disk file: the kernel writes
 *	it back, and each batch's syncfs(2) waits for it. With
 *	state_region_directory on a memory file system, each region is a
 *	file there (in a directory named for the state directory's device
 *	and inode), and state_directory holds a symbolic link to it under
 *	Berkeley DB's name, the anchor. Openers join by that name, as
 *	before; removing the environment (recovery) removes the anchors,
 *	and regions_collect() then the regions no anchor names.
 *
 *	A region is made before its anchor, and the anchor appears whole
 *	(symlink(2) fails if the name exists): a joiner never sees one
 *	half made. The makers of regions and the collector take the
 *	region directory's flock(2) lock, so that a region made but not
 *	yet anchored is never collected.
 *
 *	Every region is mapped with all its blocks allocated first
 *	(posix_fallocate(3)): a full file system (or tmpfs) is an error
 *	when the environment is opened, never a SIGBUS later.
 *
 *	This module must never map a region with a block missing, never
 *	remove a region an anchor names, never follow an anchor out of
 *	the region directory when collecting, and never create files with
 *	group or other permissions.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "state/regions.h"

/* Berkeley DB's primary region (DB_REGION_ENV), which openers race to make. */
#define REGIONS_PRIMARY	"__db.001"

struct regions {
	char	*home;		/* the environment's home: state_directory */
	char	*dir;		/* where regions are made; NULL: in home */
};

/* Is name one of Berkeley DB's regions, "__db." and digits? */
static bool
region_name(const char *name)
{
	const char	*p;

	if (strncmp(name, "__db.", 5) != 0 || name[5] == '\0')
		return (false);
	for (p = name + 5; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return (false);
	return (true);
}

/* A directory of euid's that only it may enter: mkdir it if missing. */
static bool
private_dir(const char *path, bool make)
{
	struct stat	 st;

	if (make && mkdir(path, 0700) < 0 && errno != EEXIST)
		return (false);
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		return (false);
	return (true);
}

struct regions *
regions_new(const char *dir, const char *region_dir)
{
	struct regions	*r = xcalloc(1, sizeof(*r));
	struct stat	 st, rst;
	char		*sub;

	r->home = xstrdup(dir);
	if (region_dir == NULL || region_dir[0] == '\0' ||
	    stat(dir, &st) < 0)
		return (r);
	/* Missing or not ours: the regions stay files in the home. */
	if (stat(region_dir, &rst) < 0 || !S_ISDIR(rst.st_mode) ||
	    access(region_dir, W_OK | X_OK) < 0) {
		hs_debug("state_region_directory %s: not usable (%s); the "
		    "regions are made in %s", region_dir, strerror(errno), dir);
		return (r);
	}
	sub = xasprintf("%s/%jx-%jx", region_dir, (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino);
	if (!private_dir(sub, true)) {
		hs_debug("%s: not a private directory of uid %lu (%s); the "
		    "regions are made in %s", sub, (unsigned long)geteuid(),
		    strerror(errno), dir);
		free(sub);
		return (r);
	}
	r->dir = sub;
	return (r);
}

void
regions_free(struct regions **rp)
{
	struct regions	*r = *rp;

	if (r == NULL)
		return;
	free(r->home);
	free(r->dir);
	free(r);
	*rp = NULL;
}

const char *
regions_where(const struct regions *r)
{
	return (r->dir != NULL ? r->dir : r->home);
}

enum regions_state
regions_survey(const struct regions *r)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 dfd;
	bool		 lost = false, files = false;

	if ((d = opendir(r->home)) == NULL)
		return (REGIONS_OK);	/* env->open says what is wrong */
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (!region_name(de->d_name) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode))
			files = true;
		else if (S_ISLNK(st.st_mode) &&
		    fstatat(dfd, de->d_name, &st, 0) < 0 && errno == ENOENT)
			lost = true;
	}
	(void)closedir(d);
	if (lost)
		return (REGIONS_LOST);
	return (files && r->dir != NULL ? REGIONS_MOVABLE : REGIONS_OK);
}

int
regions_discard(const struct regions *r)
{
	struct dirent	*de;
	DIR		*d;
	int		 err = 0;

	if ((d = opendir(r->home)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (region_name(de->d_name) &&
		    unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
			err = errno;
	(void)closedir(d);
	if (err != 0) {
		errno = err;
		return (-1);
	}
	return (0);
}

/* Allocate every block of fd's first len bytes and map them shared. */
static int
map_whole(int fd, size_t len, void **addr_r)
{
	struct stat	 st;
	void		*p;
	int		 err;

	if (fstat(fd, &st) < 0)
		return (errno);
	/* Made larger by an opener with a larger maximum: map all of it. */
	if (st.st_size > 0 && (uintmax_t)st.st_size > (uintmax_t)len)
		len = (size_t)st.st_size;
	while ((err = posix_fallocate(fd, 0, (off_t)len)) == EINTR)
		;
	if (err != 0)
		return (err);
	if ((p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0)) == MAP_FAILED)
		return (errno);
	*addr_r = p;
	return (0);
}

/* Join the region path names (following its anchor, if it has one). */
static int
join(char *path, size_t len, void **addr_r)
{
	int	 fd, err;

	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return (errno);
	err = map_whole(fd, len, addr_r);
	(void)close(fd);
	return (err);
}

/* The region as a file in the home, as Berkeley DB would make it. */
static int
make_in_home(char *path, size_t len, bool primary, int *created,
    void **addr_r)
{
	int	 fd, err;

	if (primary) {
		if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600)) < 0) {
			if (errno != EEXIST)
				return (errno);
			*created = 0;
			return (join(path, len, addr_r));
		}
	} else if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return (errno);
	if ((err = map_whole(fd, len, addr_r)) != 0 && primary)
		(void)unlink(path);
	(void)close(fd);
	return (err);
}

/*
 * The region in r->dir and its anchor at path. The primary's anchor
 * decides who made the environment: when it exists already, we join
 * (*created = 0). Another region's anchor is replaced: Berkeley DB
 * makes those only while it makes the environment.
 */
static int
make_in_dir(struct regions *r, char *path, const char *base, size_t len,
    bool primary, int *created, void **addr_r)
{
	uint64_t	 rnd;
	char		*region = NULL;
	void		*p = NULL;
	int		 dfd, fd = -1, err = 0, tries;

	if ((dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (errno);
	while (flock(dfd, LOCK_EX) < 0)
		if (errno != EINTR) {
			err = errno;
			goto out;
		}
	for (tries = 0; fd < 0; tries++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			err = errno != 0 ? errno : EIO;
			goto out;
		}
		free(region);
		region = xasprintf("%s/%s.%016" PRIx64, r->dir, base, rnd);
		if ((fd = open(region, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
		    O_NOFOLLOW, 0600)) < 0 && (errno != EEXIST || tries > 8)) {
			err = errno;
			goto out;
		}
	}
	if ((err = map_whole(fd, len, &p)) != 0)
		goto drop;
	for (tries = 0; symlink(region, path) < 0; tries++) {
		if (errno != EEXIST || tries > 0) {
			err = errno;
			goto drop;
		}
		if (primary) {
			/* Made by another opener first: join it. */
			(void)munmap(p, len);
			p = NULL;
			(void)unlink(region);
			*created = 0;
			err = join(path, len, addr_r);
			goto out;
		}
		if (unlink(path) < 0 && errno != ENOENT) {
			err = errno;
			goto drop;
		}
	}
	*addr_r = p;
	goto out;
drop:
	if (p != NULL)
		(void)munmap(p, len);
	(void)unlink(region);
out:
	if (fd >= 0)
		(void)close(fd);
	(void)close(dfd);	/* and with it the lock */
	free(region);
	return (err);
}

/*
 * Berkeley DB's region map function: open (or create) the region path,
 * allocate every block of the len bytes it will be mapped with, and map
 * it shared. *created says whether Berkeley DB wants the region created;
 * for the primary region it is ours to decide (the first opener creates
 * it, the others join), and we say which in *created. Returns 0 or an
 * errno value (ENOSPC when the file system is full), as Berkeley DB
 * expects.
 */
int
regions_map(struct regions *r, DB_ENV *env, char *path, size_t len,
    int *created, void **addr_r)
{
	const char	*base;
	bool		 primary;

	*addr_r = NULL;
	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	primary = strcmp(base, REGIONS_PRIMARY) == 0;
	if (!*created)
		return (join(path, len, addr_r));
	/*
	 * While Berkeley DB removes an environment (it sets DB_ENV_NOPANIC
	 * for that), it only joins what is there.
	 */
	if (primary && (env->flags & DB_ENV_NOPANIC) != 0) {
		*created = 0;
		return (join(path, len, addr_r));
	}
	if (r == NULL || r->dir == NULL)
		return (make_in_home(path, len, primary, created, addr_r));
	return (make_in_dir(r, path, base, len, primary, created, addr_r));
}

/*
 * The length of this process's mapping that starts at addr, from
 * /proc/self/maps (Berkeley DB hands the unmap function the address only).
 */
static int
mapping_length(const void *addr, size_t *len_r)
{
	FILE		*fp;
	char		*line = NULL;
	size_t		 cap = 0;
	uintmax_t	 lo, hi;
	int		 found = 0;

	if ((fp = fopen("/proc/self/maps", "re")) == NULL)
		return (-1);
	while (!found && getline(&line, &cap, fp) > 0)
		if (sscanf(line, "%jx-%jx", &lo, &hi) == 2 &&
		    lo == (uintmax_t)(uintptr_t)addr && hi > lo) {
			*len_r = (size_t)(hi - lo);
			found = 1;
		}
	free(line);
	(void)fclose(fp);
	if (!found) {
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

int
regions_unmap(void *addr)
{
	size_t	 len;

	if (mapping_length(addr, &len) < 0 || munmap(addr, len) < 0)
		return (errno);
	return (0);
}

/* Does an anchor in home name region (a file name in r->dir)? */
static bool
anchored(const struct regions *r, char **targets, size_t n,
    const char *region)
{
	size_t	 i, dlen = strlen(r->dir);

	for (i = 0; i < n; i++)
		if (strncmp(targets[i], r->dir, dlen) == 0 &&
		    targets[i][dlen] == '/' &&
		    strcmp(targets[i] + dlen + 1, region) == 0)
			return (true);
	return (false);
}

void
regions_collect(const struct regions *r)
{
	struct dirent	*de;
	DIR		*home = NULL, *d = NULL;
	char		**targets = NULL, buf[PATH_MAX];
	size_t		 n = 0, cap = 0, i;
	ssize_t		 len;
	int		 dfd, d2;

	if (r->dir == NULL)
		return;
	if ((dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	/* A maker at work: its region may not be anchored yet. Next time. */
	if (flock(dfd, LOCK_EX | LOCK_NB) < 0 ||
	    (home = opendir(r->home)) == NULL)
		goto out;
	while ((de = readdir(home)) != NULL) {
		if (!region_name(de->d_name) || (len = readlinkat(dirfd(home),
		    de->d_name, buf, sizeof(buf) - 1)) < 0)
			continue;
		buf[len] = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			targets = xreallocarray(targets, cap, sizeof(*targets));
		}
		targets[n++] = xstrdup(buf);
	}
	if ((d2 = fcntl(dfd, F_DUPFD_CLOEXEC, 0)) < 0)
		goto out;
	if ((d = fdopendir(d2)) == NULL) {
		(void)close(d2);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "__db.", 5) != 0 ||
		    anchored(r, targets, n, de->d_name))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			hs_debug("%s/%s: no anchor in %s names it any more; "
			    "removed", r->dir, de->d_name, r->home);
	}
out:
	if (d != NULL)
		(void)closedir(d);
	if (home != NULL)
		(void)closedir(home);
	for (i = 0; i < n; i++)
		free(targets[i]);
	free(targets);
	(void)close(dfd);
}
