/*
 * NAME
 *	test_claim - unit tests for claiming held queue files
 * DESCRIPTION
 *	A temporary queue directory (hold, holdscan/claimed) whose files
 *	belong to the user running the test. A ready, unlocked file is
 *	claimed: moved to claimed/ under its name, open and locked. A
 *	file someone has locked, a file that is gone, a file not ready
 *	(mode 0600, a hard link, a symbolic link) stay where they are. A
 *	name replaced or removed between the open and the rename is not
 *	taken, and the file now under that name is left alone. A claimed
 *	file goes back to hold where the layout puts it, and to corrupt/
 *	under its own name, never over an existing file.
 *
 *	claim.c is included so that its two halves (claim_open(),
 *	claim_move()) can be called with a change to hold in between.
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
#include <unistd.h>

#include <cmocka.h>

#include "../../src/commit/claim.c"

#define CLAIMED	"holdscan/claimed"

struct fixture {
	char		 dir[64];
	int		 qdirfd;
	struct queue_layout *ql;
};

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	assert_non_null(f);
	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_claimXXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->qdirfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(f->qdirfd >= 0);
	assert_int_equal(mkdirat(f->qdirfd, "hold", 0700), 0);
	assert_int_equal(mkdirat(f->qdirfd, "holdscan", 0700), 0);
	assert_int_equal(mkdirat(f->qdirfd, CLAIMED, 0700), 0);
	f->ql = queue_layout_new(f->dir, geteuid(), getegid(), false,
	    "deferred, defer", 1);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 cmd[128];

	(void)close(f->qdirfd);
	queue_layout_free(&f->ql);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return (-1);
	free(f);
	return (0);
}

/* A file rel holding text, with mode; returns its inode. */
static ino_t
put(struct fixture *f, const char *rel, const char *text, mode_t mode)
{
	struct stat	 st;
	int		 fd;

	fd = openat(f->qdirfd, rel, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(fstat(fd, &st), 0);
	(void)close(fd);
	return (st.st_ino);
}

/* The inode of rel, or 0 when there is none. */
static ino_t
inode(struct fixture *f, const char *rel)
{
	struct stat	 st;

	if (fstatat(f->qdirfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		assert_int_equal(errno, ENOENT);
		return (0);
	}
	return (st.st_ino);
}

/* What rel holds (the first bytes). */
static const char *
content(struct fixture *f, const char *rel)
{
	static char	 buf[64];
	ssize_t		 n;
	int		 fd;

	fd = openat(f->qdirfd, rel, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	(void)close(fd);
	return (buf);
}

/* Can someone else lock rel now? */
static bool
lockable(struct fixture *f, const char *rel)
{
	int	 fd, r;

	fd = openat(f->qdirfd, rel, O_RDONLY);
	assert_true(fd >= 0);
	r = flock(fd, LOCK_EX | LOCK_NB);
	(void)close(fd);
	return (r == 0);
}

static void
test_a_ready_file_is_moved_open_and_locked(void **state)
{
	struct fixture	*f = *state;
	struct stat	 st;
	char		 why[256] = "";
	ino_t		 ino;
	int		 fd;

	ino = put(f, "hold/ABCDEF", "message", 0700);
	assert_int_equal(claim_take(f->qdirfd, "hold/ABCDEF", CLAIMED, "ABCDEF",
	    &fd, &st, why, sizeof(why)), CLAIM_OK);
	assert_true(fd >= 0);
	assert_int_equal(st.st_ino, ino);
	assert_int_equal(inode(f, "hold/ABCDEF"), 0);
	assert_int_equal(inode(f, CLAIMED "/ABCDEF"), ino);
	/* Postfix's lock is ours until the descriptor closes. */
	assert_false(lockable(f, CLAIMED "/ABCDEF"));
	(void)close(fd);
	assert_true(lockable(f, CLAIMED "/ABCDEF"));
}

static void
test_a_locked_file_stays_in_hold(void **state)
{
	struct fixture	*f = *state;
	struct stat	 st;
	char		 why[256] = "";
	ino_t		 ino;
	int		 fd, lfd;

	ino = put(f, "hold/ABCDEF", "message", 0700);
	lfd = openat(f->qdirfd, "hold/ABCDEF", O_RDONLY);
	assert_int_equal(flock(lfd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(claim_take(f->qdirfd, "hold/ABCDEF", CLAIMED, "ABCDEF",
	    &fd, &st, why, sizeof(why)), CLAIM_LOCKED);
	assert_int_equal(fd, -1);
	assert_int_equal(inode(f, "hold/ABCDEF"), ino);
	assert_int_equal(inode(f, CLAIMED "/ABCDEF"), 0);
	/* Once its holder lets go, it is claimed. */
	(void)close(lfd);
	assert_int_equal(claim_take(f->qdirfd, "hold/ABCDEF", CLAIMED, "ABCDEF",
	    &fd, &st, why, sizeof(why)), CLAIM_OK);
	assert_int_equal(inode(f, CLAIMED "/ABCDEF"), ino);
	(void)close(fd);
}

static void
test_a_gone_file_is_gone(void **state)
{
	struct fixture	*f = *state;
	struct stat	 st;
	char		 why[256] = "";
	int		 fd;

	assert_int_equal(claim_take(f->qdirfd, "hold/ABCDEF", CLAIMED, "ABCDEF",
	    &fd, &st, why, sizeof(why)), CLAIM_GONE);
	assert_int_equal(fd, -1);
	assert_int_equal(inode(f, CLAIMED "/ABCDEF"), 0);
}

static void
test_files_not_ready_are_skipped_and_left_alone(void **state)
{
	struct fixture	*f = *state;
	struct stat	 st;
	char		 why[256] = "";
	ino_t		 ino;
	int		 fd;

	/* cleanup(8) is still writing it. */
	ino = put(f, "hold/ABCDE1", "half", 0600);
	assert_int_equal(claim_take(f->qdirfd, "hold/ABCDE1", CLAIMED, "ABCDE1",
	    &fd, &st, why, sizeof(why)), CLAIM_SKIP);
	assert_string_equal(why, "not a ready regular file");
	assert_int_equal(inode(f, "hold/ABCDE1"), ino);
	/* A hard link: two names, one file. */
	ino = put(f, "hold/ABCDE2", "linked", 0700);
	assert_int_equal(linkat(f->qdirfd, "hold/ABCDE2", f->qdirfd,
	    "hold/ABCDE3", 0), 0);
	assert_int_equal(claim_take(f->qdirfd, "hold/ABCDE2", CLAIMED, "ABCDE2",
	    &fd, &st, why, sizeof(why)), CLAIM_SKIP);
	assert_string_equal(why, "has 2 links or is not ready");
	assert_int_equal(inode(f, "hold/ABCDE2"), ino);
	/* A symbolic link is never followed. */
	assert_int_equal(symlinkat("ABCDE3", f->qdirfd, "hold/ABCDE4"), 0);
	assert_int_equal(claim_take(f->qdirfd, "hold/ABCDE4", CLAIMED, "ABCDE4",
	    &fd, &st, why, sizeof(why)), CLAIM_SKIP);
	assert_non_null(strstr(why, "open: "));
	assert_int_equal(fd, -1);
	assert_int_equal(inode(f, CLAIMED "/ABCDE1"), 0);
	assert_int_equal(inode(f, CLAIMED "/ABCDE2"), 0);
	assert_int_equal(inode(f, CLAIMED "/ABCDE4"), 0);
}

static void
test_a_name_replaced_after_the_open_is_not_taken(void **state)
{
	struct fixture	*f = *state;
	struct stat	 st;
	char		 why[256] = "";
	ino_t		 ino;
	int		 fd;

	(void)put(f, "hold/ABCDEF", "first", 0700);
	assert_int_equal(claim_open(f->qdirfd, "hold/ABCDEF", &fd, &st, why,
	    sizeof(why)), CLAIM_OK);
	/* postsuper (which takes no locks) puts another file there. */
	ino = put(f, "hold/other", "second", 0700);
	assert_int_equal(renameat(f->qdirfd, "hold/other", f->qdirfd,
	    "hold/ABCDEF"), 0);
	assert_int_equal(claim_move(f->qdirfd, "hold/ABCDEF",
	    CLAIMED "/ABCDEF", fd, &st, why, sizeof(why)), CLAIM_GONE);
	/* The new file is where it was, untouched, and not ours. */
	assert_int_equal(inode(f, "hold/ABCDEF"), ino);
	assert_string_equal(content(f, "hold/ABCDEF"), "second");
	assert_int_equal(inode(f, CLAIMED "/ABCDEF"), 0);
	assert_true(lockable(f, "hold/ABCDEF"));
	/* Removed between the open and the rename: gone too. */
	(void)put(f, "hold/ABCDE2", "third", 0700);
	assert_int_equal(claim_open(f->qdirfd, "hold/ABCDE2", &fd, &st, why,
	    sizeof(why)), CLAIM_OK);
	assert_int_equal(unlinkat(f->qdirfd, "hold/ABCDE2", 0), 0);
	assert_int_equal(claim_move(f->qdirfd, "hold/ABCDE2",
	    CLAIMED "/ABCDE2", fd, &st, why, sizeof(why)), CLAIM_GONE);
	assert_int_equal(inode(f, CLAIMED "/ABCDE2"), 0);
}

static void
test_a_claim_never_replaces_a_claimed_file(void **state)
{
	struct fixture	*f = *state;
	struct stat	 st;
	char		 why[256] = "";
	ino_t		 held, claimed;
	int		 fd;

	held = put(f, "hold/ABCDEF", "new", 0700);
	claimed = put(f, CLAIMED "/ABCDEF", "old", 0700);
	assert_int_equal(claim_take(f->qdirfd, "hold/ABCDEF", CLAIMED, "ABCDEF",
	    &fd, &st, why, sizeof(why)), CLAIM_ERROR);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(why, "rename to " CLAIMED "/ABCDEF: "));
	assert_int_equal(inode(f, "hold/ABCDEF"), held);
	assert_int_equal(inode(f, CLAIMED "/ABCDEF"), claimed);
	assert_true(lockable(f, "hold/ABCDEF"));
}

static void
test_return_goes_where_the_layout_puts_it(void **state)
{
	struct fixture	*f = *state;
	char		 path[QUEUE_PATH_SIZE];
	ino_t		 ino;

	ino = put(f, CLAIMED "/ABCDEF", "message", 0700);
	assert_int_equal(claim_return(f->ql, f->qdirfd, CLAIMED, "ABCDEF"), 0);
	assert_int_equal(inode(f, "hold/ABCDEF"), ino);
	assert_int_equal(inode(f, CLAIMED "/ABCDEF"), 0);
	/* hold hashed meanwhile: its hash directory is made as Postfix does. */
	queue_layout_free(&f->ql);
	f->ql = queue_layout_new(f->dir, geteuid(), getegid(), false,
	    "hold, deferred, defer", 1);
	ino = put(f, CLAIMED "/BCDEF1", "message", 0700);
	assert_int_equal(queue_path(f->ql, QUEUE_HOLD, "BCDEF1", path), 0);
	assert_string_not_equal(path, "hold/BCDEF1");
	assert_int_equal(claim_return(f->ql, f->qdirfd, CLAIMED, "BCDEF1"), 0);
	assert_int_equal(inode(f, path), ino);
	/* Never over a file of that name. */
	ino = put(f, CLAIMED "/BCDEF2", "claimed", 0700);
	assert_int_equal(queue_path(f->ql, QUEUE_HOLD, "BCDEF2", path), 0);
	(void)put(f, path, "held", 0700);
	errno = 0;
	assert_int_equal(claim_return(f->ql, f->qdirfd, CLAIMED, "BCDEF2"), -1);
	assert_int_equal(errno, EEXIST);
	assert_string_equal(content(f, path), "held");
	assert_int_equal(inode(f, CLAIMED "/BCDEF2"), ino);
}

static void
test_corrupt_takes_its_name_and_never_replaces(void **state)
{
	struct fixture	*f = *state;
	struct stat	 st;
	ino_t		 ino, there;

	ino = put(f, CLAIMED "/ABCDEF", "garbage", 0700);
	assert_int_equal(claim_to_corrupt(f->ql, f->qdirfd, CLAIMED, "ABCDEF"),
	    0);
	assert_int_equal(inode(f, "corrupt/ABCDEF"), ino);
	assert_int_equal(inode(f, CLAIMED "/ABCDEF"), 0);
	/* corrupt/ was made as Postfix makes queue directories. */
	assert_int_equal(fstatat(f->qdirfd, "corrupt", &st, 0), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_uid, geteuid());
	/* A file of that name there already: both stay as they are. */
	ino = put(f, CLAIMED "/ABCDE2", "garbage 2", 0700);
	there = put(f, "corrupt/ABCDE2", "earlier", 0700);
	errno = 0;
	assert_int_equal(claim_to_corrupt(f->ql, f->qdirfd, CLAIMED, "ABCDE2"),
	    -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(inode(f, "corrupt/ABCDE2"), there);
	assert_string_equal(content(f, "corrupt/ABCDE2"), "earlier");
	assert_int_equal(inode(f, CLAIMED "/ABCDE2"), ino);
	/* Nothing there to move. */
	errno = 0;
	assert_int_equal(claim_to_corrupt(f->ql, f->qdirfd, CLAIMED, "ABCDE3"),
	    -1);
	assert_int_equal(errno, ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_a_ready_file_is_moved_open_and_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_locked_file_stays_in_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_gone_file_is_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_files_not_ready_are_skipped_and_left_alone, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_name_replaced_after_the_open_is_not_taken, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_a_claim_never_replaces_a_claimed_file, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_return_goes_where_the_layout_puts_it, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_corrupt_takes_its_name_and_never_replaces, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
