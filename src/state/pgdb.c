/*
 * NAME
 *	pgdb - a farm's PostgreSQL database (libpq)
 * DESCRIPTION
 *	Connections and statements wait a bounded time: the connection is
 *	made with PQconnectStartParams() and PQconnectPoll(), statements
 *	are sent with PQsendQueryParams(), and both wait in poll(2) on the
 *	server's socket and on a stop descriptor, so that a server that
 *	hangs holds up only the thread that asked, and never a shutdown.
 *	The server is told statement_timeout too.
 *
 *	The schema lives here, in one place: the statements of each
 *	version (migrations[]), applied in one transaction under an
 *	advisory lock (two hosts running holdscan db init at once take
 *	turns), with the version in the table holdscan_schema.
 *
 *	This module must never build SQL from data (every value is a
 *	parameter), never block without a bound, and never log: its
 *	callers decide what a failure means.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/xalloc.h"
#include "state/pgdb.h"

/* pg_advisory_xact_lock() key of schema changes: "hsschema". */
#define SCHEMA_LOCK	"7526488237204071269"

/* The statements of schema version i + 1. */
static const char *const v1[] = {
	"CREATE TABLE IF NOT EXISTS message_log ("
	" host text NOT NULL,"
	" seq bigint NOT NULL,"
	" time timestamptz NOT NULL,"
	" orig_id text NOT NULL,"
	" orig_inode bigint NOT NULL DEFAULT 0,"
	" new_id text NOT NULL DEFAULT '',"
	" quarantine_id text NOT NULL DEFAULT '',"
	" sender text NOT NULL DEFAULT '',"
	" recipients text[] NOT NULL DEFAULT '{}',"
	" size bigint NOT NULL DEFAULT 0,"
	" subject text NOT NULL DEFAULT '',"
	" client_address text NOT NULL DEFAULT '',"
	" sasl_username text NOT NULL DEFAULT '',"
	" verdict text NOT NULL DEFAULT '',"
	" action text NOT NULL DEFAULT '',"
	" reason text NOT NULL DEFAULT '',"
	" plugins text NOT NULL DEFAULT '',"
	" hold_ms bigint NOT NULL DEFAULT 0,"
	" scan_ms bigint NOT NULL DEFAULT 0,"
	" release_ids text[] NOT NULL DEFAULT '{}',"
	" shipped timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (host, seq))",
	"CREATE INDEX IF NOT EXISTS message_log_time ON message_log (time)",
	"CREATE INDEX IF NOT EXISTS message_log_sender ON message_log "
	"(lower(sender))",
	"CREATE INDEX IF NOT EXISTS message_log_recipients ON message_log "
	"USING gin (recipients)",
	"CREATE INDEX IF NOT EXISTS message_log_orig_id ON message_log (orig_id)",
	"CREATE INDEX IF NOT EXISTS message_log_new_id ON message_log (new_id)",
	"CREATE INDEX IF NOT EXISTS message_log_quarantine_id ON message_log "
	"(quarantine_id) WHERE quarantine_id <> ''",
	"CREATE TABLE IF NOT EXISTS message_events ("
	" host text NOT NULL,"
	" seq bigint NOT NULL,"
	" n int NOT NULL,"
	" time timestamptz NOT NULL,"
	" kind text NOT NULL,"
	" new_id text NOT NULL DEFAULT '',"
	" detail text NOT NULL DEFAULT '',"
	" PRIMARY KEY (host, seq, n))",
	NULL
};

/*
 * Version 2: requests across hosts (issue 15 item 4). A row asks host to
 * release or delete its quarantined message quarantine_id; the owning
 * host's holdscand claims it (claimed_at, set once) and answers (done_at,
 * outcome 'released', 'deleted' or 'failed', new_id, error).
 */
static const char *const v2[] = {
	"CREATE TABLE IF NOT EXISTS requests ("
	" id bigserial PRIMARY KEY,"
	" host text NOT NULL,"
	" quarantine_id text NOT NULL,"
	" action text NOT NULL CHECK (action IN ('release', 'delete')),"
	" recipients text[] NOT NULL DEFAULT '{}',"
	" requested_by text NOT NULL DEFAULT '',"
	" requested_at timestamptz NOT NULL DEFAULT now(),"
	" claimed_at timestamptz,"
	" done_at timestamptz,"
	" outcome text,"
	" new_id text NOT NULL DEFAULT '',"
	" error text NOT NULL DEFAULT '')",
	"CREATE INDEX IF NOT EXISTS requests_open ON requests (host, id) "
	"WHERE done_at IS NULL",
	NULL
};

