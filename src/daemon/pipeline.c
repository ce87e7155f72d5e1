/*
 * NAME
 *	pipeline - the life of a held message in holdscand's master
 * DESCRIPTION
 *	One message's hops, each a function here:
 *
 *	    claim (pipeline_claim)      hold -> claimed/, parsed, into the
 *	                                open batch and the scan queue
 *	    dispatch                    to an idle worker of the newest
 *	                                scanners (suspects one at a time)
 *	    result (pipeline_scanned)   verdict, action, new content; or a
 *	                                failed attempt, retried up to
 *	                                scan_retry_limit, then decided
 *	                                unscanned (decide_unscanned())
 *	    batch                       closed when full or after
 *	                                batch_max_wait; committed once every
 *	                                message in it is decided
 *	    commit (commit_one_batch)   commit_batch() on the messages
 *	                                themselves, one log line each, the
 *	                                set-aside list follows, notices queued
 *
 *	The master decides alone for mail that cannot be scanned: too
 *	large, scan failed too often, or set aside too long (setaside.c).
 *	Such mail is held, quarantined, dropped, or delivered with the
 *	not-scanned header (which replaces, as the scanners' header does,
 *	every field named like holdscan's: mailhdr_strip()), as the policy's
 *	scan_failed action says.
 *
 *	A failed batch commit (disk full, I/O error) returns its messages
 *	to hold and backs off (backoff.c), doubling the pause up to a
 *	minute, until a commit succeeds again; nothing is claimed during a
 *	pause. When Berkeley DB fails (a failed log write), the state
 *	environment is closed and opened again (which runs recovery);
 *	while it cannot be opened, batches go back to hold unjournaled and
 *	nothing is claimed. Recovery runs again after a commit left
 *	something unfinished, before any new claim.
 *
 *	A dead scanner parent gives back what was in scan: those messages
 *	are scanned again first, uncounted, as suspects, one at a time
 *	(pipeline_scanner_lost()).
 *
 *	The pool and the commit are reached through p->ops only.
 *
 *	This module must never deliver a message twice, never lose one,
 *	and never let a message leave the pipeline but through the commit,
 *	a return to hold or the corrupt queue. It never claims while the
 *	state environment is closed, recovery is due, a pause runs or the
 *	scanners are down.
 * DIAGNOSTICS
 *	One log line per message per step ("QUEUEID: claimed ...",
 *	"QUEUEID: scanned ...", "QUEUEID: action=..."), one per batch
 *	("batch=N messages=..."); tests and administrators read them.
 *	Exits (EX_UNAVAILABLE) when the state environment fails in a way
 *	that needs the administrator.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "commit/claim.h"
#include "commit/commit.h"
#include "commit/msg.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/mailhdr.h"
#include "common/qfile.h"
#include "common/verdict.h"
#include "common/xalloc.h"
#include "daemon/notify.h"
#include "daemon/pipeline.h"
#include "daemon/watch.h"
#include "state/listdb.h"
#include "quarantine/quarantine.h"
#include "state/aside.h"
#include "state/msglog.h"
#include "state/statedb.h"

#define LOCKED_RETRY_MS		1000

const struct pipeline_ops pipeline_ops_real = {
	.pool_idle = pool_idle,
	.pool_busy = pool_busy,
	.pool_dispatch = pool_dispatch,
	.pool_lost = pool_lost,
	.commit_batch = commit_batch,
};

static void	reopen_state(struct pipeline *);
static void	close_open_batch(struct pipeline *);

static long
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

static double
now_real(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
note_error(struct pipeline *p, const char *text)
{
	(void)snprintf(p->metrics->last_error, sizeof(p->metrics->last_error),
	    "%s", text);
	p->metrics->last_error_time = time(NULL);
}

/* Stop claiming for a while (backoff.c), and remember why for status. */
static void
back_off(struct pipeline *p, const char *why)
{
	backoff_fail(&p->backoff, why, now_ms());
	note_error(p, why);
}

int
pipeline_new(const struct pipeline_setup *s, struct pipeline **p_r,
    char **error_r)
{
	struct pipeline	*p = xcalloc(1, sizeof(*p));

	p->conf = s->conf;
	p->ql = s->ql;
	p->policy = s->policy;
	p->unscanned_header = s->unscanned_header;
	p->qdirfd = s->qdirfd;
	p->watch = s->watch;
	p->pool = s->pool;
	p->notify = s->notify;
	p->metrics = s->metrics;
	p->ops = s->ops;
	TAILQ_INIT(&p->scanq);
	TAILQ_INIT(&p->closed);
	if (commit_init(&p->commit, p->ql, p->conf, p->qdirfd, NULL, NULL,
	    error_r) < 0) {
		free(p);
		return (-1);
	}
	p->state_starting = true;
	*p_r = p;
	return (0);
}

