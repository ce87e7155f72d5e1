/*
 * farmact.h - holdscan-web on a farm: a release or deletion of a message
 * that another host holds, sent through the requests table to that
 * host's holdscand, which carries it out; its answer waited for, with a
 * bound.
 */
#ifndef HS_FARMACT_H
#define HS_FARMACT_H

#include <jansson.h>

#include "common/access.h"

struct farmview;

/* The longest wait for the owning host's answer (ms). */
#define FARMACT_WAIT_MS		10000

/*
 * farmact_run() looks for qid held on another host within scope
 * (farmview_held_elsewhere()); found, it writes the request ("release"
 * to the recipients in scope, or to to's addresses when each is in
 * scope; "delete") asked by "web:WHO@THISHOST", and waits for the
 * answer. *reply_r gets {outcome: done|already|queued, new_id, host,
 * request} or {error}; the return value is the HTTP status: 200, 202
 * (queued: no answer in FARMACT_WAIT_MS, or at once for a host that
 * did not answer in time within FARMVIEW_SLOW_S; carried out when that host's
 * holdscand is back), 400 or 403 (to:), 404 (no such message in scope),
 * 409 (the host refused: its reason), 503 (the database; or, with
 * local_error, this host's holdscand did not answer and the message is
 * not on another host: local_error is the answer).
 */
int	 farmact_run(struct farmview *f, const char *who,
	    const struct access_scope *scope, const char *qid,
	    const char *action, json_t *to, json_t **reply_r,
	    const char *local_error);

#endif