/*
 * Version 3: the queries of holdscan log, trace and quarantine list
 * --all-hosts on indexes (issue 15): a recipient case-insensitively
 * through a GIN index on the lowered recipients (holdscan_lower(), which
 * replaces version 1's index on the recipients as they are), and a
 * release's queue id through a GIN index on release_ids.
 */
static const char *const v3[] = {
	"CREATE OR REPLACE FUNCTION holdscan_lower(text[]) RETURNS text[] "
	"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
	"AS 'SELECT ARRAY(SELECT lower(r) FROM unnest($1) r)'",
	"DROP INDEX IF EXISTS message_log_recipients",
	"CREATE INDEX IF NOT EXISTS message_log_recipients_lower ON message_log "
	"USING gin (holdscan_lower(recipients))",
	"CREATE INDEX IF NOT EXISTS message_log_release_ids ON message_log "
	"USING gin (release_ids)",
	NULL
};

/*
 * Version 4: a preview of a message held on another host (issue 16): the
 * action 'preview', whose answer is the first bytes of the quarantined
 * file (content, at most PGREQ_PREVIEW_MAX; truncated when there was
 * more), written by the owning host and read by the asking console. The
 * owning host deletes its preview rows after PGREQ_PREVIEW_KEEP_S (the
 * partial index requests_preview finds them).
 * Dropped and added again, so that a run that stopped half-way (there
 * is none: one transaction) or a second run changes nothing.
 */
static const char *const v4[] = {
	"ALTER TABLE requests DROP CONSTRAINT IF EXISTS requests_action_check",
	"ALTER TABLE requests ADD CONSTRAINT requests_action_check "
	"CHECK (action IN ('release', 'delete', 'preview'))",
	"ALTER TABLE requests ADD COLUMN IF NOT EXISTS content bytea",
	"ALTER TABLE requests ADD COLUMN IF NOT EXISTS truncated boolean "
	"NOT NULL DEFAULT false",
	"CREATE INDEX IF NOT EXISTS requests_preview ON requests "
	"(host, requested_at) WHERE action = 'preview'",
	NULL
};

/*
 * Version 5: the web console's queries of a farm at 1,000,000 rows
 * (issue 16 item 6, tests/bench/webfarm.sh): a domain admin's scope
 * through a GIN index on the recipients' domains (holdscan_domains(): the
 * part after the last @, lowered, as access_address_ok() takes it); the
 * quarantine's pages and its count through a partial index of the
 * quarantined rows in the list's order (index only: host and seq join
 * their events); statistics through the time index, which now carries
 * the verdict (index only; it replaces version 1's message_log_time),
 * and their top tens through an index on the verdict and the time (the
 * rows of the verdicts asked for, not every row of the period).
 */
static const char *const v5[] = {
	"CREATE OR REPLACE FUNCTION holdscan_domains(text[]) RETURNS text[] "
	"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
	"AS 'SELECT ARRAY(SELECT substring(lower(r) FROM ''@([^@]*)$'') "
	"FROM unnest($1) r)'",
	"CREATE INDEX IF NOT EXISTS message_log_recipient_domains ON "
	"message_log USING gin (holdscan_domains(recipients))",
	"CREATE INDEX IF NOT EXISTS message_log_quarantined ON message_log "
	"(time DESC, seq DESC, host) WHERE quarantine_id <> ''",
	"CREATE INDEX IF NOT EXISTS message_log_time_verdict ON message_log "
	"(time) INCLUDE (verdict)",
	"DROP INDEX IF EXISTS message_log_time",
	"CREATE INDEX IF NOT EXISTS message_log_verdict_time ON message_log "
	"(lower(verdict), time)",
	/*
	 * The quarantine's substring filters (sender, reason, subject) on
	 * trigram indexes of the quarantined rows, where pg_trgm can be had
	 * (Debian's postgresql packages ship it; a trusted extension, so the
	 * database's owner may create it): without it they stay a read of
	 * every quarantined row, and the schema is the same version.
	 */
	"DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; "
	"EXCEPTION WHEN OTHERS THEN NULL; END $$",
	"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension "
	"WHERE extname = 'pg_trgm') THEN "
	"CREATE INDEX IF NOT EXISTS message_log_quarantined_trgm ON "
	"message_log USING gin (lower(sender) gin_trgm_ops, "
	"lower(reason) gin_trgm_ops, lower(subject) gin_trgm_ops) "
	"WHERE quarantine_id <> ''; END IF; END $$",
	/*
	 * Statistics of the lowered columns the substring filters read:
	 * without them the planner takes a '%trojan%' to match a few dozen
	 * rows (7,533 in the bench), never ANDs the trigram bitmap with the
	 * domains' for a domain admin, and reads every match to check its
	 * domains (74 ms against 13 ms).
	 */
	"CREATE STATISTICS IF NOT EXISTS message_log_reason_lower "
	"ON (lower(reason)) FROM message_log",
	"CREATE STATISTICS IF NOT EXISTS message_log_sender_lower "
	"ON (lower(sender)) FROM message_log",
	"CREATE STATISTICS IF NOT EXISTS message_log_subject_lower "
	"ON (lower(subject)) FROM message_log",
	NULL
};