void
pipeline_free(struct pipeline **pp)
{
	struct pipeline	*p = *pp;
	struct batch	*b;

	if (p == NULL)
		return;
	batch_free(&p->open);
	while ((b = TAILQ_FIRST(&p->closed)) != NULL) {
		TAILQ_REMOVE(&p->closed, b, entry);
		batch_free(&b);
	}
	setaside_clear(&p->setaside);
	commit_clear(&p->commit);
	stateenv_close(&p->state);
	free(p);
	*pp = NULL;
}

void
pipeline_stop(struct pipeline *p)
{
	p->stopping = true;
}

void
pipeline_reconfigure(struct pipeline *p, const struct hs_config *conf)
{
	p->conf = conf;
	p->commit.conf = conf;
}

bool
pipeline_batching(const struct pipeline *p)
{
	return (p->open != NULL || !TAILQ_EMPTY(&p->closed));
}

/* --- the state environment ---------------------------------------------- */

static int
open_state_db(struct pipeline *p, char **error_r)
{
	if (stateenv_open(&p->state, p->conf, p->ql, error_r) < 0)
		return (-1);
	p->commit.journal = p->state.journal;
	p->commit.aside = p->state.aside;
	p->commit.quarantine = p->state.quarantine;
	p->commit.msglog = p->state.msglog;
	return (0);
}

static void
close_state_db(struct pipeline *p)
{
	stateenv_close(&p->state);
	p->commit.journal = NULL;
	p->commit.aside = NULL;
	p->commit.quarantine = NULL;
	p->commit.msglog = NULL;
}

static void
check_report(void *arg, enum quarantine_finding kind, const char *line)
{
	(void)arg;
	if (kind == QCHECK_PROBLEM)
		hs_warnx("quarantine check: %s", line);
	else
		hs_info("quarantine check: %s", line);
}

void
pipeline_start(struct pipeline *p)
{
	struct aside_entry *v = NULL;
	char		*error = NULL, *why;
	size_t		 n = 0, i;
	int		 err;

	errno = 0;
	if ((p->state_starting && stateenv_bind(p->conf, p->ql, p->qdirfd,
	    &error) < 0) ||
	    open_state_db(p, &error) < 0 ||
	    commit_recover(&p->commit, true, &error) < 0 ||
	    /* Nothing is in flight: the store and the index must agree now. */
	    quarantine_check(p->state.quarantine, p->ql, p->qdirfd,
	    p->commit.claimed, false, check_report, NULL, &error) < 0 ||
	    aside_list(p->state.aside, &v, &n, &error) < 0) {
		err = errno;
		if (!statedb_retryable(p->conf->state_directory, err))
			hs_fatalx(EX_UNAVAILABLE, "%s; mail waits in hold. If the "
			    "state environment is damaged, see RECOVERY in "
			    "holdscand(8)", error);
		close_state_db(p);
		p->state_starting = p->state_broken = true;
		why = xasprintf("cannot open the state environment: %s; held "
		    "mail waits in hold", error);
		back_off(p, why);
		free(why);
		free(error);
		return;
	}
	/* Set-aside messages stay aside while they are the same file. */
	for (i = 0; i < n; i++)
		watch_ignore(p->watch, v[i].id, (ino_t)v[i].ino);
	p->setaside.count = n;
	free(v);
	if (p->state_broken) {
		hs_info("state environment %s opened", p->conf->state_directory);
		backoff_clear(&p->backoff);
	}
	p->state_starting = p->state_broken = false;
	watch_rescan(p->watch);
}

/*
 * Berkeley DB panicked (a log write failed): close everything and open it
 * again, which runs recovery. Until that works no message is claimed;
 * pipeline_tick() retries at each end of the backoff pause.
 */
static void
reopen_state(struct pipeline *p)
{
	char	*error = NULL;

	if (p->state_starting) {
		pipeline_start(p);
		return;
	}
	close_state_db(p);
	if (open_state_db(p, &error) < 0) {
		p->state_broken = true;
		back_off(p, error);
		free(error);
		return;
	}
	p->state_broken = false;
	/* While commits keep failing (a full disk), once is enough. */
	if (p->backoff.count <= 1)
		hs_info("state environment %s reopened and recovered",
		    p->conf->state_directory);
	else
		hs_debug("state environment %s reopened and recovered",
		    p->conf->state_directory);
	p->recovery_needed = true;
}

/*
 * A holdscan tool that was killed (or crashed) with the environment open
 * makes the next opener run recovery, and our handles then fail with
 * DB_RUNRECOVERY. Everything committed is still there: open it all
 * again, and finish whatever an interrupted batch left in the journal.
 */
bool
pipeline_check_state(struct pipeline *p)
{
	if (p->state_broken || p->state.sdb == NULL ||
	    !statedb_panicked(p->state.sdb))
		return (false);
	hs_warnx("state environment %s: a process died with it open (a holdscan "
	    "tool killed, say) and it needs recovery, or another opener "
	    "recovered it; opening it again", p->conf->state_directory);
	reopen_state(p);
	return (!p->state_broken);
}

