/*
 * NAME
 *	addr - quote an address's local part as RFC 5321 requires
 * DESCRIPTION
 *	A local part that is a dot-atom (atoms of letters, digits, 8-bit
 *	characters and !#$%&'*+-/=?^_`{|}~, joined by single dots) stays as
 *	it is; anything else (a comma, a space, '<', '@', a leading or
 *	trailing dot, two dots, a quote) is written as a quoted string with
 *	'"' and '\' escaped, so that whoever parses it sees one address.
 *
 *	This module must never let a character that ends or separates an
 *	address stand outside a quoted string.
 */
#include <stdbool.h>
#include <string.h>

#include "common/addr.h"

static bool
atext(unsigned char c)
{
	return (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool
dot_atom(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return (false);
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return (false);
			continue;
		}
		if (!atext((unsigned char)s[i]))
			return (false);
	}
	return (true);
}

void
addr_external(const char *internal, struct buf *out)
{
	const char	*at = strrchr(internal, '@');
	size_t		 n = at ? (size_t)(at - internal) : strlen(internal), i;

	buf_reset(out);
	if (internal[0] == '\0' || dot_atom(internal, n)) {
		buf_append(out, internal, n);
	} else {
		buf_putc(out, '"');
		for (i = 0; i < n; i++) {
			if (internal[i] == '"' || internal[i] == '\\')
				buf_putc(out, '\\');
			buf_putc(out, internal[i]);
		}
		buf_putc(out, '"');
	}
	if (at != NULL)
		buf_append(out, at, strlen(at));
	buf_putc(out, '\0');
	out->len--;
}
