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
 *	for admins the metrics file's queue and latency figures. The
 *	admins' figures of settled hours are kept in holdscand's control
 *	context (struct ctl_stats_cache: at most CACHE_HOURS hours of
 *	VERDICT_COUNT counts and three maps of HOUR_TOP_KEYS names), so a
 *	request walks the hours it does not have.
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
	mq.stream = true;	/* log_each stops at its page, or the bound */
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

/*
 * One hour's figures: messages by verdict, and three maps (JSON objects:
 * key -> count) of virus names, blocking reasons and spam senders, each
 * with HOUR_TOP_KEYS keys at most (the first seen). An hour that ended
 * SETTLE_S ago or more no longer changes (a record is written as its
 * message is finished): the admins' figures of such hours are kept
 * (struct ctl_stats_cache, CACHE_HOURS of them, in holdscand's control
 * context) and a request walks the message log of the other hours only.
 */
#define CACHE_HOURS	168
#define HOUR_TOP_KEYS	200
#define SETTLE_S	300
#define NTOPS		3

struct hour_stats {
	time_t		 start;		/* 0: none */
	long long	 n[VERDICT_COUNT];
	json_t		*top[NTOPS];
};

struct ctl_stats_cache {
	struct hour_stats h[CACHE_HOURS];	/* slot: hour number % CACHE_HOURS */
};

struct ctl_stats_cache *
ctl_stats_cache_new(void)
{
	return (xcalloc(1, sizeof(struct ctl_stats_cache)));
}

static void
hour_clear(struct hour_stats *h)
{
	int	 k;

	for (k = 0; k < NTOPS; k++)
		json_decref(h->top[k]);
	memset(h, 0, sizeof(*h));
}

void
ctl_stats_cache_free(struct ctl_stats_cache **cp)
{
	size_t	 i;

	if (*cp == NULL)
		return;
	for (i = 0; i < CACHE_HOURS; i++)
		hour_clear(&(*cp)->h[i]);
	free(*cp);
	*cp = NULL;
}

static struct hour_stats *
cache_slot(struct ctl_stats_cache *c, time_t start)
{
	return (&c->h[(size_t)(start / 3600) % CACHE_HOURS]);
}

static void
hour_top_add(json_t *map, const char *key)
{
	json_t	*v;

	if (key == NULL || key[0] == '\0')
		key = "(none)";
	if ((v = json_object_get(map, key)) != NULL)
		(void)json_integer_set(v, json_integer_value(v) + 1);
	else if (json_object_size(map) < HOUR_TOP_KEYS)
		(void)json_object_set_new_nocheck(map, key, json_integer(1));
}

/* The ten keys of map with the highest counts, as the answer shows them. */
static json_t *
top_json(json_t *map)
{
	json_t		*a = json_array(), *v, *done = json_object();
	const char	*key, *best;
	json_int_t	 bn;
	size_t		 k;

	for (k = 0; k < TOP_MAX; k++) {
		best = NULL;
		bn = 0;
		json_object_foreach(map, key, v) {
			if (json_object_get(done, key) == NULL &&
			    (best == NULL || json_integer_value(v) > bn)) {
				best = key;
				bn = json_integer_value(v);
			}
		}
		if (best == NULL)
			break;
		(void)json_object_set_new_nocheck(done, best, json_true());
		(void)json_array_append_new(a, json_pack("{s:o, s:I}", "name",
		    ctlreq_jstr(best), "count", bn));
	}
	json_decref(done);
	return (a);
}

struct stats {
	struct creq	*r;
	time_t		 start;
	long		 hours;
	struct hour_stats *h;		/* hours of the answer */
	long long	 walked;
	bool		 partial;
	time_t		 stop_time;	/* partial: the record it stopped at */
};

static int
stats_each(void *arg, const struct msglog_rec *m)
{
	struct stats	*s = arg;
	struct hour_stats *hs;
	long		 h;
	int		 v;

	if (++s->walked > CONTROL_WALK_MAX) {
		s->partial = true;	/* newest first: the oldest hours are short */
		s->stop_time = m->time;
		return (1);
	}
	if (!access_any_ok(&s->r->scope, m->rcpts, m->nrcpts) ||
	    m->time < s->start)
		return (0);
	h = (long)((m->time - s->start) / 3600);
	if (h >= s->hours)
		h = s->hours - 1;
	hs = &s->h[h];
	if ((v = verdict_parse(m->verdict)) < 0)
		v = VERDICT_FAILED;
	hs->n[v]++;
	if (v == VERDICT_INFECTED)
		hour_top_add(hs->top[0], m->reason);
	else if (v == VERDICT_BLOCKED)
		hour_top_add(hs->top[1], m->reason);
	else if (v == VERDICT_SPAM || v == VERDICT_HIGH_SPAM)
		hour_top_add(hs->top[2], m->sender[0] ? m->sender : "<>");
	return (0);
}

/*
 * Walk the message log for hours [from, to] of s (indexes; to is the
 * newest, whose walk is open-ended when it is the last hour). 0, or -1
 * answered.
 */
