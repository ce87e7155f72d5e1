/*
 * NAME
 *	msglog-bench - CPU per message of the message log's write, and
 *	query times (benchmarks)
 * SYNOPSIS
 *	msglog-bench [-n count] [-b batch] [-S] [-q] DIR
 * DESCRIPTION
 *	Opens a state environment of its own in the empty directory DIR and
 *	writes count (default 100000) synthetic records, batch (default 200)
 *	to a transaction, as holdscand's batch commit does (one synchronous
 *	commit per batch). Only the CPU time of msglog_add() is counted
 *	(CLOCK_PROCESS_CPUTIME_ID around the calls): the commit and its
 *	fsync are the intent's, which the log shares (-S: commits without
 *	a sync, for a quicker run of a large count: the CPU counted is the
 *	same work). Every 100,000 records it prints the CPU per record of
 *	those 100,000 (the cost grows as the indexes outgrow the cache):
 *	    msglog write: records 900000-1000000: 0.062 ms CPU per record
 *	and at the end the first and the last 100,000 side by side:
 *	    msglog write: first 100000 0.040 ms, last 100000 0.062 ms CPU
 *	    per record (target < 0.1 ms)
 *	Then (not with -q, which fills quietly: tests/bench/logratio.py
 *	fills a state directory with it before holdscand uses it) times a
 *	query
 *	by sender, one by recipient, the last hour, the newest 20 and a trace
 *	by queue id.
 *	Prints one line each:
 *	    msglog write: 100000 records, 0.031 ms CPU per record
 *	    msglog query --sender (100000 records): 1.2 ms, 50 matches
 *
 *	It must never be pointed at a live holdscand's state directory.
 * DIAGNOSTICS
 *	Exit 0, or 1 with a reason on stderr; 2 for a usage error.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "state/msglog.h"
#include "state/statedb.h"

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "msglog-bench: %s: %s\n", what, why);
	exit(1);
}

static double
now_s(clockid_t clk)
{
	struct timespec	 ts;

	if (clock_gettime(clk, &ts) < 0)
		die("clock_gettime", "failed");
	return ((double)ts.tv_sec + ts.tv_nsec / 1e9);
}

static int
count_one(void *arg, const struct msglog_rec *r)
{
	(void)r;
	(*(size_t *)arg)++;
	return (0);
}

static void
timed_query(struct msglog *ml, const char *what, const struct msglog_query *q,
    size_t total)
{
	double		 t0 = now_s(CLOCK_MONOTONIC);
	size_t		 n = 0;
	char		*error = NULL;

	if (msglog_query(ml, q, count_one, &n, &error) < 0)
		die(what, error);
	(void)printf("msglog query %s (%zu records): %.1f ms, %zu matches\n",
	    what, total, (now_s(CLOCK_MONOTONIC) - t0) * 1000, n);
}

int
main(int argc, char **argv)
{
	struct msglog_query q;
	struct msglog_rec r;
	struct statedb	*sdb = NULL;
	struct msglog	*ml = NULL;
	DB_TXN		*txn = NULL;
	char		*error = NULL, orig[32], newid[32], sender[64],
			 rcpt[2][64];
	const char	*rcpts[2];
	long		 count = 100000, batch = 200, i;
	double		 cpu = 0, t0, cpu_mark = 0, first = 0, last = 0;
	bool		 quiet = false;
	u_int32_t	 sync = DB_TXN_SYNC;
	size_t		 n, m, rebuilt = 0;
	int		 c;

	while ((c = getopt(argc, argv, "n:b:Sq")) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'S':
			sync = DB_TXN_NOSYNC;
			break;
		case 'n':
			count = atol(optarg);
			break;
		case 'b':
			batch = atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: msglog-bench [-n count] "
			    "[-b batch] [-S] [-q] DIR\n");
			return (2);
		}
	}
	if (optind != argc - 1 || count < 1 || batch < 1) {
		fprintf(stderr, "usage: msglog-bench [-n count] [-b batch] "
		    "[-S] [-q] DIR\n");
		return (2);
	}
	/* As holdscand does: an older format's index anew first. */
	if (statedb_open(argv[optind], &sdb, &error) < 0 ||
	    msglog_rebuild_index(sdb, &rebuilt, &error) < 0 ||
	    msglog_open(sdb, &ml, &error) < 0)
		die(argv[optind], error);
	if (rebuilt > 0 && !quiet)
		printf("msglog index: %zu records indexed anew\n", rebuilt);
	for (i = 0; i < count; i++) {
		if (i % batch == 0 && sdb->env->txn_begin(sdb->env, NULL, &txn,
		    0) != 0)
			die("txn_begin", "failed");
		(void)snprintf(orig, sizeof(orig), "%08lX%03lX", i * 7919 %
		    0xffffffff, i % 4096);
		(void)snprintf(newid, sizeof(newid), "%08lX%03lX", i * 104729 %
		    0xffffffff, (i + 1) % 4096);
		(void)snprintf(sender, sizeof(sender), "user%ld@domain%ld.example",
		    i % 2000, i % 40);
		(void)snprintf(rcpt[0], sizeof(rcpt[0]), "rcpt%ld@domain%ld.example",
		    (i * 13) % 2000, (i * 7) % 40);
		(void)snprintf(rcpt[1], sizeof(rcpt[1]), "abuse@domain0.example");
		rcpts[0] = rcpt[0];
		rcpts[1] = rcpt[1];
		memset(&r, 0, sizeof(r));
		r.time = time(NULL) - (count - i);
		r.host = "mx1.example.org";
		r.orig_id = orig;
		r.orig_ino = (uint64_t)i;
		r.new_id = newid;
		r.quarantine_id = "";
		r.sender = sender;
		r.rcpts = rcpts;
		r.nrcpts = i % 20 == 0 ? 2 : 1;
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
		t0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
		if (msglog_add(ml, txn, &r, &error) < 0)
			die("msglog_add", error);
		cpu += now_s(CLOCK_PROCESS_CPUTIME_ID) - t0;
		if ((i + 1) % batch == 0 || i + 1 == count) {
			if (txn->commit(txn, sync) != 0)
				die("commit", "failed");
			txn = NULL;
		}
		if ((i + 1) % 100000 == 0 && count > 100000) {
			last = (cpu - cpu_mark) * 1000 / 100000;
			if (i + 1 == 100000)
				first = last;
			if (!quiet) {
				(void)printf("msglog write: records %ld-%ld: "
				    "%.3f ms CPU per record\n", i + 1 - 100000,
				    i + 1, last);
				(void)fflush(stdout);
			}
			cpu_mark = cpu;
		}
	}
	(void)printf("msglog write: %ld records, %.3f ms CPU per record\n",
	    count, cpu * 1000 / (double)count);
	if (count >= 200000)
		(void)printf("msglog write: first 100000 %.3f ms, last 100000 "
		    "%.3f ms CPU per record (target < 0.1 ms)\n", first, last);
	if (quiet) {
		msglog_close(&ml);
		statedb_close(&sdb);
		return (0);
	}
	n = (size_t)count;
	memset(&q, 0, sizeof(q));
	q.sender = "user7@domain7.example";
	timed_query(ml, "--sender", &q, n);
	memset(&q, 0, sizeof(q));
	q.rcpt = "rcpt13@domain7.example";
	timed_query(ml, "--recipient", &q, n);
	memset(&q, 0, sizeof(q));
	q.since = time(NULL) - 3600;
	timed_query(ml, "--since 1h", &q, n);
	memset(&q, 0, sizeof(q));
	q.limit = 20;
	timed_query(ml, "--limit 20", &q, n);
	t0 = now_s(CLOCK_MONOTONIC);
	(void)snprintf(orig, sizeof(orig), "%08lX%03lX", (count / 2) * 7919 %
	    0xffffffff, (count / 2) % 4096);
	m = 0;
	if (msglog_find(ml, orig, count_one, &m, &n, &error) < 0)
		die("trace", error);
	(void)printf("msglog trace %s: %.1f ms, %zu record\n", orig,
	    (now_s(CLOCK_MONOTONIC) - t0) * 1000, n);
	msglog_close(&ml);
	statedb_close(&sdb);
	return (0);
}
