/*
 * NAME
 *	digestroute - the web console's answer to a digest's one-click
 *	link (GET /d/TOKEN, GET and POST /api/digest/TOKEN)
 * DESCRIPTION
 *	A digest (holdscan digest) links to DIGEST_URL/d/TOKEN. GET /d/TOKEN
 *	only redirects to the console's page for it (#/digest/TOKEN), which
 *	asks GET /api/digest/TOKEN what the link is for (the token is
 *	checked, DIGESTLINK_LOOK: nothing is used up, since mail scanners
 *	and link previews fetch links) and shows a button that POSTs to
 *	/api/digest/TOKEN. That POST checks the token again and claims it
 *	(DIGESTLINK_USE: a second POST is refused as "used already"), then
 *	releases the message to the link's recipient only, or deletes it,
 *	through webapi_act() with a scope of that one address: holdscand
 *	answers 404 for a message not addressed to it and never releases a
 *	message twice. If holdscand could not be asked, the claim is taken
 *	back, so the link works when it is back.
 *
 *	No login: the token is the credential (signed with HMAC-SHA256 over
 *	id, action, recipient and expiry; digestlink.c). It must never act
 *	on a GET, act outside the link's recipient, tell the key or a
 *	token to the log, or act without digest_url and a key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/access.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "web/digestlink.h"
#include "web/digestused.h"
#include "web/web.h"

/* The token of this request's URL, or NULL (answered 404/400). */
static const char *
token(struct call *c, char *buf, size_t size)
{
	const char	*t;

	if (!c->w->digest_on) {
		call_error(c, 404, "digest links are not set up here");
		return (NULL);
	}
	/* /d/TOKEN, or /api/digest/TOKEN: the token is what follows */
	if ((t = digestlink_token_of(strncmp(c->url, "/api/digest/", 12) == 0 ?
	    c->url + 12 : c->url, buf, size)) == NULL)
		call_error(c, 400, "not a digest link");
	return (t);
}

static int
refusal_status(enum digestlink_rc rc)
{
	switch (rc) {
	case DIGESTLINK_EXPIRED:
	case DIGESTLINK_USED:
		return (410);
	case DIGESTLINK_ERROR:
		return (503);
	default:
		return (403);
	}
}

void
digestroute_page(struct call *c)
{
	char	 buf[DIGESTLINK_TOKEN_MAX + 1];
	const char *t;

	if ((t = token(c, buf, sizeof(buf))) == NULL)
		return;
	c->location = xasprintf("/#/digest/%s", t);
}

void
digestroute_look(struct call *c)
{
	char		 buf[DIGESTLINK_TOKEN_MAX + 1];
	const char	*t;
	char		*error = NULL;
	struct digestlink l;
	struct digestlink_used ops;
	enum digestlink_rc rc;

	if ((t = token(c, buf, sizeof(buf))) == NULL)
		return;
	digestused_ops(c->w->digest_used, &ops);
	rc = digestlink_check(c->w->digest_key, t, time(NULL), DIGESTLINK_ANY,
	    NULL, &ops, DIGESTLINK_LOOK, &l, &error);
	if (rc != DIGESTLINK_OK) {
		if (error != NULL)
			hs_warnx("web: digest link: %s", error);
		free(error);
		call_error(c, refusal_status(rc), digestlink_reason(rc));
		return;
	}
	c->reply = json_pack("{s:s, s:s, s:s, s:I}", "id", l.qid, "action",
	    digestlink_action_name(l.action), "recipient", l.rcpt, "expires",
	    (json_int_t)l.expiry);
}

void
digestroute_use(struct call *c)
{
	char		 buf[DIGESTLINK_TOKEN_MAX + 1], who[DIGESTLINK_RCPT_MAX + 8];
	const char	*t, *action;
	char		*error = NULL;
	struct digestlink l;
	struct digestlink_used ops;
	struct access_scope scope;
	enum digestlink_rc rc;
	json_t		*reply = NULL;
	int		 status;

	if ((t = token(c, buf, sizeof(buf))) == NULL)
		return;
	digestused_ops(c->w->digest_used, &ops);
	rc = digestlink_check(c->w->digest_key, t, time(NULL), DIGESTLINK_ANY,
	    NULL, &ops, DIGESTLINK_USE, &l, &error);
	if (rc != DIGESTLINK_OK) {
		if (error != NULL)
			hs_warnx("web: digest link: %s", error);
		free(error);
		if (rc == DIGESTLINK_USED || rc == DIGESTLINK_EXPIRED)
			hs_info("web: digest link id=%s recipient=%s refused: %s",
			    l.qid, l.rcpt, digestlink_reason(rc));
		call_error(c, refusal_status(rc), digestlink_reason(rc));
		return;
	}
	action = digestlink_action_name(l.action);
	memset(&scope, 0, sizeof(scope));
	scope.role = ACCESS_USER;
	access_add_address(&scope, l.rcpt);
	(void)snprintf(who, sizeof(who), "digest:%s", l.rcpt);
	status = webapi_act(c->w, who, &scope, l.qid, action, NULL, &reply);
	access_scope_clear(&scope);
	if (status >= 500 && digestused_unclaim(c->w->digest_used, l.tokid,
	    time(NULL), &error) < 0) {
		hs_warnx("web: digest link id=%s: %s", l.qid, error);
		free(error);
	}
	c->status = status;
	c->reply = reply;
}
