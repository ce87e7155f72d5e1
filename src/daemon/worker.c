/*
 * NAME
 *	worker - the master's pool of scanner workers
 * DESCRIPTION
 *	Workers are forked by the scanner parent (scanner.c), which sends
 *	each new worker's socket here. A worker gets one message at a time:
 *	a read-only descriptor of the claimed queue file and a deadline.
 *	A worker that closes its socket, sends garbage, answers for the
 *	wrong message or misses its deadline is dropped (and killed through
 *	the scanner parent, which owns it); its message comes back to the
 *	caller as POOL_FAILED, and the pool asks for a replacement.
 *
 *	A worker whose result the caller refused (pool_kill_worker(): the
 *	master's checks of what a worker returns) is killed, never handed
 *	another message: it may have been taken over by what it scanned.
 *
 *	A worker that has used up its quota (worker_max_scans) says so with
 *	its last result and is dropped at once, so it is never handed a
 *	message it would leave unanswered: a planned exit never counts as a
 *	failed scan attempt.
 *
 *	When the scanner parent announces a new engine generation, idle
 *	workers of older generations are closed at once and busy ones after
 *	their message, so a reload never interrupts a scan.
 *
 *	A scanner parent is told the configuration first (the text holdscand
 *	read, in a sealed memfd, WIRE_CONFIG), and checks it: the master
 *	loads no plugin, so the plugin sections are the scanner parent's
 *	to judge. A reload (pool_reload()) is a new text it checks the same
 *	way; it answers with the errors or takes it, and the master takes
 *	it only then (pool_params.checked). A reload that finds no scanner
 *	parent, or whose scanner parent dies before it answers, goes to the
 *	next one.
 *
 *	The scanner parent runs as worker_user, which any process of that
 *	user can kill. When it dies its workers die with it: the pool drops
 *	them all, gives their jobs back (pool_lost()), and asks the scanner
 *	supervisor (supervisor.c) for a new one after a pause of a second,
 *	doubling up to a minute while new ones keep dying before they have
 *	run for POOL_STABLE_MS. Until one is up, pool_idle() finds no worker
 *	and pool->ready is false.
 *
 *	This module must never block on a worker (all sends are single
 *	datagrams on a socket the worker drains) and never lose a job: every
 *	job handed to pool_dispatch() comes back exactly once, as a result
 *	or a failure.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/supervisor.h"
#include "daemon/worker.h"

#define POOL_PAUSE_MIN_MS	1000
#define POOL_PAUSE_MAX_MS	60000
#define POOL_REMIND_MS		300000
#define POOL_STABLE_MS		10000	/* up this long: working again */
#define POOL_STOP_MS		8000	/* for the supervisor at stop */

static long
mono_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

static void
set_state(struct pool *pool, enum pool_state state)
{
	if ((state == POOL_UP) != (pool->state == POOL_UP))
		pool->state_since = time(NULL);
	pool->state = state;
	pool->ready = state == POOL_UP;
}

/* Ask the supervisor for a scanner parent; -1 with errno if it cannot be asked. */
static int
ask_start(struct pool *pool)
{
	if (wire_send(pool->sup, WIRE_START, NULL, 0, -1) < 0)
		return (-1);
	set_state(pool, POOL_STARTING);
	return (0);
}

int
pool_start(struct pool *pool, const struct supervisor_setup *setup,
    const struct pool_params *pp)
{
	memset(pool, 0, sizeof(*pool));
	TAILQ_INIT(&pool->workers);
	pool->want = pp->nworkers;
	pool->next_seq = 1;
	pool->ctl = -1;
	pool->sup = -1;
	pool->pending_fd = -1;
	pool->config_fd = pp->config_fd;
	(void)snprintf(pool->wc.myhostname, sizeof(pool->wc.myhostname), "%s",
	    pp->myhostname);
	pool->wc.line_limit = (uint32_t)pp->line_limit;
	pool->checked = pp->checked;
	pool->checked_arg = pp->checked_arg;
	pool->state_since = time(NULL);
	if (supervisor_start(setup, &pool->sup, &pool->sup_pid) < 0)
		return (-1);
	return (ask_start(pool));
}

static void
worker_kill(struct pool *pool, struct worker *w)
{
	struct wire_pid	 p = { w->pid };

	if (pool->ctl < 0)
		return;		/* no scanner parent: the worker is gone too */
	if (wire_send(pool->ctl, WIRE_KILL, &p, sizeof(p), -1) < 0)
		hs_warn("pool: cannot ask to kill worker %ld", (long)w->pid);
}

