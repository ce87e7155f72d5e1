/*
 * NAME
 *	cmd_log - holdscan log, holdscan trace: the message log
 * DESCRIPTION
 *	holdscan log lists the message log's records that match its
 *	filters, newest first, one line each (or a JSON array); holdscan
 *	trace tells the whole story of one message found by any of its ids:
 *	the original queue id, the new one, the quarantine id (or, for a
 *	message set aside in hold, says so from the set-aside list). Both read a
 *	snapshot of the state environment and never hold up holdscand.
 *	On a farm (database set) holdscan log reads every host's records
 *	from the database instead (logdb.c), with a host column, and falls
 *	back to this host's log, with a warning, when it cannot.
 *
 *	This file must never write to the message log, and never print a
 *	field but through out_line() or out_json_string().
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "state/aside.h"
#include "state/msglog.h"
#include "state/pgdb.h"
#include "tool/logdb.h"
#include "tool/output.h"
#include "tool/tool.h"

struct logger {
	struct tool	*t;
	size_t		 n;
	bool		 bad_events;
	PGconn		*db;		/* a farm's database, or NULL */
};

static int
json_event(void *arg, const struct msglog_event *e)
{
	size_t	*n = arg;

	(void)printf("%s{\"time\":%lld,\"kind\":", (*n)++ ? "," : "",
	    (long long)e->time);
	out_json_string(stdout, e->kind);
	(void)printf(",\"new_id\":");
	out_json_string(stdout, e->new_id);
	(void)printf(",\"detail\":");
	out_json_string(stdout, e->detail);
	(void)putchar('}');
	return (0);
}

/* One record as a JSON object, with its events. */
static void
json_record(struct logger *l, const struct msglog_rec *r)
{
	size_t	 i, n = 0;
	char	*error = NULL;
	int	 ret;

	(void)printf("{\"seq\":%" PRIu64 ",\"time\":%lld,\"host\":", r->seq,
	    (long long)r->time);
	out_json_string(stdout, r->host);
	(void)printf(",\"queue_id\":");
	out_json_string(stdout, r->orig_id);
	(void)printf(",\"new_id\":");
	out_json_string(stdout, r->new_id);
	(void)printf(",\"quarantine_id\":");
	out_json_string(stdout, r->quarantine_id);
	(void)printf(",\"sender\":");
	out_json_string(stdout, r->sender);
	(void)printf(",\"recipients\":[");
	for (i = 0; i < r->nrcpts; i++) {
		if (i)
			(void)putchar(',');
		out_json_string(stdout, r->rcpts[i]);
	}
	(void)printf("],\"size\":%" PRIu64 ",\"subject\":", r->size);
	out_json_string(stdout, r->subject);
	(void)printf(",\"client_address\":");
	out_json_string(stdout, r->client);
	(void)printf(",\"sasl_username\":");
	out_json_string(stdout, r->sasl_user);
	(void)printf(",\"verdict\":");
	out_json_string(stdout, r->verdict);
	(void)printf(",\"action\":");
	out_json_string(stdout, r->action);
	(void)printf(",\"reason\":");
	out_json_string(stdout, r->reason);
	(void)printf(",\"plugins\":");
	out_json_string(stdout, r->plugins);
	(void)printf(",\"queue_delay_ms\":%ld,\"scan_ms\":%ld,\"events\":[",
	    r->queue_ms, r->scan_ms);
	ret = l->db != NULL ? logdb_events(&l->db, r->host, r->seq, json_event,
	    &n, &error) : msglog_events(l->t->msglog, r->seq, json_event, &n,
	    &error);
	if (ret < 0) {
		hs_warnx("%s", error);
		free(error);
	}
	(void)printf("]}");
}

static void
when_text(time_t when, char *buf, size_t size)
{
	struct tm	 tm;

	(void)localtime_r(&when, &tm);
	if (strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)snprintf(buf, size, "@%lld", (long long)when);
}

