/*
 * NAME
 *	test_pool - unit tests for the master's pool of scanner workers
 * DESCRIPTION
 *	No process is started: socketpairs play the scanner parent, the
 *	workers and the scanner supervisor, so each rule is checked alone.
 *	A worker that retires after its scan quota is dropped with its last
 *	result (it was handed the next message and its exit counted as a
 *	failed scan). A dead scanner parent is not a worker's failure: the
 *	pool gives back every job, counts no crash, goes down and asks the
 *	supervisor for a new parent after a pause that doubles while they
 *	keep dying, and says when they work again; the supervisor's reports
 *	are read. Each new parent is sent the configuration first; a reload
 *	goes to the parent to be checked (or waits for the next one), and
 *	the master hears whether it was taken or refused, with the errors:
 *	only a taken one is what later parents start with.
 *	A worker past its time limit, one that answers for another message,
 *	one whose result the master refused (pool_kill_worker(), also after
 *	it was dropped) and one that cannot be sent its message are dropped
 *	and killed
 *	through the scanner parent, their job given back once, and a
 *	replacement asked for; a new engine generation closes idle old
 *	workers at once and busy ones after their result, and only workers
 *	of the newest generation are handed messages. A resize (a reload
 *	that changes worker_count) closes idle surplus workers first, busy
 *	ones after their result, and asks for more when it grows.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/worker.h"
#include "common/wire.h"

struct fixture {
	struct pool	 pool;
	/* what the pool told its checked() */
	int		 ncalls;
	bool		 reload, ok;
	char		 errors[256];
	int		 parent;	/* the scanner parent's end of ctl */
	int		 sup;		/* the supervisor's end */
	int		 worker[4];	/* the workers' ends */
	size_t		 nworkers;
	int		 jobs[8];
};

static long
mono_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
}

/* The next message on fd, which must be of type want; its body in body. */
static size_t
expect(int fd, enum wire_type want, void *body, size_t size)
{
	enum wire_type	 type;
	size_t		 len;
	int		 rfd, r;

	r = wire_recv(fd, &type, body, size, &len, &rfd);
	assert_int_equal(r, 1);
	assert_int_equal(type, want);
	if (rfd >= 0)
		(void)close(rfd);
	return (len);
}

