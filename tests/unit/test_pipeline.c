/*
 * NAME
 *	test_pipeline - unit tests for a message's life in the master
 * DESCRIPTION
 *	The pipeline runs on a temporary queue directory with real held
 *	queue files (tests/data/held-plain.qf), the real watcher, claim,
 *	policy and a real Berkeley DB state environment; the scanner pool
 *	and the batch commit are fakes reached through struct
 *	pipeline_ops. The fake pool hands messages to workers the test
 *	makes and answers for them; the fake commit records what it was
 *	given and does what the test says with it (delivered, set aside
 *	back in hold, returned to hold, or the whole batch failed), moving
 *	the claimed files as the real one would. One test runs the real
 *	commit instead, through a set-aside message's whole life.
 *
 *	Each test follows one transition and checks the files, the
 *	pipeline's counters and the log lines (captured from standard
 *	error), which are part of the interface.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "commit/claim.h"
#include "commit/commit.h"
#include "commit/msg.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/policy.h"
#include "common/queue.h"
#include "common/xalloc.h"
#include "daemon/notify.h"
#include "daemon/pipeline.h"
#include "daemon/watch.h"
#include "state/aside.h"
#include "state/listdb.h"

#define CLAIMED	"holdscan/claimed"

/* What the fake commit does with a message. */
enum fake_outcome {
	FAKE_AS_REAL,		/* delivered, dropped, set aside, by action */
	FAKE_RETURNED,		/* back in hold: why is fake_why */
	FAKE_BATCH_FAILS,	/* the whole batch fails with fake_why */
};

struct fixture {
	struct pool	 pool;		/* first: the fakes find the fixture */
	char		 dir[64];
	char		 qdir[128];
	char		 errpath[160];
	int		 qdirfd;
	int		 saved_stderr;
	struct hs_config *conf;
	struct queue_layout *ql;
	struct policy	 policy;
	struct watch	*watch;
	struct notify	*notify;
	struct metrics	 metrics;
	struct pipeline_ops ops;
	struct pipeline	*p;
	char		*image;
	size_t		 imagelen;
	/* the fake pool */
	char		 dispatched[1024];	/* "ID@PID ID@PID " */
	struct wire_list list;		/* the last dispatch's list entry */
	/* the fake commit */
	enum fake_outcome outcome;
	char		 outcome_id[16];	/* FAKE_RETURNED: only this one */
	char		 fake_why[128];
	int		 commits;
	char		 committed[1024];	/* "[ID:action:verdict ...] " */
	int		 new_ids;
};

static struct fixture *
fixture_of(struct pool *pool)
{
	return ((struct fixture *)(void *)((char *)pool -
	    offsetof(struct fixture, pool)));
}

static long
mono_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

/* --- the fake pool: workers the test adds, answered by the test ---------- */

static struct worker *
fake_idle(struct pool *pool)
{
	struct worker	*w;

	TAILQ_FOREACH(w, &pool->workers, entry)
		if (w->job == NULL && w->generation == pool->generation)
			return (w);
	return (NULL);
}

static size_t
fake_busy(const struct pool *pool)
{
	const struct worker *w;
	size_t		 n = 0;

	TAILQ_FOREACH(w, &pool->workers, entry)
		if (w->job != NULL)
			n++;
	return (n);
}

static int
fake_dispatch(struct pool *pool, struct worker *w, void *job, int fd,
    const char *queue_id, uint64_t size_limit, uint32_t time_limit_ms,
    const struct wire_list *list)
{
	struct fixture	*f = fixture_of(pool);
	struct msg	*m = job;
	struct stat	 st;
	size_t		 len = strlen(f->dispatched);

	(void)size_limit;
	(void)time_limit_ms;
	f->list = *list;
	/* The claimed file itself, still ours, goes to the worker. */
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_ino, m->st.st_ino);
	assert_string_equal(queue_id, m->id);
	(void)snprintf(f->dispatched + len, sizeof(f->dispatched) - len,
	    "%s@%ld ", queue_id, (long)w->pid);
	w->job = job;
	return (0);
}

static size_t
fake_lost(struct pool *pool, const char *why, void ***jobs_r)
{
	struct worker	*w;
	void		**jobs = NULL;
	size_t		 n = 0;

	(void)why;
	while ((w = TAILQ_FIRST(&pool->workers)) != NULL) {
		if (w->job != NULL) {
			jobs = xreallocarray(jobs, n + 1, sizeof(*jobs));
			jobs[n++] = w->job;
		}
		TAILQ_REMOVE(&pool->workers, w, entry);
		free(w);
	}
	pool->ready = false;
	*jobs_r = jobs;
	return (n);
}

/* --- the fake commit ------------------------------------------------------- */

