/*
 * NAME
 *	test_statedb - unit tests for the Berkeley DB environment's regions
 * DESCRIPTION
 *	statedb maps Berkeley DB's region files itself, with every block
 *	allocated, so that a full file system is an error at open and never
 *	a SIGBUS later. In a temporary directory: the region files have all
 *	their blocks once open (Berkeley DB alone leaves them sparse), their
 *	mappings go with statedb_close(), a second opener joins what the
 *	first made, a crashed opener's environment is recovered and made
 *	again in full, our own pid left in Berkeley DB's registry (a
 *	recovery of ours that failed) does not lock us out, and
 *	statedb_retryable() tells passing failures from
 *	the administrator's, and while holdscand's state watch runs, its
 *	checkpoints let Berkeley DB remove the log files it no longer
 *	needs (without them the log grew for ever).
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/statedb.h"
#include "state/statewatch.h"

struct fixture {
	char	 dir[64];
	char	 rdir[64];	/* a state_region_directory */
};

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_statedbXXXXXX");
	assert_non_null(mkdtemp(f->dir));
	(void)snprintf(f->rdir, sizeof(f->rdir), "/tmp/test_statedb_rXXXXXX");
	assert_non_null(mkdtemp(f->rdir));
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 cmd[256];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", f->dir, f->rdir);
	if (system(cmd) != 0)
		return (-1);
	free(f);
	return (0);
}

/*
 * How many region files dir has, and how many of them have a block
 * missing (fewer bytes allocated than their size).
 */
static void
regions(const char *dir, int *n_r, int *sparse_r)
{
	DIR		*d;
	struct dirent	*e;
	struct stat	 st;
	char		 path[256];

	*n_r = *sparse_r = 0;
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "__db.0", 6) != 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(stat(path, &st), 0);
		(*n_r)++;
		assert_true(st.st_size >= 8192);
		if ((off_t)st.st_blocks * 512 < st.st_size)
			(*sparse_r)++;
	}
	(void)closedir(d);
}

/* Lines of /proc/self/maps that map a file of dir. */
static int
mapped(const char *dir)
{
	FILE	*fp;
	char	 line[512];
	int	 n = 0;

	assert_non_null(fp = fopen("/proc/self/maps", "r"));
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strstr(line, dir) != NULL)
			n++;
	(void)fclose(fp);
	return (n);
}

/*
 * key = val in db, in a transaction of its own committed with flags; a
 * failure names the key and Berkeley DB's error.
 */
static void
put_flags(struct statedb *sdb, DB *db, const char *key, const char *val,
    u_int32_t flags)
{
	DB_TXN	*txn;
	DBT	 k, v;
	int	 ret;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key);
	v.data = (void *)val;
	v.size = (u_int32_t)strlen(val) + 1;
	assert_int_equal(sdb->env->txn_begin(sdb->env, NULL, &txn, 0), 0);
	if ((ret = db->put(db, txn, &k, &v, 0)) != 0)
		fail_msg("put %s: %s", key, db_strerror(ret));
	if ((ret = txn->commit(txn, flags)) != 0)
		fail_msg("commit %s: %s", key, db_strerror(ret));
}

static void
put(struct statedb *sdb, DB *db, const char *key, const char *val)
{
	put_flags(sdb, db, key, val, 0);
}

/* put(), not synced: for tests about many transactions, not fsync. */
static void
put_nosync(struct statedb *sdb, DB *db, const char *key, const char *val)
{
	put_flags(sdb, db, key, val, DB_TXN_NOSYNC);
}

static void
assert_value(DB *db, const char *key, const char *want)
{
	DBT	 k, v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key);
	/* The environment is free-threaded (DB_THREAD): DB allocates. */
	v.flags = DB_DBT_MALLOC;
	assert_int_equal(db->get(db, NULL, &k, &v, 0), 0);
	assert_string_equal(v.data, want);
	free(v.data);
}

static void
test_regions_allocated_in_full(void **state)
{
	struct fixture	*f = *state;
	struct statedb	*sdb = NULL;
	char		*error = NULL;
	DB		*db = NULL;
	int		 n, sparse;

	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(statedb_open_db(sdb, "t.db", &db, &error), 0);
	regions(f->dir, &n, &sparse);
	assert_true(n >= 2);
	assert_int_equal(sparse, 0);
	assert_true(mapped(f->dir) >= n);
	put(sdb, db, "k", "v1");
	assert_int_equal(db->close(db, 0), 0);
	statedb_close(&sdb);
	assert_null(sdb);
	/* Every region is unmapped, and with its exact length. */
	assert_int_equal(mapped(f->dir), 0);
}

