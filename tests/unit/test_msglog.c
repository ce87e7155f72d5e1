/*
 * NAME
 *	test_msglog - unit tests for the message log
 * DESCRIPTION
 *	The record and event formats (escapes, recipients, refusal of
 *	malformed values), and in a real Berkeley DB environment: records
 *	written in a caller's transaction exist only if it commits, the
 *	sequence numbers only grow (pruning never lowers them), the indices
 *	find a record by each of its ids, sender and recipient, queries
 *	filter and come newest first, a corrected new id is found by its
 *	index, a retraction removes one attempt's
 *	record, events are appended in order (a release's new id then finds
 *	the record), records of several days are found by their day's keys
 *	(streamed across days, since/until choosing them), an index of the
 *	older format is refused and made anew, and pruning removes at most
 *	its bound per call, oldest first. Readers and holdscand's
 *	transaction: a query or a trace while a transaction has written
 *	records and index keys on the same pages neither waits nor sees
 *	them (nor a release id it has not committed), and sees them once
 *	it commits; while a reader calls back, a writer whose lock wait
 *	is bounded to 1 ms writes on the pages the reader walked. With an outbox (a farm), each
 *	change puts its record's sequence number in the same transaction,
 *	a shipped entry that was put again meanwhile stays, and beyond
 *	outbox_limit the oldest entries are dropped and counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "state/msglog.h"
#include "state/outbox.h"
#include "state/statedb.h"

static const char *rcpts2[] = { "a,b@example.net", "Rcpt@Example.NET" };

static struct msglog_rec
rec(const char *orig, uint64_t ino, time_t when, const char *sender,
    const char *new_id, const char *qid)
{
	struct msglog_rec r;

	memset(&r, 0, sizeof(r));
	r.time = when;
	r.host = "mx1.example.org";
	r.orig_id = orig;
	r.orig_ino = ino;
	r.new_id = new_id;
	r.quarantine_id = qid;
	r.sender = sender;
	r.rcpts = rcpts2;
	r.nrcpts = 2;
	r.size = 1234;
	r.subject = "tab\there, back\\slash\nnewline";
	r.client = "192.0.2.1";
	r.sasl_user = "";
	r.verdict = qid[0] ? "infected" : "clean";
	r.action = qid[0] ? "quarantine" : "deliver";
	r.reason = qid[0] ? "Eicar-Signature" : "";
	r.plugins = "clamav=clean headers=clean";
	r.queue_ms = 1500;
	r.scan_ms = 7;
	return (r);
}

static void
test_record_round_trip(void **state)
{
	struct msglog_rec r = rec("3F2A1C0B7", 99, 1700000000, "s@example.org",
	    "4B1C2D3E4", ""), d;
	struct buf	 b = BUF_INIT;

	(void)state;
	r.seq = 42;
	msglog_encode(&r, &b);
	assert_null(memchr(b.data, '\n', b.len));
	assert_int_equal(msglog_decode(b.data, b.len, &d), 0);
	assert_int_equal(d.seq, 42);
	assert_int_equal(d.time, 1700000000);
	assert_int_equal(d.orig_ino, 99);
	assert_string_equal(d.host, "mx1.example.org");
	assert_string_equal(d.orig_id, "3F2A1C0B7");
	assert_string_equal(d.new_id, "4B1C2D3E4");
	assert_string_equal(d.quarantine_id, "");
	assert_int_equal(d.nrcpts, 2);
	assert_string_equal(d.rcpts[0], "a,b@example.net");
	assert_string_equal(d.rcpts[1], "Rcpt@Example.NET");
	assert_string_equal(d.subject, "tab\there, back\\slash\nnewline");
	assert_string_equal(d.client, "192.0.2.1");
	assert_string_equal(d.plugins, "clamav=clean headers=clean");
	assert_int_equal(d.queue_ms, 1500);
	assert_int_equal(d.scan_ms, 7);
	msglog_rec_clear(&d);

	/* No recipients at all. */
	r.nrcpts = 0;
	buf_reset(&b);
	msglog_encode(&r, &b);
	assert_int_equal(msglog_decode(b.data, b.len, &d), 0);
	assert_int_equal(d.nrcpts, 0);
	msglog_rec_clear(&d);
	buf_free(&b);
}

