/*
 * NAME
 *	ctlquar - the quarantine's operations of holdscand's control socket
 * DESCRIPTION
 *	qlist (entries in time order, filtered, within the request's scope,
 *	paged; a bounded walk: QLIST_WALK_MAX entries read at most, and
 *	QLIST_COUNT_MORE matches counted past the page), qshow (one entry, and its stored file opened read-only for
 *	control.c to pass on), release and delete (through qaction.c, for
 *	the account the request names). A message outside the scope is
 *	"not found", as one that does not exist. Non-admins release to the
 *	recipients in their scope only, and to other addresses only when
 *	those are in it.
 *
 *	This module must never read a quarantined file's content, and never
 *	change the quarantine but through qaction.c.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "common/access.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/ctlreq.h"
#include "daemon/qaction.h"
#include "quarantine/quarantine.h"

#define PAGE_MAX	500
/*
 * Entries one list request reads at most, and matches it counts past
 * its page: a filter no index answers (a substring of the sender, the
 * subject or the reason; a domain admin's scope) is a bounded walk, and
 * a total past the page is a lower bound ("exact": false). The answer
 * says "partial" when the walk stopped before the page was full: more
 * may match, the search should be narrowed.
 */
#define QLIST_WALK_MAX	5000
#define QLIST_COUNT_MORE 1000

/* --- the quarantine ------------------------------------------------------------------ */

static json_t *
entry_json(const struct quarantine_entry *e)
{
	return (json_pack("{s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:o, s:I, s:o,"
	    " s:o, s:o, s:o, s:o}",
	    "id", ctlreq_jstr(e->qid), "orig_id", ctlreq_jstr(e->orig_id),
	    "verdict", ctlreq_jstr(e->verdict), "reason", ctlreq_jstr(e->reason),
	    "arrival", (json_int_t)e->arrival,
	    "quarantined", (json_int_t)e->quarantined,
	    "size", (json_int_t)e->size,
	    "state", ctlreq_jstr(quarantine_state_name(e->state)),
	    "releases", (json_int_t)e->releases,
	    "new_id", ctlreq_jstr(e->new_id), "sender", ctlreq_jstr(e->sender),
	    "recipients", ctlreq_strs((const char *const *)e->rcpts, e->nrcpts),
	    "subject", ctlreq_jstr(e->subject),
	    "released_to", ctlreq_jstr(e->released_to)));
}

struct qlister {
	struct creq	*r;
	long long	 offset, limit, total;
	bool		 counted;	/* stopped counting past the page */
	json_t		*items;
};

static int
qlist_each(void *arg, const struct quarantine_entry *e)
{
	struct qlister	*l = arg;

	if (!access_any_ok(&l->r->scope, (const char *const *)e->rcpts,
	    e->nrcpts))
		return (0);
	if (l->total >= l->offset && l->total < l->offset + l->limit)
		(void)json_array_append_new(l->items, entry_json(e));
	l->total++;
	if (l->total >= l->offset + l->limit + QLIST_COUNT_MORE) {
		l->counted = true;
		return (1);
	}
	return (0);
}

static int
state_parse(const char *s)
{
	if (s == NULL)
		return (-1);
	if (strcmp(s, "held") == 0)
		return (QSTATE_HELD);
	if (strcmp(s, "released") == 0)
		return (QSTATE_RELEASED);
	if (strcmp(s, "deleted") == 0)
		return (QSTATE_DELETED);
	return (-2);
}

void
ctl_qlist(struct creq *r, struct quarantine *q)
{
	struct quarantine_query qq;
	struct qlister	 l;
	char		*error = NULL;
	bool		 stopped;
	int		 rc;

	memset(&qq, 0, sizeof(qq));
	qq.max_walk = QLIST_WALK_MAX;
	qq.since = (time_t)ctlreq_int(r->req, "since", 0);
	qq.until = (time_t)ctlreq_int(r->req, "until", 0);
	qq.rcpt = ctlreq_str(r->req, "recipient");
	qq.sender = ctlreq_str(r->req, "sender");
	qq.reason = ctlreq_str(r->req, "reason");
	if ((qq.state = state_parse(ctlreq_str(r->req, "state"))) == -2) {
		ctlreq_fail(r, 400, "state: use held, released or deleted");
		return;
	}
	memset(&l, 0, sizeof(l));
	l.r = r;
	qq.subject = ctlreq_str(r->req, "subject");
	l.offset = ctlreq_int(r->req, "offset", 0);
	l.limit = ctlreq_int(r->req, "limit", 50);
	if (l.offset < 0 || l.limit < 1 || l.limit > PAGE_MAX) {
		ctlreq_fail(r, 400, "offset, limit: out of range");
		return;
	}
	/* A user's one address: the recipient index answers. */
	if (qq.rcpt == NULL && r->scope.role == ACCESS_USER &&
	    r->scope.naddresses == 1)
		qq.rcpt = r->scope.addresses[0];
	l.items = json_array();
	if ((rc = quarantine_list(q, &qq, qlist_each, &l, &error)) < 0) {
		json_decref(l.items);
		ctlreq_fail(r, 500, "%s", error);
		free(error);
		return;
	}
	stopped = rc == 1;
	(void)json_object_set_new(r->reply, "total", json_integer(l.total));
	(void)json_object_set_new(r->reply, "exact",
	    json_boolean(!stopped && !l.counted));
	(void)json_object_set_new(r->reply, "partial",
	    json_boolean(stopped && l.total < l.offset + l.limit));
	(void)json_object_set_new(r->reply, "walk_limit",
	    json_integer(QLIST_WALK_MAX));
	(void)json_object_set_new(r->reply, "offset", json_integer(l.offset));
	(void)json_object_set_new(r->reply, "items", l.items);
}

