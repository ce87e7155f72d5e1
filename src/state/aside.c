/*
 * NAME
 *	aside - the set-aside list (Berkeley DB btree in the state environment)
 * DESCRIPTION
 *	Key: queue id. Value (version 2):
 *
 *	    2 INODE WHEN LAST ATTEMPTS EPOCH PHASE QID REASON
 *
 *	(EPOCH and QID "-" when empty, PHASE "held" or "bounce"); version 1
 *	entries ("1 INODE TIME REASON", before the life cycle) are read as
 *	one attempt by unknown scanners, so they are scanned once more. An
 *	entry matches a held file only while the file keeps its inode, so a
 *	new message that happens to reuse an id is scanned normally. Entries
 *	are written durably (each put its own synchronous transaction)
 *	before the file returns to hold, so a crash cannot turn a set-aside
 *	message into a scan loop; a set-aside message is scanned again only
 *	when the scanners of its epoch were replaced (aside.h), and an
 *	attempt that ends in set aside again records the new epoch.
 *
 *	This module must never touch queue files, and never lose the first
 *	time or the attempt count of an entry that is set aside again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "state/aside.h"
#include "state/record.h"

#define ASIDE_DB	"aside.db"
#define ASIDE_VALUE_MAX	1024

struct aside {
	struct statedb	*sdb;
	DB		*db;
	char		 epoch[ASIDE_EPOCH_SIZE];
};

int
aside_open(struct statedb *sdb, struct aside **a_r, char **error_r)
{
	struct aside	*a;
	DB		*db;

	if (statedb_open_db(sdb, ASIDE_DB, &db, error_r) < 0)
		return (-1);
	a = xcalloc(1, sizeof(*a));
	a->sdb = sdb;
	a->db = db;
	*a_r = a;
	return (0);
}

void
aside_close(struct aside **ap)
{
	if (*ap == NULL)
		return;
	(void)(*ap)->db->close((*ap)->db, 0);
	free(*ap);
	*ap = NULL;
}

void
aside_set_epoch(struct aside *a, const char *epoch)
{
	(void)snprintf(a->epoch, sizeof(a->epoch), "%s", epoch);
}

/* A word of the value: no spaces, never empty ("-" stands for ""). */
static const char *
word(const char *s)
{
	return (s[0] == '\0' || strpbrk(s, " \t\n") != NULL ? "-" : s);
}

int
aside_encode(const struct aside_entry *e, char *buf, size_t size)
{
	int	 n;

	n = snprintf(buf, size, "2 %" PRIu64 " %lld %lld %u %s %s %s %s",
	    e->ino, (long long)e->when, (long long)(e->last ? e->last : e->when),
	    e->attempts, word(e->epoch),
	    e->phase == ASIDE_BOUNCE ? "bounce" : "held", word(e->qid),
	    e->reason);
	if (n < 0)
		return (-1);
	if ((size_t)n >= size) {
		/* Only the reason can be that long: cut it, keep the rest. */
		buf[size - 1] = '\0';
		n = (int)size - 1;
	}
	return (n);
}

/* The next space-separated word of *p into out ("-" gives ""). */
static int
next_word(const char **p, char *out, size_t size)
{
	size_t	 len;

	*p += strspn(*p, " ");
	len = strcspn(*p, " ");
	if (len == 0 || len >= size)
		return (-1);
	if (len == 1 && **p == '-')
		out[0] = '\0';
	else {
		memcpy(out, *p, len);
		out[len] = '\0';
	}
	*p += len;
	return (0);
}

int
aside_decode(const char *id, size_t idlen, const void *data, size_t len,
    struct aside_entry *e)
{
	char		 text[ASIDE_VALUE_MAX + 1], phase[16];
	const char	*p;
	long long	 when, last;
	unsigned	 attempts;
	int		 off = 0;

