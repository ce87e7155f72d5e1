/*
 * NAME
 *	control - holdscand's control socket for the web console
 * DESCRIPTION
 *	holdscan-web runs as its own unprivileged user and cannot open the
 *	state environment or the quarantine: it asks holdscand here. The
 *	master accepts a connection when its event loop finds the socket
 *	readable, checks the peer's credentials (SO_PEERCRED: root or
 *	web { user }), reads one request line (at most CONTROL_REQUEST_MAX
 *	bytes, within CONTROL_IO_MS), answers one JSON line and closes.
 *
 *	Every request names the account it is made for ("by") and that
 *	account's scope (role, domains, addresses; common/access.c); the
 *	scope is enforced here, on every answer: a message outside it is
 *	"not found" (404), as one that does not exist, so that its id tells
 *	nothing. Operations:
 *	  qlist    quarantine entries in time order, filtered, paged
 *	  qshow    one entry, and its stored file as a read-only descriptor
 *	           (SCM_RIGHTS) for holdscan-web to parse
 *	  release  through qaction_release() (the exactly-once path)
 *	  delete   through qaction_delete()
 *	  log      message log records, newest first, filtered, paged
 *	  trace    every record naming an id (old, new or quarantine id),
 *	           with its events
 *	  stats    messages per hour by verdict, top virus names, top
 *	           blocking reasons, top spam senders, and the metrics
 *
 *	Strings leave as JSON through jansson, after text_safe() (jansson
 *	takes valid UTF-8 only; control characters never leave).
 *
 *	This module must never parse a message's content (the descriptor
 *	goes to holdscan-web), never answer a peer that is not root or the
 *	web user, never wait for a peer longer than CONTROL_IO_MS per
 *	step, and never change the quarantine but through qaction.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/access.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/text.h"
#include "common/verdict.h"
#include "common/xalloc.h"
#include "daemon/control.h"
#include "daemon/qaction.h"
#include "quarantine/quarantine.h"
#include "state/msglog.h"

#define PAGE_MAX	500
#define TOP_MAX		10
#define TOP_KEYS	2000

struct control {
	int		 fd;
	uid_t		 web_uid;
	bool		 have_web_uid;
	char		*path;
};

/* One request being answered. */
struct creq {
	json_t		*req;
	json_t		*reply;
	int		 pass_fd;	/* a descriptor to send with it, or -1 */
	struct access_scope scope;
	const char	*by;
};

/* --- the socket ------------------------------------------------------------------- */

int
control_open(const struct hs_config *conf, uid_t owner_uid, gid_t owner_gid,
    struct control **ctl_r, char **error_r)
{
	struct sockaddr_un sun;
	struct control	*ctl;
	struct passwd	*pw;
	struct stat	 st;
	char		*dir, *slash;

	*ctl_r = NULL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(conf->web_control_socket) >= sizeof(sun.sun_path)) {
		*error_r = xasprintf("control_socket %s: path too long",
		    conf->web_control_socket);
		return (-1);
	}
	(void)strcpy(sun.sun_path, conf->web_control_socket);
	dir = xstrdup(conf->web_control_socket);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			*error_r = xasprintf("control_socket: mkdir %s: %s", dir,
			    strerror(errno));
			free(dir);
			return (-1);
		}
	}
	free(dir);
	/* Only a socket is replaced: never a file someone put there. */
	if (lstat(conf->web_control_socket, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*error_r = xasprintf("control_socket %s exists and is not "
			    "a socket", conf->web_control_socket);
			return (-1);
		}
		if (unlink(conf->web_control_socket) < 0) {
			*error_r = xasprintf("control_socket: unlink %s: %s",
			    conf->web_control_socket, strerror(errno));
			return (-1);
		}
	}
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->path = xstrdup(conf->web_control_socket);
	if ((pw = getpwnam(conf->web_user)) != NULL) {
		ctl->web_uid = pw->pw_uid;
		ctl->have_web_uid = true;
	}
	if ((ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0 ||
	    bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chown(ctl->path, owner_uid, owner_gid) < 0 ||
	    chmod(ctl->path, 0666) < 0 || listen(ctl->fd, 64) < 0) {
		*error_r = xasprintf("control_socket %s: %s", ctl->path,
		    strerror(errno));
		control_close(&ctl);
		return (-1);
	}
	*ctl_r = ctl;
	return (0);
}

