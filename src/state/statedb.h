/*
 * statedb.h - the Berkeley DB transactional environment in state_directory.
 *
 * One environment holds the intent journal and the quarantine index, so
 * that a batch commit and its quarantine entries can share a transaction.
 * Several processes may open it at once (holdscand and the holdscan tool):
 * DB_REGISTER makes the first opener after a crash run recovery.
 */
#ifndef HS_STATEDB_H
#define HS_STATEDB_H

#include <stdbool.h>

#include <db.h>

struct regions;

struct statedb {
	DB_ENV	*env;
	struct regions *regions;	/* where its shared memory is made */
	char	*dir;
	int	 panicked;	/* Berkeley DB said the environment needs recovery */
	bool	 logs_lost;	/* a database is past the end of the log */
	char	 last_error[512];	/* Berkeley DB's last message */
};

/*
 * statedb_open() creates dir's environment if needed and opens it with
 * recovery. Returns 0, or -1 with a sentence in *error_r (caller frees)
 * and errno set: ENOSPC when the file system is full, EINVAL for
 * Berkeley DB's own errors (DB_RUNRECOVERY, DB_VERSION_MISMATCH, ...).
 * The environment's shared regions are allocated on disk in full when
 * it is opened, so that a full file system is an error here, never a
 * SIGBUS later.
 * statedb_checkpoint() writes a checkpoint when one is due (16 MB
 * of log since the last, or a minute if anything was logged) and lets
 * Berkeley DB remove the log files it no longer needs: 0, or -1 with a
 * sentence in *error_r (caller frees) and errno.
 */
int	 statedb_open(const char *dir, struct statedb **sdb_r, char **error_r);
/*
 * statedb_open_in() is statedb_open() with the environment's shared
 * memory made in region_dir (state_region_directory: a directory of
 * dir's own there, dir holding a symbolic link to each region; see
 * regions.h) when it is set and usable. When the regions it names are
 * gone (a reboot), or are files in dir though region_dir is usable, and
 * no process has the environment open, the open runs recovery and makes
 * them anew there. Regions gone while a process has it open: -1, EBUSY.
 */
int	 statedb_open_in(const char *dir, const char *region_dir,
	    struct statedb **sdb_r, char **error_r);
void	 statedb_close(struct statedb **sdb);
int	 statedb_checkpoint(struct statedb *sdb, char **error_r);
/*
 * statedb_panicked() tells whether the environment can no longer be used
 * through this handle (DB_RUNRECOVERY): another opener found a process
 * that died with it open and ran recovery, or a fatal error happened.
 * Every handle of it must then be closed and the environment opened
 * again; what was committed is all there.
 */
bool	 statedb_panicked(struct statedb *sdb);
/*
 * After a failed log write Berkeley DB "panics": every later call fails
 * until the environment is closed and opened again (which runs recovery).
 * statedb_failed() tells the owner it is time to do that.
 */
int	 statedb_failed(const struct statedb *sdb);
/*
 * After the log files were removed (statedb_open() sets sdb->logs_lost
 * when it finds databases but no log file), every database's pages carry
 * log sequence numbers past the end of the new log, and writes fail. What the lost log
 * held is gone: statedb_forget_log() renames the database distrusted
 * aside (to NAME.lost-TIME; its content cannot be trusted without the
 * log) and resets the log sequence numbers of every other database of
 * the environment so that they open again. Call it with no database
 * handle open. 0, or -1 with *error_r.
 */
int	 statedb_forget_log(struct statedb *sdb, const char *distrusted,
	    char **error_r);
/*
 * statedb_retryable() tells whether opening dir's environment, which
 * failed with errno err (statedb_open(), statedb_open_db()), may work
 * later without anyone's help: the file system is full (by err or by
 * what statvfs(2) says), out of quota, an I/O error, a shortage of
 * memory or descriptors. Other failures (permissions, a damaged or
 * foreign environment) need the administrator.
 */
bool	 statedb_retryable(const char *dir, int err);
/*
 * "DIR: WHAT: ERROR" for a failure in the state directory dir (ret an
 * errno or a Berkeley DB code); when dir's file system is full, that
 * comes first, with what is free and what the environment needs.
 */
char	*statedb_error_text(const char *dir, const char *what, int ret);
/*
 * Open (create) the btree database file name in the environment; on
 * failure errno is set as by statedb_open().
 */
int	 statedb_open_db(struct statedb *sdb, const char *name, DB **db_r,
	    char **error_r);
/*
 * The same with DB->set_flags() flags (DB_DUP | DB_DUPSORT for a
 * secondary index) and extra DB->open() flags (DB_MULTIVERSION, so that
 * readers can use snapshot transactions and never block a writer).
 */
int	 statedb_open_db_flags(struct statedb *sdb, const char *name,
	    u_int32_t set_flags, u_int32_t open_flags, DB **db_r,
	    char **error_r);

#endif
