/*
 * NAME
 *	qfile - read and write Postfix queue files
 * SYNOPSIS
 *	#include "common/qfile.h"
 *
 *	int	qfile_parse(image, len, qf_r, err);
 *	int	qfile_parse_prefix(image, len, qf_r, cut_r, err);
 *	int	qfile_read_fd(fd, max_size, qf_r, err);
 *	void	qfile_free(qf);
 *	int	qfile_image(parts, out, err);
 *	int	qfile_write(fd, parts, err);
 *	void	qfile_insert_headers(recs, n, header_end, add_headers,
 *		    line_limit, out);
 * DESCRIPTION
 *	The reader follows the file the way Postfix's rec_get() and qmgr(8)
 *	do: it starts at the C record, follows non-zero p (pointer) records,
 *	continues after zero (dummy) ones, skips w (padding) in the content
 *	and stops at the first logical E record, so that a file edited by a
 *	Milter comes out linear. It accepts in each segment what qmgr(8)
 *	accepts there (the envelope and the extracted segment take the union
 *	of Postfix's envelope and extracted record types, the content only N
 *	and L), and requires what qmgr(8) requires: a C record first whose
 *	data offset and data size locate the M and X records exactly, qmgr
 *	flags within 0x1F, a T and an S record, and an E record.
 *	qfile_parse_prefix() reads a file's first bytes (the web console's
 *	preview of another host's message): the same walk, which ends,
 *	without an error, where the next record is not wholly in them (the
 *	envelope must be whole); the C record's sizes are not held against
 *	the bytes given.
 *
 *	The writer emits the records it is given between the structural
 *	records it adds itself (C, M, X, E) and computes every C field from
 *	the offsets it produces, so a file it writes is linear and consistent.
 *	It checks the records against the same rules as the reader: whatever
 *	it writes, the reader (and qmgr) accepts.
 *
 *	This module must never read outside the image it is given, never loop
 *	on pointer records, never use memory out of proportion to the file
 *	(about 2 bytes per byte for real mail; 12.5 for a message of empty
 *	lines, whose 2-byte records each take a struct qfile_rec; at worst
 *	about 35 for a file of empty recipient records), never write a file
 *	qmgr(8) would move to
 *	the corrupt queue, and never log: every problem goes to the caller in
 *	a struct qfile_error.
 * DIAGNOSTICS
 *	Functions that can fail return -1 and fill err: a code and a complete
 *	sentence that names the byte offset (reader) or the segment and
 *	index (writer) of the offending record. qfile_records_encode() panics
 *	on a record that cannot be encoded (a bug in the caller).
 * SEE ALSO
 *	global/record.c, global/rec_type.h, qmgr/qmgr_message.c and
 *	cleanup/cleanup_milter.c in the Postfix source; postfix-queue.md.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/qfile.h"
#include "common/xalloc.h"

/*
 * What qmgr accepts outside the content: REC_TYPE_ENVELOPE plus
 * REC_TYPE_EXTRACT, less the structural records this module handles
 * itself (C, M, X, E; p and w are dealt with by the walk).
 */
#define QFILE_META_TYPES	"TcFILSDRO/WVA>K<ionPre"
#define QFILE_CONTENT_TYPES	"NL"
/* Every type in rec_type.h; 'f', 'd', 'm' occur only in cleanup input. */
#define QFILE_KNOWN_TYPES	"CTcFILSDRO/WAK>fdMNwXrePpV<ionmE"

#define QFILE_LEN_BYTES		4	/* rec_get_raw: 7 bits a byte, int */
#define QFILE_SIZE_WIDTH	15	/* "%15ld" */
#define QFILE_FLAGS_USER	0x1F	/* QMGR_READ_FLAG_USER */
#define QFILE_WRITE_CHUNK	65536

/* DSN masks, as in global/dsn_mask.h. */
#define DSN_NOTIFY_NEVER	1
#define DSN_NOTIFY_ANY		(2 | 4 | 8)
#define DSN_RET_FULL		1
#define DSN_RET_HDRS		2

enum qfile_seg {
	SEG_ENV,
	SEG_CONTENT,
	SEG_EXTRA,
};

/* One physical record: type, payload position, and where it ends. */
struct rawrec {
	size_t		 off;
	int		 type;
	size_t		 data;
	size_t		 len;
	size_t		 end;
};

/* The reader's state while it walks an image. */
struct walk {
	const unsigned char *img;
	size_t		 len;
	long		 size_field[6];	/* the C record */
	int		 size_nfields;
	long		 data_offset;	/* C field 2 */
	size_t		 x_off;		/* offset of the X record */
	size_t		 first;		/* lowest valid pointer target */
	size_t		 pos;		/* next physical record */
	size_t		 visited;	/* bytes of logical records read */
	struct qfile_rec *recs;		/* logical records, data in img */
	size_t		 nrecs, caprecs;
	size_t		 nseg[3];	/* records per segment */
	size_t		 arena_need;	/* see arena_copy() */
	size_t		 nrcpts;
	bool		 prefix;	/* the image is the file's first bytes */
};

struct qfile_priv {
	char		*arena;		/* payloads, each followed by NUL */
};

/* Where the writer sends its bytes: a buffer, flushed to fd if fd >= 0. */
struct emit {
	struct buf	*b;
	int		 fd;
	size_t		 flushed;
};

/* Pending recipient qualifiers (O, o, n) for the next recipient. */
struct pending {
	const char	*orig_rcpt;
	const char	*dsn_orcpt;
	int		 dsn_notify;
};

