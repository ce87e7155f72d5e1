/*
 * NAME
 *	mime - bounded MIME walk over untrusted messages (GMime)
 * DESCRIPTION
 *	mime_walk() first pre-scans the text in one linear pass to bound what
 *	GMime would build: it collects the boundary parameters the message
 *	declares, counts the lines that could be delimiters of those
 *	boundaries and the header fields that could start in a header block
 *	(a header block starts at the top, after a possible delimiter, and
 *	after the header block of a message/ part; it ends at the first empty
 *	line, as in GMime). When a boundary is declared in a form the
 *	pre-scan cannot read exactly (RFC 2231, comments, escapes, encoded
 *	words, NUL bytes) every line starting with "--" counts as a delimiter.
 *	Lines starting with "--" times declared boundaries are bounded too:
 *	GMime compares each such line with every open boundary.
 *	Then GMime parses the message; a first walk over the tree checks
 *	nesting and entity count; only then does a second walk decode each
 *	leaf and call the caller back.
 *
 *	The replaceable range of a leaf (want_cut) comes from GMime's own
 *	offsets: the first header of the entity (or its content start), moved
 *	back to just after the delimiter line that precedes it, and the end
 *	of the leaf's content; both ends are checked against the text.
 *
 *	This module must never change the message, never call the callback
 *	for a message it then refuses, never recurse deeper than max_depth,
 *	and never let GMime build structures without the pre-scan's bound.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "scanner/mime.h"

/* --- pre-scan ------------------------------------------------------------ */

/* "--" lines times declared boundaries: GMime's boundary checks, at most. */
#define MIME_MAX_DASH_CHECKS	20000000UL

struct key {
	const char	*p;
	size_t		 len;
	char		*own;		/* p's storage, or NULL for a probe */
};

struct prescan {
	struct key	*keys;		/* declared boundaries, trimmed */
	size_t		 nkeys;
	size_t		 ndecl;
	bool		 conservative;	/* a declaration we cannot read exactly */
	bool		 digest;	/* multipart/digest: parts may be messages */
};

static bool
is_lwsp(int c)
{
	return (c == ' ' || c == '\t' || c == '\r' || c == '\n');
}

static bool
is_blank(int c)
{
	return (c == ' ' || c == '\t');
}

/*
 * Does t[len] hold "multipart/digest", in any case? It runs over whole
 * messages: memchr() finds each '/' (rare in text, one byte in 64 of
 * base64), and only there are the words around it compared.
 */
static bool
has_digest(const char *t, size_t len)
{
	const char	*p = t, *end = t + len, *s;

	while ((s = memchr(p, '/', (size_t)(end - p))) != NULL) {
		if (s - t >= 9 && end - s >= 7 &&
		    strncasecmp(s - 9, "multipart/digest", 16) == 0)
			return (true);
		p = s + 1;
	}
	return (false);
}

/* Case-insensitive search of needle (lower case) in t[len]. */
static bool
ci_contains(const char *t, size_t len, const char *needle)
{
	size_t	 n = strlen(needle), i;

	if (n == 0 || len < n)
		return (n == 0);
	for (i = 0; i + n <= len; i++)
		if ((t[i] | 0x20) == needle[0] &&
		    strncasecmp(t + i, needle, n) == 0)
			return (true);
	return (false);
}

static int
key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;

	if (x->len != y->len)
		return (x->len < y->len ? -1 : 1);
	return (memcmp(x->p, y->p, x->len));
}

static bool
key_known(const struct prescan *ps, const char *p, size_t len)
{
	struct key	 k = { p, len, NULL };

	return (ps->nkeys > 0 && bsearch(&k, ps->keys, ps->nkeys,
	    sizeof(*ps->keys), key_cmp) != NULL);
}

/*
 * The boundary declared at t[i] (just after the word "boundary"), read as
 * GMime reads a parameter in its loose mode: a quoted string, or
 * everything up to ';' or the end of the field.
 */