static void
test_malformed_records_are_refused(void **state)
{
	struct msglog_rec d;
	struct msglog_event e;
	char		*store = NULL;
	static const char *bad[] = {
		"",
		"2\t1\t1\th\ti\t1\t\t\ts\t\t1\t\t\t\tv\ta\t\t\t0\t0",	/* format */
		"1\t1\t1\th\ti\t1\t\t\ts\t\t1\t\t\t\tv\ta\t\t\t0",	/* short */
		"1\tx\t1\th\ti\t1\t\t\ts\t\t1\t\t\t\tv\ta\t\t\t0\t0",	/* seq */
		"1\t1\t1\th\\q\ti\t1\t\t\ts\t\t1\t\t\t\tv\ta\t\t\t0\t0", /* escape */
	};
	const char	 good[] = "1\t1\t1\th\ti\t1\t\t\ts\t\t1\t\t\t\tv\ta\t\t\t0\t0";
	const char	 nul[] = "1\t1\t1\th\0i\t1\t\t\ts\t\t1\t\t\t\tv\ta\t\t\t0\t0";
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(msglog_decode(bad[i], strlen(bad[i]), &d), -1);
	assert_int_equal(msglog_decode(nul, sizeof(nul) - 1, &d), -1);
	assert_int_equal(msglog_decode(good, strlen(good), &d), 0);
	msglog_rec_clear(&d);
	assert_int_equal(msglog_event_decode("1\tx\tk\t\t", 8, &e, &store), -1);
	assert_int_equal(msglog_event_decode("1\t5\treleased\tNEW\tto\\, me",
	    24, &e, &store), 0);
	assert_string_equal(e.kind, "released");
	assert_string_equal(e.new_id, "NEW");
	assert_string_equal(e.detail, "to, me");
	free(store);
}

/* --- in Berkeley DB -------------------------------------------------------- */

struct env {
	char		 dir[64];
	struct statedb	*sdb;
	struct msglog	*ml;
};

static void
env_open(struct env *v)
{
	char	*error = NULL;

	(void)snprintf(v->dir, sizeof(v->dir), "/tmp/test_msglog.XXXXXX");
	assert_non_null(mkdtemp(v->dir));
	if (statedb_open(v->dir, &v->sdb, &error) < 0 ||
	    msglog_open(v->sdb, &v->ml, &error) < 0)
		fail_msg("%s", error);
}

static void
env_close(struct env *v)
{
	char	 cmd[128];

	msglog_close(&v->ml);
	statedb_close(&v->sdb);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", v->dir);
	assert_int_equal(system(cmd), 0);
}

/* Add r in a transaction of its own that commits (or aborts). */
static uint64_t
add(struct env *v, struct msglog_rec r, bool commit)
{
	DB_TXN	*txn;
	char	*error = NULL;

	assert_int_equal(v->sdb->env->txn_begin(v->sdb->env, NULL, &txn, 0), 0);
	if (msglog_add(v->ml, txn, &r, &error) < 0)
		fail_msg("%s", error);
	if (commit)
		assert_int_equal(txn->commit(txn, 0), 0);
	else
		assert_int_equal(txn->abort(txn), 0);
	return (r.seq);
}

struct seen {
	uint64_t	 seq[16];
	size_t		 n;
};

static int
seen_one(void *arg, const struct msglog_rec *r)
{
	struct seen	*s = arg;

	if (s->n < 16)
		s->seq[s->n++] = r->seq;
	return (0);
}

static size_t
find(struct env *v, const char *id, struct seen *s)
{
	char	*error = NULL;
	size_t	 n = 0;

	memset(s, 0, sizeof(*s));
	if (msglog_find(v->ml, id, seen_one, s, &n, &error) < 0)
		fail_msg("%s", error);
	return (n);
}

static size_t
query(struct env *v, const struct msglog_query *q, struct seen *s)
{
	char	*error = NULL;

	memset(s, 0, sizeof(*s));
	if (msglog_query(v->ml, q, seen_one, s, &error) < 0)
		fail_msg("%s", error);
	return (s->n);
}

