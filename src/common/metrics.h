/*
 * metrics.h - counters and latency histograms of the master, written as
 * Prometheus text (node_exporter's textfile collector) and read back by
 * holdscan status.
 */
#ifndef HS_METRICS_H
#define HS_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/config.h"
#include "common/verdict.h"

#define METRICS_BUCKETS	14

struct histogram {
	uint64_t	 count[METRICS_BUCKETS + 1];	/* last: +Inf */
	double		 sum;
	uint64_t	 n;
};

struct metrics {
	time_t		 started;
	uint64_t	 claimed;
	uint64_t	 committed[6];		/* by enum policy_action */
	uint64_t	 verdicts[VERDICT_COUNT];
	uint64_t	 returned;		/* back to hold after a failed commit */
	uint64_t	 corrupt;
	uint64_t	 batches;
	uint64_t	 batch_failures;
	uint64_t	 worker_crashes;
	uint64_t	 worker_timeouts;
	uint64_t	 bytes;
	uint64_t	 hold_depth;		/* gauge: candidates waiting */
	uint64_t	 in_flight;		/* gauge */
	uint64_t	 aside;			/* gauge: set aside in hold */
	uint32_t	 scanners_up;		/* gauge: 0 while no scanner parent runs */
	time_t		 scanners_since;	/* up or down since */
	uint64_t	 scanner_restarts;
	char		 scanner_last_exit[160];
	time_t		 scanner_last_exit_time;
	uint32_t	 engine_generation;
	char		 engine_info[480];
	uint64_t	 outbox_pending;	/* gauge: records to ship (a farm) */
	uint64_t	 outbox_dropped;	/* dropped at outbox_limit */
	uint64_t	 shipped;		/* records shipped to the database */
	uint64_t	 database_up;		/* gauge: 1 connected, 0 not */
	char		 last_error[512];
	time_t		 last_error_time;
	struct histogram latency;		/* hold -> incoming, seconds */
	struct histogram scan_time;		/* per message, seconds */
	struct histogram batch_size;		/* messages per batch */
};

void	 metrics_observe(struct histogram *h, double value, const double *bounds);
extern const double metrics_latency_bounds[METRICS_BUCKETS];
extern const double metrics_size_bounds[METRICS_BUCKETS];
/* Write the file atomically (temporary + rename). 0 or -1 with errno. */
int	 metrics_write(const struct metrics *m, const char *path);
/*
 * metrics_read() reads a file metrics_write() wrote back into m (what it
 * does not name stays 0) and its modification time into *mtime_r (may be
 * NULL). 0, or -1 with errno (ENOENT: holdscand never wrote one).
 */
#define METRICS_READ_MAX	(1024 * 1024)
int	 metrics_read(const char *path, struct metrics *m, time_t *mtime_r);

#endif
