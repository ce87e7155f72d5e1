/*
 * NAME
 *	shipper - ship the message log to a farm's PostgreSQL database
 * DESCRIPTION
 *	A thread of holdscand's master, started and stopped with the state
 *	environment (stateenv.c), when database is set. It takes the
 *	oldest entries of the outbox (at most SHIPPER_BATCH), reads each
 *	record and its events as they are now from its own handles, and
 *	stores them in one PostgreSQL transaction:
 *
 *	  INSERT INTO message_events ... ON CONFLICT (host, seq, n) DO NOTHING
 *	  INSERT INTO message_log ... SELECT ... FROM unnest($1::text[], ...)
 *	      ON CONFLICT (host, seq) DO UPDATE
 *
 *	the records in one statement, each column an array of the batch's
 *	values (one round trip a batch, not one a record: e2e 1520 and the
 *	bench's shipping rate); an event is one statement, and so is a record
 *	that cannot be a row of the arrays (a newline in an address).
 *
 *	(a record that is gone, retracted by a recovery, is deleted), then
 *	removes the entries it shipped. A crash between the commit and the
 *	removal ships them again: the unique key (host, seq) keeps one row
 *	per record, and a record's row only ever gets its newer fields
 *	(a corrected new id, the ids of its releases).
 *
 *	Why a thread and not a process: the outbox, the message log and
 *	the records it reads are in the master's Berkeley DB environment,
 *	which is opened, recovered and reopened by the master; a thread
 *	lives exactly as long as the environment's handles (like the state
 *	watch) and needs no second opener, no process to supervise and no
 *	protocol. It has handles of its own (one thread each), blocks every
 *	signal, and waits for PostgreSQL only in poll(2) with bounds and a
 *	stop pipe (pgdb.c): mail flow never waits for it.
 *
 *	Outages: a failed connection is retried after 1 s, doubling up to
 *	30 s. The first failure logs one warning, the return one info line,
 *	nothing in between. A record the database refuses (a statement
 *	error, not the connection) is logged and skipped, so that it cannot
 *	stop the rest.
 *
 *	This module must never write the message log, never touch queue
 *	files, never log the conninfo (it may hold a password) and never
 *	keep the master waiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/shipper.h"
#include "state/msglog.h"
#include "state/outbox.h"
#include "state/pgdb.h"

#define BACKOFF_MIN_MS	1000
#define BACKOFF_MAX_MS	30000
#define IDLE_MS		500

struct shipper {
	struct statedb	*sdb;
	struct outbox	*outbox;	/* the thread's own handles */
	struct msglog	*msglog;
	char		*conninfo;
	char		*host;
	int		 stop[2];	/* a byte in stop[1]: stop */
	pthread_t	 thread;
	PGconn		*conn;
	bool		 down_logged;	/* warned; the return says so */
	bool		 connected_once;
	bool		 up;		/* atomic */
	bool		 drained;	/* atomic: the last round shipped all */
	uint64_t	 shipped;	/* atomic */
	struct outbox_entry v[SHIPPER_BATCH];
};

static const char insert_record[] =
    "INSERT INTO message_log (host, seq, time, orig_id, orig_inode, new_id,"
    " quarantine_id, sender, recipients, size, subject, client_address,"
    " sasl_username, verdict, action, reason, plugins, hold_ms, scan_ms,"
    " release_ids) VALUES ($1, $2::bigint, to_timestamp($3::bigint), $4,"
    " $5::bigint, $6, $7, $8, $9::text[], $10::bigint, $11, $12, $13, $14,"
    " $15, $16, $17, $18::bigint, $19::bigint,"
    " coalesce(string_to_array(nullif($20, ''), ' '), '{}'))"
    " ON CONFLICT (host, seq) DO UPDATE SET new_id = EXCLUDED.new_id,"
    " quarantine_id = EXCLUDED.quarantine_id,"
    " release_ids = EXCLUDED.release_ids, shipped = now()";
/*
 * Many records in one statement: each column an array, unnest()ed into
 * rows (the recipients of a row joined by newlines, its release ids by
 * spaces). One round trip for a batch instead of one a record.
 */