/*
 * Has the scanner parent closed its end? It closes its descriptors as it
 * exits, before the kernel kills its workers (they die with it), so a
 * worker that died with it always finds this true.
 */
static bool
parent_gone(const struct pool *pool)
{
	struct pollfd	 pfd;

	if (pool->ctl < 0)
		return (false);
	pfd.fd = pool->ctl;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) < 0)
		return (false);
	return ((pfd.revents & (POLLHUP | POLLERR)) != 0);
}

/* Words for a wait(2) status: "killed by signal 9", "exited with status 78". */
static void
describe_status(int status, char *buf, size_t size)
{
	if (WIFSIGNALED(status))
		(void)snprintf(buf, size, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status))
		(void)snprintf(buf, size, "exited with status %d",
		    WEXITSTATUS(status));
	else
		(void)snprintf(buf, size, "ended with wait status %#x", status);
}

static void
worker_free(struct pool *pool, struct worker *w)
{
	TAILQ_REMOVE(&pool->workers, w, entry);
	pool->nworkers--;
	(void)close(w->sock);
	free(w);
}

/* Close idle workers of older generations; mark busy ones to go later. */
static void
retire_old(struct pool *pool)
{
	struct worker	*w, *next;

	for (w = TAILQ_FIRST(&pool->workers); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->generation >= pool->generation)
			continue;
		if (w->job == NULL)
			worker_free(pool, w);	/* it exits on end of file */
		else
			w->retiring = true;
	}
}

/* The scanner parent's answer about a configuration (fd: its errors). */
static void
checked(struct pool *pool, const struct wire_checked *ck, int fd)
{
	char	*errors = NULL;
	bool	 reload;

	if (!ck->ok && (fd < 0 || wire_memfd_read(fd, 1024 * 1024, &errors,
	    NULL) < 0))
		errors = xasprintf("the scanner parent refused the "
		    "configuration without saying why");
	if (fd >= 0)
		(void)close(fd);
	if (ck->serial == 0) {
		reload = false;		/* the one it started with */
		if (ck->ok) {
			free(errors);
			return;
		}
	} else if (pool->pending_fd >= 0 && pool->pending_sent &&
	    ck->serial == pool->pending_serial) {
		reload = true;
		if (ck->ok) {
			(void)close(pool->config_fd);
			pool->config_fd = pool->pending_fd;
		} else {
			(void)close(pool->pending_fd);
		}
		pool->pending_fd = -1;
		pool->pending_sent = false;
	} else {
		hs_warnx("pool: an answer about configuration %u, which was "
		    "not asked about", ck->serial);
		free(errors);
		return;
	}
	if (pool->checked != NULL)
		pool->checked(pool->checked_arg, reload, ck->ok != 0, errors);
	free(errors);
}

