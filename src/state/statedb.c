/*
 * NAME
 *	statedb - open the transactional Berkeley DB environment
 * DESCRIPTION
 *	The environment lives in state_directory with its log files. Every
 *	opener registers itself (DB_REGISTER) and asks for recovery
 *	(DB_RECOVER): Berkeley DB runs recovery only when a previous opener
 *	died without closing, which is what makes a kill -9 of holdscand
 *	harmless to the journal. Logs are removed automatically once
 *	checkpointed. Deadlocks are broken by the default detector.
 *
 *	Berkeley DB keeps the environment's shared memory (locks, the log
 *	buffer, the cache) in the files __db.NNN, which every opener maps
 *	with mmap(2). Left to itself, Berkeley DB 5.3 makes those files
 *	sparse (it writes one byte at the end, at creation and each time a
 *	region grows) and maps them beyond their end: once the file system
 *	is full, the first store into a page without a block behind it
 *	raises SIGBUS and kills the process. So statedb maps the regions
 *	itself (db_env_set_func_region_map()), with every block of the
 *	mapping allocated first (posix_fallocate(3)): a full file system is
 *	then an error when the environment is opened, never a signal later.
 *	That costs the regions' full size on disk from the start (about
 *	12 MB) and nothing once open.
 *
 *	Where the regions are made is regions.c's: with
 *	state_region_directory (statedb_open_in()), on a memory file
 *	system, each linked from dir. When those links point nowhere (a
 *	restart of the machine), or the regions are files in dir though
 *	a region directory is usable, and no process has the environment
 *	open (the registry says, under its lock), the links go and a dead
 *	slot in the registry makes the open run recovery, which makes the
 *	regions anew: the cache never holds what the log does not.
 *
 *	This module must never leave an environment half open, never map
 *	a region file with a block missing, and never create files with
 *	group or other permissions.
 * DIAGNOSTICS
 *	Errors are sentences that name the state directory. When its file
 *	system is full, the sentence says so, how much is free and how
 *	much the environment needs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "state/regions.h"
#include "state/statedb.h"

#define STATEDB_CACHE_BYTES	(8 * 1024 * 1024)
#define STATEDB_LOG_BYTES	(4 * 1024 * 1024)
#define STATEDB_CKP_KBYTES	16384	/* a checkpoint after this much log */
#define STATEDB_CKP_MINUTES	1	/* or this long, if anything was logged */
#define STATEDB_LOCK_TIMEOUT_US	(10 * 1000 * 1000)
#define STATEDB_THREADS		256	/* processes with it open at once */
/*
 * The message log's databases are DB_MULTIVERSION: each committed writer
 * whose page versions are still in the cache keeps its transaction's
 * detail and one mutex ("txn mvcc"), up to one per cache buffer, on top
 * of the buffers' own mutexes. Berkeley DB sizes both regions for the
 * cache alone (4,995 mutexes with this cache): make bench ran it out
 * after some 35,000 messages, and every batch then got ENOMEM from the
 * message log and went back to hold.
 */
#define STATEDB_MUTEXES		32768
#define STATEDB_TXNS		8192
/* The regions (about 20 MB with the cache and mutexes above), and the log. */
#define STATEDB_NEED_BYTES	(24ULL * 1024 * 1024)
#define STATEDB_NEED_INODES	32

/* Berkeley DB's region map functions: regions.c, for this environment. */
static int
region_map(DB_ENV *env, char *path, size_t len, int *created, void **addr_r)
{
	struct statedb	*sdb = env->app_private;

	return (regions_map(sdb != NULL ? sdb->regions : NULL, env, path, len,
	    created, addr_r));
}

static int
region_unmap(DB_ENV *env, void *addr)
{
	(void)env;
	return (regions_unmap(addr));
}

/* Is dir's file system too full to open the environment? */
static int
short_of_space(const char *dir, uintmax_t *free_kb_r)
{
	struct statvfs	 vfs;

	if (statvfs(dir, &vfs) < 0)
		return (0);
	if (free_kb_r != NULL)
		*free_kb_r = (uintmax_t)vfs.f_bavail * vfs.f_frsize / 1024;
	return ((uintmax_t)vfs.f_bavail * vfs.f_frsize < STATEDB_NEED_BYTES ||
	    (vfs.f_files > 0 && vfs.f_favail < STATEDB_NEED_INODES));
}

/*
 * "DIR: WHAT: ERROR"; when dir's file system is full (by statvfs(2), or
 * by the error), that comes first, with what is free and what is needed:
 * Berkeley DB then often says only "run database recovery".
 */