void
control_close(struct control **ctlp)
{
	struct control	*ctl = *ctlp;

	if (ctl == NULL)
		return;
	if (ctl->fd >= 0)
		(void)close(ctl->fd);
	free(ctl->path);
	free(ctl);
	*ctlp = NULL;
}

int
control_fd(const struct control *ctl)
{
	return (ctl->fd);
}

/* --- JSON helpers ------------------------------------------------------------------- */

/* A string for JSON: valid UTF-8, no control characters. */
static json_t *
jstr(const char *s)
{
	char	*copy;
	json_t	*j;

	if (s == NULL)
		s = "";
	copy = xstrdup(s);
	(void)text_safe(copy, strlen(copy), false);
	j = json_string(copy);
	free(copy);
	return (j != NULL ? j : json_string(""));
}

static const char *
req_str(const json_t *req, const char *name)
{
	const char	*s = json_string_value(json_object_get(req, name));

	return (s != NULL && s[0] != '\0' ? s : NULL);
}

static long long
req_int(const json_t *req, const char *name, long long def)
{
	json_t	*v = json_object_get(req, name);

	return (json_is_integer(v) ? json_integer_value(v) : def);
}

static void
fail(struct creq *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct creq *r, int status, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(r->reply);
	r->reply = json_pack("{s:b, s:i, s:o}", "ok", 0, "status", status,
	    "error", jstr(msg));
}

static json_t *
str_array(const char *const *v, size_t n)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < n; i++)
		(void)json_array_append_new(a, jstr(v[i]));
	return (a);
}

/* The request's scope: admin only when it says so; anything odd sees nothing. */
static int
parse_scope(struct creq *r)
{
	json_t	*s = json_object_get(r->req, "scope"), *v;
	const char *role;
	size_t	 i;
	int	 ro;

	memset(&r->scope, 0, sizeof(r->scope));
	if (!json_is_object(s) || (role = req_str(s, "role")) == NULL ||
	    (ro = access_role_parse(role)) < 0)
		return (-1);
	r->scope.role = (enum access_role)ro;
	json_array_foreach(json_object_get(s, "domains"), i, v)
		if (json_is_string(v))
			access_add_domain(&r->scope, json_string_value(v));
	json_array_foreach(json_object_get(s, "addresses"), i, v)
		if (json_is_string(v))
			access_add_address(&r->scope, json_string_value(v));
	return (0);
}

/* --- the quarantine ------------------------------------------------------------------ */

static json_t *
entry_json(const struct quarantine_entry *e)
{
	return (json_pack("{s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:o, s:I, s:o,"
	    " s:o, s:o, s:o, s:o}",
	    "id", jstr(e->qid), "orig_id", jstr(e->orig_id),
	    "verdict", jstr(e->verdict), "reason", jstr(e->reason),
	    "arrival", (json_int_t)e->arrival,
	    "quarantined", (json_int_t)e->quarantined,
	    "size", (json_int_t)e->size,
	    "state", jstr(quarantine_state_name(e->state)),
	    "releases", (json_int_t)e->releases,
	    "new_id", jstr(e->new_id), "sender", jstr(e->sender),
	    "recipients", str_array((const char *const *)e->rcpts, e->nrcpts),
	    "subject", jstr(e->subject),
	    "released_to", jstr(e->released_to)));
}

struct qlister {
	struct creq	*r;
	const char	*subject;
	long long	 offset, limit, total;
	json_t		*items;
};

static bool
contains_ci(const char *hay, const char *needle)
{
	return (needle == NULL || (hay != NULL && strcasestr(hay, needle)));
}

