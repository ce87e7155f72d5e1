/*
 * NAME
 *	requests - release, delete and preview requests from the other
 *	hosts of a farm, carried out here
 * DESCRIPTION
 *	A thread with its own PostgreSQL connection LISTENs on
 *	holdscan_requests and, when woken or every REQUESTS_POLL_MS (the
 *	safety net: a NOTIFY sent while it was not connected is lost),
 *	takes this host's oldest request not yet answered. One not yet
 *	claimed is claimed with UPDATE ... WHERE claimed_at IS NULL: only
 *	once. One claimed but not answered was claimed by this host before
 *	a crash or an outage (one holdscand per host): it is carried out
 *	again, which the quarantine index makes harmless (a released entry
 *	is not released twice: release_message() answers "already" with its
 *	queue id, a deleted one is "deleted already").
 *
 *	The thread never touches the state environment: it hands the
 *	request to the master (a byte in a pipe the event loop polls, the
 *	request under a mutex) and waits for the answer; the master carries
 *	it out between two rounds of its loop through qaction_release() or
 *	qaction_delete() (qaction.c, the control socket's path too: the
 *	audit line "QID: action=release new_id=ID by=REQUESTED_BY
 *	via=request:N" and the message log event), and hands the answer
 *	back: released or deleted; "already" when a new request finds the
 *	message released or deleted before; failed with the reason. The thread then writes it (done_at, outcome, new_id,
 *	error) and sends NOTIFY holdscan_replies. A database that goes away
 *	in between leaves the request claimed and unanswered: it is carried
 *	out again, harmlessly, and answered when the database is back.
 *
 *	A preview (holdscan-web's farmprev.c) is not an action: the master
 *	looks the entry up and opens its file read-only (ctlquar.c's qshow
 *	does the same for this host's console), the thread copies the
 *	first PGREQ_PREVIEW_MAX bytes as they are into the row (content,
 *	truncated when the file had more), outcome "previewed", or failed
 *	(no such message, deleted). No audit line, no message log event:
 *	one info line says who looked. A preview claimed before a crash is
 *	answered again. Before each look the thread deletes this host's
 *	preview rows asked more than PGREQ_PREVIEW_KEEP_S ago, answered or
 *	not: nobody waits for them any more, and their bytes do not stay.
 *
 *	This module must never build SQL from data, never claim a request
 *	of another host, never log the conninfo, and never keep the
 *	master waiting (the thread waits for the master, not the reverse),
 *	never change the quarantine but through qaction.c, and never parse
 *	a quarantined file (its bytes go to the console, which does).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/queue.h"
#include "common/xalloc.h"
#include "daemon/qaction.h"
#include "daemon/requests.h"
#include "quarantine/quarantine.h"
#include "state/pgdb.h"
#include "state/pgreq.h"

#define RETRY_MS	5000

enum job_state { JOB_NONE, JOB_WAITING, JOB_DONE };

struct job {
	char		*id;
	char		*qid;
	char		*action;
	char		*rcpts;		/* addresses one a line, or "" */
	char		*by;
	bool		 again;		/* claimed before a crash or an outage */
	/* the answer: outcome "" = not finished, try again later */
	const char	*outcome;
	char		 new_id[QUEUE_ID_SIZE];
	char		*error;
	int		 fd;		/* a preview's file (read-only), or -1 */
};

struct requests {
	char		*conninfo;
	char		*host;
	int		 stop[2];	/* a byte in stop[1]: stop */
	int		 wake[2];	/* a byte in wake[1]: a job waits */
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	/* under mu */
	enum job_state	 state;
	bool		 stopping;
	struct job	 job;
	/* the thread's */
	PGconn		*conn;
	bool		 down;		/* the last try failed */
};

static void
job_clear(struct job *j)
{
	free(j->id);
	free(j->qid);
	free(j->action);
	free(j->rcpts);
	free(j->by);
	free(j->error);
	if (j->fd >= 0)
		(void)close(j->fd);
	memset(j, 0, sizeof(*j));
	j->fd = -1;
}

/* --- the master's part ------------------------------------------------------------ */

int
requests_fd(const struct requests *r)
{
	return (r->wake[0]);
}