/* The entry named by the request, in scope: 0, or -1 answered. */
static int
get_entry(struct creq *r, struct quarantine *q, struct quarantine_entry *e)
{
	const char	*qid = ctlreq_str(r->req, "id");
	char		*error = NULL;

	if (qid == NULL || strlen(qid) >= QUARANTINE_ID_SIZE) {
		ctlreq_fail(r, 400, "id: missing or too long");
		return (-1);
	}
	switch (quarantine_get(q, NULL, qid, false, e, &error)) {
	case QUARANTINE_OK:
		break;
	case QUARANTINE_NOTFOUND:
		ctlreq_fail(r, 404, "no such message in the quarantine");
		return (-1);
	default:
		ctlreq_fail(r, 503, "%s", error != NULL ? error : "busy");
		free(error);
		return (-1);
	}
	if (!access_any_ok(&r->scope, (const char *const *)e->rcpts,
	    e->nrcpts)) {
		quarantine_entry_clear(e);
		ctlreq_fail(r, 404, "no such message in the quarantine");
		return (-1);
	}
	return (0);
}

void
ctl_qshow(struct creq *r, struct quarantine *q)
{
	struct quarantine_entry e;

	if (get_entry(r, q, &e) < 0)
		return;
	(void)json_object_set_new(r->reply, "entry", entry_json(&e));
	if (e.state != QSTATE_DELETED &&
	    (r->pass_fd = quarantine_open_file(q, &e)) < 0)
		hs_warn("%s: quarantined file", e.qid);
	(void)json_object_set_new(r->reply, "file", json_boolean(r->pass_fd >= 0));
	quarantine_entry_clear(&e);
}

static void
act_reply(struct creq *r, enum qaction_outcome o, const char *new_id,
    char *error)
{
	switch (o) {
	case QACTION_NOTFOUND:
		ctlreq_fail(r, 404, "no such message in the quarantine");
		break;
	case QACTION_REFUSED:
		ctlreq_fail(r, 409, "%s", error);
		break;
	case QACTION_PENDING:
	case QACTION_FAILED:
		ctlreq_fail(r, 503, "%s", error != NULL ? error : "failed");
		break;
	case QACTION_DONE:
	case QACTION_ALREADY:
		(void)json_object_set_new(r->reply, "outcome",
		    json_string(qaction_outcome_name(o)));
		(void)json_object_set_new(r->reply, "new_id", ctlreq_jstr(new_id));
		break;
	}
	free(error);
}

void
ctl_release(struct creq *r, struct commit_ctx *c, struct quarantine *q,
    struct msglog *ml, const struct hs_config *conf)
{
	struct quarantine_entry e;
	enum qaction_outcome o;
	const char	**to = NULL;
	char		 new_id[QUEUE_ID_SIZE], *error = NULL;
	const char	*why;
	json_t		*v, *tov = json_object_get(r->req, "to");
	size_t		 i, nto = 0;

	if (get_entry(r, q, &e) < 0)
		return;
	if (json_array_size(tov) > 0) {
		json_array_foreach(tov, i, v) {
			const char *a = json_string_value(v);

			if (a == NULL || (why = access_check_address(a)) != NULL) {
				ctlreq_fail(r, 400, "to: %s", a != NULL ? why :
				    "not a string");
				goto done;
			}
			if (!access_address_ok(&r->scope, a)) {
				ctlreq_fail(r, 403, "to: %s is not yours to send to",
				    a);
				goto done;
			}
			to = xreallocarray(to, nto + 1, sizeof(*to));
			to[nto++] = a;
		}
	} else if (!access_all_ok(&r->scope, (const char *const *)e.rcpts,
	    e.nrcpts)) {
		/* Only the recipients it may see get their copy. */
		for (i = 0; i < e.nrcpts; i++)
			if (access_address_ok(&r->scope, e.rcpts[i])) {
				to = xreallocarray(to, nto + 1, sizeof(*to));
				to[nto++] = e.rcpts[i];
			}
	}
	new_id[0] = '\0';
	o = qaction_release(c, q, ml, conf, e.qid, to, nto, r->by, "web",
	    new_id, &error);
	if (o == QACTION_ALREADY && new_id[0] == '\0')
		(void)snprintf(new_id, sizeof(new_id), "%s", e.new_id);
	act_reply(r, o, new_id, error);
done:
	free(to);
	quarantine_entry_clear(&e);
}

void
ctl_delete(struct creq *r, struct quarantine *q, struct msglog *ml)
{
	struct quarantine_entry e;
	enum qaction_outcome o;
	char		*error = NULL;

	if (get_entry(r, q, &e) < 0)
		return;
	o = qaction_delete(q, ml, e.qid, r->by, "web", &error);
	act_reply(r, o, "", error);
	quarantine_entry_clear(&e);
}

