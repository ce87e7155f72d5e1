/*
 * NAME
 *	journal - intent journal of batch commits (Berkeley DB btree)
 * DESCRIPTION
 *	Each live entry says: this original is being replaced by that
 *	staging file, which will be renamed to that target. journal_put()
 *	commits a batch's entries in one synchronous transaction before any
 *	rename; journal_del() forgets them after the originals are gone.
 *	Recovery (commit.c) reads what is left with journal_list().
 *
 *	journal_del() commits without waiting for the log to reach the
 *	disk, so a crash can bring forgotten entries back. An entry that
 *	comes back must never match a later claim of the same file (same
 *	name, same inode): recovery would take it for an interrupted batch
 *	and finish it. So the journal remembers which keys it forgot
 *	without a flush, and journal_settle() flushes the log before such a
 *	name is claimed again; any synchronous commit makes them all durable.
 *
 *	Values are a short line of text ("1 K orig_ino staging_ino orig
 *	staging target extra") so that the format is independent of struct
 *	layout and readable with db_dump -p.
 *
 *	This module must never report success for a transaction that was
 *	not committed, and never touch queue files.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/strmap.h"
#include "common/xalloc.h"
#include "state/journal.h"
#include "state/record.h"

#define JOURNAL_DB	JOURNAL_DB_NAME
#define JOURNAL_FORMAT	"1"

struct journal {
	struct statedb	*sdb;
	DB		*db;
	struct strmap	 unsynced;	/* keys forgotten since the last flush */
};

int
journal_open(struct statedb *sdb, struct journal **j_r, char **error_r)
{
	struct journal	*j;
	DB		*db;

	if (statedb_open_db(sdb, JOURNAL_DB, &db, error_r) < 0) {
		char	*e = *error_r;

		*error_r = xasprintf("cannot open the journal: %s (a damaged "
		    "file says \"Invalid argument\" or a checksum error; with "
		    "holdscand stopped, move it aside with mv %s/%s "
		    "%s/%s.damaged: the intent records in the queue stand in "
		    "for it)", e, sdb->dir, JOURNAL_DB, sdb->dir, JOURNAL_DB);
		free(e);
		return (-1);
	}
	j = xcalloc(1, sizeof(*j));
	j->sdb = sdb;
	j->db = db;
	*j_r = j;
	return (0);
}

void
journal_close(struct journal **jp)
{
	struct journal	*j = *jp;

	if (j == NULL)
		return;
	(void)j->db->close(j->db, 0);
	strmap_clear(&j->unsynced);
	free(j);
	*jp = NULL;
}

/* "-" stands for an empty field, so that fields never run together. */
static const char *
field_out(const char *s)
{
	return (*s ? s : "-");
}

void
journal_entry_text(const struct journal_entry *e, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, JOURNAL_FORMAT " %c %" PRIu64 " %" PRIu64 " %s %s %s %s",
	    e->kind, e->orig_ino, e->staging_ino, field_out(e->orig),
	    field_out(e->staging), field_out(e->target), field_out(e->extra));
}

static int
field_in(char *dst, const char *src)
{
	if (strlen(src) >= QUEUE_PATH_SIZE)
		return (-1);
	(void)snprintf(dst, QUEUE_PATH_SIZE, "%s", strcmp(src, "-") ? src : "");
	return (0);
}

int
journal_entry_parse(const char *data, size_t len, struct journal_entry *e)
{
	char	 text[6 * QUEUE_PATH_SIZE], kind;
	char	 f[4][QUEUE_PATH_SIZE];

	if (len == 0 || len >= sizeof(text))
		return (-1);
	memcpy(text, data, len);
	text[len] = '\0';
	memset(e, 0, sizeof(*e));
	if (sscanf(text, JOURNAL_FORMAT " %c %" SCNu64 " %" SCNu64
	    " %511s %511s %511s %511s", &kind, &e->orig_ino, &e->staging_ino,
	    f[0], f[1], f[2], f[3]) != 7)
		return (-1);
	e->kind = kind;
	if (field_in(e->orig, f[0]) < 0 || field_in(e->staging, f[1]) < 0 ||
	    field_in(e->target, f[2]) < 0 || field_in(e->extra, f[3]) < 0)
		return (-1);
	return (0);
}

/* Run put or del for each entry inside one transaction. */
static int
journal_txn(struct journal *j, const struct journal_entry *e, size_t n,
    bool put, bool sync, char **error_r)
{
	struct buf	 val = BUF_INIT;
	DB_TXN		*txn = NULL;
	size_t		 i;
	int		 ret;

	if ((ret = j->sdb->env->txn_begin(j->sdb->env, NULL, &txn, 0)) != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if (put) {
			journal_entry_text(&e[i], &val);
			ret = record_put(j->db, txn, e[i].orig, strlen(e[i].orig),
			    val.data, val.len);
		} else {
			ret = record_del(j->db, txn, e[i].orig,
			    strlen(e[i].orig));
		}
		if (ret != 0)
			goto fail;
	}
	ret = txn->commit(txn, sync ? DB_TXN_SYNC : DB_TXN_NOSYNC);
	txn = NULL;
	if (ret != 0)
		goto fail;
	if (sync)
		strmap_clear(&j->unsynced);	/* the log is on disk up to here */
	else
		for (i = 0; i < n; i++)
			strmap_put(&j->unsynced, e[i].orig, 1);
	buf_free(&val);
	return (0);

fail:
	if (txn != NULL)
		(void)txn->abort(txn);
	buf_free(&val);
	*error_r = xasprintf("journal %s: %s", put ? "write" : "clear",
	    db_strerror(ret));
	errno = ret > 0 ? ret : EIO;
	return (-1);
}

