/*
 * NAME
 *	cmd_quarantine - holdscan quarantine list, show, release, delete, expire, check
 * DESCRIPTION
 *	Releases go through release.c's exactly-once path; deletions and
 *	expiry through the quarantine module; each change is audited.
 *
 *	This file must never print a message body unless asked (show
 *	--body), and never release a message but through release_message().
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commit/release.h"
#include "common/log.h"
#include "common/mailhdr.h"
#include "common/text.h"
#include "common/xalloc.h"
#include "state/pgdb.h"
#include "tool/logdb.h"
#include "tool/output.h"
#include "tool/remote.h"
#include "tool/tool.h"

/* --- quarantine list ------------------------------------------------------------ */

struct lister {
	struct tool	*t;
	size_t		 n;
};

/* The index entry's fields, inside an object: "id":...,"released_to":... */
static void
json_entry_fields(const struct quarantine_entry *e)
{
	size_t	 i;

	(void)printf("\"id\":");
	out_json_string(stdout, e->qid);
	(void)printf(",\"queue_id\":");
	out_json_string(stdout, e->orig_id);
	(void)printf(",\"state\":\"%s\",\"quarantined\":%lld,\"arrival\":%lld,"
	    "\"size\":%" PRIu64 ",\"verdict\":", quarantine_state_name(e->state),
	    (long long)e->quarantined, (long long)e->arrival, e->size);
	out_json_string(stdout, e->verdict);
	(void)printf(",\"reason\":");
	out_json_string(stdout, e->reason);
	(void)printf(",\"sender\":");
	out_json_string(stdout, e->sender);
	(void)printf(",\"recipients\":[");
	for (i = 0; i < e->nrcpts; i++) {
		if (i)
			(void)putchar(',');
		out_json_string(stdout, e->rcpts[i]);
	}
	(void)printf("],\"subject\":");
	out_json_string(stdout, e->subject);
	(void)printf(",\"state_time\":%lld,\"releases\":%u,\"new_id\":",
	    (long long)e->state_time, e->releases);
	out_json_string(stdout, e->new_id);
	(void)printf(",\"released_to\":");
	out_json_string(stdout, e->released_to);
}

static void
json_entry(const struct quarantine_entry *e)
{
	(void)putchar('{');
	json_entry_fields(e);
	(void)putchar('}');
}