static const char *const *const migrations[PGDB_SCHEMA_VERSION] = {
	v1, v2, v3, v4, v5
};

static long
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* libpq's message on one line, without its trailing newline. */
static char *
one_line(const char *what, const char *msg)
{
	char	*s, *p, *w;

	s = xasprintf("%s%s%s", what, what[0] ? ": " : "",
	    msg != NULL && msg[0] ? msg : "unknown error");
	for (p = w = s; *p; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
		if (*p == ' ' && w > s && w[-1] == ' ')
			continue;
		*w++ = *p;
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
	return (s);
}

/*
 * Wait until fd is ready for events, stopfd is readable, or deadline.
 * 0 ready, -1 with *error_r.
 */
static int
wait_fd(int fd, short events, int stopfd, long deadline, char **error_r)
{
	struct pollfd	 pfd[2];
	long		 left;
	int		 n;

	for (;;) {
		if ((left = deadline - now_ms()) <= 0) {
			*error_r = xstrdup("timed out");
			return (-1);
		}
		pfd[0].fd = fd;
		pfd[0].events = events;
		pfd[0].revents = 0;
		pfd[1].fd = stopfd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		n = poll(pfd, stopfd >= 0 ? 2 : 1, (int)(left > 1000 ? 1000 :
		    left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = xasprintf("poll: %s", strerror(errno));
			return (-1);
		}
		if (stopfd >= 0 && pfd[1].revents != 0) {
			*error_r = xstrdup("stopped");
			return (-1);
		}
		if (pfd[0].revents != 0)
			return (0);
	}
}

static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int
pgdb_connect(const char *conninfo, const char *app, int stopfd,
    PGconn **c_r, char **error_r)
{
	/*
	 * Ours first: the expanded conninfo (dbname) comes after them and
	 * overrides what it names.
	 */
	const char	*keys[] = { "connect_timeout", "application_name",
	    "options", "dbname", NULL };
	/*
	 * No JIT: every statement of ours is a short one, and compiling it
	 * costs more than it saves (a third of a second for the web
	 * console's quarantine count; tests/bench/webfarm.sh).
	 */
	const char	*vals[] = { "10", app,
	    "-c statement_timeout=30000 -c jit=off", conninfo, NULL };
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn		*c;
	long		 deadline = now_ms() + PGDB_CONNECT_MS;
	char		*error = NULL;

	*c_r = NULL;
	if ((c = PQconnectStartParams(keys, vals, 1)) == NULL) {
		*error_r = xstrdup("out of memory");
		return (-1);
	}
	if (PQstatus(c) == CONNECTION_BAD)
		goto bad;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED)
			goto bad;
		if (wait_fd(PQsocket(c), st == PGRES_POLLING_READING ?
		    POLLIN : POLLOUT, stopfd, deadline, &error) < 0) {
			*error_r = one_line("connect", error);
			free(error);
			PQfinish(c);
			return (-1);
		}
		st = PQconnectPoll(c);
	}
	/* NOTICEs ("already exists, skipping") are not for anyone. */
	(void)PQsetNoticeProcessor(c, quiet, NULL);
	*c_r = c;
	return (0);
bad:
	*error_r = one_line("", PQerrorMessage(c));
	PQfinish(c);
	return (-1);
}

