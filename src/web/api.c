/*
 * NAME
 *	api - the web console's JSON API: its routes and their handlers
 * DESCRIPTION
 *	Each route (api_routes[], one line each: one more route is one more
 *	line) turns a request into a request to holdscand's control socket
 *	(ctlclient.c) made for the logged-in account and its scope, and
 *	holdscand's answer into the reply; holdscand enforces the scope.
 *	Releases and deletions, single or in bulk, all go through
 *	webapi_act(), which a digest link's route is to call too.
 *
 *	Login: a name and password checked against the accounts file
 *	(accounts_verify(), yescrypt), refused while the name or the client
 *	address has web { login_attempts } failures in 15 minutes; a new
 *	session (session.c) whose token is the cookie and whose CSRF token
 *	the page gets. Each login, failed login, logout and action is one
 *	log line with the account and the client address.
 *
 *	This module must never build JSON but with jansson, never tell a
 *	password or a token to the log, and never act for an account
 *	outside the scope the accounts file gives it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "web/accounts.h"
#include "web/ctlclient.h"
#include "web/farmact.h"
#include "web/farmprev.h"
#include "web/farmview.h"
#include "web/preview.h"
#include "web/session.h"
#include "web/web.h"

#define BULK_MAX	500

void
call_error(struct call *c, int status, const char *msg)
{
	json_decref(c->reply);
	c->status = status;
	c->reply = json_pack("{s:s}", "error", msg);
}

void
web_accounts_refresh(struct web *w)
{
	struct accounts	*a;
	struct stat	 st;
	char		*error = NULL;

	if (stat(w->conf->web_accounts_file, &st) < 0) {
		if (errno == ENOENT && w->accounts_ino != 0) {
			hs_warnx("web: %s is gone: no account can log in",
			    w->conf->web_accounts_file);
			accounts_free(&w->accounts);
			w->accounts = xcalloc(1, sizeof(*w->accounts));
			w->accounts_ino = 0;
		}
		return;
	}
	if (w->accounts != NULL && st.st_ino == w->accounts_ino &&
	    st.st_size == w->accounts_size &&
	    st.st_mtim.tv_sec == w->accounts_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == w->accounts_mtime.tv_nsec)
		return;
	if (accounts_load(w->conf->web_accounts_file, true, &a, &error) < 0) {
		hs_warnx("web: %s; the accounts as they were stay", error);
		free(error);
		if (w->accounts == NULL)
			w->accounts = xcalloc(1, sizeof(*w->accounts));
		return;
	}
	accounts_free(&w->accounts);
	w->accounts = a;
	w->accounts_ino = st.st_ino;
	w->accounts_size = st.st_size;
	w->accounts_mtime = st.st_mtim;
}

static json_t *
strs_json(char *const *v, size_t n)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < n; i++)
		(void)json_array_append_new(a, json_string(v[i]));
	return (a);
}

static json_t *
scope_json(const struct access_scope *s)
{
	return (json_pack("{s:s, s:o, s:o}", "role", access_role_name(s->role),
	    "domains", strs_json(s->domains, s->ndomains),
	    "addresses", strs_json(s->addresses, s->naddresses)));
}

/*
 * Ask holdscand: its answer (a new reference) when it says ok, else NULL
 * with *status_r and *error_r (owned by the caller) set.
 */
static json_t *
ask(struct web *w, json_t *req, int *fd_r, int *status_r, char **error_r)
{
	json_t		*reply;
	char		*error = NULL;
	const char	*msg;

	if (ctlclient_call(w->control_socket, req, &reply, fd_r,
	    &error) < 0) {
		hs_warnx("web: %s", error);
		free(error);
		*status_r = 503;
		*error_r = xstrdup("holdscand is not reachable; try again");
		return (NULL);
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		*status_r = (int)json_integer_value(json_object_get(reply,
		    "status"));
		if (*status_r < 400 || *status_r > 599)
			*status_r = 500;
		msg = json_string_value(json_object_get(reply, "error"));
		*error_r = xstrdup(msg != NULL ? msg : "failed");
		json_decref(reply);
		if (fd_r != NULL && *fd_r >= 0) {
			(void)close(*fd_r);
			*fd_r = -1;
		}
		return (NULL);
	}
	(void)json_object_del(reply, "ok");
	return (reply);
}