static int
qlist_each(void *arg, const struct quarantine_entry *e)
{
	struct qlister	*l = arg;

	if (!access_any_ok(&l->r->scope, (const char *const *)e->rcpts,
	    e->nrcpts) || !contains_ci(e->subject, l->subject))
		return (0);
	if (l->total >= l->offset && l->total < l->offset + l->limit)
		(void)json_array_append_new(l->items, entry_json(e));
	l->total++;
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

static void
op_qlist(struct creq *r, struct quarantine *q)
{
	struct quarantine_query qq;
	struct qlister	 l;
	char		*error = NULL;

	memset(&qq, 0, sizeof(qq));
	qq.since = (time_t)req_int(r->req, "since", 0);
	qq.until = (time_t)req_int(r->req, "until", 0);
	qq.rcpt = req_str(r->req, "recipient");
	qq.sender = req_str(r->req, "sender");
	qq.reason = req_str(r->req, "reason");
	if ((qq.state = state_parse(req_str(r->req, "state"))) == -2) {
		fail(r, 400, "state: use held, released or deleted");
		return;
	}
	memset(&l, 0, sizeof(l));
	l.r = r;
	l.subject = req_str(r->req, "subject");
	l.offset = req_int(r->req, "offset", 0);
	l.limit = req_int(r->req, "limit", 50);
	if (l.offset < 0 || l.limit < 1 || l.limit > PAGE_MAX) {
		fail(r, 400, "offset, limit: out of range");
		return;
	}
	l.items = json_array();
	if (quarantine_list(q, &qq, qlist_each, &l, &error) < 0) {
		json_decref(l.items);
		fail(r, 500, "%s", error);
		free(error);
		return;
	}
	(void)json_object_set_new(r->reply, "total", json_integer(l.total));
	(void)json_object_set_new(r->reply, "offset", json_integer(l.offset));
	(void)json_object_set_new(r->reply, "items", l.items);
}

/* The entry named by the request, in scope: 0, or -1 answered. */
static int
get_entry(struct creq *r, struct quarantine *q, struct quarantine_entry *e)
{
	const char	*qid = req_str(r->req, "id");
	char		*error = NULL;

	if (qid == NULL || strlen(qid) >= QUARANTINE_ID_SIZE) {
		fail(r, 400, "id: missing or too long");
		return (-1);
	}
	switch (quarantine_get(q, NULL, qid, false, e, &error)) {
	case QUARANTINE_OK:
		break;
	case QUARANTINE_NOTFOUND:
		fail(r, 404, "no such message in the quarantine");
		return (-1);
	default:
		fail(r, 503, "%s", error != NULL ? error : "busy");
		free(error);
		return (-1);
	}
	if (!access_any_ok(&r->scope, (const char *const *)e->rcpts,
	    e->nrcpts)) {
		quarantine_entry_clear(e);
		fail(r, 404, "no such message in the quarantine");
		return (-1);
	}
	return (0);
}

static void
op_qshow(struct creq *r, struct quarantine *q)
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
		fail(r, 404, "no such message in the quarantine");
		break;
	case QACTION_REFUSED:
		fail(r, 409, "%s", error);
		break;
	case QACTION_FAILED:
		fail(r, 503, "%s", error != NULL ? error : "failed");
		break;
	case QACTION_DONE:
	case QACTION_ALREADY:
		(void)json_object_set_new(r->reply, "outcome",
		    json_string(qaction_outcome_name(o)));
		(void)json_object_set_new(r->reply, "new_id", jstr(new_id));
		break;
	}
	free(error);
}