static int	 qfail(struct qfile_error *, enum qfile_errcode, long,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static const char *type_name(int, char *, size_t);
static int	 known_type(int);
static int	 is_space(int);
static int	 parse_digits(const char *, size_t, long *);
static int	 parse_long(const char *, size_t, long *);
static int	 parse_time(const char *, size_t, long *, long *);
static int	 attr_split(const char *, size_t, const char **, size_t *,
		    const char **, size_t *);
static size_t	 attr_trimmed_len(const char *, size_t);
static int	 attr_map(const char *, size_t);
static int	 dsn_value(const char *, size_t, int);
static const char *payload_problem(int, const char *, size_t);
static size_t	 len_bytes(size_t);
static size_t	 rec_size(size_t);
static int	 rec_at(const unsigned char *, size_t, size_t,
		    struct rawrec *, struct qfile_error *);
static int	 ptr_target(const struct walk *, const struct rawrec *,
		    size_t *, struct qfile_error *);
static int	 size_fields(const char *, size_t, long *, int *);
static int	 walk_size(struct walk *, struct qfile_error *);
static int	 walk_locate_x(struct walk *, struct qfile_error *);
static int	 walk_next(struct walk *, struct rawrec *,
		    struct qfile_error *);
static size_t	 value_copy_len(int, const char *, size_t);
static void	 walk_keep(struct walk *, enum qfile_seg,
		    const struct rawrec *);
static int	 walk_record(struct walk *, enum qfile_seg *,
		    const struct rawrec *, struct qfile_error *);
static int	 walk_all(struct walk *, struct qfile_error *);
static char	*arena_copy(struct walk *);
static const char *attr_value(const struct qfile_rec *, const char *,
		    size_t);
static int	 arrival_of(const struct qfile_rec *, size_t, long *, long *);
static const char *first_of(const struct qfile_rec *, size_t, int);
static const char *attr_find(const struct qfile_rec *, size_t,
		    const char *);
static void	 envelope_rec(struct qfile *, const struct qfile_rec *, bool,
		    struct pending *);
static void	 envelope_fill(struct qfile *);
static int	 check_segment(const struct qfile_rec *, size_t, const char *,
		    const char *, struct qfile_error *);
static int	 check_parts(const struct qfile_parts *, struct qfile_error *);
static size_t	 seg_size(const struct qfile_rec *, size_t);
static size_t	 count_rcpts(const struct qfile_rec *, size_t);
static void	 put_header(struct buf *, int, size_t);
static int	 emit_flush(struct emit *, struct qfile_error *);
static int	 emit_rec(struct emit *, int, const char *, size_t,
		    struct qfile_error *);
static int	 emit_seg(struct emit *, const struct qfile_rec *, size_t,
		    struct qfile_error *);
static int	 emit_file(struct emit *, const struct qfile_parts *,
		    struct qfile_error *);
static size_t	 text_split(const char *, size_t, size_t,
		    struct qfile_rec *);

static const char *const qfile_errnames[] = {
	[QFILE_OK] = "success",
	[QFILE_EIO] = "read or write error",
	[QFILE_ETOOBIG] = "file too large",
	[QFILE_ETRUNC] = "truncated record",
	[QFILE_EBADLEN] = "bad record length",
	[QFILE_EBADTYPE] = "unknown record type",
	[QFILE_ESEGMENT] = "record type not allowed here",
	[QFILE_ESIZE] = "bad size record",
	[QFILE_ENOEND] = "missing end record",
	[QFILE_EPTR] = "bad pointer record",
	[QFILE_EMISSING] = "missing required record",
	[QFILE_EBADREC] = "malformed record",
};

const char *
qfile_strerror(enum qfile_errcode code)
{
	if ((size_t)code >= sizeof(qfile_errnames) / sizeof(qfile_errnames[0]))
		return ("unknown error");
	return (qfile_errnames[code]);
}

/* Fill *err and return -1, so that callers can "return (qfail(...))". */
static int
qfail(struct qfile_error *err, enum qfile_errcode code, long offset,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	err->code = code;
	err->offset = offset;
	err->sys_errno = 0;
	va_start(ap, fmt);
	n = vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	if (n < 0)
		(void)snprintf(err->text, sizeof(err->text), "%s",
		    qfile_strerror(code));
	else if ((size_t)n >= sizeof(err->text))
		memcpy(err->text + sizeof(err->text) - 4, "...", 4);
	return (-1);
}

/* A record type for messages: 'N', or \xHH for a byte that is not printable. */
static const char *
type_name(int type, char *tmp, size_t size)
{
	if (type > 0x20 && type < 0x7f)
		(void)snprintf(tmp, size, "'%c'", type);
	else
		(void)snprintf(tmp, size, "\\x%02x", (unsigned)type & 0xffu);
	return (tmp);
}

/* Non-empty decimal digits only, no overflow. */
static int
parse_digits(const char *s, size_t n, long *v)
{
	long	 r = 0;
	size_t	 i;

	if (n == 0)
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		if (r > (LONG_MAX - (s[i] - '0')) / 10)
			return (-1);
		r = r * 10 + (s[i] - '0');
	}
	*v = r;
	return (0);
}

/* Leading blanks (as "%15ld" writes them), an optional '-', digits. */
static int
parse_long(const char *s, size_t n, long *v)
{
	size_t	 i = 0;

	while (i < n && s[i] == ' ')
		i++;
	if (i < n && s[i] == '-') {
		if (parse_digits(s + i + 1, n - i - 1, v) < 0)
			return (-1);
		*v = -*v;
		return (0);
	}
	return (parse_digits(s + i, n - i, v));
}

/* A record type listed in Postfix's rec_type.h. */
static int
known_type(int type)
{
	return (type > 0 && type < 0x80 &&
	    strchr(QFILE_KNOWN_TYPES, type) != NULL);
}

/* ISSPACE() as Postfix uses it (split_nameval(), rec_goto()). */
static int
is_space(int c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f');
}

/*
 * Split "name=value" the way Postfix's split_nameval() does on the C
 * string: blanks around the name and before the value are skipped, the
 * payload ends at its first NUL. The value's trailing blanks are left
 * for attr_trimmed_len().
 */
static int
attr_split(const char *s, size_t n, const char **name, size_t *namelen,
    const char **value, size_t *valuelen)
{
	size_t	 i = 0, ns, ne;

	n = strnlen(s, n);
	while (i < n && is_space(s[i]))
		i++;
	ns = i;
	while (i < n && s[i] != '=' && !is_space(s[i]))
		i++;
	ne = i;
	while (i < n && is_space(s[i]))
		i++;
	if (ne == ns || i == n || s[i] != '=')
		return (-1);
	i++;
	while (i < n && is_space(s[i]))
		i++;
	*name = s + ns;
	*namelen = ne - ns;
	*value = s + i;
	*valuelen = n - i;
	return (0);
}

/* Length of an attribute value without trailing blanks (split_nameval). */
static size_t
attr_trimmed_len(const char *v, size_t n)
{
	while (n > 0 && is_space(v[n - 1]))
		n--;
	return (n);
}

/* The record type qmgr treats an attribute as (rec_attr_map()), or 0. */
static int
attr_map(const char *name, size_t n)
{
	static const struct {
		const char	*name;
		int		 type;
	} map[] = {
		{ "dsn_orig_rcpt", QREC_DSN_ORCPT },
		{ "notify_flags", QREC_DSN_NOTIFY },
		{ "envelope_id", QREC_DSN_ENVID },
		{ "ret_flags", QREC_DSN_RET },
		{ "create_time", QREC_CTIME },
	};
	size_t	 i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i].name) == n && memcmp(map[i].name, name, n) == 0)
			return (map[i].type);
	return (0);
}

/* Value of an n or < payload, or -1 if qmgr would not accept it. */
static int
dsn_value(const char *s, size_t n, int type)
{
	long	 v;

	if (n > 9 || parse_digits(s, n, &v) < 0 || v == 0)
		return (-1);
	if (type == QREC_DSN_NOTIFY)
		return (v == DSN_NOTIFY_NEVER || (v & ~DSN_NOTIFY_ANY) == 0 ?
		    (int)v : -1);
	return (v == DSN_RET_FULL || v == DSN_RET_HDRS ? (int)v : -1);
}

/* T payload: "sec usec" (Postfix writes "%ld %ld"), or just "sec". */
static int
parse_time(const char *s, size_t n, long *sec, long *usec)
{
	const char	*sp = memchr(s, ' ', n);

	*usec = 0;
	if (sp == NULL)
		return (parse_digits(s, n, sec));
	if (parse_digits(s, (size_t)(sp - s), sec) < 0)
		return (-1);
	return (parse_digits(sp + 1, n - (size_t)(sp - s) - 1, usec));
}

/*
 * Why a payload is unacceptable for its type, or NULL. Shared by the
 * reader and the writer so that both apply the same rules.
 */
static const char *
payload_problem(int type, const char *s, size_t n)
{
	const char	*name, *value;
	size_t		 namelen, valuelen;
	long		 a, b;
	int		 mapped;

	switch (type) {
	case QREC_TIME:
		if (parse_time(s, n, &a, &b) < 0)
			return ("the arrival time is not \"seconds microseconds\"");
		return (NULL);
	case QREC_WARN:
		if (parse_long(s, n, &a) < 0)
			return ("the warning time is not a number");
		return (NULL);
	case QREC_DSN_NOTIFY:
	case QREC_DSN_RET:
		if (dsn_value(s, n, type) < 0)
			return ("the DSN flags are not valid");
		return (NULL);
	case QREC_ATTR:
		if (attr_split(s, n, &name, &namelen, &value, &valuelen) < 0)
			return ("the attribute is not \"name=value\"");
		mapped = attr_map(name, namelen);
		if (mapped == QREC_DSN_NOTIFY || mapped == QREC_DSN_RET)
			return (payload_problem(mapped, value,
			    attr_trimmed_len(value, valuelen)));
		return (NULL);
	case QREC_XTRA:
	case QREC_END:
		if (n != 0)
			return ("the record is not empty");
		return (NULL);
	default:
		return (NULL);
	}
}

