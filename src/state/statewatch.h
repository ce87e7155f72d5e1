/*
 * statewatch.h - a thread of holdscand that ends lock waits which can
 * never be granted (a process died holding the lock) and checkpoints
 * the environment, so that its log files are removed.
 */
#ifndef HS_STATEWATCH_H
#define HS_STATEWATCH_H

struct statedb;
struct statewatch;

/*
 * statewatch_start() starts the thread on sdb's environment, which must
 * stay open until statewatch_stop(). Every second it ends the lock waits
 * that have waited longer than the environment's lock timeout: the
 * waiter gets DB_LOCK_NOTGRANTED, gives up its transaction, and the
 * caller's next statedb_panicked() finds the dead process. And it
 * checkpoints the environment when one is due (statedb_checkpoint()).
 * 0, or -1
 * with *error_r (caller frees).
 */
int	 statewatch_start(struct statedb *sdb, struct statewatch **w_r,
	    char **error_r);
/* Stops and joins the thread; *w is NULL afterwards. NULL is fine. */
void	 statewatch_stop(struct statewatch **w);

#endif