static int
list_one(void *arg, const struct quarantine_entry *e)
{
	struct lister	*l = arg;
	struct buf	 line = BUF_INIT;
	char		 when[32], size[16];
	struct tm	 tm;

	if (l->t->json) {
		(void)printf("%s", l->n ? ",\n" : "");
		json_entry(e);
		l->n++;
		return (0);
	}
	if (l->n == 0 && l->t->tty) {
		buf_printf(&line, "%-28s %-16s %-8s %-10s %6s  %-24s %-24s %s",
		    "QUARANTINE ID", "QUARANTINED", "STATE", "VERDICT", "SIZE",
		    "FROM", "TO", "SUBJECT");
		out_line(l->t, line.data, line.len);
		buf_reset(&line);
	}
	(void)localtime_r(&e->quarantined, &tm);
	(void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	out_size(e->size, size, sizeof(size));
	buf_printf(&line, "%-28s %-16s %-8s %-10s %6s  %-24s ", e->qid, when,
	    quarantine_state_name(e->state), e->verdict, size,
	    e->sender[0] ? e->sender : "<>");
	if (e->nrcpts > 1) {
		char	*first = xasprintf("%s +%zu", e->rcpts[0], e->nrcpts - 1);

		buf_printf(&line, "%-24s ", first);
		free(first);
	} else {
		buf_printf(&line, "%-24s ", e->nrcpts ? e->rcpts[0] : "-");
	}
	buf_printf(&line, "%s", e->subject);
	out_line(l->t, line.data, line.len);
	buf_free(&line);
	l->n++;
	return (0);
}

/*
 * quarantine list --all-hosts: every host's quarantined messages from a
 * farm's message_log, their state from message_events (the newest of
 * released, deleted, expired; else held), filtered in SQL (logdb.c).
 */
static int
all_one(void *arg, const struct msglog_rec *r, const char *state)
{
	struct lister	*l = arg;
	struct buf	 line = BUF_INIT;
	char		 when[32];
	struct tm	 tm;
	size_t		 i;

	if (l->t->json) {
		(void)printf("%s{\"host\":", l->n++ ? ",\n" : "");
		out_json_string(stdout, r->host);
		(void)printf(",\"id\":");
		out_json_string(stdout, r->quarantine_id);
		(void)printf(",\"queue_id\":");
		out_json_string(stdout, r->orig_id);
		(void)printf(",\"quarantined\":%lld,\"state\":",
		    (long long)r->time);
		out_json_string(stdout, state);
		(void)printf(",\"verdict\":");
		out_json_string(stdout, r->verdict);
		(void)printf(",\"reason\":");
		out_json_string(stdout, r->reason);
		(void)printf(",\"size\":%" PRIu64 ",\"sender\":", r->size);
		out_json_string(stdout, r->sender);
		(void)printf(",\"recipients\":[");
		for (i = 0; i < r->nrcpts; i++) {
			if (i)
				(void)putchar(',');
			out_json_string(stdout, r->rcpts[i]);
		}
		(void)printf("],\"subject\":");
		out_json_string(stdout, r->subject);
		(void)putchar('}');
		return (0);
	}
	(void)localtime_r(&r->time, &tm);
	(void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	buf_printf(&line, "%s %s %s %s %s %s ", r->host, r->quarantine_id,
	    when, state, r->verdict, r->sender[0] ? r->sender : "<>");
	for (i = 0; i < r->nrcpts; i++)
		buf_printf(&line, "%s%s", i ? "," : "", r->rcpts[i]);
	out_line(l->t, line.data, line.len);
	buf_free(&line);
	l->n++;
	return (0);
}

static int
list_all_hosts(struct tool *t, const struct msglog_query *q,
    const char *state)
{
	struct lister	 l = { t, 0 };
	PGconn		*c = NULL;
	char		*error = NULL;
	size_t		 n;
	int		 rc = 0;

	if (t->conf->database == NULL || t->conf->database[0] == '\0')
		return (tool_fail("--all-hosts needs a farm's database "
		    "(database in holdscan.conf)"));
	if (logdb_connect(t->conf->database, &c, &error) < 0) {
		rc = tool_fail("database: %s", error);
		free(error);
		return (rc);
	}
	tool_list_begin(t);
	if (logdb_quarantined(&c, q, state, all_one, &l, &n, &error) < 0) {
		rc = tool_fail("database: %s", error);
		free(error);
	}
	tool_list_end(t, l.n);
	if (c != NULL)
		PQfinish(c);
	return (rc);
}

int
cmd_q_list(struct tool *t, int argc, char **argv)
{
	struct quarantine_query qq;
	struct tool_filters f = { 0, 0, NULL, NULL };
	struct lister	 l = { t, 0 };
	const char	*v, *verdict = NULL;
	char		*error = NULL;
	bool		 all = false;
	int		 i, rc = 0;

	memset(&qq, 0, sizeof(qq));
	qq.state = -1;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--all-hosts") == 0) {
			all = true;
			continue;
		}
		if (tool_filter_opt(t, argc, argv, &i, &f))
			continue;
		if ((v = tool_opt_value(t, argc, argv, &i, "--reason")) != NULL)
			qq.reason = v;
		else if ((v = tool_opt_value(t, argc, argv, &i, "--verdict")) != NULL)
			verdict = v;
		else if ((v = tool_opt_value(t, argc, argv, &i, "--state")) != NULL) {
			for (qq.state = 0; qq.state < 3; qq.state++)
				if (strcmp(v, quarantine_state_name(qq.state)) == 0)
					break;
			if (qq.state == 3)
				tool_bad_usage(t, "--state %s: use held, released "
				    "or deleted", v);
		} else if (strcmp(argv[i], "--json") == 0)
			t->json = true;
		else
			tool_bad_arg(t, argv[i]);
	}
	if (all) {
		struct msglog_query mq;

		if (qq.reason != NULL)
			tool_bad_usage(t, "--all-hosts takes no --reason (use "
			    "--verdict)");
		memset(&mq, 0, sizeof(mq));
		mq.since = f.since;
		mq.until = f.until;
		mq.rcpt = f.rcpt;
		mq.sender = f.sender;
		mq.verdict = verdict;
		return (list_all_hosts(t, &mq, qq.state < 0 ? NULL :
		    quarantine_state_name(qq.state)));
	}
	if (verdict != NULL)
		tool_bad_usage(t, "--verdict goes with --all-hosts (here: "
		    "--reason)");
	qq.since = f.since;
	qq.until = f.until;
	qq.rcpt = f.rcpt;
	qq.sender = f.sender;
	tool_open_state(t);
	tool_list_begin(t);
	if (quarantine_list(t->q, &qq, list_one, &l, &error) < 0) {
		rc = tool_fail("%s", error);
		free(error);
	}
	tool_list_end(t, l.n);
	tool_close_state(t);
	return (rc);
}