/* Number of length bytes rec_put() writes for a payload of n bytes. */
static size_t
len_bytes(size_t n)
{
	size_t	 k = 1;

	while (n >>= 7)
		k++;
	return (k);
}

/* Bytes a record with an n-byte payload occupies. */
static size_t
rec_size(size_t n)
{
	return (1 + len_bytes(n) + n);
}

/*
 * Decode the record header at off (off < len) as rec_get_raw() does: at
 * most four length bytes, and the payload must lie inside the image.
 */
static int
rec_at(const unsigned char *img, size_t len, size_t off, struct rawrec *rr,
    struct qfile_error *err)
{
	size_t	 i, dlen = 0, p = off + 1;
	char	 tn[8];

	rr->off = off;
	rr->type = img[off];
	for (i = 0;; i++) {
		if (i == QFILE_LEN_BYTES)
			return (qfail(err, QFILE_EBADLEN, (long)off,
			    "record %s at offset %zu has more than %d length "
			    "bytes.", type_name(rr->type, tn, sizeof(tn)), off,
			    QFILE_LEN_BYTES));
		if (p >= len)
			return (qfail(err, QFILE_ETRUNC, (long)off,
			    "file ends at offset %zu inside the length of "
			    "record %s at offset %zu.", len,
			    type_name(rr->type, tn, sizeof(tn)), off));
		dlen |= (size_t)(img[p] & 0x7f) << (7 * i);
		if ((img[p++] & 0x80) == 0)
			break;
	}
	if (dlen > len - p)
		return (qfail(err, QFILE_EBADLEN, (long)off,
		    "record %s at offset %zu claims %zu bytes, but only %zu "
		    "are left in the file.", type_name(rr->type, tn, sizeof(tn)),
		    off, dlen, len - p));
	rr->data = p;
	rr->len = dlen;
	rr->end = p + dlen;
	return (0);
}

/*
 * Target of a pointer record as rec_goto() reads it (blanks, then
 * digits; 0 is a dummy). A real target must lie after the C record and
 * inside the file.
 */
static int
ptr_target(const struct walk *w, const struct rawrec *rr, size_t *target,
    struct qfile_error *err)
{
	const char	*s = (const char *)w->img + rr->data;
	size_t		 i = 0;
	long		 v = 0;

	while (i < rr->len && is_space(s[i]))
		i++;
	if (i < rr->len && parse_digits(s + i, rr->len - i, &v) < 0)
		return (qfail(err, QFILE_EBADREC, (long)rr->off,
		    "pointer record at offset %zu does not hold a decimal "
		    "offset.", rr->off));
	if (w->prefix && v != 0 && (unsigned long)v >= w->len) {
		*target = SIZE_MAX;	/* in the part of the file not given */
		return (0);
	}
	if (v != 0 && ((unsigned long)v < w->first ||
	    (unsigned long)v >= w->len))
		return (qfail(err, QFILE_EPTR, (long)rr->off,
		    "pointer record at offset %zu points to offset %ld, "
		    "outside the records (%zu to %zu).", rr->off, v, w->first,
		    w->len - 1));
	*target = (size_t)v;
	return (0);
}

/*
 * The C payload: three to six numbers (qmgr reads "%ld %ld %d %d %ld
 * %d"); fields 3, 4 and 6 must fit an int, as qmgr stores them in one.
 */
static int
size_fields(const char *s, size_t n, long *f, int *nf)
{
	size_t	 i = 0, start;

	for (*nf = 0;;) {
		while (i < n && s[i] == ' ')
			i++;
		if (i == n)
			break;
		if (*nf == 6)
			return (-1);
		start = i;
		while (i < n && s[i] != ' ')
			i++;
		if (parse_long(s + start, i - start, &f[*nf]) < 0)
			return (-1);
		if ((*nf == 2 || *nf == 3 || *nf == 5) &&
		    (f[*nf] < INT_MIN || f[*nf] > INT_MAX))
			return (-1);
		(*nf)++;
	}
	return (0);
}

/*
 * Read and check the C record at offset 0, and check that its data
 * offset and size land on an empty M and on the X record (through one
 * pointer record there, if any), as qmgr's seek-and-expect-X requires.
 */
static int
walk_size(struct walk *w, struct qfile_error *err)
{
	struct rawrec	 rr;
	long		*f = w->size_field;
	char		 tn[8];

	if (w->len == 0)
		return (qfail(err, QFILE_ESIZE, 0,
		    "file is empty: there is no C record at offset 0."));
	if (rec_at(w->img, w->len, 0, &rr, err) < 0)
		return (-1);
	if (rr.type != QREC_SIZE)
		return (qfail(err, QFILE_ESIZE, 0,
		    "record at offset 0 is %s, not the C (size) record.",
		    type_name(rr.type, tn, sizeof(tn))));
	if (size_fields((const char *)w->img + rr.data, rr.len, f,
	    &w->size_nfields) < 0)
		return (qfail(err, QFILE_ESIZE, 0,
		    "C record at offset 0 is not a list of up to six numbers."));
	if (w->size_nfields < 3)
		return (qfail(err, QFILE_ESIZE, 0,
		    "C record at offset 0 has %d field%s: a pre-1.0 or "
		    "malformed file, not supported.", w->size_nfields,
		    w->size_nfields == 1 ? "" : "s"));
	if (f[0] <= 0 || f[1] <= 0 || f[4] < 0)
		return (qfail(err, QFILE_ESIZE, 0,
		    "C record at offset 0 has data size %ld, data offset %ld "
		    "and content length %ld, which qmgr refuses.", f[0], f[1],
		    f[4]));
	if (f[3] & ~(long)QFILE_FLAGS_USER)
		return (qfail(err, QFILE_ESIZE, 0,
		    "C record at offset 0 has qmgr flags %#lx, outside %#x.",
		    (unsigned long)f[3], QFILE_FLAGS_USER));
	w->first = w->pos = w->visited = rr.end;
	if ((unsigned long)f[1] < rr.end + 2 || (unsigned long)f[1] >= w->len ||
	    (!w->prefix && (unsigned long)f[0] >= w->len - (unsigned long)f[1]))
		return (qfail(err, QFILE_ESIZE, 0,
		    "C record at offset 0 puts %ld bytes of content at offset "
		    "%ld, outside the records of the %zu-byte file.", f[0],
		    f[1], w->len));
	w->data_offset = f[1];
	w->x_off = (size_t)f[1] + (size_t)f[0];
	if (w->img[f[1] - 2] != QREC_MESG || w->img[f[1] - 1] != 0)
		return (qfail(err, QFILE_ESIZE, f[1] - 2,
		    "C record says the data offset is %ld, but offset %ld "
		    "does not hold an empty M record.", f[1], f[1] - 2));
	/*
	 * A prefix that ends before the X record (or inside it, or before
	 * the X a pointer there leads to): no X to find; the walk is cut
	 * before it.
	 */
	if (!w->prefix)
		return (walk_locate_x(w, err));
	if ((unsigned long)f[0] < w->len - (unsigned long)f[1])
		(void)walk_locate_x(w, err);	/* else x_off stays C's */
	return (0);
}

