/*
 * NAME
 *	webbench - the web console's data in bulk, and the times of the
 *	queries behind its screens (benchmarks, issue 16 item 6)
 * SYNOPSIS
 *	webbench fill -c config_file [-q quarantine_entries] [-m log_records]
 *	webbench query -c config_file -t now [-q entries] [-m records]
 *	    [-r runs]
 * DESCRIPTION
 *	fill writes, into the state environment of config_file (one of its
 *	own: never a live holdscand's), quarantine_entries (default
 *	100,000) quarantine index entries and log_records (default
 *	1,000,000) message log records, in bulk: 200 to a transaction (as
 *	holdscand's batches), not through Postfix, not synced one by one
 *	(a checkpoint at the end). A DB_CONFIG in the state directory may
 *	give it a larger cache for the fill (web.sh does, then removes it).
 *	The quarantine entries have no files (their index is what the list screen reads; the
 *	detail screen's preview needs files: tests/tools/quarantine-fill
 *	makes those). Senders come from a pool of 20,000 addresses in 200
 *	domains, recipients from 5,000 in 100 domains; times are spread
 *	over the last 30 days; one record in ten is quarantined (its
 *	quarantine id is set); "abuse@rdomain0.example" gets one in fifty.
 *	The ids are deterministic, so that query knows what it looks for.
 *	Prints what it wrote, how long it took, and "now EPOCH": the time
 *	query's -t must be given (the ids are made from it).
 *
 *	query opens the same environment as the web console would (once)
 *	and runs each query behind a screen runs (default 50) times, each
 *	run with another sender, recipient, time window or id, and prints
 *	the median and the 99th percentile (with fewer than 100 runs, the
 *	slowest but one... the nearest rank) of the wall time, and the
 *	mean number of matches:
 *	    log search --sender, page of 50: median 0.4 ms, p99 1.1 ms, 50 matches
 *
 *	Queries: the message log by sender, by recipient, by a one-hour
 *	time window, newest page, each limited to a page of 50; the
 *	quarantine list by recipient, by sender address (the sender index), by reason, the
 *	last day, and its first page of 50 with no filter; a message's
 *	detail (the log records of an id and their events) and a quarantine
 *	entry.
 * DIAGNOSTICS
 *	Exit 0, or 1 with a reason on stderr; 2 for a usage error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/xalloc.h"
#include "quarantine/quarantine.h"
#include "state/journal.h"
#include "state/msglog.h"
#include "state/statedb.h"

#define SENDERS		20000
#define SENDER_DOMAINS	200
#define RCPTS		5000
#define RCPT_DOMAINS	100
#define PER_TXN		200
#define SPAN		(30 * 86400)
#define PAGE		50

static void
usage(void)
{
	fprintf(stderr, "usage: webbench fill -c config_file [-q entries] "
	    "[-m records]\n       webbench query -c config_file -t now "
	    "[-q entries] [-m records] [-r runs]\n");
	exit(2);
}

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "webbench: %s: %s\n", what, why);
	exit(1);
}

static double
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec * 1000 + ts.tv_nsec / 1e6);
}

static void
sender_of(unsigned i, char *buf, size_t size)
{
	(void)snprintf(buf, size, "user%u@sdomain%u.example", i % SENDERS,
	    (i % SENDERS) % SENDER_DOMAINS);
}

static void
rcpt_of(unsigned i, char *buf, size_t size)
{
	if (i % 50 == 7)
		(void)snprintf(buf, size, "abuse@rdomain0.example");
	else
		(void)snprintf(buf, size, "rcpt%u@rdomain%u.example",
		    (i * 13) % RCPTS, ((i * 13) % RCPTS) % RCPT_DOMAINS);
}

static void
qid_of(unsigned i, time_t t, char *buf, size_t size)
{
	struct tm	 tm;
	char		 stamp[32];

	(void)gmtime_r(&t, &tm);
	(void)strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	(void)snprintf(buf, size, "%s-WB%08X", stamp, i);
}

static void
orig_of(unsigned i, char *buf, size_t size)
{
	(void)snprintf(buf, size, "%08X%03X", i * 7919U, i % 4096);
}

struct env {
	struct hs_config *conf;
	struct statedb	*sdb;
	struct journal	*journal;
	struct quarantine *q;
	struct msglog	*ml;
	unsigned long	 commits;
};

static void
env_open(struct env *e, const char *path)
{
	char	*error = NULL;

	memset(e, 0, sizeof(*e));
	if (config_load(path, NULL, NULL, &e->conf, &error) < 0)
		die(path, error);
	if (statedb_open_in(e->conf->state_directory,
	    e->conf->state_region_directory, &e->sdb, &error) < 0 ||
	    journal_open(e->sdb, &e->journal, &error) < 0 ||
	    quarantine_open(e->conf, e->sdb, getuid(), getgid(), &e->q,
	    &error) < 0 || msglog_open(e->sdb, &e->ml, &error) < 0)
		die(e->conf->state_directory, error);
}

static void
env_close(struct env *e)
{
	msglog_close(&e->ml);
	quarantine_close(&e->q);
	journal_close(&e->journal);
	statedb_close(&e->sdb);
	config_free(&e->conf);
}

/*
 * Bulk: transactions are not synced one by one (a checkpoint at the end
 * makes it all durable); holdscand syncs each batch, which is not what
 * is measured here.
 */