/* Another process joins dir's open environment and puts "c" = "child". */
static void
joiner(const char *dir, const char *rdir)
{
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == 0) {
		struct statedb	*s2 = NULL;
		DB		*d2 = NULL;
		char		*e2 = NULL;

		if (statedb_open_in(dir, rdir, &s2, &e2) < 0 ||
		    statedb_open_db(s2, "t.db", &d2, &e2) < 0)
			_exit(1);
		put(s2, d2, "c", "child");
		(void)d2->close(d2, 0);
		statedb_close(&s2);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
test_second_opener_joins(void **state)
{
	struct fixture	*f = *state;
	struct statedb	*sdb = NULL;
	char		*error = NULL;
	DB		*db = NULL;
	int		 n, sparse;

	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(statedb_open_db(sdb, "t.db", &db, &error), 0);
	put(sdb, db, "k", "parent");
	/* Another process joins the open environment and writes. */
	joiner(f->dir, NULL);
	assert_value(db, "c", "child");
	assert_value(db, "k", "parent");
	regions(f->dir, &n, &sparse);
	assert_int_equal(sparse, 0);
	assert_int_equal(db->close(db, 0), 0);
	statedb_close(&sdb);
}

/*
 * A process that commits "k" = "committed" to t.db in dir and exits with
 * the environment open (as a kill would leave it); its pid.
 */
static pid_t
crashed_opener_in(const char *dir, const char *rdir)
{
	struct statedb	*sdb = NULL;
	char		*error = NULL;
	DB		*db = NULL;
	pid_t		 pid;
	int		 status;

	if ((pid = fork()) == 0) {
		if (statedb_open_in(dir, rdir, &sdb, &error) < 0 ||
		    statedb_open_db(sdb, "t.db", &db, &error) < 0)
			_exit(1);
		put(sdb, db, "k", "committed");
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return (pid);
}

static pid_t
crashed_opener(const char *dir)
{
	return (crashed_opener_in(dir, NULL));
}

/*
 * dir's region names: how many are links to a region in rdir that
 * exists (with every block allocated), how many are files, and how
 * many regions rdir's directories hold in all.
 */
static void
anchors(const char *dir, const char *rdir, int *links_r, int *files_r,
    int *held_r)
{
	DIR		*d, *sd;
	struct dirent	*e, *se;
	struct stat	 st;
	char		 path[512], target[512];
	ssize_t		 len;

	*links_r = *files_r = *held_r = 0;
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "__db.0", 6) != 0)
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(lstat(path, &st), 0);
		if (S_ISREG(st.st_mode)) {
			(*files_r)++;
			continue;
		}
		assert_true(S_ISLNK(st.st_mode));
		assert_true((len = readlink(path, target,
		    sizeof(target) - 1)) > 0);
		target[len] = '\0';
		assert_int_equal(strncmp(target, rdir, strlen(rdir)), 0);
		assert_int_equal(stat(target, &st), 0);
		assert_true(st.st_size >= 8192);
		assert_true((off_t)st.st_blocks * 512 >= st.st_size);
		assert_int_equal(st.st_mode & 077, 0);
		(*links_r)++;
	}
	(void)closedir(d);
	assert_non_null(d = opendir(rdir));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", rdir, e->d_name);
		assert_non_null(sd = opendir(path));
		while ((se = readdir(sd)) != NULL)
			if (strncmp(se->d_name, "__db.", 5) == 0)
				(*held_r)++;
		(void)closedir(sd);
	}
	(void)closedir(d);
}

/* What a restart of the machine does to a memory file system. */
static void
wipe(const char *rdir)
{
	char	 cmd[256];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'/*", rdir);
	assert_int_equal(system(cmd), 0);
}

/*
 * Slots of dead processes left in dir's registry: after a recovery
 * there must be none, or every later open would recover again.
 */
static int
dead_slots(const char *dir)
{
	char	 path[256], slot[26];
	FILE	*fp;
	int	 n = 0;

	(void)snprintf(path, sizeof(path), "%s/__db.register", dir);
	if ((fp = fopen(path, "r")) == NULL)
		return (0);
	while (fread(slot, 1, 25, fp) == 25) {
		slot[25] = '\0';
		if (slot[0] != 'X' && strtoul(slot, NULL, 10) == 0)
			n++;
	}
	(void)fclose(fp);
	return (n);
}

