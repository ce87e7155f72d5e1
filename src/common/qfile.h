/*
 * qfile.h - Postfix queue files: read one into an envelope + content model,
 * write one back with every size/offset field recomputed.
 *
 * THREADS/PROCESSES: no shared state; any process may use it. The master
 * reads envelopes with it, the workers read content with it.
 */
#ifndef HS_QFILE_H
#define HS_QFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"

struct stat;

/* Record types, as in Postfix's global/rec_type.h. */
#define QREC_SIZE	'C'	/* first record: six fixed-width numbers */
#define QREC_TIME	'T'	/* arrival time "sec usec" */
#define QREC_CTIME	'c'	/* create time (old style) */
#define QREC_FULL	'F'	/* sender full name */
#define QREC_INSP	'I'	/* inspection transport (legacy) */
#define QREC_FILT	'L'	/* content filter (envelope/extracted only) */
#define QREC_FROM	'S'	/* envelope sender */
#define QREC_DONE	'D'	/* recipient already delivered */
#define QREC_DRCP	'/'	/* cancelled recipient */
#define QREC_RCPT	'R'	/* recipient */
#define QREC_ORCP	'O'	/* original recipient, precedes its R */
#define QREC_WARN	'W'	/* next delay warning time */
#define QREC_ATTR	'A'	/* name=value */
#define QREC_KILL	'K'	/* killed record */
#define QREC_RDR	'>'	/* redirect target */
#define QREC_MESG	'M'	/* start of content */
#define QREC_NORM	'N'	/* content: one line without its newline */
#define QREC_CONT	'L'	/* content: part of a line, continued by next */
#define QREC_DTXT	'w'	/* padding, skipped */
#define QREC_XTRA	'X'	/* start of extracted segment */
#define QREC_RRTO	'r'	/* return-receipt address (legacy) */
#define QREC_ERTO	'e'	/* errors-to address (legacy) */
#define QREC_PRIO	'P'	/* priority (legacy) */
#define QREC_PTR	'p'	/* pointer "%15ld" byte offset, 0 = dummy */
#define QREC_VERP	'V'	/* VERP delimiters */
#define QREC_DSN_RET	'<'	/* DSN RET flags */
#define QREC_DSN_ENVID	'i'	/* DSN ENVID */
#define QREC_DSN_ORCPT	'o'	/* DSN ORCPT, precedes its R */
#define QREC_DSN_NOTIFY	'n'	/* DSN NOTIFY mask, precedes its R */
#define QREC_END	'E'	/* last logical record */

/* Postfix's default line_length_limit: content lines longer are split into L records. */
#define QFILE_LINE_LIMIT	2048
/* Postfix refuses record lengths that need more than 4 length bytes. */
#define QFILE_REC_MAX		((1UL << 28) - 1)

/* One record. data is borrowed (see the owner's comment) and not NUL-terminated. */
struct qfile_rec {
	int		 type;
	size_t		 len;
	const char	*data;
};

/* A recipient with the records that qualify it (all NUL-terminated, borrowed). */
struct qfile_rcpt {
	const char	*address;	/* payload of R, D or / */
	int		 state;		/* QREC_RCPT, QREC_DONE or QREC_DRCP */
	const char	*orig_rcpt;	/* preceding O, or NULL */
	const char	*dsn_orcpt;	/* preceding o / A dsn_orig_rcpt=, or NULL */
	int		 dsn_notify;	/* preceding n / A notify_flags=, 0 if none */
	bool		 extracted;	/* found in the extracted segment */
};

/*
 * A parsed queue file. Everything is owned by the struct and read-only for
 * callers; the strings and record payloads live until qfile_free().
 * Record arrays hold logical records in logical order (pointer records
 * followed, 'p' and 'w' dropped, 'K' kept).
 */
struct qfile {
	/* the C record as read */
	long		 size_field[6];
	int		 size_nfields;

	struct qfile_rec *env;		/* after C, before M */
	size_t		 nenv;
	struct qfile_rec *content;	/* N and L between M and X */
	size_t		 ncontent;
	struct qfile_rec *extra;	/* after X, before E */
	size_t		 nextra;
	size_t		 header_end;	/* content index where the headers end: the empty line, or the first body line, or ncontent */

