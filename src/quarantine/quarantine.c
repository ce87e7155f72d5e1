/*
 * NAME
 *	quarantine - quarantined queue files and their Berkeley DB index
 * DESCRIPTION
 *	Each quarantined message is kept as a copy of its original queue
 *	file (envelope and content, exactly as Postfix wrote it) under
 *	quarantine_directory/YYYY/MM/DD/<qid>. The copy is written under
 *	"<qid>.tmp", fsync'ed, renamed to its name and the directory
 *	fsync'ed, all before the original may leave the queue; so a file
 *	with a quarantine id for a name is always complete.
 *
 *	The index lives in the state environment, beside the journal:
 *	  quarantine.db       btree, qid -> entry (the primary)
 *	  quarantine-time.db  btree with sorted duplicates, quarantine time
 *	                      (8 bytes, big-endian) -> qid
 *	  quarantine-rcpt.db  btree with sorted duplicates, each envelope
 *	                      recipient (lower case) -> qid
 *	  quarantine-orig.db  btree with sorted duplicates, the original
 *	                      message (queue id, newline, arrival time) -> qid:
 *	                      a message is quarantined once, and released once
 *	The secondaries are maintained by Berkeley DB (DB->associate), so
 *	they change in the same transaction as the primary; holdscand
 *	indexes a batch's copies inside the batch's journal transaction.
 *	All three are opened with DB_MULTIVERSION: queries read a snapshot
 *	and take no read locks, and the tool's writes never wait for a lock
 *	(DB_TXN_NOWAIT, retried), so neither can hold up holdscand.
 *
 *	An entry is a short text, one field per line (backslash escapes for
 *	newline, backslash and NUL), readable with db_dump -p:
 *	  1, quarantined, arrival, size, state, state time, releases,
 *	  original queue id, verdict, reason, relative path, new queue id,
 *	  sender, subject, released to, recipient count, recipients...
 *
 *	This module must never remove a copy that an index entry in state
 *	held or released refers to except through an explicit delete or
 *	expire, never remove a file that may be the only copy of a message,
 *	and never write outside quarantine_directory.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/mailhdr.h"
#include "quarantine/quarantine.h"
#include "state/record.h"
#include "common/xalloc.h"

#define Q_DB		"quarantine.db"
#define Q_TIME_DB	"quarantine-time.db"
#define Q_RCPT_DB	"quarantine-rcpt.db"
#define Q_ORIG_DB	"quarantine-orig.db"
#define Q_FORMAT	"1"
#define Q_NFIXED	16		/* lines before the recipients */
#define Q_TMP_SUFFIX	".tmp"
#define Q_RETRIES	500		/* a busy index: 500 x 10 ms at most */
#define Q_CHECK_GRACE	300		/* seconds a live batch may take */
#define Q_EXPIRE_CHUNK	256
#define Q_FILE_MAX	((size_t)1 << 31)

struct quarantine {
	char		*dir;
	int		 dirfd;
	uid_t		 uid;
	gid_t		 gid;
	struct statedb	*sdb;
	DB		*db;		/* by quarantine id */
	DB		*by_time;
	DB		*by_rcpt;
	DB		*by_orig;
};

static const char *const state_names[] = { "held", "released", "deleted" };

const char *
quarantine_state_name(enum quarantine_state s)
{
	return ((unsigned)s < 3 ? state_names[s] : "?");
}

static enum quarantine_rc
rc_of(int ret)
{
	if (ret == 0)
		return (QUARANTINE_OK);
	if (ret == DB_NOTFOUND || ret == DB_KEYEMPTY)
		return (QUARANTINE_NOTFOUND);
	if (ret == DB_LOCK_DEADLOCK || ret == DB_LOCK_NOTGRANTED)
		return (QUARANTINE_BUSY);
	return (QUARANTINE_ERROR);
}

static void
pause_10ms(void)
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