/* Open dir with its regions in rdir (NULL: in dir), and see key has want. */
static void
open_and_check(const char *dir, const char *rdir, const char *key,
    const char *want)
{
	struct statedb	*sdb = NULL;
	char		*error = NULL;
	DB		*db = NULL;

	if (statedb_open_in(dir, rdir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(statedb_open_db(sdb, "t.db", &db, &error), 0);
	assert_value(db, key, want);
	assert_int_equal(db->close(db, 0), 0);
	statedb_close(&sdb);
}

/*
 * With a region directory, each region is made there and the state
 * directory holds a link to it; a second process joins through the
 * links; closing unmaps every region.
 */
static void
test_regions_in_region_directory(void **state)
{
	struct fixture	*f = *state;
	struct statedb	*sdb = NULL;
	char		*error = NULL;
	DB		*db = NULL;
	int		 links, files, held;

	if (statedb_open_in(f->dir, f->rdir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(statedb_open_db(sdb, "t.db", &db, &error), 0);
	anchors(f->dir, f->rdir, &links, &files, &held);
	assert_true(links >= 2);
	assert_int_equal(files, 0);
	assert_int_equal(held, links);
	assert_true(mapped(f->rdir) >= links);
	put(sdb, db, "k", "parent");
	joiner(f->dir, f->rdir);
	assert_value(db, "c", "child");
	anchors(f->dir, f->rdir, &links, &files, &held);
	assert_int_equal(held, links);
	assert_int_equal(db->close(db, 0), 0);
	statedb_close(&sdb);
	assert_int_equal(mapped(f->rdir), 0);
}

/*
 * A process committed and died; then the machine restarted (the region
 * directory is empty, the links point nowhere). The next open runs
 * recovery: what was committed is there, the regions are made anew,
 * and nothing is left of the old ones.
 */
static void
test_regions_lost_after_a_crash(void **state)
{
	struct fixture	*f = *state;
	int		 links, files, held;

	(void)crashed_opener_in(f->dir, f->rdir);
	wipe(f->rdir);
	open_and_check(f->dir, f->rdir, "k", "committed");
	assert_int_equal(dead_slots(f->dir), 0);
	anchors(f->dir, f->rdir, &links, &files, &held);
	assert_true(links >= 2);
	assert_int_equal(held, links);
	/* After a clean close, a restart of the machine: the same. */
	wipe(f->rdir);
	open_and_check(f->dir, f->rdir, "k", "committed");
	/* A crash alone: recovery; the old regions are collected. */
	(void)crashed_opener_in(f->dir, f->rdir);
	open_and_check(f->dir, f->rdir, "k", "committed");
	anchors(f->dir, f->rdir, &links, &files, &held);
	assert_int_equal(held, links);
}

/*
 * Regions that are files in the state directory (an environment made
 * without a region directory) move to the region directory at the
 * first open with none of them in use; while one is, they stay.
 */
static void
test_regions_move(void **state)
{
	struct fixture	*f = *state;
	struct statedb	*sdb = NULL;
	char		*error = NULL;
	DB		*db = NULL;
	int		 links, files, held;

	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(statedb_open_db(sdb, "t.db", &db, &error), 0);
	put(sdb, db, "k", "before");
	/* In use by us (another process as far as a child can tell). */
	(void)fflush(NULL);
	if (fork() == 0) {
		struct statedb	*s2 = NULL;
		char		*e2 = NULL;
		int		 l2, f2, h2;

		if (statedb_open_in(f->dir, f->rdir, &s2, &e2) < 0)
			_exit(1);
		anchors(f->dir, f->rdir, &l2, &f2, &h2);
		statedb_close(&s2);
		_exit(l2 == 0 && f2 >= 2 ? 0 : 2);
	} else {
		int	 status;

		assert_true(wait(&status) > 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(db->close(db, 0), 0);
	statedb_close(&sdb);
	open_and_check(f->dir, f->rdir, "k", "before");
	anchors(f->dir, f->rdir, &links, &files, &held);
	assert_true(links >= 2);
	assert_int_equal(files, 0);
	assert_int_equal(held, links);
}

/*
 * The region directory emptied while a process has the environment
 * open: an open refuses (EBUSY) and says why, rather than make a second
 * set of regions for the same databases; once that process is gone,
 * the open recovers.
 */
static void
test_regions_lost_while_open(void **state)
{
	struct fixture	*f = *state;
	struct statedb	*sdb = NULL;
	char		*error = NULL;
	int		 to_child[2], status;
	pid_t		 pid;
	char		 c;

	assert_int_equal(pipe(to_child), 0);
	if ((pid = fork()) == 0) {
		struct statedb	*s2 = NULL;
		DB		*d2 = NULL;
		char		*e2 = NULL;

		(void)close(to_child[1]);
		if (statedb_open_in(f->dir, f->rdir, &s2, &e2) < 0 ||
		    statedb_open_db(s2, "t.db", &d2, &e2) < 0)
			_exit(1);
		put(s2, d2, "k", "held");
		/* Holds it open until told. */
		(void)read(to_child[0], &c, 1);
		(void)d2->close(d2, 0);
		statedb_close(&s2);
		_exit(0);
	}
	assert_true(pid > 0);
	(void)close(to_child[0]);
	/* Until the child has it open (its "k" is there). */
	for (int i = 0; i < 100; i++) {
		int	 links, files, held;

		anchors(f->dir, f->rdir, &links, &files, &held);
		if (links >= 2)
			break;
		(void)usleep(50000);
	}
	(void)usleep(200000);
	wipe(f->rdir);
	assert_int_equal(statedb_open_in(f->dir, f->rdir, &sdb, &error), -1);
	assert_int_equal(errno, EBUSY);
	assert_non_null(strstr(error, "is gone"));
	assert_non_null(strstr(error, "has the environment open"));
	free(error);
	assert_int_equal(write(to_child[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	open_and_check(f->dir, f->rdir, "k", "held");
}

static void
test_recovery_after_a_crash(void **state)
{
	struct fixture	*f = *state;
	struct statedb	*sdb = NULL;
	char		*error = NULL;
	DB		*db = NULL;
	int		 n, sparse;

	(void)crashed_opener(f->dir);
	/* DB_REGISTER sees it died: recovery makes the regions anew. */
	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(statedb_open_db(sdb, "t.db", &db, &error), 0);
	assert_value(db, "k", "committed");
	assert_false(statedb_panicked(sdb));
	regions(f->dir, &n, &sparse);
	assert_true(n >= 2);
	assert_int_equal(sparse, 0);
	assert_int_equal(db->close(db, 0), 0);
	statedb_close(&sdb);
	assert_int_equal(mapped(f->dir), 0);
}

/*
 * Our own pid in the registry while we have no handle open: left by an
 * open of ours whose recovery failed (a full file system), or by an
 * earlier process with our pid. Berkeley DB alone refuses every open
 * then (EINVAL, "one open DB_ENV handle per environment"); statedb
 * marks the slot dead, and the open recovers what was committed.
 */
static void
test_own_pid_left_in_registry(void **state)
{
	struct fixture	*f = *state;
	struct statedb	*sdb = NULL;
	char		*error = NULL, path[128], child[32], mine[32], buf[4096];
	DB		*db = NULL;
	FILE		*fp;
	size_t		 n, off;
	pid_t		 pid;
	int		 found = 0;

	pid = crashed_opener(f->dir);
	/* The dead child's slot now says it is us. */
	(void)snprintf(path, sizeof(path), "%s/__db.register", f->dir);
	(void)snprintf(child, sizeof(child), "%24lu\n", (unsigned long)pid);
	(void)snprintf(mine, sizeof(mine), "%24lu\n",
	    (unsigned long)getpid());
	assert_non_null(fp = fopen(path, "r+"));
	n = fread(buf, 1, sizeof(buf), fp);
	for (off = 0; off + 25 <= n; off += 25) {
		if (memcmp(buf + off, child, 25) != 0)
			continue;
		assert_int_equal(fseek(fp, (long)off, SEEK_SET), 0);
		assert_int_equal(fwrite(mine, 1, 25, fp), 25);
		found = 1;
	}
	assert_int_equal(fclose(fp), 0);
	assert_true(found);
	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(statedb_open_db(sdb, "t.db", &db, &error), 0);
	assert_value(db, "k", "committed");
	assert_int_equal(db->close(db, 0), 0);
	statedb_close(&sdb);
	/* Closed again: a second open in this process works too. */
	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	statedb_close(&sdb);
}

/* The names of dir's log files, counted; the lowest number in *first_r. */
static int
log_files(const char *dir, long *first_r)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;
	long		 no;

	*first_r = -1;
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "log.", 4) != 0)
			continue;
		n++;
		no = strtol(e->d_name + 4, NULL, 10);
		if (*first_r < 0 || no < *first_r)
			*first_r = no;
	}
	(void)closedir(d);
	return (n);
}

/*
 * About 48 MB of log (twelve log files of 4 MB) written while the state
 * watch runs, as holdscand's batches write it: within a few seconds the
 * log files older than its checkpoints are gone and what was written is
 * all there. Nothing else in holdscand checkpointed: the log files (and
 * a recovery's work after a crash) grew for ever.
 */
static void
test_checkpoints_remove_logs(void **state)
{
	struct fixture	*f = *state;
	struct statedb	*sdb = NULL;
	struct statewatch *w = NULL;
	char		*error = NULL, key[32], val[4000];
	DB		*db = NULL;
	long		 first;
	int		 i, n, tries;

	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(statedb_open_db(sdb, "t.db", &db, &error), 0);
	if (statewatch_start(sdb, &w, &error) < 0)
		fail_msg("%s", error);
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	/* 48 MB of log: three checkpoints' worth (one after each 16 MB). */
	for (i = 0; i < 12000; i++) {
		(void)snprintf(key, sizeof(key), "k%05d", i % 500);
		val[0] = (char)('a' + i % 26);
		/* Not synced: the test is about the log files, not fsync. */
		put_nosync(sdb, db, key, val);
	}
	/* A checkpoint a second at most: the last may come after the puts. */
	n = log_files(f->dir, &first);
	for (tries = 0; (first == 1 || n > 7) && tries < 100; tries++) {
		(void)usleep(100 * 1000);
		n = log_files(f->dir, &first);
	}
	assert_true(first > 1);
	assert_true(n <= 7);	/* 16 MB since the last one, 4 MB files */
	statewatch_stop(&w);
	/* The last value of each key is there. */
	val[0] = (char)('a' + 11999 % 26);
	assert_value(db, "k00499", val);
	assert_int_equal(db->close(db, 0), 0);
	statedb_close(&sdb);
	/* And after a crash-free reopen, too. */
	open_and_check(f->dir, NULL, "k00499", val);
}

static void
test_open_errors(void **state)
{
	struct fixture	*f = *state;
	struct statedb	*sdb = NULL;
	char		*error = NULL, path[128];

	(void)snprintf(path, sizeof(path), "%s/missing", f->dir);
	errno = 0;
	assert_int_equal(statedb_open(path, &sdb, &error), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(error, "missing"));
	free(error);
	assert_null(sdb);
	/* What may pass by itself, and what needs the administrator. */
	assert_true(statedb_retryable(f->dir, ENOSPC));
	assert_true(statedb_retryable(f->dir, EDQUOT));
	assert_true(statedb_retryable(f->dir, EIO));
	assert_false(statedb_retryable(f->dir, EACCES));
	assert_false(statedb_retryable(f->dir, EINVAL));
	assert_false(statedb_retryable(f->dir, ENOENT));
}

/*
 * The message log's databases are DB_MULTIVERSION: every committed
 * writer whose page versions are still in the cache keeps its
 * transaction's detail and a mutex. With a snapshot reader open, 6,000
 * writers each leaving a version behind must not exhaust the
 * environment (make bench, 2026-12-04: the mutex region ran out after
 * some 35,000 messages and each batch got ENOMEM from the message log).
 */
static void
test_mvcc_versions_do_not_exhaust_the_environment(void **state)
{
	struct fixture	*f = *state;
	struct statedb	*sdb = NULL;
	char		*error = NULL, key[32], val[3000];
	DB		*db = NULL;
	DB_TXN		*snap;
	DBT		 k, v;
	int		 i;

	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	if (statedb_open_db_flags(sdb, "m.db", 0, DB_MULTIVERSION, &db,
	    &error) < 0)
		fail_msg("%s", error);
	put(sdb, db, "k00000", "first");
	assert_int_equal(sdb->env->txn_begin(sdb->env, NULL, &snap,
	    DB_TXN_SNAPSHOT), 0);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = "k00000";
	k.size = 6;
	v.flags = DB_DBT_MALLOC;
	assert_int_equal(db->get(db, snap, &k, &v, 0), 0);
	free(v.data);
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	for (i = 1; i < 6000; i++) {
		(void)snprintf(key, sizeof(key), "k%05d", i);
		put_nosync(sdb, db, key, val);
	}
	assert_int_equal(snap->commit(snap, 0), 0);
	assert_value(db, "k05999", val);
	assert_int_equal(db->close(db, 0), 0);
	statedb_close(&sdb);
}

/*
 * An environment as a holdscan before STATEDB_MUTEXES made it (Berkeley
 * DB's own mutex room for this cache), with "k" = "old" in t.db, opened
 * in a child that, when hold is not NULL, writes a byte to hold[1] and
 * waits for one on hold[0] before it closes the environment and exits.
 * Returns the child's pid.
 */
/* statedb.c's STATEDB_MUTEXES: the room this build gives. */
#define MUTEXES_NOW	32768

static pid_t
old_opener(const char *dir, const int *hold)
{
	pid_t	 pid;

	(void)fflush(NULL);
	if ((pid = fork()) == 0) {
		DB_ENV		*env;
		DB		*db;
		DB_TXN		*txn;
		DBT		 k, v;
		u_int32_t	 room = 0;
		char		 c;

		if (db_env_create(&env, 0) != 0 ||
		    env->set_cachesize(env, 0, 8 * 1024 * 1024, 1) != 0 ||
		    env->set_thread_count(env, 256) != 0 ||
		    env->open(env, dir, DB_CREATE | DB_INIT_LOCK |
		    DB_INIT_LOG | DB_INIT_MPOOL | DB_INIT_TXN | DB_RECOVER |
		    DB_REGISTER | DB_THREAD, 0600) != 0 ||
		    env->mutex_get_max(env, &room) != 0 || room >= MUTEXES_NOW)
			_exit(2);
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = "k";
		k.size = 1;
		v.data = "old";
		v.size = 4;
		if (db_create(&db, env, 0) != 0 ||
		    env->txn_begin(env, NULL, &txn, 0) != 0 ||
		    db->open(db, txn, "t.db", NULL, DB_BTREE, DB_CREATE |
		    DB_THREAD, 0600) != 0 ||
		    db->put(db, txn, &k, &v, 0) != 0 ||
		    txn->commit(txn, 0) != 0 || db->close(db, 0) != 0)
			_exit(3);
		if (hold != NULL && (write(hold[1], "r", 1) != 1 ||
		    read(hold[0], &c, 1) != 1))
			_exit(4);
		_exit(env->close(env, 0) == 0 ? 0 : 5);
	}
	assert_true(pid > 0);
	return (pid);
}

static unsigned
room_of(struct statedb *sdb)
{
	u_int32_t	 n = 0;

	assert_int_equal(sdb->env->mutex_get_max(sdb->env, &n), 0);
	return ((unsigned)n);
}

/*
 * An environment made by an earlier holdscan (with the mutex room that
 * ran out in make bench) is made anew when holdscand starts after an
 * upgrade, not only after a restart of the machine; its data stay. While
 * another process has it open it stays as it is (the open works and
 * warns), and the next open with nobody else makes it anew.
 */
static void
test_environment_of_an_earlier_build_made_anew(void **state)
{
	struct fixture	*f = *state;
	struct statedb	*sdb = NULL;
	char		*error = NULL;
	DB		*db = NULL;
	int		 status, to_child[2], from_child[2], hold[2];
	pid_t		 pid;
	char		 c;

	pid = old_opener(f->dir, NULL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_true(room_of(sdb) >= MUTEXES_NOW);
	assert_int_equal(statedb_open_db(sdb, "t.db", &db, &error), 0);
	assert_value(db, "k", "old");
	assert_int_equal(db->close(db, 0), 0);
	statedb_close(&sdb);

	/* Small again, and held open by another process. */
	wipe(f->dir);
	assert_int_equal(pipe(to_child), 0);
	assert_int_equal(pipe(from_child), 0);
	hold[0] = to_child[0];
	hold[1] = from_child[1];
	pid = old_opener(f->dir, hold);
	(void)close(to_child[0]);
	(void)close(from_child[1]);
	assert_int_equal(read(from_child[0], &c, 1), 1);
	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_true(room_of(sdb) < MUTEXES_NOW);
	assert_int_equal(statedb_open_db(sdb, "t.db", &db, &error), 0);
	assert_value(db, "k", "old");
	assert_int_equal(db->close(db, 0), 0);
	statedb_close(&sdb);
	assert_int_equal(write(to_child[1], "x", 1), 1);
	(void)close(to_child[1]);
	(void)close(from_child[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_true(room_of(sdb) >= MUTEXES_NOW);
	statedb_close(&sdb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_regions_allocated_in_full,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_opener_joins,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_after_a_crash,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_pid_left_in_registry,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoints_remove_logs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_regions_in_region_directory,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_regions_lost_after_a_crash,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_regions_move, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_regions_lost_while_open,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_mvcc_versions_do_not_exhaust_the_environment, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_environment_of_an_earlier_build_made_anew, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