	/* envelope, for convenience (borrowed strings, NUL-terminated) */
	long		 arrival_sec;	/* T */
	long		 arrival_usec;
	long		 create_time;	/* c or A create_time=, 0 if absent */
	const char	*sender;	/* S ("" for the null sender) */
	const char	*envid;		/* i or A envelope_id=, or NULL */
	int		 ret_flags;	/* < or A ret_flags=, 0 if absent */
	struct qfile_rcpt *rcpts;	/* envelope then extracted recipients */
	size_t		 nrcpts;
	size_t		 content_bytes;	/* sum of content record lengths + N count: the RFC 822 size */

	/* private */
	void		*priv;
};

enum qfile_errcode {
	QFILE_OK = 0,
	QFILE_EIO,		/* read failed; sys_errno is set */
	QFILE_ETOOBIG,		/* larger than the caller's limit */
	QFILE_ETRUNC,		/* file ends inside a record */
	QFILE_EBADLEN,		/* length field too long or past end of file */
	QFILE_EBADTYPE,		/* unknown record type */
	QFILE_ESEGMENT,		/* record type not allowed in its segment */
	QFILE_ESIZE,		/* C missing, malformed, or disagrees with the file */
	QFILE_ENOEND,		/* no E record */
	QFILE_EPTR,		/* bad pointer record, or a pointer loop */
	QFILE_EMISSING,		/* a required record (T, S) is missing */
	QFILE_EBADREC,		/* malformed payload (T, p, W, n, <, A, non-empty X/E) */
};

struct qfile_error {
	enum qfile_errcode code;
	long		 offset;	/* byte offset of the offending record, or -1 */
	int		 sys_errno;	/* for QFILE_EIO */
	char		 text[200];	/* complete sentence, e.g. "record at offset 1234 claims 5000 bytes, 12 left" */
};

/* Short fixed name of an error code ("truncated record", ...). */
const char	*qfile_strerror(enum qfile_errcode code);

/*
 * qfile_parse() parses a queue file image (copied; the caller keeps its
 * own). qfile_read_fd() reads one from fd (from offset 0, using pread, so
 * the file offset is untouched), refusing files over max_size bytes;
 * qfile_read_fd_stat() does the same for a caller that has fstat()ed fd
 * already (st: what it gave).
 * Both return 0 and a new struct in *qf_r, or -1 and fill *err.
 * Memory use is bounded by a small multiple of the file size.
 */
int	 qfile_parse(const void *image, size_t len, struct qfile **qf_r,
	    struct qfile_error *err);
int	 qfile_read_fd(int fd, size_t max_size, struct qfile **qf_r,
	    struct qfile_error *err);
int	 qfile_read_fd_stat(int fd, const struct stat *st, size_t max_size,
	    struct qfile **qf_r, struct qfile_error *err);
/*
 * qfile_parse_prefix() parses the first len bytes of a queue file (the
 * rest not given): as qfile_parse(), but the walk ends where the next
 * logical record is not wholly in them (a record cut, a pointer past
 * them), which must be in the content or after it: the envelope must be
 * whole. The content may then end early; the C record's sizes are not
 * held against len. For a preview only, never to write a file from.
 */
int	 qfile_parse_prefix(const void *image, size_t len, struct qfile **qf_r,
	    struct qfile_error *err);
void	 qfile_free(struct qfile **qf);

/* Value of the first named attribute A name=value, or NULL (borrowed). */
const char *qfile_attr(const struct qfile *qf, const char *name);

/*
 * What qfile_write() writes: records for each segment (no C, M, X, E, p
 * or w: the writer adds the structural records itself) and the C fields
 * that cannot be recomputed. qfile_parts_of() fills parts from a parsed
 * file so that writing it back reproduces it.
 */
struct qfile_parts {
	const struct qfile_rec *env;
	size_t		 nenv;
	const struct qfile_rec *content;
	size_t		 ncontent;
	const struct qfile_rec *extra;
	size_t		 nextra;
	long		 flags;		/* C field 4 (qmgr flags), kept */
	long		 sendopts;	/* C field 6, kept */
	int		 nfields;	/* 6, or the original's count (>= 5) */
};

