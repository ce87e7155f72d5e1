/*
 * pipeline.h - the life of a held message in the master: claim, dispatch
 * to a scanner worker, scan result (or a decision without a scan), batch,
 * commit, notices; with the back-off after failures, the state
 * environment's start, reopen and recovery, and the set-aside hooks
 * (setaside.h).
 *
 * holdscand's event loop owns the descriptors and calls in: once per
 * iteration pipeline_tick(), and for each worker event
 * pipeline_scanned(), pipeline_scan_failed() or pipeline_scanner_lost().
 * The pipeline reaches the scanner pool and the batch commit only
 * through a struct pipeline_ops, so that a test can run it with fakes.
 */
#ifndef HS_PIPELINE_H
#define HS_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "commit/commit.h"
#include "common/config.h"
#include "common/metrics.h"
#include "common/policy.h"
#include "common/queue.h"
#include "common/wire.h"
#include "daemon/backoff.h"
#include "daemon/batch.h"
#include "daemon/setaside.h"
#include "daemon/stateenv.h"
#include "daemon/worker.h"

struct msg;
struct notify;
struct watch;

/*
 * The pool's and the commit's functions the pipeline calls, with the
 * signatures of worker.h and commit.h; pipeline_ops_real has those.
 */
struct pipeline_ops {
	struct worker	*(*pool_idle)(struct pool *pool);
	size_t		 (*pool_busy)(const struct pool *pool);
	int		 (*pool_dispatch)(struct pool *pool, struct worker *w,
			    void *job, int fd, const char *queue_id,
			    uint64_t size_limit, uint32_t time_limit_ms,
			    const struct wire_list *list);
	size_t		 (*pool_lost)(struct pool *pool, const char *why,
			    void ***jobs_r);
	int		 (*commit_batch)(struct commit_ctx *c, struct msg **msgs,
			    size_t n, char **error_r);
};

extern const struct pipeline_ops pipeline_ops_real;

/* What the pipeline borrows from its owner, for its whole life. */
struct pipeline_setup {
	const struct hs_config *conf;	/* until pipeline_reconfigure() */
	const struct queue_layout *ql;	/* may change in place */
	const struct policy *policy;
	const char	*unscanned_header;	/* for mail delivered unscanned, or NULL */
	int		 qdirfd;	/* queue_directory */
	struct watch	*watch;
	struct pool	*pool;		/* read: ready, ever_ready, generation, engine_info */
	struct notify	*notify;
	struct metrics	*metrics;	/* counters the pipeline keeps up to date */
	const struct pipeline_ops *ops;
};

/*
 * The context. Outside pipeline.c and setaside.c its fields are read
 * only (holdscand reads in_flight, stopping, state_starting and
 * setaside.count; tests read more).
 */
struct pipeline {
	/* borrowed: struct pipeline_setup */
	const struct hs_config *conf;
	const struct queue_layout *ql;
	const struct policy *policy;
	const char	*unscanned_header;
	int		 qdirfd;
	struct watch	*watch;
	struct pool	*pool;
	struct notify	*notify;
	struct metrics	*metrics;
	const struct pipeline_ops *ops;
	/* owned */
	struct commit_ctx commit;
	struct stateenv	 state;
	bool		 state_starting;	/* pipeline_start() has not worked yet */
	bool		 state_broken;	/* the state environment is closed */
	bool		 recovery_needed;
	/*
	 * Recovery retries what failed (an unlink, an fsync, itself): when
	 * it works, so does the disk. After a reopen of the state
	 * environment it proves nothing: only a commit that works does.
	 */
	bool		 recovery_retries;
	struct backoff	 backoff;
	struct msg_list	 scanq;		/* waiting for a worker */
	struct batch	*open;		/* accepting messages */
	struct batch_list closed;	/* full, waiting for scans */
	uint64_t	 batch_seq;
	size_t		 in_flight;	/* claimed, not yet committed */
	size_t		 suspects;	/* undecided messages with m->suspect */
	bool		 stopping;	/* claim nothing more */
	struct setaside	 setaside;
	long		 msglog_next_ms;	/* the next prune of the message log */
};

/*
 * pipeline_new() creates holdscan's directories in the queue (claimed/,
 * staging/, intent/, release/) if missing and opens them; the state
 * environment stays closed until pipeline_start(). 0, or -1 with
 * *error_r. pipeline_free() closes everything it opened and frees the
 * messages still in flight (their files stay in claimed/ for the next
 * start's recovery); NULL is fine.
 */
int	 pipeline_new(const struct pipeline_setup *setup, struct pipeline **p_r,
	    char **error_r);
void	 pipeline_free(struct pipeline **p);
/*
 * pipeline_start() is the part of the start that needs the state
 * environment: bind the state directory to the queue, open the
 * environment, finish what a crash interrupted, compare the quarantine
 * with its index, learn which held messages are set aside, and look at
 * hold. A failure that may pass by itself (the state file system full,
 * an I/O error) backs off, and pipeline_tick() tries again at the end
 * of each pause until it works; nothing is claimed meanwhile. Any other
 * failure (permissions, a damaged environment) is fatal (exits).
 */
void	 pipeline_start(struct pipeline *p);
/*
 * Once per event loop iteration: the set-aside life cycle, claims,
 * dispatch, commits that are due; the state environment reopened, and
 * recovery run, when due.
 */
void	 pipeline_tick(struct pipeline *p, long now_ms);
/* The steps of pipeline_tick(), for tests. */
void	 pipeline_claim(struct pipeline *p);
void	 pipeline_dispatch(struct pipeline *p);
void	 pipeline_commit_ready(struct pipeline *p);
/*
 * A worker's answer for m (memfd: its new content, or -1; borrowed),
 * a failed attempt on m (the worker died, misbehaved or ran out of
 * time), or the scanner parent's death (pool_lost() gives back what
 * was in scan). pipeline_scanned() returns 0 when it took the answer,
 * -1 when it refused it (a failed attempt): then the worker that sent
 * it may have been taken over, and the caller kills it.
 */
int	 pipeline_scanned(struct pipeline *p, struct msg *m,
	    const struct wire_result *res, int memfd);
void	 pipeline_scan_failed(struct pipeline *p, struct msg *m,
	    const char *why);
void	 pipeline_scanner_lost(struct pipeline *p, const char *why);
/* SIGTERM: claim nothing more; in_flight says when the rest is done. */
void	 pipeline_stop(struct pipeline *p);
/* SIGHUP: the new configuration, borrowed from now on. */
void	 pipeline_reconfigure(struct pipeline *p, const struct hs_config *conf);
/*
 * Another process ran recovery on the state environment (a holdscan
 * tool died with it open): reopen it. true when it was reopened.
 */
bool	 pipeline_check_state(struct pipeline *p);
/*
 * Milliseconds until the pipeline wants its next tick (a batch's wait,
 * the end of a pause; 0 when candidates can be claimed now), or -1.
 */
long	 pipeline_timeout(const struct pipeline *p, long now_ms);
/* A batch is open or waiting to be committed. */
bool	 pipeline_batching(const struct pipeline *p);

#endif
