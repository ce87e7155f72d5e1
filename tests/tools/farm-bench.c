/*
 * NAME
 *	farm-bench - a farm's PostgreSQL figures (benchmarks): the shipping
 *	rate of holdscand's shipper, and the time of holdscan log's and
 *	trace's queries
 * SYNOPSIS
 *	farm-bench init CONNINFO
 *	farm-bench ship [-n count] DIR CONNINFO
 *	farm-bench query CONNINFO RCPT SENDER SINCE UNTIL ID
 * DESCRIPTION
 *	init creates the schema (pgdb_schema_apply(), as holdscan db init).
 *
 *	ship opens a state environment of its own in the empty directory
 *	DIR, writes count (default 100000) synthetic records with an
 *	outbox, 200 to a transaction, as holdscand's batch commit does,
 *	then starts the shipper (daemon/shipper.c, the code holdscand
 *	runs) on CONNINFO, whose schema must be there, and waits until it
 *	has shipped them all. Prints
 *	    farm ship: 100000 records in 12.3 s: 8130 records/s
 *
 *	query times the statements of holdscan log (logdb_query(): by
 *	recipient, by sender, a time range SINCE..UNTIL in seconds since
 *	the epoch) and of trace (logdb_find() of ID) on CONNINFO, each
 *	three times; the time includes reading every row and making it a
 *	record. Prints one line each with the first and the best time:
 *	    pg query --recipient: 2.1 ms (best of 3: 1.4 ms), 10 rows
 *
 *	It must never be pointed at a live holdscand's state directory, and
 *	never at a database that is not a test's (ship writes rows).
 * DIAGNOSTICS
 *	Exit 0, or 1 with a reason on stderr; 2 for a usage error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/shipper.h"
#include "state/msglog.h"
#include "state/outbox.h"
#include "state/pgdb.h"
#include "state/statedb.h"
#include "tool/logdb.h"

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "farm-bench: %s: %s\n", what, why);
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: farm-bench init CONNINFO\n"
	    "       farm-bench ship [-n count] DIR CONNINFO\n"
	    "       farm-bench query CONNINFO RCPT SENDER SINCE UNTIL ID\n");
	exit(2);
}

static double
now_s(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		die("clock_gettime", "failed");
	return ((double)ts.tv_sec + ts.tv_nsec / 1e9);
}

static void
sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000 };

	(void)nanosleep(&ts, NULL);
}

static int
ship(int argc, char **argv)
{
	struct msglog_rec r;
	struct statedb	*sdb = NULL;
	struct msglog	*ml = NULL;
	struct outbox	*ob = NULL;
	struct shipper	*sh = NULL;
	DB_TXN		*txn = NULL;
	char		*error = NULL, orig[32], newid[32], sender[64], rcpt[64];
	const char	*rcpts[1];
	long		 count = 100000, i;
	double		 t0, waited;
	int		 c;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n')
			usage();
		count = atol(optarg);
	}
	if (optind != argc - 2 || count < 1)
		usage();
	if (statedb_open(argv[optind], &sdb, &error) < 0 ||
	    msglog_open(sdb, &ml, &error) < 0 ||
	    outbox_open(sdb, count + 1, &ob, &error) < 0)
		die(argv[optind], error);
	msglog_set_outbox(ml, ob);
	for (i = 0; i < count; i++) {
		if (i % 200 == 0 && sdb->env->txn_begin(sdb->env, NULL, &txn,
		    0) != 0)
			die("txn_begin", "failed");
		(void)snprintf(orig, sizeof(orig), "%08lX%03lX", i * 7919 %
		    0xffffffff, i % 4096);
		(void)snprintf(newid, sizeof(newid), "%08lX%03lX", i * 104729 %
		    0xffffffff, (i + 1) % 4096);
		(void)snprintf(sender, sizeof(sender), "user%ld@domain%ld.example",
		    i % 2000, i % 40);
		(void)snprintf(rcpt, sizeof(rcpt), "rcpt%ld@domain%ld.example",
		    (i * 13) % 2000, (i * 7) % 40);
		rcpts[0] = rcpt;
		memset(&r, 0, sizeof(r));
		r.time = time(NULL) - (count - i);
		r.host = "bench.example.org";
		r.orig_id = orig;
		r.orig_ino = (uint64_t)i;
		r.new_id = newid;
		r.quarantine_id = "";
		r.sender = sender;
		r.rcpts = rcpts;
		r.nrcpts = 1;
		r.size = 2048;
		r.subject = "Your invoice for the month of November";
		r.client = "192.0.2.25";
		r.sasl_user = "";
		r.verdict = "clean";
		r.action = "deliver";
		r.reason = "";
		r.plugins = "clamav=clean attachments=clean headers=clean";
		r.queue_ms = 120;
		r.scan_ms = 2;
		if (msglog_add(ml, txn, &r, &error) < 0)
			die("msglog_add", error);
		if ((i + 1) % 200 == 0 || i + 1 == count) {
			if (txn->commit(txn, 0) != 0)
				die("commit", "failed");
			txn = NULL;
		}
	}
	t0 = now_s();
	if (shipper_start(sdb, argv[optind + 1], "bench.example.org", &sh,
	    &error) < 0)
		die("shipper_start", error);
	while (shipper_shipped(sh) < (uint64_t)count) {
		if (now_s() - t0 > 600)
			die("ship", "not done in 600 s");
		sleep_ms(20);
	}
	waited = now_s() - t0;
	(void)printf("farm ship: %ld records in %.1f s: %.0f records/s\n",
	    count, waited, (double)count / waited);
	shipper_stop(&sh);
	msglog_close(&ml);
	outbox_close(&ob);
	statedb_close(&sdb);
	return (0);
}

static int
count_one(void *arg, const struct msglog_rec *r)
{
	(void)r;
	(*(size_t *)arg)++;
	return (0);
}

/* One query, three times: the first and the best time. */
static void
timed(PGconn **c, const char *what, const struct msglog_query *q,
    const char *id)
{
	double		 t0, t, first = 0, best = 0;
	size_t		 n = 0, m;
	char		*error = NULL;
	int		 i;

	for (i = 0; i < 3; i++) {
		n = 0;
		t0 = now_s();
		if ((q != NULL ? logdb_query(c, q, count_one, &n, &error) :
		    logdb_find(c, id, "", count_one, &n, &m, &error)) < 0)
			die(what, error);
		t = (now_s() - t0) * 1000;
		if (i == 0)
			first = best = t;
		else if (t < best)
			best = t;
	}
	(void)printf("pg %s: %.1f ms (best of 3: %.1f ms), %zu rows\n", what,
	    first, best, n);
}

