/*
 * NAME
 *	index - the quarantine's Berkeley DB index
 * DESCRIPTION
 *	The index lives in the state environment, beside the journal:
 *	  quarantine.db       btree, qid -> entry (the primary)
 *	  quarantine-time.db  btree with sorted duplicates, quarantine time
 *	                      (8 bytes, big-endian) -> qid
 *	  quarantine-rcpt.db  btree with sorted duplicates, each envelope
 *	                      recipient (lower case) -> qid
 *	  quarantine-orig.db  btree with sorted duplicates, the original
 *	                      message (queue id, newline, arrival time) -> qid:
 *	                      a message is quarantined once, and released once
 *	  quarantine-sender.db btree with sorted duplicates, "a" and the
 *	                      sender (lower case; "a" alone for the null
 *	                      sender) -> qid, and "d" and the sender's domain,
 *	                      its labels reversed and each followed by a dot
 *	                      ("dorg.example.mail." for mail.example.org) ->
 *	                      qid: a domain and its subdomains are the keys
 *	                      that begin with the domain's
 *	The secondaries are maintained by Berkeley DB (DB->associate), so
 *	they change in the same transaction as the primary; holdscand
 *	indexes a batch's copies inside the batch's journal transaction.
 *	All are opened with DB_MULTIVERSION: queries read a snapshot and
 *	take no read locks, and the tool's writes never wait for a lock
 *	(DB_TXN_NOWAIT, retried), so neither can hold up holdscand.
 *
 *	An entry is a short text, one field per line (backslash escapes for
 *	newline, backslash and NUL), readable with db_dump -p:
 *	  1, quarantined, arrival, size, state, state time, releases,
 *	  original queue id, verdict, reason, relative path, new queue id,
 *	  sender, subject, released to, recipient count, recipients...
 *
 *	This file must never touch a file of the store, and never report an
 *	index change that was not committed.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "quarantine/internal.h"
#include "state/record.h"

static const char *const state_names[] = { "held", "released", "deleted" };

const char *
quarantine_state_name(enum quarantine_state s)
{
	return ((unsigned)s < 3 ? state_names[s] : "?");
}

enum quarantine_rc
q_rc_of(int ret)
{
	if (ret == 0)
		return (QUARANTINE_OK);
	if (ret == DB_NOTFOUND || ret == DB_KEYEMPTY)
		return (QUARANTINE_NOTFOUND);
	if (ret == DB_LOCK_DEADLOCK || ret == DB_LOCK_NOTGRANTED)
		return (QUARANTINE_BUSY);
	return (QUARANTINE_ERROR);
}

void
q_pause(void)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };

	(void)nanosleep(&ts, NULL);
}
/* --- the entry format ---------------------------------------------------- */

static void
put_field(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_append(out, "\\\\", 2);
		else if (*s == '\n')
			buf_append(out, "\\n", 2);
		else
			buf_putc(out, *s);
	}
	buf_putc(out, '\n');
}

void
quarantine_encode(const struct quarantine_entry *e, struct buf *out)
{
	size_t	 i;

	buf_reset(out);
	buf_printf(out, Q_FORMAT "\n%lld\n%lld\n%" PRIu64 "\n%s\n%lld\n%u\n",
	    (long long)e->quarantined, (long long)e->arrival, e->size,
	    quarantine_state_name(e->state), (long long)e->state_time,
	    e->releases);
	put_field(out, e->orig_id);
	put_field(out, e->verdict);
	put_field(out, e->reason);
	put_field(out, e->relpath);
	put_field(out, e->new_id);
	put_field(out, e->sender ? e->sender : "");
	put_field(out, e->subject ? e->subject : "");
	put_field(out, e->released_to ? e->released_to : "");
	buf_printf(out, "%zu\n", e->nrcpts);
	for (i = 0; i < e->nrcpts; i++)
		put_field(out, e->rcpts[i]);
}

/* The raw line i of an encoded entry: pointer and length, or NULL. */
static const char *
field_at(const char *data, size_t len, size_t idx, size_t *flen)
{
	size_t	 pos = 0, end;

	for (;;) {
		const char	*nl = memchr(data + pos, '\n', len - pos);

		if (nl == NULL)
			return (NULL);
		end = (size_t)(nl - data);
		if (idx-- == 0) {
			*flen = end - pos;
			return (data + pos);
		}
		pos = end + 1;
		if (pos >= len)
			return (NULL);
	}
}

/* Unescape a raw field into a new string. */
static char *
field_str(const char *s, size_t n)
{
	char	*out = xmalloc(n + 1), *o = out;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			i++;
			*o++ = s[i] == 'n' ? '\n' : s[i] == '0' ? '\0' : s[i];
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return (out);
}

