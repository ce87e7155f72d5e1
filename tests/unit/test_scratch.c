/*
 * NAME
 *	test_scratch - the scanner's private temporary directories
 * DESCRIPTION
 *	scratch_open() makes BASE/scanner.XXXXXX, 0700, and first removes
 *	what dead scanners left in BASE (unlocked scanner.* directories)
 *	but not the directory of a live one (locked), never following a
 *	symbolic link planted there; a base that is a symbolic link or open
 *	to others is refused, or with fallback replaced by a private
 *	directory of our own. A worker's directory is 0700 and gone, with
 *	all in it, after scratch_worker_done(); scratch_close() removes the
 *	rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "scanner/scratch.h"

struct fixture {
	char	 dir[64];	/* DIR, 0700 */
	char	*base;		/* DIR/base, 0700 */
	char	*outside;	/* DIR/outside: a file links point at */
};

static void
touch(const char *path)
{
	int	 fd;

	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	assert_int_equal(write(fd, "part\n", 5), 5);
	assert_int_equal(close(fd), 0);
}

static bool
exists(const char *path)
{
	struct stat	 st;

	return (lstat(path, &st) == 0);
}

static int
setup(void **state)
{
	struct fixture	*fx = xcalloc(1, sizeof(*fx));

	*state = fx;
	log_open("test_scratch", LOG_DEST_STDERR, 0, 0);
	(void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_scratch.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return (-1);
	fx->base = xasprintf("%s/base", fx->dir);
	fx->outside = xasprintf("%s/outside", fx->dir);
	if (mkdir(fx->base, 0700) < 0)
		return (-1);
	touch(fx->outside);
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;
	char		 cmd[256];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	(void)system(cmd);
	free(fx->base);
	free(fx->outside);
	free(fx);
	return (0);
}

static void
test_leftovers_go_live_ones_stay(void **state)
{
	struct fixture	*fx = *state;
	struct scratch	 live, s;
	struct stat	 st;
	char		*old, *p, *error = NULL;

	assert_int_equal(scratch_open(&live, fx->base, false, &error), 0);
	assert_int_equal(strncmp(live.path, fx->base, strlen(fx->base)), 0);
	assert_int_equal(lstat(live.path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* What a dead scanner left: parts, nested, and planted links. */
	old = xasprintf("%s/scanner.dead01", fx->base);
	assert_int_equal(mkdir(old, 0700), 0);
	p = xasprintf("%s/worker.7", old);
	assert_int_equal(mkdir(p, 0500), 0);
	free(p);
	p = xasprintf("%s/scanner.dead01/part", fx->base);
	touch(p);
	free(p);
	p = xasprintf("%s/scanner.dead01/link", fx->base);
	assert_int_equal(symlink(fx->outside, p), 0);
	free(p);
	p = xasprintf("%s/scanner.deadlink", fx->base);
	assert_int_equal(symlink(fx->dir, p), 0);
	free(p);

	assert_int_equal(scratch_open(&s, fx->base, false, &error), 0);
	assert_false(exists(old));
	p = xasprintf("%s/scanner.deadlink", fx->base);
	assert_false(exists(p));
	free(p);
	assert_true(exists(fx->outside));	/* links never followed */
	assert_true(exists(fx->base));
	assert_true(exists(live.path));		/* locked: alive */

	assert_int_equal(scratch_close(&s, &error), 0);
	assert_int_equal(scratch_close(&live, &error), 0);
	assert_int_equal(rmdir(fx->base), 0);	/* nothing left in it */
	assert_int_equal(mkdir(fx->base, 0700), 0);
	free(old);
}

static void
test_worker_directory(void **state)
{
	struct fixture	*fx = *state;
	struct scratch	 s;
	struct stat	 st;
	char		*dir = NULL, *p, *error = NULL;

	assert_int_equal(scratch_open(&s, fx->base, false, &error), 0);
	assert_int_equal(scratch_worker(&s, 4242, &dir, &error), 0);
	assert_int_equal(lstat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, geteuid());
	p = xasprintf("%s/clamav-1234.tmp", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	p = xasprintf("%s/clamav-1234.tmp/part", dir);
	touch(p);
	free(p);
	assert_int_equal(scratch_worker_done(&s, 4242, &error), 0);
	assert_false(exists(dir));
	/* A worker that died before it made its directory: nothing to do. */
	assert_int_equal(scratch_worker_done(&s, 4243, &error), 0);
	assert_int_equal(scratch_close(&s, &error), 0);
	free(dir);
}

static void
test_bad_bases(void **state)
{
	struct fixture	*fx = *state;
	struct scratch	 s;
	char		*link, *error = NULL;

	assert_int_equal(chmod(fx->base, 0755), 0);
	assert_int_equal(scratch_open(&s, fx->base, false, &error), -1);
	assert_non_null(strstr(error, "has mode 0755, not 0700"));
	free(error);
	error = NULL;
	/* The one-shot commands make a private one instead. */
	assert_int_equal(scratch_open(&s, fx->base, true, &error), 0);
	assert_true(s.fallback);
	assert_non_null(strstr(s.path, "/" SCRATCH_FALLBACK));
	assert_int_equal(scratch_close(&s, &error), 0);
	assert_int_equal(chmod(fx->base, 0700), 0);

	link = xasprintf("%s/link", fx->dir);
	assert_int_equal(symlink(fx->base, link), 0);
	assert_int_equal(scratch_open(&s, link, false, &error), -1);
	assert_non_null(strstr(error, "symbolic link"));
	free(error);
	free(link);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leftovers_go_live_ones_stay),
		cmocka_unit_test(test_worker_directory),
		cmocka_unit_test(test_bad_bases),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