	memset(e, 0, sizeof(*e));
	if (idlen == 0 || idlen >= sizeof(e->id) || len > ASIDE_VALUE_MAX)
		return (-1);
	memcpy(e->id, id, idlen);
	if (memchr(e->id, '\0', idlen) != NULL || !queue_id_ok(e->id))
		return (-1);	/* names a file in hold: must be a queue id */
	memcpy(text, data, len);
	text[len] = '\0';
	if (strlen(text) != len)
		return (-1);
	if (text[0] == '1') {
		if (sscanf(text, "1 %" SCNu64 " %lld %n", &e->ino, &when,
		    &off) < 2 || off == 0)
			return (-1);
		e->when = e->last = (time_t)when;
		e->attempts = 1;
		p = text + off;
	} else {
		if (sscanf(text, "2 %" SCNu64 " %lld %lld %u %n", &e->ino,
		    &when, &last, &attempts, &off) < 4 || off == 0)
			return (-1);
		e->when = (time_t)when;
		e->last = (time_t)last;
		e->attempts = attempts;
		p = text + off;
		if (next_word(&p, e->epoch, sizeof(e->epoch)) < 0 ||
		    next_word(&p, phase, sizeof(phase)) < 0 ||
		    next_word(&p, e->qid, sizeof(e->qid)) < 0)
			return (-1);
		if (strcmp(phase, "bounce") == 0)
			e->phase = ASIDE_BOUNCE;
		else if (strcmp(phase, "held") == 0)
			e->phase = ASIDE_HELD;
		else
			return (-1);
		if (*p == ' ')
			p++;
	}
	(void)snprintf(e->reason, sizeof(e->reason), "%s", p);
	return (0);
}

static int
write_entry(struct aside *a, const struct aside_entry *e, char **error_r)
{
	char	 val[ASIDE_VALUE_MAX];
	int	 n, ret;

	if ((n = aside_encode(e, val, sizeof(val))) < 0) {
		*error_r = xasprintf("set-aside list: %s: cannot encode", e->id);
		return (-1);
	}
	if ((ret = record_put(a->db, NULL, e->id, strlen(e->id), val,
	    (size_t)n)) != 0) {
		*error_r = xasprintf("set-aside list: %s", db_strerror(ret));
		return (-1);
	}
	return (0);
}

int
aside_get(struct aside *a, const char *id, struct aside_entry *e,
    char **error_r)
{
	void	*val;
	size_t	 len;
	int	 r, ret;

	if ((r = record_get(a->db, NULL, id, strlen(id), 0, &val, &len,
	    &ret)) <= 0) {
		if (r < 0)
			*error_r = xasprintf("set-aside list: %s",
			    db_strerror(ret));
		return (r);
	}
	r = aside_decode(id, strlen(id), val, len, e);
	free(val);
	return (r < 0 ? 0 : 1);	/* unreadable: as if not listed */
}

void
aside_merge(const struct aside_entry *old, struct aside_entry *e,
    const char *epoch)
{
	time_t	 now = e->when;

	if (e->epoch[0] == '\0' && epoch != NULL)
		(void)snprintf(e->epoch, sizeof(e->epoch), "%s", epoch);
	e->last = now;
	if (old == NULL || old->ino != e->ino) {
		if (e->attempts == 0)
			e->attempts = 1;
		return;
	}
	if (old->when != 0 && old->when < now)
		e->when = old->when;
	if (e->attempts == 0)
		e->attempts = old->attempts + 1;
	e->phase = old->phase;
	(void)snprintf(e->qid, sizeof(e->qid), "%s", old->qid);
}

int
aside_put(struct aside *a, const struct aside_entry *e, char **error_r)
{
	struct aside_entry old, ne = *e;
	int		 r;

	if ((r = aside_get(a, e->id, &old, error_r)) < 0)
		return (-1);
	aside_merge(r == 1 ? &old : NULL, &ne, a->epoch);
	return (write_entry(a, &ne, error_r));
}

int
aside_update(struct aside *a, const struct aside_entry *e, char **error_r)
{
	return (write_entry(a, e, error_r));
}

int
aside_del(struct aside *a, const char *id, char **error_r)
{
	int	 ret;

	if ((ret = record_del(a->db, NULL, id, strlen(id))) != 0) {
		*error_r = xasprintf("set-aside list: %s", db_strerror(ret));
		return (-1);
	}
	return (0);
}