static void
test_records_and_indices(void **state)
{
	struct msglog_query q;
	struct env	 v;
	struct seen	 s;
	char		*error = NULL;
	uint64_t	 a, b, c, d;

	(void)state;
	env_open(&v);
	a = add(&v, rec("AAA111", 1, 1000, "one@example.org", "NEW111", ""), true);
	(void)add(&v, rec("XXX999", 9, 1500, "lost@example.org", "NEW999", ""),
	    false);	/* its transaction aborts: no record */
	b = add(&v, rec("BBB222", 2, 2000, "two@example.org", "",
	    "20260101T000000-BBB222"), true);
	c = add(&v, rec("CCC333", 3, 3000, "One@Example.org", "NEW333", ""), true);
	assert_true(a < b && b < c);

	assert_int_equal(find(&v, "XXX999", &s), 0);
	assert_int_equal(find(&v, "AAA111", &s), 1);
	assert_int_equal(s.seq[0], a);
	assert_int_equal(find(&v, "NEW111", &s), 1);
	assert_int_equal(s.seq[0], a);
	assert_int_equal(find(&v, "20260101T000000-BBB222", &s), 1);
	assert_int_equal(s.seq[0], b);

	/* Published under another id than planned. */
	assert_int_equal(msglog_set_new_id(v.ml, c, "OTHER333", &error), 0);
	assert_int_equal(find(&v, "NEW333", &s), 0);
	assert_int_equal(find(&v, "OTHER333", &s), 1);
	assert_int_equal(s.seq[0], c);

	memset(&q, 0, sizeof(q));
	assert_int_equal(query(&v, &q, &s), 3);
	assert_int_equal(s.seq[0], c);		/* newest first */
	assert_int_equal(s.seq[2], a);
	q.sender = "ONE@example.org";
	assert_int_equal(query(&v, &q, &s), 2);
	assert_int_equal(s.seq[0], c);
	memset(&q, 0, sizeof(q));
	q.rcpt = "rcpt@example.net";
	assert_int_equal(query(&v, &q, &s), 3);
	q.verdict = "infected";
	assert_int_equal(query(&v, &q, &s), 1);
	assert_int_equal(s.seq[0], b);
	memset(&q, 0, sizeof(q));
	q.since = 1500;
	q.until = 2500;
	assert_int_equal(query(&v, &q, &s), 1);
	assert_int_equal(s.seq[0], b);
	memset(&q, 0, sizeof(q));
	q.limit = 2;
	q.action = "deliver";
	assert_int_equal(query(&v, &q, &s), 2);
	assert_int_equal(s.seq[0], c);
	/* Backward by time: until, since, the limit. */
	memset(&q, 0, sizeof(q));
	q.until = 2000;
	assert_int_equal(query(&v, &q, &s), 2);
	assert_int_equal(s.seq[0], b);
	assert_int_equal(s.seq[1], a);
	memset(&q, 0, sizeof(q));
	q.since = 2000;
	assert_int_equal(query(&v, &q, &s), 2);
	assert_int_equal(s.seq[0], c);
	assert_int_equal(s.seq[1], b);
	memset(&q, 0, sizeof(q));
	q.until = 2999;
	q.limit = 1;
	assert_int_equal(query(&v, &q, &s), 1);
	assert_int_equal(s.seq[0], b);
	/* The same second: the later record first. */
	d = add(&v, rec("DDD444", 4, 3000, "d@example.org", "NEW444", ""), true);
	memset(&q, 0, sizeof(q));
	q.limit = 2;
	assert_int_equal(query(&v, &q, &s), 2);
	assert_int_equal(s.seq[0], d);
	assert_int_equal(s.seq[1], c);
	env_close(&v);
}

static int
event_kinds(void *arg, const struct msglog_event *e)
{
	struct buf	*b = arg;

	buf_printf(b, "%s:%s ", e->kind, e->new_id);
	return (0);
}

