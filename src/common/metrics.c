/*
 * NAME
 *	metrics - Prometheus text exposition of holdscand's counters
 * DESCRIPTION
 *	The master keeps plain counters and fixed-bucket histograms and
 *	writes them to metrics_file: a temporary file in the same directory,
 *	fsync-free (losing a snapshot in a crash is harmless), then rename(2),
 *	so a reader never sees a partial file. holdscan status reads the
 *	same file.
 *
 *	This module must never block the master for long: one small write
 *	per call, at most once a second (the caller's choice).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/metrics.h"

const double metrics_latency_bounds[METRICS_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
};
const double metrics_size_bounds[METRICS_BUCKETS] = {
	1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000,
};

void
metrics_observe(struct histogram *h, double value, const double *bounds)
{
	int	 i;

	for (i = 0; i < METRICS_BUCKETS; i++)
		if (value <= bounds[i])
			break;
	h->count[i]++;
	h->sum += value;
	h->n++;
}

static void
histogram_out(struct buf *b, const char *name, const char *help,
    const struct histogram *h, const double *bounds)
{
	uint64_t	 cum = 0;
	int		 i;

	buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (i = 0; i < METRICS_BUCKETS; i++) {
		cum += h->count[i];
		buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i],
		    (unsigned long long)cum);
	}
	cum += h->count[METRICS_BUCKETS];
	buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n",
	    name, (unsigned long long)cum, name, h->sum, name,
	    (unsigned long long)h->n);
}

static void
counter(struct buf *b, const char *name, const char *type, const char *help,
    uint64_t v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name,
	    type, name, (unsigned long long)v);
}

/* Label values: escape backslash, quote and newline. */
static void
label_value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			buf_putc(b, '\\');
		if (*s == '\n') {
			buf_printf(b, "\\n");
			continue;
		}
		buf_putc(b, *s);
	}
}

int
metrics_write(const struct metrics *m, const char *path)
{
	static const char *const actions[6] = {
		"deliver", "tag", "deliver-cleaned", "quarantine", "drop", "hold",
	};
	struct buf	 b = BUF_INIT;
	char		 tmp[4200];
	int		 fd, i, saved;
	size_t		 len;
	ssize_t		 w;

	counter(&b, "holdscan_start_time_seconds", "gauge",
	    "when holdscand started", (uint64_t)m->started);
	counter(&b, "holdscan_claimed_total", "counter",
	    "messages taken from the hold queue", m->claimed);
	buf_printf(&b, "# HELP holdscan_messages_total messages committed, by action\n"
	    "# TYPE holdscan_messages_total counter\n");
	for (i = 0; i < 6; i++)
		buf_printf(&b, "holdscan_messages_total{action=\"%s\"} %llu\n",
		    actions[i], (unsigned long long)m->committed[i]);
	buf_printf(&b, "# HELP holdscan_verdicts_total scan verdicts\n"
	    "# TYPE holdscan_verdicts_total counter\n");
	for (i = 0; i < VERDICT_COUNT; i++)
		buf_printf(&b, "holdscan_verdicts_total{verdict=\"%s\"} %llu\n",
		    verdict_name((enum verdict)i),
		    (unsigned long long)m->verdicts[i]);
	counter(&b, "holdscan_returned_total", "counter",
	    "messages returned to hold after a failed commit", m->returned);
	counter(&b, "holdscan_corrupt_total", "counter",
	    "malformed queue files moved to the corrupt queue", m->corrupt);
	counter(&b, "holdscan_batches_total", "counter", "batches committed",
	    m->batches);
	counter(&b, "holdscan_batch_failures_total", "counter",
	    "batches that failed as a whole", m->batch_failures);
	counter(&b, "holdscan_worker_crashes_total", "counter",
	    "scanner workers that died during a scan", m->worker_crashes);
	counter(&b, "holdscan_worker_timeouts_total", "counter",
	    "scanner workers killed at the time limit", m->worker_timeouts);
	counter(&b, "holdscan_bytes_total", "counter",
	    "queue file bytes processed", m->bytes);
	counter(&b, "holdscan_hold_queue_depth", "gauge",
	    "ready messages in hold not yet claimed", m->hold_depth);
	counter(&b, "holdscan_in_flight", "gauge",
	    "messages claimed and not yet committed", m->in_flight);
	counter(&b, "holdscan_set_aside", "gauge",
	    "messages set aside in the hold queue", m->aside);
	counter(&b, "holdscan_scanners_up", "gauge",
	    "1 while the scanners run; 0: no mail is taken from hold",
	    m->scanners_up);
	counter(&b, "holdscan_scanners_since_seconds", "gauge",
	    "when the scanners came up or went down", (uint64_t)m->scanners_since);
	counter(&b, "holdscan_scanner_restarts_total", "counter",
	    "scanner parents started again after one died", m->scanner_restarts);
	buf_printf(&b, "# HELP holdscan_scanner_last_exit_time_seconds when and "
	    "how the last scanner parent ended\n"
	    "# TYPE holdscan_scanner_last_exit_time_seconds gauge\n"
	    "holdscan_scanner_last_exit_time_seconds{exit=\"");
	label_value(&b, m->scanner_last_exit);
	buf_printf(&b, "\"} %lld\n", (long long)m->scanner_last_exit_time);
	buf_printf(&b, "# HELP holdscan_engine_info scanner engine generation\n"
	    "# TYPE holdscan_engine_info gauge\n"
	    "holdscan_engine_info{generation=\"%u\",info=\"", m->engine_generation);
	label_value(&b, m->engine_info);
	buf_printf(&b, "\"} 1\n");
	buf_printf(&b, "# HELP holdscan_last_error_time_seconds last error\n"
	    "# TYPE holdscan_last_error_time_seconds gauge\n"
	    "holdscan_last_error_time_seconds{error=\"");
	label_value(&b, m->last_error);
	buf_printf(&b, "\"} %lld\n", (long long)m->last_error_time);
	histogram_out(&b, "holdscan_latency_seconds",
	    "time from entering hold to entering incoming", &m->latency,
	    metrics_latency_bounds);
	histogram_out(&b, "holdscan_scan_seconds", "scan time per message",
	    &m->scan_time, metrics_latency_bounds);
	histogram_out(&b, "holdscan_batch_messages", "messages per batch",
	    &m->batch_size, metrics_size_bounds);

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof(tmp)) {
		buf_free(&b);
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		buf_free(&b);
		return (-1);
	}
	len = b.len;
	w = write(fd, b.data, len);
	saved = errno;
	buf_free(&b);
	if (close(fd) < 0 || w < 0 || (size_t)w != len) {
		(void)unlink(tmp);
		errno = w < 0 ? saved : EIO;
		return (-1);
	}
	if (rename(tmp, path) < 0) {
		saved = errno;
		(void)unlink(tmp);
		errno = saved;
		return (-1);
	}
	return (0);
}
