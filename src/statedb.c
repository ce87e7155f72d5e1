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
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int
statedb_failed(const struct statedb *sdb)
{
	return (sdb == NULL || sdb->panicked);
}

int
statedb_open(const char *dir, struct statedb **sdb_r, char **error_r)
{
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
	if ((ret = db_env_create(&env, 0)) != 0) {
		*error_r = xasprintf("db_env_create: %s", db_strerror(ret));
		return (-1);
	}
	sdb = xcalloc(1, sizeof(*sdb));
	env->app_private = sdb;
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
