/*
 * pgdb.h - a farm's PostgreSQL database through libpq: connecting with
 * bounded waits, statements with bounded waits, and the schema (its
 * version table, init and upgrade).
 *
 * Only holdscand's master (its shipper thread) and the holdscan tool
 * link libpq; the scanner program never does.
 */
#ifndef HS_PGDB_H
#define HS_PGDB_H

#include <stdbool.h>

#include <libpq-fe.h>

/* The schema version this holdscan writes and reads. */
#define PGDB_SCHEMA_VERSION	5
/* Longest wait for a connection, for one statement (ms). */
#define PGDB_CONNECT_MS		10000
#define PGDB_STATEMENT_MS	30000

/*
 * pgdb_connect() connects to conninfo (a libpq conninfo string or a
 * postgresql:// URI) with connect_timeout, statement_timeout and an
 * application_name (app) of ours unless conninfo sets them, waiting at
 * most PGDB_CONNECT_MS and returning early when stopfd (-1: none)
 * becomes readable. 0 and *c_r, or -1 with a one-line *error_r.
 */
int	 pgdb_connect(const char *conninfo, const char *app, int stopfd,
	    PGconn **c_r, char **error_r);
/*
 * pgdb_exec() runs sql with nparams text parameters (PQexecParams'
 * way: never built into the SQL), waiting at most timeout_ms (or until
 * stopfd is readable). 0 and *res_r (PQclear() it; NULL allowed to
 * discard), or -1 with a one-line *error_r. When the answer is lost
 * (timed out, stopped, the connection broke) the connection is closed
 * and *c is NULL; an error of the statement leaves it open.
 */
int	 pgdb_exec(PGconn **c, int stopfd, long timeout_ms, const char *sql,
	    int nparams, const char *const *params, PGresult **res_r,
	    char **error_r);
/*
 * pgdb_schema_version() reads the schema's version: 0 when there is no
 * schema, -1 with *error_r.
 */
int	 pgdb_schema_version(PGconn **c, int *version_r, char **error_r);
/*
 * pgdb_schema_apply() brings the schema from its version up to
 * PGDB_SCHEMA_VERSION in one transaction (nothing when it is there
 * already; an error when it is newer). *from_r is the version found.
 * Idempotent. 0, or -1 with *error_r.
 */
int	 pgdb_schema_apply(PGconn **c, int *from_r, char **error_r);

#endif
