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
 *	A worker that has used up its quota (worker_max_scans) says so with
 *	its last result and is dropped at once, so it is never handed a
 *	message it would leave unanswered: a planned exit never counts as a
 *	failed scan attempt.
 *
 *	When the scanner parent announces a new engine generation, idle
 *	workers of older generations are closed at once and busy ones after
 *	their message, so a reload never interrupts a scan.
 *
 *	This module must never block on a worker (all sends are single
 *	datagrams on a socket the worker drains) and never lose a job: every
 *	job handed to pool_dispatch() comes back exactly once, as a result
 *	or a failure.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"
#include "xalloc.h"

int
pool_start(struct pool *pool, const struct scanner_setup *setup,
    size_t nworkers)
{
	int	 sv[2];
	pid_t	 pid;

	memset(pool, 0, sizeof(*pool));
	TAILQ_INIT(&pool->workers);
	pool->want = nworkers;
	pool->next_seq = 1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return (-1);
	if ((pid = fork()) < 0) {
		int	 saved = errno;

		(void)close(sv[0]);
		(void)close(sv[1]);
		errno = saved;
		return (-1);
	}
	if (pid == 0) {
		(void)close(sv[0]);
		log_reopen();
		scanner_parent_main(sv[1], setup);
	}
	(void)close(sv[1]);
	pool->ctl = sv[0];
	pool->parent_pid = pid;
	return (0);
}

static void
worker_kill(struct pool *pool, struct worker *w)
{
	struct wire_pid	 p = { w->pid };

	if (wire_send(pool->ctl, WIRE_KILL, &p, sizeof(p), -1) < 0)
		hs_warn("pool: cannot ask to kill worker %ld", (long)w->pid);
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

int
pool_handle_ctl(struct pool *pool, char *why, size_t whysize)
{
	union {
		struct wire_spawned	 sp;
		struct wire_exited	 ex;
		struct wire_engine	 en;
	} body;
	enum wire_type	 type;
	struct worker	*w;
	size_t		 len;
	int		 fd, r;

	r = wire_recv(pool->ctl, &type, &body, sizeof(body), &len, &fd);
	if (r <= 0) {
		(void)snprintf(why, whysize, "scanner parent %s",
		    r == 0 ? "exited" : strerror(errno));
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
		if (!body.en.ok) {
			hs_warnx("reload failed, still using generation %u: %s",
			    pool->generation, body.en.info);
			return (0);
		}
		pool->generation = body.en.generation;
		pool->ready = true;
		(void)snprintf(pool->engine_info, sizeof(pool->engine_info), "%s",
		    body.en.info);
		hs_info("scanners ready: generation=%u %s", pool->generation,
		    body.en.info[0] ? body.en.info : "(no plugins)");
		retire_old(pool);
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
    const char *queue_id, uint64_t size_limit, uint32_t time_limit_ms)
{
	struct wire_scan req;

	memset(&req, 0, sizeof(req));
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
pool_reload(struct pool *pool)
{
	if (wire_send(pool->ctl, WIRE_RELOAD, NULL, 0, -1) < 0)
		hs_warn("pool: cannot ask for a reload");
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
	if (pool->ctl >= 0) {
		(void)close(pool->ctl);
		pool->ctl = -1;
	}
	/* The parent stops its workers when its control socket closes. */
	for (i = 0; i < 100 && pool->parent_pid > 0; i++) {
		pid_t	 r = waitpid(pool->parent_pid, NULL, WNOHANG);

		if (r == pool->parent_pid || (r < 0 && errno == ECHILD))
			pool->parent_pid = 0;
		else
			(void)usleep(20000);
	}
	if (pool->parent_pid > 0) {
		/* Works while we are root; as the mail owner PDEATHSIG does it. */
		(void)kill(pool->parent_pid, SIGKILL);
		for (i = 0; i < 50 && pool->parent_pid > 0; i++) {
			if (waitpid(pool->parent_pid, NULL, WNOHANG) != 0)
				pool->parent_pid = 0;
			else
				(void)usleep(20000);
		}
		if (pool->parent_pid > 0)
			hs_warnx("pool: scanner parent %ld does not exit",
			    (long)pool->parent_pid);
	}
}
