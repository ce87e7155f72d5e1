/*
 * NAME
 *	hdrchecks - read Postfix header_checks tables as cleanup(8) does
 * DESCRIPTION
 *	regexp_table(5) and pcre_table(5) syntax: logical lines (a line
 *	that starts with white space continues the one before), comments,
 *	"[!]/re/flags action", if/endif blocks, and inline tables
 *	("regexp:{ {rule}, {rule} }"). Patterns are evaluated with POSIX
 *	regular expressions; a PCRE-only flag makes a rule unverifiable
 *	here, which the caller says.
 *
 *	This module must never read a file (the caller passes the text) and
 *	never claim a match it could not evaluate.
 */
#include <ctype.h>
#include <regex.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "tool/hdrchecks.h"

/*
 * The next logical line of a Postfix table into line: a line that starts
 * with white space continues the one before; blank lines and comments
 * (# first) are skipped. *first_r is its first line's number. NULL at
 * the end of text.
 */
static const char *
next_logical_line(const char *p, struct buf *line, unsigned *lineno,
    unsigned *first_r)
{
	buf_reset(line);
	while (*p != '\0') {
		const char	*end = p + strcspn(p, "\n");
		const char	*q = p + strspn(p, " \t\r");
		bool		 blank = q == end || *q == '#';

		if (!blank && q == p && line->len > 0)
			return (p);		/* the next one starts here */
		(*lineno)++;
		if (!blank) {
			if (line->len == 0)
				*first_r = *lineno;
			else
				buf_putc(line, ' ');
			buf_append(line, q, (size_t)(end - q));
		}
		p = *end != '\0' ? end + 1 : end;
	}
	return (line->len > 0 ? p : NULL);
}

struct pattern {
	bool		 negate;
	bool		 icase;
	bool		 extended;
	bool		 pcre_only;	/* a flag POSIX has no equivalent for */
	char		*re;
	const char	*rest;		/* after the flags, white space skipped */
};

/* Parse "[!]/re/flags rest" as regexp_table(5) and pcre_table(5) do. */
static int
parse_pattern(const char *p, bool pcre, struct pattern *pat)
{
	const char	*start;
	char		 delim;

	memset(pat, 0, sizeof(*pat));
	pat->icase = true;		/* both table types ignore case by default */
	pat->extended = true;
	if (*p == '!') {
		pat->negate = true;
		p++;
		p += strspn(p, " \t");
	}
	delim = *p++;
	if (delim == '\0' || isspace((unsigned char)delim) ||
	    isalnum((unsigned char)delim) || delim == '\\')
		return (-1);
	for (start = p; *p != '\0' && *p != delim; p++)
		if (*p == '\\' && p[1] != '\0')
			p++;
	if (*p != delim)
		return (-1);
	pat->re = xstrndup(start, (size_t)(p - start));
	for (p++; *p != '\0' && !isspace((unsigned char)*p); p++) {
		switch (*p) {
		case 'i':
			pat->icase = !pat->icase;
			break;
		case 'x':
			if (!pcre)
				pat->extended = !pat->extended;
			else
				pat->pcre_only = true;
			break;
		case 'm':
			break;		/* ^ and $ at newlines: not what we test */
		case 's': case 'A': case 'E': case 'U': case 'X':
			if (pcre) {
				pat->pcre_only = true;
				break;
			}
			/* FALLTHROUGH */
		default:
			free(pat->re);
			pat->re = NULL;
			return (-1);
		}
	}
	pat->rest = p + strspn(p, " \t");
	return (0);
}

/* 1 match, 0 no match, -1 cannot be evaluated here. */
static int
pattern_match(const struct pattern *pat, const char *header)
{
	regex_t	 re;
	int	 rc;

	if (pat->pcre_only)
		return (-1);
	if (regcomp(&re, pat->re, (pat->extended ? REG_EXTENDED : 0) |
	    (pat->icase ? REG_ICASE : 0) | REG_NOSUB) != 0)
		return (-1);
	rc = regexec(&re, header, 0, NULL, 0) == 0;
	regfree(&re);
	return (pat->negate ? !rc : rc);
}

/* "if" or "endif" (any case) standing alone as the first word. */
static bool
keyword(const char *p, const char *word, const char **rest_r)
{
	size_t	 len = strlen(word);

	if (strncasecmp(p, word, len) != 0)
		return (false);
	if (p[len] != '\0' && !isspace((unsigned char)p[len]))
		return (false);
	*rest_r = p + len + strspn(p + len, " \t");
	return (true);
}

enum hdrchecks_result
hdrchecks_first(const char *text, int pcre, const char *header,
    unsigned *line_r)
{
	struct buf	 line = BUF_INIT;
	struct pattern	 pat;
	const char	*p = text, *rest;
	unsigned	 lineno = 0, first = 0, skip = 0;
	enum hdrchecks_result result = HDRCHECKS_NONE;
	int		 m;

	while ((p = next_logical_line(p, &line, &lineno, &first)) != NULL) {
		const char *l = line.data;

		if (keyword(l, "endif", &rest)) {
			if (skip > 0)
				skip--;
			continue;
		}
		if (keyword(l, "if", &rest)) {
			if (skip > 0) {
				skip++;
				continue;
			}
			if (parse_pattern(rest, pcre, &pat) < 0)
				continue;	/* Postfix skips it with a warning */
			m = pattern_match(&pat, header);
			free(pat.re);
			if (m < 0) {
				result = HDRCHECKS_UNKNOWN;
				*line_r = first;
				break;
			}
			if (m == 0)
				skip = 1;
			continue;
		}
		if (skip > 0 || parse_pattern(l, pcre, &pat) < 0)
			continue;
		m = pattern_match(&pat, header);
		if (m != 0) {
			*line_r = first;
			if (m < 0)
				result = HDRCHECKS_UNKNOWN;
			else if (strncasecmp(pat.rest, "HOLD", 4) == 0 &&
			    (pat.rest[4] == '\0' ||
			    isspace((unsigned char)pat.rest[4])))
				result = HDRCHECKS_HOLD;
			else
				result = HDRCHECKS_OTHER;
			free(pat.re);
			break;
		}
		free(pat.re);
	}
	buf_free(&line);
	return (result);
}

/* Split a Postfix table list ("a, b c") with {inline} parts kept whole. */
char **
hdrchecks_split_tables(const char *s, size_t *n_r)
{
	char	**v = NULL;
	size_t	 n = 0;
	int	 depth;

	for (;;) {
		const char *start;

		s += strspn(s, ", \t\r\n");
		if (*s == '\0')
			break;
		for (start = s, depth = 0; *s != '\0'; s++) {
			if (*s == '{')
				depth++;
			else if (*s == '}' && depth > 0)
				depth--;
			else if (depth == 0 && strchr(", \t\r\n", *s) != NULL)
				break;
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrndup(start, (size_t)(s - start));
	}
	*n_r = n;
	return (v);
}

/* regexp:{ {rule}, {rule} } as one rule per line. */
char *
hdrchecks_inline_rules(const char *name)
{
	struct buf	 b = BUF_INIT;
	const char	*p = name + 1, *start = NULL;
	int		 depth = 0;

	for (; *p != '\0'; p++) {
		if (*p == '{') {
			if (depth++ == 0)
				start = p + 1;
		} else if (*p == '}') {
			if (depth == 0)
				break;		/* the closing outer brace */
			if (--depth == 0 && start != NULL) {
				buf_append(&b, start, (size_t)(p - start));
				buf_putc(&b, '\n');
			}
		}
	}
	buf_reserve(&b, 0);
	return (buf_steal(&b, NULL));
}