/* After a reopen or an unfinished commit: before anything is claimed. */
static void
recover_tick(struct pipeline *p, long t)
{
	char	*error = NULL;

	if (p->state_broken && t >= p->backoff.until_ms)
		reopen_state(p);
	if (!p->recovery_needed || p->state_broken || pipeline_batching(p) ||
	    t < p->backoff.until_ms)
		return;
	if (commit_recover(&p->commit, false, &error) < 0) {
		back_off(p, error);
		free(error);
		p->recovery_retries = true;
		return;
	}
	p->recovery_needed = false;
	if (p->recovery_retries)
		backoff_clear(&p->backoff);
	p->recovery_retries = false;
}

/*
 * The message log's retention: at most MSGLOG_PRUNE_MAX records go per
 * transaction; while there are more, again a second later, else after a
 * while (a minute, or half the retention if that is shorter).
 */
#define MSGLOG_PRUNE_MAX	2000
static void
msglog_tick(struct pipeline *p, long t)
{
	long	 retention = p->conf->message_log_retention;
	long	 pause = retention / 2 < 60000 ? retention / 2 : 60000;
	size_t	 n = 0;
	char	*error = NULL;

	if (p->state.msglog == NULL || p->state_broken ||
	    t < p->msglog_next_ms)
		return;
	if (pause < 1000)
		pause = 1000;
	if (msglog_prune(p->state.msglog, time(NULL) - retention / 1000,
	    MSGLOG_PRUNE_MAX, &n, &error) < 0) {
		hs_warnx("%s", error);
		free(error);
	} else if (n > 0) {
		hs_info("message log: %zu record%s older than "
		    "message_log_retention removed", n, n == 1 ? "" : "s");
	}
	p->msglog_next_ms = t + (n == MSGLOG_PRUNE_MAX ? 1000 : pause);
}

void
pipeline_tick(struct pipeline *p, long t)
{
	msglog_tick(p, t);
	setaside_tick(p, t);
	pipeline_claim(p);
	pipeline_dispatch(p);
	pipeline_commit_ready(p);
	recover_tick(p, t);
}

long
pipeline_timeout(const struct pipeline *p, long t)
{
	long	 ms = batch_wait_ms(p->open, p->conf, t);

	if (p->backoff.until_ms > t &&
	    (ms < 0 || p->backoff.until_ms - t < ms))
		ms = p->backoff.until_ms - t;
	/* More to claim now? */
	if (watch_pending(p->watch) > 0 && !p->stopping &&
	    p->backoff.until_ms <= t &&
	    p->in_flight < (size_t)p->conf->max_in_flight && p->pool->ready)
		ms = 0;
	return (ms);
}

/* --- decisions without a scan ------------------------------------------ */

/*
 * Delivered unscanned: the original without the fields named like
 * holdscan's (as the scanners remove them: scan.c), with the not-scanned
 * header.
 */
static int
tag_unscanned(struct pipeline *p, struct msg *m, const char *reason)
{
	struct buf	 recs = BUF_INIT, names = BUF_INIT;
	struct qfile_rec *kept = NULL;
	char		*hdr = NULL, *list, why[256];
	size_t		 nkept, removed;
	int		 rc = 0;

	if (m->qf == NULL)
		return (0);
	list = mailhdr_strip_names(p->conf->scan_header_name,
	    p->policy->tag_header_name, p->conf->strip_header_names);
	removed = mailhdr_strip(m->qf->content, m->qf->ncontent, list,
	    m->qf->sender != NULL && m->qf->sender[0] == '\0' ?
	    MAILHDR_NOTICE : NULL, &kept, &nkept, &names);
	free(list);
	if (removed == 0 && p->unscanned_header == NULL) {
		free(kept);
		buf_free(&names);
		return (0);
	}
	if (removed > 0)
		hs_info("%s: removed %zu header field%s named like holdscan's "
		    "(%s)", m->id, removed, removed == 1 ? "" : "s", names.data);
	buf_free(&names);
	if (p->unscanned_header != NULL)
		hdr = xasprintf("%s (%s)\n", p->unscanned_header, reason);
	qfile_insert_headers(kept, nkept, qfile_header_end(kept, nkept), hdr,
	    p->ql->line_limit, &recs);
	free(hdr);
	free(kept);
	if (msg_set_built(m, &recs, why, sizeof(why)) < 0) {
		hs_warnx("%s: %s", m->id, why);
		rc = -1;
	}
	buf_free(&recs);
	return (rc);
}

/* m is decided: its batch may commit. */
static void
decided(struct pipeline *p, struct msg *m)
{
	m->decided = true;
	p->metrics->verdicts[m->verdict]++;
	batch_decided(m->batch);
}