/* --- quarantine show ------------------------------------------------------------ */

static void
notify_words(int flags, char *buf, size_t size)
{
	/* Postfix's DSN NOTIFY bits: NEVER 1, SUCCESS 2, FAILURE 4, DELAY 8. */
	(void)snprintf(buf, size, "%s%s%s%s", flags & 1 ? "NEVER," : "",
	    flags & 2 ? "SUCCESS," : "", flags & 4 ? "FAILURE," : "",
	    flags & 8 ? "DELAY," : "");
	if (buf[0] != '\0')
		buf[strlen(buf) - 1] = '\0';
}

static void
show_text(const struct tool *t, const char *label, const char *value)
{
	char	*line = xasprintf("%-14s%s", label, value);

	out_line(t, line, strlen(line));
	free(line);
}

/* What became of a quarantined record on another host (its events). */
struct remote_show {
	struct tool	*t;
	PGconn		**c;
	char		 state[16];
	time_t		 state_time;
	char		 new_id[64];
	char		 detail[256];
};

static int
remote_event(void *arg, const struct msglog_event *e)
{
	struct remote_show *rs = arg;

	if (strcmp(e->kind, "released") != 0 && strcmp(e->kind, "deleted") != 0 &&
	    strcmp(e->kind, "expired") != 0)
		return (0);
	(void)snprintf(rs->state, sizeof(rs->state), "%s", e->kind);
	rs->state_time = e->time;
	(void)snprintf(rs->new_id, sizeof(rs->new_id), "%s", e->new_id);
	(void)snprintf(rs->detail, sizeof(rs->detail), "%s", e->detail);
	return (0);
}

/* Prints the record of the quarantined message (the newest naming it). */
static int
remote_print(void *arg, const struct msglog_rec *r)
{
	struct remote_show *rs = arg;
	struct tool	*t = rs->t;
	PGconn		**c = rs->c;
	char		 when[32], buf[1024], *error = NULL;
	size_t		 i;

	(void)snprintf(rs->state, sizeof(rs->state), "held");
	if (logdb_events(c, r->host, r->seq, remote_event, rs, &error) < 0) {
		hs_warnx("database: %s", error);
		free(error);
	}
	if (t->json) {
		(void)printf("{\"host\":");
		out_json_string(stdout, r->host);
		(void)printf(",\"id\":");
		out_json_string(stdout, r->quarantine_id);
		(void)printf(",\"queue_id\":");
		out_json_string(stdout, r->orig_id);
		(void)printf(",\"state\":\"%s\",\"quarantined\":%lld,"
		    "\"size\":%" PRIu64 ",\"verdict\":", rs->state,
		    (long long)r->time, r->size);
		out_json_string(stdout, r->verdict);
		(void)printf(",\"reason\":");
		out_json_string(stdout, r->reason);
		(void)printf(",\"sender\":");
		out_json_string(stdout, r->sender);
		(void)printf(",\"recipients\":[");
		for (i = 0; i < r->nrcpts; i++) {
			if (i)
				(void)putchar(',');
			out_json_string(stdout, r->rcpts[i]);
		}
		(void)printf("],\"subject\":");
		out_json_string(stdout, r->subject);
		(void)printf(",\"client_address\":");
		out_json_string(stdout, r->client);
		(void)printf(",\"plugins\":");
		out_json_string(stdout, r->plugins);
		(void)printf(",\"state_time\":%lld,\"new_id\":",
		    (long long)rs->state_time);
		out_json_string(stdout, rs->new_id);
		(void)printf("}\n");
		return (1);
	}
	show_text(t, "id:", r->quarantine_id);
	(void)snprintf(buf, sizeof(buf), "%s (from the farm's database; the "
	    "file, its headers and body are on that host)", r->host);
	show_text(t, "host:", buf);
	out_time(rs->state_time, when, sizeof(when));
	if (strcmp(rs->state, "released") == 0)
		(void)snprintf(buf, sizeof(buf), "released %s as %s%s%s", when,
		    rs->new_id[0] ? rs->new_id : "?", rs->detail[0] ? " " : "",
		    rs->detail);
	else if (strcmp(rs->state, "held") != 0)
		(void)snprintf(buf, sizeof(buf), "%s %s", rs->state, when);
	else
		(void)snprintf(buf, sizeof(buf), "held");
	show_text(t, "state:", buf);
	show_text(t, "queue id:", r->orig_id);
	out_time(r->time, when, sizeof(when));
	show_text(t, "quarantined:", when);
	(void)snprintf(buf, sizeof(buf), "%" PRIu64 " bytes (queue file)",
	    r->size);
	show_text(t, "size:", buf);
	show_text(t, "verdict:", r->verdict);
	show_text(t, "reason:", r->reason);
	if (r->plugins[0] != '\0')
		show_text(t, "plugins:", r->plugins);
	show_text(t, "subject:", r->subject);
	(void)snprintf(buf, sizeof(buf), "<%s>", r->sender);
	show_text(t, "sender:", buf);
	for (i = 0; i < r->nrcpts; i++) {
		(void)snprintf(buf, sizeof(buf), "<%s>", r->rcpts[i]);
		show_text(t, "recipient:", buf);
	}
	if (r->client[0] != '\0')
		show_text(t, "client:", r->client);
	return (1);
}