/*
 * Find the X record where C says the content ends (see walk_size()).
 * Whatever is wrong there, it is the C record that does not fit the file.
 */
static int
walk_locate_x(struct walk *w, struct qfile_error *err)
{
	struct rawrec		 rr;
	struct qfile_error	 why;
	size_t			 target, at = w->x_off;
	char			 tn[8];

	if (rec_at(w->img, w->len, at, &rr, &why) == 0 &&
	    rr.type == QREC_PTR) {
		if (ptr_target(w, &rr, &target, &why) < 0)
			return (qfail(err, QFILE_ESIZE, (long)at,
			    "C record says the content ends at offset %zu, "
			    "where the pointer is bad: %s", at, why.text));
		at = target != 0 ? target : rr.end;
		if (at >= w->len)
			return (qfail(err, QFILE_ESIZE, (long)rr.off,
			    "C record says the content ends at offset %zu, "
			    "where a pointer leads to the end of the file.",
			    w->x_off));
		if (rec_at(w->img, w->len, at, &rr, &why) < 0)
			return (qfail(err, QFILE_ESIZE, (long)at,
			    "C record says the content ends at offset %zu, "
			    "where a pointer leads to a bad record: %s",
			    w->x_off, why.text));
	} else if (rec_at(w->img, w->len, at, &rr, &why) < 0)
		return (qfail(err, QFILE_ESIZE, (long)at,
		    "C record says the content ends at offset %zu, where no "
		    "record can be read: %s", at, why.text));
	if (rr.type != QREC_XTRA)
		return (qfail(err, QFILE_ESIZE, (long)rr.off,
		    "C record says the content ends at offset %zu, but the "
		    "record found there (offset %zu) is %s, not X.", w->x_off,
		    rr.off, type_name(rr.type, tn, sizeof(tn))));
	w->x_off = rr.off;
	return (0);
}

/*
 * Next logical record, as rec_get() reads it: pointer records are
 * followed (0 is a dummy) and never returned. Every record read counts
 * towards w->visited; a file read logically never needs more bytes than
 * it has, so exceeding its size means the pointers form a loop. That
 * also bounds the work to the size of the file. 0, or -1 with *err; of
 * a prefix, 1 where the next record is not (wholly) in it.
 */
static int
walk_next(struct walk *w, struct rawrec *rr, struct qfile_error *err)
{
	size_t	 target;

	for (;;) {
		if (w->prefix && w->pos >= w->len)
			return (1);
		if (w->pos >= w->len)
			return (qfail(err, QFILE_ENOEND, (long)w->len,
			    "file ends at offset %zu without an E (end) record.",
			    w->len));
		if (rec_at(w->img, w->len, w->pos, rr, err) < 0)
			return (w->prefix && (err->code == QFILE_ETRUNC ||
			    err->code == QFILE_EBADLEN) ? 1 : -1);
		w->visited += rr->end - rr->off;
		if (w->visited > w->len)
			return (qfail(err, QFILE_EPTR, (long)rr->off,
			    "record at offset %zu takes the logical records "
			    "past the file's %zu bytes: the pointer records form "
			    "a loop.", rr->off, w->len));
		w->pos = rr->end;
		if (rr->type != QREC_PTR)
			return (0);
		if (ptr_target(w, rr, &target, err) < 0)
			return (-1);
		if (target == SIZE_MAX)
			return (1);
		if (target != 0)
			w->pos = target;
	}
}

/* Bytes the arena needs after a payload: a trimmed copy of an A value. */
static size_t
value_copy_len(int type, const char *data, size_t len)
{
	const char	*name, *value;
	size_t		 namelen, valuelen, trimmed;

	if (type != QREC_ATTR ||
	    attr_split(data, len, &name, &namelen, &value, &valuelen) < 0)
		return (0);
	trimmed = attr_trimmed_len(value, valuelen);
	return (trimmed < valuelen ? trimmed + 1 : 0);
}

/* Append a logical record of segment seg (payload still in the image). */
static void
walk_keep(struct walk *w, enum qfile_seg seg, const struct rawrec *rr)
{
	struct qfile_rec	*r;
	const char		*data = (const char *)w->img + rr->data;

	if (w->nrecs == w->caprecs) {
		w->caprecs = w->caprecs ? w->caprecs * 2 : 64;
		w->recs = xreallocarray(w->recs, w->caprecs, sizeof(*w->recs));
	}
	r = &w->recs[w->nrecs++];
	r->type = rr->type;
	r->len = rr->len;
	r->data = data;
	w->nseg[seg]++;
	w->arena_need += rr->len + 1 + value_copy_len(rr->type, data, rr->len);
	if (rr->type == QREC_RCPT || rr->type == QREC_DONE ||
	    rr->type == QREC_DRCP)
		w->nrcpts++;
}

/*
 * Place one logical record: structural records move to the next segment
 * (M and X must be where C says), w is skipped in the content, anything
 * else must be a type that segment allows with a payload qmgr accepts.
 * Returns 1 after the E record, 0 to go on, -1 on error.
 */
static int
walk_record(struct walk *w, enum qfile_seg *seg, const struct rawrec *rr,
    struct qfile_error *err)
{
	static const char *const segname[] = {
		"envelope", "content", "extracted segment"
	};
	const char	*allowed, *problem, *data;
	char		 tn[8];

	data = (const char *)w->img + rr->data;
	if (*seg == SEG_ENV && rr->type == QREC_MESG) {
		if (rr->off + 2 != (size_t)w->data_offset)
			return (qfail(err, QFILE_ESIZE, (long)rr->off,
			    "M record at offset %zu does not match the data "
			    "offset %ld of the C record.", rr->off,
			    w->data_offset));
		*seg = SEG_CONTENT;
		return (0);
	}
	if (*seg == SEG_CONTENT && rr->type == QREC_DTXT)
		return (0);
	if (*seg == SEG_CONTENT && rr->type == QREC_XTRA &&
	    rr->off != w->x_off)
		return (qfail(err, QFILE_ESIZE, (long)rr->off,
		    "X record at offset %zu is not where the C record puts "
		    "the end of the content (%zu).", rr->off, w->x_off));
	if (!known_type(rr->type))
		return (qfail(err, QFILE_EBADTYPE, (long)rr->off,
		    "record at offset %zu has unknown type %s.", rr->off,
		    type_name(rr->type, tn, sizeof(tn))));
	if (*seg == SEG_CONTENT && rr->type == QREC_XTRA)
		allowed = "X";
	else if (*seg == SEG_EXTRA && rr->type == QREC_END)
		allowed = "E";
	else
		allowed = *seg == SEG_CONTENT ? QFILE_CONTENT_TYPES :
		    QFILE_META_TYPES;
	if (strchr(allowed, rr->type) == NULL)
		return (qfail(err, QFILE_ESEGMENT, (long)rr->off,
		    "record %s at offset %zu is not allowed in the %s.",
		    type_name(rr->type, tn, sizeof(tn)), rr->off,
		    segname[*seg]));
	if ((problem = payload_problem(rr->type, data, rr->len)) != NULL)
		return (qfail(err, QFILE_EBADREC, (long)rr->off,
		    "record %s at offset %zu is malformed: %s.",
		    type_name(rr->type, tn, sizeof(tn)), rr->off, problem));
	if (rr->type == QREC_XTRA) {
		*seg = SEG_EXTRA;
		return (0);
	}
	if (rr->type == QREC_END)
		return (1);
	walk_keep(w, *seg, rr);
	return (0);
}

