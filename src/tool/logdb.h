/*
 * logdb.h - holdscan log on a farm: the message log of every host, read
 * from the farm's PostgreSQL database (state/pgdb.h).
 */
#ifndef HS_LOGDB_H
#define HS_LOGDB_H

#include <libpq-fe.h>

#include "state/msglog.h"

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

#endif
