/*
 * NAME
 *	remote - holdscan quarantine release and delete of a message held
 *	on another host of a farm
 * DESCRIPTION
 *	A quarantine id that the local quarantine does not know is looked
 *	up in the farm's message_log (quarantine_id, host); when another
 *	host holds it, a row is written into the requests table (schema
 *	version 2) and that host is woken with NOTIFY holdscan_requests,
 *	payload its host name. The owning host's holdscand claims the row
 *	(claimed_at, set once), carries it out through its own exactly-once
 *	release path and answers in the row (done_at, outcome: released,
 *	deleted, already (released or deleted before), failed; new_id,
 *	error). The tool reads the row every PGREQ_RECHECK_MS until the answer
 *	is there or the wait is over: then the request stays queued, and
 *	is carried out when that host's holdscand is back (exit 75,
 *	EX_TEMPFAIL).
 *
 *	This module must never build SQL from data (every value is a
 *	parameter), never wait without a bound, never touch the local
 *	quarantine, and never write a request for this host (its own
 *	messages are released here, by the caller).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "state/pgdb.h"
#include "state/pgreq.h"
#include "tool/remote.h"

/* "user@host" of the person asking, for the row and the owner's log. */
static char *
requester(uid_t uid, const char *myhost)
{
	struct passwd	*pw;

	pw = getpwuid(uid);
	return (xasprintf("%s@%s", pw != NULL ? pw->pw_name : "?", myhost));
}

static int
fail(const struct remote_req *r, const char *host,
    const char *what, const char *why)
{
	(void)fprintf(stderr, "holdscan: %s: %s on %s: %s: %s\n", r->qid,
	    r->action, host, what, why != NULL && why[0] ? why : "unknown "
	    "error");
	return (1);
}

int
remote_action(const struct remote_req *r, bool *found_r)
{
	PGconn		*c = NULL;
	PGresult	*res;
	char		*error = NULL, *by, *id = NULL;
	char		*outcome = NULL, *new_id = NULL, *why = NULL;
	char		 host[256];
	const char	*p[5];
	int		 version, rc, got;

	*found_r = false;
	if (pgdb_connect(r->conninfo, "holdscan", -1, &c, &error) < 0 ||
	    pgdb_schema_version(&c, &version, &error) < 0) {
		hs_warnx("database: %s; cannot look for %s on the other hosts",
		    error, r->qid);
		free(error);
		goto out_nf;
	}
	if (version != PGDB_SCHEMA_VERSION) {
		hs_warnx("database: the schema is version %d, not %d (run "
		    "\"holdscan db upgrade\"); cannot look for %s on the other "
		    "hosts", version, PGDB_SCHEMA_VERSION, r->qid);
		goto out_nf;
	}
	p[0] = r->qid;
	p[1] = r->myhost;
	if (pgdb_exec(&c, -1, PGDB_STATEMENT_MS,
	    "SELECT host FROM message_log WHERE quarantine_id = $1 "
	    "AND host <> $2 ORDER BY time DESC LIMIT 1", 2, p, &res,
	    &error) < 0) {
		hs_warnx("database: %s; cannot look for %s on the other hosts",
		    error, r->qid);
		free(error);
		goto out_nf;
	}
	if (PQntuples(res) != 1 || strlen(PQgetvalue(res, 0, 0)) >=
	    sizeof(host)) {
		PQclear(res);
		goto out_nf;
	}
	(void)snprintf(host, sizeof(host), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	*found_r = true;

	by = requester(r->invoker, r->myhost);
	got = pgreq_submit(&c, host, r->qid, r->action, r->to, r->nto, by,
	    &id, &error);
	free(by);
	if (got < 0) {
		rc = fail(r, host, "cannot write the request", error);
		free(error);
		goto out;
	}

	got = pgreq_wait(&c, r->conninfo, "holdscan", id, r->wait_ms,
	    &outcome, &new_id, &why);
	if (got == 0) {
		(void)printf("%s: request %s to %s on %s is queued (no answer "
		    "in %lds); it is carried out when holdscand on %s is "
		    "back\n", r->qid, id, r->action, host, r->wait_ms / 1000,
		    host);
		rc = EX_TEMPFAIL;
	} else if (strcmp(outcome, "released") == 0) {
		(void)printf("%s: released on %s as %s\n", r->qid, host,
		    new_id);
		rc = 0;
	} else if (strcmp(outcome, "deleted") == 0) {
		(void)printf("%s: deleted on %s\n", r->qid, host);
		rc = 0;
	} else if (strcmp(outcome, "already") == 0) {
		(void)printf("%s: %s on %s before%s%s\n", r->qid,
		    strcmp(r->action, "release") == 0 ? "released" : "deleted",
		    host, new_id[0] ? " as " : "", new_id);
		rc = 0;
	} else {
		rc = fail(r, host, "not done", why);
	}
out:
	free(id);
	free(outcome);
	free(new_id);
	free(why);
	if (c != NULL)
		PQfinish(c);
	return (rc);
out_nf:
	if (c != NULL)
		PQfinish(c);
	return (1);
}