/* The whole logical walk: C, then records up to the first logical E. */
static int
walk_all(struct walk *w, struct qfile_error *err)
{
	struct rawrec	 rr;
	enum qfile_seg	 seg = SEG_ENV;
	int		 r;

	if (walk_size(w, err) < 0)
		return (-1);
	do {
		if ((r = walk_next(w, &rr, err)) < 0)
			return (-1);
		if (r == 1) {
			/* A prefix cut: the envelope must be whole. */
			if (seg == SEG_ENV)
				return (qfail(err, QFILE_ETRUNC, (long)w->pos,
				    "the first %zu bytes end in the envelope.",
				    w->len));
			break;
		}
		if ((r = walk_record(w, &seg, &rr, err)) < 0)
			return (-1);
	} while (r == 0);
	if (w->nseg[SEG_CONTENT] == 0)
		return (qfail(err, QFILE_ESIZE, w->data_offset,
		    "content at offset %ld has no text records.",
		    w->data_offset));
	return (0);
}

/*
 * Copy every payload into one arena, each followed by a NUL so that
 * envelope strings can be borrowed as C strings; an A record whose value
 * has trailing blanks is followed by its trimmed value (see attr_value()).
 * The arena is never larger than the file plus those values.
 */
static char *
arena_copy(struct walk *w)
{
	struct qfile_rec	*r;
	char			*arena, *p;
	const char		*name, *value;
	size_t			 i, namelen, valuelen, extra;

	arena = p = xmalloc(w->arena_need);
	for (i = 0; i < w->nrecs; i++) {
		r = &w->recs[i];
		if (r->len)
			memcpy(p, r->data, r->len);
		p[r->len] = '\0';
		extra = value_copy_len(r->type, r->data, r->len);
		r->data = p;
		p += r->len + 1;
		if (extra) {
			(void)attr_split(r->data, r->len, &name, &namelen,
			    &value, &valuelen);
			memcpy(p, value, extra - 1);
			p[extra - 1] = '\0';
			p += extra;
		}
	}
	return (arena);
}

/* A NUL-terminated, trimmed attribute value of a record in the arena. */
static const char *
attr_value(const struct qfile_rec *r, const char *value, size_t valuelen)
{
	if (attr_trimmed_len(value, valuelen) < valuelen)
		return (r->data + r->len + 1);
	return (value);
}

/* First T with non-zero seconds (qmgr ignores a zero arrival time). */
static int
arrival_of(const struct qfile_rec *recs, size_t n, long *sec, long *usec)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (recs[i].type == QREC_TIME &&
		    parse_time(recs[i].data, recs[i].len, sec, usec) == 0 &&
		    *sec != 0)
			return (1);
	return (0);
}

static const char *
first_of(const struct qfile_rec *recs, size_t n, int type)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (recs[i].type == type)
			return (recs[i].data);
	return (NULL);
}

/*
 * One envelope or extracted record, as qmgr_message_read() takes it: A
 * records that map to a record type count as that type; O, o and n
 * qualify the next recipient only; the first c wins, the last i and <.
 */
static void
envelope_rec(struct qfile *qf, const struct qfile_rec *r, bool extracted,
    struct pending *pend)
{
	const char		*val = r->data, *name, *value;
	size_t			 namelen, valuelen;
	int			 type = r->type;
	long			 v;
	struct qfile_rcpt	*rc;

	if (type == QREC_ATTR) {
		if (attr_split(r->data, r->len, &name, &namelen, &value,
		    &valuelen) < 0 || (type = attr_map(name, namelen)) == 0)
			return;
		val = attr_value(r, value, valuelen);
	}
	switch (type) {
	case QREC_CTIME:
		if (qf->create_time == 0 &&
		    parse_long(val, strlen(val), &v) == 0)
			qf->create_time = v;
		break;
	case QREC_DSN_ENVID:
		qf->envid = val;
		break;
	case QREC_DSN_RET:
		qf->ret_flags = dsn_value(val, strlen(val), type);
		break;
	case QREC_ORCP:
		pend->orig_rcpt = val;
		break;
	case QREC_DSN_ORCPT:
		pend->dsn_orcpt = val;
		break;
	case QREC_DSN_NOTIFY:
		pend->dsn_notify = dsn_value(val, strlen(val), type);
		break;
	case QREC_RCPT:
	case QREC_DONE:
	case QREC_DRCP:
		rc = &qf->rcpts[qf->nrcpts++];
		rc->address = val;
		rc->state = type;
		rc->orig_rcpt = pend->orig_rcpt;
		rc->dsn_orcpt = pend->dsn_orcpt;
		rc->dsn_notify = pend->dsn_notify;
		rc->extracted = extracted;
		memset(pend, 0, sizeof(*pend));
		break;
	default:
		break;
	}
}

/* The convenience fields; records are in the arena, rcpts allocated. */
static void
envelope_fill(struct qfile *qf)
{
	struct pending	 pend = { NULL, NULL, 0 };
	size_t		 i;

	if (!arrival_of(qf->env, qf->nenv, &qf->arrival_sec,
	    &qf->arrival_usec))
		(void)arrival_of(qf->extra, qf->nextra, &qf->arrival_sec,
		    &qf->arrival_usec);
	if ((qf->sender = first_of(qf->env, qf->nenv, QREC_FROM)) == NULL)
		qf->sender = first_of(qf->extra, qf->nextra, QREC_FROM);
	for (i = 0; i < qf->nenv; i++)
		envelope_rec(qf, &qf->env[i], false, &pend);
	for (i = 0; i < qf->nextra; i++)
		envelope_rec(qf, &qf->extra[i], true, &pend);
	for (i = 0; i < qf->ncontent; i++)
		qf->content_bytes += qf->content[i].len +
		    (qf->content[i].type == QREC_NORM);
	qf->header_end = qfile_header_end(qf->content, qf->ncontent);
}

static int
parse(const void *image, size_t len, bool prefix, struct qfile **qf_r,
    struct qfile_error *err)
{
	struct walk		 w;
	struct qfile		*qf;
	struct qfile_priv	*priv;

	*qf_r = NULL;
	memset(&w, 0, sizeof(w));
	w.img = image;
	w.len = len;
	w.prefix = prefix;
	if (walk_all(&w, err) < 0) {
		free(w.recs);
		return (-1);
	}
	qf = xcalloc(1, sizeof(*qf));
	qf->priv = priv = xcalloc(1, sizeof(*priv));
	memcpy(qf->size_field, w.size_field, sizeof(qf->size_field));
	qf->size_nfields = w.size_nfields;
	priv->arena = arena_copy(&w);
	qf->env = w.recs;
	qf->nenv = w.nseg[SEG_ENV];
	qf->content = w.recs + qf->nenv;
	qf->ncontent = w.nseg[SEG_CONTENT];
	qf->extra = qf->content + qf->ncontent;
	qf->nextra = w.nseg[SEG_EXTRA];
	qf->rcpts = xcalloc(w.nrcpts, sizeof(*qf->rcpts));
	envelope_fill(qf);
	if (qf->arrival_sec == 0 || qf->sender == NULL) {
		(void)qfail(err, QFILE_EMISSING, -1,
		    "file has no %s record, which qmgr requires.",
		    qf->arrival_sec == 0 ? "arrival time (T)" : "sender (S)");
		qfile_free(&qf);
		return (-1);
	}
	*qf_r = qf;
	return (0);
}

int
qfile_parse(const void *image, size_t len, struct qfile **qf_r,
    struct qfile_error *err)
{
	return (parse(image, len, false, qf_r, err));
}

/*
 * The first len bytes of a queue file (a farm's preview): the walk stops
 * where the next record is not in them, in the content or after it.
 */
