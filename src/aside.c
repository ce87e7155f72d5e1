/*
 * NAME
 *	aside - the set-aside list (Berkeley DB btree in the state environment)
 * DESCRIPTION
 *	Key: queue id. Value: "1 inode time reason". An entry matches a
 *	held file only while the file keeps its inode, so a new message that
 *	happens to reuse an id is scanned normally. Entries are written
 *	durably before the file returns to hold, so a crash cannot turn a
 *	set-aside message into a scan loop.
 *
 *	This module must never touch queue files.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aside.h"
#include "xalloc.h"

#define ASIDE_DB	"aside.db"

struct aside {
	struct statedb	*sdb;
	DB		*db;
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

static void
dbt_set(DBT *d, const void *data, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)data;
	d->size = (u_int32_t)len;
}

int
aside_put(struct aside *a, const struct aside_entry *e, char **error_r)
{
	char	 val[400];
	DBT	 key, data;
	int	 n, ret;

	n = snprintf(val, sizeof(val), "1 %" PRIu64 " %lld %s", e->ino,
	    (long long)e->when, e->reason);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(val))
		n = sizeof(val) - 1;
	dbt_set(&key, e->id, strlen(e->id));
	dbt_set(&data, val, (size_t)n);
	if ((ret = a->db->put(a->db, NULL, &key, &data, DB_AUTO_COMMIT)) != 0) {
		*error_r = xasprintf("set-aside list: %s", db_strerror(ret));
		return (-1);
	}
	return (0);
}

int
aside_del(struct aside *a, const char *id, char **error_r)
{
	DBT	 key;
	int	 ret;

	dbt_set(&key, id, strlen(id));
	ret = a->db->del(a->db, NULL, &key, DB_AUTO_COMMIT);
	if (ret != 0 && ret != DB_NOTFOUND) {
		*error_r = xasprintf("set-aside list: %s", db_strerror(ret));
		return (-1);
	}
	return (0);
}

int
aside_list(struct aside *a, struct aside_entry **v_r, size_t *n_r,
    char **error_r)
{
	struct aside_entry *v = NULL;
	DBC		*cur;
	DBT		 key, data;
	size_t		 n = 0;
	int		 ret, off;
	char		 text[512];
	long long	 when;

	if ((ret = a->db->cursor(a->db, NULL, &cur, 0)) != 0) {
		*error_r = xasprintf("set-aside list: %s", db_strerror(ret));
		return (-1);
	}
	memset(&key, 0, sizeof(key));
	memset(&data, 0, sizeof(data));
	while ((ret = cur->get(cur, &key, &data, DB_NEXT)) == 0) {
		struct aside_entry *e;

		if (key.size >= QUEUE_ID_SIZE || data.size >= sizeof(text))
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		e = &v[n];
		memset(e, 0, sizeof(*e));
		memcpy(e->id, key.data, key.size);
		memcpy(text, data.data, data.size);
		text[data.size] = '\0';
		off = 0;
		if (sscanf(text, "1 %" SCNu64 " %lld %n", &e->ino, &when, &off) < 2)
			continue;
		e->when = (time_t)when;
		(void)snprintf(e->reason, sizeof(e->reason), "%s", text + off);
		n++;
	}
	(void)cur->close(cur);
	if (ret != DB_NOTFOUND) {
		free(v);
		*error_r = xasprintf("set-aside list: %s", db_strerror(ret));
		return (-1);
	}
	*v_r = v;
	*n_r = n;
	return (0);
}
