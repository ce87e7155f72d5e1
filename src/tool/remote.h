/*
 * remote.h - holdscan quarantine release and delete of a message that
 * another host of the farm holds: a request row in the farm's database,
 * carried out by that host's holdscand, waited for with a bound.
 */
#ifndef HS_REMOTE_H
#define HS_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The default wait for the owning host's answer (ms). */
#define REMOTE_WAIT_MS	30000

struct remote_req {
	const char	*conninfo;	/* the database setting */
	const char	*myhost;	/* this host (myhostname) */
	const char	*qid;		/* the quarantine id */
	const char	*action;	/* "release" or "delete" */
	const char *const *to;		/* release: other recipients, or NULL */
	size_t		 nto;
	long		 wait_ms;	/* how long to wait for the answer */
	uid_t		 invoker;	/* who asks (requested_by) */
};

/*
 * remote_action() looks for r->qid in the farm's message_log on another
 * host. Not there (or the database cannot say, with a warning): *found_r
 * false and 1. Else it writes the request, wakes the owning host, waits
 * at most r->wait_ms for its answer and prints it: 0 done, 1 refused or
 * failed (on stderr), EX_TEMPFAIL (75) no answer yet (the request stays
 * queued). Everything borrowed for the call.
 */
int	 remote_action(const struct remote_req *r, bool *found_r);

#endif
