/*
 * rewrite.h - change a message's content the way the policy asks: tag the
 * subject, expand verdict header texts, replace infected or blocked parts
 * (deliver-cleaned). Runs only in scanner workers, on untrusted content.
 *
 * Everything works on content records (N/L, as qfile reads them), so
 * that every line it does not change keeps its records exactly.
 */
#ifndef HS_REWRITE_H
#define HS_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/qfile.h"
#include "holdscan/plugin.h"
#include "scanner/mime.h"

/*
 * New content: records that point either into the caller's records or
 * into store, which the struct owns. rewrite_recs_free() releases both.
 */
struct rewrite_recs {
	struct qfile_rec *recs;
	size_t		 n;
	char		**store;
	size_t		 nstore;
};

void	 rewrite_recs_free(struct rewrite_recs *rr);

/*
 * rewrite_tag_subject() gives in out the records with tag put in front of
 * the value of the first Subject field of the header block (as cleanup(8)
 * delimits it); only the first line of that field changes, continuation
 * lines stay as they are. When the unfolded subject already contains tag,
 * or tag is empty, out holds the records unchanged. Returns false when the
 * header block has no Subject field (out unchanged; the caller adds one).
 */
bool	 rewrite_tag_subject(const struct qfile_rec *recs, size_t n,
	    const char *tag, size_t line_limit, struct rewrite_recs *out);

/*
 * rewrite_header_lines() appends to out the lines of in ("Name: value\n"
 * lines, as plugins supply them) that are header fields or continuations
 * of a kept field, each ending in "\n"; empty and malformed lines are
 * dropped (an empty line would end the header block). Returns how many
 * lines were dropped.
 */
size_t	 rewrite_header_lines(const char *in, struct buf *out);

/* Deliver-cleaned. */
enum rewrite_clean_result {
	REWRITE_CLEANED,	/* out holds the content with parts replaced */
	REWRITE_UNCHANGED,	/* no part to remove: out is empty */
	REWRITE_CANNOT,		/* a part to remove cannot be cut out: why */
	REWRITE_FAILED,		/* limits exceeded or structure not trusted: why */
};

/* The verdict of every part scanner on one part (res is zeroed first). */
typedef void	(*rewrite_part_fn)(void *arg, const struct hs_part *part,
		    struct hs_result *res);

/*
 * rewrite_clean() walks the MIME tree of text[len] (the message that recs
 * stand for) within lim, asks fn about each leaf part (twice when its
 * Content-Disposition filename and Content-Type name differ, once with
 * each) and replaces every part judged blocked, infected or unscannable
 * by a text/plain part that names what was removed and why. Everything
 * else keeps its bytes: headers, boundaries, preamble, epilogue, other
 * parts. It replaces all such parts or none: on REWRITE_CANNOT and
 * REWRITE_FAILED out is empty. summary gets one "name: verdict: reason"
 * per removed part, "; "-separated.
 */
enum rewrite_clean_result rewrite_clean(const struct qfile_rec *recs,
	    size_t n, const char *text, size_t len,
	    const struct mime_limits *lim, rewrite_part_fn fn, void *arg,
	    size_t line_limit, struct rewrite_recs *out, struct buf *summary,
	    char *why, size_t whysize);

#endif
