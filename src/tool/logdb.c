/*
 * NAME
 *	logdb - the farm's message log in PostgreSQL, for holdscan log
 * DESCRIPTION
 *	The same filters as the local log (msglog_query()): time range,
 *	sender and recipient (exact, case-insensitive), verdict, action and
 *	a limit, newest first; each is a parameter of one fixed statement
 *	(PQexecParams), a NULL parameter filters nothing. A row becomes a
 *	struct msglog_rec whose strings point into the result.
 *
 *	This file must never build SQL from data and never write.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "state/pgdb.h"
#include "tool/logdb.h"

static const char select_records[] =
    "SELECT host, seq, extract(epoch FROM time)::bigint, orig_id, new_id,"
    " quarantine_id, sender, array_to_string(recipients, E'\\n'), size,"
    " subject, client_address, sasl_username, verdict, action, reason,"
    " plugins, hold_ms, scan_ms, array_to_string(release_ids, ' ')"
    " FROM message_log"
    " WHERE ($1::bigint IS NULL OR time >= to_timestamp($1::bigint))"
    " AND ($2::bigint IS NULL OR time <= to_timestamp($2::bigint))"
    " AND ($3::text IS NULL OR lower(sender) = lower($3::text))"
    " AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM unnest(recipients) r"
    " WHERE lower(r) = lower($4::text)))"
    " AND ($5::text IS NULL OR lower(verdict) = lower($5::text))"
    " AND ($6::text IS NULL OR lower(action) = lower($6::text))"
    " ORDER BY time DESC, seq DESC, host LIMIT $7::bigint";
static const char select_events[] =
    "SELECT extract(epoch FROM time)::bigint, kind, new_id, detail"
    " FROM message_events WHERE host = $1 AND seq = $2::bigint ORDER BY n";

static uint64_t
u64(const PGresult *res, int row, int col)
{
	return (strtoull(PQgetvalue(res, row, col), NULL, 10));
}

int
logdb_query(PGconn **c, const struct msglog_query *q, msglog_fn fn,
    void *arg, char **error_r)
{
	struct msglog_rec r;
	PGresult	*res;
	const char	*p[7];
	char		 since[24], until[24], limit[24], *rc, *s;
	size_t		 n;
	int		 row, rows;

	(void)snprintf(since, sizeof(since), "%lld", (long long)q->since);
	(void)snprintf(until, sizeof(until), "%lld", (long long)q->until);
	(void)snprintf(limit, sizeof(limit), "%zu", q->limit);
	p[0] = q->since ? since : NULL;
	p[1] = q->until ? until : NULL;
	p[2] = q->sender;
	p[3] = q->rcpt;
	p[4] = q->verdict;
	p[5] = q->action;
	p[6] = q->limit ? limit : NULL;
	if (pgdb_exec(c, -1, PGDB_STATEMENT_MS, select_records, 7, p, &res,
	    error_r) < 0)
		return (-1);
	rows = PQntuples(res);
	for (row = 0; row < rows; row++) {
		memset(&r, 0, sizeof(r));
		r.host = PQgetvalue(res, row, 0);
		r.seq = u64(res, row, 1);
		r.time = (time_t)u64(res, row, 2);
		r.orig_id = PQgetvalue(res, row, 3);
		r.new_id = PQgetvalue(res, row, 4);
		r.quarantine_id = PQgetvalue(res, row, 5);
		r.sender = PQgetvalue(res, row, 6);
		/* The recipients, one a line (no address holds a newline). */
		rc = xstrdup(PQgetvalue(res, row, 7));
		for (n = rc[0] != '\0', s = rc; *s; s++)
			n += *s == '\n';
		r.rcpts = xcalloc(n + 1, sizeof(*r.rcpts));
		for (s = rc; n > 0 && s != NULL; ) {
			r.rcpts[r.nrcpts++] = s;
			if ((s = strchr(s, '\n')) != NULL)
				*s++ = '\0';
		}
		r.size = u64(res, row, 8);
		r.subject = PQgetvalue(res, row, 9);
		r.client = PQgetvalue(res, row, 10);
		r.sasl_user = PQgetvalue(res, row, 11);
		r.verdict = PQgetvalue(res, row, 12);
		r.action = PQgetvalue(res, row, 13);
		r.reason = PQgetvalue(res, row, 14);
		r.plugins = PQgetvalue(res, row, 15);
		r.queue_ms = (long)u64(res, row, 16);
		r.scan_ms = (long)u64(res, row, 17);
		r.later_ids = PQgetvalue(res, row, 18);
		n = (size_t)fn(arg, &r);
		free((void *)r.rcpts);
		free(rc);
		if (n != 0)
			break;
	}
	PQclear(res);
	return (0);
}

int
logdb_events(PGconn **c, const char *host, uint64_t seq, msglog_event_fn fn,
    void *arg, char **error_r)
{
	struct msglog_event e;
	PGresult	*res;
	const char	*p[2];
	char		 sq[24];
	int		 row;

	(void)snprintf(sq, sizeof(sq), "%" PRIu64, seq);
	p[0] = host;
	p[1] = sq;
	if (pgdb_exec(c, -1, PGDB_STATEMENT_MS, select_events, 2, p, &res,
	    error_r) < 0)
		return (-1);
	for (row = 0; row < PQntuples(res); row++) {
		e.time = (time_t)u64(res, row, 0);
		e.kind = PQgetvalue(res, row, 1);
		e.new_id = PQgetvalue(res, row, 2);
		e.detail = PQgetvalue(res, row, 3);
		if (fn(arg, &e) != 0)
			break;
	}
	PQclear(res);
	return (0);
}
