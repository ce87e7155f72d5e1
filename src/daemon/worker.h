/*
 * worker.h - the master's view of the scanner workers.
 *
 * The pool asks the scanner parent for workers, hands each one message
 * at a time, enforces the time limit and notices crashes. When the
 * scanner parent dies it has the supervisor start another one, after a
 * pause that grows while they keep dying. It knows nothing of queue
 * layout: it passes descriptors and returns results.
 */
#ifndef HS_WORKER_H
#define HS_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <time.h>

#include "common/wire.h"
#include "daemon/supervisor.h"

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

enum pool_state {
	POOL_DOWN,		/* no scanner parent; the next start at restart_at */
	POOL_STARTING,		/* asked for one, or it loads its plugins */
	POOL_UP,		/* its engine is announced: workers scan */
};

/*
 * A scanner parent has checked a configuration (its plugin sections
 * against the plugins). reload: one of pool_reload(), taken when ok, else
 * refused with errors ("file:line: ..." lines) and the scanner parent
 * keeps the one it had. Not reload: the one it was started with, called
 * only when refused (the scanner parent then exits).
 */
typedef void	(*pool_checked_fn)(void *arg, bool reload, bool ok,
		    const char *errors);

/* What pool_start() needs besides the supervisor's setup. */
struct pool_params {
	size_t		 nworkers;
	int		 config_fd;	/* the configuration's text, a sealed
					   memfd (wire_memfd()); the pool's */
	const char	*myhostname;	/* Postfix's, for the scanners */
	size_t		 line_limit;
	pool_checked_fn	 checked;
	void		*checked_arg;
};

struct pool {
	int		 sup;		/* to the scanner supervisor */
	pid_t		 sup_pid;
	int		 ctl;		/* to the scanner parent, or -1 */
	pid_t		 parent_pid;
	enum pool_state	 state;
	struct worker_list workers;
	size_t		 nworkers;
	size_t		 want;
	size_t		 spawning;	/* requested, not yet arrived */
	uint32_t	 generation;	/* newest engine generation */
	bool		 ready;		/* state == POOL_UP */
	bool		 ever_ready;	/* the first scanner parent came up */
	unsigned long	 reloads;	/* configuration reloads so far */
	/* What a scanner parent is told, and a reload waiting for its check. */
	int		 config_fd;	/* the configuration scanners start with */
	struct wire_config wc;		/* myhostname, line_limit */
	int		 pending_fd;	/* a reload's configuration, or -1 */
	uint32_t	 pending_serial;
	bool		 pending_sent;	/* to the scanner parent we have */
	uint32_t	 next_serial;
	pool_checked_fn	 checked;
	void		*checked_arg;
	char		 engine_info[480];
	char		 start_error[480];	/* why the first scanner parent did not start */
	uint64_t	 next_seq;
	unsigned long	 crashes, timeouts, spawned;
	/* The scanner parent's deaths and restarts. */
	unsigned long	 restarts;	/* scanner parents started after the first */
	unsigned long	 failures;	/* deaths since the scanners were stable */
	long		 pause_ms;	/* before the next start */
	long		 restart_at_ms;	/* CLOCK_MONOTONIC */
	long		 up_since_ms;	/* CLOCK_MONOTONIC */
	long		 warned_ms;
	time_t		 state_since;	/* wall clock: up or down since */
	char		 last_exit[160];	/* how the last scanner parent ended */
	time_t		 last_exit_time;
};

/* What happened on a worker's socket. */
enum pool_event {
	POOL_NOTHING,
	POOL_RESULT,		/* *res and *memfd_r (or -1) for worker->job */
	POOL_FAILED,		/* worker died or misbehaved; *why says how */
	POOL_LOST,		/* the scanner parent is gone: call pool_lost() */
};

/*
 * pool_start() forks the scanner supervisor (call it as root, before the
 * master drops privileges) and asks it for the first scanner parent.
 * Each scanner parent is sent pp->config_fd's configuration first, then
 * any reload still waiting for a check. Returns 0 or -1 with errno.
 */