/*
 * quarantine show of an id the local quarantine does not know: on a
 * farm, another host's quarantined message, from the database. The exit
 * status, or -1 when no other host has it (or the database cannot say:
 * a warning).
 */
static int
show_remote(struct tool *t, const char *id)
{
	struct remote_show rs;
	PGconn		*c = NULL;
	char		*error = NULL;
	size_t		 n = 0;

	if (t->conf->database == NULL || t->conf->database[0] == '\0')
		return (-1);
	if (logdb_connect(t->conf->database, &c, &error) < 0) {
		hs_warnx("database: %s; cannot look for %s on the other hosts",
		    error, id);
		free(error);
		return (-1);
	}
	memset(&rs, 0, sizeof(rs));
	rs.t = t;
	rs.c = &c;
	if (logdb_quarantine_record(&c, id, t->ql->myhostname, remote_print,
	    &rs, &n, &error) < 0) {
		hs_warnx("database: %s; cannot look for %s on the other hosts",
		    error, id);
		free(error);
		n = 0;
	}
	if (c != NULL)
		PQfinish(c);
	return (n > 0 ? 0 : -1);
}

int
cmd_q_show(struct tool *t, int argc, char **argv)
{
	struct quarantine_entry e;
	struct qfile_error err;
	struct qfile	*qf = NULL;
	struct buf	 hdr = BUF_INIT, body = BUF_INIT;
	enum quarantine_rc qrc;
	const char	*id = NULL;
	char		*error = NULL, when[32], buf[1024], nf[64];
	bool		 with_body = false;
	size_t		 i;
	int		 fd, rc = 0;

	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--body") == 0)
			with_body = true;
		else if (strcmp(argv[i], "--json") == 0)
			t->json = true;
		else if (argv[i][0] == '-' || id != NULL)
			tool_bad_arg(t, argv[i]);
		else
			id = argv[i];
	}
	if (id == NULL)
		tool_bad_usage(t, "which message? (an ID from quarantine list)");
	tool_open_state(t);
	qrc = quarantine_get(t->q, NULL, id, false, &e, &error);
	if (qrc == QUARANTINE_NOTFOUND && (rc = show_remote(t, id)) >= 0) {
		tool_close_state(t);
		return (rc);
	}
	if (qrc != QUARANTINE_OK) {
		rc = qrc == QUARANTINE_NOTFOUND ? tool_fail("%s: no such message in "
		    "the quarantine", id) : tool_fail("%s", error);
		free(error);
		tool_close_state(t);
		return (rc);
	}
	if ((fd = quarantine_open_file(t->q, &e)) >= 0) {
		if (qfile_read_fd(fd, SIZE_MAX, &qf, &err) < 0) {
			rc = tool_fail("%s/%s: %s", quarantine_dir(t->q), e.relpath,
			    err.text);
			qf = NULL;
		}
		(void)close(fd);
	} else if (e.state != QSTATE_DELETED) {
		rc = tool_fail("%s/%s: %s", quarantine_dir(t->q), e.relpath,
		    strerror(errno));
	}
	if (qf != NULL) {
		mailhdr_block(qf, &hdr);
		if (with_body)
			qfile_content_text(qf->content + qf->header_end,
			    qf->ncontent - qf->header_end, &body);
	}
	if (t->json) {
		/* One object: the index entry, and what the file says. */
		(void)putchar('{');
		json_entry_fields(&e);
		(void)snprintf(buf, sizeof(buf), "%s/%s", quarantine_dir(t->q),
		    e.relpath);
		(void)printf(",\"file\":");
		out_json_string(stdout, buf);
		if (qf != NULL) {
			(void)printf(",\"envelope\":{\"sender\":");
			out_json_string(stdout, qf->sender);
			(void)printf(",\"ret\":%d,\"envid\":", qf->ret_flags);
			out_json_string(stdout, qf->envid ? qf->envid : "");
			(void)printf(",\"recipients\":[");
			for (i = 0; i < qf->nrcpts; i++) {
				(void)printf("%s{\"address\":", i ? "," : "");
				out_json_string(stdout, qf->rcpts[i].address);
				(void)printf(",\"orcpt\":");
				out_json_string(stdout, qf->rcpts[i].dsn_orcpt ?
				    qf->rcpts[i].dsn_orcpt : "");
				(void)printf(",\"notify\":%d}",
				    qf->rcpts[i].dsn_notify);
			}
			(void)printf("]},\"headers\":");
			out_json_string(stdout, hdr.data ? hdr.data : "");
			if (with_body) {
				(void)printf(",\"body\":");
				out_json_string(stdout, body.data ? body.data : "");
			}
		}
		(void)printf("}\n");
		goto done;
	}
	show_text(t, "id:", e.qid);
	out_time(e.state_time, when, sizeof(when));
	if (e.state == QSTATE_RELEASED)
		(void)snprintf(buf, sizeof(buf), "released %s as %s%s%s (%u "
		    "release%s)", when, e.new_id[0] ? e.new_id : "?",
		    e.released_to[0] ? " to " : "", e.released_to, e.releases,
		    e.releases == 1 ? "" : "s");
	else if (e.state == QSTATE_DELETED)
		(void)snprintf(buf, sizeof(buf), "deleted %s", when);
	else
		(void)snprintf(buf, sizeof(buf), "held");
	show_text(t, "state:", buf);
	show_text(t, "queue id:", e.orig_id);
	out_time(e.quarantined, when, sizeof(when));
	show_text(t, "quarantined:", when);
	out_time(e.arrival, when, sizeof(when));
	show_text(t, "arrival:", when);
	(void)snprintf(buf, sizeof(buf), "%" PRIu64 " bytes (queue file)", e.size);
	show_text(t, "size:", buf);
	show_text(t, "verdict:", e.verdict);
	show_text(t, "reason:", e.reason);
	show_text(t, "subject:", e.subject);
	(void)snprintf(buf, sizeof(buf), "<%s>", qf ? qf->sender : e.sender);
	show_text(t, "sender:", buf);
	if (qf != NULL && (qf->ret_flags || qf->envid)) {
		(void)snprintf(buf, sizeof(buf), "RET=%s%s%s",
		    qf->ret_flags == 1 ? "FULL" : qf->ret_flags == 2 ? "HDRS" :
		    "-", qf->envid ? " ENVID=" : "", qf->envid ? qf->envid : "");
		show_text(t, "dsn:", buf);
	}
	for (i = 0; qf != NULL && i < qf->nrcpts; i++) {
		notify_words(qf->rcpts[i].dsn_notify, nf, sizeof(nf));
		(void)snprintf(buf, sizeof(buf), "<%s>%s%s%s%s%s",
		    qf->rcpts[i].address, nf[0] ? " NOTIFY=" : "", nf,
		    qf->rcpts[i].dsn_orcpt ? " ORCPT=" : "",
		    qf->rcpts[i].dsn_orcpt ? qf->rcpts[i].dsn_orcpt : "",
		    qf->rcpts[i].state == QREC_RCPT ? "" : " (done)");
		show_text(t, "recipient:", buf);
	}
	for (i = 0; qf == NULL && i < e.nrcpts; i++) {
		(void)snprintf(buf, sizeof(buf), "<%s>", e.rcpts[i]);
		show_text(t, "recipient:", buf);
	}
	(void)snprintf(buf, sizeof(buf), "%s/%s", quarantine_dir(t->q), e.relpath);
	show_text(t, "file:", buf);
	if (qf != NULL) {
		(void)printf("\n");
		if (t->tty && hdr.data != NULL)
			hdr.len = text_safe(hdr.data, hdr.len, true);
		(void)fwrite(hdr.data ? hdr.data : "", 1, hdr.len, stdout);
		if (with_body) {
			if (t->tty && body.data != NULL)
				body.len = text_safe(body.data, body.len, true);
			(void)fwrite(body.data ? body.data : "", 1, body.len,
			    stdout);
		} else {
			(void)printf("\n(body not shown: --body shows it)\n");
		}
	}