char *
statedb_error_text(const char *dir, const char *what, int ret)
{
	uintmax_t	 kb = 0;

	if (short_of_space(dir, &kb) || ret == ENOSPC || ret == EDQUOT)
		return (xasprintf("%s: no space left on its file system (%ju kB "
		    "free; the state environment needs about %llu MB): free "
		    "some there (%s: %s)", dir, kb,
		    STATEDB_NEED_BYTES / 1024 / 1024, what, db_strerror(ret)));
	return (xasprintf("%s: %s: %s", dir, what, db_strerror(ret)));
}

/* errno for a Berkeley DB return value: its own codes are not errno's. */
static int
db_errno(int ret)
{
	return (ret > 0 ? ret : EINVAL);
}

/* failchk's question: does the process pid still run? */
static int
statedb_isalive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	(void)env;
	(void)tid;
	(void)flags;
	return (pid == getpid() || kill(pid, 0) == 0 || errno == EPERM);
}

/* Berkeley DB's event callback; app_private is our struct statedb. */
static void
statedb_event(DB_ENV *env, u_int32_t event, void *info)
{
	struct statedb	*sdb = env->app_private;

	(void)info;
	if (sdb != NULL && (event == DB_EVENT_PANIC ||
	    event == DB_EVENT_WRITE_FAILED))
		sdb->panicked = 1;
}

/*
 * Berkeley DB's own messages: into our log as debugging detail (they went
 * to stderr raw, many lines per failure; the caller logs the one line
 * that matters), the last one kept for the caller's diagnosis.
 */
static void
statedb_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	struct statedb	*sdb = env->app_private;

	(void)pfx;
	hs_debug("Berkeley DB: %s", msg);
	if (sdb == NULL)
		return;
	(void)snprintf(sdb->last_error, sizeof(sdb->last_error), "%s", msg);
	/* BDB2506: "file X has LSN a/b, past end of log at c/d" */
	if (strstr(msg, "past end of log") != NULL)
		sdb->logs_lost = true;
}

int
statedb_failed(const struct statedb *sdb)
{
	return (sdb == NULL || sdb->panicked);
}

/*
 * Berkeley DB always keeps the log file it writes to. Databases without
 * any log file mean the log files were removed: what they held is lost,
 * and the databases' pages point past the end of a new log.
 */
static bool
log_files_lost(const char *dir)
{
	struct dirent	*de;
	DIR		*d;
	size_t		 len;
	bool		 dbs = false, logs = false;

	if ((d = opendir(dir)) == NULL)
		return (false);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (strncmp(de->d_name, "log.", 4) == 0)
			logs = true;
		else if (len > 3 && strcmp(de->d_name + len - 3, ".db") == 0 &&
		    strncmp(de->d_name, "__db", 4) != 0)
			dbs = true;
	}
	(void)closedir(d);
	return (dbs && !logs);
}

/*
 * Berkeley DB's registry (__db.register, DB_REGISTER): one slot of
 * STATEDB_SLOT_LEN bytes per opener, its pid as "%24lu\n", locked with
 * fcntl(2) while the opener has the environment open; byte 1 is the
 * exclusive lock openers take while they read and change it.
 */
#define STATEDB_REGISTER	"__db.register"
#define STATEDB_SLOT_LEN	25
#define STATEDB_REGISTER_MAX	(1024 * 1024)

/*
 * Take the registry's lock (byte 1) on fd and read its slots: *buf_r
 * (caller frees) with *n_r bytes. -1 with errno; EFBIG for a registry
 * larger than any Berkeley DB writes. Closing fd releases the lock.
 */
static int
registry_lock_read(int fd, char **buf_r, ssize_t *n_r)
{
	struct flock	 fl;
	struct stat	 st;

	*buf_r = NULL;
	*n_r = 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 1;
	fl.l_len = 1;
	while (fcntl(fd, F_SETLKW, &fl) < 0)
		if (errno != EINTR)
			return (-1);
	if (fstat(fd, &st) < 0)
		return (-1);
	if (st.st_size > STATEDB_REGISTER_MAX) {
		errno = EFBIG;
		return (-1);
	}
	*buf_r = xmalloc((size_t)st.st_size + 1);
	if (st.st_size > 0 &&
	    (*n_r = pread(fd, *buf_r, (size_t)st.st_size, 0)) < 0) {
		*n_r = 0;
		return (-1);
	}
	return (0);
}