/* Nothing waiting on fd. */
static void
expect_nothing(int fd)
{
	char	 buf[16];

	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* The scanner parent announces generation gen. */
static void
engine(struct fixture *f, uint32_t gen)
{
	struct wire_engine e;
	char		 why[256];

	memset(&e, 0, sizeof(e));
	e.generation = gen;
	e.ok = 1;
	(void)snprintf(e.info, sizeof(e.info), "test");
	assert_int_equal(wire_send(f->parent, WIRE_ENGINE, &e, sizeof(e), -1), 0);
	assert_int_equal(pool_handle_ctl(&f->pool, why, sizeof(why)), 0);
}

/* The scanner parent sends a new worker; returns its pool entry. */
static struct worker *
spawned(struct fixture *f, pid_t pid)
{
	struct wire_spawned sp;
	struct worker	*w;
	char		 why[256];
	int		 sv[2];

	pair(sv);
	sp.pid = pid;
	sp.generation = f->pool.generation;
	assert_int_equal(wire_send(f->parent, WIRE_SPAWNED, &sp, sizeof(sp),
	    sv[0]), 0);
	(void)close(sv[0]);
	f->worker[f->nworkers++] = sv[1];
	assert_int_equal(pool_handle_ctl(&f->pool, why, sizeof(why)), 0);
	TAILQ_FOREACH(w, &f->pool.workers, entry)
		if (w->pid == pid)
			return (w);
	fail_msg("worker %ld not in the pool", (long)pid);
	return (NULL);
}

static void
checked(void *arg, bool reload, bool ok, const char *errors)
{
	struct fixture	*f = arg;

	f->ncalls++;
	f->reload = reload;
	f->ok = ok;
	(void)snprintf(f->errors, sizeof(f->errors), "%s", errors ? errors : "");
}

/* A configuration's text as the master hands it over. */
static int
config_fd(const char *text)
{
	int	 fd = wire_memfd("holdscan.conf", text, strlen(text));

	assert_true(fd >= 0);
	return (fd);
}

/* The text of the configuration that came with a message. */
static void
expect_config(int fd, enum wire_type want, uint32_t serial, const char *text)
{
	struct wire_config wc;
	enum wire_type	 type;
	size_t		 len;
	char		*got = NULL;
	int		 cfd;

	assert_int_equal(wire_recv(fd, &type, &wc, sizeof(wc), &len, &cfd), 1);
	assert_int_equal(type, want);
	assert_int_equal(len, sizeof(wc));
	assert_int_equal(wc.serial, serial);
	assert_string_equal(wc.myhostname, "mx.example.org");
	assert_int_equal(wc.line_limit, 2048);
	assert_true(cfd >= 0);
	assert_int_equal(wire_memfd_read(cfd, 4096, &got, NULL), 0);
	assert_string_equal(got, text);
	free(got);
	(void)close(cfd);
}

/* The scanner parent's answer about configuration serial. */
static void
answer(struct fixture *f, int sock, uint32_t serial, const char *errors)
{
	struct wire_checked ck;
	char		 why[256];
	int		 fd = -1;

	ck.serial = serial;
	ck.ok = errors == NULL;
	if (errors != NULL)
		fd = config_fd(errors);
	assert_int_equal(wire_send(sock, WIRE_CHECKED, &ck, sizeof(ck), fd), 0);
	if (fd >= 0)
		(void)close(fd);
	assert_int_equal(pool_handle_ctl(&f->pool, why, sizeof(why)), 0);
}

/* As pool_start() leaves it once the supervisor has started a parent. */
static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));
	int		 ctl[2], sup[2];

	assert_non_null(f);
	pair(ctl);
	pair(sup);
	memset(&f->pool, 0, sizeof(f->pool));
	TAILQ_INIT(&f->pool.workers);
	f->pool.config_fd = config_fd("scanners = crashtest\n");
	f->pool.pending_fd = -1;
	(void)snprintf(f->pool.wc.myhostname, sizeof(f->pool.wc.myhostname),
	    "mx.example.org");
	f->pool.wc.line_limit = 2048;
	f->pool.checked = checked;
	f->pool.checked_arg = f;
	f->pool.want = 2;
	f->pool.next_seq = 1;
	f->pool.ctl = ctl[0];
	f->pool.parent_pid = 4242;
	f->pool.sup = sup[0];
	f->pool.sup_pid = 0;
	f->pool.state = POOL_STARTING;
	f->parent = ctl[1];
	f->sup = sup[1];
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	size_t		 i;

	pool_stop(&f->pool);
	(void)close(f->parent);
	(void)close(f->sup);
	for (i = 0; i < f->nworkers; i++)
		(void)close(f->worker[i]);
	free(f);
	return (0);
}

static void
test_quota_worker_is_dropped_with_its_last_result(void **state)
{
	struct fixture	*f = *state;
	struct wire_scan req;
	struct wire_result res;
	struct worker	*w;
	char		 why[256];
	void		*job;
	int		 memfd, qf[2];

	engine(f, 1);
	assert_true(f->pool.ready);
	assert_true(f->pool.ever_ready);
	pool_fill(&f->pool);
	/* It asked for its two workers. */
	(void)expect(f->parent, WIRE_SPAWN, NULL, 0);
	(void)expect(f->parent, WIRE_SPAWN, NULL, 0);
	w = spawned(f, 101);
	assert_ptr_equal(pool_idle(&f->pool), w);
	pair(qf);
	assert_int_equal(pool_dispatch(&f->pool, w, &f->jobs[0], qf[0], "QID1",
	    0, 1000, NULL), 0);
	(void)expect(f->worker[0], WIRE_SCAN, &req, sizeof(req));
	/* The worker answers and says this was its last message. */
	memset(&res, 0, sizeof(res));
	res.seq = req.seq;
	res.last = 1;
	assert_int_equal(wire_send(f->worker[0], WIRE_RESULT, &res, sizeof(res),
	    -1), 0);
	assert_int_equal(pool_handle_worker(&f->pool, w, &res, &memfd, &job, why,
	    sizeof(why)), POOL_RESULT);
	assert_ptr_equal(job, &f->jobs[0]);
	/* Gone at once: no message can be handed to it any more. */
	assert_int_equal(f->pool.nworkers, 0);
	assert_null(pool_idle(&f->pool));
	assert_int_equal(f->pool.crashes, 0);
	/* And a replacement is asked for. */
	(void)expect(f->parent, WIRE_SPAWN, NULL, 0);
	expect_nothing(f->parent);
	(void)close(qf[0]);
	(void)close(qf[1]);
}