static void
test_retract_and_events(void **state)
{
	struct msglog_event e = { 2000, "released", "REL111", "" };
	struct env	 v;
	struct seen	 s;
	struct buf	 b = BUF_INIT;
	DB_TXN		*txn;
	char		*error = NULL;
	uint64_t	 first, again;

	(void)state;
	env_open(&v);
	first = add(&v, rec("AAA111", 1, 1000, "s@example.org", "",
	    "Q-AAA111"), true);
	/* Rolled back by recovery: gone; the rescan logs it again. */
	assert_int_equal(v.sdb->env->txn_begin(v.sdb->env, NULL, &txn, 0), 0);
	assert_int_equal(msglog_retract(v.ml, txn, "AAA111", 7, &error), 0);
	assert_int_equal(msglog_retract(v.ml, txn, "AAA111", 1, &error), 1);
	assert_int_equal(txn->commit(txn, 0), 0);
	assert_int_equal(find(&v, "AAA111", &s), 0);
	again = add(&v, rec("AAA111", 1, 1100, "s@example.org", "",
	    "Q-AAA111"), true);
	assert_true(again > first);

	assert_int_equal(msglog_append_event(v.ml, NULL, "Q-AAA111", &e,
	    &error), 1);
	/* The release's new id finds the record now. */
	assert_int_equal(find(&v, "REL111", &s), 1);
	assert_int_equal(s.seq[0], again);
	e.kind = "deleted";
	e.new_id = "";
	assert_int_equal(msglog_append_event(v.ml, NULL, "AAA111", &e,
	    &error), 1);
	assert_int_equal(msglog_append_event(v.ml, NULL, "NOSUCH", &e,
	    &error), 0);
	if (msglog_events(v.ml, again, event_kinds, &b, &error) < 0)
		fail_msg("%s", error);
	assert_string_equal(b.data, "released:REL111 deleted: ");
	buf_free(&b);
	env_close(&v);
}

/*
 * Records of several days: the index keys carry the record's day, and a
 * lookup by address or id reads each day's key (newest first, streamed
 * with a limit across days, since/until choosing the days); events and a
 * retraction find a record of an older day; records dated a century
 * ahead and in 1970 are found (one key per day that has records, not
 * per day between). Then an index of the older
 * format (no "index" in msglog-meta.db, the old index's file there):
 * msglog_open() refuses it, msglog_rebuild_index() makes it anew and
 * removes the old file, and the same lookups answer the same.
 */