void	 qfile_parts_of(const struct qfile *qf, struct qfile_parts *parts);

/*
 * qfile_image() appends a complete queue file to out: C (recomputed: data
 * size, data offset, recipient count, flags, content length, sendopts),
 * the envelope, M, the content, X, the extracted segment, E.
 * qfile_write() writes the same to fd from its current offset (handles
 * short writes and EINTR). Both return 0, or -1 and fill *err (a record
 * type not allowed in its segment, or a record too long; EIO for write).
 */
int	 qfile_image(const struct qfile_parts *parts, struct buf *out,
	    struct qfile_error *err);
int	 qfile_write(int fd, const struct qfile_parts *parts,
	    struct qfile_error *err);

/*
 * Content helpers.
 * qfile_content_text(): the RFC 822 message the records stand for
 * (N -> line + "\n", L -> line), appended to out.
 * qfile_text_records(): the reverse; splits text into N records, a line
 * longer than line_limit into L records of line_limit bytes followed by
 * an N; a last line without newline becomes an N. The records point into
 * text; *recs_r is owned by the caller (free(3)). Returns the count.
 * qfile_header_end(): index of the record where the header block ends as
 * cleanup(8) sees it: the empty line, or the first line that is neither a
 * header nor a continuation (a body without a separator), or n.
 */
void	 qfile_content_text(const struct qfile_rec *recs, size_t n,
	    struct buf *out);
/* The length of what qfile_content_text() appends for recs[n]. */
size_t	 qfile_content_text_len(const struct qfile_rec *recs, size_t n);
size_t	 qfile_text_records(const char *text, size_t len, size_t line_limit,
	    struct qfile_rec **recs_r);
size_t	 qfile_header_end(const struct qfile_rec *recs, size_t n);
/* Does the line start a header field, as Postfix's is_header() says? */
bool	 qfile_is_header_line(const char *p, size_t len);

/*
 * qfile_insert_headers() appends to out (as qfile_records_encode() does)
 * the content recs[n] with each line of add_headers ("Name: value\n"...)
 * inserted before record header_end (where the header block ends: the
 * empty line, qfile_header_end()), long lines split at line_limit as
 * Postfix does. The new content of a message that gains header lines:
 * the scanners' verdict headers, holdscand's not-scanned header, the
 * release header of the quarantine.
 */
void	 qfile_insert_headers(const struct qfile_rec *recs, size_t n,
	    size_t header_end, const char *add_headers, size_t line_limit,
	    struct buf *out);

/*
 * qfile_content_check() decides whether content that came from a worker
 * (a less trusted process) may replace orig[norig], the original content:
 * only N and L records; no LF inside a record, and no CR or NUL byte but
 * in a record that is a copy of one of the original's (a sender's bare
 * CR stays); no record longer than line_limit or the original's longest;
 * at most max_bytes in all (as qf->content_bytes counts); and a header
 * block of header fields and their continuation lines up to the first
 * empty line (a first line that is neither only where the original's
 * body starts without an empty line too). 0, or -1 with a sentence in
 * why ("content record 12 holds a CR byte").
 */
int	 qfile_content_check(const struct qfile_rec *recs, size_t n,
	    const struct qfile_rec *orig, size_t norig, size_t line_limit,
	    size_t max_bytes, char *why, size_t whysize);

/*
 * Plain record streams (type, length, payload; no structure), used to pass
 * content between processes. qfile_records_encode() appends records to out.
 * qfile_records_decode() parses len bytes at data into records pointing
 * into data, accepting only types listed in allowed (e.g. "NL"); *recs_r
 * is owned by the caller (free(3)). Returns 0, or -1 with *err filled.
 */
void	 qfile_records_encode(const struct qfile_rec *recs, size_t n,
	    struct buf *out);
int	 qfile_records_decode(const char *data, size_t len,
	    const char *allowed, struct qfile_rec **recs_r, size_t *n_r,
	    struct qfile_error *err);

#endif
