/*
 * logdb.h - holdscan log, trace and the quarantine on a farm: the message log of every host, read
 * from the farm's PostgreSQL database (state/pgdb.h).
 */
#ifndef HS_LOGDB_H
#define HS_LOGDB_H

#include <libpq-fe.h>

#include "state/msglog.h"

/*
 * logdb_connect() connects to the farm's database and checks that its
 * schema is this holdscan's version. 0 and *c_r, or -1 with a one-line
 * *error_r.
 */
int	 logdb_connect(const char *conninfo, PGconn **c_r, char **error_r);
/*
 * logdb_query() calls fn for each row of message_log that matches q
 * (the filters of msglog_query(), as parameters), newest first; the
 * record is borrowed for the call. 0, or -1 with *error_r.
 */
int	 logdb_query(PGconn **c, const struct msglog_query *q, msglog_fn fn,
	    void *arg, char **error_r);
/* Each event of the record (host, seq), in order. 0, or -1. */
int	 logdb_events(PGconn **c, const char *host, uint64_t seq,
	    msglog_event_fn fn, void *arg, char **error_r);

/*
 * logdb_find() calls fn for each record of a host other than not_host
 * that names id (original, new or quarantine id, or the queue id of a
 * release), oldest first; *n_r counts them. 0, or -1.
 */
int	 logdb_find(PGconn **c, const char *id, const char *not_host,
	    msglog_fn fn, void *arg, size_t *n_r, char **error_r);
/*
 * logdb_quarantine_record() calls fn for the newest record of quarantine
 * id qid on a host other than not_host; *n_r is 1, or 0 when there is
 * none. 0, or -1 with *error_r.
 */
int	 logdb_quarantine_record(PGconn **c, const char *qid,
	    const char *not_host, msglog_fn fn, void *arg, size_t *n_r,
	    char **error_r);
/* Called with a quarantined record and its state; non-zero stops. */
typedef int	(*logdb_state_fn)(void *arg, const struct msglog_rec *r,
	    const char *state);
/*
 * logdb_quarantined() calls fn for each quarantined record of every host
 * that matches q (its limit aside) and state ("held", "released",
 * "deleted", "expired"; NULL: any), newest first; *n_r counts them.
 * 0, or -1 with *error_r.
 */
int	 logdb_quarantined(PGconn **c, const struct msglog_query *q,
	    const char *state, logdb_state_fn fn, void *arg, size_t *n_r,
	    char **error_r);

#endif