static void
test_worker_death_alone_is_a_failure(void **state)
{
	struct fixture	*f = *state;
	struct wire_scan req;
	struct wire_result res;
	struct worker	*w;
	char		 why[256];
	void		*job;
	int		 memfd, qf[2];

	engine(f, 1);
	w = spawned(f, 101);
	pair(qf);
	assert_int_equal(pool_dispatch(&f->pool, w, &f->jobs[0], qf[0], "QID1",
	    0, 1000, NULL), 0);
	(void)expect(f->worker[0], WIRE_SCAN, &req, sizeof(req));
	/* The worker dies; its parent lives on. */
	(void)close(f->worker[0]);
	f->nworkers = 0;
	assert_int_equal(pool_handle_worker(&f->pool, w, &res, &memfd, &job, why,
	    sizeof(why)), POOL_FAILED);
	assert_ptr_equal(job, &f->jobs[0]);
	assert_int_equal(f->pool.crashes, 1);
	assert_string_equal(why, "worker 101 exited");
	assert_true(f->pool.ready);
	(void)close(qf[0]);
	(void)close(qf[1]);
}

static void
test_parent_death_gives_every_job_back_uncounted(void **state)
{
	struct fixture	*f = *state;
	struct wire_scan req;
	struct wire_result res;
	char		 start[8];
	struct worker	*w1, *w2;
	char		 why[256];
	void		*job, **jobs = NULL;
	int		 memfd, qf[2];
	long		 ms;
	size_t		 n;

	engine(f, 1);
	w1 = spawned(f, 101);
	w2 = spawned(f, 102);
	pair(qf);
	assert_int_equal(pool_dispatch(&f->pool, w1, &f->jobs[0], qf[0], "QID1",
	    0, 1000, NULL), 0);
	assert_int_equal(pool_dispatch(&f->pool, w2, &f->jobs[1], qf[0], "QID2",
	    0, 1000, NULL), 0);
	/*
	 * The parent dies (its end closes first), then its workers: one
	 * that had read its message (end of file), one that had not (a
	 * reset).
	 */
	(void)expect(f->worker[0], WIRE_SCAN, &req, sizeof(req));
	(void)close(f->parent);
	f->parent = -1;
	(void)close(f->worker[0]);
	(void)close(f->worker[1]);
	f->nworkers = 0;
	assert_int_equal(pool_handle_worker(&f->pool, w1, &res, &memfd, &job, why,
	    sizeof(why)), POOL_LOST);
	assert_null(job);
	assert_string_equal(why, "scanner parent 4242 exited");
	assert_int_equal(pool_handle_worker(&f->pool, w2, &res, &memfd, &job, why,
	    sizeof(why)), POOL_LOST);
	assert_null(job);
	assert_int_equal(f->pool.crashes, 0);
	n = pool_lost(&f->pool, why, &jobs);
	assert_int_equal(n, 2);
	assert_true((jobs[0] == &f->jobs[0] && jobs[1] == &f->jobs[1]) ||
	    (jobs[0] == &f->jobs[1] && jobs[1] == &f->jobs[0]));
	free(jobs);
	assert_int_equal(f->pool.crashes, 0);
	assert_int_equal(f->pool.nworkers, 0);
	assert_int_equal(f->pool.ctl, -1);
	assert_false(f->pool.ready);
	assert_int_equal(f->pool.state, POOL_DOWN);
	assert_null(pool_idle(&f->pool));
	/* A second's pause before the supervisor is asked. */
	ms = pool_tick(&f->pool);
	assert_true(ms > 900 && ms <= 1000);
	expect_nothing(f->sup);
	f->pool.restart_at_ms = mono_ms();
	assert_int_equal(pool_tick(&f->pool), -1);
	assert_int_equal(expect(f->sup, WIRE_START, start, sizeof(start)), 0);
	assert_int_equal(f->pool.state, POOL_STARTING);
	assert_int_equal(f->pool.restarts, 1);
	(void)close(qf[0]);
	(void)close(qf[1]);
}

