/*
 * farmview.h - holdscan-web on a farm: the message log and quarantine of
 * every host, read from the farm's PostgreSQL database (state/pgdb.c) with
 * holdscan-web's own role, within an account's scope.
 */
#ifndef HS_FARMVIEW_H
#define HS_FARMVIEW_H

#include <stdbool.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "common/access.h"

/* Longest wait for one statement of the console (ms). */
#define FARMVIEW_STATEMENT_MS	10000

struct farmview;

/* A query's filters; NULL / 0 filter nothing. */
struct farmview_query {
	long long	 since, until;
	const char	*sender;	/* log: exact; quarantine: substring */
	const char	*recipient;	/* exact, any case */
	const char	*subject;	/* substring, any case */
	const char	*reason;	/* quarantine: substring */
	const char	*verdict, *action;	/* log: exact, any case */
	const char	*id;		/* log: any id of the message */
	const char	*host;		/* one host only */
	const char	*state;		/* quarantine: held, released, deleted */
	long long	 offset, limit;
};

/*
 * farmview_new() keeps conninfo and this host's name (copied); nothing
 * is connected before the first query.
 */
struct farmview *farmview_new(const char *conninfo, const char *myhost);
void	 farmview_free(struct farmview **f);
/* This host's name; the conninfo holdscan-web connects with. */
const char *farmview_host(const struct farmview *f);
const char *farmview_conninfo(const struct farmview *f);
/*
 * farmview_db() returns the connection, connected (and its schema
 * checked) if it was not: 0, or -1 with a one-line *error_r. A
 * connection lost in a statement is made again next time.
 */
int	 farmview_db(struct farmview *f, PGconn ***c_r, char **error_r);
/*
 * farmview_host_slow() says whether host did not answer a request in
 * time within the last FARMVIEW_SLOW_S seconds (farmact.c then does not
 * wait for it again: a bulk action on a host that is down costs one
 * wait, not one each); farmview_set_slow() notes it (or forgets it).
 * Up to FARMVIEW_SLOW_HOSTS hosts at once (two hosts down: one wait
 * each, not one per request as they alternate), the one noted longest
 * ago forgotten first.
 */
#define FARMVIEW_SLOW_S		60
#define FARMVIEW_SLOW_HOSTS	16
bool	 farmview_host_slow(const struct farmview *f, const char *host);
void	 farmview_set_slow(struct farmview *f, const char *host, bool slow);

/*
 * Each of these answers as holdscand's control socket does for one host
 * (doc/web.md), every record with its "host": 0 and *reply_r (a new
 * object), -1 with *error_r when the database cannot answer, -2 with
 * *error_r for bad input (offset, limit, state, hours).
 *	farmview_log(): {offset, more, items}, newest first
 *	farmview_qlist(): {total, offset, items}, quarantined records with
 *	their state (the newest release, deletion or expiry event)
 *	farmview_trace(): {items} with events; 1 found, 0 none in scope
 *	farmview_stats(): {hours, total, top_viruses, top_blocked,
 *	top_spam_senders, as_of}; an answer is kept for
 *	FARMVIEW_STATS_KEEP_S seconds per scope and period (as_of: when it
 *	was asked of the database)
 */
#define FARMVIEW_STATS_KEEP_S	60
int	 farmview_log(struct farmview *f, const struct access_scope *s,
	    const struct farmview_query *q, json_t **reply_r, char **error_r);
int	 farmview_qlist(struct farmview *f, const struct access_scope *s,
	    const struct farmview_query *q, json_t **reply_r, char **error_r);
int	 farmview_trace(struct farmview *f, const struct access_scope *s,
	    const char *id, json_t **reply_r, char **error_r);
int	 farmview_stats(struct farmview *f, const struct access_scope *s,
	    long hours, json_t **reply_r, char **error_r);
/*
 * farmview_held_elsewhere() looks for quarantine id qid on a host other
 * than this one, within s: 1 and *entry_r (a new object as in qlist's
 * items, with "host"), 0 none, -1 with *error_r.
 */
int	 farmview_held_elsewhere(struct farmview *f, const struct access_scope *s,
	    const char *qid, json_t **entry_r, char **error_r);

#endif