done:
	buf_free(&hdr);
	buf_free(&body);
	qfile_free(&qf);
	quarantine_entry_clear(&e);
	tool_close_state(t);
	return (rc);
}

/* --- quarantine release, delete, expire, check ----------------------------------- */

/* An address for --to: no white space or control characters, no <>. */
static const char *
check_address(const char *a)
{
	const char	*p;

	if (a[0] == '\0' || a[0] == '-')
		return ("an empty address or an option");
	if (strlen(a) > 900)
		return ("longer than 900 characters");
	for (p = a; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '<' ||
		    *p == '>')
			return ("white space, a control character or <>");
	return (NULL);
}

/* --wait DURATION of release and delete (a request to another host). */
static long
wait_arg(const struct tool *t, const char *v)
{
	long	 ms;

	if (config_parse_time(v, &ms) < 0 || ms < 0)
		tool_bad_usage(t, "--wait %s: not a duration (30s, 2m)", v);
	return (ms);
}

/*
 * An id the local quarantine does not know: on a farm, maybe another
 * host's (remote.c). The exit status, or -1 when no host has it.
 */
static int
try_remote(struct tool *t, const char *qid, const char *action,
    const char *const *to, size_t nto, long wait_ms)
{
	struct remote_req r;
	bool		 found;
	int		 rc;

	if (t->conf->database == NULL || t->conf->database[0] == '\0')
		return (-1);
	memset(&r, 0, sizeof(r));
	r.conninfo = t->conf->database;
	r.myhost = t->ql->myhostname;
	r.qid = qid;
	r.action = action;
	r.to = to;
	r.nto = nto;
	r.wait_ms = wait_ms;
	r.invoker = t->invoker;
	rc = remote_action(&r, &found);
	if (!found)
		return (-1);
	tool_audit(t, "%s: action=%s remote=yes status=%s", qid, action,
	    rc == 0 ? "done" : rc == 1 ? "failed" : "queued");
	return (rc);
}