static void
test_pauses_double_and_reset_once_stable(void **state)
{
	struct fixture	*f = *state;
	char		 start[8];
	long		 want = 1000;
	int		 i;

	engine(f, 1);
	(void)pool_lost(&f->pool, "scanner parent 4242 exited", NULL);
	for (i = 0; i < 8; i++) {
		assert_int_equal(f->pool.pause_ms, want);
		assert_int_equal(f->pool.failures, (unsigned long)i + 1);
		f->pool.restart_at_ms = mono_ms();
		(void)pool_tick(&f->pool);
		(void)expect(f->sup, WIRE_START, start, sizeof(start));
		/* It dies before it announces an engine. */
		(void)pool_lost(&f->pool, "scanner parent exited", NULL);
		want = want * 2 > 60000 ? 60000 : want * 2;
	}
	assert_int_equal(f->pool.pause_ms, 60000);
	/* One comes up and stays: after ten seconds it works again. */
	{
		int	 ctl[2];

		pair(ctl);
		f->pool.restart_at_ms = mono_ms();
		(void)pool_tick(&f->pool);
		(void)expect(f->sup, WIRE_START, start, sizeof(start));
		f->pool.ctl = ctl[0];
		(void)close(f->parent);
		f->parent = ctl[1];
	}
	engine(f, 1);
	assert_true(f->pool.ready);
	assert_true(pool_tick(&f->pool) > 9000);
	assert_int_equal(f->pool.failures, 9);
	f->pool.up_since_ms -= 10000;
	assert_int_equal(pool_tick(&f->pool), -1);
	assert_int_equal(f->pool.failures, 0);
	assert_int_equal(f->pool.pause_ms, 0);
	/* The next death starts again from a second. */
	(void)pool_lost(&f->pool, "scanner parent exited", NULL);
	assert_int_equal(f->pool.pause_ms, 1000);
}

