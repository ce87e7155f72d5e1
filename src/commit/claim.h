/*
 * claim.h - take a held file out of Postfix's reach, give it back, or
 * put it in the corrupt queue.
 *
 * A claimed file sits in holdscan's own directory inside the queue
 * directory (same file system, same inode), locked by us, invisible to
 * postsuper and qmgr.
 */
#ifndef HS_CLAIM_H
#define HS_CLAIM_H

#include <stddef.h>
#include <sys/stat.h>

#include "common/queue.h"

enum claim_result {
	CLAIM_OK,
	CLAIM_GONE,		/* moved or removed meanwhile (postsuper): forget it */
	CLAIM_LOCKED,		/* someone holds its lock: try again later */
	CLAIM_SKIP,		/* not a candidate after all (mode, links); why says */
	CLAIM_ERROR,		/* something failed; why says; left in hold */
};

/*
 * claim_take() opens hold_path (relative to qdirfd) without following
 * links, takes Postfix's lock without blocking, checks it is still the
 * same ready single-link regular file, and renames it to claimed_dir/id
 * (never replacing anything). On CLAIM_OK *fd_r is the open, locked file
 * (read-only) and *st_r its status.
 */
enum claim_result claim_take(int qdirfd, const char *hold_path,
	    const char *claimed_dir, const char *id, int *fd_r,
	    struct stat *st_r, char *why, size_t whysize);
/*
 * claim_return() renames claimed_dir/id back into the hold queue at its
 * proper (hashed) path, creating hash directories as Postfix does.
 * 0, or -1 with errno (EEXIST: a file of that name is in hold already).
 */
int	 claim_return(const struct queue_layout *ql, int qdirfd,
	    const char *claimed_dir, const char *id);
/*
 * claim_to_corrupt() renames claimed_dir/id into Postfix's corrupt queue
 * (created if missing, as Postfix does) under the same name, never
 * replacing a file there, and fsyncs that directory. 0, or -1 with errno
 * (EEXIST: corrupt/id exists; the file then stays in claimed_dir).
 */
int	 claim_to_corrupt(const struct queue_layout *ql, int qdirfd,
	    const char *claimed_dir, const char *id);

#endif
