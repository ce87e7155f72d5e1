/*
 * NAME
 *	mailhdr - find, unfold, decode and strip header fields
 * DESCRIPTION
 *	What the quarantine index and the notices need from a header block:
 *	the Subject (or any field) as one line of UTF-8 text. Encoded words
 *	of RFC 2047 are decoded (B and Q; charsets through iconv(3), the
 *	RFC 2231 language suffix ignored); an encoded word that cannot be
 *	decoded stays as it was written. Raw 8-bit bytes that are not UTF-8
 *	are taken as Latin-1, the most common mistake in the wild.
 *
 *	What delivery needs: the fields of the message's own header block
 *	whose names look like holdscan's or a spam filter's (a sender's
 *	forgeries, or holdscan's header from an earlier pass through hold)
 *	taken out, with their continuation lines, before holdscan adds its
 *	own (mailhdr_strip()). It works on content records and removes only
 *	whole logical lines of the top-level header block (as cleanup(8)
 *	delimits it), so the body, MIME parts and attached messages keep
 *	every byte, and what remains is content qmgr(8) accepts.
 *
 *	This module must never write a control character into its output
 *	(a subject is shown on terminals and put into mail headers), never
 *	read past the lengths it is given, never remove a line outside the
 *	top-level header block, and never do I/O.
 */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mailhdr.h"
#include "common/xalloc.h"

#define EW_CHARSET_MAX	64
#define EW_TEXT_MAX	4096

bool
mailhdr_get(const char *text, size_t len, const char *name, struct buf *out)
{
	size_t	 nlen = strlen(name), pos = 0, eol, v;
	bool	 found = false;

	while (pos < len) {
		const char	*line = text + pos;

		eol = pos;
		while (eol < len && text[eol] != '\n')
			eol++;
		if (!found) {
			if (eol - pos > nlen && strncasecmp(line, name, nlen) == 0) {
				v = nlen;
				while (pos + v < eol && (line[v] == ' ' ||
				    line[v] == '\t'))
					v++;
				if (pos + v < eol && line[v] == ':') {
					v++;
					while (pos + v < eol && (line[v] == ' ' ||
					    line[v] == '\t'))
						v++;
					buf_append(out, line + v, eol - pos - v);
					found = true;
				}
			}
		} else if (eol > pos && (line[0] == ' ' || line[0] == '\t')) {
			buf_append(out, line, eol - pos);	/* unfolded */
		} else {
			break;
		}
		pos = eol + 1;
	}
	if (found)
		while (out->len > 0 && (out->data[out->len - 1] == '\r' ||
		    out->data[out->len - 1] == ' '))
			out->data[--out->len] = '\0';
	return (found);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	if (c == '+')
		return (62);
	if (c == '/')
		return (63);
	return (-1);
}

/* Decode the B or Q text of an encoded word into raw bytes. */
static int
ew_bytes(int enc, const char *s, size_t n, struct buf *out)
{
	size_t		 i;
	uint32_t	 acc = 0;
	int		 bits = 0, v;

	for (i = 0; i < n; i++) {
		if (enc == 'Q') {
			if (s[i] == '_') {
				buf_putc(out, ' ');
			} else if (s[i] == '=' && i + 2 < n &&
			    hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
				buf_putc(out, hexval(s[i + 1]) * 16 +
				    hexval(s[i + 2]));
				i += 2;
			} else {
				buf_putc(out, s[i]);
			}
			continue;
		}
		if (s[i] == '=')
			break;
		if ((v = b64val((unsigned char)s[i])) < 0)
			return (-1);
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_putc(out, (int)((acc >> bits) & 0xff));
		}
	}
	return (0);
}

