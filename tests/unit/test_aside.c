/*
 * NAME
 *	test_aside - unit tests for the set-aside list and its life cycle
 * DESCRIPTION
 *	The value format (and the entries written before the life cycle),
 *	the bookkeeping of an attempt that ends in set aside again (first
 *	time and attempts kept, a new file with the same id starts over),
 *	what is due when (rescan once per epoch, expiry after the lifetime,
 *	the owed notice, the policy's holds never touched), the list in a
 *	real Berkeley DB environment, and the bounce notice's text.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/aside.h"
#include "common/buf.h"
#include "daemon/notify.h"
#include "common/qfile.h"
#include "state/statedb.h"

static struct aside_entry
entry(const char *id, uint64_t ino, time_t when, const char *reason)
{
	struct aside_entry e;

	memset(&e, 0, sizeof(e));
	(void)snprintf(e.id, sizeof(e.id), "%s", id);
	e.ino = ino;
	e.when = when;
	(void)snprintf(e.reason, sizeof(e.reason), "%s", reason);
	return (e);
}

static void
test_value_round_trip(void **state)
{
	struct aside_entry e = entry("3F2A1C0B7", 1234567, 1700000000,
	    "scan-failed: Heuristics.Limits.Exceeded.MaxFileSize (not fully "
	    "scanned)"), d;
	char		 buf[1024];
	int		 n;

	(void)state;
	e.last = 1700000600;
	e.attempts = 3;
	(void)snprintf(e.epoch, sizeof(e.epoch), "%s",
	    "00000000deadbeef:18c2a:2");
	e.phase = ASIDE_BOUNCE;
	(void)snprintf(e.qid, sizeof(e.qid), "%s", "20231114T221320-3F2A1C0B7");
	n = aside_encode(&e, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(aside_decode(e.id, strlen(e.id), buf, (size_t)n, &d), 0);
	assert_string_equal(d.id, e.id);
	assert_true(d.ino == e.ino);
	assert_true(d.when == e.when);
	assert_true(d.last == e.last);
	assert_int_equal(d.attempts, 3);
	assert_string_equal(d.epoch, e.epoch);
	assert_int_equal(d.phase, ASIDE_BOUNCE);
	assert_string_equal(d.qid, e.qid);
	assert_string_equal(d.reason, e.reason);

	/* Empty words are written as "-" and read back empty. */
	e.epoch[0] = e.qid[0] = '\0';
	e.phase = ASIDE_HELD;
	n = aside_encode(&e, buf, sizeof(buf));
	assert_non_null(strstr(buf, " - held - scan-failed: "));
	assert_int_equal(aside_decode(e.id, strlen(e.id), buf, (size_t)n, &d), 0);
	assert_string_equal(d.epoch, "");
	assert_string_equal(d.qid, "");
	assert_int_equal(d.phase, ASIDE_HELD);
}

static void
test_old_entries_are_read(void **state)
{
	const char	*v1 = "1 99 1600000000 scan-failed: worker crashed";
	struct aside_entry d;

	(void)state;
	assert_int_equal(aside_decode("ABC", 3, v1, strlen(v1), &d), 0);
	assert_true(d.ino == 99);
	assert_true(d.when == 1600000000 && d.last == 1600000000);
	assert_int_equal(d.attempts, 1);
	/* Scanned by unknown scanners: the next engine scans it again. */
	assert_string_equal(d.epoch, "");
	assert_string_equal(d.reason, "scan-failed: worker crashed");
	assert_int_equal(aside_next(&d, 1600000001, 0, "d:r:1", true),
	    ASIDE_RESCAN);
}

static void
test_malformed_values_are_refused(void **state)
{
	const char	*bad[] = {
		"", "2", "2 x 1 2 3 e held - r", "2 1 2 3 4 e sideways - r",
		"3 1 2 3 4 e held - r", "1 nope", "2 1 2 3 4",
	};
	struct aside_entry d;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(aside_decode("ID", 2, bad[i], strlen(bad[i]),
		    &d), -1);
	/* An embedded NUL, an empty or too long id. */
	assert_int_equal(aside_decode("ID", 2, "1 2 3\0x", 7, &d), -1);
	assert_int_equal(aside_decode("", 0, "1 2 3 r", 7, &d), -1);
	{
		char	 longid[QUEUE_ID_SIZE + 10];

		memset(longid, 'A', sizeof(longid));
		assert_int_equal(aside_decode(longid, sizeof(longid), "1 2 3 r",
		    7, &d), -1);
	}
}

