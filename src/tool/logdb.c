/*
 * NAME
 *	logdb - the farm's message log in PostgreSQL, for holdscan log,
 *	trace, quarantine list --all-hosts and quarantine show
 * DESCRIPTION
 *	The same filters as the local log (msglog_query()): time range,
 *	sender and recipient (exact, case-insensitive), verdict, action and
 *	a limit, newest first; each is a parameter of one fixed statement
 *	(PQexecParams), a NULL parameter filters nothing. Each filter is
 *	written so that an index of the schema answers it: the time range
 *	message_log_time_verdict (version 5's), the sender lower(sender), the
 *	recipient the
 *	GIN index on holdscan_lower(recipients). libpq's unnamed statement
 *	is planned with its parameters' values, so "$n IS NULL OR ..." folds
 *	away for a filter that is given (e2e 1540 and the bench check the
 *	plans with EXPLAIN). A row becomes a struct msglog_rec whose strings
 *	point into the result.
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

#define RECORD_COLUMNS \
    "SELECT host, seq, extract(epoch FROM time)::bigint, orig_id, new_id," \
    " quarantine_id, sender, array_to_string(recipients, E'\\n'), size," \
    " subject, client_address, sasl_username, verdict, action, reason," \
    " plugins, hold_ms, scan_ms, array_to_string(release_ids, ' ')"
/* The filters of holdscan log, $1 to $6: each on an index, see above. */
#define RECORD_FILTERS \
    " ($1::bigint IS NULL OR time >= to_timestamp($1::bigint))" \
    " AND ($2::bigint IS NULL OR time <= to_timestamp($2::bigint))" \
    " AND ($3::text IS NULL OR lower(sender) = lower($3::text))" \
    " AND ($4::text IS NULL OR" \
    " holdscan_lower(recipients) @> ARRAY[lower($4::text)])" \
    " AND ($5::text IS NULL OR lower(verdict) = lower($5::text))" \
    " AND ($6::text IS NULL OR lower(action) = lower($6::text))"

static const char select_records[] =
    RECORD_COLUMNS
    " FROM message_log WHERE" RECORD_FILTERS
    " ORDER BY time DESC, seq DESC, host LIMIT $7::bigint";
/*
 * The records that name an id (original, new, quarantine or a release's
 * queue id), of hosts other than $2, oldest first; each on its index.
 */
static const char select_named[] =
    RECORD_COLUMNS
    " FROM message_log WHERE (orig_id = $1 OR new_id = $1"
    " OR (quarantine_id = $1 AND quarantine_id <> '')"
    " OR release_ids @> ARRAY[$1::text]) AND host <> $2"
    " ORDER BY time, seq, host";
/* The newest record of quarantine id $1 on a host other than $2. */
static const char select_quarantine_id[] =
    RECORD_COLUMNS
    " FROM message_log WHERE quarantine_id = $1 AND quarantine_id <> ''"
    " AND host <> $2 ORDER BY time DESC, seq DESC LIMIT 1";
/*
 * Quarantined messages of every host (quarantine list --all-hosts), the
 * filters of holdscan log, and $7 the state (the newest of released,
 * deleted, expired in message_events; else held).
 */
static const char select_quarantined[] =
    "SELECT * FROM (" RECORD_COLUMNS ", coalesce((SELECT e.kind"
    " FROM message_events e WHERE e.host = m.host AND e.seq = m.seq"
    " AND e.kind IN ('released', 'deleted', 'expired')"
    " ORDER BY e.n DESC LIMIT 1), 'held') AS state"
    " FROM message_log m WHERE quarantine_id <> '' AND" RECORD_FILTERS
    ") s WHERE ($7::text IS NULL OR state = $7::text)"
    " ORDER BY 3 DESC, 2 DESC, 1";
static const char select_events[] =
    "SELECT extract(epoch FROM time)::bigint, kind, new_id, detail"
    " FROM message_events WHERE host = $1 AND seq = $2::bigint ORDER BY n";

int
logdb_connect(const char *conninfo, PGconn **c_r, char **error_r)
{
	PGconn	*c = NULL;
	int	 version = 0;

	*c_r = NULL;
	if (pgdb_connect(conninfo, "holdscan", -1, &c, error_r) < 0)
		return (-1);
	if (pgdb_schema_version(&c, &version, error_r) < 0) {
		if (c != NULL)
			PQfinish(c);
		return (-1);
	}
	if (version != PGDB_SCHEMA_VERSION) {
		*error_r = xasprintf("the schema is version %d, not %d (%s)",
		    version, PGDB_SCHEMA_VERSION, version == 0 ?
		    "run holdscan db init" : version < PGDB_SCHEMA_VERSION ?
		    "run holdscan db upgrade" : "upgrade holdscan");
		PQfinish(c);
		return (-1);
	}
	*c_r = c;
	return (0);
}