static void
op_release(struct creq *r, struct commit_ctx *c, struct quarantine *q,
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
				fail(r, 400, "to: %s", a != NULL ? why :
				    "not a string");
				goto done;
			}
			if (!access_address_ok(&r->scope, a)) {
				fail(r, 403, "to: %s is not yours to send to",
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

static void
op_delete(struct creq *r, struct quarantine *q, struct msglog *ml)
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

/* --- the message log ------------------------------------------------------------------ */

static json_t *
rec_json(const struct msglog_rec *m, bool full)
{
	json_t	*j;

	j = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:I, s:o}",
	    "seq", (json_int_t)m->seq, "time", (json_int_t)m->time,
	    "host", jstr(m->host), "orig_id", jstr(m->orig_id),
	    "new_id", jstr(m->new_id), "quarantine_id", jstr(m->quarantine_id),
	    "sender", jstr(m->sender),
	    "recipients", str_array(m->rcpts, m->nrcpts),
	    "subject", jstr(m->subject), "verdict", jstr(m->verdict),
	    "action", jstr(m->action), "size", (json_int_t)m->size,
	    "reason", jstr(m->reason));
	if (full && j != NULL) {
		(void)json_object_set_new(j, "client", jstr(m->client));
		(void)json_object_set_new(j, "sasl_user", jstr(m->sasl_user));
		(void)json_object_set_new(j, "plugins", jstr(m->plugins));
		(void)json_object_set_new(j, "queue_ms",
		    json_integer(m->queue_ms));
		(void)json_object_set_new(j, "scan_ms", json_integer(m->scan_ms));
		(void)json_object_set_new(j, "later_ids", jstr(m->later_ids));
	}
	return (j);
}

struct llister {
	struct creq	*r;
	const char	*subject;
	const char	*id;
	long long	 offset, limit, seen;
	bool		 more;
	json_t		*items;
};

static bool
names_id(const struct msglog_rec *m, const char *id)
{
	return (id == NULL || strcmp(m->orig_id, id) == 0 ||
	    strcmp(m->new_id, id) == 0 || strcmp(m->quarantine_id, id) == 0 ||
	    (m->later_ids[0] != '\0' && strstr(m->later_ids, id) != NULL));
}

static int
log_each(void *arg, const struct msglog_rec *m)
{
	struct llister	*l = arg;

	if (!access_any_ok(&l->r->scope, m->rcpts, m->nrcpts) ||
	    !contains_ci(m->subject, l->subject) || !names_id(m, l->id))
		return (0);
	if (l->seen >= l->offset + l->limit) {
		l->more = true;
		return (1);
	}
	if (l->seen >= l->offset)
		(void)json_array_append_new(l->items, rec_json(m, false));
	l->seen++;
	return (0);
}

static void
op_log(struct creq *r, struct msglog *ml)
{
	struct msglog_query mq;
	struct llister	 l;
	char		*error = NULL;

	memset(&mq, 0, sizeof(mq));
	mq.since = (time_t)req_int(r->req, "since", 0);
	mq.until = (time_t)req_int(r->req, "until", 0);
	mq.sender = req_str(r->req, "sender");
	mq.rcpt = req_str(r->req, "recipient");
	mq.verdict = req_str(r->req, "verdict");
	mq.action = req_str(r->req, "action");
	memset(&l, 0, sizeof(l));
	l.r = r;
	l.subject = req_str(r->req, "subject");
	l.id = req_str(r->req, "id");
	l.offset = req_int(r->req, "offset", 0);
	l.limit = req_int(r->req, "limit", 50);
	if (l.offset < 0 || l.limit < 1 || l.limit > PAGE_MAX) {
		fail(r, 400, "offset, limit: out of range");
		return;
	}
	l.items = json_array();
	if (msglog_query(ml, &mq, log_each, &l, &error) < 0) {
		json_decref(l.items);
		fail(r, 500, "%s", error);
		free(error);
		return;
	}
	(void)json_object_set_new(r->reply, "offset", json_integer(l.offset));
	(void)json_object_set_new(r->reply, "more", json_boolean(l.more));
	(void)json_object_set_new(r->reply, "items", l.items);
}

struct tracer {
	struct creq	*r;
	struct msglog	*ml;
	json_t		*items;
	json_t		*events;	/* of the record being added */
	bool		 hidden;	/* a record out of scope was found */
};

static int
event_each(void *arg, const struct msglog_event *e)
{
	struct tracer	*t = arg;

	(void)json_array_append_new(t->events, json_pack("{s:I, s:o, s:o, s:o}",
	    "time", (json_int_t)e->time, "kind", jstr(e->kind),
	    "new_id", jstr(e->new_id), "detail", jstr(e->detail)));
	return (0);
}

