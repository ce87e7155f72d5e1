/*
 * worker.h - the master's view of the scanner workers.
 *
 * The pool asks the scanner parent for workers, hands each one message
 * at a time, enforces the time limit and notices crashes. It knows nothing
 * of queue layout: it passes descriptors and returns results.
 */
#ifndef HS_WORKER_H
#define HS_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <time.h>

#include "scanner.h"
#include "wire.h"

struct worker {
	TAILQ_ENTRY(worker) entry;
	pid_t		 pid;
	int		 sock;
	uint32_t	 generation;
	void		*job;		/* the caller's, while scanning; else NULL */
	uint64_t	 seq;
	struct timespec	 deadline;	/* CLOCK_MONOTONIC */
	bool		 retiring;	/* close when idle: old generation */
};
TAILQ_HEAD(worker_list, worker);

struct pool {
	int		 ctl;		/* to the scanner parent */
	pid_t		 parent_pid;
	struct worker_list workers;
	size_t		 nworkers;
	size_t		 want;
	size_t		 spawning;	/* requested, not yet arrived */
	uint32_t	 generation;	/* newest engine generation */
	bool		 ready;		/* the first generation has been announced */
	char		 engine_info[480];
	uint64_t	 next_seq;
	unsigned long	 crashes, timeouts, spawned;
};

/* What happened on a worker's socket. */
enum pool_event {
	POOL_NOTHING,
	POOL_RESULT,		/* *res and *memfd_r (or -1) for worker->job */
	POOL_FAILED,		/* worker died or misbehaved; *why says how */
};

/*
 * pool_start() forks the scanner parent (call it as root, before the
 * master drops privileges). Returns 0 or -1 with errno.
 */
int	 pool_start(struct pool *pool, const struct scanner_setup *setup,
	    size_t nworkers);
/* Read the scanner parent's messages; -1 when it is gone (fatal for the master). */
int	 pool_handle_ctl(struct pool *pool, char *why, size_t whysize);
/* Ask for workers until the pool has its size. */
void	 pool_fill(struct pool *pool);
/* An idle worker of the newest generation, or NULL. */
struct worker *pool_idle(struct pool *pool);
/*
 * Hand fd (read-only queue file) to w for scanning; w->job = job.
 * -1 if the send failed (the worker is then dropped; retry elsewhere).
 */
int	 pool_dispatch(struct pool *pool, struct worker *w, void *job, int fd,
	    const char *queue_id, uint64_t size_limit, uint32_t time_limit_ms);
/*
 * pool_handle_worker() reads w's socket. On POOL_FAILED the worker is
 * gone (freed): the caller uses the job returned in *job_r.
 */
enum pool_event pool_handle_worker(struct pool *pool, struct worker *w,
	    struct wire_result *res, int *memfd_r, void **job_r,
	    char *why, size_t whysize);
/*
 * pool_expire() kills the first worker past its deadline, returning its
 * job (NULL if none expired). Call until it returns NULL.
 */
void	*pool_expire(struct pool *pool, const struct timespec *now);
/* Milliseconds until the next deadline, or -1 when nothing is running. */
long	 pool_next_deadline_ms(const struct pool *pool,
	    const struct timespec *now);
/* Ask the scanner parent to rebuild the plugins' state (SIGHUP). */
void	 pool_reload(struct pool *pool);
/* Close every worker and the parent; wait for the parent (bounded). */
void	 pool_stop(struct pool *pool);
/* Workers with a job. */
size_t	 pool_busy(const struct pool *pool);

#endif