static void
begin(struct env *e, DB_TXN **txn)
{
	int	 ret;

	if (*txn == NULL && (ret = e->sdb->env->txn_begin(e->sdb->env, NULL,
	    txn, 0)) != 0)
		die("txn_begin", db_strerror(ret));
}

static void
commit(struct env *e, DB_TXN **txn)
{
	int	 ret;

	if ((ret = (*txn)->commit(*txn, DB_TXN_NOSYNC)) != 0)
		die("commit", db_strerror(ret));
	*txn = NULL;
	/*
	 * Now and then a checkpoint: the pages' old versions (the
	 * databases are multiversion) and the transactions they keep
	 * would otherwise fill the cache and the transaction region.
	 */
	if (++e->commits % 100 == 0 && (ret = e->sdb->env->txn_checkpoint(
	    e->sdb->env, 0, 0, 0)) != 0)
		die("checkpoint", db_strerror(ret));
}

static void
fill_quarantine(struct env *e, unsigned n, time_t now)
{
	struct quarantine_entry qe;
	DB_TXN		*txn = NULL;
	char		 sender[128], r0[128], r1[128], *rcpts[2], subj[128];
	char		*error = NULL;
	unsigned	 i;
	double		 t0 = now_ms();

	for (i = 0; i < n; i++) {
		memset(&qe, 0, sizeof(qe));
		qe.quarantined = now - SPAN + (time_t)((uint64_t)i * SPAN / n);
		qe.arrival = qe.quarantined - 2;
		qid_of(i, qe.quarantined, qe.qid, sizeof(qe.qid));
		(void)snprintf(qe.relpath, sizeof(qe.relpath), "bench/%s",
		    qe.qid);
		orig_of(i, qe.orig_id, sizeof(qe.orig_id));
		(void)snprintf(qe.verdict, sizeof(qe.verdict), "%s",
		    i % 5 ? "spam" : "infected");
		(void)snprintf(qe.reason, sizeof(qe.reason), "%s",
		    i % 5 ? "score 12.3 (BAYES_99, URIBL_BLACK)" :
		    "Win.Test.EICAR_HDB-1");
		qe.size = 2048 + i % 50000;
		qe.state = QSTATE_HELD;
		qe.state_time = qe.quarantined;
		sender_of(i * 31, sender, sizeof(sender));
		rcpt_of(i, r0, sizeof(r0));
		rcpt_of(i + 1, r1, sizeof(r1));
		rcpts[0] = r0;
		rcpts[1] = r1;
		qe.sender = sender;
		qe.rcpts = rcpts;
		qe.nrcpts = i % 10 == 0 ? 2 : 1;
		(void)snprintf(subj, sizeof(subj), "Your invoice %u is ready", i);
		qe.subject = subj;
		qe.released_to = "";
		begin(e, &txn);
		if (quarantine_index(e->q, txn, &qe, &error) < 0)
			die("index", error);
		if ((i + 1) % PER_TXN == 0 || i + 1 == n)
			commit(e, &txn);
	}
	(void)printf("webbench fill: %u quarantine entries in %.1f s\n", n,
	    (now_ms() - t0) / 1000);
}