static void
test_supervisor_reports_and_reload_waits_for_a_scanner_parent(void **state)
{
	struct fixture	*f = *state;
	struct wire_started st;
	struct wire_exited ex;
	char		 start[8], why[256], *got = NULL;
	int		 ctl[2];

	engine(f, 1);
	(void)pool_lost(&f->pool, "scanner parent 4242 exited", NULL);
	/* How it ended, from the supervisor. */
	ex.pid = 4242;
	ex.status = SIGKILL;		/* as wait(2) reports a SIGKILL */
	assert_true(WIFSIGNALED(ex.status));
	assert_int_equal(wire_send(f->sup, WIRE_EXITED, &ex, sizeof(ex), -1), 0);
	assert_int_equal(pool_handle_sup(&f->pool, why, sizeof(why)), 0);
	assert_string_equal(f->pool.last_exit,
	    "scanner parent 4242 killed by signal 9 (Killed)");
	assert_true(f->pool.last_exit_time > 0);
	/* A reload while none runs: it waits for the next one. */
	pool_reload(&f->pool, config_fd("scanners = crashtest\n# new\n"));
	assert_false(pool_reload_in_flight(&f->pool));
	assert_int_equal(f->ncalls, 0);
	f->pool.restart_at_ms = mono_ms();
	(void)pool_tick(&f->pool);
	assert_int_equal(expect(f->sup, WIRE_START, start, sizeof(start)), 0);
	/* The supervisor could not fork: down again, a longer pause. */
	memset(&st, 0, sizeof(st));
	st.error = EAGAIN;
	assert_int_equal(wire_send(f->sup, WIRE_STARTED, &st, sizeof(st), -1), 0);
	assert_int_equal(pool_handle_sup(&f->pool, why, sizeof(why)), 0);
	assert_int_equal(f->pool.state, POOL_DOWN);
	assert_int_equal(f->pool.pause_ms, 2000);
	/* Then it can: the new parent's socket becomes the pool's. */
	f->pool.restart_at_ms = mono_ms();
	(void)pool_tick(&f->pool);
	(void)expect(f->sup, WIRE_START, start, sizeof(start));
	pair(ctl);
	st.pid = 4343;
	st.error = 0;
	assert_int_equal(wire_send(f->sup, WIRE_STARTED, &st, sizeof(st),
	    ctl[0]), 0);
	(void)close(ctl[0]);
	assert_int_equal(pool_handle_sup(&f->pool, why, sizeof(why)), 0);
	assert_true(f->pool.ctl >= 0);
	assert_int_equal(f->pool.parent_pid, 4343);
	(void)close(f->parent);
	f->parent = ctl[1];
	/* It is told the running configuration, then asked about the reload. */
	expect_config(f->parent, WIRE_CONFIG, 0, "scanners = crashtest\n");
	expect_config(f->parent, WIRE_RELOAD, 1,
	    "scanners = crashtest\n# new\n");
	assert_true(pool_reload_in_flight(&f->pool));
	answer(f, f->parent, 0, NULL);		/* its start: said nothing */
	assert_int_equal(f->ncalls, 0);
	answer(f, f->parent, 1, NULL);
	assert_int_equal(f->ncalls, 1);
	assert_true(f->reload);
	assert_true(f->ok);
	assert_false(pool_reload_in_flight(&f->pool));
	engine(f, 1);
	assert_true(f->pool.ready);
	/* Taken: what the next scanner parent starts with. */
	assert_int_equal(wire_memfd_read(f->pool.config_fd, 4096, &got, NULL), 0);
	assert_string_equal(got, "scanners = crashtest\n# new\n");
	free(got);
	got = NULL;
	/* A reload refused: the master hears why; nothing else changes. */
	pool_reload(&f->pool, config_fd("scanners = crashtest\nplugin crashtest "
	    "{ nosuch = 1 }\n"));
	assert_true(pool_reload_in_flight(&f->pool));
	expect_config(f->parent, WIRE_RELOAD, 2, "scanners = crashtest\n"
	    "plugin crashtest { nosuch = 1 }\n");
	answer(f, f->parent, 2, "t.conf:2: no such option 'nosuch'");
	assert_int_equal(f->ncalls, 2);
	assert_true(f->reload);
	assert_false(f->ok);
	assert_string_equal(f->errors, "t.conf:2: no such option 'nosuch'");
	assert_false(pool_reload_in_flight(&f->pool));
	assert_int_equal(f->pool.pending_fd, -1);
	assert_int_equal(wire_memfd_read(f->pool.config_fd, 4096, &got, NULL), 0);
	assert_string_equal(got, "scanners = crashtest\n# new\n");
	free(got);
	/* The supervisor gone: an error for the master. */
	(void)close(f->sup);
	f->sup = -1;
	assert_int_equal(pool_handle_sup(&f->pool, why, sizeof(why)), -1);
	assert_string_equal(why, "scanner supervisor 0 exited");
}