static void
test_days_and_rebuild(void **state)
{
	struct msglog_event e = { 0, "released", "REL111", "" };
	struct msglog_query q;
	struct env	 v;
	struct seen	 s;
	DB		*meta, *old;
	DB_TXN		*txn;
	DBT		 k;
	char		*error = NULL, path[256];
	time_t		 base = (time_t)20000 * 86400;
	uint64_t	 a, b, c, f, z;
	size_t		 n = 9;

	(void)state;
	env_open(&v);
	a = add(&v, rec("AAA111", 1, base + 100, "one@example.org", "NEW111",
	    ""), true);
	b = add(&v, rec("BBB222", 2, base + 86400 + 5, "one@example.org", "",
	    "Q-BBB222"), true);
	c = add(&v, rec("CCC333", 3, base + 5 * 86400 + 7, "One@Example.org",
	    "NEW333", ""), true);
	assert_int_equal(find(&v, "AAA111", &s), 1);
	assert_int_equal(s.seq[0], a);
	assert_int_equal(find(&v, "NEW333", &s), 1);
	assert_int_equal(s.seq[0], c);
	assert_int_equal(find(&v, "Q-BBB222", &s), 1);
	assert_int_equal(s.seq[0], b);
	memset(&q, 0, sizeof(q));
	q.sender = "one@EXAMPLE.org";
	assert_int_equal(query(&v, &q, &s), 3);
	assert_true(s.seq[0] == c && s.seq[1] == b && s.seq[2] == a);
	q.stream = true;
	q.limit = 2;
	assert_int_equal(query(&v, &q, &s), 2);
	assert_true(s.seq[0] == c && s.seq[1] == b);
	q.limit = 0;
	q.since = base + 86400;
	assert_int_equal(query(&v, &q, &s), 2);
	assert_true(s.seq[0] == c && s.seq[1] == b);
	q.since = 0;
	q.until = base + 86400 + 10;
	q.stream = false;
	assert_int_equal(query(&v, &q, &s), 2);
	assert_true(s.seq[0] == b && s.seq[1] == a);
	memset(&q, 0, sizeof(q));
	q.rcpt = "RCPT@example.net";
	q.stream = true;
	assert_int_equal(query(&v, &q, &s), 3);
	assert_true(s.seq[0] == c && s.seq[2] == a);
	/* The oldest day's record: an event, then a retraction. */
	e.time = base + 6 * 86400;
	assert_int_equal(msglog_append_event(v.ml, NULL, "NEW111", &e,
	    &error), 1);
	assert_int_equal(find(&v, "REL111", &s), 1);
	assert_int_equal(s.seq[0], a);
	assert_int_equal(v.sdb->env->txn_begin(v.sdb->env, NULL, &txn, 0), 0);
	assert_int_equal(msglog_retract(v.ml, txn, "AAA111", 1, &error), 1);
	assert_int_equal(txn->commit(txn, 0), 0);
	assert_int_equal(find(&v, "AAA111", &s), 0);
	/* Clocks that once were wrong: a century ahead, and 1970. */
	f = add(&v, rec("FFF666", 6, base + (time_t)36500 * 86400,
	    "one@example.org", "", ""), true);
	z = add(&v, rec("ZZZ000", 7, 5, "one@example.org", "", ""), true);
	assert_int_equal(find(&v, "FFF666", &s), 1);
	assert_int_equal(s.seq[0], f);
	assert_int_equal(find(&v, "ZZZ000", &s), 1);
	assert_int_equal(s.seq[0], z);
	memset(&q, 0, sizeof(q));
	q.sender = "one@example.org";
	assert_int_equal(query(&v, &q, &s), 4);
	assert_true(s.seq[0] == z && s.seq[1] == f && s.seq[2] == c &&
	    s.seq[3] == b);

	/* An older holdscand's log. */
	msglog_close(&v.ml);
	if (statedb_open_db_flags(v.sdb, MSGLOG_META_NAME, 0, 0, &meta,
	    &error) < 0 || statedb_open_db_flags(v.sdb, MSGLOG_OLD_INDEX_NAME,
	    DB_DUP | DB_DUPSORT, 0, &old, &error) < 0)
		fail_msg("%s", error);
	memset(&k, 0, sizeof(k));
	k.data = "index";
	k.size = 5;
	assert_int_equal(meta->del(meta, NULL, &k, DB_AUTO_COMMIT), 0);
	assert_int_equal(meta->close(meta, 0), 0);
	assert_int_equal(old->close(old, 0), 0);
	assert_int_equal(msglog_open(v.sdb, &v.ml, &error), -1);
	assert_non_null(strstr(error, "older holdscand"));
	free(error);
	error = NULL;
	if (msglog_rebuild_index(v.sdb, &n, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(n, 4);
	(void)snprintf(path, sizeof(path), "%s/%s", v.dir,
	    MSGLOG_OLD_INDEX_NAME);
	assert_int_equal(access(path, F_OK), -1);
	if (msglog_rebuild_index(v.sdb, &n, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(n, 0);
	if (msglog_open(v.sdb, &v.ml, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(find(&v, "NEW333", &s), 1);
	assert_int_equal(s.seq[0], c);
	assert_int_equal(find(&v, "Q-BBB222", &s), 1);
	assert_int_equal(s.seq[0], b);
	assert_int_equal(find(&v, "REL111", &s), 0);	/* retracted */
	memset(&q, 0, sizeof(q));
	q.sender = "one@example.org";
	q.stream = true;
	assert_int_equal(query(&v, &q, &s), 4);
	/* Streamed: newest day first (the century ahead, ..., 1970). */
	assert_true(s.seq[0] == f && s.seq[1] == c && s.seq[2] == b &&
	    s.seq[3] == z);
	assert_int_equal(find(&v, "ZZZ000", &s), 1);
	env_close(&v);
}

static void
test_prune_is_bounded(void **state)
{
	struct msglog_query q;
	struct env	 v;
	struct seen	 s;
	char		*error = NULL, id[16];
	size_t		 n, i, total = 0;
	uint64_t	 last = 0, next;

	(void)state;
	env_open(&v);
	for (i = 0; i < 12; i++) {
		(void)snprintf(id, sizeof(id), "ID%02zu", i);
		last = add(&v, rec(id, i, (time_t)(1000 + i * 100),
		    "s@example.org", "", ""), true);
	}
	/* 10 are older than 2000; at most 4 per call. */
	assert_int_equal(msglog_prune(v.ml, 2000, 4, &n, &error), 0);
	assert_int_equal(n, 4);
	assert_int_equal(find(&v, "ID00", &s), 0);
	assert_int_equal(find(&v, "ID04", &s), 1);
	do {
		if (msglog_prune(v.ml, 2000, 4, &n, &error) < 0)
			fail_msg("%s", error);
		total += n;
	} while (n == 4);
	assert_int_equal(total, 6);
	assert_int_equal(msglog_count(v.ml, &n, &error), 0);
	assert_int_equal(n, 2);
	memset(&q, 0, sizeof(q));
	assert_int_equal(query(&v, &q, &s), 2);
	/* Everything goes: the sequence still grows. */
	assert_int_equal(msglog_prune(v.ml, 10000, 100, &n, &error), 0);
	assert_int_equal(n, 2);
	next = add(&v, rec("NEXT", 1, 5000, "s@example.org", "", ""), true);
	assert_true(next > last);
	env_close(&v);
}

/* A writer that may wait 1 ms at most for a lock: in a reader's callback. */
struct writer {
	struct env	*v;
	size_t		 n;		/* records seen */
	uint64_t	 written;
};

static int
write_meanwhile(void *arg, const struct msglog_rec *r)
{
	struct writer	*w = arg;
	struct msglog_rec nr = rec("MEAN000", 50, 4000, "s@example.org", "",
	    "");
	DB_TXN		*txn;
	char		*error = NULL;

	(void)r;
	if (w->n++ > 0)
		return (0);
	assert_int_equal(w->v->sdb->env->txn_begin(w->v->sdb->env, NULL,
	    &txn, 0), 0);
	assert_int_equal(txn->set_timeout(txn, 1000, DB_SET_LOCK_TIMEOUT), 0);
	if (msglog_add(w->v->ml, txn, &nr, &error) < 0)
		fail_msg("the writer waited for the reader: %s", error);
	assert_int_equal(txn->commit(txn, 0), 0);
	w->written = nr.seq;
	return (0);
}

static void
test_readers_and_the_writer(void **state)
{
	struct msglog_event e = { 2500, "released", "REL111", "" };
	struct msglog_query q;
	struct msglog_rec r;
	struct writer	 w;
	struct env	 v;
	struct seen	 s;
	DB_TXN		*txn;
	char		*error = NULL, id[16];
	uint64_t	 a, b = 0;
	int		 i;

	(void)state;
	env_open(&v);
	a = add(&v, rec("AAA111", 1, 1000, "s@example.org", "NEW111", ""), true);
	/* holdscand's batch: records on the same index pages, uncommitted. */
	assert_int_equal(v.sdb->env->txn_begin(v.sdb->env, NULL, &txn, 0), 0);
	for (i = 0; i < 50; i++) {
		(void)snprintf(id, sizeof(id), "BBB%03d", i);
		r = rec(id, 2 + (uint64_t)i, 2000 + i, "s@example.org", "", "");
		if (msglog_add(v.ml, txn, &r, &error) < 0)
			fail_msg("%s", error);
		b = r.seq;
	}
	assert_int_equal(msglog_append_event(v.ml, txn, "AAA111", &e, &error),
	    1);
	/* The readers neither wait nor see it. */
	memset(&q, 0, sizeof(q));
	q.sender = "s@example.org";
	assert_int_equal(query(&v, &q, &s), 1);
	assert_int_equal(s.seq[0], a);
	memset(&q, 0, sizeof(q));
	q.rcpt = "rcpt@example.net";
	assert_int_equal(query(&v, &q, &s), 1);
	memset(&q, 0, sizeof(q));
	q.limit = 5;
	assert_int_equal(query(&v, &q, &s), 1);
	assert_int_equal(find(&v, "BBB007", &s), 0);
	assert_int_equal(find(&v, "REL111", &s), 0);	/* uncommitted key */
	assert_int_equal(find(&v, "AAA111", &s), 1);
	assert_int_equal(txn->commit(txn, 0), 0);
	memset(&q, 0, sizeof(q));
	q.sender = "s@example.org";
	assert_int_equal(query(&v, &q, &s), 16);	/* seen keeps 16 */
	assert_int_equal(s.seq[0], b);
	assert_int_equal(find(&v, "BBB007", &s), 1);
	assert_int_equal(find(&v, "REL111", &s), 1);
	assert_int_equal(s.seq[0], a);

	/* While a reader calls back, it holds no lock. */
	memset(&w, 0, sizeof(w));
	w.v = &v;
	memset(&q, 0, sizeof(q));
	q.sender = "s@example.org";
	if (msglog_query(v.ml, &q, write_meanwhile, &w, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(w.n, 51);
	assert_true(w.written > b);
	assert_int_equal(find(&v, "MEAN000", &s), 1);
	env_close(&v);
}

static size_t
take(struct outbox *ob, struct outbox_entry *v, size_t max)
{
	char	*error = NULL;
	size_t	 n = 0;

	if (outbox_take(ob, v, max, &n, &error) < 0)
		fail_msg("%s", error);
	return (n);
}

static void
test_outbox(void **state)
{
	struct outbox_entry v[16], w[16];
	struct msglog_event e = { 5000, "released", "REL111", "" };
	struct msglog_rec r;
	struct outbox	*ob = NULL, *reader = NULL;
	struct env	 env;
	char		*error = NULL;
	uint64_t	 a, b, last = 0;
	int		 i;

	(void)state;
	env_open(&env);
	if (outbox_open(env.sdb, 3, &ob, &error) < 0 ||
	    outbox_open(env.sdb, 3, &reader, &error) < 0)
		fail_msg("%s", error);
	msglog_set_outbox(env.ml, ob);
	a = add(&env, rec("AAA111", 1, 1000, "a@example.org", "NEW111", ""),
	    true);
	(void)add(&env, rec("XXX999", 9, 1500, "x@example.org", "", ""), false);
	b = add(&env, rec("BBB222", 2, 2000, "b@example.org", "NEW222", ""),
	    true);
	/* The aborted transaction put nothing. */
	assert_int_equal(take(reader, v, 16), 2);
	assert_int_equal(v[0].seq, a);
	assert_int_equal(v[1].seq, b);
	assert_int_equal(msglog_get(env.ml, a, &r, &error), 1);
	assert_string_equal(r.orig_id, "AAA111");
	msglog_rec_clear(&r);
	assert_int_equal(msglog_get(env.ml, b + 100, &r, &error), 0);

	/* a changes while it is shipped: its entry stays, b's goes. */
	assert_int_equal(msglog_append_event(env.ml, NULL, "AAA111", &e,
	    &error), 1);
	assert_int_equal(outbox_done(reader, v, 2, &error), 0);
	assert_int_equal(take(reader, w, 16), 1);
	assert_int_equal(w[0].seq, a);
	assert_int_equal(outbox_done(reader, w, 1, &error), 0);
	assert_int_equal(take(reader, w, 16), 0);
	assert_int_equal(outbox_dropped(ob), 0);

	/* Beyond the limit (3): the oldest are dropped, and counted. */
	for (i = 0; i < 6; i++)
		last = add(&env, rec("CCC333", 3 + (uint64_t)i, 3000,
		    "c@example.org", "", ""), true);
	assert_int_equal(take(reader, v, 16), 3);
	assert_int_equal(v[0].seq, last - 2);
	assert_int_equal(v[2].seq, last);
	assert_int_equal(outbox_dropped(ob), 3);
	assert_int_equal(outbox_pending(ob), 3);

	outbox_close(&reader);
	msglog_close(&env.ml);
	outbox_close(&ob);
	env_close(&env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_malformed_records_are_refused),
		cmocka_unit_test(test_records_and_indices),
		cmocka_unit_test(test_retract_and_events),
		cmocka_unit_test(test_days_and_rebuild),
		cmocka_unit_test(test_prune_is_bounded),
		cmocka_unit_test(test_readers_and_the_writer),
		cmocka_unit_test(test_outbox),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