int
journal_begin(struct journal *j, DB_TXN **txn_r, char **error_r)
{
	int	 ret;

	if ((ret = j->sdb->env->txn_begin(j->sdb->env, NULL, txn_r, 0)) != 0) {
		*error_r = xasprintf("journal: begin transaction: %s",
		    db_strerror(ret));
		errno = ret > 0 ? ret : EIO;
		return (-1);
	}
	return (0);
}

int
journal_add(struct journal *j, DB_TXN *txn, const struct journal_entry *e,
    char **error_r)
{
	struct buf	 val = BUF_INIT;
	int		 ret;

	journal_entry_text(e, &val);
	ret = record_put(j->db, txn, e->orig, strlen(e->orig), val.data,
	    val.len);
	buf_free(&val);
	if (ret != 0) {
		*error_r = xasprintf("journal write: %s", db_strerror(ret));
		errno = ret > 0 ? ret : EIO;
		return (-1);
	}
	return (0);
}

int
journal_remove(struct journal *j, DB_TXN *txn, const struct journal_entry *e,
    char **error_r)
{
	int	 ret;

	(void)j;
	if ((ret = record_del(j->db, txn, e->orig, strlen(e->orig))) != 0) {
		*error_r = xasprintf("journal clear: %s", db_strerror(ret));
		errno = ret > 0 ? ret : EIO;
		return (-1);
	}
	return (0);
}

int
journal_commit(struct journal *j, DB_TXN *txn, char **error_r)
{
	int	 ret;

	if ((ret = txn->commit(txn, DB_TXN_SYNC)) != 0) {
		*error_r = xasprintf("journal commit: %s", db_strerror(ret));
		errno = ret > 0 ? ret : EIO;
		return (-1);
	}
	strmap_clear(&j->unsynced);
	return (0);
}

void
journal_abort(DB_TXN *txn)
{
	if (txn != NULL)
		(void)txn->abort(txn);
}

int
journal_put(struct journal *j, const struct journal_entry *e, size_t n,
    char **error_r)
{
	return (journal_txn(j, e, n, true, true, error_r));
}

int
journal_del(struct journal *j, const struct journal_entry *e, size_t n,
    char **error_r)
{
	return (journal_txn(j, e, n, false, false, error_r));
}

int
journal_del_sync(struct journal *j, const struct journal_entry *e, size_t n,
    char **error_r)
{
	return (journal_txn(j, e, n, false, true, error_r));
}

int
journal_flush(struct journal *j, char **error_r)
{
	int	 ret;

	if (j->unsynced.used == 0)
		return (0);
	if ((ret = j->sdb->env->log_flush(j->sdb->env, NULL)) != 0) {
		*error_r = xasprintf("journal flush: %s", db_strerror(ret));
		errno = ret > 0 ? ret : EIO;
		return (-1);
	}
	strmap_clear(&j->unsynced);
	return (0);
}

int
journal_settle(struct journal *j, const char *orig, char **error_r)
{
	if (!strmap_get(&j->unsynced, orig, NULL))
		return (0);
	return (journal_flush(j, error_r));
}

/* journal_list()'s collector. */
struct entries {
	struct journal_entry *v;
	size_t		 n;
	char		*bad;		/* the key of a malformed entry */
};

static int
collect(void *arg, const struct record *r)
{
	struct entries	*es = arg;

	es->v = xreallocarray(es->v, es->n + 1, sizeof(*es->v));
	if (journal_entry_parse(r->val, r->vlen, &es->v[es->n]) < 0) {
		es->bad = xasprintf("%.*s", (int)(r->klen > 200 ? 200 : r->klen),
		    (const char *)r->key);
		return (1);
	}
	es->n++;
	return (0);
}

int
journal_list(struct journal *j, struct journal_entry **entries_r,
    size_t *n_r, char **error_r)
{
	struct record_walk w;
	struct entries	 es = { NULL, 0, NULL };
	int		 ret;

	memset(&w, 0, sizeof(w));
	w.db = j->db;
	if ((ret = record_walk(j->sdb, &w, collect, &es)) != 0) {
		free(es.v);
		*error_r = xasprintf("journal read: %s", db_strerror(ret));
		errno = ret > 0 ? ret : EIO;
		return (-1);
	}
	if (es.bad != NULL) {
		*error_r = xasprintf("journal: malformed entry %s", es.bad);
		free(es.bad);
		free(es.v);
		errno = EINVAL;
		return (-1);
	}
	*entries_r = es.v;
	*n_r = es.n;
	return (0);
}