static void
fill_msglog(struct env *e, unsigned n, unsigned nq, time_t now)
{
	struct msglog_rec r;
	DB_TXN		*txn = NULL;
	char		*error = NULL, orig[32], newid[32], sender[128],
			 rcpt[2][128], qid[QUARANTINE_ID_SIZE];
	const char	*rcpts[2];
	unsigned	 i;
	double		 t0 = now_ms();

	for (i = 0; i < n; i++) {
		memset(&r, 0, sizeof(r));
		r.time = now - SPAN + (time_t)((uint64_t)i * SPAN / n);
		r.host = "mx1.example.org";
		orig_of(i + 0x100000, orig, sizeof(orig));
		orig_of(i + 0x900000, newid, sizeof(newid));
		sender_of(i, sender, sizeof(sender));
		rcpt_of(i, rcpt[0], sizeof(rcpt[0]));
		rcpt_of(i + 3, rcpt[1], sizeof(rcpt[1]));
		rcpts[0] = rcpt[0];
		rcpts[1] = rcpt[1];
		r.orig_id = orig;
		r.orig_ino = i;
		/* One in ten quarantined, naming the i/10-th entry. */
		if (i % 10 == 0 && i / 10 < nq) {
			qid_of(i / 10, now - SPAN + (time_t)((uint64_t)(i / 10) *
			    SPAN / nq), qid, sizeof(qid));
			r.quarantine_id = qid;
			r.new_id = "";
			r.verdict = "spam";
			r.action = "quarantine";
			r.reason = "score 12.3 (BAYES_99, URIBL_BLACK)";
		} else {
			r.quarantine_id = "";
			r.new_id = newid;
			r.verdict = "clean";
			r.action = "deliver";
			r.reason = "";
		}
		r.sender = sender;
		r.rcpts = rcpts;
		r.nrcpts = i % 20 == 0 ? 2 : 1;
		r.size = 2048 + i % 50000;
		r.subject = "Your invoice for the month of November";
		r.client = "192.0.2.25";
		r.sasl_user = "";
		r.plugins = "clamav=clean spamd=clean";
		r.queue_ms = 120;
		r.scan_ms = 3;
		begin(e, &txn);
		if (msglog_add(e->ml, txn, &r, &error) < 0)
			die("msglog_add", error);
		if ((i + 1) % PER_TXN == 0 || i + 1 == n)
			commit(e, &txn);
	}
	(void)printf("webbench fill: %u message log records in %.1f s\n", n,
	    (now_ms() - t0) / 1000);
}

/* --- query ----------------------------------------------------------------- */

struct counter {
	size_t	 n, limit;
};

static int
count_rec(void *arg, const struct msglog_rec *r)
{
	struct counter	*c = arg;

	(void)r;
	c->n++;
	return (c->limit != 0 && c->n >= c->limit);
}

static int
count_q(void *arg, const struct quarantine_entry *e)
{
	struct counter	*c = arg;

	(void)e;
	c->n++;
	return (c->limit != 0 && c->n >= c->limit);
}

static int
count_ev(void *arg, const struct msglog_event *e)
{
	(void)e;
	(*(size_t *)arg)++;
	return (0);
}

struct trace_ctx {
	struct msglog	*ml;
	size_t		 events;
};

static int
trace_rec(void *arg, const struct msglog_rec *r)
{
	struct trace_ctx *t = arg;
	char		*error = NULL;

	if (msglog_events(t->ml, r->seq, count_ev, &t->events, &error) < 0)
		die("events", error);
	return (0);
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

static void
report(const char *what, double *ms, size_t runs, size_t matches)
{
	size_t	 p99;

	qsort(ms, runs, sizeof(*ms), cmp_double);
	/* nearest rank */
	p99 = (runs * 99 + 99) / 100;
	if (p99 < 1)
		p99 = 1;
	(void)printf("%-46s median %7.2f ms  p99 %7.2f ms  %zu matches\n",
	    what, runs % 2 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) /
	    2, ms[p99 - 1], matches / runs);
}

enum qkind {
	LOG_SENDER, LOG_RCPT, LOG_HOUR, LOG_NEWEST,
	Q_RCPT, Q_SENDER, Q_REASON, Q_DAY, Q_FIRST,
	DETAIL_TRACE, DETAIL_ENTRY, QKIND_COUNT,
};

static const char *const qnames[] = {
	"log search --sender, page of 50",
	"log search --recipient, page of 50",
	"log search, one hour, page of 50",
	"log, newest page of 50",
	"quarantine list --recipient",
	"quarantine list --sender ADDRESS (index)",
	"quarantine list --reason, page of 50",
	"quarantine list --since 1d, page of 50",
	"quarantine list, first page of 50",
	"message detail: trace (records + events)",
	"message detail: quarantine entry",
};