/*
 * Forget this process's own slots in the registry. A slot with our pid
 * while we have no handle open is left by an open of ours whose recovery
 * failed (Berkeley DB keeps the slot filled in then, on purpose), or by
 * an earlier process that had our pid (a restart in a pid namespace).
 * Berkeley DB refuses every later open by this pid ("DB_REGISTER limits
 * processes to one open DB_ENV handle per environment", EINVAL): after a
 * recovery that failed on a full file system, holdscand could never open
 * its state again. The slot becomes one of a dead process (pid 0, not
 * empty, not locked), so that the next open still runs recovery.
 * Called only with no handle of this process open.
 */
static int
register_forget_self(const char *dir, char **error_r)
{
	char		*path, *buf = NULL, mine[STATEDB_SLOT_LEN + 1];
	char		 dead[STATEDB_SLOT_LEN + 1];
	ssize_t		 n;
	off_t		 off;
	int		 fd, err = 0;

	path = xasprintf("%s/%s", dir, STATEDB_REGISTER);
	if ((fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		err = errno;
		free(path);
		/* None yet; or not ours to change: Berkeley DB will say. */
		if (err == ENOENT || err == EACCES || err == EPERM ||
		    err == EROFS)
			return (0);
		*error_r = xasprintf("%s/%s: %s", dir, STATEDB_REGISTER,
		    strerror(err));
		errno = err;
		return (-1);
	}
	if (registry_lock_read(fd, &buf, &n) < 0) {
		/* One larger than Berkeley DB writes is not ours to mend. */
		if (errno != EFBIG)
			err = errno;
		goto out;
	}
	(void)snprintf(mine, sizeof(mine), "%24lu\n", (unsigned long)getpid());
	(void)snprintf(dead, sizeof(dead), "%24lu\n", 0UL);
	for (off = 0; off + STATEDB_SLOT_LEN <= n; off += STATEDB_SLOT_LEN) {
		if (memcmp(buf + off, mine, STATEDB_SLOT_LEN) != 0)
			continue;
		if (pwrite(fd, dead, STATEDB_SLOT_LEN, off) != STATEDB_SLOT_LEN) {
			err = errno != 0 ? errno : EIO;
			goto out;
		}
		hs_debug("%s/%s: slot at %jd had our pid without an open "
		    "handle; marked dead, so the open runs recovery", dir,
		    STATEDB_REGISTER, (intmax_t)off);
	}
out:
	free(buf);
	/* Closing it releases the lock (fcntl locks are per process). */
	if (close(fd) < 0 && err == 0)
		err = errno;
	if (err != 0) {
		*error_r = xasprintf("%s/%s: %s", dir, STATEDB_REGISTER,
		    strerror(err));
		free(path);
		errno = err;
		return (-1);
	}
	free(path);
	return (0);
}

/*
 * The regions are gone (a reboot emptied state_region_directory), are
 * files in dir though a region directory is usable, or (grow) were
 * made by an earlier holdscan with room for room mutexes only. Under
 * the registry's lock, which every opener takes to register: if no
 * process has the environment open, remove the region names and leave
 * a dead slot (pid 0, not locked), so that the open runs recovery and
 * makes the regions anew where r says. What the lost cache held but
 * the databases did not is in the log; recovery puts it back. If a
 * process has it open, moving and growing wait for another time; a
 * loss is an error.
 */
static int
registry_reset(const char *dir, const struct regions *r, bool grow,
    unsigned room, char **error_r)
{
	enum regions_state state;
	struct flock	 fl;
	unsigned long	 live = 0;
	char		*path, *buf = NULL, dead[STATEDB_SLOT_LEN + 1];
	ssize_t		 n = 0;
	off_t		 off;
	int		 fd, err = 0;

	path = xasprintf("%s/%s", dir, STATEDB_REGISTER);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) < 0) {
		err = errno;
		goto out;
	}
	if (registry_lock_read(fd, &buf, &n) < 0) {
		err = errno;
		goto out;
	}
	/* Again under the lock: another opener may have done it already. */
	if ((state = regions_survey(r)) == REGIONS_OK && !grow)
		goto out;
	for (off = 0; off + STATEDB_SLOT_LEN <= n && live == 0;
	    off += STATEDB_SLOT_LEN) {
		if (buf[off] == 'X')	/* an empty slot */
			continue;
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = off;
		fl.l_len = 1;
		if (fcntl(fd, F_GETLK, &fl) < 0) {
			err = errno;
			goto out;
		}
		if (fl.l_type != F_UNLCK)
			live = fl.l_pid > 0 ? (unsigned long)fl.l_pid : 1;
	}
	if (live != 0) {
		if (state == REGIONS_LOST) {
			*error_r = xasprintf("%s: the shared memory of its "
			    "Berkeley DB environment is gone (from %s) while "
			    "process %lu has the environment open; stop "
			    "holdscand and every holdscan command, then start "
			    "holdscand again", dir, regions_where(r), live);
			err = EBUSY;
		}
		goto out;
	}
	/* After the slots, at a slot's place, as Berkeley DB appends them. */
	(void)snprintf(dead, sizeof(dead), "%24lu\n", 0UL);
	off = (off_t)(n - n % STATEDB_SLOT_LEN);
	if (regions_discard(r) < 0 ||
	    pwrite(fd, dead, STATEDB_SLOT_LEN, off) != STATEDB_SLOT_LEN) {
		err = errno != 0 ? errno : EIO;
		goto out;
	}
	if (state == REGIONS_LOST)
		hs_info("%s: the shared memory of its Berkeley DB environment "
		    "is gone (a restart of the machine empties %s); recovery "
		    "makes it anew", dir, regions_where(r));
	else if (state == REGIONS_MOVABLE)
		hs_info("%s: the shared memory of its Berkeley DB environment "
		    "moves to %s; recovery makes it anew there", dir,
		    regions_where(r));
	else
		hs_info("%s: the shared memory of its Berkeley DB environment "
		    "was made by an earlier holdscan, with room for %u "
		    "mutexes (%u now); recovery makes it anew", dir,
		    room, (unsigned)STATEDB_MUTEXES);