static const char insert_records[] =
    "INSERT INTO message_log (host, seq, time, orig_id, orig_inode, new_id,"
    " quarantine_id, sender, recipients, size, subject, client_address,"
    " sasl_username, verdict, action, reason, plugins, hold_ms, scan_ms,"
    " release_ids) SELECT u.host, u.seq, to_timestamp(u.t), u.orig_id,"
    " u.ino, u.new_id, u.qid, u.sender, string_to_array(u.rcpts, E'\\n'),"
    " u.size, u.subject, u.client, u.sasl, u.verdict, u.action, u.reason,"
    " u.plugins, u.hold, u.scan,"
    " coalesce(string_to_array(nullif(u.rel, ''), ' '), '{}')"
    " FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[],"
    " $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[],"
    " $10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[],"
    " $15::text[], $16::text[], $17::text[], $18::bigint[], $19::bigint[],"
    " $20::text[]) AS u(host, seq, t, orig_id, ino, new_id, qid, sender,"
    " rcpts, size, subject, client, sasl, verdict, action, reason, plugins,"
    " hold, scan, rel)"
    " ON CONFLICT (host, seq) DO UPDATE SET new_id = EXCLUDED.new_id,"
    " quarantine_id = EXCLUDED.quarantine_id,"
    " release_ids = EXCLUDED.release_ids, shipped = now()";
static const char insert_event[] =
    "INSERT INTO message_events (host, seq, n, time, kind, new_id, detail)"
    " VALUES ($1, $2::bigint, $3::int, to_timestamp($4::bigint), $5, $6, $7)"
    " ON CONFLICT (host, seq, n) DO NOTHING";
static const char delete_events[] =
    "DELETE FROM message_events WHERE host = $1 AND seq = $2::bigint";
static const char delete_record[] =
    "DELETE FROM message_log WHERE host = $1 AND seq = $2::bigint";

/* What ship() found. */
enum shipped {
	SHIP_OK,
	SHIP_LOST,		/* the connection: try again later */
	SHIP_REFUSED,		/* a statement failed: the connection is fine */
	SHIP_LOCAL,		/* the state environment failed */
};

/*
 * s, valid UTF-8, into out: a byte that starts no valid sequence is a
 * '?' (a database in UTF-8 refuses the whole row otherwise).
 */