int
pool_handle_ctl(struct pool *pool, char *why, size_t whysize)
{
	union {
		struct wire_spawned	 sp;
		struct wire_exited	 ex;
		struct wire_engine	 en;
		struct wire_checked	 ck;
	} body;
	enum wire_type	 type;
	struct worker	*w;
	size_t		 len;
	int		 fd, r;

	r = wire_recv(pool->ctl, &type, &body, sizeof(body), &len, &fd);
	if (r <= 0) {
		(void)snprintf(why, whysize, "scanner parent %ld %s",
		    (long)pool->parent_pid, r == 0 ? "exited" : strerror(errno));
		return (-1);
	}
	switch (type) {
	case WIRE_SPAWNED:
		if (len != sizeof(body.sp) || fd < 0)
			break;
		w = xcalloc(1, sizeof(*w));
		w->pid = body.sp.pid;
		w->sock = fd;
		w->generation = body.sp.generation;
		TAILQ_INSERT_TAIL(&pool->workers, w, entry);
		pool->nworkers++;
		pool->spawned++;
		if (pool->spawning > 0)
			pool->spawning--;
		hs_debug("pool: worker %ld started (generation %u)", (long)w->pid,
		    w->generation);
		if (w->generation < pool->generation)
			retire_old(pool);
		return (0);
	case WIRE_EXITED:
		if (len != sizeof(body.ex))
			break;
		if (WIFSIGNALED(body.ex.status) &&
		    WTERMSIG(body.ex.status) != SIGKILL &&
		    WTERMSIG(body.ex.status) != SIGTERM)
			hs_warnx("pool: worker %ld killed by signal %d",
			    (long)body.ex.pid, WTERMSIG(body.ex.status));
		else if (WIFEXITED(body.ex.status) &&
		    WEXITSTATUS(body.ex.status) != 0)
			hs_warnx("pool: worker %ld exited with status %d",
			    (long)body.ex.pid, WEXITSTATUS(body.ex.status));
		return (0);
	case WIRE_ENGINE:
		if (len != sizeof(body.en))
			break;
		body.en.info[sizeof(body.en.info) - 1] = '\0';
		if (!body.en.ok && !pool->ever_ready) {
			/* Its exit follows; scanner_lost()'s fatal line says it. */
			(void)snprintf(pool->start_error,
			    sizeof(pool->start_error), "%s", body.en.info);
			return (0);
		}
		if (!body.en.ok) {
			hs_warnx("reload failed, still using generation %u: %s",
			    pool->generation, body.en.info);
			return (0);
		}
		pool->generation = body.en.generation;
		if (pool->state != POOL_UP)
			pool->up_since_ms = mono_ms();
		set_state(pool, POOL_UP);
		pool->ever_ready = true;
		(void)snprintf(pool->engine_info, sizeof(pool->engine_info), "%s",
		    body.en.info);
		hs_info("scanners ready: generation=%u %s", pool->generation,
		    body.en.info[0] ? body.en.info : "(no plugins)");
		retire_old(pool);
		return (0);
	case WIRE_CHECKED:
		if (len != sizeof(body.ck))
			break;
		checked(pool, &body.ck, fd);
		return (0);
	default:
		break;
	}
	if (fd >= 0)
		(void)close(fd);
	hs_warnx("pool: unexpected message %d (%zu bytes) from scanner parent",
	    type, len);
	return (0);
}

/* The waiting reload to the scanner parent we have. */
static void
send_reload(struct pool *pool)
{
	struct wire_config wc = pool->wc;

	wc.serial = pool->pending_serial;
	if (wire_send(pool->ctl, WIRE_RELOAD, &wc, sizeof(wc),
	    pool->pending_fd) < 0) {
		hs_warn("pool: cannot ask for a reload");
		return;		/* the next scanner parent gets it */
	}
	pool->pending_sent = true;
}

int
pool_handle_sup(struct pool *pool, char *why, size_t whysize)
{
	union {
		struct wire_started	 st;
		struct wire_exited	 ex;
	} body;
	enum wire_type	 type;
	size_t		 len;
	char		 how[96];
	int		 fd, r;

	r = wire_recv(pool->sup, &type, &body, sizeof(body), &len, &fd);
	if (r <= 0) {
		(void)snprintf(why, whysize, "scanner supervisor %ld %s",
		    (long)pool->sup_pid, r == 0 ? "exited" : strerror(errno));
		return (-1);
	}
	switch (type) {
	case WIRE_STARTED:
		if (len != sizeof(body.st))
			break;
		if (body.st.pid <= 0 || fd < 0) {
			if (fd >= 0)
				(void)close(fd);
			(void)snprintf(how, sizeof(how), "cannot start a scanner "
			    "parent: %s", strerror(body.st.error));
			(void)pool_lost(pool, how, NULL);
			return (0);
		}
		if (pool->ctl >= 0 || pool->state != POOL_STARTING) {
			(void)close(fd);
			hs_warnx("pool: scanner parent %ld started unasked; "
			    "closing its socket", (long)body.st.pid);
			return (0);
		}
		pool->ctl = fd;
		pool->parent_pid = body.st.pid;
		hs_debug("pool: scanner parent %ld started", (long)pool->parent_pid);
		{
			struct wire_config wc = pool->wc;

			wc.serial = 0;
			if (wire_send(pool->ctl, WIRE_CONFIG, &wc, sizeof(wc),
			    pool->config_fd) < 0) {
				(void)snprintf(how, sizeof(how), "cannot send the "
				    "scanner parent its configuration: %s",
				    strerror(errno));
				(void)pool_lost(pool, how, NULL);
				return (0);
			}
		}
		/* A reload it must check once it has started. */
		if (pool->pending_fd >= 0)
			send_reload(pool);
		return (0);
	case WIRE_EXITED:
		if (len != sizeof(body.ex) || fd >= 0)
			break;
		describe_status(body.ex.status, how, sizeof(how));
		(void)snprintf(pool->last_exit, sizeof(pool->last_exit),
		    "scanner parent %ld %s", (long)body.ex.pid, how);
		pool->last_exit_time = time(NULL);
		hs_info("%s", pool->last_exit);
		return (0);
	default:
		break;
	}
	if (fd >= 0)
		(void)close(fd);
	hs_warnx("pool: unexpected message %d (%zu bytes) from the scanner "
	    "supervisor", type, len);
	return (0);
}