static int
stats_walk(struct stats *s, struct msglog *ml, long from, long to)
{
	struct msglog_query mq;
	char		*error = NULL;
	long		 h;
	int		 k;

	for (h = from; h <= to; h++)
		for (k = 0; k < NTOPS; k++)
			s->h[h].top[k] = json_object();
	memset(&mq, 0, sizeof(mq));
	mq.stream = true;	/* stats_each stops at the bound */
	mq.since = s->start + from * 3600;
	if (to < s->hours - 1)
		mq.until = s->start + (to + 1) * 3600 - 1;
	if (msglog_query(ml, &mq, stats_each, s, &error) < 0) {
		ctlreq_fail(s->r, 500, "%s", error);
		free(error);
		return (-1);
	}
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
ctl_stats(struct creq *r, struct msglog *ml, const struct hs_config *conf,
    struct ctl_stats_cache *cache)
{
	struct stats	 s;
	struct metrics	 m;
	struct hour_stats *slot;
	json_t		*hours, *row, *tops[NTOPS], *v;
	const char	*key;
	time_t		 now = time(NULL), st;
	bool		*have;
	long		 h, to, from;
	long long	 total = 0;
	int		 k, vi;

	memset(&s, 0, sizeof(s));
	s.r = r;
	s.hours = (long)ctlreq_int(r->req, "hours", 24);
	if (s.hours < 1 || s.hours > 24 * 31) {
		ctlreq_fail(r, 400, "hours: 1 to 744");
		return;
	}
	s.start = now / 3600 * 3600 - (s.hours - 1) * 3600;
	s.h = xcalloc((size_t)s.hours, sizeof(*s.h));
	have = xcalloc((size_t)s.hours, sizeof(*have));
	if (r->scope.role != ACCESS_ADMIN)
		cache = NULL;	/* the admins' figures only */
	for (h = 0; cache != NULL && h < s.hours; h++) {
		st = s.start + h * 3600;
		slot = cache_slot(cache, st);
		if (slot->start != st)
			continue;
		memcpy(s.h[h].n, slot->n, sizeof(slot->n));
		for (k = 0; k < NTOPS; k++)
			s.h[h].top[k] = json_incref(slot->top[k]);
		have[h] = true;
	}
	/* Each run of hours not kept, newest first (the walks go back). */
	for (to = s.hours - 1; to >= 0;) {
		if (have[to]) {
			to--;
			continue;
		}
		for (from = to; from > 0 && !have[from - 1]; from--)
			;
		if (stats_walk(&s, ml, from, to) < 0)
			goto done;
		/*
		 * Settled hours walked whole are kept: after a partial walk,
		 * those after the hour it stopped in (the next request walks
		 * fewer hours).
		 */
		for (h = from; cache != NULL && h <= to; h++) {
			st = s.start + h * 3600;
			if (st + 3600 + SETTLE_S > now ||
			    st < now - (time_t)CACHE_HOURS * 3600 ||
			    (s.partial && st <= s.stop_time))
				continue;
			slot = cache_slot(cache, st);
			hour_clear(slot);
			slot->start = st;
			memcpy(slot->n, s.h[h].n, sizeof(slot->n));
			for (k = 0; k < NTOPS; k++)
				slot->top[k] = json_incref(s.h[h].top[k]);
		}
		if (s.partial)
			break;
		to = from - 1;
	}
	hours = json_array();
	for (k = 0; k < NTOPS; k++)
		tops[k] = json_object();
	for (h = 0; h < s.hours; h++) {
		row = json_object();
		(void)json_object_set_new(row, "start",
		    json_integer((json_int_t)(s.start + h * 3600)));
		for (vi = 0; vi < VERDICT_COUNT; vi++) {
			(void)json_object_set_new(row,
			    verdict_name((enum verdict)vi),
			    json_integer(s.h[h].n[vi]));
			total += s.h[h].n[vi];
		}
		(void)json_array_append_new(hours, row);
		for (k = 0; k < NTOPS; k++) {
			json_object_foreach(s.h[h].top[k], key, v) {
				json_t	*t = json_object_get(tops[k], key);

				if (t != NULL)
					(void)json_integer_set(t,
					    json_integer_value(t) +
					    json_integer_value(v));
				else
					(void)json_object_set_new_nocheck(tops[k],
					    key, json_integer(json_integer_value(v)));
			}
		}
	}
	(void)json_object_set_new(r->reply, "hours", hours);
	(void)json_object_set_new(r->reply, "total", json_integer(total));
	(void)json_object_set_new(r->reply, "partial", json_boolean(s.partial));
	(void)json_object_set_new(r->reply, "top_viruses", top_json(tops[0]));
	(void)json_object_set_new(r->reply, "top_blocked", top_json(tops[1]));
	(void)json_object_set_new(r->reply, "top_spam_senders",
	    top_json(tops[2]));
	for (k = 0; k < NTOPS; k++)
		json_decref(tops[k]);
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
	for (h = 0; h < s.hours; h++)
		hour_clear(&s.h[h]);
	free(s.h);
	free(have);
}
