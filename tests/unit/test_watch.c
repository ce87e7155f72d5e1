/*
 * NAME
 *	test_watch - unit tests for the hold queue watcher
 * DESCRIPTION
 *	A temporary queue directory with a hold queue whose files belong to
 *	the user running the test (the layout's mail owner). Checks what the
 *	watcher offers: a file once it is ready (mode 0700, not while
 *	cleanup(8) writes it at 0600) and not again while it is in flight,
 *	the oldest first; never a hard link, a symbolic link or a FIFO (said
 *	once); a deferred (locked) file when it is due; a set-aside file
 *	only once it is another file or unignored. And from where, when the
 *	hashing of hold is not what the layout says (postconf -e and
 *	postfix reload while holdscand runs): files in one-character
 *	directories at any depth are found, Postfix's hash directories are
 *	never taken for queue files, files postsuper moves are offered from
 *	their new place, and the layout hint is raised. Warnings are
 *	captured from standard error.
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
#include "common/queue.h"
#include "daemon/watch.h"

struct fixture {
	char		 dir[64];
	char		 errpath[128];
	int		 qdirfd;
	int		 saved_stderr;
	struct queue_layout *ql;
	struct watch	*w;
};

/* What the watcher logged so far. */
static char *
logged(struct fixture *f)
{
	static char	 buf[8192];
	ssize_t		 n;
	int		 fd;

	fd = open(f->errpath, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return (buf);
}

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));
	int		 fd;

	assert_non_null(f);
	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_watchXXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->qdirfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->qdirfd >= 0);
	assert_int_equal(mkdirat(f->qdirfd, "hold", 0700), 0);
	/* hold is flat, as by default */
	f->ql = queue_layout_new(f->dir, geteuid(), getegid(), false,
	    "deferred, defer", 1);
	/* warnings go to a file the tests read */
	(void)snprintf(f->errpath, sizeof(f->errpath), "%s/stderr", f->dir);
	fd = open(f->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	f->saved_stderr = dup(STDERR_FILENO);
	assert_true(f->saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 cmd[200], *text;

	/* show what was logged, cmocka's failure messages too */
	text = logged(f);
	(void)dup2(f->saved_stderr, STDERR_FILENO);
	close(f->saved_stderr);
	if (*text != '\0')
		(void)fprintf(stderr, "%s", text);
	watch_close(&f->w);
	queue_layout_free(&f->ql);
	close(f->qdirfd);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return (-1);
	free(f);
	return (0);
}

/* A ready queue file at rel, written elsewhere and renamed in as cleanup does. */
static void
put(struct fixture *f, const char *rel)
{
	int	 fd;

	fd = openat(f->qdirfd, "tmpfile", O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "C", 1), 1);
	assert_int_equal(fchmod(fd, 0700), 0);
	close(fd);
	assert_int_equal(renameat(f->qdirfd, "tmpfile", f->qdirfd, rel), 0);
}

static void
dir(struct fixture *f, const char *rel)
{
	assert_int_equal(mkdirat(f->qdirfd, rel, 0700), 0);
}

static void
start(struct fixture *f)
{
	assert_int_equal(watch_open(f->ql, f->qdirfd, &f->w), 0);
	watch_rescan(f->w);
}

/* The next candidate's path, or "" when there is none. */
static const char *
next(struct fixture *f)
{
	static struct watch_candidate c;

	if (!watch_next(f->w, &c))
		return ("");
	return (c.path);
}

/* All candidates' paths, sorted, space-separated. */
static const char *
drain(struct fixture *f)
{
	static char	 out[2048];
	char		 paths[16][QUEUE_PATH_SIZE];
	const char	*p;
	size_t		 n = 0, i, j;

	while (*(p = next(f)) != '\0' && n < 16)
		(void)snprintf(paths[n++], QUEUE_PATH_SIZE, "%s", p);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(paths[j - 1], paths[j]) > 0; j--) {
			char	 t[QUEUE_PATH_SIZE];

			memcpy(t, paths[j], sizeof(t));
			memcpy(paths[j], paths[j - 1], sizeof(t));
			memcpy(paths[j - 1], t, sizeof(t));
		}
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, paths[i]);
	}
	return (out);
}

static void
test_rescan_looks_into_every_one_character_directory(void **state)
{
	struct fixture	*f = *state;

	/* hold is flat, but files of earlier layouts sit one and two levels down */
	put(f, "hold/AAAA11");
	dir(f, "hold/B");
	put(f, "hold/B/BF92DA74351");
	dir(f, "hold/C");
	dir(f, "hold/C/0");
	put(f, "hold/C/0/C0BAFA742D3");
	start(f);
	assert_string_equal(drain(f), "hold/AAAA11 hold/B/BF92DA74351 "
	    "hold/C/0/C0BAFA742D3");
	/* Postfix's hash directories are never queue files */
	assert_null(strstr(logged(f), "left alone"));
	/* main.cf may say something else now */
	assert_true(watch_layout_hint(f->w));
	assert_false(watch_layout_hint(f->w));
}