static void
put_utf8(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int		 n, i;

	while (*p) {
		n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 :
		    (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 &&
		    *p <= 0xf4 ? 4 : 0;
		for (i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		if (n == 0) {
			buf_putc(out, '?');
			p++;
			continue;
		}
		for (i = 0; i < n; i++)
			buf_putc(out, (char)p[i]);
		p += n;
	}
}

/* The parameters of one statement, each a string of its own. */
struct params {
	struct buf	 b[20];
	const char	*v[20];
	int		 n;
};

static void
param(struct params *pp, const char *s)
{
	struct buf	*b = &pp->b[pp->n];

	b->len = 0;
	put_utf8(b, s);
	buf_putc(b, '\0');
	pp->n++;
}

static void
param_u64(struct params *pp, uint64_t v)
{
	char	 s[24];

	(void)snprintf(s, sizeof(s), "%" PRIu64, v);
	param(pp, s);
}

/* A text[] literal: {"a","b"} with " and \ escaped. */
static void
param_array(struct params *pp, const char **v, size_t n)
{
	struct buf	 t = BUF_INIT;
	const char	*p;
	size_t		 i;

	buf_putc(&t, '{');
	for (i = 0; i < n; i++) {
		buf_printf(&t, "%s\"", i ? "," : "");
		for (p = v[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(&t, '\\');
			buf_putc(&t, *p);
		}
		buf_putc(&t, '"');
	}
	buf_putc(&t, '}');
	buf_putc(&t, '\0');
	param(pp, t.data);
	buf_free(&t);
}

static void
params_done(struct params *pp)
{
	int	 i;

	for (i = 0; i < pp->n; i++)
		pp->v[i] = pp->b[i].data;
}

static void
params_free(struct params *pp)
{
	size_t	 i;

	for (i = 0; i < sizeof(pp->b) / sizeof(pp->b[0]); i++)
		buf_free(&pp->b[i]);
}

/* The columns of insert_records: one array literal each, being built. */
struct columns {
	struct buf	 b[20];
	struct buf	 tmp;
	size_t		 rows;
};

/* One element of column i: "s" (valid UTF-8, " and \ escaped). */
static void
col_text(struct columns *cs, int i, const char *s)
{
	struct buf	*b = &cs->b[i];
	size_t		 j;

	cs->tmp.len = 0;
	put_utf8(&cs->tmp, s);
	buf_putc(b, b->len == 0 ? '{' : ',');
	buf_putc(b, '"');
	for (j = 0; j < cs->tmp.len; j++) {
		if (cs->tmp.data[j] == '"' || cs->tmp.data[j] == '\\')
			buf_putc(b, '\\');
		buf_putc(b, cs->tmp.data[j]);
	}
	buf_putc(b, '"');
}

static void
col_u64(struct columns *cs, int i, uint64_t v)
{
	struct buf	*b = &cs->b[i];

	buf_putc(b, b->len == 0 ? '{' : ',');
	buf_printf(b, "%" PRIu64, v);
}

/* A record's row, or false when it cannot be one (a newline in an address). */
static bool
columns_add(struct columns *cs, const struct msglog_rec *r)
{
	size_t	 i;

	for (i = 0; i < r->nrcpts; i++)
		if (strchr(r->rcpts[i], '\n') != NULL)
			return (false);
	col_text(cs, 0, r->host);
	col_u64(cs, 1, r->seq);
	col_u64(cs, 2, (uint64_t)r->time);
	col_text(cs, 3, r->orig_id);
	col_u64(cs, 4, r->orig_ino);
	col_text(cs, 5, r->new_id);
	col_text(cs, 6, r->quarantine_id);
	col_text(cs, 7, r->sender);
	cs->tmp.len = 0;
	for (i = 0; i < r->nrcpts; i++) {
		if (i)
			buf_putc(&cs->tmp, '\n');
		buf_printf(&cs->tmp, "%s", r->rcpts[i]);
	}
	buf_putc(&cs->tmp, '\0');
	{
		char	*joined = xstrdup(cs->tmp.data);

		col_text(cs, 8, joined);
		free(joined);
	}
	col_u64(cs, 9, r->size);
	col_text(cs, 10, r->subject);
	col_text(cs, 11, r->client);
	col_text(cs, 12, r->sasl_user);
	col_text(cs, 13, r->verdict);
	col_text(cs, 14, r->action);
	col_text(cs, 15, r->reason);
	col_text(cs, 16, r->plugins);
	col_u64(cs, 17, (uint64_t)(r->queue_ms > 0 ? r->queue_ms : 0));
	col_u64(cs, 18, (uint64_t)(r->scan_ms > 0 ? r->scan_ms : 0));
	col_text(cs, 19, r->later_ids);
	cs->rows++;
	return (true);
}

/* The columns as the parameters of insert_records, in pp. */
static void
columns_params(struct columns *cs, struct params *pp)
{
	int	 i;

	pp->n = 0;
	for (i = 0; i < 20; i++) {
		buf_putc(&cs->b[i], '}');
		buf_putc(&cs->b[i], '\0');
		/* Already valid UTF-8 and escaped: taken as it is. */
		pp->b[i].len = 0;
		buf_append(&pp->b[i], cs->b[i].data, cs->b[i].len);
		pp->n++;
	}
}

static void
columns_free(struct columns *cs)
{
	size_t	 i;

	for (i = 0; i < 20; i++)
		buf_free(&cs->b[i]);
	buf_free(&cs->tmp);
}

/* Run one statement: SHIP_OK, SHIP_LOST or SHIP_REFUSED (*error_r). */
static enum shipped
exec(struct shipper *s, const char *sql, struct params *pp, char **error_r)
{
	if (pp != NULL)
		params_done(pp);
	if (pgdb_exec(&s->conn, s->stop[0], PGDB_STATEMENT_MS, sql,
	    pp != NULL ? pp->n : 0, pp != NULL ? pp->v : NULL, NULL,
	    error_r) == 0)
		return (SHIP_OK);
	return (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK ?
	    SHIP_REFUSED : SHIP_LOST);
}

struct evship {
	struct shipper	*s;
	const char	*host;
	uint64_t	 seq;
	int		 n;
	enum shipped	 rc;
	char		*error;
	struct params	*pp;
};

static int
ship_event(void *arg, const struct msglog_event *e)
{
	struct evship	*es = arg;
	struct params	*pp = es->pp;

	pp->n = 0;
	param(pp, es->host);
	param_u64(pp, es->seq);
	param_u64(pp, (uint64_t)++es->n);
	param_u64(pp, (uint64_t)e->time);
	param(pp, e->kind);
	param(pp, e->new_id != NULL ? e->new_id : "");
	param(pp, e->detail != NULL ? e->detail : "");
	es->rc = exec(es->s, insert_event, pp, &es->error);
	return (es->rc != SHIP_OK);
}

/*
 * One record (or its removal) and its events, in the open transaction;
 * the record itself goes into cs, for the batch's one statement, when it
 * can.
 */
static enum shipped
ship_one(struct shipper *s, uint64_t seq, struct params *pp,
    struct columns *cs, char **error_r)
{
	struct msglog_rec r;
	struct evship	 es;
	enum shipped	 rc;
	int		 found;

	if ((found = msglog_get(s->msglog, seq, &r, error_r)) < 0)
		return (SHIP_LOCAL);
	pp->n = 0;
	if (found == 0) {
		/* Retracted (or pruned): not in the database either. */
		param(pp, s->host);
		param_u64(pp, seq);
		if ((rc = exec(s, delete_events, pp, error_r)) != SHIP_OK)
			return (rc);
		return (exec(s, delete_record, pp, error_r));
	}
	if (columns_add(cs, &r))
		goto events;
	param(pp, r.host);
	param_u64(pp, r.seq);
	param_u64(pp, (uint64_t)r.time);
	param(pp, r.orig_id);
	param_u64(pp, r.orig_ino);
	param(pp, r.new_id);
	param(pp, r.quarantine_id);
	param(pp, r.sender);
	param_array(pp, r.rcpts, r.nrcpts);
	param_u64(pp, r.size);
	param(pp, r.subject);
	param(pp, r.client);
	param(pp, r.sasl_user);
	param(pp, r.verdict);
	param(pp, r.action);
	param(pp, r.reason);
	param(pp, r.plugins);
	param_u64(pp, (uint64_t)(r.queue_ms > 0 ? r.queue_ms : 0));
	param_u64(pp, (uint64_t)(r.scan_ms > 0 ? r.scan_ms : 0));
	param(pp, r.later_ids);
	if ((rc = exec(s, insert_record, pp, error_r)) != SHIP_OK) {
		msglog_rec_clear(&r);
		return (rc);
	}
events:
	memset(&es, 0, sizeof(es));
	es.s = s;
	es.host = r.host;
	es.seq = seq;
	es.rc = SHIP_OK;
	es.pp = pp;
	if (msglog_events(s->msglog, seq, ship_event, &es, error_r) < 0)
		rc = SHIP_LOCAL;
	else if ((rc = es.rc) != SHIP_OK)
		*error_r = es.error;
	msglog_rec_clear(&r);
	return (rc);
}

/* v[0..n) in one PostgreSQL transaction. */
static enum shipped
ship(struct shipper *s, const struct outbox_entry *v, size_t n,
    char **error_r)
{
	struct params	 pp;
	struct columns	 cs;
	enum shipped	 rc;
	char		*error = NULL;
	size_t		 i;

	memset(&pp, 0, sizeof(pp));
	memset(&cs, 0, sizeof(cs));
	if ((rc = exec(s, "BEGIN", NULL, error_r)) != SHIP_OK)
		return (rc);
	for (i = 0; i < n && rc == SHIP_OK; i++)
		rc = ship_one(s, v[i].seq, &pp, &cs, error_r);
	if (rc == SHIP_OK && cs.rows > 0) {
		columns_params(&cs, &pp);
		rc = exec(s, insert_records, &pp, error_r);
	}
	columns_free(&cs);
	params_free(&pp);
	if (rc == SHIP_OK)
		rc = exec(s, "COMMIT", NULL, error_r);
	if (rc != SHIP_OK && s->conn != NULL &&
	    exec(s, "ROLLBACK", NULL, &error) != SHIP_OK)
		free(error);
	return (rc);
}

/* Wait ms or until stopped; true when stopped. */
static bool
pause_ms(struct shipper *s, long ms)
{
	struct pollfd	 pfd;

	pfd.fd = s->stop[0];
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, (int)ms) < 0 && errno != EINTR)
		return (false);
	return (pfd.revents != 0);
}

static bool
stopped(struct shipper *s)
{
	return (pause_ms(s, 0));
}

/* Down: disconnect, and say so once (why is freed). */
static void
went_down(struct shipper *s, char *why)
{
	if (s->conn != NULL)
		PQfinish(s->conn);
	s->conn = NULL;
	__atomic_store_n(&s->up, false, __ATOMIC_RELAXED);
	__atomic_store_n(&s->drained, false, __ATOMIC_RELAXED);
	/* Stopping ends a wait for the database: that is no outage. */
	if (!s->down_logged && !stopped(s))
		hs_warnx("database: %s; the message log waits in the outbox "
		    "and is shipped when the database is back (mail flow goes "
		    "on)", why);
	s->down_logged = true;
	free(why);
}

/* Connected, with the schema this holdscan writes: 0; else -1. */
static int
connect_db(struct shipper *s)
{
	char	*error = NULL, *why;
	int	 version;

	if (pgdb_connect(s->conninfo, "holdscand", s->stop[0], &s->conn,
	    &error) < 0) {
		went_down(s, xasprintf("cannot connect: %s", error));
		free(error);
		return (-1);
	}
	if (pgdb_schema_version(&s->conn, &version, &error) < 0 ||
	    version != PGDB_SCHEMA_VERSION) {
		why = error != NULL ? xasprintf("cannot read the schema: %s",
		    error) : xasprintf("the schema is version %d, holdscand "
		    "needs %d: run \"holdscan db %s\"", version,
		    PGDB_SCHEMA_VERSION, version == 0 ? "init" : "upgrade");
		went_down(s, why);
		free(error);
		return (-1);
	}
	if (s->down_logged)
		hs_info("database: reachable again; shipping the outbox");
	else if (!s->connected_once)
		hs_info("database: connected; shipping the message log");
	s->down_logged = false;
	s->connected_once = true;
	__atomic_store_n(&s->up, true, __ATOMIC_RELAXED);
	return (0);
}

/* One round: ship what waits. The pause to take after it (ms). */
static long
round_once(struct shipper *s, long *backoff)
{
	char		*error = NULL;
	size_t		 n = 0, i;
	enum shipped	 rc;

	if (s->conn == NULL && connect_db(s) < 0) {
		long	 ms = *backoff;

		*backoff = *backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    *backoff * 2;
		return (ms);
	}
	*backoff = BACKOFF_MIN_MS;
	if (outbox_take(s->outbox, s->v, SHIPPER_BATCH, &n, &error) < 0) {
		hs_warnx("database: %s", error);
		free(error);
		return (BACKOFF_MAX_MS);
	}
	if (n == 0) {
		__atomic_store_n(&s->drained, true, __ATOMIC_RELAXED);
		return (IDLE_MS);
	}
	__atomic_store_n(&s->drained, false, __ATOMIC_RELAXED);
	rc = ship(s, s->v, n, &error);
	if (rc == SHIP_REFUSED) {
		/* One row at a time: skip the one the database refuses. */
		free(error);
		error = NULL;
		for (i = 0; i < n && rc != SHIP_LOST && rc != SHIP_LOCAL; i++) {
			rc = ship(s, &s->v[i], 1, &error);
			if (rc == SHIP_REFUSED) {
				hs_warnx("database: record %" PRIu64 " refused, "
				    "not shipped: %s", s->v[i].seq, error);
				free(error);
				error = NULL;
			}
		}
		if (rc == SHIP_REFUSED)
			rc = SHIP_OK;
	}
	if (rc == SHIP_LOST) {
		went_down(s, xasprintf("connection lost: %s", error));
		free(error);
		return (BACKOFF_MIN_MS);
	}
	if (rc == SHIP_LOCAL) {
		hs_warnx("database: %s", error);
		free(error);
		return (BACKOFF_MAX_MS);
	}
	if (outbox_done(s->outbox, s->v, n, &error) < 0) {
		hs_warnx("database: %s (shipped again later)", error);
		free(error);
		return (BACKOFF_MAX_MS);
	}
	__atomic_add_fetch(&s->shipped, n, __ATOMIC_RELAXED);
	return (n == SHIPPER_BATCH ? 0 : IDLE_MS);
}

static void *
ship_main(void *arg)
{
	struct shipper	*s = arg;
	long		 backoff = BACKOFF_MIN_MS, ms;

	while (!stopped(s)) {
		ms = round_once(s, &backoff);
		if (ms > 0 && pause_ms(s, ms))
			break;
	}
	if (s->conn != NULL)
		PQfinish(s->conn);
	s->conn = NULL;
	return (NULL);
}

static void
free_shipper(struct shipper *s)
{
	msglog_close(&s->msglog);
	outbox_close(&s->outbox);
	if (s->stop[0] >= 0)
		(void)close(s->stop[0]);
	if (s->stop[1] >= 0)
		(void)close(s->stop[1]);
	free(s->conninfo);
	free(s->host);
	free(s);
}

int
shipper_start(struct statedb *sdb, const char *conninfo, const char *host,
    struct shipper **s_r, char **error_r)
{
	struct shipper	*s = xcalloc(1, sizeof(*s));
	sigset_t	 all, old;
	int		 ret;

	s->sdb = sdb;
	s->stop[0] = s->stop[1] = -1;
	s->conninfo = xstrdup(conninfo);
	s->host = xstrdup(host);
	if (pipe2(s->stop, O_CLOEXEC | O_NONBLOCK) < 0) {
		*error_r = xasprintf("database shipper: pipe: %s",
		    strerror(errno));
		free_shipper(s);
		return (-1);
	}
	if (outbox_open(sdb, 1, &s->outbox, error_r) < 0 ||
	    msglog_open_reader(sdb, &s->msglog, error_r) < 0) {
		free_shipper(s);
		return (-1);
	}
	/* Signals are the main thread's: the shipper starts with all blocked. */
	(void)sigfillset(&all);
	if ((ret = pthread_sigmask(SIG_SETMASK, &all, &old)) == 0) {
		ret = pthread_create(&s->thread, NULL, ship_main, s);
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (ret != 0) {
		*error_r = xasprintf("database shipper: pthread_create: %s",
		    strerror(ret));
		free_shipper(s);
		return (-1);
	}
	*s_r = s;
	return (0);
}

void
shipper_stop(struct shipper **sp)
{
	struct shipper	*s = *sp;

	if (s == NULL)
		return;
	if (write(s->stop[1], "x", 1) < 0)
		hs_warn("database shipper: stop");
	(void)pthread_join(s->thread, NULL);
	free_shipper(s);
	*sp = NULL;
}

uint64_t
shipper_shipped(const struct shipper *s)
{
	return (s != NULL ? __atomic_load_n(&s->shipped, __ATOMIC_RELAXED) : 0);
}

bool
shipper_drained(const struct shipper *s)
{
	return (s != NULL && __atomic_load_n(&s->drained, __ATOMIC_RELAXED));
}

bool
shipper_up(const struct shipper *s)
{
	return (s != NULL && __atomic_load_n(&s->up, __ATOMIC_RELAXED));
}