static int
log_one(void *arg, const struct msglog_rec *r)
{
	struct logger	*l = arg;
	struct buf	 line = BUF_INIT;
	char		 when[32];
	const char	*to;

	if (l->t->json) {
		(void)printf("%s", l->n ? ",\n" : "");
		json_record(l, r);
		l->n++;
		return (0);
	}
	if (l->n == 0 && l->t->tty) {
		if (l->db != NULL)
			buf_printf(&line, "%-20s ", "HOST");
		buf_printf(&line, "%-19s %-15s %-15s %-10s %-10s %-24s %-24s %s",
		    "TIME", "QUEUE ID", "NEW/QUARANTINE", "VERDICT", "ACTION",
		    "FROM", "TO", "SUBJECT");
		out_line(l->t, line.data, line.len);
		buf_reset(&line);
	}
	when_text(r->time, when, sizeof(when));
	to = r->nrcpts ? r->rcpts[0] : "-";
	if (l->db != NULL)
		buf_printf(&line, "%-20s ", r->host);
	buf_printf(&line, "%-19s %-15s %-15s %-10s %-10s %-24s ", when,
	    r->orig_id, r->new_id[0] ? r->new_id : r->quarantine_id[0] ?
	    r->quarantine_id : "-", r->verdict, r->action,
	    r->sender[0] ? r->sender : "<>");
	if (r->nrcpts > 1) {
		char	*first = xasprintf("%s +%zu", to, r->nrcpts - 1);

		buf_printf(&line, "%-24s ", first);
		free(first);
	} else {
		buf_printf(&line, "%-24s ", to);
	}
	buf_printf(&line, "%s", r->subject);
	out_line(l->t, line.data, line.len);
	buf_free(&line);
	l->n++;
	return (0);
}

/*
 * A farm: the database with every host's log, or NULL (and a warning)
 * when it cannot be reached; then this host's log is shown.
 */
static PGconn *
farm_db(struct tool *t)
{
	PGconn	*c = NULL;
	char	*error = NULL;

	if (t->conf->database == NULL || t->conf->database[0] == '\0')
		return (NULL);
	if (logdb_connect(t->conf->database, &c, &error) < 0) {
		hs_warnx("database: %s; showing the log of this host only",
		    error);
		free(error);
		return (NULL);
	}
	return (c);
}

int
cmd_log(struct tool *t, int argc, char **argv)
{
	struct msglog_query q;
	struct tool_filters f = { 0, 0, NULL, NULL };
	struct logger	 l = { t, 0, false, NULL };
	const char	*v;
	char		*error = NULL, *end;
	int		 i, rc = 0;

	memset(&q, 0, sizeof(q));
	for (i = 1; i < argc; i++) {
		if (tool_filter_opt(t, argc, argv, &i, &f))
			continue;
		if ((v = tool_opt_value(t, argc, argv, &i, "--verdict")) != NULL)
			q.verdict = v;
		else if ((v = tool_opt_value(t, argc, argv, &i, "--action")) != NULL)
			q.action = v;
		else if ((v = tool_opt_value(t, argc, argv, &i, "--limit")) != NULL) {
			q.limit = (size_t)strtoul(v, &end, 10);
			if (*v < '0' || *v > '9' || *end != '\0' || q.limit == 0)
				tool_bad_usage(t, "--limit %s: not a positive number",
				    v);
		} else if (strcmp(argv[i], "--json") == 0)
			t->json = true;
		else
			tool_bad_arg(t, argv[i]);
	}
	q.since = f.since;
	q.until = f.until;
	q.rcpt = f.rcpt;
	q.sender = f.sender;
	l.db = farm_db(t);
	if (l.db != NULL) {
		tool_list_begin(t);
		if (logdb_query(&l.db, &q, log_one, &l, &error) < 0) {
			rc = tool_fail("database: %s", error);
			free(error);
		}
		tool_list_end(t, l.n);
		if (l.db != NULL)
			PQfinish(l.db);
		return (rc);
	}
	tool_open_state(t);
	if (t->msglog == NULL)
		return (tool_fail("the message log cannot be read"));
	tool_list_begin(t);
	if (msglog_query(t->msglog, &q, log_one, &l, &error) < 0) {
		rc = tool_fail("%s", error);
		free(error);
	}
	tool_list_end(t, l.n);
	tool_close_state(t);
	return (rc);
}

