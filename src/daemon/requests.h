/*
 * requests.h - holdscand's side of release, delete and preview requests
 * from the other hosts of a farm (the requests table, state/pgdb.c): a
 * thread that claims this host's requests and answers them, and the
 * master's part, which carries each out through qaction.c, the
 * exactly-once path of the control socket too (a preview: the entry's
 * file opened read-only, its bytes copied by the thread).
 */
#ifndef HS_REQUESTS_H
#define HS_REQUESTS_H

#include <stdbool.h>

struct commit_ctx;
struct hs_config;
struct msglog;
struct quarantine;
struct requests;

/* The safety-net poll of the requests table besides LISTEN (ms). */
#define REQUESTS_POLL_MS	5000

/*
 * requests_start() starts the thread, which connects to conninfo
 * (copied), LISTENs on holdscan_requests and claims the requests for
 * host. It never fails for the database (one warning per outage, then
 * retries). 0, or -1 with *error_r.
 */
int	 requests_start(const char *conninfo, const char *host,
	    struct requests **r_r, char **error_r);
/* Stops and joins the thread; *r is NULL afterwards. NULL is fine. */
void	 requests_stop(struct requests **r);
/* Readable when a request waits for the master: requests_run(). */
int	 requests_fd(const struct requests *r);
/*
 * requests_run() (the master, with the state environment open) drains
 * requests_fd() and carries out the request that waits, if any, through
 * qaction_release() or qaction_delete() (the control socket's path: the
 * audit line, the message log event), or for a preview opens the
 * entry's file read-only for the thread (no audit line, no event); a message released already by a
 * request finished again after a crash answers with its queue id. Then
 * it hands the answer back to the thread.
 */
void	 requests_run(struct requests *r, struct commit_ctx *c,
	    struct quarantine *q, struct msglog *ml,
	    const struct hs_config *conf);

#endif