/* The master decides alone: scan failed (crashes, too large) or corrupt. */
static void
decide_unscanned(struct pipeline *p, struct msg *m, const char *reason)
{
	if (m->generation == 0)
		m->generation = p->pool->generation;
	m->verdict = VERDICT_FAILED;
	(void)snprintf(m->reason, sizeof(m->reason), "%s", reason);
	m->action = policy_decide(p->policy, VERDICT_FAILED, NULL, 0);
	if (m->qf != NULL && m->qf->nrcpts > 0) {
		const char	**r = xcalloc(m->qf->nrcpts, sizeof(*r));
		size_t		 i;

		for (i = 0; i < m->qf->nrcpts; i++)
			r[i] = m->qf->rcpts[i].address;
		m->action = policy_decide(p->policy, VERDICT_FAILED, r,
		    m->qf->nrcpts);
		free(r);
	}
	if (m->action == ACTION_DELIVER) {
		if (tag_unscanned(p, m, reason) < 0)
			m->action = ACTION_HOLD;
	} else if (m->action != ACTION_DROP &&
	    m->action != ACTION_QUARANTINE) {
		m->action = ACTION_HOLD;
	}
	hs_info("%s: scan failed: %s; action=%s", m->id, reason,
	    confword_action_name(m->action));
	decided(p, m);
}

/* Set aside too long (setaside_expiring() said what): no scan. */
static void
decide_expired(struct pipeline *p, struct msg *m)
{
	if (m->action == ACTION_DELIVER && tag_unscanned(p, m, m->reason) < 0)
		m->action = ACTION_QUARANTINE;	/* nothing is lost */
	decided(p, m);
}

/* --- claim --------------------------------------------------------------- */

static void
open_batch(struct pipeline *p)
{
	if (p->open == NULL)
		p->open = batch_new(++p->batch_seq, now_ms());
}

/* A claimed file that is no queue file: Postfix's answer, the corrupt queue. */
static void
to_corrupt(struct pipeline *p, const struct watch_candidate *c,
    const struct stat *st, const char *why)
{
	hs_warnx("%s: corrupt queue file: %s; moved to %s", c->id, why,
	    QUEUE_CORRUPT);
	if (claim_to_corrupt(p->ql, p->qdirfd, p->commit.claimed, c->id) < 0) {
		hs_warn("%s: cannot move to %s; returned to hold", c->id,
		    QUEUE_CORRUPT);
		(void)claim_return(p->ql, p->qdirfd, p->commit.claimed, c->id);
		watch_ignore(p->watch, c->id, st->st_ino);
	}
	p->metrics->corrupt++;
}

/* Claim one candidate: parse its envelope and put it in the open batch. */
static void
claim_one(struct pipeline *p, const struct watch_candidate *c)
{
	struct qfile_error err;
	struct stat	 st;
	struct msg	*m;
	char		 why[256] = "", *error = NULL;
	size_t		 limit;
	int		 fd;

	/*
	 * A journal entry for this name that was forgotten without a flush
	 * could come back after a crash and match this claim: flush first.
	 */
	if (commit_settle(&p->commit, c->id, &error) < 0) {
		watch_done(p->watch, c->id);
		watch_defer(p->watch, c, now_ms(), BACKOFF_MIN_MS);
		back_off(p, error);
		free(error);
		return;
	}
	switch (claim_take(p->qdirfd, c->path, p->commit.claimed, c->id, &fd,
	    &st, why, sizeof(why))) {
	case CLAIM_OK:
		break;
	case CLAIM_LOCKED:
		watch_done(p->watch, c->id);
		watch_defer(p->watch, c, now_ms(), LOCKED_RETRY_MS);
		return;
	case CLAIM_GONE:
		watch_done(p->watch, c->id);
		return;
	case CLAIM_SKIP:
		hs_warnx("%s: not claimed: %s", c->id, why);
		watch_done(p->watch, c->id);
		return;
	case CLAIM_ERROR:
		/* Out of descriptors, I/O error: it stays in hold; try later. */
		watch_done(p->watch, c->id);
		watch_defer(p->watch, c, now_ms(), BACKOFF_MIN_MS);
		{
			char	 msg[400];

			(void)snprintf(msg, sizeof(msg), "cannot claim held "
			    "messages: %s", why);
			back_off(p, msg);
		}
		return;
	}
	p->metrics->claimed++;
	p->in_flight++;
	m = msg_new(c->id, c->path, fd, &st, now_ms());
	limit = p->conf->message_size_limit > 0 &&
	    st.st_size > p->conf->message_size_limit ?
	    (size_t)st.st_size : SIZE_MAX;
	/* claim_take() has fstat()ed fd: st */
	if (qfile_read_fd_stat(fd, &st, limit, &m->qf, &err) < 0) {
		if (err.code == QFILE_EIO) {
			hs_warnx("%s: %s; returned to hold", c->id, err.text);
			(void)claim_return(p->ql, p->qdirfd, p->commit.claimed,
			    c->id);
			msg_free(&m);
			p->in_flight--;
			watch_done(p->watch, c->id);
			back_off(p, "cannot read queue files");
			return;
		}
		to_corrupt(p, c, &st, err.text);
		msg_free(&m);
		p->in_flight--;
		watch_done(p->watch, c->id);
		return;
	}
	hs_info("%s: claimed from=<%s> size=%lld nrcpt=%zu", m->id, m->qf->sender,
	    (long long)st.st_size, m->qf->nrcpts);
	open_batch(p);
	batch_add(p->open, m);
	if (setaside_expiring(p, m))
		decide_expired(p, m);	/* set aside too long: no scan */
	else if (p->conf->message_size_limit > 0 &&
	    st.st_size > p->conf->message_size_limit)
		decide_unscanned(p, m, "message larger than message_size_limit");
	else
		TAILQ_INSERT_TAIL(&p->scanq, m, sentry);
	if (batch_full(p->open, p->conf))
		close_open_batch(p);
}

