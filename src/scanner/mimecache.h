/*
 * mimecache.h - one MIME walk per message, shared by a worker's plugins.
 *
 * Runs only in scanner workers (and the one-shot commands and tools that
 * scan as a worker does). The plugins' scan hooks each ask the host for
 * the message's MIME walk (hs_host.mime_walk); run_plugins() (scan.c)
 * gives them one cache for the message, so that GMime parses and decodes
 * the message once and the other plugins get the same parts again.
 *
 * A cache is for one message and one set of limits: a walk of other
 * text, length or limits is done afresh (and then kept instead). It is
 * emptied by mimecache_clear() when the message's plugins are done, so
 * that it never outlives the text it was made of; meanwhile it holds the
 * decoded content of every leaf part (about the message's size).
 */
#ifndef HS_MIMECACHE_H
#define HS_MIMECACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "scanner/mime.h"

struct mimecache_part;

struct mimecache {
	bool		 valid;		/* a walk is kept */
	const char	*text;		/* the text it was made of (borrowed) */
	size_t		 len;
	size_t		 max_depth, max_parts;	/* its limits, as asked */
	int		 rc;		/* 0, or -1 with why */
	char		 why[256];
	struct mimecache_part *parts;	/* every leaf part, in walk order */
	size_t		 nparts;
	unsigned	 walks;		/* walks done (GMime parses) */
	unsigned	 replays;	/* walks answered from the kept one */
};

void	 mimecache_init(struct mimecache *c);
/* Forget the walk kept (its parts are freed). */
void	 mimecache_clear(struct mimecache *c);

/*
 * mimecache_walk() is mime_walk() (mime.h), answered from the walk kept
 * when text, len and lim's max_depth and max_parts are those it was made
 * of: the same parts in the same order, the same error (-1 and why)
 * before any callback; fn may stop the walk (1) as with mime_walk().
 * Otherwise it walks text once, keeps every part, then calls fn for
 * each. lim->want_cut is not supported (rewrite.c walks for itself).
 */
int	 mimecache_walk(struct mimecache *c, const char *text, size_t len,
	    const struct mime_limits *lim, mime_part_fn fn, void *arg,
	    char *why, size_t whysize);

#endif