size_t
pool_lost(struct pool *pool, const char *why, void ***jobs_r)
{
	struct worker	*w;
	void		**jobs = NULL;
	size_t		 n = 0;
	long		 t = mono_ms();

	if (jobs_r != NULL)
		*jobs_r = NULL;
	while ((w = TAILQ_FIRST(&pool->workers)) != NULL) {
		if (w->job != NULL) {
			jobs = xreallocarray(jobs, n + 1, sizeof(*jobs));
			jobs[n++] = w->job;
		}
		worker_free(pool, w);
	}
	if (pool->ctl >= 0) {
		(void)close(pool->ctl);
		pool->ctl = -1;
	}
	pool->pending_sent = false;	/* unanswered: the next one checks it */
	pool->parent_pid = 0;
	pool->spawning = 0;
	pool->generation = 0;
	set_state(pool, POOL_DOWN);
	pool->pause_ms = pool->pause_ms ? pool->pause_ms * 2 : POOL_PAUSE_MIN_MS;
	if (pool->pause_ms > POOL_PAUSE_MAX_MS)
		pool->pause_ms = POOL_PAUSE_MAX_MS;
	pool->restart_at_ms = t + pool->pause_ms;
	if (pool->failures++ == 0) {
		hs_warnx("%s; %zu message%s being scanned will be scanned again; "
		    "no mail is taken from hold until scanners are back; starting "
		    "a new scanner parent, with growing pauses (up to %d s) while "
		    "it fails", why, n, n == 1 ? "" : "s",
		    POOL_PAUSE_MAX_MS / 1000);
		pool->warned_ms = t;
	} else if (t - pool->warned_ms >= POOL_REMIND_MS) {
		hs_warnx("scanners still down after %lu attempts: %s",
		    pool->failures, why);
		pool->warned_ms = t;
	} else {
		hs_debug("scanners down again (%lu attempts): %s; %zu message%s "
		    "to scan again; next start in %ld ms", pool->failures, why,
		    n, n == 1 ? "" : "s", pool->pause_ms);
	}
	if (jobs_r != NULL)
		*jobs_r = jobs;
	else
		free(jobs);
	return (n);
}

long
pool_tick(struct pool *pool)
{
	long	 t = mono_ms();

	if (pool->state == POOL_DOWN && t >= pool->restart_at_ms) {
		hs_debug("pool: starting scanner parent (attempt %lu)",
		    pool->failures);
		if (ask_start(pool) < 0) {
			char	 why[160];

			(void)snprintf(why, sizeof(why), "cannot ask the scanner "
			    "supervisor for a scanner parent: %s", strerror(errno));
			(void)pool_lost(pool, why, NULL);
		} else {
			pool->restarts++;
		}
	}
	if (pool->state == POOL_UP && pool->failures > 0 &&
	    t - pool->up_since_ms >= POOL_STABLE_MS) {
		hs_info("scanners working again after %lu restart%s (last: %s)",
		    pool->failures, pool->failures == 1 ? "" : "s",
		    pool->last_exit[0] ? pool->last_exit : "unknown");
		pool->failures = 0;
		pool->pause_ms = 0;
	}
	if (pool->state == POOL_DOWN)
		return (pool->restart_at_ms > t ? pool->restart_at_ms - t : 0);
	if (pool->state == POOL_UP && pool->failures > 0)
		return (pool->up_since_ms + POOL_STABLE_MS - t);
	return (-1);
}

void
pool_fill(struct pool *pool)
{
	size_t	 current = 0;
	struct worker *w;

	if (!pool->ready)
		return;
	TAILQ_FOREACH(w, &pool->workers, entry)
		if (!w->retiring && w->generation == pool->generation)
			current++;
	while (current + pool->spawning < pool->want) {
		if (wire_send(pool->ctl, WIRE_SPAWN, NULL, 0, -1) < 0) {
			hs_warn("pool: cannot ask for a worker");
			return;
		}
		pool->spawning++;
	}
}