static void
test_a_worker_over_its_time_limit_is_killed_and_its_job_returned(void **state)
{
	struct fixture	*f = *state;
	struct wire_scan req;
	struct wire_pid	 kill;
	struct worker	*w;
	struct timespec	 now;
	int		 qf[2];
	long		 ms;

	engine(f, 1);
	w = spawned(f, 101);
	pair(qf);
	assert_int_equal(pool_dispatch(&f->pool, w, &f->jobs[0], qf[0], "QID1",
	    0, 2000, NULL), 0);
	(void)expect(f->worker[0], WIRE_SCAN, &req, sizeof(req));
	assert_int_equal(req.time_limit_ms, 2000);
	assert_string_equal(req.queue_id, "QID1");
	/* Not yet: the next deadline is about two seconds away. */
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = pool_next_deadline_ms(&f->pool, &now);
	assert_true(ms > 1900 && ms <= 2001);
	assert_null(pool_expire(&f->pool, &now));
	assert_int_equal(f->pool.timeouts, 0);
	/* Past it: killed through its parent, its job comes back once. */
	now.tv_sec += 3;
	assert_ptr_equal(pool_expire(&f->pool, &now), &f->jobs[0]);
	assert_null(pool_expire(&f->pool, &now));
	assert_int_equal(f->pool.timeouts, 1);
	assert_int_equal(f->pool.crashes, 0);
	assert_int_equal(expect(f->parent, WIRE_KILL, &kill, sizeof(kill)),
	    sizeof(kill));
	assert_int_equal(kill.pid, 101);
	assert_int_equal(f->pool.nworkers, 0);
	assert_int_equal(pool_next_deadline_ms(&f->pool, &now), -1);
	/* And a replacement is asked for. */
	(void)expect(f->parent, WIRE_SPAWN, NULL, 0);
	(void)close(qf[0]);
	(void)close(qf[1]);
}

static void
test_a_worker_answering_for_another_message_is_dropped(void **state)
{
	struct fixture	*f = *state;
	struct wire_scan req;
	struct wire_result res;
	struct wire_pid	 kill;
	struct worker	*w;
	char		 why[256];
	void		*job;
	int		 memfd, qf[2];

	engine(f, 1);
	w = spawned(f, 101);
	pair(qf);
	assert_int_equal(pool_dispatch(&f->pool, w, &f->jobs[0], qf[0], "QID1",
	    0, 1000, NULL), 0);
	(void)expect(f->worker[0], WIRE_SCAN, &req, sizeof(req));
	memset(&res, 0, sizeof(res));
	res.seq = req.seq + 1;
	assert_int_equal(wire_send(f->worker[0], WIRE_RESULT, &res, sizeof(res),
	    -1), 0);
	assert_int_equal(pool_handle_worker(&f->pool, w, &res, &memfd, &job, why,
	    sizeof(why)), POOL_FAILED);
	assert_ptr_equal(job, &f->jobs[0]);
	assert_string_equal(why, "worker 101: unexpected message");
	assert_int_equal(memfd, -1);
	assert_int_equal(f->pool.crashes, 1);
	assert_int_equal(f->pool.nworkers, 0);
	assert_int_equal(expect(f->parent, WIRE_KILL, &kill, sizeof(kill)),
	    sizeof(kill));
	assert_int_equal(kill.pid, 101);
	(void)close(qf[0]);
	(void)close(qf[1]);
}