void
pipeline_claim(struct pipeline *p)
{
	struct watch_candidate c;

	/*
	 * Not while recovery is due: after the state environment was
	 * reopened, entries forgotten without a flush may be back, and must
	 * be dealt with before a file they name can be claimed again.
	 */
	if (p->stopping || backoff_active(&p->backoff, now_ms()) ||
	    !p->pool->ready || p->state_broken || p->recovery_needed)
		return;
	while (p->in_flight < (size_t)p->conf->max_in_flight &&
	    watch_next(p->watch, &c))
		claim_one(p, &c);
}

/* --- scan ---------------------------------------------------------------- */

/*
 * The allow or deny list entry for m, read now (not at a reload) so that
 * holdscan list applies to the next message: its envelope sender and the
 * client_address attribute record, never a Received: header. A failed
 * lookup is a warning, and the message is scanned as if none applied.
 */
static void
list_lookup(struct pipeline *p, const struct msg *m, struct wire_list *wl)
{
	struct list_entry e;
	char		*error = NULL;
	int		 ret;

	memset(wl, 0, sizeof(*wl));
	if (p->state.lists == NULL || m->qf == NULL)
		return;
	ret = listdb_lookup(p->state.lists, m->qf->sender,
	    qfile_attr(m->qf, "client_address"), &e, &error);
	if (ret < 0) {
		hs_warnx("%s: allow and deny lists not applied: %s", m->id,
		    error);
		free(error);
		return;
	}
	if (ret == 0)
		return;
	wl->kind = (int32_t)e.kind;
	lists_describe(&e, wl->entry, sizeof(wl->entry));
	hs_info("%s: list=%s entry=\"%s\"", m->id, lists_kind_name(e.kind),
	    wl->entry);
}

/*
 * While there are suspects (messages that were being scanned when the
 * scanner parent died), they are scanned one at a time with nothing else
 * in scan, the others waiting behind them: see pipeline_scanner_lost().
 */
void
pipeline_dispatch(struct pipeline *p)
{
	struct wire_list wl;
	struct worker	*w;
	struct msg	*m;

	while ((m = TAILQ_FIRST(&p->scanq)) != NULL &&
	    (w = p->ops->pool_idle(p->pool)) != NULL) {
		if (p->suspects > 0) {
			if (p->ops->pool_busy(p->pool) > 0)
				return;
			TAILQ_FOREACH(m, &p->scanq, sentry)
				if (m->suspect)
					break;
			if (m == NULL) {
				/* Cannot be; if it were, scanning beats waiting. */
				hs_warnx("%zu suspects, none waiting and none in "
				    "scan; forgetting them", p->suspects);
				p->suspects = 0;
				m = TAILQ_FIRST(&p->scanq);
			}
		}
		list_lookup(p, m, &wl);
		if (p->ops->pool_dispatch(p->pool, w, m, m->fd, m->id,
		    (uint64_t)p->conf->message_size_limit,
		    (uint32_t)p->conf->scan_time_limit, &wl) < 0)
			continue;	/* that worker is gone; try another */
		TAILQ_REMOVE(&p->scanq, m, sentry);
		m->scanning = true;
		m->generation = w->generation;
	}
}

/* m has been scanned to the end, or is decided without: no suspect now. */
static void
unsuspect(struct pipeline *p, struct msg *m)
{
	if (!m->suspect)
		return;
	m->suspect = false;
	if (p->suspects > 0)
		p->suspects--;
}

void
pipeline_scan_failed(struct pipeline *p, struct msg *m, const char *why)
{
	m->scanning = false;
	m->failures++;
	hs_warnx("%s: scan attempt %d failed: %s", m->id, m->failures, why);
	if (m->failures >= p->conf->scan_retry_limit) {
		char	 reason[256];

		(void)snprintf(reason, sizeof(reason), "%d scan attempts failed, "
		    "last: %s", m->failures, why);
		unsuspect(p, m);
		decide_unscanned(p, m, reason);
		return;
	}
	TAILQ_INSERT_HEAD(&p->scanq, m, sentry);
}