/* Split the request's recipients (one a line) into to[]; *nto_r of them. */
static const char **
split_rcpts(char *rcpts, size_t *nto_r)
{
	const char	**to = NULL;
	char		 *p;
	size_t		  nto = 0;

	for (p = rcpts; p != NULL && *p != '\0'; ) {
		to = xreallocarray(to, nto + 1, sizeof(*to));
		to[nto++] = p;
		if ((p = strchr(p, '\n')) != NULL)
			*p++ = '\0';
	}
	*nto_r = nto;
	return (to);
}

/*
 * A preview: the entry's file opened read-only for the thread, which
 * copies its bytes (the master reads none of them).
 */
static void
run_preview(struct job *j, struct quarantine *q)
{
	struct quarantine_entry e;
	char		*error = NULL;

	switch (quarantine_get(q, NULL, j->qid, false, &e, &error)) {
	case QUARANTINE_OK:
		break;
	case QUARANTINE_NOTFOUND:
		j->outcome = "failed";
		j->error = xstrdup("no such message in the quarantine");
		return;
	default:
		/* Busy: answered on the next try. */
		j->outcome = "";
		j->error = error != NULL ? error : xstrdup("busy");
		return;
	}
	if (e.state == QSTATE_DELETED) {
		j->outcome = "failed";
		j->error = xstrdup("deleted: the file is gone");
	} else if ((j->fd = quarantine_open_file(q, &e)) < 0) {
		j->outcome = "failed";
		j->error = xasprintf("the stored file: %s", strerror(errno));
	} else
		j->outcome = "previewed";
	quarantine_entry_clear(&e);
}

void
requests_run(struct requests *r, struct commit_ctx *c, struct quarantine *q,
    struct msglog *ml, const struct hs_config *conf)
{
	enum qaction_outcome o;
	struct job	*j;
	const char	**to;
	const char	*done;
	char		 buf[64], *via, *detail, *error = NULL;
	size_t		 nto;
	bool		 release;

	while (read(r->wake[0], buf, sizeof(buf)) > 0)
		;
	(void)pthread_mutex_lock(&r->mu);
	if (r->state != JOB_WAITING) {
		(void)pthread_mutex_unlock(&r->mu);
		return;
	}
	/* Only the master touches the job while it is JOB_WAITING. */
	(void)pthread_mutex_unlock(&r->mu);
	j = &r->job;
	j->new_id[0] = '\0';
	if (strcmp(j->action, "preview") == 0) {
		run_preview(j, q);
		if (j->outcome[0] == '\0' || strcmp(j->outcome, "failed") == 0)
			hs_info("%s: request=%s action=preview requested_by=%s: "
			    "%s: %s", j->qid, j->id, j->by, j->outcome[0] ?
			    j->outcome : "not finished, tried again later",
			    j->error);
		goto answered;
	}
	release = strcmp(j->action, "release") == 0;
	done = release ? "released" : "deleted";
	via = xasprintf("request:%s", j->id);
	if (release) {
		to = split_rcpts(j->rcpts, &nto);
		o = qaction_release(c, q, ml, conf, j->qid, to, nto, j->by, via,
		    j->new_id, &error);
		free(to);
	} else
		o = qaction_delete(q, ml, j->qid, j->by, via, &error);
	switch (o) {
	case QACTION_DONE:
		j->outcome = done;
		break;
	case QACTION_ALREADY:
		/*
		 * This request, carried out before a crash and finished
		 * again: its answer. A new request for a message released or
		 * deleted before (by a person, another request): "already".
		 */
		j->outcome = j->again ? done : "already";
		if (j->again) {
			/* The crash may have come before its event. */
			detail = xasprintf("%s via %s", j->by, via);
			qaction_event(ml, j->qid, done, j->new_id, detail);
			free(detail);
		}
		break;
	case QACTION_NOTFOUND:
		j->outcome = "failed";
		j->error = xstrdup("no such message in the quarantine");
		break;
	case QACTION_PENDING:
		/* Decided or busy: answered on the next try. */
		j->outcome = "";
		j->error = error;
		error = NULL;
		break;
	case QACTION_REFUSED:
	case QACTION_FAILED:
		j->outcome = "failed";
		j->error = error;
		error = NULL;
		break;
	}
	free(error);
	if (o != QACTION_DONE)
		hs_info("%s: request=%s action=%s requested_by=%s: %s%s%s",
		    j->qid, j->id, j->action, j->by, j->outcome[0] ?
		    j->outcome : "not finished, tried again later",
		    j->error != NULL ? ": " : "",
		    j->error != NULL ? j->error : "");
	free(via);
answered:
	(void)pthread_mutex_lock(&r->mu);
	r->state = JOB_DONE;
	(void)pthread_cond_signal(&r->cv);
	(void)pthread_mutex_unlock(&r->mu);
}