static int
fake_commit(struct commit_ctx *c, struct msg **msgs, size_t n, char **error_r)
{
	struct pipeline	*p = (struct pipeline *)(void *)((char *)c -
			    offsetof(struct pipeline, commit));
	struct fixture	*f = fixture_of(p->pool);
	char		 rel[QUEUE_PATH_SIZE];
	size_t		 i, len;
	int		 published = 0;

	f->commits++;
	len = strlen(f->committed);
	(void)snprintf(f->committed + len, sizeof(f->committed) - len, "[");
	for (i = 0; i < n; i++) {
		struct msg	*m = msgs[i];
		bool		 ret;

		len = strlen(f->committed);
		(void)snprintf(f->committed + len, sizeof(f->committed) - len,
		    "%s%s:%s:%s", i ? " " : "", m->id,
		    confword_action_name(m->action), verdict_name(m->verdict));
		/* Claimed, locked, parsed, decided. */
		assert_true(m->fd >= 0);
		assert_non_null(m->qf);
		assert_true(m->decided);
		(void)close(m->fd);		/* releases the lock */
		m->fd = -1;
		(void)snprintf(rel, sizeof(rel), "%s/%s", CLAIMED, m->id);
		ret = f->outcome == FAKE_BATCH_FAILS ||
		    (f->outcome == FAKE_RETURNED &&
		    strcmp(f->outcome_id, m->id) == 0);
		if (ret || m->action == ACTION_HOLD) {
			assert_int_equal(claim_return(f->ql, f->qdirfd, CLAIMED,
			    m->id), 0);
			m->outcome = ret ? COMMIT_RETURNED : COMMIT_DONE;
			(void)snprintf(m->why, sizeof(m->why), "%s",
			    ret ? f->fake_why : "");
			continue;
		}
		assert_int_equal(unlinkat(f->qdirfd, rel, 0), 0);
		m->outcome = COMMIT_DONE;
		if (m->action == ACTION_DELIVER || m->action == ACTION_TAG ||
		    m->action == ACTION_CLEAN) {
			(void)snprintf(m->new_id, sizeof(m->new_id), "NEWID%05d",
			    ++f->new_ids);
			published++;
		}
	}
	len = strlen(f->committed);
	(void)snprintf(f->committed + len, sizeof(f->committed) - len, "] ");
	if (f->outcome == FAKE_BATCH_FAILS) {
		*error_r = xstrdup(f->fake_why);
		return (-1);
	}
	return (published);
}

/* --- fixture ---------------------------------------------------------------- */