static void
test_an_attempt_again_keeps_the_first_time(void **state)
{
	struct aside_entry old = entry("ID1", 7, 1000, "scan-failed: a");
	struct aside_entry e = entry("ID1", 7, 5000, "scan-failed: b");

	(void)state;
	old.attempts = 2;
	old.last = 3000;
	(void)snprintf(old.epoch, sizeof(old.epoch), "%s", "old.1");
	aside_merge(&old, &e, "new.2");
	assert_true(e.when == 1000);		/* first set aside */
	assert_true(e.last == 5000);		/* this attempt */
	assert_int_equal(e.attempts, 3);
	assert_string_equal(e.epoch, "new.2");	/* scanned by these */
	assert_string_equal(e.reason, "scan-failed: b");

	/* The phase of an expiring entry and its quarantine id survive. */
	old.phase = ASIDE_BOUNCE;
	(void)snprintf(old.qid, sizeof(old.qid), "%s", "Q1");
	e = entry("ID1", 7, 6000, "scan-failed: c");
	aside_merge(&old, &e, "new.2");
	assert_int_equal(e.phase, ASIDE_BOUNCE);
	assert_string_equal(e.qid, "Q1");

	/* Another file under the same id starts over. */
	e = entry("ID1", 8, 7000, "scan-failed: d");
	aside_merge(&old, &e, "new.2");
	assert_true(e.when == 7000);
	assert_int_equal(e.attempts, 1);
	assert_int_equal(e.phase, ASIDE_HELD);
	assert_string_equal(e.qid, "");

	/* A first attempt; an epoch of its own is kept. */
	e = entry("ID2", 9, 100, "scan-failed: e");
	(void)snprintf(e.epoch, sizeof(e.epoch), "%s", "own.5");
	aside_merge(NULL, &e, "new.2");
	assert_int_equal(e.attempts, 1);
	assert_string_equal(e.epoch, "own.5");
	assert_true(e.last == 100);
}

static void
test_epochs_say_when_the_scanners_changed(void **state)
{
	char	 a[ASIDE_EPOCH_SIZE], b[ASIDE_EPOCH_SIZE];

	(void)state;
	aside_epoch_make(a, 0x1234, 0x5f00, 1);
	assert_string_equal(a, "0000000000001234:5f00:1");
	/* The same run: every new generation is new scanners. */
	aside_epoch_make(b, 0x1234, 0x5f00, 2);
	assert_true(aside_epoch_changed(a, b));
	assert_false(aside_epoch_changed(a, a));
	/* Another run: only what they scan with counts, not the restart. */
	aside_epoch_make(b, 0x1234, 0x6a00, 1);
	assert_false(aside_epoch_changed(a, b));
	aside_epoch_make(b, 0x1234, 0x6a00, 7);
	assert_false(aside_epoch_changed(a, b));
	aside_epoch_make(b, 0x9999, 0x6a00, 1);
	assert_true(aside_epoch_changed(a, b));
	/* Unknown scanners then (an old entry): scan again; none now: wait. */
	assert_true(aside_epoch_changed("", b));
	assert_true(aside_epoch_changed("5f00.1", b));
	assert_false(aside_epoch_changed(a, ""));
	assert_false(aside_epoch_changed(a, NULL));
	assert_false(aside_epoch_changed(a, "x:y"));
	assert_true(aside_epoch_changed("a::1", b));
	assert_true(aside_epoch_changed("a:b:1:2", b));
}

