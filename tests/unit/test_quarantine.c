/*
 * NAME
 *	test_quarantine - unit tests for the quarantine index, its check,
 *	and release with its journal recovery
 * DESCRIPTION
 *	Each test builds a private world in a fresh temporary directory: a
 *	Berkeley DB state environment, a quarantine directory and a queue
 *	directory (hold, incoming hashed one level deep, holdscan/), with
 *	copies of the queue files in tests/data/ (read relative to the
 *	current directory, the source tree). Nothing here needs Postfix.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "commit/commit.h"
#include "common/config.h"
#include "state/journal.h"
#include "common/qfile.h"
#include "quarantine/quarantine.h"
#include "common/queue.h"
#include "commit/release.h"
#include "state/statedb.h"
#include "common/xalloc.h"

#define DATA_DIR	"tests/data/"

struct world {
	char		 dir[256];
	char		 path[512];
	struct hs_config *conf;
	struct queue_layout *ql;
	struct statedb	*sdb;
	struct journal	*journal;
	struct quarantine *q;
	struct commit_ctx c;
	int		 qdirfd;
};

static void
sub(struct world *w, const char *rel)
{
	(void)snprintf(w->path, sizeof(w->path), "%s/%s", w->dir, rel);
}

static void
mkdir_at(struct world *w, const char *rel)
{
	sub(w, rel);
	assert_int_equal(mkdir(w->path, 0700), 0);
}

static int
setup(void **state)
{
	struct world	*w = xcalloc(1, sizeof(*w));
	char		*text, *errors = NULL;

	(void)snprintf(w->dir, sizeof(w->dir), "/tmp/hs-unit-q.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	mkdir_at(w, "state");
	mkdir_at(w, "quarantine");
	mkdir_at(w, "queue");
	mkdir_at(w, "queue/hold");
	mkdir_at(w, "queue/incoming");
	text = xasprintf("state_directory = %s/state\n"
	    "quarantine_directory = %s/quarantine\n", w->dir, w->dir);
	if (config_load_string(text, "t.conf", NULL, NULL, &w->conf,
	    &errors) < 0)
		fail_msg("%s", errors);
	free(text);
	sub(w, "queue");
	w->ql = queue_layout_new(w->path, getuid(), getgid(), false, "incoming",
	    1);
	assert_true((w->qdirfd = open(w->path, O_RDONLY | O_DIRECTORY)) >= 0);
	if (statedb_open(w->conf->state_directory, &w->sdb, &errors) < 0 ||
	    journal_open(w->sdb, &w->journal, &errors) < 0 ||
	    quarantine_open(w->conf, w->sdb, getuid(), getgid(), &w->q,
	    &errors) < 0 ||
	    commit_init(&w->c, w->ql, w->conf, w->qdirfd, w->journal, NULL,
	    &errors) < 0)
		fail_msg("%s", errors);
	w->c.quarantine = w->q;
	*state = w;
	return (0);
}

static int
teardown(void **state)
{
	struct world	*w = *state;
	char		 cmd[600];

	commit_clear(&w->c);
	quarantine_close(&w->q);
	journal_close(&w->journal);
	statedb_close(&w->sdb);
	(void)close(w->qdirfd);
	queue_layout_free(&w->ql);
	config_free(&w->conf);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
	assert_int_equal(system(cmd), 0);
	free(w);
	return (0);
}

/* Quarantine a copy of a tests/data file, indexed with this time. */
static void
quarantine_file(struct world *w, const char *name, const char *orig_id,
    const char *verdict, time_t when, struct quarantine_entry *e)
{
	struct qfile_error err;
	struct qfile	*qf = NULL;
	DB_TXN		*txn = NULL;
	char		*error = NULL, path[256];
	int		 fd;

	(void)snprintf(path, sizeof(path), DATA_DIR "%s", name);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(qfile_read_fd(fd, SIZE_MAX, &qf, &err), 0);
	if (quarantine_store(w->q, fd, qf, orig_id, verdict, "Test-Signature",
	    e, &error) < 0)
		fail_msg("%s", error);
	(void)close(fd);
	qfile_free(&qf);
	if (when != 0)
		e->quarantined = when;
	assert_int_equal(journal_begin(w->journal, &txn, &error), 0);
	if (quarantine_index(w->q, txn, e, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(journal_commit(w->journal, txn, &error), 0);
}

struct collected {
	char	 ids[32][QUARANTINE_ID_SIZE];
	int	 states[32];
	size_t	 n;
};

static int
collect(void *arg, const struct quarantine_entry *e)
{
	struct collected *c = arg;

	assert_true(c->n < 32);
	(void)snprintf(c->ids[c->n], sizeof(c->ids[c->n]), "%s", e->qid);
	c->states[c->n] = (int)e->state;
	c->n++;
	return (0);
}

static size_t
list(struct world *w, const struct quarantine_query *qq, struct collected *c)
{
	char	*error = NULL;

	memset(c, 0, sizeof(*c));
	if (quarantine_list(w->q, qq, collect, c, &error) < 0)
		fail_msg("%s", error);
	return (c->n);
}

static struct quarantine_query
query(void)
{
	struct quarantine_query qq;

	memset(&qq, 0, sizeof(qq));
	qq.state = -1;
	return (qq);
}

static bool
exists(struct world *w, const char *base, const char *rel)
{
	char	 p[1024];

	(void)snprintf(p, sizeof(p), "%s/%s/%s", w->dir, base, rel);
	return (access(p, F_OK) == 0);
}

/* Names of the files below dir (recursively), one per line, sorted. */
static size_t
count_files(struct world *w, const char *rel)
{
	char	 cmd[700];
	FILE	*fp;
	size_t	 n = 0;
	int	 c;

	(void)snprintf(cmd, sizeof(cmd), "find '%s/%s' -type f", w->dir, rel);
	assert_non_null(fp = popen(cmd, "r"));
	while ((c = fgetc(fp)) != EOF)
		if (c == '\n')
			n++;
	(void)pclose(fp);
	return (n);
}

/* The one file in queue/incoming (hashed), parsed; its id in id. */
static struct qfile *
incoming_file(struct world *w, char *id, size_t size)
{
	struct qfile_error err;
	struct qfile	*qf = NULL;
	char		 cmd[700], line[1024];
	FILE		*fp;
	int		 fd;

	(void)snprintf(cmd, sizeof(cmd), "find '%s/queue/incoming' -type f",
	    w->dir);
	assert_non_null(fp = popen(cmd, "r"));
	assert_non_null(fgets(line, sizeof(line), fp));
	(void)pclose(fp);
	line[strcspn(line, "\n")] = '\0';
	(void)snprintf(id, size, "%s", strrchr(line, '/') + 1);
	assert_true((fd = open(line, O_RDONLY)) >= 0);
	assert_int_equal(qfile_read_fd(fd, SIZE_MAX, &qf, &err), 0);
	(void)close(fd);
	return (qf);
}

static void
test_entry_format_round_trips(void **state)
{
	struct quarantine_entry e, d;
	struct buf	 b = BUF_INIT;
	char		*rcpts[] = { "a@x", "line\nbreak@x", "back\\slash@x" };

	(void)state;
	memset(&e, 0, sizeof(e));
	(void)snprintf(e.qid, sizeof(e.qid), "20261123T101502-ABC");
	(void)snprintf(e.relpath, sizeof(e.relpath), "2026/11/23/%s", e.qid);
	(void)snprintf(e.orig_id, sizeof(e.orig_id), "ABC");
	(void)snprintf(e.verdict, sizeof(e.verdict), "infected");
	(void)snprintf(e.reason, sizeof(e.reason), "Eicar\nSignature");
	e.quarantined = 1795430590;
	e.arrival = 1795430580;
	e.size = 1234;
	e.state = QSTATE_RELEASED;
	e.releases = 2;
	e.sender = "s@x";
	e.subject = "héllo \\ world";
	e.released_to = "";
	e.rcpts = rcpts;
	e.nrcpts = 3;
	quarantine_encode(&e, &b);
	assert_int_equal(quarantine_decode(b.data, b.len, &d), 0);
	assert_string_equal(d.qid, e.qid);
	assert_string_equal(d.reason, "Eicar\nSignature");
	assert_string_equal(d.subject, e.subject);
	assert_int_equal(d.nrcpts, 3);
	assert_string_equal(d.rcpts[1], "line\nbreak@x");
	assert_string_equal(d.rcpts[2], "back\\slash@x");
	assert_int_equal(d.state, QSTATE_RELEASED);
	assert_int_equal(d.releases, 2);
	assert_int_equal(d.quarantined, 1795430590);
	quarantine_entry_clear(&d);
	/* Truncated or foreign values are refused, not half read. */
	assert_int_equal(quarantine_decode(b.data, b.len / 2, &d), -1);
	assert_int_equal(quarantine_decode("2\nx\n", 4, &d), -1);
	buf_free(&b);
}

static void
test_store_fills_the_entry_from_the_queue_file(void **state)
{
	struct world	*w = *state;
	struct quarantine_entry e, g;
	char		*error = NULL;

	quarantine_file(w, "held-dsn.qf", "41214A72004", "infected", 0, &e);
	assert_string_equal(e.sender, "alice@example.org");
	assert_int_equal(e.nrcpts, 3);
	assert_string_equal(e.rcpts[0], "bob@example.net");
	assert_int_equal(e.arrival, 1795430590);
	assert_true(exists(w, "quarantine", e.relpath));
	assert_int_equal(quarantine_get(w->q, NULL, e.qid, false, &g, &error),
	    QUARANTINE_OK);
	assert_string_equal(g.relpath, e.relpath);
	assert_string_equal(g.verdict, "infected");
	assert_string_equal(g.reason, "Test-Signature");
	assert_int_equal(g.size, e.size);
	assert_int_equal(g.state, QSTATE_HELD);
	/* No temporary file is left behind. */
	assert_int_equal(count_files(w, "quarantine"), 1);
	quarantine_entry_clear(&e);
	quarantine_entry_clear(&g);
}

static void
test_lists_by_time_and_by_recipient(void **state)
{
	struct world	*w = *state;
	struct quarantine_entry a, b, c;
	struct quarantine_query qq;
	struct collected got;

	quarantine_file(w, "held-milter-pad.qf", "PADID1", "infected", 1000, &a);
	quarantine_file(w, "held-dsn.qf", "DSNID1", "blocked", 3000, &b);
	quarantine_file(w, "held-dsn.qf", "DSNID2", "infected", 2000, &c);
	qq = query();
	assert_int_equal(list(w, &qq, &got), 3);
	/* Time order, not id order. */
	assert_string_equal(got.ids[0], a.qid);
	assert_string_equal(got.ids[1], c.qid);
	assert_string_equal(got.ids[2], b.qid);
	qq.since = 1500;
	qq.until = 2500;
	assert_int_equal(list(w, &qq, &got), 1);
	assert_string_equal(got.ids[0], c.qid);
	/* The recipient index, in any case; with the other filters. */
	qq = query();
	qq.rcpt = "CAROL@Example.NET";
	assert_int_equal(list(w, &qq, &got), 2);
	qq.reason = "block";
	assert_int_equal(list(w, &qq, &got), 1);
	assert_string_equal(got.ids[0], b.qid);
	qq = query();
	qq.rcpt = "nobody@example.net";
	assert_int_equal(list(w, &qq, &got), 0);
	qq = query();
	qq.sender = "ALICE@";
	assert_int_equal(list(w, &qq, &got), 2);
	quarantine_entry_clear(&a);
	quarantine_entry_clear(&b);
	quarantine_entry_clear(&c);
}

/* Index an entry without a file: only what the sender index needs. */
static void
index_sender(struct world *w, const char *qid, const char *sender, time_t when)
{
	struct quarantine_entry e;
	DB_TXN		*txn = NULL;
	char		*error = NULL, *rcpts[] = { "rcpt@example.net" };

	memset(&e, 0, sizeof(e));
	(void)snprintf(e.qid, sizeof(e.qid), "%s", qid);
	(void)snprintf(e.relpath, sizeof(e.relpath), "t/%s", qid);
	(void)snprintf(e.orig_id, sizeof(e.orig_id), "ORIG%s", qid + 16);
	(void)snprintf(e.verdict, sizeof(e.verdict), "spam");
	e.quarantined = when;
	e.arrival = when;
	e.sender = (char *)sender;
	e.subject = "s";
	e.released_to = "";
	e.rcpts = rcpts;
	e.nrcpts = 1;
	assert_int_equal(journal_begin(w->journal, &txn, &error), 0);
	if (quarantine_index(w->q, txn, &e, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(journal_commit(w->journal, txn, &error), 0);
}

static void
test_lists_by_sender_address_domain_and_substring(void **state)
{
	struct world	*w = *state;
	struct quarantine_query qq;
	struct collected got;
	char		*error = NULL, *norm = NULL;
	uint64_t	 bytes;
	static const struct {
		const char	*filter;
		enum quarantine_sender_kind kind;
		const char	*norm;
	} kinds[] = {
		{ "Bob@Example.ORG", QSENDER_ADDRESS, "bob@example.org" },
		{ "<>", QSENDER_ADDRESS, "" },
		{ "@Example.org", QSENDER_DOMAIN, "example.org" },
		{ "mail.example.org", QSENDER_DOMAIN, "mail.example.org" },
		{ "example", QSENDER_SUBSTRING, "example" },
		{ "bob@", QSENDER_SUBSTRING, "bob@" },
		{ "@", QSENDER_SUBSTRING, "@" },
		{ "a b@x.org", QSENDER_SUBSTRING, "a b@x.org" },
		{ "ex..org", QSENDER_SUBSTRING, "ex..org" },
		{ "@ex/ample.org", QSENDER_SUBSTRING, "@ex/ample.org" },
	};
	size_t		 i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		assert_int_equal(quarantine_sender_match(kinds[i].filter,
		    &norm), kinds[i].kind);
		assert_string_equal(norm, kinds[i].norm);
		free(norm);
	}
	index_sender(w, "19700101T000100-AAAAAAAA1", "Alice@Mail.Example.ORG",
	    100);
	index_sender(w, "19700101T000200-AAAAAAAA2", "bob@example.org", 200);
	index_sender(w, "19700101T000300-AAAAAAAA3", "carol@notexample.org", 300);
	index_sender(w, "19700101T000400-AAAAAAAA4", "", 400);
	index_sender(w, "19700101T000500-AAAAAAAA5", "dave@example.org.evil.net",
	    500);
	index_sender(w, "19700101T000600-AAAAAAAA6", "bob@example.org", 600);
	qq = query();
	qq.sender = "BOB@example.org";
	assert_int_equal(list(w, &qq, &got), 2);
	assert_string_equal(got.ids[0], "19700101T000200-AAAAAAAA2");
	assert_string_equal(got.ids[1], "19700101T000600-AAAAAAAA6");
	qq.since = 300;		/* the other filters still apply */
	assert_int_equal(list(w, &qq, &got), 1);
	qq = query();
	qq.sender = "@example.org";	/* and its subdomains, not lookalikes */
	assert_int_equal(list(w, &qq, &got), 3);
	qq.sender = "EXAMPLE.ORG";
	assert_int_equal(list(w, &qq, &got), 3);
	qq.sender = "mail.example.org";
	assert_int_equal(list(w, &qq, &got), 1);
	assert_string_equal(got.ids[0], "19700101T000100-AAAAAAAA1");
	qq.sender = "org";
	assert_int_equal(list(w, &qq, &got), 5);	/* no dot: a substring */
	qq.sender = "<>";
	assert_int_equal(list(w, &qq, &got), 1);
	assert_string_equal(got.ids[0], "19700101T000400-AAAAAAAA4");
	qq.sender = "example";
	assert_int_equal(list(w, &qq, &got), 5);
	/* A substring is a walk: bounded, and says where it stopped. */
	qq.max_walk = 2;
	memset(&got, 0, sizeof(got));
	assert_int_equal(quarantine_list(w->q, &qq, collect, &got, &error), 1);
	assert_int_equal(got.n, 2);
	qq.max_walk = 6;
	memset(&got, 0, sizeof(got));
	assert_int_equal(quarantine_list(w->q, &qq, collect, &got, &error), 0);
	assert_int_equal(got.n, 5);
	/* Removed from the index with the entry. */
	assert_int_equal(quarantine_expire(w->q, 250, &i, &bytes, &error), 0);
	qq = query();
	qq.sender = "example.org";
	assert_int_equal(list(w, &qq, &got), 1);
}

static void
test_secondaries_follow_updates_and_deletes(void **state)
{
	struct world	*w = *state;
	struct quarantine_entry a, g;
	struct quarantine_query qq;
	struct collected got;
	DB_TXN		*txn;
	char		*error = NULL;

	quarantine_file(w, "held-dsn.qf", "DSNID1", "infected", 5000, &a);
	/* An update that keeps the keys: still one entry under each key. */
	assert_int_equal(quarantine_txn_begin(w->q, &txn, &error), 0);
	assert_int_equal(quarantine_get(w->q, txn, a.qid, true, &g, &error),
	    QUARANTINE_OK);
	g.state = QSTATE_RELEASED;
	assert_int_equal(quarantine_put(w->q, txn, &g, &error), QUARANTINE_OK);
	assert_int_equal(quarantine_txn_commit(txn, &error), 0);
	quarantine_entry_clear(&g);
	qq = query();
	qq.rcpt = "bob@example.net";
	assert_int_equal(list(w, &qq, &got), 1);
	assert_int_equal(got.states[0], QSTATE_RELEASED);
	qq = query();
	assert_int_equal(list(w, &qq, &got), 1);
	/* Delete: the entry stays (state deleted), the file goes. */
	assert_int_equal(quarantine_delete(w->q, a.qid, &error), QUARANTINE_OK);
	assert_false(exists(w, "quarantine", a.relpath));
	assert_int_equal(quarantine_delete(w->q, a.qid, &error),
	    QUARANTINE_UNCHANGED);
	assert_int_equal(quarantine_delete(w->q, "nosuchid", &error),
	    QUARANTINE_NOTFOUND);
	qq.rcpt = "dave@example.net";
	assert_int_equal(list(w, &qq, &got), 1);
	assert_int_equal(got.states[0], QSTATE_DELETED);
	quarantine_entry_clear(&a);
}

static void
test_expire_removes_files_and_entries_together(void **state)
{
	struct world	*w = *state;
	struct quarantine_entry e[5];
	struct quarantine_query qq;
	struct collected got;
	char		*error = NULL, id[32];
	uint64_t	 bytes;
	size_t		 n, i;

	for (i = 0; i < 5; i++) {
		(void)snprintf(id, sizeof(id), "EXPIRE%zu", i);
		quarantine_file(w, i % 2 ? "held-dsn.qf" : "held-milter-pad.qf", id,
		    "infected", (time_t)(1000 * (i + 1)), &e[i]);
	}
	assert_int_equal(quarantine_delete(w->q, e[1].qid, &error),
	    QUARANTINE_OK);
	/* Before 3500: the first three (one of them deleted already). */
	assert_int_equal(quarantine_expire(w->q, 3500, &n, &bytes, &error), 0);
	assert_int_equal(n, 3);
	assert_int_equal(bytes, e[0].size + e[2].size);
	for (i = 0; i < 5; i++)
		assert_int_equal(exists(w, "quarantine", e[i].relpath), i >= 3);
	qq = query();
	assert_int_equal(list(w, &qq, &got), 2);
	assert_string_equal(got.ids[0], e[3].qid);
	qq.rcpt = "bob@example.net";
	assert_int_equal(list(w, &qq, &got), 1);
	assert_string_equal(got.ids[0], e[3].qid);
	assert_int_equal(quarantine_expire(w->q, 3500, &n, &bytes, &error), 0);
	assert_int_equal(n, 0);
	for (i = 0; i < 5; i++)
		quarantine_entry_clear(&e[i]);
}

struct report {
	char	 lines[16][1024];
	int	 problem[16];
	enum quarantine_finding kind[16];
	size_t	 n;
};

static void
report_line(void *arg, enum quarantine_finding kind, const char *line)
{
	struct report	*r = arg;

	assert_true(r->n < 16);
	(void)snprintf(r->lines[r->n], sizeof(r->lines[r->n]), "%s", line);
	r->kind[r->n] = kind;
	r->problem[r->n++] = kind == QCHECK_PROBLEM;
}

static void
copy_file(const char *from, const char *to)
{
	char	 cmd[1200];

	(void)snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

static void
test_check_repairs_and_reports_one_line_each(void **state)
{
	struct world	*w = *state;
	struct quarantine_entry kept, gone, del, g;
	struct quarantine_query qq;
	struct collected got;
	struct report	 r;
	char		 p[1024], day[32], *error = NULL;
	struct stat	 st;
	struct tm	 tm;
	time_t		 now = time(NULL);
	int		 problems;

	quarantine_file(w, "held-plain.qf", "KEPT1", "infected", 0, &kept);
	quarantine_file(w, "held-plain.qf", "GONE1", "infected", 0, &gone);
	quarantine_file(w, "held-dsn.qf", "DEL1", "infected", 0, &del);
	(void)gmtime_r(&now, &tm);
	(void)strftime(day, sizeof(day), "%Y/%m/%d", &tm);
	/* An entry whose file went away: reported, kept. */
	(void)snprintf(p, sizeof(p), "%s/quarantine/%s", w->dir, gone.relpath);
	assert_int_equal(unlink(p), 0);
	/* A deleted entry whose file is still there: finish the delete. */
	(void)snprintf(p, sizeof(p), "%s/quarantine/%s", w->dir, del.relpath);
	assert_int_equal(quarantine_delete(w->q, del.qid, &error), QUARANTINE_OK);
	copy_file(DATA_DIR "held-dsn.qf", p);
	/* An interrupted copy. */
	(void)snprintf(p, sizeof(p), "%s/quarantine/%s/20200101T000000-TMPID.tmp",
	    w->dir, day);
	copy_file(DATA_DIR "held-dsn.qf", p);
	/* A copy of a message still in hold (its batch did not commit). */
	(void)snprintf(p, sizeof(p), "%s/queue/hold/HOLDID1", w->dir);
	copy_file(DATA_DIR "held-milter.qf", p);
	(void)snprintf(p, sizeof(p), "%s/quarantine/%s/20200101T000000-HOLDID1",
	    w->dir, day);
	copy_file(DATA_DIR "held-milter.qf", p);
	/* A file without an entry that may be the only copy: indexed again. */
	(void)snprintf(p, sizeof(p), "%s/quarantine/%s/20200101T000000-LOST1",
	    w->dir, day);
	copy_file(DATA_DIR "held-dsn.qf", p);

	memset(&r, 0, sizeof(r));
	problems = quarantine_check(w->q, w->ql, w->qdirfd, w->c.claimed, false,
	    report_line, &r, &error);
	assert_int_equal(problems, 1);
	assert_int_equal(r.n, 5);
	(void)snprintf(p, sizeof(p), "%s/quarantine/%s", w->dir, del.relpath);
	assert_int_not_equal(access(p, F_OK), 0);
	assert_int_equal(count_files(w, "quarantine"), 2);	/* KEPT1, LOST1 */
	assert_int_equal(quarantine_get(w->q, NULL, "20200101T000000-LOST1",
	    false, &g, &error), QUARANTINE_OK);
	assert_string_equal(g.sender, "alice@example.org");
	assert_string_equal(g.orig_id, "LOST1");
	assert_int_equal(g.quarantined, 1577836800);
	quarantine_entry_clear(&g);
	assert_int_equal(quarantine_get(w->q, NULL, gone.qid, false, &g,
	    &error), QUARANTINE_OK);
	quarantine_entry_clear(&g);
	qq = query();
	qq.rcpt = "carol@example.net";
	assert_int_equal(list(w, &qq, &got), 2);	/* DEL1 and LOST1 */
	/* A second run finds only what it cannot repair. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(quarantine_check(w->q, w->ql, w->qdirfd, w->c.claimed,
	    false, report_line, &r, &error), 1);
	assert_int_equal(r.n, 1);
	assert_true(r.problem[0]);
	assert_non_null(strstr(r.lines[0], gone.qid));
	/*
	 * With holdscand running, young files without an entry and young
	 * temporaries are its own: left alone, each reported as skipped.
	 */
	(void)snprintf(p, sizeof(p), "%s/quarantine/%s/20200101T000000-LIVE1",
	    w->dir, day);
	copy_file(DATA_DIR "held-dsn.qf", p);
	{
		char	 tmp[1100];

		(void)snprintf(tmp, sizeof(tmp), "%s/quarantine/%s/"
		    "20200101T000000-LIVE2.tmp", w->dir, day);
		copy_file(DATA_DIR "held-dsn.qf", tmp);
		memset(&r, 0, sizeof(r));
		assert_int_equal(quarantine_check(w->q, w->ql, w->qdirfd,
		    w->c.claimed, true, report_line, &r, &error), 1);
		assert_int_equal(r.n, 3);
		/* Files first (in directory order), then the index. */
		assert_int_equal(r.kind[0], QCHECK_SKIPPED);
		assert_int_equal(r.kind[1], QCHECK_SKIPPED);
		assert_int_equal(r.kind[2], QCHECK_PROBLEM);
		assert_non_null(strstr(r.lines[0], " s ago: not judged while "
		    "holdscand runs"));
		assert_true((strstr(r.lines[0], "20200101T000000-LIVE1: file "
		    "without index entry, written ") == r.lines[0] &&
		    strstr(r.lines[1], "20200101T000000-LIVE2.tmp: incomplete "
		    "copy, written ") == r.lines[1]) ||
		    (strstr(r.lines[1], "20200101T000000-LIVE1: file without "
		    "index entry, written ") == r.lines[1] &&
		    strstr(r.lines[0], "20200101T000000-LIVE2.tmp: incomplete "
		    "copy, written ") == r.lines[0]));
		assert_int_equal(access(p, F_OK), 0);
		assert_int_equal(access(tmp, F_OK), 0);
		/* Not live (holdscand stopped): nothing is skipped. */
		memset(&r, 0, sizeof(r));
		assert_int_equal(quarantine_check(w->q, w->ql, w->qdirfd,
		    w->c.claimed, false, report_line, &r, &error), 1);
		assert_int_equal(r.n, 3);
		assert_int_not_equal(r.kind[0], QCHECK_SKIPPED);
		assert_int_not_equal(r.kind[1], QCHECK_SKIPPED);
		assert_int_not_equal(access(tmp, F_OK), 0);
	}
	/* Anything but a regular file is reported and left alone. */
	(void)snprintf(p, sizeof(p), "%s/quarantine/%s/20200101T000000-LINK1",
	    w->dir, day);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(quarantine_check(w->q, w->ql, w->qdirfd, w->c.claimed,
	    true, report_line, &r, &error), 2);
	assert_int_equal(r.n, 2);
	assert_true(r.problem[0] && r.problem[1]);
	/* The files are walked first, then the index. */
	assert_non_null(strstr(r.lines[0], "20200101T000000-LINK1: not a "
	    "regular file"));
	assert_non_null(strstr(r.lines[1], gone.qid));
	assert_int_equal(lstat(p, &st), 0);
	quarantine_entry_clear(&kept);
	quarantine_entry_clear(&gone);
	quarantine_entry_clear(&del);
}

/*
 * holdscand killed after a quarantine copy was written but before its
 * batch committed, then the message quarantined again: the unindexed
 * first copy goes, the indexed one stays, and nothing is listed twice.
 */
static void
test_check_removes_a_second_copy(void **state)
{
	struct world	*w = *state;
	struct quarantine_entry twin, g;
	struct quarantine_query qq;
	struct collected got;
	struct report	 r;
	char		 p[1024], day[32], *error = NULL;
	struct tm	 tm;
	time_t		 now = time(NULL);

	quarantine_file(w, "held-dsn.qf", "TWIN1", "infected", 0, &twin);
	(void)gmtime_r(&now, &tm);
	(void)strftime(day, sizeof(day), "%Y/%m/%d", &tm);
	(void)snprintf(p, sizeof(p), "%s/quarantine/%s/20200101T000000-TWIN1",
	    w->dir, day);
	copy_file(DATA_DIR "held-dsn.qf", p);
	memset(&r, 0, sizeof(r));
	assert_int_equal(quarantine_check(w->q, w->ql, w->qdirfd, w->c.claimed,
	    false, report_line, &r, &error), 0);
	assert_int_equal(r.n, 1);
	assert_false(r.problem[0]);
	assert_non_null(strstr(r.lines[0], "removed a second copy of TWIN1"));
	assert_int_not_equal(access(p, F_OK), 0);
	assert_int_equal(quarantine_get(w->q, NULL, "20200101T000000-TWIN1",
	    false, &g, &error), QUARANTINE_NOTFOUND);
	free(error);
	error = NULL;
	qq = query();
	qq.rcpt = "carol@example.net";
	assert_int_equal(list(w, &qq, &got), 1);
	/* A different message from the same original id is not a twin. */
	copy_file(DATA_DIR "held-plain.qf", p);
	memset(&r, 0, sizeof(r));
	assert_int_equal(quarantine_check(w->q, w->ql, w->qdirfd, w->c.claimed,
	    false, report_line, &r, &error), 0);
	assert_int_equal(r.n, 1);
	assert_non_null(strstr(r.lines[0], "indexed again"));
	assert_int_equal(access(p, F_OK), 0);
	quarantine_entry_clear(&twin);
}

static void
test_release_puts_one_copy_into_incoming(void **state)
{
	struct world	*w = *state;
	struct quarantine_entry e, g;
	struct release_opts o;
	struct journal_entry *v = NULL;
	struct qfile	*qf;
	char		 new_id[QUEUE_ID_SIZE], id[QUEUE_ID_SIZE], *error = NULL;
	size_t		 n;
	struct buf	 text = BUF_INIT;

	quarantine_file(w, "held-dsn.qf", "DSNREL1", "infected", 0, &e);
	memset(&o, 0, sizeof(o));
	o.header_name = "X-Holdscan";
	assert_int_equal(release_message(&w->c, w->q, e.qid, &o, new_id, &error),
	    RELEASE_OK);
	qf = incoming_file(w, id, sizeof(id));
	assert_string_equal(id, new_id);
	/* The original envelope, DSN and all. */
	assert_string_equal(qf->sender, "alice@example.org");
	assert_int_equal(qf->nrcpts, 3);
	assert_string_equal(qf->rcpts[0].address, "bob@example.net");
	assert_string_equal(qf->rcpts[0].dsn_orcpt, "rfc822;bob@orig.example");
	assert_int_equal(qf->rcpts[0].dsn_notify, 6);
	assert_string_equal(qf->envid, "QF-ENVID-42");
	assert_int_equal(qf->ret_flags, 2);
	qfile_content_text(qf->content, qf->header_end, &text);
	assert_non_null(strstr(text.data, "\nX-Holdscan: released from "
	    "quarantine (infected)"));
	buf_free(&text);
	qfile_free(&qf);
	assert_int_equal(quarantine_get(w->q, NULL, e.qid, false, &g, &error),
	    QUARANTINE_OK);
	assert_int_equal(g.state, QSTATE_RELEASED);
	assert_string_equal(g.new_id, new_id);
	assert_int_equal(g.releases, 1);
	quarantine_entry_clear(&g);
	assert_int_equal(journal_list(w->journal, &v, &n, &error), 0);
	assert_int_equal(n, 0);
	free(v);
	/* Once only, unless asked for another copy. */
	assert_int_equal(release_message(&w->c, w->q, e.qid, &o, id, &error),
	    RELEASE_ALREADY);
	assert_string_equal(id, new_id);
	assert_int_equal(count_files(w, "queue/incoming"), 1);
	o.again = true;
	assert_int_equal(release_message(&w->c, w->q, e.qid, &o, id, &error),
	    RELEASE_OK);
	assert_int_equal(count_files(w, "queue/incoming"), 2);
	assert_int_equal(count_files(w, "queue/holdscan/release"), 0);
	assert_int_equal(release_message(&w->c, w->q, "nosuchid", &o, id,
	    &error), RELEASE_NOTFOUND);
	assert_int_equal(quarantine_delete(w->q, e.qid, &error), QUARANTINE_OK);
	assert_int_equal(release_message(&w->c, w->q, e.qid, &o, id, &error),
	    RELEASE_DELETED);
	quarantine_entry_clear(&e);
}

/*
 * A quarantined original whose sender forged "X-Holdscan: clean" and
 * "X-Spam-Status: No" (issue 13, item 8): the released copy has one
 * X-Holdscan, the release header, and no forged verdict; the body, the
 * envelope and the other header fields are as they were.
 */
static void
test_release_replaces_forged_headers(void **state)
{
	struct world	*w = *state;
	struct quarantine_entry e;
	struct release_opts o;
	struct qfile_parts parts;
	struct qfile_error err;
	struct qfile	*qf = NULL, *got;
	struct qfile_rec *content = NULL;
	DB_TXN		*txn = NULL;
	struct buf	 recs = BUF_INIT, text = BUF_INIT, before = BUF_INIT;
	char		 path[300], new_id[QUEUE_ID_SIZE], id[QUEUE_ID_SIZE];
	char		*error = NULL;
	const char	*p;
	size_t		 n, count;
	int		 fd;

	/* held-dsn.qf with the forgeries at the top of its header. */
	(void)snprintf(path, sizeof(path), DATA_DIR "held-dsn.qf");
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(qfile_read_fd(fd, SIZE_MAX, &qf, &err), 0);
	(void)close(fd);
	qfile_content_text(qf->content + qf->header_end,
	    qf->ncontent - qf->header_end, &before);
	qfile_insert_headers(qf->content, qf->ncontent, 0,
	    "X-Holdscan: clean (forged)\nX-Spam-Status: No,\n forged\n",
	    QFILE_LINE_LIMIT, &recs);
	assert_int_equal(qfile_records_decode(recs.data, recs.len, "NL",
	    &content, &n, &err), 0);
	qfile_parts_of(qf, &parts);
	parts.content = content;
	parts.ncontent = n;
	(void)snprintf(path, sizeof(path), "%s/forged.qf", w->dir);
	assert_true((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
	assert_int_equal(qfile_write(fd, &parts, &err), 0);
	qfile_free(&qf);
	free(content);
	buf_free(&recs);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(qfile_read_fd(fd, SIZE_MAX, &qf, &err), 0);
	if (quarantine_store(w->q, fd, qf, "FORGED1", "infected",
	    "Test-Signature", &e, &error) < 0)
		fail_msg("%s", error);
	(void)close(fd);
	qfile_free(&qf);
	assert_int_equal(journal_begin(w->journal, &txn, &error), 0);
	if (quarantine_index(w->q, txn, &e, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(journal_commit(w->journal, txn, &error), 0);

	memset(&o, 0, sizeof(o));
	o.header_name = "X-Holdscan";
	o.strip_names = "X-Holdscan, X-Holdscan-*, X-Spam-Status";
	assert_int_equal(release_message(&w->c, w->q, e.qid, &o, new_id,
	    &error), RELEASE_OK);
	got = incoming_file(w, id, sizeof(id));
	assert_string_equal(got->sender, "alice@example.org");
	assert_int_equal(got->nrcpts, 3);
	qfile_content_text(got->content, got->header_end, &text);
	for (count = 0, p = text.data; (p = strstr(p, "X-Holdscan:")) != NULL;
	    p++)
		count++;
	assert_int_equal(count, 1);
	assert_non_null(strstr(text.data, "X-Holdscan: released from "
	    "quarantine (infected)"));
	assert_null(strstr(text.data, "forged"));
	assert_null(strstr(text.data, "X-Spam-Status"));
	buf_reset(&text);
	qfile_content_text(got->content + got->header_end,
	    got->ncontent - got->header_end, &text);
	assert_int_equal(text.len, before.len);
	assert_memory_equal(text.data, before.data, text.len);
	qfile_free(&got);
	buf_free(&text);
	buf_free(&before);
	quarantine_entry_clear(&e);
}

static void
test_release_to_replaces_the_recipients(void **state)
{
	struct world	*w = *state;
	struct quarantine_entry e, g;
	struct release_opts o;
	struct qfile	*qf;
	const char	*to[] = { "analyst@example.com", "second@example.com" };
	char		 new_id[QUEUE_ID_SIZE], id[QUEUE_ID_SIZE], *error = NULL;
	size_t		 i;

	quarantine_file(w, "held-dsn.qf", "DSNTO1", "infected", 0, &e);
	memset(&o, 0, sizeof(o));
	o.to = to;
	o.nto = 2;
	o.header_name = "";
	assert_int_equal(release_message(&w->c, w->q, e.qid, &o, new_id, &error),
	    RELEASE_OK);
	qf = incoming_file(w, id, sizeof(id));
	assert_string_equal(qf->sender, "alice@example.org");
	assert_int_equal(qf->nrcpts, 2);
	for (i = 0; i < 2; i++) {
		assert_string_equal(qf->rcpts[i].address, to[i]);
		assert_null(qf->rcpts[i].dsn_orcpt);
		assert_null(qf->rcpts[i].orig_rcpt);
		assert_int_equal(qf->rcpts[i].dsn_notify, 0);
	}
	assert_int_equal(qf->size_field[2], 2);	/* recipient count */
	qfile_free(&qf);
	assert_int_equal(quarantine_get(w->q, NULL, e.qid, false, &g, &error),
	    QUARANTINE_OK);
	assert_string_equal(g.released_to,
	    "analyst@example.com, second@example.com");
	quarantine_entry_clear(&g);
	quarantine_entry_clear(&e);
}

/* A staging file in release/ as a release writes it, ready and durable. */
static uint64_t
staged_copy(struct world *w, const char *name)
{
	struct stat	 st;
	char		 p[1024];

	(void)snprintf(p, sizeof(p), "%s/queue/holdscan/release/%s", w->dir,
	    name);
	copy_file(DATA_DIR "held-plain.qf", p);
	assert_int_equal(chmod(p, 0700), 0);
	assert_int_equal(stat(p, &st), 0);
	return ((uint64_t)st.st_ino);
}

static void
test_recovery_finishes_a_committed_release(void **state)
{
	struct world	*w = *state;
	struct quarantine_entry e;
	struct journal_entry je, *v = NULL;
	struct timeval	 tv = { 1795430590, 123456 };
	char		 planned[QUEUE_ID_SIZE], target[QUEUE_PATH_SIZE];
	char		 id[QUEUE_ID_SIZE], *error = NULL;
	struct qfile	*qf;
	size_t		 n;

	quarantine_file(w, "held-plain.qf", "CRASH1", "infected", 0, &e);
	/* As if killed between the journal commit and the rename. */
	memset(&je, 0, sizeof(je));
	je.kind = JOURNAL_RELEASE;
	(void)snprintf(je.orig, sizeof(je.orig), "holdscan/release/1.2.0");
	(void)snprintf(je.staging, sizeof(je.staging), "holdscan/release/1.2.0");
	je.orig_ino = je.staging_ino = staged_copy(w, "1.2.0");
	queue_id_make(false, (ino_t)je.staging_ino, &tv, planned);
	assert_int_equal(queue_path(w->ql, QUEUE_INCOMING, planned, target), 0);
	(void)snprintf(je.target, sizeof(je.target), "%s", target);
	(void)snprintf(je.extra, sizeof(je.extra), "%s", e.qid);
	assert_int_equal(journal_put(w->journal, &je, 1, &error), 0);
	/* And another whose rename had happened: nothing more to do. */
	(void)snprintf(je.orig, sizeof(je.orig), "holdscan/release/1.3.0");
	(void)snprintf(je.staging, sizeof(je.staging), "holdscan/release/1.3.0");
	je.orig_ino = je.staging_ino = 999999;
	assert_int_equal(journal_put(w->journal, &je, 1, &error), 0);

	/* holdscand at start finishes releases as well as its own batches. */
	assert_int_equal(commit_recover(&w->c, true, &error), 0);
	qf = incoming_file(w, id, sizeof(id));
	assert_string_equal(id, planned);
	qfile_free(&qf);
	assert_int_equal(count_files(w, "queue/incoming"), 1);
	assert_int_equal(count_files(w, "queue/holdscan/release"), 0);
	assert_int_equal(journal_list(w->journal, &v, &n, &error), 0);
	assert_int_equal(n, 0);
	free(v);
	/* Idempotent; the tool's recovery finds nothing left. */
	assert_int_equal(commit_recover_releases(&w->c, &error), 0);
	assert_int_equal(count_files(w, "queue/incoming"), 1);
	quarantine_entry_clear(&e);
}

static void
test_recovery_removes_only_unlocked_unjournaled_staging_files(void **state)
{
	struct world	*w = *state;
	char		 p[1024], *error = NULL;
	int		 fd;

	(void)staged_copy(w, "7.1.0");		/* a crash before the commit */
	(void)staged_copy(w, "7.2.0");		/* a release at work */
	(void)snprintf(p, sizeof(p), "%s/queue/holdscan/release/7.2.0", w->dir);
	assert_true((fd = open(p, O_RDONLY)) >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(commit_recover_releases(&w->c, &error), 0);
	assert_false(exists(w, "queue", "holdscan/release/7.1.0"));
	assert_true(exists(w, "queue", "holdscan/release/7.2.0"));
	(void)close(fd);
	assert_int_equal(commit_recover_releases(&w->c, &error), 0);
	assert_false(exists(w, "queue", "holdscan/release/7.2.0"));
	assert_int_equal(count_files(w, "queue/incoming"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_format_round_trips),
		cmocka_unit_test_setup_teardown(
		    test_store_fills_the_entry_from_the_queue_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_lists_by_time_and_by_recipient, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_lists_by_sender_address_domain_and_substring, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_secondaries_follow_updates_and_deletes, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_expire_removes_files_and_entries_together, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_check_repairs_and_reports_one_line_each, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_check_removes_a_second_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_release_puts_one_copy_into_incoming, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_release_replaces_forged_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_release_to_replaces_the_recipients, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_recovery_finishes_a_committed_release, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_recovery_removes_only_unlocked_unjournaled_staging_files,
		    setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
