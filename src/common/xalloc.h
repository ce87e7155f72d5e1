/*
 * xalloc.h - allocation that succeeds or does not return.
 *
 * Out of memory is fatal (EX_OSERR); a size computation that overflows is a
 * panic. Callers never test the result for NULL. Free with free(3).
 */
#ifndef HS_XALLOC_H
#define HS_XALLOC_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t nmemb, size_t size);
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
/* xstrdup() in lower case (ASCII, as tolower() in the C locale does) */
char	*xstrdup_lower(const char *s);
void	*xmemdup(const void *p, size_t n);
/*
 * Keep up to keep bytes of freed memory at the top of the heap for the
 * next allocations, instead of glibc's 128 KiB, so that a process that
 * handles one message after another does not get its memory from the
 * kernel again (brk, page faults, zeroed pages) for each; blocks of
 * map_from bytes and more are mapped for themselves and given back when
 * freed. 0, or -1 when malloc refuses the settings.
 */
int	 xalloc_keep_heap(size_t keep, size_t map_from);
/* printf into a new string */
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
