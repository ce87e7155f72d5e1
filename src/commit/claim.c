/*
 * NAME
 *	claim - claim a held queue file, return it to hold, or move it to
 *	the corrupt queue
 * DESCRIPTION
 *	Claiming follows qmgr's own discipline for incoming -> active: move
 *	the file somewhere no other Postfix tool looks before reading it.
 *	Open first (O_NOFOLLOW, O_NONBLOCK so that a FIFO cannot block us),
 *	then take the flock Postfix uses without blocking, then check that
 *	the name still refers to the file we hold (same inode, regular, one
 *	link, owner rwx), then rename it into holdscan's claimed directory
 *	with RENAME_NOREPLACE. postsuper takes no locks, so a race with it
 *	shows up as ENOENT at the rename and the file is simply not ours.
 *
 *	A claimed file that is not a queue file after all goes where
 *	Postfix puts its own malformed queue files: the corrupt queue
 *	(claim_to_corrupt()), by rename, under its own name.
 *
 *	This module must never read a queue file's content, never replace
 *	an existing name, and never move a claimed file anywhere but to
 *	the hold queue path Postfix itself would use for its name or to
 *	corrupt/ under that name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit/claim.h"

/*
 * The first half of claim_take(): open hold_path, check it is a ready
 * regular file and take its lock. On CLAIM_OK *fd_r is open and locked.
 */
static enum claim_result
claim_open(int qdirfd, const char *hold_path, int *fd_r, struct stat *st_r,
    char *why, size_t whysize)
{
	int	 fd;

	*fd_r = -1;
	fd = openat(qdirfd, hold_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return (CLAIM_GONE);
		(void)snprintf(why, whysize, "open: %s", strerror(errno));
		return (errno == ELOOP ? CLAIM_SKIP : CLAIM_ERROR);
	}
	if (fstat(fd, st_r) < 0) {
		(void)snprintf(why, whysize, "fstat: %s", strerror(errno));
		(void)close(fd);
		return (CLAIM_ERROR);
	}
	if (!queue_stat_ready(st_r)) {
		(void)snprintf(why, whysize, "not a ready regular file");
		(void)close(fd);
		return (CLAIM_SKIP);
	}
	if (queue_lock_try(fd) < 0) {
		if (errno == EAGAIN) {
			(void)close(fd);
			return (CLAIM_LOCKED);
		}
		(void)snprintf(why, whysize, "flock: %s", strerror(errno));
		(void)close(fd);
		return (CLAIM_ERROR);
	}
	*fd_r = fd;
	return (CLAIM_OK);
}

/*
 * The second half: if hold_path is still the file fd holds (st), rename
 * it to dst. Closes fd unless it returns CLAIM_OK.
 */
static enum claim_result
claim_move(int qdirfd, const char *hold_path, const char *dst, int fd,
    const struct stat *st, char *why, size_t whysize)
{
	struct stat	 lst, cst;

	/* Is the name still our file? It may have moved between open and lock. */
	if (fstatat(qdirfd, hold_path, &lst, AT_SYMLINK_NOFOLLOW) < 0) {
		(void)close(fd);
		if (errno == ENOENT)
			return (CLAIM_GONE);
		(void)snprintf(why, whysize, "lstat: %s", strerror(errno));
		return (CLAIM_ERROR);
	}
	if (lst.st_ino != st->st_ino || lst.st_dev != st->st_dev) {
		(void)close(fd);
		return (CLAIM_GONE);
	}
	if (lst.st_nlink != 1 || !queue_stat_ready(&lst)) {
		(void)snprintf(why, whysize, "has %lu links or is not ready",
		    (unsigned long)lst.st_nlink);
		(void)close(fd);
		return (CLAIM_SKIP);
	}
	if (renameat2(qdirfd, hold_path, qdirfd, dst, RENAME_NOREPLACE) < 0) {
		if (errno == ENOENT) {
			(void)close(fd);
			return (CLAIM_GONE);
		}
		(void)snprintf(why, whysize, "rename to %s: %s", dst,
		    strerror(errno));
		(void)close(fd);
		return (CLAIM_ERROR);
	}
	/* Raced by a rename of another file onto the old name? Then it is not ours. */
	if (fstatat(qdirfd, dst, &cst, AT_SYMLINK_NOFOLLOW) < 0 ||
	    cst.st_ino != st->st_ino) {
		(void)snprintf(why, whysize, "%s is not the file we locked", dst);
		(void)renameat2(qdirfd, dst, qdirfd, hold_path, RENAME_NOREPLACE);
		(void)close(fd);
		return (CLAIM_ERROR);
	}
	return (CLAIM_OK);
}

enum claim_result
claim_take(int qdirfd, const char *hold_path, const char *claimed_dir,
    const char *id, int *fd_r, struct stat *st_r, char *why, size_t whysize)
{
	enum claim_result r;
	char		 dst[QUEUE_PATH_SIZE];
	int		 fd;

	*fd_r = -1;
	if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", claimed_dir, id) >=
	    sizeof(dst)) {
		(void)snprintf(why, whysize, "name too long");
		return (CLAIM_ERROR);
	}
	if ((r = claim_open(qdirfd, hold_path, &fd, st_r, why, whysize)) !=
	    CLAIM_OK)
		return (r);
	if ((r = claim_move(qdirfd, hold_path, dst, fd, st_r, why, whysize)) !=
	    CLAIM_OK)
		return (r);
	*fd_r = fd;
	return (CLAIM_OK);
}

int
claim_return(const struct queue_layout *ql, int qdirfd,
    const char *claimed_dir, const char *id)
{
	char	 src[QUEUE_PATH_SIZE], dst[QUEUE_PATH_SIZE];
	char	 dir[QUEUE_PATH_SIZE];

	if ((size_t)snprintf(src, sizeof(src), "%s/%s", claimed_dir, id) >=
	    sizeof(src) || queue_path(ql, QUEUE_HOLD, id, dst) < 0) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if (renameat2(qdirfd, src, qdirfd, dst, RENAME_NOREPLACE) == 0)
		return (0);
	if (errno != ENOENT || queue_subdir(ql, QUEUE_HOLD, id, dir) < 0)
		return (-1);
	/* A hash directory may be missing; the source may be gone. */
	if (faccessat(qdirfd, src, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return (-1);
	if (queue_mkdirs(ql, qdirfd, dir) < 0)
		return (-1);
	return (renameat2(qdirfd, src, qdirfd, dst, RENAME_NOREPLACE));
}

int
claim_to_corrupt(const struct queue_layout *ql, int qdirfd,
    const char *claimed_dir, const char *id)
{
	char	 src[QUEUE_PATH_SIZE], dst[QUEUE_PATH_SIZE];

	if ((size_t)snprintf(src, sizeof(src), "%s/%s", claimed_dir, id) >=
	    sizeof(src) || (size_t)snprintf(dst, sizeof(dst), "%s/%s",
	    QUEUE_CORRUPT, id) >= sizeof(dst)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if (queue_mkdirs(ql, qdirfd, QUEUE_CORRUPT) < 0 ||
	    renameat2(qdirfd, src, qdirfd, dst, RENAME_NOREPLACE) < 0 ||
	    queue_fsync_dirat(qdirfd, QUEUE_CORRUPT) < 0)
		return (-1);
	return (0);
}
