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

/* Renaming in deliver-cleaned (rewrite_clean_rename()). */
struct rewrite_rename {
	/* HS_REWRITE_RENAME to the plugins: 1 with out->filename, or 0 */
	int		(*fn)(void *arg, const struct hs_rewrite_in *in,
			    struct hs_rewrite_out *out);
	void		*arg;
	struct buf	*renamed;	/* "old to new: reason", "; "-separated */
};

/*
 * rewrite_clean_rename() is rewrite_clean() where a part judged blocked
 * (not infected, not unscannable) that rn->fn gives a new name, and that
 * fn then judges below blocked under it, is renamed instead of replaced:
 * its Content-Type name= and Content-Disposition filename= (RFC 2231
 * forms too) become one quoted new name (printable ASCII), its other
 * fields and content keep their bytes. rn->renamed gets one "name to
 * new: reason" per renamed part; summary only the removed ones.
 */
enum rewrite_clean_result rewrite_clean_rename(const struct qfile_rec *recs,
	    size_t n, const char *text, size_t len,
	    const struct mime_limits *lim, rewrite_part_fn fn, void *arg,
	    const struct rewrite_rename *rn, size_t line_limit,
	    struct rewrite_recs *out, struct buf *summary, char *why,
	    size_t whysize);

/*
 * HTML disarming (the policy's html_disarm): the new content of one
 * text/html part, from the plugins' rewrite_part hooks: 1 with out
 * filled, 0 to keep the part, -1 with out->reason when it must change
 * and cannot.
 */
typedef int	(*rewrite_html_fn)(void *arg, const struct hs_rewrite_in *in,
		    struct hs_rewrite_out *out);

/*
 * The most a rewrite may add to a message: the master refuses content
 * that grew by more than MSG_CONTENT_GROWTH (commit/msg.h, 4 MiB); a
 * copy that would grow by more than this is not built.
 */
#define REWRITE_MAX_GROWTH	(3UL * 1024 * 1024)

/*
 * rewrite_html() walks the MIME tree of text[len] (the message that recs
 * stand for) within lim and asks fn, with how (HS_REWRITE_DISARM,
 * HS_REWRITE_TEXT or HS_REWRITE_KEEP) and flags (HS_REWRITE_*: the
 * policy's highlight_phishing), about each text/html leaf part. Each part fn gives
 * new content for becomes that content, quoted-printable, with its own
 * Content-Type (the new type and charset) and Content-Transfer-Encoding
 * fields in place of the old ones; its other fields (Content-Disposition,
 * Content-ID, ...) stay. A part of a multipart is replaced in place
 * (deliver-cleaned's splice); the body of a single-part message gets the
 * new fields in the message's header block. Everything else keeps its
 * records. REWRITE_CLEANED: out holds the new content and summary says
 * what changed; REWRITE_UNCHANGED: nothing to do, out empty;
 * REWRITE_CANNOT: a part must change but cannot (fn said so, fn's
 * answer is not a text type and charset, the part is inside an attached
 * message, the copy would grow by more than REWRITE_MAX_GROWTH): why;
 * REWRITE_FAILED: beyond the limits: why. All parts or none. The
 * summary counts the parts and, when there are any, the links fn
 * highlighted.
 */
enum rewrite_clean_result rewrite_html(const struct qfile_rec *recs,
	    size_t n, const char *text, size_t len,
	    const struct mime_limits *lim, int how, unsigned flags,
	    rewrite_html_fn fn,
	    void *arg, size_t line_limit, struct rewrite_recs *out,
	    struct buf *summary, char *why, size_t whysize);

#endif
