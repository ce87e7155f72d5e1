/*
 * NAME
 *	ctllog - the message log's operations of holdscand's control
 *	socket: log, trace, stats
 * DESCRIPTION
 *	log: records newest first, filtered (msglog_query()'s filters, and
 *	a subject substring and any id of the message: with an id and
 *	neither sender nor recipient, the records the id index names),
 *	within the request's scope, paged ("more" when there are more). trace: every
 *	record naming an id, with its events. stats: the records of the
 *	last hours walked once: messages per hour by verdict, the top ten
 *	virus names (infected reasons), blocking reasons and spam senders;
 *	for admins the metrics file's queue and latency figures.
 *
 *	This module must never change the message log.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "common/access.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/verdict.h"
#include "common/xalloc.h"
#include "daemon/ctlreq.h"
#include "state/msglog.h"

#define PAGE_MAX	500
#define TOP_MAX		10
#define TOP_KEYS	2000

static bool
contains_ci(const char *hay, const char *needle)
{
	return (needle == NULL || (hay != NULL && strcasestr(hay, needle)));
}

/* --- the message log ------------------------------------------------------------------ */

static json_t *
rec_json(const struct msglog_rec *m, bool full)
{
	json_t	*j;

	j = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:I, s:o}",
	    "seq", (json_int_t)m->seq, "time", (json_int_t)m->time,
	    "host", ctlreq_jstr(m->host), "orig_id", ctlreq_jstr(m->orig_id),
	    "new_id", ctlreq_jstr(m->new_id), "quarantine_id", ctlreq_jstr(m->quarantine_id),
	    "sender", ctlreq_jstr(m->sender),
	    "recipients", ctlreq_strs(m->rcpts, m->nrcpts),
	    "subject", ctlreq_jstr(m->subject), "verdict", ctlreq_jstr(m->verdict),
	    "action", ctlreq_jstr(m->action), "size", (json_int_t)m->size,
	    "reason", ctlreq_jstr(m->reason));
	if (full && j != NULL) {
		(void)json_object_set_new(j, "client", ctlreq_jstr(m->client));
		(void)json_object_set_new(j, "sasl_user", ctlreq_jstr(m->sasl_user));
		(void)json_object_set_new(j, "plugins", ctlreq_jstr(m->plugins));
		(void)json_object_set_new(j, "queue_ms",
		    json_integer(m->queue_ms));
		(void)json_object_set_new(j, "scan_ms", json_integer(m->scan_ms));
		(void)json_object_set_new(j, "later_ids", ctlreq_jstr(m->later_ids));
	}
	return (j);
}

struct llister {
	struct creq	*r;
	const char	*subject;
	const char	*id;
	long long	 offset, limit, seen, walked;
	bool		 more, partial;
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