/* --- the thread ------------------------------------------------------------------- */

/* Wait ms, or for a NOTIFY; true when asked to stop. */
static bool
pause_or_stop(struct requests *r, long ms)
{
	struct pollfd	 pfd[2];
	nfds_t		 n = 1;
	PGnotify	*nt;

	pfd[0].fd = r->stop[0];
	pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	if (r->conn != NULL) {
		pfd[1].fd = PQsocket(r->conn);
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		n = 2;
	}
	if (poll(pfd, n, (int)ms) < 0 && errno != EINTR)
		(void)usleep(100000);
	if (pfd[0].revents != 0)
		return (true);
	if (n == 2 && pfd[1].revents != 0) {
		if (!PQconsumeInput(r->conn)) {
			PQfinish(r->conn);
			r->conn = NULL;
			return (false);
		}
		while ((nt = PQnotifies(r->conn)) != NULL)
			PQfreemem(nt);
	}
	return (false);
}

/*
 * The database went away. Not logged: the shipper, on the same
 * database, says it once per outage (and it is one outage, not two).
 */
static void
went_down(struct requests *r, const char *why)
{
	(void)why;
	r->down = true;
}

static int
connect_listen(struct requests *r)
{
	char	*error = NULL;
	int	 version;

	if (pgdb_connect(r->conninfo, "holdscand requests", r->stop[0],
	    &r->conn, &error) < 0 ||
	    pgdb_schema_version(&r->conn, &version, &error) < 0 ||
	    pgdb_exec(&r->conn, r->stop[0], PGDB_STATEMENT_MS,
	    "LISTEN holdscan_requests", 0, NULL, NULL, &error) < 0) {
		went_down(r, error);
		free(error);
		goto fail;
	}
	if (version != PGDB_SCHEMA_VERSION) {
		error = xasprintf("the schema is version %d, not %d", version,
		    PGDB_SCHEMA_VERSION);
		went_down(r, error);
		free(error);
		goto fail;
	}
	r->down = false;
	return (0);
fail:
	if (r->conn != NULL)
		PQfinish(r->conn);
	r->conn = NULL;
	return (-1);
}

static int
sql(struct requests *r, const char *q, int n, const char *const *p,
    PGresult **res_r)
{
	char	*error = NULL;

	if (pgdb_exec(&r->conn, r->stop[0], PGDB_STATEMENT_MS, q, n, p, res_r,
	    &error) < 0) {
		went_down(r, error);
		free(error);
		if (r->conn != NULL) {
			PQfinish(r->conn);
			r->conn = NULL;
		}
		return (-1);
	}
	return (0);
}

/*
 * A preview's bytes: the first PGREQ_PREVIEW_MAX of the file the master
 * opened, as the hex text of a bytea. 0 with *hex_r (the caller's) and
 * *truncated_r, or -1 with *error_r.
 */
