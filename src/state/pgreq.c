/*
 * NAME
 *	pgreq - write a release, delete or preview request into a farm's
 *	requests table and read its answer
 * DESCRIPTION
 *	A request is one row (host, quarantine_id, action, recipients,
 *	requested_by) that the owning host's holdscand claims once
 *	(claimed_at) and answers (done_at, outcome, new_id, error); NOTIFY
 *	holdscan_requests with the host's name as payload wakes it. The
 *	asking side (holdscan's remote.c, holdscan-web's farmact.c) writes
 *	with pgreq_submit() and waits with pgreq_wait(), which reads the
 *	answer every PGREQ_RECHECK_MS until its bound; a preview's bytes
 *	(holdscan-web's farmprev.c) with pgreq_content().
 *
 *	This module must never build SQL from data (every value is a
 *	parameter), never wait without a bound, and never change a request
 *	row after writing it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "state/pgdb.h"
#include "state/pgreq.h"

int
pgreq_submit(PGconn **c, const char *host, const char *qid,
    const char *action, const char *const *to, size_t nto, const char *by,
    char **id_r, char **error_r)
{
	struct buf	 b = BUF_INIT;
	PGresult	*res;
	const char	*p[5];
	char		*rcpts, *error = NULL;
	size_t		 i;
	int		 got;

	*id_r = NULL;
	/* One address a line. */
	for (i = 0; i < nto; i++)
		buf_printf(&b, "%s%s", i ? "\n" : "", to[i]);
	rcpts = buf_steal(&b, NULL);
	p[0] = host;
	p[1] = qid;
	p[2] = action;
	p[3] = rcpts != NULL ? rcpts : "";
	p[4] = by;
	got = pgdb_exec(c, -1, PGDB_STATEMENT_MS,
	    "INSERT INTO requests (host, quarantine_id, action, recipients, "
	    "requested_by) VALUES ($1, $2, $3, "
	    "string_to_array($4, E'\\n'), $5) RETURNING id", 5, p, &res,
	    error_r);
	free(rcpts);
	if (got < 0)
		return (-1);
	*id_r = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	p[0] = host;
	if (pgdb_exec(c, -1, PGDB_STATEMENT_MS,
	    "SELECT pg_notify('holdscan_requests', $1)", 1, p, NULL,
	    &error) < 0)
		free(error);	/* its poll finds the request all the same */
	return (0);
}

int
pgreq_answer(PGconn **c, const char *id, char **outcome_r, char **new_id_r,
    char **error_text_r, char **error_r)
{
	const char	*p[1] = { id };
	PGresult	*res;
	int		 done;

	if (pgdb_exec(c, -1, PGDB_STATEMENT_MS,
	    "SELECT done_at IS NOT NULL, coalesce(outcome, ''), new_id, error "
	    "FROM requests WHERE id = $1::bigint", 1, p, &res, error_r) < 0)
		return (-1);
	if (PQntuples(res) != 1) {
		PQclear(res);
		*error_r = xstrdup("the request row is gone");
		return (-1);
	}
	done = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (done) {
		*outcome_r = xstrdup(PQgetvalue(res, 0, 1));
		*new_id_r = xstrdup(PQgetvalue(res, 0, 2));
		*error_text_r = xstrdup(PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	return (done);
}

static long
mono_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int
pgreq_wait(PGconn **c, const char *conninfo, const char *app, const char *id,
    long wait_ms, char **outcome_r, char **new_id_r, char **error_text_r)
{
	struct timespec	 ts;
	char		*error = NULL;
	long		 deadline = mono_ms() + wait_ms;
	int		 got;

	for (;;) {
		if (*c == NULL && pgdb_connect(conninfo, app, -1, c,
		    &error) < 0)
			got = 0;
		else if ((got = pgreq_answer(c, id, outcome_r, new_id_r,
		    error_text_r, &error)) < 0)
			got = 0;
		free(error);
		error = NULL;
		if (got == 1 || mono_ms() >= deadline)
			return (got);
		ts.tv_sec = PGREQ_RECHECK_MS / 1000;
		ts.tv_nsec = (PGREQ_RECHECK_MS % 1000) * 1000000L;
		(void)nanosleep(&ts, NULL);
	}
}

int
pgreq_content(PGconn **c, const char *id, unsigned char **data_r,
    size_t *len_r, bool *truncated_r, char **error_r)
{
	const char	*p[1] = { id };
	PGresult	*res;
	unsigned char	*raw, *copy;
	size_t		 len;

	*data_r = NULL;
	*len_r = 0;
	*truncated_r = false;
	if (pgdb_exec(c, -1, PGDB_STATEMENT_MS,
	    "SELECT content, truncated FROM requests "
	    "WHERE id = $1::bigint AND action = 'preview'", 1, p, &res,
	    error_r) < 0)
		return (-1);
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		*error_r = xstrdup("the preview's row is gone, or has no "
		    "content");
		return (-1);
	}
	/* Text format: bytea as hex ("\\x..."), which libpq decodes. */
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0),
	    &len);
	if (raw == NULL) {
		PQclear(res);
		*error_r = xstrdup("the preview's content: out of memory");
		return (-1);
	}
	if (len > PGREQ_PREVIEW_MAX) {
		PQfreemem(raw);
		PQclear(res);
		*error_r = xasprintf("the preview's content is longer than "
		    "%d bytes", PGREQ_PREVIEW_MAX);
		return (-1);
	}
	copy = xmalloc(len + 1);
	memcpy(copy, raw, len);
	copy[len] = '\0';
	PQfreemem(raw);
	*truncated_r = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	*data_r = copy;
	*len_r = len;
	return (0);
}