int	 pool_start(struct pool *pool, const struct supervisor_setup *setup,
	    const struct pool_params *pp);
/*
 * Read one of the scanner parent's messages (pp->checked is called from
 * here); -1 when it is gone (then call pool_lost()).
 */
int	 pool_handle_ctl(struct pool *pool, char *why, size_t whysize);
/*
 * Read one of the supervisor's messages (a new scanner parent, or how
 * one ended); -1 when the supervisor is gone: no scanner parent can be
 * started any more.
 */
int	 pool_handle_sup(struct pool *pool, char *why, size_t whysize);
/*
 * pool_lost(): the scanner parent is gone, and its workers with it. Drops
 * every worker, returning the jobs they had (*jobs_r, owned by the
 * caller, NULL when none) and their number, and schedules a new scanner
 * parent after a pause (1 s, doubling up to a minute while they keep
 * dying; a warning at the first death, reminders every five minutes).
 */
size_t	 pool_lost(struct pool *pool, const char *why, void ***jobs_r);
/*
 * pool_tick() starts a scanner parent when one is due, and notices when
 * a new one has stayed up long enough to count as working again.
 * Returns milliseconds until it wants to be called again, or -1.
 */
long	 pool_tick(struct pool *pool);
/* Ask for workers until the pool has its size. */
void	 pool_fill(struct pool *pool);
/*
 * pool_resize() makes the pool's size n (worker_count, on a reload):
 * more workers are asked for; of the surplus, idle workers are closed
 * at once and busy ones after their message, as a reload retires them.
 */
void	 pool_resize(struct pool *pool, size_t n);
/* An idle worker of the newest generation, or NULL. */
struct worker *pool_idle(struct pool *pool);
/*
 * Hand fd (read-only queue file) to w for scanning; w->job = job.
 * -1 if the send failed (the worker is then dropped; retry elsewhere).
 */
int	 pool_dispatch(struct pool *pool, struct worker *w, void *job, int fd,
	    const char *queue_id, uint64_t size_limit, uint32_t time_limit_ms,
	    const struct wire_list *list);
/*
 * pool_handle_worker() reads w's socket. On POOL_FAILED the worker is
 * gone (freed): the caller uses the job returned in *job_r.
 */
enum pool_event pool_handle_worker(struct pool *pool, struct worker *w,
	    struct wire_result *res, int *memfd_r, void **job_r,
	    char *why, size_t whysize);
/*
 * pool_kill_worker() kills worker pid (through the scanner parent, which
 * owns it) and drops it from the pool if it is still there, logging why
 * ("pool: killing worker PID: WHY"): the caller refused its result, so
 * it may have been taken over. Its job must have come back already
 * (POOL_RESULT). A worker that is already gone is asked to die anyway.
 */
void	 pool_kill_worker(struct pool *pool, pid_t pid, const char *why);
/*
 * pool_expire() kills the first worker past its deadline, returning its
 * job (NULL if none expired). Call until it returns NULL.
 */
void	*pool_expire(struct pool *pool, const struct timespec *now);
/* Milliseconds until the next deadline, or -1 when nothing is running. */
long	 pool_next_deadline_ms(const struct pool *pool,
	    const struct timespec *now);
/*
 * pool_reload() gives the scanner parent a new configuration (fd, a
 * sealed memfd; the pool's) to check and, if good, to take and rebuild
 * the plugins' state with (SIGHUP). Without a scanner parent it waits
 * for the next one. The answer comes through pp->checked; meanwhile
 * pool_reload_in_flight() is true and pool_reload() must not be called
 * again. Once taken, it is the configuration scanner parents start with.
 */
void	 pool_reload(struct pool *pool, int fd);
bool	 pool_reload_in_flight(const struct pool *pool);
/*
 * Close every worker, the parent's and the supervisor's sockets; wait
 * for the supervisor (bounded), which waits for the parent.
 */
void	 pool_stop(struct pool *pool);
/* Workers with a job. */
size_t	 pool_busy(const struct pool *pool);

#endif