static int
preview_read(int fd, char **hex_r, bool *truncated_r, char **error_r)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char	*data = xmalloc(PGREQ_PREVIEW_MAX + 1);
	char		*hex;
	size_t		 len = 0, i;
	ssize_t		 n;

	/* One byte more than the bound says whether the file has more. */
	while (len < PGREQ_PREVIEW_MAX + 1) {
		n = pread(fd, data + len, PGREQ_PREVIEW_MAX + 1 - len,
		    (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = xasprintf("the stored file: read: %s",
			    strerror(errno));
			free(data);
			return (-1);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*truncated_r = len > PGREQ_PREVIEW_MAX;
	if (*truncated_r)
		len = PGREQ_PREVIEW_MAX;
	hex = xmalloc(2 + 2 * len + 1);
	hex[0] = '\\';
	hex[1] = 'x';
	for (i = 0; i < len; i++) {
		hex[2 + 2 * i] = digits[data[i] >> 4];
		hex[3 + 2 * i] = digits[data[i] & 0xf];
	}
	hex[2 + 2 * len] = '\0';
	free(data);
	*hex_r = hex;
	return (0);
}

/*
 * A preview's answer: its bytes (or the failure) into the row. 0, or -1
 * when the database went away.
 */
static int
preview_answer(struct requests *r, struct job *j)
{
	const char	*p[5];
	char		*hex = NULL, *error = NULL;
	bool		 truncated = false;
	int		 got;

	if (strcmp(j->outcome, "previewed") == 0 &&
	    preview_read(j->fd, &hex, &truncated, &error) < 0) {
		j->outcome = "failed";
		free(j->error);
		j->error = error;
		hs_warnx("%s: request=%s action=preview: %s", j->qid, j->id,
		    error);
	}
	if (j->fd >= 0) {
		(void)close(j->fd);
		j->fd = -1;
	}
	p[0] = j->id;
	p[1] = j->outcome;
	p[2] = j->error != NULL ? j->error : "";
	p[3] = hex;		/* NULL: SQL NULL */
	p[4] = truncated ? "true" : "false";
	got = sql(r, "UPDATE requests SET done_at = now(), outcome = $2, "
	    "error = $3, content = $4::bytea, truncated = $5::boolean "
	    "WHERE id = $1::bigint AND done_at IS NULL", 5, p, NULL);
	if (got == 0 && hex != NULL)
		hs_info("%s: request=%s action=preview requested_by=%s: "
		    "%zu bytes sent%s", j->qid, j->id, j->by,
		    (strlen(hex) - 2) / 2, truncated ? " (the start of the "
		    "file)" : "");
	free(hex);
	if (got < 0 ||
	    sql(r, "SELECT pg_notify('holdscan_replies', $1)", 1, p, NULL) < 0)
		return (-1);
	return (0);
}

/*
 * This host's preview rows asked long ago, answered or not: nobody
 * waits for them any more. -1 when the database went away.
 */
static int
prune_previews(struct requests *r)
{
	char		 keep[32];
	const char	*p[2] = { r->host, keep };

	(void)snprintf(keep, sizeof(keep), "%d", PGREQ_PREVIEW_KEEP_S);
	return (sql(r, "DELETE FROM requests WHERE host = $1 "
	    "AND action = 'preview' "
	    "AND requested_at < now() - make_interval(secs => $2::int)", 2, p,
	    NULL));
}

/*
 * This host's oldest unanswered request, claimed, handed to the master
 * and answered. 1 one done (look for more), 0 none, -1 stop or the
 * database went away.
 */
static int
one(struct requests *r)
{
	PGresult	*res;
	struct job	*j = &r->job;
	const char	*p[4];
	bool		 again;

	p[0] = r->host;
	if (sql(r, "SELECT id, quarantine_id, action, "
	    "array_to_string(recipients, E'\\n'), requested_by, "
	    "claimed_at IS NOT NULL FROM requests "
	    "WHERE host = $1 AND done_at IS NULL ORDER BY id LIMIT 1", 1, p,
	    &res) < 0)
		return (-1);
	if (PQntuples(res) != 1) {
		PQclear(res);
		return (0);
	}
	job_clear(j);
	j->id = xstrdup(PQgetvalue(res, 0, 0));
	j->qid = xstrdup(PQgetvalue(res, 0, 1));
	j->action = xstrdup(PQgetvalue(res, 0, 2));
	j->rcpts = xstrdup(PQgetvalue(res, 0, 3));
	j->by = xstrdup(PQgetvalue(res, 0, 4));
	again = j->again = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
	PQclear(res);
	if (again) {
		hs_info("%s: request=%s claimed before and not answered; "
		    "finishing it", j->qid, j->id);
	} else {
		p[0] = j->id;
		p[1] = r->host;
		if (sql(r, "UPDATE requests SET claimed_at = now() "
		    "WHERE id = $1::bigint AND host = $2 AND claimed_at IS NULL "
		    "RETURNING id", 2, p, &res) < 0)
			return (-1);
		if (PQntuples(res) != 1) {
			PQclear(res);
			return (1);
		}
		PQclear(res);
	}

	(void)pthread_mutex_lock(&r->mu);
	r->state = JOB_WAITING;
	(void)pthread_mutex_unlock(&r->mu);
	if (write(r->wake[1], "x", 1) < 0 && errno != EAGAIN)
		hs_warn("requests: write");
	(void)pthread_mutex_lock(&r->mu);
	while (r->state != JOB_DONE && !r->stopping)
		(void)pthread_cond_wait(&r->cv, &r->mu);
	if (r->state != JOB_DONE) {
		/* Stopping: still claimed; the next start finishes it. */
		(void)pthread_mutex_unlock(&r->mu);
		return (-1);
	}
	r->state = JOB_NONE;
	(void)pthread_mutex_unlock(&r->mu);
	if (j->outcome[0] == '\0')
		return (0);	/* tried again at the next poll */
	if (strcmp(j->action, "preview") == 0)
		return (preview_answer(r, j) < 0 ? -1 : 1);

	p[0] = j->id;
	p[1] = j->outcome;
	p[2] = j->new_id;
	p[3] = j->error != NULL ? j->error : "";
	if (sql(r, "UPDATE requests SET done_at = now(), outcome = $2, "
	    "new_id = $3, error = $4 WHERE id = $1::bigint AND done_at IS NULL",
	    4, p, NULL) < 0 ||
	    sql(r, "SELECT pg_notify('holdscan_replies', $1)", 1, p, NULL) < 0)
		return (-1);
	return (1);
}

static void *
requests_main(void *arg)
{
	struct requests	*r = arg;
	long		 pause = 0;

	for (;;) {
		if (pause_or_stop(r, pause))
			break;
		pause = REQUESTS_POLL_MS;
		if (r->conn == NULL && connect_listen(r) < 0) {
			pause = RETRY_MS;
			continue;
		}
		if (prune_previews(r) < 0)
			continue;
		while (one(r) == 1)
			;
		(void)pthread_mutex_lock(&r->mu);
		if (r->stopping) {
			(void)pthread_mutex_unlock(&r->mu);
			break;
		}
		(void)pthread_mutex_unlock(&r->mu);
	}
	if (r->conn != NULL)
		PQfinish(r->conn);
	r->conn = NULL;
	return (NULL);
}

static void
close_pair(int p[2])
{
	if (p[0] >= 0)
		(void)close(p[0]);
	if (p[1] >= 0)
		(void)close(p[1]);
	p[0] = p[1] = -1;
}

static void
requests_free(struct requests *r)
{
	close_pair(r->stop);
	close_pair(r->wake);
	job_clear(&r->job);
	(void)pthread_mutex_destroy(&r->mu);
	(void)pthread_cond_destroy(&r->cv);
	free(r->conninfo);
	free(r->host);
	free(r);
}

int
requests_start(const char *conninfo, const char *host, struct requests **r_r,
    char **error_r)
{
	struct requests	*r;
	sigset_t	 all, old;
	int		 ret;

	*r_r = NULL;
	r = xcalloc(1, sizeof(*r));
	r->conninfo = xstrdup(conninfo);
	r->host = xstrdup(host);
	r->stop[0] = r->stop[1] = r->wake[0] = r->wake[1] = -1;
	r->job.fd = -1;
	(void)pthread_mutex_init(&r->mu, NULL);
	(void)pthread_cond_init(&r->cv, NULL);
	if (pipe2(r->stop, O_CLOEXEC) < 0 ||
	    pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		*error_r = xasprintf("requests: pipe: %s", strerror(errno));
		requests_free(r);
		return (-1);
	}
	(void)sigfillset(&all);
	if ((ret = pthread_sigmask(SIG_SETMASK, &all, &old)) == 0) {
		ret = pthread_create(&r->thread, NULL, requests_main, r);
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (ret != 0) {
		*error_r = xasprintf("requests: pthread_create: %s",
		    strerror(ret));
		requests_free(r);
		return (-1);
	}
	*r_r = r;
	return (0);
}

void
requests_stop(struct requests **rp)
{
	struct requests	*r = *rp;

	if (r == NULL)
		return;
	(void)pthread_mutex_lock(&r->mu);
	r->stopping = true;
	(void)pthread_cond_broadcast(&r->cv);
	(void)pthread_mutex_unlock(&r->mu);
	if (write(r->stop[1], "x", 1) < 0)
		hs_warn("requests: write");
	(void)pthread_join(r->thread, NULL);
	requests_free(r);
	*rp = NULL;
}