int
qfile_parse_prefix(const void *image, size_t len, struct qfile **qf_r,
    struct qfile_error *err)
{
	return (parse(image, len, true, qf_r, err));
}

int
qfile_read_fd(int fd, size_t max_size, struct qfile **qf_r,
    struct qfile_error *err)
{
	struct stat	 st;
	int		 rc;

	*qf_r = NULL;
	if (fstat(fd, &st) < 0) {
		rc = qfail(err, QFILE_EIO, -1, "cannot stat the file: %s.",
		    strerror(errno));
		err->sys_errno = errno;
		return (rc);
	}
	return (qfile_read_fd_stat(fd, &st, max_size, qf_r, err));
}

int
qfile_read_fd_stat(int fd, const struct stat *st, size_t max_size,
    struct qfile **qf_r, struct qfile_error *err)
{
	char		*data = NULL;
	size_t		 len = 0, cap, limit, want;
	ssize_t		 n;
	int		 rc;
	/*
	 * A regular file's pread(2) is short only at its end: when it
	 * returns less than asked, past the size fstat() gave, that is the
	 * end, and the read of nothing that would say so again is left out
	 * (one system call per message, in the master and in the worker).
	 * A file that grows meanwhile is read on to its new end.
	 */
	bool		 regular = S_ISREG(st->st_mode) && st->st_size > 0;

	*qf_r = NULL;
	limit = max_size < SIZE_MAX ? max_size + 1 : max_size;
	if (st->st_size > 0 && (uintmax_t)st->st_size > max_size)
		return (qfail(err, QFILE_ETOOBIG, -1,
		    "file has %jd bytes, more than the limit of %zu.",
		    (intmax_t)st->st_size, max_size));
	cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 4096;
	if (cap > limit)
		cap = limit;
	data = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap >= limit) {
				free(data);
				return (qfail(err, QFILE_ETOOBIG, (long)len,
				    "file has more than the limit of %zu bytes.",
				    max_size));
			}
			cap = cap > limit / 2 ? limit : cap * 2;
			data = xreallocarray(data, cap, 1);
		}
		want = cap - len;
		n = pread(fd, data + len, want, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = errno;
			free(data);
			(void)qfail(err, QFILE_EIO, (long)len,
			    "read error at offset %zu: %s.", len, strerror(rc));
			err->sys_errno = rc;
			return (-1);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (regular && (size_t)n < want &&
		    len >= (size_t)st->st_size)
			break;
	}
	rc = qfile_parse(data, len, qf_r, err);
	free(data);
	return (rc);
}

void
qfile_free(struct qfile **qfp)
{
	struct qfile		*qf = *qfp;
	struct qfile_priv	*priv;

	if (qf == NULL)
		return;
	if ((priv = qf->priv) != NULL)
		free(priv->arena);
	free(priv);
	free(qf->env);
	free(qf->rcpts);
	free(qf);
	*qfp = NULL;
}

/* Value of the first A record named name in recs, or NULL. */
static const char *
attr_find(const struct qfile_rec *recs, size_t n, const char *name)
{
	const char	*found, *value;
	size_t		 i, foundlen, valuelen;

	for (i = 0; i < n; i++)
		if (recs[i].type == QREC_ATTR &&
		    attr_split(recs[i].data, recs[i].len, &found, &foundlen,
		    &value, &valuelen) == 0 && foundlen == strlen(name) &&
		    memcmp(found, name, foundlen) == 0)
			return (attr_value(&recs[i], value, valuelen));
	return (NULL);
}

const char *
qfile_attr(const struct qfile *qf, const char *name)
{
	const char	*value;

	if ((value = attr_find(qf->env, qf->nenv, name)) == NULL)
		value = attr_find(qf->extra, qf->nextra, name);
	return (value);
}

/*
 * A file from Postfix < 2.4 (three or four C fields) is written back with
 * five: the content length field did not exist, and 0 there would mean
 * "the data size" anyway.
 */
void
qfile_parts_of(const struct qfile *qf, struct qfile_parts *parts)
{
	memset(parts, 0, sizeof(*parts));
	parts->env = qf->env;
	parts->nenv = qf->nenv;
	parts->content = qf->content;
	parts->ncontent = qf->ncontent;
	parts->extra = qf->extra;
	parts->nextra = qf->nextra;
	parts->flags = qf->size_nfields >= 4 ? qf->size_field[3] : 0;
	parts->sendopts = qf->size_nfields >= 6 ? qf->size_field[5] : 0;
	parts->nfields = qf->size_nfields >= 5 ? qf->size_nfields : 5;
}

/* Writer side: each record of a segment is of an allowed type and sane. */
static int
check_segment(const struct qfile_rec *recs, size_t n, const char *allowed,
    const char *segname, struct qfile_error *err)
{
	const char	*problem;
	size_t		 i;
	char		 tn[8];

	for (i = 0; i < n; i++) {
		if (!known_type(recs[i].type))
			return (qfail(err, QFILE_EBADTYPE, -1,
			    "%s record %zu has unknown type %s.", segname, i,
			    type_name(recs[i].type, tn, sizeof(tn))));
		if (strchr(allowed, recs[i].type) == NULL)
			return (qfail(err, QFILE_ESEGMENT, -1,
			    "%s record %zu has type %s, which does not belong "
			    "there (C, M, X, E are added by the writer; p and w "
			    "are never written).", segname, i,
			    type_name(recs[i].type, tn, sizeof(tn))));
		if (recs[i].len > QFILE_REC_MAX)
			return (qfail(err, QFILE_EBADLEN, -1,
			    "%s record %zu has %zu bytes, more than a record "
			    "can hold (%lu).", segname, i, recs[i].len,
			    QFILE_REC_MAX));
		if ((problem = payload_problem(recs[i].type, recs[i].data,
		    recs[i].len)) != NULL)
			return (qfail(err, QFILE_EBADREC, -1,
			    "%s record %zu (%s) is malformed: %s.", segname, i,
			    type_name(recs[i].type, tn, sizeof(tn)), problem));
	}
	return (0);
}

/* Everything the reader (and qmgr) will require of the written file. */
static int
check_parts(const struct qfile_parts *parts, struct qfile_error *err)
{
	long	 sec, usec;

	if (check_segment(parts->env, parts->nenv, QFILE_META_TYPES,
	    "envelope", err) < 0 ||
	    check_segment(parts->content, parts->ncontent, QFILE_CONTENT_TYPES,
	    "content", err) < 0 ||
	    check_segment(parts->extra, parts->nextra, QFILE_META_TYPES,
	    "extracted", err) < 0)
		return (-1);
	if (parts->ncontent == 0)
		return (qfail(err, QFILE_ESIZE, -1,
		    "content has no records; qmgr refuses a data size of 0."));
	if (parts->nfields != 5 && parts->nfields != 6)
		return (qfail(err, QFILE_ESIZE, -1,
		    "C record cannot have %d fields; 5 or 6 are written.",
		    parts->nfields));
	if (parts->flags & ~(long)QFILE_FLAGS_USER)
		return (qfail(err, QFILE_ESIZE, -1,
		    "qmgr flags %#lx are outside %#x; qmgr would refuse the file.",
		    (unsigned long)parts->flags, QFILE_FLAGS_USER));
	if (parts->sendopts < INT_MIN || parts->sendopts > INT_MAX)
		return (qfail(err, QFILE_ESIZE, -1,
		    "sendopts %ld do not fit the int that qmgr reads.",
		    parts->sendopts));
	if (!arrival_of(parts->env, parts->nenv, &sec, &usec) &&
	    !arrival_of(parts->extra, parts->nextra, &sec, &usec))
		return (qfail(err, QFILE_EMISSING, -1,
		    "records have no arrival time (T), which qmgr requires."));
	if (first_of(parts->env, parts->nenv, QREC_FROM) == NULL &&
	    first_of(parts->extra, parts->nextra, QREC_FROM) == NULL)
		return (qfail(err, QFILE_EMISSING, -1,
		    "records have no sender (S), which qmgr requires."));
	return (0);
}