/* --- trace --------------------------------------------------------------- */

/* One line of the story (s is taken and freed). */
static void
story(const struct tool *t, char *s)
{
	out_line(t, s, strlen(s));
	free(s);
}

struct tracer {
	struct tool	*t;
	size_t		 n;
	PGconn		*db;		/* a farm's database: other hosts */
	bool		 remote;	/* the records come from db */
};

static int
trace_event(void *arg, const struct msglog_event *e)
{
	struct tracer	*tr = arg;
	char		 when[32];

	when_text(e->time, when, sizeof(when));
	if (strcmp(e->kind, "released") == 0)
		story(tr->t, xasprintf("%s  released from the quarantine as "
		    "%s%s%s", when, e->new_id[0] ? e->new_id : "?",
		    e->detail[0] ? " to " : "", e->detail));
	else if (strcmp(e->kind, "deleted") == 0 ||
	    strcmp(e->kind, "expired") == 0)
		story(tr->t, xasprintf("%s  %s from the quarantine", when,
		    e->kind));
	else
		story(tr->t, xasprintf("%s  %s%s%s%s%s", when, e->kind,
		    e->new_id[0] ? " " : "", e->new_id,
		    e->detail[0] ? " " : "", e->detail));
	return (0);
}

/* What became of it, in words. */
static const char *
outcome_words(const struct msglog_rec *r)
{
	if (r->new_id[0] != '\0')
		return (strcmp(r->action, "tag") == 0 ? "delivered tagged" :
		    strcmp(r->action, "deliver-cleaned") == 0 ? "delivered cleaned" :
		    "delivered");
	if (r->quarantine_id[0] != '\0')
		return ("quarantined");
	return (strcmp(r->action, "drop") == 0 ? "dropped" : r->action);
}

static int
trace_one(void *arg, const struct msglog_rec *r)
{
	struct tracer	*tr = arg;
	struct tool	*t = tr->t;
	struct buf	 b = BUF_INIT;
	char		 when[32], *error = NULL;
	time_t		 held;
	size_t		 i;

	if (t->json) {
		struct logger	 l = { t, 0, false, NULL };

		if (tr->remote)
			l.db = tr->db;
		(void)printf("%s", tr->n++ ? ",\n" : "");
		json_record(&l, r);
		if (tr->remote)
			tr->db = l.db;
		return (0);
	}
	if (tr->n++)
		(void)printf("\n");
	story(t, xasprintf("%s: message log record %" PRIu64 " of %s%s",
	    r->orig_id, r->seq, r->host, tr->remote ? " (from the farm's "
	    "database: the message is on that host)" : ""));
	story(t, xasprintf("  from=<%s> size=%" PRIu64 "%s%s%s%s", r->sender,
	    r->size, r->client[0] ? " client=" : "", r->client,
	    r->sasl_user[0] ? " sasl_username=" : "", r->sasl_user));
	for (i = 0; i < r->nrcpts; i++)
		buf_printf(&b, "%s<%s>", i ? ", " : "", r->rcpts[i]);
	story(t, xasprintf("  to=%s", b.data ? b.data : "-"));
	story(t, xasprintf("  subject: %s", r->subject));
	held = r->time - (time_t)((r->queue_ms + r->scan_ms) / 1000);
	when_text(held, when, sizeof(when));
	story(t, xasprintf("%s  held in the hold queue as %s", when,
	    r->orig_id));
	story(t, xasprintf("  claimed by holdscand after %.1fs in hold; "
	    "scanned in %ld ms", r->queue_ms / 1000.0, r->scan_ms));
	if (r->plugins[0] != '\0')
		story(t, xasprintf("  plugins: %s", r->plugins));
	story(t, xasprintf("  verdict=%s action=%s%s%s%s", r->verdict,
	    r->action, r->reason[0] ? " reason=\"" : "", r->reason,
	    r->reason[0] ? "\"" : ""));
	when_text(r->time, when, sizeof(when));
	story(t, xasprintf("%s  %s%s%s%s", when, outcome_words(r),
	    r->new_id[0] || r->quarantine_id[0] ? " as " : "",
	    r->new_id[0] ? r->new_id : r->quarantine_id,
	    r->new_id[0] ? " (in incoming)" : ""));
	buf_free(&b);
	if ((tr->remote ? logdb_events(&tr->db, r->host, r->seq, trace_event,
	    tr, &error) : msglog_events(t->msglog, r->seq, trace_event, tr,
	    &error)) < 0) {
		hs_warnx("%s", error);
		free(error);
	}
	return (0);
}