void
pool_resize(struct pool *pool, size_t n)
{
	struct worker	*w, *next;
	size_t		 current = 0;

	if (n < 1)
		n = 1;
	hs_info("scanner workers: %zu (were %zu)", n, pool->want);
	pool->want = n;
	TAILQ_FOREACH(w, &pool->workers, entry)
		if (!w->retiring && w->generation == pool->generation)
			current++;
	/* Idle ones first, then busy ones after their message. */
	for (w = TAILQ_FIRST(&pool->workers); w != NULL && current > n;
	    w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->job == NULL && !w->retiring &&
		    w->generation == pool->generation) {
			worker_free(pool, w);	/* it exits on end of file */
			current--;
		}
	}
	TAILQ_FOREACH(w, &pool->workers, entry) {
		if (current <= n)
			break;
		if (!w->retiring && w->generation == pool->generation) {
			w->retiring = true;
			current--;
		}
	}
	pool_fill(pool);
}

struct worker *
pool_idle(struct pool *pool)
{
	struct worker	*w;

	TAILQ_FOREACH(w, &pool->workers, entry)
		if (w->job == NULL && !w->retiring &&
		    w->generation == pool->generation)
			return (w);
	return (NULL);
}

int
pool_dispatch(struct pool *pool, struct worker *w, void *job, int fd,
    const char *queue_id, uint64_t size_limit, uint32_t time_limit_ms,
    const struct wire_list *list)
{
	struct wire_scan req;

	memset(&req, 0, sizeof(req));
	if (list != NULL)
		req.list = *list;
	req.seq = pool->next_seq++;
	req.size_limit = size_limit;
	req.time_limit_ms = time_limit_ms;
	(void)snprintf(req.queue_id, sizeof(req.queue_id), "%s", queue_id);
	if (wire_send(w->sock, WIRE_SCAN, &req, sizeof(req), fd) < 0) {
		hs_warn("pool: send to worker %ld", (long)w->pid);
		worker_kill(pool, w);
		worker_free(pool, w);
		pool_fill(pool);
		return (-1);
	}
	w->job = job;
	w->seq = req.seq;
	(void)clock_gettime(CLOCK_MONOTONIC, &w->deadline);
	w->deadline.tv_sec += time_limit_ms / 1000;
	w->deadline.tv_nsec += (long)(time_limit_ms % 1000) * 1000000L;
	if (w->deadline.tv_nsec >= 1000000000L) {
		w->deadline.tv_sec++;
		w->deadline.tv_nsec -= 1000000000L;
	}
	return (0);
}

/* Drop w after a failure, returning its job. */
static void *
worker_fail(struct pool *pool, struct worker *w)
{
	void	*job = w->job;

	worker_kill(pool, w);
	worker_free(pool, w);
	pool_fill(pool);
	return (job);
}

enum pool_event
pool_handle_worker(struct pool *pool, struct worker *w,
    struct wire_result *res, int *memfd_r, void **job_r, char *why,
    size_t whysize)
{
	enum wire_type	 type;
	size_t		 len;
	int		 fd, r;

	*memfd_r = -1;
	*job_r = NULL;
	r = wire_recv(w->sock, &type, res, sizeof(*res), &len, &fd);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return (POOL_NOTHING);
	if (r == 1 && type == WIRE_RESULT && len == sizeof(*res) &&
	    w->job != NULL && res->seq == w->seq) {
		res->reason[sizeof(res->reason) - 1] = '\0';
		res->detail[sizeof(res->detail) - 1] = '\0';
		*memfd_r = fd;
		*job_r = w->job;
		w->job = NULL;
		/* Its quota is used up (it exits now) or its generation is old. */
		if (res->last || w->retiring)
			worker_free(pool, w);
		pool_fill(pool);
		return (POOL_RESULT);
	}
	if (fd >= 0)
		(void)close(fd);
	if (r <= 0 && parent_gone(pool)) {
		/*
		 * Not this worker's failure: it died with the scanner parent
		 * (end of file, or a reset when it had not read its message).
		 */
		(void)snprintf(why, whysize, "scanner parent %ld exited",
		    (long)pool->parent_pid);
		return (POOL_LOST);
	}
	if (r == 0) {
		(void)snprintf(why, whysize, "worker %ld exited", (long)w->pid);
		if (w->job != NULL)
			pool->crashes++;
	} else {
		(void)snprintf(why, whysize, "worker %ld: %s", (long)w->pid,
		    r < 0 ? strerror(errno) : "unexpected message");
		pool->crashes++;
	}
	*job_r = worker_fail(pool, w);
	return (POOL_FAILED);
}