int
pgdb_exec(PGconn **cp, int stopfd, long timeout_ms, const char *sql,
    int nparams, const char *const *params, PGresult **res_r,
    char **error_r)
{
	PGconn		*c = *cp;
	PGresult	*res, *last = NULL;
	long		 deadline = now_ms() + timeout_ms;
	char		*error = NULL;
	ExecStatusType	 st;

	if (res_r != NULL)
		*res_r = NULL;
	if (c == NULL) {
		*error_r = xstrdup("not connected");
		return (-1);
	}
	if (!PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0)) {
		*error_r = one_line("", PQerrorMessage(c));
		PQfinish(c);
		*cp = NULL;
		return (-1);
	}
	for (;;) {
		while (PQisBusy(c)) {
			if (wait_fd(PQsocket(c), POLLIN, stopfd, deadline,
			    &error) < 0 || !PQconsumeInput(c)) {
				*error_r = error != NULL ? one_line("", error) :
				    one_line("", PQerrorMessage(c));
				free(error);
				PQclear(last);
				/* The answer is lost: the connection too. */
				PQfinish(c);
				*cp = NULL;
				return (-1);
			}
		}
		if ((res = PQgetResult(c)) == NULL)
			break;
		PQclear(last);
		last = res;
	}
	st = last != NULL ? PQresultStatus(last) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		*error_r = one_line("", last != NULL ?
		    PQresultErrorMessage(last) : PQerrorMessage(c));
		PQclear(last);
		return (-1);
	}
	if (res_r != NULL)
		*res_r = last;
	else
		PQclear(last);
	return (0);
}

int
pgdb_schema_version(PGconn **c, int *version_r, char **error_r)
{
	PGresult	*res;

	*version_r = 0;
	if (pgdb_exec(c, -1, PGDB_STATEMENT_MS,
	    "SELECT to_regclass('holdscan_schema') IS NOT NULL", 0, NULL,
	    &res, error_r) < 0)
		return (-1);
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		return (0);
	}
	PQclear(res);
	if (pgdb_exec(c, -1, PGDB_STATEMENT_MS,
	    "SELECT coalesce(max(version), 0) FROM holdscan_schema", 0, NULL,
	    &res, error_r) < 0)
		return (-1);
	*version_r = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return (0);
}

static int
run(PGconn **c, const char *sql, char **error_r)
{
	return (pgdb_exec(c, -1, PGDB_STATEMENT_MS, sql, 0, NULL, NULL,
	    error_r) < 0 ? -1 : 0);
}

int
pgdb_schema_apply(PGconn **c, int *from_r, char **error_r)
{
	const char	*const *sql;
	char		 vbuf[16];
	const char	*p[1] = { vbuf };
	char		*error = NULL;
	int		 v, from;

	if (run(c, "BEGIN", error_r) < 0)
		return (-1);
	if (run(c, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ")",
	    &error) < 0 ||
	    run(c, "CREATE TABLE IF NOT EXISTS holdscan_schema "
	    "(version int NOT NULL)", &error) < 0 ||
	    pgdb_schema_version(c, &from, &error) < 0)
		goto fail;
	*from_r = from;
	if (from > PGDB_SCHEMA_VERSION) {
		error = xasprintf("the schema is version %d, newer than this "
		    "holdscan's %d: upgrade holdscan", from,
		    PGDB_SCHEMA_VERSION);
		goto fail;
	}
	for (v = from; v < PGDB_SCHEMA_VERSION; v++)
		for (sql = migrations[v]; *sql != NULL; sql++)
			if (run(c, *sql, &error) < 0)
				goto fail;
	(void)snprintf(vbuf, sizeof(vbuf), "%d", PGDB_SCHEMA_VERSION);
	if (run(c, "DELETE FROM holdscan_schema", &error) < 0 ||
	    pgdb_exec(c, -1, PGDB_STATEMENT_MS,
	    "INSERT INTO holdscan_schema (version) VALUES ($1::int)", 1, p,
	    NULL, &error) < 0 ||
	    run(c, "COMMIT", &error) < 0)
		goto fail;
	return (0);
fail:
	*error_r = error;
	if (*c != NULL && PQstatus(*c) == CONNECTION_OK) {
		error = NULL;
		if (run(c, "ROLLBACK", &error) < 0)
			free(error);
	}
	return (-1);
}
