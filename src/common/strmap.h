/*
 * strmap.h - a string-keyed hash map with 64-bit values.
 *
 * Keys are copied; values are plain numbers (an inode, a time, a flag).
 * Not for untrusted keys at scale: FNV-1a hashing, open addressing.
 */
#ifndef HS_STRMAP_H
#define HS_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	char		*key;		/* NULL: empty; STRMAP_TOMB: deleted */
	uint64_t	 value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t		 cap;		/* power of two, or 0 */
	size_t		 used;		/* live keys */
	size_t		 filled;	/* live keys + tombstones */
};

#define STRMAP_INIT	{ NULL, 0, 0, 0 }

void	 strmap_put(struct strmap *m, const char *key, uint64_t value);
bool	 strmap_get(const struct strmap *m, const char *key, uint64_t *value_r);
bool	 strmap_del(struct strmap *m, const char *key);
void	 strmap_clear(struct strmap *m);
/* Iterate: start with *pos = 0; false at the end. Keys are borrowed. */
bool	 strmap_iter(const struct strmap *m, size_t *pos, const char **key_r,
	    uint64_t *value_r);

#endif