/*
 * The scanner parent died (killed, crashed, out of memory), and its
 * workers with it; pool_lost() gives back what they were scanning, and
 * starts another scanner parent after a pause.
 *
 * Its death is not counted as a failed scan attempt of each message
 * that was in scan: the scanner parent never sees a message, so it is
 * most likely killed from outside, and counting it would make innocent
 * mail "scan failed" after a few kills. But a message can kill it too
 * (a worker it took over kills its parent, or the memory it makes a
 * worker take gets the parent killed by the kernel), and such a message
 * must not make it die again and again. So the messages in scan become
 * suspects: they are scanned again first, one at a time with nothing
 * else in scan, and a death while one suspect is scanned alone counts
 * as one failed attempt of that message (once per death). A message
 * that kills the scanner parent each time is "scan failed" after at
 * most scan_retry_limit + 1 deaths; an innocent one pays only if the
 * parent dies during the moments it is scanned alone.
 */
void
pipeline_scanner_lost(struct pipeline *p, const char *why)
{
	void	**jobs = NULL;
	size_t	 n, i;

	note_error(p, why);
	n = p->ops->pool_lost(p->pool, why, &jobs);
	for (i = 0; i < n; i++) {
		struct msg	*m = jobs[i];

		m->scanning = false;
		if (n == 1 && m->suspect) {
			pipeline_scan_failed(p, m, "the scanner parent died while "
			    "only this message was being scanned");
			/* Other suspects go first: kills spread, poison stays. */
			if (!m->decided) {
				TAILQ_REMOVE(&p->scanq, m, sentry);
				TAILQ_INSERT_TAIL(&p->scanq, m, sentry);
			}
			continue;
		}
		if (!m->suspect) {
			m->suspect = true;
			p->suspects++;
		}
		hs_info("%s: the scanner parent died while it was being scanned; "
		    "scanning it again (not counted as a failed attempt)", m->id);
		TAILQ_INSERT_HEAD(&p->scanq, m, sentry);
	}
	free(jobs);
}

int
pipeline_scanned(struct pipeline *p, struct msg *m,
    const struct wire_result *res, int memfd)
{
	char	 why[256];
	size_t	 max;

	m->scanning = false;
	unsuspect(p, m);
	/*
	 * Everything a worker sends is checked before it is used: the
	 * worker parses hostile mail and may be the attacker's.
	 */
	if (res->verdict < 0 || res->verdict >= VERDICT_COUNT)
		(void)snprintf(why, sizeof(why), "verdict %d out of range",
		    (int)res->verdict);
	else if (res->action < ACTION_DELIVER || res->action > ACTION_HOLD)
		(void)snprintf(why, sizeof(why), "action %d out of range",
		    (int)res->action);
	else if (res->content != CONTENT_SAME && res->content != CONTENT_NEW &&
	    res->content != CONTENT_HEADERS)
		(void)snprintf(why, sizeof(why), "content kind %d out of range",
		    (int)res->content);
	else if (res->content == CONTENT_NEW && memfd < 0)
		(void)snprintf(why, sizeof(why), "new content missing");
	else if (res->content == CONTENT_HEADERS) {
		if (msg_set_headers(m, res->headers, sizeof(res->headers),
		    p->ql->line_limit, why, sizeof(why)) == 0)
			why[0] = '\0';
	} else if (res->content == CONTENT_NEW) {
		/* Room for headers and cleaning; never unbounded. */
		max = (size_t)m->st.st_size * 2 + 16 * 1024 * 1024;
		if (msg_set_content(m, memfd, max, p->ql->line_limit, why,
		    sizeof(why)) == 0)
			why[0] = '\0';
	} else
		why[0] = '\0';
	if (why[0] != '\0') {
		char	 failed[sizeof(why) + 32];

		hs_warnx("%s: scanner result refused: %s; scan failed", m->id,
		    why);
		(void)snprintf(failed, sizeof(failed), "scanner result "
		    "refused: %s", why);
		pipeline_scan_failed(p, m, failed);
		return (-1);
	}
	m->verdict = (enum verdict)res->verdict;
	m->action = (enum policy_action)res->action;
	free(m->copies);
	m->copies = NULL;
	if (res->copies_set)	/* bounded; commit.c adds the configured ones */
		m->copies = xstrndup(res->copy_to, sizeof(res->copy_to) - 1);
	m->no_archive = res->no_archive != 0;
	(void)snprintf(m->reason, sizeof(m->reason), "%s", res->reason);
	(void)snprintf(m->plugins, sizeof(m->plugins), "%s", res->detail);
	m->scan_us = res->scan_us;
	m->t_scanned_ms = now_ms();
	metrics_observe(&p->metrics->scan_time, res->scan_us / 1e6,
	    metrics_latency_bounds);
	hs_info("%s: scanned verdict=%s action=%s scan=%.1fms%s%s%s%s%s",
	    m->id, verdict_name(m->verdict), confword_action_name(m->action),
	    res->scan_us / 1000.0, res->reason[0] ? " reason=\"" : "",
	    res->reason, res->reason[0] ? "\"" : "",
	    res->detail[0] ? " plugins=" : "", res->detail);
	decided(p, m);
	return (0);
}