static int
trace_each(void *arg, const struct msglog_rec *m)
{
	struct tracer	*t = arg;
	json_t		*j;
	char		*error = NULL;

	if (!access_any_ok(&t->r->scope, m->rcpts, m->nrcpts)) {
		t->hidden = true;
		return (0);
	}
	j = rec_json(m, true);
	t->events = json_array();
	if (msglog_events(t->ml, m->seq, event_each, t, &error) < 0) {
		hs_warnx("trace: %s", error);
		free(error);
	}
	(void)json_object_set_new(j, "events", t->events);
	(void)json_array_append_new(t->items, j);
	return (0);
}

static void
op_trace(struct creq *r, struct msglog *ml)
{
	struct tracer	 t;
	const char	*id = req_str(r->req, "id");
	char		*error = NULL;
	size_t		 n = 0;

	if (id == NULL || strlen(id) > 64) {
		fail(r, 400, "id: missing or too long");
		return;
	}
	memset(&t, 0, sizeof(t));
	t.r = r;
	t.ml = ml;
	t.items = json_array();
	if (msglog_find(ml, id, trace_each, &t, &n, &error) < 0) {
		json_decref(t.items);
		fail(r, 500, "%s", error);
		free(error);
		return;
	}
	if (json_array_size(t.items) == 0) {
		json_decref(t.items);
		fail(r, 404, "no record names %s", id);
		return;
	}
	(void)json_object_set_new(r->reply, "items", t.items);
}

/* --- statistics -------------------------------------------------------------------- */

struct top {
	char		*key[TOP_KEYS];
	long long	 n[TOP_KEYS];
	size_t		 len;
};

static void
top_add(struct top *t, const char *key)
{
	size_t	 i;

	if (key == NULL || key[0] == '\0')
		key = "(none)";
	for (i = 0; i < t->len; i++)
		if (strcmp(t->key[i], key) == 0) {
			t->n[i]++;
			return;
		}
	if (t->len == TOP_KEYS)
		return;		/* enough distinct keys for a top ten */
	t->key[t->len] = xstrdup(key);
	t->n[t->len++] = 1;
}

static json_t *
top_json(struct top *t)
{
	json_t	*a = json_array();
	size_t	 k, i, best;
	bool	 used[TOP_KEYS];

	memset(used, 0, sizeof(used));
	for (k = 0; k < TOP_MAX; k++) {
		best = t->len;
		for (i = 0; i < t->len; i++)
			if (!used[i] && (best == t->len || t->n[i] > t->n[best]))
				best = i;
		if (best == t->len)
			break;
		used[best] = true;
		(void)json_array_append_new(a, json_pack("{s:o, s:I}", "name",
		    jstr(t->key[best]), "count", (json_int_t)t->n[best]));
	}
	for (i = 0; i < t->len; i++)
		free(t->key[i]);
	t->len = 0;
	return (a);
}

struct stats {
	struct creq	*r;
	time_t		 start;
	long		 hours;
	long long	(*per_hour)[VERDICT_COUNT];
	long long	 total;
	struct top	*viruses, *blocked, *spammers;
};

static int
stats_each(void *arg, const struct msglog_rec *m)
{
	struct stats	*s = arg;
	long		 h;
	int		 v;

	if (!access_any_ok(&s->r->scope, m->rcpts, m->nrcpts) ||
	    m->time < s->start)
		return (0);
	h = (long)((m->time - s->start) / 3600);
	if (h >= s->hours)
		h = s->hours - 1;
	if ((v = verdict_parse(m->verdict)) < 0)
		v = VERDICT_FAILED;
	s->per_hour[h][v]++;
	s->total++;
	if (v == VERDICT_INFECTED)
		top_add(s->viruses, m->reason);
	else if (v == VERDICT_BLOCKED)
		top_add(s->blocked, m->reason);
	else if (v == VERDICT_SPAM || v == VERDICT_HIGH_SPAM)
		top_add(s->spammers, m->sender[0] ? m->sender : "<>");
	return (0);
}