static int
field_num(const char *s, size_t n, long long *v_r)
{
	char	 tmp[32], *end;

	if (n == 0 || n >= sizeof(tmp))
		return (-1);
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	*v_r = strtoll(tmp, &end, 10);
	return (errno || *end != '\0' ? -1 : 0);
}

static void
field_fixed(char *dst, size_t size, const char *s, size_t n)
{
	char	*v = field_str(s, n);

	(void)snprintf(dst, size, "%s", v);
	free(v);
}

int
quarantine_decode(const void *vdata, size_t len, struct quarantine_entry *e)
{
	const char	*data = vdata, *f[Q_NFIXED];
	size_t		 fl[Q_NFIXED], i, pos;
	long long	 v[7];
	int		 st;

	memset(e, 0, sizeof(*e));
	pos = 0;
	for (i = 0; i < Q_NFIXED; i++) {
		const char	*nl;

		if (pos >= len || (nl = memchr(data + pos, '\n', len - pos)) ==
		    NULL)
			return (-1);
		f[i] = data + pos;
		fl[i] = (size_t)(nl - f[i]);
		pos += fl[i] + 1;
	}
	if (fl[0] != 1 || f[0][0] != Q_FORMAT[0])
		return (-1);
	for (i = 1; i <= 6; i++) {
		if (i == 4)
			continue;
		if (field_num(f[i], fl[i], &v[i]) < 0 || v[i] < 0)
			return (-1);
	}
	for (st = 0; st < 3; st++)
		if (strlen(state_names[st]) == fl[4] &&
		    memcmp(state_names[st], f[4], fl[4]) == 0)
			break;
	if (st == 3 || field_num(f[15], fl[15], &v[0]) < 0 || v[0] < 0 ||
	    v[0] > 1000000)
		return (-1);
	e->quarantined = (time_t)v[1];
	e->arrival = (time_t)v[2];
	e->size = (uint64_t)v[3];
	e->state = (enum quarantine_state)st;
	e->state_time = (time_t)v[5];
	e->releases = (unsigned)v[6];
	field_fixed(e->orig_id, sizeof(e->orig_id), f[7], fl[7]);
	field_fixed(e->verdict, sizeof(e->verdict), f[8], fl[8]);
	field_fixed(e->reason, sizeof(e->reason), f[9], fl[9]);
	field_fixed(e->relpath, sizeof(e->relpath), f[10], fl[10]);
	field_fixed(e->new_id, sizeof(e->new_id), f[11], fl[11]);
	e->sender = field_str(f[12], fl[12]);
	e->subject = field_str(f[13], fl[13]);
	e->released_to = field_str(f[14], fl[14]);
	e->rcpts = xcalloc((size_t)v[0] + 1, sizeof(*e->rcpts));
	for (i = 0; i < (size_t)v[0]; i++) {
		const char	*nl;

		if (pos >= len || (nl = memchr(data + pos, '\n', len - pos)) ==
		    NULL) {
			quarantine_entry_clear(e);
			return (-1);
		}
		e->rcpts[i] = field_str(data + pos, (size_t)(nl - data) - pos);
		e->nrcpts++;
		pos = (size_t)(nl - data) + 1;
	}
	/* The id is the key; the file name says it too. */
	{
		const char	*slash = strrchr(e->relpath, '/');

		(void)snprintf(e->qid, sizeof(e->qid), "%s",
		    slash ? slash + 1 : e->relpath);
	}
	return (0);
}

void
quarantine_entry_clear(struct quarantine_entry *e)
{
	size_t	 i;

	for (i = 0; i < e->nrcpts; i++)
		free(e->rcpts[i]);
	free(e->rcpts);
	free(e->sender);
	free(e->subject);
	free(e->released_to);
	e->rcpts = NULL;
	e->nrcpts = 0;
	e->sender = e->subject = e->released_to = NULL;
}

/* --- secondary keys ---------------------------------------------------------- */

