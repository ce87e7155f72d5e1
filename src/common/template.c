/*
 * NAME
 *	template - verdict header and subject tag templates
 * SYNOPSIS
 *	#include "common/template.h"
 *
 *	const char *template_check(tmpl);
 *	char	*template_expand(tmpl, verdict, reason, score, max);
 * DESCRIPTION
 *	A template is text with $verdict, $reason and $score in it.
 *	template_check() is what the configuration loader runs on
 *	tag_header_text and subject_tag; template_expand() is what a
 *	scanner worker runs for each message it tags.
 *
 *	This module must never put a control character or a line end into
 *	its result (it ends up in a header line), and never return more
 *	than the caller's limit.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/template.h"
#include "common/xalloc.h"

static const char *const template_vars[] = { "verdict", "reason", "score",
    NULL };

/* Length of the variable name at p (after '$'), or 0 if not a name. */
static size_t
var_len(const char *p)
{
	size_t	 n = 0;

	while (isalnum((unsigned char)p[n]) || p[n] == '_')
		n++;
	return (n);
}

static int
var_index(const char *p, size_t n)
{
	int	 i;

	for (i = 0; template_vars[i] != NULL; i++)
		if (strlen(template_vars[i]) == n &&
		    strncmp(template_vars[i], p, n) == 0)
			return (i);
	return (-1);
}

const char *
template_check(const char *tmpl)
{
	const char	*p;
	size_t		 n;

	for (p = tmpl; *p; p++) {
		if ((unsigned char)*p < 32 || *p == 127)
			return ("control characters are not allowed");
		if (*p != '$' || (n = var_len(p + 1)) == 0)
			continue;
		if (var_index(p + 1, n) < 0)
			return ("unknown variable (use $verdict, $reason or $score)");
		p += n;
	}
	return (NULL);
}

/* Append s, neutralised for a header line. */
static void
put_safe(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		buf_putc(b, c < 32 || c == 127 ? ' ' : c > 127 ? '?' : c);
	}
}

char *
template_expand(const char *tmpl, const char *verdict, const char *reason,
    double score, size_t max)
{
	struct buf	 b = BUF_INIT;
	const char	*p;
	char		 num[32];
	size_t		 n;

	for (p = tmpl; *p; p++) {
		if (*p == '$' && (n = var_len(p + 1)) > 0 &&
		    var_index(p + 1, n) >= 0) {
			switch (var_index(p + 1, n)) {
			case 0:
				put_safe(&b, verdict);
				break;
			case 1:
				put_safe(&b, reason[0] ? reason : "no reason given");
				break;
			default:
				(void)snprintf(num, sizeof(num), "%.1f", score);
				put_safe(&b, num);
				break;
			}
			p += n;
		} else {
			char	 one[2] = { *p, '\0' };

			put_safe(&b, one);
		}
	}
	if (b.len > max) {
		b.len = max;
		b.data[b.len] = '\0';
	}
	while (b.len > 0 && b.data[b.len - 1] == ' ')
		b.data[--b.len] = '\0';
	if (b.data == NULL)
		return (xstrdup(""));
	return (buf_steal(&b, NULL));
}