static json_t *
base_req(const char *op, const char *who, const struct access_scope *scope)
{
	return (json_pack("{s:s, s:s, s:o}", "op", op, "by", who, "scope",
	    scope_json(scope)));
}

/* Ask for c's account; the answer becomes c's reply. */
static void
ask_for(struct call *c, json_t *req, int *fd_r)
{
	char	*error = NULL;
	int	 status;

	if ((c->reply = ask(c->w, req, fd_r, &status, &error)) == NULL) {
		call_error(c, status, error);
		free(error);
	}
	json_decref(req);
}

static const char *
arg(struct call *c, const char *name)
{
	const char	*v = MHD_lookup_connection_value(c->conn,
	    MHD_GET_ARGUMENT_KIND, name);

	return (v != NULL && v[0] != '\0' && strlen(v) <= 512 ? v : NULL);
}

/* Copy the query's string arguments into req. */
static void
copy_strs(struct call *c, json_t *req, const char *const *names)
{
	const char	*v;

	for (; *names != NULL; names++)
		if ((v = arg(c, *names)) != NULL)
			(void)json_object_set_new(req, *names, json_string(v));
}

/* Copy the query's integer arguments: -1 (answered 400) if one is bad. */
static int
copy_ints(struct call *c, json_t *req, const char *const *names)
{
	const char	*v;
	char		*end, msg[80];
	long long	 n;

	for (; *names != NULL; names++) {
		if ((v = arg(c, *names)) == NULL)
			continue;
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno != 0 || *end != '\0' || n < 0) {
			(void)snprintf(msg, sizeof(msg), "%s: not a number",
			    *names);
			call_error(c, 400, msg);
			return (-1);
		}
		(void)json_object_set_new(req, *names, json_integer(n));
	}
	return (0);
}

int
webapi_act(struct web *w, const char *who, const struct access_scope *scope,
    const char *qid, const char *action, json_t *to, json_t **reply_r)
{
	json_t	*req;
	char	*error = NULL;
	int	 status = 200;

	if (strcmp(action, "release") != 0 && strcmp(action, "delete") != 0) {
		*reply_r = json_pack("{s:s}", "error",
		    "action: use release or delete");
		return (400);
	}
	req = base_req(action, who, scope);
	(void)json_object_set_new(req, "id", json_string(qid));
	if (to != NULL && json_array_size(to) > 0)
		(void)json_object_set(req, "to", to);
	if ((*reply_r = ask(w, req, NULL, &status, &error)) == NULL &&
	    (status == 404 || status == 503) && w->farm != NULL) {
		/* Not here (or holdscand is not): on another host? */
		status = farmact_run(w->farm, who, scope, qid, action, to,
		    reply_r, status == 503 ? error : NULL);
		free(error);
		json_decref(req);
		return (status);
	}
	if (*reply_r == NULL) {
		*reply_r = json_pack("{s:s, s:s}", "id", qid, "error", error);
		hs_info("web: %s id=%s user=%s: %s", action, qid, who, error);
		free(error);
	} else {
		(void)json_object_set_new(*reply_r, "id", json_string(qid));
		hs_info("web: %s id=%s user=%s outcome=%s", action, qid, who,
		    json_string_value(json_object_get(*reply_r, "outcome")));
	}
	json_decref(req);
	return (status);
}

/* --- a farm ------------------------------------------------------------------------ */

#define FARM_DOWN	"The farm's database is not reachable: this host's " \
			"messages only."

/* The database answered (up) or not (error): one log line per change. */
static void
farm_state(struct web *w, const char *error)
{
	if (error != NULL && !w->farm_down)
		hs_warnx("web: the farm's database: %s; the console shows this "
		    "host only until it is back", error);
	else if (error == NULL && w->farm_down)
		hs_info("web: the farm's database is reachable again");
	w->farm_down = error != NULL;
}

/*
 * On a farm, answer c from the database with fn's reply (got: 0 or 1
 * answered, -2 bad input: 400): true when it did. False (not a farm, or the database did not answer: *down_r set,
 * for farm_note()) lets the caller ask holdscand for this host's.
 */
static bool
farm_answered(struct call *c, int got, json_t *reply, char *error,
    bool *down_r)
{
	*down_r = false;
	if (got == -2) {
		call_error(c, 400, error);
		free(error);
		return (true);
	}
	if (got >= 0) {
		farm_state(c->w, NULL);
		c->reply = reply;
		return (true);
	}
	farm_state(c->w, error);
	free(error);
	*down_r = true;
	return (false);
}

