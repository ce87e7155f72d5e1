/*
 * scratch.h - the scanner's private temporary directories (scratch.c).
 *
 * One directory per scanner program, BASE/scanner.XXXXXX (0700, locked
 * with flock(2) for as long as the process or one of its workers
 * lives), and in it one per worker, worker.PID (0700), emptied and
 * removed when the worker has ended, however it ended.
 */
#ifndef HS_SCRATCH_H
#define HS_SCRATCH_H

#include <stdbool.h>
#include <sys/types.h>

#define SCRATCH_PREFIX		"scanner."	/* in the base directory */
#define SCRATCH_FALLBACK	"holdscan-scanner."	/* in /dev/shm or /tmp */

struct scratch {
	int	 fd;		/* our directory, locked; -1: none */
	char	*path;		/* its path */
	bool	 fallback;	/* made in a shared directory: no leftovers
				   of others are looked for there */
};

/*
 * scratch_open() makes our directory in base, which must be a directory
 * of ours (not a symbolic link) that nobody else may enter (mode 0700):
 * holdscand makes it. Before, it removes what scanner programs that are
 * gone left there (the SCRATCH_PREFIX directories nobody holds a lock
 * on). With fallback, a base that is missing or not ours is not an
 * error: a private directory (mkdtemp(3), SCRATCH_FALLBACK) is made in
 * /dev/shm when that is a tmpfs, else in /tmp (the one-shot commands,
 * which may run before holdscand ever did). 0, or -1 with a sentence in
 * *error_r (the caller's to free).
 */
int	 scratch_open(struct scratch *s, const char *base, bool fallback,
	    char **error_r);
/* In a worker: make worker.PID (pid: getpid()); its path in *dir_r. */
int	 scratch_worker(struct scratch *s, pid_t pid, char **dir_r,
	    char **error_r);
/* The worker pid has ended: remove worker.PID and all in it. */
int	 scratch_worker_done(struct scratch *s, pid_t pid, char **error_r);
/* Remove our directory and all in it; s is empty afterwards. */
int	 scratch_close(struct scratch *s, char **error_r);
/*
 * Remove name in the directory dirfd, and all in it if it is a
 * directory. Symbolic links are removed, never followed; anything not
 * owned by us is left alone (an error). A missing name is not an error.
 */
int	 scratch_remove(int dirfd, const char *name, char **error_r);

#endif
