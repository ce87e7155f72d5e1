/*
 * NAME
 *	test_commit - unit tests for the batch commit protocol and recovery
 * DESCRIPTION
 *	A temporary queue directory (hold, incoming, holdscan/claimed,
 *	holdscan/staging), a real Berkeley DB environment and a real held
 *	queue file (tests/data/held-plain.qf). Each test sets up the state a
 *	batch or a crash would leave and checks the files and the journal.
 */
#include <dirent.h>
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

#include "state/aside.h"
#include "commit/commit.h"
#include "commit/msg.h"
#include "common/buf.h"
#include "common/config.h"
#include "state/journal.h"
#include "common/log.h"
#include "common/qfile.h"
#include "common/queue.h"
#include "state/statedb.h"

struct fixture {
	char		 dir[64];
	char		 qdir[128];
	char		 sdir[128];
	int		 qdirfd;
	struct queue_layout *ql;
	struct hs_config *conf;
	struct statedb	*sdb;
	struct journal	*journal;
	struct aside	*aside;
	struct commit_ctx c;
	char		*image;
	size_t		 imagelen;
};

static void
slurp(const char *path, char **data_r, size_t *len_r)
{
	FILE	*fp = fopen(path, "rb");
	long	 n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	*data_r = malloc((size_t)n);
	assert_int_equal(fread(*data_r, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len_r = (size_t)n;
}

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));
	char		*error = NULL, path[256];
	const char	*sub[] = { "hold", "incoming", NULL };
	size_t		 i;

	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_commitXXXXXX");
	assert_non_null(mkdtemp(f->dir));
	(void)snprintf(f->qdir, sizeof(f->qdir), "%s/queue", f->dir);
	(void)snprintf(f->sdir, sizeof(f->sdir), "%s/state", f->dir);
	assert_int_equal(mkdir(f->qdir, 0755), 0);
	assert_int_equal(mkdir(f->sdir, 0700), 0);
	for (i = 0; sub[i]; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", f->qdir, sub[i]);
		assert_int_equal(mkdir(path, 0700), 0);
	}
	f->ql = queue_layout_new(f->qdir, geteuid(), getegid(), false,
	    "deferred, defer", 1);
	assert_int_equal(config_load_string("", "t.conf", NULL, NULL, &f->conf,
	    &error), 0);
	f->qdirfd = open(f->qdir, O_RDONLY | O_DIRECTORY);
	assert_true(f->qdirfd >= 0);
	if (statedb_open(f->sdir, &f->sdb, &error) < 0 ||
	    journal_open(f->sdb, &f->journal, &error) < 0 ||
	    aside_open(f->sdb, &f->aside, &error) < 0 ||
	    commit_init(&f->c, f->ql, f->conf, f->qdirfd, f->journal, f->aside,
	    &error) < 0)
		fail_msg("%s", error);
	slurp(HS_SRCDIR "/tests/data/held-plain.qf", &f->image, &f->imagelen);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 cmd[200];

	commit_clear(&f->c);
	aside_close(&f->aside);
	journal_close(&f->journal);
	statedb_close(&f->sdb);
	close(f->qdirfd);
	queue_layout_free(&f->ql);
	config_free(&f->conf);
	free(f->image);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return (-1);
	free(f);
	return (0);
}

/* Put the sample into dir/name as a ready file; returns its inode. */
static ino_t
place(struct fixture *f, const char *rel)
{
	char		 path[512];
	struct stat	 st;
	int		 fd;

	(void)snprintf(path, sizeof(path), "%s/%s", f->qdir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0700);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, f->image, f->imagelen), (ssize_t)f->imagelen);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	return (st.st_ino);
}

static bool
exists(struct fixture *f, const char *rel)
{
	char		 path[512];
	struct stat	 st;

	(void)snprintf(path, sizeof(path), "%s/%s", f->qdir, rel);
	return (lstat(path, &st) == 0);
}

/* The one file in a directory (or "" when empty; fails when more). */
static void
only_file(struct fixture *f, const char *rel, char *name, size_t size)
{
	char		 path[512];
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	(void)snprintf(path, sizeof(path), "%s/%s", f->qdir, rel);
	assert_non_null(d = opendir(path));
	name[0] = '\0';
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(name, size, "%s", de->d_name);
		n++;
	}
	closedir(d);
	assert_true(n <= 1);
}