static void
test_hash_directories_that_appear_are_watched(void **state)
{
	struct fixture	*f = *state;

	start(f);
	assert_string_equal(drain(f), "");
	/* hash_queue_names += hold, depth 2, postfix reload; cleanup makes these */
	dir(f, "hold/6");
	dir(f, "hold/6/0");
	put(f, "hold/6/0/60B2CA74115");
	watch_handle(f->w);
	assert_string_equal(drain(f), "hold/6/0/60B2CA74115");
	/* and files arriving later in them */
	put(f, "hold/6/0/60B2CA74116");
	watch_handle(f->w);
	assert_string_equal(drain(f), "hold/6/0/60B2CA74116");
	assert_null(strstr(logged(f), "left alone"));
	assert_true(watch_layout_hint(f->w));
}

static void
test_a_queued_file_that_moves_is_offered_from_its_new_place(void **state)
{
	struct fixture	*f = *state;

	dir(f, "hold/B");
	put(f, "hold/ABC123");
	put(f, "hold/BCD456");
	start(f);
	/* postsuper (postfix reload, hold now hashed) moves both */
	dir(f, "hold/A");
	assert_int_equal(renameat(f->qdirfd, "hold/ABC123", f->qdirfd,
	    "hold/A/ABC123"), 0);
	assert_int_equal(renameat(f->qdirfd, "hold/BCD456", f->qdirfd,
	    "hold/B/BCD456"), 0);
	watch_handle(f->w);
	/* still queued under the old paths: claiming finds them gone */
	assert_string_equal(drain(f), "hold/ABC123 hold/BCD456");
	watch_done(f->w, "ABC123");
	assert_string_equal(next(f), "hold/A/ABC123");
	watch_done(f->w, "BCD456");
	assert_string_equal(next(f), "hold/B/BCD456");
	assert_string_equal(next(f), "");
	/* once done, nothing is offered again */
	watch_done(f->w, "ABC123");
	watch_done(f->w, "BCD456");
	assert_string_equal(next(f), "");
}

static void
test_a_moved_file_set_aside_meanwhile_is_not_offered(void **state)
{
	struct fixture	*f = *state;
	struct stat	 st;

	put(f, "hold/GHI123");
	start(f);
	dir(f, "hold/G");
	assert_int_equal(renameat(f->qdirfd, "hold/GHI123", f->qdirfd,
	    "hold/G/GHI123"), 0);
	watch_handle(f->w);
	assert_string_equal(next(f), "hold/GHI123");
	/* the master is done with it and sets it aside, in that order */
	assert_int_equal(fstatat(f->qdirfd, "hold/G/GHI123", &st, 0), 0);
	watch_done(f->w, "GHI123");
	watch_ignore(f->w, "GHI123", st.st_ino);
	assert_string_equal(next(f), "");
	assert_int_equal(watch_pending(f->w), 0);
}

static void
test_a_locked_file_that_moves_is_retried_at_its_new_place(void **state)
{
	struct fixture	*f = *state;
	struct watch_candidate c;

	put(f, "hold/DEF789");
	start(f);
	assert_true(watch_next(f->w, &c));
	/* someone held its lock: look again later */
	watch_done(f->w, c.id);
	watch_defer(f->w, &c, 1000, 500);
	dir(f, "hold/D");
	assert_int_equal(renameat(f->qdirfd, "hold/DEF789", f->qdirfd,
	    "hold/D/DEF789"), 0);
	watch_handle(f->w);
	assert_string_equal(next(f), "");
	assert_int_equal(watch_tick(f->w, 1500), -1);
	assert_string_equal(next(f), "hold/D/DEF789");
}

static void
test_hint_for_files_where_the_layout_would_not_put_them(void **state)
{
	struct fixture	*f = *state;

	queue_layout_free(&f->ql);
	f->ql = queue_layout_new(f->dir, geteuid(), getegid(), false,
	    "deferred, defer, hold", 1);
	dir(f, "hold/Z");
	put(f, "hold/Z/ZZZ998");
	start(f);
	assert_string_equal(drain(f), "hold/Z/ZZZ998");
	assert_false(watch_layout_hint(f->w));
	/* hashing removed in main.cf: new files come flat */
	put(f, "hold/ZZZ999");
	watch_handle(f->w);
	assert_string_equal(drain(f), "hold/ZZZ999");
	assert_true(watch_layout_hint(f->w));
	/* a second level the layout does not have */
	dir(f, "hold/Z/Y");
	watch_handle(f->w);
	assert_true(watch_layout_hint(f->w));
}