static void
declared_boundary(struct prescan *ps, const char *t, size_t len, size_t i)
{
	size_t	 s, e, j, n;
	char	*v;

	while (i < len && is_lwsp((unsigned char)t[i]))
		i++;
	if (i < len && t[i] == '*') {
		ps->conservative = true;	/* RFC 2231 */
		return;
	}
	if (i >= len || t[i] != '=')
		return;
	for (i++; i < len && is_lwsp((unsigned char)t[i]); i++)
		;
	if (i >= len)
		return;
	if (t[i] == '(') {
		ps->conservative = true;	/* a comment first */
		return;
	}
	if (t[i] == '"') {
		for (s = ++i; i < len && t[i] != '"' && t[i] != '\\' &&
		    t[i] != '\0'; i++)
			;
		if (i >= len || t[i] != '"') {
			ps->conservative = true;
			return;
		}
		e = i;
	} else {
		for (s = i; i < len && t[i] != ';'; i++)
			if (t[i] == '\n' && (i + 1 >= len || !is_blank(t[i + 1])))
				break;
		e = i;
	}
	ps->ndecl++;
	v = xmalloc(e - s + 1);
	for (n = 0, j = s; j < e; j++) {
		if (t[j] == '\0') {
			ps->conservative = true;
			free(v);
			return;
		}
		if (t[j] != '\r' && t[j] != '\n')
			v[n++] = t[j];
	}
	while (n > 0 && is_lwsp((unsigned char)v[n - 1]))
		n--;
	v[n] = '\0';
	if (n == 0 || memmem(v, n, "=?", 2) != NULL) {
		if (n != 0)
			ps->conservative = true;	/* maybe an encoded word */
		free(v);
		return;
	}
	ps->keys = xreallocarray(ps->keys, ps->nkeys + 1, sizeof(*ps->keys));
	ps->keys[ps->nkeys].p = v;
	ps->keys[ps->nkeys].len = n;
	ps->keys[ps->nkeys].own = v;
	ps->nkeys++;
}

/* Could GMime take this line (without its line end) as a delimiter? */
static bool
maybe_delimiter(const struct prescan *ps, const char *line, size_t len)
{
	if (len < 2 || line[0] != '-' || line[1] != '-')
		return (false);
	if (ps->conservative)
		return (true);
	line += 2;
	len -= 2;
	while (len > 0 && is_lwsp((unsigned char)line[len - 1]))
		len--;
	if (key_known(ps, line, len))
		return (true);
	return (len >= 2 && line[len - 1] == '-' && line[len - 2] == '-' &&
	    key_known(ps, line, len - 2));
}

/* A header field GMime would keep: a name without blanks or controls, ':'. */
static bool
starts_header(const char *line, size_t len)
{
	bool	 blank = false;
	size_t	 i;

	if (len == 0 || is_blank((unsigned char)line[0]) || line[0] == ':')
		return (false);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == ':')
			return (true);
		if (is_blank(c))
			blank = true;
		else if (blank || c < 32 || c == 127)
			return (false);
	}
	return (false);
}

static void
prescan_clear(struct prescan *ps)
{
	size_t	 i;

	for (i = 0; i < ps->nkeys; i++)
		free(ps->keys[i].own);
	free(ps->keys);
	memset(ps, 0, sizeof(*ps));
}

static int
prescan(const char *t, size_t len, const struct mime_limits *lim, char *why,
    size_t whysize)
{
	struct prescan	 ps;
	const char	*nl, *p, *s;
	size_t		 i, k, ls, le, ll, ndelim = 0, nhdr = 0, ndash = 0;
	size_t		 max_delim = 2 * lim->max_parts + 16;
	bool		 in_block = true, block_msg = false;
	int		 rc = -1;

	memset(&ps, 0, sizeof(ps));
	/*
	 * A declaration is "boundary", blanks or line ends, then '=' (or
	 * '*', RFC 2231): found from each '=' and '*' (memchr(), in text
	 * order for each), looking back over the blanks for the word.
	 */
	for (k = 0; k < 2; k++)
		for (p = t; (s = memchr(p, "=*"[k], len - (size_t)(p - t))) !=
		    NULL; p = s + 1) {
			for (i = (size_t)(s - t); i > 0 &&
			    is_lwsp((unsigned char)t[i - 1]); i--)
				;
			if (i < 8 || strncasecmp(t + i - 8, "boundary", 8) != 0)
				continue;
			declared_boundary(&ps, t, len, i);
			if (ps.ndecl > max_delim) {
				(void)snprintf(why, whysize, "more than %zu MIME "
				    "boundary declarations", max_delim);
				goto out;
			}
		}
	if (ps.nkeys > 1)
		qsort(ps.keys, ps.nkeys, sizeof(*ps.keys), key_cmp);
	ps.digest = has_digest(t, len);

	for (ls = 0; ls < len; ls = le + 1) {
		nl = memchr(t + ls, '\n', len - ls);
		le = nl != NULL ? (size_t)(nl - t) : len;
		ll = le - ls;
		if (ll > 0 && t[ls + ll - 1] == '\r')
			ll--;
		/* GMime compares each "--" line with every open boundary. */
		if (ll >= 2 && t[ls] == '-' && t[ls + 1] == '-' &&
		    ++ndash > MIME_MAX_DASH_CHECKS / (ps.ndecl + 1)) {
			(void)snprintf(why, whysize, "too many \"--\" lines for "
			    "%zu MIME boundaries", ps.ndecl);
			goto out;
		}
		if (maybe_delimiter(&ps, t + ls, ll)) {
			if (++ndelim > max_delim) {
				(void)snprintf(why, whysize, "more than %zu MIME "
				    "boundary lines", max_delim);
				goto out;
			}
			in_block = true;
			block_msg = false;
			continue;
		}
		if (!in_block)
			continue;
		if (ll == 0) {
			/* A message/ part's content starts with a header block. */
			in_block = block_msg || ps.digest;
			block_msg = false;
			continue;
		}
		if (starts_header(t + ls, ll) && ++nhdr > MIME_MAX_HEADERS) {
			(void)snprintf(why, whysize, "more than %d MIME header "
			    "fields", MIME_MAX_HEADERS);
			goto out;
		}
		if (!block_msg && ci_contains(t + ls, ll, "message/"))
			block_msg = true;
	}
	rc = 0;
out:
	prescan_clear(&ps);
	return (rc);
}

