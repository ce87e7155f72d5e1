/*
 * listdb.h - the allow and deny lists (lists.db in the state
 * environment): add, delete, list, and the lookup for one message.
 *
 * Written by holdscan list, read by holdscand's master for each message
 * it dispatches (so that a change applies to the next message, without a
 * reload) and by holdscan scan. A worker never opens it: it gets the
 * lookup's result with the message (common/wire.h).
 */
#ifndef HS_LISTDB_H
#define HS_LISTDB_H

#include <stddef.h>

#include "common/lists.h"
#include "state/statedb.h"

struct listdb;

/* 0, or -1 with *error_r (the caller's to free). */
int	 listdb_open(struct statedb *sdb, struct listdb **l_r, char **error_r);
void	 listdb_close(struct listdb **l);

/*
 * listdb_put() adds e (its value normalised), replacing the entry of the
 * same type and value; *old_r (or NULL) gets the kind replaced, or
 * LIST_NONE. listdb_del() removes the entry of e's type and value when
 * it has e's kind: 1 removed, 0 no such entry. -1 with *error_r.
 */
int	 listdb_put(struct listdb *l, const struct list_entry *e,
	    enum list_kind *old_r, char **error_r);
int	 listdb_del(struct listdb *l, const struct list_entry *e,
	    char **error_r);
/* Every entry in key order into *v_r[*n_r] (the caller's to free). */
int	 listdb_all(struct listdb *l, struct list_entry **v_r, size_t *n_r,
	    char **error_r);
/*
 * listdb_lookup() finds the entry that applies to a message of envelope
 * sender (internal form; "" or NULL: none) from client (an address, or
 * NULL/"unknown"): the sender, its domain and parent domains, every
 * network containing client; lists_beats() picks one. 1 with *e_r, 0
 * none applies, -1 with *error_r.
 */
int	 listdb_lookup(struct listdb *l, const char *sender,
	    const char *client, struct list_entry *e_r, char **error_r);

#endif
