/*
 * NAME
 *	stateenv - open and close the master's state environment
 * DESCRIPTION
 *	The journal, the set-aside list and the quarantine index live in
 *	one Berkeley DB environment, so that a batch and its quarantine
 *	entries share a transaction. They are opened together and closed
 *	together: after Berkeley DB panicked every handle must go.
 *
 *	This module must never decide when to open or reopen (the
 *	pipeline does), and never leave some handles open after a failure.
 */
#include <errno.h>
#include <stdlib.h>
#include <sysexits.h>
#include <time.h>

#include "daemon/instance.h"
#include "daemon/shipper.h"
#include "daemon/stateenv.h"
#include "state/aside.h"
#include "state/journal.h"
#include "state/listdb.h"
#include "state/msglog.h"
#include "state/outbox.h"
#include "state/statedb.h"
#include "state/statewatch.h"
#include "common/log.h"
#include "quarantine/quarantine.h"

int
stateenv_bind(const struct hs_config *conf, const struct queue_layout *ql,
    int qdirfd, char **error_r)
{
	enum instance_binding b = BINDING_OK;

	if (instance_bind(qdirfd, conf->holdscan_queue_subdir, ql->queue_dir,
	    conf->state_directory, ql->owner_uid, ql->owner_gid, &b,
	    error_r) < 0) {
		int	 err = errno;
		char	*text;

		if (b == BINDING_FOREIGN)
			hs_fatalx(EX_CONFIG, "%s", *error_r);
		text = statedb_error_text(conf->state_directory, *error_r, err);
		free(*error_r);
		*error_r = text;
		errno = err;
		return (-1);
	}
	switch (b) {
	case BINDING_NEW:
		hs_info("state directory %s now belongs to the queue %s",
		    conf->state_directory, ql->queue_dir);
		break;
	case BINDING_STATE_LOST:
		hs_warnx("state directory %s has no record of the queue %s, "
		    "which holdscan has used before: the journal, the quarantine "
		    "index and the set-aside list were lost or are elsewhere. "
		    "Interrupted batches are finished from the intent records in "
		    "%s/%s/intent, and the quarantine index is rebuilt from the "
		    "store; see RECOVERY in holdscand(8)",
		    conf->state_directory, ql->queue_dir, ql->queue_dir,
		    conf->holdscan_queue_subdir);
		break;
	case BINDING_QUEUE_LOST:
		hs_warnx("%s/%s had no record of the state directory %s; "
		    "written again", ql->queue_dir,
		    conf->holdscan_queue_subdir, conf->state_directory);
		break;
	case BINDING_OK:
	case BINDING_FOREIGN:
		break;
	}
	return (0);
}

/*
 * The message log's index anew when an older holdscand wrote it (its
 * keys without their day): once, before the mail flows (it waits in
 * hold meanwhile; 20 s for a million records on a 2-CPU machine).
 */