static void
test_what_is_due_when(void **state)
{
	struct aside_entry e = entry("ID", 1, 1000, "scan-failed: too big");
	const long	 day = 86400;
	const char	*now = "00000000000000aa:10:1";
	const char	*next = "00000000000000aa:10:2";

	(void)state;
	(void)snprintf(e.epoch, sizeof(e.epoch), "%s", now);
	e.attempts = 1;
	/* Same scanners: nothing to do until the lifetime is over. */
	assert_int_equal(aside_next(&e, 1000 + day, 5 * day, now, true),
	    ASIDE_WAIT);
	assert_true(aside_expires(&e, 5 * day) == 1000 + 5 * day);
	assert_int_equal(aside_next(&e, 1000 + 5 * day - 1, 5 * day, now,
	    true), ASIDE_WAIT);
	assert_int_equal(aside_next(&e, 1000 + 5 * day, 5 * day, now, true),
	    ASIDE_EXPIRE);
	/* New scanners: once more; not while none are ready, nor when off. */
	assert_int_equal(aside_next(&e, 2000, 5 * day, next, true),
	    ASIDE_RESCAN);
	assert_int_equal(aside_next(&e, 2000, 5 * day, "", true), ASIDE_WAIT);
	assert_int_equal(aside_next(&e, 2000, 5 * day, next, false),
	    ASIDE_WAIT);
	/* A restart with the same signatures and configuration: no. */
	assert_int_equal(aside_next(&e, 2000, 5 * day,
	    "00000000000000aa:20:1", true), ASIDE_WAIT);
	/* Expiry wins over a rescan; a lifetime of 0 never ends. */
	assert_int_equal(aside_next(&e, 1000 + 6 * day, 5 * day, next, true),
	    ASIDE_EXPIRE);
	assert_true(aside_expires(&e, 0) == 0);
	assert_int_equal(aside_next(&e, 1000 + 3650 * day, 0, now, true),
	    ASIDE_WAIT);
	/* Expiring with a bounce: the notice is owed, whatever the time. */
	e.phase = ASIDE_BOUNCE;
	assert_int_equal(aside_next(&e, 1001, 5 * day, next, true),
	    ASIDE_NOTICE);
	/* Held by the policy for another verdict: the admin's, always. */
	e = entry("ID", 1, 1000, "infected: Eicar-Test-Signature");
	assert_false(aside_failed(&e));
	assert_true(aside_expires(&e, 5 * day) == 0);
	assert_int_equal(aside_next(&e, 1000 + 9 * day, 5 * day, next, true),
	    ASIDE_ADMIN);
	e = entry("ID", 1, 1000, "scan-failedX: no");
	assert_false(aside_failed(&e));
	e = entry("ID", 1, 1000, "scan-failed");
	assert_true(aside_failed(&e));
}

