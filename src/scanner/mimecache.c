/*
 * NAME
 *	mimecache - one MIME walk per message, shared by a worker's plugins
 * DESCRIPTION
 *	mimecache_walk() walks the message with mime_walk() the first time
 *	it is asked, copying each leaf part (its names, media type, charset
 *	and decoded content) into the cache, and then calls the caller's
 *	callback for each part kept. Asked again for the same text, length
 *	and limits, it calls the callback for the kept parts without
 *	parsing: the same parts, the same order, the same refusal.
 *
 *	The first walk never stops early, whatever the callback wants: the
 *	parts are all kept before the first callback, so that a later
 *	plugin sees every part, and a message mime_walk() refuses is refused
 *	to every caller before any callback, as mime_walk() does.
 *
 *	This module must never answer a walk of other text, length or
 *	limits from the kept one, never keep anything past mimecache_clear(),
 *	and never change the message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "scanner/mimecache.h"

struct mimecache_part {
	size_t		 depth;
	char		*content_type;
	char		*filename;	/* or NULL */
	char		*name;		/* or NULL */
	char		*charset;	/* or NULL */
	bool		 attachment;
	unsigned char	*data;		/* NUL after len bytes, never NULL */
	size_t		 len;
};

void
mimecache_init(struct mimecache *c)
{
	memset(c, 0, sizeof(*c));
}

static void
parts_free(struct mimecache *c)
{
	size_t	 i;

	for (i = 0; i < c->nparts; i++) {
		free(c->parts[i].content_type);
		free(c->parts[i].filename);
		free(c->parts[i].name);
		free(c->parts[i].charset);
		free(c->parts[i].data);
	}
	free(c->parts);
	c->parts = NULL;
	c->nparts = 0;
}

void
mimecache_clear(struct mimecache *c)
{
	parts_free(c);
	c->valid = false;
	c->text = NULL;
	c->len = 0;
	c->rc = 0;
	c->why[0] = '\0';
}

static char *
dup_or_null(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

/* mime_walk()'s callback for the first walk: keep the part, go on. */
static int
keep_part(void *arg, const struct mime_part *mp)
{
	struct mimecache *c = arg;
	struct mimecache_part *k;

	c->parts = xreallocarray(c->parts, c->nparts + 1, sizeof(*c->parts));
	k = &c->parts[c->nparts++];
	memset(k, 0, sizeof(*k));
	k->depth = mp->depth;
	k->content_type = xstrdup(mp->content_type);
	k->filename = dup_or_null(mp->filename);
	k->name = dup_or_null(mp->name);
	k->charset = dup_or_null(mp->charset);
	k->attachment = mp->attachment;
	k->data = xmalloc(mp->len + 1);
	if (mp->len > 0)
		memcpy(k->data, mp->data, mp->len);
	k->data[mp->len] = '\0';
	k->len = mp->len;
	return (0);
}

static bool
kept(const struct mimecache *c, const char *text, size_t len,
    const struct mime_limits *lim)
{
	return (c->valid && c->text == text && c->len == len &&
	    c->max_depth == lim->max_depth && c->max_parts == lim->max_parts);
}

int
mimecache_walk(struct mimecache *c, const char *text, size_t len,
    const struct mime_limits *lim, mime_part_fn fn, void *arg, char *why,
    size_t whysize)
{
	struct mime_limits l = *lim;
	struct mime_part mp;
	size_t		 i;

	if (lim->want_cut)
		return (mime_walk(text, len, lim, fn, arg, why, whysize));
	if (kept(c, text, len, lim))
		c->replays++;
	else {
		mimecache_clear(c);
		l.want_cut = false;
		c->walks++;
		c->rc = mime_walk(text, len, &l, keep_part, c, c->why,
		    sizeof(c->why));
		if (c->rc != 0) {
			/* refused: nothing of it is shown to anyone */
			parts_free(c);
			c->rc = -1;
			if (c->why[0] == '\0')
				(void)snprintf(c->why, sizeof(c->why),
				    "cannot walk the MIME structure");
		}
		c->valid = true;
		c->text = text;
		c->len = len;
		c->max_depth = lim->max_depth;
		c->max_parts = lim->max_parts;
	}
	if (c->rc < 0) {
		(void)snprintf(why, whysize, "%s", c->why);
		return (-1);
	}
	for (i = 0; i < c->nparts; i++) {
		const struct mimecache_part *k = &c->parts[i];

		memset(&mp, 0, sizeof(mp));
		mp.index = i;
		mp.depth = k->depth;
		mp.content_type = k->content_type;
		mp.filename = k->filename;
		mp.name = k->name;
		mp.charset = k->charset;
		mp.attachment = k->attachment;
		mp.data = k->data;
		mp.len = k->len;
		if (fn(arg, &mp) != 0)
			return (1);
	}
	return (0);
}
