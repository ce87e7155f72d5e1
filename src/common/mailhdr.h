/*
 * mailhdr.h - header fields of a message, for display, notices and
 * delivery.
 *
 * Finds a field in a header block, unfolds it, and decodes RFC 2047
 * encoded words into UTF-8 that is safe to show on a terminal or put
 * into a one-line index field; removes fields named like holdscan's
 * before holdscan adds its own. Pure functions: no I/O, no state.
 */
#ifndef HS_MAILHDR_H
#define HS_MAILHDR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/qfile.h"

/*
 * mailhdr_get() appends to out the value of the first field called name
 * (case-insensitive) in the header block text[0..len), continuation
 * lines joined with one space, leading white space removed. Returns
 * true if the field is there.
 */
bool	 mailhdr_get(const char *text, size_t len, const char *name,
	    struct buf *out);
/*
 * mailhdr_decode() appends value decoded for display: RFC 2047 encoded
 * words ("=?charset?B|Q?...?=") converted to UTF-8 (white space between
 * adjacent encoded words dropped), bytes that are not UTF-8 taken as
 * Latin-1, control characters turned into spaces. At most max bytes
 * are appended, never cutting a UTF-8 sequence.
 */
void	 mailhdr_decode(const char *value, size_t len, size_t max,
	    struct buf *out);
/* The header block of a parsed queue file as text (appended to out). */
void	 mailhdr_block(const struct qfile *qf, struct buf *out);
/* The decoded Subject of a queue file ("" when none), at most max bytes. */
void	 mailhdr_subject(const struct qfile *qf, size_t max, struct buf *out);

/* The header of holdscand's notices (null sender): see notify.c. */
#define MAILHDR_NOTICE		"X-Holdscan-Notification"
#define MAILHDR_NAME_MAX	76	/* bytes of a field name in a list */
#define MAILHDR_REMOVED_MAX	200	/* bytes of mailhdr_strip()'s names */

/*
 * A list of field names ("X-Spam-Status, X-Holdscan-*"): separated by
 * commas or blanks, case-insensitive, a trailing '*' matching any rest.
 * mailhdr_name_listed() says whether name[len] is in list (NULL or empty:
 * nothing is). mailhdr_names_check() returns NULL when list is well
 * formed, else what is wrong (a static string).
 */
bool	 mailhdr_name_listed(const char *list, const char *name, size_t len);
const char *mailhdr_names_check(const char *list);
/*
 * mailhdr_strip_names() returns (allocated) the list of what holdscan
 * removes before it adds its own fields: own1 and own2 (holdscan's own
 * field names; NULL, empty, or not one plain name: left out) and more (a
 * list such as strip_header_names; left out when it is not well formed).
 */
char	*mailhdr_strip_names(const char *own1, const char *own2,
	    const char *more);

/*
 * mailhdr_strip() sets *out_r (an array the caller frees; its records
 * point where recs point) and *nout_r to the content recs[n] without the
 * fields of the top-level header block (qfile_header_end()) whose names
 * are in list, each with its continuation lines and all records of its
 * long lines; a field named keep (NULL: none) stays whatever list says.
 * Nothing after the header block is looked at. Returns how many fields
 * were removed; their distinct names, ", "-separated and bounded, are
 * appended to removed (unless NULL).
 */
size_t	 mailhdr_strip(const struct qfile_rec *recs, size_t n,
	    const char *list, const char *keep, struct qfile_rec **out_r,
	    size_t *nout_r, struct buf *removed);

#endif