static size_t
seg_size(const struct qfile_rec *recs, size_t n)
{
	size_t	 i, total = 0;

	for (i = 0; i < n; i++)
		total += rec_size(recs[i].len);
	return (total);
}

static size_t
count_rcpts(const struct qfile_rec *recs, size_t n)
{
	size_t	 i, count = 0;

	for (i = 0; i < n; i++)
		count += recs[i].type == QREC_RCPT ||
		    recs[i].type == QREC_DONE || recs[i].type == QREC_DRCP;
	return (count);
}

/* Type byte and length as rec_put() writes them: 7 bits, LSB first. */
static void
put_header(struct buf *b, int type, size_t len)
{
	buf_putc(b, type);
	do {
		buf_putc(b, (int)((len & 0x7f) | (len > 0x7f ? 0x80 : 0)));
		len >>= 7;
	} while (len != 0);
}

/* Write what is buffered to the fd (short writes, EINTR). */
static int
emit_flush(struct emit *e, struct qfile_error *err)
{
	size_t	 done = 0;
	ssize_t	 n;
	int	 saved;

	while (done < e->b->len) {
		n = write(e->fd, e->b->data + done, e->b->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			saved = n < 0 ? errno : EIO;
			(void)qfail(err, QFILE_EIO, (long)(e->flushed + done),
			    "write error at offset %zu: %s.", e->flushed + done,
			    strerror(saved));
			err->sys_errno = saved;
			return (-1);
		}
		done += (size_t)n;
	}
	e->flushed += done;
	buf_reset(e->b);
	return (0);
}

static int
emit_rec(struct emit *e, int type, const char *data, size_t len,
    struct qfile_error *err)
{
	put_header(e->b, type, len);
	buf_append(e->b, data, len);
	if (e->fd >= 0 && e->b->len >= QFILE_WRITE_CHUNK)
		return (emit_flush(e, err));
	return (0);
}

static int
emit_seg(struct emit *e, const struct qfile_rec *recs, size_t n,
    struct qfile_error *err)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (emit_rec(e, recs[i].type, recs[i].data, recs[i].len,
		    err) < 0)
			return (-1);
	return (0);
}

/*
 * Compute the C fields from the sizes of what follows, then emit the
 * file in order. Nothing is emitted before the C record is known good.
 */
static int
emit_file(struct emit *e, const struct qfile_parts *parts,
    struct qfile_error *err)
{
	char	 size[6 * (QFILE_SIZE_WIDTH + 1) + 1];
	size_t	 want, data_offset, data_size;
	long	 rcpts;
	int	 n, nf = parts->nfields;

	want = (size_t)nf * (QFILE_SIZE_WIDTH + 1) - 1;
	data_offset = rec_size(want) + seg_size(parts->env, parts->nenv) +
	    rec_size(0);
	data_size = seg_size(parts->content, parts->ncontent);
	rcpts = (long)(count_rcpts(parts->env, parts->nenv) +
	    count_rcpts(parts->extra, parts->nextra));
	n = snprintf(size, sizeof(size), "%*ld %*ld %*ld %*ld %*ld %*ld",
	    QFILE_SIZE_WIDTH, (long)data_size, QFILE_SIZE_WIDTH,
	    (long)data_offset, QFILE_SIZE_WIDTH, rcpts, QFILE_SIZE_WIDTH,
	    parts->flags, QFILE_SIZE_WIDTH, (long)data_size, QFILE_SIZE_WIDTH,
	    parts->sendopts);
	if (n != 6 * (QFILE_SIZE_WIDTH + 1) - 1)
		return (qfail(err, QFILE_ESIZE, -1,
		    "a C field does not fit in %d digits.", QFILE_SIZE_WIDTH));
	/* All six fields are 15 wide, so the first want bytes hold nf. */
	if (emit_rec(e, QREC_SIZE, size, want, err) < 0 ||
	    emit_seg(e, parts->env, parts->nenv, err) < 0 ||
	    emit_rec(e, QREC_MESG, "", 0, err) < 0 ||
	    emit_seg(e, parts->content, parts->ncontent, err) < 0 ||
	    emit_rec(e, QREC_XTRA, "", 0, err) < 0 ||
	    emit_seg(e, parts->extra, parts->nextra, err) < 0 ||
	    emit_rec(e, QREC_END, "", 0, err) < 0)
		return (-1);
	if (e->fd >= 0)
		return (emit_flush(e, err));
	return (0);
}

int
qfile_image(const struct qfile_parts *parts, struct buf *out,
    struct qfile_error *err)
{
	struct emit	 e = { out, -1, 0 };

	if (check_parts(parts, err) < 0)
		return (-1);
	return (emit_file(&e, parts, err));
}

int
qfile_write(int fd, const struct qfile_parts *parts, struct qfile_error *err)
{
	struct buf	 b = BUF_INIT;
	struct emit	 e = { &b, fd, 0 };
	int		 rc;

	if (check_parts(parts, err) < 0)
		return (-1);
	rc = emit_file(&e, parts, err);
	buf_free(&b);
	return (rc);
}

size_t
qfile_content_text_len(const struct qfile_rec *recs, size_t n)
{
	size_t	 i, len = 0;

	for (i = 0; i < n; i++)
		if (recs[i].type == QREC_NORM || recs[i].type == QREC_CONT)
			len += recs[i].len + (recs[i].type == QREC_NORM);
	return (len);
}

void
qfile_content_text(const struct qfile_rec *recs, size_t n, struct buf *out)
{
	size_t	 i;

	/* One allocation for the whole text, not one per doubling. */
	buf_reserve(out, qfile_content_text_len(recs, n));
	for (i = 0; i < n; i++) {
		if (recs[i].type != QREC_NORM && recs[i].type != QREC_CONT)
			continue;
		buf_append(out, recs[i].data, recs[i].len);
		if (recs[i].type == QREC_NORM)
			buf_putc(out, '\n');
	}
}

/* Split text into records; with recs NULL, only count them. */
static size_t
text_split(const char *text, size_t len, size_t limit, struct qfile_rec *recs)
{
	const char	*nl;
	size_t		 n = 0, pos = 0, line;

	while (pos < len) {
		nl = memchr(text + pos, '\n', len - pos);
		line = nl != NULL ? (size_t)(nl - text) - pos : len - pos;
		for (; limit != 0 && line > limit; line -= limit, pos += limit) {
			if (recs != NULL)
				recs[n] = (struct qfile_rec){ QREC_CONT, limit,
				    text + pos };
			n++;
		}
		if (recs != NULL)
			recs[n] = (struct qfile_rec){ QREC_NORM, line,
			    text + pos };
		n++;
		pos += line + 1;
	}
	return (n);
}

size_t
qfile_text_records(const char *text, size_t len, size_t line_limit,
    struct qfile_rec **recs_r)
{
	size_t	 n;

	n = text_split(text, len, line_limit, NULL);
	*recs_r = xcalloc(n, sizeof(**recs_r));
	(void)text_split(text, len, line_limit, *recs_r);
	return (n);
}

/*
 * Postfix's idea of a header line (is_header()): a name of printable
 * ASCII characters other than ':', optional blanks, then ':'.
 */