/* --- batch and commit ---------------------------------------------------- */

/* Notices about a message whose batch has committed (queued, sent later). */
static void
notify_committed(struct pipeline *p, const struct msg *m)
{
	struct notify_msg nm;

	memset(&nm, 0, sizeof(nm));
	nm.queue_id = m->id;
	nm.qf = m->qf;
	nm.verdict = m->verdict;
	nm.reason = m->reason;
	nm.action = confword_action_name(m->action);
	nm.quarantine_id = m->quarantine_id;
	nm.quarantined = m->quarantine_id[0] != '\0';
	notify_message(p->notify, &nm);
}

/*
 * The state environment is closed (it could not be reopened after a
 * failure): a batch cannot be journaled, so its messages go back to
 * hold, to be claimed and scanned again once it works. Returns -1 with
 * *error_r, as a failed commit_batch() does.
 */
static int
return_batch(struct pipeline *p, struct msg **msgs, size_t n,
    char **error_r)
{
	struct msg	*m;
	size_t		 i;

	*error_r = xasprintf("state environment %s is not open",
	    p->conf->state_directory);
	for (i = 0; i < n; i++) {
		m = msgs[i];
		m->outcome = COMMIT_RETURNED;
		m->new_id[0] = m->quarantine_id[0] = '\0';
		(void)snprintf(m->why, sizeof(m->why), "%s", *error_r);
		if (claim_return(p->ql, p->qdirfd, p->commit.claimed,
		    m->id) < 0)
			/* Still safe in claimed/: the next start returns it. */
			(void)snprintf(m->why, sizeof(m->why), "%s; cannot "
			    "return it to hold, it stays in %s/%s until holdscand "
			    "starts again: %s", *error_r, p->ql->queue_dir,
			    p->commit.claimed, strerror(errno));
		if (m->fd >= 0) {
			(void)close(m->fd);	/* releases the lock */
			m->fd = -1;
		}
	}
	return (-1);
}

/* The whole batch failed: back off, and reopen the state if it is broken. */
static void
batch_failed(struct pipeline *p, const struct batch *b, const char *error)
{
	p->metrics->batch_failures++;
	if (p->state_broken) {
		/* Its pause runs already: pipeline_tick() reopens it at the end. */
		note_error(p, error);
	} else if (!statedb_failed(p->state.sdb) &&
	    statedb_panicked(p->state.sdb)) {
		/*
		 * A holdscan tool died with the environment open and
		 * the next opener ran recovery: not a problem of the
		 * disk, so open it again and go on at once.
		 */
		hs_warnx("batch=%llu returned to hold: %s",
		    (unsigned long long)b->seq, error);
		note_error(p, error);
		(void)pipeline_check_state(p);
	} else {
		back_off(p, error);
		if (statedb_failed(p->state.sdb))
			reopen_state(p);
	}
}

/* One log line for a message whose batch committed; notices queued. */
static void
committed(struct pipeline *p, struct msg *m, long t0, long t1, double real)
{
	double	 in_flight = (t0 - m->t_claim_ms) / 1000.0;
	double	 entered = (double)m->st.st_ctim.tv_sec +
		    m->st.st_ctim.tv_nsec / 1e9;

	p->metrics->committed[m->action]++;
	if (m->action == ACTION_HOLD) {
		watch_ignore(p->watch, m->id, m->st.st_ino);
		p->setaside.count++;
		hs_info("%s: action=hold verdict=%s reason=\"%s\"; left in "
		    "hold (postsuper -H %s releases it unscanned)", m->id,
		    verdict_name(m->verdict), m->reason, m->id);
		notify_committed(p, m);
		return;
	}
	if (m->new_id[0] != '\0') {
		/* delays: in hold before the claim / scan and batch / commit */
		double	 commit = (t1 - t0) / 1000.0;
		double	 waited = real - entered - in_flight - commit;

		metrics_observe(&p->metrics->latency, real - entered,
		    metrics_latency_bounds);
		hs_info("%s: action=%s new_id=%s verdict=%s delay=%.3f "
		    "delays=%.3f/%.3f/%.3f%s", m->id,
		    confword_action_name(m->action), m->new_id,
		    verdict_name(m->verdict), real - entered,
		    waited > 0 ? waited : 0.0, in_flight, commit,
		    m->outcome == COMMIT_LEFT ? " (original left for "
		    "recovery)" : "");
	} else {
		hs_info("%s: action=%s verdict=%s%s%s%s%s%s", m->id,
		    confword_action_name(m->action), verdict_name(m->verdict),
		    m->reason[0] ? " reason=\"" : "", m->reason,
		    m->reason[0] ? "\"" : "",
		    m->quarantine_id[0] ? " quarantine_id=" : "",
		    m->quarantine_id);
	}
	if (m->outcome == COMMIT_LEFT) {
		hs_info("%s: left for recovery: %s", m->id, m->why);
		p->recovery_needed = true;
		p->recovery_retries = true;
	}
	notify_committed(p, m);
}