	if (++l->walked > CONTROL_WALK_MAX) {
		l->partial = l->more = true;
		return (1);
	}
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

/* The time, verdict and action filters of mq (msglog_find() has none). */
static bool
log_filters_ok(const struct msglog_query *mq, const struct msglog_rec *m)
{
	return (!(mq->since != 0 && m->time < mq->since) &&
	    !(mq->until != 0 && m->time > mq->until) &&
	    (mq->verdict == NULL || strcasecmp(mq->verdict, m->verdict) == 0) &&
	    (mq->action == NULL || strcasecmp(mq->action, m->action) == 0));
}

/* By id: the records naming it (the id index), oldest first, kept. */
struct idfinder {
	const struct msglog_query *mq;
	struct llister	*l;
	json_t		*found;
};

static int
find_each(void *arg, const struct msglog_rec *m)
{
	struct idfinder	*f = arg;

	if (log_filters_ok(f->mq, m) &&
	    access_any_ok(&f->l->r->scope, m->rcpts, m->nrcpts) &&
	    contains_ci(m->subject, f->l->subject))
		(void)json_array_append_new(f->found, rec_json(m, false));
	return (0);
}

/* The log by id, newest first and paged: 0, or -1 with *error_r. */
static int
log_by_id(struct msglog *ml, const struct msglog_query *mq, struct llister *l,
    char **error_r)
{
	struct idfinder	 f = { mq, l, json_array() };
	size_t		 n, i;

	if (msglog_find(ml, l->id, find_each, &f, &n, error_r) < 0) {
		json_decref(f.found);
		return (-1);
	}
	n = json_array_size(f.found);
	for (i = n; i > 0; i--) {
		if ((long long)(n - i) < l->offset)
			continue;
		if ((long long)json_array_size(l->items) >= l->limit) {
			l->more = true;
			break;
		}
		(void)json_array_append(l->items, json_array_get(f.found, i - 1));
	}
	json_decref(f.found);
	return (0);
}

void
ctl_log(struct creq *r, struct msglog *ml)
{
	struct msglog_query mq;
	struct llister	 l;
	char		*error = NULL;

	memset(&mq, 0, sizeof(mq));
	mq.since = (time_t)ctlreq_int(r->req, "since", 0);
	mq.until = (time_t)ctlreq_int(r->req, "until", 0);
	mq.sender = ctlreq_str(r->req, "sender");
	mq.rcpt = ctlreq_str(r->req, "recipient");
	mq.verdict = ctlreq_str(r->req, "verdict");
	mq.action = ctlreq_str(r->req, "action");
	memset(&l, 0, sizeof(l));
	l.r = r;
	l.subject = ctlreq_str(r->req, "subject");
	l.id = ctlreq_str(r->req, "id");
	l.offset = ctlreq_int(r->req, "offset", 0);
	l.limit = ctlreq_int(r->req, "limit", 50);
	if (l.offset < 0 || l.limit < 1 || l.limit > PAGE_MAX) {
		ctlreq_fail(r, 400, "offset, limit: out of range");
		return;
	}
	l.items = json_array();
	if (l.id != NULL && mq.sender == NULL && mq.rcpt == NULL ?
	    log_by_id(ml, &mq, &l, &error) < 0 :
	    msglog_query(ml, &mq, log_each, &l, &error) < 0) {
		json_decref(l.items);
		ctlreq_fail(r, 500, "%s", error);
		free(error);
		return;
	}
	(void)json_object_set_new(r->reply, "offset", json_integer(l.offset));
	(void)json_object_set_new(r->reply, "more", json_boolean(l.more));
	(void)json_object_set_new(r->reply, "partial", json_boolean(l.partial));
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
	    "time", (json_int_t)e->time, "kind", ctlreq_jstr(e->kind),
	    "new_id", ctlreq_jstr(e->new_id), "detail", ctlreq_jstr(e->detail)));
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

void
ctl_trace(struct creq *r, struct msglog *ml)
{
	struct tracer	 t;
	const char	*id = ctlreq_str(r->req, "id");
	char		*error = NULL;
	size_t		 n = 0;

	if (id == NULL || strlen(id) > 64) {
		ctlreq_fail(r, 400, "id: missing or too long");
		return;
	}
	memset(&t, 0, sizeof(t));
	t.r = r;
	t.ml = ml;
	t.items = json_array();
	if (msglog_find(ml, id, trace_each, &t, &n, &error) < 0) {
		json_decref(t.items);
		ctlreq_fail(r, 500, "%s", error);
		free(error);
		return;
	}
	if (json_array_size(t.items) == 0) {
		json_decref(t.items);
		ctlreq_fail(r, 404, "no record names %s", id);
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
		    ctlreq_jstr(t->key[best]), "count", (json_int_t)t->n[best]));
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
	long long	 total, walked;
	bool		 partial;
	struct top	*viruses, *blocked, *spammers;
};

static int
stats_each(void *arg, const struct msglog_rec *m)
{
	struct stats	*s = arg;
	long		 h;
	int		 v;

	if (++s->walked > CONTROL_WALK_MAX) {
		s->partial = true;	/* newest first: the oldest hours are short */
		return (1);
	}
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

void
ctl_stats(struct creq *r, struct msglog *ml, const struct hs_config *conf)
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
	s.hours = (long)ctlreq_int(r->req, "hours", 24);
	if (s.hours < 1 || s.hours > 24 * 31) {
		ctlreq_fail(r, 400, "hours: 1 to 744");
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
		ctlreq_fail(r, 500, "%s", error);
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
	(void)json_object_set_new(r->reply, "partial", json_boolean(s.partial));
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