/* Convert raw bytes in charset to UTF-8; -1 if the charset is unknown. */
static int
to_utf8(const char *charset, const char *in, size_t n, struct buf *out)
{
	iconv_t		 cd;
	char		*ip = (char *)in, chunk[1024];
	size_t		 il = n;

	if (strcasecmp(charset, "utf-8") == 0 ||
	    strcasecmp(charset, "us-ascii") == 0) {
		buf_append(out, in, n);
		return (0);
	}
	if ((cd = iconv_open("UTF-8", charset)) == (iconv_t)-1)
		return (-1);
	while (il > 0) {
		char	*op = chunk;
		size_t	 ol = sizeof(chunk);

		if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1 &&
		    errno != E2BIG) {
			buf_append(out, chunk, sizeof(chunk) - ol);
			/* A byte the charset does not have: keep it, go on. */
			buf_putc(out, *ip);
			ip++;
			il--;
			continue;
		}
		buf_append(out, chunk, sizeof(chunk) - ol);
	}
	(void)iconv_close(cd);
	return (0);
}

/*
 * Try an encoded word at s: "=?charset?e?text?=". Returns the bytes it
 * spans with its decoded text appended to out, or 0 if it is not one.
 */
static size_t
encoded_word(const char *s, size_t n, struct buf *out)
{
	struct buf	 raw = BUF_INIT;
	char		 charset[EW_CHARSET_MAX + 1];
	size_t		 i = 2, cs, te;
	int		 enc;

	if (n < 8 || s[0] != '=' || s[1] != '?')
		return (0);
	for (cs = i; i < n && s[i] != '?' && i - cs < EW_CHARSET_MAX; i++)
		if (s[i] == ' ' || s[i] == '\t')
			return (0);
	if (i >= n || s[i] != '?' || i == cs)
		return (0);
	(void)snprintf(charset, sizeof(charset), "%.*s", (int)(i - cs), s + cs);
	charset[strcspn(charset, "*")] = '\0';	/* RFC 2231 language */
	if (i + 3 >= n || s[i + 2] != '?')
		return (0);
	enc = s[i + 1] == 'b' ? 'B' : s[i + 1] == 'q' ? 'Q' : s[i + 1];
	if (enc != 'B' && enc != 'Q')
		return (0);
	i += 3;
	for (te = i; te + 1 < n && !(s[te] == '?' && s[te + 1] == '='); te++)
		if (s[te] == ' ' || s[te] == '\t' || te - i > EW_TEXT_MAX)
			return (0);
	if (te + 1 >= n)
		return (0);
	if (ew_bytes(enc, s + i, te - i, &raw) < 0 ||
	    to_utf8(charset, raw.data ? raw.data : "", raw.len, out) < 0) {
		buf_free(&raw);
		return (0);
	}
	buf_free(&raw);
	return (te + 2);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t		 len, i;
	uint32_t	 cp;

	if (s[0] < 0x80)
		return (1);
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return (0);
	}
	if (len > n)
		return (0);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return (0);
	return (len);
}

/* Append text as clean UTF-8 without controls, at most max bytes. */
static void
clean_utf8(const char *text, size_t n, size_t max, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t		 i = 0, l, start = out->len;
	char		 two[2];

	while (i < n) {
		l = utf8_len(s + i, n - i);
		if ((l == 1 && (s[i] < 0x20 || s[i] == 0x7f)) ||
		    (l == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)) {
			/* C0 and C1 controls (and DEL) become one space. */
			if (out->len - start + 1 > max)
				break;
			buf_putc(out, ' ');
		} else if (l > 0) {
			if (out->len - start + l > max)
				break;
			buf_append(out, s + i, l);
		} else {
			/* Not UTF-8: Latin-1 (C1 controls become spaces). */
			if (s[i] < 0xa0) {
				if (out->len - start + 1 > max)
					break;
				buf_putc(out, ' ');
			} else {
				if (out->len - start + 2 > max)
					break;
				two[0] = (char)(0xc0 | (s[i] >> 6));
				two[1] = (char)(0x80 | (s[i] & 0x3f));
				buf_append(out, two, 2);
			}
			l = 1;
		}
		i += l;
	}
}