static void
time_bytes(time_t t, unsigned char out[8])
{
	uint64_t	 v = t < 0 ? 0 : (uint64_t)t;
	int		 i;

	for (i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static time_t
bytes_time(const void *p)
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
	time_bytes((time_t)t, k);
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
static void
orig_keybuf(const char *id, size_t idlen, const char *arr, size_t arrlen,
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
	orig_keybuf(id, il, arr, al, &k);
	memset(skey, 0, sizeof(*skey));
	skey->size = (u_int32_t)k.len;
	skey->data = buf_steal(&k, NULL);
	skey->flags = DB_DBT_APPMALLOC;
	return (0);
}

/* --- open, close ------------------------------------------------------------ */

int
quarantine_open(const struct hs_config *conf, struct statedb *sdb, uid_t uid,
    gid_t gid, struct quarantine **q_r, char **error_r)
{
	struct quarantine *q;
	DB_TXN		*txn = NULL;
	int		 fd, ret;

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
	if (statedb_open_db_flags(sdb, Q_DB, 0, DB_MULTIVERSION, &q->db,
	    error_r) < 0 ||
	    statedb_open_db_flags(sdb, Q_TIME_DB, DB_DUP | DB_DUPSORT,
	    DB_MULTIVERSION, &q->by_time, error_r) < 0 ||
	    statedb_open_db_flags(sdb, Q_RCPT_DB, DB_DUP | DB_DUPSORT,
	    DB_MULTIVERSION, &q->by_rcpt, error_r) < 0 ||
	    statedb_open_db_flags(sdb, Q_ORIG_DB, DB_DUP | DB_DUPSORT,
	    DB_MULTIVERSION, &q->by_orig, error_r) < 0)
		goto fail;
	if ((ret = sdb->env->txn_begin(sdb->env, NULL, &txn, 0)) != 0 ||
	    (ret = q->db->associate(q->db, txn, q->by_time, time_key,
	    DB_CREATE)) != 0 ||
	    (ret = q->db->associate(q->db, txn, q->by_rcpt, rcpt_keys,
	    DB_CREATE)) != 0 ||
	    (ret = q->db->associate(q->db, txn, q->by_orig, orig_key,
	    DB_CREATE)) != 0 ||
	    (ret = txn->commit(txn, 0)) != 0) {
		if (txn != NULL && ret != 0)
			(void)txn->abort(txn);
		*error_r = xasprintf("%s: quarantine index: %s", sdb->dir,
		    db_strerror(ret));
		goto fail;
	}
	*q_r = q;
	return (0);

fail:
	quarantine_close(&q);
	return (-1);
}

void
quarantine_close(struct quarantine **qp)
{
	struct quarantine *q = *qp;

	if (q == NULL)
		return;
	/* Secondaries first: they are associated with the primary. */
	if (q->by_time != NULL)
		(void)q->by_time->close(q->by_time, 0);
	if (q->by_rcpt != NULL)
		(void)q->by_rcpt->close(q->by_rcpt, 0);
	if (q->by_orig != NULL)
		(void)q->by_orig->close(q->by_orig, 0);
	if (q->db != NULL)
		(void)q->db->close(q->db, 0);
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

/* --- store ------------------------------------------------------------------- */

static int
copy_fd(int in, int out)
{
	char	 buf[65536];
	off_t	 off = 0;
	ssize_t	 r, w, done;

	for (;;) {
		r = pread(in, buf, sizeof(buf), off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return (-1);
		if (r == 0)
			return (0);
		for (done = 0; done < r; done += w) {
			w = write(out, buf + done, (size_t)(r - done));
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0)
				return (-1);
		}
		off += r;
	}
}

/* Envelope and headers of a queue file into e (sender, recipients, subject). */
static void
fill_from_qfile(struct quarantine_entry *e, const struct qfile *qf)
{
	struct buf	 subj = BUF_INIT;
	size_t		 i;

	e->sender = xstrdup(qf->sender ? qf->sender : "");
	e->rcpts = xcalloc(qf->nrcpts + 1, sizeof(*e->rcpts));
	for (i = 0; i < qf->nrcpts; i++)
		if (qf->rcpts[i].state == QREC_RCPT)
			e->rcpts[e->nrcpts++] = xstrdup(qf->rcpts[i].address);
	mailhdr_subject(qf, QUARANTINE_SUBJECT_MAX, &subj);
	e->subject = xstrdup(subj.data ? subj.data : "");
	buf_free(&subj);
	e->arrival = (time_t)qf->arrival_sec;
}

/* Is the file at relpath (under dirfd) byte for byte the same as fd's? */
static bool
same_bytes(int fd, const struct stat *st, int dirfd, const char *relpath)
{
	struct stat	 ost;
	char		 a[65536], b[65536];
	off_t		 off = 0;
	ssize_t		 ra, rb;
	int		 ofd;
	bool		 same = false;

	if ((ofd = openat(dirfd, relpath, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return (false);
	if (fstat(ofd, &ost) < 0 || ost.st_size != st->st_size)
		goto done;
	for (;;) {
		ra = pread(fd, a, sizeof(a), off);
		rb = pread(ofd, b, sizeof(b), off);
		if (ra < 0 || rb < 0 || ra != rb)
			goto done;
		if (ra == 0)
			break;
		if (memcmp(a, b, (size_t)ra) != 0)
			goto done;
		off += ra;
	}
	same = true;
done:
	(void)close(ofd);
	return (same);
}

/*
 * Every entry of the original message (orig_id, arrival) but the one
 * named except, in txn (may be NULL): fn(arg, entry) until it returns
 * non-zero (the entry is borrowed). 0, or -1 with *error_r.
 */
typedef int	(*orig_fn)(void *, const struct quarantine_entry *);

/* each_of_original()'s walk: decode, skip except, call fn. */
struct orig_walk {
	const char	*except;
	orig_fn		 fn;
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

static int
each_of_original(struct quarantine *q, DB_TXN *txn, const char *orig_id,
    time_t arrival, const char *except, orig_fn fn, void *arg,
    char **error_r)
{
	struct orig_walk ow = { except, fn, arg };
	struct record_walk w;
	struct buf	 k = BUF_INIT;
	char		 arr[32];
	int		 ret;

	(void)snprintf(arr, sizeof(arr), "%lld", (long long)arrival);
	orig_keybuf(orig_id, strlen(orig_id), arr, strlen(arr), &k);
	memset(&w, 0, sizeof(w));
	w.db = q->by_orig;
	w.secondary = true;
	w.txn = txn;
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

/* A copy in the store of the file on fd, not deleted: its qid. */
struct same_copy {
	struct quarantine *q;
	int		 fd;
	struct stat	 st;
	char		 qid[QUARANTINE_ID_SIZE];
};

static int
same_copy_fn(void *arg, const struct quarantine_entry *e)
{
	struct same_copy *sc = arg;

	if (e->state == QSTATE_DELETED ||
	    !same_bytes(sc->fd, &sc->st, sc->q->dirfd, e->relpath))
		return (0);
	(void)snprintf(sc->qid, sizeof(sc->qid), "%s", e->qid);
	return (1);
}

/*
 * Is the file on fd (original orig_id, arrival) quarantined already, as
 * a copy that is byte for byte the same? 1 (its qid in qid_r), 0, -1.
 */
static int
quarantined_already(struct quarantine *q, int fd, const char *orig_id,
    time_t arrival, const char *except, char *qid_r, size_t size,
    char **error_r)
{
	struct same_copy sc;

	memset(&sc, 0, sizeof(sc));
	sc.q = q;
	sc.fd = fd;
	if (fstat(fd, &sc.st) < 0) {
		*error_r = xasprintf("quarantine: fstat: %s", strerror(errno));
		return (-1);
	}
	if (each_of_original(q, NULL, orig_id, arrival, except, same_copy_fn,
	    &sc, error_r) < 0)
		return (-1);
	if (sc.qid[0] == '\0')
		return (0);
	(void)snprintf(qid_r, size, "%s", sc.qid);
	return (1);
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
	if (each_of_original(q, txn, e->orig_id, e->arrival, e->qid, twin_fn,
	    &tf, error_r) < 0)
		return (-1);
	if (tf.qid[0] == '\0')
		return (0);
	return (quarantine_get(q, txn, tf.qid, false, twin, error_r) ==
	    QUARANTINE_OK ? 1 : -1);
}

int
quarantine_store(struct quarantine *q, int fd, const struct qfile *qf,
    const char *orig_id, const char *verdict, const char *reason,
    struct quarantine_entry *e, char **error_r)
{
	struct stat	 st;
	struct tm	 tm;
	char		 day[32], stamp[32], tmp[sizeof(e->relpath) + 8];
	int		 out = -1, attempt, dfd = -1;
	time_t		 now = time(NULL);

	memset(e, 0, sizeof(*e));
	/* Quarantined already (an interrupted batch ran again)? Then that copy. */
	if (qf != NULL) {
		char	 qid[QUARANTINE_ID_SIZE];
		int	 r;

		r = quarantined_already(q, fd, orig_id, (time_t)qf->arrival_sec,
		    "", qid, sizeof(qid), error_r);
		if (r < 0)
			return (-1);
		if (r > 0) {
			if (quarantine_get(q, NULL, qid, false, e, error_r) !=
			    QUARANTINE_OK)
				return (-1);
			e->existing = true;
			return (0);
		}
	}
	(void)gmtime_r(&now, &tm);
	(void)strftime(day, sizeof(day), "%Y/%m/%d", &tm);
	(void)strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	if (queue_mkdirs_owner(q->dirfd, day, q->uid, q->gid) < 0) {
		*error_r = xasprintf("quarantine %s/%s: %s", q->dir, day,
		    strerror(errno));
		return (-1);
	}
	for (attempt = 0; attempt < 100; attempt++) {
		if (attempt == 0)
			(void)snprintf(e->qid, sizeof(e->qid), "%s-%s", stamp,
			    orig_id);
		else
			(void)snprintf(e->qid, sizeof(e->qid), "%s-%s-%d", stamp,
			    orig_id, attempt);
		(void)snprintf(e->relpath, sizeof(e->relpath), "%s/%s", day,
		    e->qid);
		(void)snprintf(tmp, sizeof(tmp), "%s" Q_TMP_SUFFIX, e->relpath);
		if (faccessat(q->dirfd, e->relpath, F_OK,
		    AT_SYMLINK_NOFOLLOW) == 0) {
			errno = EEXIST;
			continue;
		}
		out = openat(q->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (out >= 0 || errno != EEXIST)
			break;
	}
	if (out < 0) {
		*error_r = xasprintf("quarantine %s/%s: %s", q->dir, e->relpath,
		    strerror(errno));
		return (-1);
	}
	if ((geteuid() == 0 && fchown(out, q->uid, q->gid) < 0) ||
	    copy_fd(fd, out) < 0 || fsync(out) < 0 || fstat(out, &st) < 0 ||
	    renameat2(q->dirfd, tmp, q->dirfd, e->relpath,
	    RENAME_NOREPLACE) < 0 ||
	    (dfd = openat(q->dirfd, day, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(dfd) < 0) {
		*error_r = xasprintf("quarantine %s/%s: %s", q->dir, e->relpath,
		    strerror(errno));
		(void)close(out);
		if (dfd >= 0)
			(void)close(dfd);
		(void)unlinkat(q->dirfd, tmp, 0);
		return (-1);
	}
	(void)close(out);
	(void)close(dfd);
	(void)snprintf(e->orig_id, sizeof(e->orig_id), "%s", orig_id);
	(void)snprintf(e->verdict, sizeof(e->verdict), "%s", verdict);
	(void)snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
	if (qf != NULL) {
		fill_from_qfile(e, qf);
	} else {
		e->sender = xstrdup("");
		e->subject = xstrdup("");
		e->rcpts = xcalloc(1, sizeof(*e->rcpts));
	}
	e->released_to = xstrdup("");
	e->state = QSTATE_HELD;
	e->quarantined = now;
	e->size = (uint64_t)st.st_size;
	return (0);
}

/* --- index access ------------------------------------------------------------ */

static enum quarantine_rc
db_fail(int ret, const char *what, char **error_r)
{
	enum quarantine_rc rc = rc_of(ret);

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
	return (ret == 0 ? QUARANTINE_OK : db_fail(ret, e->qid, error_r));
}

int
quarantine_index(struct quarantine *q, DB_TXN *txn,
    const struct quarantine_entry *e, char **error_r)
{
	return (quarantine_put(q, txn, e, error_r) == QUARANTINE_OK ? 0 : -1);
}

void
quarantine_discard(struct quarantine *q, const struct quarantine_entry *e)
{
	(void)unlinkat(q->dirfd, e->relpath, 0);
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
		return (r == 0 ? QUARANTINE_NOTFOUND : db_fail(ret, qid,
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
typedef enum quarantine_rc (*modify_fn)(struct quarantine_entry *, void *);

static enum quarantine_rc
modify(struct quarantine *q, const char *qid, modify_fn mod, void *arg,
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
			pause_10ms();
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

	rc = modify(q, qid, mod_new_id, (void *)new_id, NULL, error_r);
	if (rc == QUARANTINE_NOTFOUND)
		return (0);	/* expired meanwhile: nothing to record */
	return (rc == QUARANTINE_OK ? 0 : -1);
}

int
quarantine_open_file(struct quarantine *q, const struct quarantine_entry *e)
{
	return (openat(q->dirfd, e->relpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
}

/* A read of the index failed: close what it opened; -1 with the error. */
/* --- queries ----------------------------------------------------------------- */

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

static bool
matches(const struct quarantine_query *qq, const struct quarantine_entry *e)
{
	if (qq->since != 0 && e->quarantined < qq->since)
		return (false);
	if (qq->until != 0 && e->quarantined > qq->until)
		return (false);
	if (qq->state >= 0 && (int)e->state != qq->state)
		return (false);
	if (qq->sender != NULL && !contains_icase(e->sender, qq->sender))
		return (false);
	if (qq->reason != NULL && !contains_icase(e->reason, qq->reason) &&
	    !contains_icase(e->verdict, qq->reason))
		return (false);
	return (true);
}

/* quarantine_list()'s walk: the time range, the filters, the caller. */
struct list_walk {
	const struct quarantine_query *qq;
	quarantine_each_fn fn;
	void		*arg;
};

static int
list_step(void *arg, const struct record *r)
{
	struct list_walk *lw = arg;
	struct quarantine_entry e;
	int		 stop = 0;

	if (lw->qq->rcpt == NULL && lw->qq->until != 0 && r->klen == 8 &&
	    bytes_time(r->key) > lw->qq->until)
		return (1);
	if (quarantine_decode(r->val, r->vlen, &e) < 0)
		return (0);	/* the check reports it */
	if (matches(lw->qq, &e))
		stop = lw->fn(lw->arg, &e);
	quarantine_entry_clear(&e);
	return (stop);
}

int
quarantine_list(struct quarantine *q, const struct quarantine_query *qq,
    quarantine_each_fn fn, void *arg, char **error_r)
{
	struct list_walk lw = { qq, fn, arg };
	struct record_walk w;
	unsigned char	 tkey[8];
	char		*rkey = NULL;
	int		 ret;

	memset(&w, 0, sizeof(w));
	w.secondary = true;
	w.snapshot = true;
	if (qq->rcpt != NULL) {
		rkey = xstrdup_lower(qq->rcpt);
		w.db = q->by_rcpt;
		w.from = rkey;
		w.fromlen = strlen(rkey);
		w.exact = true;
	} else {
		w.db = q->by_time;
		if (qq->since != 0) {
			time_bytes(qq->since, tkey);
			w.from = tkey;
			w.fromlen = sizeof(tkey);
		}
	}
	ret = record_walk(q->sdb, &w, list_step, &lw);
	free(rkey);
	if (ret != 0) {
		*error_r = xasprintf("quarantine index: %s", db_strerror(ret));
		return (-1);
	}
	return (0);
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

/* --- delete, expire ---------------------------------------------------------- */

/* "YYYY/MM/DD" of a relative path "YYYY/MM/DD/qid". */
static void
day_of(const char *relpath, char *day, size_t size)
{
	const char	*slash = strrchr(relpath, '/');

	(void)snprintf(day, size, "%.*s", slash ? (int)(slash - relpath) : 0,
	    relpath);
}

/* The unlink has happened; making it durable is best effort. */
static void
sync_day(struct quarantine *q, const char *relpath)
{
	char	 day[64];

	day_of(relpath, day, sizeof(day));
	if (day[0] != '\0')
		(void)queue_fsync_dirat(q->dirfd, day);
}

static enum quarantine_rc
mod_delete(struct quarantine_entry *e, void *arg)
{
	(void)arg;
	if (e->state == QSTATE_DELETED)
		return (QUARANTINE_UNCHANGED);
	e->state = QSTATE_DELETED;
	e->state_time = time(NULL);
	return (QUARANTINE_OK);
}

enum quarantine_rc
quarantine_delete(struct quarantine *q, const char *qid, char **error_r)
{
	struct quarantine_entry e;
	enum quarantine_rc rc;

	rc = modify(q, qid, mod_delete, NULL, &e, error_r);
	if (rc != QUARANTINE_OK && rc != QUARANTINE_UNCHANGED)
		return (rc);
	if (unlinkat(q->dirfd, e.relpath, 0) < 0 && errno != ENOENT) {
		*error_r = xasprintf("%s/%s: %s", q->dir, e.relpath,
		    strerror(errno));
		quarantine_entry_clear(&e);
		return (QUARANTINE_ERROR);
	}
	sync_day(q, e.relpath);
	quarantine_entry_clear(&e);
	return (rc);
}

/* The ids quarantined before cutoff, oldest first, at most max. */
/* expiring()'s walk: ids quarantined before cutoff, at most max. */
struct expiring {
	time_t		 cutoff;
	size_t		 max;
	char		**ids;
	size_t		 n;
};

static int
expiring_step(void *arg, const struct record *r)
{
	struct expiring	*ex = arg;

	if (ex->n >= ex->max || r->klen != 8 || bytes_time(r->key) >= ex->cutoff)
		return (1);
	ex->ids = xreallocarray(ex->ids, ex->n + 1, sizeof(*ex->ids));
	ex->ids[ex->n++] = xstrndup(r->pkey, r->pklen);
	return (0);
}

static int
expiring(struct quarantine *q, time_t cutoff, char ***ids_r, size_t *n_r,
    size_t max, char **error_r)
{
	struct expiring	 ex = { cutoff, max, NULL, 0 };
	struct record_walk w;
	int		 ret;

	memset(&w, 0, sizeof(w));
	w.db = q->by_time;
	w.secondary = true;
	w.snapshot = true;
	w.keys_only = true;	/* the primary's key is all we need */
	if ((ret = record_walk(q->sdb, &w, expiring_step, &ex)) != 0) {
		while (ex.n > 0)
			free(ex.ids[--ex.n]);
		free(ex.ids);
		*error_r = xasprintf("quarantine index: %s", db_strerror(ret));
		return (-1);
	}
	*ids_r = ex.ids;
	*n_r = ex.n;
	return (0);
}

/* Remove the day, month and year directories of relpath if empty and old. */
static void
prune_dirs(struct quarantine *q, const char *relpath)
{
	char		 d[64], today[16];
	struct tm	 tm;
	time_t		 now = time(NULL);
	char		*slash;

	/* holdscand writes into today's directory: never race it there. */
	(void)gmtime_r(&now, &tm);
	(void)strftime(today, sizeof(today), "%Y/%m/%d", &tm);
	day_of(relpath, d, sizeof(d));
	if (strcmp(d, today) >= 0)
		return;
	while (d[0] != '\0') {
		if (unlinkat(q->dirfd, d, AT_REMOVEDIR) < 0)
			return;
		if ((slash = strrchr(d, '/')) == NULL)
			break;
		*slash = '\0';
		if (strncmp(today, d, strlen(d)) == 0)
			return;	/* this month or year is still in use */
	}
}

static void
free_ids(char **ids, size_t n)
{
	while (n > 0)
		free(ids[--n]);
	free(ids);
}

int
quarantine_expire(struct quarantine *q, time_t cutoff, size_t *n_r,
    uint64_t *bytes_r, char **error_r)
{
	struct quarantine_entry e;
	enum quarantine_rc rc;
	DB_TXN		*txn;
	char		**ids = NULL, *first = NULL;
	size_t		 n = 0, i;
	int		 ret, tries;

	*n_r = 0;
	*bytes_r = 0;
	for (;;) {
		if (expiring(q, cutoff, &ids, &n, Q_EXPIRE_CHUNK, error_r) < 0) {
			free(first);
			return (-1);
		}
		if (n == 0) {
			free(ids);
			free(first);
			return (0);
		}
		/* The last round removed them all; a repeat means a broken index. */
		if (first != NULL && strcmp(first, ids[0]) == 0) {
			*error_r = xasprintf("quarantine index: %s stays in the "
			    "time index after its removal; run holdscan "
			    "quarantine check", first);
			free(first);
			free_ids(ids, n);
			return (-1);
		}
		free(first);
		first = xstrdup(ids[0]);
		/* 1. Marked deleted, durably: a crash now leaves no doubt. */
		for (i = 0; i < n; i++) {
			rc = modify(q, ids[i], mod_delete, NULL, &e, error_r);
			if (rc == QUARANTINE_ERROR) {
				free(first);
				free_ids(ids, n);
				return (-1);
			}
			if (rc == QUARANTINE_NOTFOUND)
				continue;
			/* 2. The file. */
			if (unlinkat(q->dirfd, e.relpath, 0) == 0) {
				*bytes_r += e.size;
				sync_day(q, e.relpath);
			} else if (errno != ENOENT) {
				*error_r = xasprintf("%s/%s: %s", q->dir,
				    e.relpath, strerror(errno));
				quarantine_entry_clear(&e);
				free(first);
				free_ids(ids, n);
				return (-1);
			}
			prune_dirs(q, e.relpath);
			quarantine_entry_clear(&e);
		}
		/* 3. The entries (and with them the secondary keys). */
		for (tries = 0; tries < Q_RETRIES; tries++) {
			if (quarantine_txn_begin(q, &txn, error_r) < 0) {
				free(first);
				free_ids(ids, n);
				return (-1);
			}
			for (i = 0, ret = 0; i < n && ret == 0; i++)
				ret = record_del(q->db, txn, ids[i],
				    strlen(ids[i]));
			if (ret == 0) {
				/* Need not be durable: a repeat finds them deleted. */
				if ((ret = txn->commit(txn, DB_TXN_NOSYNC)) == 0)
					break;
				txn = NULL;
			}
			if (txn != NULL)
				(void)txn->abort(txn);
			if (rc_of(ret) != QUARANTINE_BUSY) {
				*error_r = xasprintf("quarantine index: %s",
				    db_strerror(ret));
				free(first);
				free_ids(ids, n);
				return (-1);
			}
			pause_10ms();
		}
		if (tries == Q_RETRIES) {
			*error_r = xasprintf("quarantine index: still busy after "
			    "%d tries", Q_RETRIES);
			free(first);
			free_ids(ids, n);
			return (-1);
		}
		*n_r += n;
		free_ids(ids, n);
		ids = NULL;
	}
}

/* --- consistency check ------------------------------------------------------- */

struct check {
	struct quarantine *q;
	const struct queue_layout *ql;
	int		 qdirfd;
	const char	*claimed;
	bool		 live;
	time_t		 now;
	quarantine_report_fn report;
	void		*arg;
	int		 problems;
};

static void
say(struct check *ck, bool problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(struct check *ck, bool problem, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (problem)
		ck->problems++;
	ck->report(ck->arg, problem ? QCHECK_PROBLEM : QCHECK_REPAIRED, line);
}

/*
 * A file holdscand may be writing or committing right now: not judged,
 * but said, so that nobody takes the silence for agreement.
 */
static void
skipped(struct check *ck, const char *name, const struct stat *st,
    const char *what)
{
	char		 line[1024];
	long long	 age = (long long)(ck->now - st->st_mtime);

	(void)snprintf(line, sizeof(line), "%s: %s, written %lld s ago: not "
	    "judged while holdscand runs (its batch may still be committing); "
	    "files are judged from %d minutes of age", name, what,
	    age < 0 ? 0 : age, Q_CHECK_GRACE / 60);
	ck->report(ck->arg, QCHECK_SKIPPED, line);
}

/* The original queue id in a quarantine id "STAMP-ID[-N]". */
static bool
orig_of(const char *qid, char *id, size_t size)
{
	const char	*p = strchr(qid, '-');
	size_t		 n;

	if (p == NULL)
		return (false);
	p++;
	n = strcspn(p, "-");
	if (n == 0 || n >= size)
		return (false);
	(void)snprintf(id, size, "%.*s", (int)n, p);
	return (queue_id_ok(id));
}

static time_t
stamp_time(const char *qid)
{
	struct tm	 tm;
	const char	*end;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(qid, "%Y%m%dT%H%M%S", &tm)) == NULL || *end != '-')
		return (0);
	return (timegm(&tm));
}

/* A file with no entry, that is not a copy of a queued message: index it. */
static void
reindex(struct check *ck, const struct stat *st, const char *relpath,
    const char *qid, const struct qfile *qf, const char *unreadable)
{
	struct quarantine_entry e;
	char		*error = NULL;
	enum quarantine_rc rc;
	int		 tries;

	memset(&e, 0, sizeof(e));
	(void)snprintf(e.qid, sizeof(e.qid), "%s", qid);
	(void)snprintf(e.relpath, sizeof(e.relpath), "%s", relpath);
	if (!orig_of(qid, e.orig_id, sizeof(e.orig_id)))
		e.orig_id[0] = '\0';
	(void)snprintf(e.verdict, sizeof(e.verdict), "unknown");
	if (qf != NULL) {
		fill_from_qfile(&e, qf);
		(void)snprintf(e.reason, sizeof(e.reason), "recovered by the "
		    "quarantine check (no index entry)");
	} else {
		e.sender = xstrdup("");
		e.subject = xstrdup("");
		e.rcpts = xcalloc(1, sizeof(*e.rcpts));
		(void)snprintf(e.reason, sizeof(e.reason), "recovered by the "
		    "quarantine check (no index entry); unreadable: %s",
		    unreadable);
	}
	e.released_to = xstrdup("");
	e.state = QSTATE_HELD;
	e.quarantined = stamp_time(qid);
	if (e.quarantined == 0)
		e.quarantined = st->st_mtime;
	e.size = (uint64_t)st->st_size;
	for (tries = 0; tries < Q_RETRIES; tries++) {
		DB_TXN	*txn;

		if (quarantine_txn_begin(ck->q, &txn, &error) < 0)
			break;
		rc = quarantine_put(ck->q, txn, &e, &error);
		if (rc == QUARANTINE_OK) {
			if (quarantine_txn_commit(txn, &error) < 0)
				break;
			say(ck, false, "%s: file without index entry: indexed "
			    "again (sender <%s>, %zu recipient%s)", qid, e.sender,
			    e.nrcpts, e.nrcpts == 1 ? "" : "s");
			quarantine_entry_clear(&e);
			return;
		}
		(void)txn->abort(txn);
		if (rc != QUARANTINE_BUSY)
			break;
		free(error);
		error = NULL;
		pause_10ms();
	}
	say(ck, true, "%s: file without index entry, cannot index it: %s", qid,
	    error ? error : "index busy");
	free(error);
	quarantine_entry_clear(&e);
}

static void
check_file(struct check *ck, int dayfd, const char *day, const char *name)
{
	struct quarantine_entry e;
	struct stat	 st;
	char		 relpath[QUARANTINE_ID_SIZE + 64], orig[QUEUE_ID_SIZE];
	char		 qpath[QUEUE_PATH_SIZE], *error = NULL;
	char		 twin[QUARANTINE_ID_SIZE];
	struct qfile_error err;
	struct qfile	*qf;
	size_t		 len = strlen(name);
	enum quarantine_rc rc;
	int		 fd, r;
	bool		 young;

	if ((size_t)snprintf(relpath, sizeof(relpath), "%s/%s", day, name) >=
	    sizeof(relpath))
		return;
	if (fstatat(dayfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;		/* gone meanwhile: an expiry or a delete */
	if (!S_ISREG(st.st_mode)) {
		say(ck, true, "%s: not a regular file (in %s); remove it, or "
		    "move it out of the quarantine", name, day);
		return;
	}
	young = ck->live && ck->now - st.st_mtime < Q_CHECK_GRACE;
	if (len > strlen(Q_TMP_SUFFIX) && strcmp(name + len -
	    strlen(Q_TMP_SUFFIX), Q_TMP_SUFFIX) == 0) {
		if (young) {
			skipped(ck, name, &st, "incomplete copy");
			return;
		}
		if (unlinkat(dayfd, name, 0) == 0)
			say(ck, false, "%.*s: removed an incomplete copy (its batch "
			    "did not commit; the message stayed in the queue)",
			    (int)(len - strlen(Q_TMP_SUFFIX)), name);
		return;
	}
	rc = quarantine_get(ck->q, NULL, name, false, &e, &error);
	if (rc == QUARANTINE_OK) {
		if (e.state == QSTATE_DELETED && unlinkat(dayfd, name, 0) == 0)
			say(ck, false, "%s: removed the file of a deleted entry "
			    "(an interrupted delete)", name);
		quarantine_entry_clear(&e);
		return;
	}
	if (rc != QUARANTINE_NOTFOUND) {
		say(ck, true, "%s: %s", name, error);
		free(error);
		return;
	}
	if (young) {
		skipped(ck, name, &st, "file without index entry");
		return;
	}
	if ((fd = openat(dayfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			say(ck, true, "%s: file without index entry, cannot "
			    "read it: %s (the files belong to the mail owner)",
			    name, strerror(errno));
		return;
	}
	/* A copy whose batch did not commit: the original is still queued. */
	if (orig_of(name, orig, sizeof(orig)) &&
	    ((queue_path(ck->ql, QUEUE_HOLD, orig, qpath) == 0 &&
	    same_bytes(fd, &st, ck->qdirfd, qpath)) ||
	    ((size_t)snprintf(qpath, sizeof(qpath), "%s/%s", ck->claimed,
	    orig) < sizeof(qpath) && same_bytes(fd, &st, ck->qdirfd, qpath)))) {
		if (unlinkat(dayfd, name, 0) == 0)
			say(ck, false, "%s: removed a copy of %s, which is still "
			    "in the queue (%s; its batch did not commit)", name,
			    orig, qpath);
		(void)close(fd);
		return;
	}
	/*
	 * A copy whose batch did not commit and then ran again, on this day
	 * or another: the original's index knows the copy that counts.
	 */
	qf = NULL;
	if (qfile_read_fd(fd, Q_FILE_MAX, &qf, &err) < 0)
		qf = NULL;
	if (qf != NULL && orig_of(name, orig, sizeof(orig))) {
		r = quarantined_already(ck->q, fd, orig, (time_t)qf->arrival_sec,
		    name, twin, sizeof(twin), &error);
		if (r < 0) {
			say(ck, true, "%s: %s", name, error);
			free(error);
		} else if (r > 0 && unlinkat(dayfd, name, 0) == 0) {
			say(ck, false, "%s: removed a second copy of %s, "
			    "quarantined already as %s (its batch was interrupted "
			    "and ran again)", name, orig, twin);
		}
		if (r != 0) {
			qfile_free(&qf);
			(void)close(fd);
			return;
		}
	}
	reindex(ck, &st, relpath, name, qf, err.text);
	qfile_free(&qf);
	(void)close(fd);
}

static bool
all_digits(const char *s, size_t n)
{
	size_t	 i;

	if (strlen(s) != n)
		return (false);
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return (false);
	return (true);
}

/*
 * Walk YYYY/MM/DD below dirfd (level 0 is the top, rel relative to
 * dirfd) and check each file of a day directory.
 */
static void
walk_level(struct check *ck, int dirfd, const char *rel, int level)
{
	static const size_t width[] = { 4, 2, 2 };
	struct dirent	*de;
	DIR		*dir;
	int		 fd;
	char		 path[64];

	if ((fd = openat(dirfd, level == 0 ? "." : rel, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return;
	if ((dir = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (level == 3) {
			check_file(ck, fd, rel, de->d_name);
			continue;
		}
		if (!all_digits(de->d_name, width[level]))
			continue;
		(void)snprintf(path, sizeof(path), "%s%s%s", rel, level ? "/" : "",
		    de->d_name);
		walk_level(ck, dirfd, path, level + 1);
	}
	(void)closedir(dir);
}

/* The snapshot is a moment old: is the entry still there and not deleted? */
static bool
still_missing(struct quarantine *q, const struct quarantine_entry *old)
{
	struct quarantine_entry e;
	char		*error = NULL;
	bool		 missing;

	if (quarantine_get(q, NULL, old->qid, false, &e, &error) !=
	    QUARANTINE_OK) {
		free(error);
		return (false);
	}
	missing = e.state != QSTATE_DELETED &&
	    faccessat(q->dirfd, e.relpath, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT;
	quarantine_entry_clear(&e);
	return (missing);
}

/* One index entry against the store: its file must be there. */
static int
check_entry(void *arg, const struct record *r)
{
	struct check	*ck = arg;
	struct quarantine *q = ck->q;
	struct quarantine_entry e;
	struct stat	 st;

	if (quarantine_decode(r->val, r->vlen, &e) < 0) {
		say(ck, true, "%.*s: malformed index entry",
		    (int)(r->klen > 200 ? 200 : r->klen), (const char *)r->key);
		return (0);
	}
	if (e.state != QSTATE_DELETED &&
	    fstatat(q->dirfd, e.relpath, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT && still_missing(q, &e))
		say(ck, true, "%s: index entry (%s, from <%s>) without its "
		    "file %s/%s; \"holdscan quarantine delete %s\" "
		    "forgets it", e.qid, quarantine_state_name(e.state),
		    e.sender, q->dir, e.relpath, e.qid);
	quarantine_entry_clear(&e);
	return (0);
}

int
quarantine_check(struct quarantine *q, const struct queue_layout *ql,
    int qdirfd, const char *claimed, bool live, quarantine_report_fn report,
    void *arg, char **error_r)
{
	struct record_walk w;
	struct check	 ck;
	int		 ret;

	memset(&ck, 0, sizeof(ck));
	ck.q = q;
	ck.ql = ql;
	ck.qdirfd = qdirfd;
	ck.claimed = claimed;
	ck.live = live;
	ck.now = time(NULL);
	ck.report = report;
	ck.arg = arg;
	/* Files against the index. */
	walk_level(&ck, q->dirfd, "", 0);
	/* The index against the files, from a snapshot. */
	memset(&w, 0, sizeof(w));
	w.db = q->db;
	w.snapshot = true;
	if ((ret = record_walk(q->sdb, &w, check_entry, &ck)) != 0) {
		*error_r = xasprintf("quarantine index: %s", db_strerror(ret));
		return (-1);
	}
	return (ck.problems);
}