/* --- the walk ------------------------------------------------------------ */

struct walk {
	const char	*text;
	size_t		 len;
	const struct mime_limits *lim;
	mime_part_fn	 fn;
	void		*arg;
	size_t		 nparts;
	size_t		 nleaves;
	char		*why;
	size_t		 whysize;
	/* boundaries of the open multiparts, outermost first (walk_tree) */
	const char	*bounds[MIME_MAX_DEPTH + 2];
	size_t		 nbounds;
};

/* Pass 1: nesting and entity count, before any callback. */
static int
check_tree(struct walk *w, GMimeObject *o, size_t depth)
{
	int	 i, n;

	if (o == NULL)
		return (0);
	if (depth > w->lim->max_depth) {
		(void)snprintf(w->why, w->whysize, "MIME nesting deeper than %zu",
		    w->lim->max_depth);
		return (-1);
	}
	if (++w->nparts > w->lim->max_parts) {
		(void)snprintf(w->why, w->whysize, "more than %zu MIME parts",
		    w->lim->max_parts);
		return (-1);
	}
	if (GMIME_IS_MULTIPART(o)) {
		n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		for (i = 0; i < n; i++)
			if (check_tree(w, g_mime_multipart_get_part(
			    GMIME_MULTIPART(o), i), depth + 1) < 0)
				return (-1);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(
		    GMIME_MESSAGE_PART(o));

		if (m != NULL && check_tree(w, g_mime_message_get_mime_part(m),
		    depth + 1) < 0)
			return (-1);
	}
	return (0);
}

/* Where an entity starts in the text as GMime saw it, or -1. */
static gint64
object_anchor(GMimeObject *o)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(o);
	gint64		 best = -1, off;
	int		 i, n = hl != NULL ? g_mime_header_list_get_count(hl) : 0;

	for (i = 0; i < n; i++) {
		off = g_mime_header_get_offset(g_mime_header_list_get_header_at(
		    hl, i));
		if (off >= 0 && (best < 0 || off < best))
			best = off;
	}
	if (best >= 0)
		return (best);
	if (GMIME_IS_PART(o)) {
		GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(o));
		GMimeStream	*s = dw ? g_mime_data_wrapper_get_stream(dw) : NULL;

		return (s != NULL ? s->bound_start : -1);
	}
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(
		    GMIME_MESSAGE_PART(o));

		if (m == NULL)
			return (-1);
		if ((best = object_anchor(GMIME_OBJECT(m))) >= 0)
			return (best);
		return (g_mime_message_get_mime_part(m) != NULL ?
		    object_anchor(g_mime_message_get_mime_part(m)) : -1);
	}
	return (-1);
}

/*
 * "--boundary" followed by nothing but blanks (GMime's is_boundary); with
 * close, "--boundary--" and blanks.
 */
