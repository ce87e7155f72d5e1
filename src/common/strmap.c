/*
 * NAME
 *	strmap - string-keyed hash map with numeric values
 * DESCRIPTION
 *	Open addressing with linear probing and tombstones; the table grows
 *	when three quarters full (counting tombstones) and is rebuilt
 *	without tombstones. Lookups never allocate. The map must never hand
 *	out a pointer into a slot that a later insert may move.
 */
#include <stdlib.h>
#include <string.h>

#include "common/strmap.h"
#include "common/xalloc.h"

static char strmap_tomb_mark;
#define STRMAP_TOMB	(&strmap_tomb_mark)

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return (h);
}

/* Slot holding key, or the slot where it would go (first tombstone seen). */
static struct strmap_slot *
find(const struct strmap *m, const char *key, bool *found)
{
	struct strmap_slot *tomb = NULL, *s;
	size_t		 i, mask = m->cap - 1;

	*found = false;
	for (i = hash(key) & mask;; i = (i + 1) & mask) {
		s = &m->slots[i];
		if (s->key == NULL)
			return (tomb ? tomb : s);
		if (s->key == STRMAP_TOMB) {
			if (tomb == NULL)
				tomb = s;
			continue;
		}
		if (strcmp(s->key, key) == 0) {
			*found = true;
			return (s);
		}
	}
}

static void
grow(struct strmap *m)
{
	struct strmap	 old = *m;
	struct strmap_slot *s;
	size_t		 i;
	bool		 found;

	m->cap = old.cap ? (old.used * 2 >= old.cap ? old.cap * 2 : old.cap) : 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	m->used = m->filled = 0;
	for (i = 0; i < old.cap; i++) {
		if (old.slots[i].key == NULL || old.slots[i].key == STRMAP_TOMB)
			continue;
		s = find(m, old.slots[i].key, &found);
		*s = old.slots[i];
		m->used++;
		m->filled++;
	}
	free(old.slots);
}

void
strmap_put(struct strmap *m, const char *key, uint64_t value)
{
	struct strmap_slot *s;
	bool		 found;

	if ((m->filled + 1) * 4 >= m->cap * 3)
		grow(m);
	s = find(m, key, &found);
	if (found) {
		s->value = value;
		return;
	}
	if (s->key == NULL)
		m->filled++;
	s->key = xstrdup(key);
	s->value = value;
	m->used++;
}

bool
strmap_get(const struct strmap *m, const char *key, uint64_t *value_r)
{
	struct strmap_slot *s;
	bool		 found;

	if (m->cap == 0)
		return (false);
	s = find(m, key, &found);
	if (found && value_r != NULL)
		*value_r = s->value;
	return (found);
}

bool
strmap_del(struct strmap *m, const char *key)
{
	struct strmap_slot *s;
	bool		 found;

	if (m->cap == 0)
		return (false);
	s = find(m, key, &found);
	if (!found)
		return (false);
	free(s->key);
	s->key = STRMAP_TOMB;
	m->used--;
	return (true);
}

void
strmap_clear(struct strmap *m)
{
	size_t	 i;

	for (i = 0; i < m->cap; i++)
		if (m->slots[i].key != NULL && m->slots[i].key != STRMAP_TOMB)
			free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

bool
strmap_iter(const struct strmap *m, size_t *pos, const char **key_r,
    uint64_t *value_r)
{
	while (*pos < m->cap) {
		const struct strmap_slot *s = &m->slots[(*pos)++];

		if (s->key != NULL && s->key != STRMAP_TOMB) {
			*key_r = s->key;
			if (value_r != NULL)
				*value_r = s->value;
			return (true);
		}
	}
	return (false);
}