/* Tell the page that what it sees is this host's only. */
static void
farm_note(struct call *c, bool down)
{
	if (down && c->status == 200 && c->reply != NULL)
		(void)json_object_set_new(c->reply, "farm_error",
		    json_string(FARM_DOWN));
}

/* The query's filters for the farm's views: 0, or -1 answered 400. */
static int
farm_filters(struct call *c, struct farmview_query *q)
{
	static const char *const names[] = { "since", "until", "offset",
	    "limit" };
	long long	*v[4];
	const char	*a;
	char		*end, msg[80];
	size_t		 i;

	memset(q, 0, sizeof(*q));
	q->limit = 50;
	v[0] = &q->since;
	v[1] = &q->until;
	v[2] = &q->offset;
	v[3] = &q->limit;
	for (i = 0; i < 4; i++) {
		if ((a = arg(c, names[i])) == NULL)
			continue;
		errno = 0;
		*v[i] = strtoll(a, &end, 10);
		if (errno != 0 || *end != '\0' || *v[i] < 0) {
			(void)snprintf(msg, sizeof(msg), "%s: not a number",
			    names[i]);
			call_error(c, 400, msg);
			return (-1);
		}
	}
	q->sender = arg(c, "sender");
	q->recipient = arg(c, "recipient");
	q->subject = arg(c, "subject");
	q->reason = arg(c, "reason");
	q->verdict = arg(c, "verdict");
	q->action = arg(c, "action");
	q->id = arg(c, "id");
	q->host = arg(c, "host");
	q->state = arg(c, "state");
	return (0);
}

/* --- the handlers ----------------------------------------------------------------- */

static json_t *
me_json(const struct account *ac, const struct session *se)
{
	return (json_pack("{s:s, s:s, s:o, s:o, s:s, s:I}", "name", ac->name,
	    "role", access_role_name(ac->scope.role),
	    "domains", strs_json(ac->scope.domains, ac->scope.ndomains),
	    "addresses", strs_json(ac->scope.addresses, ac->scope.naddresses),
	    "csrf", se->csrf, "expires", (json_int_t)se->expires));
}

static void
h_login(struct call *c)
{
	const char	*name = json_string_value(json_object_get(c->body, "name"));
	const char	*pw = json_string_value(json_object_get(c->body,
	    "password"));
	const struct session *se;
	const struct account *ac;
	char		 kname[96], kaddr[96];
	time_t		 now = time(NULL);

	if (name == NULL || pw == NULL || accounts_check_name(name) != NULL ||
	    strlen(pw) > ACCOUNTS_PASSWORD_MAX) {
		call_error(c, 400, "name and password, please");
		return;
	}
	(void)snprintf(kname, sizeof(kname), "name:%s", name);
	(void)snprintf(kaddr, sizeof(kaddr), "addr:%s", c->client);
	/* An address may be many people's (NAT): it gets four times as many. */
	if (sessions_throttled(c->w->sessions, kname,
	    c->w->conf->web_login_attempts, now) ||
	    sessions_throttled(c->w->sessions, kaddr,
	    4 * c->w->conf->web_login_attempts, now)) {
		hs_warnx("web: login refused user=%s client=%s: too many "
		    "failures", name, c->client);
		call_error(c, 429, "too many failed logins; try again in 15 "
		    "minutes");
		return;
	}
	web_accounts_refresh(c->w);
	if (!accounts_verify(c->w->accounts, name, pw) ||
	    (ac = accounts_find(c->w->accounts, name)) == NULL) {
		sessions_failed(c->w->sessions, kname, now);
		sessions_failed(c->w->sessions, kaddr, now);
		hs_warnx("web: login failed user=%s client=%s", name, c->client);
		call_error(c, 401, "wrong name or password");
		return;
	}
	se = sessions_create(c->w->sessions, name, now);
	c->cookie = xasprintf("hs_session=%s; Path=/; HttpOnly; "
	    "SameSite=Strict; Max-Age=%ld%s", se->token,
	    (long)(se->expires - now), c->w->tls ? "; Secure" : "");
	hs_info("web: login user=%s role=%s client=%s", name,
	    access_role_name(ac->scope.role), c->client);
	c->reply = me_json(ac, se);
}