static void
run_query(struct env *e, enum qkind k, unsigned run, time_t now,
    unsigned nq, unsigned nm, size_t *matches)
{
	struct msglog_query mq;
	struct quarantine_query qq;
	struct quarantine_entry qe;
	struct trace_ctx tc;
	struct counter	 c = { 0, 0 };
	char		 a[128], b[128], *error = NULL;
	unsigned	 x = run * 7919 + 13;
	size_t		 n = 0;
	time_t		 t;

	memset(&mq, 0, sizeof(mq));
	memset(&qq, 0, sizeof(qq));
	qq.state = -1;
	switch (k) {
	case LOG_SENDER:
		sender_of(x, a, sizeof(a));
		mq.sender = a;
		mq.limit = PAGE;
		break;
	case LOG_RCPT:
		rcpt_of(x * 2 + 1, a, sizeof(a));
		mq.rcpt = a;
		mq.limit = PAGE;
		break;
	case LOG_HOUR:
		t = now - SPAN + (time_t)(x % (SPAN / 3600)) * 3600;
		mq.since = t;
		mq.until = t + 3600;
		mq.limit = PAGE;
		break;
	case LOG_NEWEST:
		mq.limit = PAGE;
		break;
	case Q_RCPT:
		rcpt_of(x * 2 + 1, a, sizeof(a));
		qq.rcpt = a;
		break;
	case Q_SENDER:
		sender_of(x * 31, a, sizeof(a));
		qq.sender = a;
		c.limit = PAGE;
		break;
	case Q_REASON:
		qq.reason = "EICAR";
		c.limit = PAGE;
		break;
	case Q_DAY:
		qq.since = now - 86400 - (time_t)(x % 86400);
		c.limit = PAGE;
		break;
	case Q_FIRST:
		c.limit = PAGE;
		break;
	case DETAIL_TRACE:
		orig_of(x % nm + 0x100000, a, sizeof(a));
		tc.ml = e->ml;
		tc.events = 0;
		if (msglog_find(e->ml, a, trace_rec, &tc, &n, &error) < 0)
			die("trace", error);
		*matches += n;
		return;
	case DETAIL_ENTRY:
		qid_of(x % nq, now - SPAN + (time_t)((uint64_t)(x % nq) * SPAN /
		    nq), b, sizeof(b));
		if (quarantine_get(e->q, NULL, b, false, &qe, &error) ==
		    QUARANTINE_OK) {
			(*matches)++;
			quarantine_entry_clear(&qe);
		}
		return;
	default:
		return;
	}
	if (k <= LOG_NEWEST) {
		if (msglog_query(e->ml, &mq, count_rec, &c, &error) < 0)
			die(qnames[k], error);
	} else if (quarantine_list(e->q, &qq, count_q, &c, &error) < 0)
		die(qnames[k], error);
	*matches += c.n;
}

static void
query(struct env *e, unsigned runs, time_t now, unsigned nq, unsigned nm)
{
	double		*ms = xcalloc(runs, sizeof(*ms)), t0;
	size_t		 matches;
	unsigned	 k, i;

	/* One untimed round: the cache as a running console has it. */
	for (k = 0; k < QKIND_COUNT; k++) {
		matches = 0;
		run_query(e, k, 0, now, nq, nm, &matches);
	}
	for (k = 0; k < QKIND_COUNT; k++) {
		matches = 0;
		for (i = 0; i < runs; i++) {
			t0 = now_ms();
			run_query(e, k, i + 1, now, nq, nm, &matches);
			ms[i] = now_ms() - t0;
		}
		report(qnames[k], ms, runs, matches);
	}
	free(ms);
}

int
main(int argc, char **argv)
{
	struct env	 e;
	const char	*path = NULL, *cmd;
	unsigned	 nq = 100000, nm = 1000000, runs = 50;
	time_t		 now = time(NULL);
	int		 ch;

	if (argc < 2)
		usage();
	cmd = argv[1];
	argc--;
	argv++;
	while ((ch = getopt(argc, argv, "c:q:m:r:t:")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'q':
			nq = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			nm = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			now = (time_t)strtoll(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (path == NULL || optind != argc || nq == 0 || nm == 0 || runs == 0)
		usage();
	env_open(&e, path);
	if (strcmp(cmd, "fill") == 0) {
		fill_quarantine(&e, nq, now);
		fill_msglog(&e, nm, nq, now);
		if ((ch = e.sdb->env->txn_checkpoint(e.sdb->env, 0, 0, 0)) != 0)
			die("checkpoint", db_strerror(ch));
		(void)printf("now %lld\n", (long long)now);
	} else if (strcmp(cmd, "query") == 0) {
		query(&e, runs, now, nq, nm);
	} else {
		usage();
	}
	env_close(&e);
	return (0);
}
