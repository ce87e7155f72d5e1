/*
 * NAME
 *	metrics - Prometheus text exposition of holdscand's counters
 * DESCRIPTION
 *	The master keeps plain counters and fixed-bucket histograms and
 *	writes them to metrics_file: a temporary file with a random name in
 *	the same directory, created exclusively (a symbolic link planted
 *	there is never followed), fsync-free (losing a snapshot in a crash
 *	is harmless), then rename(2), so a reader never sees a partial file. holdscan status reads the
 *	same file back with metrics_read(), through the same table of names
 *	(each metric's name is spelled once, here).
 *
 *	This module must never block the master for long: one small write
 *	per call, at most once a second (the caller's choice).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/metrics.h"
#include "common/xalloc.h"

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

static const char *const action_names[6] = {
	"deliver", "tag", "deliver-cleaned", "quarantine", "drop", "hold",
};

/*
 * The one list of plain metrics: name, type and help for the writer,
 * where the value lives for both the writer and metrics_read().
 */
enum mkind { MK_U64, MK_U32, MK_TIME };
static const struct mdef {
	const char	*name;
	const char	*type;
	const char	*help;
	size_t		 off;
	enum mkind	 kind;
} mdefs[] = {
#define M(name, type, help, field, kind) \
	{ name, type, help, offsetof(struct metrics, field), kind }
	M("holdscan_start_time_seconds", "gauge", "when holdscand started",
	    started, MK_TIME),
	M("holdscan_claimed_total", "counter",
	    "messages taken from the hold queue", claimed, MK_U64),
	M("holdscan_returned_total", "counter",
	    "messages returned to hold after a failed commit", returned, MK_U64),
	M("holdscan_corrupt_total", "counter",
	    "malformed queue files moved to the corrupt queue", corrupt, MK_U64),
	M("holdscan_batches_total", "counter", "batches committed", batches,
	    MK_U64),
	M("holdscan_batch_failures_total", "counter",
	    "batches that failed as a whole", batch_failures, MK_U64),
	M("holdscan_worker_crashes_total", "counter",
	    "scanner workers that died during a scan", worker_crashes, MK_U64),
	M("holdscan_worker_timeouts_total", "counter",
	    "scanner workers killed at the time limit", worker_timeouts, MK_U64),
	M("holdscan_bytes_total", "counter", "queue file bytes processed",
	    bytes, MK_U64),
	M("holdscan_hold_queue_depth", "gauge",
	    "ready messages in hold not yet claimed", hold_depth, MK_U64),
	M("holdscan_in_flight", "gauge",
	    "messages claimed and not yet committed", in_flight, MK_U64),
	M("holdscan_set_aside", "gauge", "messages set aside in the hold queue",
	    aside, MK_U64),
	M("holdscan_scanners_up", "gauge",
	    "1 while the scanners run; 0: no mail is taken from hold",
	    scanners_up, MK_U32),
	M("holdscan_scanners_since_seconds", "gauge",
	    "when the scanners came up or went down", scanners_since, MK_TIME),
	M("holdscan_scanner_restarts_total", "counter",
	    "scanner parents started again after one died", scanner_restarts,
	    MK_U64),
	M("holdscan_outbox_pending", "gauge",
	    "message log records waiting to be shipped to the database",
	    outbox_pending, MK_U64),
	M("holdscan_outbox_dropped_total", "counter",
	    "records dropped from the outbox at outbox_limit (never shipped)",
	    outbox_dropped, MK_U64),
	M("holdscan_shipped_total", "counter",
	    "message log records shipped to the database", shipped, MK_U64),
	M("holdscan_database_up", "gauge",
	    "1 while the shipper is connected to the database", database_up,
	    MK_U64),
#undef M
};

/* Metrics whose value comes with one text label. */
#define NAME_LAST_EXIT	"holdscan_scanner_last_exit_time_seconds"
#define NAME_ENGINE	"holdscan_engine_info"
#define NAME_ERROR	"holdscan_last_error_time_seconds"
#define NAME_MESSAGES	"holdscan_messages_total"
#define NAME_VERDICTS	"holdscan_verdicts_total"
#define NAME_LATENCY	"holdscan_latency_seconds"
#define NAME_SCAN	"holdscan_scan_seconds"
#define NAME_BATCH	"holdscan_batch_messages"

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

static uint64_t
mdef_get(const struct metrics *m, const struct mdef *d)
{
	const char	*p = (const char *)m + d->off;

	switch (d->kind) {
	case MK_U32:
		return (*(const uint32_t *)(const void *)p);
	case MK_TIME:
		return ((uint64_t)*(const time_t *)(const void *)p);
	case MK_U64:
	default:
		return (*(const uint64_t *)(const void *)p);
	}
}