void
pool_kill_worker(struct pool *pool, pid_t pid, const char *why)
{
	struct worker	*w;
	struct wire_pid	 p = { pid };

	hs_warnx("pool: killing worker %ld: %s", (long)pid, why);
	TAILQ_FOREACH(w, &pool->workers, entry) {
		if (w->pid == pid) {
			(void)worker_fail(pool, w);
			return;
		}
	}
	/* Already dropped (it said it was leaving): its process may not be. */
	if (pool->ctl >= 0 && wire_send(pool->ctl, WIRE_KILL, &p, sizeof(p),
	    -1) < 0)
		hs_warn("pool: cannot ask to kill worker %ld", (long)pid);
}

static bool
past(const struct timespec *t, const struct timespec *now)
{
	return (now->tv_sec > t->tv_sec ||
	    (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec));
}

void *
pool_expire(struct pool *pool, const struct timespec *now)
{
	struct worker	*w;

	TAILQ_FOREACH(w, &pool->workers, entry) {
		if (w->job != NULL && past(&w->deadline, now)) {
			if (parent_gone(pool))
				return (NULL);	/* pool_lost() returns its job */
			hs_warnx("pool: worker %ld over its time limit, killing it",
			    (long)w->pid);
			pool->timeouts++;
			return (worker_fail(pool, w));
		}
	}
	return (NULL);
}

long
pool_next_deadline_ms(const struct pool *pool, const struct timespec *now)
{
	const struct worker *w;
	long		 best = -1, ms;

	TAILQ_FOREACH(w, &pool->workers, entry) {
		if (w->job == NULL)
			continue;
		ms = (w->deadline.tv_sec - now->tv_sec) * 1000 +
		    (w->deadline.tv_nsec - now->tv_nsec) / 1000000 + 1;
		if (ms < 0)
			ms = 0;
		if (best < 0 || ms < best)
			best = ms;
	}
	return (best);
}

void
pool_reload(struct pool *pool, int fd)
{
	if (pool->pending_sent)
		hs_panic("pool_reload: a reload is being checked already");
	if (pool->pending_fd >= 0)
		(void)close(pool->pending_fd);	/* never sent: superseded */
	pool->reloads++;
	pool->pending_fd = fd;
	pool->pending_serial = ++pool->next_serial;
	if (pool->ctl >= 0)
		send_reload(pool);
	/* else the next scanner parent gets it after its configuration */
}

bool
pool_reload_in_flight(const struct pool *pool)
{
	return (pool->pending_sent);
}

size_t
pool_busy(const struct pool *pool)
{
	const struct worker *w;
	size_t		 n = 0;

	TAILQ_FOREACH(w, &pool->workers, entry)
		if (w->job != NULL)
			n++;
	return (n);
}

void
pool_stop(struct pool *pool)
{
	struct worker	*w;
	int		 i;

	while ((w = TAILQ_FIRST(&pool->workers)) != NULL)
		worker_free(pool, w);
	/* The parent stops its workers when its control socket closes... */
	if (pool->ctl >= 0) {
		(void)close(pool->ctl);
		pool->ctl = -1;
	}
	/* ... and the supervisor waits for the parent when its own closes. */
	if (pool->sup >= 0) {
		(void)close(pool->sup);
		pool->sup = -1;
	}
	for (i = 0; i < POOL_STOP_MS / 20 && pool->sup_pid > 0; i++) {
		pid_t	 r = waitpid(pool->sup_pid, NULL, WNOHANG);

		if (r == pool->sup_pid || (r < 0 && errno == ECHILD))
			pool->sup_pid = 0;
		else
			(void)usleep(20000);
	}
	/* Root's: we cannot kill it; it dies with us (PR_SET_PDEATHSIG). */
	if (pool->sup_pid > 0)
		hs_warnx("pool: scanner supervisor %ld does not exit",
		    (long)pool->sup_pid);
	if (pool->config_fd >= 0)
		(void)close(pool->config_fd);
	if (pool->pending_fd >= 0)
		(void)close(pool->pending_fd);
	pool->config_fd = pool->pending_fd = -1;
}