static int
rebuild_index(struct stateenv *env, const struct hs_config *conf,
    char **error_r)
{
	struct timespec	 t0, t1;
	size_t		 n = 0;

	if (clock_gettime(CLOCK_MONOTONIC, &t0) < 0)
		t0.tv_sec = t0.tv_nsec = 0;
	if (msglog_rebuild_index(env->sdb, &n, error_r) < 0)
		return (-1);
	if (n > 0) {
		if (clock_gettime(CLOCK_MONOTONIC, &t1) < 0)
			t1 = t0;
		hs_info("message log: the index of %zu records made anew "
		    "(with their day) in %.1f s, in %s", n,
		    (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		    conf->state_directory);
	}
	return (0);
}

static int
open_dbs(struct stateenv *env, const struct hs_config *conf,
    const struct queue_layout *ql, char **error_r)
{
	char	*error = NULL;
	int	 err;

	if (journal_open(env->sdb, &env->journal, error_r) < 0 ||
	    aside_open(env->sdb, &env->aside, error_r) < 0 ||
	    quarantine_open(conf, env->sdb, ql->owner_uid, ql->owner_gid,
	    &env->quarantine, error_r) < 0 ||
	    listdb_open(env->sdb, &env->lists, error_r) < 0)
		goto fail;
	if (conf->message_log && (rebuild_index(env, conf, &error) < 0 ||
	    msglog_open(env->sdb, &env->msglog, &error) < 0)) {
		/*
		 * The full disk again: wait with the rest. Anything else (a
		 * damaged file) must not stop the mail: it flows unlogged.
		 */
		if (statedb_retryable(conf->state_directory, errno)) {
			*error_r = error;
			goto fail;
		}
		hs_warnx("%s; the message log is off until holdscand can open "
		    "it (move the msglog*.db files in %s aside and restart "
		    "it to begin a new one)", error, conf->state_directory);
		free(error);
	}
	return (0);
fail:
	err = errno;	/* for statedb_retryable() */
	msglog_close(&env->msglog);
	listdb_close(&env->lists);
	quarantine_close(&env->quarantine);
	aside_close(&env->aside);
	journal_close(&env->journal);
	errno = err;
	return (-1);
}

/*
 * A farm (database set): the outbox, filled in the message log's
 * transactions, and the thread that ships it. A failure here costs the
 * farm, never the mail: one warning, and the log stays on this host.
 */
static void
farm_open(struct stateenv *env, const struct hs_config *conf,
    const struct queue_layout *ql)
{
	char	*error = NULL;

	if (conf->database == NULL || conf->database[0] == '\0')
		return;
	if (env->msglog == NULL) {
		hs_warnx("database is set but the message log is off "
		    "(message_log = no, or it cannot be opened): nothing is "
		    "shipped");
		return;
	}
	if (outbox_open(env->sdb, conf->outbox_limit, &env->outbox,
	    &error) < 0 ||
	    shipper_start(env->sdb, conf->database, ql->myhostname != NULL ?
	    ql->myhostname : "", &env->shipper, &error) < 0) {
		hs_warnx("%s; the message log stays on this host", error);
		free(error);
		outbox_close(&env->outbox);
		return;
	}
	msglog_set_outbox(env->msglog, env->outbox);
}

int
stateenv_open(struct stateenv *env, const struct hs_config *conf,
    const struct queue_layout *ql, char **error_r)
{
	char	*error = NULL;

	if (statedb_open_in(conf->state_directory,
	    conf->state_region_directory, &env->sdb, error_r) < 0)
		return (-1);
	if (env->sdb->logs_lost) {
		/*
		 * The log files were removed (by hand, or a disk that lost
		 * them): the journal cannot be trusted without them. Put it
		 * aside; the intent records in the queue say what an
		 * interrupted batch did (commit.c).
		 */
		hs_warnx("the log files of the state environment %s are gone: "
		    "the journal cannot be trusted without them; it is moved "
		    "aside and interrupted batches are finished from the intent "
		    "records; see RECOVERY in holdscand(8)",
		    conf->state_directory);
		if (statedb_forget_log(env->sdb, JOURNAL_DB_NAME, &error) < 0) {
			int	 err = errno;

			*error_r = error;
			statedb_close(&env->sdb);
			errno = err;
			return (-1);
		}
	}
	if (open_dbs(env, conf, ql, &error) < 0) {
		int	 err = errno;	/* for statedb_retryable() */

		*error_r = error;
		statedb_close(&env->sdb);
		errno = err;
		return (-1);
	}
	if (statewatch_start(env->sdb, &env->watch, &error) < 0) {
		/* The watchdog still ends a wait that never ends. */
		hs_warnx("%s", error);
		free(error);
	}
	farm_open(env, conf, ql);
	return (0);
}

void
stateenv_close(struct stateenv *env)
{
	statewatch_stop(&env->watch);
	shipper_stop(&env->shipper);
	msglog_close(&env->msglog);
	outbox_close(&env->outbox);
	listdb_close(&env->lists);
	quarantine_close(&env->quarantine);
	aside_close(&env->aside);
	journal_close(&env->journal);
	statedb_close(&env->sdb);
}