void
mailhdr_decode(const char *value, size_t len, size_t max, struct buf *out)
{
	struct buf	 tmp = BUF_INIT, dec = BUF_INIT;
	size_t		 i = 0, wsb = 0, wsn = 0, used;
	bool		 last_ew = false;

	while (i < len) {
		char	 c = value[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (wsn == 0)
				wsb = i;
			wsn++;
			i++;
			continue;
		}
		buf_reset(&dec);
		if (c == '=' && (used = encoded_word(value + i, len - i,
		    &dec)) > 0) {
			/* White space between two encoded words goes. */
			if (wsn > 0 && !last_ew)
				buf_append(&tmp, value + wsb, wsn);
			buf_append(&tmp, dec.data ? dec.data : "", dec.len);
			wsn = 0;
			last_ew = true;
			i += used;
			continue;
		}
		if (wsn > 0)
			buf_append(&tmp, value + wsb, wsn);
		wsn = 0;
		last_ew = false;
		buf_putc(&tmp, c);
		i++;
	}
	if (wsn > 0 && !last_ew)
		buf_append(&tmp, value + wsb, wsn);
	clean_utf8(tmp.data ? tmp.data : "", tmp.len, max, out);
	buf_free(&tmp);
	buf_free(&dec);
}

void
mailhdr_block(const struct qfile *qf, struct buf *out)
{
	qfile_content_text(qf->content, qf->header_end, out);
}

void
mailhdr_subject(const struct qfile *qf, size_t max, struct buf *out)
{
	struct buf	 block = BUF_INIT, raw = BUF_INIT;

	mailhdr_block(qf, &block);
	if (mailhdr_get(block.data ? block.data : "", block.len, "Subject", &raw))
		mailhdr_decode(raw.data ? raw.data : "", raw.len, max, out);
	buf_free(&block);
	buf_free(&raw);
}

/* --- stripping fields ----------------------------------------------------- */

/* Does the field name name[len] match the pattern pat[plen]? */
static bool
name_matches(const char *pat, size_t plen, const char *name, size_t len)
{
	if (plen > 0 && pat[plen - 1] == '*')
		return (len >= plen - 1 && strncasecmp(pat, name, plen - 1) == 0);
	return (len == plen && strncasecmp(pat, name, len) == 0);
}

bool
mailhdr_name_listed(const char *list, const char *name, size_t len)
{
	size_t	 plen;

	if (list == NULL)
		return (false);
	for (;;) {
		list += strspn(list, ", \t");
		if (*list == '\0')
			return (false);
		plen = strcspn(list, ", \t");
		if (name_matches(list, plen, name, len))
			return (true);
		list += plen;
	}
}

const char *
mailhdr_names_check(const char *list)
{
	size_t	 len, i;

	for (;;) {
		list += strspn(list, ", \t");
		if (*list == '\0')
			return (NULL);
		len = strcspn(list, ", \t");
		if (len - (list[len - 1] == '*') > MAILHDR_NAME_MAX)
			return ("a field name is longer than 76 characters");
		for (i = 0; i < len; i++) {
			unsigned char c = (unsigned char)list[i];

			if (c < 33 || c > 126 || c == ':')
				return ("a field name has a character other than "
				    "printable ASCII without ':'");
			if (c == '*' && i + 1 != len)
				return ("'*' is allowed only at the end of a name");
		}
		if (len == 1 && list[0] == '*')
			return ("'*' alone would remove every field");
		list += len;
	}
}

/* Add name to list if it is one plain field name (no list, no glob). */
static void
own_add(struct buf *list, const char *name)
{
	if (name == NULL || name[0] == '\0' || strpbrk(name, ", \t*") != NULL ||
	    mailhdr_names_check(name) != NULL)
		return;
	buf_printf(list, "%s%s", list->len ? ", " : "", name);
}