static void
h_logout(struct call *c)
{
	hs_info("web: logout user=%s client=%s", c->account->name, c->client);
	sessions_destroy(c->w->sessions, c->session->token);
	c->session = NULL;
	c->cookie = xasprintf("hs_session=; Path=/; HttpOnly; "
	    "SameSite=Strict; Max-Age=0%s", c->w->tls ? "; Secure" : "");
	c->reply = json_pack("{s:b}", "ok", 1);
}

static void
h_me(struct call *c)
{
	c->reply = me_json(c->account, c->session);
}

typedef int	(*farm_list_fn)(struct farmview *, const struct access_scope *,
		    const struct farmview_query *, json_t **, char **);

/*
 * A list (the quarantine's, the log's): on a farm from the database
 * (fn), else, or while it does not answer, holdscand's op for this host.
 */
static void
list_call(struct call *c, const char *op, const char *const *strs,
    const char *const *ints, farm_list_fn fn)
{
	struct farmview_query q;
	json_t	*req, *reply = NULL;
	char	*error = NULL;
	bool	 down = false;
	int	 got;

	if (c->w->farm != NULL) {
		if (farm_filters(c, &q) < 0)
			return;
		got = fn(c->w->farm, &c->account->scope, &q, &reply, &error);
		if (farm_answered(c, got, reply, error, &down))
			return;
	}
	req = base_req(op, c->account->name, &c->account->scope);
	copy_strs(c, req, strs);
	if (copy_ints(c, req, ints) < 0) {
		json_decref(req);
		return;
	}
	ask_for(c, req, NULL);
	farm_note(c, down);
}

static void
h_qlist(struct call *c)
{
	static const char *const strs[] = { "sender", "recipient", "reason",
	    "subject", "state", NULL };
	static const char *const ints[] = { "since", "until", "offset",
	    "limit", NULL };

	list_call(c, "qlist", strs, ints, farmview_qlist);
}

/*
 * A message this host does not hold: on another host of the farm, its
 * metadata, which host has the file, and its preview, asked of that
 * host (farmprev.c) once the scope allowed the entry.
 */
/* GET /api/quarantine/ID?preview=0: the entry without the content. */
static bool
want_preview(struct call *c)
{
	const char	*v = arg(c, "preview");

	return (v == NULL || strcmp(v, "0") != 0);
}

static void
held_elsewhere(struct call *c)
{
	json_t	*entry = NULL;
	char	*error = NULL;

	switch (farmview_held_elsewhere(c->w->farm, &c->account->scope,
	    c->arg[0], &entry, &error)) {
	case 1:
		farm_state(c->w, NULL);
		json_decref(c->reply);
		c->status = 200;
		c->reply = json_pack("{s:O, s:b, s:s, s:s}", "entry", entry,
		    "file", 0, "held_on", json_string_value(json_object_get(entry,
		    "host")), "remote", "The message is held on that host, "
		    "which sent its content for this page; release and delete "
		    "work from here.");
		if (want_preview(c))
			farmprev_add(c->w->farm, c->account->name, c->arg[0],
			    entry, c->reply);
		json_decref(entry);
		break;
	case 0:
		farm_state(c->w, NULL);
		break;
	default:
		farm_state(c->w, error);
		free(error);
		(void)json_object_set_new(c->reply, "farm_error",
		    json_string(FARM_DOWN));
		break;
	}
}

static void
h_qshow(struct call *c)
{
	json_t	*req = base_req("qshow", c->account->name, &c->account->scope);
	char	*error = NULL;
	int	 fd = -1;

	(void)json_object_set_new(req, "id", json_string(c->arg[0]));
	ask_for(c, req, &fd);
	if ((c->status == 404 || c->status == 503) && c->w->farm != NULL) {
		held_elsewhere(c);
		return;
	}
	if (fd < 0)
		return;
	if (c->status == 200 && want_preview(c) &&
	    preview_fd(fd, c->reply, &error) < 0) {
		(void)json_object_set_new(c->reply, "preview_error",
		    json_string(error));
		free(error);
	}
	(void)close(fd);
}

static void
h_act(struct call *c, const char *action)
{
	c->status = webapi_act(c->w, c->account->name, &c->account->scope,
	    c->arg[0], action, json_object_get(c->body, "to"), &c->reply);
}

static void
h_release(struct call *c)
{
	h_act(c, "release");
}

static void
h_delete(struct call *c)
{
	h_act(c, "delete");
}

