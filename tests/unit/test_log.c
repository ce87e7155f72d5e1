/*
 * NAME
 *	test_log - unit tests for the log file destination
 * DESCRIPTION
 *	A line logged to a log file reads as syslog writes it; the line a
 *	signal handler logs with log_signal_fatal() (holdscand's watchdog)
 *	reaches the log file too, in the same form, with the date and time
 *	it was written and the process's pid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

static void
read_file(const char *path, char *buf, size_t size)
{
	FILE	*fp;
	size_t	 n;

	assert_non_null(fp = fopen(path, "r"));
	n = fread(buf, 1, size - 1, fp);
	buf[n] = '\0';
	assert_int_equal(fclose(fp), 0);
}

static void
test_signal_fatal_to_file(void **state)
{
	char		 dir[] = "/tmp/test_logXXXXXX", path[64], buf[4096];
	char		 want[256], stamp[2][32], *line;
	struct tm	 tm;
	time_t		 t0, t1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/holdscand.log", dir);
	assert_int_equal(log_open_file("holdscand", path, 0, getuid(),
	    getgid()), 0);
	hs_info("an ordinary line");
	t0 = time(NULL);
	log_signal_fatal("the event loop has not come round");
	t1 = time(NULL);
	read_file(path, buf, sizeof(buf));
	assert_non_null(strstr(buf, "]: an ordinary line\n"));
	line = strchr(buf, '\n');
	assert_non_null(line);
	line++;
	(void)snprintf(want, sizeof(want),
	    "holdscand[%ld]: fatal: the event loop has not come round\n",
	    (long)getpid());
	assert_non_null(strstr(line, want));
	/* "Mon dd hh:mm:ss host ": the same as strftime's, at t0 or t1. */
	assert_non_null(localtime_r(&t0, &tm));
	assert_true(strftime(stamp[0], sizeof(stamp[0]), "%b %e %H:%M:%S ",
	    &tm) > 0);
	assert_non_null(localtime_r(&t1, &tm));
	assert_true(strftime(stamp[1], sizeof(stamp[1]), "%b %e %H:%M:%S ",
	    &tm) > 0);
	if (strncmp(line, stamp[0], strlen(stamp[0])) != 0 &&
	    strncmp(line, stamp[1], strlen(stamp[1])) != 0)
		fail_msg("line '%s' does not start with '%s'", line, stamp[0]);
	/* The ordinary line's prefix up to the ident matches in form. */
	assert_int_equal(strcspn(buf, "["), strcspn(line, "["));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signal_fatal_to_file),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