static void
test_the_list_in_berkeley_db(void **state)
{
	struct aside_entry e, got, *v = NULL;
	struct statedb	*sdb = NULL;
	struct aside	*a = NULL;
	char		 dir[] = "/tmp/test_asideXXXXXX", cmd[64], *error = NULL;
	size_t		 n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	if (statedb_open(dir, &sdb, &error) < 0 ||
	    aside_open(sdb, &a, &error) < 0)
		fail_msg("%s", error);
	aside_set_epoch(a, "x.1");
	e = entry("AAA", 11, 100, "scan-failed: first");
	assert_int_equal(aside_put(a, &e, &error), 0);
	assert_int_equal(aside_get(a, "AAA", &got, &error), 1);
	assert_int_equal(got.attempts, 1);
	assert_string_equal(got.epoch, "x.1");
	/* Set aside again by the next scanners: counted on. */
	aside_set_epoch(a, "x.2");
	e = entry("AAA", 11, 200, "scan-failed: second");
	assert_int_equal(aside_put(a, &e, &error), 0);
	assert_int_equal(aside_get(a, "AAA", &got, &error), 1);
	assert_int_equal(got.attempts, 2);
	assert_true(got.when == 100 && got.last == 200);
	assert_string_equal(got.epoch, "x.2");
	assert_string_equal(got.reason, "scan-failed: second");
	/* An update is written as given. */
	got.phase = ASIDE_BOUNCE;
	(void)snprintf(got.qid, sizeof(got.qid), "%s", "Q-AAA");
	assert_int_equal(aside_update(a, &got, &error), 0);
	e = entry("BBB", 12, 300, "infected: x");
	assert_int_equal(aside_put(a, &e, &error), 0);
	assert_int_equal(aside_list(a, &v, &n, &error), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].id, "AAA");
	assert_int_equal(v[0].phase, ASIDE_BOUNCE);
	assert_string_equal(v[0].qid, "Q-AAA");
	assert_string_equal(v[1].id, "BBB");
	free(v);
	assert_int_equal(aside_del(a, "AAA", &error), 0);
	assert_int_equal(aside_del(a, "AAA", &error), 0);	/* gone: fine */
	assert_int_equal(aside_get(a, "AAA", &got, &error), 0);
	aside_close(&a);
	assert_null(a);
	aside_close(&a);
	/* Durable: another handle sees what was written. */
	statedb_close(&sdb);
	if (statedb_open(dir, &sdb, &error) < 0 ||
	    aside_open(sdb, &a, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(aside_get(a, "BBB", &got, &error), 1);
	assert_int_equal(got.attempts, 1);
	aside_close(&a);
	statedb_close(&sdb);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static struct qfile *
held_dsn(void)
{
	struct qfile_error err;
	struct qfile	*qf = NULL;
	int		 fd;

	fd = open(HS_SRCDIR "/tests/data/held-dsn.qf", O_RDONLY);
	assert_true(fd >= 0);
	if (qfile_read_fd(fd, SIZE_MAX, &qf, &err) < 0)
		fail_msg("%s", err.text);
	close(fd);
	return (qf);
}

static void
test_the_bounce_is_a_dsn_without_the_body(void **state)
{
	struct notify_bounce b;
	struct qfile	*qf = held_dsn();
	struct buf	 out = BUF_INIT;
	const char	*t;

	(void)state;
	memset(&b, 0, sizeof(b));
	b.queue_id = "41214A72004";
	b.qf = qf;
	b.reason = "could not be scanned (message larger than "
	    "message_size_limit); held 5d";
	b.quarantine_id = "20261128T104310-41214A72004";
	/* bob asked for failures, carol for nothing (NEVER), dave said nothing. */
	assert_int_equal(notify_bounce_text("mx.example", "postmaster@example",
	    &b, 1795430590, &out), 2);
	buf_putc(&out, '\0');
	t = out.data;
	assert_non_null(strstr(t, "X-Holdscan-Notification: 41214A72004 "
	    "(scan-failed)\n"));
	assert_non_null(strstr(t, "\nFrom: MAILER-DAEMON@mx.example (Mail "
	    "Delivery System)\n"));
	assert_non_null(strstr(t, "\nTo: alice@example.org\n"));
	assert_non_null(strstr(t, "\nAuto-Submitted: auto-replied\n"));
	assert_non_null(strstr(t, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\n\tboundary=\""));
	assert_non_null(strstr(t, "\nContent-Type: message/delivery-status\n"
	    "\nReporting-MTA: dns; mx.example\nX-Postfix-Queue-ID: "
	    "41214A72004\nX-Holdscan-Quarantine-ID: 20261128T104310-"
	    "41214A72004\nX-Postfix-Sender: rfc822; alice@example.org\n"
	    "Original-Envelope-Id: QF-ENVID-42\n"));
	assert_non_null(strstr(t, "\nFinal-Recipient: rfc822; bob@example.net\n"
	    "Original-Recipient: rfc822;bob@orig.example\nAction: failed\n"
	    "Status: 5.7.0\nDiagnostic-Code: X-Holdscan; could not be scanned "
	    "(message larger than message_size_limit); held 5d\n"));
	assert_non_null(strstr(t, "\nFinal-Recipient: rfc822; dave@example.net\n"));
	assert_null(strstr(t, "Final-Recipient: rfc822; carol"));
	assert_non_null(strstr(t, "<bob@example.net>: not delivered: could not "
	    "be scanned"));
	/* The original's header is there, its body is not. */
	assert_non_null(strstr(t, "\nContent-Type: text/rfc822-headers\n\n"
	    "Received: from client.example"));
	assert_non_null(strstr(t, "\nSubject: dsn sample\n"));
	assert_null(strstr(t, "DSN test body"));
	assert_non_null(strstr(t, "--\n"));
	buf_free(&out);
	qfile_free(&qf);
}

static void
test_no_bounce_when_none_is_due(void **state)
{
	struct notify_bounce b;
	struct qfile	*qf = held_dsn();
	struct buf	 out = BUF_INIT;
	size_t		 i;

	(void)state;
	memset(&b, 0, sizeof(b));
	b.queue_id = "X";
	b.qf = qf;
	b.reason = "r";
	/* Nobody who wants a failure notice. */
	for (i = 0; i < qf->nrcpts; i++)
		qf->rcpts[i].dsn_notify = 1;	/* NEVER */
	assert_int_equal(notify_bounce_text("h", "p", &b, 0, &out), 0);
	assert_int_equal(out.len, 0);
	qf->rcpts[0].dsn_notify = 8;		/* DELAY only */
	assert_int_equal(notify_bounce_text("h", "p", &b, 0, &out), 0);
	qf->rcpts[0].dsn_notify = 4;		/* FAILURE */
	assert_int_equal(notify_bounce_text("h", "p", &b, 0, &out), 1);
	buf_free(&out);
	/* The null sender never gets one (no bounce of a bounce). */
	qf->sender = "";
	assert_int_equal(notify_bounce_text("h", "p", &b, 0, &out), 0);
	b.qf = NULL;
	assert_int_equal(notify_bounce_text("h", "p", &b, 0, &out), 0);
	buf_free(&out);
	qfile_free(&qf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_round_trip),
		cmocka_unit_test(test_old_entries_are_read),
		cmocka_unit_test(test_malformed_values_are_refused),
		cmocka_unit_test(test_an_attempt_again_keeps_the_first_time),
		cmocka_unit_test(test_epochs_say_when_the_scanners_changed),
		cmocka_unit_test(test_what_is_due_when),
		cmocka_unit_test(test_the_list_in_berkeley_db),
		cmocka_unit_test(test_the_bounce_is_a_dsn_without_the_body),
		cmocka_unit_test(test_no_bounce_when_none_is_due),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
