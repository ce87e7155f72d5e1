/*
 * NAME
 *	listdb - the allow and deny lists in the state environment
 * DESCRIPTION
 *	lists.db, a btree: key "s:ADDRESS", "d:DOMAIN" or "n:NETWORK" (the
 *	normal forms of common/lists.c), value lists_encode()'s. A lookup
 *	is at most one get for the sender, one per label of its domain and
 *	a walk over the network entries (keys "n:..." only), each in its own
 *	read (no transaction held between them); entries that fail to decode
 *	are skipped with a warning, never applied.
 *
 *	This module must never write anything but lists.db, and never hand
 *	out an entry it has not decoded and checked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "state/listdb.h"
#include "state/record.h"

#define LISTS_DB	"lists.db"
#define LISTS_VALUE_MAX	1024

struct listdb {
	struct statedb	*sdb;
	DB		*db;
};

int
listdb_open(struct statedb *sdb, struct listdb **l_r, char **error_r)
{
	struct listdb	*l;
	DB		*db;

	if (statedb_open_db(sdb, LISTS_DB, &db, error_r) < 0)
		return (-1);
	l = xcalloc(1, sizeof(*l));
	l->sdb = sdb;
	l->db = db;
	*l_r = l;
	return (0);
}

void
listdb_close(struct listdb **lp)
{
	if (*lp == NULL)
		return;
	(void)(*lp)->db->close((*lp)->db, 0);
	free(*lp);
	*lp = NULL;
}

/* The entry of key, decoded: 1, 0 (none), -1 with *error_r. */
static int
get(struct listdb *l, const char *key, struct list_entry *e, char **error_r)
{
	void	*val;
	size_t	 vlen;
	int	 ret, dberr;

	ret = record_get(l->db, NULL, key, strlen(key), 0, &val, &vlen,
	    &dberr);
	if (ret < 0) {
		*error_r = xasprintf("lists.db: %s", db_strerror(dberr));
		return (-1);
	}
	if (ret == 0)
		return (0);
	ret = lists_decode(key, strlen(key), val, vlen, e);
	free(val);
	if (ret < 0) {
		hs_warnx("lists.db: entry %.100s: malformed; ignored", key);
		return (0);
	}
	return (1);
}

int
listdb_put(struct listdb *l, const struct list_entry *e,
    enum list_kind *old_r, char **error_r)
{
	struct list_entry old;
	char		 key[LIST_KEY_SIZE], val[LISTS_VALUE_MAX];
	int		 ret;

	lists_key(e->type, e->value, key);
	if (lists_encode(e, val, sizeof(val)) < 0) {
		*error_r = xstrdup("list entry too long");
		return (-1);
	}
	if ((ret = get(l, key, &old, error_r)) < 0)
		return (-1);
	if (old_r != NULL)
		*old_r = ret ? old.kind : LIST_NONE;
	if ((ret = record_put(l->db, NULL, key, strlen(key), val,
	    strlen(val))) != 0) {
		*error_r = xasprintf("lists.db: %s", db_strerror(ret));
		return (-1);
	}
	return (0);
}

int
listdb_del(struct listdb *l, const struct list_entry *e, char **error_r)
{
	struct list_entry old;
	char		 key[LIST_KEY_SIZE];
	int		 ret;

	lists_key(e->type, e->value, key);
	if ((ret = get(l, key, &old, error_r)) <= 0)
		return (ret);
	if (old.kind != e->kind)
		return (0);
	if ((ret = record_del(l->db, NULL, key, strlen(key))) != 0) {
		*error_r = xasprintf("lists.db: %s", db_strerror(ret));
		return (-1);
	}
	return (1);
}

struct collect {
	struct list_entry *v;
	size_t		 n;
	const char	*prefix;	/* only keys starting with it, or NULL */
};

static int
collect(void *arg, const struct record *r)
{
	struct collect	*c = arg;
	struct list_entry e;

	if (c->prefix != NULL && (r->klen < strlen(c->prefix) ||
	    memcmp(r->key, c->prefix, strlen(c->prefix)) != 0))
		return (1);	/* past the prefix: done */
	if (lists_decode(r->key, r->klen, r->val, r->vlen, &e) < 0) {
		hs_warnx("lists.db: an entry is malformed; ignored");
		return (0);
	}
	c->v = xreallocarray(c->v, c->n + 1, sizeof(*c->v));
	c->v[c->n++] = e;
	return (0);
}

static int
walk(struct listdb *l, const char *prefix, struct collect *c, char **error_r)
{
	struct record_walk w;
	int		 ret;

	memset(&w, 0, sizeof(w));
	w.db = l->db;
	if (prefix != NULL) {
		w.from = prefix;
		w.fromlen = strlen(prefix);
	}
	c->prefix = prefix;
	if ((ret = record_walk(l->sdb, &w, collect, c)) != 0) {
		free(c->v);
		c->v = NULL;
		c->n = 0;
		*error_r = xasprintf("lists.db: %s", db_strerror(ret));
		return (-1);
	}
	return (0);
}

int
listdb_all(struct listdb *l, struct list_entry **v_r, size_t *n_r,
    char **error_r)
{
	struct collect	 c = { NULL, 0, NULL };

	if (walk(l, NULL, &c, error_r) < 0)
		return (-1);
	*v_r = c.v;
	*n_r = c.n;
	return (0);
}

/* Take e when it beats *best. */
static void
consider(const struct list_entry *e, struct list_entry *best)
{
	if (lists_beats(e, best))
		*best = *e;
}

int
listdb_lookup(struct listdb *l, const char *sender, const char *client,
    struct list_entry *e_r, char **error_r)
{
	struct collect	 c = { NULL, 0, NULL };
	struct list_entry e, best;
	char		 key[LIST_KEY_SIZE], addr[LIST_VALUE_SIZE], why[200];
	char		 domain[LIST_VALUE_SIZE];
	const char	*d;
	size_t		 i;
	int		 ret, prefix;

	memset(&best, 0, sizeof(best));
	best.kind = LIST_NONE;
	if (sender != NULL && sender[0] != '\0' &&
	    lists_normalise(LIST_SENDER, sender, addr, why, sizeof(why)) == 0) {
		lists_key(LIST_SENDER, addr, key);
		if ((ret = get(l, key, &e, error_r)) < 0)
			return (-1);
		if (ret)
			consider(&e, &best);
	}
	if (sender != NULL && lists_sender_domain(sender, domain))
		for (d = domain; d != NULL; d = lists_parent(d)) {
			lists_key(LIST_DOMAIN, d, key);
			if ((ret = get(l, key, &e, error_r)) < 0)
				return (-1);
			if (ret)
				consider(&e, &best);
		}
	if (client != NULL && client[0] != '\0' &&
	    strcmp(client, "unknown") != 0) {
		if (walk(l, "n:", &c, error_r) < 0)
			return (-1);
		for (i = 0; i < c.n; i++)
			if (lists_net_match(c.v[i].value, client, &prefix))
				consider(&c.v[i], &best);
		free(c.v);
	}
	if (best.kind == LIST_NONE)
		return (0);
	*e_r = best;
	return (1);
}
