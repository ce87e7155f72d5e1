/*
 * NAME
 *	xalloc - memory allocation that either succeeds or ends the process
 * DESCRIPTION
 *	Thin wrappers around malloc(3) and friends. Out of memory is a fatal
 *	error; a multiplication that would overflow size_t is a panic (a bug
 *	in the caller's arithmetic). Zero-sized requests return a unique
 *	pointer, never NULL.
 *
 *	This module must never return NULL and never log message content.
 */
#include <ctype.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "common/log.h"
#include "common/xalloc.h"

void *
xmalloc(size_t size)
{
	void	*p;

	if ((p = malloc(size ? size : 1)) == NULL)
		hs_fatal(EX_OSERR, "malloc(%zu)", size);
	return (p);
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		hs_panic("xcalloc: size overflow (%zu * %zu)", nmemb, size);
	if ((p = calloc(nmemb ? nmemb : 1, size ? size : 1)) == NULL)
		hs_fatal(EX_OSERR, "calloc(%zu, %zu)", nmemb, size);
	return (p);
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void	*p;
	size_t	 total;

	if (size != 0 && nmemb > SIZE_MAX / size)
		hs_panic("xreallocarray: size overflow (%zu * %zu)", nmemb, size);
	total = nmemb * size;
	if ((p = realloc(ptr, total ? total : 1)) == NULL)
		hs_fatal(EX_OSERR, "realloc(%zu)", total);
	return (p);
}

char *
xstrdup(const char *s)
{
	return (xmemdup(s, strlen(s) + 1));
}

char *
xstrdup_lower(const char *s)
{
	char	*d = xstrdup(s), *p;

	for (p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return (d);
}

char *
xstrndup(const char *s, size_t n)
{
	size_t	 len = strnlen(s, n);
	char	*p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return (p);
}

void *
xmemdup(const void *src, size_t n)
{
	void	*p = xmalloc(n);

	if (n)
		memcpy(p, src, n);
	return (p);
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		hs_fatal(EX_OSERR, "vasprintf");
	return (s);
}

int
xalloc_keep_heap(size_t keep, size_t map_from)
{
	if (keep > INT_MAX || map_from > INT_MAX)
		return (-1);
	/* Setting any of them ends glibc's own moving of the mmap threshold. */
	if (mallopt(M_MMAP_THRESHOLD, (int)map_from) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, (int)keep) != 1 ||
	    mallopt(M_TOP_PAD, (int)(keep / 16)) != 1)
		return (-1);
	return (0);
}