static int
query(int argc, char **argv)
{
	struct msglog_query q;
	PGconn		*c = NULL;
	char		*error = NULL;

	if (argc != 7)
		usage();
	if (logdb_connect(argv[1], &c, &error) < 0)
		die("database", error);
	memset(&q, 0, sizeof(q));
	q.rcpt = argv[2];
	timed(&c, "log --recipient", &q, NULL);
	memset(&q, 0, sizeof(q));
	q.sender = argv[3];
	timed(&c, "log --sender", &q, NULL);
	memset(&q, 0, sizeof(q));
	q.since = (time_t)atoll(argv[4]);
	q.until = (time_t)atoll(argv[5]);
	timed(&c, "log --since --until", &q, NULL);
	timed(&c, "trace", NULL, argv[6]);
	if (c != NULL)
		PQfinish(c);
	return (0);
}

static int
init(int argc, char **argv)
{
	PGconn		*c = NULL;
	char		*error = NULL;
	int		 from;

	if (argc != 2)
		usage();
	if (pgdb_connect(argv[1], "farm-bench", -1, &c, &error) < 0 ||
	    pgdb_schema_apply(&c, &from, &error) < 0)
		die("database", error);
	PQfinish(c);
	return (0);
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "init") == 0)
		return (init(argc - 1, argv + 1));
	if (strcmp(argv[1], "ship") == 0)
		return (ship(argc - 1, argv + 1));
	if (strcmp(argv[1], "query") == 0)
		return (query(argc - 1, argv + 1));
	usage();
	return (2);
}