/*
 * --learn-ham: the released copy's original taught as ham (holdscan
 * learn's way); a failure is reported, the release stands.
 */
static int
learn_ham(struct tool *t, const char *id)
{
	struct quarantine_entry e;
	char		*error = NULL, *path;
	int		 rc;

	if (quarantine_get(t->q, NULL, id, false, &e, &error) !=
	    QUARANTINE_OK) {
		rc = tool_fail("%s: not learnt: %s", id, error ? error :
		    "not in the quarantine");
		free(error);
		return (rc);
	}
	path = xasprintf("%s/%s", quarantine_dir(t->q), e.relpath);
	quarantine_entry_clear(&e);
	rc = cmd_learn_file(t, "ham", id, path);
	free(path);
	return (rc);
}

int
cmd_q_release(struct tool *t, int argc, char **argv)
{
	struct release_opts o;
	const char	**ids = NULL, **to = NULL, *why;
	char		 new_id[QUEUE_ID_SIZE], *error = NULL, *joined, *strip;
	size_t		 nids = 0, nto = 0, i;
	bool		 in_to = false, learn = false;
	long		 wait_ms = REMOTE_WAIT_MS;
	int		 a, rc = 0, r;

	memset(&o, 0, sizeof(o));
	for (a = 1; a < argc; a++) {
		const char	*v = argv[a];

		if (strcmp(v, "--wait") == 0 || strncmp(v, "--wait=", 7) == 0) {
			wait_ms = wait_arg(t, tool_opt_value(t, argc, argv, &a,
			    "--wait"));
			in_to = false;
			continue;
		}
		if (strcmp(v, "--again") == 0) {
			o.again = true;
			in_to = false;
			continue;
		}
		if (strcmp(v, "--learn-ham") == 0) {
			learn = true;
			in_to = false;
			continue;
		}
		if (strcmp(v, "--to") == 0) {
			in_to = true;
			continue;
		}
		if (strncmp(v, "--to=", 5) == 0) {
			v += 5;
			in_to = true;
		} else if (v[0] == '-') {
			tool_bad_arg(t, v);
		}
		if (in_to) {
			char	*addr = xstrdup(v[0] == '<' ? v + 1 : v);

			if (v[0] == '<')
				addr[strcspn(addr, ">")] = '\0';
			if ((why = check_address(addr)) != NULL)
				tool_bad_usage(t, "--to %s: %s", v, why);
			to = xreallocarray(to, nto + 1, sizeof(*to));
			to[nto++] = addr;
		} else {
			ids = xreallocarray(ids, nids + 1, sizeof(*ids));
			ids[nids++] = v;
		}
	}
	if (nids == 0)
		tool_bad_usage(t, "which messages? (IDs from quarantine list)");
	if (in_to && nto == 0)
		tool_bad_usage(t, "--to needs an address");
	o.to = to;
	o.nto = nto;
	o.header_name = t->conf->scan_header_name;
	strip = mailhdr_strip_names(t->conf->scan_header_name,
	    t->conf->tag_header_name, t->conf->strip_header_names);
	o.strip_names = strip;
	tool_open_state(t);
	joined = NULL;
	if (nto > 0) {
		struct buf	 b = BUF_INIT;

		for (i = 0; i < nto; i++)
			buf_printf(&b, "%s%s", i ? "," : "", to[i]);
		joined = buf_steal(&b, NULL);
	}
	for (i = 0; i < nids; i++) {
		switch (release_message(&t->commit, t->q, ids[i], &o, new_id,
		    &error)) {
		case RELEASE_OK:
			(void)printf("%s: released as %s%s%s\n", ids[i], new_id,
			    joined ? " to " : "", joined ? joined : "");
			tool_log_event(t, ids[i], "released", new_id, joined);
			tool_audit(t, "%s: action=release new_id=%s%s%s", ids[i],
			    new_id, joined ? " to=" : "", joined ? joined : "");
			if (learn && learn_ham(t, ids[i]) != 0)
				rc = 1;
			break;
		case RELEASE_NOTFOUND:
			if (!o.again && (r = try_remote(t, ids[i], "release",
			    to, nto, wait_ms)) >= 0) {
				if (r != 0 && rc != 1)
					rc = r;
				break;
			}
			rc = tool_fail("%s: no such message in the quarantine", ids[i]);
			break;
		case RELEASE_ALREADY:
			rc = tool_fail("%s: released already (as %s); --again releases "
			    "another copy", ids[i], new_id[0] ? new_id : "?");
			break;
		case RELEASE_DELETED:
			rc = tool_fail("%s: deleted; there is nothing to release",
			    ids[i]);
			break;
		case RELEASE_TWIN:
			rc = tool_fail("%s: %s; --again releases it all the same",
			    ids[i], error);
			free(error);
			error = NULL;
			break;
		case RELEASE_PENDING:
			tool_audit(t, "%s: action=release status=pending reason=\"%s\"",
			    ids[i], error);
			/* FALLTHROUGH */
		case RELEASE_FAILED:
			rc = tool_fail("%s: not released: %s", ids[i], error);
			free(error);
			error = NULL;
			break;
		}
	}
	tool_close_state(t);
	for (i = 0; i < nto; i++)
		free((char *)to[i]);
	free(to);
	free(ids);
	free(joined);
	free(strip);
	return (rc);
}