out:
	free(buf);
	if (fd >= 0 && close(fd) < 0 && err == 0)
		err = errno;
	if (err != 0 && *error_r == NULL)
		*error_r = xasprintf("%s/%s: %s", dir, STATEDB_REGISTER,
		    strerror(err));
	free(path);
	if (err != 0) {
		errno = err;
		return (-1);
	}
	return (0);
}

int
statedb_open(const char *dir, struct statedb **sdb_r, char **error_r)
{
	return (statedb_open_in(dir, NULL, sdb_r, error_r));
}

/*
 * Open dir's environment; grow: its regions, made with room for room
 * mutexes only, go first if no process has them open.
 */
static int
open_env(const char *dir, const char *region_dir, bool grow, unsigned room,
    struct statedb **sdb_r, char **error_r)
{
	bool		 lost;
	struct regions	*regions;
	struct statedb	*sdb;
	struct stat	 st;
	DB_ENV		*env = NULL;
	int		 ret, err;

	if (stat(dir, &st) < 0) {
		err = errno;
		*error_r = xasprintf("state directory %s: %s", dir, strerror(err));
		errno = err;
		return (-1);
	}
	if (!S_ISDIR(st.st_mode)) {
		*error_r = xasprintf("state directory %s: not a directory", dir);
		errno = ENOTDIR;
		return (-1);
	}
	lost = log_files_lost(dir);
	if (register_forget_self(dir, error_r) < 0)
		return (-1);
	regions = regions_new(dir, region_dir);
	*error_r = NULL;
	if ((grow || regions_survey(regions) != REGIONS_OK) &&
	    registry_reset(dir, regions, grow, room, error_r) < 0) {
		err = errno;
		regions_free(&regions);
		errno = err;
		return (-1);
	}
	/* Process-wide, and the same every time: regions with their blocks. */
	if ((ret = db_env_set_func_region_map(region_map, region_unmap)) != 0 ||
	    (ret = db_env_create(&env, 0)) != 0) {
		*error_r = xasprintf("db_env_create: %s", db_strerror(ret));
		regions_free(&regions);
		errno = db_errno(ret);
		return (-1);
	}
	sdb = xcalloc(1, sizeof(*sdb));
	sdb->regions = regions;
	env->app_private = sdb;
	env->set_errcall(env, statedb_errcall);
	if ((ret = env->set_event_notify(env, statedb_event)) != 0 ||
	    (ret = env->set_cachesize(env, 0, STATEDB_CACHE_BYTES, 1)) != 0 ||
	    (ret = env->mutex_set_max(env, STATEDB_MUTEXES)) != 0 ||
	    (ret = env->set_tx_max(env, STATEDB_TXNS)) != 0 ||
	    (ret = env->set_lg_max(env, STATEDB_LOG_BYTES)) != 0 ||
	    /*
	     * A deadlock's victim is the locker with the fewest write locks:
	     * a reader (a holdscan command opening the indexes), never
	     * holdscand's batch with its intent, log and index writes.
	     */
	    (ret = env->set_lk_detect(env, DB_LOCK_MINWRITE)) != 0 ||
	    /*
	     * A process that dies with locks held (a holdscan tool killed in
	     * its write transaction) must not make the others wait for
	     * ever: a lock wait ends after STATEDB_LOCK_TIMEOUT, and
	     * failchk (statedb_panicked()) finds dead processes by their
	     * pids and says when the environment needs recovery.
	     */
	    (ret = env->set_timeout(env, STATEDB_LOCK_TIMEOUT_US,
	    DB_SET_LOCK_TIMEOUT)) != 0 ||
	    (ret = env->set_thread_count(env, STATEDB_THREADS)) != 0 ||
	    (ret = env->set_isalive(env, statedb_isalive)) != 0 ||
	    (ret = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1)) != 0) {
		*error_r = xasprintf("%s: configure environment: %s", dir,
		    db_strerror(ret));
		goto fail;
	}
	ret = env->open(env, dir, DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | DB_INIT_TXN | DB_RECOVER | DB_REGISTER | DB_THREAD,
	    0600);
	if (ret != 0) {
		*error_r = statedb_error_text(dir, "open Berkeley DB environment", ret);
		/* Berkeley DB's own words, when it said more than its code. */
		if (sdb->last_error[0] != '\0') {
			char *e = xasprintf("%s (Berkeley DB: %s)", *error_r,
			    sdb->last_error);

			free(*error_r);
			*error_r = e;
		}
		goto fail;
	}
	sdb->env = env;
	sdb->dir = xstrdup(dir);
	sdb->logs_lost = lost;
	regions_collect(sdb->regions);
	*sdb_r = sdb;
	return (0);