static void
slurp(const char *path, char **data_r, size_t *len_r)
{
	FILE	*fp = fopen(path, "rb");
	long	 n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	*data_r = malloc((size_t)n);
	assert_int_equal(fread(*data_r, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len_r = (size_t)n;
}

/* Everything but the pipeline; conf_extra is added to the configuration. */
static struct fixture *
fixture_new(const char *conf_extra)
{
	struct fixture	*f = calloc(1, sizeof(*f));
	const char	*sub[] = { "queue", "queue/hold", "queue/incoming",
			    "state", "quarantine", NULL };
	char		 path[256], *text, *error = NULL;
	size_t		 i;
	int		 fd;

	assert_non_null(f);
	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_pipelineXXXXXX");
	assert_non_null(mkdtemp(f->dir));
	for (i = 0; sub[i] != NULL; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", f->dir, sub[i]);
		assert_int_equal(mkdir(path, 0700), 0);
	}
	(void)snprintf(f->qdir, sizeof(f->qdir), "%s/queue", f->dir);
	/* The regions in a directory of the test's: never the host's /run. */
	text = xasprintf("state_directory = \"%s/state\"\n"
	    "state_region_directory = \"%s\"\n"
	    "quarantine_directory = \"%s/quarantine\"\n"
	    "scan_retry_limit = 2\nbatch_max_messages = 2\n%s",
	    f->dir, f->dir, f->dir, conf_extra);
	if (config_load_string(text, "t.conf", NULL, NULL, &f->conf,
	    &error) < 0)
		fail_msg("%s", error);
	free(text);
	f->ql = queue_layout_new(f->qdir, geteuid(), getegid(), false,
	    "deferred, defer", 1);
	f->qdirfd = open(f->qdir, O_RDONLY | O_DIRECTORY);
	assert_true(f->qdirfd >= 0);
	policy_from_config(&f->policy, f->conf);
	assert_int_equal(watch_open(f->ql, f->qdirfd, &f->watch), 0);
	if (notify_new(f->conf, f->ql, &f->notify, &error) < 0)
		fail_msg("%s", error);
	/* Scanners up: generation 1. */
	TAILQ_INIT(&f->pool.workers);
	f->pool.ready = f->pool.ever_ready = true;
	f->pool.generation = 1;
	(void)snprintf(f->pool.engine_info, sizeof(f->pool.engine_info),
	    "test engine");
	f->ops.pool_idle = fake_idle;
	f->ops.pool_busy = fake_busy;
	f->ops.pool_dispatch = fake_dispatch;
	f->ops.pool_lost = fake_lost;
	f->ops.commit_batch = fake_commit;
	slurp(HS_SRCDIR "/tests/data/held-plain.qf", &f->image, &f->imagelen);
	/* The log goes to a file the tests read. */
	(void)snprintf(f->errpath, sizeof(f->errpath), "%s/stderr", f->dir);
	fd = open(f->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	f->saved_stderr = dup(STDERR_FILENO);
	assert_true(f->saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	(void)close(fd);
	return (f);
}

/* The pipeline on f, its state environment open. */
static void
pipeline_up(struct fixture *f)
{
	struct pipeline_setup ps;
	char		*error = NULL;

	memset(&ps, 0, sizeof(ps));
	ps.conf = f->conf;
	ps.ql = f->ql;
	ps.policy = &f->policy;
	ps.unscanned_header = "X-Holdscan: not scanned";
	ps.qdirfd = f->qdirfd;
	ps.watch = f->watch;
	ps.pool = &f->pool;
	ps.notify = f->notify;
	ps.metrics = &f->metrics;
	ps.ops = &f->ops;
	if (pipeline_new(&ps, &f->p, &error) < 0)
		fail_msg("%s", error);
	assert_true(f->p->state_starting);
	pipeline_start(f->p);
	assert_false(f->p->state_starting);
	assert_false(f->p->state_broken);
}

static int
setup(void **state)
{
	struct fixture	*f = fixture_new("");

	pipeline_up(f);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	struct worker	*w;
	char		 cmd[128];

	(void)dup2(f->saved_stderr, STDERR_FILENO);
	(void)close(f->saved_stderr);
	pipeline_free(&f->p);
	assert_null(f->p);
	while ((w = TAILQ_FIRST(&f->pool.workers)) != NULL) {
		TAILQ_REMOVE(&f->pool.workers, w, entry);
		free(w);
	}
	notify_free(&f->notify);
	watch_close(&f->watch);
	policy_clear(&f->policy);
	(void)close(f->qdirfd);
	queue_layout_free(&f->ql);
	config_free(&f->conf);
	free(f->image);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return (-1);
	free(f);
	return (0);
}

/* --- helpers ----------------------------------------------------------------- */

/* What was logged so far (owned by the caller). */
static char *
logged(struct fixture *f)
{
	char	*text;
	size_t	 len;

	slurp(f->errpath, &text, &len);
	text = realloc(text, len + 1);
	assert_non_null(text);
	text[len] = '\0';
	return (text);
}

static void
assert_logged(struct fixture *f, const char *want)
{
	char	*text = logged(f);

	/* Standard error is the log: say it where the test's output goes. */
	if (strstr(text, want) == NULL) {
		(void)dprintf(f->saved_stderr, "not logged: \"%s\"; the log:\n%s",
		    want, text);
		fail();
	}
	free(text);
}

static void
assert_not_logged(struct fixture *f, const char *bad)
{
	char	*text = logged(f);

	if (strstr(text, bad) != NULL) {
		(void)dprintf(f->saved_stderr, "logged: \"%s\"; the log:\n%s",
		    bad, text);
		fail();
	}
	free(text);
}

/* A held message id, ready, as cleanup(8) leaves it; returns its inode. */
static ino_t
hold(struct fixture *f, const char *id)
{
	char		 rel[64];
	struct stat	 st;
	int		 fd;

	(void)snprintf(rel, sizeof(rel), "hold/%s", id);
	fd = openat(f->qdirfd, rel, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, f->image, f->imagelen),
	    (ssize_t)f->imagelen);
	assert_int_equal(fchmod(fd, 0700), 0);
	assert_int_equal(fstat(fd, &st), 0);
	(void)close(fd);
	return (st.st_ino);
}

/* The inode of rel in the queue, or 0. */
static ino_t
inode(struct fixture *f, const char *rel)
{
	struct stat	 st;

	if (fstatat(f->qdirfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		assert_int_equal(errno, ENOENT);
		return (0);
	}
	return (st.st_ino);
}

/* A worker of the current scanners, idle. */
static void
worker(struct fixture *f, pid_t pid)
{
	struct worker	*w = xcalloc(1, sizeof(*w));

	w->pid = pid;
	w->sock = -1;
	w->generation = f->pool.generation;
	TAILQ_INSERT_TAIL(&f->pool.workers, w, entry);
}

/* The message worker pid is scanning, taken from it (as a result does). */
static struct msg *
job_of(struct fixture *f, pid_t pid)
{
	struct worker	*w;
	struct msg	*m;

	TAILQ_FOREACH(w, &f->pool.workers, entry)
		if (w->pid == pid)
			break;
	assert_non_null(w);
	assert_non_null(w->job);
	m = w->job;
	w->job = NULL;
	return (m);
}

/* Worker pid died with its message: the pool drops it (POOL_FAILED). */
static struct msg *
worker_dies(struct fixture *f, pid_t pid)
{
	struct msg	*m = job_of(f, pid);
	struct worker	*w;

	TAILQ_FOREACH(w, &f->pool.workers, entry)
		if (w->pid == pid)
			break;
	TAILQ_REMOVE(&f->pool.workers, w, entry);
	free(w);
	return (m);
}

/* Worker pid answers: verdict v, action a. */
static void
answer(struct fixture *f, pid_t pid, enum verdict v, enum policy_action a,
    const char *reason)
{
	struct wire_result res;

	memset(&res, 0, sizeof(res));
	res.verdict = (int32_t)v;
	res.action = (int32_t)a;
	res.content = CONTENT_SAME;
	res.scan_us = 1500;
	(void)snprintf(res.reason, sizeof(res.reason), "%s", reason);
	pipeline_scanned(f->p, job_of(f, pid), &res, -1);
}

/* --- tests --------------------------------------------------------------------- */

static void
test_claim_scan_batch_commit(void **state)
{
	struct fixture	*f = *state;
	struct pipeline	*p = f->p;
	char		 want[256];
	ino_t		 ino;

	ino = hold(f, "ABCDEF");
	watch_rescan(f->watch);
	worker(f, 101);
	/* Claimed: out of hold, parsed, in the open batch, waiting for a worker. */
	pipeline_claim(p);
	assert_int_equal(p->in_flight, 1);
	assert_int_equal(inode(f, "hold/ABCDEF"), 0);
	assert_int_equal(inode(f, CLAIMED "/ABCDEF"), ino);
	(void)snprintf(want, sizeof(want), "ABCDEF: claimed "
	    "from=<alice@example.org> size=%zu nrcpt=1", f->imagelen);
	assert_logged(f, want);
	assert_int_equal(f->metrics.claimed, 1);
	assert_non_null(p->open);
	assert_false(TAILQ_EMPTY(&p->scanq));
	/* Dispatched to the idle worker; nothing is committed undecided. */
	pipeline_dispatch(p);
	assert_string_equal(f->dispatched, "ABCDEF@101 ");
	assert_true(TAILQ_EMPTY(&p->scanq));
	pipeline_commit_ready(p);
	assert_int_equal(f->commits, 0);
	/* The result decides it, and the batch (nothing else coming) commits. */
	answer(f, 101, VERDICT_CLEAN, ACTION_DELIVER, "");
	assert_logged(f, "ABCDEF: scanned verdict=clean action=deliver "
	    "scan=1.5ms\n");
	assert_int_equal(f->metrics.verdicts[VERDICT_CLEAN], 1);
	pipeline_commit_ready(p);
	assert_int_equal(f->commits, 1);
	assert_string_equal(f->committed, "[ABCDEF:deliver:clean] ");
	assert_logged(f, "ABCDEF: action=deliver new_id=NEWID00001 "
	    "verdict=clean delay=");
	(void)snprintf(want, sizeof(want), "batch=1 messages=1 bytes=%zu "
	    "delivered=1 tagged=0 cleaned=0 quarantined=0 dropped=0 held=0 "
	    "returned=0 time=", f->imagelen);
	assert_logged(f, want);
	assert_int_equal(p->in_flight, 0);
	assert_null(p->open);
	assert_true(TAILQ_EMPTY(&p->closed));
	assert_int_equal(f->metrics.committed[ACTION_DELIVER], 1);
	assert_int_equal(f->metrics.batches, 1);
	assert_int_equal(inode(f, CLAIMED "/ABCDEF"), 0);
	assert_int_equal(p->backoff.count, 0);
}

/* The master looks the lists up at each dispatch: no reload needed. */
static void
test_the_list_entry_goes_with_the_message(void **state)
{
	struct fixture	*f = *state;
	struct pipeline	*p = f->p;
	struct list_entry e;
	char		*error = NULL;

	hold(f, "LISTA1");
	watch_rescan(f->watch);
	worker(f, 101);
	pipeline_claim(p);
	pipeline_dispatch(p);
	assert_int_equal(f->list.kind, LIST_NONE);
	assert_string_equal(f->list.entry, "");
	answer(f, 101, VERDICT_CLEAN, ACTION_DELIVER, "");
	/* An entry for the sender's parent domain, as holdscan list adds it. */
	memset(&e, 0, sizeof(e));
	e.kind = LIST_DENY;
	e.type = LIST_DOMAIN;
	(void)snprintf(e.value, sizeof(e.value), "org");
	e.added = 1796256000;
	(void)snprintf(e.added_by, sizeof(e.added_by), "root");
	if (listdb_put(p->state.lists, &e, NULL, &error) < 0)
		fail_msg("%s", error);
	hold(f, "LISTA2");
	watch_rescan(f->watch);
	pipeline_claim(p);
	pipeline_dispatch(p);
	assert_int_equal(f->list.kind, LIST_DENY);
	assert_string_equal(f->list.entry, "deny list: domain org (added by "
	    "root 2026-12-03)");
	assert_logged(f, "LISTA2: list=deny entry=\"deny list: domain org "
	    "(added by root 2026-12-03)\"");
	answer(f, 101, VERDICT_BLOCKED, ACTION_QUARANTINE, f->list.entry);
	pipeline_commit_ready(p);
}

static void
test_a_full_batch_closes_and_commits_on_its_own(void **state)
{
	struct fixture	*f = *state;
	struct pipeline	*p = f->p;

	(void)hold(f, "ABCDE1");
	(void)hold(f, "ABCDE2");
	(void)hold(f, "ABCDE3");
	watch_rescan(f->watch);
	worker(f, 101);
	worker(f, 102);
	worker(f, 103);
	/* batch_max_messages = 2: the first two fill a batch, which closes. */
	pipeline_claim(p);
	assert_int_equal(p->in_flight, 3);
	assert_false(TAILQ_EMPTY(&p->closed));
	assert_int_equal(TAILQ_FIRST(&p->closed)->count, 2);
	assert_non_null(p->open);
	assert_int_equal(p->open->count, 1);
	pipeline_dispatch(p);
	assert_string_equal(f->dispatched, "ABCDE1@101 ABCDE2@102 ABCDE3@103 ");
	/* The last decided first: the closed batch still waits for its own. */
	answer(f, 103, VERDICT_CLEAN, ACTION_DELIVER, "");
	answer(f, 101, VERDICT_SPAM, ACTION_TAG, "score 6.1");
	pipeline_commit_ready(p);
	assert_string_equal(f->committed, "[ABCDE3:deliver:clean] ");
	assert_logged(f, "ABCDE1: scanned verdict=spam action=tag scan=1.5ms "
	    "reason=\"score 6.1\"\n");
	answer(f, 102, VERDICT_INFECTED, ACTION_DROP, "Eicar-Signature");
	pipeline_commit_ready(p);
	assert_string_equal(f->committed, "[ABCDE3:deliver:clean] "
	    "[ABCDE1:tag:spam ABCDE2:drop:infected] ");
	assert_logged(f, "ABCDE2: action=drop verdict=infected "
	    "reason=\"Eicar-Signature\"\n");
	assert_logged(f, "batch=2 messages=1 ");
	assert_logged(f, "batch=1 messages=2 ");
	assert_int_equal(p->in_flight, 0);
	assert_int_equal(f->metrics.batches, 2);
}

static void
test_a_failed_attempt_is_scanned_again(void **state)
{
	struct fixture	*f = *state;
	struct pipeline	*p = f->p;
	struct msg	*m;

	(void)hold(f, "ABCDEF");
	watch_rescan(f->watch);
	worker(f, 101);
	pipeline_claim(p);
	pipeline_dispatch(p);
	/* The worker dies with it: one failed attempt, back at the front. */
	m = worker_dies(f, 101);
	pipeline_scan_failed(p, m, "worker 101 exited");
	assert_logged(f, "ABCDEF: scan attempt 1 failed: worker 101 exited\n");
	assert_int_equal(m->failures, 1);
	assert_false(m->decided);
	assert_ptr_equal(TAILQ_FIRST(&p->scanq), m);
	pipeline_commit_ready(p);
	assert_int_equal(f->commits, 0);
	/* A new worker takes it and scans it to the end. */
	worker(f, 102);
	pipeline_dispatch(p);
	assert_string_equal(f->dispatched, "ABCDEF@101 ABCDEF@102 ");
	answer(f, 102, VERDICT_CLEAN, ACTION_DELIVER, "");
	pipeline_commit_ready(p);
	assert_string_equal(f->committed, "[ABCDEF:deliver:clean] ");
	assert_not_logged(f, "scan failed:");
	assert_int_equal(p->in_flight, 0);
}

static void
test_the_retry_limit_makes_it_scan_failed(void **state)
{
	struct fixture	*f = *state;
	struct pipeline	*p = f->p;

	(void)hold(f, "ABCDEF");
	watch_rescan(f->watch);
	worker(f, 101);
	worker(f, 102);
	pipeline_claim(p);
	pipeline_dispatch(p);
	pipeline_scan_failed(p, worker_dies(f, 101), "worker 101 exited");
	pipeline_dispatch(p);
	/* scan_retry_limit = 2: the second failure decides it, unscanned. */
	pipeline_scan_failed(p, job_of(f, 102), "over scan_time_limit");
	assert_logged(f, "ABCDEF: scan attempt 2 failed: over scan_time_limit\n");
	assert_logged(f, "ABCDEF: scan failed: 2 scan attempts failed, last: "
	    "over scan_time_limit; action=hold\n");
	assert_true(TAILQ_EMPTY(&p->scanq));
	pipeline_dispatch(p);
	assert_string_equal(f->dispatched, "ABCDEF@101 ABCDEF@102 ");
	assert_int_equal(f->metrics.verdicts[VERDICT_FAILED], 1);
	/* The policy's scan_failed action (hold): set aside in hold. */
	pipeline_commit_ready(p);
	assert_string_equal(f->committed, "[ABCDEF:hold:scan-failed] ");
	assert_logged(f, "ABCDEF: action=hold verdict=scan-failed reason=\"2 "
	    "scan attempts failed, last: over scan_time_limit\"; left in hold "
	    "(postsuper -H ABCDEF releases it unscanned)\n");
	assert_int_equal(p->setaside.count, 1);
	assert_int_equal(f->metrics.committed[ACTION_HOLD], 1);
}

static void
test_a_failed_commit_pauses_claims_until_one_works(void **state)
{
	struct fixture	*f = *state;
	struct pipeline	*p = f->p;
	ino_t		 ino;

	ino = hold(f, "ABCDEF");
	watch_rescan(f->watch);
	worker(f, 101);
	f->outcome = FAKE_BATCH_FAILS;
	(void)snprintf(f->fake_why, sizeof(f->fake_why), "syncfs %s/holdscan/"
	    "staging: No space left on device", f->qdir);
	pipeline_claim(p);
	pipeline_dispatch(p);
	answer(f, 101, VERDICT_CLEAN, ACTION_DELIVER, "");
	pipeline_commit_ready(p);
	/* Back in hold, said once, and a pause of a second. */
	assert_int_equal(inode(f, "hold/ABCDEF"), ino);
	assert_logged(f, "warning: syncfs ");
	assert_logged(f, "staging: No space left on device; pausing, then "
	    "retrying with growing pauses (up to 60 s) until it works\n");
	assert_logged(f, "ABCDEF: returned to hold: syncfs ");
	assert_logged(f, "held=0 returned=1 time=");
	assert_int_equal(p->in_flight, 0);
	assert_int_equal(p->backoff.count, 1);
	assert_int_equal(p->backoff.pause_ms, 1000);
	assert_int_equal(f->metrics.batch_failures, 1);
	assert_int_equal(f->metrics.returned, 1);
	assert_non_null(strstr(f->metrics.last_error, "No space left"));
	/* The watcher offers it again, but nothing is claimed in the pause. */
	watch_rescan(f->watch);
	assert_int_equal(watch_pending(f->watch), 1);
	pipeline_claim(p);
	assert_int_equal(p->in_flight, 0);
	assert_true(pipeline_timeout(p, mono_ms()) > 900);
	/* After the pause it fails again: twice as long, no second warning. */
	p->backoff.until_ms = 0;
	assert_int_equal(pipeline_timeout(p, mono_ms()), 0);
	pipeline_claim(p);
	assert_int_equal(p->in_flight, 1);
	pipeline_dispatch(p);
	answer(f, 101, VERDICT_CLEAN, ACTION_DELIVER, "");
	pipeline_commit_ready(p);
	assert_int_equal(p->backoff.count, 2);
	assert_int_equal(p->backoff.pause_ms, 2000);
	assert_not_logged(f, "working again");
	/* Then the disk has room again: one line says so, the pause is over. */
	f->outcome = FAKE_AS_REAL;
	p->backoff.until_ms = 0;
	watch_rescan(f->watch);
	pipeline_claim(p);
	pipeline_dispatch(p);
	answer(f, 101, VERDICT_CLEAN, ACTION_DELIVER, "");
	pipeline_commit_ready(p);
	assert_string_equal(f->committed, "[ABCDEF:deliver:clean] "
	    "[ABCDEF:deliver:clean] [ABCDEF:deliver:clean] ");
	assert_logged(f, "working again after 2 failed attempts (last: syncfs ");
	assert_int_equal(p->backoff.count, 0);
	assert_int_equal(p->backoff.pause_ms, 0);
	assert_int_equal(inode(f, "hold/ABCDEF"), 0);
	assert_int_equal(f->metrics.committed[ACTION_DELIVER], 1);
}

static void
test_a_returned_message_goes_back_to_hold_and_pauses(void **state)
{
	struct fixture	*f = *state;
	struct pipeline	*p = f->p;
	ino_t		 ino;

	(void)hold(f, "ABCDE1");
	ino = hold(f, "ABCDE2");
	watch_rescan(f->watch);
	worker(f, 101);
	worker(f, 102);
	f->outcome = FAKE_RETURNED;
	(void)snprintf(f->outcome_id, sizeof(f->outcome_id), "ABCDE2");
	(void)snprintf(f->fake_why, sizeof(f->fake_why), "create "
	    "holdscan/staging/ABCDE2: No space left on device");
	pipeline_claim(p);
	pipeline_dispatch(p);
	answer(f, 101, VERDICT_CLEAN, ACTION_DELIVER, "");
	answer(f, 102, VERDICT_CLEAN, ACTION_DELIVER, "");
	pipeline_commit_ready(p);
	/* The batch worked, one message of it did not: it is back in hold. */
	assert_string_equal(f->committed, "[ABCDE1:deliver:clean "
	    "ABCDE2:deliver:clean] ");
	assert_logged(f, "ABCDE1: action=deliver new_id=NEWID00001 ");
	assert_logged(f, "ABCDE2: returned to hold: create "
	    "holdscan/staging/ABCDE2: No space left on device\n");
	assert_logged(f, "delivered=1 tagged=0 cleaned=0 quarantined=0 "
	    "dropped=0 held=0 returned=1 ");
	assert_int_equal(inode(f, "hold/ABCDE2"), ino);
	assert_int_equal(f->metrics.returned, 1);
	assert_int_equal(f->metrics.batch_failures, 0);
	assert_int_equal(p->in_flight, 0);
	/* It would come straight back: a pause first. */
	assert_logged(f, "warning: create holdscan/staging/ABCDE2: No space "
	    "left on device; pausing, then retrying");
	assert_int_equal(p->backoff.count, 1);
	watch_rescan(f->watch);
	pipeline_claim(p);
	assert_int_equal(p->in_flight, 0);
	p->backoff.until_ms = 0;
	pipeline_claim(p);
	assert_int_equal(p->in_flight, 1);
}

static void
test_a_corrupt_file_goes_to_the_corrupt_queue(void **state)
{
	struct fixture	*f = *state;
	struct pipeline	*p = f->p;
	struct stat	 st;
	int		 fd;

	fd = openat(f->qdirfd, "hold/ABCDEF", O_WRONLY | O_CREAT | O_EXCL,
	    0700);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a queue file", 16), 16);
	assert_int_equal(fstat(fd, &st), 0);
	(void)close(fd);
	watch_rescan(f->watch);
	worker(f, 101);
	pipeline_claim(p);
	assert_logged(f, "warning: ABCDEF: corrupt queue file: ");
	assert_logged(f, "; moved to corrupt\n");
	assert_int_equal(inode(f, "corrupt/ABCDEF"), st.st_ino);
	assert_int_equal(inode(f, "hold/ABCDEF"), 0);
	assert_int_equal(inode(f, CLAIMED "/ABCDEF"), 0);
	assert_int_equal(p->in_flight, 0);
	assert_int_equal(f->metrics.corrupt, 1);
	assert_null(p->open);
	pipeline_dispatch(p);
	assert_string_equal(f->dispatched, "");
}

static void
test_suspects_of_a_dead_scanner_parent_are_scanned_alone(void **state)
{
	struct fixture	*f = *state;
	struct pipeline	*p = f->p;

	(void)hold(f, "ABCDE1");
	(void)hold(f, "ABCDE2");
	watch_rescan(f->watch);
	worker(f, 101);
	worker(f, 102);
	pipeline_claim(p);
	pipeline_dispatch(p);
	/* The scanner parent dies with both in scan: not their failure. */
	pipeline_scanner_lost(p, "scanner parent 4242 exited");
	assert_logged(f, "ABCDE1: the scanner parent died while it was being "
	    "scanned; scanning it again (not counted as a failed attempt)\n");
	assert_int_equal(p->suspects, 2);
	assert_string_equal(f->metrics.last_error, "scanner parent 4242 exited");
	/* A new one: the suspects go one at a time. */
	f->pool.ready = true;
	worker(f, 201);
	worker(f, 202);
	pipeline_dispatch(p);
	assert_int_equal(fake_busy(&f->pool), 1);
	/* It dies again with one suspect alone in scan: that one pays. */
	pipeline_scanner_lost(p, "scanner parent 4343 exited");
	assert_logged(f, "ABCDE2: scan attempt 1 failed: the scanner parent "
	    "died while only this message was being scanned\n");
	assert_not_logged(f, "ABCDE1: scan attempt");
	assert_int_equal(p->suspects, 2);
	f->pool.ready = true;
	worker(f, 301);
	worker(f, 302);
	pipeline_dispatch(p);
	assert_int_equal(fake_busy(&f->pool), 1);
	/* The other suspect goes first: kills spread, poison stays. */
	assert_string_equal(f->dispatched, "ABCDE1@101 ABCDE2@102 ABCDE2@201 "
	    "ABCDE1@301 ");
	answer(f, 301, VERDICT_CLEAN, ACTION_DELIVER, "");
	assert_int_equal(p->suspects, 1);
	pipeline_dispatch(p);
	assert_string_equal(f->dispatched, "ABCDE1@101 ABCDE2@102 ABCDE2@201 "
	    "ABCDE1@301 ABCDE2@301 ");
	answer(f, 301, VERDICT_CLEAN, ACTION_DELIVER, "");
	assert_int_equal(p->suspects, 0);
	pipeline_commit_ready(p);
	assert_string_equal(f->committed, "[ABCDE1:deliver:clean "
	    "ABCDE2:deliver:clean] ");
}

/*
 * With the real commit: scan failed -> set aside in hold (aside.db, the
 * watcher leaves it) -> new scanners -> claimed and scanned again ->
 * delivered and forgotten by the set-aside list.
 */
static void
test_a_set_aside_message_waits_for_new_scanners(void **state)
{
	struct fixture	*f = *state;
	struct pipeline	*p = f->p;
	struct aside_entry *v = NULL;
	struct watch_candidate c;
	char		*error = NULL;
	size_t		 n = 0;
	ino_t		 ino;

	f->ops.commit_batch = commit_batch;
	ino = hold(f, "ABCDEF");
	watch_rescan(f->watch);
	worker(f, 101);
	worker(f, 102);
	pipeline_tick(p, mono_ms());	/* the scanners' epoch, the claim */
	assert_int_equal(p->in_flight, 1);
	pipeline_scan_failed(p, worker_dies(f, 101), "worker 101 exited");
	pipeline_dispatch(p);
	pipeline_scan_failed(p, worker_dies(f, 102), "worker 102 exited");
	pipeline_commit_ready(p);
	assert_logged(f, "ABCDEF: action=hold verdict=scan-failed");
	/* Back in hold under its inode, remembered, left alone by the watcher. */
	assert_int_equal(inode(f, "hold/ABCDEF"), ino);
	assert_int_equal(aside_list(p->state.aside, &v, &n, &error), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, "ABCDEF");
	assert_int_equal(v[0].ino, (uint64_t)ino);
	assert_string_equal(v[0].reason, "scan-failed: 2 scan attempts failed, "
	    "last: worker 102 exited");
	free(v);
	assert_int_equal(p->setaside.count, 1);
	watch_rescan(f->watch);
	assert_false(watch_next(f->watch, &c));
	/* The same scanners: nothing happens to it. */
	worker(f, 103);
	pipeline_tick(p, mono_ms());
	assert_int_equal(p->in_flight, 0);
	/* New scanners (a reload): it is offered and scanned again. */
	f->pool.generation = 2;
	worker(f, 201);
	pipeline_tick(p, mono_ms());
	assert_logged(f, "ABCDEF: set aside ");
	assert_logged(f, " ago, 1 attempt: scanning it again (new scanners: "
	    "test engine)\n");
	(void)watch_tick(f->watch, mono_ms());
	pipeline_tick(p, mono_ms());
	assert_int_equal(p->in_flight, 1);
	assert_string_equal(f->dispatched, "ABCDEF@101 ABCDEF@102 ABCDEF@201 ");
	answer(f, 201, VERDICT_CLEAN, ACTION_DELIVER, "");
	pipeline_commit_ready(p);
	assert_logged(f, "ABCDEF: no longer set aside: action=deliver "
	    "verdict=clean\n");
	assert_int_equal(inode(f, "hold/ABCDEF"), 0);
	assert_int_equal(aside_list(p->state.aside, &v, &n, &error), 0);
	assert_int_equal(n, 0);
	free(v);
	/* The next pass counts what is set aside now. */
	p->setaside.next_ms = 0;
	pipeline_tick(p, mono_ms());
	assert_int_equal(p->setaside.count, 0);
	assert_int_equal(f->metrics.committed[ACTION_DELIVER], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_claim_scan_batch_commit,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_the_list_entry_goes_with_the_message, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_full_batch_closes_and_commits_on_its_own, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_failed_attempt_is_scanned_again, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_the_retry_limit_makes_it_scan_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_failed_commit_pauses_claims_until_one_works, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_returned_message_goes_back_to_hold_and_pauses, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_corrupt_file_goes_to_the_corrupt_queue, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_suspects_of_a_dead_scanner_parent_are_scanned_alone,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_set_aside_message_waits_for_new_scanners, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