char *
mailhdr_strip_names(const char *own1, const char *own2, const char *more)
{
	struct buf	 list = BUF_INIT;

	own_add(&list, own1);
	own_add(&list, own2);
	if (more != NULL && mailhdr_names_check(more) == NULL)
		buf_printf(&list, "%s%s", list.len ? ", " : "", more);
	buf_putc(&list, '\0');
	list.len--;
	return (buf_steal(&list, NULL));
}

/*
 * The field name of the logical line that starts at record i (its records
 * up to the N) into name (at most size - 1 bytes; longer names are cut).
 * Returns its length (uncut), or 0 when the line is not a header field.
 */
static size_t
field_name(const struct qfile_rec *recs, size_t n, size_t i, char *name,
    size_t size)
{
	size_t	 len = 0, k;
	bool	 blanks = false;

	for (; i < n; i++) {
		for (k = 0; k < recs[i].len; k++) {
			char	 c = recs[i].data[k];

			if (c == ':')
				return (len);
			if (c == ' ' || c == '\t') {
				blanks = true;
				continue;
			}
			if (blanks)
				return (0);	/* "A B:" is not a field */
			if (len + 1 < size)
				name[len] = c;
			len++;
		}
		if (recs[i].type == QREC_NORM)
			break;
	}
	return (0);
}

/* Add name to the "A, B" list of removed names, once, within bounds. */
static void
removed_add(struct buf *removed, const char *name, size_t len)
{
	const char	*p;
	size_t		 l;

	if (removed == NULL)
		return;
	for (p = removed->data; p != NULL && *p != '\0'; p += l) {
		p += strspn(p, ", ");
		l = strcspn(p, ",");
		if (l == len && strncasecmp(p, name, len) == 0)
			return;
	}
	if (removed->len > MAILHDR_REMOVED_MAX) {
		if (removed->len < 3 || strcmp(removed->data + removed->len - 3,
		    "...") != 0)
			buf_printf(removed, ", ...");
		return;
	}
	buf_printf(removed, "%s%.*s", removed->len ? ", " : "", (int)len, name);
}

size_t
mailhdr_strip(const struct qfile_rec *recs, size_t n, const char *list,
    const char *keep, struct qfile_rec **out_r, size_t *nout_r,
    struct buf *removed)
{
	struct qfile_rec *out = xcalloc(n > 0 ? n : 1, sizeof(*out));
	size_t		 hend = qfile_header_end(recs, n), i = 0, j, o = 0;
	size_t		 len, count = 0, klen = keep ? strlen(keep) : 0;
	char		 name[2 * MAILHDR_NAME_MAX];
	bool		 drop = false;

	while (i < hend) {
		/* The logical line: records i .. j-1. */
		for (j = i; j < hend && recs[j].type != QREC_NORM; j++)
			;
		j = j < hend ? j + 1 : hend;
		if (recs[i].len > 0 && (recs[i].data[0] == ' ' ||
		    recs[i].data[0] == '\t')) {
			/* A continuation: goes with its field. */
		} else {
			/*
			 * A longer name is cut: still longer than any listed
			 * name, and its start still meets a "Prefix*".
			 */
			if ((len = field_name(recs, j, i, name,
			    sizeof(name))) >= sizeof(name))
				len = sizeof(name) - 1;
			drop = len > 0 && mailhdr_name_listed(list, name, len) &&
			    !(keep != NULL && len == klen &&
			    strncasecmp(keep, name, len) == 0);
			if (drop) {
				count++;
				removed_add(removed, name, len);
			}
		}
		if (!drop) {
			memcpy(out + o, recs + i, (j - i) * sizeof(*recs));
			o += j - i;
		}
		i = j;
	}
	memcpy(out + o, recs + hend, (n - hend) * sizeof(*recs));
	o += n - hend;
	*out_r = out;
	*nout_r = o;
	return (count);
}
