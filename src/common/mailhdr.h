/*
 * mailhdr.h - header fields of a message, for display and notices.
 *
 * Finds a field in a header block, unfolds it, and decodes RFC 2047
 * encoded words into UTF-8 that is safe to show on a terminal or put
 * into a one-line index field. Pure functions: no I/O, no state.
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

#endif