int
cmd_q_delete(struct tool *t, int argc, char **argv)
{
	char	*error = NULL;
	long	 wait_ms = REMOTE_WAIT_MS;
	int	 i, rc = 0, r, a, n = 0;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--wait") == 0 ||
		    strncmp(argv[a], "--wait=", 7) == 0)
			wait_ms = wait_arg(t, tool_opt_value(t, argc, argv, &a,
			    "--wait"));
		else if (argv[a][0] == '-')
			tool_bad_arg(t, argv[a]);
		else
			argv[++n] = argv[a];
	}
	argc = n + 1;
	if (argc < 2)
		tool_bad_usage(t, "which messages? (IDs from quarantine list)");
	tool_open_state(t);
	for (i = 1; i < argc; i++) {
		switch (quarantine_delete(t->q, argv[i], &error)) {
		case QUARANTINE_OK:
			(void)printf("%s: deleted\n", argv[i]);
			tool_audit(t, "%s: action=delete", argv[i]);
			tool_log_event(t, argv[i], "deleted", NULL, NULL);
			break;
		case QUARANTINE_UNCHANGED:
			/* (A file an interrupted delete left is gone now.) */
			rc = tool_fail("%s: deleted already", argv[i]);
			break;
		case QUARANTINE_NOTFOUND:
			if ((r = try_remote(t, argv[i], "delete", NULL, 0,
			    wait_ms)) >= 0) {
				if (r != 0 && rc != 1)
					rc = r;
				break;
			}
			rc = tool_fail("%s: no such message in the quarantine", argv[i]);
			break;
		default:
			rc = tool_fail("%s: not deleted: %s", argv[i], error);
			free(error);
			error = NULL;
			break;
		}
	}
	tool_close_state(t);
	return (rc);
}