void
q_time_bytes(time_t t, unsigned char out[8])
{
	uint64_t	 v = t < 0 ? 0 : (uint64_t)t;
	int		 i;

	for (i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

time_t
q_bytes_time(const void *p)
{
	const unsigned char *b = p;
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | b[i];
	return ((time_t)v);
}

static int
time_key(DB *sec, const DBT *pkey, const DBT *pdata, DBT *skey)
{
	const char	*f;
	size_t		 fl;
	long long	 t;
	unsigned char	*k;

	(void)sec;
	(void)pkey;
	if ((f = field_at(pdata->data, pdata->size, 1, &fl)) == NULL ||
	    field_num(f, fl, &t) < 0)
		return (DB_DONOTINDEX);
	k = xmalloc(8);
	q_time_bytes((time_t)t, k);
	memset(skey, 0, sizeof(*skey));
	skey->data = k;
	skey->size = 8;
	skey->flags = DB_DBT_APPMALLOC;
	return (0);
}

static int
cmp_str(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

static int
rcpt_keys(DB *sec, const DBT *pkey, const DBT *pdata, DBT *skey)
{
	struct quarantine_entry e;
	char		**k;
	DBT		*v;
	size_t		 i, n = 0;

	(void)sec;
	(void)pkey;
	if (quarantine_decode(pdata->data, pdata->size, &e) < 0 ||
	    e.nrcpts == 0) {
		quarantine_entry_clear(&e);
		return (DB_DONOTINDEX);
	}
	k = xcalloc(e.nrcpts, sizeof(*k));
	for (i = 0; i < e.nrcpts; i++)
		k[i] = xstrdup_lower(e.rcpts[i]);
	qsort(k, e.nrcpts, sizeof(*k), cmp_str);
	v = xcalloc(e.nrcpts, sizeof(*v));
	for (i = 0; i < e.nrcpts; i++) {
		if (n > 0 && strcmp(k[i], v[n - 1].data) == 0) {
			free(k[i]);	/* the same address twice: one key */
			continue;
		}
		v[n].data = k[i];
		v[n].size = (u_int32_t)strlen(k[i]);
		v[n].flags = DB_DBT_APPMALLOC;
		n++;
	}
	free(k);
	quarantine_entry_clear(&e);
	memset(skey, 0, sizeof(*skey));
	skey->data = v;
	skey->size = (u_int32_t)n;
	skey->flags = DB_DBT_MULTIPLE | DB_DBT_APPMALLOC;
	return (0);
}

/* The original message: its queue id and arrival time ("ID\nTIME"). */
void
q_orig_keybuf(const char *id, size_t idlen, const char *arr, size_t arrlen,
    struct buf *out)
{
	buf_reset(out);
	buf_append(out, id, idlen);
	buf_putc(out, '\n');
	buf_append(out, arr, arrlen);
}

static int
orig_key(DB *sec, const DBT *pkey, const DBT *pdata, DBT *skey)
{
	struct buf	 k = BUF_INIT;
	const char	*id, *arr;
	size_t		 il, al;

	(void)sec;
	(void)pkey;
	if ((id = field_at(pdata->data, pdata->size, 7, &il)) == NULL ||
	    il == 0 || (arr = field_at(pdata->data, pdata->size, 2, &al)) ==
	    NULL)
		return (DB_DONOTINDEX);
	q_orig_keybuf(id, il, arr, al, &k);
	memset(skey, 0, sizeof(*skey));
	skey->size = (u_int32_t)k.len;
	skey->data = buf_steal(&k, NULL);
	skey->flags = DB_DBT_APPMALLOC;
	return (0);
}

/* Append domain (n bytes) in lower case, its labels reversed, each ending in a dot. */
static void
rev_domain(const char *dom, size_t n, struct buf *out)
{
	size_t	 end = n, start, i;

	while (end > 0) {
		start = end;
		while (start > 0 && dom[start - 1] != '.')
			start--;
		if (end > start) {
			for (i = start; i < end; i++)
				buf_putc(out, (char)tolower((unsigned char)dom[i]));
			buf_putc(out, '.');
		}
		end = start > 0 ? start - 1 : 0;
	}
}

static int
sender_keys(DB *sec, const DBT *pkey, const DBT *pdata, DBT *skey)
{
	struct buf	 a = BUF_INIT, d = BUF_INIT;
	const char	*f, *at;
	char		*sender;
	size_t		 fl, i, n = 1;
	DBT		*v;

	(void)sec;
	(void)pkey;
	if ((f = field_at(pdata->data, pdata->size, 12, &fl)) == NULL)
		return (DB_DONOTINDEX);
	sender = field_str(f, fl);
	buf_putc(&a, 'a');
	for (i = 0; sender[i] != '\0'; i++)
		buf_putc(&a, (char)tolower((unsigned char)sender[i]));
	if ((at = strrchr(sender, '@')) != NULL && at[1] != '\0') {
		buf_putc(&d, 'd');
		rev_domain(at + 1, strlen(at + 1), &d);
		n = 2;
	}
	free(sender);
	v = xcalloc(n, sizeof(*v));
	v[0].size = (u_int32_t)a.len;
	v[0].data = buf_steal(&a, NULL);
	v[0].flags = DB_DBT_APPMALLOC;
	if (n == 2) {
		v[1].size = (u_int32_t)d.len;
		v[1].data = buf_steal(&d, NULL);
		v[1].flags = DB_DBT_APPMALLOC;
	}
	memset(skey, 0, sizeof(*skey));
	skey->data = v;
	skey->size = (u_int32_t)n;
	skey->flags = DB_DBT_MULTIPLE | DB_DBT_APPMALLOC;
	return (0);
}

static bool
domain_char(char c)
{
	return (isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_');
}

enum quarantine_sender_kind
quarantine_sender_match(const char *s, char **norm_r)
{
	const char	*at = strrchr(s, '@'), *dom = NULL, *p;
	size_t		 i;

	if (strcmp(s, "<>") == 0) {
		*norm_r = xstrdup("");
		return (QSENDER_ADDRESS);
	}
	for (p = s; *p; p++)
		if (isspace((unsigned char)*p) || *p == ',')
			break;
	if (*p == '\0') {
		if (at != NULL && at != s && at[1] != '\0') {
			*norm_r = xstrdup_lower(s);
			return (QSENDER_ADDRESS);
		}
		if (at == s)
			dom = s + 1;
		else if (at == NULL && strchr(s, '.') != NULL)
			dom = s;
	}
	if (dom != NULL && dom[0] != '.' && dom[0] != '\0' &&
	    dom[strlen(dom) - 1] != '.' && strstr(dom, "..") == NULL) {
		for (i = 0; dom[i] != '\0' && domain_char(dom[i]); i++)
			;
		if (dom[i] == '\0') {
			*norm_r = xstrdup_lower(dom);
			return (QSENDER_DOMAIN);
		}
	}
	*norm_r = xstrdup(s);
	return (QSENDER_SUBSTRING);
}

/* --- open, close ------------------------------------------------------------ */

/* Has every secondary an entry, as a snapshot sees it now? */
static bool
secondaries_filled(struct quarantine *q)
{
	DB	*dbs[] = { q->by_time, q->by_rcpt, q->by_orig, q->by_sender };
	DB_TXN	*snap = NULL;
	size_t	 i;
	int	 ret = 0;
	bool	 filled = true;

	if (q->sdb->env->txn_begin(q->sdb->env, NULL, &snap,
	    DB_TXN_SNAPSHOT) != 0)
		return (false);
	for (i = 0; filled && i < sizeof(dbs) / sizeof(dbs[0]); i++)
		filled = record_any(dbs[i], snap, &ret) > 0;
	(void)snap->commit(snap, 0);
	return (filled);
}

/* Tie the four secondaries to the primary, in txn (or none) with flags. */
static int
associate_all(struct quarantine *q, DB_TXN *txn, u_int32_t flags)
{
	int	 ret;

	if ((ret = q->db->associate(q->db, txn, q->by_time, time_key,
	    flags)) != 0 ||
	    (ret = q->db->associate(q->db, txn, q->by_rcpt, rcpt_keys,
	    flags)) != 0 ||
	    (ret = q->db->associate(q->db, txn, q->by_orig, orig_key,
	    flags)) != 0)
		return (ret);
	return (q->db->associate(q->db, txn, q->by_sender, sender_keys,
	    flags));
}

/*
 * Open the index's four databases and tie the secondaries to the primary.
 * The associating transaction reads the secondaries (and fills an empty
 * one), so it can lose a deadlock against holdscand's commits: 0, or the
 * Berkeley DB error with *error_r set and q's handles left for the caller
 * to close.
 */
static int
open_index(struct quarantine *q, char **error_r)
{
	struct statedb	*sdb = q->sdb;
	DB_TXN		*txn = NULL;
	int		 ret;

	if (statedb_open_db_flags(sdb, Q_DB, 0, DB_MULTIVERSION, &q->db,
	    error_r) < 0 ||
	    statedb_open_db_flags(sdb, Q_TIME_DB, DB_DUP | DB_DUPSORT,
	    DB_MULTIVERSION, &q->by_time, error_r) < 0 ||
	    statedb_open_db_flags(sdb, Q_RCPT_DB, DB_DUP | DB_DUPSORT,
	    DB_MULTIVERSION, &q->by_rcpt, error_r) < 0 ||
	    statedb_open_db_flags(sdb, Q_ORIG_DB, DB_DUP | DB_DUPSORT,
	    DB_MULTIVERSION, &q->by_orig, error_r) < 0 ||
	    statedb_open_db_flags(sdb, Q_SENDER_DB, DB_DUP | DB_DUPSORT,
	    DB_MULTIVERSION, &q->by_sender, error_r) < 0)
		return (EIO);
	/*
	 * Indexes that have entries need no filling: tied without a
	 * transaction, they take no lock (seen from a snapshot, which takes
	 * none either), so a holdscan command's open never waits for
	 * holdscand's commits nor deadlocks with them.
	 */
	if (secondaries_filled(q)) {
		if ((ret = associate_all(q, NULL, 0)) != 0) {
			*error_r = xasprintf("%s: quarantine index: %s",
			    sdb->dir, db_strerror(ret));
			return (ret);
		}
		return (0);
	}
	if ((ret = sdb->env->txn_begin(sdb->env, NULL, &txn, 0)) != 0 ||
	    (ret = associate_all(q, txn, DB_CREATE)) != 0 ||
	    (ret = txn->commit(txn, 0)) != 0) {
		if (txn != NULL && ret != 0)
			(void)txn->abort(txn);
		*error_r = xasprintf("%s: quarantine index: %s", sdb->dir,
		    db_strerror(ret));
		return (ret);
	}
	return (0);
}

/* Close the index's databases, secondaries first; q stays. */
static void
close_index(struct quarantine *q)
{
	DB	**dbs[] = { &q->by_time, &q->by_rcpt, &q->by_orig,
	    &q->by_sender, &q->db };
	size_t	 i;

	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
		if (*dbs[i] != NULL) {
			(void)(*dbs[i])->close(*dbs[i], 0);
			*dbs[i] = NULL;
		}
}

int
quarantine_open(const struct hs_config *conf, struct statedb *sdb, uid_t uid,
    gid_t gid, struct quarantine **q_r, char **error_r)
{
	struct quarantine *q;
	int		 fd, ret, tries;

	if ((fd = open(conf->quarantine_directory, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0) {
		*error_r = xasprintf("quarantine_directory %s: %s",
		    conf->quarantine_directory, strerror(errno));
		return (-1);
	}
	q = xcalloc(1, sizeof(*q));
	q->dir = xstrdup(conf->quarantine_directory);
	q->dirfd = fd;
	q->uid = uid;
	q->gid = gid;
	q->sdb = sdb;
	for (tries = 0; (ret = open_index(q, error_r)) != 0; tries++) {
		close_index(q);
		if (q_rc_of(ret) != QUARANTINE_BUSY || tries + 1 >= Q_RETRIES) {
			quarantine_close(&q);
			return (-1);
		}
		free(*error_r);
		*error_r = NULL;
		q_pause();
	}
	*q_r = q;
	return (0);
}

void
quarantine_close(struct quarantine **qp)
{
	struct quarantine *q = *qp;

	if (q == NULL)
		return;
	close_index(q);
	(void)close(q->dirfd);
	free(q->dir);
	free(q);
	*qp = NULL;
}

const char *
quarantine_dir(const struct quarantine *q)
{
	return (q->dir);
}

/* --- index access ------------------------------------------------------------ */

enum quarantine_rc
q_db_fail(int ret, const char *what, char **error_r)
{
	enum quarantine_rc rc = q_rc_of(ret);

	if (rc == QUARANTINE_ERROR || rc == QUARANTINE_BUSY)
		*error_r = xasprintf("quarantine index: %s: %s", what,
		    db_strerror(ret));
	return (rc);
}

enum quarantine_rc
quarantine_put(struct quarantine *q, DB_TXN *txn,
    const struct quarantine_entry *e, char **error_r)
{
	struct buf	 val = BUF_INIT;
	int		 ret;

	quarantine_encode(e, &val);
	ret = record_put(q->db, txn, e->qid, strlen(e->qid), val.data, val.len);
	buf_free(&val);
	return (ret == 0 ? QUARANTINE_OK : q_db_fail(ret, e->qid, error_r));
}

int
quarantine_index(struct quarantine *q, DB_TXN *txn,
    const struct quarantine_entry *e, char **error_r)
{
	return (quarantine_put(q, txn, e, error_r) == QUARANTINE_OK ? 0 : -1);
}

enum quarantine_rc
quarantine_get(struct quarantine *q, DB_TXN *txn, const char *qid, bool rmw,
    struct quarantine_entry *e, char **error_r)
{
	void	*val;
	size_t	 len;
	int	 r, ret;

	memset(e, 0, sizeof(*e));
	if ((r = record_get(q->db, txn, qid, strlen(qid), rmw ? DB_RMW : 0,
	    &val, &len, &ret)) <= 0)
		return (r == 0 ? QUARANTINE_NOTFOUND : q_db_fail(ret, qid,
		    error_r));
	ret = quarantine_decode(val, len, e);
	free(val);
	if (ret < 0) {
		*error_r = xasprintf("quarantine index: %s: malformed entry", qid);
		return (QUARANTINE_ERROR);
	}
	return (QUARANTINE_OK);
}

int
quarantine_txn_begin(struct quarantine *q, DB_TXN **txn_r, char **error_r)
{
	int	 ret;

	if ((ret = q->sdb->env->txn_begin(q->sdb->env, NULL, txn_r,
	    DB_TXN_NOWAIT)) != 0) {
		*error_r = xasprintf("quarantine index: begin: %s",
		    db_strerror(ret));
		return (-1);
	}
	return (0);
}

int
quarantine_txn_commit(DB_TXN *txn, char **error_r)
{
	int	 ret;

	if ((ret = txn->commit(txn, DB_TXN_SYNC)) != 0) {
		*error_r = xasprintf("quarantine index: commit: %s",
		    db_strerror(ret));
		return (-1);
	}
	return (0);
}

/*
 * Change one entry in its own transaction, retrying while the index is
 * busy. mod returns QUARANTINE_OK to write the entry, anything else to
 * leave it (returned as is).
 */

enum quarantine_rc
q_modify(struct quarantine *q, const char *qid, q_modify_fn mod, void *arg,
    struct quarantine_entry *out, char **error_r)
{
	struct quarantine_entry e;
	enum quarantine_rc rc;
	DB_TXN		*txn;
	int		 tries;

	for (tries = 0; tries < Q_RETRIES; tries++) {
		char	*error = NULL;

		if (quarantine_txn_begin(q, &txn, error_r) < 0)
			return (QUARANTINE_ERROR);
		rc = quarantine_get(q, txn, qid, true, &e, &error);
		if (rc == QUARANTINE_OK) {
			rc = mod(&e, arg);
			if (rc == QUARANTINE_OK)
				rc = quarantine_put(q, txn, &e, &error);
			else
				goto done;	/* nothing to write */
		}
		if (rc == QUARANTINE_OK) {
			if (quarantine_txn_commit(txn, error_r) < 0) {
				quarantine_entry_clear(&e);
				return (QUARANTINE_ERROR);
			}
			txn = NULL;
		}
done:
		if (txn != NULL)
			(void)txn->abort(txn);
		if (rc == QUARANTINE_BUSY) {
			quarantine_entry_clear(&e);
			free(error);
			q_pause();
			continue;
		}
		if (rc == QUARANTINE_ERROR)
			*error_r = error;
		else
			free(error);
		if (out != NULL && (rc == QUARANTINE_OK ||
		    rc == QUARANTINE_UNCHANGED))
			*out = e;
		else
			quarantine_entry_clear(&e);
		return (rc);
	}
	*error_r = xasprintf("quarantine index: %s: still busy after %d tries",
	    qid, Q_RETRIES);
	return (QUARANTINE_ERROR);
}

static enum quarantine_rc
mod_new_id(struct quarantine_entry *e, void *arg)
{
	(void)snprintf(e->new_id, sizeof(e->new_id), "%s", (const char *)arg);
	return (QUARANTINE_OK);
}

int
quarantine_set_new_id(struct quarantine *q, const char *qid,
    const char *new_id, char **error_r)
{
	enum quarantine_rc rc;

	rc = q_modify(q, qid, mod_new_id, (void *)new_id, NULL, error_r);
	if (rc == QUARANTINE_NOTFOUND)
		return (0);	/* expired meanwhile: nothing to record */
	return (rc == QUARANTINE_OK ? 0 : -1);
}

/* A read of the index failed: close what it opened; -1 with the error. */
/* --- queries ----------------------------------------------------------------- */

/* Does the n bytes at hay hold needle, in any case? */
static bool
contains_icase_n(const char *hay, size_t n, const char *needle)
{
	size_t	 m = strlen(needle), i;

	for (i = 0; i + m <= n; i++)
		if (strncasecmp(hay + i, needle, m) == 0)
			return (true);
	return (false);
}

/*
 * A raw field of an encoded entry cannot hold needle (it has no escape,
 * so its bytes are the text): the entry need not be decoded.
 */
static bool
raw_lacks(const struct record *r, size_t idx, const char *needle)
{
	const char	*f;
	size_t		 fl;

	if (needle == NULL || (f = field_at(r->val, r->vlen, idx, &fl)) == NULL ||
	    memchr(f, '\\', fl) != NULL)
		return (false);
	return (!contains_icase_n(f, fl, needle));
}

static bool
contains_icase(const char *hay, const char *needle)
{
	size_t	 n = strlen(needle);

	if (n == 0)
		return (true);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return (true);
	return (false);
}

/* The domain of address a (after its last "@"), or NULL. */
static const char *
domain_of(const char *a)
{
	const char	*at = strrchr(a, '@');

	return (at != NULL ? at + 1 : NULL);
}

/* Is dom the domain d or one of its subdomains (any case)? */
static bool
in_domain(const char *dom, const char *d)
{
	size_t	 n = strlen(dom), m = strlen(d);

	if (n == m)
		return (strcasecmp(dom, d) == 0);
	return (n > m && dom[n - m - 1] == '.' &&
	    strcasecmp(dom + n - m, d) == 0);
}

/* quarantine_list()'s walk: the time range, the filters, the caller. */
struct list_walk {
	const struct quarantine_query *qq;
	enum quarantine_sender_kind skind;
	char		*sender;	/* quarantine_sender_match()'s text */
	bool		 by_time;	/* walking the time index */
	const struct buf *prefix;	/* only keys that begin with it */
	size_t		 walked;
	bool		 stopped;	/* at qq->max_walk */
	quarantine_each_fn fn;
	void		*arg;
};

static bool
matches(const struct list_walk *lw, const struct quarantine_entry *e)
{
	const struct quarantine_query *qq = lw->qq;
	const char	*dom;

	if (qq->since != 0 && e->quarantined < qq->since)
		return (false);
	if (qq->until != 0 && e->quarantined > qq->until)
		return (false);
	if (qq->state >= 0 && (int)e->state != qq->state)
		return (false);
	if (lw->sender != NULL) {
		switch (lw->skind) {
		case QSENDER_ADDRESS:
			if (strcasecmp(e->sender, lw->sender) != 0)
				return (false);
			break;
		case QSENDER_DOMAIN:
			if ((dom = domain_of(e->sender)) == NULL ||
			    !in_domain(dom, lw->sender))
				return (false);
			break;
		case QSENDER_SUBSTRING:
			if (!contains_icase(e->sender, lw->sender))
				return (false);
			break;
		}
	}
	if (qq->reason != NULL && !contains_icase(e->reason, qq->reason) &&
	    !contains_icase(e->verdict, qq->reason))
		return (false);
	if (qq->subject != NULL && !contains_icase(e->subject, qq->subject))
		return (false);
	return (true);
}

static int
list_step(void *arg, const struct record *r)
{
	struct list_walk *lw = arg;
	struct quarantine_entry e;
	int		 stop = 0;

	if (lw->by_time && lw->qq->until != 0 && r->klen == 8 &&
	    q_bytes_time(r->key) > lw->qq->until)
		return (1);
	if (lw->prefix != NULL && (r->klen < lw->prefix->len ||
	    memcmp(r->key, lw->prefix->data, lw->prefix->len) != 0))
		return (1);
	if (lw->qq->max_walk != 0 && lw->walked++ >= lw->qq->max_walk) {
		lw->stopped = true;
		return (1);
	}
	/* Substrings first on the raw text: most entries fail them. */
	if ((lw->skind == QSENDER_SUBSTRING && raw_lacks(r, 12, lw->sender)) ||
	    raw_lacks(r, 13, lw->qq->subject))
		return (0);
	if (quarantine_decode(r->val, r->vlen, &e) < 0)
		return (0);	/* the check reports it */
	if (matches(lw, &e))
		stop = lw->fn(lw->arg, &e);
	quarantine_entry_clear(&e);
	return (stop);
}

int
quarantine_list(struct quarantine *q, const struct quarantine_query *qq,
    quarantine_each_fn fn, void *arg, char **error_r)
{
	struct list_walk lw;
	struct record_walk w;
	struct buf	 key = BUF_INIT;
	unsigned char	 tkey[8];
	char		*rkey = NULL;
	int		 ret;

	memset(&lw, 0, sizeof(lw));
	lw.qq = qq;
	lw.fn = fn;
	lw.arg = arg;
	if (qq->sender != NULL)
		lw.skind = quarantine_sender_match(qq->sender, &lw.sender);
	memset(&w, 0, sizeof(w));
	w.secondary = true;
	w.snapshot = true;
	if (qq->rcpt != NULL) {
		rkey = xstrdup_lower(qq->rcpt);
		w.db = q->by_rcpt;
		w.from = rkey;
		w.fromlen = strlen(rkey);
		w.exact = true;
	} else if (lw.sender != NULL && lw.skind != QSENDER_SUBSTRING) {
		w.db = q->by_sender;
		if (lw.skind == QSENDER_ADDRESS) {
			buf_putc(&key, 'a');
			buf_append(&key, lw.sender, strlen(lw.sender));
			w.exact = true;
		} else {
			buf_putc(&key, 'd');
			rev_domain(lw.sender, strlen(lw.sender), &key);
			lw.prefix = &key;
		}
		w.from = key.data;
		w.fromlen = key.len;
	} else {
		w.db = q->by_time;
		lw.by_time = true;
		if (qq->since != 0) {
			q_time_bytes(qq->since, tkey);
			w.from = tkey;
			w.fromlen = sizeof(tkey);
		}
	}
	ret = record_walk(q->sdb, &w, list_step, &lw);
	free(rkey);
	free(lw.sender);
	buf_free(&key);
	if (ret != 0) {
		*error_r = xasprintf("quarantine index: %s", db_strerror(ret));
		return (-1);
	}
	return (lw.stopped ? 1 : 0);
}

/* quarantine_counts()'s walk. */
struct counts {
	size_t		*count;
	uint64_t	*bytes;
};

static int
count_step(void *arg, const struct record *r)
{
	struct counts	*c = arg;
	const char	*f;
	size_t		 fl;
	long long	 size;
	int		 st;

	if ((f = field_at(r->val, r->vlen, 4, &fl)) == NULL)
		return (0);
	for (st = 0; st < 3; st++)
		if (strlen(state_names[st]) == fl &&
		    memcmp(state_names[st], f, fl) == 0)
			break;
	if (st == 3)
		return (0);
	c->count[st]++;
	if ((f = field_at(r->val, r->vlen, 3, &fl)) != NULL &&
	    field_num(f, fl, &size) == 0 && size > 0)
		c->bytes[st] += (uint64_t)size;
	return (0);
}

int
quarantine_counts(struct quarantine *q, size_t count[3], uint64_t bytes[3],
    char **error_r)
{
	struct counts	 c = { count, bytes };
	struct record_walk w;
	size_t		 i;
	int		 ret;

	for (i = 0; i < 3; i++) {
		count[i] = 0;
		bytes[i] = 0;
	}
	memset(&w, 0, sizeof(w));
	w.db = q->db;
	w.snapshot = true;
	if ((ret = record_walk(q->sdb, &w, count_step, &c)) != 0) {
		*error_r = xasprintf("quarantine index: %s", db_strerror(ret));
		return (-1);
	}
	return (0);
}


/* q_each_of_original()'s walk: decode, skip except, call fn. */
struct orig_walk {
	const char	*except;
	q_orig_fn		 fn;
	void		*arg;
};

static int
orig_step(void *arg, const struct record *r)
{
	struct orig_walk *ow = arg;
	struct quarantine_entry e;
	int		 stop = 0;

	if (quarantine_decode(r->val, r->vlen, &e) < 0)
		return (0);
	if (strcmp(e.qid, ow->except) != 0)
		stop = ow->fn(ow->arg, &e);
	quarantine_entry_clear(&e);
	return (stop);
}

int
q_each_of_original(struct quarantine *q, DB_TXN *txn, const char *orig_id,
    time_t arrival, const char *except, q_orig_fn fn, void *arg,
    char **error_r)
{
	struct orig_walk ow = { except, fn, arg };
	struct record_walk w;
	struct buf	 k = BUF_INIT;
	char		 arr[32];
	int		 ret;

	(void)snprintf(arr, sizeof(arr), "%lld", (long long)arrival);
	q_orig_keybuf(orig_id, strlen(orig_id), arr, strlen(arr), &k);
	memset(&w, 0, sizeof(w));
	w.db = q->by_orig;
	w.secondary = true;
	w.txn = txn;
	w.snapshot = (txn == NULL);	/* no read locks of its own */
	w.from = k.data;
	w.fromlen = k.len;
	w.exact = true;
	ret = record_walk(q->sdb, &w, orig_step, &ow);
	buf_free(&k);
	if (ret != 0) {
		*error_r = xasprintf("quarantine index: the original %s: %s",
		    orig_id, db_strerror(ret));
		return (-1);
	}
	return (0);
}

struct twin_find {
	enum quarantine_state state;
	char		 qid[QUARANTINE_ID_SIZE];
};

static int
twin_fn(void *arg, const struct quarantine_entry *e)
{
	struct twin_find *tf = arg;

	if (e->state != tf->state)
		return (0);
	(void)snprintf(tf->qid, sizeof(tf->qid), "%s", e->qid);
	return (1);
}

int
quarantine_twin(struct quarantine *q, DB_TXN *txn,
    const struct quarantine_entry *e, enum quarantine_state state,
    struct quarantine_entry *twin, char **error_r)
{
	struct twin_find tf;

	memset(&tf, 0, sizeof(tf));
	tf.state = state;
	if (e->orig_id[0] == '\0')
		return (0);
	if (q_each_of_original(q, txn, e->orig_id, e->arrival, e->qid, twin_fn,
	    &tf, error_r) < 0)
		return (-1);
	if (tf.qid[0] == '\0')
		return (0);
	return (quarantine_get(q, txn, tf.qid, false, twin, error_r) ==
	    QUARANTINE_OK ? 1 : -1);
}
