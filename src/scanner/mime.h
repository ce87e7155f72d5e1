/*
 * mime.h - walk the MIME structure of an untrusted message with GMime,
 * within bounds.
 *
 * Runs only in scanner workers (and in plugins, which run there). The
 * message is parsed once; each leaf part is handed to a callback with its
 * names, its media type, its transfer-decoded content and, on request,
 * the byte range of the message text that a replacement part would take
 * the place of (mime_walk() with want_cut).
 *
 * Bounds: before GMime sees the text, a linear pre-scan refuses messages
 * that would make it build more than about 2 * max_parts + 16 MIME
 * entities or MIME_MAX_HEADERS header fields (each costs GMime 0.5-1.5 KB,
 * so a 7 MB message of empty parts would otherwise take 1.3 GB); after
 * parsing, nesting deeper than max_depth or more than max_parts entities
 * is refused too. A refused message is an error, never a partial walk:
 * every check runs before the first callback.
 */
#ifndef HS_MIME_H
#define HS_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

#define MIME_MAX_DEPTH		32	/* hard cap of mime_limits.max_depth */
#define MIME_MAX_PARTS		5000	/* hard cap of mime_limits.max_parts */
#define MIME_MAX_HEADERS	50000	/* header fields, all parts together */

struct mime_limits {
	size_t		 max_depth;	/* multipart/message nesting, 1..MIME_MAX_DEPTH */
	size_t		 max_parts;	/* MIME entities (every node), 1..MIME_MAX_PARTS */
	bool		 want_cut;	/* locate each leaf's replaceable range */
};

/* One leaf part. Everything is borrowed for the duration of the callback. */
struct mime_part {
	size_t		 index;		/* leaves in walk order, from 0 */
	size_t		 depth;		/* 0: the message body itself */
	const char	*content_type;	/* "application/zip", lower case */
	const char	*filename;	/* Content-Disposition filename=, or NULL */
	const char	*name;		/* Content-Type name=, or NULL */
	const char	*charset;	/* Content-Type charset=, or NULL */
	bool		 attachment;	/* Content-Disposition: attachment */
	const unsigned char *data;	/* transfer-decoded content */
	size_t		 len;
	/*
	 * With want_cut: cut_ok says whether the part can be replaced on its
	 * own (it, or the message/rfc822 chain that holds it, is an entity
	 * of a multipart), and [cut_start, cut_end) is the text to replace:
	 * from just after the boundary line before the entity to the end of
	 * its content, without the line end that belongs to the next
	 * boundary. cut_start is always at the start of a line.
	 */
	bool		 cut_ok;
	size_t		 cut_start;
	size_t		 cut_end;
	/*
	 * With cut_ok: the range is the leaf's own entity (its header
	 * fields, then its content), not a message/rfc822 part around it.
	 */
	bool		 cut_own;
};

/* 0 to go on, 1 to stop the walk (mime_walk() then returns 1). */
typedef int	(*mime_part_fn)(void *arg, const struct mime_part *part);

/* Once per process, before mime_walk() (GMime's init; counted). */
void	 mime_init(void);

/*
 * mime_walk() parses text[len] (an RFC 822 message, LF line ends) and
 * calls fn for each leaf part in order. Returns 0 when every part was
 * seen, 1 when fn stopped the walk, -1 with a sentence in why when the
 * message exceeds the limits or its structure cannot be trusted.
 */
int	 mime_walk(const char *text, size_t len, const struct mime_limits *lim,
	    mime_part_fn fn, void *arg, char *why, size_t whysize);

/*
 * mime_encode_qp() appends data[len] to out encoded quoted-printable
 * (GMime's encoder: lines of at most 76 characters, LF line ends).
 */
void	 mime_encode_qp(const unsigned char *data, size_t len, struct buf *out);

#endif
