/*
 * NAME
 *	farmact - release and delete from the web console of a message held
 *	on another host of the farm
 * DESCRIPTION
 *	The entry is found in the farm's message log within the account's
 *	scope (farmview.c); who it goes to follows holdscand's rule for the
 *	console (ctlquar.c): an admin releases to the original recipients or
 *	to any addresses; a domain admin or user to the recipients in its
 *	scope, and to other addresses only when they are in it. The request
 *	row (state/pgreq.c) is carried out exactly once by the owning host's
 *	holdscand through qaction.c, which logs the audit line there
 *	("ID: action=release new_id=... by=web:alice@THISHOST
 *	via=request:N"); this side logs one line too, with the account. The
 *	answer is read every PGREQ_RECHECK_MS for at most FARMACT_WAIT_MS (the
 *	console's one thread waits: a bound, not a hang); a host that let
 *	one wait run out is not waited for again for FARMVIEW_SLOW_S, so
 *	that a bulk action for a host that is down waits once.
 *
 *	This module must never act outside the account's scope, never write
 *	a request for this host (its messages go through the control
 *	socket), and never wait without a bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "state/pgdb.h"
#include "state/pgreq.h"
#include "web/farmact.h"
#include "web/farmview.h"

static int
answer_error(json_t **reply_r, int status, const char *qid, const char *msg)
{
	*reply_r = json_pack("{s:s, s:s}", "id", qid, "error", msg);
	return (status);
}

/*
 * The addresses to release to under scope (ctlquar.c's rule): 0 and
 * *to_r (NULL: the original recipients; the strings borrowed from to
 * and entry), or the HTTP status of a refusal with *why_r.
 */
static int
recipients(const struct access_scope *scope, json_t *entry, json_t *to,
    const char ***to_r, size_t *nto_r, char **why_r)
{
	const char	**v = NULL, *a, *why, **orig;
	json_t		 *x, *rc = json_object_get(entry, "recipients");
	size_t		  i, n = 0, norig;

	*to_r = NULL;
	*nto_r = 0;
	if (json_array_size(to) > 0) {
		json_array_foreach(to, i, x) {
			a = json_string_value(x);
			if (a == NULL || (why = access_check_address(a)) != NULL) {
				*why_r = xasprintf("to: %s", a != NULL ? why :
				    "not a string");
				free(v);
				return (400);
			}
			if (!access_address_ok(scope, a)) {
				*why_r = xasprintf("to: %s is not yours to "
				    "send to", a);
				free(v);
				return (403);
			}
			v = xreallocarray(v, n + 1, sizeof(*v));
			v[n++] = a;
		}
		*to_r = v;
		*nto_r = n;
		return (0);
	}
	norig = json_array_size(rc);
	orig = xcalloc(norig + 1, sizeof(*orig));
	json_array_foreach(rc, i, x)
		orig[i] = json_string_value(x);
	if (!access_all_ok(scope, orig, norig)) {
		/* Only the recipients it may see get their copy. */
		for (i = 0; i < norig; i++)
			if (access_address_ok(scope, orig[i])) {
				v = xreallocarray(v, n + 1, sizeof(*v));
				v[n++] = orig[i];
			}
		*to_r = v;
		*nto_r = n;
	}
	free(orig);
	return (0);
}

int
farmact_run(struct farmview *f, const char *who,
    const struct access_scope *scope, const char *qid, const char *action,
    json_t *to, json_t **reply_r, const char *local_error)
{
	json_t		*entry = NULL;
	PGconn		**c;
	const char	**tov = NULL;
	char		*error = NULL, *by = NULL, *id = NULL, *outcome = NULL;
	char		*new_id = NULL, *why = NULL, host[256];
	size_t		 nto = 0;
	int		 status, got;

	*reply_r = NULL;
	switch (farmview_held_elsewhere(f, scope, qid, &entry, &error)) {
	case 0:
		if (local_error != NULL)
			return (answer_error(reply_r, 503, qid, local_error));
		return (answer_error(reply_r, 404, qid,
		    "no such message in the quarantine"));
	case 1:
		break;
	default:
		hs_warnx("web: %s id=%s user=%s: the farm's database: %s",
		    action, qid, who, error);
		free(error);
		return (answer_error(reply_r, 503, qid, "the farm's database "
		    "is not reachable; this host's messages only"));
	}
	(void)snprintf(host, sizeof(host), "%s",
	    json_string_value(json_object_get(entry, "host")));
	if (strcmp(action, "release") == 0 &&
	    (status = recipients(scope, entry, to, &tov, &nto, &why)) != 0) {
		status = answer_error(reply_r, status, qid, why);
		goto out;
	}
	by = xasprintf("web:%s@%s", who, farmview_host(f));
	if (farmview_db(f, &c, &error) < 0 ||
	    pgreq_submit(c, host, qid, action, tov, nto, by, &id,
	    &error) < 0) {
		hs_warnx("web: %s id=%s user=%s host=%s: cannot write the "
		    "request: %s", action, qid, who, host, error);
		free(error);
		status = answer_error(reply_r, 503, qid, "the farm's database "
		    "did not take the request; try again");
		goto out;
	}
	got = pgreq_wait(c, farmview_conninfo(f), "holdscan-web", id,
	    farmview_host_slow(f, host) ? 0 : FARMACT_WAIT_MS, &outcome,
	    &new_id, &why);
	farmview_set_slow(f, host, got == 0);
	if (got == 0) {
		*reply_r = json_pack("{s:s, s:s, s:s, s:s}", "id", qid,
		    "outcome", "queued", "host", host, "request", id);
		status = 202;
	} else if (strcmp(outcome, "failed") == 0) {
		status = answer_error(reply_r, 409, qid, why[0] != '\0' ? why :
		    "failed");
	} else {
		*reply_r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", qid,
		    "outcome", strcmp(outcome, "already") == 0 ? "already" :
		    "done", "new_id", new_id, "host", host, "request", id);
		status = 200;
	}
	hs_info("web: %s id=%s user=%s host=%s request=%s outcome=%s%s%s",
	    action, qid, who, host, id, got == 0 ? "queued" : outcome,
	    got == 1 && why[0] != '\0' ? ": " : "", got == 1 ? why : "");
out:
	json_decref(entry);
	free((void *)tov);
	free(by);
	free(id);
	free(outcome);
	free(new_id);
	free(why);
	return (status);
}