bool
qfile_is_header_line(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == ':')
			return (i > 0);
		if (c == ' ' || c == '\t') {
			if (i == 0)
				return (false);
			while (i < len && (p[i] == ' ' || p[i] == '\t'))
				i++;
			return (i < len && p[i] == ':');
		}
		if (c < 33 || c > 126)
			return (false);
	}
	return (false);
}

/*
 * The header block ends, as in cleanup(8), at the first logical line that
 * is empty, or is neither a header nor the continuation of one: then the
 * body starts, with or without an empty line. Only the first record of
 * each logical line (the one after an N) is looked at.
 */
size_t
qfile_header_end(const struct qfile_rec *recs, size_t n)
{
	bool	 in_header = false;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (i > 0 && recs[i - 1].type == QREC_CONT)
			continue;	/* middle of a long line */
		if (recs[i].len == 0 && recs[i].type == QREC_NORM)
			return (i);
		if (in_header && (recs[i].data[0] == ' ' ||
		    recs[i].data[0] == '\t'))
			continue;
		if (!qfile_is_header_line(recs[i].data, recs[i].len))
			return (i);
		in_header = true;
	}
	return (n);
}

void
qfile_records_encode(const struct qfile_rec *recs, size_t n, struct buf *out)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (recs[i].type < 0 || recs[i].type > 255 ||
		    recs[i].len > QFILE_REC_MAX)
			hs_panic("qfile_records_encode: record %zu: type %d "
			    "length %zu cannot be encoded", i, recs[i].type,
			    recs[i].len);
		put_header(out, recs[i].type, recs[i].len);
		buf_append(out, recs[i].data, recs[i].len);
	}
}

int
qfile_records_decode(const char *data, size_t len, const char *allowed,
    struct qfile_rec **recs_r, size_t *n_r, struct qfile_error *err)
{
	struct qfile_rec	*recs = NULL;
	struct rawrec		 rr;
	size_t			 n = 0, cap = 0, pos = 0;
	char			 tn[8];

	*recs_r = NULL;
	*n_r = 0;
	while (pos < len) {
		if (rec_at((const unsigned char *)data, len, pos, &rr, err) < 0)
			goto fail;
		if (rr.type == 0 || strchr(allowed, rr.type) == NULL) {
			(void)qfail(err, known_type(rr.type) ? QFILE_ESEGMENT :
			    QFILE_EBADTYPE,
			    (long)pos, "record %s at offset %zu is not one of "
			    "the expected types \"%s\".",
			    type_name(rr.type, tn, sizeof(tn)), pos, allowed);
			goto fail;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			recs = xreallocarray(recs, cap, sizeof(*recs));
		}
		recs[n++] = (struct qfile_rec){ rr.type, rr.len, data + rr.data };
		pos = rr.end;
	}
	*recs_r = recs != NULL ? recs : xcalloc(0, sizeof(*recs));
	*n_r = n;
	return (0);
fail:
	free(recs);
	return (-1);
}

void
qfile_insert_headers(const struct qfile_rec *recs, size_t n,
    size_t header_end, const char *add_headers, size_t line_limit,
    struct buf *out)
{
	struct qfile_rec *hrecs = NULL;
	size_t		 nh;

	if (header_end > n)
		header_end = n;
	qfile_records_encode(recs, header_end, out);
	if (add_headers != NULL && *add_headers != '\0') {
		nh = qfile_text_records(add_headers, strlen(add_headers),
		    line_limit, &hrecs);
		qfile_records_encode(hrecs, nh, out);
		free(hrecs);
	}
	qfile_records_encode(recs + header_end, n - header_end, out);
}

/* --- content from a worker ------------------------------------------------ */

/* Order of records by length, then bytes (for bsearch). */
static int
rec_cmp(const void *a, const void *b)
{
	const struct qfile_rec *ra = a, *rb = b;

	if (ra->len != rb->len)
		return (ra->len < rb->len ? -1 : 1);
	return (ra->len == 0 ? 0 : memcmp(ra->data, rb->data, ra->len));
}

/* Does the record hold a CR or a NUL byte? */
static bool
rec_has_cr_nul(const struct qfile_rec *r)
{
	return (memchr(r->data, '\r', r->len) != NULL ||
	    memchr(r->data, '\0', r->len) != NULL);
}

static int
check_fail(char *why, size_t whysize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
check_fail(char *why, size_t whysize, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, whysize, fmt, ap);
	va_end(ap);
	return (-1);
}

int
qfile_content_check(const struct qfile_rec *recs, size_t n,
    const struct qfile_rec *orig, size_t norig, size_t line_limit,
    size_t max_bytes, char *why, size_t whysize)
{
	struct qfile_rec *odd = NULL;
	size_t		 nodd = 0, i, total = 0, limit = line_limit, e;
	bool		 line_start, first = true, in_header = true;
	bool		 orig_bare_body;
	int		 rc = -1;

	/* The original's lines with a CR or NUL, and its longest record. */
	for (i = 0; i < norig; i++) {
		if (orig[i].len > limit)
			limit = orig[i].len;
		if (rec_has_cr_nul(&orig[i])) {
			if (odd == NULL)
				odd = xreallocarray(NULL, norig, sizeof(*odd));
			odd[nodd++] = orig[i];
		}
	}
	if (nodd > 1)
		qsort(odd, nodd, sizeof(*odd), rec_cmp);
	e = qfile_header_end(orig, norig);
	orig_bare_body = e < norig &&
	    !(orig[e].type == QREC_NORM && orig[e].len == 0);

	for (i = 0; i < n; i++) {
		const struct qfile_rec *r = &recs[i];

		if (r->type != QREC_NORM && r->type != QREC_CONT) {
			(void)check_fail(why, whysize, "content record %zu is "
			    "of type %d, not N or L", i + 1, r->type);
			goto out;
		}
		if (r->len > limit) {
			(void)check_fail(why, whysize, "content record %zu is "
			    "%zu bytes long, over the line length limit %zu",
			    i + 1, r->len, limit);
			goto out;
		}
		if (memchr(r->data, '\n', r->len) != NULL) {
			(void)check_fail(why, whysize, "content record %zu "
			    "holds an LF byte", i + 1);
			goto out;
		}
		if (rec_has_cr_nul(r) && (nodd == 0 ||
		    bsearch(r, odd, nodd, sizeof(*odd), rec_cmp) == NULL)) {
			(void)check_fail(why, whysize, "content record %zu "
			    "holds a%s byte the original has not there", i + 1,
			    memchr(r->data, '\r', r->len) != NULL ?
			    " CR" : " NUL");
			goto out;
		}
		total += r->len + (r->type == QREC_NORM);
		if (total > max_bytes) {
			(void)check_fail(why, whysize, "content is over %zu "
			    "bytes", max_bytes);
			goto out;
		}
		line_start = i == 0 || recs[i - 1].type == QREC_NORM;
		if (!in_header || !line_start)
			continue;
		if (r->type == QREC_NORM && r->len == 0) {
			in_header = false;	/* the empty line */
			continue;
		}
		if (r->len > 0 && (r->data[0] == ' ' || r->data[0] == '\t')) {
			if (first) {
				(void)check_fail(why, whysize, "content record "
				    "%zu continues a header field that is not "
				    "there", i + 1);
				goto out;
			}
		} else if (!qfile_is_header_line(r->data, r->len)) {
			if (!orig_bare_body) {
				(void)check_fail(why, whysize, "content record "
				    "%zu is in the header block but is no "
				    "header field", i + 1);
				goto out;
			}
			in_header = false;	/* the body, as in the original */
			continue;
		}
		first = false;
	}
	rc = 0;
out:
	free(odd);
	return (rc);
}