/* aside_list()'s collector. */
struct entries {
	struct aside_entry *v;
	size_t		 n;
};

static int
collect(void *arg, const struct record *r)
{
	struct entries	*es = arg;
	struct aside_entry e;

	if (aside_decode(r->key, r->klen, r->val, r->vlen, &e) < 0)
		return (0);
	es->v = xreallocarray(es->v, es->n + 1, sizeof(*es->v));
	es->v[es->n++] = e;
	return (0);
}

int
aside_list(struct aside *a, struct aside_entry **v_r, size_t *n_r,
    char **error_r)
{
	struct record_walk w;
	struct entries	 es = { NULL, 0 };
	int		 ret;

	memset(&w, 0, sizeof(w));
	w.db = a->db;
	if ((ret = record_walk(a->sdb, &w, collect, &es)) != 0) {
		free(es.v);
		*error_r = xasprintf("set-aside list: %s", db_strerror(ret));
		return (-1);
	}
	*v_r = es.v;
	*n_r = es.n;
	return (0);
}

/* --- the life cycle ------------------------------------------------------- */

bool
aside_failed(const struct aside_entry *e)
{
	static const char failed[] = "scan-failed";
	size_t		 n = sizeof(failed) - 1;

	return (strncmp(e->reason, failed, n) == 0 &&
	    (e->reason[n] == '\0' || e->reason[n] == ':'));
}

time_t
aside_expires(const struct aside_entry *e, long lifetime_s)
{
	if (lifetime_s <= 0 || !aside_failed(e))
		return (0);
	return (e->when + (time_t)lifetime_s);
}

void
aside_epoch_make(char *buf, uint64_t digest, unsigned long long run,
    unsigned generation)
{
	(void)snprintf(buf, ASIDE_EPOCH_SIZE, "%016llx:%llx:%x",
	    (unsigned long long)digest, run, generation);
}

/* Split "DIGEST:RUN:GEN"; false when it is not one. */
static bool
epoch_split(const char *e, char *digest, char *run, char *gen, size_t size)
{
	const char	*a = strchr(e, ':'), *b;

	if (a == NULL || (b = strchr(a + 1, ':')) == NULL ||
	    strchr(b + 1, ':') != NULL || (size_t)(a - e) >= size ||
	    (size_t)(b - a - 1) >= size || strlen(b + 1) >= size ||
	    a == e || b == a + 1 || b[1] == '\0')
		return (false);
	(void)snprintf(digest, size, "%.*s", (int)(a - e), e);
	(void)snprintf(run, size, "%.*s", (int)(b - a - 1), a + 1);
	(void)snprintf(gen, size, "%s", b + 1);
	return (true);
}

bool
aside_epoch_changed(const char *then, const char *now)
{
	char	 d1[ASIDE_EPOCH_SIZE], r1[ASIDE_EPOCH_SIZE], g1[ASIDE_EPOCH_SIZE];
	char	 d2[ASIDE_EPOCH_SIZE], r2[ASIDE_EPOCH_SIZE], g2[ASIDE_EPOCH_SIZE];

	if (now == NULL || !epoch_split(now, d2, r2, g2, sizeof(d2)))
		return (false);		/* no scanners yet */
	if (then == NULL || !epoch_split(then, d1, r1, g1, sizeof(d1)))
		return (true);		/* unknown scanners */
	if (strcmp(r1, r2) == 0)
		return (strcmp(g1, g2) != 0);
	return (strcmp(d1, d2) != 0);
}

enum aside_next
aside_next(const struct aside_entry *e, time_t now, long lifetime_s,
    const char *epoch, bool rescan)
{
	time_t	 ends;

	if (!aside_failed(e))
		return (ASIDE_ADMIN);
	if (e->phase == ASIDE_BOUNCE)
		return (ASIDE_NOTICE);
	if ((ends = aside_expires(e, lifetime_s)) != 0 && now >= ends)
		return (ASIDE_EXPIRE);
	if (rescan && aside_epoch_changed(e->epoch, epoch))
		return (ASIDE_RESCAN);
	return (ASIDE_WAIT);
}