static double
hist_quantile(const struct histogram *h, double q)
{
	uint64_t	 seen = 0, want;
	size_t		 i;

	if (h->n == 0)
		return (0);
	want = (uint64_t)((double)h->n * q + 0.5);
	for (i = 0; i < METRICS_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want)
			return (metrics_latency_bounds[i]);
	}
	return (metrics_latency_bounds[METRICS_BUCKETS - 1]);
}

static void
op_stats(struct creq *r, struct msglog *ml, const struct hs_config *conf)
{
	struct msglog_query mq;
	struct stats	 s;
	struct metrics	 m;
	struct top	*tops;
	json_t		*hours, *row;
	char		*error = NULL;
	long		 h;
	int		 v;

	memset(&s, 0, sizeof(s));
	s.r = r;
	s.hours = (long)req_int(r->req, "hours", 24);
	if (s.hours < 1 || s.hours > 24 * 31) {
		fail(r, 400, "hours: 1 to 744");
		return;
	}
	s.start = time(NULL) / 3600 * 3600 - (s.hours - 1) * 3600;
	s.per_hour = xcalloc((size_t)s.hours, sizeof(*s.per_hour));
	tops = xcalloc(3, sizeof(*tops));
	s.viruses = &tops[0];
	s.blocked = &tops[1];
	s.spammers = &tops[2];
	memset(&mq, 0, sizeof(mq));
	mq.since = s.start;
	if (msglog_query(ml, &mq, stats_each, &s, &error) < 0) {
		fail(r, 500, "%s", error);
		free(error);
		goto done;
	}
	hours = json_array();
	for (h = 0; h < s.hours; h++) {
		row = json_object();
		(void)json_object_set_new(row, "start",
		    json_integer((json_int_t)(s.start + h * 3600)));
		for (v = 0; v < VERDICT_COUNT; v++)
			(void)json_object_set_new(row,
			    verdict_name((enum verdict)v),
			    json_integer(s.per_hour[h][v]));
		(void)json_array_append_new(hours, row);
	}
	(void)json_object_set_new(r->reply, "hours", hours);
	(void)json_object_set_new(r->reply, "total", json_integer(s.total));
	(void)json_object_set_new(r->reply, "top_viruses", top_json(s.viruses));
	(void)json_object_set_new(r->reply, "top_blocked", top_json(s.blocked));
	(void)json_object_set_new(r->reply, "top_spam_senders",
	    top_json(s.spammers));
	memset(&m, 0, sizeof(m));
	if (r->scope.role == ACCESS_ADMIN &&
	    metrics_read(conf->metrics_file, &m, NULL) == 0)
		(void)json_object_set_new(r->reply, "metrics", json_pack(
		    "{s:I, s:I, s:I, s:f, s:f, s:f, s:I}",
		    "hold_depth", (json_int_t)m.hold_depth,
		    "in_flight", (json_int_t)m.in_flight,
		    "set_aside", (json_int_t)m.aside,
		    "latency_p50", hist_quantile(&m.latency, 0.5),
		    "latency_p95", hist_quantile(&m.latency, 0.95),
		    "scan_mean", m.scan_time.n ? m.scan_time.sum /
		    (double)m.scan_time.n : 0.0,
		    "messages", (json_int_t)m.latency.n));
done:
	free(s.per_hour);
	free(tops);
}

/* --- one connection ----------------------------------------------------------------- */

static int
read_request(int fd, char **line_r)
{
	char	*buf = xmalloc(CONTROL_REQUEST_MAX + 1), *nl;
	size_t	 len = 0;
	ssize_t	 n;

	for (;;) {
		n = read(fd, buf + len, CONTROL_REQUEST_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if ((nl = memchr(buf, '\n', len)) != NULL) {
			*nl = '\0';
			*line_r = buf;
			return (0);
		}
		if (len == CONTROL_REQUEST_MAX)
			break;
	}
	free(buf);
	return (-1);
}

static void
send_reply(int fd, const char *text, int pass_fd)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	size_t		 len = strlen(text), off = 0;
	ssize_t		 n;

	while (off < len) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = (char *)text + off;
		iov.iov_len = len - off;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (off == 0 && pass_fd >= 0) {
			memset(&cm, 0, sizeof(cm));
			mh.msg_control = cm.buf;
			mh.msg_controllen = sizeof(cm.buf);
			CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
			CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
			CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &pass_fd,
			    sizeof(int));
		}
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			hs_warn("control: answer not sent");
			return;
		}
		off += (size_t)n;
	}
}