static void
test_a_worker_whose_result_is_refused_is_killed(void **state)
{
	struct fixture	*f = *state;
	struct wire_scan req;
	struct wire_result res;
	struct wire_pid	 kill;
	struct worker	*w;
	char		 why[256];
	void		*job;
	int		 memfd, qf[2];

	engine(f, 1);
	w = spawned(f, 101);
	pair(qf);
	assert_int_equal(pool_dispatch(&f->pool, w, &f->jobs[0], qf[0], "QID1",
	    0, 1000, NULL), 0);
	(void)expect(f->worker[0], WIRE_SCAN, &req, sizeof(req));
	memset(&res, 0, sizeof(res));
	res.seq = req.seq;
	assert_int_equal(wire_send(f->worker[0], WIRE_RESULT, &res, sizeof(res),
	    -1), 0);
	assert_int_equal(pool_handle_worker(&f->pool, w, &res, &memfd, &job, why,
	    sizeof(why)), POOL_RESULT);
	assert_ptr_equal(job, &f->jobs[0]);
	(void)expect(f->parent, WIRE_SPAWN, NULL, 0);	/* the pool's second */
	/* The caller refused what it returned: it goes, and is killed. */
	pool_kill_worker(&f->pool, 101, "its result was refused");
	assert_int_equal(f->pool.nworkers, 0);
	assert_null(pool_idle(&f->pool));
	assert_int_equal(expect(f->parent, WIRE_KILL, &kill, sizeof(kill)),
	    sizeof(kill));
	assert_int_equal(kill.pid, 101);
	/* And a replacement is asked for. */
	(void)expect(f->parent, WIRE_SPAWN, NULL, 0);
	expect_nothing(f->parent);
	/* One it had dropped already (a last result) is killed all the same. */
	pool_kill_worker(&f->pool, 102, "its result was refused");
	assert_int_equal(expect(f->parent, WIRE_KILL, &kill, sizeof(kill)),
	    sizeof(kill));
	assert_int_equal(kill.pid, 102);
	expect_nothing(f->parent);
	(void)close(qf[0]);
	(void)close(qf[1]);
}

static void
test_a_new_generation_retires_the_old_workers(void **state)
{
	struct fixture	*f = *state;
	struct wire_scan req;
	struct wire_result res;
	struct worker	*w1;
	char		 why[256];
	void		*job;
	int		 memfd, qf[2];

	engine(f, 1);
	w1 = spawned(f, 101);
	(void)spawned(f, 102);
	pair(qf);
	assert_int_equal(pool_dispatch(&f->pool, w1, &f->jobs[0], qf[0], "QID1",
	    0, 1000, NULL), 0);
	(void)expect(f->worker[0], WIRE_SCAN, &req, sizeof(req));
	/* A reload built generation 2: the idle old worker goes at once. */
	engine(f, 2);
	assert_int_equal(f->pool.generation, 2);
	assert_int_equal(f->pool.nworkers, 1);
	assert_ptr_equal(TAILQ_FIRST(&f->pool.workers), w1);
	assert_true(w1->retiring);
	/* The busy one finishes its scan, is not handed another, and goes. */
	assert_null(pool_idle(&f->pool));
	memset(&res, 0, sizeof(res));
	res.seq = req.seq;
	assert_int_equal(wire_send(f->worker[0], WIRE_RESULT, &res, sizeof(res),
	    -1), 0);
	assert_int_equal(pool_handle_worker(&f->pool, w1, &res, &memfd, &job, why,
	    sizeof(why)), POOL_RESULT);
	assert_ptr_equal(job, &f->jobs[0]);
	assert_int_equal(f->pool.nworkers, 0);
	assert_int_equal(f->pool.crashes, 0);
	/* Workers of generation 2 are asked for and used. */
	(void)expect(f->parent, WIRE_SPAWN, NULL, 0);
	(void)expect(f->parent, WIRE_SPAWN, NULL, 0);
	w1 = spawned(f, 201);
	assert_int_equal(w1->generation, 2);
	assert_ptr_equal(pool_idle(&f->pool), w1);
	(void)close(qf[0]);
	(void)close(qf[1]);
}

static void
test_a_failed_send_drops_the_worker(void **state)
{
	struct fixture	*f = *state;
	struct wire_pid	 kill;
	struct worker	*w;
	int		 qf[2];

	engine(f, 1);
	w = spawned(f, 101);
	/* The worker's end is gone before we send. */
	(void)close(f->worker[0]);
	f->nworkers = 0;
	pair(qf);
	assert_int_equal(pool_dispatch(&f->pool, w, &f->jobs[0], qf[0], "QID1",
	    0, 1000, NULL), -1);
	assert_int_equal(f->pool.nworkers, 0);
	assert_null(pool_idle(&f->pool));
	assert_int_equal(pool_busy(&f->pool), 0);
	assert_int_equal(expect(f->parent, WIRE_KILL, &kill, sizeof(kill)),
	    sizeof(kill));
	assert_int_equal(kill.pid, 101);
	(void)expect(f->parent, WIRE_SPAWN, NULL, 0);
	(void)close(qf[0]);
	(void)close(qf[1]);
}