static bool
is_delimiter(const char *line, size_t len, const char *b, bool close)
{
	size_t	 blen = strlen(b), i;

	if (len < blen + 2 || line[0] != '-' || line[1] != '-' ||
	    memcmp(line + 2, b, blen) != 0)
		return (false);
	i = blen + 2;
	if (close) {
		if (len < i + 2 || line[i] != '-' || line[i + 1] != '-')
			return (false);
		i += 2;
	}
	for (; i < len; i++)
		if (!is_lwsp((unsigned char)line[i]))
			return (false);
	return (true);
}

/* Does the line at t[ls] delimit a part of one of the open multiparts? */
static bool
ends_part(const struct walk *w, size_t ls)
{
	const char	*nl = memchr(w->text + ls, '\n', w->len - ls);
	size_t		 len = nl != NULL ? (size_t)(nl - w->text) - ls :
			    w->len - ls, i;

	for (i = 0; i < w->nbounds; i++)
		if (w->bounds[i] != NULL &&
		    (is_delimiter(w->text + ls, len, w->bounds[i], false) ||
		    is_delimiter(w->text + ls, len, w->bounds[i], true)))
			return (true);
	return (false);
}

/*
 * The range a replacement of unit (an entity of the innermost open
 * multipart) would take: from the line after the delimiter before it to
 * the end of the leaf's content, or, for a part that has no content, to
 * the boundary line after its headers. -1 when the text disagrees.
 */
static int
locate(const struct walk *w, GMimeObject *unit, GMimeStream *content,
    size_t *start_r, size_t *end_r)
{
	const char	*t = w->text, *bound;
	gint64		 anchor = object_anchor(unit);
	size_t		 ls, ps, end;

	if (w->nbounds == 0 || (bound = w->bounds[w->nbounds - 1]) == NULL ||
	    anchor < 0 || (guint64)anchor > w->len)
		return (-1);
	ls = (size_t)anchor;
	if (ls > 0 && t[ls - 1] != '\n')
		return (-1);
	for (;;) {
		if (ls == 0)
			return (-1);
		for (ps = ls - 1; ps > 0 && t[ps - 1] != '\n'; ps--)
			;
		if (is_delimiter(t + ps, ls - 1 - ps, bound, false))
			break;
		ls = ps;
	}
	if (content == NULL) {
		/* Headers ended by a boundary: the part ends before it. */
		for (end = (size_t)anchor; end < w->len && !ends_part(w, end);) {
			const char *nl = memchr(t + end, '\n', w->len - end);

			end = nl != NULL ? (size_t)(nl - t) + 1 : w->len;
		}
	} else {
		if (content->bound_end < content->bound_start ||
		    content->bound_start < 0 ||
		    (guint64)content->bound_end > w->len ||
		    (guint64)content->bound_start < ls)
			return (-1);
		end = (size_t)content->bound_end;
		if (end + 1 < w->len && t[end] == '\r' && t[end + 1] == '\n')
			end++;
		/* What follows is a boundary line, or the end of the text. */
		if (end < w->len && !(t[end] == '\n' ? ends_part(w, end + 1) :
		    end > 0 && t[end - 1] == '\n' && ends_part(w, end)))
			return (-1);
	}
	if (end < ls)
		return (-1);
	*start_r = ls;
	*end_r = end;
	return (0);
}

static int
leaf(struct walk *w, GMimeObject *o, size_t depth, GMimeObject *unit)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(GMIME_PART(o));
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	GMimeContentDisposition *cd = g_mime_object_get_content_disposition(o);
	GMimeStream	*out;
	GByteArray	*ba;
	struct mime_part p;
	char		*mt, *type;
	int		 rc;

	memset(&p, 0, sizeof(p));
	p.index = w->nleaves++;
	p.depth = depth;
	if (w->lim->want_cut && unit != NULL) {
		if (locate(w, unit, dw ? g_mime_data_wrapper_get_stream(dw) :
		    NULL, &p.cut_start, &p.cut_end) < 0) {
			(void)snprintf(w->why, w->whysize, "cannot locate MIME "
			    "part %zu in the message text", p.index + 1);
			return (-1);
		}
		p.cut_ok = true;
		p.cut_own = unit == o;
	}
	out = g_mime_stream_mem_new();
	if (dw != NULL && g_mime_data_wrapper_write_to_stream(dw, out) < 0) {
		g_object_unref(out);
		(void)snprintf(w->why, w->whysize, "cannot decode MIME part %zu",
		    p.index + 1);
		return (-1);
	}
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	mt = ct != NULL ? g_mime_content_type_get_mime_type(ct) : NULL;
	type = xstrdup_lower(mt != NULL ? mt : "text/plain");
	g_free(mt);
	p.content_type = type;
	p.filename = g_mime_object_get_content_disposition_parameter(o,
	    "filename");
	p.name = g_mime_object_get_content_type_parameter(o, "name");
	p.charset = g_mime_object_get_content_type_parameter(o, "charset");
	p.attachment = cd != NULL && g_mime_content_disposition_is_attachment(cd);
	p.data = ba != NULL && ba->len > 0 ? ba->data :
	    (const unsigned char *)"";
	p.len = ba != NULL ? ba->len : 0;
	rc = w->fn(w->arg, &p);
	free(type);
	g_object_unref(out);
	return (rc != 0 ? 1 : 0);
}

