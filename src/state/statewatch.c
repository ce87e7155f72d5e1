/*
 * statewatch - end lock waits on the dead, and checkpoint, in holdscand.
 *
 * A process killed inside a Berkeley DB write transaction (a holdscan
 * tool, say) keeps its locks in the shared region. Whoever waits for one
 * of them sleeps until somebody runs the deadlock detector, and holdscand
 * alone in the environment never would: it stopped moving mail and did
 * not even obey SIGTERM (found by make torture). Lock requests carry a
 * timeout (statedb.c), but Berkeley DB notices an expired one only when
 * the detector runs, so this thread runs it, once a second, for the
 * expired waits only (DB_LOCK_EXPIRE).
 *
 * The same thread checkpoints the environment (statedb_checkpoint():
 * after each 16 MB of log, or a minute after the last checkpoint
 * when anything was logged since). Nothing else in holdscand did: the
 * log files were never removed (DB_LOG_AUTO_REMOVE removes only those
 * older than the last checkpoint), so the state directory grew by about
 * 2 KB per message for ever, and a recovery after a crash read the log
 * from its first file. (A checkpoint after each megabyte, as first
 * done, came twice a second at a thousand messages a second; 16 MB
 * still bounds a recovery's reading to a second or two.) A checkpoint
 * writes the cache's dirty pages and syncs the files before it logs
 * that it is done; the master's
 * transactions go on meanwhile. A checkpoint that fails (a full file
 * system) is logged once, and again when they succeed once more: the
 * log files stay until then, and nothing is lost.
 *
 * It never aborts a transaction that is making progress, never reads or
 * writes a record, and never outlives the environment handle it was
 * given.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "state/statedb.h"
#include "state/statewatch.h"

#define STATEWATCH_EVERY_MS	1000

struct statewatch {
	struct statedb	*sdb;
	DB_ENV		*env;
	bool		 ckp_failing;	/* the last checkpoint failed */
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;	/* signalled to stop */
	bool		 stop;
};

/* A checkpoint when one is due; its failure logged once, not each second. */
static void
checkpoint(struct statewatch *w)
{
	char	*error = NULL;

	if (statedb_checkpoint(w->sdb, &error) < 0) {
		if (!w->ckp_failing)
			hs_warnx("%s; the log files are kept until a "
			    "checkpoint succeeds", error);
		free(error);
		w->ckp_failing = true;
	} else if (w->ckp_failing) {
		hs_info("state environment %s: checkpoints succeed again",
		    w->sdb->dir);
		w->ckp_failing = false;
	}
}

static void *
watch_main(void *arg)
{
	struct statewatch *w = arg;
	struct timespec	 until;
	int		 ret;

	if (pthread_mutex_lock(&w->mu) != 0)
		return (NULL);
	while (!w->stop) {
		(void)clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += STATEWATCH_EVERY_MS / 1000;
		while (!w->stop && (ret = pthread_cond_timedwait(&w->cv,
		    &w->mu, &until)) != ETIMEDOUT)
			if (ret != 0)
				break;
		if (w->stop)
			break;
		/* Not under our mutex: stopping must never wait for it. */
		(void)pthread_mutex_unlock(&w->mu);
		/* The waiter reports its failure. */
		(void)w->env->lock_detect(w->env, 0, DB_LOCK_EXPIRE, NULL);
		checkpoint(w);
		if (pthread_mutex_lock(&w->mu) != 0)
			return (NULL);
	}
	(void)pthread_mutex_unlock(&w->mu);
	return (NULL);
}

int
statewatch_start(struct statedb *sdb, struct statewatch **w_r,
    char **error_r)
{
	struct statewatch *w;
	pthread_condattr_t ca;
	sigset_t	 all, old;
	int		 ret;

	w = xcalloc(1, sizeof(*w));
	w->sdb = sdb;
	w->env = sdb->env;
	if ((ret = pthread_condattr_init(&ca)) != 0 ||
	    (ret = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0 ||
	    (ret = pthread_cond_init(&w->cv, &ca)) != 0) {
		*error_r = xasprintf("state watch: %s", strerror(ret));
		free(w);
		return (-1);
	}
	(void)pthread_condattr_destroy(&ca);
	if ((ret = pthread_mutex_init(&w->mu, NULL)) != 0) {
		*error_r = xasprintf("state watch: %s", strerror(ret));
		(void)pthread_cond_destroy(&w->cv);
		free(w);
		return (-1);
	}
	/* Signals are the main thread's: the watcher starts with all blocked. */
	(void)sigfillset(&all);
	if ((ret = pthread_sigmask(SIG_SETMASK, &all, &old)) == 0) {
		ret = pthread_create(&w->thread, NULL, watch_main, w);
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (ret != 0) {
		*error_r = xasprintf("state watch: pthread_create: %s",
		    strerror(ret));
		(void)pthread_mutex_destroy(&w->mu);
		(void)pthread_cond_destroy(&w->cv);
		free(w);
		return (-1);
	}
	*w_r = w;
	return (0);
}

void
statewatch_stop(struct statewatch **wp)
{
	struct statewatch *w = *wp;

	if (w == NULL)
		return;
	if (pthread_mutex_lock(&w->mu) == 0) {
		w->stop = true;
		(void)pthread_cond_signal(&w->cv);
		(void)pthread_mutex_unlock(&w->mu);
	}
	(void)pthread_join(w->thread, NULL);
	(void)pthread_mutex_destroy(&w->mu);
	(void)pthread_cond_destroy(&w->cv);
	free(w);
	*wp = NULL;
}
