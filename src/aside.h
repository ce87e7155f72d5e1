/*
 * aside.h - messages set aside in the hold queue (scan failed, or a
 * policy said hold): remembered so that holdscand leaves them alone until
 * the admin acts with Postfix's own tools (postsuper -H, -d, -r).
 */
#ifndef HS_ASIDE_H
#define HS_ASIDE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "queue.h"
#include "statedb.h"

struct aside_entry {
	char		 id[QUEUE_ID_SIZE];
	uint64_t	 ino;
	time_t		 when;
	char		 reason[256];
};

struct aside;

int	 aside_open(struct statedb *sdb, struct aside **a_r, char **error_r);
void	 aside_close(struct aside **a);
/* Remember (durably) or forget an entry. */
int	 aside_put(struct aside *a, const struct aside_entry *e, char **error_r);
int	 aside_del(struct aside *a, const char *id, char **error_r);
/* Every entry; *v_r owned by the caller (free(3)). */
int	 aside_list(struct aside *a, struct aside_entry **v_r, size_t *n_r,
	    char **error_r);

#endif
