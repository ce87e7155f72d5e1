/*
 * template.h - the templates of the verdict header and the subject tag.
 *
 * "$verdict", "$reason" and "$score" are expanded; any other "$name" is
 * refused when the configuration is loaded (template_check()), so the
 * master checks them and the scanner workers expand them.
 */
#ifndef HS_TEMPLATE_H
#define HS_TEMPLATE_H

#include <stddef.h>

/* NULL if tmpl is a valid template, else what is wrong with it. */
const char *template_check(const char *tmpl);

/*
 * template_expand() fills in a checked template. The values come from
 * untrusted content: control characters become spaces and other
 * non-ASCII bytes '?', an empty reason reads "no reason given", and the
 * result is cut to max bytes and has no trailing spaces. It is owned by
 * the caller.
 */
char	*template_expand(const char *tmpl, const char *verdict,
	    const char *reason, double score, size_t max);

#endif
