/*
 * NAME
 *	text - make text safe to show: one sanitiser for every destination
 * DESCRIPTION
 *	An escape sequence in a sender address, a Subject or a set-aside
 *	reason must not reach an admin's terminal or a log viewer as such:
 *	ESC, the other C0 controls, DEL and the C1 controls (which in UTF-8
 *	are two bytes, 0xc2 0x80..0x9f, and which many terminals obey:
 *	U+009B is CSI) are shown as '?', as Postfix logs them. Valid UTF-8
 *	(SMTPUTF8 addresses, decoded subjects) is kept; a byte that is not
 *	part of valid UTF-8 is shown as '?'. text_html() does the same
 *	and escapes the characters HTML gives a meaning (a digest's HTML
 *	part).
 *
 *	This module must never let a control character through, never grow
 *	the text, and never read past len.
 */
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/xalloc.h"

static bool
printable_ascii(unsigned char c)
{
	return (c >= 0x20 && c < 0x7f);
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t		 want, i;
	unsigned	 cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return (0);		/* ASCII, a continuation, or overlong/too big */
	want = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < want)
		return (0);
	cp = s[0] & (0xff >> (want + 1));
	for (i = 1; i < want; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((want == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (want == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return (0);		/* overlong, a surrogate, too big */
	if (cp >= 0x80 && cp <= 0x9f)
		return (0);		/* a C1 control */
	return (want);
}

size_t
text_safe(char *s, size_t len, bool block)
{
	unsigned char	*p = (unsigned char *)s;
	size_t		 in = 0, out = 0, n;

	while (in < len) {
		if (p[in] < 0x80) {
			if (printable_ascii(p[in]) ||
			    (block && (p[in] == '\n' || p[in] == '\t')))
				p[out++] = p[in];
			else
				p[out++] = '?';
			in++;
			continue;
		}
		if ((n = utf8_len(p + in, len - in)) == 0) {
			/* A C1 control's two bytes are one character: one '?'. */
			n = p[in] == 0xc2 && in + 1 < len && p[in + 1] >= 0x80 &&
			    p[in + 1] <= 0x9f ? 2 : 1;
			p[out++] = '?';
			in += n;
			continue;
		}
		while (n-- > 0)
			p[out++] = p[in++];
	}
	if (out < len)
		p[out] = '\0';		/* shorter: a C string stays one */
	return (out);
}

void
text_html(const char *s, struct buf *out)
{
	char	*c = xstrdup(s), *p;

	(void)text_safe(c, strlen(c), false);
	for (p = c; *p != '\0'; p++) {
		switch (*p) {
		case '&':
			buf_append(out, "&amp;", 5);
			break;
		case '<':
			buf_append(out, "&lt;", 4);
			break;
		case '>':
			buf_append(out, "&gt;", 4);
			break;
		case '"':
			buf_append(out, "&quot;", 6);
			break;
		case '\'':
			buf_append(out, "&#39;", 5);
			break;
		default:
			buf_putc(out, *p);
		}
	}
	free(c);
}