static uint64_t
u64(const PGresult *res, int row, int col)
{
	return (strtoull(PQgetvalue(res, row, col), NULL, 10));
}

/* A msglog_fn called as a logdb_state_fn (the state is ignored). */
struct plain {
	msglog_fn	 fn;
	void		*arg;
};

static int
plain_row(void *arg, const struct msglog_rec *r, const char *state)
{
	struct plain	*p = arg;

	(void)state;
	return (p->fn(p->arg, r));
}

/*
 * fn for each row of res (RECORD_COLUMNS, then the state if res has it,
 * else ""); 0, or -1 when fn stopped.
 */
static int
each_row(PGresult *res, logdb_state_fn fn, void *arg)
{
	struct msglog_rec r;
	char		*rc, *s;
	size_t		 n;
	int		 row, rows, stop;

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
		stop = fn(arg, &r, PQnfields(res) > 19 ?
		    PQgetvalue(res, row, 19) : "");
		free((void *)r.rcpts);
		free(rc);
		if (stop != 0)
			return (-1);
	}
	return (0);
}

/* $1 to $6 of RECORD_FILTERS from q, into p (bufs: 2 x 24 bytes). */
static void
filter_params(const struct msglog_query *q, const char **p, char *since,
    char *until)
{
	(void)snprintf(since, 24, "%lld", (long long)q->since);
	(void)snprintf(until, 24, "%lld", (long long)q->until);
	p[0] = q->since ? since : NULL;
	p[1] = q->until ? until : NULL;
	p[2] = q->sender;
	p[3] = q->rcpt;
	p[4] = q->verdict;
	p[5] = q->action;
}

int
logdb_query(PGconn **c, const struct msglog_query *q, msglog_fn fn,
    void *arg, char **error_r)
{
	struct plain	 pl = { fn, arg };
	PGresult	*res;
	const char	*p[7];
	char		 since[24], until[24], limit[24];

	filter_params(q, p, since, until);
	(void)snprintf(limit, sizeof(limit), "%zu", q->limit);
	p[6] = q->limit ? limit : NULL;
	if (pgdb_exec(c, -1, PGDB_STATEMENT_MS, select_records, 7, p, &res,
	    error_r) < 0)
		return (-1);
	(void)each_row(res, plain_row, &pl);
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

int
logdb_find(PGconn **c, const char *id, const char *not_host, msglog_fn fn,
    void *arg, size_t *n_r, char **error_r)
{
	struct plain	 pl = { fn, arg };
	PGresult	*res;
	const char	*p[2] = { id, not_host };

	*n_r = 0;
	if (pgdb_exec(c, -1, PGDB_STATEMENT_MS, select_named, 2, p, &res,
	    error_r) < 0)
		return (-1);
	*n_r = (size_t)PQntuples(res);
	(void)each_row(res, plain_row, &pl);
	PQclear(res);
	return (0);
}

int
logdb_quarantine_record(PGconn **c, const char *qid, const char *not_host,
    msglog_fn fn, void *arg, size_t *n_r, char **error_r)
{
	struct plain	 pl = { fn, arg };
	PGresult	*res;
	const char	*p[2] = { qid, not_host };

	*n_r = 0;
	if (pgdb_exec(c, -1, PGDB_STATEMENT_MS, select_quarantine_id, 2, p,
	    &res, error_r) < 0)
		return (-1);
	*n_r = (size_t)PQntuples(res);
	(void)each_row(res, plain_row, &pl);
	PQclear(res);
	return (0);
}

int
logdb_quarantined(PGconn **c, const struct msglog_query *q, const char *state,
    logdb_state_fn fn, void *arg, size_t *n_r, char **error_r)
{
	PGresult	*res;
	const char	*p[7];
	char		 since[24], until[24];

	filter_params(q, p, since, until);
	p[6] = state;
	*n_r = 0;
	if (pgdb_exec(c, -1, PGDB_STATEMENT_MS, select_quarantined, 7, p, &res,
	    error_r) < 0)
		return (-1);
	*n_r = (size_t)PQntuples(res);
	(void)each_row(res, fn, arg);
	PQclear(res);
	return (0);
}
