/*
 * NAME
 *	test_queue - unit tests for queue ids, hashed paths, locks, mkdirs
 * DESCRIPTION
 *	Known ids come from a running Postfix 3.7 (postfix-queue.md, lab E1):
 *	short BAC64A78532 = usec 0xBAC64 + inode 0xA78532; long
 *	4jY0wJ5rL6z1bkg2 = sec 1795426064, usec 822958, inode 10978007,
 *	hashed at depth 2 under C/8/.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue.h"

static void
test_short_id_is_usec_hex_then_inode_hex(void **state)
{
	struct timeval	 tv = { 1795426064, 0xBAC64 };
	char		 id[QUEUE_ID_SIZE];
	ino_t		 ino;

	(void)state;
	queue_id_make(false, 0xA78532, &tv, id);
	assert_string_equal(id, "BAC64A78532");
	assert_int_equal(queue_id_inode(id, &ino), 0);
	assert_int_equal(ino, 0xA78532);
}

static void
test_short_id_pads_usec_to_five_digits(void **state)
{
	struct timeval	 tv = { 1, 0x12 };
	char		 id[QUEUE_ID_SIZE];

	(void)state;
	queue_id_make(false, 0x1, &tv, id);
	assert_string_equal(id, "000121");
}

static void
test_long_id_matches_running_postfix(void **state)
{
	struct timeval	 tv = { 1795426064, 822958 };
	char		 id[QUEUE_ID_SIZE];
	ino_t		 ino;

	(void)state;
	queue_id_make(true, 10978007, &tv, id);
	assert_string_equal(id, "4jY0wJ5rL6z1bkg2");
	assert_int_equal(queue_id_inode(id, &ino), 0);
	assert_int_equal(ino, 10978007);
}

static void
test_long_id_hashes_on_usec_hex(void **state)
{
	struct queue_layout *ql;
	char		 path[QUEUE_PATH_SIZE];

	(void)state;
	ql = queue_layout_new("/q", 0, 0, true, "hold, incoming", 2);
	assert_int_equal(queue_path(ql, "hold", "4jY0wJ5rL6z1bkg2", path), 0);
	assert_string_equal(path, "hold/C/8/4jY0wJ5rL6z1bkg2");
	assert_int_equal(queue_subdir(ql, "incoming", "4jY0wJ5rL6z1bkg2", path), 0);
	assert_string_equal(path, "incoming/C/8");
	queue_layout_free(&ql);
	assert_null(ql);
}

static void
test_short_id_hashes_on_its_own_text(void **state)
{
	struct queue_layout *ql;
	char		 path[QUEUE_PATH_SIZE];

	(void)state;
	ql = queue_layout_new("/q", 0, 0, false, "deferred,defer", 1);
	assert_int_equal(queue_path(ql, "deferred", "BAC64A78532", path), 0);
	assert_string_equal(path, "deferred/B/BAC64A78532");
	assert_int_equal(queue_path(ql, "incoming", "BAC64A78532", path), 0);
	assert_string_equal(path, "incoming/BAC64A78532");
	queue_layout_free(&ql);
}

static void
test_short_key_pads_hash_levels_with_underscore(void **state)
{
	struct queue_layout *ql;
	char		 path[QUEUE_PATH_SIZE];

	(void)state;
	ql = queue_layout_new("/q", 0, 0, false, "hold", 3);
	assert_int_equal(queue_path(ql, "hold", "AB", path), 0);
	assert_string_equal(path, "hold/A/B/_/AB");
	queue_layout_free(&ql);
}

static void
test_id_ok_accepts_postfix_names_only(void **state)
{
	char	 longname[300];

	(void)state;
	assert_true(queue_id_ok("BAC64A78532"));
	assert_true(queue_id_ok("4jY0wJ5rL6z1bkg2"));
	assert_true(queue_id_ok("a_b"));
	assert_false(queue_id_ok(""));
	assert_false(queue_id_ok("123.456"));
	assert_false(queue_id_ok("../etc"));
	assert_false(queue_id_ok("A B"));
	assert_false(queue_id_ok("\xc3\xa9t\xc3\xa9"));
	memset(longname, 'A', 255);
	longname[255] = '\0';
	assert_true(queue_id_ok(longname));
	longname[255] = 'A';
	longname[256] = '\0';
	assert_false(queue_id_ok(longname));
}

static void
test_paths_refuse_bad_ids(void **state)
{
	struct queue_layout *ql;
	char		 path[QUEUE_PATH_SIZE];
	ino_t		 ino;

	(void)state;
	ql = queue_layout_new("/q", 0, 0, false, "hold", 1);
	errno = 0;
	assert_int_equal(queue_path(ql, "hold", "../../etc/passwd", path), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(queue_path(ql, "../x", "ABCDEF", path), -1);
	assert_int_equal(queue_id_inode("ABCDE", &ino), -1);
	assert_int_equal(queue_id_inode("ABCDEXYZ", &ino), -1);
	queue_layout_free(&ql);
}

static void
test_lock_try_fails_while_another_process_holds_it(void **state)
{
	char	 path[] = "/tmp/test_queue_lockXXXXXX";
	int	 fd, fd2, up[2], down[2];
	pid_t	 pid;
	char	 c;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int	 cfd = open(path, O_RDONLY);

		alarm(10);	/* never outlive a failed parent */

		if (cfd < 0 || flock(cfd, LOCK_EX) < 0)
			_exit(1);
		if (write(up[1], "l", 1) != 1)
			_exit(1);
		if (read(down[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(read(up[0], &c, 1), 1);
	assert_int_equal(queue_lock_test(fd), 1);
	errno = 0;
	assert_int_equal(queue_lock_try(fd), -1);
	assert_int_equal(errno, EAGAIN);
	/* release the child, its lock goes with it */
	assert_int_equal(write(down[1], "u", 1), 1);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(queue_lock_test(fd), 0);
	assert_int_equal(queue_lock_try(fd), 0);
	/* our own lock is seen by a new open file description */
	fd2 = open(path, O_RDONLY);
	assert_true(fd2 >= 0);
	assert_int_equal(queue_lock_try(fd2), -1);
	assert_int_equal(queue_lock_test(fd), 1);
	close(fd2);
	close(fd);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
	unlink(path);
}

static void
test_fcntl_lock_is_not_a_postfix_lock(void **state)
{
	char		 path[] = "/tmp/test_queue_fcntlXXXXXX";
	struct flock	 fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int		 fd, fd2;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(fcntl(fd, F_SETLK, &fl), 0);
	fd2 = open(path, O_RDONLY);
	assert_true(fd2 >= 0);
	/* Postfix on Linux uses flock; a POSIX lock does not block it (lab E3c). */
	assert_int_equal(queue_lock_try(fd2), 0);
	close(fd2);
	close(fd);
	unlink(path);
}

static void
test_ready_mode_is_regular_and_owner_rwx(void **state)
{
	struct stat	 st;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFREG | 0700;
	assert_true(queue_stat_ready(&st));
	st.st_mode = S_IFREG | 0710;	/* g+x: postsuper -e, still ready */
	assert_true(queue_stat_ready(&st));
	st.st_mode = S_IFREG | 0600;
	assert_false(queue_stat_ready(&st));
	st.st_mode = S_IFDIR | 0700;
	assert_false(queue_stat_ready(&st));
	st.st_mode = S_IFLNK | 0700;
	assert_false(queue_stat_ready(&st));
}

static void
test_mkdirs_creates_each_level_0700(void **state)
{
	char		 dir[] = "/tmp/test_queue_mkdirsXXXXXX";
	struct queue_layout *ql;
	struct stat	 st;
	char		 path[512];
	int		 dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	ql = queue_layout_new(dir, geteuid(), getegid(), false, "incoming", 2);
	assert_int_equal(queue_mkdirs(ql, dfd, "incoming/A/B"), 0);
	assert_int_equal(queue_mkdirs(ql, dfd, "incoming/A/B"), 0);
	(void)snprintf(path, sizeof(path), "%s/incoming/A", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	(void)snprintf(path, sizeof(path), "%s/incoming/A/B", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(queue_fsync_dirat(dfd, "incoming/A"), 0);
	rmdir(path);
	(void)snprintf(path, sizeof(path), "%s/incoming/A", dir);
	rmdir(path);
	(void)snprintf(path, sizeof(path), "%s/incoming", dir);
	rmdir(path);
	rmdir(dir);
	close(dfd);
	queue_layout_free(&ql);
}

static void
test_layout_load_reads_postconf(void **state)
{
	char		 dir[] = "/tmp/test_queue_confXXXXXX";
	char		 path[512], *error = NULL;
	struct queue_layout *ql = NULL;
	FILE		*fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/main.cf", dir);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "queue_directory = /var/tmp/q\n"
	    "enable_long_queue_ids = yes\n"
	    "qn = incoming\n"
	    "hash_queue_names = hold, $qn deferred\n"
	    "hash_queue_depth = 2\n"
	    "myhostname = mx.example.org\n");
	fclose(fp);
	(void)snprintf(path, sizeof(path), "%s/master.cf", dir);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	if (queue_layout_load(dir, NULL, &ql, &error) < 0)
		fail_msg("queue_layout_load: %s", error);
	assert_string_equal(ql->queue_dir, "/var/tmp/q");
	assert_true(ql->long_ids);
	assert_int_equal(ql->hash_depth, 2);
	assert_true(queue_is_hashed(ql, "hold"));
	assert_true(queue_is_hashed(ql, "incoming"));
	assert_true(queue_is_hashed(ql, "deferred"));
	assert_false(queue_is_hashed(ql, "active"));
	assert_string_equal(ql->mail_owner, "postfix");
	assert_string_equal(ql->myhostname, "mx.example.org");
	assert_int_equal(ql->line_limit, 2048);
	queue_layout_free(&ql);
	unlink(path);
	(void)snprintf(path, sizeof(path), "%s/main.cf", dir);
	unlink(path);
	rmdir(dir);
}

static void
test_layout_load_names_a_missing_config(void **state)
{
	struct queue_layout *ql = NULL;
	char		*error = NULL;

	(void)state;
	assert_int_equal(queue_layout_load("/nonexistent/holdscan-test", NULL,
	    &ql, &error), -1);
	assert_null(ql);
	assert_non_null(error);
	assert_non_null(strstr(error, "/nonexistent/holdscan-test"));
	free(error);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_id_is_usec_hex_then_inode_hex),
		cmocka_unit_test(test_short_id_pads_usec_to_five_digits),
		cmocka_unit_test(test_long_id_matches_running_postfix),
		cmocka_unit_test(test_long_id_hashes_on_usec_hex),
		cmocka_unit_test(test_short_id_hashes_on_its_own_text),
		cmocka_unit_test(test_short_key_pads_hash_levels_with_underscore),
		cmocka_unit_test(test_id_ok_accepts_postfix_names_only),
		cmocka_unit_test(test_paths_refuse_bad_ids),
		cmocka_unit_test(test_lock_try_fails_while_another_process_holds_it),
		cmocka_unit_test(test_fcntl_lock_is_not_a_postfix_lock),
		cmocka_unit_test(test_ready_mode_is_regular_and_owner_rwx),
		cmocka_unit_test(test_mkdirs_creates_each_level_0700),
		cmocka_unit_test(test_layout_load_reads_postconf),
		cmocka_unit_test(test_layout_load_names_a_missing_config),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