static void
test_odd_directories_are_still_left_alone(void **state)
{
	struct fixture	*f = *state;
	char		 rel[128];
	int		 i;

	dir(f, "hold/ABCDEF");
	/* deeper than QUEUE_HASH_DEPTH_MAX one-character levels */
	(void)snprintf(rel, sizeof(rel), "hold");
	for (i = 0; i <= QUEUE_HASH_DEPTH_MAX; i++) {
		strcat(rel, "/a");
		dir(f, rel);
	}
	strcat(rel, "/DEEP1");
	put(f, rel);
	start(f);
	assert_string_equal(drain(f), "");
	assert_non_null(strstr(logged(f), "hold/ABCDEF: directory named like a "
	    "queue file; left alone"));
	assert_null(strstr(logged(f), "DEEP1"));
}

static void
test_removed_hash_directories_are_forgotten(void **state)
{
	struct fixture	*f = *state;

	dir(f, "hold/R");
	start(f);
	/* postsuper removes hash directories no longer wanted */
	assert_int_equal(unlinkat(f->qdirfd, "hold/R", AT_REMOVEDIR), 0);
	watch_handle(f->w);
	/* and cleanup makes them again */
	dir(f, "hold/R");
	put(f, "hold/R/R12345");
	watch_handle(f->w);
	assert_string_equal(drain(f), "hold/R/R12345");
	put(f, "hold/R/R12346");
	watch_handle(f->w);
	assert_string_equal(drain(f), "hold/R/R12346");
}

/* How often needle occurs in the log. */
static int
count_logged(struct fixture *f, const char *needle)
{
	const char	*p = logged(f);
	int		 n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return (n);
}

static void
test_a_file_is_offered_once_ready_and_once_only(void **state)
{
	struct fixture	*f = *state;
	struct watch_candidate c;
	int		 fd;

	start(f);
	/* cleanup(8) writes it at mode 0600 first: not offered, not a word. */
	fd = openat(f->qdirfd, "hold/ABC123", O_WRONLY | O_CREAT | O_EXCL,
	    0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "C", 1), 1);
	watch_handle(f->w);
	assert_int_equal(watch_pending(f->w), 0);
	/* Its owner-execute bit says it is complete (IN_ATTRIB). */
	assert_int_equal(fchmod(fd, 0700), 0);
	close(fd);
	watch_handle(f->w);
	assert_int_equal(watch_pending(f->w), 1);
	assert_true(watch_next(f->w, &c));
	assert_string_equal(c.id, "ABC123");
	assert_string_equal(c.path, "hold/ABC123");
	/* In flight: neither events nor a rescan offer it again... */
	assert_int_equal(utimensat(f->qdirfd, "hold/ABC123", NULL, 0), 0);
	watch_handle(f->w);
	watch_rescan(f->w);
	assert_string_equal(next(f), "");
	/* ... until the master is done with it (returned to hold). */
	watch_done(f->w, "ABC123");
	watch_rescan(f->w);
	assert_string_equal(next(f), "hold/ABC123");
	assert_string_equal(logged(f), "");
}

static void
test_odd_files_are_left_alone_and_said_once(void **state)
{
	struct fixture	*f = *state;

	put(f, "hold/ABC123");
	assert_int_equal(linkat(f->qdirfd, "hold/ABC123", f->qdirfd,
	    "hold/ABC124", 0), 0);
	assert_int_equal(symlinkat("ABC123", f->qdirfd, "hold/ABC125"), 0);
	assert_int_equal(mkfifoat(f->qdirfd, "hold/ABC126", 0700), 0);
	put(f, "hold/not-a-queue-id");
	put(f, "hold/ABC127");
	start(f);
	watch_rescan(f->w);
	/* Only the plain ready file of its own name, not its hard link. */
	assert_string_equal(drain(f), "hold/ABC127");
	assert_int_equal(count_logged(f, "warning: ABC123: "), 1);
	assert_int_equal(count_logged(f, "hold/ABC123: has more than one link; "
	    "left alone"), 1);
	assert_int_equal(count_logged(f, "hold/ABC124: has more than one link; "
	    "left alone"), 1);
	assert_int_equal(count_logged(f, "hold/ABC125: symbolic link; left "
	    "alone"), 1);
	assert_int_equal(count_logged(f, "hold/ABC126: not a regular file; "
	    "left alone"), 1);
	assert_int_equal(count_logged(f, "not-a-queue-id"), 0);
	/* Once the link is gone, the file is a candidate again. */
	assert_int_equal(unlinkat(f->qdirfd, "hold/ABC124", 0), 0);
	watch_rescan(f->w);
	assert_string_equal(drain(f), "hold/ABC123");
}

