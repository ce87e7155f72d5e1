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
 *	This module must never leave an environment half open, and never
 *	create files with group or other permissions.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "statedb.h"
#include "xalloc.h"

#define STATEDB_CACHE_BYTES	(8 * 1024 * 1024)
#define STATEDB_LOG_BYTES	(4 * 1024 * 1024)
#define STATEDB_CKP_KBYTES	1024

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

int
statedb_open(const char *dir, struct statedb **sdb_r, char **error_r)
{
	bool		 lost;
	struct statedb	*sdb;
	struct stat	 st;
	DB_ENV		*env = NULL;
	int		 ret;

	if (stat(dir, &st) < 0) {
		*error_r = xasprintf("state directory %s: %s", dir, strerror(errno));
		return (-1);
	}
	if (!S_ISDIR(st.st_mode)) {
		*error_r = xasprintf("state directory %s: not a directory", dir);
		return (-1);
	}
	lost = log_files_lost(dir);
	if ((ret = db_env_create(&env, 0)) != 0) {
		*error_r = xasprintf("db_env_create: %s", db_strerror(ret));
		return (-1);
	}
	sdb = xcalloc(1, sizeof(*sdb));
	env->app_private = sdb;
	env->set_errcall(env, statedb_errcall);
	if ((ret = env->set_event_notify(env, statedb_event)) != 0 ||
	    (ret = env->set_cachesize(env, 0, STATEDB_CACHE_BYTES, 1)) != 0 ||
	    (ret = env->set_lg_max(env, STATEDB_LOG_BYTES)) != 0 ||
	    (ret = env->set_lk_detect(env, DB_LOCK_DEFAULT)) != 0 ||
	    (ret = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1)) != 0) {
		*error_r = xasprintf("%s: configure environment: %s", dir,
		    db_strerror(ret));
		goto fail;
	}
	ret = env->open(env, dir, DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | DB_INIT_TXN | DB_RECOVER | DB_REGISTER, 0600);
	if (ret != 0) {
		*error_r = xasprintf("%s: open Berkeley DB environment: %s", dir,
		    db_strerror(ret));
		goto fail;
	}
	sdb->env = env;
	sdb->dir = xstrdup(dir);
	sdb->logs_lost = lost;
	*sdb_r = sdb;
	return (0);

fail:
	(void)env->close(env, 0);
	free(sdb);
	return (-1);
}

void
statedb_close(struct statedb **sdbp)
{
	struct statedb	*sdb = *sdbp;

	if (sdb == NULL)
		return;
	(void)sdb->env->close(sdb->env, 0);
	free(sdb->dir);
	free(sdb);
	*sdbp = NULL;
}

int
statedb_checkpoint(struct statedb *sdb)
{
	int	 ret;

	if ((ret = sdb->env->txn_checkpoint(sdb->env, STATEDB_CKP_KBYTES, 0,
	    0)) != 0) {
		errno = ret > 0 ? ret : EIO;
		return (-1);
	}
	return (0);
}

bool
statedb_panicked(struct statedb *sdb)
{
	u_int32_t	 id;
	int		 ret;

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
		return (-1);
	}
	if (set_flags != 0 && (ret = db->set_flags(db, set_flags)) != 0) {
		*error_r = xasprintf("%s/%s: set_flags: %s", sdb->dir, name,
		    db_strerror(ret));
		(void)db->close(db, 0);
		return (-1);
	}
	if ((ret = db->open(db, NULL, name, NULL, DB_BTREE,
	    DB_CREATE | DB_AUTO_COMMIT | open_flags, 0600)) != 0) {
		*error_r = xasprintf("%s/%s: %s", sdb->dir, name, db_strerror(ret));
		(void)db->close(db, 0);
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