fail:
	(void)env->close(env, 0);
	regions_free(&sdb->regions);
	free(sdb);
	errno = db_errno(ret);
	return (-1);
}

/*
 * The number of mutexes the open environment's regions have room for:
 * the maximum it was made with, or, made without one (Berkeley DB then
 * sizes the region once, for the cache), the mutexes it has.
 */
static unsigned
mutex_room(const struct statedb *sdb)
{
	DB_MUTEX_STAT	*st;
	u_int32_t	 n;

	if (sdb->env->mutex_get_max(sdb->env, &n) != 0)
		return (STATEDB_MUTEXES);	/* unknown: leave it */
	if (n != 0)
		return ((unsigned)n);
	if (sdb->env->mutex_stat(sdb->env, &st, 0) != 0)
		return (0);
	n = st->st_mutex_cnt;
	free(st);
	return ((unsigned)n);
}

/*
 * An environment made by an earlier holdscan keeps the mutex room it
 * was made with (4,995 before STATEDB_MUTEXES) until it is made anew,
 * which a restart of the machine does when state_region_directory is
 * a memory file system, or recovery: a restart of holdscand after an
 * upgrade only joins it. So it is made anew here when no other process
 * has it open; when one has, the log says what to do.
 */
int
statedb_open_in(const char *dir, const char *region_dir,
    struct statedb **sdb_r, char **error_r)
{
	struct statedb	*sdb;
	unsigned	 room;

	if (open_env(dir, region_dir, false, 0, &sdb, error_r) < 0)
		return (-1);
	if ((room = mutex_room(sdb)) >= STATEDB_MUTEXES) {
		*sdb_r = sdb;
		return (0);
	}
	statedb_close(&sdb);
	if (open_env(dir, region_dir, true, room, &sdb, error_r) < 0)
		return (-1);
	if ((room = mutex_room(sdb)) < STATEDB_MUTEXES)
		hs_warnx("%s: the shared memory of its Berkeley DB environment "
		    "was made by an earlier holdscan, with room for %u "
		    "mutexes (%u now), and another process has it open: "
		    "after many messages a batch may fail with \"Cannot "
		    "allocate memory\" and its mail stay in hold; stop "
		    "holdscand and every holdscan command, then start "
		    "holdscand again", dir, room, (unsigned)STATEDB_MUTEXES);
	*sdb_r = sdb;
	return (0);
}

void
statedb_close(struct statedb **sdbp)
{
	struct statedb	*sdb = *sdbp;

	if (sdb == NULL)
		return;
	(void)sdb->env->close(sdb->env, 0);
	regions_free(&sdb->regions);
	free(sdb->dir);
	free(sdb);
	*sdbp = NULL;
}