static void
h_bulk(struct call *c)
{
	const char	*action = json_string_value(json_object_get(c->body,
	    "action"));
	json_t		*ids = json_object_get(c->body, "ids"), *v, *one, *res;
	size_t		 i;

	if (action == NULL || !json_is_array(ids) || json_array_size(ids) == 0 ||
	    json_array_size(ids) > BULK_MAX) {
		call_error(c, 400, "action and ids (1 to 500), please");
		return;
	}
	res = json_array();
	json_array_foreach(ids, i, v) {
		if (!json_is_string(v)) {
			(void)json_array_append_new(res, json_pack("{s:s}",
			    "error", "not an id"));
			continue;
		}
		(void)webapi_act(c->w, c->account->name, &c->account->scope,
		    json_string_value(v), action, NULL, &one);
		(void)json_array_append_new(res, one);
	}
	c->reply = json_pack("{s:o}", "results", res);
}

static void
h_log(struct call *c)
{
	static const char *const strs[] = { "sender", "recipient", "verdict",
	    "action", "subject", "id", NULL };
	static const char *const ints[] = { "since", "until", "offset",
	    "limit", NULL };

	list_call(c, "log", strs, ints, farmview_log);
}

static void
h_trace(struct call *c)
{
	json_t	*req, *reply = NULL;
	char	*error = NULL, msg[128];
	bool	 down = false;
	int	 got;

	if (c->w->farm != NULL) {
		got = farmview_trace(c->w->farm, &c->account->scope, c->arg[0],
		    &reply, &error);
		if (farm_answered(c, got, reply, error, &down)) {
			if (got == 0) {
				(void)snprintf(msg, sizeof(msg),
				    "no record names %s", c->arg[0]);
				call_error(c, 404, msg);
			}
			return;
		}
	}
	req = base_req("trace", c->account->name, &c->account->scope);
	(void)json_object_set_new(req, "id", json_string(c->arg[0]));
	ask_for(c, req, NULL);
	farm_note(c, down);
}

/* An admin's statistics of the farm get this host's metrics (holdscand's). */
static void
local_metrics(struct call *c, json_t *req)
{
	json_t	*local;
	char	*error = NULL;
	int	 status;

	(void)json_object_set_new(req, "hours", json_integer(1));
	if ((local = ask(c->w, req, NULL, &status, &error)) != NULL &&
	    json_object_get(local, "metrics") != NULL)
		(void)json_object_set(c->reply, "metrics",
		    json_object_get(local, "metrics"));
	json_decref(local);
	free(error);
}

static void
h_stats(struct call *c)
{
	static const char *const ints[] = { "hours", NULL };
	json_t	*req = base_req("stats", c->account->name, &c->account->scope);
	json_t	*reply = NULL;
	char	*error = NULL, *end;
	const char *h = arg(c, "hours");
	long	 hours = 24;
	bool	 down = false;
	int	 got;

	if (copy_ints(c, req, ints) < 0) {
		json_decref(req);
		return;
	}
	if (c->w->farm != NULL && (h == NULL ||
	    ((hours = strtol(h, &end, 10)) > 0 && *end == '\0'))) {
		got = farmview_stats(c->w->farm, &c->account->scope, hours,
		    &reply, &error);
		if (farm_answered(c, got, reply, error, &down)) {
			if (c->status == 200 &&
			    c->account->scope.role == ACCESS_ADMIN)
				local_metrics(c, req);
			json_decref(req);
			return;
		}
	}
	ask_for(c, req, NULL);
	farm_note(c, down);
}

const struct route api_routes[] = {
	{ "POST", "/api/login", false, h_login },
	{ "POST", "/api/logout", true, h_logout },
	{ "GET", "/api/me", true, h_me },
	{ "GET", "/api/quarantine", true, h_qlist },
	{ "POST", "/api/quarantine/bulk", true, h_bulk },
	{ "GET", "/api/quarantine/*", true, h_qshow },
	{ "POST", "/api/quarantine/*/release", true, h_release },
	{ "POST", "/api/quarantine/*/delete", true, h_delete },
	{ "GET", "/api/log", true, h_log },
	{ "GET", "/api/trace/*", true, h_trace },
	{ "GET", "/api/stats", true, h_stats },
	{ "GET", "/d/*", false, digestroute_page },
	{ "GET", "/api/digest/*", false, digestroute_look },
	{ "POST", "/api/digest/*", false, digestroute_use },
	{ NULL, NULL, false, NULL },
};