/* The ids an expiry will remove, for their message log events. */
struct expiring {
	char		**ids;
	size_t		 n;
	time_t		 cutoff;
};

static int
expiring_one(void *arg, const struct quarantine_entry *e)
{
	struct expiring	*x = arg;

	if (e->state == QSTATE_DELETED || e->quarantined >= x->cutoff)
		return (0);
	x->ids = xreallocarray(x->ids, x->n + 1, sizeof(*x->ids));
	x->ids[x->n++] = xstrdup(e->qid);
	return (0);
}

int
cmd_q_expire(struct tool *t, int argc, char **argv)
{
	struct quarantine_query qq;
	struct expiring	 x = { NULL, 0, 0 };
	const char	*v = NULL;
	char		*error = NULL, size[16];
	uint64_t	 bytes = 0;
	size_t		 n = 0, k;
	long		 ms;
	int		 i, rc = 0;

	for (i = 1; i < argc; i++) {
		if ((v = tool_opt_value(t, argc, argv, &i, "--older-than")) == NULL)
			tool_bad_arg(t, argv[i]);
	}
	if (v == NULL)
		tool_bad_usage(t, "--older-than is required");
	if (config_parse_time(v, &ms) < 0)
		tool_bad_usage(t, "--older-than %s: not a duration (use 30d, 12h, "
		    "90m)", v);
	if (ms < 1000)
		tool_bad_usage(t, "--older-than %s: less than a second", v);
	tool_open_state(t);
	memset(&qq, 0, sizeof(qq));
	qq.state = -1;
	x.cutoff = qq.until = time(NULL) - ms / 1000;
	if (t->conf->message_log && quarantine_list(t->q, &qq, expiring_one, &x,
	    &error) < 0) {
		hs_warnx("message log: %s", error);
		free(error);
		error = NULL;
	}
	if (quarantine_expire(t->q, x.cutoff, &n, &bytes, &error) < 0)
		rc = tool_fail("expire: %s", error);
	for (k = 0; k < x.n; k++) {
		if (rc == 0)
			tool_log_event(t, x.ids[k], "expired", NULL, NULL);
		free(x.ids[k]);
	}
	free(x.ids);
	out_size(bytes, size, sizeof(size));
	(void)printf("expired %zu message%s (%s freed)\n", n, n == 1 ? "" : "s",
	    size);
	if (n > 0)
		tool_audit(t, "expire: older_than=%s removed=%zu bytes=%" PRIu64, v,
		    n, bytes);
	free(error);
	tool_close_state(t);
	return (rc);
}

struct checker {
	size_t	 repaired;
	size_t	 problems;
	size_t	 skipped;
};

static void
check_line(void *arg, enum quarantine_finding kind, const char *line)
{
	struct checker	*c = arg;
	const char	*tag = "repaired";

	switch (kind) {
	case QCHECK_REPAIRED:
		c->repaired++;
		break;
	case QCHECK_PROBLEM:
		c->problems++;
		tag = "problem";
		break;
	case QCHECK_SKIPPED:
		c->skipped++;
		tag = "skipped";
		break;
	}
	(void)printf("%s: %s\n", tag, line);
}

int
cmd_q_check(struct tool *t, int argc, char **argv)
{
	struct checker	 c = { 0, 0, 0 };
	char		*error = NULL;
	bool		 live;
	int		 problems;

	if (argc != 1)
		tool_bad_arg(t, argv[1]);
	live = tool_daemon_pid(t) != 0;
	tool_open_state(t);
	problems = quarantine_check(t->q, t->ql, t->qdirfd, t->commit.claimed,
	    live, check_line, &c, &error);
	tool_close_state(t);
	if (problems < 0)
		return (tool_fail("%s", error));
	/* Agreement is claimed only for what was judged. */
	if (c.skipped > 0)
		(void)printf("quarantine: %zu file%s skipped, too recent to judge "
		    "while holdscand runs; check again later\n",
		    c.skipped, c.skipped == 1 ? "" : "s");
	if (c.repaired + c.problems == 0)
		(void)printf("quarantine: %s\n", c.skipped > 0 ? "the other "
		    "files and the index agree" : "files and index agree");
	else
		tool_audit(t, "quarantine check: repaired=%zu problems=%zu skipped=%zu",
		    c.repaired, c.problems, c.skipped);
	return (problems > 0 ? 1 : 0);
}