static void
test_a_rescan_offers_the_oldest_first(void **state)
{
	struct fixture	*f = *state;
	struct timespec	 t[2];
	const char	*ids[] = { "AAA111", "BBB222", "CCC333" };
	long		 age[] = { 100, 300, 200 };
	char		 rel[64];
	size_t		 i;

	for (i = 0; i < 3; i++) {
		(void)snprintf(rel, sizeof(rel), "hold/%s", ids[i]);
		put(f, rel);
		t[0].tv_sec = t[1].tv_sec = 1700000000 - age[i];
		t[0].tv_nsec = t[1].tv_nsec = 0;
		assert_int_equal(utimensat(f->qdirfd, rel, t, 0), 0);
	}
	start(f);
	assert_string_equal(next(f), "hold/BBB222");
	assert_string_equal(next(f), "hold/CCC333");
	assert_string_equal(next(f), "hold/AAA111");
	assert_string_equal(next(f), "");
}

static void
test_a_deferred_file_comes_back_when_due(void **state)
{
	struct fixture	*f = *state;
	struct watch_candidate c;

	put(f, "hold/ABC123");
	start(f);
	assert_true(watch_next(f->w, &c));
	/* Locked by someone: again in 1000 ms, not before. */
	watch_done(f->w, c.id);
	watch_defer(f->w, &c, 5000, 1000);
	watch_rescan(f->w);
	assert_string_equal(next(f), "");
	assert_int_equal(watch_tick(f->w, 5400), 600);
	assert_string_equal(next(f), "");
	assert_int_equal(watch_tick(f->w, 6000), -1);
	assert_string_equal(next(f), "hold/ABC123");
	/* Deferred, and gone meanwhile: nothing. */
	watch_done(f->w, c.id);
	watch_defer(f->w, &c, 7000, 1000);
	assert_int_equal(unlinkat(f->qdirfd, "hold/ABC123", 0), 0);
	assert_int_equal(watch_tick(f->w, 8000), -1);
	assert_string_equal(next(f), "");
}

static void
test_a_set_aside_file_is_ignored_while_it_is_the_same_file(void **state)
{
	struct fixture	*f = *state;
	struct stat	 st;

	put(f, "hold/ABC123");
	assert_int_equal(fstatat(f->qdirfd, "hold/ABC123", &st, 0), 0);
	assert_int_equal(watch_open(f->ql, f->qdirfd, &f->w), 0);
	watch_ignore(f->w, "ABC123", st.st_ino);
	watch_rescan(f->w);
	assert_string_equal(next(f), "");
	assert_true(watch_is_ignored(f->w, "ABC123", st.st_ino));
	/* Another file under that name (another inode): offered. */
	put(f, "hold/tmp");
	assert_int_equal(renameat(f->qdirfd, "hold/tmp", f->qdirfd,
	    "hold/ABC123"), 0);
	watch_handle(f->w);
	assert_string_equal(next(f), "hold/ABC123");
	/* The set-aside file again, unignored (scanned again): offered. */
	watch_done(f->w, "ABC123");
	assert_int_equal(unlinkat(f->qdirfd, "hold/ABC123", 0), 0);
	put(f, "hold/ABC124");
	assert_int_equal(fstatat(f->qdirfd, "hold/ABC124", &st, 0), 0);
	watch_ignore(f->w, "ABC124", st.st_ino);
	watch_handle(f->w);
	watch_rescan(f->w);
	assert_string_equal(next(f), "");
	watch_unignore(f->w, "ABC124");
	watch_rescan(f->w);
	assert_string_equal(next(f), "hold/ABC124");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_a_file_is_offered_once_ready_and_once_only, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_odd_files_are_left_alone_and_said_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_rescan_offers_the_oldest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_deferred_file_comes_back_when_due, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_set_aside_file_is_ignored_while_it_is_the_same_file,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_rescan_looks_into_every_one_character_directory,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_hash_directories_that_appear_are_watched,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_queued_file_that_moves_is_offered_from_its_new_place,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_moved_file_set_aside_meanwhile_is_not_offered,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_locked_file_that_moves_is_retried_at_its_new_place,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_hint_for_files_where_the_layout_would_not_put_them,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_odd_directories_are_still_left_alone,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_removed_hash_directories_are_forgotten,
		    setup, teardown),
	};

	log_open("test_watch", LOG_DEST_STDERR, 0, 0);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