int
statedb_checkpoint(struct statedb *sdb, char **error_r)
{
	int	 ret;

	if ((ret = sdb->env->txn_checkpoint(sdb->env, STATEDB_CKP_KBYTES,
	    STATEDB_CKP_MINUTES, 0)) != 0) {
		*error_r = statedb_error_text(sdb->dir, "checkpoint", ret);
		errno = db_errno(ret);
		return (-1);
	}
	return (0);
}

bool
statedb_panicked(struct statedb *sdb)
{
	u_int32_t	 id;
	int		 ret;

	/*
	 * A process that died inside the environment (with a mutex or a
	 * write transaction): recovery is needed. Mark the environment
	 * panicked first, so that closing our handles returns at once
	 * instead of waiting for ever on the dead process's mutex (a
	 * close flushes the log).
	 */
	if (sdb->env->failchk(sdb->env, 0) == DB_RUNRECOVERY) {
		(void)sdb->env->set_flags(sdb->env, DB_PANIC_ENVIRONMENT, 1);
		sdb->panicked = 1;
		return (true);
	}

	/* Any call into a panicked environment says so; this one is cheap. */
	if ((ret = sdb->env->lock_id(sdb->env, &id)) == 0) {
		(void)sdb->env->lock_id_free(sdb->env, id);
		return (false);
	}
	return (ret == DB_RUNRECOVERY);
}

int
statedb_open_db(struct statedb *sdb, const char *name, DB **db_r,
    char **error_r)
{
	return (statedb_open_db_flags(sdb, name, 0, 0, db_r, error_r));
}

int
statedb_open_db_flags(struct statedb *sdb, const char *name,
    u_int32_t set_flags, u_int32_t open_flags, DB **db_r, char **error_r)
{
	DB	*db;
	int	 ret;

	if ((ret = db_create(&db, sdb->env, 0)) != 0) {
		*error_r = xasprintf("db_create: %s", db_strerror(ret));
		errno = db_errno(ret);
		return (-1);
	}
	if (set_flags != 0 && (ret = db->set_flags(db, set_flags)) != 0) {
		*error_r = xasprintf("%s/%s: set_flags: %s", sdb->dir, name,
		    db_strerror(ret));
		(void)db->close(db, 0);
		errno = db_errno(ret);
		return (-1);
	}
	if ((ret = db->open(db, NULL, name, NULL, DB_BTREE,
	    DB_CREATE | DB_AUTO_COMMIT | open_flags, 0600)) != 0) {
		*error_r = statedb_error_text(sdb->dir, name, ret);
		(void)db->close(db, 0);
		errno = db_errno(ret);
		return (-1);
	}
	*db_r = db;
	return (0);
}

int
statedb_forget_log(struct statedb *sdb, const char *distrusted,
    char **error_r)
{
	struct dirent	*de;
	DIR		*dir;
	char		 from[4096], to[4096];
	size_t		 len;
	int		 ret;

	(void)snprintf(from, sizeof(from), "%s/%s", sdb->dir, distrusted);
	(void)snprintf(to, sizeof(to), "%s/%s.lost-%lld", sdb->dir, distrusted,
	    (long long)time(NULL));
	if (rename(from, to) < 0 && errno != ENOENT) {
		*error_r = xasprintf("rename %s: %s", from, strerror(errno));
		return (-1);
	}
	if ((dir = opendir(sdb->dir)) == NULL) {
		*error_r = xasprintf("%s: %s", sdb->dir, strerror(errno));
		return (-1);
	}
	while ((de = readdir(dir)) != NULL) {
		len = strlen(de->d_name);
		if (len < 4 || strcmp(de->d_name + len - 3, ".db") != 0 ||
		    strncmp(de->d_name, "__db", 4) == 0)
			continue;
		if ((ret = sdb->env->lsn_reset(sdb->env, de->d_name, 0)) != 0) {
			*error_r = xasprintf("%s/%s: reset log sequence numbers: "
			    "%s", sdb->dir, de->d_name, db_strerror(ret));
			(void)closedir(dir);
			return (-1);
		}
	}
	(void)closedir(dir);
	sdb->logs_lost = false;
	return (0);
}

bool
statedb_retryable(const char *dir, int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
	case EIO:
	case ENOMEM:
	case EAGAIN:
	case EMFILE:
	case ENFILE:
	case EINTR:
		return (true);
	default:
		/* Berkeley DB may name what failed next instead of the disk. */
		return (short_of_space(dir, NULL));
	}
}
