/*
 * NAME
 *	test_reload - unit tests for the reload status file
 * DESCRIPTION
 *	Its name beside the pid file; what the daemon writes is what
 *	"holdscand reload" reads, in one line whatever the message holds; a
 *	file caught half written asks to be read again; a file that is not
 *	a status file is refused; without a running daemon nobody is
 *	signalled.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/reload.h"

static void
test_path_is_beside_the_pid_file(void **state)
{
	char	*p;

	(void)state;
	p = reload_status_path("/run/holdscan/holdscand.pid");
	assert_string_equal(p, "/run/holdscan/holdscand.reload");
	free(p);
	p = reload_status_path("/var/run/hs.lock");
	assert_string_equal(p, "/var/run/hs.lock.reload");
	free(p);
}

/* A temporary file's path in buf, its descriptor returned. */
static int
temp_file(char *buf, size_t size)
{
	int	 fd;

	(void)snprintf(buf, size, "%s/test_reload.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(buf);
	assert_true(fd >= 0);
	return (fd);
}

static void
test_what_is_written_is_read(void **state)
{
	struct reload_status st, got;
	char		 path[256];
	int		 fd;

	(void)state;
	fd = temp_file(path, sizeof(path));
	memset(&st, 0, sizeof(st));
	st.pid = 4242;
	st.requested = 3;
	assert_int_equal(reload_status_write(fd, &st), 0);
	assert_int_equal(reload_status_read(path, &got), 0);
	assert_int_equal(got.pid, 4242);
	assert_int_equal(got.requested, 3);
	assert_int_equal(got.done, 0);
	st.done = 3;
	st.ok = false;
	(void)snprintf(st.message, sizeof(st.message),
	    "reload: f: a\nb: state_directory changed");
	assert_int_equal(reload_status_write(fd, &st), 0);
	assert_int_equal(reload_status_read(path, &got), 0);
	assert_int_equal(got.done, 3);
	assert_false(got.ok);
	assert_string_equal(got.message,
	    "reload: f: a b: state_directory changed");
	st.ok = true;
	st.requested = 4;
	st.done = 4;
	(void)snprintf(st.message, sizeof(st.message), "taken");
	assert_int_equal(reload_status_write(fd, &st), 0);
	assert_int_equal(reload_status_read(path, &got), 0);
	assert_true(got.ok);
	assert_int_equal(got.requested, 4);
	assert_string_equal(got.message, "taken");
	(void)close(fd);
	(void)unlink(path);
}

static void
test_half_written_or_foreign_files_are_not_taken(void **state)
{
	struct reload_status got;
	char		 path[256];
	int		 fd;

	(void)state;
	fd = temp_file(path, sizeof(path));
	assert_int_equal(reload_status_read(path, &got), -1);
	assert_int_equal(errno, EAGAIN);	/* empty: being written */
	assert_int_equal(write(fd, "pid=1\nrequested=2\n", 18), 18);
	assert_int_equal(reload_status_read(path, &got), -1);
	assert_int_equal(errno, EAGAIN);	/* no "end" yet */
	assert_int_equal(write(fd, "end\n", 4), 4);
	assert_int_equal(reload_status_read(path, &got), -1);
	assert_int_equal(errno, EINVAL);	/* no "done" */
	(void)close(fd);
	(void)unlink(path);
	assert_int_equal(reload_status_read(path, &got), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_no_daemon_is_not_running(void **state)
{
	char		 path[256], *msg = NULL;
	int		 fd;

	(void)state;
	fd = temp_file(path, sizeof(path));
	assert_int_equal(write(fd, "1\n", 2), 2);	/* pid 1, not locked */
	assert_int_equal(reload_request(path, 1000, &msg), RELOAD_NOT_RUNNING);
	assert_non_null(strstr(msg, "not running"));
	free(msg);
	(void)close(fd);
	(void)unlink(path);
	assert_int_equal(reload_request(path, 1000, &msg), RELOAD_NOT_RUNNING);
	free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_is_beside_the_pid_file),
		cmocka_unit_test(test_what_is_written_is_read),
		cmocka_unit_test(test_half_written_or_foreign_files_are_not_taken),
		cmocka_unit_test(test_no_daemon_is_not_running),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