/*
 * A message holdscand set aside in hold has no record yet (it is not
 * finished): say so from the set-aside list. True when it is there.
 */
static bool
set_aside(struct tool *t, const char *id)
{
	struct aside_entry e;
	struct aside	*a = NULL;
	char		*error = NULL, when[32];
	int		 r;

	if (aside_open(t->sdb, &a, &error) < 0 ||
	    (r = aside_get(a, id, &e, &error)) < 0) {
		hs_warnx("%s", error);
		free(error);
		aside_close(&a);
		return (false);
	}
	aside_close(&a);
	if (r == 0 || t->json)
		return (false);
	when_text(e.when, when, sizeof(when));
	story(t, xasprintf("%s: not finished: set aside in the hold queue "
	    "since %s, %u attempt%s: %s", id, when, e.attempts,
	    e.attempts == 1 ? "" : "s", e.reason));
	return (true);
}

int
cmd_trace(struct tool *t, int argc, char **argv)
{
	struct tracer	 tr = { t, 0, NULL, false };
	const char	*id = NULL;
	char		*error = NULL, *clean;
	size_t		 n = 0, m = 0;
	int		 i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			t->json = true;
		else if (argv[i][0] == '-' || id != NULL)
			tool_bad_arg(t, argv[i]);
		else
			id = argv[i];
	}
	if (id == NULL)
		tool_bad_usage(t, "which message? (a queue id or a quarantine id)");
	/* As Postfix logs it: "ID:" */
	clean = xstrdup(id);
	if (clean[0] != '\0' && clean[strlen(clean) - 1] == ':')
		clean[strlen(clean) - 1] = '\0';
	tool_open_state(t);
	if (t->msglog == NULL)
		return (tool_fail("the message log cannot be read"));
	tool_list_begin(t);
	if (msglog_find(t->msglog, clean, trace_one, &tr, &n, &error) < 0) {
		rc = tool_fail("%s", error);
		free(error);
	}
	/*
	 * On a farm, the other hosts' records from the database (this
	 * host's are read here, where they are complete and current).
	 */
	if (rc == 0 && (tr.db = farm_db(t)) != NULL) {
		tr.remote = true;
		if (logdb_find(&tr.db, clean, t->ql->myhostname, trace_one,
		    &tr, &m, &error) < 0) {
			hs_warnx("database: %s; showing this host's records "
			    "only", error);
			free(error);
		}
		n += m;
		if (tr.db != NULL)
			PQfinish(tr.db);
	}
	if (t->json)
		(void)printf("%s]\n", n ? "\n" : "");
	if (rc == 0 && n == 0 && set_aside(t, clean))
		rc = 0;
	else if (rc == 0 && n == 0)
		rc = tool_fail("%s: not seen by holdscan (no record in the "
		    "message log names it%s)", clean, t->conf->message_log ? "" :
		    "; message_log = no");
	free(clean);
	tool_close_state(t);
	return (rc);
}