static void
mdef_set(struct metrics *m, const struct mdef *d, double v)
{
	char	*p = (char *)m + d->off;

	if (v < 0)
		v = 0;
	switch (d->kind) {
	case MK_U32:
		*(uint32_t *)(void *)p = (uint32_t)v;
		break;
	case MK_TIME:
		*(time_t *)(void *)p = (time_t)v;
		break;
	case MK_U64:
	default:
		*(uint64_t *)(void *)p = (uint64_t)v;
		break;
	}
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

static void
labelled_out(struct buf *b, const char *name, const char *help,
    const char *labels, const char *label, const char *value, long long v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s{%s%s=\"", name, help,
	    name, name, labels, label);
	label_value(b, value);
	buf_printf(b, "\"} %lld\n", v);
}

/* The exposition text of m. */
static void
metrics_text(const struct metrics *m, struct buf *b)
{
	char		 gen[32];
	size_t		 i;
	int		 k;

	for (i = 0; i < sizeof(mdefs) / sizeof(mdefs[0]); i++)
		buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n",
		    mdefs[i].name, mdefs[i].help, mdefs[i].name, mdefs[i].type,
		    mdefs[i].name, (unsigned long long)mdef_get(m, &mdefs[i]));
	buf_printf(b, "# HELP " NAME_MESSAGES " messages committed, by action\n"
	    "# TYPE " NAME_MESSAGES " counter\n");
	for (k = 0; k < 6; k++)
		buf_printf(b, NAME_MESSAGES "{action=\"%s\"} %llu\n",
		    action_names[k], (unsigned long long)m->committed[k]);
	buf_printf(b, "# HELP " NAME_VERDICTS " scan verdicts\n"
	    "# TYPE " NAME_VERDICTS " counter\n");
	for (k = 0; k < VERDICT_COUNT; k++)
		buf_printf(b, NAME_VERDICTS "{verdict=\"%s\"} %llu\n",
		    verdict_name((enum verdict)k),
		    (unsigned long long)m->verdicts[k]);
	labelled_out(b, NAME_LAST_EXIT, "when and how the last scanner parent "
	    "ended", "", "exit", m->scanner_last_exit,
	    (long long)m->scanner_last_exit_time);
	(void)snprintf(gen, sizeof(gen), "generation=\"%u\",",
	    m->engine_generation);
	labelled_out(b, NAME_ENGINE, "scanner engine generation", gen, "info",
	    m->engine_info, 1);
	labelled_out(b, NAME_ERROR, "last error", "", "error", m->last_error,
	    (long long)m->last_error_time);
	histogram_out(b, NAME_LATENCY,
	    "time from entering hold to entering incoming", &m->latency,
	    metrics_latency_bounds);
	histogram_out(b, NAME_SCAN, "scan time per message", &m->scan_time,
	    metrics_latency_bounds);
	histogram_out(b, NAME_BATCH, "messages per batch", &m->batch_size,
	    metrics_size_bounds);
}

int
metrics_write(const struct metrics *m, const char *path)
{
	struct buf	 b = BUF_INIT;
	char		 tmp[4200];
	int		 fd, saved;
	size_t		 len;
	ssize_t		 w;

	metrics_text(m, &b);
	/*
	 * A name nobody can guess, created (O_EXCL: never through a link
	 * someone planted), readable by a node exporter, then renamed over
	 * the file (rename replaces a link there, not what it points to).
	 */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp)) {
		buf_free(&b);
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		buf_free(&b);
		return (-1);
	}
	len = b.len;
	w = write(fd, b.data, len);
	saved = errno;
	buf_free(&b);
	if (w >= 0 && (size_t)w == len && fchmod(fd, 0644) < 0) {
		saved = errno;
		w = -1;
	}
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

/* The value of label in a "{...}" label set: unescaped into out. */
static void
label_get(const char *labels, const char *label, char *out, size_t size)
{
	const char	*q;
	char		 key[64];
	size_t		 i = 0;

	out[0] = '\0';
	(void)snprintf(key, sizeof(key), "%s=\"", label);
	if ((q = strstr(labels, key)) == NULL)
		return;
	for (q += strlen(key); *q != '\0' && *q != '"' && i + 1 < size; q++) {
		if (*q == '\\' && q[1] != '\0') {
			q++;
			out[i++] = *q == 'n' ? '\n' : *q;
			continue;
		}
		out[i++] = *q;
	}
	out[i] = '\0';
}

