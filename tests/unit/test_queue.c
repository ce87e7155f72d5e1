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
#include <signal.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/queue.h"

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

/* Does queue_path(queue, id) in a child end it with abort() (a panic)? */
static bool
path_panics(const struct queue_layout *ql, const char *queue, const char *id)
{
	char	 path[QUEUE_PATH_SIZE];
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == 0) {
		(void)close(STDERR_FILENO);	/* the panic's line */
		(void)queue_path(ql, queue, id, path);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

static void
test_paths_refuse_bad_ids(void **state)
{
	struct queue_layout *ql;
	char		 path[QUEUE_PATH_SIZE];
	ino_t		 ino;

	(void)state;
	ql = queue_layout_new("/q", 0, 0, false, "hold", 1);
	/* A caller's bug: ids read from the disk are checked before. */
	assert_true(path_panics(ql, "hold", "../../etc/passwd"));
	assert_true(path_panics(ql, "../x", "ABCDEF"));
	assert_false(path_panics(ql, "hold", "ABCDEF"));
	assert_int_equal(queue_path(ql, "hold", "ABCDEF", path), 0);
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

/* Write dir/main.cf; age > 0 backdates it that many seconds (as sandbox.sh does). */
static void
write_main_cf(const char *dir, const char *text, int age)
{
	char		 path[512], tmp[520];
	struct timespec	 ts[2];
	FILE		*fp;

	(void)snprintf(path, sizeof(path), "%s/main.cf", dir);
	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_non_null(fp = fopen(tmp, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	if (age > 0) {
		assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts[0]), 0);
		ts[0].tv_sec -= age;
		ts[1] = ts[0];
		assert_int_equal(utimensat(AT_FDCWD, tmp, ts, 0), 0);
	}
	/* as postconf -e does: a new file renamed over the old one */
	assert_int_equal(rename(tmp, path), 0);
}

static void
make_config_dir(char *dir)
{
	char	 path[512];
	FILE	*fp;

	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/master.cf", dir);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
}

static void
remove_config_dir(const char *dir)
{
	char	 path[512];

	(void)snprintf(path, sizeof(path), "%s/master.cf", dir);
	unlink(path);
	(void)snprintf(path, sizeof(path), "%s/main.cf", dir);
	unlink(path);
	rmdir(dir);
}

static void
test_is_hashed_ignores_case_as_postfix_does(void **state)
{
	struct queue_layout *ql;
	char		 path[QUEUE_PATH_SIZE];

	(void)state;
	/* mail_queue_dir() compares with strcasecmp() */
	ql = queue_layout_new("/q", 0, 0, false, "Hold, INCOMING", 2);
	assert_true(queue_is_hashed(ql, "hold"));
	assert_int_equal(queue_hash_levels(ql, "incoming"), 2);
	assert_int_equal(queue_hash_levels(ql, "deferred"), 0);
	assert_int_equal(queue_path(ql, "hold", "BAC64A78532", path), 0);
	assert_string_equal(path, "hold/B/A/BAC64A78532");
	queue_layout_free(&ql);
}

static void
test_stamp_sees_a_rewrite_of_same_size_and_mtime(void **state)
{
	char		 dir[] = "/tmp/test_queue_stampXXXXXX";
	struct queue_conf_stamp a, b;
	char		 path[512];
	struct stat	 st;
	struct timespec	 ts[2];

	(void)state;
	make_config_dir(dir);
	assert_int_equal(queue_conf_stamp(dir, &b), 0);
	assert_false(b.exists);
	write_main_cf(dir, "hash_queue_depth = 1\n", 10);
	assert_int_equal(queue_conf_stamp(dir, &a), 0);
	assert_true(a.exists);
	assert_false(queue_conf_same(&a, &b));	/* created */
	b = a;
	assert_true(queue_conf_same(&a, &b));
	/* same size, mtime put back: the inode and ctime still tell */
	(void)snprintf(path, sizeof(path), "%s/main.cf", dir);
	assert_int_equal(stat(path, &st), 0);
	write_main_cf(dir, "hash_queue_depth = 2\n", 0);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_int_equal(queue_conf_stamp(dir, &b), 0);
	assert_int_equal(b.size, a.size);
	assert_int_equal(b.mtime.tv_sec, a.mtime.tv_sec);
	assert_false(queue_conf_same(&a, &b));
	/* edited in place (same inode), mtime put back: ctime tells */
	{
		struct timespec	 tick = { 0, 20 * 1000 * 1000 };
		FILE		*fp;

		/* past the kernel's coarse clock tick (older kernels) */
		(void)nanosleep(&tick, NULL);
		assert_non_null(fp = fopen(path, "r+"));
		fputs("hash_queue_depth = 3\n", fp);
		assert_int_equal(fclose(fp), 0);
		assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
		assert_int_equal(queue_conf_stamp(dir, &a), 0);
		assert_int_equal(a.ino, b.ino);
		assert_int_equal(a.size, b.size);
		assert_int_equal(a.mtime.tv_nsec, b.mtime.tv_nsec);
		assert_false(queue_conf_same(&a, &b));
	}
	remove_config_dir(dir);
}

static void
test_settled_follows_postfix_cooling(void **state)
{
	struct queue_conf_stamp st;

	(void)state;
	memset(&st, 0, sizeof(st));
	assert_true(queue_conf_settled(&st, 1000));	/* no main.cf at all */
	st.exists = true;
	/* dict_load_file_xt() reads again while now - 1 <= mtime <= now */
	st.mtime.tv_sec = 1000;
	assert_false(queue_conf_settled(&st, 1000));
	assert_false(queue_conf_settled(&st, 1001));
	assert_true(queue_conf_settled(&st, 1002));
	assert_true(queue_conf_settled(&st, 999));	/* in the future */
}

static void
test_layout_diff_names_what_changed(void **state)
{
	struct queue_layout *a, *b;
	char		 names[256];

	(void)state;
	a = queue_layout_new("/q", 1, 1, false, "deferred, defer", 1);
	b = queue_layout_new("/q", 1, 1, false, "deferred", 3);
	/* only queues holdscand uses count; unhashed depth does not */
	assert_int_equal(queue_layout_diff(a, b), 0);
	queue_layout_free(&b);
	b = queue_layout_new("/q", 1, 1, false, "deferred, defer, hold", 1);
	assert_int_equal(queue_layout_diff(a, b), QUEUE_DIFF_HOLD);
	queue_layout_free(&a);
	a = queue_layout_new("/q", 1, 1, true, "deferred, incoming, hold", 2);
	assert_int_equal(queue_layout_diff(a, b), QUEUE_DIFF_HOLD |
	    QUEUE_DIFF_INCOMING | QUEUE_DIFF_IDS);
	queue_layout_free(&b);
	b = queue_layout_new("/other", 2, 1, true, "deferred, incoming, hold", 2);
	assert_int_equal(queue_layout_diff(a, b), QUEUE_DIFF_QUEUE_DIR |
	    QUEUE_DIFF_OWNER);
	assert_string_equal(queue_diff_names(QUEUE_DIFF_QUEUE_DIR |
	    QUEUE_DIFF_OWNER | QUEUE_DIFF_LINE_LIMIT, names, sizeof(names)),
	    "queue_directory, mail_owner, line_length_limit");
	assert_string_equal(queue_layout_describe(a, names, sizeof(names)),
	    "hash_queue_names=deferred,incoming,hold hash_queue_depth=2 "
	    "enable_long_queue_ids=yes");
	/* cut off, never overrun */
	assert_string_equal(queue_layout_describe(a, names, 10), "hash_queu");
	queue_layout_free(&a);
	queue_layout_free(&b);
}

static void
test_refresh_follows_main_cf_in_place(void **state)
{
	char		 dir[] = "/tmp/test_queue_refreshXXXXXX";
	struct queue_layout *ql = NULL, *held;
	char		 path[QUEUE_PATH_SIZE], *error = NULL;
	unsigned	 diff;

	(void)state;
	make_config_dir(dir);
	write_main_cf(dir, "queue_directory = /var/tmp/q\n", 10);
	if (queue_layout_load(dir, NULL, &ql, &error) < 0)
		fail_msg("queue_layout_load: %s", error);
	held = ql;		/* as the commit context and the watcher hold it */
	assert_int_equal(queue_layout_refresh(ql, NULL, time(NULL), &diff,
	    &error), QUEUE_REFRESH_SAME);
	assert_int_equal(diff, 0);

	/* hash_queue_names += hold, incoming; depth 2; postfix reload */
	write_main_cf(dir, "queue_directory = /var/tmp/q\n"
	    "hash_queue_names = deferred, defer, hold, incoming\n"
	    "hash_queue_depth = 2\n", 10);
	assert_int_equal(queue_layout_refresh(ql, NULL, time(NULL), &diff,
	    &error), QUEUE_REFRESH_READ);
	assert_int_equal(diff, QUEUE_DIFF_HOLD | QUEUE_DIFF_INCOMING);
	assert_ptr_equal(held, ql);
	assert_int_equal(queue_path(held, "hold", "BAC64A78532", path), 0);
	assert_string_equal(path, "hold/B/A/BAC64A78532");
	assert_int_equal(queue_subdir(held, "incoming", "BAC64A78532", path), 0);
	assert_string_equal(path, "incoming/B/A");
	/* read once: the same file is not read again */
	assert_int_equal(queue_layout_refresh(ql, NULL, time(NULL), &diff,
	    &error), QUEUE_REFRESH_SAME);

	/* long ids; a fresh file is not read until Postfix would read it */
	write_main_cf(dir, "queue_directory = /var/tmp/q\n"
	    "hash_queue_names = deferred, defer, hold, incoming\n"
	    "hash_queue_depth = 2\nenable_long_queue_ids = yes\n", 0);
	assert_int_equal(queue_layout_refresh(ql, NULL, time(NULL), &diff,
	    &error), QUEUE_REFRESH_UNSETTLED);
	assert_false(held->long_ids);
	assert_int_equal(queue_layout_refresh(ql, NULL, time(NULL) + 2, &diff,
	    &error), QUEUE_REFRESH_READ);
	assert_int_equal(diff, QUEUE_DIFF_IDS);
	assert_true(held->long_ids);

	/* hashing removed again */
	write_main_cf(dir, "queue_directory = /var/tmp/q\n"
	    "enable_long_queue_ids = yes\n", 10);
	assert_int_equal(queue_layout_refresh(ql, NULL, time(NULL), &diff,
	    &error), QUEUE_REFRESH_READ);
	assert_int_equal(diff, QUEUE_DIFF_HOLD | QUEUE_DIFF_INCOMING);
	assert_int_equal(queue_path(held, "hold", "BAC64A78532", path), 0);
	assert_string_equal(path, "hold/BAC64A78532");
	queue_layout_free(&ql);
	remove_config_dir(dir);
}

static void
test_refresh_keeps_what_needs_a_restart(void **state)
{
	char		 dir[] = "/tmp/test_queue_restartXXXXXX";
	struct queue_layout *ql = NULL;
	char		*error = NULL;
	unsigned	 diff;

	(void)state;
	make_config_dir(dir);
	write_main_cf(dir, "queue_directory = /var/tmp/q\n"
	    "myhostname = a.example\n", 10);
	if (queue_layout_load(dir, NULL, &ql, &error) < 0)
		fail_msg("queue_layout_load: %s", error);
	write_main_cf(dir, "queue_directory = /var/tmp/other\n"
	    "myhostname = b.example\nline_length_limit = 4096\n"
	    "hash_queue_names = hold\n", 10);
	assert_int_equal(queue_layout_refresh(ql, NULL, time(NULL), &diff,
	    &error), QUEUE_REFRESH_READ);
	assert_int_equal(diff, QUEUE_DIFF_QUEUE_DIR | QUEUE_DIFF_HOSTNAME |
	    QUEUE_DIFF_LINE_LIMIT | QUEUE_DIFF_HOLD);
	/* the hashing is followed, the rest waits for a restart */
	assert_true(queue_is_hashed(ql, "hold"));
	assert_string_equal(ql->queue_dir, "/var/tmp/q");
	assert_string_equal(ql->myhostname, "a.example");
	assert_int_equal(ql->line_limit, 2048);
	queue_layout_free(&ql);
	remove_config_dir(dir);
}

static void
test_refresh_failure_keeps_the_layout(void **state)
{
	char		 dir[] = "/tmp/test_queue_failXXXXXX";
	struct queue_layout *ql = NULL;
	char		*error = NULL;
	unsigned	 diff;

	(void)state;
	make_config_dir(dir);
	write_main_cf(dir, "hash_queue_names = hold\n", 10);
	if (queue_layout_load(dir, NULL, &ql, &error) < 0)
		fail_msg("queue_layout_load: %s", error);
	write_main_cf(dir, "hash_queue_names = incoming\nhash_queue_depth = x\n",
	    10);
	assert_int_equal(queue_layout_refresh(ql, NULL, time(NULL), &diff,
	    &error), QUEUE_REFRESH_FAILED);
	assert_non_null(strstr(error, "hash_queue_depth"));
	free(error);
	assert_true(queue_is_hashed(ql, "hold"));
	assert_false(queue_is_hashed(ql, "incoming"));
	queue_layout_free(&ql);
	remove_config_dir(dir);
}

static void
test_locate_finds_files_an_earlier_layout_placed(void **state)
{
	char		 dir[] = "/tmp/test_queue_locateXXXXXX";
	struct queue_layout *ql;
	char		 path[QUEUE_PATH_SIZE], full[700];
	struct stat	 st;
	int		 qfd, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	qfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(qfd >= 0);
	ql = queue_layout_new(dir, geteuid(), getegid(), false, "deferred", 1);
	assert_int_equal(queue_mkdirs(ql, qfd, "hold/B/A"), 0);
	assert_true((fd = openat(qfd, "hold/B/A/BAC64A78532", O_CREAT | O_WRONLY,
	    0700)) >= 0);
	close(fd);
	/* hold is flat now; the file is where depth 2 put it */
	assert_int_equal(queue_locate(ql, qfd, "hold", "BAC64A78532", path, &st),
	    0);
	assert_string_equal(path, "hold/B/A/BAC64A78532");
	assert_true(S_ISREG(st.st_mode));
	/* the live place first */
	assert_true((fd = openat(qfd, "hold/BAC64A78532", O_CREAT | O_WRONLY,
	    0700)) >= 0);
	close(fd);
	assert_int_equal(queue_locate(ql, qfd, "hold", "BAC64A78532", path, &st),
	    0);
	assert_string_equal(path, "hold/BAC64A78532");
	assert_int_equal(queue_locate(ql, qfd, "hold", "BAC64A78533", path, &st),
	    -1);
	assert_int_equal(errno, ENOENT);
	queue_layout_free(&ql);
	close(qfd);
	(void)snprintf(full, sizeof(full), "rm -rf '%s'", dir);
	assert_int_equal(system(full), 0);
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
		cmocka_unit_test(test_is_hashed_ignores_case_as_postfix_does),
		cmocka_unit_test(test_stamp_sees_a_rewrite_of_same_size_and_mtime),
		cmocka_unit_test(test_settled_follows_postfix_cooling),
		cmocka_unit_test(test_layout_diff_names_what_changed),
		cmocka_unit_test(test_refresh_follows_main_cf_in_place),
		cmocka_unit_test(test_refresh_keeps_what_needs_a_restart),
		cmocka_unit_test(test_refresh_failure_keeps_the_layout),
		cmocka_unit_test(test_locate_finds_files_an_earlier_layout_placed),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