static size_t
journal_size(struct fixture *f)
{
	struct journal_entry *v = NULL;
	char		*error = NULL;
	size_t		 n = 0;

	assert_int_equal(journal_list(f->journal, &v, &n, &error), 0);
	free(v);
	return (n);
}

/* Claim the sample as id: it sits in claimed/, open and parsed. */
static struct msg *
claimed_msg(struct fixture *f, const char *id)
{
	char		 rel[256];
	struct qfile_error err;
	struct stat	 st;
	struct msg	*m;
	int		 fd;

	(void)snprintf(rel, sizeof(rel), "holdscan/claimed/%s", id);
	(void)place(f, rel);
	fd = openat(f->qdirfd, rel, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	m = msg_new(id, "hold/x", fd, &st, 0);
	assert_int_equal(qfile_read_fd(fd, 1 << 20, &m->qf, &err), 0);
	m->verdict = VERDICT_CLEAN;
	return (m);
}

static void
test_deliver_puts_an_identical_ready_file_in_incoming(void **state)
{
	struct fixture	*f = *state;
	struct msg	*m;
	struct stat	 st;
	char		 name[256], rel[300], *error = NULL, *copy;
	size_t		 len;
	ino_t		 ino;

	m = claimed_msg(f, "AAAAA1");
	m->action = ACTION_DELIVER;
	assert_int_equal(commit_batch(&f->c, &m, 1, &error), 1);
	assert_int_equal(m->outcome, COMMIT_DONE);
	/* The lock is released: commit closed the descriptor. */
	assert_int_equal(m->fd, -1);
	only_file(f, "incoming", name, sizeof(name));
	assert_string_equal(name, m->new_id);
	(void)snprintf(rel, sizeof(rel), "%s/incoming/%s", f->qdir, name);
	assert_int_equal(stat(rel, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Named after its inode, as Postfix names queue files. */
	assert_int_equal(queue_id_inode(name, &ino), 0);
	assert_int_equal(ino, st.st_ino);
	slurp(rel, &copy, &len);
	assert_int_equal(len, f->imagelen);
	assert_memory_equal(copy, f->image, len);
	free(copy);
	assert_false(exists(f, "holdscan/claimed/AAAAA1"));
	only_file(f, "holdscan/staging", name, sizeof(name));
	assert_string_equal(name, "");
	assert_int_equal(journal_size(f), 0);
	msg_free(&m);
}

static void
test_drop_removes_the_original_only(void **state)
{
	struct fixture	*f = *state;
	struct msg	*m;
	char		 name[256], *error = NULL;

	m = claimed_msg(f, "AAAAA2");
	m->action = ACTION_DROP;
	assert_int_equal(commit_batch(&f->c, &m, 1, &error), 0);
	assert_int_equal(m->outcome, COMMIT_DONE);
	assert_false(exists(f, "holdscan/claimed/AAAAA2"));
	only_file(f, "incoming", name, sizeof(name));
	assert_string_equal(name, "");
	assert_int_equal(journal_size(f), 0);
	msg_free(&m);
}

static void
test_hold_returns_to_hold_and_remembers(void **state)
{
	struct fixture	*f = *state;
	struct aside_entry *v = NULL;
	struct msg	*m;
	char		*error = NULL;
	size_t		 n = 0;

	m = claimed_msg(f, "AAAAA3");
	m->action = ACTION_HOLD;
	m->verdict = VERDICT_FAILED;
	(void)snprintf(m->reason, sizeof(m->reason), "worker crashed");
	assert_int_equal(commit_batch(&f->c, &m, 1, &error), 0);
	assert_int_equal(m->outcome, COMMIT_DONE);
	assert_true(exists(f, "hold/AAAAA3"));
	assert_false(exists(f, "holdscan/claimed/AAAAA3"));
	assert_int_equal(aside_list(f->aside, &v, &n, &error), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, "AAAAA3");
	assert_int_equal(v[0].ino, (uint64_t)m->st.st_ino);
	assert_string_equal(v[0].reason, "scan-failed: worker crashed");
	free(v);
	msg_free(&m);
}

/* Commit m alone and read back the one file it put in incoming. */
static struct qfile *
commit_and_read(struct fixture *f, struct msg *m)
{
	struct qfile	*out = NULL;
	struct qfile_error err;
	char		 name[256], rel[300], *error = NULL;
	int		 fd;

	assert_int_equal(commit_batch(&f->c, &m, 1, &error), 1);
	only_file(f, "incoming", name, sizeof(name));
	(void)snprintf(rel, sizeof(rel), "incoming/%s", name);
	fd = openat(f->qdirfd, rel, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(qfile_read_fd(fd, 1 << 20, &out, &err), 0);
	(void)close(fd);
	return (out);
}

static void
test_new_content_replaces_the_old(void **state)
{
	struct fixture	*f = *state;
	struct qfile	*out = NULL;
	struct qfile_rec rec = { QREC_NORM, 5, "hello" };
	struct buf	 recs = BUF_INIT;
	struct msg	*m;
	char		 why[256];

	m = claimed_msg(f, "AAAAA4");
	m->action = ACTION_DELIVER;
	qfile_records_encode(&rec, 1, &recs);
	assert_int_equal(msg_set_built(m, &recs, why, sizeof(why)), 0);
	buf_free(&recs);
	out = commit_and_read(f, m);
	assert_int_equal(out->ncontent, 1);
	assert_memory_equal(out->content[0].data, "hello", 5);
	/* The envelope is the master's own, unchanged. */
	assert_string_equal(out->sender, m->qf->sender);
	assert_int_equal(out->nrcpts, m->qf->nrcpts);
	assert_string_equal(out->rcpts[0].address, m->qf->rcpts[0].address);
	qfile_free(&out);
	msg_free(&m);
}

/* A worker's header lines, inserted by the master into its own copy. */
static void
test_header_lines_go_into_the_original(void **state)
{
	struct fixture	*f = *state;
	struct qfile	*out = NULL;
	struct msg	*m;
	char		 why[256], unterminated[8];
	size_t		 i, end;
	static const char *const refused[] = {
		"",				/* nothing to add */
		"X-A: 1\n\nbody\n",		/* a line that ends the headers */
		"X-A: 1\r\n.\r\nMAIL FROM:<a@b>\n",	/* CR */
		"not a header\n",
	};

	m = claimed_msg(f, "AAAAA6");
	m->action = ACTION_DELIVER;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		why[0] = '\0';
		assert_int_equal(msg_set_headers(m, refused[i],
		    strlen(refused[i]) + 1, 998, why, sizeof(why)), -1);
		assert_true(why[0] != '\0');
		assert_null(m->content);
	}
	memset(unterminated, 'X', sizeof(unterminated));
	assert_int_equal(msg_set_headers(m, unterminated,
	    sizeof(unterminated), 998, why, sizeof(why)), -1);
	assert_string_equal(why, "header lines not terminated");

	assert_int_equal(msg_set_headers(m, "X-Holdscan: clean\nX-Two: 2\n",
	    64, 998, why, sizeof(why)), 0);
	out = commit_and_read(f, m);
	/* The original's records with the two lines where its headers end. */
	end = qfile_header_end(m->qf->content, m->qf->ncontent);
	assert_int_equal(out->ncontent, m->qf->ncontent + 2);
	for (i = 0; i < out->ncontent; i++) {
		const struct qfile_rec *want = i < end ? &m->qf->content[i] :
		    i >= end + 2 ? &m->qf->content[i - 2] : NULL;

		if (want == NULL)
			continue;
		assert_int_equal(out->content[i].len, want->len);
		assert_memory_equal(out->content[i].data, want->data,
		    want->len);
	}
	assert_int_equal(out->content[end].len, 17);
	assert_memory_equal(out->content[end].data, "X-Holdscan: clean", 17);
	assert_memory_equal(out->content[end + 1].data, "X-Two: 2", 8);
	qfile_free(&out);
	msg_free(&m);
}

/*
 * Header lines longer than the line limit: the records msg_set_headers()
 * puts among the original's are those qfile_insert_headers() encodes.
 */
static void
test_header_lines_as_insert_headers_encodes(void **state)
{
	struct fixture	*f = *state;
	struct qfile_rec *want = NULL;
	struct qfile_error err;
	struct buf	 enc = BUF_INIT;
	struct msg	*m;
	const char	*add = "X-Long: abcdefghijklmnopqrstuvwxyz\n"
	    "\tcontinued line that is long too\nX-Short: 1\n";
	char		 why[256];
	size_t		 nwant, i;

	m = claimed_msg(f, "AAAAA7");
	assert_int_equal(msg_set_headers(m, add, strlen(add) + 1, 12, why,
	    sizeof(why)), 0);
	qfile_insert_headers(m->qf->content, m->qf->ncontent,
	    qfile_header_end(m->qf->content, m->qf->ncontent), add, 12, &enc);
	assert_int_equal(qfile_records_decode(enc.data, enc.len, "NL", &want,
	    &nwant, &err), 0);
	assert_int_equal(m->ncontent, nwant);
	for (i = 0; i < nwant; i++) {
		assert_int_equal(m->content[i].type, want[i].type);
		assert_int_equal(m->content[i].len, want[i].len);
		assert_memory_equal(m->content[i].data, want[i].data,
		    want[i].len);
	}
	free(want);
	buf_free(&enc);
	msg_free(&m);
}

static void
add_entry(struct fixture *f, int kind, const char *id, ino_t orig_ino,
    const char *staging, ino_t staging_ino)
{
	struct journal_entry e;
	char		*error = NULL;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	(void)snprintf(e.orig, sizeof(e.orig), "holdscan/claimed/%s", id);
	e.orig_ino = orig_ino;
	if (staging) {
		(void)snprintf(e.staging, sizeof(e.staging), "holdscan/staging/%s",
		    staging);
		e.staging_ino = staging_ino;
	}
	assert_int_equal(journal_put(f->journal, &e, 1, &error), 0);
}

static void
test_recovery_undoes_a_batch_that_did_not_rename(void **state)
{
	struct fixture	*f = *state;
	char		*error = NULL;
	ino_t		 o, s;

	o = place(f, "holdscan/claimed/BBBBB1");
	s = place(f, "holdscan/staging/BBBBB1");
	add_entry(f, JOURNAL_DELIVER, "BBBBB1", o, "BBBBB1", s);
	assert_int_equal(commit_recover(&f->c, false, &error), 0);
	assert_false(exists(f, "holdscan/staging/BBBBB1"));
	assert_true(exists(f, "hold/BBBBB1"));
	assert_false(exists(f, "holdscan/claimed/BBBBB1"));
	assert_int_equal(journal_size(f), 0);
}

static void
test_recovery_finishes_a_batch_that_renamed(void **state)
{
	struct fixture	*f = *state;
	char		*error = NULL;
	ino_t		 o;

	/* The staging file was renamed into incoming (it is gone from staging). */
	o = place(f, "holdscan/claimed/BBBBB2");
	(void)place(f, "incoming/CCCCC2");
	add_entry(f, JOURNAL_DELIVER, "BBBBB2", o, "BBBBB2", 12345);
	assert_int_equal(commit_recover(&f->c, false, &error), 0);
	assert_false(exists(f, "holdscan/claimed/BBBBB2"));
	assert_false(exists(f, "hold/BBBBB2"));
	assert_true(exists(f, "incoming/CCCCC2"));
	assert_int_equal(journal_size(f), 0);
}

static void
test_recovery_finishes_a_drop(void **state)
{
	struct fixture	*f = *state;
	char		*error = NULL;
	ino_t		 o;

	o = place(f, "holdscan/claimed/BBBBB3");
	add_entry(f, JOURNAL_DROP, "BBBBB3", o, NULL, 0);
	assert_int_equal(commit_recover(&f->c, false, &error), 0);
	assert_false(exists(f, "holdscan/claimed/BBBBB3"));
	assert_false(exists(f, "hold/BBBBB3"));
	assert_int_equal(journal_size(f), 0);
}

static void
test_recovery_keeps_a_different_file_of_the_same_name(void **state)
{
	struct fixture	*f = *state;
	char		*error = NULL;

	/* The entry names another inode: this claimed file is not its original. */
	(void)place(f, "holdscan/claimed/BBBBB4");
	add_entry(f, JOURNAL_DROP, "BBBBB4", 1, NULL, 0);
	assert_int_equal(commit_recover(&f->c, false, &error), 0);
	assert_true(exists(f, "holdscan/claimed/BBBBB4"));
	/* At start, strays go back to hold. */
	assert_int_equal(commit_recover(&f->c, true, &error), 0);
	assert_true(exists(f, "hold/BBBBB4"));
}

static void
test_recovery_at_start_clears_strays(void **state)
{
	struct fixture	*f = *state;
	char		 name[256], *error = NULL;

	(void)place(f, "holdscan/claimed/BBBBB5");
	(void)place(f, "holdscan/staging/leftover");
	assert_int_equal(commit_recover(&f->c, true, &error), 0);
	assert_true(exists(f, "hold/BBBBB5"));
	only_file(f, "holdscan/staging", name, sizeof(name));
	assert_string_equal(name, "");
	only_file(f, "holdscan/claimed", name, sizeof(name));
	assert_string_equal(name, "");
}

/* An intent record in holdscan/intent naming one DELIVER entry. */
static void
write_intent(struct fixture *f, const char *id, ino_t orig_ino,
    const char *staging, ino_t staging_ino, const char *target)
{
	struct journal_entry e;
	struct buf	 line = BUF_INIT;
	char		 path[512];
	FILE		*fp;

	memset(&e, 0, sizeof(e));
	e.kind = JOURNAL_DELIVER;
	(void)snprintf(e.orig, sizeof(e.orig), "holdscan/claimed/%s", id);
	e.orig_ino = orig_ino;
	(void)snprintf(e.staging, sizeof(e.staging), "holdscan/staging/%s",
	    staging);
	e.staging_ino = staging_ino;
	(void)snprintf(e.target, sizeof(e.target), "%s", target);
	journal_entry_text(&e, &line);
	(void)snprintf(path, sizeof(path), "%s/holdscan/intent/1.2.3.0",
	    f->qdir);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fprintf(fp, "%.*s\n", (int)line.len, line.data),
	    (int)line.len + 1);
	fclose(fp);
	buf_free(&line);
}

static void
test_intent_sets_aside_a_published_message_without_entry(void **state)
{
	struct fixture	*f = *state;
	struct aside_entry *v = NULL;
	char		 name[256], *error = NULL;
	size_t		 n = 0;
	ino_t		 o;

	/* The journal was lost after the new file went into incoming. */
	o = place(f, "holdscan/claimed/DDDDD1");
	(void)place(f, "incoming/EEEEE1");
	write_intent(f, "DDDDD1", o, "DDDDD1", 777, "incoming/EEEEE1");
	assert_int_equal(commit_recover(&f->c, true, &error), 0);
	assert_true(exists(f, "hold/DDDDD1"));
	assert_int_equal(aside_list(f->aside, &v, &n, &error), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, "DDDDD1");
	assert_int_equal(v[0].ino, o);
	assert_non_null(strstr(v[0].reason, "journal lost"));
	assert_non_null(strstr(v[0].reason, "EEEEE1"));
	free(v);
	only_file(f, "holdscan/intent", name, sizeof(name));
	assert_string_equal(name, "");
}

static void
test_intent_returns_an_unpublished_message(void **state)
{
	struct fixture	*f = *state;
	struct aside_entry *v = NULL;
	char		 name[256], *error = NULL;
	size_t		 n = 0;
	ino_t		 o, s;

	o = place(f, "holdscan/claimed/DDDDD2");
	s = place(f, "holdscan/staging/DDDDD2");
	write_intent(f, "DDDDD2", o, "DDDDD2", s, "incoming/EEEEE2");
	assert_int_equal(commit_recover(&f->c, true, &error), 0);
	assert_true(exists(f, "hold/DDDDD2"));
	assert_false(exists(f, "holdscan/staging/DDDDD2"));
	assert_int_equal(aside_list(f->aside, &v, &n, &error), 0);
	assert_int_equal(n, 0);
	free(v);
	only_file(f, "holdscan/intent", name, sizeof(name));
	assert_string_equal(name, "");
}

static void
test_intent_of_a_finished_batch_changes_nothing(void **state)
{
	struct fixture	*f = *state;
	struct aside_entry *v = NULL;
	char		*error = NULL;
	size_t		 n = 0;

	/* The original is gone (the batch finished): nothing to do. */
	write_intent(f, "DDDDD3", 4242, "DDDDD3", 4343, "incoming/EEEEE3");
	assert_int_equal(commit_recover(&f->c, true, &error), 0);
	assert_false(exists(f, "hold/DDDDD3"));
	assert_int_equal(aside_list(f->aside, &v, &n, &error), 0);
	assert_int_equal(n, 0);
	free(v);
}

static void
test_recovery_leaves_a_locked_claimed_file(void **state)
{
	struct fixture	*f = *state;
	char		 path[512], *error = NULL;
	int		 fd;

	/* Another live process works on it (it holds Postfix's lock). */
	(void)place(f, "holdscan/claimed/DDDDD4");
	(void)snprintf(path, sizeof(path), "%s/holdscan/claimed/DDDDD4",
	    f->qdir);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(commit_recover(&f->c, true, &error), 0);
	assert_true(exists(f, "holdscan/claimed/DDDDD4"));
	assert_false(exists(f, "hold/DDDDD4"));
	close(fd);
	assert_int_equal(commit_recover(&f->c, true, &error), 0);
	assert_true(exists(f, "hold/DDDDD4"));
}

/*
 * In a child with an environment of its own: an entry, forgotten without
 * a flush (and settled when settle), then the child dies as with kill -9.
 * Returns how many entries a recovery finds afterwards.
 */
static size_t
forget_then_die(const char *dir, bool settle)
{
	struct statedb	*sdb = NULL;
	struct journal	*j = NULL;
	struct journal_entry e, *v = NULL;
	char		*error = NULL;
	size_t		 n = 0;
	pid_t		 pid;
	int		 status;

	memset(&e, 0, sizeof(e));
	e.kind = JOURNAL_DROP;
	(void)snprintf(e.orig, sizeof(e.orig), "holdscan/claimed/FFFFF1");
	e.orig_ino = 99;
	if ((pid = fork()) == 0) {
		if (statedb_open(dir, &sdb, &error) < 0 ||
		    journal_open(sdb, &j, &error) < 0 ||
		    journal_put(j, &e, 1, &error) < 0 ||
		    journal_del(j, &e, 1, &error) < 0 ||
		    (settle && journal_settle(j, e.orig, &error) < 0))
			_exit(1);
		_exit(0);	/* no close: as a crash */
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (statedb_open(dir, &sdb, &error) < 0 ||
	    journal_open(sdb, &j, &error) < 0 ||
	    journal_list(j, &v, &n, &error) < 0)
		fail_msg("%s", error);
	free(v);
	journal_close(&j);
	statedb_close(&sdb);
	return (n);
}

static void
test_journal_settle_makes_a_forgotten_entry_durable(void **state)
{
	struct fixture	*f = *state;
	char		 a[200], b[200];

	(void)snprintf(a, sizeof(a), "%s/a", f->dir);
	(void)snprintf(b, sizeof(b), "%s/b", f->dir);
	assert_int_equal(mkdir(a, 0700), 0);
	assert_int_equal(mkdir(b, 0700), 0);
	/* Without a flush the entry comes back: the hazard settle is for. */
	assert_int_equal(forget_then_die(a, false), 1);
	assert_int_equal(forget_then_die(b, true), 0);
}

static void
test_journal_entry_text_round_trip(void **state)
{
	struct journal_entry e, back;
	struct buf	 line = BUF_INIT;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.kind = JOURNAL_QUARANTINE;
	(void)snprintf(e.orig, sizeof(e.orig), "holdscan/claimed/ABC123");
	e.orig_ino = 12;
	(void)snprintf(e.target, sizeof(e.target), "2026/12/03/x-ABC123");
	(void)snprintf(e.extra, sizeof(e.extra), "x-ABC123");
	journal_entry_text(&e, &line);
	assert_int_equal(journal_entry_parse(line.data, line.len, &back), 0);
	assert_int_equal(back.kind, JOURNAL_QUARANTINE);
	assert_string_equal(back.orig, e.orig);
	assert_int_equal(back.orig_ino, 12);
	assert_string_equal(back.staging, "");
	assert_string_equal(back.target, e.target);
	assert_string_equal(back.extra, e.extra);
	assert_int_equal(journal_entry_parse("1 D 1 2 a", 9, &back), -1);
	buf_free(&line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_deliver_puts_an_identical_ready_file_in_incoming,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_removes_the_original_only,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_hold_returns_to_hold_and_remembers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_content_replaces_the_old,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_header_lines_go_into_the_original, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_header_lines_as_insert_headers_encodes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_recovery_undoes_a_batch_that_did_not_rename, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_recovery_finishes_a_batch_that_renamed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_finishes_a_drop,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_recovery_keeps_a_different_file_of_the_same_name, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_recovery_at_start_clears_strays, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_intent_sets_aside_a_published_message_without_entry,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_intent_returns_an_unpublished_message, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_intent_of_a_finished_batch_changes_nothing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_recovery_leaves_a_locked_claimed_file, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_journal_settle_makes_a_forgotten_entry_durable, setup,
		    teardown),
		cmocka_unit_test(test_journal_entry_text_round_trip),
	};

	log_open("test_commit", LOG_DEST_STDERR, 0, 0);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