/* One batch through the commit protocol, then one log line per message. */
static void
commit_one_batch(struct pipeline *p, struct batch *b)
{
	struct msg	**msgs, *m;
	size_t		 i = 0, counts[6] = { 0 }, returned = 0;
	const char	*degraded = NULL;
	char		*error = NULL;
	double		 real;
	long		 t0 = now_ms(), t1;
	int		 published;

	msgs = xcalloc(b->count ? b->count : 1, sizeof(*msgs));
	TAILQ_FOREACH(m, &b->msgs, bentry)
		msgs[i++] = m;
	if (p->state_broken)
		published = return_batch(p, msgs, b->count, &error);
	else
		published = p->ops->commit_batch(&p->commit, msgs, b->count,
		    &error);
	/* The messages entered incoming during the commit: measure after it. */
	real = now_real();
	t1 = now_ms();
	if (published < 0) {
		batch_failed(p, b, error);
		free(error);
	}
	TAILQ_FOREACH(m, &b->msgs, bentry) {
		watch_done(p->watch, m->id);
		setaside_committed(p, m);
		p->metrics->bytes += (uint64_t)m->st.st_size;
		if (m->outcome == COMMIT_RETURNED) {
			returned++;
			p->metrics->returned++;
			hs_info("%s: returned to hold: %s", m->id, m->why);
			continue;
		}
		counts[m->action]++;
		committed(p, m, t0, t1, real);
		if (m->outcome == COMMIT_LEFT && m->action != ACTION_HOLD)
			degraded = m->why;
	}
	/*
	 * A message back in hold after a failed write would come straight
	 * back, and an unfinished one needs recovery: either way, pause.
	 */
	for (i = 0; i < b->count && published >= 0 && degraded == NULL; i++)
		if (msgs[i]->outcome == COMMIT_RETURNED)
			degraded = msgs[i]->why;
	if (published >= 0 && degraded != NULL)
		back_off(p, degraded);
	else if (published >= 0)
		backoff_clear(&p->backoff);
	p->in_flight -= b->count;
	p->metrics->batches++;
	metrics_observe(&p->metrics->batch_size, (double)b->count,
	    metrics_size_bounds);
	hs_info("batch=%llu messages=%zu bytes=%llu delivered=%zu tagged=%zu "
	    "cleaned=%zu quarantined=%zu dropped=%zu held=%zu returned=%zu "
	    "time=%ldms", (unsigned long long)b->seq, b->count,
	    (unsigned long long)b->bytes, counts[ACTION_DELIVER],
	    counts[ACTION_TAG], counts[ACTION_CLEAN], counts[ACTION_QUARANTINE],
	    counts[ACTION_DROP], counts[ACTION_HOLD], returned, t1 - t0);
	if (published > 0 && queue_trigger(p->ql, "qmgr", "I") < 0)
		hs_debug("cannot wake qmgr: %s", strerror(errno));
	free(msgs);
}

/* No more joins once a batch is full or has waited batch_max_wait. */
static void
close_open_batch(struct pipeline *p)
{
	p->open->closed = true;
	TAILQ_INSERT_TAIL(&p->closed, p->open, entry);
	p->open = NULL;
}

void
pipeline_commit_ready(struct pipeline *p)
{
	struct batch	*b;
	bool		 more;

	/*
	 * Under a steady stream some message of the open batch is always
	 * still being scanned: without this, it would only close when full
	 * and its first messages would wait for a whole batch to arrive.
	 */
	if (p->open != NULL && p->open->count > 0 &&
	    batch_wait_ms(p->open, p->conf, now_ms()) == 0)
		close_open_batch(p);
	while ((b = TAILQ_FIRST(&p->closed)) != NULL && b->undecided == 0) {
		TAILQ_REMOVE(&p->closed, b, entry);
		commit_one_batch(p, b);
		batch_free(&b);
	}
	/* More is coming if candidates wait and we may claim them. */
	more = watch_pending(p->watch) > 0 && !p->stopping &&
	    p->in_flight < (size_t)p->conf->max_in_flight;
	if (p->open != NULL && batch_ready(p->open, p->conf, now_ms(), more)) {
		b = p->open;
		p->open = NULL;
		commit_one_batch(p, b);
		batch_free(&b);
	}
}