/*
 * Pass 2: each leaf, with the entity a replacement would replace (unit:
 * the entity of the innermost multipart that holds the leaf, itself or
 * the message/rfc822 chain around it) and the open boundaries.
 */
static int
walk_tree(struct walk *w, GMimeObject *o, size_t depth, GMimeObject *unit)
{
	int	 i, n, rc = 0;

	if (o == NULL)
		return (0);
	if (GMIME_IS_MULTIPART(o)) {
		if (w->nbounds >= sizeof(w->bounds) / sizeof(w->bounds[0])) {
			/* not reached: check_tree() bounds the depth */
			(void)snprintf(w->why, w->whysize, "MIME nesting too deep");
			return (-1);
		}
		w->bounds[w->nbounds++] = g_mime_object_get_content_type_parameter(
		    o, "boundary");
		n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		for (i = 0; i < n && rc == 0; i++) {
			GMimeObject *c = g_mime_multipart_get_part(
			    GMIME_MULTIPART(o), i);

			rc = walk_tree(w, c, depth + 1, c);
		}
		w->nbounds--;
		return (rc);
	}
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(
		    GMIME_MESSAGE_PART(o));

		return (m != NULL ? walk_tree(w, g_mime_message_get_mime_part(m),
		    depth + 1, unit) : 0);
	}
	if (GMIME_IS_PART(o))
		return (leaf(w, o, depth, unit));
	return (0);
}

void
mime_init(void)
{
	g_mime_init();
}

int
mime_walk(const char *text, size_t len, const struct mime_limits *lim,
    mime_part_fn fn, void *arg, char *why, size_t whysize)
{
	struct mime_limits l = *lim;
	struct walk	 w;
	GMimeStream	*st;
	GMimeParser	*parser;
	GMimeMessage	*msg;
	int		 rc;

	if (l.max_depth == 0 || l.max_depth > MIME_MAX_DEPTH)
		l.max_depth = MIME_MAX_DEPTH;
	if (l.max_parts == 0 || l.max_parts > MIME_MAX_PARTS)
		l.max_parts = MIME_MAX_PARTS;
	if (len > (size_t)G_MAXSSIZE - 1) {
		(void)snprintf(why, whysize, "message too large");
		return (-1);
	}
	if (prescan(text, len, &l, why, whysize) < 0)
		return (-1);

	st = g_mime_stream_mem_new_with_buffer(text, len);
	parser = g_mime_parser_new_with_stream(st);
	g_object_unref(st);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	if (msg == NULL) {
		(void)snprintf(why, whysize, "not a MIME message (no header "
		    "GMime can read)");
		return (-1);
	}
	memset(&w, 0, sizeof(w));
	w.text = text;
	w.len = len;
	w.lim = &l;
	w.fn = fn;
	w.arg = arg;
	w.why = why;
	w.whysize = whysize;
	rc = check_tree(&w, g_mime_message_get_mime_part(msg), 0);
	if (rc == 0)
		rc = walk_tree(&w, g_mime_message_get_mime_part(msg), 0, NULL);
	g_object_unref(msg);
	return (rc);
}

void
mime_encode_qp(const unsigned char *data, size_t len, struct buf *out)
{
	GMimeEncoding	 st;
	char		*o;
	size_t		 n;

	g_mime_encoding_init_encode(&st, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	o = xmalloc(g_mime_encoding_outlen(&st, len) + 16);
	n = g_mime_encoding_flush(&st, (const char *)data, len, o);
	buf_append(out, o, n);
	free(o);
}