static void
test_a_refused_start_is_told_and_a_reload_goes_to_the_next_parent(
    void **state)
{
	struct fixture	*f = *state;

	/* The parent it had refuses the configuration it starts with. */
	answer(f, f->parent, 0, "t.conf:5: plugin crashtest: delay_ms = "
	    "\"x\": bad time");
	assert_int_equal(f->ncalls, 1);
	assert_false(f->reload);
	assert_false(f->ok);
	assert_string_equal(f->errors, "t.conf:5: plugin crashtest: delay_ms = "
	    "\"x\": bad time");
	/* A reload sent to a parent that dies unanswered goes to the next. */
	pool_reload(&f->pool, config_fd("# reloaded\n"));
	assert_true(pool_reload_in_flight(&f->pool));
	expect_config(f->parent, WIRE_RELOAD, 1, "# reloaded\n");
	(void)pool_lost(&f->pool, "scanner parent 4242 exited", NULL);
	assert_false(pool_reload_in_flight(&f->pool));
	assert_true(f->pool.pending_fd >= 0);
	assert_int_equal(f->ncalls, 1);
}

static void
test_a_resize_closes_idle_workers_first_and_asks_for_more(void **state)
{
	struct fixture	*f = *state;
	struct wire_scan req;
	struct worker	*w1, *w3, *w4;
	int		 qf[2];

	engine(f, 1);
	w1 = spawned(f, 101);
	(void)spawned(f, 102);
	pair(qf);
	assert_int_equal(pool_dispatch(&f->pool, w1, &f->jobs[0], qf[0], "QID1",
	    0, 1000, NULL), 0);
	(void)expect(f->worker[0], WIRE_SCAN, &req, sizeof(req));
	/* Smaller: the idle worker goes, the busy one stays. */
	pool_resize(&f->pool, 1);
	assert_int_equal(f->pool.nworkers, 1);
	assert_ptr_equal(TAILQ_FIRST(&f->pool.workers), w1);
	assert_false(w1->retiring);
	expect_nothing(f->parent);
	/* Larger: two more are asked for. */
	pool_resize(&f->pool, 3);
	(void)expect(f->parent, WIRE_SPAWN, NULL, 0);
	(void)expect(f->parent, WIRE_SPAWN, NULL, 0);
	expect_nothing(f->parent);
	w3 = spawned(f, 103);
	w4 = spawned(f, 104);
	assert_int_equal(f->pool.nworkers, 3);
	assert_int_equal(pool_dispatch(&f->pool, w3, &f->jobs[1], qf[0], "QID2",
	    0, 1000, NULL), 0);
	(void)expect(f->worker[2], WIRE_SCAN, &req, sizeof(req));
	/* Down to one: the idle 104 at once, then busy 101 after its scan. */
	pool_resize(&f->pool, 1);
	assert_int_equal(f->pool.nworkers, 2);
	TAILQ_FOREACH(w4, &f->pool.workers, entry)
		assert_int_not_equal(w4->pid, 104);
	assert_true(w1->retiring);
	assert_false(w3->retiring);
	assert_ptr_equal(pool_idle(&f->pool), NULL);
	expect_nothing(f->parent);
	(void)close(qf[0]);
	(void)close(qf[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_quota_worker_is_dropped_with_its_last_result, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_worker_death_alone_is_a_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_parent_death_gives_every_job_back_uncounted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_pauses_double_and_reset_once_stable, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_supervisor_reports_and_reload_waits_for_a_scanner_parent,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_refused_start_is_told_and_a_reload_goes_to_the_next_parent,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_worker_over_its_time_limit_is_killed_and_its_job_returned,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_worker_answering_for_another_message_is_dropped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_worker_whose_result_is_refused_is_killed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_new_generation_retires_the_old_workers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_failed_send_drops_the_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_resize_closes_idle_workers_first_and_asks_for_more,
		    setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
