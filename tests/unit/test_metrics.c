/*
 * NAME
 *	test_metrics - unit tests for the metrics file: written, read back
 * DESCRIPTION
 *	metrics_write() and metrics_read() share one table of names: every
 *	counter, gauge, label and histogram bucket written comes back as it
 *	was; a missing file is ENOENT; a hostile label survives escaping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/metrics.h"

static void
fill(struct metrics *m)
{
	int	 i;

	memset(m, 0, sizeof(*m));
	m->started = 1764750000;
	m->claimed = 1234567890123ULL;
	for (i = 0; i < 6; i++)
		m->committed[i] = 100 + (uint64_t)i;
	for (i = 0; i < VERDICT_COUNT; i++)
		m->verdicts[i] = 200 + (uint64_t)i;
	m->returned = 3;
	m->corrupt = 4;
	m->batches = 5;
	m->batch_failures = 6;
	m->worker_crashes = 7;
	m->worker_timeouts = 8;
	m->bytes = 9;
	m->hold_depth = 10;
	m->in_flight = 11;
	m->aside = 12;
	m->scanners_up = 1;
	m->scanners_since = 1764750100;
	m->scanner_restarts = 13;
	(void)snprintf(m->scanner_last_exit, sizeof(m->scanner_last_exit),
	    "scanner parent 4712 killed by signal 9 (Killed)");
	m->scanner_last_exit_time = 1764750200;
	m->engine_generation = 14;
	(void)snprintf(m->engine_info, sizeof(m->engine_info),
	    "clamav 1.4.6 \"daily\" \\ 3 sigs\nnext line");
	(void)snprintf(m->last_error, sizeof(m->last_error), "disk } full");
	m->last_error_time = 1764750300;
	metrics_observe(&m->latency, 0.003, metrics_latency_bounds);
	metrics_observe(&m->latency, 0.2, metrics_latency_bounds);
	metrics_observe(&m->latency, 1000, metrics_latency_bounds);
	metrics_observe(&m->scan_time, 0.02, metrics_latency_bounds);
	metrics_observe(&m->batch_size, 7, metrics_size_bounds);
	metrics_observe(&m->batch_size, 7, metrics_size_bounds);
}

static void
test_written_file_reads_back(void **state)
{
	struct metrics	 m, back;
	char		 path[] = "/tmp/test_metricsXXXXXX";
	time_t		 mtime = 0;
	int		 fd, i;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	fill(&m);
	assert_int_equal(metrics_write(&m, path), 0);
	assert_int_equal(metrics_read(path, &back, &mtime), 0);
	assert_true(mtime > 0);
	assert_int_equal(back.started, m.started);
	assert_true(back.claimed == m.claimed);
	for (i = 0; i < 6; i++)
		assert_int_equal(back.committed[i], m.committed[i]);
	for (i = 0; i < VERDICT_COUNT; i++)
		assert_int_equal(back.verdicts[i], m.verdicts[i]);
	assert_int_equal(back.returned, 3);
	assert_int_equal(back.worker_timeouts, 8);
	assert_int_equal(back.aside, 12);
	assert_int_equal(back.scanners_up, 1);
	assert_int_equal(back.scanners_since, m.scanners_since);
	assert_int_equal(back.scanner_restarts, 13);
	assert_string_equal(back.scanner_last_exit, m.scanner_last_exit);
	assert_int_equal(back.scanner_last_exit_time, m.scanner_last_exit_time);
	assert_int_equal(back.engine_generation, 14);
	assert_string_equal(back.engine_info, m.engine_info);
	assert_string_equal(back.last_error, m.last_error);
	assert_int_equal(back.last_error_time, m.last_error_time);
	assert_memory_equal(back.latency.count, m.latency.count,
	    sizeof(m.latency.count));
	assert_int_equal(back.latency.n, 3);
	assert_memory_equal(back.batch_size.count, m.batch_size.count,
	    sizeof(m.batch_size.count));
	assert_true(back.scan_time.sum > 0.019 && back.scan_time.sum < 0.021);
	unlink(path);
}

static void
test_missing_file_is_enoent(void **state)
{
	struct metrics	 m;

	(void)state;
	assert_int_equal(metrics_read("/nonexistent/metrics.prom", &m, NULL),
	    -1);
	assert_int_equal(errno, ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_written_file_reads_back),
		cmocka_unit_test(test_missing_file_is_enoent),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
