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
};

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_statedbXXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 cmd[128];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
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

static void
put(struct statedb *sdb, DB *db, const char *key, const char *val)
{
	DB_TXN	*txn;
	DBT	 k, v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key);
	v.data = (void *)val;
	v.size = (u_int32_t)strlen(val) + 1;
	assert_int_equal(sdb->env->txn_begin(sdb->env, NULL, &txn, 0), 0);
	assert_int_equal(db->put(db, txn, &k, &v, 0), 0);
	assert_int_equal(txn->commit(txn, 0), 0);
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

static void
test_second_opener_joins(void **state)
{
	struct fixture	*f = *state;
	struct statedb	*sdb = NULL;
	char		*error = NULL;
	DB		*db = NULL;
	pid_t		 pid;
	int		 status, n, sparse;

	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(statedb_open_db(sdb, "t.db", &db, &error), 0);
	put(sdb, db, "k", "parent");
	/* Another process joins the open environment and writes. */
	if ((pid = fork()) == 0) {
		struct statedb	*s2 = NULL;
		DB		*d2 = NULL;
		char		*e2 = NULL;

		if (statedb_open(f->dir, &s2, &e2) < 0 ||
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
crashed_opener(const char *dir)
{
	struct statedb	*sdb = NULL;
	char		*error = NULL;
	DB		*db = NULL;
	pid_t		 pid;
	int		 status;

	if ((pid = fork()) == 0) {
		if (statedb_open(dir, &sdb, &error) < 0 ||
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
		DB_TXN	*txn;
		DBT	 k, v;

		(void)snprintf(key, sizeof(key), "k%05d", i % 500);
		val[0] = (char)('a' + i % 26);
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		k.data = key;
		k.size = (u_int32_t)strlen(key);
		v.data = val;
		v.size = (u_int32_t)strlen(val) + 1;
		/* Not synced: the test is about the log files, not fsync. */
		assert_int_equal(sdb->env->txn_begin(sdb->env, NULL, &txn, 0),
		    0);
		assert_int_equal(db->put(db, txn, &k, &v, 0), 0);
		assert_int_equal(txn->commit(txn, DB_TXN_NOSYNC), 0);
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
	if (statedb_open(f->dir, &sdb, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(statedb_open_db(sdb, "t.db", &db, &error), 0);
	assert_value(db, "k00499", val);
	assert_int_equal(db->close(db, 0), 0);
	statedb_close(&sdb);
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
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