static void
serve(struct control *ctl, int fd, struct commit_ctx *c, struct quarantine *q,
    struct msglog *ml, const struct hs_config *conf)
{
	struct ucred	 cred;
	socklen_t	 clen = sizeof(cred);
	struct timeval	 tv;
	struct creq	 r;
	json_error_t	 jerr;
	const char	*op;
	char		*line = NULL, *text;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		hs_warn("control: SO_PEERCRED");
		return;
	}
	if (cred.uid != 0 && !(ctl->have_web_uid && cred.uid == ctl->web_uid)) {
		hs_warnx("control: refused a connection from uid %ld pid %ld "
		    "(only root and web user %s)", (long)cred.uid,
		    (long)cred.pid, conf->web_user);
		return;
	}
	tv.tv_sec = CONTROL_IO_MS / 1000;
	tv.tv_usec = (CONTROL_IO_MS % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		hs_warn("control: socket timeouts");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.pass_fd = -1;
	r.reply = json_pack("{s:b}", "ok", 1);
	if (read_request(fd, &line) < 0) {
		fail(&r, 400, "no request line within %d ms and %d bytes",
		    CONTROL_IO_MS, CONTROL_REQUEST_MAX);
	} else if ((r.req = json_loads(line, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL || !json_is_object(r.req)) {
		fail(&r, 400, "the request is not a JSON object");
	} else if ((op = req_str(r.req, "op")) == NULL) {
		fail(&r, 400, "op: missing");
	} else if ((r.by = req_str(r.req, "by")) == NULL || strlen(r.by) > 64 ||
	    parse_scope(&r) < 0) {
		fail(&r, 400, "by, scope: missing or malformed");
	} else if (q == NULL) {
		fail(&r, 503, "the state environment is not open yet");
	} else if (strcmp(op, "qlist") == 0) {
		op_qlist(&r, q);
	} else if (strcmp(op, "qshow") == 0) {
		op_qshow(&r, q);
	} else if (strcmp(op, "release") == 0) {
		op_release(&r, c, q, ml, conf);
	} else if (strcmp(op, "delete") == 0) {
		op_delete(&r, q, ml);
	} else if (ml == NULL && (strcmp(op, "log") == 0 ||
	    strcmp(op, "trace") == 0 || strcmp(op, "stats") == 0)) {
		fail(&r, 404, "the message log is off (message_log = no)");
	} else if (strcmp(op, "log") == 0) {
		op_log(&r, ml);
	} else if (strcmp(op, "trace") == 0) {
		op_trace(&r, ml);
	} else if (strcmp(op, "stats") == 0) {
		op_stats(&r, ml, conf);
	} else {
		fail(&r, 400, "op: unknown");
	}
	if (r.reply == NULL)	/* json_pack failed: a bug, not input */
		r.reply = json_pack("{s:b, s:i, s:s}", "ok", 0, "status", 500,
		    "error", "internal error");
	if ((text = json_dumps(r.reply, JSON_COMPACT)) != NULL) {
		size_t	 n = strlen(text);

		text = xreallocarray(text, n + 2, 1);
		text[n] = '\n';
		text[n + 1] = '\0';
		send_reply(fd, text, r.pass_fd);
		free(text);
	}
	if (r.pass_fd >= 0)
		(void)close(r.pass_fd);
	access_scope_clear(&r.scope);
	json_decref(r.req);
	json_decref(r.reply);
	free(line);
}

void
control_run(struct control *ctl, struct commit_ctx *c, struct quarantine *q,
    struct msglog *ml, const struct hs_config *conf)
{
	int	 fd, n;

	/* A bounded number per round: the loop has other work too. */
	for (n = 0; n < 16; n++) {
		if ((fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				hs_warn("control: accept");
			return;
		}
		serve(ctl, fd, c, q, ml, conf);
		(void)close(fd);
	}
}