/* One histogram line: NAME_bucket{le="B"} N, NAME_sum S, NAME_count N. */
static bool
histogram_in(struct histogram *h, const double *bounds, const char *name,
    const char *metric, const char *labels, double v)
{
	size_t	 len = strlen(name);
	char	 le[32];
	int	 i;

	if (strncmp(metric, name, len) != 0)
		return (false);
	metric += len;
	if (strcmp(metric, "_sum") == 0) {
		h->sum = v;
	} else if (strcmp(metric, "_count") == 0) {
		h->n = (uint64_t)v;
	} else if (strcmp(metric, "_bucket") == 0) {
		/* Cumulative in the file; per bucket in the struct. */
		label_get(labels, "le", le, sizeof(le));
		for (i = 0; i < METRICS_BUCKETS; i++)
			if (strtod(le, NULL) == bounds[i] &&
			    strcmp(le, "+Inf") != 0)
				break;
		h->count[i] = (uint64_t)v;
	} else {
		return (false);
	}
	return (true);
}

static void
histogram_uncumulate(struct histogram *h)
{
	int	 i;

	for (i = METRICS_BUCKETS; i > 0; i--)
		h->count[i] = h->count[i] >= h->count[i - 1] ?
		    h->count[i] - h->count[i - 1] : 0;
}

/* One line "name{labels} value" of the file into m. */
static void
metrics_line(struct metrics *m, char *line)
{
	char		 name[128], labels[1024] = "", value[64], *p, *sp;
	size_t		 i, n;
	double		 v;
	int		 k;

	if (line[0] == '#' || line[0] == '\0')
		return;
	n = strcspn(line, "{ ");
	if (n == 0 || n >= sizeof(name))
		return;
	memcpy(name, line, n);
	name[n] = '\0';
	p = line + n;
	if (*p == '{') {
		/* The label set ends at the last "} " of the line. */
		if ((sp = strstr(p, "} ")) == NULL)
			return;
		while (strstr(sp + 2, "} ") != NULL)
			sp = strstr(sp + 2, "} ");
		(void)snprintf(labels, sizeof(labels), "%.*s", (int)(sp - p) + 1,
		    p);
		p = sp + 1;
	}
	(void)snprintf(value, sizeof(value), "%s", p + strspn(p, " "));
	v = strtod(value, NULL);
	for (i = 0; i < sizeof(mdefs) / sizeof(mdefs[0]); i++)
		if (strcmp(name, mdefs[i].name) == 0) {
			mdef_set(m, &mdefs[i], v);
			return;
		}
	if (strcmp(name, NAME_MESSAGES) == 0 || strcmp(name,
	    NAME_VERDICTS) == 0) {
		char	 what[64];

		label_get(labels, name[9] == 'm' ? "action" : "verdict", what,
		    sizeof(what));
		if (name[9] == 'm') {
			for (k = 0; k < 6; k++)
				if (strcmp(what, action_names[k]) == 0)
					m->committed[k] = (uint64_t)v;
		} else {
			for (k = 0; k < VERDICT_COUNT; k++)
				if (strcmp(what, verdict_name((enum verdict)k)) == 0)
					m->verdicts[k] = (uint64_t)v;
		}
	} else if (strcmp(name, NAME_LAST_EXIT) == 0) {
		label_get(labels, "exit", m->scanner_last_exit,
		    sizeof(m->scanner_last_exit));
		m->scanner_last_exit_time = (time_t)v;
	} else if (strcmp(name, NAME_ENGINE) == 0) {
		char	 gen[32];

		label_get(labels, "info", m->engine_info,
		    sizeof(m->engine_info));
		label_get(labels, "generation", gen, sizeof(gen));
		m->engine_generation = (uint32_t)strtoul(gen, NULL, 10);
	} else if (strcmp(name, NAME_ERROR) == 0) {
		label_get(labels, "error", m->last_error, sizeof(m->last_error));
		m->last_error_time = (time_t)v;
	} else if (!histogram_in(&m->latency, metrics_latency_bounds,
	    NAME_LATENCY, name, labels, v) && !histogram_in(&m->scan_time,
	    metrics_latency_bounds, NAME_SCAN, name, labels, v))
		(void)histogram_in(&m->batch_size, metrics_size_bounds,
		    NAME_BATCH, name, labels, v);
}

int
metrics_read(const char *path, struct metrics *m, time_t *mtime_r)
{
	struct stat	 st;
	char		*text, *line, *save = NULL;
	ssize_t		 r;
	int		 fd, saved;

	memset(m, 0, sizeof(*m));
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) < 0)
		return (-1);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > METRICS_READ_MAX) {
		saved = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		(void)close(fd);
		errno = saved;
		return (-1);
	}
	text = xmalloc((size_t)st.st_size + 1);
	r = read(fd, text, (size_t)st.st_size);
	saved = errno;
	(void)close(fd);
	if (r < 0) {
		free(text);
		errno = saved;
		return (-1);
	}
	text[r] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		metrics_line(m, line);
	histogram_uncumulate(&m->latency);
	histogram_uncumulate(&m->scan_time);
	histogram_uncumulate(&m->batch_size);
	free(text);
	if (mtime_r != NULL)
		*mtime_r = st.st_mtime;
	return (0);
}
